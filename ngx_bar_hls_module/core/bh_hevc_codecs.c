
/*
 * ngx_bar_hls_module media core: what an H.265 stream is, in words: the
 * SPS found in Annex B or hvcC extradata, and the RFC 6381 CODECS string
 * (ISO/IEC 14496-15 Annex E) built from it.
 */


#include <stdio.h>
#include <string.h>

#include "bh_hevc.h"


#define BH_HEVC_HVCC_HEADER     23


static bh_status_t bh_hevc_hvcc_sps(const uint8_t *p, size_t size,
    const uint8_t **nal, size_t *nal_size);
static uint32_t bh_hevc_reverse(uint32_t v);


bh_status_t
bh_hevc_find_sps(const uint8_t *extradata, size_t size, const uint8_t **nal,
    size_t *nal_size)
{
    size_t          n;
    bh_annexb_t     it;
    const uint8_t  *p;

    if (extradata == NULL || size == 0) {
        return BH_UNSUPPORTED;
    }

    if (extradata[0] == 1) {
        return bh_hevc_hvcc_sps(extradata, size, nal, nal_size);
    }

    bh_annexb_init(&it, extradata, size);

    while (bh_hevc_next(&it, &p, &n)) {
        if (bh_hevc_nal_type(p) == BH_HEVC_SPS) {
            *nal = p;
            *nal_size = n;
            return BH_OK;
        }
    }

    return BH_UNSUPPORTED;
}

/*
 * HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1): 23 bytes,
 * the last of them numOfArrays, then per array a NAL unit type byte,
 * numNalus (16 bits) and numNalus times a 16-bit length and the bytes.
 */

static bh_status_t
bh_hevc_hvcc_sps(const uint8_t *p, size_t size, const uint8_t **nal,
    size_t *nal_size)
{
    size_t    pos, len;
    unsigned  arrays, nalus, type, i, k;

    if (size < BH_HEVC_HVCC_HEADER) {
        return BH_INVALID;
    }

    arrays = p[BH_HEVC_HVCC_HEADER - 1];
    pos = BH_HEVC_HVCC_HEADER;

    for (i = 0; i < arrays; i++) {
        if (size - pos < 3) {
            return BH_INVALID;
        }

        type = p[pos] & 0x3f;
        nalus = (p[pos + 1] << 8) | p[pos + 2];
        pos += 3;

        for (k = 0; k < nalus; k++) {
            if (size - pos < 2) {
                return BH_INVALID;
            }

            len = (p[pos] << 8) | p[pos + 1];
            pos += 2;

            if (size - pos < len) {
                return BH_INVALID;
            }

            if (type == BH_HEVC_SPS && len >= 3
                && bh_hevc_nal_type(p + pos) == BH_HEVC_SPS
                && bh_hevc_layer_id(p + pos) == 0)
            {
                *nal = p + pos;
                *nal_size = len;
                return BH_OK;
            }

            pos += len;
        }
    }

    return BH_UNSUPPORTED;
}

/*
 * ISO/IEC 14496-15 E.3: the sample entry; the profile space as no
 * letter or A, B, C and the profile idc in decimal; the compatibility
 * flags in reverse bit order (flag 31 the most significant) in hex
 * without leading zeros; L or H for the tier and the level idc in
 * decimal; then the six constraint bytes in hex, dot-separated, with
 * the trailing zero bytes left out.  As in Apple's examples
 * (hvc1.2.4.L123.B0) hex is upper case, and the first constraint byte
 * stays even when it is zero: every parser takes it.
 */

size_t
bh_hevc_codecs_string(const bh_hevc_sps_t *sps, char *buf, size_t len)
{
    int     n, r;
    size_t  i, last;
    char    space[2];

    if (len == 0) {
        return 0;
    }

    space[0] = (char) (sps->profile_space ? 'A' + sps->profile_space - 1
                                          : '\0');
    space[1] = '\0';

    n = snprintf(buf, len, "hvc1.%s%u.%X.%c%u", space, sps->profile_idc,
                 (unsigned) bh_hevc_reverse(sps->compatibility),
                 sps->tier ? 'H' : 'L', sps->level_idc);

    if (n < 0 || (size_t) n >= len) {
        buf[0] = '\0';
        return 0;
    }

    last = 0;

    for (i = 1; i < 6; i++) {
        if (sps->constraints[i] != 0) {
            last = i;
        }
    }

    for (i = 0; i <= last; i++) {
        r = snprintf(buf + n, len - n, ".%X", sps->constraints[i]);

        if (r < 0 || (size_t) r >= len - n) {
            buf[0] = '\0';
            return 0;
        }

        n += r;
    }

    return n;
}

bh_status_t
bh_hevc_codecs(const uint8_t *extradata, size_t size, char *buf, size_t len,
    bh_hevc_sps_t *sps)
{
    size_t          n;
    bh_status_t     st;
    const uint8_t  *nal;

    st = bh_hevc_find_sps(extradata, size, &nal, &n);
    if (st != BH_OK) {
        return st;
    }

    st = bh_hevc_parse_sps(nal, n, sps);
    if (st != BH_OK) {
        return st;
    }

    return bh_hevc_codecs_string(sps, buf, len) > 0 ? BH_OK : BH_NOSPACE;
}


bh_status_t
bh_hevc_describe(const uint8_t *extradata, size_t size, char *codecs,
    size_t len, unsigned *width, unsigned *height)
{
    bh_status_t    st;
    bh_hevc_sps_t  sps;

    st = bh_hevc_codecs(extradata, size, codecs, len, &sps);

    *width = (st == BH_OK) ? sps.width : 0;
    *height = (st == BH_OK) ? sps.height : 0;

    return st;
}


static uint32_t
bh_hevc_reverse(uint32_t v)
{
    unsigned  i;
    uint32_t  r;

    r = 0;

    for (i = 0; i < 32; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }

    return r;
}
