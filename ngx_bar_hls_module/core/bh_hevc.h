
/*
 * ngx_bar_hls_module media core: parsing of H.265/HEVC bytes (ITU-T
 * H.265, ISO/IEC 14496-15 for hvcC and the CODECS string, RFC 7798).
 *
 * Everything here reads untrusted input: each function takes the length
 * of what it reads, never reads past it, and never trusts a length or a
 * count found inside the data.  Fuzzed by fuzz/fuzz_hevc.c.
 */


#ifndef _BH_HEVC_H_INCLUDED_
#define _BH_HEVC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bh_media.h"
#include "bh_codec.h"


/* NAL unit types (H.265 table 7-1) */

#define BH_HEVC_BLA_W_LP        16
#define BH_HEVC_IDR_W_RADL      19
#define BH_HEVC_IDR_N_LP        20
#define BH_HEVC_CRA             21
#define BH_HEVC_IRAP_LAST       23      /* 22, 23: reserved IRAP */
#define BH_HEVC_VCL_LAST        31
#define BH_HEVC_VPS             32
#define BH_HEVC_SPS             33
#define BH_HEVC_PPS             34
#define BH_HEVC_AUD             35
#define BH_HEVC_PREFIX_SEI      39

#define bh_hevc_nal_type(nal)   (((nal)[0] >> 1) & 0x3f)
#define bh_hevc_layer_id(nal)   ((((nal)[0] & 1) << 5) | ((nal)[1] >> 3))


/* what we keep: the longest parameter set, and how many of each kind */

#define BH_HEVC_MAX_PARAM_SET   1024
#define BH_HEVC_MAX_VPS         2
#define BH_HEVC_MAX_SPS         4
#define BH_HEVC_MAX_PPS         16
#define BH_HEVC_MAX_EXTRADATA   ((BH_HEVC_MAX_VPS + BH_HEVC_MAX_SPS           \
                                  + BH_HEVC_MAX_PPS)                          \
                                 * (4 + BH_HEVC_MAX_PARAM_SET))

/* "hvc1.C31.FFFFFFFF.H255.FF.FF.FF.FF.FF.FF" and its NUL */
#define BH_HEVC_CODECS_LEN      41


typedef struct {
    unsigned            profile_space;  /* 0..3 */
    unsigned            tier;           /* 0: Main, 1: High */
    unsigned            profile_idc;    /* 1: Main, 2: Main 10, ... */
    uint32_t            compatibility;  /* flag[0] in the top bit */
    uint8_t             constraints[6]; /* from progressive_source_flag */
    unsigned            level_idc;      /* 30 x level: 93 is 3.1 */
    unsigned            sps_id;
    unsigned            max_sub_layers; /* 1..7 */
    unsigned            temporal_id_nesting;
    unsigned            chroma_format_idc;
    unsigned            bit_depth_luma;
    unsigned            bit_depth_chroma;
    unsigned            width;          /* after cropping */
    unsigned            height;
} bh_hevc_sps_t;


/*
 * The next NAL unit of the base layer with its header and a byte more;
 * the others (scalable and multiview layers, the forbidden bit set) are
 * skipped.  0: none.
 */
int bh_hevc_next(bh_annexb_t *it, const uint8_t **nal, size_t *size);

/* is the NAL unit type that of an IRAP picture (BLA, IDR, CRA)? */
int bh_hevc_irap_type(unsigned type);

/* does data (Annex B) hold a slice of an IRAP picture of the base layer? */
int bh_hevc_irap(const uint8_t *data, size_t size);

/* what a packet of Annex B NAL units is, relative to the previous one */
bh_au_t bh_hevc_au(const uint8_t *data, size_t size);

/* the type of the first NAL unit other than an access unit delimiter */
int bh_hevc_first_nal(const uint8_t *data, size_t size);

/* parses an SPS NAL unit (with its two-byte header) */
bh_status_t bh_hevc_parse_sps(const uint8_t *nal, size_t size,
    bh_hevc_sps_t *sps);

/*
 * Collects the VPS, SPS and PPS of data (Annex B) into out (cap bytes)
 * as Annex B with four-byte start codes, in that order: the first of
 * each id, at most BH_HEVC_MAX_VPS, _SPS and _PPS, none longer than
 * BH_HEVC_MAX_PARAM_SET, all of the base layer; *len is the length
 * written.  BH_OK needs at least one of each kind, BH_NOSPACE says that
 * cap was too small.
 */
bh_status_t bh_hevc_parameter_sets(const uint8_t *data, size_t size,
    uint8_t *out, size_t cap, size_t *len);

/* the first SPS NAL unit of Annex B or hvcC extradata */
bh_status_t bh_hevc_find_sps(const uint8_t *extradata, size_t size,
    const uint8_t **nal, size_t *nal_size);

/* "hvc1.1.6.L93.B0" (ISO/IEC 14496-15 E.3) for the SPS */
size_t bh_hevc_codecs_string(const bh_hevc_sps_t *sps, char *buf,
    size_t len);

/* the CODECS string of the first SPS of Annex B or hvcC extradata */
bh_status_t bh_hevc_codecs(const uint8_t *extradata, size_t size,
    char *buf, size_t len, bh_hevc_sps_t *sps);


/* CODECS and the picture size, as bh_video_codec_t's describe */
bh_status_t bh_hevc_describe(const uint8_t *extradata, size_t size,
    char *codecs, size_t len, unsigned *width, unsigned *height);


/* for the segmenter (bh_codec.h) */
extern const bh_video_codec_t  bh_hevc_codec;


#endif /* _BH_HEVC_H_INCLUDED_ */
