
/*
 * ngx_bar_hls_module media core: the store.
 *
 * Every camera's media as the viewers see it: a ring of segments made of
 * parts, the init segments they refer to, the rendered playlists, and
 * the rules of what may be asked for and when (blocking reloads, preload
 * hints, eviction when memory runs short, caching).  It lives in memory
 * that the caller provides through an allocator (nginx's shared zone, or
 * malloc in the unit tests) and keeps no pointer to anything else, so
 * that every process that maps the zone reads it.  The caller serializes
 * all calls (the zone mutex).
 *
 * Parts are numbered for the whole stream, independently of segments:
 * the next part's URL is known before the next keyframe decides whether
 * it begins a new segment, so a preload hint is always kept.
 */


#ifndef _BH_STORE_H_INCLUDED_
#define _BH_STORE_H_INCLUDED_


#include "bh_media.h"


#define BH_MAX_STREAMS          256
#define BH_MAX_WINDOW           64
#define BH_MAX_INITS            4       /* listed at once */
#define BH_KEPT_SEGMENTS        3       /* servable after leaving the list */


typedef struct {
    void             *(*alloc)(void *ctx, size_t size);  /* NULL: no room */
    void              (*free)(void *ctx, void *p);
    void               *ctx;
} bh_alloc_t;


typedef struct {
    uint8_t            *data;           /* NULL: evicted, or never */
    uint64_t            number;
    int64_t             wallclock;      /* usec since the epoch */
    uint32_t            size;
    uint32_t            duration;       /* usec */
    uint32_t            frames;
    unsigned            independent:1;
} bh_part_t;


typedef struct {
    uint64_t            msn;
    uint64_t            first_part;     /* its first part's number */
    int64_t             wallclock;      /* usec since the epoch */
    int64_t             duration;       /* usec */
    uint32_t            nparts;
    uint32_t            size;
    uint32_t            frames;
    uint32_t            init_id;
    unsigned            discontinuity:1;
} bh_segment_t;


typedef struct {
    uint8_t            *data;           /* NULL: a free entry */
    size_t              size;
    uint32_t            id;             /* CRC-32 of data: its name */
    int64_t             time;           /* usec since the epoch */
} bh_init_t;


typedef struct {
    uint8_t            *data;
    size_t              len;
    size_t              cap;
    uint32_t            etag;           /* CRC-32 of data */
} bh_text_t;


typedef struct {
    bh_format_t         format;
    uint32_t            window;         /* segments listed */
    int64_t             target;         /* usec */
    int64_t             part_target;    /* usec; 0: no Low-Latency HLS */
    int64_t             part;           /* usec, parts as the segmenter cuts */
} bh_stream_conf_t;


typedef struct bh_stream_s {
    char                name[65];
    size_t              name_len;

    bh_stream_conf_t    conf;
    unsigned            configured:1;

    /* what the camera sends: the current init segment and those listed */
    bh_init_t           inits[BH_MAX_INITS];
    uint32_t            init_id;
    char                codecs[64];
    uint32_t            width;
    uint32_t            height;

    uint32_t            nsegs;          /* ring capacities */
    uint32_t            nparts;
    bh_segment_t       *segs;
    bh_part_t          *parts;

    uint64_t            first_msn;      /* oldest kept */
    uint64_t            next_msn;       /* the open segment's, or the next */
    uint64_t            next_part;
    uint64_t            first_part_kept;    /* parts before are freed */
    uint64_t            discontinuities;    /* ever, to the open segment */
    int64_t             longest;        /* usec, longest segment listed */
    size_t              bytes;          /* of the parts kept */

    unsigned            open:1;         /* next_msn has parts */
    unsigned            has_init:1;     /* this session's init is stored */
    unsigned            discontinuity:1;/* mark the next segment */
    unsigned            resync:1;       /* drop parts until a segment */

    bh_text_t           playlist;
    bh_text_t           delta;          /* _HLS_skip=YES */
    bh_text_t           multivariant;
    int64_t             updated;        /* usec since the epoch */
    uint64_t            version;        /* bumped on every change */
    int64_t             full;           /* usec: media last lost to room */

    uint64_t            parts_total;    /* published, ever */
    uint64_t            segments_total;
    uint64_t            bytes_total;
} bh_stream_t;


typedef struct {
    uint32_t            nstreams;
    bh_stream_t        *streams[BH_MAX_STREAMS];
    size_t              part_max;       /* a bigger part is refused */
} bh_store_t;


/* what a request gets: bh_stream_view() */

typedef struct {
    size_t              size;
    const uint8_t      *data;           /* one piece; NULL: parts below */
    uint64_t            first_part;     /* a segment: its parts */
    uint32_t            nparts;
    char                etag_kind;
    uint32_t            etag[2];
    int64_t             modified;       /* usec since the epoch */
    int64_t             max_age;        /* seconds */
    unsigned            immutable:1;
} bh_view_t;


void bh_store_init(bh_store_t *st, size_t part_max);
bh_status_t bh_store_add(bh_store_t *st, bh_stream_t *s);
void bh_store_remove(bh_store_t *st, bh_stream_t *s);
bh_stream_t *bh_store_find(bh_store_t *st, const char *name, size_t len);

/* seq: where sequence numbers start (the clock, see bh_store.c) */
void bh_stream_init(bh_stream_t *s, const char *name, size_t len,
    uint64_t seq);

/*
 * Sizes the rings for conf, keeping the media that fits; BH_NOMEM leaves
 * the stream as it was.  A new format drops the media.
 */
bh_status_t bh_stream_configure(bh_store_t *st, const bh_alloc_t *a,
    bh_stream_t *s, const bh_stream_conf_t *conf, int64_t now);

/*
 * BH_OK; BH_NOSPACE: no room, even after evicting (the part is dropped,
 * and so is everything up to the next segment); BH_LIMIT: the part is
 * over the store's bound; BH_INVALID: not configured, or no init yet.
 */
bh_status_t bh_stream_publish(bh_store_t *st, const bh_alloc_t *a,
    bh_stream_t *s, const bh_chunk_t *chunk, int64_t now);

/* the camera's session ended: its last segment is complete as it is */
void bh_stream_end(const bh_alloc_t *a, bh_stream_t *s, int64_t now);

/* frees all the media and the rings */
void bh_stream_clear(const bh_alloc_t *a, bh_stream_t *s);

/*
 * May the request be answered?  BH_OK: now; BH_AGAIN: when the stream
 * changes (blocking reloads, hinted parts, before the first segment);
 * BH_NOTFOUND: gone, or never; BH_INVALID: _HLS_msn too far ahead.
 */
bh_status_t bh_stream_ready(const bh_stream_t *s, const bh_uri_t *u,
    const bh_query_t *q);

/*
 * Where the answer is, and how to cache it; after bh_stream_ready() gave
 * BH_OK.  playlist_max_age: usec, -1 for half a target duration.
 */
bh_status_t bh_stream_view(const bh_stream_t *s, const bh_uri_t *u,
    const bh_query_t *q, int64_t playlist_max_age, bh_view_t *v);

/* part n's bytes, or NULL */
const bh_part_t *bh_stream_part(const bh_stream_t *s, uint64_t n);

/* the stream's published size: segments listed, a playlist's first msn */
uint64_t bh_stream_listed(const bh_stream_t *s, uint64_t *first);


#endif /* _BH_STORE_H_INCLUDED_ */
