
/*
 * Unit tests of the H.265 parser: what test_hevc.c and test_hevc_bad.c
 * share.
 */


#ifndef _TEST_HEVC_H_INCLUDED_
#define _TEST_HEVC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* a malloc()ed copy of exactly n bytes, for AddressSanitizer */
uint8_t *copy_of(const uint8_t *p, size_t n);

int find_nal(const uint8_t *data, size_t size, unsigned type,
    const uint8_t **nal, size_t *n);

void test_truncated(const uint8_t *nal, size_t size);
void test_flipped(const uint8_t *nal, size_t size);
void test_synthetic(const uint8_t *nal, size_t size);
void test_parameter_sets(const uint8_t *ps, size_t size);
void test_garbage(void);


#endif /* _TEST_HEVC_H_INCLUDED_ */
