/* Random numbers: the Philox generator, determinism, distributions and the
 * weight initialisers. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "testing.h"

/* Elements of t as doubles (caller frees). */
static double *values_of(const em_tensor *t)
{
    int64_t n = em_tensor_size(t);
    double *v = malloc(sizeof *v * (size_t)(n ? n : 1));
    ck_assert_int_eq(em_tensor_copy_to(t, v, EM_FLOAT64, sizeof *v * n), 0);
    return v;
}

typedef struct moments {
    double mean, variance, min, max;
} moments;

static moments moments_of(const em_tensor *t)
{
    int64_t n = em_tensor_size(t);
    double *v = values_of(t);
    moments m = {0, 0, INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) {
        m.mean += v[i];
        m.min = fmin(m.min, v[i]);
        m.max = fmax(m.max, v[i]);
    }
    m.mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        m.variance += (v[i] - m.mean) * (v[i] - m.mean);
    m.variance /= (double)n;
    free(v);
    return m;
}

static bool same_values(const em_tensor *a, const em_tensor *b)
{
    size_t bytes = em_tensor_nbytes(a);
    return bytes == em_tensor_nbytes(b) &&
           memcmp(em_tensor_data((em_tensor *)a),
                  em_tensor_data((em_tensor *)b), bytes) == 0;
}

START_TEST(philox_matches_random123_known_answers)
{
    /* Known-answer vectors of philox4x32_10 from the Random123 release. */
    static const uint32_t cases[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int c = 0; c < 3; c++) {
        uint32_t out[4];
        em__philox4x32_10(cases[c], cases[c] + 4, out);
        for (int k = 0; k < 4; k++)
            ck_assert_uint_eq(out[k], cases[c][6 + k]);
    }
}
END_TEST

START_TEST(uniform_float32_uses_top_24_bits_of_each_word)
{
    em_rng *rng = em_rng_new(0x1234567890abcdefull);
    em_tensor *t = em_random_uniform(rng, -1, 3, EM_FLOAT32, 1, (int64_t[]){6});
    double expected[6];
    for (int block = 0; block < 2; block++) {
        uint32_t w[4];
        em__philox_block(0x1234567890abcdefull, 0, (uint64_t)block, w);
        for (int k = 0; k < 4 && 4 * block + k < 6; k++)
            expected[4 * block + k] =
                -1 + 4 * ((double)(w[k] >> 8) / 16777216.0);
    }
    assert_values(t, expected, 6, 0, 1e-7);
    em_tensor_free(t);
    em_rng_free(rng);
}
END_TEST

START_TEST(uniform_float64_uses_53_bits_of_two_words)
{
    em_rng *rng = em_rng_new(99);
    em_tensor *t = em_random_uniform(rng, 0, 1, EM_FLOAT64, 1, (int64_t[]){2});
    uint32_t w[4];
    em__philox_block(99, 0, 0, w);
    double expected[2] = {
        (double)(((uint64_t)w[1] << 32 | w[0]) >> 11) / 9007199254740992.0,
        (double)(((uint64_t)w[3] << 32 | w[2]) >> 11) / 9007199254740992.0,
    };
    assert_values(t, expected, 2, 0, 0);
    em_tensor_free(t);
    em_rng_free(rng);
}
END_TEST

START_TEST(same_seed_gives_same_numbers_and_other_seeds_differ)
{
    em_rng *a = em_rng_new(7), *b = em_rng_new(7), *c = em_rng_new(8);
    int64_t shape[2] = {3, 5};
    em_tensor *ta = em_random_normal(a, 0, 1, EM_FLOAT32, 2, shape);
    em_tensor *tb = em_random_normal(b, 0, 1, EM_FLOAT32, 2, shape);
    em_tensor *tc = em_random_normal(c, 0, 1, EM_FLOAT32, 2, shape);
    ck_assert(same_values(ta, tb));
    ck_assert(!same_values(ta, tc));
    /* The next draw continues the stream: new numbers. */
    em_tensor *ta2 = em_random_normal(a, 0, 1, EM_FLOAT32, 2, shape);
    ck_assert(!same_values(ta, ta2));
    em_tensor_free(ta);
    em_tensor_free(tb);
    em_tensor_free(tc);
    em_tensor_free(ta2);
    em_rng_free(a);
    em_rng_free(b);
    em_rng_free(c);
}
END_TEST

START_TEST(whole_block_draws_concatenate_to_one_draw)
{
    /* Element i depends only on (seed, draw base, i): two draws of 8
     * float32 (2 blocks each) are the one draw of 16. */
    em_rng *split = em_rng_new(3), *whole = em_rng_new(3);
    em_tensor *h1 =
        em_random_uniform(split, 0, 1, EM_FLOAT32, 1, (int64_t[]){8});
    em_tensor *h2 =
        em_random_uniform(split, 0, 1, EM_FLOAT32, 1, (int64_t[]){8});
    em_tensor *all =
        em_random_uniform(whole, 0, 1, EM_FLOAT32, 1, (int64_t[]){16});
    const float *p1 = em_tensor_data(h1), *p2 = em_tensor_data(h2);
    const float *pa = em_tensor_data(all);
    for (int i = 0; i < 8; i++) {
        ck_assert(p1[i] == pa[i]);
        ck_assert(p2[i] == pa[8 + i]);
    }
    em_tensor_free(h1);
    em_tensor_free(h2);
    em_tensor_free(all);

    /* Normal float64: 2 per block, so draws of 4 + 4 equal one of 8. */
    em_random_seed(split, 11);
    em_random_seed(whole, 11);
    h1 = em_random_normal(split, 0, 1, EM_FLOAT64, 1, (int64_t[]){4});
    h2 = em_random_normal(split, 0, 1, EM_FLOAT64, 1, (int64_t[]){4});
    all = em_random_normal(whole, 0, 1, EM_FLOAT64, 1, (int64_t[]){8});
    const double *q1 = em_tensor_data(h1), *q2 = em_tensor_data(h2);
    const double *qa = em_tensor_data(all);
    for (int i = 0; i < 4; i++) {
        ck_assert(q1[i] == qa[i]);
        ck_assert(q2[i] == qa[4 + i]);
    }
    em_tensor_free(h1);
    em_tensor_free(h2);
    em_tensor_free(all);
    em_rng_free(split);
    em_rng_free(whole);
}
END_TEST

START_TEST(a_partial_block_draw_does_not_overlap_the_next)
{
    /* 5 float32 take 2 blocks; the next draw starts at block 2. */
    em_rng *rng = em_rng_new(21);
    em_tensor *first =
        em_random_uniform(rng, 0, 1, EM_FLOAT32, 1, (int64_t[]){5});
    em_tensor *second =
        em_random_uniform(rng, 0, 1, EM_FLOAT32, 1, (int64_t[]){1});
    uint32_t w[4];
    em__philox_block(21, 0, 2, w);
    double expected = (double)(w[0] >> 8) / 16777216.0;
    assert_values(second, &expected, 1, 0, 0);
    em_tensor_free(first);
    em_tensor_free(second);
    em_rng_free(rng);
}
END_TEST

START_TEST(empty_draw_gives_empty_tensor_and_uses_no_numbers)
{
    em_rng *a = em_rng_new(5), *b = em_rng_new(5);
    em_tensor *empty =
        em_random_uniform(a, 0, 1, EM_FLOAT32, 2, (int64_t[]){0, 3});
    assert_shape(empty, 2, 0, 3);
    em_tensor *ta = em_random_uniform(a, 0, 1, EM_FLOAT32, 1, (int64_t[]){4});
    em_tensor *tb = em_random_uniform(b, 0, 1, EM_FLOAT32, 1, (int64_t[]){4});
    ck_assert(same_values(ta, tb));
    em_tensor_free(empty);
    em_tensor_free(ta);
    em_tensor_free(tb);
    em_rng_free(a);
    em_rng_free(b);
}
END_TEST

START_TEST(seeding_restarts_the_process_wide_generator)
{
    em_random_seed(NULL, 1234);
    em_tensor *a =
        em_random_uniform(NULL, 0, 1, EM_FLOAT64, 1, (int64_t[]){10});
    uint64_t u = em_rng_next_u64(NULL);
    em_random_seed(NULL, 1234);
    em_tensor *b =
        em_random_uniform(NULL, 0, 1, EM_FLOAT64, 1, (int64_t[]){10});
    ck_assert(same_values(a, b));
    ck_assert_uint_eq(em_rng_next_u64(NULL), u);
    /* The global generator draws like a private one with the same seed. */
    em_rng *own = em_rng_new(1234);
    em_tensor *c = em_random_uniform(own, 0, 1, EM_FLOAT64, 1, (int64_t[]){10});
    ck_assert(same_values(a, c));
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(c);
    em_rng_free(own);
}
END_TEST

START_TEST(next_u64_takes_one_block_per_call)
{
    em_rng *rng = em_rng_new(42);
    for (uint64_t block = 0; block < 3; block++) {
        uint32_t w[4];
        em__philox_block(42, 0, block, w);
        ck_assert_uint_eq(em_rng_next_u64(rng), (uint64_t)w[1] << 32 | w[0]);
    }
    em_rng_free(rng);
}
END_TEST

enum { THREADS = 4, PER_THREAD = 2000 };

static void *draw_u64s(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < PER_THREAD; i++)
        out[i] = em_rng_next_u64(NULL);
    return NULL;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

START_TEST(threads_share_the_global_generator_without_repeats)
{
    static uint64_t got[THREADS * PER_THREAD], want[THREADS * PER_THREAD];
    em_random_seed(NULL, 77);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(
            pthread_create(&threads[t], NULL, draw_u64s, got + t * PER_THREAD),
            0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    /* Whatever the interleaving, the threads took the first blocks. */
    em_random_seed(NULL, 77);
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        want[i] = em_rng_next_u64(NULL);
    qsort(got, THREADS * PER_THREAD, sizeof *got, compare_u64);
    qsort(want, THREADS * PER_THREAD, sizeof *want, compare_u64);
    ck_assert(memcmp(got, want, sizeof got) == 0);
}
END_TEST

START_TEST(uniform_moments_and_range)
{
    const int n = 100000;
    const double low = -2, high = 3, width = high - low;
    for (int d = 0; d < 2; d++) {
        em_dtype dtype = d ? EM_FLOAT64 : EM_FLOAT32;
        em_rng *rng = em_rng_new(2024);
        em_tensor *t =
            em_random_uniform(rng, low, high, dtype, 1, (int64_t[]){n});
        moments m = moments_of(t);
        double var = width * width / 12;
        double se_mean = sqrt(var / n);
        /* Var of the sample variance: (mu4 - sigma^4) / n, mu4 = w^4/80. */
        double se_var = sqrt((pow(width, 4) / 80 - var * var) / n);
        ck_assert_double_le(fabs(m.mean - (low + high) / 2), 5 * se_mean);
        ck_assert_double_le(fabs(m.variance - var), 5 * se_var);
        ck_assert_double_ge(m.min, low);
        ck_assert_double_lt(m.max, high);
        em_tensor_free(t);
        em_rng_free(rng);
    }
}
END_TEST

START_TEST(uniform_never_returns_high_after_rounding)
{
    /* The float32 interval [1, 1 + 2^-23) holds the single value 1: every
     * number rounded up to high must come back down. */
    em_rng *rng = em_rng_new(9);
    double high = 1 + 0x1p-23;
    em_tensor *t =
        em_random_uniform(rng, 1, high, EM_FLOAT32, 1, (int64_t[]){1000});
    moments m = moments_of(t);
    ck_assert_double_eq(m.max, 1);
    ck_assert_double_eq(m.min, 1);
    em_tensor_free(t);
    em_rng_free(rng);
}
END_TEST

START_TEST(normal_moments)
{
    const int n = 100000;
    const double mean = 1, stddev = 2;
    for (int d = 0; d < 2; d++) {
        em_dtype dtype = d ? EM_FLOAT64 : EM_FLOAT32;
        em_rng *rng = em_rng_new(31337);
        em_tensor *t =
            em_random_normal(rng, mean, stddev, dtype, 1, (int64_t[]){n});
        moments m = moments_of(t);
        double var = stddev * stddev;
        ck_assert_double_le(fabs(m.mean - mean), 5 * stddev / sqrt(n));
        ck_assert_double_le(fabs(m.variance - var),
                            5 * sqrt(2 * var * var / n));
        /* Shape check: P(|x - mean| < stddev) = erf(1 / sqrt 2). */
        double *v = values_of(t);
        int inside = 0;
        for (int i = 0; i < n; i++)
            inside += fabs(v[i] - mean) < stddev;
        double p = erf(1 / sqrt(2.0));
        ck_assert_double_le(fabs((double)inside / n - p),
                            5 * sqrt(p * (1 - p) / n));
        ck_assert(isfinite(m.min) && isfinite(m.max));
        free(v);
        em_tensor_free(t);
        em_rng_free(rng);
    }
}
END_TEST

START_TEST(glorot_uniform_bounds_and_spread)
{
    em_rng *rng = em_rng_new(1);
    em_tensor *w =
        em_init_glorot_uniform(rng, EM_FLOAT32, 2, (int64_t[]){300, 200});
    double limit = sqrt(6.0 / (300 + 200));
    moments m = moments_of(w);
    ck_assert_double_ge(m.min, -limit);
    ck_assert_double_lt(m.max, limit);
    /* 60000 samples of U(-l, l): variance l^2 / 3, close to the bounds. */
    ck_assert_double_le(fabs(m.variance - limit * limit / 3),
                        0.02 * limit * limit / 3);
    ck_assert_double_gt(m.max, 0.99 * limit);
    em_tensor_free(w);

    /* A [3, 3, 16, 32] kernel: receptive field 9, fans 144 and 288. */
    em_tensor *k =
        em_init_glorot_uniform(rng, EM_FLOAT64, 4, (int64_t[]){3, 3, 16, 32});
    limit = sqrt(6.0 / (9 * 16 + 9 * 32));
    m = moments_of(k);
    ck_assert_double_ge(m.min, -limit);
    ck_assert_double_lt(m.max, limit);
    ck_assert_double_gt(m.max, 0.95 * limit);
    assert_shape(k, 4, 3, 3, 16, 32);
    em_tensor_free(k);
    em_rng_free(rng);
}
END_TEST

START_TEST(he_normal_standard_deviation)
{
    em_rng *rng = em_rng_new(2);
    em_tensor *w = em_init_he_normal(rng, EM_FLOAT32, 2, (int64_t[]){500, 400});
    moments m = moments_of(w);
    double stddev = sqrt(2.0 / 500);
    int n = 500 * 400;
    ck_assert_double_le(fabs(m.mean), 5 * stddev / sqrt(n));
    ck_assert_double_le(fabs(sqrt(m.variance) - stddev), 0.01 * stddev);
    ck_assert_int_eq(em_tensor_dtype(w), EM_FLOAT32);
    em_tensor_free(w);
    em_rng_free(rng);
}
END_TEST

START_TEST(initialisers_accept_empty_shapes)
{
    em_tensor *g =
        em_init_glorot_uniform(NULL, EM_FLOAT32, 2, (int64_t[]){0, 0});
    em_tensor *h = em_init_he_normal(NULL, EM_FLOAT64, 2, (int64_t[]){0, 4});
    assert_shape(g, 2, 0, 0);
    assert_shape(h, 2, 0, 4);
    em_tensor_free(g);
    em_tensor_free(h);
}
END_TEST

START_TEST(bad_arguments_give_null_and_a_message)
{
    int64_t shape[1] = {3};
    ck_assert_ptr_null(em_random_uniform(NULL, 0, 1, EM_INT32, 1, shape));
    assert_error("random_uniform", "int32", "float32 or float64");
    ck_assert_ptr_null(em_random_uniform(NULL, 2, 1, EM_FLOAT32, 1, shape));
    assert_error("random_uniform", "low <= high");
    ck_assert_ptr_null(
        em_random_uniform(NULL, 0, INFINITY, EM_FLOAT32, 1, shape));
    assert_error("random_uniform", "finite");
    ck_assert_ptr_null(em_random_normal(NULL, 0, -1, EM_FLOAT64, 1, shape));
    assert_error("random_normal", "stddev");
    ck_assert_ptr_null(
        em_random_normal(NULL, 0, 1, EM_FLOAT64, 9, (int64_t[9]){0}));
    assert_error("random_normal", "ndim 9");
    ck_assert_ptr_null(em_init_he_normal(NULL, EM_FLOAT32, 1, (int64_t[]){-2}));
    assert_error("init_he_normal", "negative dimension", "[-2]");
    ck_assert_ptr_null(em_init_glorot_uniform(NULL, EM_BOOL, 1, shape));
    assert_error("init_glorot_uniform", "bool");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("random");
    TCase *tc = test_case(s, "philox");
    tcase_add_test(tc, philox_matches_random123_known_answers);
    tcase_add_test(tc, uniform_float32_uses_top_24_bits_of_each_word);
    tcase_add_test(tc, uniform_float64_uses_53_bits_of_two_words);
    tcase_add_test(tc, next_u64_takes_one_block_per_call);
    tc = test_case(s, "determinism");
    tcase_add_test(tc, same_seed_gives_same_numbers_and_other_seeds_differ);
    tcase_add_test(tc, whole_block_draws_concatenate_to_one_draw);
    tcase_add_test(tc, a_partial_block_draw_does_not_overlap_the_next);
    tcase_add_test(tc, empty_draw_gives_empty_tensor_and_uses_no_numbers);
    tcase_add_test(tc, seeding_restarts_the_process_wide_generator);
    tcase_add_test(tc, threads_share_the_global_generator_without_repeats);
    tc = test_case(s, "distributions");
    tcase_add_test(tc, uniform_moments_and_range);
    tcase_add_test(tc, uniform_never_returns_high_after_rounding);
    tcase_add_test(tc, normal_moments);
    tcase_add_test(tc, glorot_uniform_bounds_and_spread);
    tcase_add_test(tc, he_normal_standard_deviation);
    tcase_add_test(tc, initialisers_accept_empty_shapes);
    tc = test_case(s, "errors");
    tcase_add_test(tc, bad_arguments_give_null_and_a_message);
    return test_run(s);
}
