
/*
 * ngx_bar_hls_module media core: frames as they come from the camera.
 *
 * The byte rate bound (max_bitrate), pictures that arrive before any
 * timestamp, pieces of one picture merged into one sample, and keyframes
 * that bring other parameter sets than the init segment's.
 */


#include <stdlib.h>
#include <string.h>

#include "bh_segmenter.h"


static void bh_untimed_step(bh_segmenter_t *sg, AVPacket *timed);


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
 * continues that frame.  A held frame keeps its own PTS when it has one
 * (B-frames before the first DTS); one without goes a frame before the
 * earliest PTS seen, the keyframe that starts a reordered GOP.
 */

bh_status_t
bh_release_untimed(bh_segmenter_t *sg, AVPacket *timed, int continues,
    char *err, size_t errlen)
{
    int64_t      k, dts, lowest;
    unsigned     i, n;
    AVPacket    *p;
    bh_status_t  st;

    n = sg->nuntimed;
    st = BH_OK;
    dts = timed->dts;
    lowest = timed->pts;

    for (i = 0; i < n; i++) {
        p = sg->untimed[i];

        if (p->pts != AV_NOPTS_VALUE
            && (lowest == AV_NOPTS_VALUE || p->pts < lowest))
        {
            lowest = p->pts;
        }
    }

    bh_untimed_step(sg, timed);

    for (i = 0; i < n && st == BH_OK; i++) {
        p = sg->untimed[i];
        k = continues ? n - 1 - i : n - i;

        p->dts = dts - k * sg->video.in_step;

        if (p->pts == AV_NOPTS_VALUE && lowest != AV_NOPTS_VALUE) {
            p->pts = lowest - sg->video.in_step;
        }

        if (p->pts == AV_NOPTS_VALUE || p->pts < p->dts) {
            p->pts = p->dts;
        }

        st = bh_write_video_timed(sg, p, sg->untimed_wallclock[i], err,
                                  errlen);

        if (sg->nuntimed == 0) {
            return st;                      /* dropped by a limit */
        }
    }

    bh_drop_untimed(sg);

    return st;
}


/* the frame duration: the smallest gap between the PTS seen, if any */

static void
bh_untimed_step(bh_segmenter_t *sg, AVPacket *timed)
{
    int64_t    d, step, a, b, max;
    unsigned   i, j, n;

    n = sg->nuntimed;
    step = 0;
    max = av_rescale_q(BH_USEC, AV_TIME_BASE_Q, sg->video.in_tb);

    for (i = 0; i <= n; i++) {
        a = (i < n) ? sg->untimed[i]->pts : timed->pts;

        for (j = i + 1; j <= n && a != AV_NOPTS_VALUE; j++) {
            b = (j < n) ? sg->untimed[j]->pts : timed->pts;

            if (b == AV_NOPTS_VALUE) {
                continue;
            }

            d = (a > b) ? a - b : b - a;

            if (d > 0 && d < max && (step == 0 || d < step)) {
                step = d;
            }
        }
    }

    if (step > 0) {
        sg->video.in_step = step;
    }
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


/*
 * A keyframe whose parameter sets differ from the init segment's: the
 * camera changed its picture size, profile or encoder.  What came before
 * is published and the muxer starts over from this keyframe: a new init
 * segment, a discontinuity, the timeline going on (each track's first
 * sample keeps its time, bh_mux.c).  Decoders would otherwise be given
 * the new pictures with the old hvcC or avcC.
 */

bh_status_t
bh_new_parameter_sets(bh_segmenter_t *sg, AVPacket *key)
{
    size_t       len;
    uint8_t     *ed;
    bh_status_t  st;

    ed = av_mallocz(BH_MAX_EXTRADATA + AV_INPUT_BUFFER_PADDING_SIZE);
    if (ed == NULL) {
        return BH_NOMEM;
    }

    st = sg->codec->parameter_sets(key->data, key->size, ed, &len);

    if (st != BH_OK
        || (len == (size_t) sg->vpar->extradata_size
            && memcmp(ed, sg->vpar->extradata, len) == 0))
    {
        av_free(ed);
        return BH_OK;                       /* none, or the same */
    }

    st = bh_segmenter_flush(sg);

    av_packet_unref(sg->pending);
    bh_mux_close(sg);

    free(sg->out);
    sg->out = NULL;
    sg->out_len = 0;
    sg->out_cap = 0;
    sg->out_failed = 0;

    av_freep(&sg->vpar->extradata);
    sg->vpar->extradata = ed;
    sg->vpar->extradata_size = (int) len;
    sg->vpar->width = 0;
    sg->vpar->height = 0;

    sg->header = 0;
    sg->part_bytes = 0;
    sg->part_samples = 0;
    sg->part_frames = 0;
    sg->part_audio = 0;
    sg->part_open = 0;
    sg->part_carried = 0;
    sg->discontinuity = 1;

    return st;
}


/* the camera's frame rate, for frames that come before any timestamp */

void
bh_segmenter_frame_rate(bh_segmenter_t *sg, int num, int den)
{
    /* 1 to 120 frames a second, or it is not a frame rate */

    if (num <= 0 || den <= 0 || num < den || num > 120 * (int64_t) den) {
        return;
    }

    sg->frame_usec = av_rescale(BH_USEC, den, num);

    if (sg->video.index != -1) {
        sg->video.in_step = av_rescale_q(sg->frame_usec, AV_TIME_BASE_Q,
                                         sg->video.in_tb);
    }
}
