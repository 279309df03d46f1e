
/*
 * ngx_bar_hls_module: types shared by the nginx glue files.
 */


#ifndef _NGX_HTTP_BAR_HLS_H_INCLUDED_
#define _NGX_HTTP_BAR_HLS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "bh_media.h"


#define NGX_HTTP_BAR_HLS_MAX_CAMERAS    256
#define NGX_HTTP_BAR_HLS_MAX_WINDOW     64
#define NGX_HTTP_BAR_HLS_MAX_PARTS      BH_MAX_SEGMENT_PARTS
#define NGX_HTTP_BAR_HLS_MAX_INITS      4       /* listed at once */
#define NGX_HTTP_BAR_HLS_ERR_LEN        256

/* max_bitrate: the default, at least 4 x bitrate, and the most allowed */
#define NGX_HTTP_BAR_HLS_MAX_BITRATE        (20 * 1024 * 1024)
#define NGX_HTTP_BAR_HLS_MAX_BITRATE_LIMIT  ((size_t) 1024 * 1024 * 1024)


typedef struct ngx_http_bar_hls_pull_s  ngx_http_bar_hls_pull_t;


/* shared zone */

typedef struct {
    u_char                     *data;
    uint32_t                    size;
    uint32_t                    duration;       /* usec */
    unsigned                    independent:1;
} ngx_http_bar_hls_part_t;


typedef struct {
    uint64_t                    msn;
    uint64_t                    first_part;     /* absolute part number */
    int64_t                     wallclock;      /* usec since the epoch */
    int64_t                     duration;       /* usec */
    uint32_t                    nparts;
    uint32_t                    size;
    uint32_t                    init_id;
    unsigned                    discontinuity:1;
} ngx_http_bar_hls_segment_t;


typedef struct {
    u_char                     *data;
    size_t                      len;
    uint32_t                    etag;
} ngx_http_bar_hls_text_t;


typedef struct {
    u_char                     *data;           /* NULL: free entry */
    size_t                      size;
    uint32_t                    id;             /* crc32 of data */
    time_t                      time;
} ngx_http_bar_hls_init_t;


typedef struct {
    u_char                      name[65];
    size_t                      name_len;

    /* ownership: one RTSP session per camera for the whole nginx */
    ngx_pid_t                   owner;
    uint64_t                    epoch;
    ngx_msec_t                  heartbeat;      /* wall clock, msec */

    /* status */
    bh_state_t                  state;
    u_char                      last_error[NGX_HTTP_BAR_HLS_ERR_LEN];
    uint64_t                    reconnects;
    uint64_t                    bytes_in;
    u_char                      codecs[64];
    ngx_uint_t                  width;
    ngx_uint_t                  height;
    time_t                      since;          /* state entered */
    time_t                      full;           /* media last dropped */

    /* configuration of the media below */
    bh_format_t                 format;
    ngx_uint_t                  window;
    int64_t                     target;         /* usec */
    int64_t                     part_target;    /* usec, 0: no LL-HLS */

    /* media: the current init segment and those still referred to */
    ngx_http_bar_hls_init_t     inits[NGX_HTTP_BAR_HLS_MAX_INITS];
    uint32_t                    init_id;        /* the current one */

    ngx_uint_t                  nsegs;          /* ring capacity */
    ngx_uint_t                  nparts;
    ngx_http_bar_hls_segment_t *segs;
    ngx_http_bar_hls_part_t    *parts;

    uint64_t                    first_msn;      /* oldest kept */
    uint64_t                    next_msn;       /* the open segment */
    uint64_t                    next_part;
    uint64_t                    discontinuities;
    size_t                      bytes;          /* of the parts kept */
    unsigned                    open:1;         /* next_msn has parts */
    unsigned                    discontinuity:1;/* mark the next segment */
    unsigned                    has_init:1;     /* MPEG-TS: stream known */
    unsigned                    resync:1;       /* drop until a keyframe */
    unsigned                    retired:1;      /* camera unconfigured */

    ngx_http_bar_hls_text_t     playlist;
    ngx_http_bar_hls_text_t     delta;          /* _HLS_skip=YES */
    time_t                      updated;
    uint64_t                    version;        /* bumped on publish */
} ngx_http_bar_hls_slot_t;


typedef struct {
    ngx_uint_t                  nslots;
    ngx_http_bar_hls_slot_t    *slots[NGX_HTTP_BAR_HLS_MAX_CAMERAS];
} ngx_http_bar_hls_shctx_t;


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

    /* this worker's requests waiting for the camera's next part */
    ngx_queue_t                 waiters;
    uint64_t                    seen;           /* slot->version seen */
} ngx_http_bar_hls_camera_t;


typedef struct {
    ngx_shm_zone_t             *shm_zone;
    ngx_slab_pool_t            *shpool;
    ngx_http_bar_hls_shctx_t   *sh;
    ngx_array_t                 cameras;        /* of camera_t */
} ngx_http_bar_hls_main_conf_t;


typedef struct {
    ngx_array_t                *allow_origin;   /* of ngx_str_t; NULL: off */
    ngx_msec_t                  playlist_max_age;   /* UNSET: half target */
    ngx_msec_t                  block_timeout;
    ngx_flag_t                  cdn_cache_control;
} ngx_http_bar_hls_loc_conf_t;


#define NGX_HTTP_BAR_HLS_FULL_QUIET      30      /* sec, zone full episode */


extern ngx_module_t  ngx_http_bar_hls_module;


/* ngx_http_bar_hls_zone.c */

ngx_int_t ngx_http_bar_hls_init_zone(ngx_shm_zone_t *shm_zone, void *data);
size_t ngx_http_bar_hls_zone_estimate(ngx_http_bar_hls_camera_t *cam);
ngx_int_t ngx_http_bar_hls_acquire(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t *epoch);
ngx_int_t ngx_http_bar_hls_heartbeat(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch);
void ngx_http_bar_hls_release(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch);
ngx_int_t ngx_http_bar_hls_publish(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_chunk_t *chunk,
    ngx_log_t *log);
void ngx_http_bar_hls_set_state(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_event_t *ev);
ngx_http_bar_hls_init_t *ngx_http_bar_hls_find_init(
    ngx_http_bar_hls_slot_t *slot, uint32_t id);
void ngx_http_bar_hls_collect(ngx_http_bar_hls_main_conf_t *bmcf);
ngx_http_bar_hls_camera_t *ngx_http_bar_hls_find(
    ngx_http_bar_hls_main_conf_t *bmcf, u_char *name, size_t len);


/* ngx_http_bar_hls_pull.c */

ngx_int_t ngx_http_bar_hls_init_pulls(ngx_cycle_t *cycle);
void ngx_http_bar_hls_exit_pulls(ngx_cycle_t *cycle);


/* ngx_http_bar_hls_handler.c */

ngx_int_t ngx_http_bar_hls_handler(ngx_http_request_t *r);
void ngx_http_bar_hls_wake(ngx_http_bar_hls_camera_t *cam);
ngx_int_t ngx_http_bar_hls_output(ngx_http_request_t *r, ngx_buf_t *b);
ngx_int_t ngx_http_bar_hls_header(ngx_http_request_t *r, char *key,
    u_char *value, size_t len);


/* ngx_http_bar_hls_status.c */

ngx_int_t ngx_http_bar_hls_status_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_BAR_HLS_H_INCLUDED_ */
