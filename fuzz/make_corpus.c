
/*
 * Writes seeds for the segmenter fuzz target (fuzz/fuzz_segmenter.c) from
 * a real H.264/AAC stream, so that fuzzing starts from inputs that reach
 * segment boundaries, new init segments and audio:
 *
 *     make_corpus FIXTURE.mkv OTHER.mkv OUTDIR
 *
 * Each seed is the target's input format (see fuzz_segmenter.c): a flags
 * byte, then packet records.  Variants: fMP4 and MPEG-TS; parameter sets
 * in the SDP or in band only; pictures in slices as RTP delivers them
 * with the session's first packet untimed; a timestamp jump; a flood
 * over max_bitrate; a second session's keyframe of another size.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>


#define SECONDS     3


#define NSEEDS      9


typedef struct {
    FILE       *f;
    int64_t     last[2];        /* dts of the last record per track */
    int         session;        /* mark the next record a new session */
} seed_t;


static int convert(const char *path, seed_t *seeds, int one);
static int seed_open(seed_t *s, const char *dir, const char *name,
    int flags);
static void seed_packet(seed_t *s, int audio, int key, int untimed,
    int64_t dts, int64_t pts, const uint8_t *data, int size);
static void seed_video(seed_t *s, AVPacket *pkt, int slices, int untimed,
    int64_t shift);


static const struct {
    const char  *name;
    int          flags;
} variants[NSEEDS] = {
    { "fmp4-clean", 0 },
    { "ts-clean", 1 },
    { "fmp4-inband", 2 },
    { "fmp4-sliced-untimed", 0 },
    { "ts-jump", 1 },
    { "fmp4-flood", 4 },
    { "fmp4-video-only", 8 },
    { "fmp4-small-store", 16 },
    { "fmp4-two-sessions", 0 },
};


int
main(int argc, char **argv)
{
    int     i;
    seed_t  seeds[NSEEDS];

    if (argc != 4) {
        fprintf(stderr, "usage: %s FIXTURE.mkv OTHER.mkv OUTDIR\n", argv[0]);
        return 2;
    }

    av_log_set_level(AV_LOG_ERROR);

    for (i = 0; i < NSEEDS; i++) {
        if (seed_open(&seeds[i], argv[3], variants[i].name,
                      variants[i].flags)
            != 0)
        {
            return 1;
        }
    }

    if (convert(argv[1], seeds, 0) != 0) {
        return 1;
    }

    /* the second session goes to the last seed only */

    seeds[NSEEDS - 1].session = 1;

    if (convert(argv[2], &seeds[NSEEDS - 1], 1) != 0) {
        return 1;
    }

    for (i = 0; i < NSEEDS; i++) {
        fclose(seeds[i].f);
    }

    printf("%s: %d seeds in %s\n", argv[0], NSEEDS, argv[3]);

    return 0;
}


/* the first SECONDS of path into the seeds (all of them, or just one) */

static int
convert(const char *path, seed_t *seeds, int one)
{
    int                 v, a, i, n, k;
    AVPacket           *pkt;
    AVBSFContext       *bsf;
    AVFormatContext    *ic;

    ic = NULL;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0
        || avformat_find_stream_info(ic, NULL) < 0)
    {
        fprintf(stderr, "%s: cannot read\n", path);
        return 1;
    }

    v = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    a = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);

    if (v < 0 || a < 0
        || av_bsf_alloc(av_bsf_get_by_name("h264_mp4toannexb"), &bsf) < 0
        || avcodec_parameters_copy(bsf->par_in, ic->streams[v]->codecpar) < 0
        || av_bsf_init(bsf) < 0)
    {
        fprintf(stderr, "%s: no H.264 and AAC\n", path);
        return 1;
    }

    pkt = av_packet_alloc();
    n = 0;
    k = one ? 1 : NSEEDS;

    while (av_read_frame(ic, pkt) >= 0) {

        if (av_rescale_q(pkt->dts, ic->streams[pkt->stream_index]->time_base,
                         (AVRational) { 1, 1 }) >= SECONDS)
        {
            av_packet_unref(pkt);
            break;
        }

        if (pkt->stream_index == a) {

            /* the target's audio time base is 1/44100 */

            pkt->dts = av_rescale_q(pkt->dts, ic->streams[a]->time_base,
                                    (AVRational) { 1, 44100 });

            for (i = 0; i < k; i++) {
                if (!(variants[one ? NSEEDS - 1 : i].flags & 8)) {
                    seed_packet(&seeds[i], 1, 0, 0, pkt->dts, pkt->dts,
                                pkt->data, pkt->size);
                }
            }

            av_packet_unref(pkt);
            continue;
        }

        if (pkt->stream_index != v || av_bsf_send_packet(bsf, pkt) < 0
            || av_bsf_receive_packet(bsf, pkt) < 0)
        {
            av_packet_unref(pkt);
            continue;
        }

        pkt->dts = av_rescale_q(pkt->dts, ic->streams[v]->time_base,
                                (AVRational) { 1, 90000 });
        pkt->pts = av_rescale_q(pkt->pts, ic->streams[v]->time_base,
                                (AVRational) { 1, 90000 });
        n++;

        if (one) {
            seed_video(&seeds[0], pkt, 0, 0, 0);
            av_packet_unref(pkt);
            continue;
        }

        seed_video(&seeds[0], pkt, 0, 0, 0);
        seed_video(&seeds[1], pkt, 0, 0, 0);
        seed_video(&seeds[2], pkt, 0, 0, 0);
        seed_video(&seeds[3], pkt, 1, n == 1, 0);
        seed_video(&seeds[4], pkt, 0, 0, n > 40 ? 20 * 90000 : 0);
        seed_video(&seeds[6], pkt, 0, 0, 0);
        seed_video(&seeds[7], pkt, 0, 0, 0);
        seed_video(&seeds[8], pkt, 0, 0, 0);

        /* four times each picture: far over 100 kbit/s */

        for (i = 0; i < 4; i++) {
            seed_video(&seeds[5], pkt, 0, 0, 0);
        }

        av_packet_unref(pkt);
    }

    av_packet_free(&pkt);
    av_bsf_free(&bsf);
    avformat_close_input(&ic);

    return 0;
}


static int
seed_open(seed_t *s, const char *dir, const char *name, int flags)
{
    char  path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    s->f = fopen(path, "wb");
    if (s->f == NULL) {
        perror(path);
        return -1;
    }

    s->last[0] = 0;
    s->last[1] = 0;
    s->session = 0;

    fputc(flags, s->f);

    return 0;
}


/*
 * A record: kind (bit 0 audio, bit 1 keyframe, bit 2 no timestamp), the
 * DTS step from the track's last record (2 bytes, little endian, signed),
 * PTS - DTS (1 byte), the size (2 bytes, little endian), the payload.
 */

static void
seed_packet(seed_t *s, int audio, int key, int untimed, int64_t dts,
    int64_t pts, const uint8_t *data, int size)
{
    int64_t  step, cts;

    if (size > 65535) {
        size = 65535;
    }

    step = dts - s->last[audio];

    while (step > 32767 || step < -32768) {

        /* a long step: empty records of a valid step first */

        fputc(audio | 4 | (s->session ? 8 : 0), s->f);
        s->session = 0;
        fputc((step > 0 ? 32767 : -32768) & 0xff, s->f);
        fputc(((step > 0 ? 32767 : -32768) >> 8) & 0xff, s->f);
        fputc(0, s->f);
        fputc(0, s->f);
        fputc(0, s->f);

        s->last[audio] += step > 0 ? 32767 : -32768;
        step = dts - s->last[audio];
    }

    cts = pts - dts;
    cts = (cts < 0) ? 0 : (cts > 255 ? 255 : cts);

    fputc(audio | (key ? 2 : 0) | (untimed ? 4 : 0) | (s->session ? 8 : 0),
          s->f);
    s->session = 0;
    fputc(step & 0xff, s->f);
    fputc((step >> 8) & 0xff, s->f);
    fputc((int) cts, s->f);
    fputc(size & 0xff, s->f);
    fputc((size >> 8) & 0xff, s->f);
    fwrite(data, 1, size, s->f);

    s->last[audio] = dts;
}


/* a picture, whole or a packet per slice (the first one untimed) */

static void
seed_video(seed_t *s, AVPacket *pkt, int slices, int untimed, int64_t shift)
{
    int  i, start, key;

    key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;

    if (!slices) {
        seed_packet(s, 0, key, 0, pkt->dts + shift, pkt->pts + shift,
                    pkt->data, pkt->size);
        return;
    }

    start = 0;

    for (i = 4; i + 3 < pkt->size; i++) {
        if (pkt->data[i] == 0 && pkt->data[i + 1] == 0
            && pkt->data[i + 2] == 1
            && ((pkt->data[i + 3] & 0x1f) == 1
                || (pkt->data[i + 3] & 0x1f) == 5))
        {
            seed_packet(s, 0, key, untimed && start == 0, pkt->dts,
                        pkt->pts, pkt->data + start, i - start);
            start = i;
        }
    }

    seed_packet(s, 0, key, untimed && start == 0, pkt->dts, pkt->pts,
                pkt->data + start, pkt->size - start);
}
