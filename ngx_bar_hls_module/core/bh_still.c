
/*
 * ngx_bar_hls_module media core: the store's snapshots.
 *
 * A stream keeps the newest JPEG picture of each size, and until when
 * each size is wanted: a request wants its size for BH_SNAPSHOT_WANTED
 * more, and the camera's owner makes only the sizes wanted.  A picture
 * is replaced by the next one of its size; it stays while the camera is
 * offline.  Pictures come from the allocator but never evict media: one
 * that does not fit, even in the room of the one it replaces, is not
 * stored.
 */


#include <string.h>

#include "bh_store_int.h"


static const uint32_t  bh_widths[BH_SNAPSHOT_NWIDTHS] = BH_SNAPSHOT_WIDTHS;


void
bh_stream_want(bh_stream_t *s, unsigned i, int64_t now)
{
    if (i < BH_SNAPSHOT_SIZES) {
        s->wanted[i] = now + BH_SNAPSHOT_WANTED;
    }
}


unsigned
bh_stream_wanted(const bh_stream_t *s, int64_t now)
{
    unsigned  i, mask;

    mask = 0;

    for (i = 0; i < BH_SNAPSHOT_SIZES; i++) {
        if (s->wanted[i] > now) {
            mask |= 1u << i;
        }
    }

    return mask;
}


/*
 * The picture that answers size i: its own, or the full one when that is
 * not wider than size i (no picture is scaled up); NULL: none yet.
 */

const bh_picture_t *
bh_stream_still(const bh_stream_t *s, unsigned i)
{
    const bh_picture_t  *full;

    if (i >= BH_SNAPSHOT_SIZES) {
        return NULL;
    }

    full = &s->stills[0];

    if (i > 0 && full->data != NULL && full->width <= bh_widths[i - 1]) {
        return full;
    }

    return s->stills[i].data != NULL ? &s->stills[i] : NULL;
}


bh_status_t
bh_stream_snapshot(const bh_alloc_t *a, bh_stream_t *s,
    const bh_picture_t *pictures, int64_t now)
{
    unsigned       i, made;
    uint8_t       *p;
    bh_status_t    st;
    bh_picture_t  *still;

    st = BH_OK;
    made = 0;

    for (i = 0; i < BH_SNAPSHOT_SIZES; i++) {
        if (pictures[i].data == NULL || pictures[i].size == 0) {
            continue;
        }

        still = &s->stills[i];

        p = a->alloc(a->ctx, pictures[i].size);

        if (p == NULL && still->data != NULL) {
            a->free(a->ctx, still->data);
            still->data = NULL;
            p = a->alloc(a->ctx, pictures[i].size);
        }

        if (p == NULL) {
            st = BH_NOMEM;
            continue;
        }

        if (still->data != NULL) {
            a->free(a->ctx, still->data);
        }

        memcpy(p, pictures[i].data, pictures[i].size);

        *still = pictures[i];
        still->data = p;
        still->crc = bh_crc32(p, pictures[i].size);
        made++;
    }

    if (made) {
        s->snapshots_total++;
        s->version++;
    }

    (void) now;

    return st;
}


void
bh_stills_free(const bh_alloc_t *a, bh_stream_t *s)
{
    unsigned  i;

    for (i = 0; i < BH_SNAPSHOT_SIZES; i++) {
        if (s->stills[i].data != NULL) {
            a->free(a->ctx, s->stills[i].data);
        }
    }

    memset(s->stills, 0, sizeof(s->stills));
}
