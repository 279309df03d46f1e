
/*
 * ngx_bar_hls_module media core: reading NAL units (stand-in, see
 * bh_nal.h).
 *
 * The bit reader never reads past its buffer: a read past the end gives
 * zeros and sets the overflow flag, which the parsers check once at the
 * end of what they read.
 */


#include "bh_nal.h"


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
    uint32_t  v, bit;

    v = 0;

    for ( /* void */ ; n > 0; n--) {
        byte = b->pos >> 3;
        bit = 0;

        if (byte < b->size) {
            bit = (b->data[byte] >> (7 - (b->pos & 7))) & 1;
            b->pos++;

        } else {
            b->overflow = 1;
        }

        v = (v << 1) | bit;
    }

    return v;
}


void
bh_bits_skip(bh_bits_t *b, size_t n)
{
    size_t  left;

    left = b->size * 8 - b->pos;

    if (n > left) {
        b->pos = b->size * 8;
        b->overflow = 1;
        return;
    }

    b->pos += n;
}


/* ue(v); more than 31 leading zeros is not a code we accept */

uint32_t
bh_bits_ue(bh_bits_t *b)
{
    unsigned  zeros;
    uint64_t  v;

    for (zeros = 0; bh_bits_read(b, 1) == 0; zeros++) {
        if (b->overflow || zeros == 31) {
            b->overflow = 1;
            return 0;
        }
    }

    v = ((uint64_t) 1 << zeros) - 1 + bh_bits_read(b, zeros);

    return (uint32_t) v;
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
            continue;
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
    if (size >= 3 && data[0] == 0 && data[1] == 0 && data[2] == 1) {
        return 1;
    }

    return size >= 4 && data[0] == 0 && data[1] == 0 && data[2] == 0
           && data[3] == 1;
}


int
bh_annexb_next(bh_annexb_t *it, const uint8_t **nal, size_t *size)
{
    const uint8_t  *p, *end, *start, *stop;

    end = it->end;

    for (p = it->p; end - p >= 3; /* void */ ) {

        if (!(p[0] == 0 && p[1] == 0 && p[2] == 1)) {
            p++;
            continue;
        }

        start = p + 3;

        for (stop = start; end - stop >= 3; stop++) {
            if (stop[0] == 0 && stop[1] == 0 && stop[2] == 1) {
                break;
            }
        }

        if (end - stop < 3) {
            stop = end;
        }

        p = stop;

        /* zeros before the next start code belong to it, not to this */

        while (stop > start && stop[-1] == 0) {
            stop--;
        }

        if (stop > start) {
            it->p = p;
            *nal = start;
            *size = stop - start;
            return 1;
        }
    }

    it->p = end;

    return 0;
}
