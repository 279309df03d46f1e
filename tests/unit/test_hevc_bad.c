
/*
 * Unit tests of the H.265 parser with malformed input (TAP, run by
 * prove): the SPS of BUILD_DIR/hevc/hevc-main.hevc (see test_hevc.c) cut
 * at every length, each of its bits flipped, edited; parameter sets
 * repeated, missing, too many, too long, into too small a buffer;
 * thousands of packets of garbage.  Every buffer is a malloc()ed copy of
 * its exact size, so that AddressSanitizer sees a read one byte too far.
 *
 *     test_hevc_bad [BUILD_DIR]
 */


#include "test_hevc.h"


static void test_truncated(const uint8_t *nal, size_t size);
static void test_flipped(const uint8_t *nal, size_t size);
static void test_synthetic(const uint8_t *nal, size_t size);
static void test_parameter_sets(const uint8_t *ps, size_t size);
static void test_garbage(void);


int
main(int argc, char **argv)
{
    char            dir[512];
    size_t          size, n, pslen;
    uint8_t        *data, ps[BH_HEVC_MAX_EXTRADATA];
    const uint8_t  *sps;

    snprintf(dir, sizeof(dir), "%s/hevc", argc > 1 ? argv[1] : "build");

    data = read_file(dir, "hevc-main.hevc", &size);

    if (data != NULL && find_nal(data, size, BH_HEVC_SPS, &sps, &n)) {
        test_truncated(sps, n);
        test_flipped(sps, n);
        test_synthetic(sps, n);
    }

    if (data != NULL
        && bh_hevc_parameter_sets(data, size, ps, sizeof(ps), &pslen)
           == BH_OK)
    {
        test_parameter_sets(ps, pslen);
    }

    free(data);

    test_garbage();

    return tap_done();
}


/* an SPS cut at every length: refused, never overread */

static void
test_truncated(const uint8_t *nal, size_t size)
{
    int            accepted;
    size_t         i;
    uint8_t       *copy;
    bh_hevc_sps_t  sps;

    accepted = 0;

    for (i = 0; i < size; i++) {
        copy = copy_of(nal, i);
        accepted += (bh_hevc_parse_sps(copy, i, &sps) == BH_OK);
        free(copy);
    }

    /* the fields we read end well before the SPS does */

    ok(accepted < (int) size, "an SPS of %zu bytes cut at each length: %d "
       "prefixes parse, none read past its end", size, accepted);

    copy = copy_of(nal, size);
    ok(bh_hevc_parse_sps(copy, size, &sps) == BH_OK, "the whole SPS parses");
    free(copy);
}


/* every single bit flipped: whatever comes out is within bounds */

static void
test_flipped(const uint8_t *nal, size_t size)
{
    int            bad;
    char           codecs[BH_HEVC_CODECS_LEN];
    size_t         i;
    uint8_t       *copy;
    bh_hevc_sps_t  sps;

    bad = 0;

    for (i = 0; i < size * 8; i++) {
        copy = copy_of(nal, size);
        copy[i / 8] ^= (uint8_t) (0x80 >> (i % 8));

        if (bh_hevc_parse_sps(copy, size, &sps) == BH_OK) {
            if (sps.width == 0 || sps.height == 0 || sps.width > 16888
                || sps.height > 16888 || sps.max_sub_layers > 7
                || bh_hevc_codecs_string(&sps, codecs, sizeof(codecs)) == 0
                || strlen(codecs) >= sizeof(codecs))
            {
                bad++;
            }
        }

        free(copy);
    }

    ok(bad == 0, "each of the SPS's %zu bits flipped: sizes and strings "
       "stay in bounds", size * 8);
}


/*
 * The fixture's SPS edited: tier, profile space, sub-layer count, a
 * conformance window larger than the picture.  Byte 3 of the NAL unit
 * (after the two-byte header and vps_id/max_sub_layers) holds profile
 * space, tier and profile idc.
 */

static void
test_synthetic(const uint8_t *nal, size_t size)
{
    char           codecs[BH_HEVC_CODECS_LEN];
    uint8_t       *copy;
    bh_hevc_sps_t  sps;

    copy = copy_of(nal, size);
    copy[3] |= 0x20;
    ok(bh_hevc_parse_sps(copy, size, &sps) == BH_OK
       && bh_hevc_codecs_string(&sps, codecs, sizeof(codecs)) > 0
       && strcmp(codecs, "hvc1.1.6.H60.90") == 0,
       "High tier: %s", codecs);

    copy[3] = (copy[3] & 0x3f) | 0x80;
    ok(bh_hevc_parse_sps(copy, size, &sps) == BH_OK
       && bh_hevc_codecs_string(&sps, codecs, sizeof(codecs)) > 0
       && strcmp(codecs, "hvc1.B1.6.H60.90") == 0,
       "profile space 2: %s", codecs);

    memcpy(copy, nal, size);
    copy[2] |= 0x0e;                    /* sps_max_sub_layers_minus1 = 7 */
    ok(bh_hevc_parse_sps(copy, size, &sps) == BH_INVALID,
       "8 sub-layers: refused");

    memcpy(copy, nal, size);
    copy[0] = (BH_HEVC_PPS << 1);
    ok(bh_hevc_parse_sps(copy, size, &sps) == BH_INVALID,
       "a PPS is not an SPS");

    memcpy(copy, nal, size);
    copy[1] |= 0x08;                    /* nuh_layer_id 1 */
    ok(bh_hevc_parse_sps(copy, size, &sps) == BH_INVALID,
       "an SPS of another layer: refused");

    free(copy);
}


static void
test_parameter_sets(const uint8_t *ps, size_t size)
{
    int             i;
    size_t          len, n, big;
    uint8_t        *twice, *copy, *out, *p;
    bh_status_t     st;
    const uint8_t  *nal;

    out = malloc(BH_HEVC_MAX_EXTRADATA);
    twice = malloc(2 * size);
    if (out == NULL || twice == NULL) {
        abort();
    }

    memcpy(twice, ps, size);
    memcpy(twice + size, ps, size);
    copy = copy_of(twice, 2 * size);

    st = bh_hevc_parameter_sets(copy, 2 * size, out, BH_HEVC_MAX_EXTRADATA,
                                &len);
    ok(st == BH_OK && len == size && memcmp(out, ps, size) == 0,
       "repeated parameter sets are kept once");
    free(copy);
    free(twice);

    for (n = 0; n < size; n++) {
        st = bh_hevc_parameter_sets(ps, size, out, n, &len);
        if (st != BH_NOSPACE) {
            break;
        }
    }

    ok(n == size, "an output buffer one byte short: BH_NOSPACE");

    /* without its PPS: not enough */

    if (find_nal(ps, size, BH_HEVC_PPS, &nal, &n)) {
        copy = copy_of(ps, nal - 4 - ps);
        st = bh_hevc_parameter_sets(copy, nal - 4 - ps, out,
                                    BH_HEVC_MAX_EXTRADATA, &len);
        ok(st == BH_UNSUPPORTED, "no PPS: BH_UNSUPPORTED");
        free(copy);
    }

    /* 40 PPS with 40 ids: 16 are kept; a PPS over 1024 bytes is not */

    big = size + 40 * 7 + 4 + 2000;
    p = malloc(big);
    if (p == NULL) {
        abort();
    }

    memcpy(p, ps, size);
    n = size;

    for (i = 1; i <= 40; i++) {
        memcpy(p + n, "\0\0\0\1\x44\x01", 6);
        p[n + 6] = (uint8_t) (0x80 | (i >> 1));  /* ue(v) of garbage ids */
        n += 7;
    }

    memcpy(p + n, "\0\0\0\1", 4);
    memset(p + n + 4, 0x44, 2000);
    n += 2004;

    copy = copy_of(p, n);
    st = bh_hevc_parameter_sets(copy, n, out, BH_HEVC_MAX_EXTRADATA, &len);
    ok(st == BH_OK && len <= BH_HEVC_MAX_EXTRADATA,
       "40 more PPS and one of 2000 bytes: %zu bytes kept, within bounds", len);
    free(copy);
    free(p);

    free(out);
}


static void
test_garbage(void)
{
    int             i, bad;
    size_t          n, len, k;
    uint8_t         buf[600], out[256], *copy;
    bh_au_t         au;
    bh_annexb_t     it;
    const uint8_t  *nal;
    bh_hevc_sps_t   sps;

    static const uint8_t  starts[] = { 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0 };
    static const uint8_t  tiny[] = { 0, 0, 1, 0x42 };

    srand(12);
    bad = 0;

    for (i = 0; i < 2000; i++) {
        n = (size_t) (rand() % (int) sizeof(buf));

        for (k = 0; k < n; k++) {
            /* mostly start codes, NAL headers and zeros */
            switch (rand() % 6) {
            case 0:  buf[k] = 0; break;
            case 1:  buf[k] = 1; break;
            case 2:  buf[k] = 0x42; break;
            case 3:  buf[k] = 0x40; break;
            default: buf[k] = (uint8_t) rand();
            }
        }

        copy = copy_of(buf, n);

        bh_hevc_irap(copy, n);
        au = bh_hevc_au(copy, n);
        bh_hevc_first_nal(copy, n);
        bh_hevc_parameter_sets(copy, n, out, sizeof(out), &len);

        if (au > BH_AU_CONTINUE || len > sizeof(out)) {
            bad++;
        }

        bh_annexb_init(&it, copy, n);

        while (bh_annexb_next(&it, &nal, &len)) {
            if (nal < copy || nal + len > copy + n || len == 0) {
                bad++;
            }

            bh_hevc_parse_sps(nal, len, &sps);
        }

        bh_hevc_find_sps(copy, n, &nal, &len);

        free(copy);
    }

    ok(bad == 0, "2000 packets of garbage: NAL units within bounds");

    copy = copy_of(starts, sizeof(starts));
    bh_annexb_init(&it, copy, sizeof(starts));
    ok(bh_annexb_next(&it, &nal, &len) == 0, "start codes only: no NAL unit");
    ok(bh_hevc_au(copy, sizeof(starts)) == BH_AU_UNKNOWN
       && bh_hevc_first_nal(copy, sizeof(starts)) == -1
       && !bh_hevc_irap(copy, sizeof(starts)),
       "start codes only: nothing");
    free(copy);

    copy = copy_of(tiny, sizeof(tiny));
    ok(bh_hevc_parse_sps(copy + 3, 1, &sps) == BH_INVALID
       && bh_hevc_au(copy, sizeof(tiny)) == BH_AU_UNKNOWN,
       "a one-byte NAL unit");
    free(copy);

    ok(bh_hevc_find_sps(NULL, 0, &nal, &len) == BH_UNSUPPORTED,
       "no extradata");
}
