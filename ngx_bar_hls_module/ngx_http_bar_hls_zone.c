
/*
 * ngx_bar_hls_module: the shared zone.
 *
 * One slab zone holds the store (core/bh_store.c) and every camera's
 * slot in it: its media, who pulls it (a lease) and its state.  The zone
 * survives reloads (same name and size), and so do the slots, found again
 * by camera name, with their sequence numbers.  Only the owner of a
 * camera's lease changes its media, from its event loop, under the zone
 * mutex; any worker reads it under the same mutex.
 *
 * A reload may still fail after init_zone() ran: that only finds the
 * slots, and makes new ones for new cameras.  What changes the running
 * cameras waits until the new cycle is committed: init_module() marks the
 * slots of the new configuration, and a camera's new window, part or
 * format is applied by its new owner when it takes the lease.
 */


#include "ngx_http_bar_hls.h"


static void *ngx_http_bar_hls_slab_alloc(void *ctx, size_t size);
static void ngx_http_bar_hls_slab_free(void *ctx, void *p);
static ngx_http_bar_hls_slot_t *ngx_http_bar_hls_slot(
    ngx_http_bar_hls_main_conf_t *bmcf, ngx_http_bar_hls_camera_t *cam);
static void ngx_http_bar_hls_free_slots(ngx_http_bar_hls_main_conf_t *bmcf,
    uint64_t generation, ngx_uint_t keep_configured);
static ngx_int_t ngx_http_bar_hls_configured(
    ngx_http_bar_hls_main_conf_t *bmcf, bh_stream_t *s);
static ngx_int_t ngx_http_bar_hls_old_workers(
    ngx_http_bar_hls_main_conf_t *bmcf, uint64_t generation);


ngx_int_t
ngx_http_bar_hls_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_bar_hls_main_conf_t  *obmcf = data;

    size_t                         len;
    ngx_uint_t                     i;
    ngx_slab_pool_t               *shpool;
    ngx_http_bar_hls_slot_t       *slot;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    bmcf->shpool = shpool;
    bmcf->alloc.alloc = ngx_http_bar_hls_slab_alloc;
    bmcf->alloc.free = ngx_http_bar_hls_slab_free;
    bmcf->alloc.ctx = shpool;

    /* a zone of the last configuration: adopt it, change nothing */

    if (obmcf != NULL) {
        bmcf->sh = obmcf->sh;

    } else if (shm_zone->shm.exists) {
        bmcf->sh = shpool->data;

    } else {
        bmcf->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_bar_hls_shctx_t));
        if (bmcf->sh == NULL) {
            return NGX_ERROR;
        }

        bh_store_init(&bmcf->sh->store, 0);
        shpool->data = bmcf->sh;

        len = sizeof(" in bar_hls zone \"\"") + shm_zone->shm.name.len;

        shpool->log_ctx = ngx_slab_alloc(shpool, len);
        if (shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(shpool->log_ctx, " in bar_hls zone \"%V\"%Z",
                    &shm_zone->shm.name);

        shpool->log_nomem = 0;
    }

    /* find each configured camera's slot, or make one */

    cam = bmcf->cameras.elts;

    ngx_shmtx_lock(&shpool->mutex);

    /*
     * The running workers must not collect until this reload is committed
     * or has failed: the master may take seconds more (a listen retried),
     * and the slots found or made here have no owner yet.
     */

    if (obmcf != NULL) {
        bmcf->sh->loading = 1;
        bmcf->loading = 1;

        /*
         * What no running worker lists any more goes now, unless this
         * configuration lists it again: the workers' own collection
         * never runs when reloads come faster than it.
         */

        if (!ngx_http_bar_hls_old_workers(bmcf, bmcf->sh->generation)) {
            ngx_http_bar_hls_free_slots(bmcf, bmcf->sh->generation, 1);
        }
    }

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        slot = ngx_http_bar_hls_slot(bmcf, &cam[i]);

        if (slot == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                          "bar_hls: camera \"%V\": no room in the zone",
                          &cam[i].name);
            return NGX_ERROR;
        }

        cam[i].slot = slot;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


static void *
ngx_http_bar_hls_slab_alloc(void *ctx, size_t size)
{
    return ngx_slab_alloc_locked(ctx, size);
}


static void
ngx_http_bar_hls_slab_free(void *ctx, void *p)
{
    ngx_slab_free_locked(ctx, p);
}


/* called with the zone locked */

static ngx_http_bar_hls_slot_t *
ngx_http_bar_hls_slot(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam)
{
    bh_stream_t              *s;
    ngx_http_bar_hls_slot_t  *slot;

    s = bh_store_find(&bmcf->sh->store, (char *) cam->name.data,
                      cam->name.len);

    if (s != NULL) {
        return ngx_http_bar_hls_slot_of(s);
    }

    if (bmcf->sh->store.nstreams == BH_MAX_STREAMS) {
        return NULL;
    }

    slot = ngx_slab_calloc_locked(bmcf->shpool,
                                  sizeof(ngx_http_bar_hls_slot_t));
    if (slot == NULL) {
        return NULL;
    }

    bh_stream_init(&slot->stream, (char *) cam->name.data, cam->name.len,
                   (uint64_t) ngx_http_bar_hls_usec() / 1000);

    slot->state = BH_STATE_CONNECTING;
    slot->since = ngx_time();

    (void) bh_store_add(&bmcf->sh->store, &slot->stream);

    return slot;
}


/*
 * The new cycle is committed (init_module): its cameras' slots belong to
 * the newest configuration; the zone's bound on a part follows the number
 * of cameras.
 */

ngx_int_t
ngx_http_bar_hls_zone_commit(ngx_cycle_t *cycle)
{
    size_t                         part_max;
    ngx_uint_t                     i;
    ngx_http_bar_hls_camera_t     *cam;
    ngx_http_bar_hls_main_conf_t  *bmcf;

    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_bar_hls_module);

    if (bmcf == NULL || bmcf->sh == NULL) {
        return NGX_OK;
    }

    /* a part may take at most half of a camera's share of the zone */

    part_max = bmcf->shm_zone->shm.size / 2
               / ngx_max(bmcf->cameras.nelts, 1);
    part_max = ngx_min(part_max, NGX_HTTP_BAR_HLS_MAX_PART);

    cam = bmcf->cameras.elts;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    bmcf->generation = ++bmcf->sh->generation;
    bmcf->sh->loading = 0;
    bmcf->sh->store.part_max = part_max;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        cam[i].slot->generation = bmcf->generation;
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    return NGX_OK;
}


/*
 * The cycle's pool is destroyed: after a reload that failed, the zone is
 * the running configuration's again, and its workers may collect.  A
 * committed cycle's pool goes at a later reload, which marked the zone
 * itself.
 */

void
ngx_http_bar_hls_zone_cleanup(void *data)
{
    ngx_http_bar_hls_main_conf_t  *bmcf = data;

    if (!bmcf->loading || bmcf->generation != 0) {
        return;
    }

    ngx_shmtx_lock(&bmcf->shpool->mutex);
    bmcf->sh->loading = 0;
    ngx_shmtx_unlock(&bmcf->shpool->mutex);
}


void
ngx_http_bar_hls_stream_conf(ngx_http_bar_hls_camera_t *cam,
    bh_stream_conf_t *conf)
{
    ngx_memzero(conf, sizeof(bh_stream_conf_t));

    conf->format = cam->format;
    conf->window = cam->window;
    conf->target = (int64_t) cam->segment * 1000;
    conf->part_target = (int64_t) cam->part * 1000;

    /* without LL-HLS, parts still cut segments every 500 ms */

    conf->part = (int64_t) (cam->part ? cam->part : 500) * 1000;
}


size_t
ngx_http_bar_hls_zone_estimate(ngx_http_bar_hls_camera_t *cam)
{
    size_t            media, meta, nsegs, per;
    bh_stream_conf_t  conf;

    ngx_http_bar_hls_stream_conf(cam, &conf);

    nsegs = conf.window + BH_KEPT_SEGMENTS + 1;
    per = ngx_min((conf.target / conf.part + 2) * 8, BH_MAX_SEGMENT_PARTS);

    media = (nsegs - 1) * cam->segment / 1000 * (cam->bitrate / 8);
    meta = sizeof(ngx_http_bar_hls_slot_t) + nsegs * sizeof(bh_segment_t)
           + nsegs * per * sizeof(bh_part_t);

    return media + meta + 64 * 1024;
}


ngx_msec_t
ngx_http_bar_hls_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (ngx_msec_t) (tp->sec * 1000 + tp->msec);
}


int64_t
ngx_http_bar_hls_usec(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000000 + (int64_t) tp->msec * 1000;
}


/*
 * Frees the slots of cameras that are no longer configured, once the
 * worker that pulled them has let them go and no worker of an older
 * configuration, which may still serve them, is left.  Only the newest
 * configuration collects: a reload that failed must not, nor one still
 * being loaded.
 */

void
ngx_http_bar_hls_collect(ngx_http_bar_hls_main_conf_t *bmcf)
{
    ngx_shmtx_lock(&bmcf->shpool->mutex);

    if (bmcf->generation == bmcf->sh->generation
        && !bmcf->sh->loading
        && !ngx_http_bar_hls_old_workers(bmcf, bmcf->generation))
    {
        ngx_http_bar_hls_free_slots(bmcf, bmcf->generation, 0);
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);
}


/*
 * Frees the slots listed by no configuration since "generation" (which no
 * worker still running lists), whose puller has let them go; called with
 * the zone locked.
 */

static void
ngx_http_bar_hls_free_slots(ngx_http_bar_hls_main_conf_t *bmcf,
    uint64_t generation, ngx_uint_t keep_configured)
{
    uint32_t                  i;
    ngx_msec_t                now;
    bh_store_t               *store;
    ngx_http_bar_hls_slot_t  *slot;

    store = &bmcf->sh->store;
    now = ngx_http_bar_hls_now();

    for (i = 0; i < store->nstreams; /* void */ ) {
        slot = ngx_http_bar_hls_slot_of(store->streams[i]);

        if (slot->generation >= generation
            || (slot->owner != 0 && ngx_http_bar_hls_alive(slot->owner)
                && (ngx_msec_int_t) (now - slot->heartbeat)
                   <= NGX_HTTP_BAR_HLS_LEASE)
            || (keep_configured
                && ngx_http_bar_hls_configured(bmcf, &slot->stream)))
        {
            i++;
            continue;
        }

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "bar_hls: camera \"%*s\" is no longer configured, "
                      "its media is freed", slot->stream.name_len,
                      slot->stream.name);

        bh_stream_clear(&bmcf->alloc, &slot->stream);
        bh_store_remove(store, &slot->stream);
        ngx_slab_free_locked(bmcf->shpool, slot);
    }
}


static ngx_int_t
ngx_http_bar_hls_configured(ngx_http_bar_hls_main_conf_t *bmcf,
    bh_stream_t *s)
{
    ngx_uint_t                  i;
    ngx_http_bar_hls_camera_t  *cam;

    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        if (cam[i].name.len == s->name_len
            && ngx_memcmp(cam[i].name.data, s->name, s->name_len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Is a worker of a configuration older than "generation" still running?
 * Each worker writes its pid and configuration into the zone's table when
 * it starts (ngx_http_bar_hls_register_worker()).
 */

static ngx_int_t
ngx_http_bar_hls_old_workers(ngx_http_bar_hls_main_conf_t *bmcf,
    uint64_t generation)
{
    ngx_uint_t                 i;
    ngx_http_bar_hls_shctx_t  *sh;

    sh = bmcf->sh;

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        if (sh->workers[i].pid != 0
            && sh->workers[i].generation < generation
            && ngx_http_bar_hls_alive(sh->workers[i].pid))
        {
            return 1;
        }
    }

    return 0;
}


void
ngx_http_bar_hls_register_worker(ngx_http_bar_hls_main_conf_t *bmcf)
{
    ngx_uint_t                 i, free;
    ngx_http_bar_hls_shctx_t  *sh;

    sh = bmcf->sh;
    free = NGX_MAX_PROCESSES;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        if (sh->workers[i].pid == ngx_pid) {
            free = i;
            break;
        }

        if (free == NGX_MAX_PROCESSES
            && (sh->workers[i].pid == 0
                || !ngx_http_bar_hls_alive(sh->workers[i].pid)))
        {
            free = i;
        }
    }

    if (free < NGX_MAX_PROCESSES) {
        sh->workers[free].pid = ngx_pid;
        sh->workers[free].generation = bmcf->generation;
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);
}


ngx_http_bar_hls_camera_t *
ngx_http_bar_hls_find(ngx_http_bar_hls_main_conf_t *bmcf, u_char *name,
    size_t len)
{
    ngx_uint_t                  i;
    ngx_http_bar_hls_camera_t  *cam;

    cam = bmcf->cameras.elts;

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        if (cam[i].name.len == len
            && ngx_strncmp(cam[i].name.data, name, len) == 0)
        {
            return cam[i].slot != NULL ? &cam[i] : NULL;
        }
    }

    return NULL;
}
