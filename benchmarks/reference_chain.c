/*
 * benchmarks/reference_chain.c - the hand-written chain loops (see
 * reference_chain.h).
 *
 * gcc vectorises no call to tanhf or expf unless -ffast-math is on (only
 * then does glibc's math.h declare their SIMD variants), and it refuses to
 * if-convert a select on a float comparison under the default
 * -ftrapping-math. So the vectorised loop computes exp with a polynomial
 * and picks between values with integer masks: everything in it is
 * arithmetic, bit operations and one division per element, which gcc
 * widens to the host's vectors.
 *
 *   exp(x)   x = k ln2 + r, |r| <= ln2/2; 2^k from the exponent bits and
 *            e^r from its Taylor polynomial to r^7 (truncation < 1e-8)
 *   tanh(u)  |u| < 0.4: u + u^3 P(u^2), its Taylor series to u^13;
 *            else (1 - e) / (1 + e) with e = exp(-2|u|); the sign of u
 *   y        tanh(u) / (1 + exp(-x)), as one division: the numerator and
 *            denominator of tanh are carried separately
 */
#include "reference_chain.h"

#include <math.h>
#include <string.h>

/* Fused multiply-add where the host has it in hardware: C99 defines
 * FP_FAST_FMAF then, and gcc vectorises fmaf. */
#ifdef FP_FAST_FMAF
#define MADD(a, b, c) fmaf(a, b, c)
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

static inline uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* a where mask is all ones, b where it is zero. */
static inline float select_bits(uint32_t mask, float a, float b)
{
    return float_of((bits_of(a) & mask) | (bits_of(b) & ~mask));
}

/* e^x. |x| is clamped to 87, where e^x is still a normal float: e^-87 is
 * 1.6e-38 instead of less, which vanishes in 1 + e. */
static inline float exp_approx(float x)
{
    uint32_t ax = bits_of(x) & 0x7fffffffu;
    uint32_t clamp = -(uint32_t)((ax > bits_of(87.0f)) & (ax <= 0x7f800000u));
    x = select_bits(clamp, copysignf(87.0f, x), x);

    /* Adding 1.5 * 2^23 rounds x / ln2 to an integer k, held in the low
     * mantissa bits. */
    float shifted = MADD(x, 1.44269504088896341f, 12582912.0f);
    uint32_t k = bits_of(shifted);
    float kf = shifted - 12582912.0f;
    float r = MADD(kf, -0.693145751953125f, x);
    r = MADD(kf, -1.42860682030941723212e-6f, r);

    float p = 1.0f / 5040;
    p = MADD(p, r, 1.0f / 720);
    p = MADD(p, r, 1.0f / 120);
    p = MADD(p, r, 1.0f / 24);
    p = MADD(p, r, 1.0f / 6);
    p = MADD(p, r, 0.5f);
    p = MADD(p, r, 1.0f);
    p = MADD(p, r, 1.0f);
    return p * float_of((k - 0x4b400000u + 127u) << 23);
}

void ref_chain(const float *restrict x, float *restrict y, int64_t n, float a,
               float b)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float u = MADD(v, a, b);
        float t = fabsf(u);

        float z = t * t;
        float small = 21844.0f / 6081075;
        small = MADD(small, z, -1382.0f / 155925);
        small = MADD(small, z, 62.0f / 2835);
        small = MADD(small, z, -17.0f / 315);
        small = MADD(small, z, 2.0f / 15);
        small = MADD(small, z, -1.0f / 3);
        small = MADD(small * z, t, t);

        float e = exp_approx(-2.0f * t);
        uint32_t is_small = -(uint32_t)(bits_of(t) < bits_of(0.4f));
        float num = select_bits(is_small, small, 1.0f - e);
        float den = select_bits(is_small, 1.0f, 1.0f + e);
        y[i] = copysignf(num, u) / (den * (1.0f + exp_approx(-v)));
    }
}

void ref_chain_libm(const float *restrict x, float *restrict y, int64_t n,
                    float a, float b)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = tanhf(v * a + b) / (1.0f + expf(-v));
    }
}

int ref_chain_uses_fma(void)
{
#ifdef FP_FAST_FMAF
    return 1;
#else
    return 0;
#endif
}
