
/*
 * ngx_bar_hls_module: RTSP pull threads, started and stopped.
 *
 * Camera i belongs to worker i % worker_processes.  The owner takes the
 * camera's lease in the shared zone, then runs the media core's pull loop
 * (core/bh_pull.c) in a pthread of its own.  That thread touches no nginx
 * structure: what it produces goes to the event loop through the queue
 * in ngx_http_bar_hls_queue.c, and a byte on a pipe wakes the event loop
 * here, which drains the queue and joins the threads that ended.
 * A 200 ms timer renews the leases, starts pulls whose lease became free,
 * and stops them as soon as the worker starts shutting down.
 */


#include "ngx_http_bar_hls.h"
#include "ngx_http_bar_hls_pull.h"

#include <libavutil/log.h>


#define NGX_HTTP_BAR_HLS_TICK       200


static void ngx_http_bar_hls_cycle_cleanup(void *data);
static void ngx_http_bar_hls_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_bar_hls_start(ngx_http_bar_hls_pull_t *pull,
    bh_stream_conf_t *sc, ngx_log_t *log);
static void ngx_http_bar_hls_reap(ngx_http_bar_hls_pull_t *pull,
    ngx_uint_t wait);
static void *ngx_http_bar_hls_thread(void *data);
static void ngx_http_bar_hls_wakeup_handler(ngx_event_t *ev);


ngx_http_bar_hls_worker_t  ngx_http_bar_hls_worker;


ngx_int_t
ngx_http_bar_hls_init_pulls(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i, n, nworkers;
    ngx_core_conf_t               *ccf;
    ngx_connection_t              *c;
    ngx_pool_cleanup_t            *cln;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_worker_t     *w;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    w = &ngx_http_bar_hls_worker;

    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_bar_hls_module);

    if (bmcf == NULL || bmcf->cameras.nelts == 0) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    nworkers = (ngx_process == NGX_PROCESS_SINGLE) ? 1
                                                   : ccf->worker_processes;

    ngx_memzero(w, sizeof(ngx_http_bar_hls_worker_t));
    w->bmcf = bmcf;
    w->tail = &w->head;
    w->pipe[0] = -1;
    w->pipe[1] = -1;

    w->pulls = ngx_pcalloc(cycle->pool, bmcf->cameras.nelts
                                        * sizeof(ngx_http_bar_hls_pull_t));
    if (w->pulls == NULL) {
        return NGX_ERROR;
    }

    cam = bmcf->cameras.elts;
    n = 0;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        if (cam[i].index % nworkers != (ngx_process == NGX_PROCESS_SINGLE
                                        ? 0 : ngx_worker))
        {
            continue;
        }

        w->pulls[n].cam = &cam[i];
        cam[i].pull = &w->pulls[n];
        n++;
    }

    w->npulls = n;

    if (n == 0) {
        return NGX_OK;
    }

    /*
     * With master_process off, a reload frees this configuration while
     * the process lives on: the threads must not outlive it.
     */

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_bar_hls_cycle_cleanup;
    cln->data = cycle;

    if (pthread_mutex_init(&w->mutex, NULL) != 0) {
        return NGX_ERROR;
    }

    if (pipe2(w->pipe, O_NONBLOCK|O_CLOEXEC) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "bar_hls: pipe2() failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(w->pipe[0], cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    w->conn = c;
    c->read->handler = ngx_http_bar_hls_wakeup_handler;
    c->read->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    bh_log_init(AV_LOG_WARNING);

    w->timer.handler = ngx_http_bar_hls_tick;
    w->timer.log = cycle->log;
    w->timer.data = w;
    w->timer.cancelable = 1;

    /* the lease compares our clock with other workers': no stale time */

    ngx_time_update();

    ngx_http_bar_hls_tick(&w->timer);

    return NGX_OK;
}


void
ngx_http_bar_hls_exit_pulls(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_http_bar_hls_worker_t  *w;

    w = &ngx_http_bar_hls_worker;

    if (w->npulls == 0) {
        return;
    }

    w->exiting = 1;

    for (i = 0; i < w->npulls; i++) {
        if (w->pulls[i].running) {
            bh_pull_stop(w->pulls[i].core);
        }
    }

    for (i = 0; i < w->npulls; i++) {
        ngx_http_bar_hls_reap(&w->pulls[i], 1);
    }

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (w->conn != NULL) {
        if (cycle == ngx_cycle) {
            ngx_close_connection(w->conn);

        } else {

            /* an old cycle: its connections are not the free list's */

            (void) close(w->conn->fd);
        }

        w->conn = NULL;
    }

    if (w->pipe[1] != -1) {
        close(w->pipe[1]);
        w->pipe[1] = -1;
    }

    w->npulls = 0;
}


static void
ngx_http_bar_hls_cycle_cleanup(void *data)
{
    ngx_http_bar_hls_exit_pulls(data);
}


static void
ngx_http_bar_hls_tick(ngx_event_t *ev)
{
    ngx_http_bar_hls_worker_t *w = ev->data;

    ngx_uint_t                i, active;
    bh_stream_conf_t          sc;
    ngx_http_bar_hls_pull_t  *pull;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        w->exiting = 1;
    }

    active = 0;

    for (i = 0; i < w->npulls; i++) {
        pull = &w->pulls[i];

        if (pull->running) {
            if (!pull->stopping
                && (w->exiting
                    || ngx_http_bar_hls_heartbeat(w->bmcf, pull->cam,
                                                  pull->epoch)
                       != NGX_OK))
            {
                pull->stopping = 1;
                bh_pull_stop(pull->core);
            }

            ngx_http_bar_hls_reap(pull, 0);
        }

        if (!pull->running && !w->exiting
            && ngx_http_bar_hls_acquire(w->bmcf, pull->cam, &pull->epoch,
                                        &sc, ev->log)
               == NGX_OK)
        {
            if (ngx_http_bar_hls_start(pull, &sc, ev->log) != NGX_OK) {
                ngx_http_bar_hls_release(w->bmcf, pull->cam, pull->epoch);
            }
        }

        active |= pull->running;
    }

    if (!w->exiting || active) {
        ngx_add_timer(ev, NGX_HTTP_BAR_HLS_TICK);
    }
}


static ngx_int_t
ngx_http_bar_hls_start(ngx_http_bar_hls_pull_t *pull, bh_stream_conf_t *sc,
    ngx_log_t *log)
{
    int                         err;
    sigset_t                    all, old;
    bh_pull_conf_t              conf;
    ngx_http_bar_hls_camera_t  *cam;

    cam = pull->cam;

    ngx_memzero(&conf, sizeof(bh_pull_conf_t));

    conf.url = (char *) cam->url.data;
    conf.tcp = cam->tcp;
    conf.audio = cam->audio;
    conf.timeout = (int64_t) cam->timeout * 1000;
    conf.backoff_min = BH_USEC / 2;
    conf.backoff_max = 30 * BH_USEC;
    conf.segmenter.format = sc->format;
    conf.segmenter.segment = sc->target;
    conf.segmenter.part = sc->part;
    conf.segmenter.max_bitrate = cam->max_bitrate;
    conf.on_chunk = ngx_http_bar_hls_on_chunk;
    conf.on_event = ngx_http_bar_hls_on_event;
    conf.on_log = ngx_http_bar_hls_on_log;
    conf.data = pull;

    pull->core = bh_pull_create(&conf);
    if (pull->core == NULL) {
        return NGX_ERROR;
    }

    pull->done = 0;
    pull->stopping = 0;
    pull->bytes_in = 0;

    /* the thread must not take nginx's signals */

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);

    err = pthread_create(&pull->tid, NULL, ngx_http_bar_hls_thread, pull);

    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (err != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, err,
                      "bar_hls: camera \"%V\": pthread_create() failed",
                      &cam->name);
        bh_pull_destroy(pull->core);
        pull->core = NULL;
        return NGX_ERROR;
    }

    pull->running = 1;

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "bar_hls: camera \"%V\": pulling %V", &cam->name,
                  &cam->safe_url);

    return NGX_OK;
}


/* joins a finished (or, with wait, a stopped) thread and releases the lease */

static void
ngx_http_bar_hls_reap(ngx_http_bar_hls_pull_t *pull, ngx_uint_t wait)
{
    if (!pull->running) {
        return;
    }

    if (!wait && !__atomic_load_n(&pull->done, __ATOMIC_ACQUIRE)) {
        return;
    }

    pthread_join(pull->tid, NULL);

    bh_snapper_destroy(pull->snapper);
    pull->snapper = NULL;

    /* what the threads left in the queue still belongs to its epoch */

    ngx_http_bar_hls_drain();

    ngx_http_bar_hls_release(ngx_http_bar_hls_worker.bmcf, pull->cam,
                             pull->epoch);

    bh_pull_destroy(pull->core);
    pull->core = NULL;
    pull->running = 0;
    pull->stopping = 0;

    free(pull->init.data);
    ngx_memzero(&pull->init, sizeof(bh_chunk_t));
}


static void *
ngx_http_bar_hls_thread(void *data)
{
    ngx_http_bar_hls_pull_t  *pull = data;

    bh_pull_run(pull->core);

    __atomic_store_n(&pull->done, 1, __ATOMIC_RELEASE);

    ngx_http_bar_hls_notify();

    return NULL;
}


static void
ngx_http_bar_hls_wakeup_handler(ngx_event_t *ev)
{
    u_char             buf[64];
    ssize_t            n;
    ngx_uint_t         i;
    ngx_connection_t  *c;

    c = ev->data;

    do {
        n = read(c->fd, buf, sizeof(buf));
    } while (n > 0);

    ngx_http_bar_hls_drain();

    /* a thread that ended is joined now, not at the next tick */

    for (i = 0; i < ngx_http_bar_hls_worker.npulls; i++) {
        ngx_http_bar_hls_reap(&ngx_http_bar_hls_worker.pulls[i], 0);
    }

    if (ngx_handle_read_event(ev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "bar_hls: cannot watch the wakeup pipe");
    }
}
