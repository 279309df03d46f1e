
/*
 * ngx_bar_hls_module: types shared by the nginx glue files.
 */


#ifndef _NGX_HTTP_BAR_HLS_H_INCLUDED_
#define _NGX_HTTP_BAR_HLS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "bh_media.h"
#include "bh_page.h"
#include "bh_snapshot.h"
#include "bh_store.h"


#define NGX_HTTP_BAR_HLS_MAX_CAMERAS    BH_MAX_STREAMS
#define NGX_HTTP_BAR_HLS_MAX_WINDOW     BH_MAX_WINDOW
#define NGX_HTTP_BAR_HLS_ERR_LEN        256
#define NGX_HTTP_BAR_HLS_MAX_WAITING    64      /* workers, per camera */

/* max_bitrate: the default, at least 4 x bitrate, and the most allowed */
#define NGX_HTTP_BAR_HLS_MAX_BITRATE        (20 * 1024 * 1024)
#define NGX_HTTP_BAR_HLS_MAX_BITRATE_LIMIT  ((size_t) 1024 * 1024 * 1024)

#define NGX_HTTP_BAR_HLS_FULL_QUIET      30      /* sec, zone full episode */
#define NGX_HTTP_BAR_HLS_LEASE           3000    /* msec without heartbeat */
#define NGX_HTTP_BAR_HLS_GRACE           250     /* msec between owners */
#define NGX_HTTP_BAR_HLS_MAX_PART        (16 * 1024 * 1024)

#define NGX_HTTP_BAR_HLS_METHODS         "GET, HEAD, OPTIONS"


/* what a request asked for, as the metrics count it */

typedef enum {
    NGX_HTTP_BAR_HLS_KIND_PLAYLIST = 0,
    NGX_HTTP_BAR_HLS_KIND_MULTIVARIANT,
    NGX_HTTP_BAR_HLS_KIND_INIT,
    NGX_HTTP_BAR_HLS_KIND_SEGMENT,
    NGX_HTTP_BAR_HLS_KIND_PART,
    NGX_HTTP_BAR_HLS_KIND_SNAPSHOT,
    NGX_HTTP_BAR_HLS_KIND_PAGE,
    NGX_HTTP_BAR_HLS_KINDS
} ngx_http_bar_hls_kind_e;

/* requests of no camera: the overview page; unknown names, preflights */

typedef enum {
    NGX_HTTP_BAR_HLS_OTHER_OVERVIEW = 0,
    NGX_HTTP_BAR_HLS_OTHER_OTHER,
    NGX_HTTP_BAR_HLS_OTHERS
} ngx_http_bar_hls_other_e;

#define NGX_HTTP_BAR_HLS_CODES          5       /* 1xx to 5xx */


/* what the log phase counts: requests, and the body bytes sent */

typedef struct {
    ngx_atomic_t                requests[NGX_HTTP_BAR_HLS_CODES];
    ngx_atomic_t                bytes[NGX_HTTP_BAR_HLS_CODES];
} ngx_http_bar_hls_counter_t;


typedef struct ngx_http_bar_hls_pull_s  ngx_http_bar_hls_pull_t;


/*
 * A camera in the shared zone: its media (the core's store), who pulls
 * it, and its state for the status page.
 */

typedef struct {
    bh_stream_t                 stream;         /* first: see slot_of() */

    /* ownership: one RTSP session per camera for the whole nginx */
    ngx_pid_t                   owner;
    uint64_t                    epoch;
    ngx_msec_t                  heartbeat;      /* wall clock, msec */
    uint64_t                    generation;     /* last listed in */

    /* status */
    bh_state_t                  state;
    u_char                      last_error[NGX_HTTP_BAR_HLS_ERR_LEN];
    uint64_t                    reconnects;
    uint64_t                    bytes_in;
    time_t                      since;          /* state entered */
    time_t                      offline_since;  /* last streaming */
    time_t                      refused;        /* a part, logged then */
    unsigned                    limited:1;      /* by the zone's bound */

    /* workers holding requests for it: woken as it changes */
    ngx_pid_t                   waiting[NGX_HTTP_BAR_HLS_MAX_WAITING];

    /* metrics, summed over the workers */
    ngx_http_bar_hls_counter_t  served[NGX_HTTP_BAR_HLS_KINDS];
    uint32_t                    held[NGX_MAX_PROCESSES];    /* by slot */
} ngx_http_bar_hls_slot_t;


typedef struct {
    ngx_pid_t                   pid;
    uint64_t                    generation;     /* of its configuration */
} ngx_http_bar_hls_worker_entry_t;


typedef struct {
    bh_store_t                  store;
    uint64_t                    generation;     /* the newest config's */
    ngx_uint_t                  loading;        /* a reload is under way */
    ngx_http_bar_hls_worker_entry_t  workers[NGX_MAX_PROCESSES];
    ngx_http_bar_hls_counter_t  others[NGX_HTTP_BAR_HLS_OTHERS];
} ngx_http_bar_hls_shctx_t;


/* a request's module context: what the log phase counts it as */

typedef struct {
    ngx_http_bar_hls_slot_t    *slot;           /* NULL: no camera */
    ngx_uint_t                  kind;           /* kind_e, or other_e */
} ngx_http_bar_hls_ctx_t;


#define ngx_http_bar_hls_slot_of(s)  ((ngx_http_bar_hls_slot_t *) (s))


/* configuration */

typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   url;            /* secret: never log it */
    ngx_str_t                   safe_url;       /* userinfo redacted */
    ngx_uint_t                  index;
    ngx_msec_t                  segment;
    ngx_msec_t                  part;           /* 0: off */
    ngx_msec_t                  timeout;
    ngx_uint_t                  window;
    ngx_flag_t                  tcp;
    bh_audio_mode_t             audio;
    bh_format_t                 format;
    size_t                      bitrate;        /* bits/s, for sizing */
    size_t                      max_bitrate;    /* bits/s, a bound */

    ngx_http_bar_hls_slot_t    *slot;
    ngx_http_bar_hls_pull_t    *pull;           /* owner worker only */

    /* this worker's requests waiting for the camera to change */
    ngx_queue_t                 waiters;
    uint64_t                    checked;        /* version they saw */
    ngx_uint_t                  registered;     /* in slot->waiting */
    time_t                      snapshot_full;  /* said so, owner only */
} ngx_http_bar_hls_camera_t;


typedef struct {
    ngx_shm_zone_t             *shm_zone;
    ngx_slab_pool_t            *shpool;
    ngx_http_bar_hls_shctx_t   *sh;
    bh_alloc_t                  alloc;          /* the slab, locked */
    ngx_array_t                 cameras;        /* of camera_t */
    uint64_t                    generation;     /* this config's */
    ngx_uint_t                  loading;        /* set sh->loading */
} ngx_http_bar_hls_main_conf_t;


typedef struct {
    ngx_array_t                *allow_origin;   /* of ngx_str_t; NULL: off */
    ngx_msec_t                  playlist_max_age;   /* UNSET: half target */
    ngx_msec_t                  block_timeout;
    ngx_flag_t                  cdn_cache_control;
    ngx_flag_t                  page;           /* bar_hls_page */
    ngx_str_t                   page_title;
    ngx_str_t                   player_js;      /* bar_hls_player_js */
} ngx_http_bar_hls_loc_conf_t;


extern ngx_module_t  ngx_http_bar_hls_module;


/* ngx_http_bar_hls_camera.c */

char *ngx_http_bar_hls_camera(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* ngx_http_bar_hls_zone.c */

ngx_int_t ngx_http_bar_hls_init_zone(ngx_shm_zone_t *shm_zone, void *data);
ngx_int_t ngx_http_bar_hls_zone_commit(ngx_cycle_t *cycle);
void ngx_http_bar_hls_zone_cleanup(void *data);
size_t ngx_http_bar_hls_zone_estimate(ngx_http_bar_hls_camera_t *cam);
void ngx_http_bar_hls_stream_conf(ngx_http_bar_hls_camera_t *cam,
    bh_stream_conf_t *conf);
void ngx_http_bar_hls_collect(ngx_http_bar_hls_main_conf_t *bmcf);
void ngx_http_bar_hls_register_worker(ngx_http_bar_hls_main_conf_t *bmcf);
ngx_http_bar_hls_camera_t *ngx_http_bar_hls_find(
    ngx_http_bar_hls_main_conf_t *bmcf, u_char *name, size_t len);
ngx_msec_t ngx_http_bar_hls_now(void);
int64_t ngx_http_bar_hls_usec(void);


/* ngx_http_bar_hls_lease.c */

ngx_int_t ngx_http_bar_hls_alive(ngx_pid_t pid);
ngx_int_t ngx_http_bar_hls_acquire(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t *epoch, bh_stream_conf_t *sc,
    ngx_log_t *log);
ngx_int_t ngx_http_bar_hls_heartbeat(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch);
void ngx_http_bar_hls_release(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch);
ngx_int_t ngx_http_bar_hls_publish(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_chunk_t *chunk,
    bh_chunk_t *init, unsigned *wanted, ngx_log_t *log);
void ngx_http_bar_hls_set_state(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_event_t *ev);


/* ngx_http_bar_hls_pull.c */

ngx_int_t ngx_http_bar_hls_init_pulls(ngx_cycle_t *cycle);
void ngx_http_bar_hls_exit_pulls(ngx_cycle_t *cycle);


/* ngx_http_bar_hls_wait.c */

ngx_int_t ngx_http_bar_hls_init_wait(ngx_cycle_t *cycle);
void ngx_http_bar_hls_exit_wait(ngx_cycle_t *cycle);
ngx_int_t ngx_http_bar_hls_hold(ngx_http_request_t *r,
    ngx_http_bar_hls_camera_t *cam, bh_uri_t *u, bh_query_t *q);
void ngx_http_bar_hls_changed(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam);


/* ngx_http_bar_hls_handler.c */

ngx_int_t ngx_http_bar_hls_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_bar_hls_respond(ngx_http_request_t *r,
    ngx_http_bar_hls_camera_t *cam, bh_uri_t *u, bh_query_t *q);
ngx_int_t ngx_http_bar_hls_output(ngx_http_request_t *r, ngx_buf_t *b);
ngx_int_t ngx_http_bar_hls_header(ngx_http_request_t *r, char *key,
    u_char *value, size_t len);
ngx_int_t ngx_http_bar_hls_error(ngx_http_request_t *r, ngx_uint_t status,
    char *text);
ngx_int_t ngx_http_bar_hls_unavailable(ngx_http_request_t *r, char *text);
ngx_int_t ngx_http_bar_hls_cache_headers(ngx_http_request_t *r,
    int64_t max_age, ngx_uint_t immutable, char kind, uint32_t etag0,
    uint32_t etag1);


/* ngx_http_bar_hls_snapshot.c */

#define NGX_HTTP_BAR_HLS_SNAPSHOT_EVERY  (1 * BH_USEC)    /* at most */

void ngx_http_bar_hls_snapshot_store(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_snapshot_t *snap);
ngx_int_t ngx_http_bar_hls_snapshot_size(ngx_http_request_t *r,
    bh_uri_t *u);
ngx_int_t ngx_http_bar_hls_snapshot_headers(ngx_http_request_t *r,
    int64_t time, uint64_t generation);
ngx_uint_t ngx_http_bar_hls_snapshot_coming(ngx_http_bar_hls_camera_t *cam);


/* ngx_http_bar_hls_page.c */

ngx_int_t ngx_http_bar_hls_page(ngx_http_request_t *r, u_char *path,
    size_t len);
char *ngx_http_bar_hls_page_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* ngx_http_bar_hls_cors.c */

ngx_int_t ngx_http_bar_hls_cors(ngx_http_request_t *r);
ngx_int_t ngx_http_bar_hls_preflight(ngx_http_request_t *r);
char *ngx_http_bar_hls_allow_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* ngx_http_bar_hls_status.c */

ngx_int_t ngx_http_bar_hls_status_handler(ngx_http_request_t *r);


/* ngx_http_bar_hls_metrics.c */

ngx_int_t ngx_http_bar_hls_metrics_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_bar_hls_metrics_init(ngx_conf_t *cf);
ngx_int_t ngx_http_bar_hls_count(ngx_http_request_t *r,
    ngx_http_bar_hls_slot_t *slot, ngx_uint_t kind);
void ngx_http_bar_hls_held(ngx_http_bar_hls_camera_t *cam, ngx_int_t n);
void ngx_http_bar_hls_held_reset(ngx_http_bar_hls_main_conf_t *bmcf);


#endif /* _NGX_HTTP_BAR_HLS_H_INCLUDED_ */
