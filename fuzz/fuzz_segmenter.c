
/*
 * Fuzz target for the segmenter (core/bh_mux.c): what a camera that sends
 * garbage inside a valid RTSP session produces.  The input is a sequence
 * of packets with arbitrary payloads, flags and timestamps (repeated,
 * backwards, jumping, missing) on an H.264 and an AAC track; the
 * segmenter must never crash, hang or emit anything but well-formed,
 * contiguous parts.
 *
 *     make fuzz-segmenter FUZZ_SECONDS=600
 *
 * Each packet record: stream (1 byte: bit 0 audio, bit 1 keyframe, bit 2
 * no timestamp), DTS step (2 bytes, signed, 1/90000 s or samples), CTS
 * (1 byte), size (1 byte), then size bytes of payload.
 */


#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "bh_media.h"


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
    int64_t     next_start;
    int         broken;
    int         inits;
} bh_fuzz_out_t;


static void
bh_fuzz_chunk(void *data, bh_chunk_t *chunk)
{
    bh_fuzz_out_t  *out = data;

    if (chunk->type == BH_CHUNK_INIT) {
        out->inits++;

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
    }

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


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                 err[256];
    size_t               len;
    int64_t              dts[2], wall;
    uint8_t              kind;
    AVPacket            *pkt;
    bh_status_t          st;
    bh_fuzz_out_t        out;
    bh_segmenter_t      *sg;
    AVCodecParameters   *v, *a;
    bh_segmenter_conf_t  conf;

    static int  quiet;

    if (!quiet) {
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }

    if (size < 1) {
        return 0;
    }

    memset(&conf, 0, sizeof(bh_segmenter_conf_t));
    conf.format = (data[0] & 1) ? BH_FORMAT_MPEGTS : BH_FORMAT_FMP4;
    conf.segment = 2000000;
    conf.part = 200000;
    data++;
    size--;

    out.next_start = INT64_MIN;
    out.broken = 0;
    out.inits = 0;

    sg = bh_segmenter_create(&conf, bh_fuzz_chunk, &out);
    v = avcodec_parameters_alloc();
    a = avcodec_parameters_alloc();
    pkt = av_packet_alloc();

    if (sg == NULL || v == NULL || a == NULL || pkt == NULL) {
        abort();
    }

    bh_fuzz_params(v, a);

    if (bh_segmenter_open(sg, v, 0, 1, 90000, a, 1, 1, 44100, err,
                          sizeof(err))
        != BH_OK)
    {
        abort();
    }

    dts[0] = 900000;
    dts[1] = 440000;
    wall = INT64_C(1795636800000000);

    while (size >= 5) {
        kind = data[0];
        len = data[4];

        if (size - 5 < len) {
            break;
        }

        dts[kind & 1] += (int16_t) (data[1] | data[2] << 8);

        if (av_new_packet(pkt, len) < 0) {
            abort();
        }

        memcpy(pkt->data, data + 5, len);

        pkt->stream_index = kind & 1;
        pkt->flags = (kind & 2) ? AV_PKT_FLAG_KEY : 0;
        pkt->dts = (kind & 4) ? AV_NOPTS_VALUE : dts[kind & 1];
        pkt->pts = (kind & 4) ? AV_NOPTS_VALUE : dts[kind & 1] + data[3];

        wall += 40000;

        /*
         * An error ends the session, as it does on a real camera; past a
         * bound the segmenter goes on by itself.
         */

        st = bh_segmenter_write(sg, pkt, wall, err, sizeof(err));

        if (st != BH_OK && st != BH_LIMIT) {
            av_packet_unref(pkt);
            break;
        }

        av_packet_unref(pkt);

        data += 5 + len;
        size -= 5 + len;
    }

    bh_segmenter_flush(sg);
    bh_segmenter_destroy(sg);

    av_packet_free(&pkt);
    avcodec_parameters_free(&v);
    avcodec_parameters_free(&a);

    if (out.broken || out.inits > 1) {
        abort();
    }

    return 0;
}
