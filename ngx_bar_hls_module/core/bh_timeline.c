
/*
 * ngx_bar_hls_module media core: the output timeline.
 *
 * Cameras send odd timestamps: repeated DTS, small reorderings, jumps
 * when RTCP sender reports arrive, and none at all.  The muxers want
 * strictly increasing DTS per track, so every packet is mapped onto a
 * continuous timeline: small steps back are nudged forward, large jumps
 * either way are re-anchored one usual step after the last packet.
 */


#include "bh_segmenter.h"


#define BH_JUMP_USEC        (2 * BH_USEC)

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
    int64_t  raw, dts, cts, jump;

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

        } else if (dts <= t->last_dts) {
            dts = t->last_dts + 1;

        } else {
            t->step = dts - t->last_dts;
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
