
/*
 * ngx_bar_hls_module: requests that wait for a camera's next part.
 *
 * Blocking playlist reloads and preload-hinted parts wait in a per-camera
 * queue of the worker that took them, at no cost while they wait.  When
 * the owner of a camera publishes, it wakes its own waiters at once and
 * the other workers' with a datagram: each worker binds a Unix datagram
 * socket in the abstract namespace, named by its pid, and writes its pid
 * into the camera's slot while it holds requests for it (under the zone
 * mutex, with the readiness check, so that no publish is missed).  A
 * woken worker checks its waiters of every camera whose version moved
 * since it last looked; only waking moves that mark, so a request that
 * is answered at once never hides a change from the waiters.  A slow
 * timer catches what a datagram could not say (a full table, no socket).
 */


#include "ngx_http_bar_hls.h"

#include <sys/socket.h>
#include <sys/un.h>


#define NGX_HTTP_BAR_HLS_POLL       10      /* msec, without a socket */
#define NGX_HTTP_BAR_HLS_SAFETY     100     /* msec, with one */
#define NGX_HTTP_BAR_HLS_SOCKET     "ngx_bar_hls/"


typedef struct {
    ngx_http_request_t         *request;
    ngx_http_bar_hls_main_conf_t  *bmcf;
    ngx_http_bar_hls_camera_t  *cam;
    bh_uri_t                    uri;
    bh_query_t                  query;
    ngx_queue_t                 queue;
    ngx_event_t                 timeout;
} ngx_http_bar_hls_wait_t;


static void ngx_http_bar_hls_address(struct sockaddr_un *sun,
    socklen_t *len, ngx_pid_t pid);
static void ngx_http_bar_hls_register(ngx_http_bar_hls_camera_t *cam);
static void ngx_http_bar_hls_unregister(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam);
static void ngx_http_bar_hls_notify(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam);
static void ngx_http_bar_hls_wake(ngx_http_bar_hls_camera_t *cam);
static void ngx_http_bar_hls_wake_all(void);
static void ngx_http_bar_hls_wait_done(ngx_http_bar_hls_wait_t *w,
    ngx_int_t rc);
static void ngx_http_bar_hls_wait_timeout(ngx_event_t *ev);
static void ngx_http_bar_hls_wait_cleanup(void *data);
static void ngx_http_bar_hls_wait_unqueue(ngx_http_bar_hls_wait_t *w);
static void ngx_http_bar_hls_poll(ngx_event_t *ev);
static void ngx_http_bar_hls_datagram(ngx_event_t *ev);
static void ngx_http_bar_hls_arm(void);


static ngx_connection_t  *ngx_http_bar_hls_socket;
static ngx_event_t        ngx_http_bar_hls_poll_event;
static ngx_uint_t         ngx_http_bar_hls_nwaiting;
static ngx_uint_t         ngx_http_bar_hls_npolled;    /* unregistered */


ngx_int_t
ngx_http_bar_hls_init_wait(ngx_cycle_t *cycle)
{
    int                  fd;
    socklen_t            len;
    ngx_connection_t    *c;
    struct sockaddr_un   sun;

    ngx_http_bar_hls_socket = NULL;
    ngx_http_bar_hls_nwaiting = 0;
    ngx_http_bar_hls_npolled = 0;

    fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_INFO, cycle->log, ngx_socket_errno,
                      "bar_hls: socket() failed, waiting requests are "
                      "polled");
        return NGX_OK;
    }

    ngx_http_bar_hls_address(&sun, &len, ngx_pid);

    if (bind(fd, (struct sockaddr *) &sun, len) == -1) {
        ngx_log_error(NGX_LOG_INFO, cycle->log, ngx_socket_errno,
                      "bar_hls: bind() failed, waiting requests are polled");
        (void) close(fd);
        return NGX_OK;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        (void) close(fd);
        return NGX_OK;
    }

    c->read->handler = ngx_http_bar_hls_datagram;
    c->read->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_OK;
    }

    ngx_http_bar_hls_socket = c;

    return NGX_OK;
}


void
ngx_http_bar_hls_exit_wait(ngx_cycle_t *cycle)
{
    if (ngx_http_bar_hls_socket != NULL) {
        ngx_close_connection(ngx_http_bar_hls_socket);
        ngx_http_bar_hls_socket = NULL;
    }
}


static void
ngx_http_bar_hls_address(struct sockaddr_un *sun, socklen_t *len,
    ngx_pid_t pid)
{
    u_char  *p;

    ngx_memzero(sun, sizeof(struct sockaddr_un));
    sun->sun_family = AF_UNIX;

    /* sun_path[0] == '\0': the abstract namespace, no file */

    p = ngx_sprintf((u_char *) sun->sun_path + 1,
                    NGX_HTTP_BAR_HLS_SOCKET "%P", pid);

    *len = offsetof(struct sockaddr_un, sun_path)
           + (p - (u_char *) sun->sun_path);
}


/*
 * Holds a request the stream cannot answer yet.  Only blocking reloads
 * and the preload-hinted part wait; the rest get a 503.
 */

ngx_int_t
ngx_http_bar_hls_hold(ngx_http_request_t *r, ngx_http_bar_hls_camera_t *cam,
    bh_uri_t *u, bh_query_t *q)
{
    uint64_t                       version;
    bh_status_t                    st;
    ngx_pool_cleanup_t            *cln;
    ngx_http_bar_hls_wait_t       *w;
    ngx_http_bar_hls_loc_conf_t   *blcf;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    if (u->type != BH_URI_PART && !q->has_msn) {
        return ngx_http_bar_hls_unavailable(r, "the camera has no media yet");
    }

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);

    w = ngx_pcalloc(r->pool, sizeof(ngx_http_bar_hls_wait_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* checked again with the registration: no publish in between is lost */

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    st = bh_stream_ready(&cam->slot->stream, u, q);
    version = cam->slot->stream.version;

    if (st == BH_AGAIN && !cam->registered) {
        ngx_http_bar_hls_register(cam);
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    if (st != BH_AGAIN) {
        return ngx_http_bar_hls_respond(r, cam, u, q);
    }

    w->request = r;
    w->bmcf = bmcf;
    w->cam = cam;
    w->uri = *u;
    w->query = *q;

    w->timeout.handler = ngx_http_bar_hls_wait_timeout;
    w->timeout.data = w;
    w->timeout.log = r->connection->log;

    ngx_add_timer(&w->timeout, blcf->block_timeout);

    /* what it was checked against: any change after it wakes it */

    if (ngx_queue_empty(&cam->waiters)) {
        cam->checked = version;
    }

    ngx_queue_insert_tail(&cam->waiters, &w->queue);
    ngx_http_bar_hls_nwaiting++;

    if (cam->registered != 1) {
        ngx_http_bar_hls_npolled++;
    }

    cln->handler = ngx_http_bar_hls_wait_cleanup;
    cln->data = w;

    ngx_http_bar_hls_arm();

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "bar_hls: camera \"%V\": request held (%ui waiting, "
                   "registered %ui)", &cam->name, ngx_http_bar_hls_nwaiting,
                   cam->registered);

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/* called with the zone locked: 1 in the table, 2 if it is full */

static void
ngx_http_bar_hls_register(ngx_http_bar_hls_camera_t *cam)
{
    ngx_uint_t  i, free;
    ngx_pid_t  *waiting;

    waiting = cam->slot->waiting;
    free = NGX_HTTP_BAR_HLS_MAX_WAITING;

    for (i = 0; i < NGX_HTTP_BAR_HLS_MAX_WAITING; i++) {
        if (waiting[i] == ngx_pid) {
            cam->registered = 1;
            return;
        }

        if (waiting[i] == 0 && free == NGX_HTTP_BAR_HLS_MAX_WAITING) {
            free = i;
        }
    }

    if (free == NGX_HTTP_BAR_HLS_MAX_WAITING
        || ngx_http_bar_hls_socket == NULL)
    {
        cam->registered = 2;
        return;
    }

    waiting[free] = ngx_pid;
    cam->registered = 1;
}


static void
ngx_http_bar_hls_unregister(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam)
{
    ngx_uint_t  i;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    for (i = 0; i < NGX_HTTP_BAR_HLS_MAX_WAITING; i++) {
        if (cam->slot->waiting[i] == ngx_pid) {
            cam->slot->waiting[i] = 0;
        }
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    cam->registered = 0;
}


/*
 * The owner changed the camera's stream: the other workers' waiters get a
 * datagram first, so that they do not wait for ours, then ours are served.
 */

void
ngx_http_bar_hls_changed(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam)
{
    if (ngx_http_bar_hls_socket != NULL) {
        ngx_http_bar_hls_notify(bmcf, cam);
    }

    ngx_http_bar_hls_wake(cam);
}


static void
ngx_http_bar_hls_notify(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam)
{
    socklen_t            len;
    ngx_err_t            err;
    ngx_uint_t           i, n, gone;
    ngx_pid_t            pids[NGX_HTTP_BAR_HLS_MAX_WAITING];
    struct sockaddr_un   sun;

    n = 0;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    for (i = 0; i < NGX_HTTP_BAR_HLS_MAX_WAITING; i++) {
        if (cam->slot->waiting[i] != 0 && cam->slot->waiting[i] != ngx_pid) {
            pids[n++] = cam->slot->waiting[i];
        }
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    gone = 0;

    for (i = 0; i < n; i++) {
        ngx_http_bar_hls_address(&sun, &len, pids[i]);

        if (sendto(ngx_http_bar_hls_socket->fd, "", 1, MSG_DONTWAIT,
                   (struct sockaddr *) &sun, len)
            != -1)
        {
            continue;
        }

        err = ngx_socket_errno;

        /* EAGAIN: a wake-up is queued already; else the worker is gone */

        if (err != NGX_EAGAIN) {
            pids[gone++] = pids[i];
        }
    }

    if (gone == 0) {
        return;
    }

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    for (i = 0; i < NGX_HTTP_BAR_HLS_MAX_WAITING; i++) {
        for (n = 0; n < gone; n++) {
            if (cam->slot->waiting[i] == pids[n]) {
                cam->slot->waiting[i] = 0;
            }
        }
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);
}


/* serves the waiters of a camera whose stream changed since they looked */

static void
ngx_http_bar_hls_wake(ngx_http_bar_hls_camera_t *cam)
{
    uint64_t                  version;
    ngx_int_t                 rc;
    ngx_queue_t              *q, *next;
    ngx_http_bar_hls_wait_t  *w;

    if (cam->waiters.next == NULL || ngx_queue_empty(&cam->waiters)) {
        return;
    }

    /* an aligned 64-bit load: a torn read only means a spare check */

    version = *(volatile uint64_t *) &cam->slot->stream.version;

    if (version == cam->checked) {
        return;
    }

    cam->checked = version;

    for (q = ngx_queue_head(&cam->waiters);
         q != ngx_queue_sentinel(&cam->waiters);
         q = next)
    {
        next = ngx_queue_next(q);
        w = ngx_queue_data(q, ngx_http_bar_hls_wait_t, queue);

        rc = ngx_http_bar_hls_respond(w->request, cam, &w->uri, &w->query);

        if (rc != NGX_AGAIN) {
            ngx_http_bar_hls_wait_done(w, rc);
        }
    }
}


static void
ngx_http_bar_hls_wake_all(void)
{
    ngx_uint_t                     i;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_bar_hls_module);
    if (bmcf == NULL) {
        return;
    }

    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        ngx_http_bar_hls_wake(&cam[i]);
    }
}


static void
ngx_http_bar_hls_wait_done(ngx_http_bar_hls_wait_t *w, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = w->request;
    c = r->connection;

    ngx_http_bar_hls_wait_unqueue(w);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_bar_hls_wait_timeout(ngx_event_t *ev)
{
    ngx_http_bar_hls_wait_t  *w = ev->data;

    ngx_int_t  rc;

    ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                  "bar_hls: camera \"%V\": no new media in time for a "
                  "waiting request", &w->cam->name);

    rc = ngx_http_bar_hls_unavailable(w->request,
                                      "the camera sends no new media");

    ngx_http_bar_hls_wait_done(w, rc);
}


/* the client went away while waiting */

static void
ngx_http_bar_hls_wait_cleanup(void *data)
{
    ngx_http_bar_hls_wait_t  *w = data;

    ngx_http_bar_hls_wait_unqueue(w);
}


static void
ngx_http_bar_hls_wait_unqueue(ngx_http_bar_hls_wait_t *w)
{
    ngx_http_bar_hls_camera_t  *cam;

    if (w->timeout.timer_set) {
        ngx_del_timer(&w->timeout);
    }

    if (w->queue.next == NULL) {
        return;
    }

    cam = w->cam;

    ngx_queue_remove(&w->queue);
    w->queue.next = NULL;
    ngx_http_bar_hls_nwaiting--;

    if (cam->registered != 1) {
        ngx_http_bar_hls_npolled--;
    }

    if (ngx_queue_empty(&cam->waiters) && cam->registered) {
        ngx_http_bar_hls_unregister(w->bmcf, cam);
    }
}


static void
ngx_http_bar_hls_datagram(ngx_event_t *ev)
{
    u_char             buf[16];
    ngx_connection_t  *c;

    c = ev->data;

    while (recv(c->fd, buf, sizeof(buf), 0) > 0) {
        /* void */
    }

    ngx_http_bar_hls_wake_all();

    if (ngx_handle_read_event(ev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "bar_hls: cannot watch the wake-up socket");
    }
}


static void
ngx_http_bar_hls_poll(ngx_event_t *ev)
{
    ngx_http_bar_hls_wake_all();

    ngx_http_bar_hls_arm();
}


static void
ngx_http_bar_hls_arm(void)
{
    ngx_msec_t  t;

    if (ngx_http_bar_hls_nwaiting == 0) {
        return;
    }

    t = (ngx_http_bar_hls_npolled || ngx_http_bar_hls_socket == NULL)
        ? NGX_HTTP_BAR_HLS_POLL : NGX_HTTP_BAR_HLS_SAFETY;

    if (ngx_http_bar_hls_poll_event.timer_set) {
        if (ngx_http_bar_hls_poll_event.timer.key
            <= ngx_current_msec + t)
        {
            return;
        }

        ngx_del_timer(&ngx_http_bar_hls_poll_event);
    }

    ngx_http_bar_hls_poll_event.handler = ngx_http_bar_hls_poll;
    ngx_http_bar_hls_poll_event.log = ngx_cycle->log;
    ngx_http_bar_hls_poll_event.cancelable = 1;

    ngx_add_timer(&ngx_http_bar_hls_poll_event, t);
}
