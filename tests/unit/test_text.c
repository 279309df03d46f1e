
/*
 * Unit tests of the media core's text handling (TAP, run by prove):
 * redaction of camera credentials, camera names, the playlist writer and
 * the request path and query parsers.
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_media.h"
#include "tap.h"


static void test_redact(void);
static void test_names(void);
static void test_playlist(void);
static void test_uri(void);


int
main(int argc, char **argv)
{
    test_redact();
    test_names();
    test_playlist();
    test_uri();

    return tap_done();
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
        "#EXT-X-PART:DURATION=0.200,URI=\"part-430.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.200,URI=\"part-431.m4s\"\n"
        "#EXTINF:1.960,\n"
        "seg-43.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T20:00:11.210Z\n"
        "#EXT-X-PART:DURATION=0.160,URI=\"part-432.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-433.m4s\"\n";

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

    parts[0].number = 430;
    parts[0].duration = 200000;
    parts[0].independent = 1;
    parts[1].number = 431;
    parts[1].duration = 200000;
    parts[1].independent = 0;
    parts[2].number = 432;
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
    pl.hint = 433;

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
    ok(strstr(buf, "part-430.ts\",INDEPENDENT=YES") != NULL
       && strstr(buf, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-433.ts\"\n")
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
    ok(bh_uri_parse("ale/part-1795636800123.m4s", 26, &u) == BH_OK
       && u.type == BH_URI_PART && u.part == INT64_C(1795636800123),
       "part, numbered for the stream");
    ok(bh_uri_parse("ale/master.m3u8", 15, &u) == BH_OK
       && u.type == BH_URI_MULTIVARIANT, "multivariant playlist");

    ok(bh_uri_parse("ale/seg-012.m4s", 15, &u) != BH_OK, "leading zero");
    ok(bh_uri_parse("ale/seg-+1.m4s", 14, &u) != BH_OK, "sign");
    ok(bh_uri_parse("ale/seg-99999999999999999999.m4s", 32, &u) != BH_OK,
       "overflow");
    ok(bh_uri_parse("ale/seg-.m4s", 12, &u) != BH_OK, "no number");
    ok(bh_uri_parse("ale/part-.m4s", 13, &u) != BH_OK, "part without n");
    ok(bh_uri_parse("ale/part-12.3.m4s", 17, &u) != BH_OK,
       "a part named within its segment (the old names)");
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
