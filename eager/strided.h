/*
 * eager/strided.h - the copy loop behind permute, broadcast_to and slice:
 * reading a strided view of a tensor into a contiguous one.
 */
#ifndef EMBER_EAGER_STRIDED_H
#define EMBER_EAGER_STRIDED_H

#include <stddef.h>
#include <stdint.h>

/* Fills the contiguous row-major block dst, of the given shape, with the
 * element of src at offset sum(index[k] * strides[k]) for each index.
 * Strides count elements of `elem` bytes and may be 0 (broadcast) or
 * negative (reversed slices). */
void em__copy_strided(void *dst, const void *src, size_t elem, int ndim,
                      const int64_t *shape, const int64_t *strides);

#endif
