
/*
 * ngx_bar_hls_module media core: decoded audio to AAC-LC packets.
 *
 * libswresample turns the decoder's frames into float planar samples
 * at the output rate, mono or stereo (more channels are mixed down);
 * a FIFO cuts them into frames of 1024 samples for libavcodec's native
 * AAC encoder, stamped on the timeline bh_audio.c keeps.
 *
 * The output rate is 48 kHz, or the input's own when it is 44.1 kHz.
 * AAC-LC is defined from 8 kHz up, and Chromium's MSE takes any rate,
 * but 44.1 and 48 kHz are what every decoder is made and tested for,
 * and the low rates are where players fail: hls.js issue 5451 (AAC-LC
 * at 8 kHz from TS: video, no sound, Chrome on macOS), WXInlinePlayer
 * issue 81 (8 kHz AAC stutters, 16 kHz does not).  Upsampling G.711's
 * 8 kHz costs CPU (bench/transcode measures it), not bandwidth: the bit
 * rate is fixed, 64 kbit/s a channel.
 */


#include <string.h>

#include "bh_audio_int.h"


bh_status_t
bh_aac_open(bh_audio_t *a, char *err, size_t errlen)
{
    int              rc;
    AVDictionary    *opts;
    const AVCodec   *codec;
    AVCodecContext  *enc;

    codec = avcodec_find_encoder_by_name("aac");
    if (codec == NULL) {
        snprintf(err, errlen, "libavcodec has no AAC encoder");
        return BH_UNSUPPORTED;
    }

    enc = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        return BH_NOMEM;
    }

    a->enc = enc;

    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = a->out_rate;
    enc->time_base = (AVRational) { 1, a->out_rate };
    enc->bit_rate = (int64_t) BH_AUDIO_BITRATE * a->out_channels;
    enc->profile = FF_PROFILE_AAC_LOW;
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_channel_layout_default(&enc->ch_layout, a->out_channels);

    /*
     * The "fast" coder: the default "twoloop" one (FFmpeg 5.1) makes, on
     * steady tones, now and then a frame that decodes at twice the level
     * (a click at 0 dBFS from a tone at -6); the fast one does not.  Its
     * mid/side stereo search costs four times the rest of the encoding
     * (bench/transcode): left and right are coded apart.
     */

    opts = NULL;
    av_dict_set(&opts, "aac_coder", "fast", 0);
    av_dict_set(&opts, "aac_ms", "0", 0);

    rc = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);

    if (rc < 0 || enc->frame_size != BH_AUDIO_FRAME) {
        snprintf(err, errlen, "cannot open the AAC encoder");
        return BH_ERROR;
    }

    if (avcodec_parameters_from_context(a->par, enc) < 0) {
        return BH_NOMEM;
    }

    a->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, a->out_channels,
                                  2 * BH_AUDIO_FRAME);
    if (a->fifo == NULL) {
        return BH_NOMEM;
    }

    return BH_OK;
}


/*
 * A resampler for the frame's format.  What the previous one holds
 * goes out first; the timeline goes on from where the count is, at the
 * new rate.
 */

bh_status_t
bh_aac_setup(bh_audio_t *a, AVFrame *f)
{
    int              rc;
    bh_status_t      st;
    AVChannelLayout  out;

    if (a->swr != NULL) {
        st = bh_aac_drain(a, 0);
        if (st != BH_OK) {
            return st;
        }
    }

    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_layout);

    av_channel_layout_default(&out, a->out_channels);

    rc = swr_alloc_set_opts2(&a->swr, &out, AV_SAMPLE_FMT_FLTP, a->out_rate,
                             &f->ch_layout, f->format, f->sample_rate, 0,
                             NULL);
    av_channel_layout_uninit(&out);

    if (rc < 0 || swr_init(a->swr) < 0
        || av_channel_layout_copy(&a->swr_layout, &f->ch_layout) < 0)
    {
        swr_free(&a->swr);
        a->swr_format = AV_SAMPLE_FMT_NONE;
        a->swr_rate = 0;
        return (rc == AVERROR(ENOMEM)) ? BH_NOMEM : BH_ERROR;
    }

    a->swr_rate = f->sample_rate;
    a->swr_format = f->format;

    return BH_OK;
}


/* n input samples through the resampler into the FIFO, less skip */

bh_status_t
bh_aac_convert(bh_audio_t *a, const uint8_t **in, int n, int skip)
{
    int       cap, got, i;
    uint8_t  *planes[2];

    cap = swr_get_out_samples(a->swr, n);
    if (cap < 0) {
        return BH_ERROR;
    }

    if (cap > a->conv_cap) {
        if (a->conv != NULL) {
            av_freep(&a->conv[0]);
            av_freep(&a->conv);
        }

        a->conv_cap = 0;

        if (av_samples_alloc_array_and_samples(&a->conv, NULL,
                                               a->out_channels, cap,
                                               AV_SAMPLE_FMT_FLTP, 0) < 0)
        {
            return BH_NOMEM;
        }

        a->conv_cap = cap;
    }

    got = swr_convert(a->swr, a->conv, a->conv_cap, in, n);
    if (got < 0) {
        return BH_ERROR;
    }

    /* the cut is at the output rate, and there is that much at most */

    skip = (int) av_rescale(skip, a->out_rate, a->swr_rate);

    if (skip >= got) {
        return BH_OK;
    }

    for (i = 0; i < a->out_channels; i++) {
        planes[i] = a->conv[i] + skip * sizeof(float);
    }

    if (av_audio_fifo_write(a->fifo, (void **) planes, got - skip)
        < got - skip)
    {
        return BH_NOMEM;
    }

    return BH_OK;
}


/* n samples of silence at the input rate, into the FIFO */

bh_status_t
bh_aac_silence(bh_audio_t *a, int64_t n)
{
    int           k, ch;
    uint8_t     **buf;
    bh_status_t   st;

    ch = a->swr_layout.nb_channels;

    if (av_samples_alloc_array_and_samples(&buf, NULL, ch, BH_AUDIO_CHUNK,
                                           a->swr_format, 0) < 0)
    {
        return BH_NOMEM;
    }

    av_samples_set_silence(buf, 0, BH_AUDIO_CHUNK, ch, a->swr_format);

    st = BH_OK;

    while (n > 0 && st == BH_OK) {
        k = (n > BH_AUDIO_CHUNK) ? BH_AUDIO_CHUNK : (int) n;
        n -= k;

        st = bh_aac_convert(a, (const uint8_t **) buf, k, 0);

        if (st == BH_OK) {
            a->stats.filled += av_rescale(k, a->out_rate, a->swr_rate);
            st = bh_aac_encode(a, 0);
        }
    }

    av_freep(&buf[0]);
    av_freep(&buf);

    return st;
}


/* what the resampler still holds, encoded; last: all of it, padded */

bh_status_t
bh_aac_drain(bh_audio_t *a, int last)
{
    int  got, i;

    if (a->swr == NULL || a->conv == NULL) {
        return bh_aac_encode(a, last);
    }

    /* a few filter lengths at the most */

    for (i = 0; i < 8; i++) {
        got = swr_convert(a->swr, a->conv, a->conv_cap, NULL, 0);
        if (got < 0) {
            return BH_ERROR;
        }

        if (got == 0) {
            break;
        }

        if (av_audio_fifo_write(a->fifo, (void **) a->conv, got) < got) {
            return BH_NOMEM;
        }
    }

    return bh_aac_encode(a, last);
}


/* whole frames from the FIFO to the encoder; last: the rest, padded */

bh_status_t
bh_aac_encode(bh_audio_t *a, int last)
{
    int          n, rc;
    bh_status_t  st;

    for ( ;; ) {
        n = av_audio_fifo_size(a->fifo);

        if (n == 0 || (n < BH_AUDIO_FRAME && !last)) {
            return BH_OK;
        }

        av_frame_unref(a->out);
        a->out->nb_samples = BH_AUDIO_FRAME;
        a->out->format = AV_SAMPLE_FMT_FLTP;
        a->out->sample_rate = a->out_rate;

        if (av_channel_layout_copy(&a->out->ch_layout, &a->enc->ch_layout)
            < 0 || av_frame_get_buffer(a->out, 0) < 0)
        {
            return BH_NOMEM;
        }

        if (n < BH_AUDIO_FRAME) {
            av_samples_set_silence(a->out->extended_data, n,
                                   BH_AUDIO_FRAME - n, a->out_channels,
                                   AV_SAMPLE_FMT_FLTP);
        }

        if (av_audio_fifo_read(a->fifo, (void **) a->out->extended_data,
                               BH_AUDIO_FRAME) < 0)
        {
            return BH_ERROR;
        }

        a->out->pts = a->out_anchor + a->out_count;
        a->out_count += BH_AUDIO_FRAME;

        rc = avcodec_send_frame(a->enc, a->out);
        if (rc < 0) {
            return (rc == AVERROR(ENOMEM)) ? BH_NOMEM : BH_ERROR;
        }

        st = bh_aac_receive(a);
        if (st != BH_OK) {
            return st;
        }
    }
}


bh_status_t
bh_aac_receive(bh_audio_t *a)
{
    int          rc;
    bh_status_t  st;

    for ( ;; ) {
        rc = avcodec_receive_packet(a->enc, a->pkt);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            return BH_OK;
        }

        if (rc < 0) {
            return (rc == AVERROR(ENOMEM)) ? BH_NOMEM : BH_ERROR;
        }

        a->pkt->stream_index = a->stream_index;
        a->pkt->time_base = a->enc->time_base;
        a->stats.frames++;

        st = (a->handler != NULL) ? a->handler(a->data, a->pkt) : BH_OK;
        av_packet_unref(a->pkt);

        if (st != BH_OK) {
            return st;
        }
    }
}
