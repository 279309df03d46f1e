
/*
 * Unit tests of the store (TAP, run by prove): core/bh_store.c,
 * bh_publish.c, bh_render.c and bh_serve.c with malloc behind them, so
 * that AddressSanitizer sees every byte (nginx's slab would hide
 * overflows).
 * An allocator with a budget stands in for a full or fragmented zone,
 * one that fails the Nth call for a reload that runs out of room.
 */


#define _GNU_SOURCE

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_media.h"
#include "bh_store.h"
#include "tap.h"


#define SEC         BH_USEC
#define T0          (INT64_C(1795636800) * BH_USEC)


typedef struct {
    size_t      used;
    size_t      budget;         /* 0: none */
    int         fail_after;     /* fail the call after this many, -1 */
    int         calls;
    int         live;
} heap_t;


typedef struct {
    size_t      size;
    heap_t     *heap;
} block_t;


static void *heap_alloc(void *ctx, size_t size);
static void heap_free(void *ctx, void *p);
static void conf_set(bh_stream_conf_t *c, int window, int64_t part);
static void setup(bh_store_t *st, bh_alloc_t *a, bh_stream_t *s,
    bh_stream_conf_t *c, uint64_t seq, int64_t *now);
static bh_status_t part(bh_store_t *st, bh_alloc_t *a, bh_stream_t *s,
    int key, size_t size, int64_t *now);
static bh_status_t init(bh_store_t *st, bh_alloc_t *a, bh_stream_t *s,
    int tag, int64_t now);
static bh_status_t ready(bh_stream_t *s, const char *path,
    const char *args);
static int playlist_has(bh_stream_t *s, const char *text);
static void test_playlist(void);
static void test_hint(void);
static void test_blocking(void);
static void test_configure(void);
static void test_full(void);
static void test_bounds(void);
static void test_reuse(void);


int
main(int argc, char **argv)
{
    test_playlist();
    test_hint();
    test_blocking();
    test_configure();
    test_full();
    test_bounds();
    test_reuse();

    return tap_done();
}


static void *
heap_alloc(void *ctx, size_t size)
{
    heap_t   *h = ctx;
    block_t  *b;

    h->calls++;

    if ((h->fail_after >= 0 && h->calls > h->fail_after)
        || (h->budget && h->used + size > h->budget))
    {
        return NULL;
    }

    b = malloc(sizeof(block_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->size = size;
    b->heap = h;
    h->used += size;
    h->live++;

    return b + 1;
}


static void
heap_free(void *ctx, void *p)
{
    heap_t   *h = ctx;
    block_t  *b;

    b = (block_t *) p - 1;

    if (b->heap != h) {
        abort();                            /* freed into the wrong heap */
    }

    h->used -= b->size;
    h->live--;

    free(b);
}


static void
conf_set(bh_stream_conf_t *c, int window, int64_t part_target)
{
    memset(c, 0, sizeof(bh_stream_conf_t));
    c->format = BH_FORMAT_FMP4;
    c->window = window;
    c->target = 2 * SEC;
    c->part_target = part_target;
    c->part = part_target ? part_target : SEC / 2;
}


/* a store with one stream "ale", configured, its init stored */

static void
setup(bh_store_t *st, bh_alloc_t *a, bh_stream_t *s, bh_stream_conf_t *c,
    uint64_t seq, int64_t *now)
{
    bh_store_init(st, 0);
    bh_stream_init(s, "ale", 3, seq);
    bh_store_add(st, s);
    conf_set(c, 6, SEC / 5);
    *now = T0;

    bh_stream_configure(st, a, s, c, *now);
    init(st, a, s, 1, *now);
}


/* a 200 ms part, starting a segment when key */

static bh_status_t
part(bh_store_t *st, bh_alloc_t *a, bh_stream_t *s, int key, size_t size,
    int64_t *now)
{
    bh_chunk_t   c;
    bh_status_t  rc;

    memset(&c, 0, sizeof(bh_chunk_t));
    c.type = BH_CHUNK_PART;
    c.data = malloc(size);
    c.size = size;
    c.duration = SEC / 5;
    c.wallclock = *now;
    c.frames = 5;
    c.segment_start = key;
    c.independent = key;

    memset(c.data, 0xab, size);

    rc = bh_stream_publish(st, a, s, &c, *now);

    free(c.data);
    *now += SEC / 5;

    return rc;
}


static bh_status_t
init(bh_store_t *st, bh_alloc_t *a, bh_stream_t *s, int tag, int64_t now)
{
    uint8_t      data[64];
    bh_chunk_t   c;

    memset(&c, 0, sizeof(bh_chunk_t));
    memset(data, tag, sizeof(data));
    c.type = BH_CHUNK_INIT;
    c.data = data;
    c.size = sizeof(data);
    c.width = 640;
    c.height = 360;
    snprintf(c.codecs, sizeof(c.codecs), "avc1.42c01e,mp4a.40.2");

    return bh_stream_publish(st, a, s, &c, now);
}


static bh_status_t
ready(bh_stream_t *s, const char *path, const char *args)
{
    bh_uri_t    u;
    bh_query_t  q;

    if (bh_uri_parse(path, strlen(path), &u) != BH_OK
        || bh_query_parse(args, strlen(args), &q) != BH_OK)
    {
        return BH_ERROR;
    }

    return bh_stream_ready(s, &u, &q);
}


static int
playlist_has(bh_stream_t *s, const char *text)
{
    char  buf[65536];

    if (s->playlist.data == NULL || s->playlist.len >= sizeof(buf)) {
        return 0;
    }

    memcpy(buf, s->playlist.data, s->playlist.len);
    buf[s->playlist.len] = '\0';

    return strstr(buf, text) != NULL;
}


static void
test_playlist(void)
{
    int               i, n;
    char              line[128];
    int64_t           now;
    heap_t            h = { 0, 0, -1, 0, 0 };
    bh_alloc_t        a = { heap_alloc, heap_free, &h };
    bh_store_t        st;
    bh_stream_t       s;
    bh_stream_conf_t  c;
    bh_uri_t          u;
    bh_query_t        q;
    bh_view_t         v;

    bh_store_init(&st, 0);
    bh_stream_init(&s, "ale", 3, 1000);
    bh_store_add(&st, &s);
    conf_set(&c, 6, SEC / 5);

    now = T0;

    ok(bh_stream_configure(&st, &a, &s, &c, now) == BH_OK, "configure");
    ok(init(&st, &a, &s, 1, now) == BH_OK, "init stored");

    for (i = 0; i < 9; i++) {
        part(&st, &a, &s, i == 0, 1000, &now);
    }

    ok(s.playlist.data == NULL && ready(&s, "ale/index.m3u8", "")
       == BH_AGAIN, "no playlist before the first segment is complete");

    for (i = 9; i < 10 * 12 + 3; i++) {
        part(&st, &a, &s, i % 10 == 0, 1000, &now);
    }

    ok(playlist_has(&s, "#EXT-X-TARGETDURATION:2\n")
       && playlist_has(&s, "#EXT-X-MEDIA-SEQUENCE:1006\n"),
       "6 segments listed, from 1006");
    ok(playlist_has(&s, "#EXT-X-PART-INF:PART-TARGET=0.200\n")
       && playlist_has(&s, "PART-HOLD-BACK=0.600"), "LL-HLS tags");

    /* parts: the open segment's 3, the last two segments' (6 s = 3 TD) */

    n = 0;

    for (i = 1000; i < 1200; i++) {
        snprintf(line, sizeof(line), "URI=\"part-%d.m4s\"", i);
        n += playlist_has(&s, line);
    }

    /* 23 EXT-X-PART and the hint */

    ok(n == 24, "the parts of the last 2 segments and the open one (%d)",
       n - 1);
    ok(playlist_has(&s, "#EXT-X-PART:DURATION=0.200,URI=\"part-1120.m4s\","
                        "INDEPENDENT=YES\n")
       && playlist_has(&s, "#EXT-X-PRELOAD-HINT:TYPE=PART,"
                           "URI=\"part-1123.m4s\"\n"),
       "parts named by their number, the hint the next one");

    ok(ready(&s, "ale/part-1122.m4s", "") == BH_OK
       && ready(&s, "ale/part-1123.m4s", "") == BH_AGAIN
       && ready(&s, "ale/part-1124.m4s", "") == BH_NOTFOUND
       && ready(&s, "ale/part-1003.m4s", "") == BH_NOTFOUND,
       "a part: there, hinted (wait), never, evicted");

    ok(ready(&s, "ale/seg-1011.m4s", "") == BH_OK
       && ready(&s, "ale/seg-1012.m4s", "") == BH_NOTFOUND
       && ready(&s, "ale/seg-1002.m4s", "") == BH_NOTFOUND,
       "a segment: there, open, evicted");

    bh_uri_parse("ale/seg-1011.m4s", 16, &u);
    memset(&q, 0, sizeof(q));

    ok(bh_stream_view(&s, &u, &q, -1, &v) == BH_OK && v.nparts == 10
       && v.size == 10000 && v.immutable && v.max_age == 18,
       "a segment's view: 10 parts, immutable for 18 s");

    bh_uri_parse("ale/index.m3u8", 14, &u);

    ok(bh_stream_view(&s, &u, &q, -1, &v) == BH_OK && v.max_age == 1
       && v.size == s.playlist.len, "the playlist's view: max-age 1");

    ok(ready(&s, "ale/master.m3u8", "") == BH_OK
       && s.multivariant.data != NULL
       && memmem(s.multivariant.data, s.multivariant.len,
                 "BANDWIDTH=40000,AVERAGE-BANDWIDTH=40000,"
                 "CODECS=\"avc1.42c01e,mp4a.40.2\",RESOLUTION=640x360,"
                 "FRAME-RATE=25.000\nindex.m3u8\n", 94) != NULL,
       "multivariant: measured bandwidth and frame rate");

    bh_stream_clear(&a, &s);

    ok(h.live == 0 && h.used == 0, "all freed (%d blocks left)", h.live);
}


/* a hinted part is a promise, whatever segment it lands in */

static void
test_hint(void)
{
    int               i;
    int64_t           now;
    heap_t            h = { 0, 0, -1, 0, 0 };
    bh_alloc_t        a = { heap_alloc, heap_free, &h };
    bh_store_t        st;
    bh_stream_t       s;
    bh_stream_conf_t  c;

    setup(&st, &a, &s, &c, 5000, &now);

    for (i = 0; i < 25; i++) {
        part(&st, &a, &s, i % 10 == 0, 500, &now);
    }

    ok(playlist_has(&s, "PRELOAD-HINT:TYPE=PART,URI=\"part-5025.m4s\""),
       "hint: part-5025");

    /* a keyframe early: the hinted part begins a new segment */

    part(&st, &a, &s, 1, 500, &now);

    ok(ready(&s, "ale/part-5025.m4s", "") == BH_OK
       && playlist_has(&s, "URI=\"part-5025.m4s\",INDEPENDENT=YES")
       && playlist_has(&s, "#EXTINF:1.000,\nseg-5002.m4s\n"),
       "the hinted part came, in the next segment");

    /* the session ends and another begins: the numbers go on */

    bh_stream_end(&a, &s, now);
    init(&st, &a, &s, 2, now);
    part(&st, &a, &s, 1, 500, &now);

    ok(ready(&s, "ale/part-5026.m4s", "") == BH_OK
       && playlist_has(&s, "#EXT-X-DISCONTINUITY\n"),
       "a new session: its first part is the hinted one, after a "
       "discontinuity");

    bh_stream_clear(&a, &s);
}


static void
test_blocking(void)
{
    int               i;
    int64_t           now;
    heap_t            h = { 0, 0, -1, 0, 0 };
    bh_alloc_t        a = { heap_alloc, heap_free, &h };
    bh_store_t        st;
    bh_stream_t       s;
    bh_stream_conf_t  c;

    setup(&st, &a, &s, &c, 100, &now);

    /* segment 100: 10 parts; 101: 7 parts (an early keyframe); 102 open */

    for (i = 0; i < 10; i++) {
        part(&st, &a, &s, i == 0, 500, &now);
    }

    for (i = 0; i < 7; i++) {
        part(&st, &a, &s, i == 0, 500, &now);
    }

    part(&st, &a, &s, 1, 500, &now);
    part(&st, &a, &s, 0, 500, &now);

    ok(ready(&s, "ale/index.m3u8", "_HLS_msn=101") == BH_OK
       && ready(&s, "ale/index.m3u8", "_HLS_msn=102") == BH_AGAIN
       && ready(&s, "ale/index.m3u8", "_HLS_msn=104") == BH_AGAIN
       && ready(&s, "ale/index.m3u8", "_HLS_msn=105") == BH_INVALID,
       "_HLS_msn: complete, open, 2 ahead, too far ahead");

    ok(ready(&s, "ale/index.m3u8", "_HLS_msn=102&_HLS_part=1") == BH_OK
       && ready(&s, "ale/index.m3u8", "_HLS_msn=102&_HLS_part=2")
          == BH_AGAIN,
       "_HLS_part of the open segment: there, next");

    ok(ready(&s, "ale/index.m3u8", "_HLS_msn=101&_HLS_part=6") == BH_OK
       && ready(&s, "ale/index.m3u8", "_HLS_msn=101&_HLS_part=9") == BH_OK,
       "_HLS_part past a segment's end: part 0 of the next, there");

    for (i = 0; i < 8; i++) {
        part(&st, &a, &s, 0, 500, &now);
    }

    part(&st, &a, &s, 1, 500, &now);

    ok(ready(&s, "ale/index.m3u8", "_HLS_msn=102&_HLS_part=10") == BH_OK
       && ready(&s, "ale/index.m3u8", "_HLS_msn=103&_HLS_part=1")
          == BH_AGAIN,
       "a segment closed with 10 parts: _HLS_part=10 is part 0 of 103");

    bh_stream_clear(&a, &s);
}


/* a reload changes the window, the part, the format; or has no room */

static void
test_configure(void)
{
    int               i;
    int64_t           now;
    uint32_t          nsegs;
    bh_part_t        *parts;
    heap_t            h = { 0, 0, -1, 0, 0 };
    bh_alloc_t        a = { heap_alloc, heap_free, &h };
    bh_store_t        st;
    bh_stream_t       s;
    bh_stream_conf_t  c;

    setup(&st, &a, &s, &c, 100, &now);

    for (i = 0; i < 95; i++) {
        part(&st, &a, &s, i % 10 == 0, 500, &now);
    }

    /* no room for the new rings: nothing changes */

    nsegs = s.nsegs;
    parts = s.parts;
    h.fail_after = h.calls + 1;
    conf_set(&c, 12, SEC / 10);

    ok(bh_stream_configure(&st, &a, &s, &c, now) == BH_NOMEM
       && s.nsegs == nsegs && s.parts == parts && s.conf.window == 6
       && s.conf.part_target == SEC / 5,
       "no room for the new rings: the stream is as it was");

    h.fail_after = -1;

    ok(part(&st, &a, &s, 0, 500, &now) == BH_OK
       && playlist_has(&s, "#EXT-X-MEDIA-SEQUENCE:103\n"),
       "and goes on");

    /* a smaller window: the newest segments stay */

    conf_set(&c, 3, SEC / 5);

    ok(bh_stream_configure(&st, &a, &s, &c, now) == BH_OK
       && playlist_has(&s, "#EXT-X-MEDIA-SEQUENCE:106\n")
       && ready(&s, "ale/seg-108.m4s", "") == BH_OK
       && ready(&s, "ale/part-190.m4s", "") == BH_OK,
       "window 6 to 3: segments 106-108 listed, their parts kept");

    /* another format: other bytes, the sequence goes on */

    c.format = BH_FORMAT_MPEGTS;

    ok(bh_stream_configure(&st, &a, &s, &c, now) == BH_OK
       && ready(&s, "ale/seg-108.ts", "") == BH_NOTFOUND
       && s.playlist.data == NULL && s.next_msn >= 109,
       "fMP4 to MPEG-TS: the media goes, the sequence goes on");

    bh_stream_clear(&a, &s);

    ok(h.live == 0, "all freed (%d blocks left)", h.live);
}


/* two cameras in a zone with room for 80 KiB of media: 4 segments each */

static void
test_full(void)
{
    int               i, rc, holes;
    int64_t           now;
    uint64_t          msn;
    heap_t            h = { 0, 0, -1, 0, 0 };
    bh_alloc_t        a = { heap_alloc, heap_free, &h };
    bh_store_t        st;
    bh_stream_t       s1, s2;
    bh_stream_conf_t  c;

    bh_store_init(&st, 0);
    bh_stream_init(&s1, "one", 3, 100);
    bh_stream_init(&s2, "two", 3, 100);
    bh_store_add(&st, &s1);
    bh_store_add(&st, &s2);
    conf_set(&c, 6, SEC / 5);
    now = T0;

    bh_stream_configure(&st, &a, &s1, &c, now);
    bh_stream_configure(&st, &a, &s2, &c, now);
    init(&st, &a, &s1, 1, now);
    init(&st, &a, &s2, 2, now);

    h.budget = h.used + 80 * 1024;

    rc = 0;

    for (i = 0; i < 200; i++) {
        rc |= part(&st, &a, &s1, i % 10 == 0, 1000, &now) != BH_OK;
        rc |= part(&st, &a, &s2, i % 10 == 0, 1000, &now) != BH_OK;
    }

    printf("# full %" PRId64 " %" PRId64 ", segments %" PRIu64 " %" PRIu64
           ", used %zu\n", s1.full, s2.full, s1.next_msn - s1.first_msn,
           s2.next_msn - s2.first_msn, h.used);

    ok(s1.full != 0 && s2.full != 0 && s1.next_msn - s1.first_msn >= 2
       && s2.next_msn - s2.first_msn >= 2,
       "a full zone: both streams keep at least one complete segment");

    holes = 0;

    for (msn = s1.first_msn; msn < s1.next_msn; msn++) {
        holes += s1.segs[msn % s1.nsegs].nparts != 10;
    }

    ok(holes == 0, "no segment has a hole");

    /* a part bigger than the store allows: refused, resync */

    st.part_max = 4096;

    ok(part(&st, &a, &s1, 0, 5000, &now) == BH_LIMIT
       && part(&st, &a, &s1, 0, 1000, &now) == BH_NOSPACE
       && part(&st, &a, &s1, 1, 1000, &now) == BH_OK,
       "a part over part_max: refused, then dropped to the next segment");

    bh_stream_clear(&a, &s1);
    bh_stream_clear(&a, &s2);

    ok(h.live == 0, "all freed (%d blocks left)", h.live);
}


static void
test_bounds(void)
{
    int               i;
    int64_t           now;
    heap_t            h = { 0, 0, -1, 0, 0 };
    bh_alloc_t        a = { heap_alloc, heap_free, &h };
    bh_store_t        st;
    bh_stream_t       s;
    bh_stream_conf_t  c;

    bh_store_init(&st, 0);
    bh_stream_init(&s, "ale", 3, 100);
    bh_store_add(&st, &s);
    conf_set(&c, 6, SEC / 5);
    now = T0;

    bh_stream_configure(&st, &a, &s, &c, now);

    ok(part(&st, &a, &s, 1, 500, &now) == BH_INVALID,
       "a part before any init segment: refused");

    /* the init does not fit: the session's parts are refused */

    h.fail_after = h.calls;

    ok(init(&st, &a, &s, 1, now) == BH_NOSPACE && !s.has_init,
       "no room for the init segment");

    h.fail_after = -1;

    ok(part(&st, &a, &s, 1, 500, &now) == BH_INVALID,
       "then no part goes with an older init");

    init(&st, &a, &s, 1, now);

    for (i = 0; i < BH_MAX_SEGMENT_PARTS; i++) {
        part(&st, &a, &s, i == 0, 100, &now);
    }

    ok(part(&st, &a, &s, 0, 100, &now) == BH_LIMIT && !s.open,
       "part %d of a segment without a keyframe: refused, the segment "
       "closed, not cut", BH_MAX_SEGMENT_PARTS + 1);

    bh_stream_clear(&a, &s);
}


/* 300 names over a zone's life: retired streams make room */

static void
test_reuse(void)
{
    int          i, added;
    char         name[16];
    bh_store_t   st;
    bh_stream_t  *s[300];

    bh_store_init(&st, 0);
    added = 0;

    for (i = 0; i < 300; i++) {
        s[i] = malloc(sizeof(bh_stream_t));
        snprintf(name, sizeof(name), "cam%d", i);
        bh_stream_init(s[i], name, strlen(name), 1);

        if (bh_store_add(&st, s[i]) == BH_OK) {
            added++;
        }

        if (i >= 30) {
            bh_store_remove(&st, s[i - 30]);
        }
    }

    ok(added == 300 && st.nstreams == 30
       && bh_store_find(&st, "cam299", 6) == s[299]
       && bh_store_find(&st, "cam0", 4) == NULL,
       "300 names, 30 at a time: all added (%d)", added);

    for (i = 0; i < 300; i++) {
        free(s[i]);
    }
}
