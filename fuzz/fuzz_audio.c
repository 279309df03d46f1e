
/*
 * Fuzz target for the audio transcoder (core/bh_audio.c, bh_aac.c): what
 * a camera's audio stream can be.  The first byte picks the codec, its
 * sample rate and channels (as an SDP would declare them, odd ones
 * included); then each packet record: a timestamp step (2 bytes,
 * signed, in 1/rate; 0x8000: none), a size (1 byte) and that many bytes
 * of payload.  The transcoder must never crash or hang, and what it
 * hands out must be AAC packets 1024 samples apart between its anchors.
 *
 *     make fuzz-audio FUZZ_SECONDS=600
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>

#include "bh_audio.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const struct {
    enum AVCodecID      id;
    int                 rate;
} bh_fuzz_codecs[] = {
    { AV_CODEC_ID_PCM_ALAW, 8000 },
    { AV_CODEC_ID_PCM_MULAW, 8000 },
    { AV_CODEC_ID_OPUS, 48000 },
    { AV_CODEC_ID_AAC, 44100 },
    { AV_CODEC_ID_PCM_S16BE, 16000 },
    { AV_CODEC_ID_ADPCM_G726, 8000 },
    { AV_CODEC_ID_PCM_ALAW, 11025 },
    { AV_CODEC_ID_PCM_S16BE, 96000 },
};


typedef struct {
    int64_t     last;
    int         packets;
} bh_fuzz_out_t;


static bh_status_t
bh_fuzz_packet(void *data, AVPacket *pkt)
{
    bh_fuzz_out_t  *out = data;

    if (pkt->size <= 0 || pkt->pts == AV_NOPTS_VALUE) {
        abort();
    }

    out->last = pkt->pts;
    out->packets++;

    return BH_OK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 k, n;
    char                err[256];
    size_t              pos;
    int64_t             pts;
    AVPacket           *pkt;
    bh_audio_t         *a;
    bh_fuzz_out_t       out;
    AVCodecParameters  *par;

    static int  quiet;

    if (!quiet) {
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }

    if (size < 1) {
        return 0;
    }

    k = data[0] & 7;

    par = avcodec_parameters_alloc();
    pkt = av_packet_alloc();
    if (par == NULL || pkt == NULL) {
        abort();
    }

    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = bh_fuzz_codecs[k].id;
    par->sample_rate = bh_fuzz_codecs[k].rate;
    par->bits_per_coded_sample = 4;
    av_channel_layout_default(&par->ch_layout, 1 + ((data[0] >> 3) & 7));

    memset(&out, 0, sizeof(out));

    if (bh_audio_create(&a, par, 1, par->sample_rate, 1, err, sizeof(err))
        != BH_OK)
    {
        goto done;
    }

    pos = 1;
    pts = 0;

    while (size - pos >= 3) {
        int16_t  step;

        step = (int16_t) ((data[pos] << 8) | data[pos + 1]);
        n = data[pos + 2];
        pos += 3;

        if ((size_t) n > size - pos) {
            n = (int) (size - pos);
        }

        if (av_new_packet(pkt, n) < 0) {
            abort();
        }

        memcpy(pkt->data, data + pos, n);
        pos += n;

        if ((uint16_t) step == 0x8000) {
            pkt->pts = AV_NOPTS_VALUE;

        } else {
            pts += step;
            pkt->pts = pts;
        }

        pkt->dts = pkt->pts;

        (void) bh_audio_write(a, pkt, bh_fuzz_packet, &out);
        av_packet_unref(pkt);
    }

    (void) bh_audio_flush(a, bh_fuzz_packet, &out);
    bh_audio_destroy(a);

done:

    av_packet_free(&pkt);
    avcodec_parameters_free(&par);

    return 0;
}
