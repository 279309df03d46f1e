
/*
 * ngx_bar_hls_module: the bar_hls content handler.
 *
 *     <prefix><cam>/index.m3u8[?_HLS_msn=M[&_HLS_part=N]][&_HLS_skip=YES]
 *     <prefix><cam>/master.m3u8
 *     <prefix><cam>/init.mp4, init-<id>.mp4
 *     <prefix><cam>/seg-<msn>.m4s|ts, part-<n>.m4s|ts
 *
 * Any worker answers from the shared zone: what may be answered and how
 * long it may be cached is the store's (core/bh_serve.c); here the bytes
 * are copied out under the zone mutex into the request pool and sent
 * through the regular header and body filters, so that add_header, gzip,
 * ranges, conditional requests and caches in front all work.  What the
 * stream cannot answer yet waits (ngx_http_bar_hls_wait.c).
 */


#include "ngx_http_bar_hls.h"


typedef struct {
    ngx_buf_t                  *buf;
    ngx_str_t                   type;
    bh_view_t                   view;
    ngx_uint_t                  ranges;
} ngx_http_bar_hls_reply_t;


static ngx_int_t ngx_http_bar_hls_copy(ngx_http_request_t *r,
    ngx_http_bar_hls_slot_t *slot, bh_uri_t *u, bh_query_t *q,
    ngx_http_bar_hls_reply_t *reply);
static ngx_int_t ngx_http_bar_hls_send(ngx_http_request_t *r,
    ngx_http_bar_hls_reply_t *reply);
static ngx_int_t ngx_http_bar_hls_cache_control(ngx_http_request_t *r,
    u_char *value, size_t len);


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
                                    (u_char *) NGX_HTTP_BAR_HLS_METHODS,
                                    sizeof(NGX_HTTP_BAR_HLS_METHODS) - 1)
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

    if (u.type != BH_URI_PLAYLIST && u.type != BH_URI_MULTIVARIANT
        && r->args.len)
    {
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
 * Answers the request if the stream can answer it now.  NGX_AGAIN: it
 * waits for media still to come.
 */

ngx_int_t
ngx_http_bar_hls_respond(ngx_http_request_t *r,
    ngx_http_bar_hls_camera_t *cam, bh_uri_t *u, bh_query_t *q)
{
    ngx_int_t                      rc;
    bh_status_t                    st;
    ngx_http_bar_hls_reply_t       reply;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);

    ngx_memzero(&reply, sizeof(ngx_http_bar_hls_reply_t));

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    st = bh_stream_ready(&cam->slot->stream, u, q);

    rc = NGX_OK;

    if (st == BH_OK) {
        rc = ngx_http_bar_hls_copy(r, cam->slot, u, q, &reply);
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "bar_hls: camera \"%V\": %s, %i",
                   &cam->name, bh_status_text(st), rc);

    switch (st) {

    case BH_OK:
        return rc == NGX_OK ? ngx_http_bar_hls_send(r, &reply) : rc;

    case BH_AGAIN:
        return NGX_AGAIN;

    case BH_INVALID:
        return ngx_http_bar_hls_error(r, NGX_HTTP_BAD_REQUEST,
                                      "_HLS_msn is too far ahead");

    default:
        return ngx_http_bar_hls_error(r, NGX_HTTP_NOT_FOUND, "not found");
    }
}


/* called with the zone locked */

static ngx_int_t
ngx_http_bar_hls_copy(ngx_http_request_t *r, ngx_http_bar_hls_slot_t *slot,
    bh_uri_t *u, bh_query_t *q, ngx_http_bar_hls_reply_t *reply)
{
    u_char                       *p;
    int64_t                       max_age;
    uint32_t                      i;
    ngx_buf_t                    *b;
    bh_view_t                    *v;
    const bh_part_t              *part;
    ngx_http_bar_hls_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);

    max_age = (blcf->playlist_max_age == NGX_CONF_UNSET_MSEC)
              ? -1 : (int64_t) blcf->playlist_max_age * 1000;

    v = &reply->view;

    if (bh_stream_view(&slot->stream, u, q, max_age, v) != BH_OK) {
        return NGX_HTTP_NOT_FOUND;
    }

    p = ngx_pnalloc(r->pool, v->size ? v->size : 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = p;
    b->last = p;

    if (v->data != NULL) {
        b->last = ngx_cpymem(p, v->data, v->size);

    } else {
        for (i = 0; i < v->nparts; i++) {
            part = bh_stream_part(&slot->stream, v->first_part + i);

            if (part == NULL
                || (size_t) (b->last - p) + part->size > v->size)
            {
                return NGX_HTTP_NOT_FOUND;
            }

            b->last = ngx_cpymem(b->last, part->data, part->size);
        }
    }

    reply->buf = b;

    switch (u->type) {

    case BH_URI_PLAYLIST:
    case BH_URI_MULTIVARIANT:

        /*
         * No ranges: a player that asks for the rest of the playlist it
         * had (Chromium's does) would get the tail of a newer one.
         */

        reply->type = ngx_http_bar_hls_m3u8_type;
        reply->ranges = 0;
        break;

    case BH_URI_INIT:
        reply->type = ngx_http_bar_hls_mp4_type;
        reply->ranges = 1;
        break;

    default:
        reply->type = (slot->stream.conf.format == BH_FORMAT_FMP4)
                      ? ngx_http_bar_hls_mp4_type : ngx_http_bar_hls_ts_type;
        reply->ranges = 1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_bar_hls_send(ngx_http_request_t *r, ngx_http_bar_hls_reply_t *reply)
{
    u_char                       *p, *cc;
    ngx_buf_t                    *b;
    bh_view_t                    *v;
    ngx_table_elt_t              *etag;
    ngx_http_bar_hls_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);
    b = reply->buf;
    v = &reply->view;

    if (ngx_http_bar_hls_cors(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = reply->type;
    r->headers_out.content_type_len = reply->type.len;
    r->headers_out.last_modified_time = (time_t) (v->modified / 1000000);
    r->allow_ranges = reply->ranges;

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

    p = ngx_sprintf(cc, "public, max-age=%L%s", v->max_age,
                    v->immutable ? ", immutable" : "");

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

    p = ngx_pnalloc(r->pool, sizeof("\"x0123456701234567\"") - 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag->hash = 1;
    ngx_str_set(&etag->key, "ETag");
    etag->value.data = p;
    etag->value.len = ngx_sprintf(p, "\"%c%08xD%08xD\"", v->etag_kind,
                                  v->etag[0], v->etag[1])
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


/* a short text/plain error that keeps CORS and is not cached */

ngx_int_t
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
                                   sizeof("no-store") - 1)
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

ngx_int_t
ngx_http_bar_hls_unavailable(ngx_http_request_t *r, char *text)
{
    if (ngx_http_bar_hls_header(r, "Retry-After", (u_char *) "1",
                                sizeof("1") - 1)
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
