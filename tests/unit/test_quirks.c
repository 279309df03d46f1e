
/*
 * Unit tests of the segmenter with the cameras of the field (TAP, run by
 * prove, under AddressSanitizer):
 *
 *   - H.265 (BUILD_DIR/hevc/hevc-main.hevc): one init segment, hvc1 and
 *     its CODECS, parts independent only where an IRAP picture can start
 *     them, every picture decoded again from the output;
 *   - parameter sets that change mid-stream (hevc-main then hevc-rext, a
 *     352x288 4:4:4 stream): a second init segment with its CODECS and
 *     size, the part after it a discontinuity that starts a segment;
 *   - B-frames (BUILD_DIR/fixture-bframes.mkv, x264 with 2 B-frames),
 *     the first pictures without DTS and the first without PTS either,
 *     as libavformat's RTP demuxer delivers them: DTS increasing, no two
 *     pictures at one PTS, none shown before it is decoded.
 *
 *     test_quirks [BUILD_DIR]
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>

#include "bh_media.h"
#include "tap.h"


typedef struct {
    int         inits;
    char        codecs[2][64];
    int         width[2];
    int         height[2];
    uint8_t    *init[2];
    size_t      init_size[2];
    uint8_t    *media[2];           /* the parts after each init */
    size_t      media_size[2];
    int         parts;
    int         independent;
    int         after_init_ok;      /* the part after the 2nd init */
    int         bad_start;
    int64_t     next_start;
    int         first_after;
} out_t;


static void collect(void *data, bh_chunk_t *chunk);
static int feed(const char *path, bh_segmenter_t **sg, out_t *out,
    bh_segmenter_conf_t *conf, int64_t *offset, int strip, int *irap);
static int decode(const uint8_t *init, size_t init_size,
    const uint8_t *media, size_t media_size, const char *want_tag,
    int *width, int *height, int64_t *bad_order);
static void test_hevc(const char *dir);
static void test_change(const char *dir);
static void test_bframes(const char *dir);


int
main(int argc, char **argv)
{
    const char  *dir;

    dir = argc > 1 ? argv[1] : "build";

    av_log_set_level(AV_LOG_QUIET);

    test_hevc(dir);
    test_change(dir);
    test_bframes(dir);

    return tap_done();
}


static void
collect(void *data, bh_chunk_t *chunk)
{
    int     k;
    out_t  *out = data;

    if (chunk->type == BH_CHUNK_INIT) {
        k = out->inits < 2 ? out->inits : 1;
        free(out->init[k]);
        out->init[k] = chunk->data;
        out->init_size[k] = chunk->size;
        snprintf(out->codecs[k], sizeof(out->codecs[k]), "%s", chunk->codecs);
        out->width[k] = chunk->width;
        out->height[k] = chunk->height;
        out->inits++;
        out->first_after = (out->inits == 2);
        return;
    }

    k = out->inits >= 2 ? 1 : 0;

    if (out->first_after) {
        out->after_init_ok = chunk->discontinuity && chunk->segment_start
                             && chunk->independent;
        out->first_after = 0;

    } else if (out->parts > 0 && chunk->start != out->next_start) {
        out->bad_start++;
    }

    out->next_start = chunk->start + chunk->duration;
    out->parts++;
    out->independent += chunk->independent;

    out->media[k] = realloc(out->media[k], out->media_size[k] + chunk->size);
    memcpy(out->media[k] + out->media_size[k], chunk->data, chunk->size);
    out->media_size[k] += chunk->size;
    free(chunk->data);
}


/*
 * The packets of a file into the segmenter (opened on the first call),
 * their timestamps moved by *offset (in the stream's time base, updated
 * to go on after the file's last).  strip: the first 4 pictures lose
 * their DTS, the first its PTS too.  *irap counts the key pictures.
 */

static int
feed(const char *path, bh_segmenter_t **sg, out_t *out,
    bh_segmenter_conf_t *conf, int64_t *offset, int strip, int *irap)
{
    int                rc, v, n;
    char               err[256];
    int64_t            last;
    AVPacket          *pkt;
    AVStream          *st;
    bh_status_t        s;
    AVBSFContext      *bsf;
    AVFormatContext   *ic;

    ic = NULL;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0
        || avformat_find_stream_info(ic, NULL) < 0)
    {
        return -1;
    }

    v = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    st = ic->streams[v];

    /* as from RTSP: Annex B, the parameter sets as extradata */

    bsf = NULL;

    if (st->codecpar->codec_id == AV_CODEC_ID_H264) {
        if (av_bsf_alloc(av_bsf_get_by_name("h264_mp4toannexb"), &bsf) < 0
            || avcodec_parameters_copy(bsf->par_in, st->codecpar) < 0
            || av_bsf_init(bsf) < 0)
        {
            return -1;
        }
    }

    if (*sg == NULL) {
        *sg = bh_segmenter_create(conf, collect, out);

        if (*sg == NULL
            || bh_segmenter_open(*sg, bsf ? bsf->par_out : st->codecpar, v,
                                 1, 90000, NULL, -1, 0, 0, err, sizeof(err))
               != BH_OK)
        {
            return -1;
        }

        bh_segmenter_frame_rate(*sg, 25, 1);
    }

    pkt = av_packet_alloc();
    n = 0;
    last = *offset;
    rc = 0;

    while (rc == 0 && av_read_frame(ic, pkt) >= 0) {
        if (pkt->stream_index != v) {
            av_packet_unref(pkt);
            continue;
        }

        if (bsf != NULL && (av_bsf_send_packet(bsf, pkt) < 0
                            || av_bsf_receive_packet(bsf, pkt) < 0))
        {
            rc = -1;
            break;
        }

        av_packet_rescale_ts(pkt, st->time_base, (AVRational) { 1, 90000 });

        /* a raw elementary stream has no timestamps: 25 a second */

        if (pkt->pts == AV_NOPTS_VALUE && pkt->dts == AV_NOPTS_VALUE) {
            pkt->pts = (int64_t) n * 3600;
            pkt->dts = pkt->pts;
        }

        if (pkt->pts != AV_NOPTS_VALUE) {
            pkt->pts += *offset;
            last = FFMAX(last, pkt->pts + 3600);
        }

        if (pkt->dts != AV_NOPTS_VALUE) {
            pkt->dts += *offset;
        }

        if (strip && n < 4) {
            pkt->dts = AV_NOPTS_VALUE;

            if (n == 0) {
                pkt->pts = AV_NOPTS_VALUE;
            }
        }

        *irap += (pkt->flags & AV_PKT_FLAG_KEY) != 0;
        n++;

        s = bh_segmenter_write(*sg, pkt, bh_wallclock(), err, sizeof(err));
        if (s != BH_OK) {
            rc = -1;
        }

        av_packet_unref(pkt);
    }

    *offset = last;

    av_packet_free(&pkt);
    av_bsf_free(&bsf);
    avformat_close_input(&ic);

    return rc == 0 ? n : -1;
}


/*
 * The output (init segment and parts) read back: the sample entry, the
 * pictures decoded, the PTS order (pictures shown before they are
 * decoded, or two at one PTS, counted in *bad_order).  Returns the
 * pictures decoded, -1 on an error.
 */

static int
decode(const uint8_t *init, size_t init_size, const uint8_t *media,
    size_t media_size, const char *want_tag, int *width, int *height,
    int64_t *bad_order)
{
    int                 n, rc, v, i, j;
    char                path[] = "/tmp/bh-test-quirks-XXXXXX";
    char                tag[AV_FOURCC_MAX_STRING_SIZE];
    FILE               *f;
    int64_t             pts[4096];
    AVFrame            *frame;
    AVPacket           *pkt;
    AVStream           *st;
    const AVCodec      *codec;
    AVCodecContext     *dec;
    AVFormatContext    *ic;

    rc = mkstemp(path);
    f = (rc >= 0) ? fdopen(rc, "wb") : NULL;
    if (f == NULL) {
        return -1;
    }

    fwrite(init, 1, init_size, f);
    fwrite(media, 1, media_size, f);
    fclose(f);

    ic = NULL;
    n = -1;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0
        || avformat_find_stream_info(ic, NULL) < 0)
    {
        unlink(path);
        return -1;
    }

    v = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    st = ic->streams[v];
    av_fourcc_make_string(tag, st->codecpar->codec_tag);

    codec = avcodec_find_decoder(st->codecpar->codec_id);
    dec = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    if (strcmp(tag, want_tag) != 0
        || avcodec_parameters_to_context(dec, st->codecpar) < 0
        || avcodec_open2(dec, codec, NULL) < 0)
    {
        goto done;
    }

    n = 0;
    i = 0;
    *bad_order = 0;

    while (av_read_frame(ic, pkt) >= 0) {
        if (pkt->stream_index == v) {
            if (pkt->pts < pkt->dts) {
                (*bad_order)++;
            }

            if (i < 4096) {
                pts[i++] = pkt->pts;
            }

            avcodec_send_packet(dec, pkt);

            while (avcodec_receive_frame(dec, frame) == 0) {
                if (frame->decode_error_flags) {
                    n = -1;
                    goto done;
                }

                *width = frame->width;
                *height = frame->height;
                n++;
                av_frame_unref(frame);
            }
        }

        av_packet_unref(pkt);
    }

    avcodec_send_packet(dec, NULL);

    while (avcodec_receive_frame(dec, frame) == 0) {
        n++;
        av_frame_unref(frame);
    }

    for (j = 0; j < i; j++) {
        for (rc = j + 1; rc < i; rc++) {
            *bad_order += (pts[j] == pts[rc]);
        }
    }

done:

    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    unlink(path);

    return n;
}


static void
test_hevc(const char *dir)
{
    int                  n, irap, w, h, decoded;
    char                 path[600];
    int64_t              offset, bad;
    out_t                out;
    bh_segmenter_t      *sg;
    bh_segmenter_conf_t  conf = { BH_FORMAT_FMP4, BH_USEC, BH_USEC / 5, 0 };

    memset(&out, 0, sizeof(out));
    snprintf(path, sizeof(path), "%s/hevc/hevc-main.hevc", dir);
    bad = -1;

    sg = NULL;
    offset = 0;
    irap = 0;
    n = feed(path, &sg, &out, &conf, &offset, 0, &irap);
    bh_segmenter_flush(sg);
    bh_segmenter_destroy(sg);

    ok(n == 50, "H.265: 50 pictures in (%d)", n);
    ok(out.inits == 1 && strcmp(out.codecs[0], "hvc1.1.6.L60.90") == 0
       && out.width[0] == 320 && out.height[0] == 240,
       "H.265: one init segment, %s %dx%d", out.codecs[0], out.width[0],
       out.height[0]);
    ok(out.independent >= 1 && out.independent <= irap && out.bad_start == 0,
       "H.265: %d parts, %d independent (%d IRAP pictures), contiguous",
       out.parts, out.independent, irap);

    w = 0;
    h = 0;
    decoded = decode(out.init[0], out.init_size[0], out.media[0],
                     out.media_size[0], "hvc1", &w, &h, &bad);
    ok(decoded == 50 && w == 320 && h == 240 && bad == 0,
       "H.265: read back as hvc1, %d pictures decoded, %dx%d", decoded, w, h);

    free(out.init[0]);
    free(out.media[0]);
}


static void
test_change(const char *dir)
{
    int                  n, m, irap, w, h, decoded;
    char                 a[600], b[600];
    int64_t              offset, bad;
    out_t                out;
    bh_segmenter_t      *sg;
    bh_segmenter_conf_t  conf = { BH_FORMAT_FMP4, BH_USEC, BH_USEC / 5, 0 };

    memset(&out, 0, sizeof(out));
    snprintf(a, sizeof(a), "%s/hevc/hevc-main.hevc", dir);
    snprintf(b, sizeof(b), "%s/hevc/hevc-rext.hevc", dir);

    sg = NULL;
    offset = 0;
    irap = 0;
    n = feed(a, &sg, &out, &conf, &offset, 0, &irap);
    m = feed(b, &sg, &out, &conf, &offset, 0, &irap);
    bh_segmenter_flush(sg);
    bh_segmenter_destroy(sg);

    ok(n == 50 && m == 5, "new parameter sets: %d + %d pictures in", n, m);
    ok(out.inits == 2 && strcmp(out.codecs[1], "hvc1.4.10.H153.9E.8") == 0
       && out.width[1] == 352 && out.height[1] == 288,
       "new parameter sets: a second init segment, %s %dx%d", out.codecs[1],
       out.width[1], out.height[1]);
    ok(out.after_init_ok, "new parameter sets: the part after it starts a "
       "segment, independent, after a discontinuity");

    w = 0;
    h = 0;
    decoded = decode(out.init[1], out.init_size[1], out.media[1],
                     out.media_size[1], "hvc1", &w, &h, &bad);
    ok(decoded == 5 && w == 352 && h == 288,
       "new parameter sets: read back with the new init segment, %d "
       "pictures of %dx%d", decoded, w, h);

    free(out.init[0]);
    free(out.init[1]);
    free(out.media[0]);
    free(out.media[1]);
}


static void
test_bframes(const char *dir)
{
    int                  n, irap, w, h, decoded;
    char                 path[600];
    int64_t              offset, bad;
    out_t                out;
    bh_segmenter_t      *sg;
    bh_segmenter_conf_t  conf = { BH_FORMAT_FMP4, BH_USEC, BH_USEC / 5, 0 };

    memset(&out, 0, sizeof(out));
    snprintf(path, sizeof(path), "%s/fixture-bframes.mkv", dir);

    sg = NULL;
    offset = 0;
    irap = 0;
    n = feed(path, &sg, &out, &conf, &offset, 1, &irap);
    bh_segmenter_flush(sg);
    bh_segmenter_destroy(sg);

    ok(n == 100 && out.inits == 1
       && strncmp(out.codecs[0], "avc1.64", 7) == 0,
       "B-frames: %d pictures in, %s", n, out.codecs[0]);

    w = 0;
    h = 0;
    bad = -1;
    decoded = decode(out.init[0], out.init_size[0], out.media[0],
                     out.media_size[0], "avc1", &w, &h, &bad);
    ok(decoded == 100, "B-frames: every picture decoded (%d)", decoded);
    ok(bad == 0, "B-frames, the first without DTS: none shown before it is "
       "decoded, no two at one PTS (%lld wrong)", (long long) bad);

    free(out.init[0]);
    free(out.media[0]);
}
