
/*
 * ngx_bar_hls_module media core: what bh_audio.c (the timeline) and
 * bh_aac.c (resampler, FIFO and AAC encoder) share.
 */


#ifndef _BH_AUDIO_INT_H_INCLUDED_
#define _BH_AUDIO_INT_H_INCLUDED_


#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "bh_audio.h"


#define BH_AUDIO_FRAME          1024
#define BH_AUDIO_BITRATE        64000   /* a channel */
#define BH_AUDIO_CHUNK          4096    /* silence, input samples a call */


struct bh_audio_s {
    AVCodecContext     *dec;
    AVCodecContext     *enc;
    AVCodecParameters  *par;
    SwrContext         *swr;
    AVAudioFifo        *fifo;
    AVFrame            *in;
    AVFrame            *out;
    AVPacket           *pkt;

    AVRational          in_tb;
    int                 stream_index;
    int                 out_rate;
    int                 out_channels;

    /* what swr was set up for */
    int                 swr_rate;
    int                 swr_format;
    AVChannelLayout     swr_layout;

    uint8_t           **conv;           /* swr output, out_channels planes */
    int                 conv_cap;       /* samples */

    /* the timeline: see bh_audio.h */
    unsigned            anchored:1;
    unsigned            cutting:1;      /* whole frames cut so far */
    int64_t             in_anchor;      /* in_tb */
    int64_t             in_count;       /* input samples since, swr_rate */
    int64_t             out_anchor;     /* 1 / out_rate */
    int64_t             out_count;      /* samples encoded since */

    bh_audio_handler_pt handler;
    void               *data;

    bh_audio_stats_t    stats;
};


/* the AAC encoder and the FIFO in front of it */
bh_status_t bh_aac_open(bh_audio_t *a, char *err, size_t errlen);

/* a resampler for frames like f; what the previous one held goes first */
bh_status_t bh_aac_setup(bh_audio_t *a, AVFrame *f);

/* n input samples through the resampler into the FIFO, less skip */
bh_status_t bh_aac_convert(bh_audio_t *a, const uint8_t **in, int n,
    int skip);

/* n samples of silence at the input rate, encoded as they come */
bh_status_t bh_aac_silence(bh_audio_t *a, int64_t n);

/* what the resampler still holds, encoded; last: all, padded */
bh_status_t bh_aac_drain(bh_audio_t *a, int last);

/* whole frames from the FIFO to the encoder; last: the rest, padded */
bh_status_t bh_aac_encode(bh_audio_t *a, int last);

/* the encoder's packets to the handler */
bh_status_t bh_aac_receive(bh_audio_t *a);


#endif /* _BH_AUDIO_INT_H_INCLUDED_ */
