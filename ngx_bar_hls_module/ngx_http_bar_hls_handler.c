
/*
 * ngx_bar_hls_module: the bar_hls content handler.
 *
 *     <prefix><cam>/index.m3u8      media playlist
 *     <prefix><cam>/init.mp4        current init segment
 *     <prefix><cam>/init-<v>.mp4    init segment version v
 *     <prefix><cam>/seg-<msn>.m4s   media segment
 *
 * Any worker answers from the shared zone: the bytes are copied out under
 * the zone mutex into the request pool and sent through the regular
 * header and body filters.
 */


#include "ngx_http_bar_hls.h"


typedef enum {
    NGX_HTTP_BAR_HLS_PLAYLIST = 0,
    NGX_HTTP_BAR_HLS_INIT,
    NGX_HTTP_BAR_HLS_SEGMENT
} ngx_http_bar_hls_file_e;


typedef struct {
    ngx_str_t                   camera;
    ngx_http_bar_hls_file_e     file;
    uint64_t                    number;     /* init version or msn */
    ngx_uint_t                  current;    /* init.mp4 */
} ngx_http_bar_hls_uri_t;


static ngx_int_t ngx_http_bar_hls_parse_uri(ngx_http_request_t *r,
    ngx_http_bar_hls_uri_t *u);
static ngx_int_t ngx_http_bar_hls_parse_number(u_char *p, u_char *last,
    uint64_t *n);
static ngx_int_t ngx_http_bar_hls_copy(ngx_http_request_t *r,
    ngx_http_bar_hls_main_conf_t *bmcf, ngx_http_bar_hls_slot_t *slot,
    ngx_http_bar_hls_uri_t *u, ngx_buf_t *b);
static ngx_int_t ngx_http_bar_hls_unavailable(ngx_http_request_t *r,
    ngx_str_t *camera);
static ngx_int_t ngx_http_bar_hls_send(ngx_http_request_t *r,
    ngx_http_bar_hls_uri_t *u, ngx_buf_t *b);


static ngx_str_t  ngx_http_bar_hls_m3u8_type =
    ngx_string("application/vnd.apple.mpegurl");
static ngx_str_t  ngx_http_bar_hls_mp4_type = ngx_string("video/mp4");


ngx_int_t
ngx_http_bar_hls_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_uint_t                     i;
    ngx_http_bar_hls_uri_t         u;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_bar_hls_parse_uri(r, &u) != NGX_OK) {
        return NGX_HTTP_NOT_FOUND;
    }

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);

    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        if (cam[i].name.len == u.camera.len
            && ngx_strncmp(cam[i].name.data, u.camera.data, u.camera.len)
               == 0)
        {
            break;
        }
    }

    if (i == bmcf->cameras.nelts || cam[i].slot == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "bar_hls: unknown camera \"%V\"", &u.camera);
        return NGX_HTTP_NOT_FOUND;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_bar_hls_copy(r, bmcf, cam[i].slot, &u, b);

    if (rc == NGX_AGAIN) {
        return ngx_http_bar_hls_unavailable(r, &u.camera);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_bar_hls_send(r, &u, b);
}


static ngx_int_t
ngx_http_bar_hls_parse_uri(ngx_http_request_t *r, ngx_http_bar_hls_uri_t *u)
{
    u_char                    *p, *last, *slash, *file;
    size_t                     len;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (
#if (NGX_PCRE)
        clcf->regex == NULL &&
#endif
        r->uri.len > clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;

    } else {

        /* a regex or exact location: the last two path components */

        for (p = last, len = 0; p > r->uri.data; p--) {
            if (p[-1] == '/' && ++len == 2) {
                break;
            }
        }
    }

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL) {
        return NGX_DECLINED;
    }

    u->camera.data = p;
    u->camera.len = slash - p;

    if (!bh_valid_name((char *) u->camera.data, u->camera.len)) {
        return NGX_DECLINED;
    }

    file = slash + 1;
    len = last - file;
    u->current = 0;
    u->number = 0;

    if (len == sizeof("index.m3u8") - 1
        && ngx_strncmp(file, "index.m3u8", len) == 0)
    {
        u->file = NGX_HTTP_BAR_HLS_PLAYLIST;
        return NGX_OK;
    }

    if (len == sizeof("init.mp4") - 1 && ngx_strncmp(file, "init.mp4", len)
                                         == 0)
    {
        u->file = NGX_HTTP_BAR_HLS_INIT;
        u->current = 1;
        return NGX_OK;
    }

    if (len > sizeof("init-.mp4") - 1
        && ngx_strncmp(file, "init-", 5) == 0
        && ngx_strncmp(last - 4, ".mp4", 4) == 0)
    {
        u->file = NGX_HTTP_BAR_HLS_INIT;
        return ngx_http_bar_hls_parse_number(file + 5, last - 4, &u->number);
    }

    if (len > sizeof("seg-.m4s") - 1
        && ngx_strncmp(file, "seg-", 4) == 0
        && ngx_strncmp(last - 4, ".m4s", 4) == 0)
    {
        u->file = NGX_HTTP_BAR_HLS_SEGMENT;
        return ngx_http_bar_hls_parse_number(file + 4, last - 4, &u->number);
    }

    return NGX_DECLINED;
}


/* decimal, no sign, no leading zeros, fits in 63 bits */

static ngx_int_t
ngx_http_bar_hls_parse_number(u_char *p, u_char *last, uint64_t *n)
{
    uint64_t  v;

    if (p == last || last - p > 18 || (*p == '0' && last - p > 1)) {
        return NGX_DECLINED;
    }

    for (v = 0; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }

        v = v * 10 + (*p - '0');
    }

    *n = v;

    return NGX_OK;
}


/*
 * Copies the file out of the zone into b.  NGX_AGAIN: the camera has not
 * published it yet (503); an HTTP status: it does not exist.
 */

static ngx_int_t
ngx_http_bar_hls_copy(ngx_http_request_t *r,
    ngx_http_bar_hls_main_conf_t *bmcf, ngx_http_bar_hls_slot_t *slot,
    ngx_http_bar_hls_uri_t *u, ngx_buf_t *b)
{
    u_char                      *p;
    size_t                       size;
    uint32_t                     i;
    ngx_int_t                    rc;
    ngx_http_bar_hls_part_t     *part;
    ngx_http_bar_hls_segment_t  *seg;

    rc = NGX_OK;
    p = NULL;
    size = 0;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    switch (u->file) {

    case NGX_HTTP_BAR_HLS_PLAYLIST:

        if (slot->playlist == NULL) {
            rc = NGX_AGAIN;
            break;
        }

        size = slot->playlist_len;

        p = ngx_pnalloc(r->pool, size);
        if (p == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }

        ngx_memcpy(p, slot->playlist, size);
        break;

    case NGX_HTTP_BAR_HLS_INIT:

        if (slot->init == NULL) {
            rc = NGX_AGAIN;
            break;
        }

        if (!u->current && u->number == slot->prev_init_version
            && slot->prev_init != NULL)
        {
            size = slot->prev_init_size;
            p = slot->prev_init;

        } else if (u->current || u->number == slot->init_version) {
            size = slot->init_size;
            p = slot->init;

        } else {
            rc = NGX_HTTP_NOT_FOUND;
            break;
        }

        b->pos = ngx_pnalloc(r->pool, size);
        if (b->pos == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }

        ngx_memcpy(b->pos, p, size);
        p = b->pos;
        break;

    default: /* NGX_HTTP_BAR_HLS_SEGMENT */

        if (slot->segs == NULL || u->number < slot->first_msn
            || u->number >= slot->next_msn)
        {
            rc = (slot->playlist == NULL) ? NGX_AGAIN : NGX_HTTP_NOT_FOUND;
            break;
        }

        seg = &slot->segs[u->number % slot->nsegs];
        size = seg->size;

        p = ngx_pnalloc(r->pool, size);
        if (p == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }

        b->last = p;

        for (i = 0; i < seg->nparts; i++) {
            part = &slot->parts[(seg->first_part + i) % slot->nparts];
            b->last = ngx_cpymem(b->last, part->data, part->size);
        }

        break;
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    if (rc != NGX_OK) {
        return rc;
    }

    b->pos = p;
    b->last = p + size;
    b->start = b->pos;
    b->end = b->last;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_bar_hls_unavailable(ngx_http_request_t *r, ngx_str_t *camera)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    ngx_str_set(&h->value, "1");

    b = ngx_create_temp_buf(r->pool, camera->len + 64);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "camera \"%V\" has no media yet\n",
                          camera);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_SERVICE_UNAVAILABLE;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_bar_hls_send(ngx_http_request_t *r, ngx_http_bar_hls_uri_t *u,
    ngx_buf_t *b)
{
    ngx_int_t         rc;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    if (u->file == NGX_HTTP_BAR_HLS_PLAYLIST) {
        r->headers_out.content_type = ngx_http_bar_hls_m3u8_type;

    } else {
        r->headers_out.content_type = ngx_http_bar_hls_mp4_type;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");

    if (u->file == NGX_HTTP_BAR_HLS_PLAYLIST) {
        ngx_str_set(&h->value, "public, max-age=1");

    } else {
        ngx_str_set(&h->value, "public, max-age=60, immutable");
    }

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
