
/*
 * ngx_bar_hls_module media core: reading NAL units.
 *
 * A stand-in, with the same names and signatures, for the bit reader and
 * Annex B iterator that core/bh_codec.h and core/bh_bits.c bring with
 * the H.264 parser: bh_hevc.c uses only these, so that this file and
 * bh_nal.c are deleted, and bh_hevc.h includes bh_codec.h instead, once
 * those are on main.
 */


#ifndef _BH_NAL_H_INCLUDED_
#define _BH_NAL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


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

/*
 * Copies a NAL unit to buf without its emulation prevention bytes
 * (00 00 03), at most len bytes; returns the length written.
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


#endif /* _BH_NAL_H_INCLUDED_ */
