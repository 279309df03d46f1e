
/*
 * ngx_bar_hls_module media core: when the camera's packets arrived, for
 * EXT-X-PROGRAM-DATE-TIME.
 *
 * libavformat reads the first second or two of a session while it probes
 * the streams and hands those packets out later, in a burst.  Their real
 * arrival is unknown, and the camera may have started sending well after
 * PLAY (a GStreamer pipeline takes a second to its first frame), so they
 * are held until a read blocks: that packet is live, and the ones before
 * it are dated back from it by their timestamps.  From then on a packet
 * is dated when av_read_frame() returns it.
 */


#include <stdlib.h>

#include "bh_arrival.h"


#define BH_ARRIVAL_BLOCKED      (5 * 1000)      /* usec: a read waited */
#define BH_ARRIVAL_MAX          512             /* packets held at most */


struct bh_arrival_s {
    int                 video;          /* stream index */
    AVRational          tb;
    AVPacket           *held[BH_ARRIVAL_MAX];
    int64_t             ts[BH_ARRIVAL_MAX];     /* usec, video's time */
    unsigned            nheld;
    int64_t             last_ts;        /* usec, of the last video packet */
    unsigned            live:1;
};


static int64_t bh_arrival_ts(bh_arrival_t *ar, AVPacket *pkt);
static bh_status_t bh_arrival_release(bh_arrival_t *ar, int64_t when,
    int64_t ref, bh_arrival_write_pt write, void *data);


bh_arrival_t *
bh_arrival_create(int video_index, int tb_num, int tb_den)
{
    bh_arrival_t  *ar;

    ar = calloc(1, sizeof(bh_arrival_t));
    if (ar == NULL) {
        return NULL;
    }

    ar->video = video_index;
    ar->tb = (AVRational) { tb_num > 0 ? tb_num : 1,
                            tb_den > 0 ? tb_den : 90000 };
    ar->last_ts = AV_NOPTS_VALUE;

    return ar;
}


/*
 * pkt was returned by a read that began at start and returned at now
 * (usec since the epoch); write() gets it, or the held ones, when their
 * dates are known.  pkt is taken over (and unreferenced).
 */

bh_status_t
bh_arrival_push(bh_arrival_t *ar, AVPacket *pkt, int64_t start, int64_t now,
    bh_arrival_write_pt write, void *data)
{
    int64_t       last, ts;
    AVPacket     *p;
    bh_status_t   st;

    if (ar->live) {
        st = write(data, pkt, now);
        av_packet_unref(pkt);
        return st;
    }

    if (now - start > BH_ARRIVAL_BLOCKED || ar->nheld == BH_ARRIVAL_MAX) {

        /*
         * This read waited for the camera: the packet is live, and the
         * held ones came as many microseconds before it as their
         * timestamps say; an audio packet dates them from when the read
         * began.
         */

        last = ar->last_ts;
        ts = bh_arrival_ts(ar, pkt);

        if (pkt->stream_index == ar->video && ts != AV_NOPTS_VALUE
            && ts != last)
        {
            st = bh_arrival_release(ar, now, ts, write, data);

        } else {
            st = bh_arrival_release(ar, start, last, write, data);
        }

        ar->live = 1;

        if (st == BH_OK) {
            st = write(data, pkt, now);
        }

        av_packet_unref(pkt);
        return st;
    }

    p = av_packet_alloc();
    if (p == NULL) {
        av_packet_unref(pkt);
        return BH_NOMEM;
    }

    av_packet_move_ref(p, pkt);

    ar->ts[ar->nheld] = bh_arrival_ts(ar, p);
    ar->held[ar->nheld++] = p;

    return BH_OK;
}


/* the held packets, the last of them dated at "when" */

bh_status_t
bh_arrival_flush(bh_arrival_t *ar, int64_t when, bh_arrival_write_pt write,
    void *data)
{
    return bh_arrival_release(ar, when, ar->last_ts, write, data);
}


/* the held packets, a packet of timestamp ref dated at "when" */

static bh_status_t
bh_arrival_release(bh_arrival_t *ar, int64_t when, int64_t ref,
    bh_arrival_write_pt write, void *data)
{
    int64_t       at;
    unsigned      i;
    bh_status_t   st;

    st = BH_OK;

    for (i = 0; i < ar->nheld; i++) {
        at = when;

        if (ref != AV_NOPTS_VALUE && ar->ts[i] != AV_NOPTS_VALUE
            && ar->ts[i] <= ref && ref - ar->ts[i] < 10 * BH_USEC)
        {
            at = when - (ref - ar->ts[i]);
        }

        if (st == BH_OK) {
            st = write(data, ar->held[i], at);
        }

        av_packet_free(&ar->held[i]);
    }

    ar->nheld = 0;

    return st;
}


/* the packet's time on the video's clock, usec; audio has the video's */

static int64_t
bh_arrival_ts(bh_arrival_t *ar, AVPacket *pkt)
{
    int64_t  ts;

    if (pkt->stream_index != ar->video) {
        return ar->last_ts;
    }

    ts = (pkt->dts != AV_NOPTS_VALUE) ? pkt->dts : pkt->pts;

    if (ts == AV_NOPTS_VALUE) {
        return ar->last_ts;
    }

    ar->last_ts = av_rescale_q(ts, ar->tb, AV_TIME_BASE_Q);

    return ar->last_ts;
}


void
bh_arrival_destroy(bh_arrival_t *ar)
{
    unsigned  i;

    if (ar == NULL) {
        return;
    }

    for (i = 0; i < ar->nheld; i++) {
        av_packet_free(&ar->held[i]);
    }

    free(ar);
}
