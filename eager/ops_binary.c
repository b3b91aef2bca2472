/*
 * eager/ops_binary.c - broadcasting arithmetic (add, sub, mul, div, pow,
 * maximum, minimum) and where: shape rules, CPU kernels, the broadcast
 * iteration they share with the comparisons (eager/ops_compare.c), and the
 * public wrappers.
 *
 * Kernels see operands of one dtype: the public wrappers promote first.
 * The fast paths, in order: equal sizes (one flat loop), one operand a
 * single element, then the general plan, whose inner loop runs over the
 * last merged dimension; the common [m, n] op [n] bias case is m calls of
 * the flat loop.
 */
#include <math.h>
#include <string.h>
#include <tgmath.h>

#include "elementwise.h"

/* ---- shape rules ----------------------------------------------------------*/

static void shape_text(const em__type *t, char *buf, size_t size)
{
    em_shape_format(t->ndim, t->shape, buf, size);
}

/* Same dtype and broadcastable shapes; out gets the broadcast shape and a's
 * dtype. */
static bool broadcast_pair(const em__type *a, const em__type *b, em__type *out,
                           char *msg, size_t size)
{
    if (a->dtype != b->dtype) {
        snprintf(msg, size, "dtypes differ: %s vs %s", em_dtype_name(a->dtype),
                 em_dtype_name(b->dtype));
        return false;
    }
    if (em__type_equal_shape(a, b)) {
        *out = *a;
        return true;
    }
    memset(out, 0, sizeof *out);
    if (!em__broadcast_shape(a, b, out)) {
        char sa[160], sb[160];
        shape_text(a, sa, sizeof sa);
        shape_text(b, sb, sizeof sb);
        snprintf(msg, size, "shapes do not broadcast: %s vs %s", sa, sb);
        return false;
    }
    out->dtype = a->dtype;
    return true;
}

/* [...] op [...] -> [broadcast], one non-bool dtype. */
EM__INFER(binary_arith)
{
    if (in[0]->dtype == EM_BOOL && in[1]->dtype == EM_BOOL) {
        snprintf(msg, size,
                 "arithmetic on bool tensors; use logical_and, "
                 "logical_or or logical_not");
        return false;
    }
    return broadcast_pair(in[0], in[1], out, msg, size);
}

/* Comparisons: [...] op [...] -> bool[broadcast]. */
EM__INFER(binary_compare)
{
    if (!broadcast_pair(in[0], in[1], out, msg, size))
        return false;
    out->dtype = EM_BOOL;
    return true;
}

/* Logical ops: [...] op [...] -> bool[broadcast], any one dtype. */
EM__INFER(binary_logical)
{
    if (!broadcast_pair(in[0], in[1], out, msg, size))
        return false;
    out->dtype = EM_BOOL;
    return true;
}

/* where: bool[c] x T[a] x T[b] -> T[broadcast of all three]. */
EM__INFER(where)
{
    if (in[0]->dtype != EM_BOOL) {
        snprintf(msg, size, "condition must be bool, got %s",
                 em_dtype_name(in[0]->dtype));
        return false;
    }
    if (in[1]->dtype != in[2]->dtype) {
        snprintf(msg, size, "branches differ in dtype: %s vs %s",
                 em_dtype_name(in[1]->dtype), em_dtype_name(in[2]->dtype));
        return false;
    }
    em__type ab;
    memset(out, 0, sizeof *out);
    if (!em__broadcast_shape(in[1], in[2], &ab) ||
        !em__broadcast_shape(in[0], &ab, out)) {
        char sc[160], sa[160], sb[160];
        shape_text(in[0], sc, sizeof sc);
        shape_text(in[1], sa, sizeof sa);
        shape_text(in[2], sb, sizeof sb);
        snprintf(msg, size, "shapes do not broadcast: %s vs %s vs %s", sc, sa,
                 sb);
        return false;
    }
    out->dtype = in[1]->dtype;
    return true;
}

/* ---- broadcast iteration --------------------------------------------------*/

void em__plan_make(em__plan *plan, const em__type *out, int n,
                   const em__type *const *in)
{
    int64_t strides[EM__PLAN_INPUTS][EM_MAX_DIMS];
    for (int k = 0; k < n; k++)
        em__broadcast_strides(in[k], out, strides[k]);

    memset(plan, 0, sizeof *plan);
    plan->n = n;
    for (int d = 0; d < out->ndim; d++) {
        int64_t extent = out->shape[d];
        if (extent == 1)
            continue;
        int last = plan->ndim - 1;
        bool merge = last >= 0;
        for (int k = 0; k < n && merge; k++)
            merge = plan->strides[k][last] == strides[k][d] * extent;
        if (merge) {
            plan->shape[last] *= extent;
            for (int k = 0; k < n; k++)
                plan->strides[k][last] = strides[k][d];
            continue;
        }
        plan->shape[plan->ndim] = extent;
        for (int k = 0; k < n; k++)
            plan->strides[k][plan->ndim] = strides[k][d];
        plan->ndim++;
    }
    if (plan->ndim == 0) {
        /* One element: every input is read at offset 0. */
        plan->ndim = 1;
        plan->shape[0] = 1;
        for (int k = 0; k < n; k++)
            plan->strides[k][0] = 1;
    }
}

static void run_binary_plan(const em__binary_loops *loops, em_tensor *out,
                            const em_tensor *a, const em_tensor *b)
{
    em__plan plan;
    const em__type *types[2] = {&a->type, &b->type};
    em__plan_make(&plan, &out->type, 2, types);

    int last = plan.ndim - 1;
    int64_t inner = plan.shape[last];
    em__binary_loop loop = loops->vv;
    if (plan.strides[0][last] == 0)
        loop = loops->sv;
    else if (plan.strides[1][last] == 0)
        loop = loops->vs;

    size_t in_bytes = em_dtype_size(a->type.dtype);
    size_t out_bytes = em_dtype_size(out->type.dtype);
    char *po = out->data;
    const char *pa = a->data, *pb = b->data;
    int64_t index[EM_MAX_DIMS] = {0}, offsets[EM__PLAN_INPUTS] = {0};
    for (int64_t done = 0; done < out->size; done += inner) {
        loop(po + (size_t)done * out_bytes, pa + (size_t)offsets[0] * in_bytes,
             pb + (size_t)offsets[1] * in_bytes, inner);
        em__plan_next(&plan, index, offsets);
    }
}

bool em__run_binary(const em__binary_loops *table, em_tensor *out,
                    const em_tensor *a, const em_tensor *b, char *msg,
                    size_t size)
{
    const em__binary_loops *loops = &table[a->type.dtype];
    if (!loops->vv) {
        snprintf(msg, size, "no CPU kernel for %s",
                 em_dtype_name(a->type.dtype));
        return false;
    }
    int64_t n = out->size;
    if (n == 0)
        return true;
    /* An operand with as many elements as out has out's layout. */
    if (a->size == n && b->size == n)
        loops->vv(out->data, a->data, b->data, n);
    else if (b->size == 1)
        loops->vs(out->data, a->data, b->data, n);
    else if (a->size == 1)
        loops->sv(out->data, a->data, b->data, n);
    else
        run_binary_plan(loops, out, a, b);
    return true;
}

/* ---- arithmetic kernels -----------------------------------------------------
 * [...] op [...] -> [broadcast]. Signed integers compute in their unsigned
 * type so that overflow wraps instead of being undefined behaviour. */

/* clang-format off */
#define ARITH_OP(op, EXPR_U8, EXPR_INT, EXPR_FLOAT)                          \
    EM__BINARY_LOOPS(op##_u8, uint8_t, uint8_t, uint8_t, EXPR_U8)            \
    EM__BINARY_LOOPS(op##_i32, int32_t, uint32_t, int32_t, EXPR_INT)         \
    EM__BINARY_LOOPS(op##_i64, int64_t, uint64_t, int64_t, EXPR_INT)         \
    EM__BINARY_LOOPS(op##_f32, float, float, float, EXPR_FLOAT)              \
    EM__BINARY_LOOPS(op##_f64, double, double, double, EXPR_FLOAT)           \
    static const em__binary_loops op##_loops[EM_DTYPE_COUNT] = {             \
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

ARITH_OP(add, a + b, (uscalar)a + (uscalar)b, a + b)
ARITH_OP(sub, a - b, (uscalar)a - (uscalar)b, a - b)
ARITH_OP(mul, a * b, (uscalar)a * (uscalar)b, a * b)
/* Integer division truncates; x / 0 gives 0 and MIN / -1 wraps to MIN,
 * where C would leave both undefined. */
ARITH_OP(div, b == 0 ? 0 : a / b,
         b == 0 ? 0 : (b == -1 ? 0 - (uscalar)a : (uscalar)(a / b)), a / b)
/* NaN in either operand gives NaN, as in NumPy. */
ARITH_OP(maximum, a > b ? a : b, a > b ? a : b,
         (a > b || isnan(a)) ? a : b)
ARITH_OP(minimum, a < b ? a : b, a < b ? a : b,
         (a < b || isnan(a)) ? a : b)

/* Float operands only: the public op converts integers to float32. */
EM__BINARY_LOOPS(pow_f32, float, float, float, pow(a, b))
EM__BINARY_LOOPS(pow_f64, double, double, double, pow(a, b))
static const em__binary_loops pow_loops[EM_DTYPE_COUNT] = {
    [EM_FLOAT32] = EM__LOOPS(pow_f32),
    [EM_FLOAT64] = EM__LOOPS(pow_f64),
};
/* clang-format on */
EM__KERNEL(pow)
{
    return em__run_binary(pow_loops, out, in[0], in[1], msg, size);
}

/* ---- where ------------------------------------------------------------------
 * bool[c] x T[a] x T[b] -> T[broadcast]. Only the element size matters, so
 * one loop per size serves every dtype. The condition is read as bytes (any
 * non-zero byte is true) and turned into a bit mask: both branches are
 * loaded unconditionally, which lets the compiler vectorise the select. */

/* One inner run, each stride 0 (a broadcast operand) or 1. The switch
 * calls the always-inlined body with constant strides, so that each of the
 * eight combinations compiles to its own vectorised loop. */
/* clang-format off */
#define WHERE_ROW(name, T)                                                   \
    static inline __attribute__((always_inline)) void name##_body(          \
        T *restrict out, const uint8_t *restrict c, const T *restrict a,    \
        const T *restrict b, int64_t n, int64_t sc, int64_t sa, int64_t sb) \
    {                                                                        \
        for (int64_t i = 0; i < n; i++) {                                    \
            T mask = (T)0 - (T)(c[i * sc] != 0);                             \
            out[i] = (a[i * sa] & mask) | (b[i * sb] & ~mask);               \
        }                                                                    \
    }                                                                        \
    static void name(void *out, const uint8_t *c, const void *a,            \
                     const void *b, int64_t n, const int64_t *s)            \
    {                                                                        \
        switch (s[0] * 4 + s[1] * 2 + s[2]) {                                \
        case 7: name##_body(out, c, a, b, n, 1, 1, 1); break;                \
        case 6: name##_body(out, c, a, b, n, 1, 1, 0); break;                \
        case 5: name##_body(out, c, a, b, n, 1, 0, 1); break;                \
        case 4: name##_body(out, c, a, b, n, 1, 0, 0); break;                \
        case 3: name##_body(out, c, a, b, n, 0, 1, 1); break;                \
        case 2: name##_body(out, c, a, b, n, 0, 1, 0); break;                \
        case 1: name##_body(out, c, a, b, n, 0, 0, 1); break;                \
        default: name##_body(out, c, a, b, n, 0, 0, 0); break;               \
        }                                                                    \
    }

WHERE_ROW(where_row8, uint8_t)
WHERE_ROW(where_row32, uint32_t)
WHERE_ROW(where_row64, uint64_t)

/* clang-format on */

typedef void (*where_row_fn)(void *out, const uint8_t *c, const void *a,
                             const void *b, int64_t n, const int64_t *s);

EM__KERNEL(where)
{
    const em_tensor *c = in[0], *a = in[1], *b = in[2];
    size_t bytes = em_dtype_size(out->type.dtype);
    where_row_fn row = bytes == 1   ? where_row8
                       : bytes == 4 ? where_row32
                                    : where_row64;
    int64_t count = out->size;
    if (count == 0)
        return true;

    if (c->size == count && a->size == count && b->size == count) {
        static const int64_t dense[3] = {1, 1, 1};
        row(out->data, c->data, a->data, b->data, count, dense);
        return true;
    }

    em__plan plan;
    const em__type *types[3] = {&c->type, &a->type, &b->type};
    em__plan_make(&plan, &out->type, 3, types);
    int last = plan.ndim - 1;
    int64_t inner = plan.shape[last];
    int64_t inner_strides[3] = {plan.strides[0][last], plan.strides[1][last],
                                plan.strides[2][last]};
    char *po = out->data;
    const uint8_t *pc = c->data;
    const char *pa = a->data, *pb = b->data;
    int64_t index[EM_MAX_DIMS] = {0}, offsets[EM__PLAN_INPUTS] = {0};
    for (int64_t done = 0; done < count; done += inner) {
        row(po + (size_t)done * bytes, pc + offsets[0],
            pa + (size_t)offsets[1] * bytes, pb + (size_t)offsets[2] * bytes,
            inner, inner_strides);
        em__plan_next(&plan, index, offsets);
    }
    return true;
}

/* ---- public wrappers ------------------------------------------------------*/

/* The message for operands that do not broadcast, naming the caller's
 * dtypes rather than the promoted ones. */
static bool check_broadcast(em__op op, int n, em_tensor *const *in)
{
    em__type shape = in[0]->type;
    for (int i = 1; i < n; i++) {
        em__type next;
        if (em__broadcast_shape(&shape, &in[i]->type, &next)) {
            shape = next;
            continue;
        }
        char text[480] = "shapes do not broadcast:";
        size_t used = strlen(text);
        for (int k = 0; k < n; k++) {
            char s[160];
            shape_text(&in[k]->type, s, sizeof s);
            used += (size_t)snprintf(text + used, sizeof text - used, "%s %s",
                                     k ? " vs" : "", s);
            if (used >= sizeof text)
                break;
        }
        em__error_op(em__op_table[op].name, in, n, text);
        return false;
    }
    return true;
}

em_tensor *em__binary_promoted(em__op op, em_tensor *a, em_tensor *b,
                               bool float_only)
{
    em_tensor *in[2] = {a, b};
    if (!a || !b ||
        (a->type.dtype == b->type.dtype &&
         (!float_only || em_dtype_is_float(a->type.dtype))))
        return em__dispatch(op, in, 2, NULL);
    em_dtype to = em_dtype_promote(a->type.dtype, b->type.dtype);
    if (float_only && !em_dtype_is_float(to))
        to = EM_FLOAT32;

    if (!check_broadcast(op, 2, in))
        return NULL;
    em_tensor *converted[2];
    for (int i = 0; i < 2; i++)
        converted[i] = in[i]->type.dtype == to ? in[i] : em_cast(in[i], to);
    em_tensor *out = em__dispatch(op, converted, 2, NULL);
    for (int i = 0; i < 2; i++)
        if (converted[i] != in[i])
            em_tensor_free(converted[i]);
    return out;
}

em_tensor *em_add(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_ADD, a, b, false);
}

em_tensor *em_sub(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_SUB, a, b, false);
}

em_tensor *em_mul(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_MUL, a, b, false);
}

em_tensor *em_div(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_DIV, a, b, false);
}

em_tensor *em_pow(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_POW, a, b, true);
}

em_tensor *em_maximum(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_MAXIMUM, a, b, false);
}

em_tensor *em_minimum(em_tensor *a, em_tensor *b)
{
    return em__binary_promoted(EM_OP_MINIMUM, a, b, false);
}

/* x op s, with s converted to x's dtype. */
static em_tensor *with_scalar(em__op op, em_tensor *x, double s)
{
    if (!x) {
        em_tensor *in[2] = {x, x};
        return em__dispatch(op, in, 2, NULL);
    }
    em_tensor *scalar = em_scalar(s, x->type.dtype);
    em_tensor *in[2] = {x, scalar};
    em_tensor *out = em__dispatch(op, in, 2, NULL);
    em_tensor_free(scalar);
    return out;
}

em_tensor *em_add_scalar(em_tensor *x, double s)
{
    return with_scalar(EM_OP_ADD, x, s);
}

em_tensor *em_mul_scalar(em_tensor *x, double s)
{
    return with_scalar(EM_OP_MUL, x, s);
}

em_tensor *em_pow_scalar(em_tensor *x, double s)
{
    if (!x || em_dtype_is_float(x->type.dtype))
        return with_scalar(EM_OP_POW, x, s);
    em_tensor *converted = em_cast(x, EM_FLOAT32);
    em_tensor *out = with_scalar(EM_OP_POW, converted, s);
    em_tensor_free(converted);
    return out;
}

em_tensor *em_where(em_tensor *cond, em_tensor *a, em_tensor *b)
{
    em_tensor *in[3] = {cond, a, b};
    if (!cond || !a || !b)
        return em__dispatch(EM_OP_WHERE, in, 3, NULL);
    em_dtype to = em_dtype_promote(a->type.dtype, b->type.dtype);
    em_dtype want[3] = {EM_BOOL, to, to};
    if (cond->type.dtype == EM_BOOL && a->type.dtype == to &&
        b->type.dtype == to)
        return em__dispatch(EM_OP_WHERE, in, 3, NULL);

    if (!check_broadcast(EM_OP_WHERE, 3, in))
        return NULL;
    em_tensor *converted[3];
    for (int i = 0; i < 3; i++)
        converted[i] =
            in[i]->type.dtype == want[i] ? in[i] : em_cast(in[i], want[i]);
    em_tensor *out = em__dispatch(EM_OP_WHERE, converted, 3, NULL);
    for (int i = 0; i < 3; i++)
        if (converted[i] != in[i])
            em_tensor_free(converted[i]);
    return out;
}
