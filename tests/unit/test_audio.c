
/*
 * Unit tests of the audio transcoder (core/bh_audio.c), TAP, run by
 * prove.
 *
 * A camera is imitated in-process: a 1 kHz tone burst of 100 ms at
 * -6 dBFS in every second of its sample clock (from 0.25 s to 0.35 s),
 * encoded with libavcodec (G.711 A-law and mu-law, Opus, 16-bit PCM,
 * AAC) into packets stamped as a camera's would be, with the faults of
 * the field: lost packets, jitter, a clock that drifts from the sample
 * clock, jumps back and forth, a clock that steps back, packets without
 * timestamps, garbage.  The AAC that comes out is decoded again; every
 * burst must start where its input timestamp says, at the input's
 * level and frequency, and the AAC packets must follow each other.
 */


#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>

#include "bh_audio.h"
#include "tap.h"


#define diag(...)                                                            \
    do {                                                                     \
        printf("# ");                                                        \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)


#define AMPLITUDE       0.5
#define TONE_HZ         1000
#define MAX_OUT         (1 << 16)


typedef enum {
    FAULT_NONE = 0,
    FAULT_LOSS,             /* 3 packets lost every 5 s */
    FAULT_JITTER,           /* timestamps off by up to 10 ms */
    FAULT_DRIFT,            /* timestamps 1000 ppm faster than samples */
    FAULT_JUMP,             /* +20 s at 3 s */
    FAULT_BACK,             /* -20 s at 3 s */
    FAULT_STEP_BACK,        /* at 3 s, the clock steps 100 ms back */
    FAULT_UNTIMED,          /* every 10th packet without a timestamp */
    FAULT_GARBAGE,          /* every 7th packet random bytes */
    FAULT_STEADY            /* no bursts: the tone all along */
} fault_t;


typedef struct {
    const char     *encoder;
    int             rate;
    int             channels;
    int             packet;         /* samples a packet */
    int             out_rate;       /* what must come out */
    double          seconds;
    fault_t         fault;
    const char     *name;
} case_t;


typedef struct {
    AVPacket       *pkts[MAX_OUT];
    int             n;
} output_t;


static void run_case(const case_t *c);
static int make_input(const case_t *c, AVPacket **pkts, int max,
    AVCodecParameters *par);
static double sample_at(const case_t *c, int64_t s);
static int64_t timestamp(const case_t *c, int64_t s, int k);
static double burst_time(const case_t *c, int64_t s);
static bh_status_t collect(void *data, AVPacket *pkt);
static float *decode_output(output_t *out, const AVCodecParameters *par,
    int64_t *first, int64_t *len);
static double onset(const float *pcm, int64_t len, int64_t from, int64_t to,
    double *rms, double *peak, double *hz, int rate);
static void steady_ok(const case_t *c, const float *pcm, int64_t len);
static void test_bounds(void);


static const case_t  cases[] = {
    { "pcm_alaw", 8000, 1, 160, 48000, 10, FAULT_NONE, "G.711 A-law" },
    { "pcm_mulaw", 8000, 1, 160, 48000, 10, FAULT_NONE, "G.711 mu-law" },
    { "libopus", 48000, 2, 960, 48000, 10, FAULT_NONE, "Opus stereo" },
    { "pcm_s16be", 16000, 2, 320, 48000, 10, FAULT_NONE, "L16 16 kHz" },
    { "aac", 44100, 1, 1024, 44100, 10, FAULT_NONE, "AAC 44.1 kHz" },
    { "pcm_alaw", 8000, 1, 160, 48000, 12, FAULT_LOSS, "lost packets" },
    { "pcm_alaw", 8000, 1, 160, 48000, 10, FAULT_JITTER, "jitter" },
    { "pcm_alaw", 8000, 1, 160, 48000, 60, FAULT_DRIFT, "drift" },
    { "pcm_alaw", 8000, 1, 160, 48000, 8, FAULT_JUMP, "jump forward" },
    { "pcm_alaw", 8000, 1, 160, 48000, 8, FAULT_BACK, "jump back" },
    { "pcm_alaw", 8000, 1, 160, 48000, 8, FAULT_STEP_BACK, "clock steps back" },
    { "pcm_alaw", 8000, 1, 160, 48000, 8, FAULT_UNTIMED, "untimed packets" },
    { "libopus", 48000, 1, 960, 48000, 8, FAULT_GARBAGE, "Opus garbage" },
    { "pcm_alaw", 8000, 1, 1024, 48000, 12, FAULT_STEADY, "a steady tone" },
};


int
main(int argc, char **argv)
{
    size_t  i;

    av_log_set_level(AV_LOG_QUIET);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
    }

    test_bounds();

    return tap_done();
}


/* the camera's signal at sample s: a burst at 0.25 s of every second */

static double
sample_at(const case_t *c, int64_t s)
{
    int64_t  in;

    in = s % c->rate - c->rate / 4;

    if (c->fault != FAULT_STEADY && (in < 0 || in >= c->rate / 10)) {
        return 0;
    }

    return AMPLITUDE * sin(2 * M_PI * TONE_HZ * (double) in / c->rate);
}


/* the timestamp (1 / rate) the camera gives packet k, sample s */

static int64_t
timestamp(const case_t *c, int64_t s, int k)
{
    int64_t  at3;

    at3 = 3 * (int64_t) c->rate;

    switch (c->fault) {

    case FAULT_JITTER:
        return s + (int64_t) ((k * 7919) % 161 - 80) * c->rate / 8000;

    case FAULT_DRIFT:
        return s + s / 1000;

    case FAULT_JUMP:
        return s < at3 ? s : s + 20 * (int64_t) c->rate;

    case FAULT_BACK:
        return s < at3 ? s + 20 * (int64_t) c->rate : s;

    case FAULT_STEP_BACK:
        return s < at3 ? s : s - c->rate / 10;

    case FAULT_UNTIMED:
        return (k % 10 == 9) ? AV_NOPTS_VALUE : s;

    default:
        return s;
    }
}


/* where the burst starting at camera sample s must come out, seconds */

static double
burst_time(const case_t *c, int64_t s)
{
    int64_t  ts;

    if (c->fault == FAULT_JITTER || c->fault == FAULT_UNTIMED) {
        return (double) s / c->rate;            /* the sample clock */
    }

    ts = timestamp(c, s, 0);

    return (double) ts / c->rate;
}


/* the camera: packets of its encoder, stamped as the fault says */

static int
make_input(const case_t *c, AVPacket **pkts, int max, AVCodecParameters *par)
{
    int              i, ch, k, n, total, sent;
    int16_t         *s16;
    int64_t          s;
    AVFrame         *f;
    AVPacket        *pkt;
    const AVCodec   *codec;
    AVCodecContext  *enc;

    codec = avcodec_find_encoder_by_name(c->encoder);
    enc = codec ? avcodec_alloc_context3(codec) : NULL;
    if (enc == NULL) {
        return 0;
    }

    enc->sample_rate = c->rate;
    enc->time_base = (AVRational) { 1, c->rate };
    enc->sample_fmt = codec->sample_fmts[0];
    enc->bit_rate = 128000;
    enc->frame_size = c->packet;
    av_channel_layout_default(&enc->ch_layout, c->channels);

    if (avcodec_open2(enc, codec, NULL) < 0) {
        avcodec_free_context(&enc);
        return 0;
    }

    avcodec_parameters_from_context(par, enc);

    f = av_frame_alloc();
    pkt = av_packet_alloc();
    total = (int) (c->seconds * c->rate / c->packet);
    n = 0;
    sent = -1;

    for (k = 0; k <= total && n < max; k++) {
        av_frame_unref(f);
        f->nb_samples = c->packet;
        f->format = enc->sample_fmt;
        f->sample_rate = c->rate;
        av_channel_layout_copy(&f->ch_layout, &enc->ch_layout);
        av_frame_get_buffer(f, 0);
        f->pts = (int64_t) k * c->packet;

        for (i = 0; i < c->packet; i++) {
            s = (int64_t) k * c->packet + i;

            for (ch = 0; ch < c->channels; ch++) {
                if (enc->sample_fmt == AV_SAMPLE_FMT_FLTP) {
                    ((float *) f->extended_data[ch])[i] =
                        (float) sample_at(c, s);

                } else {
                    s16 = (int16_t *) f->data[0];
                    s16[i * c->channels + ch] =
                        (int16_t) lrint(sample_at(c, s) * 32767);
                }
            }
        }

        avcodec_send_frame(enc, (k < total) ? f : NULL);

        while (n < max && avcodec_receive_packet(enc, pkt) == 0) {
            sent++;

            if (c->fault == FAULT_LOSS && sent % 250 >= 100
                && sent % 250 < 103)
            {
                av_packet_unref(pkt);
                continue;
            }

            pkt->pts = timestamp(c, pkt->pts, sent);
            pkt->dts = pkt->pts;

            if (c->fault == FAULT_GARBAGE && sent % 7 == 3) {
                for (i = 0; i < pkt->size; i++) {
                    pkt->data[i] = (uint8_t) (rand() >> 7);
                }
            }

            pkts[n++] = av_packet_clone(pkt);
            av_packet_unref(pkt);
        }
    }

    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&enc);

    return n;
}


static bh_status_t
collect(void *data, AVPacket *pkt)
{
    output_t  *out = data;

    if (out->n == MAX_OUT) {
        return BH_NOSPACE;
    }

    out->pkts[out->n] = av_packet_clone(pkt);

    return out->pkts[out->n++] != NULL ? BH_OK : BH_NOMEM;
}


/* channel 0 of the decoded AAC, sample i at output time first + i */

static float *
decode_output(output_t *out, const AVCodecParameters *par, int64_t *first,
    int64_t *len)
{
    int              i, k;
    float           *pcm;
    int64_t          lo, hi, at;
    AVFrame         *f;
    const AVCodec   *codec;
    AVCodecContext  *dec;

    lo = INT64_MAX;
    hi = INT64_MIN;

    for (i = 0; i < out->n; i++) {
        lo = FFMIN(lo, out->pkts[i]->pts);
        hi = FFMAX(hi, out->pkts[i]->pts + 1024);
    }

    if (out->n == 0 || hi - lo > 200 * (int64_t) par->sample_rate) {
        return NULL;
    }

    codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, par);
    dec->pkt_timebase = (AVRational) { 1, par->sample_rate };

    if (avcodec_open2(dec, codec, NULL) < 0) {
        avcodec_free_context(&dec);
        return NULL;
    }

    pcm = calloc(hi - lo + 4096, sizeof(float));
    f = av_frame_alloc();

    for (i = 0; i < out->n; i++) {
        avcodec_send_packet(dec, out->pkts[i]);

        while (avcodec_receive_frame(dec, f) == 0) {
            for (k = 0; k < f->nb_samples; k++) {
                at = f->pts - lo + k;

                if (at >= 0 && at < hi - lo + 4096) {
                    pcm[at] = ((float *) f->extended_data[0])[k];
                }
            }

            av_frame_unref(f);
        }
    }

    av_frame_free(&f);
    avcodec_free_context(&dec);

    *first = lo;
    *len = hi - lo;

    return pcm;
}


/*
 * The first sample above half the burst's amplitude in [from, to);
 * -1 if none.  Then the level (dBFS RMS), the peak and the frequency
 * (zero crossings) of the 80 ms of burst after its first 10 ms.
 */

static double
onset(const float *pcm, int64_t len, int64_t from, int64_t to, double *rms,
    double *peak, double *hz, int rate)
{
    int64_t  i, k, a, b, cross;
    double   sum;

    from = FFMAX(from, 0);
    to = FFMIN(to, len);

    for (i = from; i < to; i++) {
        if (fabs(pcm[i]) > AMPLITUDE / 2) {
            break;
        }
    }

    if (i >= to) {
        return -1;
    }

    a = i + rate / 100;
    b = FFMIN(i + rate * 9 / 100, len);
    sum = 0;
    cross = 0;
    *peak = 0;

    for (k = a; k < b; k++) {
        *peak = FFMAX(*peak, fabs(pcm[k]));
        sum += (double) pcm[k] * pcm[k];
        cross += (k > a && (pcm[k - 1] < 0) != (pcm[k] < 0));
    }

    *rms = (b > a) ? 10 * log10(sum / (b - a) + 1e-20) : -200;
    *hz = (b > a) ? (double) cross / 2 / ((double) (b - a) / rate) : 0;

    return (double) i;
}


static void
run_case(const case_t *c)
{
    int                       i, n, steps, found, bursts;
    char                      err[256];
    float                    *pcm;
    double                    t, at, rms, hz, e, max_e, min_rms, max_rms,
                              max_hz, min_hz, tol, want_rms, peak, max_peak;
    int64_t                   first, len, want, samples;
    output_t                 *out;
    AVPacket                **in;
    bh_audio_t               *a;
    bh_status_t               st;
    AVCodecParameters        *par;
    const AVCodecParameters  *op;
    const bh_audio_stats_t   *stats;

    in = calloc(MAX_OUT, sizeof(AVPacket *));
    out = calloc(1, sizeof(output_t));
    par = avcodec_parameters_alloc();

    n = make_input(c, in, MAX_OUT, par);
    ok(n > 0, "%s: %d packets of %s, %d Hz, %d ch", c->name, n, c->encoder,
       c->rate, c->channels);

    if (n == 0) {
        goto done;
    }

    st = bh_audio_create(&a, par, 1, c->rate, 1, err, sizeof(err));
    ok(st == BH_OK, "%s: transcoder created %s", c->name,
       st == BH_OK ? "" : err);

    if (st != BH_OK) {
        goto done;
    }

    op = bh_audio_params(a);
    ok(op->codec_id == AV_CODEC_ID_AAC && op->sample_rate == c->out_rate
       && op->ch_layout.nb_channels == FFMIN(c->channels, 2)
       && op->extradata_size >= 2 && (op->extradata[0] >> 3) == 2,
       "%s: AAC-LC, %d Hz, %d ch, AudioSpecificConfig", c->name,
       op->sample_rate, op->ch_layout.nb_channels);

    st = BH_OK;

    for (i = 0; i < n && st == BH_OK; i++) {
        st = bh_audio_write(a, in[i], collect, out);
    }

    if (st == BH_OK) {
        st = bh_audio_flush(a, collect, out);
    }

    stats = bh_audio_stats(a);
    ok(st == BH_OK && out->n > 0, "%s: %d AAC packets", c->name, out->n);

    diag("measure: %s: %" PRId64 " packets, %" PRId64 " errors, %" PRId64
         " samples, %" PRId64 " filled, %" PRId64 " dropped, %" PRId64
         " new anchors", c->name, stats->packets, stats->errors,
         stats->samples, stats->filled, stats->dropped, stats->anchors);

    /* the packets follow each other, but where a new anchor is */

    steps = 0;

    for (i = 1; i < out->n; i++) {
        steps += (out->pkts[i]->pts != out->pkts[i - 1]->pts + 1024);
    }

    ok(steps == stats->anchors, "%s: AAC packets 1024 apart but at %d new "
       "anchors (%d)", c->name, (int) stats->anchors, steps);

    /* a decoder that knows its priming (Opus's pre-skip) skips it */

    want = av_rescale(in[0]->pts, c->out_rate, c->rate) - 1024;
    ok(out->n > 0 && (out->pkts[0]->pts == want
                      || out->pkts[0]->pts == want + av_rescale(
                             par->initial_padding, c->out_rate, c->rate)),
       "%s: first pts %" PRId64 ": the first input's less the priming "
       "(%" PRId64 ")", c->name, out->n ? out->pkts[0]->pts : 0, want);

    samples = (int64_t) out->n * 1024;
    want = av_rescale(stats->samples - stats->dropped, c->out_rate, c->rate)
           + stats->filled + 1024;
    ok(c->fault == FAULT_GARBAGE || llabs(samples - want) <= 2 * 1024,
       "%s: %" PRId64 " samples out for "
       "%" PRId64 " in, filled and cut", c->name, samples, want);

    switch (c->fault) {

    case FAULT_LOSS:
        want = 2 * 3 * c->packet * (int64_t) c->out_rate / c->rate;
        ok(llabs(stats->filled - want) <= want / 10, "%s: %" PRId64
           " samples of silence for %" PRId64 " lost", c->name,
           stats->filled, want);
        break;

    case FAULT_JITTER:
    case FAULT_UNTIMED:
        ok(stats->filled == 0 && stats->dropped == 0 && stats->anchors == 0,
           "%s: nothing filled, cut or re-anchored", c->name);
        break;

    case FAULT_DRIFT:
        ok(stats->filled > 0 && stats->anchors == 0,
           "%s: the drift filled with silence", c->name);
        break;

    case FAULT_JUMP:
    case FAULT_BACK:
        ok(stats->anchors == 1, "%s: one new anchor", c->name);
        break;

    case FAULT_STEP_BACK:
        want = c->rate / 10;
        ok(llabs(stats->dropped - want) <= want / 10, "%s: %" PRId64
           " samples cut for the 100 ms sent twice", c->name,
           stats->dropped);
        break;

    case FAULT_GARBAGE:
        ok(stats->errors > 0, "%s: garbage refused", c->name);
        break;

    default:
        break;
    }

    pcm = decode_output(out, op, &first, &len);
    ok(pcm != NULL, "%s: the AAC decodes", c->name);

    if (pcm != NULL && c->fault == FAULT_STEADY) {
        steady_ok(c, pcm, len);
    }

    if (pcm == NULL || c->fault == FAULT_GARBAGE || c->fault == FAULT_STEADY) {
        free(pcm);
        goto destroy;
    }

    /* each burst where its timestamp says, at its level */

    max_e = 0;
    found = 0;
    bursts = 0;
    min_rms = 0;
    max_rms = -200;
    min_hz = 1e9;
    max_hz = 0;
    max_peak = 0;

    for (i = 0; i + 1 < (int) c->seconds; i++) {
        bursts++;
        t = burst_time(c, (int64_t) i * c->rate + c->rate / 4);
        at = t * c->out_rate - first;

        at = onset(pcm, len, (int64_t) at - c->out_rate / 7,
                   (int64_t) at + c->out_rate / 7, &rms, &peak, &hz,
                   c->out_rate);

        if (at < 0) {
            continue;
        }

        found++;
        e = (at + first) / c->out_rate - t;
        max_e = FFMAX(max_e, fabs(e));
        min_rms = FFMIN(min_rms, rms);
        max_rms = FFMAX(max_rms, rms);
        min_hz = FFMIN(min_hz, hz);
        max_hz = FFMAX(max_hz, hz);
        max_peak = FFMAX(max_peak, peak);
    }

    free(pcm);

    tol = (c->fault == FAULT_DRIFT) ? 0.032
          : (c->fault == FAULT_JITTER) ? 0.012 : 0.002;

    /* Opus's own delay: 312 samples when its pre-skip is unknown */

    if (strcmp(c->encoder, "libopus") == 0) {
        tol += 0.007;
    }

    diag("measure: %s: bursts off by %.1f ms at most, %.2f to %.2f dBFS, "
         "%.0f to %.0f Hz", c->name, max_e * 1000, min_rms, max_rms,
         min_hz, max_hz);

    ok(found == bursts, "%s: %d bursts of %d found", c->name, found, bursts);
    ok(max_e <= tol, "%s: where the timestamps say, within %.0f ms "
       "(%.1f ms)", c->name, tol * 1000, max_e * 1000);

    want_rms = 20 * log10(AMPLITUDE / sqrt(2));
    ok(found > 0 && fabs(min_rms - want_rms) < 0.5
       && fabs(max_rms - want_rms) < 0.5,
       "%s: at the input's level, %.1f dBFS (%.2f to %.2f)", c->name,
       want_rms, min_rms, max_rms);
    ok(found > 0 && fabs(min_hz - TONE_HZ) < 20 && fabs(max_hz - TONE_HZ) < 20,
       "%s: at %d Hz (%.0f to %.0f)", c->name, TONE_HZ, min_hz, max_hz);

    /* no frame decodes louder than the input: 1 dB of coding overshoot */

    ok(found > 0 && 20 * log10(max_peak / AMPLITUDE) < 1,
       "%s: peaks within 1 dB of the input's (%+.2f dB)", c->name,
       20 * log10(max_peak / AMPLITUDE + 1e-12));

destroy:

    bh_audio_destroy(a);

done:

    for (i = 0; i < MAX_OUT; i++) {
        av_packet_free(&in[i]);
        av_packet_free(&out->pkts[i]);
    }

    avcodec_parameters_free(&par);
    free(out);
    free(in);
}


/*
 * The tone all along, as the fake camera sends it: no frame decodes
 * louder than the input (libavcodec's default "twoloop" AAC coder makes
 * a click at twice the level now and then on such a tone).
 */

static void
steady_ok(const case_t *c, const float *pcm, int64_t len)
{
    int64_t  i, loud;
    double   peak, sum;

    peak = 0;
    sum = 0;
    loud = 0;

    for (i = 4096; i < len - 4096; i++) {
        peak = FFMAX(peak, fabs(pcm[i]));
        sum += (double) pcm[i] * pcm[i];
        loud += (fabs(pcm[i]) > AMPLITUDE * 1.12);
    }

    diag("measure: %s: peak %+.2f dB, RMS %.2f dBFS, %" PRId64 " samples "
         "over +1 dB", c->name, 20 * log10(peak / AMPLITUDE + 1e-12),
         10 * log10(sum / (len - 8192) + 1e-12), loud);

    ok(20 * log10(peak / AMPLITUDE + 1e-12) < 1,
       "%s: no frame louder than the input by 1 dB", c->name);
    ok(fabs(10 * log10(sum / (len - 8192) + 1e-12)
            - 20 * log10(AMPLITUDE / sqrt(2))) < 0.5,
       "%s: at the input's level", c->name);
}


/* what a hostile camera sends: sizes and layouts out of bounds */

static void
test_bounds(void)
{
    char                err[256];
    output_t           *out;
    AVPacket           *pkt;
    bh_audio_t         *a;
    bh_status_t         st;
    AVCodecParameters  *par;

    out = calloc(1, sizeof(output_t));
    par = avcodec_parameters_alloc();
    pkt = av_packet_alloc();

    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_PCM_ALAW;
    par->sample_rate = 8000;
    av_channel_layout_default(&par->ch_layout, 1);

    ok(bh_audio_create(&a, par, 0, 8000, 1, err, sizeof(err)) == BH_INVALID
       && a == NULL, "a time base of 0: refused");

    st = bh_audio_create(&a, par, 1, 8000, 1, err, sizeof(err));
    ok(st == BH_OK, "G.711 A-law: created");

    if (st == BH_OK) {
        av_new_packet(pkt, BH_AUDIO_MAX_PACKET + 1);
        memset(pkt->data, 0xd5, pkt->size);
        pkt->pts = 0;
        bh_audio_write(a, pkt, collect, out);
        ok(bh_audio_stats(a)->errors == 1 && out->n == 0,
           "a packet over %d bytes: refused", BH_AUDIO_MAX_PACKET);
        av_packet_unref(pkt);

        av_new_packet(pkt, 60000);             /* 7.5 s in one frame */
        memset(pkt->data, 0xd5, pkt->size);
        pkt->pts = 0;
        bh_audio_write(a, pkt, collect, out);
        ok(bh_audio_stats(a)->dropped == 60000 && out->n == 0,
           "7.5 s in one packet: dropped");
        av_packet_unref(pkt);

        pkt->pts = 8000;
        bh_audio_write(a, pkt, collect, out);
        ok(bh_audio_stats(a)->errors == 2, "an empty packet: refused");

        bh_audio_destroy(a);
    }

    /* six channels at 48 kHz: mixed down to stereo */

    par->codec_id = AV_CODEC_ID_PCM_S16LE;
    par->sample_rate = 48000;
    av_channel_layout_uninit(&par->ch_layout);
    av_channel_layout_default(&par->ch_layout, 6);

    st = bh_audio_create(&a, par, 1, 48000, 1, err, sizeof(err));
    ok(st == BH_OK && bh_audio_params(a)->ch_layout.nb_channels == 2,
       "5.1 PCM: stereo AAC");

    if (st == BH_OK) {
        av_new_packet(pkt, 6 * 2 * 4800);
        memset(pkt->data, 0, pkt->size);
        pkt->pts = 0;
        bh_audio_write(a, pkt, collect, out);
        ok(out->n >= 3, "5.1 PCM: 100 ms encoded (%d packets)", out->n);
        av_packet_unref(pkt);
        bh_audio_destroy(a);
    }

    par->codec_id = AV_CODEC_ID_NONE;
    ok(bh_audio_create(&a, par, 1, 8000, 1, err, sizeof(err))
       == BH_UNSUPPORTED, "no decoder: BH_UNSUPPORTED (%s)", err);

    while (out->n > 0) {
        av_packet_free(&out->pkts[--out->n]);
    }

    av_packet_free(&pkt);
    avcodec_parameters_free(&par);
    free(out);
}
