
/*
 * Fuzz target for the H.264 byte parsers (core/bh_avc.c, core/bh_bits.c):
 * what a camera puts in a packet or in its SDP's sprop-parameter-sets.
 * The input is one packet of Annex B (or avcC) bytes; every parser reads
 * it and must stay inside it, and what they return must be consistent.
 *
 *     make fuzz-avc FUZZ_SECONDS=600
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bh_codec.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char            codecs[64];
    size_t          len, nlen, n;
    uint8_t        *copy, *out, rbsp[64];
    unsigned        width, height;
    bh_bits_t       b;
    bh_annexb_t     it;
    bh_avc_sps_t    sps;
    const uint8_t  *nal;

    /* an exact-size copy: ASan sees any read past the end */

    copy = malloc(size ? size : 1);
    out = malloc(BH_MAX_EXTRADATA);

    if (copy == NULL || out == NULL) {
        abort();
    }

    memcpy(copy, data, size);

    (void) bh_avc_au(copy, size);
    (void) bh_avc_first_nal(copy, size);
    (void) bh_annexb_starts(copy, size);

    bh_annexb_init(&it, copy, size);

    while (bh_annexb_next(&it, &nal, &nlen)) {
        if (nal < copy || nal + nlen > copy + size || nlen == 0) {
            abort();
        }

        if (bh_avc_parse_sps(nal, nlen, &sps) == BH_OK
            && (sps.width == 0 || sps.height == 0 || sps.width > 16384
                || sps.height > 16384))
        {
            abort();
        }

        n = bh_nal_unescape(nal, nlen, rbsp, sizeof(rbsp));

        if (n > sizeof(rbsp) || n > nlen) {
            abort();
        }

        bh_bits_init(&b, rbsp, n);
        (void) bh_bits_ue(&b);
        (void) bh_bits_se(&b);
        (void) bh_bits_read(&b, 32);
        bh_bits_skip(&b, n * 8);
        (void) bh_bits_read(&b, 7);
    }

    if (bh_avc_parameter_sets(copy, size, out, &len) == BH_OK
        && (len > BH_MAX_EXTRADATA || len < 10))
    {
        abort();
    }

    (void) bh_avc_codecs(copy, size, codecs, sizeof(codecs), &sps);

    if (bh_avc_codec.describe(copy, size, codecs, sizeof(codecs), &width,
                              &height)
        == BH_OK && strncmp(codecs, "avc1.", 5) != 0)
    {
        abort();
    }

    free(out);
    free(copy);

    return 0;
}
