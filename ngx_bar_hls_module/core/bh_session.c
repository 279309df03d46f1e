
/*
 * ngx_bar_hls_module media core: one session with the camera.
 *
 * bh_session() opens the RTSP stream with libavformat, picks its video
 * and audio tracks, and reads packets until an error, the read timeout
 * or bh_pull_stop(): each one is dated on arrival (core/bh_arrival.c)
 * and written to the segmenter, whose parts leave through the pull's
 * callbacks.  libav's errors become the core's status codes here.
 */


#include <errno.h>
#include <stdio.h>

#include <libavformat/avformat.h>

#include "bh_media.h"
#include "bh_arrival.h"
#include "bh_pull_audio.h"
#include "bh_pull_int.h"


typedef struct {
    bh_pull_t          *pull;
    bh_segmenter_t     *sg;
    bh_pull_audio_t    *audio;          /* the camera's audio, if any */
    int64_t             started;        /* monotonic, first part */
    char               *err;
    size_t              errlen;
    unsigned            limited:1;      /* media dropped over a bound */
} bh_session_ctx_t;


static bh_status_t bh_av_status(bh_pull_t *pull, int rc);
static bh_status_t bh_write(void *data, AVPacket *pkt, int64_t wallclock);
static void bh_on_chunk(void *data, bh_chunk_t *chunk);


bh_status_t
bh_session(bh_pull_t *pull, char *err, size_t errlen, int64_t *streamed)
{
    int                 rc, v, a, i;
    char                buf[AV_ERROR_MAX_STRING_SIZE], msg[256];
    int64_t             start;
    AVPacket           *pkt;
    AVStream           *vs;
    bh_status_t         st;
    AVDictionary       *opts;
    bh_arrival_t       *ar;
    bh_segmenter_t     *sg;
    bh_pull_audio_t     audio;
    AVFormatContext    *ic;
    bh_session_ctx_t    ctx;

    ic = avformat_alloc_context();
    if (ic == NULL) {
        return BH_NOMEM;
    }

    ic->interrupt_callback.callback = bh_interrupt;
    ic->interrupt_callback.opaque = pull;

    opts = NULL;
    av_dict_set(&opts, "rtsp_transport", pull->conf.tcp ? "tcp" : "udp", 0);
    av_dict_set_int(&opts, "timeout", pull->conf.timeout, 0);
    av_dict_set(&opts, "user_agent", "ngx_bar_hls_module", 0);
    av_dict_set_int(&opts, "analyzeduration", 2 * BH_USEC, 0);
    av_dict_set_int(&opts, "fpsprobesize", 0, 0);
    av_dict_set_int(&opts, "max_delay", BH_USEC / 2, 0);

    bh_deadline(pull, pull->conf.timeout);

    rc = avformat_open_input(&ic, pull->url, NULL, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        av_strerror(rc, buf, sizeof(buf));
        snprintf(err, errlen, "connecting: %s", buf);
        return bh_av_status(pull, rc);
    }

    sg = NULL;
    pkt = NULL;
    audio.audio = NULL;
    audio.index = -1;

    ar = NULL;

    ctx.pull = pull;
    ctx.sg = NULL;
    ctx.audio = &audio;
    ctx.started = 0;
    ctx.err = err;
    ctx.errlen = errlen;
    ctx.limited = 0;

    bh_deadline(pull, pull->conf.timeout + 2 * BH_USEC);

    rc = avformat_find_stream_info(ic, NULL);
    if (rc < 0) {
        av_strerror(rc, buf, sizeof(buf));
        snprintf(err, errlen, "reading stream info: %s", buf);
        st = bh_av_status(pull, rc);
        goto done;
    }

    v = -1;
    a = -1;

    for (i = 0; i < (int) ic->nb_streams; i++) {
        enum AVMediaType  type = ic->streams[i]->codecpar->codec_type;

        if (type == AVMEDIA_TYPE_VIDEO && v == -1) {
            v = i;

        } else if (type == AVMEDIA_TYPE_AUDIO && a == -1) {
            a = i;
        }
    }

    if (v == -1) {
        snprintf(err, errlen, "the camera sends no video");
        st = BH_UNSUPPORTED;
        goto done;
    }

    vs = ic->streams[v];

    /* once per camera, not per reconnect */

    st = bh_pull_audio_open(&audio, pull->conf.audio,
                            (a != -1) ? ic->streams[a] : NULL, msg,
                            sizeof(msg));
    if (st != BH_OK) {
        goto done;
    }

    if (msg[0] != '\0' && !pull->audio_said) {
        pull->audio_said = 1;
        pull->conf.on_log(pull->conf.data,
                          audio.index == -1 ? AV_LOG_WARNING : AV_LOG_INFO,
                          msg);
    }

    for (i = 0; i < (int) ic->nb_streams; i++) {
        if (i != v && i != audio.index) {
            ic->streams[i]->discard = AVDISCARD_ALL;
        }
    }

    sg = bh_segmenter_create(&pull->conf.segmenter, bh_on_chunk, &ctx);
    if (sg == NULL) {
        st = BH_NOMEM;
        goto done;
    }

    st = bh_segmenter_open(sg, vs->codecpar, v, vs->time_base.num,
                           vs->time_base.den, audio.par, audio.index,
                           audio.tb.num, audio.tb.den, err, errlen);
    if (st != BH_OK) {
        goto done;
    }

    bh_segmenter_frame_rate(sg, vs->r_frame_rate.num, vs->r_frame_rate.den);

    ctx.sg = sg;

    pkt = av_packet_alloc();
    ar = bh_arrival_create(v, vs->time_base.num, vs->time_base.den);

    if (pkt == NULL || ar == NULL) {
        st = BH_NOMEM;
        goto done;
    }

    for ( ;; ) {
        bh_deadline(pull, pull->conf.timeout);

        start = bh_wallclock();
        rc = av_read_frame(ic, pkt);

        if (rc < 0) {
            if (rc == AVERROR_EOF) {
                snprintf(err, errlen, "the camera ended the stream");

            } else {
                av_strerror(rc, buf, sizeof(buf));
                snprintf(err, errlen, "reading: %s", buf);
            }

            st = bh_av_status(pull, rc);
            break;
        }

        pull->bytes_in += pkt->size;

        st = bh_arrival_push(ar, pkt, start, bh_wallclock(), bh_write, &ctx);

        if (st != BH_OK) {
            break;
        }
    }

    (void) bh_arrival_flush(ar, bh_wallclock(), bh_write, &ctx);

    bh_pull_audio_close(&audio, sg);
    bh_segmenter_flush(sg);

    if (ctx.started) {
        *streamed = bh_monotonic() - ctx.started;
    }

done:

    bh_pull_audio_close(&audio, NULL);
    av_packet_free(&pkt);
    bh_arrival_destroy(ar);
    bh_segmenter_destroy(sg);

    /* the TEARDOWN must not wait for a camera that is gone */
    bh_deadline(pull, BH_USEC / 2);

    avformat_close_input(&ic);

    bh_deadline(pull, 0);

    return st;
}


/* a packet, dated (core/bh_arrival.c), to the segmenter */

static bh_status_t
bh_write(void *data, AVPacket *pkt, int64_t wallclock)
{
    bh_session_ctx_t  *ctx = data;

    bh_status_t  st;

    if (pkt->stream_index == ctx->audio->index) {
        st = bh_pull_audio_write(ctx->audio, ctx->sg, pkt, wallclock,
                                 ctx->err, ctx->errlen);

    } else {
        st = bh_segmenter_write(ctx->sg, pkt, wallclock, ctx->err,
                                ctx->errlen);
    }

    if (st == BH_LIMIT) {

        /* the segmenter resumes by itself at the next keyframe */

        if (!ctx->limited) {
            ctx->limited = 1;
            bh_event(ctx->pull, BH_STATE_LIMITED, BH_LIMIT, ctx->err, 0);
        }

        return BH_OK;
    }

    return st;
}


static void
bh_on_chunk(void *data, bh_chunk_t *chunk)
{
    bh_session_ctx_t  *ctx = data;

    char        msg[160];
    bh_pull_t  *pull;

    pull = ctx->pull;

    if (chunk->type == BH_CHUNK_INIT) {
        snprintf(msg, sizeof(msg), "%dx%d %s", chunk->width, chunk->height,
                 chunk->codecs);

        if (ctx->started == 0) {
            ctx->started = bh_monotonic();
            bh_event(pull, BH_STATE_STREAMING, BH_OK, msg, 0);

        } else {

            /* within a session: the camera changed its parameter sets */

            snprintf(msg, sizeof(msg), "new parameter sets: now %dx%d %s, "
                     "a new init segment", chunk->width, chunk->height,
                     chunk->codecs);
            pull->conf.on_log(pull->conf.data, AV_LOG_WARNING, msg);
            bh_event(pull, BH_STATE_STREAMING, BH_OK, msg, 0);
        }

    } else if (ctx->limited) {
        ctx->limited = 0;
        bh_event(pull, BH_STATE_STREAMING, BH_OK,
                 "again from a keyframe", 0);
    }

    chunk->bytes_in = pull->bytes_in;
    pull->conf.on_chunk(pull->conf.data, chunk);
}


static bh_status_t
bh_av_status(bh_pull_t *pull, int rc)
{
    if (bh_stopped(pull)) {
        return BH_STOPPED;
    }

    /* whatever libav made of it, our own deadline cut the call short */

    if (__atomic_load_n(&pull->timed_out, __ATOMIC_RELAXED)) {
        return BH_TIMEDOUT;
    }

    switch (rc) {

    case AVERROR_EXIT:
        return BH_TIMEDOUT;

    case AVERROR_HTTP_UNAUTHORIZED:
    case AVERROR_HTTP_FORBIDDEN:
    case AVERROR(EACCES):
    case AVERROR(EPERM):
        return BH_AUTH;

    case AVERROR(ECONNREFUSED):
    case AVERROR(ECONNRESET):
    case AVERROR(EHOSTUNREACH):
    case AVERROR(ENETUNREACH):
    case AVERROR(EPIPE):
    case AVERROR(EIO):
        return BH_NETWORK;

    case AVERROR(ETIMEDOUT):
        return BH_TIMEDOUT;

    case AVERROR_EOF:
        return BH_EOF;

    case AVERROR_INVALIDDATA:
    case AVERROR_HTTP_NOT_FOUND:
    case AVERROR_HTTP_BAD_REQUEST:
    case AVERROR_HTTP_OTHER_4XX:
    case AVERROR_HTTP_SERVER_ERROR:
    case AVERROR_PROTOCOL_NOT_FOUND:
        return BH_PROTOCOL;

    case AVERROR_DECODER_NOT_FOUND:
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_PATCHWELCOME:
        return BH_UNSUPPORTED;

    default:
        return BH_ERROR;
    }
}
