
/*
 * ngx_bar_hls_module media core: the segmenter.
 *
 * Packets from the camera are remuxed, never re-encoded, by libavformat's
 * mp4 muxer in fragmented mode into memory: the init segment once, then
 * one moof+mdat fragment per part (or by its mpegts muxer: no init
 * segment, and every segment starts with PAT and PMT).  A part ends
 * before the video frame that would take it past the part target; a
 * segment ends at the first keyframe at the segment target, so every
 * segment starts with a keyframe.
 *
 * Cameras send odd timestamps: repeated DTS (x264 sliced IDRs arrive as
 * several packets with one DTS), small reorderings, jumps when RTCP sender
 * reports arrive, and none at all.  The muxer wants strictly increasing
 * DTS per track, so every packet is mapped onto a continuous output
 * timeline here: pieces of one frame are merged, small steps back are
 * nudged forward, large jumps either way are re-anchored.
 */


#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "bh_media.h"


#define BH_IOBUF_SIZE       32768
#define BH_JUMP_USEC        (2 * BH_USEC)


typedef struct {
    int                 index;          /* input stream index, -1: none */
    AVRational          in_tb;
    AVRational          out_tb;
    AVStream           *st;             /* output stream */
    int64_t             offset;         /* out_tb, added to rescaled dts */
    int64_t             last_dts;       /* out_tb, AV_NOPTS_VALUE: none */
    int64_t             last_in_dts;    /* in_tb */
    int64_t             step;           /* out_tb, usual packet duration */
    int64_t             in_step;        /* in_tb, likewise */
    unsigned            anchored:1;
} bh_track_t;


struct bh_segmenter_s {
    bh_segmenter_conf_t     conf;
    bh_chunk_handler_pt     handler;
    void                   *data;

    AVFormatContext        *oc;
    AVCodecParameters      *vpar;
    AVCodecParameters      *apar;

    bh_track_t              video;
    bh_track_t              audio;

    uint8_t                *out;
    size_t                  out_len;
    size_t                  out_cap;
    int                     out_failed;

    AVPacket               *pending;        /* video, waits for duration */
    AVPacket               *untimed;        /* first video, no timestamp */
    int64_t                 untimed_wallclock;

    unsigned                header:1;
    unsigned                part_open:1;
    unsigned                part_independent:1;
    unsigned                part_segment_start:1;
    unsigned                part_carried:1;   /* open, nothing in it yet */

    int64_t                 part_start;     /* usec, output timeline */
    int64_t                 part_wallclock;
    int64_t                 segment_start;  /* usec */
    int64_t                 origin;         /* usec, first video dts */
};


static int bh_io_write(void *opaque, uint8_t *buf, int size);
static bh_status_t bh_write_header(bh_segmenter_t *sg, AVPacket *key,
    char *err, size_t errlen);
static bh_status_t bh_extract_parameter_sets(AVCodecParameters *par,
    AVPacket *pkt);
static void bh_codecs_string(bh_segmenter_t *sg, char *buf, size_t len);
static int64_t bh_map_timestamps(bh_track_t *t, AVPacket *pkt,
    int64_t *origin);
static bh_status_t bh_write_video(bh_segmenter_t *sg, AVPacket *pkt,
    int64_t wallclock, char *err, size_t errlen);
static bh_status_t bh_write_video_timed(bh_segmenter_t *sg, AVPacket *pkt,
    int64_t wallclock, char *err, size_t errlen);
static bh_status_t bh_write_audio(bh_segmenter_t *sg, AVPacket *pkt,
    char *err, size_t errlen);
static bh_status_t bh_mux(bh_segmenter_t *sg, bh_track_t *t, AVPacket *pkt,
    char *err, size_t errlen);
static int bh_first_nal(const uint8_t *p, int size);
static bh_status_t bh_prepend(AVPacket *pkt, const uint8_t *data, int size);
static bh_status_t bh_emit_part(bh_segmenter_t *sg, int64_t end);
static bh_status_t bh_take_output(bh_segmenter_t *sg, bh_chunk_t *chunk);
static int64_t bh_usec(int64_t ts, AVRational tb);
static void bh_error(char *err, size_t errlen, const char *what, int rc);


bh_segmenter_t *
bh_segmenter_create(const bh_segmenter_conf_t *conf,
    bh_chunk_handler_pt handler, void *data)
{
    bh_segmenter_t  *sg;

    sg = calloc(1, sizeof(bh_segmenter_t));
    if (sg == NULL) {
        return NULL;
    }

    sg->conf = *conf;
    sg->handler = handler;
    sg->data = data;
    sg->video.index = -1;
    sg->audio.index = -1;
    sg->origin = AV_NOPTS_VALUE;

    sg->pending = av_packet_alloc();
    sg->untimed = av_packet_alloc();

    if (sg->pending == NULL || sg->untimed == NULL) {
        av_packet_free(&sg->pending);
        av_packet_free(&sg->untimed);
        free(sg);
        return NULL;
    }

    return sg;
}


bh_status_t
bh_segmenter_open(bh_segmenter_t *sg, const AVCodecParameters *video,
    int video_index, int video_tb_num, int video_tb_den,
    const AVCodecParameters *audio, int audio_index, int audio_tb_num,
    int audio_tb_den, char *err, size_t errlen)
{
    if (video == NULL || video->codec_id != AV_CODEC_ID_H264) {
        snprintf(err, errlen, "video is not H.264");
        return BH_UNSUPPORTED;
    }

    if (video_tb_num <= 0 || video_tb_den <= 0) {
        snprintf(err, errlen, "invalid video time base");
        return BH_INVALID;
    }

    sg->vpar = avcodec_parameters_alloc();
    if (sg->vpar == NULL || avcodec_parameters_copy(sg->vpar, video) < 0) {
        return BH_NOMEM;
    }

    sg->video.index = video_index;
    sg->video.in_tb = (AVRational) { video_tb_num, video_tb_den };
    sg->video.last_dts = AV_NOPTS_VALUE;
    sg->video.last_in_dts = AV_NOPTS_VALUE;
    sg->video.in_step = av_rescale_q(BH_USEC / 25, AV_TIME_BASE_Q,
                                     sg->video.in_tb);

    if (audio != NULL) {
        if (audio->codec_id != AV_CODEC_ID_AAC || audio->sample_rate <= 0
            || audio_tb_num <= 0 || audio_tb_den <= 0)
        {
            snprintf(err, errlen, "audio is not usable AAC");
            return BH_UNSUPPORTED;
        }

        sg->apar = avcodec_parameters_alloc();
        if (sg->apar == NULL || avcodec_parameters_copy(sg->apar, audio) < 0)
        {
            return BH_NOMEM;
        }

        sg->audio.index = audio_index;
        sg->audio.in_tb = (AVRational) { audio_tb_num, audio_tb_den };
        sg->audio.last_dts = AV_NOPTS_VALUE;
    }

    return BH_OK;
}


static int
bh_io_write(void *opaque, uint8_t *buf, int size)
{
    bh_segmenter_t  *sg = opaque;

    size_t    cap;
    uint8_t  *p;

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


static bh_status_t
bh_write_header(bh_segmenter_t *sg, AVPacket *key, char *err, size_t errlen)
{
    int                 rc;
    uint8_t            *iobuf;
    bh_status_t         st;
    bh_chunk_t          chunk;
    AVDictionary       *opts;
    AVFormatContext    *oc;

    if (sg->vpar->extradata_size == 0) {
        st = bh_extract_parameter_sets(sg->vpar, key);
        if (st != BH_OK) {
            snprintf(err, errlen, "no SPS/PPS in the stream");
            return st;
        }
    }

    if (sg->vpar->width <= 0 || sg->vpar->height <= 0) {
        snprintf(err, errlen, "video dimensions unknown");
        return BH_UNSUPPORTED;
    }

    rc = avformat_alloc_output_context2(&oc, NULL,
                                        sg->conf.format == BH_FORMAT_FMP4
                                        ? "mp4" : "mpegts", NULL);
    if (rc < 0) {
        bh_error(err, errlen, "muxer", rc);
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

    sg->video.st->codecpar->codec_tag = 0;
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

    if (sg->conf.format == BH_FORMAT_FMP4) {
        av_dict_set(&opts, "movflags",
                    "+frag_custom+empty_moov+default_base_moof+cmaf", 0);
    }

    rc = avformat_write_header(oc, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        bh_error(err, errlen, "muxer header", rc);
        return BH_ERROR;
    }

    avio_flush(oc->pb);

    sg->video.out_tb = sg->video.st->time_base;
    sg->video.step = av_rescale_q(BH_USEC / 25, AV_TIME_BASE_Q,
                                  sg->video.out_tb);

    if (sg->audio.st != NULL) {
        sg->audio.out_tb = sg->audio.st->time_base;
        sg->audio.step = av_rescale_q(sg->apar->frame_size > 0
                                      ? sg->apar->frame_size : 1024,
                                      (AVRational) { 1, sg->apar->sample_rate },
                                      sg->audio.out_tb);
    }

    memset(&chunk, 0, sizeof(bh_chunk_t));
    chunk.type = BH_CHUNK_INIT;
    chunk.width = sg->vpar->width;
    chunk.height = sg->vpar->height;
    bh_codecs_string(sg, chunk.codecs, sizeof(chunk.codecs));

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


/* builds Annex B extradata from the SPS and PPS in a keyframe */

static bh_status_t
bh_extract_parameter_sets(AVCodecParameters *par, AVPacket *pkt)
{
    int       type, have_sps, have_pps;
    size_t    len;
    uint8_t  *p, *end, *nal, *next, *ed;

    p = pkt->data;
    end = pkt->data + pkt->size;
    len = 0;
    have_sps = 0;
    have_pps = 0;

    ed = av_mallocz(pkt->size + 4 + AV_INPUT_BUFFER_PADDING_SIZE);
    if (ed == NULL) {
        return BH_NOMEM;
    }

    /* find the first start code */

    while (p + 3 <= end && !(p[0] == 0 && p[1] == 0 && p[2] == 1)) {
        p++;
    }

    while (p + 3 <= end) {
        nal = p + 3;
        next = nal;

        while (next + 3 <= end
               && !(next[0] == 0 && next[1] == 0 && next[2] == 1))
        {
            next++;
        }

        if (next + 3 > end) {
            next = end;
        }

        p = next;

        /* trailing zero of a four-byte start code */
        while (next > nal && next[-1] == 0) {
            next--;
        }

        if (next <= nal) {
            continue;
        }

        type = nal[0] & 0x1f;

        if (type == 7 || type == 8) {
            memcpy(ed + len, "\0\0\0\1", 4);
            memcpy(ed + len + 4, nal, next - nal);
            len += 4 + (next - nal);
            have_sps |= (type == 7);
            have_pps |= (type == 8);
        }
    }

    if (!have_sps || !have_pps) {
        av_free(ed);
        return BH_UNSUPPORTED;
    }

    av_freep(&par->extradata);
    par->extradata = ed;
    par->extradata_size = len;

    return BH_OK;
}


static void
bh_codecs_string(bh_segmenter_t *sg, char *buf, size_t len)
{
    int       aot, i;
    size_t    n;
    uint8_t  *ed, *sps;

    /* avc1.PPCCLL from the SPS: profile, constraints, level */

    ed = sg->vpar->extradata;
    sps = NULL;

    if (sg->vpar->extradata_size >= 8 && ed[0] == 1) {
        sps = ed + 8;                           /* avcC */

    } else {
        for (i = 0; i + 4 < sg->vpar->extradata_size; i++) {
            if (ed[i] == 0 && ed[i + 1] == 0 && ed[i + 2] == 1
                && (ed[i + 3] & 0x1f) == 7)
            {
                sps = ed + i + 3;
                break;
            }
        }
    }

    if (sps != NULL && sps + 4 <= ed + sg->vpar->extradata_size) {
        n = snprintf(buf, len, "avc1.%02x%02x%02x", sps[1], sps[2], sps[3]);

    } else {
        n = snprintf(buf, len, "avc1.42e01e");
    }

    if (sg->apar != NULL && n < len) {
        aot = 2;

        if (sg->apar->extradata_size >= 1) {
            aot = sg->apar->extradata[0] >> 3;
        }

        snprintf(buf + n, len - n, ",mp4a.40.%d", aot);
    }
}


bh_status_t
bh_segmenter_write(bh_segmenter_t *sg, AVPacket *pkt, int64_t wallclock,
    char *err, size_t errlen)
{
    if (pkt->size <= 0) {
        return BH_OK;
    }

    if (pkt->stream_index == sg->video.index) {
        return bh_write_video(sg, pkt, wallclock, err, errlen);
    }

    if (pkt->stream_index == sg->audio.index && sg->header) {
        return bh_write_audio(sg, pkt, err, errlen);
    }

    return BH_OK;
}


/*
 * Cameras may send the first frame without a timestamp (libavformat's
 * RTP demuxer does before it has one): it gets the next frame's, less one
 * frame duration.
 */

static bh_status_t
bh_write_video(bh_segmenter_t *sg, AVPacket *pkt, int64_t wallclock,
    char *err, size_t errlen)
{
    bh_status_t  st;
    bh_track_t  *t;

    t = &sg->video;

    if (pkt->dts == AV_NOPTS_VALUE) {
        pkt->dts = pkt->pts;
    }

    if (pkt->dts == AV_NOPTS_VALUE) {

        if (t->last_in_dts != AV_NOPTS_VALUE) {
            pkt->dts = t->last_in_dts + t->in_step;
            pkt->pts = pkt->dts;

        } else {
            if (!(pkt->flags & AV_PKT_FLAG_KEY)) {
                return BH_OK;
            }

            av_packet_unref(sg->untimed);

            if (av_packet_ref(sg->untimed, pkt) < 0) {
                return BH_NOMEM;
            }

            sg->untimed_wallclock = wallclock;

            return BH_OK;
        }
    }

    if (sg->untimed->size > 0) {
        sg->untimed->dts = pkt->dts - t->in_step;
        sg->untimed->pts = sg->untimed->dts;

        st = bh_write_video_timed(sg, sg->untimed, sg->untimed_wallclock,
                                  err, errlen);
        av_packet_unref(sg->untimed);

        if (st != BH_OK) {
            return st;
        }
    }

    return bh_write_video_timed(sg, pkt, wallclock, err, errlen);
}


static bh_status_t
bh_write_video_timed(bh_segmenter_t *sg, AVPacket *pkt, int64_t wallclock,
    char *err, size_t errlen)
{
    int          key;
    int64_t      now, dts;
    bh_status_t  st;
    AVPacket    *p;

    key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;

    if (!sg->header) {
        if (!key) {
            return BH_OK;                       /* wait for a keyframe */
        }

        st = bh_write_header(sg, pkt, err, errlen);
        if (st != BH_OK) {
            return st;
        }
    }

    p = sg->pending;

    /* pieces of one frame: same DTS as the frame waiting for its duration */

    if (p->size > 0 && pkt->dts == sg->video.last_in_dts) {
        if (av_grow_packet(p, pkt->size) < 0) {
            return BH_NOMEM;
        }

        memcpy(p->data + p->size - pkt->size, pkt->data, pkt->size);
        p->flags |= pkt->flags & AV_PKT_FLAG_KEY;

        return BH_OK;
    }

    if (sg->video.last_in_dts != AV_NOPTS_VALUE
        && pkt->dts > sg->video.last_in_dts
        && pkt->dts - sg->video.last_in_dts
           < av_rescale_q(BH_USEC, AV_TIME_BASE_Q, sg->video.in_tb))
    {
        sg->video.in_step = pkt->dts - sg->video.last_in_dts;
    }

    sg->video.last_in_dts = pkt->dts;

    dts = bh_map_timestamps(&sg->video, pkt, &sg->origin);

    now = bh_usec(dts, sg->video.out_tb);

    if (p->size > 0) {
        p->duration = dts - p->dts;

        st = bh_mux(sg, &sg->video, p, err, errlen);
        if (st != BH_OK) {
            return st;
        }
    }

    /*
     * Cut before this packet?  A keyframe a little early still ends the
     * segment; a part ends before the frame that would take it past the
     * part target, so that no part is longer than PART-TARGET.
     */

    if (sg->part_open) {

        if (key && now - sg->segment_start
                   >= sg->conf.segment - sg->conf.segment / 10)
        {
            st = bh_emit_part(sg, now);
            if (st != BH_OK) {
                return st;
            }

            sg->part_segment_start = 1;
            sg->segment_start = now;

        } else if (now - sg->part_start
                   + bh_usec(sg->video.step, sg->video.out_tb)
                   > sg->conf.part + 1000)
        {
            st = bh_emit_part(sg, now);
            if (st != BH_OK) {
                return st;
            }
        }

    } else {
        sg->part_segment_start = 1;
        sg->segment_start = now;
    }

    if (sg->part_segment_start && (!sg->part_open || sg->part_carried)
        && sg->conf.format == BH_FORMAT_MPEGTS)
    {
        /* every segment must start with the PAT and PMT */
        av_opt_set(sg->oc->priv_data, "mpegts_flags", "+resend_headers", 0);
    }

    if (!sg->part_open) {
        sg->part_open = 1;
        sg->part_start = now;
        sg->part_wallclock = wallclock;
        sg->part_independent = key;

    } else if (sg->part_carried) {
        sg->part_carried = 0;
        sg->part_independent = key;     /* its first sample is this one */
    }

    av_packet_unref(p);

    if (av_packet_ref(p, pkt) < 0) {
        return BH_NOMEM;
    }

    if (av_packet_make_writable(p) < 0) {
        return BH_NOMEM;
    }

    return BH_OK;
}


static bh_status_t
bh_write_audio(bh_segmenter_t *sg, AVPacket *pkt, char *err, size_t errlen)
{
    bh_status_t  st;
    AVPacket    *p;

    if (!sg->part_open) {
        return BH_OK;
    }

    p = av_packet_clone(pkt);
    if (p == NULL) {
        return BH_NOMEM;
    }

    bh_map_timestamps(&sg->audio, p, &sg->origin);

    if (bh_usec(p->dts, sg->audio.out_tb) < 0) {
        av_packet_free(&p);                     /* before the first frame */
        return BH_OK;
    }

    p->duration = sg->audio.step;

    st = bh_mux(sg, &sg->audio, p, err, errlen);

    av_packet_free(&p);

    return st;
}


/*
 * Rewrites pkt's dts/pts (input time base) onto the track's continuous
 * output timeline and returns the new dts.  The first video packet sets
 * the origin (usec) of the timeline for both tracks, so that they stay in
 * sync as the camera timestamped them.
 */

static int64_t
bh_map_timestamps(bh_track_t *t, AVPacket *pkt, int64_t *origin)
{
    int64_t  raw, dts, cts, jump;

    if (pkt->dts == AV_NOPTS_VALUE) {
        pkt->dts = pkt->pts;
    }

    cts = 0;

    if (pkt->pts != AV_NOPTS_VALUE && pkt->dts != AV_NOPTS_VALUE
        && pkt->pts > pkt->dts)
    {
        cts = av_rescale_q(pkt->pts - pkt->dts, t->in_tb, t->out_tb);
    }

    if (pkt->dts == AV_NOPTS_VALUE) {
        dts = (t->last_dts == AV_NOPTS_VALUE) ? 0 : t->last_dts + t->step;

    } else {
        raw = av_rescale_q(pkt->dts, t->in_tb, t->out_tb);

        if (!t->anchored) {
            if (*origin == AV_NOPTS_VALUE) {
                *origin = bh_usec(raw, t->out_tb);
            }

            t->offset = -av_rescale_q(*origin, AV_TIME_BASE_Q, t->out_tb);
            t->anchored = 1;
        }

        dts = raw + t->offset;
    }

    if (t->last_dts != AV_NOPTS_VALUE) {
        jump = av_rescale_q(BH_JUMP_USEC, AV_TIME_BASE_Q, t->out_tb);

        if (dts <= t->last_dts - jump || dts > t->last_dts + jump) {

            /* a jump: continue as if one usual step had passed */

            t->offset += t->last_dts + t->step - dts;
            dts = t->last_dts + t->step;

        } else if (dts <= t->last_dts) {
            dts = t->last_dts + 1;

        } else {
            t->step = dts - t->last_dts;
        }
    }

    t->last_dts = dts;

    pkt->dts = dts;
    pkt->pts = dts + cts;

    return dts;
}


static bh_status_t
bh_mux(bh_segmenter_t *sg, bh_track_t *t, AVPacket *pkt, char *err,
    size_t errlen)
{
    int  rc;

    pkt->stream_index = t->st->index;
    pkt->pos = -1;

    /*
     * An MPEG-TS segment is decoded from its first keyframe on, with the
     * parameter sets in band: make sure they come first, whatever order
     * the camera sent them in (a PPS before its SPS is seen).
     */

    if (sg->conf.format == BH_FORMAT_MPEGTS && t == &sg->video
        && (pkt->flags & AV_PKT_FLAG_KEY)
        && bh_first_nal(pkt->data, pkt->size) != 7
        && sg->vpar->extradata_size > 0)
    {
        if (bh_prepend(pkt, sg->vpar->extradata, sg->vpar->extradata_size)
            != BH_OK)
        {
            return BH_NOMEM;
        }
    }

    rc = av_write_frame(sg->oc, pkt);

    if (rc < 0 || sg->out_failed) {
        bh_error(err, errlen, "muxer", rc);
        return sg->out_failed ? BH_NOMEM : BH_ERROR;
    }

    return BH_OK;
}


/* the type of the first NAL unit after any access unit delimiter */

static int
bh_first_nal(const uint8_t *p, int size)
{
    int  i, type;

    for (i = 0; i + 3 < size; i++) {
        if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
            type = p[i + 3] & 0x1f;

            if (type != 9) {
                return type;
            }

            i += 3;
        }
    }

    return -1;
}


/* extradata in Annex B goes before the packet's own data */

static bh_status_t
bh_prepend(AVPacket *pkt, const uint8_t *data, int size)
{
    int  n;

    if (data[0] != 0) {
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


static bh_status_t
bh_emit_part(bh_segmenter_t *sg, int64_t end)
{
    int          rc;
    bh_status_t  st;
    bh_chunk_t   chunk;

    rc = av_write_frame(sg->oc, NULL);
    if (rc < 0) {
        return BH_ERROR;
    }

    avio_flush(sg->oc->pb);

    if (sg->out_failed) {
        return BH_NOMEM;
    }

    /*
     * The muxer wrote nothing (the camera sent samples it dropped, such
     * as garbage without a start code): the part stays open, so that the
     * next one covers its time and the timeline stays contiguous.
     */

    if (sg->out_len == 0) {
        sg->part_carried = 1;
        return BH_OK;
    }

    memset(&chunk, 0, sizeof(bh_chunk_t));
    chunk.type = BH_CHUNK_PART;
    chunk.start = sg->part_start;
    chunk.duration = end - sg->part_start;
    chunk.wallclock = sg->part_wallclock;
    chunk.segment_start = sg->part_segment_start;
    chunk.independent = sg->part_independent;

    sg->part_open = 0;
    sg->part_carried = 0;
    sg->part_segment_start = 0;

    st = bh_take_output(sg, &chunk);
    if (st != BH_OK) {
        return st;
    }

    sg->handler(sg->data, &chunk);

    return BH_OK;
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


bh_status_t
bh_segmenter_flush(bh_segmenter_t *sg)
{
    char         err[128];
    int64_t      end;
    bh_status_t  st;
    AVPacket    *p;

    if (!sg->header || !sg->part_open) {
        return BH_OK;
    }

    p = sg->pending;
    end = sg->part_start;

    if (p->size > 0) {
        p->duration = sg->video.step;
        end = bh_usec(p->dts + p->duration, sg->video.out_tb);

        st = bh_mux(sg, &sg->video, p, err, sizeof(err));
        av_packet_unref(p);

        if (st != BH_OK) {
            return st;
        }
    }

    return bh_emit_part(sg, end);
}


void
bh_segmenter_destroy(bh_segmenter_t *sg)
{
    if (sg == NULL) {
        return;
    }

    if (sg->oc != NULL) {
        if (sg->header) {
            av_write_trailer(sg->oc);
        }

        if (sg->oc->pb != NULL) {
            av_freep(&sg->oc->pb->buffer);
            avio_context_free(&sg->oc->pb);
        }

        avformat_free_context(sg->oc);
    }

    avcodec_parameters_free(&sg->vpar);
    avcodec_parameters_free(&sg->apar);
    av_packet_free(&sg->pending);
    av_packet_free(&sg->untimed);
    free(sg->out);
    free(sg);
}


static int64_t
bh_usec(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}


static void
bh_error(char *err, size_t errlen, const char *what, int rc)
{
    char  buf[AV_ERROR_MAX_STRING_SIZE];

    if (rc < 0) {
        av_strerror(rc, buf, sizeof(buf));
        snprintf(err, errlen, "%s: %s", what, buf);

    } else {
        snprintf(err, errlen, "%s failed", what);
    }
}
