
/*
 * Unit tests of the segmenter's bounds (TAP, run by prove): what a
 * hostile camera can send inside a valid RTSP session.  Each case feeds
 * crafted H.264 packets and checks that nothing overflows (the tests run
 * under AddressSanitizer), that the heap stays bounded (ASan's count of
 * allocated bytes), that BH_LIMIT says which bound, and that the stream
 * resumes at the next keyframe after a discontinuity.
 *
 *     test_limits [BUILD_DIR]
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "bh_media.h"
#include "bh_codec.h"
#include "tap.h"


/* the heap in use, from AddressSanitizer's allocator */
extern size_t __sanitizer_get_current_allocated_bytes(void)
    __attribute__((weak));


/* SPS and PPS of a 320x240 stream made by x264 */

static const uint8_t  sps[] = {
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xb2, 0x02, 0x83, 0xf6, 0x02, 0x20, 0x00,
    0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x06, 0x41, 0xe2, 0x85, 0x49
};

static const uint8_t  pps[] = { 0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0 };


typedef struct {
    int         inits;
    int         parts;
    int64_t     first_wallclock;        /* of the first part */
    int64_t     first_start;
    int         misdated;               /* parts off the media clock */
    int         segments;
    int         discontinuities;
    int         not_independent;        /* segments not at a keyframe */
    int         resumed_at_key;         /* discontinuity parts at a key */
    size_t      max_part;
    int64_t     next_start;
} sink_t;


typedef struct {
    bh_segmenter_t     *sg;
    sink_t              out;
    AVCodecParameters  *par;
    int64_t             dts;            /* 1/90000 */
    int64_t             wallclock;      /* usec */
    int64_t             wall_step;      /* usec a packet; 0: as the dts */
    int                 limits;
    char                err[256];
} feed_t;


static void collect(void *data, bh_chunk_t *chunk);
static size_t heap(void);
static void feed_init(feed_t *f, int64_t max_bitrate, int extradata);
static void feed_done(feed_t *f);
static bh_status_t feed(feed_t *f, const uint8_t *data, size_t size,
    int key, int64_t step);
static size_t frame(uint8_t *buf, size_t size, int key, int with_ps);
static void test_sps_storm(void);
static void test_same_dts_flood(void);
static void test_big_frame(void);
static void test_tiny_steps(void);
static void test_no_keyframe(void);
static void test_bitrate(void);
static void test_late_arrivals(void);
static void test_speed(void);
static void test_avc_parsers(void);


int
main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_QUIET);

    test_avc_parsers();
    test_sps_storm();
    test_same_dts_flood();
    test_big_frame();
    test_tiny_steps();
    test_no_keyframe();
    test_bitrate();
    test_late_arrivals();
    test_speed();

    return tap_done();
}


static void
collect(void *data, bh_chunk_t *chunk)
{
    sink_t  *out = data;

    if (chunk->type == BH_CHUNK_INIT) {
        out->inits++;
        free(chunk->data);
        return;
    }

    out->parts++;

    if (out->parts == 1) {
        out->first_wallclock = chunk->wallclock;
        out->first_start = chunk->start;

    } else if (chunk->wallclock - out->first_wallclock
               != chunk->start - out->first_start)
    {
        out->misdated++;
    }

    if (chunk->size > out->max_part) {
        out->max_part = chunk->size;
    }

    if (chunk->segment_start) {
        out->segments++;
        out->not_independent += !chunk->independent;
    }

    if (chunk->discontinuity) {
        out->discontinuities++;
        out->resumed_at_key += chunk->segment_start && chunk->independent;
    }

    free(chunk->data);
}


static size_t
heap(void)
{
    return __sanitizer_get_current_allocated_bytes
           ? __sanitizer_get_current_allocated_bytes() : 0;
}


static void
feed_init(feed_t *f, int64_t max_bitrate, int extradata)
{
    uint8_t              *ed;
    bh_segmenter_conf_t   conf;

    memset(f, 0, sizeof(feed_t));

    memset(&conf, 0, sizeof(bh_segmenter_conf_t));
    conf.format = BH_FORMAT_FMP4;
    conf.segment = 2 * BH_USEC;
    conf.part = BH_USEC / 5;
    conf.max_bitrate = max_bitrate;

    f->sg = bh_segmenter_create(&conf, collect, &f->out);

    f->par = avcodec_parameters_alloc();
    f->par->codec_type = AVMEDIA_TYPE_VIDEO;
    f->par->codec_id = AV_CODEC_ID_H264;

    if (extradata) {
        ed = av_mallocz(8 + sizeof(sps) + sizeof(pps)
                        + AV_INPUT_BUFFER_PADDING_SIZE);
        memcpy(ed, "\0\0\0\1", 4);
        memcpy(ed + 4, sps, sizeof(sps));
        memcpy(ed + 4 + sizeof(sps), "\0\0\0\1", 4);
        memcpy(ed + 8 + sizeof(sps), pps, sizeof(pps));
        f->par->extradata = ed;
        f->par->extradata_size = 8 + sizeof(sps) + sizeof(pps);
    }

    f->wallclock = INT64_C(1795636800) * BH_USEC;

    (void) bh_segmenter_open(f->sg, f->par, 0, 1, 90000, NULL, -1, 0, 0,
                             f->err, sizeof(f->err));
}


static void
feed_done(feed_t *f)
{
    bh_segmenter_flush(f->sg);
    bh_segmenter_destroy(f->sg);
    avcodec_parameters_free(&f->par);
}


/* one packet, step ticks (1/90000) after the previous one */

static bh_status_t
feed(feed_t *f, const uint8_t *data, size_t size, int key, int64_t step)
{
    AVPacket     *pkt;
    bh_status_t   st;

    pkt = av_packet_alloc();
    av_new_packet(pkt, (int) size);
    memcpy(pkt->data, data, size);

    f->dts += step;
    f->wallclock += f->wall_step ? f->wall_step : step * BH_USEC / 90000;

    pkt->dts = f->dts;
    pkt->pts = f->dts;
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
    pkt->stream_index = 0;

    st = bh_segmenter_write(f->sg, pkt, f->wallclock, f->err,
                            sizeof(f->err));

    if (st == BH_LIMIT) {
        f->limits++;
    }

    av_packet_free(&pkt);

    return st;
}


/* a picture: [SPS PPS] and one slice of size bytes in all */

static size_t
frame(uint8_t *buf, size_t size, int key, int with_ps)
{
    size_t  n;

    n = 0;

    if (with_ps) {
        memcpy(buf, "\0\0\0\1", 4);
        memcpy(buf + 4, sps, sizeof(sps));
        memcpy(buf + 4 + sizeof(sps), "\0\0\0\1", 4);
        memcpy(buf + 8 + sizeof(sps), pps, sizeof(pps));
        n = 8 + sizeof(sps) + sizeof(pps);
    }

    memcpy(buf + n, key ? "\0\0\1\x65\x88" : "\0\0\1\x41\x9a", 5);
    n += 5;

    /* no zeros in the payload: no start codes in it */
    memset(buf + n, 0x5a, size > n ? size - n : 0);

    return size > n ? size : n;
}


static void
test_avc_parsers(void)
{
    size_t        len;
    uint8_t       out[BH_MAX_EXTRADATA], pkt[256];
    bh_avc_sps_t  s;

    ok(bh_avc_parse_sps(sps, sizeof(sps), &s) == BH_OK && s.width == 320
       && s.height == 240 && s.profile_idc == 100 && s.level_idc == 13,
       "SPS: High profile, level 1.3, %ux%u", s.width, s.height);

    ok(bh_avc_parse_sps(sps, 6, &s) != BH_OK, "truncated SPS refused");

    len = frame(pkt, 64, 1, 1);
    ok(bh_avc_au(pkt, len) == BH_AU_START, "SPS leads: an access unit");
    ok(bh_avc_au(pkt + 8 + sizeof(sps) + sizeof(pps), 20) == BH_AU_START,
       "first_mb_in_slice 0: an access unit");
    ok(bh_avc_au((const uint8_t *) "\0\0\1\x65\x40\x10", 6)
       == BH_AU_CONTINUE, "first_mb_in_slice 1: the same picture");
    ok(bh_avc_au((const uint8_t *) "\x5a\x5a", 2) == BH_AU_CONTINUE,
       "no start code: the rest of a NAL unit");
    ok(bh_avc_au((const uint8_t *) "\0\0\1\x0c\xff", 5) == BH_AU_UNKNOWN,
       "filler only: cannot tell");

    ok(bh_avc_parameter_sets(pkt, frame(pkt, 64, 1, 1), out, &len) == BH_OK
       && len == 8 + sizeof(sps) + sizeof(pps), "parameter sets of a "
       "keyframe: %zu bytes", len);
    ok(bh_avc_parameter_sets(pkt, frame(pkt, 64, 1, 0), out, &len)
       == BH_UNSUPPORTED, "a keyframe without them: unsupported");
}


/*
 * The review's heap overflow: a keyframe of 200 SPS with three-byte start
 * codes, and start codes inside a NAL unit's payload, while the stream
 * has no extradata (no sprop-parameter-sets in the SDP).
 */

static void
test_sps_storm(void)
{
    int           i;
    size_t        n;
    uint8_t      *buf;
    feed_t        f;
    bh_status_t   st;

    buf = malloc(200 * (3 + sizeof(sps)) + 4096);
    n = 0;

    for (i = 0; i < 200; i++) {
        memcpy(buf + n, "\0\0\1", 3);
        memcpy(buf + n + 3, sps, sizeof(sps));
        buf[n + 4] ^= (uint8_t) i;          /* 200 different ones */
        n += 3 + sizeof(sps);
    }

    memcpy(buf + n, "\0\0\1", 3);
    memcpy(buf + n + 3, pps, sizeof(pps));
    n += 3 + sizeof(pps);

    /* a PPS with start codes inside */
    memcpy(buf + n, "\0\0\1\x68\0\0\1\0\0\1\0\0\1", 13);
    n += 13;

    n += frame(buf + n, 1000, 1, 0);

    feed_init(&f, 0, 0);

    st = BH_OK;

    for (i = 0; i < 60 && st == BH_OK; i++) {
        st = feed(&f, buf, n, i % 25 == 0, 3600);
    }

    ok(st == BH_OK, "200 SPS in a keyframe, no extradata: accepted (%s)",
       st == BH_OK ? "ok" : f.err);
    ok(f.out.inits == 1 && f.out.parts > 0, "an init segment and %d parts",
       f.out.parts);

    feed_done(&f);
    free(buf);
}


/* the review's 800 MB of packets with one DTS: one frame, for ever */

static void
test_same_dts_flood(void)
{
    int       i;
    size_t    base, peak, n;
    uint8_t  *buf;
    feed_t    f;

    buf = malloc(65536);
    n = frame(buf, 65536, 1, 1);

    feed_init(&f, 0, 1);

    base = heap();
    peak = base;

    for (i = 0; i < 12800; i++) {
        (void) feed(&f, buf, n, 1, i == 0 ? 3600 : 0);

        if (heap() > peak) {
            peak = heap();
        }
    }

    ok(f.limits >= 1 && strstr(f.err, "frame over") != NULL,
       "800 MB with one DTS: BH_LIMIT %d times (%s)", f.limits, f.err);
    ok(!__sanitizer_get_current_allocated_bytes
       || peak - base < 64 * 1024 * 1024,
       "the heap grew by at most 64 MiB (%zu KiB)", (peak - base) / 1024);

    /* the camera comes to its senses: the stream resumes at a keyframe */

    for (i = 0; i < 100; i++) {
        (void) feed(&f, buf, 1000, i % 25 == 0, 3600);
    }

    ok(f.out.parts > 0 && f.out.resumed_at_key >= 1,
       "resumed at a keyframe after a discontinuity (%d parts)",
       f.out.parts);

    feed_done(&f);
    free(buf);
}


static void
test_big_frame(void)
{
    size_t       n;
    uint8_t     *buf;
    feed_t       f;
    bh_status_t  st;

    n = 9 * 1024 * 1024;
    buf = malloc(n);
    frame(buf, n, 1, 1);

    feed_init(&f, 0, 1);

    (void) feed(&f, buf, 1000, 1, 3600);
    st = feed(&f, buf, n, 1, 3600);

    ok(st == BH_LIMIT && strstr(f.err, "frame over") != NULL,
       "a 9 MiB frame: BH_LIMIT (%s)", f.err);

    feed_done(&f);
    free(buf);
}


/* DTS one tick apart: parts are cut by their size, never open for ever */

static void
test_tiny_steps(void)
{
    int       i;
    size_t    base, peak;
    uint8_t   buf[2048];
    feed_t    f;

    feed_init(&f, 0, 1);

    base = heap();
    peak = base;

    for (i = 0; i < 20000; i++) {
        (void) feed(&f, buf, frame(buf, sizeof(buf), i == 0, i == 0), i == 0,
                    1);

        if (heap() > peak) {
            peak = heap();
        }
    }

    ok(f.out.parts >= 4, "20000 frames 1/90000 s apart: %d parts",
       f.out.parts);
    ok(!__sanitizer_get_current_allocated_bytes
       || peak - base < 64 * 1024 * 1024,
       "the heap grew by at most 64 MiB (%zu KiB)", (peak - base) / 1024);

    feed_done(&f);
}


/* a segment starts at a keyframe, or after BH_MAX_SEGMENT_PARTS, not */

static void
test_no_keyframe(void)
{
    int       i;
    uint8_t   buf[512];
    feed_t    f;

    feed_init(&f, 0, 1);

    for (i = 0; i < 5 * BH_MAX_SEGMENT_PARTS + 20; i++) {
        (void) feed(&f, buf, frame(buf, sizeof(buf), i == 0, i == 0), i == 0,
                    3600);
    }

    ok(f.limits == 1 && strstr(f.err, "no keyframe within") != NULL,
       "no keyframe for %d frames: BH_LIMIT (%s)", i, f.err);
    ok(f.out.segments == 1 && f.out.parts == BH_MAX_SEGMENT_PARTS,
       "one segment of %d parts, not cut mid-GOP (%d segments, %d parts)",
       BH_MAX_SEGMENT_PARTS, f.out.segments, f.out.parts);

    for (i = 0; i < 60; i++) {
        (void) feed(&f, buf, frame(buf, sizeof(buf), i % 25 == 0, 0),
                    i % 25 == 0, 3600);
    }

    ok(f.out.resumed_at_key == 1 && f.out.not_independent == 0,
       "resumed at the next keyframe after a discontinuity");

    feed_done(&f);
}


/* max_bitrate: 1 Mbit/s allowed, 10 Mbit/s sent, then 0.5 Mbit/s */

static void
test_bitrate(void)
{
    int       i, parts, limits;
    uint8_t  *buf;
    feed_t    f;

    buf = malloc(50000);

    feed_init(&f, 1000000, 1);

    for (i = 0; i < 250; i++) {
        (void) feed(&f, buf, frame(buf, 50000, i % 25 == 0, 0), i % 25 == 0,
                    3600);
    }

    ok(f.limits >= 1 && strstr(f.err, "max_bitrate=1000000") != NULL,
       "10 Mbit/s into max_bitrate=1000000: BH_LIMIT (%d times: %s)",
       f.limits, f.err);

    parts = f.out.parts;
    limits = f.limits;

    for (i = 0; i < 250; i++) {
        (void) feed(&f, buf, frame(buf, 2500, i % 25 == 0, 0), i % 25 == 0,
                    3600);
    }

    ok(f.limits == limits && f.out.parts > parts + 40
       && f.out.resumed_at_key >= 1, "0.5 Mbit/s later: streaming again "
       "from a keyframe (%d parts)", f.out.parts - parts);

    feed_done(&f);
    free(buf);
}


/*
 * A loaded machine reads some packets seconds late: PROGRAM-DATE-TIME
 * still follows the media clock, from the earliest arrivals.
 */

static void
test_late_arrivals(void)
{
    int       i;
    int64_t   late;
    uint8_t   buf[512];
    feed_t    f;

    feed_init(&f, 0, 1);

    for (i = 0; i < 500; i++) {
        late = (i % 37 < 5) ? (i % 37) * 600000 : 0;

        f.wallclock += late;
        (void) feed(&f, buf, frame(buf, sizeof(buf), i % 25 == 0, i == 0),
                    i % 25 == 0, 3600);
        f.wallclock -= late;
    }

    ok(f.out.parts > 50 && f.out.misdated == 0,
       "frames up to 2.4 s late: every part dated by the media clock "
       "(%d of %d off)", f.out.misdated, f.out.parts);

    feed_done(&f);
}


/*
 * Timestamps a tick apart while the frames come 40 ms apart: a part that
 * would stay open for ever; and timestamps a second apart: parts faster
 * than the clock.  Both are past a bound within BH_SPEED_WINDOW.
 */

static void
test_speed(void)
{
    int       i;
    uint8_t   buf[512];
    feed_t    f;

    feed_init(&f, 0, 1);
    f.wall_step = 40000;

    for (i = 0; i < 400; i++) {
        (void) feed(&f, buf, frame(buf, sizeof(buf), i % 25 == 0, i == 0),
                    i % 25 == 0, 1);
    }

    ok(f.limits >= 1 && strstr(f.err, "timestamps went by") != NULL,
       "timestamps 1/90000 s apart, frames 40 ms: BH_LIMIT (%s)", f.err);

    feed_done(&f);

    feed_init(&f, 0, 1);
    f.wall_step = 40000;

    for (i = 0; i < 400; i++) {
        (void) feed(&f, buf, frame(buf, sizeof(buf), i % 25 == 0, i == 0),
                    i % 25 == 0, 90000);
    }

    ok(f.limits >= 1 && strstr(f.err, "timestamps went by") != NULL,
       "timestamps a second apart, frames 40 ms: BH_LIMIT (%s)", f.err);

    feed_done(&f);
}
