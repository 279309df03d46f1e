
/*
 * Unit tests of the nginx-free media core (TAP, run by prove).
 *
 *     test_core BUILD_DIR
 *
 * BUILD_DIR/fixture.mkv is a Matroska file with H.264 (1 s GOP, 25 fps, no B-frames)
 * and AAC, made by the Makefile with ffmpeg's lavfi sources.  Its video
 * is turned into Annex B, as libavformat's RTSP demuxer delivers it, and
 * its packets are fed to the segmenter as they are and with the timestamp
 * faults real cameras show; the output is demuxed again and checked.
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>

#include "bh_media.h"
#include "tap.h"


typedef enum {
    FAULT_NONE = 0,
    FAULT_SPLIT_FRAMES,         /* every frame in two packets, one DTS */
    FAULT_REORDER,              /* DTS of some frames a step back */
    FAULT_JUMP,                 /* +20 s and -20 s jumps mid-stream */
    FAULT_UNTIMED_FIRST,        /* first keyframe without timestamps */
    FAULT_NO_EXTRADATA,         /* SPS/PPS only in the stream */
    FAULT_SLICED_UNTIMED        /* a packet per slice, the first untimed */
} fault_t;


typedef struct {
    uint8_t    *init;
    size_t      init_size;
    uint8_t    *media;
    size_t      media_size;
    int         parts;
    int         segments;
    int         segment_not_independent;
    int64_t     seg_duration[256];
    int64_t     total;
    int64_t     max_part;
    int         bad_start;
    int64_t     next_start;
    char        codecs[64];
    int         inits;
    int64_t     t0;             /* wall clock when the feed began */
    int         frames;         /* video samples the parts say they have */
    int         bad_wallclock;  /* parts not dated by their arrival */
    int64_t     last_wallclock;
} output_t;


static void test_segmenter(const char *fixture, bh_format_t format,
    fault_t fault, const char *name);
static void collect(void *data, bh_chunk_t *chunk);
static int write_slices(bh_segmenter_t *sg, AVPacket *pkt, int first,
    int64_t arrival, char *err, size_t errlen);


static int  pieces;     /* slices fed apart from their picture's first */
static int check_output(output_t *out, int *frames, int *audio,
    int64_t *gap);


int
main(int argc, char **argv)
{
    char  fixture[4096], sliced[4096];

    if (argc < 2) {
        fprintf(stderr, "usage: %s BUILD_DIR\n", argv[0]);
        return 2;
    }

    av_log_set_level(getenv("BH_DEBUG") ? AV_LOG_DEBUG : AV_LOG_ERROR);

    snprintf(fixture, sizeof(fixture), "%s/fixture.mkv", argv[1]);
    snprintf(sliced, sizeof(sliced), "%s/fixture-sliced.mkv", argv[1]);

    test_segmenter(fixture, BH_FORMAT_FMP4, FAULT_NONE, "clean stream");
    test_segmenter(fixture, BH_FORMAT_FMP4, FAULT_SPLIT_FRAMES,
                   "frames split in packets");
    test_segmenter(fixture, BH_FORMAT_FMP4, FAULT_REORDER, "DTS going back");
    test_segmenter(fixture, BH_FORMAT_FMP4, FAULT_JUMP, "timestamp jumps");
    test_segmenter(fixture, BH_FORMAT_FMP4, FAULT_UNTIMED_FIRST,
                   "untimed first keyframe");
    test_segmenter(fixture, BH_FORMAT_FMP4, FAULT_NO_EXTRADATA,
                   "SPS/PPS in band only");
    test_segmenter(fixture, BH_FORMAT_MPEGTS, FAULT_NONE, "MPEG-TS");
    test_segmenter(fixture, BH_FORMAT_MPEGTS, FAULT_SPLIT_FRAMES,
                   "MPEG-TS, frames split in packets");

    /*
     * x264 sliced IDRs as libavformat's RTP demuxer delivers them: a
     * packet per slice, all with the picture's DTS, and the first packet
     * of the session without any timestamp.
     */

    test_segmenter(sliced, BH_FORMAT_FMP4, FAULT_SLICED_UNTIMED,
                   "4 slices a picture, the first untimed");
    test_segmenter(sliced, BH_FORMAT_MPEGTS, FAULT_SLICED_UNTIMED,
                   "MPEG-TS, 4 slices a picture, the first untimed");

    return tap_done();
}






static void
collect(void *data, bh_chunk_t *chunk)
{
    output_t  *out = data;

    if (chunk->type == BH_CHUNK_INIT) {
        free(out->init);
        out->init = chunk->data;
        out->inits++;
        out->init_size = chunk->size;
        snprintf(out->codecs, sizeof(out->codecs), "%s", chunk->codecs);
        return;
    }

    out->media = realloc(out->media, out->media_size + chunk->size);
    memcpy(out->media + out->media_size, chunk->data, chunk->size);
    out->media_size += chunk->size;
    free(chunk->data);

    if (chunk->start != out->next_start) {
        out->bad_start++;
    }

    /*
     * Each packet arrives in real time: a part is dated when its first
     * frame came (give or take a frame), always later than the one before.
     */

    if (chunk->wallclock < out->t0
        || chunk->wallclock > out->t0 + chunk->start + 50000
        || chunk->wallclock <= out->last_wallclock)
    {
        if (getenv("BH_DEBUG_DATES")) {
            printf("# part at %" PRId64 ": wallclock %" PRId64 " (t0 + %"
                   PRId64 ", last + %" PRId64 ")\n", chunk->start,
                   chunk->wallclock, chunk->wallclock - out->t0,
                   chunk->wallclock - out->last_wallclock);
        }

        out->bad_wallclock++;
    }

    out->last_wallclock = chunk->wallclock;

    out->next_start = chunk->start + chunk->duration;

    if (chunk->segment_start) {
        if (!chunk->independent) {
            out->segment_not_independent++;
        }

        if (out->segments < 256) {
            out->segments++;
        }
    }

    if (out->segments > 0) {
        out->seg_duration[out->segments - 1] += chunk->duration;
    }

    if (chunk->duration > out->max_part) {
        out->max_part = chunk->duration;
    }

    out->total += chunk->duration;
    out->frames += chunk->frames;
    out->parts++;
}


static void
test_segmenter(const char *fixture, bh_format_t format, fault_t fault,
    const char *name)
{
    int                  rc, v, a, n, frames, in_frames, audio, in_audio, i;
    int                  short_segments;
    char                 err[256];
    int64_t              gap, shift, arrival;
    AVPacket            *pkt, *half;
    AVBSFContext        *bsf;
    output_t             out;
    bh_status_t          st, wst;
    bh_segmenter_t      *sg;
    AVFormatContext     *ic;
    AVCodecParameters   *vpar;
    bh_segmenter_conf_t  conf;

    ic = NULL;

    rc = avformat_open_input(&ic, fixture, NULL, NULL);
    if (rc < 0 || avformat_find_stream_info(ic, NULL) < 0) {
        ok(0, "%s: open fixture %s", name, fixture);
        return;
    }

    v = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    a = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);

    memset(&out, 0, sizeof(out));
    out.t0 = bh_wallclock();

    memset(&conf, 0, sizeof(bh_segmenter_conf_t));
    conf.format = format;
    conf.segment = 2 * BH_USEC;
    conf.part = BH_USEC / 5;

    sg = bh_segmenter_create(&conf, collect, &out);

    /* AVCC in the file, Annex B from a camera */

    if (av_bsf_alloc(av_bsf_get_by_name("h264_mp4toannexb"), &bsf) < 0
        || avcodec_parameters_copy(bsf->par_in, ic->streams[v]->codecpar)
           < 0
        || av_bsf_init(bsf) < 0)
    {
        ok(0, "%s: h264_mp4toannexb", name);
        return;
    }

    vpar = avcodec_parameters_alloc();
    avcodec_parameters_copy(vpar, bsf->par_out);

    if (fault == FAULT_NO_EXTRADATA) {
        av_freep(&vpar->extradata);
        vpar->extradata_size = 0;
    }

    st = bh_segmenter_open(sg, vpar, v, ic->streams[v]->time_base.num,
                           ic->streams[v]->time_base.den,
                           ic->streams[a]->codecpar, a,
                           ic->streams[a]->time_base.num,
                           ic->streams[a]->time_base.den, err, sizeof(err));
    ok(st == BH_OK, "%s: open segmenter", name);

    avcodec_parameters_free(&vpar);

    pkt = av_packet_alloc();
    half = av_packet_alloc();
    in_frames = 0;
    in_audio = 0;
    n = 0;
    wst = BH_OK;
    shift = 0;

    while (wst == BH_OK && av_read_frame(ic, pkt) >= 0) {

        /* as a camera sends it: each packet in real time */

        arrival = out.t0 + av_rescale_q(pkt->dts,
                                        ic->streams[pkt->stream_index]
                                            ->time_base,
                                        AV_TIME_BASE_Q);

        if (pkt->stream_index == v) {
            if (av_bsf_send_packet(bsf, pkt) < 0
                || av_bsf_receive_packet(bsf, pkt) < 0)
            {
                wst = BH_INVALID;
                snprintf(err, sizeof(err), "h264_mp4toannexb failed");
                break;
            }

            in_frames++;
            n++;

            switch (fault) {

            case FAULT_UNTIMED_FIRST:
                if (n == 1) {
                    pkt->dts = AV_NOPTS_VALUE;
                    pkt->pts = AV_NOPTS_VALUE;
                }
                break;

            case FAULT_REORDER:
                if (n % 7 == 0) {
                    pkt->dts -= 3600 * 2;
                    pkt->pts = pkt->dts;
                }
                break;

            case FAULT_JUMP:
                if (n == 60) {
                    shift = 20 * 90000;
                }

                if (n == 120) {
                    shift = -20 * 90000;
                }

                pkt->dts += shift;
                pkt->pts += shift;
                break;

            case FAULT_SLICED_UNTIMED:
                if (n == 1) {
                    pieces = 0;
                }

                wst = write_slices(sg, pkt, n == 1, arrival, err,
                                   sizeof(err));
                av_packet_unref(pkt);
                continue;

            case FAULT_SPLIT_FRAMES:
                if (pkt->size > 8) {
                    av_packet_ref(half, pkt);
                    half->size = pkt->size / 2;
                    wst = bh_segmenter_write(sg, half, arrival, err,
                                             sizeof(err));
                    av_packet_unref(half);

                    pkt->data += pkt->size / 2;
                    pkt->size -= pkt->size / 2;
                    pkt->flags &= ~AV_PKT_FLAG_KEY;
                }
                break;

            default:
                break;
            }

        } else if (pkt->stream_index == a) {
            in_audio++;

            if (fault == FAULT_JUMP) {
                pkt->dts += av_rescale_q(shift, (AVRational) { 1, 90000 },
                                         ic->streams[a]->time_base);
                pkt->pts = pkt->dts;
            }
        }

        if (wst == BH_OK) {
            wst = bh_segmenter_write(sg, pkt, arrival, err,
                                     sizeof(err));
        }

        av_packet_unref(pkt);
    }

    ok(wst == BH_OK, "%s: every packet accepted%s%s", name,
       wst == BH_OK ? "" : ": ", wst == BH_OK ? "" : err);

    ok(bh_segmenter_flush(sg) == BH_OK, "%s: flush", name);

    bh_segmenter_destroy(sg);
    av_bsf_free(&bsf);
    av_packet_free(&pkt);
    av_packet_free(&half);
    avformat_close_input(&ic);

    ok(out.inits == 1 && (format == BH_FORMAT_MPEGTS
                          ? out.init == NULL
                          : out.init != NULL && out.init_size > 0),
       "%s: one init chunk, with an init segment for fMP4 only", name);
    ok(strncmp(out.codecs, "avc1.", 5) == 0 && strlen(out.codecs) == 21
       && strcmp(out.codecs + 11, ",mp4a.40.2") == 0,
       "%s: codecs %s", name, out.codecs);
    ok(out.segments >= 4, "%s: %d segments, %d parts", name, out.segments,
       out.parts);
    ok(out.segment_not_independent == 0,
       "%s: every segment starts with a keyframe", name);
    ok(out.bad_start == 0, "%s: parts are contiguous", name);
    ok(out.bad_wallclock == 0, "%s: parts dated by the media clock from "
       "their arrival", name);
    ok(out.max_part <= conf.part + BH_USEC / 25 + 1000,
       "%s: parts at most a frame over target (longest %" PRId64 " us)",
       name, out.max_part);

    short_segments = 0;

    for (i = 0; i < out.segments - 1; i++) {
        if (out.seg_duration[i] < conf.segment * 9 / 10
            || out.seg_duration[i] > conf.segment + BH_USEC + 1000)
        {
            short_segments++;
            printf("# segment %d lasts %" PRId64 " us\n", i,
                   out.seg_duration[i]);
        }
    }

    ok(short_segments == 0, "%s: segments cut at the target", name);

    if (fault == FAULT_SLICED_UNTIMED) {

        ok(pieces >= 3 * in_frames, "%s: %d frames in %d packets", name,
           in_frames, in_frames + pieces);

        /* a 1 s GOP at 25 fps: every segment is 50 frames, exactly */

        short_segments = 0;

        for (i = 0; i < out.segments - 1; i++) {
            if (out.seg_duration[i] != conf.segment) {
                short_segments++;
                printf("# segment %d lasts %" PRId64 " us\n", i,
                       out.seg_duration[i]);
            }
        }

        ok(short_segments == 0, "%s: every segment lasts exactly %" PRId64
           " us", name, conf.segment);
    }

    rc = check_output(&out, &frames, &audio, &gap);

    ok(rc == 0, "%s: init + parts demux as one fMP4 file", name);
    ok(frames == in_frames, "%s: all %d video frames out (%d)", name,
       in_frames, frames);
    ok(out.frames == in_frames, "%s: and the parts count them (%d)", name,
       out.frames);
    ok(audio >= in_audio - 3 && audio <= in_audio,
       "%s: audio frames out %d of %d", name, audio, in_audio);
    ok(gap <= 40000 * 2, "%s: no gap in video timestamps (largest step "
       "%" PRId64 " us)", name, gap);

    free(out.init);
    free(out.media);
}


/* demuxes init + media again; counts frames and the largest DTS step */

static int
check_output(output_t *out, int *frames, int *audio, int64_t *gap)
{
    int               rc;
    FILE             *f;
    char              path[] = "/tmp/bh_test_XXXXXX";
    int64_t           last, d;
    AVPacket         *pkt;
    AVFormatContext  *ic;

    *frames = 0;
    *audio = 0;
    *gap = INT64_MAX;

    rc = mkstemp(path);
    if (rc == -1) {
        return -1;
    }

    f = fdopen(rc, "w");
    if (out->init != NULL) {
        fwrite(out->init, 1, out->init_size, f);
    }

    fwrite(out->media, 1, out->media_size, f);
    fclose(f);

    ic = NULL;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0
        || avformat_find_stream_info(ic, NULL) < 0)
    {
        unlink(path);
        return -1;
    }

    pkt = av_packet_alloc();
    last = AV_NOPTS_VALUE;
    *gap = 0;
    rc = 0;

    while (av_read_frame(ic, pkt) >= 0) {
        if (ic->streams[pkt->stream_index]->codecpar->codec_type
            == AVMEDIA_TYPE_VIDEO)
        {
            (*frames)++;

            d = av_rescale_q(pkt->dts,
                             ic->streams[pkt->stream_index]->time_base,
                             AV_TIME_BASE_Q);

            if (last != AV_NOPTS_VALUE) {
                if (d <= last) {
                    rc = -1;
                }

                if (d - last > *gap) {
                    *gap = d - last;
                }
            }

            last = d;

        } else {
            (*audio)++;
        }

        av_packet_unref(pkt);
    }

    av_packet_free(&pkt);
    avformat_close_input(&ic);
    unlink(path);

    return rc;
}


/* feeds an Annex B picture as a packet per slice, as RTP delivers it */

static int
write_slices(bh_segmenter_t *sg, AVPacket *pkt, int first, int64_t arrival,
    char *err, size_t errlen)
{
    int          i, start, type, vcl;
    AVPacket    *piece;
    bh_status_t  st;

    piece = av_packet_alloc();
    start = 0;
    vcl = 0;
    st = BH_OK;

    for (i = 0; i + 4 <= pkt->size && st == BH_OK; i++) {
        if (!(pkt->data[i] == 0 && pkt->data[i + 1] == 0
              && pkt->data[i + 2] == 1))
        {
            continue;
        }

        type = pkt->data[i + 3] & 0x1f;

        if (type != 1 && type != 5) {
            continue;
        }

        /* a slice: the one before it (and what led it) is a piece */

        if (vcl++ > 0) {
            av_packet_ref(piece, pkt);
            piece->data += start;
            piece->size = i - start;

            if (first && start == 0) {
                piece->dts = AV_NOPTS_VALUE;
                piece->pts = AV_NOPTS_VALUE;
            }

            st = bh_segmenter_write(sg, piece, arrival, err, errlen);
            av_packet_unref(piece);
            start = i;
            pieces++;
        }
    }

    if (st == BH_OK) {
        av_packet_ref(piece, pkt);
        piece->data += start;
        piece->size = pkt->size - start;

        if (first && start == 0) {
            piece->dts = AV_NOPTS_VALUE;
            piece->pts = AV_NOPTS_VALUE;
        }

        st = bh_segmenter_write(sg, piece, arrival, err, errlen);
        av_packet_unref(piece);
    }

    av_packet_free(&piece);

    return st;
}
