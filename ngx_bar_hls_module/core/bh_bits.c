
/*
 * ngx_bar_hls_module media core: reading NAL units, for H.264 and H.265.
 *
 * A bit reader that never reads past its buffer (reads past the end give
 * zeros and set the overflow flag), Exp-Golomb codes, emulation
 * prevention removal and Annex B start code scanning.
 */


#include <string.h>

#include "bh_codec.h"


void
bh_bits_init(bh_bits_t *b, const uint8_t *data, size_t size)
{
    b->data = data;
    b->size = size;
    b->pos = 0;
    b->overflow = 0;
}


uint32_t
bh_bits_read(bh_bits_t *b, unsigned n)
{
    size_t    byte;
    uint32_t  v;

    v = 0;

    while (n--) {
        byte = b->pos >> 3;

        if (byte >= b->size) {
            b->overflow = 1;
            v <<= 1;
            continue;
        }

        v = (v << 1) | ((b->data[byte] >> (7 - (b->pos & 7))) & 1);
        b->pos++;
    }

    return v;
}


void
bh_bits_skip(bh_bits_t *b, size_t n)
{
    if (n > b->size * 8 - b->pos) {
        b->pos = b->size * 8;
        b->overflow = 1;
        return;
    }

    b->pos += n;
}


/* ue(v): at most 31 leading zeros, or the code is malformed */

uint32_t
bh_bits_ue(bh_bits_t *b)
{
    unsigned  zeros;

    zeros = 0;

    while (bh_bits_read(b, 1) == 0) {
        if (b->overflow || ++zeros > 31) {
            b->overflow = 1;
            return 0;
        }
    }

    if (zeros == 0) {
        return 0;
    }

    return (uint32_t) ((((uint64_t) 1 << zeros) - 1)
                       + bh_bits_read(b, zeros));
}


int32_t
bh_bits_se(bh_bits_t *b)
{
    uint32_t  v;

    v = bh_bits_ue(b);

    if (v & 1) {
        return (int32_t) ((v >> 1) + 1);
    }

    return -(int32_t) (v >> 1);
}


size_t
bh_nal_unescape(const uint8_t *nal, size_t size, uint8_t *buf, size_t len)
{
    size_t    i, n;
    unsigned  zeros;

    n = 0;
    zeros = 0;

    for (i = 0; i < size && n < len; i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;                       /* emulation prevention */
        }

        zeros = (nal[i] == 0) ? zeros + 1 : 0;
        buf[n++] = nal[i];
    }

    return n;
}


void
bh_annexb_init(bh_annexb_t *it, const uint8_t *data, size_t size)
{
    it->p = data;
    it->end = data + size;
}


int
bh_annexb_starts(const uint8_t *data, size_t size)
{
    return (size >= 3 && data[0] == 0 && data[1] == 0 && data[2] == 1)
           || (size >= 4 && data[0] == 0 && data[1] == 0 && data[2] == 0
               && data[3] == 1);
}


int
bh_annexb_next(bh_annexb_t *it, const uint8_t **nal, size_t *size)
{
    const uint8_t  *p, *end, *start, *next;

    p = it->p;
    end = it->end;

    for ( ;; ) {

        /* the next start code */

        while (end - p >= 3 && !(p[0] == 0 && p[1] == 0 && p[2] == 1)) {
            p++;
        }

        if (end - p < 3) {
            it->p = end;
            return 0;
        }

        start = p + 3;
        next = start;

        while (end - next >= 3
               && !(next[0] == 0 && next[1] == 0 && next[2] == 1))
        {
            next++;
        }

        if (end - next < 3) {
            next = end;
        }

        it->p = next;
        p = next;

        /* the zeros before the next start code are not the NAL's */

        while (next > start && next[-1] == 0) {
            next--;
        }

        if (next > start) {
            *nal = start;
            *size = next - start;
            return 1;
        }
    }
}
