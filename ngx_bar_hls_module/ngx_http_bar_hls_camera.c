
/*
 * ngx_bar_hls_module: the bar_hls_camera directive.
 *
 *     bar_hls_camera NAME URL|env:VAR|file:PATH [segment=2s]
 *                    [part=200ms|off] [window=6] [transport=tcp|udp]
 *                    [timeout=10s] [variant=fmp4|mpegts] [bitrate=2m]
 *                    [max_bitrate=20m] [audio=auto|copy|aac|off];
 */


#include "ngx_http_bar_hls.h"


/* audio=, in the order of bh_audio_mode_t */
static ngx_str_t  ngx_http_bar_hls_audio_modes[] = {
    ngx_string("auto"),
    ngx_string("copy"),
    ngx_string("aac"),
    ngx_string("off"),
    ngx_null_string
};


static char *ngx_http_bar_hls_camera_param(ngx_conf_t *cf,
    ngx_http_bar_hls_camera_t *cam, ngx_str_t *value);
static ngx_int_t ngx_http_bar_hls_resolve_url(ngx_conf_t *cf,
    ngx_str_t *value, ngx_str_t *url);


char *
ngx_http_bar_hls_camera(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bar_hls_main_conf_t *bmcf = conf;

    char                       *rv;
    u_char                     *p;
    size_t                      len;
    ngx_str_t                  *value;
    ngx_uint_t                  i;
    ngx_http_bar_hls_camera_t  *cam;

    value = cf->args->elts;

    if (!bh_valid_name((char *) value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: invalid camera name \"%V\": use 1 to 64 "
                           "of A-Z a-z 0-9 _ -", &value[1]);
        return NGX_CONF_ERROR;
    }

    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        if (cam[i].name.len == value[1].len
            && ngx_strncmp(cam[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "bar_hls: duplicate camera \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (bmcf->cameras.nelts == NGX_HTTP_BAR_HLS_MAX_CAMERAS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: too many cameras, at most %d",
                           NGX_HTTP_BAR_HLS_MAX_CAMERAS);
        return NGX_CONF_ERROR;
    }

    cam = ngx_array_push(&bmcf->cameras);
    if (cam == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(cam, sizeof(ngx_http_bar_hls_camera_t));

    cam->name = value[1];
    cam->index = bmcf->cameras.nelts - 1;
    cam->segment = 2000;
    cam->part = 200;
    cam->timeout = 10000;
    cam->window = 6;
    cam->tcp = 1;
    cam->audio = BH_AUDIO_AUTO;
    cam->format = BH_FORMAT_FMP4;
    cam->bitrate = 2000000;
    cam->max_bitrate = NGX_CONF_UNSET_SIZE;

    if (ngx_http_bar_hls_resolve_url(cf, &value[2], &cam->url) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (!((cam->url.len > 7
           && ngx_strncasecmp(cam->url.data, (u_char *) "rtsp://", 7) == 0)
          || (cam->url.len > 8
              && ngx_strncasecmp(cam->url.data, (u_char *) "rtsps://", 8)
                 == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: camera \"%V\": the URL must start with "
                           "rtsp:// or rtsps://", &cam->name);
        return NGX_CONF_ERROR;
    }

    len = cam->url.len * 3 + 8;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    cam->safe_url.data = p;
    cam->safe_url.len = bh_redact_url((char *) cam->url.data, (char *) p,
                                      len);

    for (i = 3; i < cf->args->nelts; i++) {
        rv = ngx_http_bar_hls_camera_param(cf, cam, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (cam->max_bitrate == NGX_CONF_UNSET_SIZE) {
        cam->max_bitrate = ngx_max(NGX_HTTP_BAR_HLS_MAX_BITRATE,
                                   4 * cam->bitrate);
    }

    if (cam->max_bitrate < cam->bitrate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: camera \"%V\": max_bitrate must be at "
                           "least bitrate", &cam->name);
        return NGX_CONF_ERROR;
    }

    if (cam->part && cam->part * 2 > cam->segment) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: camera \"%V\": part must be at most "
                           "half a segment", &cam->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_bar_hls_camera_param(ngx_conf_t *cf, ngx_http_bar_hls_camera_t *cam,
    ngx_str_t *value)
{
    ssize_t     size;
    ngx_int_t   n;
    ngx_str_t   v;
    ngx_msec_t  ms;

    if (ngx_strcmp(value->data, "part=off") == 0) {
        cam->part = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "segment=", 8) == 0
        || ngx_strncmp(value->data, "part=", 5) == 0
        || ngx_strncmp(value->data, "timeout=", 8) == 0)
    {
        v.data = (u_char *) ngx_strlchr(value->data,
                                        value->data + value->len, '=') + 1;
        v.len = value->data + value->len - v.data;

        ms = ngx_parse_time(&v, 0);

        if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
            goto invalid;
        }

        if (value->data[0] == 's') {
            if (ms < 500 || ms > 30000) {
                goto invalid;
            }

            cam->segment = ms;

        } else if (value->data[0] == 'p') {
            if (ms < 50) {
                goto invalid;
            }

            cam->part = ms;

        } else {
            if (ms < 500) {
                goto invalid;
            }

            cam->timeout = ms;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value->data, "variant=fmp4") == 0) {
        cam->format = BH_FORMAT_FMP4;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value->data, "variant=mpegts") == 0) {
        cam->format = BH_FORMAT_MPEGTS;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "window=", 7) == 0) {
        n = ngx_atoi(value->data + 7, value->len - 7);

        if (n < 2 || n > NGX_HTTP_BAR_HLS_MAX_WINDOW) {
            goto invalid;
        }

        cam->window = n;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "audio=", 6) == 0) {
        v.data = value->data + 6;
        v.len = value->len - 6;

        for (n = 0; ngx_http_bar_hls_audio_modes[n].len; n++) {
            if (v.len == ngx_http_bar_hls_audio_modes[n].len
                && ngx_strncmp(v.data, ngx_http_bar_hls_audio_modes[n].data,
                               v.len) == 0)
            {
                cam->audio = (bh_audio_mode_t) n;
                return NGX_CONF_OK;
            }
        }

        goto invalid;
    }

    if (ngx_strcmp(value->data, "transport=tcp") == 0) {
        cam->tcp = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value->data, "transport=udp") == 0) {
        cam->tcp = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "bitrate=", 8) == 0) {
        v.data = value->data + 8;
        v.len = value->len - 8;

        size = ngx_parse_size(&v);

        if (size == NGX_ERROR || size < 10000) {
            goto invalid;
        }

        cam->bitrate = size;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "max_bitrate=", 12) == 0) {
        v.data = value->data + 12;
        v.len = value->len - 12;

        size = ngx_parse_size(&v);

        if (size == NGX_ERROR || size < 10000
            || (size_t) size > NGX_HTTP_BAR_HLS_MAX_BITRATE_LIMIT)
        {
            goto invalid;
        }

        cam->max_bitrate = size;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "bar_hls: camera \"%V\": unknown parameter \"%V\"",
                       &cam->name, value);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "bar_hls: camera \"%V\": invalid value \"%V\"",
                       &cam->name, value);
    return NGX_CONF_ERROR;
}


/*
 * The URL is given inline, or as env:NAME or file:PATH so that nginx.conf
 * can be committed without the camera's password.
 */

static ngx_int_t
ngx_http_bar_hls_resolve_url(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *url)
{
    char       *env;
    u_char     *p;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_str_t   path;
    ngx_file_t  file;
    u_char      buf[4096];

    if (ngx_strncmp(value->data, "env:", 4) == 0) {
        env = getenv((char *) value->data + 4);

        if (env == NULL || env[0] == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "bar_hls: environment variable \"%s\" "
                               "is not set", value->data + 4);
            return NGX_ERROR;
        }

        url->len = ngx_strlen(env);
        url->data = ngx_pnalloc(cf->pool, url->len + 1);
        if (url->data == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(url->data, (u_char *) env, url->len + 1);

        return NGX_OK;
    }

    if (ngx_strncmp(value->data, "file:", 5) == 0) {
        path.data = value->data + 5;
        path.len = value->len - 5;

        fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
        if (fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "bar_hls: cannot open \"%V\"", &path);
            return NGX_ERROR;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));
        file.fd = fd;
        file.name = path;
        file.log = cf->log;

        n = ngx_read_file(&file, buf, sizeof(buf) - 1, 0);

        ngx_close_file(fd);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* the first line, without surrounding white space */

        p = buf;

        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }

        url->len = 0;

        while ((ssize_t) url->len < n && p[url->len] != CR
               && p[url->len] != LF && p[url->len] != ' ')
        {
            url->len++;
        }

        url->data = ngx_pnalloc(cf->pool, url->len + 1);
        if (url->data == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(url->data, p, url->len + 1);
        ngx_explicit_memzero(buf, sizeof(buf));

        return NGX_OK;
    }

    *url = *value;

    return NGX_OK;
}
