/*
 * jit/lower_ops.c - the JIT's column of the op table: how each op is
 * lowered, and for elementwise ops the IR of one element.
 *
 * Every element function computes what the CPU kernel computes, in the
 * same precision: float32 exp, log, tanh, sigmoid, expm1 and log1p come
 * from jit/vmath.c (vectorisable, within a few ulp of the kernels'
 * correctly rounded double maths); the rarer sin, cos, erf, erfc and pow
 * call the C library in double, as the kernels do.
 */
#include <math.h>
#include <string.h>

#include "jit_internal.h"
#include "vmath.h"

/* ---- element helpers ------------------------------------------------------*/

LLVMTypeRef em__jit_elem_type(em__jit_ctx *c, em_dtype dtype)
{
    switch (dtype) {
    case EM_INT32:
        return c->i32;
    case EM_INT64:
        return c->i64;
    case EM_FLOAT32:
        return c->f32;
    case EM_FLOAT64:
        return c->f64;
    default:
        return c->i8; /* bool and uint8 */
    }
}

LLVMTypeRef em__jit_type(em__jit_ctx *c, em_dtype dtype)
{
    LLVMTypeRef t = em__jit_elem_type(c, dtype);
    return c->lanes > 1 ? LLVMVectorType(t, c->lanes) : t;
}

LLVMValueRef em__jit_const(em__jit_ctx *c, em_dtype dtype, double v)
{
    LLVMTypeRef t = em__jit_elem_type(c, dtype);
    LLVMValueRef k = em_dtype_is_float(dtype)
                         ? LLVMConstReal(t, v)
                         : LLVMConstInt(t, (unsigned long long)(int64_t)v, 1);
    if (c->lanes <= 1)
        return k;
    LLVMValueRef lanes[64];
    for (unsigned i = 0; i < c->lanes && i < 64; i++)
        lanes[i] = k;
    return LLVMConstVector(lanes, c->lanes);
}

LLVMValueRef em__jit_call(em__jit_ctx *c, const char *name, void (*fn)(void),
                          LLVMTypeRef type, LLVMValueRef *args, unsigned n)
{
    LLVMValueRef callee;
    if (c->exported) {
        callee = LLVMGetNamedFunction(c->module, name);
        if (!callee)
            callee = LLVMAddFunction(c->module, name, type);
    } else {
        LLVMValueRef address =
            LLVMConstInt(c->i64, (unsigned long long)(uintptr_t)fn, 0);
        callee = LLVMConstIntToPtr(address, c->ptr);
    }
    return LLVMBuildCall2(c->b, type, callee, args, n, "");
}

/* A call to a pure C maths function of doubles, in the element's type. */
static LLVMValueRef libm1(em__jit_ctx *c, const char *name,
                          double (*fn)(double), em_dtype dt, LLVMValueRef x)
{
    LLVMTypeRef type = LLVMFunctionType(c->f64, (LLVMTypeRef[]){c->f64}, 1, 0);
    if (dt == EM_FLOAT32)
        x = LLVMBuildFPExt(c->b, x, c->f64, "");
    LLVMValueRef r = em__jit_call(c, name, (void (*)(void))fn, type, &x, 1);
    unsigned kind = LLVMGetEnumAttributeKindForName("memory", 6);
    LLVMAddCallSiteAttribute(r, LLVMAttributeFunctionIndex,
                             LLVMCreateEnumAttribute(c->llvm, kind, 0));
    return dt == EM_FLOAT32 ? LLVMBuildFPTrunc(c->b, r, c->f32, "") : r;
}

static LLVMValueRef libm2(em__jit_ctx *c, const char *name,
                          double (*fn)(double, double), em_dtype dt,
                          LLVMValueRef x, LLVMValueRef y)
{
    LLVMTypeRef type =
        LLVMFunctionType(c->f64, (LLVMTypeRef[]){c->f64, c->f64}, 2, 0);
    if (dt == EM_FLOAT32) {
        x = LLVMBuildFPExt(c->b, x, c->f64, "");
        y = LLVMBuildFPExt(c->b, y, c->f64, "");
    }
    LLVMValueRef r = em__jit_call(c, name, (void (*)(void))fn, type,
                                  (LLVMValueRef[]){x, y}, 2);
    unsigned kind = LLVMGetEnumAttributeKindForName("memory", 6);
    LLVMAddCallSiteAttribute(r, LLVMAttributeFunctionIndex,
                             LLVMCreateEnumAttribute(c->llvm, kind, 0));
    return dt == EM_FLOAT32 ? LLVMBuildFPTrunc(c->b, r, c->f32, "") : r;
}

static LLVMValueRef intrinsic1(em__jit_ctx *c, const char *name, LLVMValueRef x)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->module, id, &t, 1);
    LLVMTypeRef type = LLVMIntrinsicGetType(c->llvm, id, &t, 1);
    return LLVMBuildCall2(c->b, type, fn, &x, 1, "");
}

static LLVMValueRef intrinsic2(em__jit_ctx *c, const char *name, LLVMValueRef x,
                               LLVMValueRef y)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->module, id, &t, 1);
    LLVMTypeRef type = LLVMIntrinsicGetType(c->llvm, id, &t, 1);
    return LLVMBuildCall2(c->b, type, fn, (LLVMValueRef[]){x, y}, 2, "");
}

static LLVMValueRef fcmp(em__jit_ctx *c, LLVMRealPredicate p, LLVMValueRef a,
                         LLVMValueRef b)
{
    return LLVMBuildFCmp(c->b, p, a, b, "");
}

static LLVMValueRef is_nan(em__jit_ctx *c, LLVMValueRef x)
{
    return fcmp(c, LLVMRealUNO, x, x);
}

/* An i1 as a bool element (i8 0 or 1). */
static LLVMValueRef bool_element(em__jit_ctx *c, LLVMValueRef bit)
{
    return LLVMBuildZExt(c->b, bit, em__jit_type(c, EM_BOOL), "");
}

/* True where an element of any dtype is non-zero (NaN counts). */
static LLVMValueRef nonzero(em__jit_ctx *c, em_dtype dt, LLVMValueRef x)
{
    /* A bool made from a bit here: the bit itself. Code generation of
     * finished functions would otherwise widen and test it again. */
    if (dt == EM_BOOL && LLVMIsAZExtInst(x)) {
        LLVMTypeRef t = LLVMTypeOf(LLVMGetOperand(x, 0));
        if (LLVMGetTypeKind(t) == LLVMVectorTypeKind)
            t = LLVMGetElementType(t);
        if (LLVMGetIntTypeWidth(t) == 1)
            return LLVMGetOperand(x, 0);
    }
    if (em_dtype_is_float(dt))
        return fcmp(c, LLVMRealUNE, x, em__jit_const(c, dt, 0));
    return LLVMBuildICmp(c->b, LLVMIntNE, x, em__jit_const(c, dt, 0), "");
}

/* The value of an element of an integer dtype as int64. */
static LLVMValueRef to_i64(em__jit_ctx *c, em_dtype dt, LLVMValueRef x)
{
    if (dt == EM_INT64)
        return x;
    if (dt == EM_INT32)
        return LLVMBuildSExt(c->b, x, em__jit_type(c, EM_INT64), "");
    return LLVMBuildZExt(c->b, x, em__jit_type(c, EM_INT64), "");
}

/* double -> integer dtype as em__store_f64 does: truncation toward zero,
 * NaN and out-of-range values give 0. */
static LLVMValueRef f64_to_int(em__jit_ctx *c, LLVMValueRef v, em_dtype to)
{
    double lo = to == EM_UINT8 ? 0 : to == EM_INT32 ? -2147483648.0 : -9.2e18;
    double hi = to == EM_UINT8 ? 255 : to == EM_INT32 ? 2147483647.0 : 9.2e18;
    LLVMValueRef in_range = LLVMBuildAnd(
        c->b, fcmp(c, LLVMRealOGE, v, em__jit_const(c, EM_FLOAT64, lo)),
        fcmp(c, LLVMRealOLE, v, em__jit_const(c, EM_FLOAT64, hi)), "");
    /* fptosi of NaN or out of range is poison: convert a safe value. */
    LLVMValueRef safe =
        LLVMBuildSelect(c->b, in_range, v, em__jit_const(c, EM_FLOAT64, 0), "");
    LLVMValueRef i = LLVMBuildFPToSI(c->b, safe, em__jit_type(c, EM_INT64), "");
    return LLVMBuildTrunc(c->b, i, em__jit_type(c, to), "");
}

LLVMValueRef em__jit_convert(em__jit_ctx *c, LLVMValueRef v, em_dtype from,
                             em_dtype to)
{
    if (from == to)
        return v;
    if (to == EM_BOOL)
        return bool_element(c, nonzero(c, from, v));
    bool float_from = em_dtype_is_float(from), float_to = em_dtype_is_float(to);
    if (!float_from && !float_to)
        return LLVMBuildTrunc(c->b, to_i64(c, from, v), em__jit_type(c, to),
                              "");
    LLVMTypeRef f32 = em__jit_type(c, EM_FLOAT32);
    LLVMTypeRef f64 = em__jit_type(c, EM_FLOAT64);
    if (float_from && float_to)
        return to == EM_FLOAT64 ? LLVMBuildFPExt(c->b, v, f64, "")
                                : LLVMBuildFPTrunc(c->b, v, f32, "");
    /* Integer <-> float goes through double, as em__convert does. */
    if (float_to) {
        LLVMValueRef d = from == EM_INT32 || from == EM_INT64
                             ? LLVMBuildSIToFP(c->b, v, f64, "")
                             : LLVMBuildUIToFP(c->b, v, f64, "");
        return to == EM_FLOAT32 ? LLVMBuildFPTrunc(c->b, d, f32, "") : d;
    }
    if (from == EM_FLOAT32)
        v = LLVMBuildFPExt(c->b, v, f64, "");
    return f64_to_int(c, v, to);
}

/* ---- element functions ----------------------------------------------------
 * x, a, b: the inputs; dt: input 0's dtype (also the output's, except for
 * comparisons and casts). */

#define ELEMENT(name)                                                          \
    static LLVMValueRef name(em__jit_ctx *c, const em__node *node,             \
                             const em_dtype *dts, LLVMValueRef *in)

#define X in[0]
#define DT dts[0]
#define K(v) em__jit_const(c, DT, (v))
#define B c->b

ELEMENT(el_neg)
{
    return LLVMBuildFNeg(B, X, "");
}
ELEMENT(el_abs)
{
    return intrinsic1(c, "llvm.fabs", X);
}
ELEMENT(el_sign)
{
    LLVMValueRef neg =
        LLVMBuildSelect(B, fcmp(c, LLVMRealOLT, X, K(0)), K(-1), X, "");
    return LLVMBuildSelect(B, fcmp(c, LLVMRealOGT, X, K(0)), K(1), neg, "");
}
ELEMENT(el_exp)
{
    return DT == EM_FLOAT32 ? em__vmath_exp(B, X) : libm1(c, "exp", exp, DT, X);
}
ELEMENT(el_log)
{
    return DT == EM_FLOAT32 ? em__vmath_log(B, X) : libm1(c, "log", log, DT, X);
}
ELEMENT(el_log1p)
{
    return DT == EM_FLOAT32 ? em__vmath_log1p(B, X)
                            : libm1(c, "log1p", log1p, DT, X);
}
ELEMENT(el_sqrt)
{
    return intrinsic1(c, "llvm.sqrt", X);
}
ELEMENT(el_rsqrt)
{
    return LLVMBuildFDiv(B, K(1), intrinsic1(c, "llvm.sqrt", X), "");
}
ELEMENT(el_square)
{
    return LLVMBuildFMul(B, X, X, "");
}
ELEMENT(el_reciprocal)
{
    return LLVMBuildFDiv(B, K(1), X, "");
}
ELEMENT(el_sin)
{
    return libm1(c, "sin", sin, DT, X);
}
ELEMENT(el_cos)
{
    return libm1(c, "cos", cos, DT, X);
}
ELEMENT(el_erf)
{
    return libm1(c, "erf", erf, DT, X);
}
ELEMENT(el_tanh)
{
    return DT == EM_FLOAT32 ? em__vmath_tanh(B, X)
                            : libm1(c, "tanh", tanh, DT, X);
}
ELEMENT(el_sigmoid)
{
    if (DT == EM_FLOAT32)
        return em__vmath_sigmoid(B, X);
    /* exp of a non-positive number only, as the kernel does. */
    LLVMValueRef e = libm1(c, "exp", exp, DT,
                           LLVMBuildFNeg(B, el_abs(c, node, dts, in), ""));
    LLVMValueRef d = LLVMBuildFAdd(B, K(1), e, "");
    LLVMValueRef pos = LLVMBuildFDiv(B, K(1), d, "");
    LLVMValueRef neg = LLVMBuildFDiv(B, e, d, "");
    return LLVMBuildSelect(B, fcmp(c, LLVMRealOGE, X, K(0)), pos, neg, "");
}
ELEMENT(el_relu)
{
    return LLVMBuildSelect(B, fcmp(c, LLVMRealOLT, X, K(0)), K(0), X, "");
}
ELEMENT(el_step)
{
    return LLVMBuildSelect(B, fcmp(c, LLVMRealOGT, X, K(0)), K(1), K(0), "");
}
ELEMENT(el_leaky_relu)
{
    LLVMValueRef scaled = LLVMBuildFMul(B, K(node->attrs.alpha), X, "");
    return LLVMBuildSelect(B, fcmp(c, LLVMRealOGT, X, K(0)), X, scaled, "");
}
ELEMENT(el_elu)
{
    LLVMValueRef m = DT == EM_FLOAT32 ? em__vmath_expm1(B, X)
                                      : libm1(c, "expm1", expm1, DT, X);
    LLVMValueRef scaled = LLVMBuildFMul(B, K(node->attrs.alpha), m, "");
    return LLVMBuildSelect(B, fcmp(c, LLVMRealOGT, X, K(0)), X, scaled, "");
}
ELEMENT(el_gelu)
{
    /* 0.5 x erfc(-x / sqrt 2), the product taken in double as the kernel
     * does. */
    LLVMValueRef t = LLVMBuildFMul(B, LLVMBuildFNeg(B, X, ""),
                                   K(0.70710678118654752440), "");
    LLVMValueRef half_x = LLVMBuildFMul(B, K(0.5), X, "");
    if (DT == EM_FLOAT32) {
        t = LLVMBuildFPExt(B, t, c->f64, "");
        half_x = LLVMBuildFPExt(B, half_x, c->f64, "");
    }
    LLVMValueRef e = libm1(c, "erfc", erfc, EM_FLOAT64, t);
    LLVMValueRef r = LLVMBuildFMul(B, half_x, e, "");
    return DT == EM_FLOAT32 ? LLVMBuildFPTrunc(B, r, c->f32, "") : r;
}
ELEMENT(el_softplus)
{
    /* max(x, 0) + log1p(exp(-|x|)): exp never overflows. */
    LLVMValueRef m = LLVMBuildFNeg(B, el_abs(c, node, dts, in), "");
    LLVMValueRef l = DT == EM_FLOAT32 ? em__vmath_log1p(B, em__vmath_exp(B, m))
                                      : libm1(c, "log1p", log1p, DT,
                                              libm1(c, "exp", exp, DT, m));
    return LLVMBuildFAdd(B, intrinsic2(c, "llvm.maxnum", X, K(0)), l, "");
}
ELEMENT(el_logical_not)
{
    return bool_element(c, LLVMBuildNot(B, nonzero(c, DT, X), ""));
}

ELEMENT(el_add)
{
    return LLVMBuildFAdd(B, in[0], in[1], "");
}
ELEMENT(el_sub)
{
    return LLVMBuildFSub(B, in[0], in[1], "");
}
ELEMENT(el_mul)
{
    return LLVMBuildFMul(B, in[0], in[1], "");
}
ELEMENT(el_div)
{
    return LLVMBuildFDiv(B, in[0], in[1], "");
}
ELEMENT(el_pow)
{
    return libm2(c, "pow", pow, DT, in[0], in[1]);
}
/* NaN in either operand gives NaN, as the kernels do. */
ELEMENT(el_maximum)
{
    LLVMValueRef pick = LLVMBuildOr(B, fcmp(c, LLVMRealOGT, in[0], in[1]),
                                    is_nan(c, in[0]), "");
    return LLVMBuildSelect(B, pick, in[0], in[1], "");
}
ELEMENT(el_minimum)
{
    LLVMValueRef pick = LLVMBuildOr(B, fcmp(c, LLVMRealOLT, in[0], in[1]),
                                    is_nan(c, in[0]), "");
    return LLVMBuildSelect(B, pick, in[0], in[1], "");
}

/* Comparisons of two elements of one dtype: ordered for floats (NaN
 * compares false) except not_equal; signed for int32/int64. */
static LLVMValueRef compare(em__jit_ctx *c, em_dtype dt, LLVMValueRef a,
                            LLVMValueRef b, LLVMRealPredicate fp,
                            LLVMIntPredicate sp, LLVMIntPredicate up)
{
    LLVMValueRef bit;
    if (em_dtype_is_float(dt))
        bit = fcmp(c, fp, a, b);
    else
        bit = LLVMBuildICmp(c->b, dt == EM_INT32 || dt == EM_INT64 ? sp : up, a,
                            b, "");
    return bool_element(c, bit);
}
#define COMPARE(name, FP, SP, UP)                                              \
    ELEMENT(name)                                                              \
    {                                                                          \
        return compare(c, DT, in[0], in[1], FP, SP, UP);                       \
    }
COMPARE(el_equal, LLVMRealOEQ, LLVMIntEQ, LLVMIntEQ)
COMPARE(el_not_equal, LLVMRealUNE, LLVMIntNE, LLVMIntNE)
COMPARE(el_less, LLVMRealOLT, LLVMIntSLT, LLVMIntULT)
COMPARE(el_less_equal, LLVMRealOLE, LLVMIntSLE, LLVMIntULE)
COMPARE(el_greater, LLVMRealOGT, LLVMIntSGT, LLVMIntUGT)
COMPARE(el_greater_equal, LLVMRealOGE, LLVMIntSGE, LLVMIntUGE)

ELEMENT(el_logical_and)
{
    return bool_element(c, LLVMBuildAnd(B, nonzero(c, dts[0], in[0]),
                                        nonzero(c, dts[1], in[1]), ""));
}
ELEMENT(el_logical_or)
{
    return bool_element(c, LLVMBuildOr(B, nonzero(c, dts[0], in[0]),
                                       nonzero(c, dts[1], in[1]), ""));
}
ELEMENT(el_where)
{
    return LLVMBuildSelect(B, nonzero(c, dts[0], in[0]), in[1], in[2], "");
}
ELEMENT(el_cast)
{
    return em__jit_convert(c, X, DT, node->attrs.dtype);
}
ELEMENT(el_identity)
{
    return X;
}

/* In-place updates: in[0] is the variable's element, in[1] the value's
 * (same dtype), in[2] the scale's. Products round to the variable's dtype
 * first, as the kernels' float32 loops do. */
ELEMENT(el_assign)
{
    return in[1];
}
ELEMENT(el_assign_add)
{
    return LLVMBuildFAdd(B, in[0], in[1], "");
}
ELEMENT(el_assign_sub)
{
    return LLVMBuildFSub(B, in[0], in[1], "");
}
ELEMENT(el_assign_scale_add)
{
    LLVMValueRef scaled = LLVMBuildFMul(B, K(node->attrs.alpha), in[0], "");
    return LLVMBuildFAdd(B, scaled, in[1], "");
}
ELEMENT(el_assign_sub_scaled)
{
    LLVMValueRef s = em__jit_convert(c, in[2], dts[2], DT);
    return LLVMBuildFSub(B, in[0], LLVMBuildFMul(B, s, in[1], ""), "");
}

#undef X
#undef DT
#undef K
#undef B

bool em__jit_vectorizes(const em__node *node, em_dtype dt)
{
    switch (em__jit_ops[node->op].maths) {
    case EM__MATHS_LIBRARY:
        return false;
    case EM__MATHS_POLYNOMIAL:
        return dt == EM_FLOAT32;
    default:
        return true;
    }
}

/* ---- the table ------------------------------------------------------------*/

#define FLOATS EM__JIT_FLOATS
#define ALL EM__JIT_ALL_DTYPES
#define EW(fn, dtypes)                                                         \
    {                                                                          \
        EM__LOWER_ELEMENTWISE, fn, dtypes, EM__MATHS_ARITHMETIC                \
    }
#define POLYNOMIAL(fn)                                                         \
    {                                                                          \
        EM__LOWER_ELEMENTWISE, fn, FLOATS, EM__MATHS_POLYNOMIAL                \
    }
#define LIBRARY(fn)                                                            \
    {                                                                          \
        EM__LOWER_ELEMENTWISE, fn, FLOATS, EM__MATHS_LIBRARY                   \
    }
#define ASSIGN(fn)                                                             \
    {                                                                          \
        EM__LOWER_ASSIGN, fn, FLOATS, EM__MATHS_ARITHMETIC                     \
    }
/* Rows that are not elementwise: a lowering, and the dtypes it takes. */
#define OTHER(lowering, dtypes)                                                \
    {                                                                          \
        lowering, NULL, dtypes, EM__MATHS_ARITHMETIC                           \
    }
#define NUMBERS                                                                \
    (FLOATS | (1u << EM_UINT8) | (1u << EM_INT32) | (1u << EM_INT64))

const em__jit_op em__jit_ops[EM_OP_COUNT] = {
    [EM_OP_NEG] = EW(el_neg, FLOATS),
    [EM_OP_ABS] = EW(el_abs, FLOATS),
    [EM_OP_SIGN] = EW(el_sign, FLOATS),
    [EM_OP_EXP] = POLYNOMIAL(el_exp),
    [EM_OP_LOG] = POLYNOMIAL(el_log),
    [EM_OP_LOG1P] = POLYNOMIAL(el_log1p),
    [EM_OP_SQRT] = EW(el_sqrt, FLOATS),
    [EM_OP_RSQRT] = EW(el_rsqrt, FLOATS),
    [EM_OP_SQUARE] = EW(el_square, FLOATS),
    [EM_OP_RECIPROCAL] = EW(el_reciprocal, FLOATS),
    [EM_OP_SIN] = LIBRARY(el_sin),
    [EM_OP_COS] = LIBRARY(el_cos),
    [EM_OP_TANH] = POLYNOMIAL(el_tanh),
    [EM_OP_SIGMOID] = POLYNOMIAL(el_sigmoid),
    [EM_OP_RELU] = EW(el_relu, FLOATS),
    [EM_OP_LEAKY_RELU] = EW(el_leaky_relu, FLOATS),
    [EM_OP_ELU] = POLYNOMIAL(el_elu),
    [EM_OP_GELU] = LIBRARY(el_gelu),
    [EM_OP_SOFTPLUS] = POLYNOMIAL(el_softplus),
    [EM_OP_ERF] = LIBRARY(el_erf),
    [EM_OP_STEP] = EW(el_step, FLOATS),
    [EM_OP_LOGICAL_NOT] = EW(el_logical_not, ALL),

    [EM_OP_ADD] = EW(el_add, FLOATS),
    [EM_OP_SUB] = EW(el_sub, FLOATS),
    [EM_OP_MUL] = EW(el_mul, FLOATS),
    [EM_OP_DIV] = EW(el_div, FLOATS),
    [EM_OP_POW] = LIBRARY(el_pow),
    [EM_OP_MAXIMUM] = EW(el_maximum, FLOATS),
    [EM_OP_MINIMUM] = EW(el_minimum, FLOATS),
    [EM_OP_EQUAL] = EW(el_equal, NUMBERS),
    [EM_OP_NOT_EQUAL] = EW(el_not_equal, NUMBERS),
    [EM_OP_LESS] = EW(el_less, NUMBERS),
    [EM_OP_LESS_EQUAL] = EW(el_less_equal, NUMBERS),
    [EM_OP_GREATER] = EW(el_greater, NUMBERS),
    [EM_OP_GREATER_EQUAL] = EW(el_greater_equal, NUMBERS),
    [EM_OP_LOGICAL_AND] = EW(el_logical_and, ALL),
    [EM_OP_LOGICAL_OR] = EW(el_logical_or, ALL),
    [EM_OP_WHERE] = EW(el_where, ALL),

    [EM_OP_SUM] = OTHER(EM__LOWER_REDUCE, FLOATS),
    [EM_OP_MAX] = OTHER(EM__LOWER_REDUCE, FLOATS),
    [EM_OP_MIN] = OTHER(EM__LOWER_REDUCE, FLOATS),
    [EM_OP_ARGMAX] = OTHER(EM__LOWER_KERNEL, 0),
    [EM_OP_ARGMIN] = OTHER(EM__LOWER_KERNEL, 0),

    [EM_OP_MATMUL] = OTHER(EM__LOWER_MATMUL, FLOATS),

    [EM_OP_RESHAPE] = OTHER(EM__LOWER_VIEW, 0),
    [EM_OP_PERMUTE] = OTHER(EM__LOWER_KERNEL, 0),
    [EM_OP_BROADCAST_TO] = EW(el_identity, ALL),
    [EM_OP_CONCAT] = OTHER(EM__LOWER_KERNEL, 0),
    [EM_OP_SLICE] = OTHER(EM__LOWER_KERNEL, 0),
    [EM_OP_GATHER] = OTHER(EM__LOWER_KERNEL, 0),
    [EM_OP_ONE_HOT] = OTHER(EM__LOWER_KERNEL, 0),
    [EM_OP_CAST] = EW(el_cast, ALL),
    [EM_OP_COPY] = EW(el_identity, ALL),
    [EM_OP_STOP_GRADIENT] = EW(el_identity, ALL),

    [EM_OP_SOFTMAX] = OTHER(EM__LOWER_KERNEL, 0),
    [EM_OP_LOG_SOFTMAX] = OTHER(EM__LOWER_KERNEL, 0),

    [EM_OP_ASSIGN] = ASSIGN(el_assign),
    [EM_OP_ASSIGN_ADD] = ASSIGN(el_assign_add),
    [EM_OP_ASSIGN_SUB] = ASSIGN(el_assign_sub),
    [EM_OP_ASSIGN_SCALE_ADD] = ASSIGN(el_assign_scale_add),
    [EM_OP_ASSIGN_SUB_SCALED] = ASSIGN(el_assign_sub_scaled),
};
