
/*
 * ngx_bar_hls_module: CORS, for players embedded by a site on another
 * origin.
 *
 *     bar_hls_allow_origin off | * | ORIGIN ...;      default *
 *
 * Simple requests get Access-Control-Allow-Origin (and Vary: Origin when
 * it depends on the request) and the headers a player reads; OPTIONS
 * preflights get 204 with what a player may send.
 */


#include "ngx_http_bar_hls.h"


#define NGX_HTTP_BAR_HLS_EXPOSE                                              \
    "Content-Length, Content-Range, Age, Date, ETag"
#define NGX_HTTP_BAR_HLS_ALLOW                                               \
    "Range, If-None-Match, If-Modified-Since, Cache-Control"


static ngx_int_t ngx_http_bar_hls_allowed_origin(ngx_http_request_t *r,
    ngx_str_t **origin);


char *
ngx_http_bar_hls_allow_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_bar_hls_loc_conf_t *blcf = conf;

    u_char      *host;
    ngx_str_t   *value, *origin, *v;
    ngx_uint_t   i;

    if (blcf->allow_origin != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        blcf->allow_origin = NULL;
        return NGX_CONF_OK;
    }

    blcf->allow_origin = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_str_t));
    if (blcf->allow_origin == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        v = &value[i];

        if (!(v->len == 1 && v->data[0] == '*')) {

            /* scheme://host[:port], and nothing after it */

            if (v->len > sizeof("https://") - 1
                && ngx_strncmp(v->data, "https://", sizeof("https://") - 1)
                   == 0)
            {
                host = v->data + sizeof("https://") - 1;

            } else if (v->len > sizeof("http://") - 1
                       && ngx_strncmp(v->data, "http://",
                                      sizeof("http://") - 1)
                          == 0)
            {
                host = v->data + sizeof("http://") - 1;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "bar_hls: invalid origin \"%V\" in "
                                   "\"bar_hls_allow_origin\": use *, "
                                   "off or origins such as "
                                   "https://example.org", v);
                return NGX_CONF_ERROR;
            }

            if (ngx_strlchr(host, v->data + v->len, '/') != NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "bar_hls: invalid origin \"%V\" in "
                                   "\"bar_hls_allow_origin\": an "
                                   "origin has no path, not even \"/\"", v);
                return NGX_CONF_ERROR;
            }
        }

        origin = ngx_array_push(blcf->allow_origin);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = *v;
    }

    return NGX_CONF_OK;
}


/* Access-Control-* for a simple request; Vary: Origin when it depends */

ngx_int_t
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

    if (ngx_http_bar_hls_header(r, "Vary", (u_char *) "Origin",
                                sizeof("Origin") - 1)
        != NGX_OK)
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

        if (h[i].key.len == sizeof("Origin") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin",
                               sizeof("Origin") - 1)
               == 0)
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


ngx_int_t
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
                                   (u_char *) NGX_HTTP_BAR_HLS_METHODS,
                                   sizeof(NGX_HTTP_BAR_HLS_METHODS) - 1)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (origin != NULL
        && (ngx_http_bar_hls_header(r, "Access-Control-Allow-Origin",
                                    origin->data, origin->len)
            != NGX_OK
            || ngx_http_bar_hls_header(r, "Access-Control-Allow-Methods",
                                       (u_char *) NGX_HTTP_BAR_HLS_METHODS,
                                       sizeof(NGX_HTTP_BAR_HLS_METHODS) - 1)
               != NGX_OK
            || ngx_http_bar_hls_header(r, "Access-Control-Allow-Headers",
                                       (u_char *) NGX_HTTP_BAR_HLS_ALLOW,
                                       sizeof(NGX_HTTP_BAR_HLS_ALLOW) - 1)
               != NGX_OK
            || ngx_http_bar_hls_header(r, "Access-Control-Max-Age",
                                       (u_char *) "86400",
                                       sizeof("86400") - 1)
               != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}
