
/*
 * Unit tests of the nginx-free media core (TAP, run by prove).
 *
 *     test_core FIXTURE
 *
 * FIXTURE is a Matroska file with H.264 (1 s GOP, 25 fps, no B-frames)
 * and AAC, made by the Makefile with ffmpeg's lavfi sources.  Its video
 * is turned into Annex B, as libavformat's RTSP demuxer delivers it, and
 * its packets are fed to the segmenter as they are and with the timestamp
 * faults real cameras show; the output is demuxed again and checked.
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>

#include "bh_media.h"


static int  tests;
static int  failed;


#define ok(cond, ...)                                                        \
    do {                                                                     \
        tests++;                                                             \
        if (!(cond)) {                                                       \
            failed++;                                                        \
            printf("not ");                                                  \
        }                                                                    \
        printf("ok %d - ", tests);                                           \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)


typedef enum {
    FAULT_NONE = 0,
    FAULT_SPLIT_FRAMES,         /* every frame in two packets, one DTS */
    FAULT_REORDER,              /* DTS of some frames a step back */
    FAULT_JUMP,                 /* +20 s and -20 s jumps mid-stream */
    FAULT_UNTIMED_FIRST,        /* first keyframe without timestamps */
    FAULT_NO_EXTRADATA          /* SPS/PPS only in the stream */
} fault_t;


typedef struct {
    uint8_t    *init;
    size_t      init_size;
    uint8_t    *media;
    size_t      media_size;
    int         parts;
    int         segments;
    int         segment_not_independent;
    int64_t     seg_duration[256];
    int64_t     total;
    int64_t     max_part;
    int         bad_start;
    int64_t     next_start;
    char        codecs[64];
    int         inits;
} output_t;


static void test_redact(void);
static void test_names(void);
static void test_playlist(void);
static void test_uri(void);
static void test_segmenter(const char *fixture, bh_format_t format,
    fault_t fault, const char *name);
static void collect(void *data, bh_chunk_t *chunk);
static int check_output(output_t *out, int *frames, int *audio,
    int64_t *gap);


int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURE.mkv\n", argv[0]);
        return 2;
    }

    av_log_set_level(getenv("BH_DEBUG") ? AV_LOG_DEBUG : AV_LOG_ERROR);

    test_redact();
    test_names();
    test_playlist();
    test_uri();

    test_segmenter(argv[1], BH_FORMAT_FMP4, FAULT_NONE, "clean stream");
    test_segmenter(argv[1], BH_FORMAT_FMP4, FAULT_SPLIT_FRAMES,
                   "frames split in packets");
    test_segmenter(argv[1], BH_FORMAT_FMP4, FAULT_REORDER, "DTS going back");
    test_segmenter(argv[1], BH_FORMAT_FMP4, FAULT_JUMP, "timestamp jumps");
    test_segmenter(argv[1], BH_FORMAT_FMP4, FAULT_UNTIMED_FIRST,
                   "untimed first keyframe");
    test_segmenter(argv[1], BH_FORMAT_FMP4, FAULT_NO_EXTRADATA,
                   "SPS/PPS in band only");
    test_segmenter(argv[1], BH_FORMAT_MPEGTS, FAULT_NONE, "MPEG-TS");
    test_segmenter(argv[1], BH_FORMAT_MPEGTS, FAULT_SPLIT_FRAMES,
                   "MPEG-TS, frames split in packets");

    printf("1..%d\n", tests);

    return failed ? 1 : 0;
}


static void
test_redact(void)
{
    char  buf[256];

    bh_redact_text("rtsp://admin:secret@10.0.0.2:554/stream1", NULL, buf,
                   sizeof(buf));
    ok(strcmp(buf, "rtsp://***@10.0.0.2:554/stream1") == 0,
       "userinfo redacted: %s", buf);

    bh_redact_text("rtsp://10.0.0.2/s?a=b@c", NULL, buf, sizeof(buf));
    ok(strcmp(buf, "rtsp://10.0.0.2/s?a=b@c") == 0,
       "an @ after the host is not userinfo: %s", buf);

    bh_redact_text("Could not open 'rtsp://u:p@h/x' and rtsps://a@b/",
                   NULL, buf, sizeof(buf));
    ok(strcmp(buf, "Could not open 'rtsp://***@h/x' and rtsps://***@b/")
       == 0, "every URL in a message: %s", buf);

    bh_redact_text("wrong password hunter2 for hunter2", "hunter2", buf,
                   sizeof(buf));
    ok(strcmp(buf, "wrong password *** for ***") == 0,
       "the secret anywhere: %s", buf);

    bh_redact_url("rtsp://u:pw-9@h/s?auth=pw-9", buf, sizeof(buf));
    ok(strcmp(buf, "rtsp://***@h/s?auth=***") == 0,
       "the URL's password in its query too: %s", buf);

    bh_url_password("rtsp://u@h/", buf, sizeof(buf));
    ok(buf[0] == '\0', "no password in a bare user");

    bh_url_password("rtsp://h/p@x:y", buf, sizeof(buf));
    ok(buf[0] == '\0', "an @ in the path is no userinfo");

    bh_redact_text("rtsp://admin:secret@host/", NULL, buf, 12);
    ok(strlen(buf) < 12 && strstr(buf, "secret") == NULL
       && strstr(buf, "admin") == NULL, "truncation keeps it redacted: %s",
       buf);
}


static void
test_names(void)
{
    char  long_name[66];

    memset(long_name, 'a', 65);
    long_name[65] = '\0';

    ok(bh_valid_name("ale", 3), "plain name");
    ok(bh_valid_name("Cam_2-b", 7), "letters, digits, _ and -");
    ok(!bh_valid_name("", 0), "empty name");
    ok(!bh_valid_name("..", 2), "dots");
    ok(!bh_valid_name("a/b", 3), "slash");
    ok(!bh_valid_name("a%2f", 4), "percent");
    ok(bh_valid_name(long_name, 64), "64 characters");
    ok(!bh_valid_name(long_name, 65), "65 characters");
}


static void
test_playlist(void)
{
    char                    buf[8192];
    size_t                  n;
    bh_playlist_t           pl;
    bh_playlist_part_t      parts[3];
    bh_playlist_segment_t   segs[3], open, many[10];

    static const char  *classic =
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-TARGETDURATION:3\n"
        "#EXT-X-MEDIA-SEQUENCE:41\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init-0000abcd.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:00.000Z\n"
        "#EXTINF:2.000,\n"
        "seg-41.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:02.000Z\n"
        "#EXTINF:2.520,\n"
        "seg-42.m4s\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-MAP:URI=\"init-12345678.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:09.250Z\n"
        "#EXTINF:1.960,\n"
        "seg-43.m4s\n";

    static const char  *ll_tail =
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:09.250Z\n"
        "#EXT-X-PART:DURATION=0.200,URI=\"part-43.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.200,URI=\"part-43.1.m4s\"\n"
        "#EXTINF:1.960,\n"
        "seg-43.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:11.210Z\n"
        "#EXT-X-PART:DURATION=0.160,URI=\"part-44.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-44.1.m4s\"\n";

    memset(segs, 0, sizeof(segs));
    memset(&pl, 0, sizeof(pl));

    /* 2026-11-25T20:00:00Z */
    segs[0].msn = 41;
    segs[0].duration = 2000000;
    segs[0].wallclock = INT64_C(1795636800) * 1000000;
    segs[0].init_id = 0xabcd;
    segs[1].msn = 42;
    segs[1].duration = 2520000;
    segs[1].wallclock = segs[0].wallclock + 2000000;
    segs[1].init_id = 0xabcd;
    segs[2].msn = 43;
    segs[2].duration = 1960000;
    segs[2].wallclock = segs[0].wallclock + 9250000;
    segs[2].init_id = 0x12345678;
    segs[2].discontinuity = 1;

    pl.format = BH_FORMAT_FMP4;
    pl.target = 2000000;
    pl.discontinuity_sequence = 2;
    pl.segments = segs;
    pl.nsegments = 3;

    n = bh_playlist_write(&pl, buf, sizeof(buf));
    ok(n == strlen(classic) && memcmp(buf, classic, n) == 0,
       "classic playlist text");

    if (n != strlen(classic) || memcmp(buf, classic, n) != 0) {
        printf("# got:\n%.*s", (int) n, buf);
    }

    ok(n <= bh_playlist_size(&pl), "size bound holds (%zu <= %zu)", n,
       bh_playlist_size(&pl));

    ok(bh_playlist_write(&pl, buf, n) == 0, "too small a buffer: 0");

    segs[1].duration = 3600000;
    n = bh_playlist_write(&pl, buf, sizeof(buf));
    ok(n > 0 && strstr(buf, "#EXT-X-TARGETDURATION:4\n") != NULL,
       "target covers the longest segment");
    segs[1].duration = 2520000;

    /* Low-Latency HLS, MPEG-TS parts in the open segment */

    parts[0].duration = 200000;
    parts[0].independent = 1;
    parts[1].duration = 200000;
    parts[1].independent = 0;
    parts[2].duration = 160000;
    parts[2].independent = 1;

    segs[2].parts = parts;
    segs[2].nparts = 2;

    memset(&open, 0, sizeof(open));
    open.msn = 44;
    open.wallclock = segs[2].wallclock + 1960000;
    open.init_id = 0x12345678;
    open.parts = &parts[2];
    open.nparts = 1;

    pl.part_target = 200000;
    pl.open = &open;

    n = bh_playlist_write(&pl, buf, sizeof(buf));
    buf[n] = '\0';

    ok(n > 0 && strstr(buf, "#EXT-X-VERSION:9\n") != NULL
       && strstr(buf, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
                      "PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=18.000\n")
       && strstr(buf, "#EXT-X-PART-INF:PART-TARGET=0.200\n") != NULL,
       "LL-HLS header tags");

    ok(n > strlen(ll_tail) && strcmp(buf + n - strlen(ll_tail), ll_tail) == 0,
       "parts of the last segment, the open one, the preload hint");

    if (n <= strlen(ll_tail) || strcmp(buf + n - strlen(ll_tail), ll_tail))
    {
        printf("# got:\n%s", buf);
    }

    pl.format = BH_FORMAT_MPEGTS;
    n = bh_playlist_write(&pl, buf, sizeof(buf));
    buf[n] = '\0';

    ok(strstr(buf, "EXT-X-MAP") == NULL, "MPEG-TS: no EXT-X-MAP");
    ok(strstr(buf, "part-43.0.ts\",INDEPENDENT=YES") != NULL
       && strstr(buf, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-44.1.ts\"\n")
       != NULL, "MPEG-TS parts and preload hint");
    ok(n <= bh_playlist_size(&pl), "LL size bound holds");

    /* delta updates: 18 s must remain after the skipped segments */

    ok(bh_playlist_skippable(&pl) == 0, "nothing to skip in 6.5 s");

    pl.format = BH_FORMAT_FMP4;
    pl.target = 1000000;
    pl.skip = 1;
    segs[0].duration = 5000000;
    segs[1].duration = 3000000;
    segs[2].duration = 3000000;

    /* CAN-SKIP-UNTIL is 6 x the target of 5 s: 30 s; 11 s is listed */

    ok(bh_playlist_skippable(&pl) == 0, "target grows with the segments");

    segs[0].duration = 1000000;
    segs[1].duration = 1000000;
    segs[2].duration = 1000000;
    pl.nsegments = 3;

    ok(bh_playlist_skippable(&pl) == 0, "3 s listed, 6 s to keep: no skip");

    memset(many, 0, sizeof(many));

    for (n = 0; n < 10; n++) {
        many[n].msn = 100 + n;
        many[n].duration = 1000000;
        many[n].wallclock = segs[0].wallclock + n * 1000000;
    }

    pl.segments = many;
    pl.nsegments = 10;

    ok(bh_playlist_skippable(&pl) == 4, "10 s listed, 6 s kept: skip 4");

    n = bh_playlist_write(&pl, buf, sizeof(buf));
    buf[n] = '\0';

    ok(strstr(buf, "#EXT-X-MEDIA-SEQUENCE:100\n") != NULL
       && strstr(buf, "#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n") != NULL
       && strstr(buf, "seg-103.m4s") == NULL
       && strstr(buf, "seg-104.m4s") != NULL, "delta update");
}


static void
test_uri(void)
{
    bh_uri_t    u;
    bh_query_t  q;

    ok(bh_uri_parse("ale/index.m3u8", 14, &u) == BH_OK
       && u.type == BH_URI_PLAYLIST && u.camera_len == 3, "playlist");
    ok(bh_uri_parse("ale/init.mp4", 12, &u) == BH_OK
       && u.type == BH_URI_INIT && u.current, "init.mp4");
    ok(bh_uri_parse("ale/init-0a1b2c3d.mp4", 21, &u) == BH_OK
       && u.type == BH_URI_INIT && u.init_id == 0x0a1b2c3d && !u.current,
       "init-<id>.mp4");
    ok(bh_uri_parse("ale/seg-12.m4s", 14, &u) == BH_OK
       && u.type == BH_URI_SEGMENT && u.msn == 12
       && u.format == BH_FORMAT_FMP4, "segment");
    ok(bh_uri_parse("ale/seg-12.ts", 13, &u) == BH_OK
       && u.format == BH_FORMAT_MPEGTS, "TS segment");
    ok(bh_uri_parse("ale/part-12.3.m4s", 17, &u) == BH_OK
       && u.type == BH_URI_PART && u.msn == 12 && u.part == 3, "part");

    ok(bh_uri_parse("ale/seg-012.m4s", 15, &u) != BH_OK, "leading zero");
    ok(bh_uri_parse("ale/seg-+1.m4s", 14, &u) != BH_OK, "sign");
    ok(bh_uri_parse("ale/seg-99999999999999999999.m4s", 32, &u) != BH_OK,
       "overflow");
    ok(bh_uri_parse("ale/seg-.m4s", 12, &u) != BH_OK, "no number");
    ok(bh_uri_parse("ale/part-1.m4s", 14, &u) != BH_OK, "part without n");
    ok(bh_uri_parse("ale/part-1.2.3.m4s", 18, &u) != BH_OK, "extra dot");
    ok(bh_uri_parse("ale/init-0A1B2C3D.mp4", 21, &u) != BH_OK,
       "uppercase id");
    ok(bh_uri_parse("../index.m3u8", 13, &u) != BH_OK, "dot dot camera");
    ok(bh_uri_parse("ale/../index.m3u8", 17, &u) != BH_OK, "dot dot file");
    ok(bh_uri_parse("ale/index.m3u8\0x", 16, &u) != BH_OK, "NUL");
    ok(bh_uri_parse("ale/sub/index.m3u8", 18, &u) != BH_OK, "subfolder");
    ok(bh_uri_parse("ale", 3, &u) != BH_OK, "no file");
    ok(bh_uri_parse("ale/", 4, &u) != BH_OK, "empty file");

    ok(bh_query_parse("_HLS_msn=5&_HLS_part=2", 22, &q) == BH_OK
       && q.has_msn && q.msn == 5 && q.has_part && q.part == 2, "msn+part");
    ok(bh_query_parse("v=3&_HLS_skip=YES", 17, &q) == BH_OK && q.skip == 1
       && !q.has_msn, "skip, foreign argument ignored");
    ok(bh_query_parse("_HLS_part=2", 11, &q) != BH_OK, "part without msn");
    ok(bh_query_parse("_HLS_msn=x", 10, &q) != BH_OK, "bad msn");
    ok(bh_query_parse("_HLS_msn=", 9, &q) != BH_OK, "empty msn");
    ok(bh_query_parse("_HLS_skip=NO", 12, &q) != BH_OK, "bad skip");
    ok(bh_query_parse("", 0, &q) == BH_OK && !q.has_msn, "empty query");
}


static void
collect(void *data, bh_chunk_t *chunk)
{
    output_t  *out = data;

    if (chunk->type == BH_CHUNK_INIT) {
        free(out->init);
        out->init = chunk->data;
        out->inits++;
        out->init_size = chunk->size;
        snprintf(out->codecs, sizeof(out->codecs), "%s", chunk->codecs);
        return;
    }

    out->media = realloc(out->media, out->media_size + chunk->size);
    memcpy(out->media + out->media_size, chunk->data, chunk->size);
    out->media_size += chunk->size;
    free(chunk->data);

    if (chunk->start != out->next_start) {
        out->bad_start++;
    }

    out->next_start = chunk->start + chunk->duration;

    if (chunk->segment_start) {
        if (!chunk->independent) {
            out->segment_not_independent++;
        }

        if (out->segments < 256) {
            out->segments++;
        }
    }

    if (out->segments > 0) {
        out->seg_duration[out->segments - 1] += chunk->duration;
    }

    if (chunk->duration > out->max_part) {
        out->max_part = chunk->duration;
    }

    out->total += chunk->duration;
    out->parts++;
}


static void
test_segmenter(const char *fixture, bh_format_t format, fault_t fault,
    const char *name)
{
    int                  rc, v, a, n, frames, in_frames, audio, in_audio, i;
    int                  short_segments;
    char                 err[256];
    int64_t              gap, shift;
    AVPacket            *pkt, *half;
    AVBSFContext        *bsf;
    output_t             out;
    bh_status_t          st, wst;
    bh_segmenter_t      *sg;
    AVFormatContext     *ic;
    AVCodecParameters   *vpar;
    bh_segmenter_conf_t  conf;

    ic = NULL;

    rc = avformat_open_input(&ic, fixture, NULL, NULL);
    if (rc < 0 || avformat_find_stream_info(ic, NULL) < 0) {
        ok(0, "%s: open fixture %s", name, fixture);
        return;
    }

    v = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    a = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);

    memset(&out, 0, sizeof(out));

    conf.format = format;
    conf.segment = 2 * BH_USEC;
    conf.part = BH_USEC / 5;

    sg = bh_segmenter_create(&conf, collect, &out);

    /* AVCC in the file, Annex B from a camera */

    if (av_bsf_alloc(av_bsf_get_by_name("h264_mp4toannexb"), &bsf) < 0
        || avcodec_parameters_copy(bsf->par_in, ic->streams[v]->codecpar)
           < 0
        || av_bsf_init(bsf) < 0)
    {
        ok(0, "%s: h264_mp4toannexb", name);
        return;
    }

    vpar = avcodec_parameters_alloc();
    avcodec_parameters_copy(vpar, bsf->par_out);

    if (fault == FAULT_NO_EXTRADATA) {
        av_freep(&vpar->extradata);
        vpar->extradata_size = 0;
    }

    st = bh_segmenter_open(sg, vpar, v, ic->streams[v]->time_base.num,
                           ic->streams[v]->time_base.den,
                           ic->streams[a]->codecpar, a,
                           ic->streams[a]->time_base.num,
                           ic->streams[a]->time_base.den, err, sizeof(err));
    ok(st == BH_OK, "%s: open segmenter", name);

    avcodec_parameters_free(&vpar);

    pkt = av_packet_alloc();
    half = av_packet_alloc();
    in_frames = 0;
    in_audio = 0;
    n = 0;
    wst = BH_OK;
    shift = 0;

    while (wst == BH_OK && av_read_frame(ic, pkt) >= 0) {

        if (pkt->stream_index == v) {
            if (av_bsf_send_packet(bsf, pkt) < 0
                || av_bsf_receive_packet(bsf, pkt) < 0)
            {
                wst = BH_INVALID;
                snprintf(err, sizeof(err), "h264_mp4toannexb failed");
                break;
            }

            in_frames++;
            n++;

            switch (fault) {

            case FAULT_UNTIMED_FIRST:
                if (n == 1) {
                    pkt->dts = AV_NOPTS_VALUE;
                    pkt->pts = AV_NOPTS_VALUE;
                }
                break;

            case FAULT_REORDER:
                if (n % 7 == 0) {
                    pkt->dts -= 3600 * 2;
                    pkt->pts = pkt->dts;
                }
                break;

            case FAULT_JUMP:
                if (n == 60) {
                    shift = 20 * 90000;
                }

                if (n == 120) {
                    shift = -20 * 90000;
                }

                pkt->dts += shift;
                pkt->pts += shift;
                break;

            case FAULT_SPLIT_FRAMES:
                if (pkt->size > 8) {
                    av_packet_ref(half, pkt);
                    half->size = pkt->size / 2;
                    wst = bh_segmenter_write(sg, half, bh_wallclock(), err,
                                             sizeof(err));
                    av_packet_unref(half);

                    pkt->data += pkt->size / 2;
                    pkt->size -= pkt->size / 2;
                    pkt->flags &= ~AV_PKT_FLAG_KEY;
                }
                break;

            default:
                break;
            }

        } else if (pkt->stream_index == a) {
            in_audio++;

            if (fault == FAULT_JUMP) {
                pkt->dts += av_rescale_q(shift, (AVRational) { 1, 90000 },
                                         ic->streams[a]->time_base);
                pkt->pts = pkt->dts;
            }
        }

        if (wst == BH_OK) {
            wst = bh_segmenter_write(sg, pkt, bh_wallclock(), err,
                                     sizeof(err));
        }

        av_packet_unref(pkt);
    }

    ok(wst == BH_OK, "%s: every packet accepted%s%s", name,
       wst == BH_OK ? "" : ": ", wst == BH_OK ? "" : err);

    ok(bh_segmenter_flush(sg) == BH_OK, "%s: flush", name);

    bh_segmenter_destroy(sg);
    av_bsf_free(&bsf);
    av_packet_free(&pkt);
    av_packet_free(&half);
    avformat_close_input(&ic);

    ok(out.inits == 1 && (format == BH_FORMAT_MPEGTS
                          ? out.init == NULL
                          : out.init != NULL && out.init_size > 0),
       "%s: one init chunk, with an init segment for fMP4 only", name);
    ok(strncmp(out.codecs, "avc1.", 5) == 0 && strlen(out.codecs) == 21
       && strcmp(out.codecs + 11, ",mp4a.40.2") == 0,
       "%s: codecs %s", name, out.codecs);
    ok(out.segments >= 4, "%s: %d segments, %d parts", name, out.segments,
       out.parts);
    ok(out.segment_not_independent == 0,
       "%s: every segment starts with a keyframe", name);
    ok(out.bad_start == 0, "%s: parts are contiguous", name);
    ok(out.max_part <= conf.part + BH_USEC / 25 + 1000,
       "%s: parts at most a frame over target (longest %" PRId64 " us)",
       name, out.max_part);

    short_segments = 0;

    for (i = 0; i < out.segments - 1; i++) {
        if (out.seg_duration[i] < conf.segment * 9 / 10
            || out.seg_duration[i] > conf.segment + BH_USEC + 1000)
        {
            short_segments++;
            printf("# segment %d lasts %" PRId64 " us\n", i,
                   out.seg_duration[i]);
        }
    }

    ok(short_segments == 0, "%s: segments cut at the target", name);

    rc = check_output(&out, &frames, &audio, &gap);

    ok(rc == 0, "%s: init + parts demux as one fMP4 file", name);
    ok(frames == in_frames, "%s: all %d video frames out (%d)", name,
       in_frames, frames);
    ok(audio >= in_audio - 3 && audio <= in_audio,
       "%s: audio frames out %d of %d", name, audio, in_audio);
    ok(gap <= 40000 * 2, "%s: no gap in video timestamps (largest step "
       "%" PRId64 " us)", name, gap);

    free(out.init);
    free(out.media);
}


/* demuxes init + media again; counts frames and the largest DTS step */

static int
check_output(output_t *out, int *frames, int *audio, int64_t *gap)
{
    int               rc;
    FILE             *f;
    char              path[] = "/tmp/bh_test_XXXXXX";
    int64_t           last, d;
    AVPacket         *pkt;
    AVFormatContext  *ic;

    *frames = 0;
    *audio = 0;
    *gap = INT64_MAX;

    rc = mkstemp(path);
    if (rc == -1) {
        return -1;
    }

    f = fdopen(rc, "w");
    if (out->init != NULL) {
        fwrite(out->init, 1, out->init_size, f);
    }

    fwrite(out->media, 1, out->media_size, f);
    fclose(f);

    ic = NULL;

    if (avformat_open_input(&ic, path, NULL, NULL) < 0
        || avformat_find_stream_info(ic, NULL) < 0)
    {
        unlink(path);
        return -1;
    }

    pkt = av_packet_alloc();
    last = AV_NOPTS_VALUE;
    *gap = 0;
    rc = 0;

    while (av_read_frame(ic, pkt) >= 0) {
        if (ic->streams[pkt->stream_index]->codecpar->codec_type
            == AVMEDIA_TYPE_VIDEO)
        {
            (*frames)++;

            d = av_rescale_q(pkt->dts,
                             ic->streams[pkt->stream_index]->time_base,
                             AV_TIME_BASE_Q);

            if (last != AV_NOPTS_VALUE) {
                if (d <= last) {
                    rc = -1;
                }

                if (d - last > *gap) {
                    *gap = d - last;
                }
            }

            last = d;

        } else {
            (*audio)++;
        }

        av_packet_unref(pkt);
    }

    av_packet_free(&pkt);
    avformat_close_input(&ic);
    unlink(path);

    return rc;
}
