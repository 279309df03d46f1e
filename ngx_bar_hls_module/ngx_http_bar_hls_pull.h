
/*
 * ngx_bar_hls_module: the pull threads' state, shared by
 * ngx_http_bar_hls_pull.c (starting, stopping and reaping the threads)
 * and ngx_http_bar_hls_queue.c (their hand-off to the event loop).
 */


#ifndef _NGX_HTTP_BAR_HLS_PULL_H_INCLUDED_
#define _NGX_HTTP_BAR_HLS_PULL_H_INCLUDED_


#include <pthread.h>

#include "ngx_http_bar_hls.h"


typedef struct ngx_http_bar_hls_msg_s  ngx_http_bar_hls_msg_t;


struct ngx_http_bar_hls_pull_s {
    ngx_http_bar_hls_camera_t      *cam;
    bh_pull_t                      *core;
    bh_snapper_t                   *snapper;    /* once wanted */
    pthread_t                       tid;
    uint64_t                        epoch;
    int                             done;       /* atomic, set by thread */

    bh_chunk_t                      init;       /* the session's */
    bh_state_t                      state;      /* as last logged */
    bh_status_t                     status;
    int64_t                         bytes_in;   /* counted in the zone */
    time_t                          limited;    /* last logged so */

    unsigned                        running:1;
    unsigned                        stopping:1;
};


typedef struct {
    ngx_http_bar_hls_main_conf_t   *bmcf;
    ngx_http_bar_hls_pull_t        *pulls;
    ngx_uint_t                      npulls;

    pthread_mutex_t                 mutex;
    ngx_http_bar_hls_msg_t         *head;
    ngx_http_bar_hls_msg_t        **tail;

    int                             pipe[2];
    ngx_connection_t               *conn;
    ngx_event_t                     timer;

    unsigned                        exiting:1;
} ngx_http_bar_hls_worker_t;


extern ngx_http_bar_hls_worker_t  ngx_http_bar_hls_worker;


/* ngx_http_bar_hls_queue.c */

void ngx_http_bar_hls_notify(void);
void ngx_http_bar_hls_on_chunk(void *data, bh_chunk_t *chunk);
void ngx_http_bar_hls_on_event(void *data, bh_event_t *ev);
void ngx_http_bar_hls_on_log(void *data, int level, const char *msg);
void ngx_http_bar_hls_drain(void);


#endif /* _NGX_HTTP_BAR_HLS_PULL_H_INCLUDED_ */
