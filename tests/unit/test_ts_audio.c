
/*
 * Unit tests of audio in MPEG-TS parts (TAP, run by prove): audio that
 * arrives in bursts, as a camera's jitter delivers it, still puts audio
 * into every part once audio has come, since a player that joins at a
 * part without audio may fail (Shaka's TS transmuxer: error 3018); and no
 * audio packet is lost or moved in time for it.
 *
 *     test_ts_audio [BUILD_DIR]
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
#define SECONDS     10
#define FPS         25
#define RATE        48000
#define SAMPLES     1024                /* an AAC frame */
#define MAX_PARTS   256


/* AudioSpecificConfig: AAC LC, 48 kHz, 2 channels */
static const uint8_t  asc[] = { 0x11, 0x90 };


typedef struct {
    uint8_t            *media;
    size_t              media_size;
    int                 parts;
    int                 audio_pes[MAX_PARTS];
    int64_t             wallclock[MAX_PARTS];
} sink_t;


static void collect(void *data, bh_chunk_t *chunk);
static int audio_pes(const uint8_t *p, size_t size);
static void run(int burst_ms, const char *name);
static int demux_audio(sink_t *out, int64_t *first, int64_t *last);


int
main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_QUIET);

    run(0, "audio as it is sampled (+5 ms)");
    run(300, "audio in bursts every 300 ms");
    run(400, "audio in bursts every 400 ms");

    return tap_done();
}


static void
collect(void *data, bh_chunk_t *chunk)
{
    sink_t   *out = data;
    uint8_t  *p;

    if (chunk->type != BH_CHUNK_PART) {
        free(chunk->data);
        return;
    }

    if (out->parts < MAX_PARTS) {
        out->audio_pes[out->parts] = audio_pes(chunk->data, chunk->size);
        out->wallclock[out->parts] = chunk->wallclock;
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


/* TS packets that start a PES of an audio stream (stream_id 0xc0-0xdf) */

static int
audio_pes(const uint8_t *p, size_t size)
{
    int             n;
    size_t          i, off;
    const uint8_t  *pl;

    n = 0;

    for (i = 0; i + 188 <= size; i += 188) {
        if (p[i] != 0x47 || !(p[i + 1] & 0x40)) {
            continue;                   /* not a payload unit's start */
        }

        off = 4;

        if (p[i + 3] & 0x20) {
            off += 1 + p[i + 4];        /* the adaptation field */
        }

        if (!(p[i + 3] & 0x10) || off + 4 > 188) {
            continue;
        }

        pl = p + i + off;
        n += pl[0] == 0 && pl[1] == 0 && pl[2] == 1
             && (pl[3] & 0xe0) == 0xc0;
    }

    return n;
}


/*
 * SECONDS of 25 fps video and 48 kHz audio, in the order they arrive:
 * video frames on time, audio 5 ms after it was sampled (burst_ms 0) or
 * all of each burst_ms of audio at once, 1 ms after the frame at the end
 * of that time.
 */

static void
run(int burst_ms, const char *name)
{
    int                   i, j, frames, packets, without, audio, contiguous;
    size_t                size;
    int64_t               vt, at, first_audio, first, last;
    uint8_t               buf[600];
    char                  err[256];
    sink_t                out;
    AVPacket             *pkt;
    AVCodecParameters    *vpar, *apar;
    bh_segmenter_t       *sg;
    bh_segmenter_conf_t   conf;

    memset(&out, 0, sizeof(sink_t));
    memset(&conf, 0, sizeof(bh_segmenter_conf_t));
    conf.format = BH_FORMAT_MPEGTS;
    conf.segment = BH_USEC;
    conf.part = PART;

    sg = bh_segmenter_create(&conf, collect, &out);

    vpar = test_h264_par();

    apar = avcodec_parameters_alloc();
    apar->codec_type = AVMEDIA_TYPE_AUDIO;
    apar->codec_id = AV_CODEC_ID_AAC;
    apar->sample_rate = RATE;
    apar->frame_size = SAMPLES;
    av_channel_layout_default(&apar->ch_layout, 2);
    apar->extradata = av_mallocz(sizeof(asc) + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(apar->extradata, asc, sizeof(asc));
    apar->extradata_size = sizeof(asc);

    ok(bh_segmenter_open(sg, vpar, 0, 1, 90000, apar, 1, 1, RATE,
                         err, sizeof(err)) == BH_OK,
       "%s: H.264 and AAC in MPEG-TS", name);

    pkt = av_packet_alloc();
    frames = SECONDS * FPS;
    packets = (int) ((int64_t) SECONDS * RATE / SAMPLES);
    first_audio = -1;
    i = 0;
    j = 0;

    /* arrival times in ms; a frame goes before audio arriving with it */

    while (i < frames || j < packets) {
        vt = i < frames ? (int64_t) i * 1000 / FPS : INT64_MAX;
        at = (int64_t) j * SAMPLES * 1000 / RATE;
        at = burst_ms ? (at / burst_ms + 1) * burst_ms + 1 : at + 5;
        at = j < packets ? at : INT64_MAX;

        if (vt <= at) {
            size = 5 + 200 + (i % FPS == 0) * 300;
            memcpy(buf, (i % FPS == 0) ? "\0\0\1\x65\x88" : "\0\0\1\x41\x9a",
                   5);
            memset(buf + 5, 0x5a, size - 5);

            av_new_packet(pkt, (int) size);
            memcpy(pkt->data, buf, size);
            pkt->dts = (int64_t) i * 90000 / FPS;
            pkt->pts = pkt->dts;
            pkt->flags = (i % FPS == 0) ? AV_PKT_FLAG_KEY : 0;
            pkt->stream_index = 0;
            i++;

        } else {
            av_new_packet(pkt, 200);
            memset(pkt->data, 0x21 + j % 64, 200);
            pkt->dts = (int64_t) j * SAMPLES;
            pkt->pts = pkt->dts;
            pkt->duration = SAMPLES;
            pkt->flags = AV_PKT_FLAG_KEY;
            pkt->stream_index = 1;
            j++;

            if (first_audio == -1) {
                first_audio = at;
            }
        }

        (void) bh_segmenter_write(sg, pkt,
                                  INT64_C(1795636800) * BH_USEC
                                  + (vt <= at ? vt : at) * 1000,
                                  err, sizeof(err));
        av_packet_unref(pkt);
    }

    bh_segmenter_flush(sg);

    /* the parts that began after the first audio arrived */

    without = 0;
    audio = 0;

    for (i = 0; i < out.parts; i++) {
        if (out.wallclock[i] - INT64_C(1795636800) * BH_USEC
            > first_audio * 1000)
        {
            without += out.audio_pes[i] == 0;
        }

        audio += out.audio_pes[i];
    }

    ok(out.parts > 40 && without == 0, "%s: every part once audio came "
       "carries audio (%d parts, %d without)", name, out.parts, without);

    contiguous = demux_audio(&out, &first, &last);

    ok(contiguous == packets && audio == packets,
       "%s: every audio packet muxed, once, without a gap (%d of %d "
       "demuxed, %d PES)", name, contiguous, packets, audio);
    ok(first == 0 && last == (int64_t) (packets - 1) * SAMPLES * 90000 / RATE,
       "%s: the audio at its own time (first %" PRId64 ", last %" PRId64
       " of 1/90000 s)", name, first, last);

    av_packet_free(&pkt);
    bh_segmenter_destroy(sg);
    avcodec_parameters_free(&vpar);
    avcodec_parameters_free(&apar);
    free(out.media);
}


/*
 * Demuxes the parts: the number of audio packets if their timestamps
 * follow each other a frame apart (else -1); the first and last, in
 * 1/90000 s from the first video frame.
 */

static int
demux_audio(sink_t *out, int64_t *first, int64_t *last)
{
    int               fd, n;
    FILE             *f;
    char              path[] = "/tmp/bh_ts_audio_XXXXXX";
    int64_t           t, origin, step;
    AVPacket         *pkt;
    AVStream         *st;
    AVFormatContext  *ic;

    *first = -1;
    *last = -1;

    fd = mkstemp(path);
    if (fd == -1) {
        return -1;
    }

    f = fdopen(fd, "w");
    fwrite(out->media, 1, out->media_size, f);
    fclose(f);

    ic = NULL;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0) {
        unlink(path);
        return -1;
    }

    pkt = av_packet_alloc();
    n = 0;
    origin = AV_NOPTS_VALUE;
    step = (int64_t) SAMPLES * 90000 / RATE;

    while (av_read_frame(ic, pkt) >= 0) {
        st = ic->streams[pkt->stream_index];
        t = av_rescale_q(pkt->pts, st->time_base, (AVRational) { 1, 90000 });

        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO
            && origin == AV_NOPTS_VALUE)
        {
            origin = t;
        }

        if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO && n >= 0) {
            if (*last != -1 && llabs(t - *last - step) > 1) {
                printf("# audio packet %d at %" PRId64 ", the one before at %"
                       PRId64 "\n", n, t, *last);
                n = -1;

            } else {
                *first = *first == -1 ? t : *first;
                *last = t;
                n++;
            }
        }

        av_packet_unref(pkt);
    }

    if (origin != AV_NOPTS_VALUE && *first != -1) {
        *first -= origin;
        *last -= origin;
    }

    av_packet_free(&pkt);
    avformat_close_input(&ic);
    unlink(path);

    return n;
}
