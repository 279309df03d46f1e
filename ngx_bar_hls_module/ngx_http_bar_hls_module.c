
/*
 * ngx_bar_hls_module: directives and the module definition.
 *
 *     bar_hls_zone SIZE;
 *     bar_hls_camera NAME URL|env:VAR|file:PATH [segment=2s]
 *                    [part=200ms|off] [window=6] [transport=tcp|udp]
 *                    [timeout=10s] [variant=fmp4|mpegts] [bitrate=2m]
 *                    [max_bitrate=20m] [audio=auto|copy|aac|off];
 *
 *     location /live/ {
 *         bar_hls;
 *         bar_hls_allow_origin off | * | ORIGIN ...;     default *
 *         bar_hls_playlist_max_age TIME;          default half a segment
 *         bar_hls_cdn_cache_control on|off;               default off
 *         bar_hls_block_timeout TIME;                     default 10s
 *     }
 *     location = /live/status { bar_hls_status; }
 */


#include "ngx_http_bar_hls.h"


#define NGX_HTTP_BAR_HLS_ZONE_NAME      "bar_hls"
#define NGX_HTTP_BAR_HLS_COLLECT        5000


/* audio=, in the order of bh_audio_mode_t */
static ngx_str_t  ngx_http_bar_hls_audio_modes[] = {
    ngx_string("auto"),
    ngx_string("copy"),
    ngx_string("aac"),
    ngx_string("off"),
    ngx_null_string
};


static void *ngx_http_bar_hls_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_bar_hls_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_bar_hls_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_bar_hls_allow_origin(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static char *ngx_http_bar_hls_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_bar_hls_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_bar_hls_camera(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_bar_hls_camera_param(ngx_conf_t *cf,
    ngx_http_bar_hls_camera_t *cam, ngx_str_t *value);
static ngx_int_t ngx_http_bar_hls_resolve_url(ngx_conf_t *cf,
    ngx_str_t *value, ngx_str_t *url);
static char *ngx_http_bar_hls_set_handler(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_bar_hls_init_process(ngx_cycle_t *cycle);
static void ngx_http_bar_hls_collect_handler(ngx_event_t *ev);
static void ngx_http_bar_hls_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_bar_hls_commands[] = {

    { ngx_string("bar_hls_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_bar_hls_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bar_hls_camera"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_bar_hls_camera,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bar_hls"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_bar_hls_set_handler,
      0,
      0,
      ngx_http_bar_hls_handler },

    { ngx_string("bar_hls_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_bar_hls_set_handler,
      0,
      0,
      ngx_http_bar_hls_status_handler },

    { ngx_string("bar_hls_allow_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_bar_hls_allow_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("bar_hls_playlist_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_bar_hls_loc_conf_t, playlist_max_age),
      NULL },

    { ngx_string("bar_hls_cdn_cache_control"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_bar_hls_loc_conf_t, cdn_cache_control),
      NULL },

    { ngx_string("bar_hls_block_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_bar_hls_loc_conf_t, block_timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_bar_hls_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_bar_hls_create_main_conf,     /* create main configuration */
    ngx_http_bar_hls_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_bar_hls_create_loc_conf,      /* create location configuration */
    ngx_http_bar_hls_merge_loc_conf        /* merge location configuration */
};


static ngx_event_t  ngx_http_bar_hls_collect_event;


ngx_module_t  ngx_http_bar_hls_module = {
    NGX_MODULE_V1,
    &ngx_http_bar_hls_module_ctx,          /* module context */
    ngx_http_bar_hls_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_bar_hls_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_bar_hls_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_bar_hls_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_bar_hls_main_conf_t));
    if (bmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&bmcf->cameras, cf->pool, 4,
                       sizeof(ngx_http_bar_hls_camera_t))
        != NGX_OK)
    {
        return NULL;
    }

    return bmcf;
}


static void *
ngx_http_bar_hls_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_bar_hls_loc_conf_t  *blcf;

    blcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_bar_hls_loc_conf_t));
    if (blcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     blcf->allow_origin = NULL;
     */

    blcf->allow_origin = NGX_CONF_UNSET_PTR;
    blcf->playlist_max_age = NGX_CONF_UNSET_MSEC;
    blcf->block_timeout = NGX_CONF_UNSET_MSEC;
    blcf->cdn_cache_control = NGX_CONF_UNSET;

    return blcf;
}


static char *
ngx_http_bar_hls_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_bar_hls_loc_conf_t *prev = parent;
    ngx_http_bar_hls_loc_conf_t *conf = child;

    ngx_str_t  *star;

    if (conf->allow_origin == NGX_CONF_UNSET_PTR) {
        conf->allow_origin = prev->allow_origin;
    }

    if (conf->allow_origin == NGX_CONF_UNSET_PTR) {

        /* a public stream is usually embedded by a site on another origin */

        conf->allow_origin = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
        if (conf->allow_origin == NULL) {
            return NGX_CONF_ERROR;
        }

        star = ngx_array_push(conf->allow_origin);
        if (star == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(star, "*");
    }

    ngx_conf_merge_msec_value(conf->playlist_max_age,
                              prev->playlist_max_age, NGX_CONF_UNSET_MSEC);
    ngx_conf_merge_msec_value(conf->block_timeout, prev->block_timeout,
                              10000);
    ngx_conf_merge_value(conf->cdn_cache_control, prev->cdn_cache_control, 0);

    return NGX_CONF_OK;
}


static char *
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

            if (v->len > 8 && ngx_strncmp(v->data, "https://", 8) == 0) {
                host = v->data + 8;

            } else if (v->len > 7 && ngx_strncmp(v->data, "http://", 7) == 0)
            {
                host = v->data + 7;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "bar_hls: invalid origin \"%V\": use *, "
                                   "off or origins such as "
                                   "https://example.org", v);
                return NGX_CONF_ERROR;
            }

            if (ngx_strlchr(host, v->data + v->len, '/') != NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "bar_hls: invalid origin \"%V\": an "
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


static char *
ngx_http_bar_hls_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_bar_hls_main_conf_t *bmcf = conf;

    size_t                      need;
    ngx_uint_t                  i;
    ngx_http_bar_hls_camera_t  *cam;

    if (bmcf->cameras.nelts == 0) {
        return NGX_CONF_OK;
    }

    if (bmcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "bar_hls: \"bar_hls_camera\" needs \"bar_hls_zone\" "
                      "in the http block");
        return NGX_CONF_ERROR;
    }

    need = 64 * 1024;
    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        need += ngx_http_bar_hls_zone_estimate(&cam[i]);
    }

    if (bmcf->shm_zone->shm.size < need) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "bar_hls: \"bar_hls_zone %uzk\" is too small for %ui "
                      "camera(s): at least %uzk is needed for their "
                      "windows at the configured bitrates",
                      bmcf->shm_zone->shm.size / 1024, bmcf->cameras.nelts,
                      need / 1024 + 1);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_bar_hls_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_bar_hls_main_conf_t *bmcf = conf;

    ssize_t     size;
    ngx_str_t  *value, name;

    if (bmcf->shm_zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bar_hls: zone size \"%V\" is too small",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, NGX_HTTP_BAR_HLS_ZONE_NAME);

    bmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_bar_hls_module);
    if (bmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    bmcf->shm_zone->init = ngx_http_bar_hls_init_zone;
    bmcf->shm_zone->data = bmcf;

    return NGX_CONF_OK;
}


static char *
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


/* bar_hls and bar_hls_status: the handler is the command's post */

static char *
ngx_http_bar_hls_set_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) cmd->post;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_bar_hls_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_bar_hls_module);

    if (bmcf == NULL) {
        return NGX_OK;
    }

    /* the array no longer moves: queue heads may point to themselves */

    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        ngx_queue_init(&cam[i].waiters);
    }

    if (bmcf->shm_zone != NULL
        && (ngx_process == NGX_PROCESS_SINGLE || ngx_worker == 0))
    {
        ngx_http_bar_hls_collect_event.handler =
                                              ngx_http_bar_hls_collect_handler;
        ngx_http_bar_hls_collect_event.data = bmcf;
        ngx_http_bar_hls_collect_event.log = cycle->log;
        ngx_http_bar_hls_collect_event.cancelable = 1;

        ngx_add_timer(&ngx_http_bar_hls_collect_event,
                      NGX_HTTP_BAR_HLS_COLLECT);
    }

    return ngx_http_bar_hls_init_pulls(cycle);
}


static void
ngx_http_bar_hls_collect_handler(ngx_event_t *ev)
{
    if (ngx_exiting) {
        return;
    }

    ngx_http_bar_hls_collect(ev->data);

    ngx_add_timer(ev, NGX_HTTP_BAR_HLS_COLLECT);
}


static void
ngx_http_bar_hls_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_bar_hls_exit_pulls(cycle);
}
