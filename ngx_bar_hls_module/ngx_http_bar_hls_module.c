
/*
 * ngx_bar_hls_module: directives and the module definition.
 *
 *     bar_hls_zone SIZE;
 *     bar_hls_camera NAME URL|env:VAR|file:PATH [segment=2s]
 *                    [part=200ms|off] [window=6] [transport=tcp|udp]
 *                    [timeout=10s] [variant=fmp4|mpegts] [bitrate=2m]
 *                    [max_bitrate=20m];
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


static void *ngx_http_bar_hls_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_bar_hls_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_bar_hls_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_bar_hls_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_bar_hls_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_bar_hls_positive(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_bar_hls_set_handler(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_bar_hls_zone_resized(ngx_conf_t *cf,
    ngx_str_t *name, size_t size);
static ngx_int_t ngx_http_bar_hls_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_bar_hls_init_process(ngx_cycle_t *cycle);
static void ngx_http_bar_hls_collect_handler(ngx_event_t *ev);
static void ngx_http_bar_hls_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_t  ngx_http_bar_hls_positive_post =
    { ngx_http_bar_hls_positive };


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
      &ngx_http_bar_hls_positive_post },

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
    ngx_http_bar_hls_init_module,          /* init module */
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

    ssize_t              size;
    ngx_str_t           *value, name;
    ngx_pool_cleanup_t  *cln;

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

    if (ngx_http_bar_hls_zone_resized(cf, &name, size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    bmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_bar_hls_module);
    if (bmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    bmcf->shm_zone->init = ngx_http_bar_hls_init_zone;
    bmcf->shm_zone->data = bmcf;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_bar_hls_zone_cleanup;
    cln->data = bmcf;

    return NGX_CONF_OK;
}








/*
 * A zone of another size is a new zone: the workers of the old and the
 * new configuration would hold the cameras' leases in different zones and
 * pull every camera twice, which cameras such as TP-Link's refuse.  A
 * reload cannot resize it; a restart can.
 */

static ngx_int_t
ngx_http_bar_hls_zone_resized(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_uint_t        i;
    ngx_cycle_t      *old;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    old = cf->cycle->old_cycle;

    if (old == NULL || ngx_is_init_cycle(old)) {
        return NGX_OK;
    }

    part = &old->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_OK;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == &ngx_http_bar_hls_module
            && zone[i].shm.name.len == name->len
            && ngx_strncmp(zone[i].shm.name.data, name->data, name->len) == 0
            && zone[i].shm.size != size)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "bar_hls: \"bar_hls_zone\" cannot change "
                               "from %uzk to %uzk on reload, it would pull "
                               "every camera twice: restart nginx to resize "
                               "it", zone[i].shm.size / 1024, size / 1024);
            return NGX_ERROR;
        }
    }
}


/* a time that must not be 0 (a request held for no time is not held) */

static char *
ngx_http_bar_hls_positive(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    if (*ms == 0) {
        return "must be more than 0";
    }

    return NGX_CONF_OK;
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


/*
 * The new cycle is committed.  nginx itself stops accepting connections
 * after a reload with master_process off: say so, since the cameras stop
 * with it.
 */

static ngx_int_t
ngx_http_bar_hls_init_module(ngx_cycle_t *cycle)
{
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_bar_hls_module);

    if (bmcf == NULL || bmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    if (ngx_process == NGX_PROCESS_SINGLE && bmcf->cameras.nelts
        && cycle->old_cycle != NULL
        && !ngx_is_init_cycle(cycle->old_cycle))
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "bar_hls: nginx does not accept connections after a "
                      "reload with \"master_process off\", and its cameras "
                      "stop: restart it instead");
    }

    return ngx_http_bar_hls_zone_commit(cycle);
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

    if (bmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    ngx_http_bar_hls_register_worker(bmcf);

    if (ngx_http_bar_hls_init_wait(cycle) != NGX_OK) {
        return NGX_ERROR;
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
    ngx_http_bar_hls_exit_wait(cycle);
}
