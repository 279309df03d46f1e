
/*
 * ngx_bar_hls_module: the bar_hls content handler.
 *
 *     <prefix><cam>/index.m3u8[?_HLS_msn=M[&_HLS_part=N]][&_HLS_skip=YES]
 *     <prefix><cam>/init.mp4, init-<id>.mp4
 *     <prefix><cam>/seg-<msn>.m4s|ts, part-<msn>.<n>.m4s|ts
 *
 * Any worker answers from the shared zone: the bytes are copied out under
 * the zone mutex into the request pool and sent through the regular
 * header and body filters, so add_header, gzip, ranges, conditional
 * requests and caches in front all work.
 *
 * Blocking playlist reloads and preload-hinted parts wait in a per-camera
 * queue of this worker.  One 10 ms timer per worker, armed only while
 * something waits, compares each waited-on camera's version in the zone;
 * the owner worker also wakes its waiters as it publishes.  Waiting costs
 * no CPU per request.
 */


#include "ngx_http_bar_hls.h"


#define NGX_HTTP_BAR_HLS_POLL       10

#define NGX_HTTP_BAR_HLS_EXPOSE                                              \
    "Content-Length, Content-Range, Age, Date, ETag"
#define NGX_HTTP_BAR_HLS_ALLOW                                               \
    "Range, If-None-Match, If-Modified-Since, Cache-Control"


typedef struct {
    ngx_http_request_t         *request;
    ngx_http_bar_hls_camera_t  *cam;
    bh_uri_t                    uri;
    bh_query_t                  query;
    ngx_queue_t                 queue;
    ngx_event_t                 timeout;
} ngx_http_bar_hls_wait_t;


typedef struct {
    ngx_buf_t                  *buf;
    ngx_str_t                   type;
    uint32_t                    etag[2];
    u_char                      etag_kind;
    time_t                      modified;
    time_t                      max_age;        /* -1: no caching */
    ngx_uint_t                  immutable;
} ngx_http_bar_hls_reply_t;


static ngx_int_t ngx_http_bar_hls_respond(ngx_http_request_t *r,
    ngx_http_bar_hls_camera_t *cam, bh_uri_t *u, bh_query_t *q);
static ngx_int_t ngx_http_bar_hls_ready(ngx_http_bar_hls_slot_t *slot,
    bh_uri_t *u, bh_query_t *q);
static ngx_int_t ngx_http_bar_hls_copy(ngx_http_request_t *r,
    ngx_http_bar_hls_slot_t *slot, bh_uri_t *u, bh_query_t *q,
    ngx_http_bar_hls_reply_t *reply);
static ngx_int_t ngx_http_bar_hls_copy_media(ngx_http_request_t *r,
    ngx_http_bar_hls_slot_t *slot, bh_uri_t *u,
    ngx_http_bar_hls_reply_t *reply);
static ngx_int_t ngx_http_bar_hls_hold(ngx_http_request_t *r,
    ngx_http_bar_hls_camera_t *cam, bh_uri_t *u, bh_query_t *q);
static void ngx_http_bar_hls_wait_done(ngx_http_bar_hls_wait_t *w,
    ngx_int_t rc);
static void ngx_http_bar_hls_wait_timeout(ngx_event_t *ev);
static void ngx_http_bar_hls_wait_cleanup(void *data);
static void ngx_http_bar_hls_poll(ngx_event_t *ev);
static ngx_int_t ngx_http_bar_hls_send(ngx_http_request_t *r,
    ngx_http_bar_hls_reply_t *reply);
static ngx_int_t ngx_http_bar_hls_cache_control(ngx_http_request_t *r,
    u_char *value, size_t len);
static ngx_int_t ngx_http_bar_hls_cors(ngx_http_request_t *r);
static ngx_int_t ngx_http_bar_hls_allowed_origin(ngx_http_request_t *r,
    ngx_str_t **origin);
static ngx_int_t ngx_http_bar_hls_preflight(ngx_http_request_t *r);
static ngx_int_t ngx_http_bar_hls_error(ngx_http_request_t *r,
    ngx_uint_t status, char *text);
static ngx_int_t ngx_http_bar_hls_unavailable(ngx_http_request_t *r,
    char *text);


static ngx_event_t  ngx_http_bar_hls_poll_event;
static ngx_uint_t   ngx_http_bar_hls_nwaiting;


static ngx_str_t  ngx_http_bar_hls_m3u8_type =
    ngx_string("application/vnd.apple.mpegurl");
static ngx_str_t  ngx_http_bar_hls_mp4_type = ngx_string("video/mp4");
static ngx_str_t  ngx_http_bar_hls_ts_type = ngx_string("video/mp2t");


ngx_int_t
ngx_http_bar_hls_handler(ngx_http_request_t *r)
{
    u_char                        *p, *last;
    size_t                         len;
    ngx_int_t                      rc;
    bh_uri_t                       u;
    bh_query_t                     q;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_http_bar_hls_preflight(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_bar_hls_header(r, "Allow",
                                    (u_char *) "GET, HEAD, OPTIONS", 18)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_bar_hls_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "method not allowed");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the path below the location: a prefix location's, or the last two */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (
#if (NGX_PCRE)
        clcf->regex == NULL &&
#endif
        !clcf->exact_match
        && r->uri.len > clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;

    } else {
        for (p = last, len = 0; p > r->uri.data; p--) {
            if (p[-1] == '/' && ++len == 2) {
                break;
            }
        }
    }

    if (bh_uri_parse((char *) p, last - p, &u) != BH_OK) {
        return ngx_http_bar_hls_error(r, NGX_HTTP_NOT_FOUND, "not found");
    }

    ngx_memzero(&q, sizeof(bh_query_t));

    /*
     * Media names say everything: a query string would only make a cache
     * keyed on it fetch the same bytes again.
     */

    if (u.type != BH_URI_PLAYLIST && r->args.len) {
        return ngx_http_bar_hls_error(r, NGX_HTTP_BAD_REQUEST,
                                      "no query arguments on media");
    }

    if (u.type == BH_URI_PLAYLIST
        && bh_query_parse((char *) r->args.data, r->args.len, &q) != BH_OK)
    {
        return ngx_http_bar_hls_error(r, NGX_HTTP_BAD_REQUEST,
                                      "invalid _HLS_ query arguments");
    }

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);

    cam = ngx_http_bar_hls_find(bmcf, (u_char *) u.camera, u.camera_len);

    if (cam == NULL) {
        return ngx_http_bar_hls_error(r, NGX_HTTP_NOT_FOUND,
                                      "unknown camera");
    }

    rc = ngx_http_bar_hls_respond(r, cam, &u, &q);

    if (rc == NGX_AGAIN) {
        return ngx_http_bar_hls_hold(r, cam, &u, &q);
    }

    return rc;
}


/*
 * Answers the request if it can be answered now.  NGX_AGAIN: it waits
 * for media still to come.
 */

static ngx_int_t
ngx_http_bar_hls_respond(ngx_http_request_t *r,
    ngx_http_bar_hls_camera_t *cam, bh_uri_t *u, bh_query_t *q)
{
    ngx_int_t                      rc;
    ngx_slab_pool_t               *shpool;
    ngx_http_bar_hls_reply_t       reply;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);
    shpool = bmcf->shpool;

    ngx_memzero(&reply, sizeof(ngx_http_bar_hls_reply_t));

    ngx_shmtx_lock(&shpool->mutex);

    cam->seen = cam->slot->version;

    rc = ngx_http_bar_hls_ready(cam->slot, u, q);

    if (rc == NGX_OK) {
        rc = ngx_http_bar_hls_copy(r, cam->slot, u, q, &reply);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    switch (rc) {

    case NGX_OK:
        return ngx_http_bar_hls_send(r, &reply);

    case NGX_AGAIN:
        return NGX_AGAIN;

    case NGX_HTTP_BAD_REQUEST:
        return ngx_http_bar_hls_error(r, rc, "_HLS_msn is too far ahead");

    case NGX_HTTP_NOT_FOUND:
        return ngx_http_bar_hls_error(r, rc, "not found");

    default:
        return rc;
    }
}


/*
 * Is what the request asks for there?  NGX_OK: yes; NGX_AGAIN: soon;
 * NGX_HTTP_NOT_FOUND: gone, or too far in the future to wait for;
 * NGX_HTTP_BAD_REQUEST: a blocking reload too far ahead.
 * Called with the zone locked.
 */

static ngx_int_t
ngx_http_bar_hls_ready(ngx_http_bar_hls_slot_t *slot, bh_uri_t *u,
    bh_query_t *q)
{
    uint64_t                     last, nparts;
    ngx_http_bar_hls_segment_t  *open;

    if (slot->segs == NULL) {
        return NGX_AGAIN;
    }

    open = slot->open ? &slot->segs[slot->next_msn % slot->nsegs] : NULL;
    nparts = open ? open->nparts : 0;

    switch (u->type) {

    case BH_URI_PLAYLIST:

        if (slot->playlist.data == NULL) {
            return NGX_AGAIN;
        }

        if (!q->has_msn) {
            return NGX_OK;
        }

        /* the last segment the playlist names, complete or not */

        last = slot->part_target && open ? slot->next_msn
                                         : slot->next_msn - 1;

        if (q->msn > last + 2) {
            return NGX_HTTP_BAD_REQUEST;
        }

        if (q->msn < slot->next_msn) {
            return NGX_OK;
        }

        if (q->has_part && slot->part_target && q->msn == slot->next_msn
            && q->part < nparts)
        {
            return NGX_OK;
        }

        return NGX_AGAIN;

    case BH_URI_INIT:
        return slot->has_init ? NGX_OK : NGX_AGAIN;

    case BH_URI_SEGMENT:
        return u->msn < slot->next_msn ? NGX_OK : NGX_HTTP_NOT_FOUND;

    default: /* BH_URI_PART */

        if (u->msn < slot->next_msn
            || (u->msn == slot->next_msn && u->part < nparts))
        {
            return NGX_OK;
        }

        /* the hinted part: the open segment's next, or the next's first */

        if (slot->part_target
            && ((u->msn == slot->next_msn && u->part == nparts)
                || (u->msn == slot->next_msn + 1 && u->part == 0)))
        {
            return NGX_AGAIN;
        }

        return NGX_HTTP_NOT_FOUND;
    }
}


/* called with the zone locked */

static ngx_int_t
ngx_http_bar_hls_copy(ngx_http_request_t *r, ngx_http_bar_hls_slot_t *slot,
    bh_uri_t *u, bh_query_t *q, ngx_http_bar_hls_reply_t *reply)
{
    u_char                       *src, *p;
    size_t                        size;
    ngx_http_bar_hls_init_t      *init;
    ngx_http_bar_hls_text_t      *text;
    ngx_http_bar_hls_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);

    switch (u->type) {

    case BH_URI_PLAYLIST:

        text = (q->skip && slot->delta.data != NULL) ? &slot->delta
                                                     : &slot->playlist;
        src = text->data;
        size = text->len;

        reply->type = ngx_http_bar_hls_m3u8_type;
        reply->etag_kind = 'l';
        reply->etag[0] = text->etag;
        reply->modified = slot->updated;

        /*
         * A blocking reload's URL names a part that only ever grows into
         * longer playlists: it may be cached longer (RFC 8216bis, B.1).
         */

        if (q->has_msn) {
            reply->max_age = 6 * slot->target / 1000000;

        } else if (blcf->playlist_max_age != NGX_CONF_UNSET_MSEC) {
            reply->max_age = blcf->playlist_max_age / 1000;

        } else {
            reply->max_age = slot->target / 2000000;
        }

        if (reply->max_age < 1) {
            reply->max_age = 1;
        }

        break;

    case BH_URI_INIT:

        if (slot->format == BH_FORMAT_MPEGTS) {
            return NGX_HTTP_NOT_FOUND;
        }

        init = ngx_http_bar_hls_find_init(slot, u->current ? slot->init_id
                                                           : u->init_id);
        if (init == NULL) {
            return NGX_HTTP_NOT_FOUND;
        }

        src = init->data;
        size = init->size;

        reply->type = ngx_http_bar_hls_mp4_type;
        reply->etag_kind = 'i';
        reply->etag[0] = init->id;
        reply->modified = init->time;

        /* init.mp4 changes with the stream; init-<id>.mp4 never does */

        reply->max_age = u->current ? 1 : 86400;
        reply->immutable = !u->current;

        break;

    default:
        return ngx_http_bar_hls_copy_media(r, slot, u, reply);
    }

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, src, size);

    reply->buf = ngx_calloc_buf(r->pool);
    if (reply->buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    reply->buf->pos = p;
    reply->buf->last = p + size;

    return NGX_OK;
}


static ngx_int_t
ngx_http_bar_hls_copy_media(ngx_http_request_t *r,
    ngx_http_bar_hls_slot_t *slot, bh_uri_t *u,
    ngx_http_bar_hls_reply_t *reply)
{
    u_char                      *p;
    size_t                       size;
    uint32_t                     i, n;
    ngx_buf_t                   *b;
    ngx_http_bar_hls_part_t     *part;
    ngx_http_bar_hls_segment_t  *seg;

    if (u->format != slot->format || u->msn < slot->first_msn) {
        return NGX_HTTP_NOT_FOUND;
    }

    seg = &slot->segs[u->msn % slot->nsegs];

    if (u->type == BH_URI_SEGMENT) {
        i = 0;
        n = seg->nparts;
        size = seg->size;
        reply->modified = (seg->wallclock + seg->duration) / 1000000;

    } else {
        if (u->part >= seg->nparts) {
            return NGX_HTTP_NOT_FOUND;
        }

        i = u->part;
        n = u->part + 1;
        part = &slot->parts[(seg->first_part + i) % slot->nparts];
        size = part->size;
        reply->modified = seg->wallclock / 1000000;
    }

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = p;
    b->last = p;

    for ( /* void */ ; i < n; i++) {
        part = &slot->parts[(seg->first_part + i) % slot->nparts];
        b->last = ngx_cpymem(b->last, part->data, part->size);
    }

    reply->buf = b;
    reply->type = (slot->format == BH_FORMAT_FMP4) ? ngx_http_bar_hls_mp4_type
                                                   : ngx_http_bar_hls_ts_type;

    /* sequence numbers are never reused (see the zone), nor are these */

    reply->etag_kind = (u->type == BH_URI_SEGMENT) ? 's' : 'p';
    reply->etag[0] = (uint32_t) u->msn;
    reply->etag[1] = (u->type == BH_URI_SEGMENT) ? (uint32_t) size
                                                 : (u->part << 24) ^ size;

    /* immutable, and kept at least as long as it is listed */

    reply->max_age = (slot->window + 3) * slot->target / 1000000;
    reply->immutable = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_bar_hls_hold(ngx_http_request_t *r, ngx_http_bar_hls_camera_t *cam,
    bh_uri_t *u, bh_query_t *q)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_bar_hls_wait_t      *w;
    ngx_http_bar_hls_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);

    /* only blocking reloads and hinted parts wait; the rest: 503 */

    if (u->type != BH_URI_PART && !q->has_msn) {
        return ngx_http_bar_hls_unavailable(r, "the camera has no media yet");
    }

    w = ngx_pcalloc(r->pool, sizeof(ngx_http_bar_hls_wait_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->request = r;
    w->cam = cam;
    w->uri = *u;
    w->query = *q;

    w->timeout.handler = ngx_http_bar_hls_wait_timeout;
    w->timeout.data = w;
    w->timeout.log = r->connection->log;

    ngx_add_timer(&w->timeout, blcf->block_timeout);

    ngx_queue_insert_tail(&cam->waiters, &w->queue);
    ngx_http_bar_hls_nwaiting++;

    cln->handler = ngx_http_bar_hls_wait_cleanup;
    cln->data = w;

    if (!ngx_http_bar_hls_poll_event.timer_set) {
        ngx_http_bar_hls_poll_event.handler = ngx_http_bar_hls_poll;
        ngx_http_bar_hls_poll_event.log = ngx_cycle->log;
        ngx_http_bar_hls_poll_event.cancelable = 1;
        ngx_add_timer(&ngx_http_bar_hls_poll_event,
                      NGX_HTTP_BAR_HLS_POLL);
    }

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/* serves the waiters of a camera whose media changed */

void
ngx_http_bar_hls_wake(ngx_http_bar_hls_camera_t *cam)
{
    ngx_int_t                 rc;
    ngx_queue_t              *q, *next;
    ngx_http_bar_hls_wait_t  *w;

    if (cam->waiters.next == NULL) {
        return;                             /* not initialized: no waiter */
    }

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
ngx_http_bar_hls_wait_done(ngx_http_bar_hls_wait_t *w, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = w->request;
    c = r->connection;

    ngx_queue_remove(&w->queue);
    w->queue.next = NULL;
    ngx_http_bar_hls_nwaiting--;

    if (w->timeout.timer_set) {
        ngx_del_timer(&w->timeout);
    }

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


static void
ngx_http_bar_hls_wait_cleanup(void *data)
{
    ngx_http_bar_hls_wait_t  *w = data;

    /* the client went away while waiting */

    if (w->queue.next != NULL) {
        ngx_queue_remove(&w->queue);
        w->queue.next = NULL;
        ngx_http_bar_hls_nwaiting--;
    }

    if (w->timeout.timer_set) {
        ngx_del_timer(&w->timeout);
    }
}


static void
ngx_http_bar_hls_poll(ngx_event_t *ev)
{
    uint64_t                       version;
    ngx_uint_t                     i;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_bar_hls_module);
    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        if (cam[i].waiters.next == NULL || ngx_queue_empty(&cam[i].waiters))
        {
            continue;
        }

        /* an aligned 64-bit load: a torn read only means a spare check */

        version = *(volatile uint64_t *) &cam[i].slot->version;

        if (version != cam[i].seen) {
            ngx_http_bar_hls_wake(&cam[i]);
        }
    }

    if (ngx_http_bar_hls_nwaiting > 0) {
        ngx_add_timer(ev, NGX_HTTP_BAR_HLS_POLL);
    }
}


static ngx_int_t
ngx_http_bar_hls_send(ngx_http_request_t *r, ngx_http_bar_hls_reply_t *reply)
{
    u_char                       *p, *cc;
    ngx_buf_t                    *b;
    ngx_table_elt_t              *etag;
    ngx_http_bar_hls_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);
    b = reply->buf;

    if (ngx_http_bar_hls_cors(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = reply->type;
    r->headers_out.content_type_len = reply->type.len;
    r->headers_out.last_modified_time = reply->modified;
    r->allow_ranges = 1;

    /*
     * Never private, no-cache or max-age=0: caches in front must cache.
     * In the request pool: headers may be written after this returns
     * (a 416 from the range filter is).
     */

    cc = ngx_pnalloc(r->pool, sizeof("public, max-age=, immutable") - 1
                              + NGX_TIME_T_LEN);
    if (cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(cc, "public, max-age=%T%s", reply->max_age,
                    reply->immutable ? ", immutable" : "");

    if (ngx_http_bar_hls_cache_control(r, cc, p - cc) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (blcf->cdn_cache_control
        && ngx_http_bar_hls_header(r, "CDN-Cache-Control", cc, p - cc)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, 24);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag->hash = 1;
    ngx_str_set(&etag->key, "ETag");
    etag->value.data = p;
    etag->value.len = ngx_sprintf(p, "\"%c%08xD%08xD\"", reply->etag_kind,
                                  reply->etag[0], reply->etag[1])
                      - p;
    r->headers_out.etag = etag;

    b->memory = 1;

    return ngx_http_bar_hls_output(r, b);
}


/*
 * Sets the response's Cache-Control, known to nginx as such: "expires"
 * then replaces it instead of adding a second one.
 */

static ngx_int_t
ngx_http_bar_hls_cache_control(ngx_http_request_t *r, u_char *value,
    size_t len)
{
    ngx_table_elt_t   *h;
#if (nginx_version < 1023000)
    ngx_table_elt_t  **ccp;
#endif

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    h->value.data = value;
    h->value.len = len;

#if (nginx_version >= 1023000)
    h->next = NULL;
    r->headers_out.cache_control = h;
#else
    if (r->headers_out.cache_control.elts == NULL
        && ngx_array_init(&r->headers_out.cache_control, r->pool, 1,
                          sizeof(ngx_table_elt_t *))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ccp = ngx_array_push(&r->headers_out.cache_control);
    if (ccp == NULL) {
        return NGX_ERROR;
    }

    *ccp = h;
#endif

    return NGX_OK;
}


/* sends the headers and the one buffer of the body */

ngx_int_t
ngx_http_bar_hls_output(ngx_http_request_t *r, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    if (b->last == b->pos) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* Access-Control-* for a simple request; Vary: Origin when it depends */

static ngx_int_t
ngx_http_bar_hls_cors(ngx_http_request_t *r)
{
    ngx_str_t  *origin;

    if (ngx_http_bar_hls_allowed_origin(r, &origin) != NGX_OK) {
        return NGX_ERROR;
    }

    if (origin == NULL) {
        return NGX_OK;
    }

    if (ngx_http_bar_hls_header(r, "Access-Control-Allow-Origin",
                                origin->data, origin->len)
        != NGX_OK
        || ngx_http_bar_hls_header(r, "Access-Control-Expose-Headers",
                                   (u_char *) NGX_HTTP_BAR_HLS_EXPOSE,
                                   sizeof(NGX_HTTP_BAR_HLS_EXPOSE) - 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Sets *origin to the value for Access-Control-Allow-Origin: "*", the
 * request's Origin when listed, or NULL.
 */

static ngx_int_t
ngx_http_bar_hls_allowed_origin(ngx_http_request_t *r, ngx_str_t **origin)
{
    ngx_str_t                    *allowed, *req;
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h;
    ngx_http_bar_hls_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);

    *origin = NULL;

    if (blcf->allow_origin == NULL) {
        return NGX_OK;
    }

    allowed = blcf->allow_origin->elts;

    if (blcf->allow_origin->nelts == 1 && allowed[0].data[0] == '*') {
        *origin = &allowed[0];
        return NGX_OK;
    }

    if (ngx_http_bar_hls_header(r, "Vary", (u_char *) "Origin", 6) != NGX_OK)
    {
        return NGX_ERROR;
    }

    req = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin", 6) == 0)
        {
            req = &h[i].value;
            break;
        }
    }

    if (req == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < blcf->allow_origin->nelts; i++) {
        if ((allowed[i].len == 1 && allowed[i].data[0] == '*')
            || (allowed[i].len == req->len
                && ngx_strncasecmp(allowed[i].data, req->data, req->len)
                   == 0))
        {
            *origin = req;
            return NGX_OK;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_bar_hls_preflight(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_str_t  *origin;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_bar_hls_allowed_origin(r, &origin) != NGX_OK
        || ngx_http_bar_hls_header(r, "Allow",
                                   (u_char *) "GET, HEAD, OPTIONS", 18)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (origin != NULL
        && (ngx_http_bar_hls_header(r, "Access-Control-Allow-Origin",
                                    origin->data, origin->len)
            != NGX_OK
            || ngx_http_bar_hls_header(r, "Access-Control-Allow-Methods",
                                       (u_char *) "GET, HEAD, OPTIONS", 18)
               != NGX_OK
            || ngx_http_bar_hls_header(r, "Access-Control-Allow-Headers",
                                       (u_char *) NGX_HTTP_BAR_HLS_ALLOW,
                                       sizeof(NGX_HTTP_BAR_HLS_ALLOW) - 1)
               != NGX_OK
            || ngx_http_bar_hls_header(r, "Access-Control-Max-Age",
                                       (u_char *) "86400", 5)
               != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* a short text/plain error that keeps CORS and is not cached */

static ngx_int_t
ngx_http_bar_hls_error(ngx_http_request_t *r, ngx_uint_t status, char *text)
{
    size_t       len;
    ngx_int_t    rc;
    ngx_buf_t   *b;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_bar_hls_cors(r) != NGX_OK
        || ngx_http_bar_hls_header(r, "Cache-Control", (u_char *) "no-store",
                                   8)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    *b->last++ = LF;

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    return ngx_http_bar_hls_output(r, b);
}


/* 503: nothing (new) from the camera yet, come back in a second */

static ngx_int_t
ngx_http_bar_hls_unavailable(ngx_http_request_t *r, char *text)
{
    if (ngx_http_bar_hls_header(r, "Retry-After", (u_char *) "1", 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_bar_hls_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, text);
}


ngx_int_t
ngx_http_bar_hls_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}
