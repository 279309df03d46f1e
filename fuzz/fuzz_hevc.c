
/*
 * Fuzz target for the H.265 parser (core/bh_hevc.c): what a camera puts
 * in its packets, its SDP (sprop-vps/sps/pps) or an hvcC.  The input is
 * handed, as it is, to every function that reads camera bytes; each NAL
 * unit found in it is also parsed as an SPS.  Nothing may read past the
 * input, and what comes out must be within the bounds the API promises.
 *
 *     make fuzz-hevc FUZZ_SECONDS=600
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_hevc.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static uint8_t  bh_fuzz_out[BH_HEVC_MAX_EXTRADATA];


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char            codecs[BH_HEVC_CODECS_LEN];
    size_t          n, len;
    bh_au_t         au;
    bh_annexb_t     it;
    bh_status_t     st;
    const uint8_t  *nal, *end;
    bh_hevc_sps_t   sps;

    end = data + size;

    (void) bh_hevc_irap(data, size);
    (void) bh_hevc_first_nal(data, size);

    au = bh_hevc_au(data, size);
    if (au != BH_AU_UNKNOWN && au != BH_AU_START && au != BH_AU_CONTINUE) {
        abort();
    }

    st = bh_hevc_parameter_sets(data, size, bh_fuzz_out, sizeof(bh_fuzz_out),
                                &len);
    if (st == BH_OK
        && (len > sizeof(bh_fuzz_out) || len > size + 3 * size / 4 + 64
            || bh_hevc_first_nal(bh_fuzz_out, len) != BH_HEVC_VPS))
    {
        abort();
    }

    /* a small output buffer: BH_NOSPACE, never an overflow */

    (void) bh_hevc_parameter_sets(data, size, bh_fuzz_out, 64, &len);

    if (bh_hevc_find_sps(data, size, &nal, &n) == BH_OK
        && (nal < data || n > (size_t) (end - nal)))
    {
        abort();
    }

    if (bh_hevc_codecs(data, size, codecs, sizeof(codecs), &sps) == BH_OK) {
        if (strlen(codecs) >= sizeof(codecs) || sps.width == 0
            || sps.height == 0)
        {
            abort();
        }
    }

    bh_annexb_init(&it, data, size);

    while (bh_annexb_next(&it, &nal, &n)) {
        if (nal < data || n == 0 || n > (size_t) (end - nal)) {
            abort();
        }

        if (bh_hevc_parse_sps(nal, n, &sps) == BH_OK
            && bh_hevc_codecs_string(&sps, codecs, sizeof(codecs)) == 0)
        {
            abort();
        }
    }

    /* the whole input as one NAL unit, as from an hvcC array */

    (void) bh_hevc_parse_sps(data, size, &sps);

    return 0;
}
