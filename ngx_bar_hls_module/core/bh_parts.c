
/*
 * ngx_bar_hls_module media core: where the segmenter ends parts and
 * segments.
 *
 * A part ends before the video frame that would take it past the part
 * target, a segment at the first keyframe at the segment target; a part
 * the muxer wrote nothing for stays open.  Past a bound (bh_limit()), or
 * when media time runs too slow or too fast against arrival
 * (bh_speed()), the open part is published and the rest dropped until
 * the next keyframe.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/opt.h>

#include "bh_segmenter.h"


/*
 * Past a bound: what the open part holds is published, the rest is
 * dropped until the next keyframe, which starts a new segment after a
 * discontinuity.
 */

bh_status_t
bh_limit(bh_segmenter_t *sg, char *err, size_t errlen, const char *fmt, ...)
{
    va_list     args;
    bh_chunk_t  chunk;

    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);

    if (sg->part_open && sg->part_frames > 0) {
        (void) bh_mux_held_audio(sg);       /* its audio, not lost */
    }

    if (sg->part_open && sg->part_samples > 0) {
        if (sg->part_end > sg->part_start) {
            (void) bh_emit_part(sg, sg->part_end);

        } else if (bh_mux_part(sg, &chunk) == BH_OK) {
            free(chunk.data);               /* no duration: not a part */
        }
    }

    av_packet_unref(sg->pending);
    av_packet_free(&sg->audio_held);        /* no part to go into */
    bh_drop_untimed(sg);

    sg->part_bytes = 0;
    sg->part_samples = 0;
    sg->part_frames = 0;
    sg->part_audio = 0;
    sg->part_open = 0;
    sg->part_carried = 0;
    sg->resync = 1;
    sg->discontinuity = 1;

    return BH_LIMIT;
}


/*
 * Media time must go by about as fast as the frames arrive: timestamps a
 * tick apart would keep a part open for ever, timestamps far apart would
 * make parts and segments faster than the clock that numbers them.  Over
 * BH_SPEED_WINDOW of arrival, media time may not run more than
 * BH_SPEED_MAX times slower or faster.
 */

bh_status_t
bh_speed(bh_segmenter_t *sg, int64_t media, int64_t arrival, char *err,
    size_t errlen)
{
    int64_t  wall, run;

    if (sg->speed_arrival == 0 || arrival < sg->speed_arrival
        || sg->video.jumped)
    {
        sg->speed_arrival = arrival;
        sg->speed_media = media;
        return BH_OK;
    }

    wall = arrival - sg->speed_arrival;

    if (wall < BH_SPEED_WINDOW) {
        return BH_OK;
    }

    run = media - sg->speed_media;

    sg->speed_arrival = arrival;
    sg->speed_media = media;

    if (run * BH_SPEED_MAX < wall || run > wall * BH_SPEED_MAX) {
        return bh_limit(sg, err, errlen, "the camera's timestamps went by "
                        "%lld ms in %lld ms", (long long) run / 1000,
                        (long long) wall / 1000);
    }

    return BH_OK;
}


/*
 * Cut before this frame?  A keyframe a little early still ends the
 * segment.  A part ends at the part target; or before, once it is 85% of
 * the target long (RFC 8216bis 4.4.4.9) and the next frame would take it
 * past; or before it would hold too much.  A frame later than the part
 * target has been decoded at it already (bh_write_video_timed), so that
 * every part but a segment's last lasts between 85% and 100% of
 * PART-TARGET, whatever the frame rate, its jitter, and whichever frames
 * the camera lost.  Then opens the part the frame goes into.
 */

bh_status_t
bh_cut(bh_segmenter_t *sg, AVPacket *pkt, int key, int64_t now,
    int64_t wallclock, char *err, size_t errlen)
{
    int64_t      len, step;
    bh_status_t  st;

    step = bh_usec(sg->video.step, sg->video.out_tb);

    if (sg->part_open) {
        len = now - sg->part_start;

        if (key && now - sg->segment_start
                   >= sg->conf.segment - sg->conf.segment / 10)
        {
            st = bh_emit_part(sg, now);
            if (st != BH_OK) {
                return st;
            }

            sg->part_segment_start = 1;
            sg->segment_start = now;

        } else if (len >= sg->conf.part - 1000
                   || (len >= sg->conf.part * 85 / 100 + 1000
                       && len + step > sg->conf.part + 1000)
                   || sg->part_bytes + pkt->size > BH_MAX_PART_BYTES
                   || sg->part_samples >= BH_MAX_PART_SAMPLES)
        {
            st = bh_emit_part(sg, now);
            if (st != BH_OK) {
                return st;
            }

            /* a segment starts at a keyframe, or it does not start */

            if (!key && sg->segment_parts >= BH_MAX_SEGMENT_PARTS) {
                return bh_limit(sg, err, errlen, "no keyframe within %d "
                                "parts (%lld ms)", BH_MAX_SEGMENT_PARTS,
                                (long long) (now - sg->segment_start) / 1000);
            }

            if (key && sg->segment_parts >= BH_MAX_SEGMENT_PARTS) {
                sg->part_segment_start = 1;
                sg->segment_start = now;
            }
        }

    } else {
        sg->part_segment_start = 1;
        sg->segment_start = now;
    }

    if ((!sg->part_open || sg->part_carried)
        && sg->conf.format == BH_FORMAT_MPEGTS)
    {
        /* every part, and so every segment, starts with the PAT and PMT */
        av_opt_set(sg->oc->priv_data, "mpegts_flags", "+resend_headers", 0);
    }

    if (!sg->part_open) {
        sg->part_open = 1;
        sg->part_start = now;
        sg->part_end = now;
        sg->part_wallclock = wallclock;
        sg->part_independent = key;
        sg->part_discontinuity = sg->discontinuity;
        sg->discontinuity = 0;

    } else if (sg->part_carried) {
        sg->part_carried = 0;
        sg->part_independent = key;     /* its first sample is this one */
    }

    return BH_OK;
}


bh_status_t
bh_emit_part(bh_segmenter_t *sg, int64_t end)
{
    bh_status_t  st;
    bh_chunk_t   chunk;

    memset(&chunk, 0, sizeof(bh_chunk_t));

    /* MPEG-TS: a part with video and no audio takes the held audio */

    if (sg->conf.format == BH_FORMAT_MPEGTS
        && sg->part_frames > 0 && sg->part_audio == 0)
    {
        st = bh_mux_held_audio(sg);
        if (st != BH_OK) {
            return st;
        }
    }

    chunk.frames = sg->part_frames;

    st = bh_mux_part(sg, &chunk);

    /*
     * The muxer wrote nothing (the camera sent samples it dropped, such
     * as garbage without a start code): the part stays open, so that the
     * next one covers its time and the timeline stays contiguous.
     */

    if (st == BH_NOSPACE) {
        sg->part_carried = 1;
        return BH_OK;
    }

    if (st != BH_OK) {
        return st;
    }

    chunk.type = BH_CHUNK_PART;
    chunk.start = sg->part_start;
    chunk.duration = end - sg->part_start;
    chunk.wallclock = sg->part_wallclock;
    chunk.segment_start = sg->part_segment_start;
    chunk.independent = sg->part_independent;
    chunk.discontinuity = sg->part_discontinuity;

    sg->part_open = 0;
    sg->part_carried = 0;
    sg->part_segment_start = 0;
    sg->segment_parts = chunk.segment_start ? 1 : sg->segment_parts + 1;

    sg->handler(sg->data, &chunk);

    return BH_OK;
}


/* muxes the audio packet bh_write_audio() held (MPEG-TS), if any */

bh_status_t
bh_mux_held_audio(bh_segmenter_t *sg)
{
    char         err[128];
    AVPacket    *p;
    bh_status_t  st;

    p = sg->audio_held;

    if (p == NULL) {
        return BH_OK;
    }

    sg->audio_held = NULL;

    st = bh_mux_packet(sg, &sg->audio, p, err, sizeof(err));

    av_packet_free(&p);

    return st;
}
