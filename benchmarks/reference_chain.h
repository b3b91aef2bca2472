/*
 * benchmarks/reference_chain.h - the chain workload written by hand:
 * y = tanh(x * a + b) * sigmoid(x) over a float array, as a plain C loop
 * that gcc -O3 -march=native vectorises (compiled in its own translation
 * unit with those flags), and the same loop calling libm's tanhf and expf,
 * which gcc does not vectorise.
 */
#ifndef EMBER_BENCH_REFERENCE_CHAIN_H
#define EMBER_BENCH_REFERENCE_CHAIN_H

#include <stdint.h>

/* [n] -> [n]. Within 3 ulp of the correctly rounded result where it is a
 * normal float; NaN in gives NaN out. x and y must not overlap. */
void ref_chain(const float *x, float *y, int64_t n, float a, float b);

/* The same with tanhf and expf per element. */
void ref_chain_libm(const float *x, float *y, int64_t n, float a, float b);

/* 1 when this file was compiled with vector FMA (FP_FAST_FMAF). */
int ref_chain_uses_fma(void);

#endif
