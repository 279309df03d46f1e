
/*
 * ngx_bar_hls_module media core: transcoding audio to AAC-LC, the
 * decoder and the timeline.
 *
 * decoder (whatever libavcodec decodes) -> the timeline (bh_audio.h:
 * samples counted from an anchor, gaps filled, overlaps cut, jumps
 * re-anchored) -> bh_aac.c (resampler, FIFO, AAC encoder) -> the
 * handler.  Every frame out of the decoder is checked against the
 * bounds of bh_audio.h before anything is allocated for it.
 */


#include <stdlib.h>
#include <string.h>

#include "bh_audio_int.h"


static bh_status_t bh_audio_frame(bh_audio_t *a, AVFrame *f);
static bh_status_t bh_audio_anchor(bh_audio_t *a, int64_t pts);


bh_status_t
bh_audio_create(bh_audio_t **audio, const AVCodecParameters *in, int tb_num,
    int tb_den, int stream_index, char *err, size_t errlen)
{
    int              rc;
    bh_audio_t      *a;
    bh_status_t      st;
    const AVCodec   *codec;

    *audio = NULL;

    if (tb_num <= 0 || tb_den <= 0) {
        snprintf(err, errlen, "invalid audio time base");
        return BH_INVALID;
    }

    if (in->ch_layout.nb_channels > BH_AUDIO_MAX_CHANNELS
        || in->sample_rate < 0 || in->sample_rate > BH_AUDIO_MAX_RATE)
    {
        snprintf(err, errlen, "audio of %d channels at %d Hz",
                 in->ch_layout.nb_channels, in->sample_rate);
        return BH_UNSUPPORTED;
    }

    codec = avcodec_find_decoder(in->codec_id);
    if (codec == NULL) {
        snprintf(err, errlen, "no decoder for audio %s",
                 avcodec_get_name(in->codec_id));
        return BH_UNSUPPORTED;
    }

    a = calloc(1, sizeof(bh_audio_t));
    if (a == NULL) {
        return BH_NOMEM;
    }

    a->in_tb = (AVRational) { tb_num, tb_den };
    a->stream_index = stream_index;
    a->swr_format = AV_SAMPLE_FMT_NONE;

    a->dec = avcodec_alloc_context3(codec);
    a->in = av_frame_alloc();
    a->out = av_frame_alloc();
    a->pkt = av_packet_alloc();
    a->par = avcodec_parameters_alloc();

    if (a->dec == NULL || a->in == NULL || a->out == NULL || a->pkt == NULL
        || a->par == NULL || avcodec_parameters_to_context(a->dec, in) < 0)
    {
        bh_audio_destroy(a);
        return BH_NOMEM;
    }

    a->dec->pkt_timebase = a->in_tb;
    a->dec->thread_count = 1;           /* in the caller's thread only */

    rc = avcodec_open2(a->dec, codec, NULL);
    if (rc < 0) {
        snprintf(err, errlen, "cannot decode audio %s",
                 avcodec_get_name(in->codec_id));
        bh_audio_destroy(a);
        return BH_UNSUPPORTED;
    }

    /* as the camera declares it; frames that differ are resampled */

    a->out_rate = (in->sample_rate == 44100) ? 44100 : 48000;
    a->out_channels = (in->ch_layout.nb_channels == 1) ? 1 : 2;

    st = bh_aac_open(a, err, errlen);
    if (st != BH_OK) {
        bh_audio_destroy(a);
        return st;
    }

    *audio = a;

    return BH_OK;
}


const AVCodecParameters *
bh_audio_params(bh_audio_t *a)
{
    return a->par;
}


const bh_audio_stats_t *
bh_audio_stats(bh_audio_t *a)
{
    return &a->stats;
}


bh_status_t
bh_audio_write(bh_audio_t *a, const AVPacket *pkt,
    bh_audio_handler_pt handler, void *data)
{
    int          rc;
    bh_status_t  st;

    a->handler = handler;
    a->data = data;
    a->stats.packets++;

    if (pkt->size <= 0 || pkt->size > BH_AUDIO_MAX_PACKET) {
        a->stats.errors++;
        return BH_OK;
    }

    rc = avcodec_send_packet(a->dec, pkt);

    if (rc == AVERROR(ENOMEM)) {
        return BH_NOMEM;
    }

    if (rc < 0) {
        a->stats.errors++;              /* garbage: skip the packet */
    }

    for ( ;; ) {
        rc = avcodec_receive_frame(a->dec, a->in);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            return BH_OK;
        }

        if (rc == AVERROR(ENOMEM)) {
            return BH_NOMEM;
        }

        if (rc < 0) {
            a->stats.errors++;
            return BH_OK;
        }

        st = bh_audio_frame(a, a->in);
        av_frame_unref(a->in);

        if (st != BH_OK) {
            return st;
        }
    }
}


/* one decoded frame onto the timeline */

static bh_status_t
bh_audio_frame(bh_audio_t *a, AVFrame *f)
{
    int64_t      pts, expect, diff, n, skip;
    bh_status_t  st;

    if (f->nb_samples <= 0) {
        return BH_OK;
    }

    if (f->sample_rate < BH_AUDIO_MIN_RATE
        || f->sample_rate > BH_AUDIO_MAX_RATE
        || f->nb_samples > f->sample_rate
        || f->ch_layout.nb_channels <= 0
        || f->ch_layout.nb_channels > BH_AUDIO_MAX_CHANNELS)
    {
        a->stats.samples += f->nb_samples;
        a->stats.dropped += f->nb_samples;
        return BH_OK;
    }

    a->stats.samples += f->nb_samples;

    pts = (f->pts != AV_NOPTS_VALUE) ? f->pts : f->best_effort_timestamp;

    if (!a->anchored && pts == AV_NOPTS_VALUE) {
        a->stats.dropped += f->nb_samples;      /* nothing to anchor on */
        return BH_OK;
    }

    if (f->sample_rate != a->swr_rate || f->format != a->swr_format
        || av_channel_layout_compare(&f->ch_layout, &a->swr_layout) != 0)
    {
        /* the count goes on from where it is, at the new rate */

        if (a->swr_rate > 0) {
            a->in_anchor += av_rescale_q(a->in_count,
                                         (AVRational) { 1, a->swr_rate },
                                         a->in_tb);
            a->in_count = 0;
        }

        st = bh_aac_setup(a, f);
        if (st != BH_OK) {
            return st;
        }
    }

    if (!a->anchored) {
        st = bh_audio_anchor(a, pts);
        if (st != BH_OK) {
            return st;
        }
    }

    expect = a->in_anchor + av_rescale_q(a->in_count,
                                         (AVRational) { 1, a->swr_rate },
                                         a->in_tb);

    if (pts == AV_NOPTS_VALUE) {
        pts = expect;
    }

    diff = av_rescale_q(pts - expect, a->in_tb, AV_TIME_BASE_Q);
    skip = 0;

    if (diff > BH_AUDIO_MAX_FILL || diff < -BH_AUDIO_MAX_FILL) {
        st = bh_audio_anchor(a, pts);
        if (st != BH_OK) {
            return st;
        }

    } else if (diff > BH_AUDIO_SLACK) {
        n = av_rescale(diff, a->swr_rate, BH_USEC);

        st = bh_aac_silence(a, n);
        if (st != BH_OK) {
            return st;
        }

        a->in_count += n;

    } else if (diff < -BH_AUDIO_SLACK || (diff < 0 && a->cutting)) {

        /* cut it all, not just down to the slack, once started */

        skip = av_rescale(-diff, a->swr_rate, BH_USEC);

        if (skip >= f->nb_samples) {
            a->stats.dropped += f->nb_samples;
            a->cutting = 1;
            return BH_OK;
        }

        a->stats.dropped += skip;
    }

    st = bh_aac_convert(a, (const uint8_t **) f->extended_data,
                          f->nb_samples, (int) skip);
    if (st != BH_OK) {
        return st;
    }

    a->cutting = 0;
    a->in_count += f->nb_samples - skip;

    return bh_aac_encode(a, 0);
}


/* a new anchor: what was before it goes out, padded to a whole frame */

static bh_status_t
bh_audio_anchor(bh_audio_t *a, int64_t pts)
{
    bh_status_t  st;

    if (a->anchored) {
        st = bh_aac_drain(a, 1);
        if (st != BH_OK) {
            return st;
        }

        /* a fresh resampler: nothing of the old timeline in it */

        if (swr_init(a->swr) < 0) {
            return BH_ERROR;
        }

        a->stats.anchors++;
    }

    a->anchored = 1;
    a->cutting = 0;
    a->in_anchor = pts;
    a->in_count = 0;
    a->out_anchor = av_rescale_q(pts, a->in_tb,
                                 (AVRational) { 1, a->out_rate });
    a->out_count = 0;

    return BH_OK;
}


bh_status_t
bh_audio_flush(bh_audio_t *a, bh_audio_handler_pt handler, void *data)
{
    int          rc;
    bh_status_t  st;

    a->handler = handler;
    a->data = data;

    if (a->anchored) {
        st = bh_aac_drain(a, 1);
        if (st != BH_OK) {
            return st;
        }
    }

    rc = avcodec_send_frame(a->enc, NULL);
    if (rc < 0 && rc != AVERROR_EOF) {
        return BH_ERROR;
    }

    return bh_aac_receive(a);
}


void
bh_audio_destroy(bh_audio_t *a)
{
    if (a == NULL) {
        return;
    }

    if (a->conv != NULL) {
        av_freep(&a->conv[0]);
        av_freep(&a->conv);
    }

    avcodec_free_context(&a->dec);
    avcodec_free_context(&a->enc);
    avcodec_parameters_free(&a->par);
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_layout);
    av_audio_fifo_free(a->fifo);
    av_frame_free(&a->in);
    av_frame_free(&a->out);
    av_packet_free(&a->pkt);
    free(a);
}
