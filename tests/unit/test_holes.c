
/*
 * Unit tests of part durations (TAP, run by prove): a 25 fps stream with
 * frames the camera lost, one at a time and several in a row, at every
 * position in a part, frame rates whose frames do not add up to a part
 * (29.97, 24, 12 fps), timestamps that jitter and a frame rate that
 * varies.  No part may be longer than PART-TARGET, none but a segment's
 * last shorter than 85% of it (RFC 8216bis 4.4.4.9), the timeline stays
 * contiguous, no frame is decoded a moment after the one before, and
 * every frame is presented when the camera meant it: its PTS is the
 * camera's, whatever its DTS became.
 *
 *     test_holes [BUILD_DIR]
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "bh_media.h"
#include "tap.h"
#include "test_h264.h"


#define PART        (BH_USEC / 5)
#define TICKS       3600                /* 40 ms at 1/90000 */
#define FRAMES      1000
#define MAX_PARTS   1024


typedef struct {
    uint8_t            *init;
    size_t              init_size;
    uint8_t            *media;
    size_t              media_size;
    int                 parts;
    int64_t             duration[MAX_PARTS];
    int                 last_of_segment[MAX_PARTS];
    int64_t             start[MAX_PARTS];
} sink_t;


static void collect(void *data, bh_chunk_t *chunk);
static int lost(int i, int pattern, int gop);
static int64_t at(int i, int pattern, int ticks);
static void run(int pattern, int b_frames, int ticks, int gop,
    const char *name);
static int demux(sink_t *out, int64_t *pts, int n, int *frames,
    int64_t *min_step);


int
main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_QUIET);

    run(0, 0, TICKS, 25, "no frame lost");
    run(1, 0, TICKS, 25, "every 7th frame lost");
    run(2, 0, TICKS, 25, "3 frames in a row lost every 23");
    run(3, 0, TICKS, 25, "the first frame of every part lost");
    run(1, 1, TICKS, 25, "every 7th frame lost, with B-frames");

    /* frame rates whose frames do not add up to 200 ms */

    run(0, 0, 3003, 30, "29.97 fps");
    run(0, 0, 3750, 24, "24 fps");
    run(0, 0, 7500, 12, "12 fps");
    run(4, 0, 3750, 24, "24 fps, 2 of 3 frames lost in bursts");

    /* timestamps that jitter, and a frame rate that varies (low light) */

    run(5, 0, TICKS, 25, "25 fps, +-3 ms of jitter");
    run(6, 0, TICKS, 25, "a frame rate varying from 25 to 10 fps");

    return tap_done();
}


static void
collect(void *data, bh_chunk_t *chunk)
{
    sink_t   *out = data;
    uint8_t  *p;

    if (chunk->type == BH_CHUNK_INIT) {
        free(out->init);
        out->init = chunk->data;
        out->init_size = chunk->size;
        return;
    }

    if (out->parts < MAX_PARTS) {
        if (chunk->segment_start && out->parts > 0) {
            out->last_of_segment[out->parts - 1] = 1;
        }

        out->duration[out->parts] = chunk->duration;
        out->start[out->parts] = chunk->start;
        out->parts++;
    }

    p = realloc(out->media, out->media_size + chunk->size);
    if (p != NULL) {
        memcpy(p + out->media_size, chunk->data, chunk->size);
        out->media = p;
        out->media_size += chunk->size;
    }

    free(chunk->data);
}


/* is frame i lost? (never a keyframe: those start segments on time) */

static int
lost(int i, int pattern, int gop)
{
    if (i % gop == 0) {
        return 0;
    }

    switch (pattern) {
    case 1:
        return i % 7 == 3;
    case 2:
        return i % 23 >= 10 && i % 23 <= 12;
    case 3:
        return i % 5 == 0;             /* the first frame of a part */
    case 4:
        return i % 12 < 9 && i % 3 != 0;
    default:
        return 0;
    }
}


/* when frame i is decoded, 1/90000 */

static int64_t
at(int i, int pattern, int ticks)
{
    static const int  jitter[] = { 0, 180, -270, 90, -180, 270, -90 };
    static const int  vfr[] = { 3600, 3600, 6000, 9000, 6000, 3600 };
    int64_t           t;
    int               k;

    switch (pattern) {
    case 5:
        return (int64_t) i * ticks + (i % 25 ? jitter[i % 7] : 0);
    case 6:
        t = 0;
        for (k = 0; k < i; k++) {
            t += vfr[(k / 10) % 6];
        }
        return t;
    default:
        return (int64_t) i * ticks;
    }
}


static void
run(int pattern, int b_frames, int ticks, int gop, const char *name)
{
    int                   i, n, frames, long_parts, short_parts, gaps;
    int64_t               min_step;
    size_t                size;
    int64_t              *pts, longest, shortest, pos;
    uint8_t               buf[600];
    char                  err[256];
    sink_t                out;
    AVPacket             *pkt;
    AVCodecParameters    *par;
    bh_segmenter_t       *sg;
    bh_segmenter_conf_t   conf;

    memset(&out, 0, sizeof(sink_t));
    memset(&conf, 0, sizeof(bh_segmenter_conf_t));
    conf.format = BH_FORMAT_FMP4;
    conf.segment = BH_USEC;
    conf.part = PART;

    sg = bh_segmenter_create(&conf, collect, &out);

    par = test_h264_par();

    (void) bh_segmenter_open(sg, par, 0, 1, 90000, NULL, -1, 0, 0,
                             err, sizeof(err));

    pts = calloc(FRAMES, sizeof(int64_t));
    pkt = av_packet_alloc();
    n = 0;

    for (i = 0; i < FRAMES; i++) {
        if (lost(i, pattern, gop)) {
            continue;
        }

        size = 5 + 200 + (i % gop == 0) * 300;
        memcpy(buf, (i % gop == 0) ? "\0\0\1\x65\x88" : "\0\0\1\x41\x9a", 5);
        memset(buf + 5, 0x5a, size - 5);

        av_new_packet(pkt, (int) size);
        memcpy(pkt->data, buf, size);

        pkt->dts = at(i, pattern, ticks);

        /* with B-frames: presented a frame later than decoded */
        pkt->pts = pkt->dts + (b_frames ? ticks : 0);
        pkt->flags = (i % gop == 0) ? AV_PKT_FLAG_KEY : 0;
        pkt->stream_index = 0;

        pts[n++] = av_rescale(pkt->pts, BH_USEC, 90000);

        (void) bh_segmenter_write(sg, pkt,
                                  INT64_C(1795636800) * BH_USEC
                                  + pkt->dts * BH_USEC / 90000,
                                  err, sizeof(err));
        av_packet_unref(pkt);
    }

    bh_segmenter_flush(sg);

    longest = 0;
    shortest = INT64_MAX;
    long_parts = 0;
    short_parts = 0;
    gaps = 0;
    pos = out.parts ? out.start[0] : 0;

    /* the last part is the flush's: its length is a guess */

    for (i = 0; i + 1 < out.parts; i++) {
        longest = out.duration[i] > longest ? out.duration[i] : longest;
        long_parts += out.duration[i] > PART + 1000;

        if (!out.last_of_segment[i]) {
            shortest = out.duration[i] < shortest ? out.duration[i]
                                                  : shortest;
            short_parts += out.duration[i] < PART * 85 / 100;
        }

        gaps += out.start[i] != pos;
        pos = out.start[i] + out.duration[i];
    }

    ok(out.parts > 50 && long_parts == 0, "%s: no part over PART-TARGET "
       "(%d parts, %d over, longest %" PRId64 " us)", name, out.parts,
       long_parts, longest);
    ok(short_parts == 0, "%s: no part below 85%% of PART-TARGET but a "
       "segment's last (%d, shortest %" PRId64 " us)", name, short_parts,
       shortest);
    ok(gaps == 0, "%s: the parts follow each other without a gap (%d)",
       name, gaps);
    ok(demux(&out, pts, n, &frames, &min_step) == 0 && frames == n,
       "%s: %d of %d frames presented when the camera meant them", name,
       frames, n);
    ok(min_step >= 10000, "%s: no frame decoded less than 10 ms after the "
       "one before (%" PRId64 " us)", name, min_step);

    av_packet_free(&pkt);
    free(pts);
    bh_segmenter_destroy(sg);
    avcodec_parameters_free(&par);
    free(out.init);
    free(out.media);
}


/* demuxes init + media; each frame's PTS, in order, against the camera's */

static int
demux(sink_t *out, int64_t *pts, int n, int *frames, int64_t *min_step)
{
    int               fd, rc;
    FILE             *f;
    char              path[] = "/tmp/bh_holes_XXXXXX";
    int64_t           t, first, d, last;
    AVPacket         *pkt;
    AVFormatContext  *ic;

    *frames = 0;
    *min_step = 0;

    fd = mkstemp(path);
    if (fd == -1 || out->init == NULL) {
        return -1;
    }

    f = fdopen(fd, "w");
    fwrite(out->init, 1, out->init_size, f);
    fwrite(out->media, 1, out->media_size, f);
    fclose(f);

    ic = NULL;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0) {
        unlink(path);
        return -1;
    }

    pkt = av_packet_alloc();
    rc = 0;
    first = AV_NOPTS_VALUE;
    last = AV_NOPTS_VALUE;
    *min_step = INT64_MAX;

    while (av_read_frame(ic, pkt) >= 0) {
        t = av_rescale_q(pkt->pts, ic->streams[pkt->stream_index]->time_base,
                         AV_TIME_BASE_Q);

        if (first == AV_NOPTS_VALUE) {
            first = t - pts[0];
        }

        d = av_rescale_q(pkt->dts, ic->streams[pkt->stream_index]->time_base,
                         AV_TIME_BASE_Q);

        if (last != AV_NOPTS_VALUE && d - last < *min_step) {
            *min_step = d - last;
        }

        last = d;

        /* within 1 ms (the timescale rounds) of the camera's, shifted */

        if (*frames >= n || llabs(t - first - pts[*frames]) > 1000) {
            if (rc == 0) {
                printf("# frame %d: PTS %" PRId64 " us, the camera's %"
                       PRId64 "\n", *frames, t - first,
                       *frames < n ? pts[*frames] : -1);
            }

            rc = -1;
        }

        (*frames)++;
        av_packet_unref(pkt);
    }

    av_packet_free(&pkt);
    avformat_close_input(&ic);
    unlink(path);

    return rc;
}
