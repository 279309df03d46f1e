
/*
 * ngx_bar_hls_module media core: H.265/HEVC parsing.
 *
 * The camera's parameter sets come from the SDP (sprop-vps, sprop-sps,
 * sprop-pps: libavformat's RTP demuxer turns them into Annex B
 * extradata) or in band, before the IRAP pictures.  What the segmenter
 * needs from them: where pictures and IRAP pictures start, the parameter
 * sets to put in hvcC, the picture size and the RFC 6381 CODECS string.
 * Only the base layer (nuh_layer_id 0) counts.
 */


#include <stdio.h>
#include <string.h>

#include "bh_hevc.h"


/* enough RBSP for everything of an SPS up to the bit depths */
#define BH_HEVC_SPS_PREFIX      512
#define BH_HEVC_MAX_SIZE        16888   /* sqrt(8 x MaxLumaPs of 6.2) */


typedef struct {
    const uint8_t      *nal;
    size_t              size;
    unsigned            id;
} bh_hevc_ps_t;


static bh_status_t bh_hevc_profile_tier_level(bh_bits_t *b,
    bh_hevc_sps_t *sps);
static int bh_hevc_ps_id(const uint8_t *nal, size_t size, unsigned type,
    unsigned *id);
static int bh_hevc_ps_add(bh_hevc_ps_t *list, size_t *n, size_t max,
    const uint8_t *nal, size_t size, unsigned id);
static int bh_hevc_leads_with_parameter_sets(const uint8_t *data,
    size_t size);
static bh_status_t bh_hevc_codec_parameter_sets(const uint8_t *data,
    size_t size, uint8_t *out, size_t *len);


const bh_video_codec_t  bh_hevc_codec = {
    "H.265",
    bh_hevc_au,
    bh_hevc_leads_with_parameter_sets,
    bh_hevc_codec_parameter_sets,
    bh_hevc_describe
};


/*
 * The next NAL unit of the base layer with a header and at least one
 * byte more: the others are of no use here (layers of scalable and
 * multiview extensions, garbage with the forbidden bit set).
 */

int
bh_hevc_next(bh_annexb_t *it, const uint8_t **nal, size_t *size)
{
    while (bh_annexb_next(it, nal, size)) {
        if (*size >= 3 && ((*nal)[0] & 0x80) == 0
            && bh_hevc_layer_id(*nal) == 0)
        {
            return 1;
        }
    }

    return 0;
}


int
bh_hevc_irap_type(unsigned type)
{
    return type >= BH_HEVC_BLA_W_LP && type <= BH_HEVC_IRAP_LAST;
}


int
bh_hevc_irap(const uint8_t *data, size_t size)
{
    size_t          n;
    bh_annexb_t     it;
    const uint8_t  *nal;

    bh_annexb_init(&it, data, size);

    while (bh_hevc_next(&it, &nal, &n)) {
        if (bh_hevc_irap_type(bh_hevc_nal_type(nal))) {
            return 1;
        }
    }

    return 0;
}


/*
 * H.265 7.4.2.4.4: an access unit starts with the first of an access
 * unit delimiter, a parameter set, a prefix SEI, NAL unit types 41..44
 * and 48..55, or the first slice segment of a picture
 * (first_slice_segment_in_pic_flag, the first bit after the header,
 * where no emulation prevention byte can be).
 */

bh_au_t
bh_hevc_au(const uint8_t *data, size_t size)
{
    size_t          n;
    unsigned        type;
    bh_annexb_t     it;
    const uint8_t  *nal;

    bh_annexb_init(&it, data, size);

    while (bh_hevc_next(&it, &nal, &n)) {

        type = bh_hevc_nal_type(nal);

        if (type <= BH_HEVC_VCL_LAST) {
            return (nal[2] & 0x80) ? BH_AU_START : BH_AU_CONTINUE;
        }

        if ((type >= BH_HEVC_VPS && type <= BH_HEVC_AUD)
            || type == BH_HEVC_PREFIX_SEI
            || (type >= 41 && type <= 44) || (type >= 48 && type <= 55))
        {
            return BH_AU_START;
        }
    }

    return BH_AU_UNKNOWN;
}


int
bh_hevc_first_nal(const uint8_t *data, size_t size)
{
    size_t          n;
    unsigned        type;
    bh_annexb_t     it;
    const uint8_t  *nal;

    bh_annexb_init(&it, data, size);

    while (bh_hevc_next(&it, &nal, &n)) {
        type = bh_hevc_nal_type(nal);

        if (type != BH_HEVC_AUD) {
            return (int) type;
        }
    }

    return -1;
}


bh_status_t
bh_hevc_parse_sps(const uint8_t *nal, size_t size, bh_hevc_sps_t *sps)
{
    size_t       len;
    uint8_t      rbsp[BH_HEVC_SPS_PREFIX];
    uint32_t     w, h, sub_w, sub_h, left, right, top, bottom;
    bh_bits_t    b;
    bh_status_t  st;

    if (size < 3 || (nal[0] & 0x80) || bh_hevc_nal_type(nal) != BH_HEVC_SPS
        || bh_hevc_layer_id(nal) != 0)
    {
        return BH_INVALID;
    }

    memset(sps, 0, sizeof(bh_hevc_sps_t));

    len = bh_nal_unescape(nal + 2, size - 2, rbsp, sizeof(rbsp));
    bh_bits_init(&b, rbsp, len);

    bh_bits_skip(&b, 4);                        /* sps_vps_id */
    sps->max_sub_layers = bh_bits_read(&b, 3) + 1;
    sps->temporal_id_nesting = bh_bits_read(&b, 1);

    if (sps->max_sub_layers > 7) {
        return BH_INVALID;
    }

    st = bh_hevc_profile_tier_level(&b, sps);
    if (st != BH_OK) {
        return st;
    }

    sps->sps_id = bh_bits_ue(&b);
    sps->chroma_format_idc = bh_bits_ue(&b);

    if (sps->sps_id > 15 || sps->chroma_format_idc > 3) {
        return BH_INVALID;
    }

    if (sps->chroma_format_idc == 3) {
        if (bh_bits_read(&b, 1)) {              /* separate colour planes */
            sps->chroma_format_idc = 0;
        }
    }

    w = bh_bits_ue(&b);
    h = bh_bits_ue(&b);

    left = 0;
    right = 0;
    top = 0;
    bottom = 0;

    if (bh_bits_read(&b, 1)) {                  /* conformance_window */
        left = bh_bits_ue(&b);
        right = bh_bits_ue(&b);
        top = bh_bits_ue(&b);
        bottom = bh_bits_ue(&b);
    }

    sps->bit_depth_luma = bh_bits_ue(&b) + 8;
    sps->bit_depth_chroma = bh_bits_ue(&b) + 8;

    if (b.overflow || sps->bit_depth_luma > 16 || sps->bit_depth_chroma > 16
        || w == 0 || h == 0 || w > BH_HEVC_MAX_SIZE || h > BH_HEVC_MAX_SIZE)
    {
        return BH_INVALID;
    }

    /* offsets are in chroma samples (H.265 table 6-1) */

    sub_w = (sps->chroma_format_idc == 1 || sps->chroma_format_idc == 2)
            ? 2 : 1;
    sub_h = (sps->chroma_format_idc == 1) ? 2 : 1;

    if ((uint64_t) sub_w * ((uint64_t) left + right) >= w
        || (uint64_t) sub_h * ((uint64_t) top + bottom) >= h)
    {
        return BH_INVALID;
    }

    sps->width = w - sub_w * (left + right);
    sps->height = h - sub_h * (top + bottom);

    return BH_OK;
}


/* profile_tier_level(1, sps_max_sub_layers_minus1), H.265 7.3.3 */

static bh_status_t
bh_hevc_profile_tier_level(bh_bits_t *b, bh_hevc_sps_t *sps)
{
    unsigned  i, n, profile[8], level[8];

    sps->profile_space = bh_bits_read(b, 2);
    sps->tier = bh_bits_read(b, 1);
    sps->profile_idc = bh_bits_read(b, 5);
    sps->compatibility = bh_bits_read(b, 32);

    /* progressive, interlaced, non-packed, frame-only and 44 more bits */

    for (i = 0; i < 6; i++) {
        sps->constraints[i] = (uint8_t) bh_bits_read(b, 8);
    }

    sps->level_idc = bh_bits_read(b, 8);

    n = sps->max_sub_layers - 1;

    for (i = 0; i < n; i++) {
        profile[i] = bh_bits_read(b, 1);
        level[i] = bh_bits_read(b, 1);
    }

    if (n > 0) {
        bh_bits_skip(b, 2 * (8 - n));           /* reserved_zero_2bits */
    }

    for (i = 0; i < n; i++) {
        if (profile[i]) {
            bh_bits_skip(b, 88);
        }

        if (level[i]) {
            bh_bits_skip(b, 8);
        }
    }

    return b->overflow ? BH_INVALID : BH_OK;
}


bh_status_t
bh_hevc_parameter_sets(const uint8_t *data, size_t size, uint8_t *out,
    size_t cap, size_t *len)
{
    size_t          n, nvps, nsps, npps, i, k, total;
    unsigned        type, id;
    bh_annexb_t     it;
    bh_hevc_ps_t    vps[BH_HEVC_MAX_VPS], sps[BH_HEVC_MAX_SPS],
                    pps[BH_HEVC_MAX_PPS], *list[3];
    const uint8_t  *nal;
    size_t          count[3];

    nvps = 0;
    nsps = 0;
    npps = 0;
    *len = 0;

    bh_annexb_init(&it, data, size);

    while (bh_hevc_next(&it, &nal, &n)) {

        type = bh_hevc_nal_type(nal);

        if (n > BH_HEVC_MAX_PARAM_SET
            || type < BH_HEVC_VPS || type > BH_HEVC_PPS
            || !bh_hevc_ps_id(nal, n, type, &id))
        {
            continue;
        }

        switch (type) {

        case BH_HEVC_VPS:
            bh_hevc_ps_add(vps, &nvps, BH_HEVC_MAX_VPS, nal, n, id);
            break;

        case BH_HEVC_SPS:
            bh_hevc_ps_add(sps, &nsps, BH_HEVC_MAX_SPS, nal, n, id);
            break;

        default: /* BH_HEVC_PPS */
            bh_hevc_ps_add(pps, &npps, BH_HEVC_MAX_PPS, nal, n, id);
            break;
        }
    }

    if (nvps == 0 || nsps == 0 || npps == 0) {
        return BH_UNSUPPORTED;
    }

    list[0] = vps;
    list[1] = sps;
    list[2] = pps;
    count[0] = nvps;
    count[1] = nsps;
    count[2] = npps;

    total = 0;

    for (k = 0; k < 3; k++) {
        for (i = 0; i < count[k]; i++) {
            total += 4 + list[k][i].size;
        }
    }

    if (total > cap) {
        return BH_NOSPACE;
    }

    for (k = 0; k < 3; k++) {
        for (i = 0; i < count[k]; i++) {
            memcpy(out + *len, "\0\0\0\1", 4);
            memcpy(out + *len + 4, list[k][i].nal, list[k][i].size);
            *len += 4 + list[k][i].size;
        }
    }

    return BH_OK;
}


/* the id of a parameter set; 0 if it is malformed */

static int
bh_hevc_ps_id(const uint8_t *nal, size_t size, unsigned type, unsigned *id)
{
    size_t         len;
    uint8_t        rbsp[8];
    bh_bits_t      b;
    bh_hevc_sps_t  sps;

    switch (type) {

    case BH_HEVC_VPS:
        *id = nal[2] >> 4;
        return 1;

    case BH_HEVC_SPS:
        if (bh_hevc_parse_sps(nal, size, &sps) != BH_OK) {
            return 0;
        }

        *id = sps.sps_id;
        return 1;

    default: /* BH_HEVC_PPS */
        len = bh_nal_unescape(nal + 2, size - 2, rbsp, sizeof(rbsp));
        bh_bits_init(&b, rbsp, len);
        *id = bh_bits_ue(&b);

        return !b.overflow && *id <= 63;
    }
}


/* keeps the first of each id: 1 if added */

static int
bh_hevc_ps_add(bh_hevc_ps_t *list, size_t *n, size_t max, const uint8_t *nal,
    size_t size, unsigned id)
{
    size_t  i;

    for (i = 0; i < *n; i++) {
        if (list[i].id == id) {
            return 0;
        }
    }

    if (*n == max) {
        return 0;
    }

    list[*n].nal = nal;
    list[*n].size = size;
    list[*n].id = id;
    (*n)++;

    return 1;
}


static int
bh_hevc_leads_with_parameter_sets(const uint8_t *data, size_t size)
{
    return bh_hevc_first_nal(data, size) == BH_HEVC_VPS;
}


/* out has room for BH_MAX_EXTRADATA bytes (bh_codec.h) */

static bh_status_t
bh_hevc_codec_parameter_sets(const uint8_t *data, size_t size, uint8_t *out,
    size_t *len)
{
    return bh_hevc_parameter_sets(data, size, out, BH_MAX_EXTRADATA, len);
}
