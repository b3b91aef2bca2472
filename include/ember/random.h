/*
 * ember/random.h - seeded random numbers and weight initialisers.
 *
 * The generator is counter based (Philox-4x32-10): number i of a draw is a
 * pure function of (seed, draw counter, i), so results do not depend on
 * threads or on how a draw is split, and a traced function draws the same
 * numbers as the eager one for the same seed.
 *
 * Each function takes an em_rng; NULL means the process-wide generator,
 * seeded with 0 until em_random_seed is called.
 */
#ifndef EMBER_RANDOM_H
#define EMBER_RANDOM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct em_rng em_rng;

/* A generator; release with em_rng_free. NULL only when out of memory. */
em_rng *em_rng_new(uint64_t seed);
void em_rng_free(em_rng *rng);
/* Restarts a generator (NULL: the process-wide one) from seed. */
void em_random_seed(em_rng *rng, uint64_t seed);
/* Next raw 64-bit value, for shuffling and other host-side choices. */
uint64_t em_rng_next_u64(em_rng *rng);

/* Uniform in [low, high). dtype float32 or float64. */
em_tensor *em_random_uniform(em_rng *rng, double low, double high,
                             em_dtype dtype, int ndim, const int64_t *shape);
/* Normal with the given mean and standard deviation (Box-Muller). */
em_tensor *em_random_normal(em_rng *rng, double mean, double stddev,
                            em_dtype dtype, int ndim, const int64_t *shape);

/* Glorot (Xavier) uniform for a [fan_in, fan_out] weight:
 * U(-sqrt(6 / (fan_in + fan_out)), +sqrt(6 / (fan_in + fan_out))). For more
 * than two dimensions, fan_in and fan_out are the last two dimensions times
 * the product of the others (the receptive field). */
em_tensor *em_init_glorot_uniform(em_rng *rng, em_dtype dtype, int ndim,
                                  const int64_t *shape);
/* He (Kaiming) normal for ReLU layers: N(0, sqrt(2 / fan_in)). */
em_tensor *em_init_he_normal(em_rng *rng, em_dtype dtype, int ndim,
                             const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
