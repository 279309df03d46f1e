
/*
 * ngx_bar_hls_module: bar_hls_status, every camera's state as JSON.
 *
 *     {"cameras": {"ale": {"state": "streaming", "last_error": "", ...}},
 *      "zone": {"size": N, "used": N, "free": N}}
 *
 * Camera URLs appear with their userinfo redacted.
 */


#include "ngx_http_bar_hls.h"


/* a camera's entry without its strings: the keys and 11 numbers */
#define NGX_HTTP_BAR_HLS_STATUS_FIXED                                        \
    (sizeof(", \"\": {\"state\": \"connecting\", \"since\": , "                \
            "\"last_error\": \"\", \"reconnects\": , "                         \
            "\"media_sequence\": , \"segments\": , \"parts\": , "              \
            "\"bytes_in\": , \"owner_pid\": , \"codecs\": \"\", "              \
            "\"width\": , \"height\": , \"variant\": \"mpegts\", "             \
            "\"segment_target_ms\": , \"part_target_ms\": , "                 \
            "\"zone_full\": false, \"url\": \"\"}") - 1                        \
     + 11 * NGX_INT64_LEN)


static size_t ngx_http_bar_hls_status_size(ngx_http_bar_hls_camera_t *cam);
static u_char *ngx_http_bar_hls_status_camera(u_char *p,
    ngx_http_bar_hls_camera_t *cam, ngx_http_bar_hls_slot_t *slot,
    ngx_uint_t first);


ngx_int_t
ngx_http_bar_hls_status_handler(ngx_http_request_t *r)
{
    size_t                         size, free;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_uint_t                     i;
    ngx_slab_pool_t               *shpool;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);
    shpool = bmcf->shpool;
    cam = bmcf->cameras.elts;

    size = sizeof("{\"cameras\": {}, \"zone\": {\"size\": , "
                  "\"used\": , \"free\": }}\n") - 1
           + 3 * NGX_SIZE_T_LEN;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        size += ngx_http_bar_hls_status_size(&cam[i]);
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"cameras\": {",
                         sizeof("{\"cameras\": {") - 1);

    if (shpool != NULL) {
        ngx_shmtx_lock(&shpool->mutex);

        for (i = 0; i < bmcf->cameras.nelts; i++) {
            b->last = ngx_http_bar_hls_status_camera(b->last, &cam[i],
                                                     cam[i].slot, i == 0);
        }

        free = shpool->pfree * ngx_pagesize;

        ngx_shmtx_unlock(&shpool->mutex);

        size = bmcf->shm_zone->shm.size;

    } else {
        free = 0;
        size = 0;
    }

    b->last = ngx_sprintf(b->last, "}, \"zone\": {\"size\": %uz, "
                          "\"used\": %uz, \"free\": %uz}}\n",
                          size, size - free, free);

    if (ngx_http_bar_hls_header(r, "Cache-Control", (u_char *) "no-store",
                                8)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    return ngx_http_bar_hls_output(r, b);
}


/*
 * An upper bound on a camera's entry: its strings may be escaped to six
 * bytes a character (\u00XX).
 */

static size_t
ngx_http_bar_hls_status_size(ngx_http_bar_hls_camera_t *cam)
{
    return NGX_HTTP_BAR_HLS_STATUS_FIXED + cam->name.len
           + 6 * NGX_HTTP_BAR_HLS_ERR_LEN
           + 6 * sizeof(((bh_stream_t *) NULL)->codecs)
           + cam->safe_url.len
           + ngx_escape_json(NULL, cam->safe_url.data, cam->safe_url.len);
}


/* called with the zone locked; writes at most status_size() bytes */

static u_char *
ngx_http_bar_hls_status_camera(u_char *p, ngx_http_bar_hls_camera_t *cam,
    ngx_http_bar_hls_slot_t *slot, ngx_uint_t first)
{
    size_t        len;
    uint64_t      segments, msn;
    bh_stream_t  *s;

    if (!first) {
        *p++ = ',';
        *p++ = ' ';
    }

    /* names are [A-Za-z0-9_-]: nothing to escape */

    p = ngx_sprintf(p, "\"%V\": {", &cam->name);

    if (slot == NULL) {
        return ngx_cpymem(p, "\"state\": \"error\"}",
                          sizeof("\"state\": \"error\"}") - 1);
    }

    s = &slot->stream;
    segments = bh_stream_listed(s, &msn);

    p = ngx_sprintf(p, "\"state\": \"%s\", \"since\": %T, \"last_error\": \"",
                    bh_state_text(slot->state), slot->since);

    len = ngx_strnlen(slot->last_error, NGX_HTTP_BAR_HLS_ERR_LEN - 1);
    p = (u_char *) ngx_escape_json(p, slot->last_error, len);

    p = ngx_sprintf(p, "\", \"reconnects\": %uL, \"media_sequence\": %uL, "
                    "\"segments\": %uL, \"parts\": %uL, \"bytes_in\": %uL, "
                    "\"owner_pid\": %P, \"codecs\": \"",
                    slot->reconnects, msn, segments, s->parts_total,
                    slot->bytes_in, slot->owner);

    len = ngx_strnlen((u_char *) s->codecs, sizeof(s->codecs) - 1);
    p = (u_char *) ngx_escape_json(p, (u_char *) s->codecs, len);

    p = ngx_sprintf(p, "\", \"width\": %ui, \"height\": %ui, "
                    "\"variant\": \"%s\", \"segment_target_ms\": %M, "
                    "\"part_target_ms\": %M, \"zone_full\": %s, "
                    "\"url\": \"",
                    (ngx_uint_t) s->width, (ngx_uint_t) s->height,
                    cam->format == BH_FORMAT_FMP4 ? "fmp4" : "mpegts",
                    cam->segment, cam->part,
                    ngx_time() - s->full / BH_USEC
                    < NGX_HTTP_BAR_HLS_FULL_QUIET ? "true" : "false");

    p = (u_char *) ngx_escape_json(p, cam->safe_url.data, cam->safe_url.len);

    return ngx_cpymem(p, "\"}", sizeof("\"}") - 1);
}
