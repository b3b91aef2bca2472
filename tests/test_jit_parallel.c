/* Compiled loops over large tensors split across the runtime's threads:
 * the results are the same, element for element, whatever the number of
 * threads (each part writes its own outputs, in the same order), and they
 * match eager mode. Also the thread-count API. */
#include <stdio.h>

#include "testing.h"

/* An elementwise chain and two row reductions over [rows, 1000]. */
static int body(int n, em_tensor *const *in, int max, em_tensor **out,
                void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *x = in[0];
    em_tensor *y =
        em_mul(em_tanh(em_add(em_mul_scalar(x, 1.5), in[1])), em_sigmoid(x));
    out[0] = y;
    out[1] = em_sum(em_square(x), 1, (const int[]){1}, false);
    out[2] = em_max(y, 1, (const int[]){-1}, true);
    return 3;
}

/* Runs body compiled with `threads` threads on x, b. */
static void run(int threads, em_tensor *x, em_tensor *b, em_tensor **out)
{
    em_set_num_threads(threads);
    ck_assert_int_eq(em_get_num_threads(), threads);
    em_trace_options options = {.name = "parallel", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(body, NULL, &options);
    ck_assert_int_eq(em_function_call(f, 2, (em_tensor *[]){x, b}, 3, out), 3);
    em_concrete *c = em_function_concrete(f, 2, (em_tensor *[]){x, b});
    ck_assert_int_eq(em_concrete_wait_compiled(c), EM_TIER_NATIVE);
    em_function_free(f);
}

static void assert_bytes_equal(em_tensor *a, em_tensor *b)
{
    ck_assert_uint_eq(em_tensor_nbytes(a), em_tensor_nbytes(b));
    const float *pa = em_tensor_data(a), *pb = em_tensor_data(b);
    for (int64_t i = 0; i < em_tensor_size(a); i++)
        ck_assert_msg(pa[i] == pb[i], "element %lld: %.9g vs %.9g",
                      (long long)i, pa[i], pb[i]);
}

START_TEST(results_do_not_depend_on_the_thread_count)
{
    em_scope_begin();
    /* 300 x 1000 = 300,000 elements: above the size that is split. */
    em_tensor *x = test_random(1, EM_FLOAT32, 2, (int64_t[]){300, 1000}, -3, 3);
    em_tensor *b = test_random(2, EM_FLOAT32, 1, (int64_t[]){1000}, -1, 1);
    em_tensor *one[3], *two[3], *four[3], *eager[3];
    run(1, x, b, one);
    run(2, x, b, two);
    run(4, x, b, four);
    ck_assert_int_eq(body(2, (em_tensor *[]){x, b}, 3, eager, NULL), 3);
    for (int k = 0; k < 3; k++) {
        assert_bytes_equal(two[k], one[k]);
        assert_bytes_equal(four[k], one[k]);
        const float *got = em_tensor_data(one[k]);
        const float *want = em_tensor_data(eager[k]);
        for (int64_t i = 0; i < em_tensor_size(one[k]); i++)
            ck_assert_msg(fabsf(got[i] - want[i]) <=
                              1e-6f + 5e-7f * fabsf(want[i]),
                          "output %d element %lld: compiled %.9g, eager %.9g",
                          k, (long long)i, got[i], want[i]);
    }
    em_scope_end();
}
END_TEST

START_TEST(a_thread_count_out_of_range_is_refused)
{
    em_set_num_threads(3);
    em_set_num_threads(0);
    assert_error("set_num_threads", "0");
    em_set_num_threads(100000);
    assert_error("set_num_threads", "100000");
    ck_assert_int_eq(em_get_num_threads(), 3);
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("test_jit_parallel: skipped, no native code in this build or "
               "EMBER_JIT=0\n");
        return 77;
    }
    Suite *s = suite_create("jit_parallel");
    TCase *tc = test_case(s, "threads");
    tcase_add_test(tc, results_do_not_depend_on_the_thread_count);
    tcase_add_test(tc, a_thread_count_out_of_range_is_refused);
    return test_run(s);
}
