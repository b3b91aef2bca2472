/*
 * eager/ops_compare.c - comparisons and logical ops of two inputs: CPU
 * kernels and public wrappers. Their shape rules and the broadcast
 * iteration live in eager/ops_binary.c.
 *
 * Every kernel here maps [...] op [...] -> bool[broadcast], for operands
 * of any one dtype (the public wrappers promote). Bool elements are read as
 * bytes, so any non-zero byte counts as true.
 */
#include "elementwise.h"

/* clang-format off */
/* One kernel over all six dtypes; EXPR sees operands `a` and `b`. */
#define BOOL_RESULT_OP(op, EXPR)                                             \
    EM__BINARY_LOOPS(op##_b, uint8_t, uint8_t, bool, EXPR)                   \
    EM__BINARY_LOOPS(op##_u8, uint8_t, uint8_t, bool, EXPR)                  \
    EM__BINARY_LOOPS(op##_i32, int32_t, uint32_t, bool, EXPR)                \
    EM__BINARY_LOOPS(op##_i64, int64_t, uint64_t, bool, EXPR)                \
    EM__BINARY_LOOPS(op##_f32, float, float, bool, EXPR)                     \
    EM__BINARY_LOOPS(op##_f64, double, double, bool, EXPR)                   \
    static const em__binary_loops op##_loops[EM_DTYPE_COUNT] = {             \
        [EM_BOOL] = EM__LOOPS(op##_b),                                       \
        [EM_UINT8] = EM__LOOPS(op##_u8),                                     \
        [EM_INT32] = EM__LOOPS(op##_i32),                                    \
        [EM_INT64] = EM__LOOPS(op##_i64),                                    \
        [EM_FLOAT32] = EM__LOOPS(op##_f32),                                  \
        [EM_FLOAT64] = EM__LOOPS(op##_f64),                                  \
    };                                                                       \
    EM__KERNEL(op)                                                           \
    {                                                                        \
        return em__run_binary(op##_loops, out, in[0], in[1], msg, size);     \
    }

#define TRUTH(x) ((x) != 0)

BOOL_RESULT_OP(equal, a == b)
BOOL_RESULT_OP(not_equal, a != b)
BOOL_RESULT_OP(less, a < b)
BOOL_RESULT_OP(less_equal, a <= b)
BOOL_RESULT_OP(greater, a > b)
BOOL_RESULT_OP(greater_equal, a >= b)
BOOL_RESULT_OP(logical_and, TRUTH(a) & TRUTH(b))
BOOL_RESULT_OP(logical_or, TRUTH(a) | TRUTH(b))

/* clang-format on */

/* ---- public wrappers ------------------------------------------------------*/

em_tensor *em_equal(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_EQUAL, a, b, false);
}

em_tensor *em_not_equal(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_NOT_EQUAL, a, b, false);
}

em_tensor *em_less(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_LESS, a, b, false);
}

em_tensor *em_less_equal(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_LESS_EQUAL, a, b, false);
}

em_tensor *em_greater(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_GREATER, a, b, false);
}

em_tensor *em_greater_equal(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_GREATER_EQUAL, a, b, false);
}

em_tensor *em_logical_and(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_LOGICAL_AND, a, b, false);
}

em_tensor *em_logical_or(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_LOGICAL_OR, a, b, false);
}
