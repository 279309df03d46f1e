
/*
 * ngx_bar_hls_module: the shared zone.
 *
 * One slab zone holds every camera's slot: ownership, status, the init
 * segment, a ring of segments made of parts, and the rendered playlist.
 * The zone survives reloads (same name and size), and so do the slots,
 * found again by camera name, with their sequence numbers.  Everything is
 * changed under the zone mutex by the owning worker's event loop only;
 * any worker reads it under the same mutex.
 */


#include "ngx_http_bar_hls.h"


#define NGX_HTTP_BAR_HLS_LEASE      3000    /* msec without heartbeat */


static ngx_http_bar_hls_slot_t *ngx_http_bar_hls_slot(
    ngx_http_bar_hls_main_conf_t *bmcf, ngx_http_bar_hls_camera_t *cam);
static ngx_int_t ngx_http_bar_hls_slot_media(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot, ngx_http_bar_hls_camera_t *cam);
static void ngx_http_bar_hls_slot_free_media(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot);
static ngx_int_t ngx_http_bar_hls_owned(ngx_http_bar_hls_slot_t *slot,
    uint64_t epoch);
static ngx_int_t ngx_http_bar_hls_publish_init(
    ngx_http_bar_hls_main_conf_t *bmcf, ngx_http_bar_hls_slot_t *slot,
    bh_chunk_t *chunk);
static ngx_int_t ngx_http_bar_hls_publish_part(
    ngx_http_bar_hls_main_conf_t *bmcf, ngx_http_bar_hls_slot_t *slot,
    bh_chunk_t *chunk);
static void ngx_http_bar_hls_close_segment(ngx_http_bar_hls_slot_t *slot);
static void *ngx_http_bar_hls_alloc(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_slot_t *slot, size_t size);
static ngx_int_t ngx_http_bar_hls_evict(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot);
static void ngx_http_bar_hls_free_inits(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot, ngx_uint_t all);
static ngx_int_t ngx_http_bar_hls_render(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot);
static void ngx_http_bar_hls_parts(ngx_http_bar_hls_slot_t *slot,
    ngx_http_bar_hls_segment_t *seg, bh_playlist_part_t *parts,
    bh_playlist_segment_t *out);
static ngx_int_t ngx_http_bar_hls_text(ngx_slab_pool_t *shpool,
    bh_playlist_t *pl, ngx_http_bar_hls_text_t *text);
static void ngx_http_bar_hls_text_free(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_text_t *text);
static ngx_msec_t ngx_http_bar_hls_part(ngx_http_bar_hls_camera_t *cam);
static ngx_msec_t ngx_http_bar_hls_now(void);


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

    if (obmcf != NULL) {
        bmcf->sh = obmcf->sh;

    } else if (shm_zone->shm.exists) {
        bmcf->sh = shpool->data;

    } else {
        bmcf->sh = ngx_slab_calloc(shpool, sizeof(ngx_http_bar_hls_shctx_t));
        if (bmcf->sh == NULL) {
            return NGX_ERROR;
        }

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

    for (i = 0; i < bmcf->cameras.nelts; i++) {
        slot = ngx_http_bar_hls_slot(bmcf, &cam[i]);

        if (slot == NULL
            || ngx_http_bar_hls_slot_media(shpool, slot, &cam[i]) != NGX_OK)
        {
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


static ngx_http_bar_hls_slot_t *
ngx_http_bar_hls_slot(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam)
{
    ngx_uint_t                 i;
    ngx_http_bar_hls_slot_t   *slot;
    ngx_http_bar_hls_shctx_t  *sh;

    sh = bmcf->sh;

    for (i = 0; i < sh->nslots; i++) {
        slot = sh->slots[i];

        if (slot->name_len == cam->name.len
            && ngx_strncmp(slot->name, cam->name.data, cam->name.len) == 0)
        {
            return slot;
        }
    }

    if (sh->nslots == NGX_HTTP_BAR_HLS_MAX_CAMERAS) {
        return NULL;
    }

    slot = ngx_slab_calloc_locked(bmcf->shpool,
                                  sizeof(ngx_http_bar_hls_slot_t));
    if (slot == NULL) {
        return NULL;
    }

    ngx_memcpy(slot->name, cam->name.data, cam->name.len);
    slot->name_len = cam->name.len;
    slot->state = BH_STATE_CONNECTING;
    slot->since = ngx_time();

    /*
     * Segment URLs must never name other bytes than they did before, or a
     * cache in front would serve stale media after a restart: sequence
     * numbers start from the clock, which they never overtake (segments
     * last 500 ms or more).
     */

    slot->first_msn = (uint64_t) ngx_time() * 2;
    slot->next_msn = slot->first_msn;

    sh->slots[sh->nslots++] = slot;

    return slot;
}


/* (re)sizes the rings for the camera's window; called with the lock held */

static ngx_int_t
ngx_http_bar_hls_slot_media(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot, ngx_http_bar_hls_camera_t *cam)
{
    ngx_uint_t  nsegs, nparts;

    nsegs = cam->window + 3;
    nparts = nsegs * (cam->segment / ngx_http_bar_hls_part(cam) + 2) * 4;

    if (slot->segs != NULL && slot->nsegs == nsegs && slot->nparts == nparts
        && slot->format == cam->format)
    {
        slot->target = (int64_t) cam->segment * 1000;
        slot->part_target = (int64_t) cam->part * 1000;
        slot->window = cam->window;
        return NGX_OK;
    }

    slot->target = (int64_t) cam->segment * 1000;
    slot->part_target = (int64_t) cam->part * 1000;
    slot->window = cam->window;
    slot->format = cam->format;
    slot->retired = 0;

    ngx_http_bar_hls_slot_free_media(shpool, slot);

    slot->segs = ngx_slab_calloc_locked(shpool,
                                  nsegs * sizeof(ngx_http_bar_hls_segment_t));
    slot->parts = ngx_slab_calloc_locked(shpool,
                                  nparts * sizeof(ngx_http_bar_hls_part_t));

    if (slot->segs == NULL || slot->parts == NULL) {
        return NGX_ERROR;
    }

    slot->nsegs = nsegs;
    slot->nparts = nparts;

    /* the sequence goes on after the media dropped here */

    slot->first_msn = slot->next_msn + (slot->open ? 1 : 0);
    slot->next_msn = slot->first_msn;
    slot->open = 0;
    slot->discontinuity = 1;
    slot->version++;

    return NGX_OK;
}


static ngx_msec_t
ngx_http_bar_hls_part(ngx_http_bar_hls_camera_t *cam)
{
    /* without LL-HLS, parts still cut segments every 500 ms */

    return cam->part ? cam->part : 500;
}


static void
ngx_http_bar_hls_slot_free_media(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot)
{
    if (slot->segs != NULL) {
        while (ngx_http_bar_hls_evict(shpool, slot) == NGX_OK) {
            /* void */
        }

        ngx_slab_free_locked(shpool, slot->segs);
        slot->segs = NULL;
    }

    if (slot->parts != NULL) {
        ngx_slab_free_locked(shpool, slot->parts);
        slot->parts = NULL;
    }

    ngx_http_bar_hls_text_free(shpool, &slot->playlist);
    ngx_http_bar_hls_text_free(shpool, &slot->delta);
}


static void
ngx_http_bar_hls_text_free(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_text_t *text)
{
    if (text->data != NULL) {
        ngx_slab_free_locked(shpool, text->data);
        text->data = NULL;
        text->len = 0;
    }
}


size_t
ngx_http_bar_hls_zone_estimate(ngx_http_bar_hls_camera_t *cam)
{
    size_t  media, meta;

    media = (cam->window + 3) * cam->segment / 1000 * (cam->bitrate / 8);
    meta = sizeof(ngx_http_bar_hls_slot_t)
           + (cam->window + 3) * sizeof(ngx_http_bar_hls_segment_t)
           + (cam->window + 3) * (cam->segment / ngx_http_bar_hls_part(cam)
                                  + 2) * 4
             * sizeof(ngx_http_bar_hls_part_t);

    return media + meta + 64 * 1024;
}


static ngx_msec_t
ngx_http_bar_hls_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (ngx_msec_t) (tp->sec * 1000 + tp->msec);
}


/*
 * Takes the camera for this process when nobody holds it, or when the
 * holder is dead or silent.  A worker of the previous configuration
 * releases its cameras as it shuts down, so on reload the new owner waits
 * for that instead of opening a second RTSP session.
 */

ngx_int_t
ngx_http_bar_hls_acquire(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t *epoch)
{
    ngx_int_t                 rc;
    ngx_msec_t                now;
    ngx_http_bar_hls_slot_t  *slot;

    slot = cam->slot;
    now = ngx_http_bar_hls_now();
    rc = NGX_AGAIN;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    if (slot->owner == 0
        || slot->owner == ngx_pid
        || (kill(slot->owner, 0) == -1 && ngx_errno == NGX_ESRCH)
        || (ngx_msec_int_t) (now - slot->heartbeat) > NGX_HTTP_BAR_HLS_LEASE)
    {
        slot->owner = ngx_pid;
        slot->epoch++;
        slot->heartbeat = now;
        slot->state = BH_STATE_CONNECTING;
        *epoch = slot->epoch;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_bar_hls_heartbeat(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch)
{
    ngx_int_t  rc;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    rc = ngx_http_bar_hls_owned(cam->slot, epoch);

    if (rc == NGX_OK) {
        cam->slot->heartbeat = ngx_http_bar_hls_now();
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    return rc;
}


void
ngx_http_bar_hls_release(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch)
{
    ngx_shmtx_lock(&bmcf->shpool->mutex);

    if (ngx_http_bar_hls_owned(cam->slot, epoch) == NGX_OK) {
        cam->slot->owner = 0;
        cam->slot->discontinuity = 1;

        /* the next owner starts a new segment: list this one now */

        if (cam->slot->open) {
            ngx_http_bar_hls_close_segment(cam->slot);
            cam->slot->version++;
            (void) ngx_http_bar_hls_render(bmcf->shpool, cam->slot);
        }
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);
}


static ngx_int_t
ngx_http_bar_hls_owned(ngx_http_bar_hls_slot_t *slot, uint64_t epoch)
{
    if (slot->owner == ngx_pid && slot->epoch == epoch) {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


void
ngx_http_bar_hls_set_state(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_event_t *ev)
{
    ngx_http_bar_hls_slot_t  *slot;

    slot = cam->slot;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    if (ngx_http_bar_hls_owned(slot, epoch) == NGX_OK) {

        /*
         * The session ended: its last segment is as complete as it will
         * ever be, list it now rather than when the camera is back.
         */

        if ((ev->state == BH_STATE_BACKOFF || ev->state == BH_STATE_ERROR)
            && slot->open && slot->segs != NULL)
        {
            ngx_http_bar_hls_close_segment(slot);
            slot->discontinuity = 1;
            slot->version++;
            (void) ngx_http_bar_hls_render(bmcf->shpool, slot);
        }

        if (ev->state == BH_STATE_CONNECTING
            && slot->state != BH_STATE_CONNECTING)
        {
            slot->reconnects++;
        }

        if (ev->state != slot->state) {
            slot->since = ngx_time();
        }

        slot->state = ev->state;

        if (ev->state == BH_STATE_BACKOFF || ev->state == BH_STATE_ERROR
            || ev->state == BH_STATE_LIMITED)
        {
            ngx_snprintf(slot->last_error, NGX_HTTP_BAR_HLS_ERR_LEN - 1,
                         "%s: %s%Z", bh_status_text(ev->status),
                         ev->message);
        }
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);
}


ngx_int_t
ngx_http_bar_hls_publish(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_chunk_t *chunk,
    ngx_log_t *log)
{
    time_t                    full;
    ngx_int_t                 rc;
    ngx_slab_pool_t          *shpool;
    ngx_http_bar_hls_slot_t  *slot;

    shpool = bmcf->shpool;
    slot = cam->slot;

    ngx_shmtx_lock(&shpool->mutex);

    if (ngx_http_bar_hls_owned(slot, epoch) != NGX_OK) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_DECLINED;
    }

    slot->bytes_in += chunk->bytes_in;

    full = slot->full;

    if (chunk->type == BH_CHUNK_INIT) {
        rc = ngx_http_bar_hls_publish_init(bmcf, slot, chunk);

    } else {
        rc = ngx_http_bar_hls_publish_part(bmcf, slot, chunk);
    }

    slot->version++;

    if (rc == NGX_ERROR) {
        slot->full = ngx_time();
    }

    ngx_shmtx_unlock(&shpool->mutex);

    /* one log line per episode of a full zone, not one per part */

    if (slot->full != full && slot->full - full >= NGX_HTTP_BAR_HLS_FULL_QUIET)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "bar_hls: camera \"%V\": the zone is full, %s; make "
                      "bar_hls_zone larger", &cam->name,
                      rc == NGX_OK ? "segments are evicted before they "
                                     "leave the playlist"
                                   : "media dropped until the next keyframe");
    }

    return rc;
}


static ngx_int_t
ngx_http_bar_hls_publish_init(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_slot_t *slot, bh_chunk_t *chunk)
{
    u_char                   *p;
    uint32_t                  id;
    ngx_uint_t                i;
    ngx_http_bar_hls_init_t  *init, *oldest;

    /* a new RTSP session: its timestamps start over */

    if (slot->open || slot->next_msn > slot->first_msn) {
        slot->discontinuity = 1;
    }

    /*
     * Until this session's init segment is stored, its parts must not be:
     * they would be listed with the previous session's (another SPS, or
     * another picture size).
     */

    slot->has_init = 0;

    ngx_cpystrn(slot->codecs, (u_char *) chunk->codecs, sizeof(slot->codecs));
    slot->width = chunk->width;
    slot->height = chunk->height;

    if (chunk->size == 0) {
        slot->has_init = 1;
        return NGX_OK;                      /* MPEG-TS */
    }

    /* named by its CRC: a URL never names two different init segments */

    id = ngx_crc32_long(chunk->data, chunk->size);

    if (ngx_http_bar_hls_find_init(slot, id) != NULL) {
        slot->init_id = id;
        slot->has_init = 1;
        return NGX_OK;
    }

    p = ngx_http_bar_hls_alloc(bmcf, slot, chunk->size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, chunk->data, chunk->size);

    /* a free entry, or the oldest: its segments are the oldest too */

    init = NULL;
    oldest = &slot->inits[0];

    for (i = 0; i < NGX_HTTP_BAR_HLS_MAX_INITS; i++) {
        if (slot->inits[i].data == NULL) {
            init = &slot->inits[i];
            break;
        }

        if (slot->inits[i].time < oldest->time) {
            oldest = &slot->inits[i];
        }
    }

    if (init == NULL) {
        init = oldest;
        ngx_slab_free_locked(bmcf->shpool, init->data);
    }

    init->data = p;
    init->size = chunk->size;
    init->id = id;
    init->time = ngx_time();

    slot->init_id = id;
    slot->has_init = 1;

    return NGX_OK;
}


ngx_http_bar_hls_init_t *
ngx_http_bar_hls_find_init(ngx_http_bar_hls_slot_t *slot, uint32_t id)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_BAR_HLS_MAX_INITS; i++) {
        if (slot->inits[i].data != NULL && slot->inits[i].id == id) {
            return &slot->inits[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_bar_hls_publish_part(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_slot_t *slot, bh_chunk_t *chunk)
{
    u_char                      *p;
    ngx_int_t                    closed;
    ngx_slab_pool_t             *shpool;
    ngx_http_bar_hls_part_t     *part;
    ngx_http_bar_hls_segment_t  *seg;

    shpool = bmcf->shpool;

    if (!slot->has_init || slot->segs == NULL) {
        return NGX_ERROR;
    }

    /* after media was dropped, a new segment starts at a keyframe */

    if (slot->resync) {
        if (!chunk->segment_start) {
            return NGX_DECLINED;
        }

        slot->resync = 0;
    }

    closed = 0;

    /*
     * Segments start at keyframes: the segmenter never makes one longer
     * than this; if it did, the part is refused rather than the segment
     * cut mid-GOP.
     */

    if (slot->open && !chunk->segment_start
        && slot->segs[slot->next_msn % slot->nsegs].nparts
           >= NGX_HTTP_BAR_HLS_MAX_PARTS)
    {
        ngx_http_bar_hls_close_segment(slot);
        slot->discontinuity = 1;
        slot->resync = 1;
        (void) ngx_http_bar_hls_render(shpool, slot);
        return NGX_DECLINED;
    }

    if (chunk->discontinuity) {
        slot->discontinuity = 1;
    }

    if (slot->open && chunk->segment_start) {
        ngx_http_bar_hls_close_segment(slot);
        closed = 1;
    }

    if (!slot->open) {
        while (slot->next_msn - slot->first_msn + 1 > slot->nsegs) {
            (void) ngx_http_bar_hls_evict(shpool, slot);
        }

        seg = &slot->segs[slot->next_msn % slot->nsegs];

        ngx_memzero(seg, sizeof(ngx_http_bar_hls_segment_t));
        seg->msn = slot->next_msn;
        seg->first_part = slot->next_part;
        seg->wallclock = chunk->wallclock;
        seg->init_id = slot->init_id;
        seg->discontinuity = slot->discontinuity;

        if (slot->discontinuity && slot->next_msn > slot->first_msn) {
            slot->discontinuities++;
        }

        slot->discontinuity = 0;
        slot->open = 1;
    }

    seg = &slot->segs[slot->next_msn % slot->nsegs];

    /* room in the part ring: the oldest segments go first */

    while (slot->first_msn < slot->next_msn
           && slot->next_part - slot->segs[slot->first_msn % slot->nsegs]
                                .first_part >= slot->nparts)
    {
        (void) ngx_http_bar_hls_evict(shpool, slot);
    }

    p = NULL;

    if (slot->next_part - seg->first_part < slot->nparts) {
        p = ngx_http_bar_hls_alloc(bmcf, slot, chunk->size);
    }

    if (p == NULL) {

        /*
         * No room: the segment ends with what it has, and the next one
         * starts at a keyframe after a discontinuity, so that no segment
         * has a hole in it.
         */

        if (seg->nparts > 0) {
            ngx_http_bar_hls_close_segment(slot);

        } else {
            slot->open = 0;
        }

        slot->discontinuity = 1;
        slot->resync = 1;

        (void) ngx_http_bar_hls_render(shpool, slot);

        return NGX_ERROR;
    }

    ngx_memcpy(p, chunk->data, chunk->size);

    part = &slot->parts[slot->next_part % slot->nparts];
    part->data = p;
    part->size = chunk->size;
    part->duration = chunk->duration;
    part->independent = chunk->independent;

    slot->next_part++;
    slot->bytes += chunk->size;

    seg->nparts++;
    seg->size += chunk->size;
    seg->duration += chunk->duration;

    if (closed || slot->part_target) {
        return ngx_http_bar_hls_render(shpool, slot);
    }

    return NGX_OK;
}


/* the open segment is complete: the playlist may list it */

static void
ngx_http_bar_hls_close_segment(ngx_http_bar_hls_slot_t *slot)
{
    slot->next_msn++;
    slot->open = 0;
}


/*
 * Allocates media, evicting the oldest segment of the camera that holds
 * the most (this one included) until it fits, but never a camera's last
 * complete segment.
 */

static void *
ngx_http_bar_hls_alloc(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_slot_t *slot, size_t size)
{
    void                     *p;
    ngx_uint_t                i;
    ngx_http_bar_hls_slot_t  *s, *victim;

    for ( ;; ) {
        p = ngx_slab_alloc_locked(bmcf->shpool, size);

        if (p != NULL) {
            return p;
        }

        victim = NULL;

        for (i = 0; i < bmcf->sh->nslots; i++) {
            s = bmcf->sh->slots[i];

            if (s->segs != NULL && s->first_msn + 1 < s->next_msn
                && (victim == NULL || s->bytes > victim->bytes
                    || (s == slot && s->bytes == victim->bytes)))
            {
                victim = s;
            }
        }

        if (victim == NULL
            || ngx_http_bar_hls_evict(bmcf->shpool, victim) != NGX_OK)
        {
            return NULL;
        }

        /* memory, not the window, decided: both cameras are short of it */

        slot->full = ngx_time();
        victim->full = slot->full;

        /* another camera's playlist must not list what is gone */

        if (victim != slot) {
            victim->version++;
            (void) ngx_http_bar_hls_render(bmcf->shpool, victim);
        }
    }
}


static ngx_int_t
ngx_http_bar_hls_evict(ngx_slab_pool_t *shpool, ngx_http_bar_hls_slot_t *slot)
{
    uint32_t                     i;
    ngx_http_bar_hls_part_t     *part;
    ngx_http_bar_hls_segment_t  *seg;

    if (slot->first_msn > slot->next_msn
        || (slot->first_msn == slot->next_msn && !slot->open))
    {
        return NGX_DECLINED;
    }

    seg = &slot->segs[slot->first_msn % slot->nsegs];

    for (i = 0; i < seg->nparts; i++) {
        part = &slot->parts[(seg->first_part + i) % slot->nparts];

        if (part->data != NULL) {
            ngx_slab_free_locked(shpool, part->data);
            slot->bytes -= part->size;
            part->data = NULL;
        }
    }

    if (slot->first_msn == slot->next_msn) {
        slot->open = 0;
        slot->next_msn++;
    }

    slot->first_msn++;

    ngx_http_bar_hls_free_inits(shpool, slot, 0);

    return NGX_OK;
}


/* frees the init segments no kept segment refers to (or all of them) */

static void
ngx_http_bar_hls_free_inits(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot, ngx_uint_t all)
{
    uint64_t                  msn, last;
    ngx_uint_t                i;
    ngx_http_bar_hls_init_t  *init;

    last = slot->next_msn + (slot->open ? 1 : 0);

    for (i = 0; i < NGX_HTTP_BAR_HLS_MAX_INITS; i++) {
        init = &slot->inits[i];

        if (init->data == NULL || (!all && init->id == slot->init_id)) {
            continue;
        }

        for (msn = slot->first_msn; !all && msn < last; msn++) {
            if (slot->segs[msn % slot->nsegs].init_id == init->id) {
                break;
            }
        }

        if (all || msn == last) {
            ngx_slab_free_locked(shpool, init->data);
            init->data = NULL;
        }
    }
}


/*
 * Renders the playlist, and its delta update when segments can be
 * skipped, into the zone: once per change, not once per request.
 */

static ngx_int_t
ngx_http_bar_hls_render(ngx_slab_pool_t *shpool,
    ngx_http_bar_hls_slot_t *slot)
{
    uint64_t                     msn, first, disc;
    ngx_int_t                    rc;
    ngx_uint_t                   n;
    bh_playlist_t                pl;
    bh_playlist_segment_t        open;
    ngx_http_bar_hls_segment_t  *seg;

    static bh_playlist_segment_t  segs[NGX_HTTP_BAR_HLS_MAX_WINDOW];
    static bh_playlist_part_t     parts[4][NGX_HTTP_BAR_HLS_MAX_PARTS];

    /* complete segments: [first, next_msn) */

    first = slot->first_msn;

    if (slot->next_msn - first > slot->window) {
        first = slot->next_msn - slot->window;
    }

    n = 0;
    disc = slot->discontinuities;

    for (msn = first; msn < slot->next_msn; msn++) {
        seg = &slot->segs[msn % slot->nsegs];

        segs[n].msn = seg->msn;
        segs[n].duration = seg->duration;
        segs[n].wallclock = seg->wallclock;
        segs[n].discontinuity = seg->discontinuity;
        segs[n].init_id = seg->init_id;
        segs[n].parts = NULL;
        segs[n].nparts = 0;

        if (seg->discontinuity && msn > first) {
            disc--;
        }

        /* Low-Latency HLS: the parts of the last three segments */

        if (slot->part_target && slot->next_msn - msn <= 3) {
            ngx_http_bar_hls_parts(slot, seg,
                                   parts[slot->next_msn - msn], &segs[n]);
        }

        n++;
    }

    ngx_memzero(&pl, sizeof(bh_playlist_t));

    if (slot->open) {
        seg = &slot->segs[slot->next_msn % slot->nsegs];

        /* the open segment's discontinuity is counted, not listed yet */

        if (seg->discontinuity && slot->next_msn > first) {
            disc--;
        }

        if (slot->part_target) {
            ngx_memzero(&open, sizeof(bh_playlist_segment_t));
            open.msn = seg->msn;
            open.wallclock = seg->wallclock;
            open.discontinuity = seg->discontinuity;
            open.init_id = seg->init_id;
            ngx_http_bar_hls_parts(slot, seg, parts[0], &open);
            pl.open = &open;
        }
    }

    if (n == 0 && pl.open == NULL) {
        return NGX_OK;
    }

    pl.format = slot->format;
    pl.target = slot->target;
    pl.part_target = slot->part_target;
    pl.discontinuity_sequence = disc;
    pl.segments = segs;
    pl.nsegments = n;

    rc = ngx_http_bar_hls_text(shpool, &pl, &slot->playlist);

    if (rc == NGX_OK) {
        pl.skip = 1;

        if (bh_playlist_skippable(&pl)) {
            rc = ngx_http_bar_hls_text(shpool, &pl, &slot->delta);

        } else {
            ngx_http_bar_hls_text_free(shpool, &slot->delta);
        }
    }

    slot->updated = ngx_time();

    return rc;
}


static void
ngx_http_bar_hls_parts(ngx_http_bar_hls_slot_t *slot,
    ngx_http_bar_hls_segment_t *seg, bh_playlist_part_t *parts,
    bh_playlist_segment_t *out)
{
    uint32_t                  i;
    ngx_http_bar_hls_part_t  *part;

    for (i = 0; i < seg->nparts && i < NGX_HTTP_BAR_HLS_MAX_PARTS; i++) {
        part = &slot->parts[(seg->first_part + i) % slot->nparts];
        parts[i].duration = part->duration;
        parts[i].independent = part->independent;
    }

    out->parts = parts;
    out->nparts = i;
}


static ngx_int_t
ngx_http_bar_hls_text(ngx_slab_pool_t *shpool, bh_playlist_t *pl,
    ngx_http_bar_hls_text_t *text)
{
    u_char  *buf, *p;
    size_t   size, len;

    size = bh_playlist_size(pl);

    buf = ngx_alloc(size, ngx_cycle->log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    len = bh_playlist_write(pl, (char *) buf, size);

    if (len == 0) {
        ngx_free(buf);
        return NGX_ERROR;
    }

    p = ngx_slab_alloc_locked(shpool, len);
    if (p == NULL) {
        ngx_free(buf);
        return NGX_ERROR;
    }

    ngx_memcpy(p, buf, len);
    ngx_free(buf);

    ngx_http_bar_hls_text_free(shpool, text);

    text->data = p;
    text->len = len;
    text->etag = ngx_crc32_long(p, len);

    return NGX_OK;
}


/*
 * Frees the media of cameras that are no longer configured, once the
 * worker of the old configuration that pulled them has let them go.
 */

void
ngx_http_bar_hls_collect(ngx_http_bar_hls_main_conf_t *bmcf)
{
    ngx_uint_t                  i, j;
    ngx_msec_t                  now;
    ngx_slab_pool_t            *shpool;
    ngx_http_bar_hls_slot_t    *slot;
    ngx_http_bar_hls_camera_t  *cam;

    shpool = bmcf->shpool;
    cam = bmcf->cameras.elts;
    now = ngx_http_bar_hls_now();

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < bmcf->sh->nslots; i++) {
        slot = bmcf->sh->slots[i];

        for (j = 0; j < bmcf->cameras.nelts; j++) {
            if (cam[j].slot == slot) {
                break;
            }
        }

        if (j < bmcf->cameras.nelts || slot->retired) {
            continue;
        }

        if (slot->owner != 0
            && !(kill(slot->owner, 0) == -1 && ngx_errno == NGX_ESRCH)
            && (ngx_msec_int_t) (now - slot->heartbeat)
               <= NGX_HTTP_BAR_HLS_LEASE)
        {
            continue;
        }

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "bar_hls: camera \"%*s\" is no longer configured, "
                      "its media is freed", slot->name_len, slot->name);

        /* a late publish by an old owner fails the ownership check */

        slot->owner = 0;
        slot->epoch++;
        slot->version++;
        slot->has_init = 0;
        slot->retired = 1;

        ngx_http_bar_hls_slot_free_media(shpool, slot);
        ngx_http_bar_hls_free_inits(shpool, slot, 1);
    }

    ngx_shmtx_unlock(&shpool->mutex);
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
