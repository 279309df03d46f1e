
/*
 * ngx_bar_hls_module media core: H.264 bytes from the camera.
 *
 * Access unit boundaries (the slices of one picture arrive as several
 * packets), parameter sets for the init segment, the SPS for CODECS and
 * the picture size.  Input is Annex B, as libavformat's RTP demuxer
 * delivers it, or avcC for the extradata of other sources.
 */


#include <stdio.h>
#include <string.h>

#include "bh_codec.h"


#define BH_AVC_SLICE            1
#define BH_AVC_PARTITION_A      2
#define BH_AVC_PARTITION_B      3
#define BH_AVC_PARTITION_C      4
#define BH_AVC_IDR              5
#define BH_AVC_SEI              6
#define BH_AVC_SPS              7
#define BH_AVC_PPS              8
#define BH_AVC_AUD              9
#define BH_AVC_PREFIX           14
#define BH_AVC_SUBSET_SPS       15

#define BH_AVC_MAX_SIZE         16384   /* pixels, either way */


static bh_status_t bh_avc_collect(const uint8_t *data, size_t size,
    int type, unsigned max, uint8_t *out, size_t *len, unsigned *found);
static void bh_avc_scaling_list(bh_bits_t *b, unsigned n);
static int bh_avc_leads_with_parameter_sets(const uint8_t *data,
    size_t size);
static bh_status_t bh_avc_describe(const uint8_t *extradata, size_t size,
    char *codecs, size_t len, unsigned *width, unsigned *height);


const bh_video_codec_t  bh_avc_codec = {
    "H.264",
    bh_avc_au,
    bh_avc_leads_with_parameter_sets,
    bh_avc_parameter_sets,
    bh_avc_describe
};


bh_au_t
bh_avc_au(const uint8_t *data, size_t size)
{
    int           type;
    size_t        n, len;
    uint8_t       head[16];
    bh_bits_t     b;
    bh_annexb_t   it;
    const uint8_t  *nal;

    /* no start code: the rest of a NAL unit (RTP fragmentation units) */

    if (!bh_annexb_starts(data, size)) {
        return size ? BH_AU_CONTINUE : BH_AU_UNKNOWN;
    }

    bh_annexb_init(&it, data, size);

    while (bh_annexb_next(&it, &nal, &len)) {
        type = nal[0] & 0x1f;

        switch (type) {

        case BH_AVC_AUD:
        case BH_AVC_SPS:
        case BH_AVC_PPS:
        case BH_AVC_SEI:
        case BH_AVC_PREFIX:
        case BH_AVC_SUBSET_SPS:
            return BH_AU_START;

        case BH_AVC_SLICE:
        case BH_AVC_PARTITION_A:
        case BH_AVC_IDR:

            /* first_mb_in_slice: 0 in the first slice of a picture */

            n = bh_nal_unescape(nal + 1, len - 1, head, sizeof(head));
            bh_bits_init(&b, head, n);

            if (bh_bits_ue(&b) == 0 && !b.overflow) {
                return BH_AU_START;
            }

            return BH_AU_CONTINUE;

        case BH_AVC_PARTITION_B:
        case BH_AVC_PARTITION_C:
            return BH_AU_CONTINUE;

        default:
            break;                          /* filler, end of stream... */
        }
    }

    return BH_AU_UNKNOWN;
}


int
bh_avc_first_nal(const uint8_t *data, size_t size)
{
    int             type;
    size_t          len;
    bh_annexb_t     it;
    const uint8_t  *nal;

    bh_annexb_init(&it, data, size);

    while (bh_annexb_next(&it, &nal, &len)) {
        type = nal[0] & 0x1f;

        if (type != BH_AVC_AUD) {
            return type;
        }
    }

    return -1;
}


bh_status_t
bh_avc_parse_sps(const uint8_t *nal, size_t size, bh_avc_sps_t *sps)
{
    size_t     n;
    uint8_t    rbsp[BH_MAX_PARAM_SET];
    uint32_t   chroma, poc, i, count, w, h, frame_mbs_only;
    uint32_t   crop[4], unit_x, unit_y;
    bh_bits_t  b;

    memset(sps, 0, sizeof(bh_avc_sps_t));

    if (size < 4 || (nal[0] & 0x1f) != BH_AVC_SPS) {
        return BH_INVALID;
    }

    n = bh_nal_unescape(nal + 1, size - 1, rbsp, sizeof(rbsp));
    bh_bits_init(&b, rbsp, n);

    sps->profile_idc = bh_bits_read(&b, 8);
    sps->constraints = bh_bits_read(&b, 8);
    sps->level_idc = bh_bits_read(&b, 8);
    sps->sps_id = bh_bits_ue(&b);

    if (sps->sps_id > 31) {
        return BH_INVALID;
    }

    chroma = 1;

    switch (sps->profile_idc) {

    case 100: case 110: case 122: case 244: case 44: case 83: case 86:
    case 118: case 128: case 138: case 139: case 134: case 135:

        chroma = bh_bits_ue(&b);

        if (chroma > 3) {
            return BH_INVALID;
        }

        if (chroma == 3 && bh_bits_read(&b, 1)) {
            chroma = 0;                     /* separate colour planes */
        }

        (void) bh_bits_ue(&b);              /* bit_depth_luma_minus8 */
        (void) bh_bits_ue(&b);              /* bit_depth_chroma_minus8 */
        bh_bits_skip(&b, 1);

        if (bh_bits_read(&b, 1)) {          /* seq_scaling_matrix */
            count = (chroma != 3) ? 8 : 12;

            for (i = 0; i < count && !b.overflow; i++) {
                if (bh_bits_read(&b, 1)) {
                    bh_avc_scaling_list(&b, i < 6 ? 16 : 64);
                }
            }
        }

        break;

    default:
        break;
    }

    (void) bh_bits_ue(&b);                  /* log2_max_frame_num_minus4 */

    poc = bh_bits_ue(&b);

    if (poc == 0) {
        (void) bh_bits_ue(&b);

    } else if (poc == 1) {
        bh_bits_skip(&b, 1);
        (void) bh_bits_se(&b);
        (void) bh_bits_se(&b);

        count = bh_bits_ue(&b);

        if (count > 255) {
            return BH_INVALID;
        }

        for (i = 0; i < count && !b.overflow; i++) {
            (void) bh_bits_se(&b);
        }

    } else if (poc != 2) {
        return BH_INVALID;
    }

    (void) bh_bits_ue(&b);                  /* max_num_ref_frames */
    bh_bits_skip(&b, 1);

    w = bh_bits_ue(&b);
    h = bh_bits_ue(&b);

    frame_mbs_only = bh_bits_read(&b, 1);

    if (!frame_mbs_only) {
        bh_bits_skip(&b, 1);
    }

    bh_bits_skip(&b, 1);                    /* direct_8x8_inference */

    memset(crop, 0, sizeof(crop));

    if (bh_bits_read(&b, 1)) {
        for (i = 0; i < 4; i++) {
            crop[i] = bh_bits_ue(&b);
        }
    }

    if (b.overflow || w >= BH_AVC_MAX_SIZE / 16 || h >= BH_AVC_MAX_SIZE / 16)
    {
        return BH_INVALID;
    }

    w = (w + 1) * 16;
    h = (h + 1) * 16 * (2 - frame_mbs_only);

    if (h > BH_AVC_MAX_SIZE) {
        return BH_INVALID;
    }

    if (chroma == 0) {
        unit_x = 1;
        unit_y = 2 - frame_mbs_only;

    } else {
        unit_x = (chroma == 3) ? 1 : 2;
        unit_y = ((chroma == 1) ? 2 : 1) * (2 - frame_mbs_only);
    }

    for (i = 0; i < 4; i++) {
        if (crop[i] > BH_AVC_MAX_SIZE) {
            return BH_INVALID;
        }
    }

    if ((crop[0] + crop[1]) * unit_x >= w
        || (crop[2] + crop[3]) * unit_y >= h)
    {
        return BH_INVALID;
    }

    sps->width = w - (crop[0] + crop[1]) * unit_x;
    sps->height = h - (crop[2] + crop[3]) * unit_y;

    return BH_OK;
}


static void
bh_avc_scaling_list(bh_bits_t *b, unsigned n)
{
    int32_t   last, next;
    unsigned  i;

    last = 8;
    next = 8;

    for (i = 0; i < n && !b->overflow; i++) {
        if (next != 0) {
            next = (last + bh_bits_se(b) + 256) % 256;
        }

        last = (next == 0) ? last : next;
    }
}


bh_status_t
bh_avc_parameter_sets(const uint8_t *data, size_t size, uint8_t *out,
    size_t *len)
{
    unsigned  sps, pps;

    *len = 0;

    (void) bh_avc_collect(data, size, BH_AVC_SPS, BH_MAX_SPS, out, len,
                          &sps);
    (void) bh_avc_collect(data, size, BH_AVC_PPS, BH_MAX_PPS, out, len,
                          &pps);

    return (sps && pps) ? BH_OK : BH_UNSUPPORTED;
}


/* appends the NAL units of one type, the first of each id */

static bh_status_t
bh_avc_collect(const uint8_t *data, size_t size, int type, unsigned max,
    uint8_t *out, size_t *len, unsigned *found)
{
    size_t          nlen, n;
    uint8_t         head[16];
    uint32_t        id, ids[BH_MAX_PPS];
    unsigned        i;
    bh_bits_t       b;
    bh_annexb_t     it;
    const uint8_t  *nal;

    *found = 0;

    bh_annexb_init(&it, data, size);

    while (*found < max && bh_annexb_next(&it, &nal, &nlen)) {

        if ((nal[0] & 0x1f) != type || nlen < 2 || nlen > BH_MAX_PARAM_SET) {
            continue;
        }

        n = bh_nal_unescape(nal + 1, nlen - 1, head, sizeof(head));
        bh_bits_init(&b, head, n);

        if (type == BH_AVC_SPS) {
            bh_bits_skip(&b, 24);           /* profile, flags, level */
        }

        id = bh_bits_ue(&b);

        if (b.overflow || id > 255) {
            continue;
        }

        for (i = 0; i < *found; i++) {
            if (ids[i] == id) {
                break;
            }
        }

        if (i < *found) {
            continue;
        }

        ids[(*found)++] = id;

        memcpy(out + *len, "\0\0\0\1", 4);
        memcpy(out + *len + 4, nal, nlen);
        *len += 4 + nlen;
    }

    return *found ? BH_OK : BH_UNSUPPORTED;
}


bh_status_t
bh_avc_codecs(const uint8_t *extradata, size_t size, char *buf, size_t len,
    bh_avc_sps_t *sps)
{
    size_t          nlen;
    bh_avc_sps_t    tmp;
    bh_annexb_t     it;
    const uint8_t  *nal;

    if (sps == NULL) {
        sps = &tmp;
    }

    memset(sps, 0, sizeof(bh_avc_sps_t));
    nal = NULL;
    nlen = 0;

    if (size >= 8 && extradata[0] == 1) {

        /* avcC: version, profile, compat, level, 0xff, 0xe1, len, SPS */

        if ((extradata[5] & 0x1f) != 0) {
            nlen = ((size_t) extradata[6] << 8) | extradata[7];
            nal = extradata + 8;

            if (nlen > size - 8) {
                nal = NULL;
            }
        }

    } else {
        bh_annexb_init(&it, extradata, size);

        while (bh_annexb_next(&it, &nal, &nlen)) {
            if ((nal[0] & 0x1f) == BH_AVC_SPS) {
                break;
            }

            nal = NULL;
        }
    }

    if (nal == NULL || nlen < 4 || (nal[0] & 0x1f) != BH_AVC_SPS) {
        return BH_INVALID;
    }

    (void) bh_avc_parse_sps(nal, nlen, sps);

    snprintf(buf, len, "avc1.%02x%02x%02x", nal[1], nal[2], nal[3]);

    return BH_OK;
}


static int
bh_avc_leads_with_parameter_sets(const uint8_t *data, size_t size)
{
    return bh_avc_first_nal(data, size) == BH_AVC_SPS;
}


static bh_status_t
bh_avc_describe(const uint8_t *extradata, size_t size, char *codecs,
    size_t len, unsigned *width, unsigned *height)
{
    bh_status_t   st;
    bh_avc_sps_t  sps;

    st = bh_avc_codecs(extradata, size, codecs, len, &sps);

    *width = sps.width;
    *height = sps.height;

    return st;
}
