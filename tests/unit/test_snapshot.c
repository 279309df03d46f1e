
/*
 * Unit tests of the snapshots (TAP, run by prove): core/bh_jpeg.c makes
 * JPEG pictures of the keyframes of BUILD_DIR/fixture.mkv (H.264,
 * 320x240, a keyframe a second, a moving test pattern) in the sizes
 * asked for, which decode again to pictures of that size that are not
 * blank and change as the scene does; garbage does not decode and harms
 * nothing after it; core/bh_snapper.c makes at most one a second, only
 * while pictures are wanted, in its own thread.  Under AddressSanitizer.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "bh_media.h"
#include "bh_snapshot.h"
#include "tap.h"


#define KEYFRAMES   4


typedef struct {
    int             count;
    bh_snapshot_t   last;
} got_t;


static int load(const char *path, AVCodecParameters *par, AVPacket **keys,
    int need, AVPacket ***all, int *nall);
static int jpeg_check(const bh_picture_t *pic, uint32_t w, uint32_t h,
    double *spread);
static void on_snapshot(void *data, bh_snapshot_t *snap);
static uint8_t *remux(AVCodecParameters *par, AVPacket **all, int n,
    const char *format, size_t *len);
static int boxes(const uint8_t *p, size_t len, const char *type, size_t *at,
    int max);
static void test_jpeg(AVCodecParameters *par, AVPacket **keys);
static void test_index(void);
static void test_snapper(AVCodecParameters *par, AVPacket **all, int n,
    int64_t tb_num, int64_t tb_den);
static void test_store(AVCodecParameters *par, AVPacket **keys);
static void test_hevc(AVCodecParameters *par, AVPacket **keys);
static void *heap_alloc(void *ctx, size_t size);
static void heap_free(void *ctx, void *p);


static AVRational  tb;


int
main(int argc, char **argv)
{
    int                 i, n;
    char                fixture[4096];
    AVPacket           *keys[KEYFRAMES], **all;
    AVCodecParameters  *par;

    if (argc < 2) {
        fprintf(stderr, "usage: %s BUILD_DIR\n", argv[0]);
        return 2;
    }

    snprintf(fixture, sizeof(fixture), "%s/fixture.mkv", argv[1]);

    par = avcodec_parameters_alloc();
    all = NULL;
    n = 0;

    if (par == NULL || load(fixture, par, keys, KEYFRAMES, &all, &n) != 0) {
        ok(0, "the fixture %s loads", fixture);
        return tap_done();
    }

    test_index();
    test_jpeg(par, keys);
    test_snapper(par, all, n, tb.num, tb.den);
    test_store(par, keys);

    for (i = 0; i < KEYFRAMES; i++) {
        av_packet_free(&keys[i]);
    }

    for (i = 0; i < n; i++) {
        av_packet_free(&all[i]);
    }

    free(all);

    /* H.265, where the build made its fixture (make unit-run) */

    snprintf(fixture, sizeof(fixture), "%s/hevc/hevc-main.mp4", argv[1]);
    all = NULL;
    n = 0;

    if (access(fixture, R_OK) == 0) {
        if (load(fixture, par, keys, 1, &all, &n) == 0) {
            test_hevc(par, keys);

        } else {
            ok(0, "the fixture %s loads", fixture);
        }

    } else {
        ok(1, "# SKIP no %s", fixture);
        memset(keys, 0, sizeof(keys));
    }

    for (i = 0; i < KEYFRAMES; i++) {
        av_packet_free(&keys[i]);
    }

    for (i = 0; i < n; i++) {
        av_packet_free(&all[i]);
    }

    free(all);
    avcodec_parameters_free(&par);

    return tap_done();
}


/* the video's parameters, its first (need or more) keyframes, its packets */

static int
load(const char *path, AVCodecParameters *par, AVPacket **keys, int need,
    AVPacket ***all, int *nall)
{
    int               v, nkeys, cap;
    AVPacket         *pkt;
    AVFormatContext  *ic;

    ic = NULL;
    memset(keys, 0, KEYFRAMES * sizeof(AVPacket *));

    if (avformat_open_input(&ic, path, NULL, NULL) < 0
        || avformat_find_stream_info(ic, NULL) < 0)
    {
        return -1;
    }

    v = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (v < 0) {
        avformat_close_input(&ic);
        return -1;
    }

    avcodec_parameters_copy(par, ic->streams[v]->codecpar);
    tb = ic->streams[v]->time_base;

    nkeys = 0;
    cap = 1024;
    *all = calloc(cap, sizeof(AVPacket *));

    for ( ;; ) {
        pkt = av_packet_alloc();

        if (pkt == NULL || av_read_frame(ic, pkt) < 0) {
            av_packet_free(&pkt);
            break;
        }

        if (pkt->stream_index != v || *nall == cap) {
            av_packet_free(&pkt);
            continue;
        }

        if ((pkt->flags & AV_PKT_FLAG_KEY) && nkeys < KEYFRAMES) {
            keys[nkeys++] = av_packet_clone(pkt);
        }

        (*all)[(*nall)++] = pkt;
    }

    avformat_close_input(&ic);

    return nkeys >= need ? 0 : -1;
}


/* decodes pic: a JPEG of w x h; *spread: the luma's standard deviation */

static int
jpeg_check(const bh_picture_t *pic, uint32_t w, uint32_t h, double *spread)
{
    int              rc, x, y;
    double           sum, sq, n, v;
    AVFrame         *f;
    AVPacket        *pkt;
    AVCodecContext  *dec;

    if (pic->data == NULL || pic->size < 4 || pic->data[0] != 0xff
        || pic->data[1] != 0xd8 || pic->data[pic->size - 2] != 0xff
        || pic->data[pic->size - 1] != 0xd9)
    {
        return 0;
    }

    dec = avcodec_alloc_context3(avcodec_find_decoder(AV_CODEC_ID_MJPEG));
    f = av_frame_alloc();
    pkt = av_packet_alloc();
    rc = -1;

    if (dec != NULL && f != NULL && pkt != NULL
        && avcodec_open2(dec, NULL, NULL) >= 0
        && av_new_packet(pkt, (int) pic->size) >= 0)
    {
        memcpy(pkt->data, pic->data, pic->size);
        rc = avcodec_send_packet(dec, pkt);

        if (rc >= 0) {
            rc = avcodec_receive_frame(dec, f);
        }
    }

    sum = 0;
    sq = 0;
    n = 0;

    if (rc >= 0) {
        for (y = 0; y < f->height; y += 2) {
            for (x = 0; x < f->width; x += 2) {
                v = f->data[0][y * f->linesize[0] + x];
                sum += v;
                sq += v * v;
                n++;
            }
        }
    }

    *spread = n > 0 ? sq / n - (sum / n) * (sum / n) : 0;

    rc = (rc >= 0 && f->width == (int) w && f->height == (int) h);

    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&dec);

    return rc;
}


static void
test_jpeg(AVCodecParameters *par, AVPacket **keys)
{
    char            err[128];
    double          spread;
    AVPacket       *bad;
    bh_jpeg_t      *j;
    bh_status_t     st;
    bh_snapshot_t   a, b;

    j = bh_jpeg_create(par);
    ok(j != NULL, "jpeg: a decoder for %s", avcodec_get_name(par->codec_id));

    if (j == NULL) {
        return;
    }

    st = bh_jpeg_make(j, keys[0], BH_SNAPSHOT_ALL, &a, err, sizeof(err));
    ok(st == BH_OK, "jpeg: the first keyframe makes pictures (%s)",
       st == BH_OK ? "" : err);

    ok(jpeg_check(&a.pictures[0], 320, 240, &spread),
       "jpeg: full size, 320x240, decodes (%zu bytes)", a.pictures[0].size);
    ok(spread > 100, "jpeg: not blank (luma variance %.0f)", spread);
    ok(a.pictures[0].width == 320 && a.pictures[0].height == 240,
       "jpeg: says its size");
    ok(jpeg_check(&a.pictures[1], 160, 120, &spread) && spread > 100,
       "jpeg: width=160 is 160x120 (%zu bytes)", a.pictures[1].size);
    ok(a.pictures[1].size < a.pictures[0].size, "jpeg: and smaller");
    ok(a.pictures[2].data == NULL && a.pictures[3].data == NULL
       && a.pictures[4].data == NULL,
       "jpeg: widths not narrower than the picture are not made");

    st = bh_jpeg_make(j, keys[2], 1u << 3, &b, err, sizeof(err));
    ok(st == BH_OK && b.pictures[3].data == NULL
       && jpeg_check(&b.pictures[0], 320, 240, &spread),
       "jpeg: width=640 of a 320 wide camera makes the full picture");
    ok(b.pictures[0].size != a.pictures[0].size
       || memcmp(b.pictures[0].data, a.pictures[0].data, a.pictures[0].size),
       "jpeg: two seconds later, another picture");
    bh_snapshot_free(&b);

    /* garbage: nothing made, and the next keyframe decodes as before */

    bad = av_packet_alloc();
    av_new_packet(bad, 4000);
    memset(bad->data, 0x5a, 4000);
    bad->flags = AV_PKT_FLAG_KEY;

    st = bh_jpeg_make(j, bad, BH_SNAPSHOT_ALL, &b, err, sizeof(err));
    ok(st != BH_OK && b.pictures[0].data == NULL,
       "jpeg: garbage does not decode (%s)", err);

    bad->size = 0;
    st = bh_jpeg_make(j, bad, 1, &b, err, sizeof(err));
    ok(st != BH_OK, "jpeg: nor does nothing");
    av_packet_free(&bad);

    st = bh_jpeg_make(j, keys[0], 1, &b, err, sizeof(err));
    ok(st == BH_OK && b.pictures[0].size == a.pictures[0].size
       && memcmp(b.pictures[0].data, a.pictures[0].data, b.pictures[0].size)
          == 0,
       "jpeg: after it, the first keyframe again, the same bytes");
    bh_snapshot_free(&b);
    bh_snapshot_free(&a);

    bh_jpeg_destroy(j);

    par->codec_id = AV_CODEC_ID_NONE;
    ok(bh_jpeg_create(par) == NULL, "jpeg: no decoder, no maker");
    par->codec_id = AV_CODEC_ID_H264;
}


static void
test_index(void)
{
    ok(bh_snapshot_index("", 0) == 0, "index: none, the full picture");
    ok(bh_snapshot_index("width=160", 9) == 1, "index: width=160");
    ok(bh_snapshot_index("width=1280", 10) == 4, "index: width=1280");
    ok(bh_snapshot_width(4) == 1280 && bh_snapshot_width(0) == 0,
       "index: its width");
    ok(bh_snapshot_index("width=161", 9) == -1, "index: not a listed width");
    ok(bh_snapshot_index("width=0640", 10) == -1, "index: no leading zero");
    ok(bh_snapshot_index("width=", 6) == -1, "index: no width");
    ok(bh_snapshot_index("width=64000000000", 17) == -1, "index: too long");
    ok(bh_snapshot_index("width=640&x=1", 13) == -1, "index: nothing else");
    ok(bh_snapshot_index("height=640", 10) == -1, "index: width only");
}


static void
on_snapshot(void *data, bh_snapshot_t *snap)
{
    got_t  *got = data;

    bh_snapshot_free(&got->last);
    got->last = *snap;
    got->count++;
}


/*
 * The fixture's video muxed by libavformat into fragmented MP4 (one
 * fragment per keyframe) or MPEG-TS, in memory, as the segmenter's parts
 * would be.
 */

static uint8_t *
remux(AVCodecParameters *par, AVPacket **all, int n, const char *format,
    size_t *len)
{
    int               i, size;
    uint8_t          *buf, *copy;
    AVStream         *st;
    AVPacket         *pkt;
    AVDictionary     *opts;
    AVFormatContext  *oc;

    *len = 0;

    if (avformat_alloc_output_context2(&oc, NULL, format, NULL) < 0) {
        return NULL;
    }

    st = avformat_new_stream(oc, NULL);
    avcodec_parameters_copy(st->codecpar, par);
    st->codecpar->codec_tag = 0;
    st->time_base = tb;

    opts = NULL;
    av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov"
                "+default_base_moof", 0);

    if (avio_open_dyn_buf(&oc->pb) < 0
        || avformat_write_header(oc, &opts) < 0)
    {
        av_dict_free(&opts);
        avformat_free_context(oc);
        return NULL;
    }

    av_dict_free(&opts);

    for (i = 0; i < n; i++) {
        pkt = av_packet_clone(all[i]);
        pkt->stream_index = 0;
        av_packet_rescale_ts(pkt, tb, st->time_base);
        av_interleaved_write_frame(oc, pkt);
        av_packet_free(&pkt);
    }

    av_write_trailer(oc);

    size = avio_close_dyn_buf(oc->pb, &buf);
    avformat_free_context(oc);

    copy = malloc(size > 0 ? size : 1);

    if (copy != NULL && size > 0) {
        memcpy(copy, buf, size);
        *len = size;
    }

    av_free(buf);

    return copy;
}


/* offsets of the top-level boxes of type */

static int
boxes(const uint8_t *p, size_t len, const char *type, size_t *at, int max)
{
    int       n;
    size_t    pos;
    uint32_t  size;

    n = 0;

    for (pos = 0; pos + 8 <= len && n < max; pos += size) {
        size = (uint32_t) p[pos] << 24 | p[pos + 1] << 16 | p[pos + 2] << 8
               | p[pos + 3];

        if (size < 8 || pos + size > len) {
            break;
        }

        if (memcmp(p + pos + 4, type, 4) == 0) {
            at[n++] = pos;
        }
    }

    return n;
}


static void
test_snapper(AVCodecParameters *par, AVPacket **all, int n, int64_t tb_num,
    int64_t tb_den)
{
    int             i, frags, wanted;
    double          spread;
    size_t          len, tslen, at[64], init_len;
    uint8_t        *mp4, *ts;
    int64_t         t0, t;
    uint64_t        failed;
    got_t           got;
    bh_snapper_t   *sn;

    memset(&got, 0, sizeof(got));

    mp4 = remux(par, all, n, "mp4", &len);
    ts = remux(par, all, n, "mpegts", &tslen);
    frags = mp4 ? boxes(mp4, len, "moof", at, 64) : 0;

    ok(frags >= 10 && ts != NULL, "snapper: %d fMP4 fragments, %zu bytes of "
       "MPEG-TS", frags, tslen);

    sn = bh_snapper_create(BH_USEC, on_snapshot, &got);
    ok(sn != NULL, "snapper: created");

    if (sn == NULL || frags < 10 || ts == NULL) {
        free(mp4);
        free(ts);
        bh_snapper_destroy(sn);
        return;
    }

    init_len = at[0];
    at[frags] = len;
    t0 = bh_wallclock();
    wanted = 0;

    /* each fragment a second apart, wanted for the middle half */

    for (i = 0; i < frags; i++) {
        t = t0 + i * BH_USEC;
        wanted += (i >= frags / 4 && i < 3 * frags / 4);

        bh_snapper_offer(sn, (i >= frags / 4 && i < 3 * frags / 4) ? 3 : 0,
                         mp4, init_len, mp4 + at[i], at[i + 1] - at[i], t);
        bh_snapper_drain(sn);
    }

    ok(got.count == wanted && wanted >= 4,
       "snapper: one snapshot per keyframe a second apart while wanted "
       "(%d of %d)", got.count, wanted);
    ok(got.last.time >= t0, "snapper: dated by the part");
    ok(jpeg_check(&got.last.pictures[0], 320, 240, &spread)
       && jpeg_check(&got.last.pictures[1], 160, 120, &spread),
       "snapper: the sizes wanted, made in its thread");
    ok(bh_snapper_made(sn, &failed) == (uint64_t) got.count && failed == 0,
       "snapper: counts what it made");

    /* keyframes 40 ms apart: one a second is made (an eighth early ok) */

    got.count = 0;
    t = t0 + 100 * BH_USEC;

    for (i = 0; i < 100; i++) {
        bh_snapper_offer(sn, 1, mp4, init_len, mp4 + at[1], at[2] - at[1],
                         t + i * 40000);
        bh_snapper_drain(sn);
    }

    ok(got.count == 5, "snapper: 4 s of keyframes 40 ms apart make 5, "
       "0.88 s apart (%d)", got.count);

    /* MPEG-TS: no init segment; garbage: nothing, and no harm */

    got.count = 0;
    bh_snapper_offer(sn, 1, NULL, 0, ts, tslen, t + 1000 * BH_USEC);
    bh_snapper_drain(sn);
    ok(got.count == 1 && jpeg_check(&got.last.pictures[0], 320, 240,
                                    &spread),
       "snapper: an MPEG-TS part");

    memset(ts, 0x47, tslen > 20000 ? 20000 : tslen);
    bh_snapper_offer(sn, 1, NULL, 0, ts, 20000, t + 1002 * BH_USEC);
    bh_snapper_drain(sn);
    bh_snapper_offer(sn, 1, mp4, 100, mp4 + at[1], 100, t + 1004 * BH_USEC);
    bh_snapper_drain(sn);
    (void) bh_snapper_made(sn, &failed);
    ok(got.count == 1 && failed == 2, "snapper: garbage makes nothing");

    bh_snapper_offer(sn, 1, mp4, init_len, mp4 + at[3], at[4] - at[3],
                     t + 1006 * BH_USEC);
    bh_snapper_drain(sn);
    ok(got.count == 2, "snapper: and the next part works");

    bh_snapper_destroy(sn);
    bh_snapshot_free(&got.last);

    /* destroyed with work in its mailbox, or never started */

    sn = bh_snapper_create(BH_USEC, on_snapshot, &got);
    bh_snapper_offer(sn, BH_SNAPSHOT_ALL, mp4, init_len, mp4 + at[1],
                     at[2] - at[1], bh_wallclock());
    bh_snapper_destroy(sn);
    bh_snapshot_free(&got.last);

    sn = bh_snapper_create(BH_USEC, on_snapshot, &got);
    bh_snapper_destroy(sn);
    ok(1, "snapper: destroyed busy or idle");

    free(mp4);
    free(ts);
    (void) tb_num;
    (void) tb_den;
}


static void
test_hevc(AVCodecParameters *par, AVPacket **keys)
{
    char            err[128];
    double          spread;
    bh_jpeg_t      *j;
    bh_snapshot_t   snap;

    j = bh_jpeg_create(par);
    ok(j != NULL && par->codec_id == AV_CODEC_ID_HEVC, "hevc: a decoder");

    if (j == NULL) {
        return;
    }

    ok(bh_jpeg_make(j, keys[0], 3, &snap, err, sizeof(err)) == BH_OK
       && jpeg_check(&snap.pictures[0], (uint32_t) par->width,
                     (uint32_t) par->height, &spread)
       && spread > 100
       && jpeg_check(&snap.pictures[1], 160,
                     (uint32_t) (par->height * 160 / par->width + 1) & ~1u,
                     &spread),
       "hevc: a keyframe of %dx%d to JPEG, and 160 wide", par->width,
       par->height);

    bh_snapshot_free(&snap);
    bh_jpeg_destroy(j);
}


/* malloc with a budget of live blocks: a zone with no room */

static int  heap_room = 1000;


static void *
heap_alloc(void *ctx, size_t size)
{
    if (heap_room <= 0) {
        return NULL;
    }

    heap_room--;

    return malloc(size);
}


static void
heap_free(void *ctx, void *p)
{
    heap_room++;
    free(p);
}


static void
test_store(AVCodecParameters *par, AVPacket **keys)
{
    char                err[128];
    int64_t             now;
    bh_uri_t            u;
    bh_view_t           v;
    bh_query_t          q;
    bh_jpeg_t          *j;
    bh_alloc_t          a;
    bh_stream_t         s;
    bh_snapshot_t       snap, next;

    a.alloc = heap_alloc;
    a.free = heap_free;
    a.ctx = NULL;

    bh_stream_init(&s, "ale", 3, 1000);
    now = bh_wallclock();

    ok(bh_stream_wanted(&s, now) == 0, "store: nothing wanted at first");

    bh_stream_want(&s, 0, now);
    bh_stream_want(&s, 2, now);
    ok(bh_stream_wanted(&s, now + 59 * BH_USEC) == 5,
       "store: a request wants its size for a minute");
    ok(bh_stream_wanted(&s, now + 61 * BH_USEC) == 0, "store: not longer");

    memset(&q, 0, sizeof(q));
    ok(bh_uri_parse("ale/snapshot.jpg", 16, &u) == BH_OK
       && u.type == BH_URI_SNAPSHOT, "store: ale/snapshot.jpg parses");
    ok(bh_uri_parse("ale/snapshot.jpeg", 17, &u) != BH_OK,
       "store: nor any other name");
    (void) bh_uri_parse("ale/snapshot.jpg", 16, &u);
    ok(bh_stream_ready(&s, &u, &q) == BH_AGAIN, "store: none yet: wait");

    j = bh_jpeg_create(par);
    if (j == NULL
        || bh_jpeg_make(j, keys[0], BH_SNAPSHOT_ALL, &snap, err, sizeof(err))
           != BH_OK
        || bh_jpeg_make(j, keys[1], 1, &next, err, sizeof(err)) != BH_OK)
    {
        ok(0, "store: pictures made");
        bh_jpeg_destroy(j);
        return;
    }

    bh_jpeg_destroy(j);
    snap.pictures[0].time = now;

    ok(bh_stream_snapshot(&a, &s, snap.pictures, now) == BH_OK
       && s.snapshots_total == 1, "store: a snapshot stored");
    ok(bh_stream_ready(&s, &u, &q) == BH_OK
       && bh_stream_view(&s, &u, &q, -1, &v) == BH_OK
       && v.size == snap.pictures[0].size
       && memcmp(v.data, snap.pictures[0].data, v.size) == 0
       && v.etag_kind == 'j' && v.max_age == 1 && !v.immutable
       && v.modified == now,
       "store: served as it was made, for a second");

    u.size = 1;
    ok(bh_stream_view(&s, &u, &q, -1, &v) == BH_OK
       && v.size == snap.pictures[1].size, "store: width=160, its own");

    u.size = 3;
    ok(bh_stream_view(&s, &u, &q, -1, &v) == BH_OK
       && v.size == snap.pictures[0].size,
       "store: width=640 of a 320 wide camera, the full picture");

    /* the next keyframe replaces the full picture only */

    u.size = 0;
    ok(bh_stream_snapshot(&a, &s, next.pictures, now) == BH_OK
       && s.snapshots_total == 2
       && bh_stream_view(&s, &u, &q, -1, &v) == BH_OK
       && v.size == next.pictures[0].size
       && memcmp(v.data, next.pictures[0].data, v.size) == 0,
       "store: the next replaces it");
    u.size = 1;
    ok(bh_stream_view(&s, &u, &q, -1, &v) == BH_OK
       && v.size == snap.pictures[1].size, "store: the small one stays");

    /* no room: the old picture's room is used, else it is not stored */

    heap_room = 0;
    ok(bh_stream_snapshot(&a, &s, snap.pictures, now) == BH_OK,
       "store: a full zone: in the room of the pictures replaced");
    u.size = 0;
    ok(bh_stream_view(&s, &u, &q, -1, &v) == BH_OK
       && v.size == snap.pictures[0].size, "store: and served");

    bh_stream_clear(&a, &s);
    ok(bh_stream_ready(&s, &u, &q) == BH_AGAIN && heap_room == 2,
       "store: cleared, every picture freed");

    heap_room = 1000;
    bh_snapshot_free(&snap);
    bh_snapshot_free(&next);
}
