/*
 * eager/elementwise.h - what the broadcasting op files share: binary loop
 * tables, the broadcast iteration plan and the promoting dispatch.
 */
#ifndef EMBER_EAGER_ELEMENTWISE_H
#define EMBER_EAGER_ELEMENTWISE_H

#include "kernels.h"

/* out[i] = f(a[i], b[i]) over n elements. Three variants, so each inner
 * loop has fixed strides and vectorises: both operands vary (vv), a is one
 * element (sv), b is one element (vs). */
typedef void (*em__binary_loop)(void *restrict out, const void *restrict a,
                                const void *restrict b, int64_t n);
typedef struct em__binary_loops {
    em__binary_loop vv, sv, vs;
} em__binary_loops;

/* clang-format off */
/* EM__BINARY_LOOPS stamps the three variants of one loop. EXPR sees the
 * operands `a` and `b` of C type T, and the local type names `scalar` (T)
 * and `uscalar` (UT: the unsigned type of T's width, for wrap-around
 * integer arithmetic). TO is the output type. */
#define EM__BINARY_LOOPS(name, T, UT, TO, EXPR)                              \
    static void name##_vv(void *restrict out_, const void *restrict a_,      \
                          const void *restrict b_, int64_t n)                \
    {                                                                        \
        typedef T scalar __attribute__((unused));                            \
        typedef UT uscalar __attribute__((unused));                          \
        TO *restrict out = out_;                                             \
        const T *restrict pa = a_, *restrict pb = b_;                        \
        for (int64_t i = 0; i < n; i++) {                                    \
            T a = pa[i], b = pb[i];                                          \
            out[i] = (TO)(EXPR);                                             \
        }                                                                    \
    }                                                                        \
    static void name##_sv(void *restrict out_, const void *restrict a_,      \
                          const void *restrict b_, int64_t n)                \
    {                                                                        \
        typedef T scalar __attribute__((unused));                            \
        typedef UT uscalar __attribute__((unused));                          \
        TO *restrict out = out_;                                             \
        const T a = *(const T *)a_;                                          \
        const T *restrict pb = b_;                                           \
        for (int64_t i = 0; i < n; i++) {                                    \
            T b = pb[i];                                                     \
            out[i] = (TO)(EXPR);                                             \
        }                                                                    \
    }                                                                        \
    static void name##_vs(void *restrict out_, const void *restrict a_,      \
                          const void *restrict b_, int64_t n)                \
    {                                                                        \
        typedef T scalar __attribute__((unused));                            \
        typedef UT uscalar __attribute__((unused));                          \
        TO *restrict out = out_;                                             \
        const T *restrict pa = a_;                                           \
        const T b = *(const T *)b_;                                          \
        for (int64_t i = 0; i < n; i++) {                                    \
            T a = pa[i];                                                     \
            out[i] = (TO)(EXPR);                                             \
        }                                                                    \
    }

#define EM__LOOPS(name) {name##_vv, name##_sv, name##_vs}

/* clang-format on */

/* The iteration plan of a broadcasting op: out's shape with size-1
 * dimensions dropped and contiguous runs merged, and each input's element
 * strides over it (0 where the input is broadcast). The last dimension is
 * the inner loop; there every stride is 0 or 1. */
#define EM__PLAN_INPUTS 3
typedef struct em__plan {
    int ndim;
    int n;
    int64_t shape[EM_MAX_DIMS];
    int64_t strides[EM__PLAN_INPUTS][EM_MAX_DIMS];
} em__plan;

/* Builds the plan for n inputs (n <= EM__PLAN_INPUTS) broadcast to out. An
 * empty or one-element out gives ndim 1. */
void em__plan_make(em__plan *plan, const em__type *out, int n,
                   const em__type *const *in);

/* Moves the element offsets (EM__PLAN_INPUTS entries) to the next inner
 * run: an odometer over the plan's outer dimensions (all but the last). */
static inline void em__plan_next(const em__plan *plan, int64_t *index,
                                 int64_t *offsets)
{
    for (int d = plan->ndim - 2; d >= 0; d--) {
        index[d]++;
        for (int k = 0; k < plan->n && k < EM__PLAN_INPUTS; k++)
            offsets[k] += plan->strides[k][d];
        if (index[d] < plan->shape[d])
            return;
        for (int k = 0; k < plan->n && k < EM__PLAN_INPUTS; k++)
            offsets[k] -= plan->strides[k][d] * plan->shape[d];
        index[d] = 0;
    }
}

/* Runs a binary kernel from its table (indexed by the operands' dtype). */
bool em__run_binary(const em__binary_loops *table, em_tensor *out,
                    const em_tensor *a, const em_tensor *b, char *msg,
                    size_t size);

/* Dispatches a binary op after converting a and b to their promoted dtype,
 * or to float32 when `float_only` and that dtype is not a float. */
em_tensor *em__binary_promoted(em__op op, em_tensor *a, em_tensor *b,
                               bool float_only);

#endif
