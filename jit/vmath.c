/*
 * jit/vmath.c - float32 exp, log, tanh, sigmoid, expm1 and log1p as
 * straight-line LLVM IR: range reduction, a short polynomial, exponent
 * arithmetic on the bits and selects for the special cases. There is no
 * control flow and no call other than to intrinsics that have vector forms,
 * so each routine works unchanged on a scalar float or on any <N x float>
 * and the loop vectoriser can widen a loop that uses it.
 *
 * Polynomial coefficients are the classic Cephes single precision minimax
 * sets; the error analysis in each comment assumes round to nearest.
 * Multiply-adds are fused only where written (llvm.fmuladd: one rounding
 * on CPUs with FMA, two elsewhere); nothing sets fast-math flags.
 *
 * tanh and sigmoid end in one division of bounded operands, which lets
 * em__vmath_fold_products turn a product of two of them into a single
 * division.
 */
#include "vmath.h"

#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

/* ln 2 split so that n * LN2_HI is exact for |n| < 2^15. */
#define LN2_HI 0.693359375
#define LN2_LO -2.12194440e-4
#define LOG2E 1.44269504088896341
/* Bits of the float nearest sqrt(0.5): mantissas are reduced to
 * [sqrt(0.5), sqrt(2)) so that log's argument f = m - 1 stays small. */
#define SQRTH_BITS 0x3f3504f3

/* The builder plus the shapes the constants take: x's shape with float or
 * i32 elements. */
typedef struct vm {
    LLVMBuilderRef b;
    LLVMContextRef ctx;
    LLVMTypeRef f32, i32;
    int vector;
} vm;

static LLVMTypeRef shaped(LLVMTypeRef like, LLVMTypeRef elem)
{
    switch (LLVMGetTypeKind(like)) {
    case LLVMVectorTypeKind:
        return LLVMVectorType(elem, LLVMGetVectorSize(like));
    case LLVMScalableVectorTypeKind:
        return LLVMScalableVectorType(elem, LLVMGetVectorSize(like));
    default:
        return elem;
    }
}

static vm vm_for(LLVMBuilderRef b, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMContextRef ctx = LLVMGetTypeContext(t);
    LLVMTypeKind k = LLVMGetTypeKind(t);
    vm v = {b, ctx, t, shaped(t, LLVMInt32TypeInContext(ctx)),
            k == LLVMVectorTypeKind || k == LLVMScalableVectorTypeKind};
    return v;
}

/* A scalar constant splatted to the shape of type t. Insert + shuffle of
 * constants folds to a constant splat and also covers scalable vectors. */
static LLVMValueRef splat(const vm *v, LLVMTypeRef t, LLVMValueRef c)
{
    if (!v->vector)
        return c;
    LLVMTypeRef i32 = LLVMInt32TypeInContext(v->ctx);
    LLVMValueRef one = LLVMBuildInsertElement(v->b, LLVMGetPoison(t), c,
                                              LLVMConstInt(i32, 0, 0), "");
    return LLVMBuildShuffleVector(v->b, one, LLVMGetPoison(t),
                                  LLVMConstNull(v->i32), "");
}

static LLVMValueRef kf(const vm *v, double c)
{
    return splat(v, v->f32, LLVMConstReal(LLVMFloatTypeInContext(v->ctx), c));
}

static LLVMValueRef ki(const vm *v, int32_t c)
{
    LLVMTypeRef i32 = LLVMInt32TypeInContext(v->ctx);
    return splat(v, v->i32, LLVMConstInt(i32, (uint64_t)(int64_t)c, 1));
}

static LLVMValueRef add(const vm *v, LLVMValueRef a, LLVMValueRef c)
{
    return LLVMBuildFAdd(v->b, a, c, "");
}

static LLVMValueRef sub(const vm *v, LLVMValueRef a, LLVMValueRef c)
{
    return LLVMBuildFSub(v->b, a, c, "");
}

static LLVMValueRef mul(const vm *v, LLVMValueRef a, LLVMValueRef c)
{
    return LLVMBuildFMul(v->b, a, c, "");
}

static LLVMValueRef quot(const vm *v, LLVMValueRef a, LLVMValueRef c)
{
    return LLVMBuildFDiv(v->b, a, c, "");
}

static LLVMValueRef fcmp(const vm *v, LLVMRealPredicate p, LLVMValueRef a,
                         LLVMValueRef c)
{
    return LLVMBuildFCmp(v->b, p, a, c, "");
}

static LLVMValueRef sel(const vm *v, LLVMValueRef cond, LLVMValueRef a,
                        LLVMValueRef c)
{
    return LLVMBuildSelect(v->b, cond, a, c, "");
}

static LLVMValueRef to_bits(const vm *v, LLVMValueRef x)
{
    return LLVMBuildBitCast(v->b, x, v->i32, "");
}

static LLVMValueRef from_bits(const vm *v, LLVMValueRef i)
{
    return LLVMBuildBitCast(v->b, i, v->f32, "");
}

/* A call to an overloaded float intrinsic such as llvm.rint. */
static LLVMValueRef intrinsic(const vm *v, const char *name, LLVMValueRef *args,
                              unsigned n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMBasicBlockRef bb = LLVMGetInsertBlock(v->b);
    LLVMModuleRef m = LLVMGetGlobalParent(LLVMGetBasicBlockParent(bb));
    LLVMTypeRef t = v->f32;
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m, id, &t, 1);
    LLVMTypeRef ft = LLVMIntrinsicGetType(v->ctx, id, &t, 1);
    return LLVMBuildCall2(v->b, ft, fn, args, n, "");
}

static LLVMValueRef call1(const vm *v, const char *name, LLVMValueRef a)
{
    return intrinsic(v, name, &a, 1);
}

static LLVMValueRef call2(const vm *v, const char *name, LLVMValueRef a,
                          LLVMValueRef c)
{
    LLVMValueRef args[2] = {a, c};
    return intrinsic(v, name, args, 2);
}

/* a * b + c, as one fused multiply-add where the CPU has one: a single
 * rounding there, two elsewhere. */
static LLVMValueRef fmuladd(const vm *v, LLVMValueRef a, LLVMValueRef b,
                            LLVMValueRef c)
{
    LLVMValueRef args[3] = {a, b, c};
    return intrinsic(v, "llvm.fmuladd", args, 3);
}

/* c[0] x^(n-1) + ... + c[n-1], each step p x + c as one fused multiply-add
 * where the CPU has one (llvm.fmuladd), two operations elsewhere. */
static LLVMValueRef horner(const vm *v, LLVMValueRef x, const double *c, int n)
{
    LLVMValueRef p = kf(v, c[0]);
    for (int i = 1; i < n; i++)
        p = fmuladd(v, p, x, kf(v, c[i]));
    return p;
}

/* x limited to [lo, hi], NaN kept: the comparisons are false for NaN, so
 * it passes through both selects (on x86 each is one min or max
 * instruction). */
static LLVMValueRef clamp(const vm *v, LLVMValueRef x, double lo, double hi)
{
    LLVMValueRef c = sel(v, fcmp(v, LLVMRealOGT, x, kf(v, hi)), kf(v, hi), x);
    return sel(v, fcmp(v, LLVMRealOLT, c, kf(v, lo)), kf(v, lo), c);
}

/* NaN inputs come back unchanged whatever the computation made of them. */
static LLVMValueRef keep_nan(const vm *v, LLVMValueRef x, LLVMValueRef r)
{
    return sel(v, fcmp(v, LLVMRealUNO, x, x), x, r);
}

/* 1.5 * 2^23. A float of magnitude below 2^22 plus SHIFTER rounds to an
 * integer n, and the sum's bits are SHIFTER_BITS + n: n sits in the low
 * mantissa bits, so it needs no conversion to an integer. */
#define SHIFTER 12582912.0
#define SHIFTER_BITS 0x4b400000

/* The float whose exponent field is i + offset: 2^(i + offset - 127), for
 * i + offset in [1, 254]. */
static LLVMValueRef pow2_bits(const vm *v, LLVMValueRef i, int32_t offset)
{
    LLVMValueRef e = LLVMBuildAdd(v->b, i, ki(v, offset), "");
    return from_bits(v, LLVMBuildShl(v->b, e, ki(v, 23), ""));
}

/* y * 2^n, n given as k = SHIFTER_BITS + n, for the n that x in [lo, hi]
 * reduces to. Only the last product rounds, so subnormal results round
 * once and overflow gives inf: where 2^n is a normal float over the whole
 * range that is y * 2^n itself; where the range of n fits the exponent
 * field, y * 2^-bias (exact for the y of exp and expm1) times
 * 2^(n + bias); else two power-of-two factors. */
static LLVMValueRef scale(const vm *v, LLVMValueRef y, LLVMValueRef k,
                          double lo, double hi)
{
    int n_lo = (int)floor(lo * LOG2E), n_hi = (int)ceil(hi * LOG2E);
    int bias = n_lo < -126 ? -126 - n_lo : n_hi > 127 ? 127 - n_hi : 0;
    if (n_hi - n_lo <= 253) {
        if (bias)
            y = mul(v, y, kf(v, ldexp(1.0, -bias)));
        return mul(v, y, pow2_bits(v, k, 127 + bias - SHIFTER_BITS));
    }
    LLVMValueRef n = LLVMBuildSub(v->b, k, ki(v, SHIFTER_BITS), "");
    LLVMValueRef n1 = LLVMBuildAShr(v->b, n, ki(v, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(v->b, n, n1, "");
    return mul(v, mul(v, y, pow2_bits(v, n1, 127)), pow2_bits(v, n2, 127));
}

/* Shared by exp and expm1: x = n ln2 + r with |r| <= ~ln2/2, and
 * e^r - 1 ~= rr + r2 p with rr the rounded r, r2 = rr^2 and p a
 * polynomial in rr. expm1 also takes c, r's rounding error, so that it
 * can add rr to a power-of-two term exactly before the small terms. */
typedef struct exp_parts {
    LLVMValueRef k; /* i32: SHIFTER_BITS + n */
    LLVMValueRef rr, r2, p;
    LLVMValueRef c; /* NULL unless asked for */
} exp_parts;

/* x must lie in [-104, 89] or be NaN (which the result then is). */
static exp_parts exp_reduce(const vm *v, LLVMValueRef x, bool compensate)
{
    /* (e^r - 1 - r) / r^2 on [-ln2/2, ln2/2] */
    static const double p[] = {1.9875691500e-4, 1.3981999507e-3,
                               8.3334519073e-3, 4.1665795894e-2,
                               1.6666665459e-1, 5.0000001201e-1};
    LLVMValueRef shifted = fmuladd(v, x, kf(v, LOG2E), kf(v, SHIFTER));
    LLVMValueRef nf = sub(v, shifted, kf(v, SHIFTER));
    /* exact: n * LN2_HI has at most 17 significant bits and lies within a
     * factor of about two of x (Cody-Waite) */
    LLVMValueRef hi = fmuladd(v, nf, kf(v, -LN2_HI), x);
    exp_parts e = {to_bits(v, shifted), NULL, NULL, NULL, NULL};
    if (compensate) {
        /* two-sum: rr + c == hi + lo exactly, whichever is larger; expm1
         * near 0 needs it, exp's result does not */
        LLVMValueRef lo = mul(v, nf, kf(v, -LN2_LO));
        e.rr = add(v, hi, lo);
        LLVMValueRef lo_part = sub(v, e.rr, hi);
        e.c = add(v, sub(v, hi, sub(v, e.rr, lo_part)), sub(v, lo, lo_part));
    } else {
        e.rr = fmuladd(v, nf, kf(v, -LN2_LO), hi);
    }
    e.r2 = mul(v, e.rr, e.rr);
    e.p = horner(v, e.rr, p, 6);
    return e;
}

/* e^x for x in [lo, hi], a range inside [-104, 89], or NaN:
 * 2^n (1 + rr + r2 p). */
static LLVMValueRef exp_in(const vm *v, LLVMValueRef x, double lo, double hi)
{
    exp_parts e = exp_reduce(v, x, false);
    LLVMValueRef y = add(v, kf(v, 1.0), fmuladd(v, e.r2, e.p, e.rr));
    return scale(v, y, e.k, lo, hi);
}

/* exp(x): inputs are clamped to [-104, 89], beyond which the float result
 * is 0 or inf anyway, so n is in [-150, 128] and scale() produces the
 * subnormal and overflowing results. */
LLVMValueRef em__vmath_exp(LLVMBuilderRef b, LLVMValueRef x)
{
    vm v = vm_for(b, x);
    return exp_in(&v, clamp(&v, x, -104.0, 89.0), -104.0, 89.0);
}

/* expm1(x) = 2^n * ((1 - 2^-n) + rr + q). 1 - 2^-n is exact for the n
 * that matter, and adding rr to it first is exact where they cancel (n = 1,
 * r near -ln2/2), so the only large error source, the cancellation, sees
 * exact operands. Near 0 n is 0 and this is rr + q, the polynomial. Inputs
 * are clamped to [-25, 89]: below, the float result is -1. */
LLVMValueRef em__vmath_expm1(LLVMBuilderRef b, LLVMValueRef x)
{
    vm v = vm_for(b, x);
    exp_parts e = exp_reduce(&v, clamp(&v, x, -25.0, 89.0), true);
    LLVMValueRef q = fmuladd(&v, e.r2, e.p, e.c);
    /* for n >= 26, 1 - 2^-n rounds to 1 as 1 - 2^-26 does */
    LLVMValueRef n = LLVMBuildSub(b, e.k, ki(&v, SHIFTER_BITS), "");
    LLVMValueRef k = LLVMBuildSelect(
        b, LLVMBuildICmp(b, LLVMIntSLT, n, ki(&v, 26), ""), n, ki(&v, 26), "");
    LLVMValueRef neg_k = LLVMBuildNeg(b, k, "");
    LLVMValueRef t =
        add(&v, sub(&v, kf(&v, 1.0), pow2_bits(&v, neg_k, 127)), e.rr);
    LLVMValueRef r = scale(&v, add(&v, t, q), e.k, -25.0, 89.0);
    /* the sum above turns -0 into +0 */
    return sel(&v, fcmp(&v, LLVMRealOEQ, x, kf(&v, 0.0)), x, r);
}

/* Splits positive normal x into x = 2^e * (1 + f) with 1 + f in
 * [sqrt(0.5), sqrt(2)); f is exact. e comes back as a float. */
static void log_split(const vm *v, LLVMValueRef x, LLVMValueRef *f,
                      LLVMValueRef *e)
{
    LLVMValueRef t = LLVMBuildSub(v->b, to_bits(v, x), ki(v, SQRTH_BITS), "");
    LLVMValueRef ei = LLVMBuildAShr(v->b, t, ki(v, 23), "");
    LLVMValueRef mbits =
        LLVMBuildAdd(v->b, LLVMBuildAnd(v->b, t, ki(v, 0x7fffff), ""),
                     ki(v, SQRTH_BITS), "");
    *f = sub(v, from_bits(v, mbits), kf(v, 1.0));
    *e = LLVMBuildSIToFP(v->b, ei, v->f32, "");
}

/* log(2^e (1 + f)) = f - f^2/2 + f^3 P(f) + e ln2, summed from the small
 * terms up; `extra` (may be NULL) is a correction of order ulp(f) that
 * joins the small terms. */
static LLVMValueRef log_poly(const vm *v, LLVMValueRef f, LLVMValueRef e,
                             LLVMValueRef extra)
{
    /* (log(1+f) - f + f^2/2) / f^3 on [sqrt(0.5)-1, sqrt(2)-1] */
    static const double p[] = {
        7.0376836292e-2,  -1.1514610310e-1, 1.1676998740e-1,
        -1.2420140846e-1, 1.4249322787e-1,  -1.6668057665e-1,
        2.0000714765e-1,  -2.4999993993e-1, 3.3333331174e-1};
    LLVMValueRef z = mul(v, f, f);
    LLVMValueRef y = mul(v, mul(v, horner(v, f, p, 9), f), z);
    y = add(v, y, mul(v, e, kf(v, LN2_LO)));
    if (extra)
        y = add(v, y, extra);
    y = sub(v, y, mul(v, z, kf(v, 0.5)));
    return add(v, add(v, f, y), mul(v, e, kf(v, LN2_HI)));
}

/* log(x) for x > 0 (subnormals scaled by 2^23 first); 0 -> -inf,
 * negative -> NaN, inf -> inf. */
LLVMValueRef em__vmath_log(LLVMBuilderRef b, LLVMValueRef x)
{
    vm v = vm_for(b, x);
    LLVMValueRef tiny = fcmp(&v, LLVMRealOLT, x, kf(&v, 0x1p-126));
    LLVMValueRef xs = sel(&v, tiny, mul(&v, x, kf(&v, 0x1p23)), x);
    LLVMValueRef f, e;
    log_split(&v, xs, &f, &e);
    e = sub(&v, e, sel(&v, tiny, kf(&v, 23.0), kf(&v, 0.0)));
    LLVMValueRef r = log_poly(&v, f, e, NULL);
    LLVMValueRef inf = kf(&v, (double)INFINITY);
    r = sel(&v, fcmp(&v, LLVMRealOEQ, x, inf), inf, r);
    r = sel(&v, fcmp(&v, LLVMRealOEQ, x, kf(&v, 0.0)),
            kf(&v, -(double)INFINITY), r);
    r = sel(&v, fcmp(&v, LLVMRealOLT, x, kf(&v, 0.0)), kf(&v, (double)NAN), r);
    return keep_nan(&v, x, r);
}

/* log1p(x) = log(u) + c/u with u = 1 + x rounded and c = (1 + x) - u
 * exactly (fast two-sum, larger operand first). Near 0, u's split gives
 * e = 0 and f = u - 1, so this is f + c plus the polynomial: the input's
 * full precision. -1 -> -inf, below -1 -> NaN, inf -> inf. */
LLVMValueRef em__vmath_log1p(LLVMBuilderRef b, LLVMValueRef x)
{
    vm v = vm_for(b, x);
    LLVMValueRef one = kf(&v, 1.0);
    LLVMValueRef u = add(&v, one, x);
    LLVMValueRef c_small = sub(&v, x, sub(&v, u, one));
    LLVMValueRef c_big = sub(&v, one, sub(&v, u, x));
    LLVMValueRef small = fcmp(&v, LLVMRealOLE, call1(&v, "llvm.fabs", x), one);
    LLVMValueRef c = sel(&v, small, c_small, c_big);
    LLVMValueRef f, e;
    log_split(&v, u, &f, &e);
    LLVMValueRef r = log_poly(&v, f, e, quot(&v, c, u));
    LLVMValueRef inf = kf(&v, (double)INFINITY);
    r = sel(&v, fcmp(&v, LLVMRealOEQ, u, inf), inf, r);
    r = sel(&v, fcmp(&v, LLVMRealOEQ, u, kf(&v, 0.0)),
            kf(&v, -(double)INFINITY), r);
    r = sel(&v, fcmp(&v, LLVMRealOLT, x, kf(&v, -1.0)), kf(&v, (double)NAN), r);
    /* the sums turn -0 into +0 */
    r = sel(&v, fcmp(&v, LLVMRealOEQ, x, kf(&v, 0.0)), x, r);
    return keep_nan(&v, x, r);
}

/* The metadata kind that marks a division as the last step of tanh or
 * sigmoid: a quotient of a numerator of magnitude at most 1 and a
 * denominator in [1, 2]. */
#define FRACTION "ember.fraction"

/* num / den, marked for em__vmath_fold_products. */
static LLVMValueRef fraction(const vm *v, LLVMValueRef num, LLVMValueRef den)
{
    LLVMValueRef q = quot(v, num, den);
    if (LLVMIsAInstruction(q)) {
        unsigned kind =
            LLVMGetMDKindIDInContext(v->ctx, FRACTION, strlen(FRACTION));
        LLVMSetMetadata(q, kind, LLVMMDNodeInContext(v->ctx, NULL, 0));
    }
    return q;
}

/* tanh(x): on a = |x|, a + a^3 P(a^2) below 0.625, else
 * (d - 2e) / d with e = exp(-2a) and d = 1 + e rounded, which is
 * 1 - 2e / d: where d rounds to 1 (a > 8.67) the numerator is 1 - 2e,
 * which reaches 1 only where tanh does (a > 9.01). The sign is copied
 * back at the end (so tanh(-0) = -0). */
LLVMValueRef em__vmath_tanh(LLVMBuilderRef b, LLVMValueRef x)
{
    /* (tanh(a) - a) / a^3 as a polynomial in a^2 on [0, 0.625] */
    static const double p[] = {-5.70498872745e-3, 2.06390887954e-2,
                               -5.37397155531e-2, 1.33314422036e-1,
                               -3.33332819422e-1};
    vm v = vm_for(b, x);
    LLVMValueRef a = call1(&v, "llvm.fabs", x);
    LLVMValueRef z = mul(&v, a, a);
    LLVMValueRef near0 = fmuladd(&v, mul(&v, horner(&v, z, p, 5), z), a, a);
    /* e = 2^n y, and 2^n y, -2^(n+1) y exact products inside the
     * multiply-adds */
    LLVMValueRef m = clamp(&v, mul(&v, a, kf(&v, -2.0)), -20.0, 0.0);
    exp_parts e = exp_reduce(&v, m, false);
    LLVMValueRef one = kf(&v, 1.0);
    LLVMValueRef y = add(&v, one, fmuladd(&v, e.r2, e.p, e.rr));
    LLVMValueRef p2 = scale(&v, one, e.k, -20.0, 0.0);
    LLVMValueRef far_den = fmuladd(&v, p2, y, one);
    LLVMValueRef far_num = fmuladd(&v, mul(&v, p2, kf(&v, -2.0)), y, far_den);
    LLVMValueRef near = fcmp(&v, LLVMRealOLT, a, kf(&v, 0.625));
    LLVMValueRef num = sel(&v, near, near0, far_num);
    LLVMValueRef den = sel(&v, near, one, far_den);
    return fraction(&v, call2(&v, "llvm.copysign", num, x), den);
}

/* sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with
 * e = exp(-|x|) <= 1: no cancellation and no overflow on either side, and
 * for very negative x the result is e itself, subnormals included. A NaN
 * x makes e, and so the denominator, NaN. */
LLVMValueRef em__vmath_sigmoid(LLVMBuilderRef b, LLVMValueRef x)
{
    vm v = vm_for(b, x);
    LLVMValueRef m = LLVMBuildFNeg(b, call1(&v, "llvm.fabs", x), "");
    LLVMValueRef e = exp_in(&v, clamp(&v, m, -104.0, 0.0), -104.0, 0.0);
    LLVMValueRef one = kf(&v, 1.0);
    LLVMValueRef neg = fcmp(&v, LLVMRealOLT, x, kf(&v, 0.0));
    return fraction(&v, sel(&v, neg, e, one), add(&v, one, e));
}

/* Whether v is a marked fraction whose only user is `user`. */
static bool lone_fraction(LLVMValueRef v, LLVMValueRef user, unsigned kind)
{
    if (!LLVMIsAInstruction(v) || LLVMGetInstructionOpcode(v) != LLVMFDiv ||
        !LLVMGetMetadata(v, kind))
        return false;
    LLVMUseRef use = LLVMGetFirstUse(v);
    return use && LLVMGetUser(use) == user && !LLVMGetNextUse(use);
}

void em__vmath_fold_products(LLVMModuleRef module)
{
    LLVMContextRef ctx = LLVMGetModuleContext(module);
    unsigned kind = LLVMGetMDKindIDInContext(ctx, FRACTION, strlen(FRACTION));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    for (LLVMValueRef fn = LLVMGetFirstFunction(module); fn;
         fn = LLVMGetNextFunction(fn))
        for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb;
             bb = LLVMGetNextBasicBlock(bb))
            for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in;) {
                LLVMValueRef next = LLVMGetNextInstruction(in);
                LLVMValueRef f = NULL, g = NULL;
                if (LLVMGetInstructionOpcode(in) == LLVMFMul) {
                    f = LLVMGetOperand(in, 0);
                    g = LLVMGetOperand(in, 1);
                }
                if (f && f != g && lone_fraction(f, in, kind) &&
                    lone_fraction(g, in, kind)) {
                    /* numerators' product at most 1 in magnitude,
                     * denominators' in [1, 4]: nothing overflows, and a
                     * numerator that underflows makes a result no larger */
                    LLVMPositionBuilderBefore(b, in);
                    LLVMValueRef num = LLVMBuildFMul(b, LLVMGetOperand(f, 0),
                                                     LLVMGetOperand(g, 0), "");
                    LLVMValueRef den = LLVMBuildFMul(b, LLVMGetOperand(f, 1),
                                                     LLVMGetOperand(g, 1), "");
                    LLVMReplaceAllUsesWith(in, LLVMBuildFDiv(b, num, den, ""));
                    LLVMInstructionEraseFromParent(in);
                    LLVMInstructionEraseFromParent(f);
                    LLVMInstructionEraseFromParent(g);
                }
                in = next;
            }
    LLVMDisposeBuilder(b);
}
