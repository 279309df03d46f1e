
/*
 * ngx_bar_hls_module media core: the store's playlists, rendered once
 * per change into the store, not once per request.
 *
 * The media playlist lists the window's complete segments, at least
 * three target durations of them (RFC 8216bis 6.2.2), and with Low-
 * Latency HLS the parts of the segments that begin within the last three
 * target durations, the open segment's parts and the hint of the next
 * part.  TARGETDURATION covers the longest segment ever listed, so that
 * it does not change from one reload to the next.  Nothing is listed
 * before the first segment is complete: its duration says what the
 * target must be.
 */


#include <stdlib.h>
#include <string.h>

#include "bh_store_int.h"


#define BH_TEXT_ROUND       1024


static bh_status_t bh_text_set(const bh_alloc_t *a, bh_text_t *text,
    const char *buf, size_t len);
static bh_status_t bh_render_text(const bh_alloc_t *a, bh_playlist_t *pl,
    bh_text_t *text);
static void bh_render_parts(const bh_stream_t *s, const bh_segment_t *seg,
    bh_playlist_part_t *parts, bh_playlist_segment_t *out);
static void bh_render_variant(const bh_alloc_t *a, bh_stream_t *s,
    uint64_t first);


void
bh_render(const bh_alloc_t *a, bh_stream_t *s, int64_t now)
{
    size_t                  n, i, nparts;
    int64_t                 listed, end, td;
    uint64_t                msn, first, disc;
    bh_playlist_t           pl;
    bh_segment_t           *seg;
    bh_playlist_part_t     *parts, *p;
    bh_playlist_segment_t  *segs, open;

    s->updated = now;

    if (s->segs == NULL || s->next_msn == s->first_msn) {
        bh_text_free(a, &s->playlist);
        bh_text_free(a, &s->delta);
        bh_text_free(a, &s->multivariant);
        return;
    }

    /* the window, or more to make three target durations */

    memset(&pl, 0, sizeof(bh_playlist_t));
    pl.target = s->conf.target > s->longest ? s->conf.target : s->longest;
    td = bh_playlist_target(&pl) * BH_USEC;

    first = s->next_msn;
    listed = 0;

    while (first > s->first_msn
           && (s->next_msn - first < s->conf.window || listed < 3 * td))
    {
        first--;
        listed += s->segs[first % s->nsegs].duration;
    }

    n = s->next_msn - first;

    segs = malloc(n * sizeof(bh_playlist_segment_t));
    parts = malloc((BH_KEPT_SEGMENTS + 1) * BH_MAX_SEGMENT_PARTS
                   * sizeof(bh_playlist_part_t));

    if (segs == NULL || parts == NULL) {
        free(segs);
        free(parts);
        return;                             /* the old text stays */
    }

    disc = s->discontinuities;

    for (i = 0, msn = first; msn < s->next_msn; i++, msn++) {
        seg = &s->segs[msn % s->nsegs];

        memset(&segs[i], 0, sizeof(bh_playlist_segment_t));
        segs[i].msn = seg->msn;
        segs[i].duration = seg->duration;
        segs[i].wallclock = seg->wallclock;
        segs[i].discontinuity = seg->discontinuity;
        segs[i].init_id = seg->init_id;

        if (seg->discontinuity && msn > first) {
            disc--;
        }
    }

    if (s->open) {
        seg = &s->segs[s->next_msn % s->nsegs];

        /* the open segment's discontinuity is counted, not listed yet */

        if (seg->discontinuity && s->next_msn > first) {
            disc--;
        }
    }

    pl.format = s->conf.format;
    pl.part_target = s->conf.part_target;
    pl.discontinuity_sequence = disc;
    pl.segments = segs;
    pl.nsegments = n;
    pl.hint = s->next_part;

    if (s->conf.part_target) {

        /* parts of the segments that begin within three targets */

        td = bh_playlist_target(&pl) * BH_USEC;
        end = 0;
        nparts = 0;
        p = parts;

        if (s->open) {
            seg = &s->segs[s->next_msn % s->nsegs];
            end = seg->duration;

            memset(&open, 0, sizeof(bh_playlist_segment_t));
            open.msn = seg->msn;
            open.wallclock = seg->wallclock;
            open.discontinuity = seg->discontinuity;
            open.init_id = seg->init_id;

            bh_render_parts(s, seg, p, &open);
            p += open.nparts;
            nparts++;

            pl.open = &open;
        }

        for (i = n; i > 0 && nparts <= BH_KEPT_SEGMENTS; i--) {
            end += segs[i - 1].duration;

            if (end > 3 * td) {
                break;
            }

            bh_render_parts(s, &s->segs[segs[i - 1].msn % s->nsegs], p,
                            &segs[i - 1]);
            p += segs[i - 1].nparts;
            nparts++;
        }
    }

    if (bh_render_text(a, &pl, &s->playlist) == BH_OK) {
        pl.skip = 1;

        if (bh_playlist_skippable(&pl)) {
            (void) bh_render_text(a, &pl, &s->delta);

        } else {
            bh_text_free(a, &s->delta);
        }
    }

    free(segs);
    free(parts);

    bh_render_variant(a, s, first);
}


static void
bh_render_parts(const bh_stream_t *s, const bh_segment_t *seg,
    bh_playlist_part_t *parts, bh_playlist_segment_t *out)
{
    uint32_t          i;
    const bh_part_t  *part;

    for (i = 0; i < seg->nparts && i < BH_MAX_SEGMENT_PARTS; i++) {
        part = &s->parts[(seg->first_part + i) % s->nparts];
        parts[i].number = seg->first_part + i;
        parts[i].duration = part->duration;
        parts[i].independent = part->independent;
    }

    out->parts = parts;
    out->nparts = i;
}


/*
 * The multivariant playlist: BANDWIDTH is the peak segment bit rate of
 * the segments listed, AVERAGE-BANDWIDTH their average, FRAME-RATE their
 * frames over their duration.
 */

static void
bh_render_variant(const bh_alloc_t *a, bh_stream_t *s, uint64_t first)
{
    char                 buf[512];
    size_t               len;
    uint64_t             msn, bytes, frames, peak, rate;
    int64_t              duration;
    bh_variant_t         v;
    const bh_segment_t  *seg;

    bytes = 0;
    frames = 0;
    duration = 0;
    peak = 0;

    for (msn = first; msn < s->next_msn; msn++) {
        seg = &s->segs[msn % s->nsegs];

        if (seg->duration <= 0) {
            continue;
        }

        rate = (uint64_t) seg->size * 8 * BH_USEC / seg->duration;

        if (rate > peak) {
            peak = rate;
        }

        bytes += seg->size;
        frames += seg->frames;
        duration += seg->duration;
    }

    if (duration <= 0) {
        return;
    }

    memset(&v, 0, sizeof(bh_variant_t));
    v.bandwidth = peak;
    v.average = bytes * 8 * BH_USEC / duration;
    v.codecs = s->codecs;
    v.width = s->width;
    v.height = s->height;
    v.frame_rate = (uint32_t) (frames * 1000 * BH_USEC / duration);

    len = bh_playlist_multivariant(&v, buf, sizeof(buf));

    if (len > 0) {
        (void) bh_text_set(a, &s->multivariant, buf, len);
    }
}


static bh_status_t
bh_render_text(const bh_alloc_t *a, bh_playlist_t *pl, bh_text_t *text)
{
    char         *buf;
    size_t        size, len;
    bh_status_t   st;

    size = bh_playlist_size(pl);

    buf = malloc(size);
    if (buf == NULL) {
        return BH_NOMEM;
    }

    len = bh_playlist_write(pl, buf, size);

    st = len ? bh_text_set(a, text, buf, len) : BH_NOSPACE;

    free(buf);

    return st;
}


/*
 * A playlist is rewritten in place when it fits, so that the zone is not
 * churned five times a second; when there is no room for a larger one,
 * the old text stays, stale but whole.
 */

static bh_status_t
bh_text_set(const bh_alloc_t *a, bh_text_t *text, const char *buf,
    size_t len)
{
    size_t    cap;
    uint8_t  *p;

    if (len > text->cap) {
        cap = (len + BH_TEXT_ROUND - 1) / BH_TEXT_ROUND * BH_TEXT_ROUND;

        p = a->alloc(a->ctx, cap);
        if (p == NULL) {
            return BH_NOMEM;
        }

        bh_text_free(a, text);

        text->data = p;
        text->cap = cap;
    }

    memcpy(text->data, buf, len);
    text->len = len;
    text->etag = bh_crc32(buf, len);

    return BH_OK;
}


void
bh_text_free(const bh_alloc_t *a, bh_text_t *text)
{
    if (text->data != NULL) {
        a->free(a->ctx, text->data);
    }

    text->data = NULL;
    text->len = 0;
    text->cap = 0;
}
