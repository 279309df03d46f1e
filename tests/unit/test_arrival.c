
/*
 * Unit tests of the arrival dating of packets (core/bh_arrival.c), TAP:
 * the burst libavformat hands out after probing the streams is dated back
 * from the first packet that had to be waited for, not from PLAY.
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_media.h"
#include "bh_arrival.h"
#include "tap.h"


#define T0      (INT64_C(1795636800) * BH_USEC)


typedef struct {
    int64_t     when[256];
    int64_t     dts[256];
    int         n;
} dates_t;


static bh_status_t
record(void *data, AVPacket *pkt, int64_t wallclock)
{
    dates_t  *d = data;

    if (d->n < 256) {
        d->when[d->n] = wallclock;
        d->dts[d->n] = pkt->dts;
        d->n++;
    }

    return BH_OK;
}


static void
push(bh_arrival_t *ar, dates_t *d, int video, int64_t dts, int64_t start,
    int64_t now)
{
    AVPacket  *pkt;

    pkt = av_packet_alloc();
    av_new_packet(pkt, 16);
    pkt->stream_index = video ? 0 : 1;
    pkt->dts = dts;
    pkt->pts = dts;

    bh_arrival_push(ar, pkt, start, now, record, d);

    av_packet_free(&pkt);
}


int
main(int argc, char **argv)
{
    int            i, bad;
    int64_t        t;
    dates_t        d;
    bh_arrival_t  *ar;

    memset(&d, 0, sizeof(d));

    /*
     * The camera started a second after PLAY: the probe read 2 s of it,
     * handed out at once 3 s after PLAY; then a read waits 40 ms for the
     * next frame.
     */

    ar = bh_arrival_create(0, 1, 90000);
    t = T0 + 3 * BH_USEC;

    for (i = 0; i < 50; i++) {
        push(ar, &d, 1, i * 3600, t, t + 10);
        push(ar, &d, 0, i * 3600, t, t + 10);
        t += 20;
    }

    ok(d.n == 0, "the probed burst is held (%d written)", d.n);

    push(ar, &d, 1, 50 * 3600, t, t + 40000);

    ok(d.n == 101, "released with the first live packet (%d)", d.n);

    bad = 0;

    for (i = 0; i < 100; i += 2) {
        if (d.when[i] != t + 40000 - (50 - i / 2) * 40000) {
            bad++;
        }
    }

    ok(bad == 0 && d.when[100] == t + 40000,
       "dated back by their timestamps from it: the first at %.3f s, "
       "not at PLAY", (double) (d.when[0] - T0) / BH_USEC);

    push(ar, &d, 1, 51 * 3600, t + 50000, t + 80000);

    ok(d.n == 102 && d.when[101] == t + 80000, "then dated as they come");

    bh_arrival_destroy(ar);

    /* a session that ends during the burst: the held ones still go */

    memset(&d, 0, sizeof(d));
    ar = bh_arrival_create(0, 1, 90000);

    for (i = 0; i < 10; i++) {
        push(ar, &d, 1, i * 3600, T0, T0);
    }

    bh_arrival_flush(ar, T0 + BH_USEC, record, &d);

    ok(d.n == 10 && d.when[9] == T0 + BH_USEC
       && d.when[0] == T0 + BH_USEC - 9 * 40000,
       "flushed at the end of the session");

    bh_arrival_destroy(ar);

    return tap_done();
}
