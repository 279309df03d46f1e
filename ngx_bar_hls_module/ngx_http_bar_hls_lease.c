
/*
 * ngx_bar_hls_module: who pulls a camera, and what its owner publishes.
 *
 * One RTSP session per camera for the whole nginx: the owner holds a
 * lease in the camera's slot, renewed by a heartbeat; a worker of the
 * previous configuration releases its cameras as it shuts down, and a
 * dead or silent owner loses them.  Everything the owner's pull produces
 * (chunks, states) goes into the store under the zone mutex here, and the
 * workers holding requests for the camera are told.
 */


#include "ngx_http_bar_hls.h"


static ngx_int_t ngx_http_bar_hls_owned(ngx_http_bar_hls_slot_t *slot,
    uint64_t epoch);


ngx_int_t
ngx_http_bar_hls_alive(ngx_pid_t pid)
{
    return !(kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH);
}


/*
 * Takes the camera for this process when nobody holds it, or when the
 * holder is dead or silent, and applies this configuration's window, part
 * and format to its media; *sc is what the media is configured with.  A
 * worker of the previous configuration releases its cameras as it shuts
 * down, so on reload the new owner waits for that instead of opening a
 * second RTSP session.  When the zone has no room for the new rings, the
 * camera goes on with its old ones, and a new camera waits for room.
 */

ngx_int_t
ngx_http_bar_hls_acquire(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t *epoch, bh_stream_conf_t *sc,
    ngx_log_t *log)
{
    ngx_int_t                 rc;
    ngx_uint_t                stale;
    ngx_msec_t                now;
    bh_status_t               st;
    bh_stream_t              *s;
    ngx_http_bar_hls_slot_t  *slot;

    slot = cam->slot;
    s = &slot->stream;
    now = ngx_http_bar_hls_now();
    rc = NGX_AGAIN;
    stale = 0;

    ngx_http_bar_hls_stream_conf(cam, sc);

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    /*
     * A released or dead owner's session is closed, but the camera may
     * not have seen its end yet: a grace after its last heartbeat, so
     * that the camera never sees two sessions, even for a moment.
     */

    if ((slot->owner == 0
         || slot->owner == ngx_pid
         || !ngx_http_bar_hls_alive(slot->owner)
         || (ngx_msec_int_t) (now - slot->heartbeat)
            > NGX_HTTP_BAR_HLS_LEASE)
        && (slot->owner == ngx_pid
            || (ngx_msec_int_t) (now - slot->heartbeat)
               >= NGX_HTTP_BAR_HLS_GRACE))
    {
        st = BH_OK;

        if (!s->configured
            || ngx_memcmp(&s->conf, sc, sizeof(bh_stream_conf_t)) != 0)
        {
            st = bh_stream_configure(&bmcf->sh->store, &bmcf->alloc, s, sc,
                                     ngx_http_bar_hls_usec());
        }

        if (st != BH_OK && s->configured) {
            *sc = s->conf;
            stale = 1;
            st = BH_OK;
        }

        if (st == BH_OK) {
            slot->owner = ngx_pid;
            slot->epoch++;
            slot->heartbeat = now;
            slot->state = BH_STATE_CONNECTING;
            *epoch = slot->epoch;
            rc = NGX_OK;

        } else if (slot->state != BH_STATE_ERROR) {
            slot->state = BH_STATE_ERROR;
            slot->since = ngx_time();
            ngx_snprintf(slot->last_error, NGX_HTTP_BAR_HLS_ERR_LEN - 1,
                         "no room in the zone for the camera's window%Z");
            rc = NGX_DECLINED;
        }
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "bar_hls: camera \"%V\": no room in the zone for its "
                      "window; make bar_hls_zone larger (retrying)",
                      &cam->name);
    }

    if (stale) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "bar_hls: camera \"%V\": no room in the zone for its "
                      "new window, part or variant: it goes on with its old "
                      "ones; make bar_hls_zone larger", &cam->name);
    }

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
        cam->slot->heartbeat = ngx_http_bar_hls_now();  /* released then */

        /* the next owner starts a new segment: list this one now */

        bh_stream_end(&bmcf->alloc, &cam->slot->stream,
                      ngx_http_bar_hls_usec());
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    ngx_http_bar_hls_changed(bmcf, cam);
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

        if (ev->state == BH_STATE_BACKOFF || ev->state == BH_STATE_ERROR) {
            bh_stream_end(&bmcf->alloc, &slot->stream,
                          ngx_http_bar_hls_usec());
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

    ngx_http_bar_hls_changed(bmcf, cam);
}


/*
 * Publishes a chunk of the owner's session.  init: a copy of the
 * session's init chunk, stored again when it could not be at first, so
 * that the session's parts are not refused for ever.
 */

ngx_int_t
ngx_http_bar_hls_publish(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_chunk_t *chunk,
    bh_chunk_t *init, ngx_log_t *log)
{
    u_char                   *why;
    int64_t                   full;
    u_char                    error[NGX_HTTP_BAR_HLS_ERR_LEN];
    bh_status_t               st;
    bh_stream_t              *s;
    ngx_http_bar_hls_slot_t  *slot;

    slot = cam->slot;
    s = &slot->stream;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    if (ngx_http_bar_hls_owned(slot, epoch) != NGX_OK) {
        ngx_shmtx_unlock(&bmcf->shpool->mutex);
        return NGX_DECLINED;
    }

    slot->bytes_in += chunk->bytes_in;

    full = s->full;

    if (chunk->type == BH_CHUNK_PART && !s->has_init && init != NULL) {
        (void) bh_stream_publish(&bmcf->sh->store, &bmcf->alloc, s, init,
                                 ngx_http_bar_hls_usec());
    }

    st = bh_stream_publish(&bmcf->sh->store, &bmcf->alloc, s, chunk,
                           ngx_http_bar_hls_usec());

    /* over the zone's bound: the camera is limited until a part fits */

    why = NULL;

    if (st == BH_LIMIT) {
        if (!slot->limited) {
            slot->limited = 1;
            slot->state = BH_STATE_LIMITED;
            slot->since = ngx_time();
        }

        if (chunk->size > bmcf->sh->store.part_max) {
            ngx_snprintf(slot->last_error, NGX_HTTP_BAR_HLS_ERR_LEN - 1,
                         "over a limit: a part of %uz bytes is over %uz, "
                         "the most the zone takes for it%Z", chunk->size,
                         bmcf->sh->store.part_max);

        } else {
            ngx_snprintf(slot->last_error, NGX_HTTP_BAR_HLS_ERR_LEN - 1,
                         "over a limit: no keyframe within %d parts%Z",
                         BH_MAX_SEGMENT_PARTS);
        }

        if (ngx_time() - slot->refused >= NGX_HTTP_BAR_HLS_FULL_QUIET) {
            slot->refused = ngx_time();
            ngx_cpystrn(error, slot->last_error, sizeof(error));
            why = error;
        }

    } else if (st == BH_OK && slot->limited) {
        slot->limited = 0;
        slot->state = BH_STATE_STREAMING;
        slot->since = ngx_time();
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    ngx_http_bar_hls_changed(bmcf, cam);

    /* one log line per episode of a full zone, not one per part */

    if (s->full != full && s->full - full >= NGX_HTTP_BAR_HLS_FULL_QUIET
                                             * BH_USEC)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "bar_hls: camera \"%V\": the zone is full, %s; make "
                      "bar_hls_zone larger", &cam->name,
                      st == BH_OK ? "segments are evicted before they "
                                    "leave the playlist"
                                  : "media dropped until the next keyframe");
    }

    /* one line per episode of a bound, not one per part */

    if (why != NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "bar_hls: camera \"%V\": %s; media dropped until the "
                      "next keyframe", &cam->name, why);
    }

    return st == BH_OK ? NGX_OK : NGX_ERROR;
}
