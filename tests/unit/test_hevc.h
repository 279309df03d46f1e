
/*
 * Unit tests of the H.265 parser: what test_hevc.c and test_hevc_bad.c
 * share (each is a program of its own).
 */


#ifndef _TEST_HEVC_H_INCLUDED_
#define _TEST_HEVC_H_INCLUDED_


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_hevc.h"
#include "tap.h"


/* FIXTURE from the build directory's hevc/ */

static inline uint8_t *
read_file(const char *dir, const char *name, size_t *size)
{
    long      n;
    char      path[1024];
    FILE     *f;
    uint8_t  *data;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        ok(0, "%s: %s", path, strerror(errno));
        return NULL;
    }

    data = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0
        && fseek(f, 0, SEEK_SET) == 0)
    {
        data = malloc(n);

        if (data != NULL && fread(data, 1, n, f) != (size_t) n) {
            free(data);
            data = NULL;
        }

        *size = n;
    }

    fclose(f);

    ok(data != NULL, "%s read", name);

    return data;
}


/* a malloc()ed copy of exactly n bytes, for AddressSanitizer */

static inline uint8_t *
copy_of(const uint8_t *p, size_t n)
{
    uint8_t  *d;

    d = malloc(n ? n : 1);
    if (d == NULL) {
        abort();
    }

    if (n) {
        memcpy(d, p, n);
    }

    return d;
}


static inline int
find_nal(const uint8_t *data, size_t size, unsigned type,
    const uint8_t **nal, size_t *n)
{
    bh_annexb_t  it;

    bh_annexb_init(&it, data, size);

    while (bh_annexb_next(&it, nal, n)) {
        if (*n >= 2 && bh_hevc_nal_type(*nal) == type) {
            return 1;
        }
    }

    return 0;
}


#endif /* _TEST_HEVC_H_INCLUDED_ */
