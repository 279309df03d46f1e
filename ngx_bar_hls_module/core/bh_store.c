
/*
 * ngx_bar_hls_module media core: the store's streams, their rings and
 * the media they drop.
 *
 * A stream is found by name; its rings (segments, parts) are sized from
 * its configuration and resized keeping the newest media that fits.
 * Eviction frees a stream's oldest segment and the init segments no kept
 * segment refers to; bh_publish.c fills the rings and decides what to
 * evict when memory runs out.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_store.h"
#include "bh_store_int.h"


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


/* frees the oldest segment kept, or the open one if it is the only one */

bh_status_t
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
    bh_stills_free(a, s);

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
