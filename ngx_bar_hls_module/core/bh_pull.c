
/*
 * ngx_bar_hls_module media core: the RTSP pull loop.
 *
 * bh_pull_run() is a thread body: it connects to the camera with
 * libavformat, feeds the segmenter (a session, bh_session.c) and
 * reconnects with capped exponential backoff and jitter until
 * bh_pull_stop().  Every blocking libav call has
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
#include "bh_pull_int.h"


#define BH_HEALTHY_USEC      (30 * BH_USEC)
#define BH_LOG_BURST         20


static __thread bh_pull_t  *bh_current;
static int                  bh_log_level = AV_LOG_WARNING;


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


int
bh_stopped(bh_pull_t *pull)
{
    return __atomic_load_n(&pull->stop, __ATOMIC_SEQ_CST);
}


int
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

void
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


void
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
