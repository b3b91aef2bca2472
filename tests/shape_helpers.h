/*
 * tests/shape_helpers.h - naive index arithmetic shared by the shape and
 * indexing suites: the reference the kernels are checked against.
 */
#ifndef EMBER_TEST_SHAPE_HELPERS_H
#define EMBER_TEST_SHAPE_HELPERS_H

#include <stdlib.h>

#include "internal.h"
#include "testing.h"

/* start, start + 1, ... in any dtype (bool alternates 0 and 1, uint8
 * wraps at 256). */
static inline em_tensor *iota_from(em_dtype dtype, int ndim,
                                   const int64_t *shape, double start)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    void *buf = malloc(em_dtype_size(dtype) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        em__store_f64(buf, dtype, i,
                      dtype == EM_BOOL    ? (double)(i % 2)
                      : dtype == EM_UINT8 ? (double)(i % 256)
                                          : start + (double)i);
    em_tensor *t = em_tensor_from_data(buf, dtype, ndim, shape);
    free(buf);
    return t;
}

static inline em_tensor *iota(em_dtype dtype, int ndim, const int64_t *shape)
{
    return iota_from(dtype, ndim, shape, 0);
}

static inline int64_t count(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* Row-major multi-index of flat position i. */
static inline void unravel(int64_t i, int ndim, const int64_t *shape,
                           int64_t *idx)
{
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
}

static inline int64_t ravel(int ndim, const int64_t *shape, const int64_t *idx)
{
    int64_t i = 0;
    for (int d = 0; d < ndim; d++)
        i = i * shape[d] + idx[d];
    return i;
}

/* All of x's values as doubles (caller frees). */
static inline double *values_of(const em_tensor *x)
{
    int64_t n = em_tensor_size(x);
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    em_tensor_copy_to(x, v, EM_FLOAT64, sizeof(double) * (size_t)n);
    return v;
}

#endif
