/*
 * eager/random.c - seeded random tensors from a counter-based generator.
 *
 * A generator is a seed (the Philox key) and a 64-bit block counter. A draw
 * reserves as many consecutive 128-bit blocks as it needs and fills element
 * i from block base + i / per_block, so element i depends only on (seed,
 * base, i). Float32 uses one 32-bit word per element (4 per block), float64
 * two (2 per block); a normal pair comes from the same block. Two draws
 * whose sizes fill whole blocks therefore give exactly the numbers of one
 * draw of their combined size.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "philox.h"

struct em_rng {
    _Atomic uint64_t seed;
    _Atomic uint64_t counter; /* next free block */
};

/* The process-wide generator (seed 0 until em_random_seed). Its counter is
 * atomic, so threads drawing at once get disjoint blocks. */
static em_rng global_rng;

static em_rng *resolve(em_rng *rng)
{
    return rng ? rng : &global_rng;
}

em_rng *em_rng_new(uint64_t seed)
{
    em_rng *rng = malloc(sizeof *rng);
    if (!rng) {
        em__error("rng_new: out of memory");
        return NULL;
    }
    atomic_init(&rng->seed, seed);
    atomic_init(&rng->counter, 0);
    return rng;
}

void em_rng_free(em_rng *rng)
{
    free(rng);
}

void em_random_seed(em_rng *rng, uint64_t seed)
{
    rng = resolve(rng);
    atomic_store(&rng->seed, seed);
    atomic_store(&rng->counter, 0);
}

uint64_t em_rng_next_u64(em_rng *rng)
{
    rng = resolve(rng);
    uint64_t seed = atomic_load(&rng->seed);
    uint64_t block = atomic_fetch_add(&rng->counter, 1);
    uint32_t w[4];
    em__philox_block(seed, 0, block, w);
    return (uint64_t)w[1] << 32 | w[0];
}

/* ---- words to numbers
 * ------------------------------------------------------*/

/* [0, 1) from the top 24 bits of a word. */
static double unit24(uint32_t w)
{
    return (double)(w >> 8) * 0x1p-24;
}

/* (0, 1], for the logarithm in Box-Muller. */
static double unit24_open0(uint32_t w)
{
    return (double)((w >> 8) + 1) * 0x1p-24;
}

static double unit53(uint32_t lo, uint32_t hi)
{
    return (double)(((uint64_t)hi << 32 | lo) >> 11) * 0x1p-53;
}

static double unit53_open0(uint32_t lo, uint32_t hi)
{
    return (double)((((uint64_t)hi << 32 | lo) >> 11) + 1) * 0x1p-53;
}

typedef enum dist { UNIFORM, NORMAL } dist;

/* Box-Muller: two independent standard normals from u1 in (0, 1] and u2 in
 * [0, 1). */
static void box_muller(double u1, double u2, double *z0, double *z1)
{
    double r = sqrt(-2.0 * log(u1));
    double theta = 2.0 * M_PI * u2;
    *z0 = r * cos(theta);
    *z1 = r * sin(theta);
}

/* The per_block standard values (unit uniforms or standard normals) that
 * block w yields. */
static void block_values(const uint32_t w[4], dist kind, em_dtype dtype,
                         double v[4])
{
    if (dtype == EM_FLOAT32) {
        if (kind == UNIFORM) {
            for (int k = 0; k < 4; k++)
                v[k] = unit24(w[k]);
        } else {
            box_muller(unit24_open0(w[0]), unit24(w[1]), &v[0], &v[1]);
            box_muller(unit24_open0(w[2]), unit24(w[3]), &v[2], &v[3]);
        }
        return;
    }
    if (kind == UNIFORM) {
        v[0] = unit53(w[0], w[1]);
        v[1] = unit53(w[2], w[3]);
    } else {
        box_muller(unit53_open0(w[0], w[1]), unit53(w[2], w[3]), &v[0], &v[1]);
    }
}

/* x rounded to dtype, kept below high: rounding a + (b - a) * u, in double
 * or then to float32, can land on high, and the interval is half-open. */
static double round_below(double x, double low, double high, em_dtype dtype)
{
    if (dtype == EM_FLOAT32) {
        float f = (float)x;
        while ((double)f >= high && (double)f > low)
            f = nextafterf(f, -INFINITY);
        return f;
    }
    if (x < high || low >= high)
        return x;
    double below = nextafter(high, -INFINITY);
    return below < low ? low : below;
}

/* [shape] -> [shape]: fills t with a + b * value for the distribution's
 * standard values, from a fresh range of the generator's blocks. */
static void fill(em_rng *rng, em_tensor *t, dist kind, double a, double b,
                 double high)
{
    em_dtype dtype = t->type.dtype;
    int64_t per_block = dtype == EM_FLOAT32 ? 4 : 2;
    int64_t blocks = (t->size + per_block - 1) / per_block;
    uint64_t seed = atomic_load(&rng->seed);
    uint64_t base = atomic_fetch_add(&rng->counter, (uint64_t)blocks);

    for (int64_t j = 0; j < blocks; j++) {
        uint32_t w[4];
        double v[4] = {0};
        em__philox_block(seed, 0, base + (uint64_t)j, w);
        block_values(w, kind, dtype, v);
        int64_t first = j * per_block;
        for (int64_t k = 0; k < per_block && first + k < t->size; k++) {
            double x = a + b * v[k];
            if (kind == UNIFORM)
                x = round_below(x, a, high, dtype);
            if (dtype == EM_FLOAT32)
                ((float *)t->data)[first + k] = (float)x;
            else
                ((double *)t->data)[first + k] = x;
        }
    }
}

/* A new float tensor of the given shape, or NULL with an error naming
 * `what`. */
static em_tensor *new_float(const char *what, em_dtype dtype, int ndim,
                            const int64_t *shape)
{
    if (dtype != EM_FLOAT32 && dtype != EM_FLOAT64) {
        em__error("%s: dtype %s is not float32 or float64", what,
                  em_dtype_name(dtype));
        return NULL;
    }
    if (ndim < 0 || ndim > EM_MAX_DIMS) {
        em__error("%s: ndim %d outside [0, %d]", what, ndim, EM_MAX_DIMS);
        return NULL;
    }
    if (ndim > 0 && !shape) {
        em__error("%s: shape is NULL for ndim %d", what, ndim);
        return NULL;
    }
    em__type type;
    if (!em__type_make_checked(&type, what, dtype, ndim, shape))
        return NULL;
    return em__tensor_new(&type);
}

em_tensor *em_random_uniform(em_rng *rng, double low, double high,
                             em_dtype dtype, int ndim, const int64_t *shape)
{
    if (!isfinite(low) || !isfinite(high) || low > high) {
        em__error("random_uniform: needs finite low <= high (got %g, %g)", low,
                  high);
        return NULL;
    }
    em_tensor *t = new_float("random_uniform", dtype, ndim, shape);
    if (t)
        fill(resolve(rng), t, UNIFORM, low, high - low, high);
    return em__tensor_place(t);
}

em_tensor *em_random_normal(em_rng *rng, double mean, double stddev,
                            em_dtype dtype, int ndim, const int64_t *shape)
{
    if (!isfinite(mean) || !isfinite(stddev) || stddev < 0) {
        em__error("random_normal: needs a finite mean and stddev >= 0 "
                  "(got %g, %g)",
                  mean, stddev);
        return NULL;
    }
    em_tensor *t = new_float("random_normal", dtype, ndim, shape);
    if (t)
        fill(resolve(rng), t, NORMAL, mean, stddev, INFINITY);
    return em__tensor_place(t);
}

/* Fans of a weight: [fan_in, fan_out] for 2-d; for more dimensions the
 * last two times the receptive field (the product of the others); a 1-d
 * [n] has fan_in = fan_out = n and a scalar 1 and 1 (as in Keras). */
static void fans(int ndim, const int64_t *shape, double *fan_in,
                 double *fan_out)
{
    if (ndim == 0) {
        *fan_in = *fan_out = 1;
        return;
    }
    if (ndim == 1) {
        *fan_in = *fan_out = (double)shape[0];
        return;
    }
    double receptive = 1;
    for (int i = 0; i < ndim - 2; i++)
        receptive *= (double)shape[i];
    *fan_in = (double)shape[ndim - 2] * receptive;
    *fan_out = (double)shape[ndim - 1] * receptive;
}

em_tensor *em_init_glorot_uniform(em_rng *rng, em_dtype dtype, int ndim,
                                  const int64_t *shape)
{
    em_tensor *t = new_float("init_glorot_uniform", dtype, ndim, shape);
    if (!t)
        return NULL;
    double fan_in, fan_out;
    fans(ndim, shape, &fan_in, &fan_out);
    /* Zero fans only come with zero elements: nothing to draw. */
    double limit = fan_in + fan_out > 0 ? sqrt(6.0 / (fan_in + fan_out)) : 0;
    fill(resolve(rng), t, UNIFORM, -limit, 2 * limit, limit);
    return em__tensor_place(t);
}

em_tensor *em_init_he_normal(em_rng *rng, em_dtype dtype, int ndim,
                             const int64_t *shape)
{
    em_tensor *t = new_float("init_he_normal", dtype, ndim, shape);
    if (!t)
        return NULL;
    double fan_in, fan_out;
    fans(ndim, shape, &fan_in, &fan_out);
    double stddev = fan_in > 0 ? sqrt(2.0 / fan_in) : 0;
    fill(resolve(rng), t, NORMAL, 0, stddev, INFINITY);
    return em__tensor_place(t);
}
