
/*
 * ngx_bar_hls_module media core: parsing of the camera's video bytes.
 *
 * Everything here reads untrusted input: each function takes the length
 * of what it reads, never reads past it, and never trusts a length or a
 * count found inside the data.  Fuzzed by fuzz/fuzz_avc.c.
 */


#ifndef _BH_CODEC_H_INCLUDED_
#define _BH_CODEC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bh_media.h"


/* the longest parameter set we keep, and how many of each kind */
#define BH_MAX_PARAM_SET        1024
#define BH_MAX_SPS              4
#define BH_MAX_PPS              16
#define BH_MAX_EXTRADATA        (4 + (BH_MAX_SPS + BH_MAX_PPS)                \
                                     * (4 + BH_MAX_PARAM_SET))


/* a bit reader over an RBSP (emulation prevention bytes removed) */

typedef struct {
    const uint8_t      *data;
    size_t              size;           /* bytes */
    size_t              pos;            /* bits */
    unsigned            overflow:1;     /* read past the end */
} bh_bits_t;


void bh_bits_init(bh_bits_t *b, const uint8_t *data, size_t size);
uint32_t bh_bits_read(bh_bits_t *b, unsigned n);    /* n <= 32 */
void bh_bits_skip(bh_bits_t *b, size_t n);
uint32_t bh_bits_ue(bh_bits_t *b);                  /* Exp-Golomb */
int32_t bh_bits_se(bh_bits_t *b);

/*
 * Copies a NAL unit's payload to buf without its emulation prevention
 * bytes (00 00 03), at most len bytes; returns the length written.
 */
size_t bh_nal_unescape(const uint8_t *nal, size_t size, uint8_t *buf,
    size_t len);


/* Annex B: NAL units after 00 00 01 or 00 00 00 01 start codes */

typedef struct {
    const uint8_t      *p;              /* where the next search starts */
    const uint8_t      *end;
} bh_annexb_t;


void bh_annexb_init(bh_annexb_t *it, const uint8_t *data, size_t size);

/* the next NAL unit, without its start code and trailing zeros; 0: none */
int bh_annexb_next(bh_annexb_t *it, const uint8_t **nal, size_t *size);

/* does data begin with a start code? */
int bh_annexb_starts(const uint8_t *data, size_t size);


/* where a packet lies in the access unit (the picture) it belongs to */

typedef enum {
    BH_AU_UNKNOWN = 0,      /* no slice and no boundary NAL seen */
    BH_AU_START,            /* begins a new access unit */
    BH_AU_CONTINUE          /* more slices, or the rest of a NAL unit */
} bh_au_t;


/* H.264 (ISO/IEC 14496-10, RFC 6184) */

typedef struct {
    unsigned            profile_idc;
    unsigned            constraints;    /* constraint_set flags byte */
    unsigned            level_idc;
    unsigned            sps_id;
    unsigned            width;          /* after cropping; 0: unknown */
    unsigned            height;
} bh_avc_sps_t;


/* what a packet of Annex B NAL units is, relative to the previous one */
bh_au_t bh_avc_au(const uint8_t *data, size_t size);

/* the type of the first NAL unit other than an access unit delimiter */
int bh_avc_first_nal(const uint8_t *data, size_t size);

/* parses an SPS NAL unit (with its one-byte header) */
bh_status_t bh_avc_parse_sps(const uint8_t *nal, size_t size,
    bh_avc_sps_t *sps);

/*
 * Collects the SPS and PPS of data (Annex B) into out as Annex B with
 * four-byte start codes: the first of each id, at most BH_MAX_SPS and
 * BH_MAX_PPS, none longer than BH_MAX_PARAM_SET; *len is set to the
 * length written (out has room for BH_MAX_EXTRADATA bytes).  BH_OK needs
 * at least one SPS and one PPS.
 */
bh_status_t bh_avc_parameter_sets(const uint8_t *data, size_t size,
    uint8_t *out, size_t *len);

/* "avc1.PPCCLL" from the first SPS of Annex B or avcC extradata */
bh_status_t bh_avc_codecs(const uint8_t *extradata, size_t size,
    char *buf, size_t len, bh_avc_sps_t *sps);


/* what the segmenter needs of a video codec */

typedef struct {
    const char         *name;

    /* where a packet lies in its access unit */
    bh_au_t           (*au)(const uint8_t *data, size_t size);

    /* does the packet start with its parameter sets (after any AUD)? */
    int               (*leads_with_parameter_sets)(const uint8_t *data,
                                                   size_t size);

    /* parameter sets of a keyframe as Annex B extradata, see above */
    bh_status_t       (*parameter_sets)(const uint8_t *data, size_t size,
                                        uint8_t *out, size_t *len);

    /* RFC 6381 CODECS and the picture size from extradata */
    bh_status_t       (*describe)(const uint8_t *extradata, size_t size,
                                  char *codecs, size_t len, unsigned *width,
                                  unsigned *height);
} bh_video_codec_t;


extern const bh_video_codec_t  bh_avc_codec;


#endif /* _BH_CODEC_H_INCLUDED_ */
