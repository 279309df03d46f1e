
/*
 * ngx_bar_hls_module: bar_hls_metrics, Prometheus' text exposition
 * format (version 0.0.4).
 *
 *     bar_hls_camera_state{camera="ale",state="streaming"} 1
 *     bar_hls_requests_total{camera="ale",kind="part",code="2xx"} 1234
 *     bar_hls_zone_used_bytes 1822720
 *
 * What the cameras did comes from their slots in the zone, copied under
 * the zone mutex; what was served is counted in the log phase, where the
 * final status is known (a 304 or a 206 comes from nginx's filters after
 * the content handler) and the bytes sent, with atomic additions to
 * counters in the zone: every worker's requests add up, and a worker
 * that dies loses none.  Held requests are counted per worker process
 * slot, by that worker alone, so that a killed worker's are forgotten
 * when its slot is taken again.
 */


#include "ngx_http_bar_hls.h"


/* a metric's line with its labels, and its number, at most */
#define NGX_HTTP_BAR_HLS_LINE       (160 + NGX_INT64_LEN)


typedef struct {
    ngx_str_t                   name;
    bh_state_t                  state;
    time_t                      since;
    uint64_t                    reconnects;
    uint64_t                    bytes_in;
    uint64_t                    frames;
    uint64_t                    parts;
    uint64_t                    segments;
    uint64_t                    stored;
    uint64_t                    snapshots;
    int64_t                     newest;         /* usec, 0: none */
    ngx_uint_t                  held;
    ngx_uint_t                  width;
    ngx_uint_t                  height;
    bh_format_t                 format;
    u_char                      codecs[64];
    ngx_http_bar_hls_counter_t *served;
} ngx_http_bar_hls_metrics_cam_t;


static ngx_int_t ngx_http_bar_hls_log_handler(ngx_http_request_t *r);
static void ngx_http_bar_hls_metrics_copy(ngx_http_bar_hls_camera_t *cam,
    ngx_http_bar_hls_metrics_cam_t *mc);
static u_char *ngx_http_bar_hls_family(u_char *p, u_char *last,
    char *name, char *type, char *help);
static u_char *ngx_http_bar_hls_served(u_char *p, u_char *last,
    char *metric, ngx_str_t *camera, ngx_http_bar_hls_counter_t *counters,
    char **kinds, ngx_uint_t n, ngx_uint_t bytes);
static u_char *ngx_http_bar_hls_label(u_char *p, u_char *last, u_char *s,
    size_t len);


static char *ngx_http_bar_hls_kinds[] = {
    "playlist", "multivariant", "init", "segment", "part", "snapshot",
    "page"
};

static char *ngx_http_bar_hls_other_kinds[] = { "overview", "other" };

static bh_state_t  ngx_http_bar_hls_states[] = {
    BH_STATE_CONNECTING, BH_STATE_STREAMING, BH_STATE_BACKOFF,
    BH_STATE_ERROR, BH_STATE_LIMITED
};


/* postconfiguration: the log phase counts what bar_hls served */

ngx_int_t
ngx_http_bar_hls_metrics_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_bar_hls_log_handler;

    return NGX_OK;
}


/*
 * Marks the request as one of a camera's (slot) or of none (NULL, kind
 * being an other_e): the log phase counts it.
 */

ngx_int_t
ngx_http_bar_hls_count(ngx_http_request_t *r, ngx_http_bar_hls_slot_t *slot,
    ngx_uint_t kind)
{
    ngx_http_bar_hls_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_bar_hls_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_bar_hls_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_bar_hls_module);
    }

    ctx->slot = slot;
    ctx->kind = kind;

    return NGX_OK;
}


static ngx_int_t
ngx_http_bar_hls_log_handler(ngx_http_request_t *r)
{
    off_t                          sent;
    ngx_uint_t                     status, code;
    ngx_http_bar_hls_ctx_t        *ctx;
    ngx_http_bar_hls_counter_t    *c;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_bar_hls_module);

    if (ctx == NULL) {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status < 100 || status > 599) {
        return NGX_OK;
    }

    code = status / 100 - 1;

    if (ctx->slot != NULL) {
        c = &ctx->slot->served[ctx->kind];

    } else {
        bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);

        if (bmcf->sh == NULL) {
            return NGX_OK;
        }

        c = &bmcf->sh->others[ctx->kind];
    }

    /* the body, as $body_bytes_sent */

    sent = r->connection->sent - r->header_size;

    (void) ngx_atomic_fetch_add(&c->requests[code], 1);

    if (sent > 0) {
        (void) ngx_atomic_fetch_add(&c->bytes[code], (ngx_atomic_int_t) sent);
    }

    return NGX_OK;
}


/* this worker holds n more (or fewer) requests for the camera */

void
ngx_http_bar_hls_held(ngx_http_bar_hls_camera_t *cam, ngx_int_t n)
{
    volatile uint32_t  *held;

    if (ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES) {
        return;
    }

    held = &cam->slot->held[ngx_process_slot];
    *held = *held + n;
}


/*
 * A new worker in a process slot: whatever a dead worker there held is
 * gone with it.
 */

void
ngx_http_bar_hls_held_reset(ngx_http_bar_hls_main_conf_t *bmcf)
{
    uint32_t                  i;
    bh_store_t               *store;
    ngx_http_bar_hls_slot_t  *slot;

    if (ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES) {
        return;
    }

    store = &bmcf->sh->store;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    for (i = 0; i < store->nstreams; i++) {
        slot = ngx_http_bar_hls_slot_of(store->streams[i]);
        slot->held[ngx_process_slot] = 0;
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);
}


ngx_int_t
ngx_http_bar_hls_metrics_handler(ngx_http_request_t *r)
{
    u_char                          *p, *last;
    size_t                           size, zsize, zfree;
    int64_t                          now;
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_uint_t                       i, j, n;
    ngx_http_bar_hls_camera_t       *cam;
    ngx_http_bar_hls_metrics_cam_t  *mc;
    ngx_http_bar_hls_main_conf_t    *bmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_bar_hls_module);
    cam = bmcf->cameras.elts;
    n = (bmcf->shpool != NULL) ? bmcf->cameras.nelts : 0;

    mc = ngx_pcalloc(r->pool, (n + 1) * sizeof(ngx_http_bar_hls_metrics_cam_t));
    if (mc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    zsize = 0;
    zfree = 0;

    if (bmcf->shpool != NULL) {
        ngx_shmtx_lock(&bmcf->shpool->mutex);

        for (i = 0; i < n; i++) {
            ngx_http_bar_hls_metrics_copy(&cam[i], &mc[i]);
        }

        zfree = bmcf->shpool->pfree * ngx_pagesize;

        ngx_shmtx_unlock(&bmcf->shpool->mutex);

        zsize = bmcf->shm_zone->shm.size;
    }

    /* a line per series, the families' HELP and TYPE lines */

    size = 40 * 2 * NGX_HTTP_BAR_HLS_LINE;

    for (i = 0; i < n; i++) {
        size += (20 + 4 * NGX_HTTP_BAR_HLS_KINDS * NGX_HTTP_BAR_HLS_CODES)
                * (NGX_HTTP_BAR_HLS_LINE + cam[i].name.len);
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    last = b->end;
    now = (int64_t) ngx_time() * BH_USEC;

    p = ngx_http_bar_hls_family(p, last, "camera_state", "gauge",
                                "1 for the state the camera is in "
                                "(bar_hls_status says why)");

    for (i = 0; i < n; i++) {
        for (j = 0; j < sizeof(ngx_http_bar_hls_states)
                        / sizeof(bh_state_t); j++)
        {
            p = ngx_slprintf(p, last, "bar_hls_camera_state{camera=\"%V\","
                             "state=\"%s\"} %d\n", &mc[i].name,
                             bh_state_text(ngx_http_bar_hls_states[j]),
                             mc[i].state == ngx_http_bar_hls_states[j]);
        }
    }

    p = ngx_http_bar_hls_family(p, last, "camera_state_since_seconds",
                                "gauge", "when the camera entered its "
                                "state, Unix time");

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "bar_hls_camera_state_since_seconds"
                         "{camera=\"%V\"} %T\n", &mc[i].name, mc[i].since);
    }

    p = ngx_http_bar_hls_family(p, last, "camera_info", "gauge",
                                "what the camera sends, as its last init "
                                "segment says");

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "bar_hls_camera_info{camera=\"%V\","
                         "codecs=\"", &mc[i].name);
        p = ngx_http_bar_hls_label(p, last, mc[i].codecs,
                                   ngx_strlen(mc[i].codecs));
        p = ngx_slprintf(p, last, "\",width=\"%ui\",height=\"%ui\","
                         "variant=\"%s\"} 1\n", mc[i].width, mc[i].height,
                         mc[i].format == BH_FORMAT_FMP4 ? "fmp4" : "mpegts");
    }

#define ngx_http_bar_hls_series(metric, type, help, fmt, field)             \
    p = ngx_http_bar_hls_family(p, last, metric, type, help);               \
    for (i = 0; i < n; i++) {                                               \
        p = ngx_slprintf(p, last, "bar_hls_" metric "{camera=\"%V\"} " fmt  \
                         "\n", &mc[i].name, mc[i].field);                   \
    }

    ngx_http_bar_hls_series("camera_reconnects_total", "counter",
                            "RTSP sessions started again", "%uL",
                            reconnects);
    ngx_http_bar_hls_series("camera_received_bytes_total", "counter",
                            "bytes of media received from the camera",
                            "%uL", bytes_in);
    ngx_http_bar_hls_series("camera_frames_total", "counter",
                            "video frames published", "%uL", frames);
    ngx_http_bar_hls_series("parts_total", "counter",
                            "parts published", "%uL", parts);
    ngx_http_bar_hls_series("segments_total", "counter",
                            "segments completed", "%uL", segments);
    ngx_http_bar_hls_series("stored_bytes", "gauge",
                            "bytes of the camera's media held in the zone",
                            "%uL", stored);
    ngx_http_bar_hls_series("held_requests", "gauge",
                            "blocking requests waiting for the camera's "
                            "next part", "%ui", held);
    ngx_http_bar_hls_series("snapshots_total", "counter",
                            "snapshots made (JPEG pictures of keyframes)",
                            "%uL", snapshots);

#undef ngx_http_bar_hls_series

    p = ngx_http_bar_hls_family(p, last, "newest_part_age_seconds", "gauge",
                                "time since the end of the newest part "
                                "(none before the first)");

    for (i = 0; i < n; i++) {
        if (mc[i].newest != 0) {
            p = ngx_slprintf(p, last, "bar_hls_newest_part_age_seconds"
                             "{camera=\"%V\"} %.3f\n", &mc[i].name,
                             (double) ngx_max(now - mc[i].newest, 0)
                             / BH_USEC);
        }
    }

    p = ngx_http_bar_hls_family(p, last, "requests_total", "counter",
                                "requests answered, by what they asked for "
                                "and status class");

    for (i = 0; i < n; i++) {
        p = ngx_http_bar_hls_served(p, last, "requests_total", &mc[i].name,
                                    mc[i].served, ngx_http_bar_hls_kinds,
                                    NGX_HTTP_BAR_HLS_KINDS, 0);
    }

    p = ngx_http_bar_hls_family(p, last, "response_bytes_total", "counter",
                                "bytes of response bodies sent, by what "
                                "was asked for and status class");

    for (i = 0; i < n; i++) {
        p = ngx_http_bar_hls_served(p, last, "response_bytes_total",
                                    &mc[i].name, mc[i].served,
                                    ngx_http_bar_hls_kinds,
                                    NGX_HTTP_BAR_HLS_KINDS, 1);
    }

    if (bmcf->sh != NULL) {
        p = ngx_http_bar_hls_family(p, last, "other_requests_total",
                                    "counter", "requests of no camera: the "
                                    "overview page, unknown names, "
                                    "preflights");
        p = ngx_http_bar_hls_served(p, last, "other_requests_total", NULL,
                                    bmcf->sh->others,
                                    ngx_http_bar_hls_other_kinds,
                                    NGX_HTTP_BAR_HLS_OTHERS, 0);

        p = ngx_http_bar_hls_family(p, last, "other_response_bytes_total",
                                    "counter", "bytes of response bodies "
                                    "sent for requests of no camera");
        p = ngx_http_bar_hls_served(p, last, "other_response_bytes_total",
                                    NULL, bmcf->sh->others,
                                    ngx_http_bar_hls_other_kinds,
                                    NGX_HTTP_BAR_HLS_OTHERS, 1);
    }

    p = ngx_http_bar_hls_family(p, last, "zone_size_bytes", "gauge",
                                "size of the shared zone");
    p = ngx_slprintf(p, last, "bar_hls_zone_size_bytes %uz\n", zsize);

    p = ngx_http_bar_hls_family(p, last, "zone_used_bytes", "gauge",
                                "pages of the shared zone in use");
    p = ngx_slprintf(p, last, "bar_hls_zone_used_bytes %uz\n",
                     zsize - zfree);

    b->last = p;

    if (ngx_http_bar_hls_header(r, "Cache-Control", (u_char *) "no-store",
                                sizeof("no-store") - 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    return ngx_http_bar_hls_output(r, b);
}


/* called with the zone locked */

static void
ngx_http_bar_hls_metrics_copy(ngx_http_bar_hls_camera_t *cam,
    ngx_http_bar_hls_metrics_cam_t *mc)
{
    ngx_uint_t                i;
    bh_stream_t              *s;
    const bh_part_t          *part;
    ngx_http_bar_hls_slot_t  *slot;

    slot = cam->slot;
    s = &slot->stream;

    mc->name = cam->name;
    mc->state = slot->state;
    mc->since = slot->since;
    mc->reconnects = slot->reconnects;
    mc->bytes_in = slot->bytes_in;
    mc->frames = s->frames_total;
    mc->parts = s->parts_total;
    mc->segments = s->segments_total;
    mc->stored = s->bytes;
    mc->width = s->width;
    mc->height = s->height;
    mc->format = cam->format;
    mc->served = slot->served;
    mc->snapshots = s->snapshots_total;

    (void) ngx_cpystrn(mc->codecs, (u_char *) s->codecs,
                       ngx_min(sizeof(mc->codecs), sizeof(s->codecs)));

    part = (s->next_part > 0) ? bh_stream_part(s, s->next_part - 1) : NULL;

    if (part != NULL) {
        mc->newest = part->wallclock + part->duration;
    }

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        mc->held += slot->held[i];
    }
}


static u_char *
ngx_http_bar_hls_family(u_char *p, u_char *last, char *name, char *type,
    char *help)
{
    return ngx_slprintf(p, last, "# HELP bar_hls_%s %s\n"
                        "# TYPE bar_hls_%s %s\n", name, help, name, type);
}


/*
 * The non-zero request (or byte) counters of kinds n, after a label such
 * as camera="ale", (or none): bar_hls_<metric>{...,kind="",code="2xx"}.
 */

static u_char *
ngx_http_bar_hls_served(u_char *p, u_char *last, char *metric,
    ngx_str_t *camera, ngx_http_bar_hls_counter_t *counters, char **kinds,
    ngx_uint_t n, ngx_uint_t bytes)
{
    ngx_uint_t          k, c;
    ngx_atomic_uint_t   v;

    for (k = 0; k < n; k++) {
        for (c = 0; c < NGX_HTTP_BAR_HLS_CODES; c++) {
            v = bytes ? counters[k].bytes[c] : counters[k].requests[c];

            if (v == 0) {
                continue;
            }

            p = ngx_slprintf(p, last, "bar_hls_%s{", metric);

            if (camera != NULL) {
                p = ngx_slprintf(p, last, "camera=\"%V\",", camera);
            }

            p = ngx_slprintf(p, last, "kind=\"%s\",code=\"%uixx\"} %uA\n",
                             kinds[k], c + 1, v);
        }
    }

    return p;
}


/* a label value: \, " and new lines escaped */

static u_char *
ngx_http_bar_hls_label(u_char *p, u_char *last, u_char *s, size_t len)
{
    while (len-- && p + 2 <= last) {
        switch (*s) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = *s;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = *s;
        }

        s++;
    }

    return p;
}
