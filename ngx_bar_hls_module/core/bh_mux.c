
/*
 * ngx_bar_hls_module media core: libavformat's muxers, writing to memory.
 *
 * Packets are remuxed, never re-encoded, by the mp4 muxer in fragmented
 * mode (CMAF): the init segment once, then one moof+mdat fragment per
 * part; or by the mpegts muxer: no init segment, and every segment starts
 * with PAT and PMT and its keyframe with the parameter sets.
 */


#include <stdlib.h>
#include <string.h>

#include <libavutil/opt.h>

#include "bh_segmenter.h"


#define BH_IOBUF_SIZE       32768


static int bh_io_write(void *opaque, uint8_t *buf, int size);
static bh_status_t bh_prepend(AVPacket *pkt, const uint8_t *data, int size);
static bh_status_t bh_take_output(bh_segmenter_t *sg, bh_chunk_t *chunk);
static void bh_codecs_string(bh_segmenter_t *sg, char *buf, size_t len,
    unsigned *width, unsigned *height);


static int
bh_io_write(void *opaque, uint8_t *buf, int size)
{
    bh_segmenter_t  *sg = opaque;

    size_t    cap;
    uint8_t  *p;

    if (size < 0 || sg->out_len + size > 2 * BH_MAX_PART_BYTES) {
        sg->out_failed = 1;
        return AVERROR(ENOSPC);
    }

    if (sg->out_len + size > sg->out_cap) {
        cap = sg->out_cap ? sg->out_cap : 65536;

        while (cap < sg->out_len + size) {
            cap *= 2;
        }

        p = realloc(sg->out, cap);
        if (p == NULL) {
            sg->out_failed = 1;
            return AVERROR(ENOMEM);
        }

        sg->out = p;
        sg->out_cap = cap;
    }

    memcpy(sg->out + sg->out_len, buf, size);
    sg->out_len += size;

    return size;
}


/* opens the muxer on the first keyframe and emits the init chunk */

bh_status_t
bh_mux_header(bh_segmenter_t *sg, AVPacket *key, char *err, size_t errlen)
{
    int                 rc;
    size_t              len;
    uint8_t            *iobuf, *ed;
    unsigned            width, height;
    bh_status_t         st;
    bh_chunk_t          chunk;
    AVDictionary       *opts;
    AVFormatContext    *oc;

    /*
     * The keyframe's own parameter sets, if it has them, win over the
     * SDP's, which may be stale (a camera whose picture size was changed
     * in its settings): the keyframes after it are compared with these.
     */

    ed = av_mallocz(BH_MAX_EXTRADATA + AV_INPUT_BUFFER_PADDING_SIZE);
    if (ed == NULL) {
        return BH_NOMEM;
    }

    st = sg->codec->parameter_sets(key->data, key->size, ed, &len);

    if (st == BH_OK) {
        av_freep(&sg->vpar->extradata);
        sg->vpar->extradata = ed;
        sg->vpar->extradata_size = (int) len;

    } else {
        av_free(ed);

        if (sg->vpar->extradata_size == 0) {
            snprintf(err, errlen, "no parameter sets in the stream");
            return st;
        }
    }

    memset(&chunk, 0, sizeof(bh_chunk_t));
    chunk.type = BH_CHUNK_INIT;

    bh_codecs_string(sg, chunk.codecs, sizeof(chunk.codecs), &width,
                     &height);

    /* the SPS's picture size, rather than what the SDP said */

    if (width > 0 && height > 0) {
        sg->vpar->width = width;
        sg->vpar->height = height;
    }

    if (sg->vpar->width <= 0 || sg->vpar->height <= 0) {
        snprintf(err, errlen, "video dimensions unknown");
        return BH_UNSUPPORTED;
    }

    chunk.width = sg->vpar->width;
    chunk.height = sg->vpar->height;

    rc = avformat_alloc_output_context2(&oc, NULL,
                                        sg->conf.format == BH_FORMAT_FMP4
                                        ? "mp4" : "mpegts", NULL);
    if (rc < 0) {
        bh_mux_error(err, errlen, "muxer", rc);
        return BH_ERROR;
    }

    sg->oc = oc;

    iobuf = av_malloc(BH_IOBUF_SIZE);
    if (iobuf == NULL) {
        return BH_NOMEM;
    }

    oc->pb = avio_alloc_context(iobuf, BH_IOBUF_SIZE, 1, sg, NULL,
                                bh_io_write, NULL);
    if (oc->pb == NULL) {
        av_free(iobuf);
        return BH_NOMEM;
    }

    sg->video.st = avformat_new_stream(oc, NULL);
    if (sg->video.st == NULL
        || avcodec_parameters_copy(sg->video.st->codecpar, sg->vpar) < 0)
    {
        return BH_NOMEM;
    }

    /* hvc1: the parameter sets in hvcC, as Apple's players want them */

    sg->video.st->codecpar->codec_tag =
        (sg->vpar->codec_id == AV_CODEC_ID_HEVC
         && sg->conf.format == BH_FORMAT_FMP4)
        ? MKTAG('h', 'v', 'c', '1') : 0;
    sg->video.st->time_base = sg->video.in_tb;

    if (sg->apar != NULL) {
        sg->audio.st = avformat_new_stream(oc, NULL);
        if (sg->audio.st == NULL
            || avcodec_parameters_copy(sg->audio.st->codecpar, sg->apar) < 0)
        {
            return BH_NOMEM;
        }

        sg->audio.st->codecpar->codec_tag = 0;
        sg->audio.st->time_base = sg->audio.in_tb;
    }

    opts = NULL;

    /*
     * frag_discont: each track's first sample keeps its own time.  With
     * an empty moov, the mp4 muxer would otherwise start every track at
     * 0: the audio, whose first sample comes some time after the first
     * keyframe, would play that much early.
     */

    if (sg->conf.format == BH_FORMAT_FMP4) {
        av_dict_set(&opts, "movflags", "+frag_custom+empty_moov"
                    "+default_base_moof+cmaf+frag_discont", 0);
    }

    rc = avformat_write_header(oc, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        bh_mux_error(err, errlen, "muxer header", rc);
        return BH_ERROR;
    }

    avio_flush(oc->pb);

    sg->video.out_tb = sg->video.st->time_base;
    sg->video.step = av_rescale_q(sg->frame_usec, AV_TIME_BASE_Q,
                                  sg->video.out_tb);

    if (sg->audio.st != NULL) {
        sg->audio.out_tb = sg->audio.st->time_base;
        sg->audio.step = av_rescale_q(sg->apar->frame_size > 0
                                      ? sg->apar->frame_size : 1024,
                                      (AVRational) { 1, sg->apar->sample_rate },
                                      sg->audio.out_tb);
    }

    /* MPEG-TS has no init segment: its tables go with the first part */

    if (sg->conf.format == BH_FORMAT_FMP4) {
        st = bh_take_output(sg, &chunk);
        if (st != BH_OK) {
            return st;
        }
    }

    sg->header = 1;
    sg->handler(sg->data, &chunk);

    return BH_OK;
}


static void
bh_codecs_string(bh_segmenter_t *sg, char *buf, size_t len, unsigned *width,
    unsigned *height)
{
    int     aot;
    size_t  n;

    *width = 0;
    *height = 0;

    if (sg->codec->describe(sg->vpar->extradata, sg->vpar->extradata_size,
                            buf, len, width, height)
        != BH_OK)
    {
        snprintf(buf, len, "avc1.42e01e");
    }

    /* in MPEG-TS the parameter sets are in band: hev1, not hvc1 */

    if (sg->conf.format == BH_FORMAT_MPEGTS && strncmp(buf, "hvc1.", 5) == 0)
    {
        buf[1] = 'e';
        buf[2] = 'v';
    }

    n = strlen(buf);

    if (sg->apar != NULL && n < len) {
        aot = 2;

        if (sg->apar->extradata_size >= 1) {
            aot = sg->apar->extradata[0] >> 3;
        }

        snprintf(buf + n, len - n, ",mp4a.40.%d", aot);
    }
}


bh_status_t
bh_mux_packet(bh_segmenter_t *sg, bh_track_t *t, AVPacket *pkt, char *err,
    size_t errlen)
{
    int  rc;

    pkt->stream_index = t->st->index;
    pkt->pos = -1;

    /*
     * MPEG-TS carries the parameter sets in band: every keyframe starts
     * with them, whatever order the camera sent them in (a PPS before its
     * SPS is seen), and so does every part's first frame, since players
     * that remux TS (Shaka's, video.js's) make an init segment of each
     * part they get.
     */

    if (sg->conf.format == BH_FORMAT_MPEGTS && t == &sg->video
        && ((pkt->flags & AV_PKT_FLAG_KEY) || sg->part_frames == 0)
        && !sg->codec->leads_with_parameter_sets(pkt->data, pkt->size)
        && sg->vpar->extradata_size > 0)
    {
        if (bh_prepend(pkt, sg->vpar->extradata, sg->vpar->extradata_size)
            != BH_OK)
        {
            return BH_NOMEM;
        }
    }

    sg->part_bytes += pkt->size;
    sg->part_samples++;
    sg->part_frames += (t == &sg->video);
    sg->part_audio += (t == &sg->audio);

    rc = av_write_frame(sg->oc, pkt);

    if (rc < 0 || sg->out_failed) {
        bh_mux_error(err, errlen, "muxer", rc);
        return sg->out_failed ? BH_NOMEM : BH_ERROR;
    }

    return BH_OK;
}


/* extradata in Annex B goes before the packet's own data */

static bh_status_t
bh_prepend(AVPacket *pkt, const uint8_t *data, int size)
{
    int  n;

    if (!bh_annexb_starts(data, size)) {
        return BH_OK;                   /* avcC, not Annex B: leave it */
    }

    n = pkt->size;

    if (av_packet_make_writable(pkt) < 0 || av_grow_packet(pkt, size) < 0) {
        return BH_NOMEM;
    }

    memmove(pkt->data + size, pkt->data, n);
    memcpy(pkt->data, data, size);

    return BH_OK;
}


/*
 * Ends the muxer's fragment: the part's bytes into chunk.  BH_NOSPACE:
 * the muxer wrote nothing (it dropped what it was given).
 */

bh_status_t
bh_mux_part(bh_segmenter_t *sg, bh_chunk_t *chunk)
{
    int  rc;

    rc = av_write_frame(sg->oc, NULL);
    if (rc < 0) {
        return BH_ERROR;
    }

    avio_flush(sg->oc->pb);

    if (sg->out_failed) {
        return BH_NOMEM;
    }

    if (sg->out_len == 0) {
        return BH_NOSPACE;              /* the part goes on: keep counting */
    }

    sg->part_bytes = 0;
    sg->part_samples = 0;
    sg->part_frames = 0;
    sg->part_audio = 0;

    return bh_take_output(sg, chunk);
}


static bh_status_t
bh_take_output(bh_segmenter_t *sg, bh_chunk_t *chunk)
{
    chunk->data = sg->out;
    chunk->size = sg->out_len;

    sg->out = NULL;
    sg->out_len = 0;
    sg->out_cap = 0;

    return chunk->data != NULL ? BH_OK : BH_ERROR;
}


void
bh_mux_close(bh_segmenter_t *sg)
{
    av_packet_free(&sg->audio_held);    /* of this muxer's streams */

    if (sg->oc == NULL) {
        return;
    }

    if (sg->header) {
        av_write_trailer(sg->oc);
    }

    if (sg->oc->pb != NULL) {
        av_freep(&sg->oc->pb->buffer);
        avio_context_free(&sg->oc->pb);
    }

    avformat_free_context(sg->oc);
    sg->oc = NULL;
}


void
bh_mux_error(char *err, size_t errlen, const char *what, int rc)
{
    char  buf[AV_ERROR_MAX_STRING_SIZE];

    if (rc < 0) {
        av_strerror(rc, buf, sizeof(buf));
        snprintf(err, errlen, "%s: %s", what, buf);

    } else {
        snprintf(err, errlen, "%s failed", what);
    }
}
