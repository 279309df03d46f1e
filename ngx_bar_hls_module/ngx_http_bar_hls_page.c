
/*
 * ngx_bar_hls_module: bar_hls_page, the pages people open.
 *
 *     location /live/ {
 *         bar_hls_page ["Bars tonight"];     also serves the media
 *         bar_hls_player_js /js/hls.min.js;  hls.js, where no native HLS
 *     }
 *
 *     <prefix>               every camera: its snapshot, its state
 *     <prefix>cameras.json   the cameras' states, which both pages poll
 *     <prefix><cam>/         the camera's player page
 *     <prefix><cam>          redirected to <prefix><cam>/
 *
 * The pages are core/bh_page.c's, filled in here with what the zone says
 * of the cameras.  They name their media relatively (ale/snapshot.jpg,
 * master.m3u8), so they work below any prefix and behind any proxy, and
 * never name a camera's URL.  Cached briefly (their scripts keep the
 * state fresh) and revalidated by ETag.
 */


#include "ngx_http_bar_hls.h"


#define NGX_HTTP_BAR_HLS_PAGE_MAX_AGE   5       /* sec, the pages */
#define NGX_HTTP_BAR_HLS_JSON_MAX_AGE   1       /* sec, cameras.json */


typedef enum {
    NGX_HTTP_BAR_HLS_OVERVIEW = 0,
    NGX_HTTP_BAR_HLS_PLAYER,
    NGX_HTTP_BAR_HLS_JSON
} ngx_http_bar_hls_page_e;


static ngx_int_t ngx_http_bar_hls_page_send(ngx_http_request_t *r,
    ngx_http_bar_hls_page_e page, ngx_http_bar_hls_camera_t *one);
static ngx_int_t ngx_http_bar_hls_page_slash(ngx_http_request_t *r);
static void ngx_http_bar_hls_page_camera(ngx_http_bar_hls_camera_t *cam,
    bh_page_camera_t *pc);


char *
ngx_http_bar_hls_page_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bar_hls_loc_conf_t *blcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (blcf->page != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->exact_match
#if (NGX_PCRE)
        || clcf->regex != NULL
#endif
        || clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: \"bar_hls_page\" needs a prefix "
                           "location ending in \"/\", such as "
                           "\"location /live/\"");
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    blcf->page = 1;

    if (cf->args->nelts == 2) {
        blcf->page_title = value[1];
    }

    clcf->handler = ngx_http_bar_hls_handler;

    return NGX_CONF_OK;
}


/*
 * A page, if path (below the location) names one; NGX_DECLINED: it does
 * not, it may be media.
 */

ngx_int_t
ngx_http_bar_hls_page(ngx_http_request_t *r, u_char *path, size_t len)
{
    size_t                         n;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);

    if (len == 0) {
        return ngx_http_bar_hls_page_send(r, NGX_HTTP_BAR_HLS_OVERVIEW, NULL);
    }

    if (len == sizeof("cameras.json") - 1
        && ngx_strncmp(path, "cameras.json", len) == 0)
    {
        return ngx_http_bar_hls_page_send(r, NGX_HTTP_BAR_HLS_JSON, NULL);
    }

    n = (path[len - 1] == '/') ? len - 1 : len;

    if (!bh_valid_name((char *) path, n)) {
        return NGX_DECLINED;
    }

    cam = ngx_http_bar_hls_find(bmcf, path, n);

    if (cam == NULL) {
        return NGX_DECLINED;
    }

    if (n == len) {
        return ngx_http_bar_hls_page_slash(r);
    }

    return ngx_http_bar_hls_page_send(r, NGX_HTTP_BAR_HLS_PLAYER, cam);
}


static ngx_int_t
ngx_http_bar_hls_page_send(ngx_http_request_t *r,
    ngx_http_bar_hls_page_e page, ngx_http_bar_hls_camera_t *one)
{
    size_t                          n, len;
    int64_t                         max_age, now;
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_uint_t                      i;
    bh_page_conf_t                  conf;
    bh_page_camera_t               *pc;
    ngx_http_bar_hls_camera_t      *cam;
    ngx_http_bar_hls_loc_conf_t    *blcf;
    ngx_http_bar_hls_main_conf_t   *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);
    blcf = ngx_http_get_module_loc_conf(r, ngx_http_bar_hls_module);

    rc = (page == NGX_HTTP_BAR_HLS_PLAYER)
         ? ngx_http_bar_hls_count(r, one->slot, NGX_HTTP_BAR_HLS_KIND_PAGE)
         : ngx_http_bar_hls_count(r, NULL, NGX_HTTP_BAR_HLS_OTHER_OVERVIEW);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cam = bmcf->cameras.elts;
    n = (bmcf->shpool != NULL) ? bmcf->cameras.nelts : 0;
    len = 0;
    b = NULL;

    pc = ngx_pcalloc(r->pool, (n + 1) * sizeof(bh_page_camera_t));
    if (pc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (n > 0) {
        ngx_shmtx_lock(&bmcf->shpool->mutex);

        for (i = 0; i < n; i++) {
            if (page != NGX_HTTP_BAR_HLS_PLAYER || &cam[i] == one) {
                ngx_http_bar_hls_page_camera(&cam[i], &pc[i]);
            }
        }

        ngx_shmtx_unlock(&bmcf->shpool->mutex);
    }

    ngx_memzero(&conf, sizeof(bh_page_conf_t));
    conf.title = (char *) blcf->page_title.data;
    conf.title_len = blcf->page_title.len;
    conf.player_js = (char *) blcf->player_js.data;
    conf.player_js_len = blcf->player_js.len;
    conf.now = ngx_time();
    now = bh_wallclock();

    /* measured, then written: the same page twice */

    for (i = 0; i < 2; i++) {
        b = (i == 0) ? NULL : ngx_create_temp_buf(r->pool, len ? len : 1);

        if (i == 1 && b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        switch (page) {

        case NGX_HTTP_BAR_HLS_OVERVIEW:
            len = bh_page_overview(b ? (char *) b->pos : NULL, b ? len : 0,
                                   &conf, pc, n);
            break;

        case NGX_HTTP_BAR_HLS_PLAYER:
            len = bh_page_player(b ? (char *) b->pos : NULL, b ? len : 0,
                                 &conf, &pc[one - cam]);
            break;

        default: /* NGX_HTTP_BAR_HLS_JSON */
            len = bh_page_json(b ? (char *) b->pos : NULL, b ? len : 0,
                               pc, n, now);
        }
    }

    if (len > (size_t) (b->end - b->pos)) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = b->pos + len;

    if (ngx_http_bar_hls_cors(r) != NGX_OK
        || ngx_http_bar_hls_header(r, "X-Content-Type-Options",
                                   (u_char *) "nosniff",
                                   sizeof("nosniff") - 1)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    max_age = (page == NGX_HTTP_BAR_HLS_JSON) ? NGX_HTTP_BAR_HLS_JSON_MAX_AGE
                                              : NGX_HTTP_BAR_HLS_PAGE_MAX_AGE;

    if (ngx_http_bar_hls_cache_headers(r, max_age, 0, 'h',
                                       bh_crc32(b->pos, len), (uint32_t) len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;

    if (page == NGX_HTTP_BAR_HLS_JSON) {
        ngx_str_set(&r->headers_out.content_type, "application/json");

    } else {
        ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    return ngx_http_bar_hls_output(r, b);
}


/* called with the zone locked */

static void
ngx_http_bar_hls_page_camera(ngx_http_bar_hls_camera_t *cam,
    bh_page_camera_t *pc)
{
    bh_stream_t              *s;
    const bh_part_t          *part;
    ngx_http_bar_hls_slot_t  *slot;

    slot = cam->slot;
    s = &slot->stream;

    pc->name = (char *) cam->name.data;
    pc->name_len = cam->name.len;
    pc->state = slot->state;
    pc->since = slot->since;
    pc->offline_since = slot->offline_since;
    pc->width = s->width;
    pc->height = s->height;

    part = (s->next_part > 0) ? bh_stream_part(s, s->next_part - 1) : NULL;

    if (part != NULL) {
        pc->newest = (part->wallclock + part->duration) / 1000;
    }
}


/* <prefix><cam>: the page's relative URLs need the slash */

static ngx_int_t
ngx_http_bar_hls_page_slash(ngx_http_request_t *r)
{
    u_char           *p;
    size_t            len;
    ngx_table_elt_t  *location;

    len = r->uri.len + 1 + (r->args.len ? r->args.len + 1 : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location->hash = 1;
    ngx_str_set(&location->key, "Location");
    location->value.data = p;

    p = ngx_cpymem(p, r->uri.data, r->uri.len);
    *p++ = '/';

    if (r->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, r->args.data, r->args.len);
    }

    location->value.len = p - location->value.data;

    ngx_http_clear_location(r);
    r->headers_out.location = location;

    return NGX_HTTP_MOVED_PERMANENTLY;
}
