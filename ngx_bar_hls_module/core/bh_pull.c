
/*
 * ngx_bar_hls_module media core: the RTSP pull loop.
 *
 * bh_pull_run() is a thread body: it connects to the camera with
 * libavformat, feeds the segmenter and reconnects with capped exponential
 * backoff and jitter until bh_pull_stop().  Every blocking libav call has
 * an interrupt callback that fires on stop and when no data came within
 * the read timeout.  Results leave through the callbacks in
 * bh_pull_conf_t, from this thread: the receiver must hand them over to
 * its own thread itself.
 */


#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "bh_media.h"
#include "bh_arrival.h"
#include "bh_pull_audio.h"


#define BH_HEALTHY_USEC      (30 * BH_USEC)
#define BH_LOG_BURST         20


struct bh_pull_s {
    bh_pull_conf_t      conf;
    char               *url;
    char                secret[256];    /* password, for redaction */

    pthread_mutex_t     mutex;
    pthread_cond_t      cond;
    int                 stop;           /* under mutex, or atomic read */

    int64_t             deadline;       /* monotonic usec, 0: none */
    int                 timed_out;      /* the deadline interrupted */
    int64_t             bytes_in;

    unsigned            streaming:1;
    unsigned            audio_said:1;   /* what becomes of the audio */

    int64_t             log_window;     /* rate limit of libav lines */
    int                 log_count;

    uint64_t            seed;           /* jitter */
};


typedef struct {
    bh_pull_t          *pull;
    bh_segmenter_t     *sg;
    bh_pull_audio_t    *audio;          /* the camera's audio, if any */
    int64_t             started;        /* monotonic, first part */
    char               *err;
    size_t              errlen;
    unsigned            limited:1;      /* media dropped over a bound */
} bh_session_ctx_t;


static __thread bh_pull_t  *bh_current;
static int                  bh_log_level = AV_LOG_WARNING;


static int bh_interrupt(void *data);
static void bh_deadline(bh_pull_t *pull, int64_t usec);
static int bh_stopped(bh_pull_t *pull);
static bh_status_t bh_session(bh_pull_t *pull, char *err, size_t errlen,
    int64_t *streamed);
static bh_status_t bh_av_status(bh_pull_t *pull, int rc);
static bh_status_t bh_write(void *data, AVPacket *pkt, int64_t wallclock);
static void bh_on_chunk(void *data, bh_chunk_t *chunk);
static void bh_event(bh_pull_t *pull, bh_state_t state, bh_status_t status,
    const char *message, int64_t retry_in);
static void bh_sleep(bh_pull_t *pull, int64_t usec);
static int64_t bh_jitter(bh_pull_t *pull, int64_t usec);
static void bh_av_log(void *avcl, int level, const char *fmt, va_list vl);


bh_pull_t *
bh_pull_create(const bh_pull_conf_t *conf)
{
    bh_pull_t  *pull;

    pull = calloc(1, sizeof(bh_pull_t));
    if (pull == NULL) {
        return NULL;
    }

    pull->conf = *conf;
    pull->url = strdup(conf->url);

    if (pull->url == NULL) {
        free(pull);
        return NULL;
    }

    /* remember the password to redact it even where it is not in a URL */

    bh_url_password(pull->url, pull->secret, sizeof(pull->secret));

    pthread_mutex_init(&pull->mutex, NULL);
    pthread_cond_init(&pull->cond, NULL);

    pull->seed = (uint64_t) bh_monotonic() ^ (uintptr_t) pull;

    return pull;
}


void
bh_pull_destroy(bh_pull_t *pull)
{
    if (pull == NULL) {
        return;
    }

    pthread_mutex_destroy(&pull->mutex);
    pthread_cond_destroy(&pull->cond);

    memset(pull->secret, 0, sizeof(pull->secret));

    memset(pull->url, 0, strlen(pull->url));
    free(pull->url);
    free(pull);
}


void
bh_pull_stop(bh_pull_t *pull)
{
    pthread_mutex_lock(&pull->mutex);
    __atomic_store_n(&pull->stop, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&pull->cond);
    pthread_mutex_unlock(&pull->mutex);
}


static int
bh_stopped(bh_pull_t *pull)
{
    return __atomic_load_n(&pull->stop, __ATOMIC_SEQ_CST);
}


static int
bh_interrupt(void *data)
{
    bh_pull_t  *pull = data;

    int64_t  deadline;

    if (bh_stopped(pull)) {
        return 1;
    }

    deadline = __atomic_load_n(&pull->deadline, __ATOMIC_RELAXED);

    if (deadline != 0 && bh_monotonic() > deadline) {
        __atomic_store_n(&pull->timed_out, 1, __ATOMIC_RELAXED);
        return 1;
    }

    return 0;
}


/* every blocking libav call from now on must end within usec (0: none) */

static void
bh_deadline(bh_pull_t *pull, int64_t usec)
{
    __atomic_store_n(&pull->timed_out, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pull->deadline, usec ? bh_monotonic() + usec : 0,
                     __ATOMIC_RELAXED);
}


void
bh_pull_run(bh_pull_t *pull)
{
    char         err[256];
    int64_t      backoff, wait, streamed;
    bh_state_t   state;
    bh_status_t  st;

    bh_current = pull;
    backoff = pull->conf.backoff_min;

    while (!bh_stopped(pull)) {

        bh_event(pull, BH_STATE_CONNECTING, BH_OK, "", 0);

        err[0] = '\0';
        streamed = 0;

        st = bh_session(pull, err, sizeof(err), &streamed);

        if (bh_stopped(pull)) {
            break;
        }

        if (streamed >= BH_HEALTHY_USEC) {
            backoff = pull->conf.backoff_min;
        }

        wait = bh_jitter(pull, backoff);

        state = (st == BH_AUTH || st == BH_UNSUPPORTED) ? BH_STATE_ERROR
                                                        : BH_STATE_BACKOFF;

        bh_event(pull, state, st, err[0] ? err : bh_status_text(st), wait);

        bh_sleep(pull, wait);

        backoff *= 2;

        if (backoff > pull->conf.backoff_max) {
            backoff = pull->conf.backoff_max;
        }
    }

    bh_current = NULL;
}


static bh_status_t
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


static void
bh_event(bh_pull_t *pull, bh_state_t state, bh_status_t status,
    const char *message, int64_t retry_in)
{
    bh_event_t  ev;

    ev.state = state;
    ev.status = status;
    ev.retry_in = retry_in;
    ev.bytes_in = pull->bytes_in;

    bh_redact_text(message, pull->secret, ev.message, sizeof(ev.message));

    pull->conf.on_event(pull->conf.data, &ev);
}


static void
bh_sleep(bh_pull_t *pull, int64_t usec)
{
    int64_t          end;
    struct timespec  ts;

    end = bh_wallclock() + usec;
    ts.tv_sec = end / BH_USEC;
    ts.tv_nsec = end % BH_USEC * 1000;

    pthread_mutex_lock(&pull->mutex);

    while (!pull->stop) {
        if (pthread_cond_timedwait(&pull->cond, &pull->mutex, &ts)
            == ETIMEDOUT)
        {
            break;
        }
    }

    pthread_mutex_unlock(&pull->mutex);
}


/* usec scaled by a random factor in [0.75, 1.25) */

static int64_t
bh_jitter(bh_pull_t *pull, int64_t usec)
{
    pull->seed = pull->seed * 6364136223846793005ULL + 1442695040888963407ULL;

    return usec * 3 / 4 + (int64_t) ((pull->seed >> 33) % (usec / 2 + 1));
}


void
bh_log_init(int level)
{
    bh_log_level = level;
    av_log_set_callback(bh_av_log);
}


static void
bh_av_log(void *avcl, int level, const char *fmt, va_list vl)
{
    int         prefix;
    char        line[512], clean[512];
    size_t      n;
    int64_t     now;
    bh_pull_t  *pull;

    pull = bh_current;

    /* a stream stopped on purpose complains as it is cut: not news */

    if (pull == NULL || level > bh_log_level || bh_stopped(pull)) {
        return;
    }

    /*
     * The muxer's warnings are about our own output, not the camera
     * (e.g. the audio track starting after the video in an empty moov).
     */

    if (avcl != NULL && level > AV_LOG_ERROR
        && strcmp((*(AVClass **) avcl)->class_name, "AVFormatContext") == 0
        && ((AVFormatContext *) avcl)->oformat != NULL)
    {
        return;
    }

    /* at most BH_LOG_BURST lines a second from one camera */

    now = bh_monotonic();

    if (now - pull->log_window > BH_USEC) {
        pull->log_window = now;
        pull->log_count = 0;
    }

    if (++pull->log_count > BH_LOG_BURST) {
        return;
    }

    prefix = 1;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &prefix);

    n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }

    if (n == 0) {
        return;
    }

    bh_redact_text(line, pull->secret, clean, sizeof(clean));

    pull->conf.on_log(pull->conf.data, level, clean);
}
