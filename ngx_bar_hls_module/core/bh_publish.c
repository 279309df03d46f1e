
/*
 * ngx_bar_hls_module media core: the store, as the camera fills it.
 *
 * Parts are kept in a ring per stream, segments in another; a segment
 * names its first part and how many follow.  Memory comes from the
 * caller's allocator; when it has no room, the stream that holds the most
 * loses its oldest segment first (this one included), but never its last
 * complete one.  A part that cannot be stored ends its segment where it
 * is, and the stream resumes at the next segment after a discontinuity:
 * no segment ever has a hole.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_store.h"
#include "bh_store_int.h"


static void *bh_store_alloc(bh_store_t *st, const bh_alloc_t *a,
    bh_stream_t *s, size_t size, int64_t now);
static bh_status_t bh_publish_init(bh_store_t *st, const bh_alloc_t *a,
    bh_stream_t *s, const bh_chunk_t *chunk, int64_t now);
static bh_status_t bh_publish_part(bh_store_t *st, const bh_alloc_t *a,
    bh_stream_t *s, const bh_chunk_t *chunk, int64_t now);
static void bh_open_segment(bh_stream_t *s, const bh_chunk_t *chunk);
static void bh_close_segment(bh_stream_t *s);
static void bh_drop_segment(const bh_alloc_t *a, bh_stream_t *s,
    int64_t now);


bh_status_t
bh_stream_publish(bh_store_t *st, const bh_alloc_t *a, bh_stream_t *s,
    const bh_chunk_t *chunk, int64_t now)
{
    bh_status_t  rc;

    if (!s->configured) {
        return BH_INVALID;
    }

    if (chunk->type == BH_CHUNK_INIT) {
        rc = bh_publish_init(st, a, s, chunk, now);

    } else {
        rc = bh_publish_part(st, a, s, chunk, now);
    }

    s->version++;

    if (rc == BH_NOSPACE) {
        s->full = now;
    }

    return rc;
}


static bh_status_t
bh_publish_init(bh_store_t *st, const bh_alloc_t *a, bh_stream_t *s,
    const bh_chunk_t *chunk, int64_t now)
{
    uint8_t    *p;
    uint32_t    id, i;
    bh_init_t  *init, *oldest;

    /*
     * A new session: its timestamps start over.  Until its init segment
     * is stored, its parts are not: they would be listed with the last
     * session's (another SPS, or another picture size).
     */

    if (s->open || s->next_msn > s->first_msn) {
        s->discontinuity = 1;
    }

    if (s->open) {
        bh_close_segment(s);
        bh_render(a, s, now);
    }

    s->has_init = 0;

    snprintf(s->codecs, sizeof(s->codecs), "%s", chunk->codecs);
    s->width = chunk->width > 0 ? chunk->width : 0;
    s->height = chunk->height > 0 ? chunk->height : 0;

    if (chunk->size == 0) {
        s->has_init = 1;                    /* MPEG-TS: none */
        return BH_OK;
    }

    /* named by its CRC: a URL never names two different init segments */

    id = bh_crc32(chunk->data, chunk->size);

    for (i = 0; i < BH_MAX_INITS; i++) {
        if (s->inits[i].data != NULL && s->inits[i].id == id) {
            s->init_id = id;
            s->has_init = 1;
            return BH_OK;
        }
    }

    p = bh_store_alloc(st, a, s, chunk->size, now);
    if (p == NULL) {
        return BH_NOSPACE;
    }

    memcpy(p, chunk->data, chunk->size);

    /* a free entry, or the oldest: its segments are the oldest too */

    init = NULL;
    oldest = &s->inits[0];

    for (i = 0; i < BH_MAX_INITS; i++) {
        if (s->inits[i].data == NULL) {
            init = &s->inits[i];
            break;
        }

        if (s->inits[i].time < oldest->time) {
            oldest = &s->inits[i];
        }
    }

    if (init == NULL) {
        init = oldest;
        a->free(a->ctx, init->data);
    }

    init->data = p;
    init->size = chunk->size;
    init->id = id;
    init->time = now;

    s->init_id = id;
    s->has_init = 1;

    return BH_OK;
}


static bh_status_t
bh_publish_part(bh_store_t *st, const bh_alloc_t *a, bh_stream_t *s,
    const bh_chunk_t *chunk, int64_t now)
{
    int            closed;
    uint8_t       *p;
    bh_part_t     *part;
    bh_segment_t  *seg;

    if (!s->has_init || chunk->size == 0) {
        return BH_INVALID;
    }

    if (st->part_max && chunk->size > st->part_max) {
        bh_drop_segment(a, s, now);
        return BH_LIMIT;
    }

    /* after media was dropped, a new segment starts at a keyframe */

    if (s->resync) {
        if (!chunk->segment_start) {
            return BH_NOSPACE;
        }

        s->resync = 0;
    }

    if (chunk->discontinuity) {
        s->discontinuity = 1;
    }

    closed = 0;

    if (s->open) {
        seg = &s->segs[s->next_msn % s->nsegs];

        if (chunk->segment_start || chunk->discontinuity) {
            bh_close_segment(s);
            closed = 1;

        } else if (seg->nparts >= BH_MAX_SEGMENT_PARTS) {

            /*
             * The segmenter never makes one so long; if it did, the part
             * is refused rather than the segment cut mid-GOP.
             */

            bh_drop_segment(a, s, now);
            return BH_LIMIT;
        }
    }

    if (!s->open) {
        if (!chunk->segment_start && !chunk->discontinuity
            && s->next_msn > s->first_msn)
        {
            /* the session went on where the last segment was cut */
            s->discontinuity = 1;
        }

        while (s->next_msn - s->first_msn + 1 > s->nsegs) {
            (void) bh_evict(a, s);
        }

        bh_open_segment(s, chunk);
    }

    seg = &s->segs[s->next_msn % s->nsegs];

    /* room in the part ring: the oldest segments go first */

    while (s->first_msn < s->next_msn
           && s->next_part - s->segs[s->first_msn % s->nsegs].first_part
              >= s->nparts)
    {
        (void) bh_evict(a, s);
    }

    p = NULL;

    if (s->next_part - seg->first_part < s->nparts) {
        p = bh_store_alloc(st, a, s, chunk->size, now);
    }

    if (p == NULL) {
        bh_drop_segment(a, s, now);
        return BH_NOSPACE;
    }

    memcpy(p, chunk->data, chunk->size);

    part = &s->parts[s->next_part % s->nparts];
    part->data = p;
    part->number = s->next_part;
    part->wallclock = chunk->wallclock;
    part->size = (uint32_t) chunk->size;
    part->duration = chunk->duration > 0 ? (uint32_t) chunk->duration : 1;
    part->frames = chunk->frames;
    part->independent = chunk->independent;

    s->next_part++;
    s->bytes += chunk->size;
    s->parts_total++;
    s->bytes_total += chunk->size;
    s->frames_total += chunk->frames;

    seg->nparts++;
    seg->size += (uint32_t) chunk->size;
    seg->duration += part->duration;
    seg->frames += chunk->frames;

    if (closed || s->conf.part_target) {
        bh_render(a, s, now);
    }

    return BH_OK;
}


static void
bh_open_segment(bh_stream_t *s, const bh_chunk_t *chunk)
{
    bh_segment_t  *seg;

    seg = &s->segs[s->next_msn % s->nsegs];

    memset(seg, 0, sizeof(bh_segment_t));
    seg->msn = s->next_msn;
    seg->first_part = s->next_part;
    seg->wallclock = chunk->wallclock;
    seg->init_id = s->init_id;
    seg->discontinuity = s->discontinuity;

    if (s->discontinuity && s->next_msn > s->first_msn) {
        s->discontinuities++;
    }

    if (s->next_msn == s->first_msn) {
        s->first_part_kept = s->next_part;
    }

    s->discontinuity = 0;
    s->open = 1;
}


/* the open segment is complete: the playlist may list it */

static void
bh_close_segment(bh_stream_t *s)
{
    bh_segment_t  *seg;

    seg = &s->segs[s->next_msn % s->nsegs];

    if (seg->duration > s->longest) {
        s->longest = seg->duration;
    }

    s->next_msn++;
    s->open = 0;
    s->segments_total++;
}


/*
 * No room, or over a bound: the open segment ends with what it has, and
 * the next one starts at a keyframe after a discontinuity.
 */

static void
bh_drop_segment(const bh_alloc_t *a, bh_stream_t *s, int64_t now)
{
    if (s->open) {
        if (s->segs[s->next_msn % s->nsegs].nparts > 0) {
            bh_close_segment(s);

        } else {
            s->open = 0;
        }
    }

    s->discontinuity = 1;
    s->resync = 1;

    bh_render(a, s, now);
}


void
bh_stream_end(const bh_alloc_t *a, bh_stream_t *s, int64_t now)
{
    if (s->segs == NULL) {
        return;
    }

    s->discontinuity = 1;

    if (s->open) {
        bh_close_segment(s);
        s->version++;
        bh_render(a, s, now);
    }
}


/*
 * Allocates media, evicting the oldest segment of the stream that holds
 * the most (this one first when they hold as much) until it fits, but
 * never a stream's last complete segment.
 */

static void *
bh_store_alloc(bh_store_t *st, const bh_alloc_t *a, bh_stream_t *s,
    size_t size, int64_t now)
{
    void         *p;
    uint32_t      i;
    bh_stream_t  *t, *victim;

    for ( ;; ) {
        p = a->alloc(a->ctx, size);

        if (p != NULL) {
            return p;
        }

        victim = NULL;

        for (i = 0; i < st->nstreams; i++) {
            t = st->streams[i];

            if (t->segs != NULL && t->first_msn + 1 < t->next_msn
                && (victim == NULL || t->bytes > victim->bytes
                    || (t == s && t->bytes == victim->bytes)))
            {
                victim = t;
            }
        }

        if (victim == NULL || bh_evict(a, victim) != BH_OK) {
            return NULL;
        }

        /* memory, not the window, decided: both are short of it */

        s->full = now;
        victim->full = now;

        /* another stream's playlist must not list what is gone */

        if (victim != s) {
            victim->version++;
            bh_render(a, victim, now);
        }
    }
}

