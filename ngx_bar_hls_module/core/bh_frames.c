
/*
 * ngx_bar_hls_module media core: frames as they come from the camera.
 *
 * The byte rate bound (max_bitrate), pictures that arrive before any
 * timestamp, and pieces of one picture merged into one sample.
 */


#include <string.h>

#include "bh_segmenter.h"


/*
 * max_bitrate: a token bucket of BH_RATE_BURST seconds, filled as the
 * packets' arrival times advance; a packet that finds fewer tokens than
 * its size is over the rate, and dropped without taking any.
 */

int
bh_over_rate(bh_segmenter_t *sg, int size, int64_t wallclock)
{
    int64_t  cap, dt;

    if (sg->conf.max_bitrate <= 0) {
        return 0;
    }

    cap = sg->conf.max_bitrate / 8 * BH_RATE_BURST;

    if (sg->tokens_time == 0) {
        sg->tokens = cap;
        sg->tokens_time = wallclock;
    }

    dt = wallclock - sg->tokens_time;

    if (dt > 0) {
        if (dt > BH_USEC) {
            dt = BH_USEC;
        }

        sg->tokens += sg->conf.max_bitrate / 8 * dt / BH_USEC;
        sg->tokens_time = wallclock;

        if (sg->tokens > cap) {
            sg->tokens = cap;
        }
    }

    if (sg->tokens < size) {
        return 1;
    }

    sg->tokens -= size;

    return 0;
}


/* before the first timestamp: keep the frames, from a keyframe on */

bh_status_t
bh_hold_untimed(bh_segmenter_t *sg, AVPacket *pkt, bh_au_t au,
    int64_t wallclock)
{
    AVPacket  *last;

    if (sg->nuntimed > 0 && au == BH_AU_CONTINUE) {
        last = sg->untimed[sg->nuntimed - 1];

        if (last->size + pkt->size > BH_MAX_FRAME) {
            bh_drop_untimed(sg);
            return BH_OK;
        }

        if (bh_append(last, pkt) != BH_OK) {
            return BH_NOMEM;
        }

        sg->untimed_bytes += pkt->size;

        return BH_OK;
    }

    if (pkt->flags & AV_PKT_FLAG_KEY) {
        if (sg->nuntimed == BH_MAX_UNTIMED
            || sg->untimed_bytes + pkt->size > BH_MAX_FRAME)
        {
            bh_drop_untimed(sg);            /* start over at this one */
        }

    } else if (sg->nuntimed == 0) {
        return BH_OK;                       /* nothing to decode it from */

    } else if (sg->nuntimed == BH_MAX_UNTIMED
               || sg->untimed_bytes + pkt->size > BH_MAX_FRAME)
    {
        bh_drop_untimed(sg);
        return BH_OK;
    }

    last = av_packet_clone(pkt);
    if (last == NULL || av_packet_make_writable(last) < 0) {
        av_packet_free(&last);
        return BH_NOMEM;
    }

    sg->untimed[sg->nuntimed] = last;
    sg->untimed_wallclock[sg->nuntimed] = wallclock;
    sg->nuntimed++;
    sg->untimed_bytes += pkt->size;

    return BH_OK;
}


/*
 * The first timestamp came: the held frames go before it, one usual
 * frame apart; the last of them takes it if the packet that brought it
 * continues that frame.
 */

bh_status_t
bh_release_untimed(bh_segmenter_t *sg, int64_t dts, int continues,
    char *err, size_t errlen)
{
    int64_t      k;
    unsigned     i, n;
    AVPacket    *p;
    bh_status_t  st;

    n = sg->nuntimed;
    st = BH_OK;

    for (i = 0; i < n && st == BH_OK; i++) {
        p = sg->untimed[i];
        k = continues ? n - 1 - i : n - i;

        p->dts = dts - k * sg->video.in_step;
        p->pts = p->dts;

        st = bh_write_video_timed(sg, p, sg->untimed_wallclock[i], err,
                                  errlen);

        if (sg->nuntimed == 0) {
            return st;                      /* dropped by a limit */
        }
    }

    bh_drop_untimed(sg);

    return st;
}


void
bh_drop_untimed(bh_segmenter_t *sg)
{
    unsigned  i;

    for (i = 0; i < sg->nuntimed; i++) {
        av_packet_free(&sg->untimed[i]);
    }

    sg->nuntimed = 0;
    sg->untimed_bytes = 0;
}


/*
 * Appends a piece to a frame; the buffer doubles as it grows (up to
 * BH_MAX_FRAME), so that a frame of many pieces is not copied again for
 * each of them.
 */

bh_status_t
bh_append(AVPacket *p, const AVPacket *pkt)
{
    int     size, room;
    size_t  offset;

    size = p->size;

    if (p->buf != NULL) {
        offset = p->data - p->buf->data;
        room = (int) (p->buf->size - offset) - AV_INPUT_BUFFER_PADDING_SIZE;

        if (size + pkt->size > room) {
            if (av_grow_packet(p, FFMIN(FFMAX(size, pkt->size),
                                        BH_MAX_FRAME))
                < 0)
            {
                return BH_NOMEM;
            }

            av_shrink_packet(p, size);
        }
    }

    if (av_grow_packet(p, pkt->size) < 0) {
        return BH_NOMEM;
    }

    memcpy(p->data + size, pkt->data, pkt->size);
    p->flags |= pkt->flags & AV_PKT_FLAG_KEY;

    return BH_OK;
}
