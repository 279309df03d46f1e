
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
static bh_status_t bh_evict(const bh_alloc_t *a, bh_stream_t *s);
static void bh_free_inits(const bh_alloc_t *a, bh_stream_t *s, int all);
static void bh_rings(const bh_stream_conf_t *conf, uint32_t *nsegs,
    uint32_t *nparts);


void
bh_store_init(bh_store_t *st, size_t part_max)
{
    memset(st, 0, sizeof(bh_store_t));
    st->part_max = part_max;
}


bh_status_t
bh_store_add(bh_store_t *st, bh_stream_t *s)
{
    if (st->nstreams == BH_MAX_STREAMS) {
        return BH_NOSPACE;
    }

    st->streams[st->nstreams++] = s;

    return BH_OK;
}


void
bh_store_remove(bh_store_t *st, bh_stream_t *s)
{
    uint32_t  i;

    for (i = 0; i < st->nstreams; i++) {
        if (st->streams[i] == s) {
            st->streams[i] = st->streams[--st->nstreams];
            st->streams[st->nstreams] = NULL;
            return;
        }
    }
}


bh_stream_t *
bh_store_find(bh_store_t *st, const char *name, size_t len)
{
    uint32_t      i;
    bh_stream_t  *s;

    for (i = 0; i < st->nstreams; i++) {
        s = st->streams[i];

        if (s->name_len == len && memcmp(s->name, name, len) == 0) {
            return s;
        }
    }

    return NULL;
}


/*
 * Segment and part URLs must never name other bytes than they did, or a
 * cache in front would serve stale media after a restart: both sequences
 * start from the clock in milliseconds, which they would overtake only if
 * the stream made over a thousand segments or parts a second.
 */

void
bh_stream_init(bh_stream_t *s, const char *name, size_t len, uint64_t seq)
{
    memset(s, 0, sizeof(bh_stream_t));

    if (len > sizeof(s->name) - 1) {
        len = sizeof(s->name) - 1;
    }

    memcpy(s->name, name, len);
    s->name_len = len;

    s->first_msn = seq;
    s->next_msn = seq;
    s->next_part = seq;
}


static void
bh_rings(const bh_stream_conf_t *conf, uint32_t *nsegs, uint32_t *nparts)
{
    int64_t  per;

    /* the window, the segments kept after it, the open one */

    *nsegs = conf->window + BH_KEPT_SEGMENTS + 1;

    /* key frames up to four targets apart, with room to spare */

    per = conf->target / (conf->part > 0 ? conf->part : conf->target) + 2;
    per *= 8;

    if (per > BH_MAX_SEGMENT_PARTS) {
        per = BH_MAX_SEGMENT_PARTS;
    }

    *nparts = *nsegs * (uint32_t) per;
}


bh_status_t
bh_stream_configure(bh_store_t *st, const bh_alloc_t *a, bh_stream_t *s,
    const bh_stream_conf_t *conf, int64_t now)
{
    uint32_t       nsegs, nparts;
    uint64_t       msn, n, last;
    bh_part_t     *parts;
    bh_segment_t  *segs;

    if (conf->window < 2 || conf->window > BH_MAX_WINDOW
        || conf->target <= 0 || conf->part_target < 0)
    {
        return BH_INVALID;
    }

    bh_rings(conf, &nsegs, &nparts);

    if (s->segs != NULL && s->nsegs == nsegs && s->nparts == nparts
        && s->conf.format == conf->format)
    {
        s->conf = *conf;
        s->version++;
        bh_render(a, s, now);
        return BH_OK;
    }

    /* the new rings first: if there is no room, nothing changes */

    segs = a->alloc(a->ctx, nsegs * sizeof(bh_segment_t));
    parts = a->alloc(a->ctx, nparts * sizeof(bh_part_t));

    if (segs == NULL || parts == NULL) {
        if (segs != NULL) {
            a->free(a->ctx, segs);
        }

        if (parts != NULL) {
            a->free(a->ctx, parts);
        }

        return BH_NOMEM;
    }

    memset(segs, 0, nsegs * sizeof(bh_segment_t));
    memset(parts, 0, nparts * sizeof(bh_part_t));

    if (s->segs != NULL && s->conf.format != conf->format) {

        /* other bytes: the media goes, the sequences go on */

        bh_stream_clear(a, s);
        s->discontinuity = 1;
    }

    if (s->segs != NULL) {

        /* keep what fits the new rings, the newest */

        last = s->next_msn + (s->open ? 1 : 0);

        while (s->first_msn < last
               && (last - s->first_msn > nsegs
                   || s->next_part - s->segs[s->first_msn % s->nsegs]
                                     .first_part > nparts))
        {
            (void) bh_evict(a, s);
            last = s->next_msn + (s->open ? 1 : 0);
        }

        for (msn = s->first_msn; msn < last; msn++) {
            segs[msn % nsegs] = s->segs[msn % s->nsegs];
        }

        for (n = s->next_part - (s->next_part - s->first_part_kept > nparts
                                 ? nparts
                                 : s->next_part - s->first_part_kept);
             n < s->next_part; n++)
        {
            parts[n % nparts] = s->parts[n % s->nparts];
        }

        a->free(a->ctx, s->segs);
        a->free(a->ctx, s->parts);

    } else {
        s->first_part_kept = s->next_part;
    }

    s->segs = segs;
    s->parts = parts;
    s->nsegs = nsegs;
    s->nparts = nparts;
    s->conf = *conf;
    s->configured = 1;
    s->version++;

    bh_render(a, s, now);

    (void) st;

    return BH_OK;
}


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


/* frees the oldest segment kept, or the open one if it is the only one */

static bh_status_t
bh_evict(const bh_alloc_t *a, bh_stream_t *s)
{
    uint32_t       i;
    bh_part_t     *part;
    bh_segment_t  *seg;

    if (s->first_msn > s->next_msn
        || (s->first_msn == s->next_msn && !s->open))
    {
        return BH_NOTFOUND;
    }

    seg = &s->segs[s->first_msn % s->nsegs];

    for (i = 0; i < seg->nparts; i++) {
        part = &s->parts[(seg->first_part + i) % s->nparts];

        if (part->data != NULL && part->number == seg->first_part + i) {
            a->free(a->ctx, part->data);
            s->bytes -= part->size;
            part->data = NULL;
        }
    }

    s->first_part_kept = seg->first_part + seg->nparts;

    if (s->first_msn == s->next_msn) {
        s->open = 0;
        s->next_msn++;
    }

    s->first_msn++;

    bh_free_inits(a, s, 0);

    return BH_OK;
}


/* frees the init segments no kept segment refers to (or all of them) */

static void
bh_free_inits(const bh_alloc_t *a, bh_stream_t *s, int all)
{
    uint32_t    i;
    uint64_t    msn, last;
    bh_init_t  *init;

    last = s->next_msn + (s->open ? 1 : 0);

    for (i = 0; i < BH_MAX_INITS; i++) {
        init = &s->inits[i];

        if (init->data == NULL || (!all && init->id == s->init_id)) {
            continue;
        }

        for (msn = s->first_msn; !all && msn < last; msn++) {
            if (s->segs[msn % s->nsegs].init_id == init->id) {
                break;
            }
        }

        if (all || msn == last) {
            a->free(a->ctx, init->data);
            init->data = NULL;
        }
    }
}


void
bh_stream_clear(const bh_alloc_t *a, bh_stream_t *s)
{
    if (s->segs != NULL) {
        while (bh_evict(a, s) == BH_OK) {
            /* void */
        }

        a->free(a->ctx, s->segs);
        s->segs = NULL;
    }

    if (s->parts != NULL) {
        a->free(a->ctx, s->parts);
        s->parts = NULL;
    }

    bh_free_inits(a, s, 1);

    bh_text_free(a, &s->playlist);
    bh_text_free(a, &s->delta);
    bh_text_free(a, &s->multivariant);

    /* the sequences go on after the media dropped here */

    s->first_msn = s->next_msn + (s->open ? 1 : 0);
    s->next_msn = s->first_msn;
    s->first_part_kept = s->next_part;
    s->open = 0;
    s->has_init = 0;
    s->configured = 0;
    s->bytes = 0;
    s->longest = 0;
    s->version++;
}
