
/*
 * ngx_bar_hls_module: the pull threads' hand-off to the event loop.
 *
 * What a pull thread produces (parts, state changes, libav log lines) is
 * malloc()ed into a mutex-protected queue and a byte on a pipe wakes the
 * event loop, which publishes into the zone and logs.  While requests
 * want snapshots, the parts that start with a keyframe are offered to a
 * second thread of the camera's (core/bh_snapper.c), whose pictures come
 * back through the same queue (ngx_http_bar_hls_snapshot.c stores them).
 */


#include "ngx_http_bar_hls.h"
#include "ngx_http_bar_hls_pull.h"

#include <libavutil/log.h>


typedef enum {
    NGX_HTTP_BAR_HLS_MSG_CHUNK = 0,
    NGX_HTTP_BAR_HLS_MSG_EVENT,
    NGX_HTTP_BAR_HLS_MSG_LOG,
    NGX_HTTP_BAR_HLS_MSG_SNAPSHOT
} ngx_http_bar_hls_msg_type_e;


struct ngx_http_bar_hls_msg_s {
    ngx_http_bar_hls_msg_t         *next;
    ngx_http_bar_hls_pull_t        *pull;
    ngx_http_bar_hls_msg_type_e     type;
    int                             level;
    bh_chunk_t                      chunk;
    bh_event_t                      event;
    bh_snapshot_t                   snapshot;
    char                            text[512];
};


static void ngx_http_bar_hls_enqueue(ngx_http_bar_hls_msg_t *msg);
static void ngx_http_bar_hls_on_snapshot(void *data, bh_snapshot_t *snap);
static void ngx_http_bar_hls_snapshot_offer(ngx_http_bar_hls_pull_t *pull,
    bh_chunk_t *chunk, unsigned wanted);
static void ngx_http_bar_hls_event(ngx_http_bar_hls_pull_t *pull,
    bh_event_t *ev);


/* runs in the pull thread */

static void
ngx_http_bar_hls_enqueue(ngx_http_bar_hls_msg_t *msg)
{
    ngx_http_bar_hls_worker_t  *w;

    w = &ngx_http_bar_hls_worker;
    msg->next = NULL;

    pthread_mutex_lock(&w->mutex);
    *w->tail = msg;
    w->tail = &msg->next;
    pthread_mutex_unlock(&w->mutex);

    ngx_http_bar_hls_notify();
}


/*
 * Runs in the pull thread: a byte on the pipe wakes the event loop.  A
 * full pipe already holds a wake-up, so a failed write loses nothing.
 */

void
ngx_http_bar_hls_notify(void)
{
    char     c;
    ssize_t  n;

    c = 0;
    n = write(ngx_http_bar_hls_worker.pipe[1], &c, 1);

    (void) n;
}


/* runs in the pull thread */

void
ngx_http_bar_hls_on_chunk(void *data, bh_chunk_t *chunk)
{
    ngx_http_bar_hls_msg_t  *msg;

    msg = malloc(sizeof(ngx_http_bar_hls_msg_t));
    if (msg == NULL) {
        free(chunk->data);
        return;
    }

    msg->pull = data;
    msg->type = NGX_HTTP_BAR_HLS_MSG_CHUNK;
    msg->chunk = *chunk;

    ngx_http_bar_hls_enqueue(msg);
}


/* runs in the pull thread */

void
ngx_http_bar_hls_on_event(void *data, bh_event_t *ev)
{
    ngx_http_bar_hls_msg_t  *msg;

    msg = malloc(sizeof(ngx_http_bar_hls_msg_t));
    if (msg == NULL) {
        return;
    }

    msg->pull = data;
    msg->type = NGX_HTTP_BAR_HLS_MSG_EVENT;
    msg->event = *ev;

    ngx_http_bar_hls_enqueue(msg);
}


/* runs in the pull thread; text is already redacted */

void
ngx_http_bar_hls_on_log(void *data, int level, const char *text)
{
    ngx_http_bar_hls_msg_t  *msg;

    msg = malloc(sizeof(ngx_http_bar_hls_msg_t));
    if (msg == NULL) {
        return;
    }

    msg->pull = data;
    msg->type = NGX_HTTP_BAR_HLS_MSG_LOG;
    msg->level = level;
    ngx_cpystrn((u_char *) msg->text, (u_char *) text, sizeof(msg->text));

    ngx_http_bar_hls_enqueue(msg);
}


/* runs in the snapshot thread */

static void
ngx_http_bar_hls_on_snapshot(void *data, bh_snapshot_t *snap)
{
    ngx_http_bar_hls_msg_t  *msg;

    msg = malloc(sizeof(ngx_http_bar_hls_msg_t));
    if (msg == NULL) {
        bh_snapshot_free(snap);
        return;
    }

    msg->pull = data;
    msg->type = NGX_HTTP_BAR_HLS_MSG_SNAPSHOT;
    msg->snapshot = *snap;

    ngx_http_bar_hls_enqueue(msg);
}


/*
 * A part that starts with a keyframe, while requests want snapshots: the
 * snapshot thread, started now if it was not, may take a copy of it.
 */

static void
ngx_http_bar_hls_snapshot_offer(ngx_http_bar_hls_pull_t *pull,
    bh_chunk_t *chunk, unsigned wanted)
{
    if (pull->snapper == NULL) {
        pull->snapper = bh_snapper_create(NGX_HTTP_BAR_HLS_SNAPSHOT_EVERY,
                                          ngx_http_bar_hls_on_snapshot,
                                          pull);
        if (pull->snapper == NULL) {
            return;
        }
    }

    bh_snapper_offer(pull->snapper, wanted, pull->init.data, pull->init.size,
                     chunk->data, chunk->size, chunk->wallclock);
}


void
ngx_http_bar_hls_drain(void)
{
    int64_t                     bytes;
    unsigned                    wanted;
    ngx_uint_t                  level;
    ngx_http_bar_hls_msg_t     *msg, *next;
    ngx_http_bar_hls_pull_t    *pull;
    ngx_http_bar_hls_worker_t  *w;

    w = &ngx_http_bar_hls_worker;

    pthread_mutex_lock(&w->mutex);
    msg = w->head;
    w->head = NULL;
    w->tail = &w->head;
    pthread_mutex_unlock(&w->mutex);

    for ( /* void */ ; msg != NULL; msg = next) {
        next = msg->next;
        pull = msg->pull;

        switch (msg->type) {

        case NGX_HTTP_BAR_HLS_MSG_CHUNK:
            bytes = msg->chunk.bytes_in;
            msg->chunk.bytes_in -= pull->bytes_in;
            pull->bytes_in = bytes;

            (void) ngx_http_bar_hls_publish(w->bmcf, pull->cam, pull->epoch,
                                            &msg->chunk,
                                            pull->init.data != NULL
                                            ? &pull->init : NULL,
                                            &wanted, ngx_cycle->log);

            if (wanted) {
                ngx_http_bar_hls_snapshot_offer(pull, &msg->chunk, wanted);
            }

            if (msg->chunk.type == BH_CHUNK_INIT) {

                /* kept: stored again if the zone had no room for it */

                free(pull->init.data);
                pull->init = msg->chunk;
                pull->init.bytes_in = 0;

            } else {
                free(msg->chunk.data);
            }

            break;

        case NGX_HTTP_BAR_HLS_MSG_EVENT:
            ngx_http_bar_hls_event(pull, &msg->event);
            break;

        case NGX_HTTP_BAR_HLS_MSG_SNAPSHOT:
            ngx_http_bar_hls_snapshot_store(w->bmcf, pull->cam, pull->epoch,
                                            &msg->snapshot);
            bh_snapshot_free(&msg->snapshot);
            break;

        case NGX_HTTP_BAR_HLS_MSG_LOG:

            /*
             * While the camera streams, libav's warnings matter; while it
             * is down they repeat on every retry and the state change
             * line says it all.
             */

            if (pull->state != BH_STATE_STREAMING) {
                level = NGX_LOG_INFO;

            } else {
                level = (msg->level <= AV_LOG_ERROR) ? NGX_LOG_ERR
                                                     : NGX_LOG_WARN;
            }

            ngx_log_error(level, ngx_cycle->log, 0,
                          "bar_hls: camera \"%V\": %s",
                          &pull->cam->name, msg->text);
            break;
        }

        free(msg);
    }
}


static void
ngx_http_bar_hls_event(ngx_http_bar_hls_pull_t *pull, bh_event_t *ev)
{
    ngx_uint_t                  level;
    bh_state_t                  prev;
    ngx_http_bar_hls_camera_t  *cam;

    cam = pull->cam;

    ngx_http_bar_hls_set_state(ngx_http_bar_hls_worker.bmcf, cam,
                               pull->epoch, ev);

    /* one line per change of state, not one per retry */

    if (ev->state == BH_STATE_CONNECTING
        || (ev->state == pull->state && ev->status == pull->status))
    {
        return;
    }

    prev = pull->state;
    pull->state = ev->state;
    pull->status = ev->status;

    if (ev->state == BH_STATE_STREAMING) {
        level = (prev == BH_STATE_LIMITED) ? NGX_LOG_INFO : NGX_LOG_NOTICE;

        ngx_log_error(level, ngx_cycle->log, 0,
                      "bar_hls: camera \"%V\": streaming %s",
                      &cam->name, ev->message);
        return;
    }

    if (ev->state == BH_STATE_LIMITED) {

        /* a camera that keeps overflowing: one line per episode */

        if (ngx_time() - pull->limited < NGX_HTTP_BAR_HLS_FULL_QUIET) {
            return;
        }

        pull->limited = ngx_time();

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "bar_hls: camera \"%V\": %s: %s; media dropped until "
                      "the next keyframe", &cam->name,
                      bh_status_text(ev->status), ev->message);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "bar_hls: camera \"%V\": %s: %s, retrying in %Mms",
                  &cam->name, bh_status_text(ev->status), ev->message,
                  (ngx_msec_t) (ev->retry_in / 1000));
}
