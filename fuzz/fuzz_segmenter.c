
/*
 * Fuzz target for the segmenter and the store (core/bh_segmenter.c and
 * friends, core/bh_store.c, bh_publish.c, bh_render.c, bh_serve.c): what
 * a camera that sends garbage inside valid RTSP sessions produces, as far
 * as the playlists the viewers get.  The input is a sequence of packets with
 * arbitrary payloads, flags and timestamps (repeated, backwards, jumping,
 * missing) on an H.264 and an AAC track, in one or more sessions; the
 * segmenter must never crash, hang or emit anything but well-formed
 * parts, contiguous but after a discontinuity, and the store must list
 * only what it serves.
 *
 *     make fuzz-segmenter FUZZ_SECONDS=600
 *
 * The first byte: bit 0 MPEG-TS (else fMP4), bit 1 no extradata (the
 * parameter sets in band only), bit 2 max_bitrate=100000, bit 3 no
 * audio track, bit 4 a store of 64 KiB (else 16 MiB), bit 5 the audio
 * config from the input (a length byte, an AudioSpecificConfig of that
 * many bytes, a sample rate byte x 1000 Hz).  Then packet
 * records: kind (1 byte: bit 0 audio, bit 1 keyframe, bit 2 no
 * timestamp, bit 3 the session ends before it: a new one begins), DTS
 * step (2 bytes, little endian, signed, 1/90000 s or samples), CTS (1
 * byte), size (2 bytes, little endian), then size bytes of payload.
 * fuzz/make_corpus.c writes seeds of this format from real streams.
 */


#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "bh_media.h"
#include "bh_store.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* SPS and PPS of a 320x240 stream made by x264 */

static const uint8_t  bh_fuzz_avc[] = {
    0x00, 0x00, 0x00, 0x01,
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xb2, 0x02, 0x83, 0xf6, 0x02, 0x20, 0x00,
    0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x06, 0x41, 0xe2, 0x85, 0x49,
    0x00, 0x00, 0x00, 0x01,
    0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0
};

/* AudioSpecificConfig: AAC LC, 44100 Hz, mono */

static const uint8_t  bh_fuzz_asc[] = { 0x12, 0x08 };


typedef struct {
    size_t          used;
    size_t          budget;
} bh_fuzz_heap_t;


typedef struct {
    int64_t         next_start;
    int             broken;
    int             inits;
    int             parts;
    int             segments;
    int             limits;
    int64_t         now;
    bh_store_t     *store;
    bh_stream_t    *stream;
    bh_alloc_t     *alloc;
} bh_fuzz_out_t;


static void *
bh_fuzz_alloc(void *ctx, size_t size)
{
    size_t          *p;
    bh_fuzz_heap_t  *h = ctx;

    if (h->used + size > h->budget) {
        return NULL;
    }

    p = malloc(sizeof(size_t) + size);
    if (p == NULL) {
        return NULL;
    }

    *p = size;
    h->used += size;

    return p + 1;
}


static void
bh_fuzz_free(void *ctx, void *ptr)
{
    size_t          *p;
    bh_fuzz_heap_t  *h = ctx;

    p = (size_t *) ptr - 1;
    h->used -= *p;
    free(p);
}


static void
bh_fuzz_chunk(void *data, bh_chunk_t *chunk)
{
    bh_fuzz_out_t  *out = data;

    if (chunk->type == BH_CHUNK_INIT) {
        out->inits++;
        out->next_start = INT64_MIN;

    } else {

        /* parts follow each other on the timeline, none is empty */

        if ((out->next_start != INT64_MIN && chunk->start != out->next_start
             && !chunk->discontinuity)
            || chunk->duration <= 0 || chunk->size < 8)
        {
            fprintf(stderr, "broken part: start %" PRId64 " (expected %"
                    PRId64 "), duration %" PRId64 ", size %zu\n",
                    chunk->start, out->next_start, chunk->duration,
                    chunk->size);
            out->broken = 1;
        }

        out->next_start = chunk->start + chunk->duration;
        out->parts++;
        out->segments += chunk->segment_start;
    }

    (void) bh_stream_publish(out->store, out->alloc, out->stream, chunk,
                             out->now);

    free(chunk->data);
}


static void
bh_fuzz_params(AVCodecParameters *v, AVCodecParameters *a)
{
    v->codec_type = AVMEDIA_TYPE_VIDEO;
    v->codec_id = AV_CODEC_ID_H264;
    v->width = 320;
    v->height = 240;
    v->extradata = av_mallocz(sizeof(bh_fuzz_avc)
                              + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(v->extradata, bh_fuzz_avc, sizeof(bh_fuzz_avc));
    v->extradata_size = sizeof(bh_fuzz_avc);

    a->codec_type = AVMEDIA_TYPE_AUDIO;
    a->codec_id = AV_CODEC_ID_AAC;
    a->sample_rate = 44100;
    a->ch_layout = (AVChannelLayout) AV_CHANNEL_LAYOUT_MONO;
    a->frame_size = 1024;
    a->extradata = av_mallocz(sizeof(bh_fuzz_asc)
                              + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(a->extradata, bh_fuzz_asc, sizeof(bh_fuzz_asc));
    a->extradata_size = sizeof(bh_fuzz_asc);
}


static bh_segmenter_t *
bh_fuzz_session(bh_segmenter_conf_t *conf, bh_fuzz_out_t *out,
    uint8_t flags, const uint8_t *asc, size_t asc_len, int rate)
{
    char                 err[256];
    bh_segmenter_t      *sg;
    AVCodecParameters   *v, *a;

    sg = bh_segmenter_create(conf, bh_fuzz_chunk, out);
    v = avcodec_parameters_alloc();
    a = avcodec_parameters_alloc();

    if (sg == NULL || v == NULL || a == NULL) {
        abort();
    }

    bh_fuzz_params(v, a);

    if (flags & 2) {
        av_freep(&v->extradata);
        v->extradata_size = 0;
    }

    if (asc != NULL) {

        /* what an SDP's config= and clock rate may say */

        av_freep(&a->extradata);
        a->extradata = av_mallocz(asc_len + AV_INPUT_BUFFER_PADDING_SIZE);
        memcpy(a->extradata, asc, asc_len);
        a->extradata_size = (int) asc_len;
        a->sample_rate = rate;
    }

    /* an audio config it cannot carry fails here, as it does on a camera */

    if (bh_segmenter_open(sg, v, 0, 1, 90000, (flags & 8) ? NULL : a, 1, 1,
                          a->sample_rate > 0 ? a->sample_rate : 1, err,
                          sizeof(err))
        != BH_OK)
    {
        avcodec_parameters_free(&v);
        avcodec_parameters_free(&a);
        bh_segmenter_destroy(sg);
        return NULL;
    }

    avcodec_parameters_free(&v);
    avcodec_parameters_free(&a);

    return sg;
}


/* a URI the playlist names must be served */

static void
bh_fuzz_check_uri(bh_stream_t *s, const char *uri, size_t len)
{
    char        path[128];
    bh_uri_t    u;
    bh_view_t   v;
    bh_query_t  q;

    if (len > sizeof(path) - 4) {
        abort();
    }

    memset(&q, 0, sizeof(bh_query_t));
    memcpy(path, "ale/", 4);
    memcpy(path + 4, uri, len);

    if (bh_uri_parse(path, 4 + len, &u) != BH_OK
        || bh_stream_ready(s, &u, &q) != BH_OK
        || bh_stream_view(s, &u, &q, -1, &v) != BH_OK)
    {
        fprintf(stderr, "listed but not served: %.*s\n", (int) len, uri);
        abort();
    }
}


/* what the playlist lists, the store serves */

static void
bh_fuzz_check_store(bh_stream_t *s)
{
    char  *p, *end, *q, *uri, *quote;

    if (s->playlist.data == NULL) {
        return;
    }

    if (s->playlist.len < 7 || memcmp(s->playlist.data, "#EXTM3U", 7) != 0)
    {
        abort();
    }

    p = (char *) s->playlist.data;
    end = p + s->playlist.len;

    while (p < end) {
        q = memchr(p, '\n', end - p);
        if (q == NULL) {
            abort();                        /* lines end with LF */
        }

        if (p[0] != '#' && q > p) {
            bh_fuzz_check_uri(s, p, q - p);         /* seg-<msn>.ext */

        } else if ((q - p > 12 && memcmp(p, "#EXT-X-PART:", 12) == 0)
                   || (q - p > 11 && memcmp(p, "#EXT-X-MAP:", 11) == 0))
        {
            uri = memchr(p, '"', q - p);
            quote = uri ? memchr(uri + 1, '"', q - uri - 1) : NULL;

            if (quote == NULL) {
                abort();
            }

            bh_fuzz_check_uri(s, uri + 1, quote - uri - 1);
        }

        p = q + 1;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                 err[256];
    size_t               len;
    int64_t              dts[2], wall;
    int                  rate;
    size_t               asc_len;
    uint8_t              kind, flags;
    const uint8_t       *asc;
    AVPacket            *pkt;
    bh_alloc_t           alloc;
    bh_store_t           store;
    bh_stream_t          stream;
    bh_status_t          st;
    bh_fuzz_out_t        out;
    bh_fuzz_heap_t       heap;
    bh_segmenter_t      *sg;
    bh_stream_conf_t     sconf;
    bh_segmenter_conf_t  conf;

    static int  quiet;

    if (!quiet) {
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }

    if (size < 1) {
        return 0;
    }

    flags = data[0];

    memset(&conf, 0, sizeof(bh_segmenter_conf_t));
    conf.format = (flags & 1) ? BH_FORMAT_MPEGTS : BH_FORMAT_FMP4;
    conf.segment = 2000000;
    conf.part = 200000;
    conf.max_bitrate = (flags & 4) ? 100000 : 0;
    data++;
    size--;

    /* the store the chunks go to, as the owner worker publishes them */

    heap.used = 0;
    heap.budget = (flags & 16) ? 64 * 1024 : 16 * 1024 * 1024;
    alloc.alloc = bh_fuzz_alloc;
    alloc.free = bh_fuzz_free;
    alloc.ctx = &heap;

    memset(&sconf, 0, sizeof(bh_stream_conf_t));
    sconf.format = conf.format;
    sconf.window = 6;
    sconf.target = conf.segment;
    sconf.part_target = conf.part;
    sconf.part = conf.part;

    bh_store_init(&store, heap.budget / 4);
    bh_stream_init(&stream, "ale", 3, 1000);
    (void) bh_store_add(&store, &stream);

    wall = INT64_C(1795636800000000);

    if (bh_stream_configure(&store, &alloc, &stream, &sconf, wall) != BH_OK)
    {
        abort();
    }

    memset(&out, 0, sizeof(bh_fuzz_out_t));
    out.next_start = INT64_MIN;
    out.now = wall;
    out.store = &store;
    out.stream = &stream;
    out.alloc = &alloc;

    asc = NULL;
    asc_len = 0;
    rate = 44100;

    if (flags & 32) {
        if (size < 1 || size - 1 < (size_t) data[0] + 1) {
            bh_stream_clear(&alloc, &stream);
            return 0;
        }

        asc_len = data[0];
        asc = data + 1;
        rate = data[1 + asc_len] * 1000;
        data += 2 + asc_len;
        size -= 2 + asc_len;
    }

    sg = bh_fuzz_session(&conf, &out, flags, asc, asc_len, rate);

    if (sg == NULL) {
        bh_stream_clear(&alloc, &stream);
        return 0;
    }
    pkt = av_packet_alloc();

    if (pkt == NULL) {
        abort();
    }

    dts[0] = 900000;
    dts[1] = 440000;

    while (size >= 6) {
        kind = data[0];
        len = data[4] | (size_t) data[5] << 8;

        if (size - 6 < len) {
            break;
        }

        if (kind & 8) {

            /* the camera went away and came back: a new session */

            bh_segmenter_flush(sg);
            bh_segmenter_destroy(sg);
            bh_stream_end(&alloc, &stream, out.now);
            sg = bh_fuzz_session(&conf, &out, flags, asc, asc_len, rate);

            if (sg == NULL) {
                abort();                /* the same config worked before */
            }
        }

        dts[kind & 1] += (int16_t) (data[1] | data[2] << 8);

        if (av_new_packet(pkt, len) < 0) {
            abort();
        }

        memcpy(pkt->data, data + 6, len);

        pkt->stream_index = kind & 1;
        pkt->flags = (kind & 2) ? AV_PKT_FLAG_KEY : 0;
        pkt->dts = (kind & 4) ? AV_NOPTS_VALUE : dts[kind & 1];
        pkt->pts = (kind & 4) ? AV_NOPTS_VALUE : dts[kind & 1] + data[3];

        /* arrival times follow the video's timestamps */

        if (!(kind & 1) && !(kind & 4)) {
            wall = INT64_C(1795636800000000)
                   + av_rescale(dts[0], 1000000, 90000);
            out.now = wall;
        }

        /*
         * An error ends the session, as it does on a real camera; past a
         * bound the segmenter goes on by itself.
         */

        st = bh_segmenter_write(sg, pkt, wall, err, sizeof(err));

        av_packet_unref(pkt);

        if (st != BH_OK && st != BH_LIMIT) {
            break;
        }

        out.limits += (st == BH_LIMIT);

        data += 6 + len;
        size -= 6 + len;
    }

    bh_segmenter_flush(sg);
    bh_segmenter_destroy(sg);

    bh_fuzz_check_store(&stream);

    /* what a seed reaches, for whoever makes the corpus */

    if (getenv("BH_FUZZ_VERBOSE") != NULL) {
        fprintf(stderr, "inits %d, parts %d, segments %d, limits %d; the "
                "store: %" PRIu64 " segments, %" PRIu64 " discontinuities, "
                "%s\n", out.inits, out.parts, out.segments, out.limits,
                stream.segments_total, stream.discontinuities,
                stream.full ? "full" : "not full");
    }

    bh_stream_clear(&alloc, &stream);

    av_packet_free(&pkt);

    if (out.broken || heap.used != 0) {
        fprintf(stderr, "%s\n", out.broken ? "broken parts"
                                           : "store memory left");
        abort();
    }

    return 0;
}
