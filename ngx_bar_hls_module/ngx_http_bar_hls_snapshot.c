
/*
 * ngx_bar_hls_module: snapshots, <prefix><cam>/snapshot.jpg[?width=N].
 *
 * A request marks its size wanted for a minute (core/bh_still.c); the
 * camera's owner, as it publishes a part that starts with a keyframe
 * while some size is wanted, offers it to its snapshot thread
 * (core/bh_snapper.c, ngx_http_bar_hls_pull.c), which makes the pictures
 * at most once a second for the whole nginx; they come back through the
 * pull queue and are stored here, in the zone, where every worker serves
 * them like media (ETag, 304, ranges, CORS, a cache may keep them a
 * second).  Nobody asking costs nothing: no copy, no thread, no decoding.
 *
 * Before the first picture a request waits for it while the camera
 * streams (503 when it does not); once the camera is offline its last
 * picture is served, Snapshot-Age saying how old it is.
 */


#include "ngx_http_bar_hls.h"


/* called on the owner's event loop */

void
ngx_http_bar_hls_snapshot_store(ngx_http_bar_hls_main_conf_t *bmcf,
    ngx_http_bar_hls_camera_t *cam, uint64_t epoch, bh_snapshot_t *snap)
{
    bh_status_t               st;
    ngx_http_bar_hls_slot_t  *slot;

    slot = cam->slot;
    st = BH_OK;

    ngx_shmtx_lock(&bmcf->shpool->mutex);

    if (slot->owner == ngx_pid && slot->epoch == epoch) {
        st = bh_stream_snapshot(&bmcf->alloc, &slot->stream, snap->pictures,
                                bh_wallclock());
    }

    ngx_shmtx_unlock(&bmcf->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "bar_hls: camera \"%V\": snapshot of %uz bytes, %s",
                   &cam->name, snap->pictures[0].size, bh_status_text(st));

    /* one line per episode, not one a second */

    if (st != BH_OK
        && ngx_time() - cam->snapshot_full >= NGX_HTTP_BAR_HLS_FULL_QUIET)
    {
        cam->snapshot_full = ngx_time();

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "bar_hls: camera \"%V\": no room in the zone for a "
                      "snapshot; make bar_hls_zone larger", &cam->name);
    }

    /* requests waiting for the first picture */

    ngx_http_bar_hls_changed(bmcf, cam);
}


/* ?width=N: u->size, or a 400 (NGX_DECLINED: answered) */

ngx_int_t
ngx_http_bar_hls_snapshot_size(ngx_http_request_t *r, bh_uri_t *u)
{
    int  i;

    i = bh_snapshot_index((char *) r->args.data, r->args.len);

    if (i < 0) {
        return NGX_DECLINED;
    }

    u->size = (unsigned) i;

    return NGX_OK;
}


ngx_int_t
ngx_http_bar_hls_snapshot_headers(ngx_http_request_t *r, int64_t time,
    uint64_t generation)
{
    u_char   *p;
    int64_t   age;

    age = (int64_t) ngx_time() - time / BH_USEC;

    p = ngx_pnalloc(r->pool, 2 * NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_bar_hls_header(r, "Snapshot-Age", p,
                                ngx_sprintf(p, "%L", age > 0 ? age : 0) - p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p += NGX_INT64_LEN;

    return ngx_http_bar_hls_header(r, "Snapshot-Generation", p,
                                   ngx_sprintf(p, "%uL", generation) - p);
}


/*
 * No picture yet: one comes soon if the camera streams (the request
 * marked its size wanted), and the request may wait for it.
 */

ngx_uint_t
ngx_http_bar_hls_snapshot_coming(ngx_http_bar_hls_camera_t *cam)
{
    bh_state_t  state;

    state = *(volatile bh_state_t *) &cam->slot->state;

    return bh_page_live(state);
}
