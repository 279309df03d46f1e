
/*
 * ngx_bar_hls_module media core: what a request for the store gets.
 *
 * The readiness rules of Low-Latency HLS (RFC 8216bis 6.2.5.2, 6.2.6): a
 * blocking playlist reload waits for the segment or part it names, and
 * for part 0 of the next segment when the one it names ended with fewer
 * parts; the preload-hinted part is a promise, waited for whatever
 * segment it lands in; nothing waits for what can never exist.  Then
 * where the bytes are, and how long a cache may keep them.
 */


#include <string.h>

#include "bh_store_int.h"


#define BH_INIT_MAX_AGE     86400       /* seconds, a versioned init */


static bh_status_t bh_ready_playlist(const bh_stream_t *s,
    const bh_query_t *q);


bh_status_t
bh_stream_ready(const bh_stream_t *s, const bh_uri_t *u,
    const bh_query_t *q)
{
    uint32_t  i;

    if (!s->configured) {
        return BH_AGAIN;
    }

    switch (u->type) {

    case BH_URI_PLAYLIST:
        return bh_ready_playlist(s, q);

    case BH_URI_MULTIVARIANT:
        return s->multivariant.data != NULL ? BH_OK : BH_AGAIN;

    case BH_URI_INIT:

        if (s->conf.format != BH_FORMAT_FMP4) {
            return BH_NOTFOUND;
        }

        if (u->current) {
            return s->has_init ? BH_OK : BH_AGAIN;
        }

        for (i = 0; i < BH_MAX_INITS; i++) {
            if (s->inits[i].data != NULL && s->inits[i].id == u->init_id) {
                return BH_OK;
            }
        }

        return BH_NOTFOUND;

    case BH_URI_SEGMENT:

        if (u->format != s->conf.format || u->msn < s->first_msn
            || u->msn >= s->next_msn)
        {
            return BH_NOTFOUND;
        }

        return BH_OK;

    default: /* BH_URI_PART */

        if (u->format != s->conf.format) {
            return BH_NOTFOUND;
        }

        if (u->part < s->next_part) {
            return bh_stream_part(s, u->part) != NULL ? BH_OK
                                                      : BH_NOTFOUND;
        }

        /* the hinted part: it comes, in this segment or the next */

        if (u->part == s->next_part && s->conf.part_target) {
            return BH_AGAIN;
        }

        return BH_NOTFOUND;
    }
}


static bh_status_t
bh_ready_playlist(const bh_stream_t *s, const bh_query_t *q)
{
    uint64_t             last, msn;
    uint32_t             part;
    const bh_segment_t  *seg;

    if (s->playlist.data == NULL) {
        return BH_AGAIN;                    /* no complete segment yet */
    }

    if (!q->has_msn) {
        return BH_OK;
    }

    /* the last segment the playlist names, complete or not */

    last = (s->conf.part_target && s->open) ? s->next_msn
                                            : s->next_msn - 1;

    if (q->msn > last + 2) {
        return BH_INVALID;
    }

    msn = q->msn;
    part = q->has_part ? q->part : 0;

    if (!q->has_part || !s->conf.part_target) {
        return msn < s->next_msn ? BH_OK : BH_AGAIN;
    }

    if (msn < s->first_msn) {
        return BH_OK;
    }

    /* a segment that ended with fewer parts: part 0 of the next one */

    if (msn < s->next_msn) {
        seg = &s->segs[msn % s->nsegs];

        if (part < seg->nparts) {
            return BH_OK;
        }

        msn++;
        part = 0;

        if (msn < s->next_msn) {
            return BH_OK;
        }
    }

    if (msn == s->next_msn && s->open
        && part < s->segs[msn % s->nsegs].nparts)
    {
        return BH_OK;
    }

    return BH_AGAIN;
}


const bh_part_t *
bh_stream_part(const bh_stream_t *s, uint64_t n)
{
    const bh_part_t  *part;

    if (s->parts == NULL || n >= s->next_part || n < s->first_part_kept
        || s->next_part - n > s->nparts)
    {
        return NULL;
    }

    part = &s->parts[n % s->nparts];

    return (part->data != NULL && part->number == n) ? part : NULL;
}


bh_status_t
bh_stream_view(const bh_stream_t *s, const bh_uri_t *u,
    const bh_query_t *q, int64_t playlist_max_age, bh_view_t *v)
{
    uint32_t             i;
    const bh_part_t     *part;
    const bh_text_t     *text;
    const bh_segment_t  *seg;

    memset(v, 0, sizeof(bh_view_t));

    switch (u->type) {

    case BH_URI_PLAYLIST:
    case BH_URI_MULTIVARIANT:

        if (u->type == BH_URI_MULTIVARIANT) {
            text = &s->multivariant;
            v->etag_kind = 'v';

        } else {
            text = (q->skip && s->delta.data != NULL) ? &s->delta
                                                      : &s->playlist;
            v->etag_kind = 'l';
        }

        if (text->data == NULL) {
            return BH_NOTFOUND;
        }

        v->data = text->data;
        v->size = text->len;
        v->etag[0] = text->etag;
        v->modified = s->updated;

        /*
         * A blocking reload's URL names a part that only ever grows into
         * longer playlists: it may be cached longer (RFC 8216bis, B.1).
         */

        if (q->has_msn) {
            v->max_age = 6 * s->conf.target / BH_USEC;

        } else if (playlist_max_age >= 0) {
            v->max_age = playlist_max_age / BH_USEC;

        } else {
            v->max_age = s->conf.target / (2 * BH_USEC);
        }

        if (v->max_age < 1) {
            v->max_age = 1;
        }

        return BH_OK;

    case BH_URI_INIT:

        for (i = 0; i < BH_MAX_INITS; i++) {
            if (s->inits[i].data != NULL
                && s->inits[i].id == (u->current ? s->init_id : u->init_id))
            {
                break;
            }
        }

        if (i == BH_MAX_INITS) {
            return BH_NOTFOUND;
        }

        v->data = s->inits[i].data;
        v->size = s->inits[i].size;
        v->etag_kind = 'i';
        v->etag[0] = s->inits[i].id;
        v->modified = s->inits[i].time;

        /* init.mp4 changes with the stream; init-<id>.mp4 never does */

        v->max_age = u->current ? 1 : BH_INIT_MAX_AGE;
        v->immutable = !u->current;

        return BH_OK;

    case BH_URI_SEGMENT:

        if (u->msn < s->first_msn || u->msn >= s->next_msn) {
            return BH_NOTFOUND;
        }

        seg = &s->segs[u->msn % s->nsegs];

        for (i = 0; i < seg->nparts; i++) {
            if (bh_stream_part(s, seg->first_part + i) == NULL) {
                return BH_NOTFOUND;
            }
        }

        v->first_part = seg->first_part;
        v->nparts = seg->nparts;
        v->size = seg->size;
        v->etag_kind = 's';
        v->etag[0] = (uint32_t) u->msn;
        v->etag[1] = (uint32_t) (u->msn >> 32) ^ seg->size;
        v->modified = seg->wallclock + seg->duration;
        break;

    default: /* BH_URI_PART */

        part = bh_stream_part(s, u->part);
        if (part == NULL) {
            return BH_NOTFOUND;
        }

        v->data = part->data;
        v->size = part->size;
        v->etag_kind = 'p';
        v->etag[0] = (uint32_t) u->part;
        v->etag[1] = (uint32_t) (u->part >> 32) ^ part->size;
        v->modified = part->wallclock;
        break;
    }

    /* sequence numbers are never reused, nor are these bytes */

    v->max_age = (s->conf.window + BH_KEPT_SEGMENTS) * s->conf.target
                 / BH_USEC;
    v->immutable = 1;

    return BH_OK;
}


uint64_t
bh_stream_listed(const bh_stream_t *s, uint64_t *first)
{
    uint64_t  n;

    n = s->next_msn - s->first_msn;

    if (n > s->conf.window) {
        n = s->conf.window;
    }

    *first = s->next_msn - n;

    return n;
}
