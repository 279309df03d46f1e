
/*
 * ngx_bar_hls_module media core: the segmenter.
 *
 * Packets from the camera go into parts and segments: a part ends before
 * the video frame that would take it past the part target, a segment
 * ends at the first keyframe at the segment target, so every segment
 * starts with a keyframe.
 *
 * A picture may arrive in several packets (x264 sliced IDRs, RTP
 * fragmentation units): pieces with the picture's DTS, or without a
 * timestamp but continuing its access unit, are merged into one sample.
 * The first pictures of a session may come before any timestamp: they
 * are held and timed back from the first timestamp that comes.
 *
 * Everything a camera can make us hold is bounded: the size of a frame
 * and of a part, the samples in a part, the parts in a segment, the byte
 * rate (max_bitrate).  Past a bound, the part in progress is published,
 * what overflowed is dropped with everything up to the next keyframe, and
 * the stream resumes there after a discontinuity; bh_segmenter_write()
 * returns BH_LIMIT once, with the bound in err.  Where parts and
 * segments end, and what a bound drops, is in bh_parts.c.
 */


#include <stdlib.h>
#include <string.h>

#include "bh_segmenter.h"
#include "bh_hevc.h"


static const struct {
    enum AVCodecID            id;
    const bh_video_codec_t   *codec;
} bh_video_codecs[] = {
    { AV_CODEC_ID_H264, &bh_avc_codec },
    { AV_CODEC_ID_HEVC, &bh_hevc_codec },
};


static bh_status_t bh_write_video(bh_segmenter_t *sg, AVPacket *pkt,
    int64_t wallclock, char *err, size_t errlen);
static bh_status_t bh_write_audio(bh_segmenter_t *sg, AVPacket *pkt,
    char *err, size_t errlen);


bh_segmenter_t *
bh_segmenter_create(const bh_segmenter_conf_t *conf,
    bh_chunk_handler_pt handler, void *data)
{
    bh_segmenter_t  *sg;

    sg = calloc(1, sizeof(bh_segmenter_t));
    if (sg == NULL) {
        return NULL;
    }

    sg->conf = *conf;
    sg->handler = handler;
    sg->data = data;
    sg->video.index = -1;
    sg->audio.index = -1;
    sg->origin = AV_NOPTS_VALUE;
    sg->frame_usec = BH_USEC / 25;

    sg->pending = av_packet_alloc();

    if (sg->pending == NULL) {
        free(sg);
        return NULL;
    }

    return sg;
}


bh_status_t
bh_segmenter_open(bh_segmenter_t *sg, const AVCodecParameters *video,
    int video_index, int video_tb_num, int video_tb_den,
    const AVCodecParameters *audio, int audio_index, int audio_tb_num,
    int audio_tb_den, char *err, size_t errlen)
{
    size_t  i;

    sg->codec = NULL;

    for (i = 0; video != NULL
                && i < sizeof(bh_video_codecs) / sizeof(bh_video_codecs[0]);
         i++)
    {
        if (bh_video_codecs[i].id == video->codec_id) {
            sg->codec = bh_video_codecs[i].codec;
        }
    }

    if (sg->codec == NULL) {
        snprintf(err, errlen, "video codec %s is not supported",
                 video ? avcodec_get_name(video->codec_id) : "none");
        return BH_UNSUPPORTED;
    }

    if (video_tb_num <= 0 || video_tb_den <= 0) {
        snprintf(err, errlen, "invalid video time base");
        return BH_INVALID;
    }

    if (video->extradata_size < 0 || video->extradata_size > BH_MAX_EXTRADATA)
    {
        snprintf(err, errlen, "video parameter sets over %d bytes",
                 BH_MAX_EXTRADATA);
        return BH_UNSUPPORTED;
    }

    sg->vpar = avcodec_parameters_alloc();
    if (sg->vpar == NULL || avcodec_parameters_copy(sg->vpar, video) < 0) {
        return BH_NOMEM;
    }

    sg->video.index = video_index;
    sg->video.in_tb = (AVRational) { video_tb_num, video_tb_den };
    sg->video.last_dts = AV_NOPTS_VALUE;
    sg->video.last_in_dts = AV_NOPTS_VALUE;
    sg->video.delta = 0;
    sg->video.in_step = av_rescale_q(sg->frame_usec, AV_TIME_BASE_Q,
                                     sg->video.in_tb);

    if (audio != NULL) {
        if (audio->codec_id != AV_CODEC_ID_AAC || audio->sample_rate <= 0
            || audio->sample_rate > 192000
            || audio->extradata_size > BH_MAX_PARAM_SET
            || audio_tb_num <= 0 || audio_tb_den <= 0)
        {
            snprintf(err, errlen, "audio is not usable AAC");
            return BH_UNSUPPORTED;
        }

        sg->apar = avcodec_parameters_alloc();
        if (sg->apar == NULL || avcodec_parameters_copy(sg->apar, audio) < 0)
        {
            return BH_NOMEM;
        }

        sg->audio.index = audio_index;
        sg->audio.in_tb = (AVRational) { audio_tb_num, audio_tb_den };
        sg->audio.last_dts = AV_NOPTS_VALUE;
        sg->audio.delta = 0;
    }

    return BH_OK;
}


bh_status_t
bh_segmenter_write(bh_segmenter_t *sg, AVPacket *pkt, int64_t wallclock,
    char *err, size_t errlen)
{
    int  video;

    if (pkt->size <= 0 || pkt->data == NULL) {
        return BH_OK;
    }

    video = (pkt->stream_index == sg->video.index);

    if (!video && (sg->audio.index == -1
                   || pkt->stream_index != sg->audio.index))
    {
        return BH_OK;
    }

    if (bh_over_rate(sg, pkt->size, wallclock)) {
        if (sg->resync) {
            return BH_OK;                   /* still dropping */
        }

        return bh_limit(sg, err, errlen, "over max_bitrate=%lld bit/s",
                        (long long) sg->conf.max_bitrate);
    }

    if (video) {
        return bh_write_video(sg, pkt, wallclock, err, errlen);
    }

    if (sg->header) {
        return bh_write_audio(sg, pkt, err, errlen);
    }

    return BH_OK;
}


static bh_status_t
bh_write_video(bh_segmenter_t *sg, AVPacket *pkt, int64_t wallclock,
    char *err, size_t errlen)
{
    bh_au_t      au;
    bh_status_t  st;
    bh_track_t  *t;

    t = &sg->video;

    /*
     * With B-frames, libavformat gives the first pictures a PTS but no
     * DTS, until its parser knows the reordering: before the first DTS
     * they are held like untimed ones (a few of them: a camera may send
     * no DTS at all), then timed back from it, PTS kept.
     */

    if (pkt->dts == AV_NOPTS_VALUE
        && (t->last_in_dts != AV_NOPTS_VALUE || pkt->pts == AV_NOPTS_VALUE
            || sg->nuntimed >= BH_MAX_UNTIMED / 2))
    {
        pkt->dts = pkt->pts;
    }

    au = sg->codec->au(pkt->data, pkt->size);

    if (pkt->dts == AV_NOPTS_VALUE) {

        if (t->last_in_dts == AV_NOPTS_VALUE) {
            return bh_hold_untimed(sg, pkt, au, wallclock);
        }

        /* the rest of the frame in progress, or the next frame */

        pkt->dts = t->last_in_dts;

        if (au != BH_AU_CONTINUE || sg->pending->size == 0) {
            pkt->dts += t->in_step;
        }

        pkt->pts = pkt->dts;
    }

    if (sg->nuntimed > 0) {
        st = bh_release_untimed(sg, pkt, au == BH_AU_CONTINUE, err,
                                errlen);
        if (st != BH_OK) {
            return st;
        }
    }

    return bh_write_video_timed(sg, pkt, wallclock, err, errlen);
}


bh_status_t
bh_write_video_timed(bh_segmenter_t *sg, AVPacket *pkt, int64_t wallclock,
    char *err, size_t errlen)
{
    int          key;
    int64_t      now, dts, early;
    bh_status_t  st;
    AVPacket    *p;

    key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    p = sg->pending;

    /* pieces of one frame: same DTS as the frame waiting for its duration */

    if (p->size > 0 && pkt->dts == sg->video.last_in_dts) {
        if (p->size + pkt->size > BH_MAX_FRAME
            || sg->pending_pieces >= BH_MAX_PIECES)
        {
            return bh_limit(sg, err, errlen, "a frame over %d bytes or in "
                            "over %d pieces", BH_MAX_FRAME, BH_MAX_PIECES);
        }

        if (bh_append(p, pkt) != BH_OK) {
            return BH_NOMEM;
        }

        sg->pending_pieces++;

        return BH_OK;
    }

    if (!key && (!sg->header || sg->resync)) {
        return BH_OK;                       /* wait for a keyframe */
    }

    if (pkt->size > BH_MAX_FRAME) {
        return bh_limit(sg, err, errlen, "a frame over %d bytes",
                        BH_MAX_FRAME);
    }

    if (key && sg->header) {
        st = bh_new_parameter_sets(sg, pkt);
        if (st != BH_OK) {
            return st;
        }
    }

    if (!sg->header) {
        st = bh_mux_header(sg, pkt, err, errlen);
        if (st != BH_OK) {
            return st;
        }
    }

    sg->resync = 0;

    if (sg->video.last_in_dts != AV_NOPTS_VALUE
        && pkt->dts > sg->video.last_in_dts
        && pkt->dts - sg->video.last_in_dts
           < av_rescale_q(BH_USEC, AV_TIME_BASE_Q, sg->video.in_tb))
    {
        sg->video.in_step = pkt->dts - sg->video.last_in_dts;
    }

    sg->video.last_in_dts = pkt->dts;

    dts = bh_track_map(&sg->video, pkt, &sg->origin);
    now = bh_usec(dts, sg->video.out_tb);

    st = bh_speed(sg, now, wallclock, err, errlen);
    if (st != BH_OK) {
        return st;
    }

    /*
     * A frame the camera lost at the end of a part would make the part
     * longer than PART-TARGET: the next frame is decoded earlier, at the
     * part's end, and presented when the camera meant it (its PTS stays),
     * so that the timeline stays contiguous and no part is too long.
     */

    if (sg->part_open && p->size > 0 && !sg->part_carried
        && now - sg->part_start > sg->conf.part)
    {
        early = av_rescale_q(sg->part_start + sg->conf.part, AV_TIME_BASE_Q,
                             sg->video.out_tb);

        if (early > p->dts && early < dts) {
            pkt->dts = early;
            dts = early;
            now = bh_usec(dts, sg->video.out_tb);
        }
    }

    if (p->size > 0) {
        p->duration = dts - p->dts;

        st = bh_mux_packet(sg, &sg->video, p, err, errlen);
        av_packet_unref(p);

        if (st != BH_OK) {
            return st;
        }

        sg->part_end = now;
    }

    st = bh_cut(sg, pkt, key, now, bh_clock(sg, now, wallclock), err, errlen);
    if (st != BH_OK) {
        return st;
    }

    if (av_packet_ref(p, pkt) < 0 || av_packet_make_writable(p) < 0) {
        av_packet_unref(p);
        return BH_NOMEM;
    }

    sg->pending_pieces = 1;

    return BH_OK;
}


static bh_status_t
bh_write_audio(bh_segmenter_t *sg, AVPacket *pkt, char *err, size_t errlen)
{
    int64_t      end;
    bh_status_t  st;
    AVPacket    *p, *held;

    if (!sg->part_open) {
        return BH_OK;
    }

    if (pkt->size > BH_MAX_AUDIO_PACKET
        || sg->part_samples >= BH_MAX_PART_SAMPLES
        || sg->part_bytes + pkt->size > BH_MAX_PART_BYTES)
    {
        return bh_limit(sg, err, errlen, "over %d bytes of audio in a "
                        "packet, or over %d samples or %d bytes in a part",
                        BH_MAX_AUDIO_PACKET, BH_MAX_PART_SAMPLES,
                        BH_MAX_PART_BYTES);
    }

    p = av_packet_clone(pkt);
    if (p == NULL) {
        return BH_NOMEM;
    }

    bh_track_map(&sg->audio, p, &sg->origin);

    if (bh_usec(p->dts, sg->audio.out_tb) < 0) {
        av_packet_free(&p);                     /* before the first frame */
        return BH_OK;
    }

    p->duration = sg->audio.step;

    /*
     * MPEG-TS: every part must carry audio.  Shaka's TS transmuxer (5.2)
     * writes silence into a part without audio with the channel count and
     * sample rate of the audio it parsed before, and has none for the
     * first part it gets: a player that joins at a part without audio
     * fails (error 3018).  Audio and video arrive apart by the camera's
     * jitter, so a part can end before its audio came.  The newest audio
     * packet waits for the next one; a part that got no audio at all takes
     * it (bh_emit_part()).  Its timestamps do not change.  This covers
     * audio up to about a part late (bursts of up to two parts); after a
     * longer silence of the camera's audio, parts go without.
     */

    if (sg->conf.format == BH_FORMAT_MPEGTS) {
        held = sg->audio_held;
        sg->audio_held = p;

        if (held == NULL) {
            return BH_OK;
        }

        p = held;
    }

    end = bh_usec(p->dts + p->duration, sg->audio.out_tb);

    st = bh_mux_packet(sg, &sg->audio, p, err, errlen);

    av_packet_free(&p);

    if (st == BH_OK && end > sg->part_end && sg->pending->size == 0) {
        sg->part_end = end;
    }

    return st;
}


bh_status_t
bh_segmenter_flush(bh_segmenter_t *sg)
{
    char         err[128];
    int64_t      end;
    bh_status_t  st;
    AVPacket    *p;

    if (!sg->header || !sg->part_open) {
        return BH_OK;
    }

    p = sg->pending;
    end = sg->part_end;

    if (p->size > 0) {
        p->duration = sg->video.step;
        end = bh_usec(p->dts + p->duration, sg->video.out_tb);

        st = bh_mux_packet(sg, &sg->video, p, err, sizeof(err));
        av_packet_unref(p);

        if (st != BH_OK) {
            return st;
        }
    }

    if (end <= sg->part_start) {
        return BH_OK;
    }

    st = bh_mux_held_audio(sg);
    if (st != BH_OK) {
        return st;
    }

    return bh_emit_part(sg, end);
}


void
bh_segmenter_destroy(bh_segmenter_t *sg)
{
    if (sg == NULL) {
        return;
    }

    bh_mux_close(sg);
    bh_drop_untimed(sg);

    avcodec_parameters_free(&sg->vpar);
    avcodec_parameters_free(&sg->apar);
    av_packet_free(&sg->pending);
    free(sg->out);
    free(sg);
}
