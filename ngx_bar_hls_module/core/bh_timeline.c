
/*
 * ngx_bar_hls_module media core: the output timeline, and the wall clock
 * it is dated with.
 *
 * Cameras send odd timestamps: repeated DTS, small reorderings, jumps
 * when RTCP sender reports arrive, and none at all.  The muxers want
 * strictly increasing DTS per track, so every packet is mapped onto a
 * continuous timeline: small steps back are nudged forward, large jumps
 * either way are re-anchored one usual step after the last packet.
 *
 * PROGRAM-DATE-TIME follows the media clock, anchored on arrival: a frame
 * is dated where the earliest frames arrived, plus its media time, so
 * that consecutive segments are dated their durations apart however late
 * a loaded machine reads some packets.  When a frame arrives earlier than
 * the anchor says, the anchor moves down towards it, by at most
 * BH_CLOCK_FALL of the media time that goes by (a segment is never dated
 * a second before the end of the one before it); up by at most
 * BH_CLOCK_SLEW a window when every frame of a window arrived later (a
 * camera whose clock runs slow); and it starts over after a jump of the
 * timeline.
 */


#include "bh_segmenter.h"


#define BH_JUMP_USEC        (2 * BH_USEC)
#define BH_CLOCK_WINDOW     (10 * BH_USEC)
#define BH_CLOCK_SLEW       10000       /* usec a window */
#define BH_CLOCK_LATE       50000       /* usec: a window all this late */
#define BH_CLOCK_FALL       20          /* 1/20 of the media time */

/* timestamps beyond this are garbage: none at all is safer to handle */
#define BH_MAX_TS           ((int64_t) 1 << 50)


/*
 * Rewrites pkt's dts/pts (input time base) onto the track's timeline (its
 * output time base) and returns the new dts.  The first packet of the
 * first track sets the origin (usec) for both tracks, so that they stay
 * in sync as the camera timestamped them.
 */

int64_t
bh_track_map(bh_track_t *t, AVPacket *pkt, int64_t *origin)
{
    int64_t  raw, dts, cts, jump, d;

    if (pkt->pts != AV_NOPTS_VALUE
        && (pkt->pts > BH_MAX_TS || pkt->pts < -BH_MAX_TS))
    {
        pkt->pts = AV_NOPTS_VALUE;
    }

    if (pkt->dts != AV_NOPTS_VALUE
        && (pkt->dts > BH_MAX_TS || pkt->dts < -BH_MAX_TS))
    {
        pkt->dts = AV_NOPTS_VALUE;
    }

    if (pkt->dts == AV_NOPTS_VALUE) {
        pkt->dts = pkt->pts;
    }

    cts = 0;

    if (pkt->pts != AV_NOPTS_VALUE && pkt->dts != AV_NOPTS_VALUE
        && pkt->pts > pkt->dts)
    {
        cts = av_rescale_q(pkt->pts - pkt->dts, t->in_tb, t->out_tb);

        /* a composition offset of more than a jump is garbage */

        if (cts > av_rescale_q(BH_JUMP_USEC, AV_TIME_BASE_Q, t->out_tb)) {
            cts = 0;
        }
    }

    raw = AV_NOPTS_VALUE;

    if (pkt->dts != AV_NOPTS_VALUE) {
        raw = av_rescale_q(pkt->dts, t->in_tb, t->out_tb);

        if (raw > BH_MAX_TS || raw < -BH_MAX_TS) {
            raw = AV_NOPTS_VALUE;
            cts = 0;
        }
    }

    if (raw == AV_NOPTS_VALUE) {
        dts = (t->last_dts == AV_NOPTS_VALUE) ? 0 : t->last_dts + t->step;

    } else {
        if (!t->anchored) {
            if (*origin == AV_NOPTS_VALUE) {
                *origin = bh_usec(raw, t->out_tb);
            }

            t->offset = -av_rescale_q(*origin, AV_TIME_BASE_Q, t->out_tb);
            t->anchored = 1;
        }

        dts = raw + t->offset;
    }

    if (t->last_dts != AV_NOPTS_VALUE) {
        jump = av_rescale_q(BH_JUMP_USEC, AV_TIME_BASE_Q, t->out_tb);

        if (dts <= t->last_dts - jump || dts > t->last_dts + jump) {

            /* a jump: continue as if one usual step had passed */

            t->offset += t->last_dts + t->step - dts;
            dts = t->last_dts + t->step;
            t->jumped = 1;

        } else if (dts <= t->last_dts) {
            dts = t->last_dts + 1;

        } else {
            /*
             * The usual step is the shorter of the last two: a frame the
             * camera lost doubles one step, and must not make the next
             * parts end early.
             */

            d = dts - t->last_dts;
            t->step = (t->delta > 0 && t->delta < d) ? t->delta : d;
            t->delta = d;
        }
    }

    t->last_dts = dts;

    pkt->dts = dts;
    pkt->pts = dts + cts;

    return dts;
}


int64_t
bh_usec(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}


/* the wall clock of a frame at media usec that arrived at arrival */

int64_t
bh_clock(bh_segmenter_t *sg, int64_t media, int64_t arrival)
{
    int64_t  off, fall;

    off = arrival - media;

    if (!sg->clock_set || sg->video.jumped) {
        sg->video.jumped = 0;
        sg->clock_set = 1;
        sg->clock = off;
        sg->clock_target = off;
        sg->clock_media = media;
        sg->clock_window = media;
        sg->clock_min = off;
        return arrival;
    }

    /* it came earlier: less delay than the anchor says, go down to it */

    if (off < sg->clock_target) {
        sg->clock_target = off;
    }

    if (sg->clock_target < sg->clock && media > sg->clock_media) {
        fall = (media - sg->clock_media) / BH_CLOCK_FALL;
        sg->clock -= (sg->clock - sg->clock_target < fall)
                     ? sg->clock - sg->clock_target : fall;
    }

    sg->clock_media = media;

    if (off < sg->clock_min) {
        sg->clock_min = off;
    }

    if (media - sg->clock_window >= BH_CLOCK_WINDOW
        || media < sg->clock_window)
    {
        if (sg->clock_min > sg->clock + BH_CLOCK_LATE) {
            sg->clock += (sg->clock_min - sg->clock < BH_CLOCK_SLEW)
                         ? sg->clock_min - sg->clock : BH_CLOCK_SLEW;
            sg->clock_target = sg->clock;
        }

        sg->clock_window = media;
        sg->clock_min = off;
    }

    return sg->clock + media;
}
