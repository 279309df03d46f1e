
/*
 * Unit tests of the H.265 parser (core/bh_hevc.c), TAP, run by prove.
 *
 *     test_hevc [BUILD_DIR]
 *
 * BUILD_DIR/hevc holds streams made by the Makefile with ffmpeg and
 * libx265:
 * hevc-main.hevc (320x240, Main, level 2, four slices a picture, IDR
 * then CRA pictures), hevc-main10.hevc (1920x1080 coded as 1920x1088,
 * Main 10, level 4, High tier: x265 takes it when given a level),
 * hevc-rext.hevc (4:4:4, level 5.1, constraint flags in two bytes),
 * hevc-sub.hevc (two temporal sub-layers, level 2.1) and hevc-main.mp4
 * (hevc-main.hevc in MP4 with an hvcC).  The expected CODECS strings
 * are GStreamer's (GstPbutils' codec_utils_caps_get_mime_codec) but for
 * its tier, which 1.22 writes as L even for High-tier caps, and its
 * two-digit constraint bytes (08 for our 8: the same number).  Their parameter
 * sets are parsed as they are, cut short, bit-flipped and wrapped in
 * garbage; every buffer given to the parser is a malloc()ed copy of its
 * exact size, so that AddressSanitizer sees a read one byte too far.
 */


#include <libavformat/avformat.h>

#include "test_hevc.h"


typedef struct {
    const char     *file;
    const char     *codecs;
    unsigned        width;
    unsigned        height;
    unsigned        bit_depth;
    unsigned        sub_layers;
} fixture_t;


static const fixture_t  fixtures[] = {
    { "hevc-main.hevc", "hvc1.1.6.L60.90", 320, 240, 8, 1 },
    { "hevc-main10.hevc", "hvc1.2.4.H120.90", 1920, 1080, 10, 1 },
    { "hevc-rext.hevc", "hvc1.4.10.H153.9E.8", 352, 288, 8, 1 },
    { "hevc-sub.hevc", "hvc1.1.6.L63.90", 320, 240, 8, 2 },
};


static void test_fixture(const char *dir, const fixture_t *fx);
static void test_access_units(const char *dir);
static void test_slices(const uint8_t *data, size_t size);
static void test_hvcc(const char *dir);
static void test_codecs_string(void);
static int first_vcl(const uint8_t *data, size_t size);


int
main(int argc, char **argv)
{
    char    dir[512];
    size_t  i;

    snprintf(dir, sizeof(dir), "%s/hevc", argc > 1 ? argv[1] : "build");

    av_log_set_level(AV_LOG_ERROR);

    for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        test_fixture(dir, &fixtures[i]);
    }

    test_access_units(dir);
    test_hvcc(dir);
    test_codecs_string();

    return tap_done();
}


static int
first_vcl(const uint8_t *data, size_t size)
{
    size_t          n;
    bh_annexb_t     it;
    const uint8_t  *nal;

    bh_annexb_init(&it, data, size);

    while (bh_annexb_next(&it, &nal, &n)) {
        if (n >= 2 && bh_hevc_nal_type(nal) <= BH_HEVC_VCL_LAST) {
            return bh_hevc_nal_type(nal);
        }
    }

    return -1;
}


/* the parameter sets and the CODECS string of a whole stream */

static void
test_fixture(const char *dir, const fixture_t *fx)
{
    char            codecs[BH_HEVC_CODECS_LEN];
    size_t          size, n, len;
    uint8_t        *data, *ps, *copy;
    bh_status_t     st;
    const uint8_t  *nal;
    bh_hevc_sps_t   sps;

    data = read_file(dir, fx->file, &size);
    if (data == NULL) {
        return;
    }

    ps = malloc(BH_HEVC_MAX_EXTRADATA);
    if (ps == NULL) {
        abort();
    }

    st = bh_hevc_parameter_sets(data, size, ps, BH_HEVC_MAX_EXTRADATA, &len);
    ok(st == BH_OK, "%s: parameter sets found (%zu bytes)", fx->file, len);

    if (st == BH_OK) {
        ok(bh_hevc_first_nal(ps, len) == BH_HEVC_VPS
           && find_nal(ps, len, BH_HEVC_SPS, &nal, &n)
           && find_nal(ps, len, BH_HEVC_PPS, &nal, &n),
           "%s: VPS first, then SPS and PPS", fx->file);

        copy = copy_of(ps, len);
        st = bh_hevc_codecs(copy, len, codecs, sizeof(codecs), &sps);
        free(copy);

        ok(st == BH_OK && strcmp(codecs, fx->codecs) == 0,
           "%s: CODECS %s (want %s)", fx->file, st == BH_OK ? codecs : "-",
           fx->codecs);
        ok(st == BH_OK && sps.width == fx->width && sps.height == fx->height,
           "%s: %ux%u (want %ux%u)", fx->file, sps.width, sps.height,
           fx->width, fx->height);
        ok(st == BH_OK && sps.bit_depth_luma == fx->bit_depth
           && sps.bit_depth_chroma == fx->bit_depth
           && sps.max_sub_layers == fx->sub_layers,
           "%s: %u-bit, %u sub-layers", fx->file, sps.bit_depth_luma,
           sps.max_sub_layers);
    }

    free(ps);
    free(data);
}


/*
 * Packets as libavformat's parser cuts them (one picture each): the key
 * flag it sets and bh_hevc_irap() agree, every packet starts an access
 * unit, IDR and CRA pictures are both IRAP.
 */

static void
test_access_units(const char *dir)
{
    int               rc, packets, keys, agree, starts, idr, cra, sliced;
    char              path[1024];
    uint8_t          *copy;
    AVPacket         *pkt;
    AVFormatContext  *ic;

    snprintf(path, sizeof(path), "%s/hevc-main.hevc", dir);

    ic = NULL;
    rc = avformat_open_input(&ic, path, NULL, NULL);
    ok(rc == 0, "hevc-main.hevc opened by libavformat");

    if (rc != 0) {
        return;
    }

    pkt = av_packet_alloc();
    packets = 0;
    keys = 0;
    agree = 0;
    starts = 0;
    idr = 0;
    cra = 0;
    sliced = 0;

    while (pkt != NULL && av_read_frame(ic, pkt) >= 0) {
        copy = copy_of(pkt->data, pkt->size);

        packets++;
        keys += bh_hevc_irap(copy, pkt->size);
        agree += (bh_hevc_irap(copy, pkt->size)
                  == ((pkt->flags & AV_PKT_FLAG_KEY) != 0));
        starts += (bh_hevc_au(copy, pkt->size) == BH_AU_START);

        switch (first_vcl(copy, pkt->size)) {
        case BH_HEVC_IDR_W_RADL:
        case BH_HEVC_IDR_N_LP:
            idr++;
            break;
        case BH_HEVC_CRA:
            cra++;
            break;
        }

        if (sliced == 0 && packets == 3) {
            test_slices(copy, pkt->size);
            sliced = 1;
        }

        free(copy);
        av_packet_unref(pkt);
    }

    ok(packets == 50, "50 pictures (%d)", packets);
    ok(agree == packets, "IRAP as libavformat's key flag (%d of %d)", agree,
       packets);
    ok(keys == 2, "2 IRAP pictures, keyint 25 (%d)", keys);
    ok(idr == 1 && cra == 1, "first the IDR with its parameter sets, then a "
       "CRA (%d, %d)", idr, cra);
    ok(starts == packets, "every picture starts an access unit (%d)",
       starts);

    av_packet_free(&pkt);
    avformat_close_input(&ic);
}


/*
 * One picture of four slice segments, one NAL unit a packet as an RTP
 * depacketizer without a parser gives them: the first starts the
 * access unit, the others continue it.
 */

static void
test_slices(const uint8_t *data, size_t size)
{
    int             start, cont, other;
    size_t          n;
    uint8_t        *copy, *p;
    bh_au_t         au;
    bh_annexb_t     it;
    const uint8_t  *nal;

    start = 0;
    cont = 0;
    other = 0;

    bh_annexb_init(&it, data, size);

    while (bh_annexb_next(&it, &nal, &n)) {
        p = malloc(n + 4);
        if (p == NULL) {
            abort();
        }

        memcpy(p, "\0\0\0\1", 4);
        memcpy(p + 4, nal, n);
        copy = copy_of(p, n + 4);
        free(p);

        au = bh_hevc_au(copy, n + 4);
        free(copy);

        if (bh_hevc_nal_type(nal) > BH_HEVC_VCL_LAST) {
            other++;

        } else if (au == BH_AU_START) {
            start++;

        } else if (au == BH_AU_CONTINUE) {
            cont++;
        }
    }

    ok(start == 1 && cont == 3, "a picture in 4 slice segments: 1 starts, "
       "3 continue (%d, %d, %d other)", start, cont, other);
}


static void
test_hvcc(const char *dir)
{
    int               rc;
    char              path[1024], codecs[BH_HEVC_CODECS_LEN];
    size_t            i, size, n;
    uint8_t          *ed, *copy;
    bh_status_t       st;
    bh_hevc_sps_t     sps;
    const uint8_t    *nal;
    AVFormatContext  *ic;

    snprintf(path, sizeof(path), "%s/hevc-main.mp4", dir);

    ic = NULL;
    rc = avformat_open_input(&ic, path, NULL, NULL);
    ok(rc == 0, "hevc-main.mp4 opened by libavformat");

    if (rc != 0) {
        return;
    }

    size = ic->streams[0]->codecpar->extradata_size;
    ed = copy_of(ic->streams[0]->codecpar->extradata, size);
    avformat_close_input(&ic);

    ok(size > 23 && ed[0] == 1, "its extradata is an hvcC (%zu bytes)", size);

    st = bh_hevc_codecs(ed, size, codecs, sizeof(codecs), &sps);
    ok(st == BH_OK && strcmp(codecs, fixtures[0].codecs) == 0
       && sps.width == 320 && sps.height == 240,
       "CODECS from the hvcC: %s", st == BH_OK ? codecs : "-");

    /* an hvcC cut anywhere is refused, never overread */

    rc = 0;

    for (i = 0; i < size; i++) {
        copy = copy_of(ed, i);

        if (bh_hevc_find_sps(copy, i, &nal, &n) == BH_OK
            && (nal < copy || nal + n > copy + i))
        {
            rc++;
        }

        bh_hevc_codecs(copy, i, codecs, sizeof(codecs), &sps);
        free(copy);
    }

    ok(rc == 0, "an hvcC cut at each of its %zu lengths: no SPS outside it",
       size);

    /* lying counts and lengths */

    copy = copy_of(ed, size);
    copy[22] = 0xff;
    copy[24] = 0xff;
    copy[25] = 0xff;
    ok(bh_hevc_find_sps(copy, size, &nal, &n) != BH_OK
       || (nal >= copy && nal + n <= copy + size),
       "an hvcC with 255 arrays of 65535 NAL units");
    free(copy);

    free(ed);
}


static void
test_codecs_string(void)
{
    int            over;
    char           buf[64];
    size_t         len, n;
    bh_hevc_sps_t  sps;

    memset(&sps, 0, sizeof(sps));

    sps.profile_idc = 1;
    sps.compatibility = 0x60000000;
    sps.level_idc = 93;
    sps.constraints[0] = 0xb0;
    bh_hevc_codecs_string(&sps, buf, sizeof(buf));
    ok(strcmp(buf, "hvc1.1.6.L93.B0") == 0, "Apple's Main 3.1: %s", buf);

    sps.profile_idc = 2;
    sps.compatibility = 0x20000000;
    sps.level_idc = 123;
    bh_hevc_codecs_string(&sps, buf, sizeof(buf));
    ok(strcmp(buf, "hvc1.2.4.L123.B0") == 0, "Apple's Main 10 4.1: %s",
       buf);

    sps.profile_space = 1;
    sps.profile_idc = 4;
    sps.compatibility = 0x82000000;     /* flags 0 and 6 */
    sps.tier = 1;
    sps.level_idc = 120;
    sps.constraints[1] = 0x23;
    bh_hevc_codecs_string(&sps, buf, sizeof(buf));
    ok(strcmp(buf, "hvc1.A4.41.H120.B0.23") == 0,
       "ISO/IEC 14496-15 E.3's example: %s", buf);

    memset(sps.constraints, 0, sizeof(sps.constraints));
    sps.constraints[5] = 1;
    sps.compatibility = 1;              /* flag 31 */
    bh_hevc_codecs_string(&sps, buf, sizeof(buf));
    ok(strcmp(buf, "hvc1.A4.80000000.H120.0.0.0.0.0.1") == 0,
       "flag 31 and the last constraint byte: %s", buf);

    memset(sps.constraints, 0, sizeof(sps.constraints));
    bh_hevc_codecs_string(&sps, buf, sizeof(buf));
    ok(strcmp(buf, "hvc1.A4.80000000.H120.0") == 0,
       "no constraint flags: one zero byte stays: %s", buf);

    /* the longest string fits BH_HEVC_CODECS_LEN; shorter buffers: "" */

    sps.profile_space = 3;
    sps.profile_idc = 31;
    sps.compatibility = 0xffffffff;
    sps.level_idc = 255;
    memset(sps.constraints, 0xff, sizeof(sps.constraints));
    n = bh_hevc_codecs_string(&sps, buf, BH_HEVC_CODECS_LEN);
    ok(n == BH_HEVC_CODECS_LEN - 1, "the longest string: %s", buf);

    over = 0;

    for (len = 0; len < BH_HEVC_CODECS_LEN; len++) {
        memset(buf, 'x', sizeof(buf));
        n = bh_hevc_codecs_string(&sps, buf, len);

        if (n != 0 || (len > 0 && buf[0] != '\0') || buf[len] != 'x') {
            over++;
        }
    }

    ok(over == 0, "buffers too short: nothing written past them, \"\"");
}
