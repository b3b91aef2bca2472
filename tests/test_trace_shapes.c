/* Sizes under a signature's -1: one trace serves every size. Each body is
 * traced once through a signature with -1 and, at every size, the graph
 * built for that size must equal the graph of a function traced at exactly
 * that size (the same text), and its result the body's eager result.
 * Bodies whose sizes do not follow their inputs fall back to a trace per
 * size, with the reason logged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* ---- bodies, each with sizes that follow the batch ------------------------*/

#define BODY(name, expr)                                                       \
    static int name(int n, em_tensor *const *in, int max, em_tensor **out,     \
                    void *user)                                                \
    {                                                                          \
        (void)n, (void)max, (void)user;                                        \
        em_tensor *x = in[0];                                                  \
        int64_t b = em_tensor_dim(x, 0);                                       \
        (void)b;                                                               \
        out[0] = (expr);                                                       \
        return out[0] ? 1 : -1;                                                \
    }

/* x: [b, 6] float32 throughout. */
BODY(b_mean_rows, em_mean(x, 1, (const int[]){0}, false))
BODY(b_mean_all, em_mean(em_square(x), 0, NULL, false))
BODY(b_reshape_inferred, em_reshape(x, 3, (const int64_t[]){-1, 2, 3}))
BODY(b_reshape_flat, em_reshape(x, 1, (const int64_t[]){b * 6}))
BODY(b_slice_tail, em_slice(x, (const int64_t[]){1, 0},
                            (const int64_t[]){INT64_MAX, 4}, NULL))
BODY(b_concat_batch, em_concat(2, (em_tensor *const[]){x, em_neg(x)}, 0))
BODY(b_zeros_inside,
     em_add(x, em_full(0.5, EM_FLOAT32, 2, (const int64_t[]){b, 6})))
BODY(b_batch_as_value, em_div(x, em_scalar((double)b, EM_FLOAT32)))
BODY(b_broadcast_rows, em_broadcast_to(em_sum(x, 1, (const int[]){0}, true), 2,
                                       (const int64_t[]){b, 6}))
BODY(b_transpose_matmul, em_matmul(x, x, true, false))
BODY(b_squeeze_all, em_squeeze(x, 0, NULL))

/* A loop over the whole batch: doubles x until its sum passes 100. */
static int sum_below(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_less(em_sum(em_abs(in[0]), 0, NULL, false),
                     em_scalar(100, EM_FLOAT32));
    return 1;
}

static int doubled(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_mul_scalar(in[0], 2);
    return 1;
}

static int b_loop(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    (void)n, (void)max;
    em_tensor *x = em_add_scalar(em_abs(in[0]), 0.1);
    return em_while_loop(sum_below, doubled, user, 1, &x, out, NULL) == 0 ? 1
                                                                          : -1;
}

typedef struct body_case {
    const char *name;
    em_traced_body body;
} body_case;

static const body_case cases[] = {
    {"mean over the batch", b_mean_rows},
    {"mean of everything", b_mean_all},
    {"reshape with an inferred size", b_reshape_inferred},
    {"reshape to batch * 6", b_reshape_flat},
    {"slice dropping the first row", b_slice_tail},
    {"concat along the batch", b_concat_batch},
    {"a batch-shaped constant made inside", b_zeros_inside},
    {"the batch size as a value", b_batch_as_value},
    {"broadcast to the batch", b_broadcast_rows},
    {"a product over the batch", b_transpose_matmul},
    {"a while loop over the batch", b_loop},
    {"squeeze, which drops a batch of 1", b_squeeze_all},
};

static const em_input_spec rows_of_6 = {EM_FLOAT32, 2, {-1, 6}};

/* The optimised graph of f for x, as text (malloc'd). */
static char *graph_text(em_function *f, em_tensor *x)
{
    em_concrete *c = em_function_concrete(f, 1, &x);
    ck_assert_msg(c != NULL, "%s", em_error_last());
    int n = em_concrete_format(c, NULL, 0);
    char *text = malloc((size_t)n + 1);
    em_concrete_format(c, text, (size_t)n + 1);
    return text;
}

static void assert_same_tensor(em_tensor *got, em_tensor *want)
{
    int64_t n = em_tensor_size(want);
    ck_assert_int_eq(em_tensor_ndim(got), em_tensor_ndim(want));
    for (int d = 0; d < em_tensor_ndim(want); d++)
        ck_assert_int_eq(em_tensor_dim(got, d), em_tensor_dim(want, d));
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    em_tensor_copy_to(want, v, EM_FLOAT64, sizeof(double) * (size_t)n);
    assert_values(got, v, n, 1e-6, 1e-6);
    free(v);
}

START_TEST(every_size_gets_the_graph_a_trace_at_that_size_gives)
{
    const body_case *bc = &cases[_i];
    const int64_t sizes[] = {8, 5, 1, 13, 2, 8};
    em_trace_options poly_options = {.name = "body",
                                     .n_signature = 1,
                                     .signature = &rows_of_6,
                                     .jit = EM_JIT_OFF};
    em_trace_options exact_options = {.name = "body", .jit = EM_JIT_OFF};
    em_function *poly = em_trace_fn(bc->body, NULL, &poly_options);
    em_function *exact = em_trace_fn(bc->body, NULL, &exact_options);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        em_scope_begin();
        em_tensor *x = test_random(40 + (uint64_t)s, EM_FLOAT32, 2,
                                   (int64_t[]){sizes[s], 6}, -1, 1);
        char *want = graph_text(exact, x);
        char *got = graph_text(poly, x);
        ck_assert_msg(strcmp(got, want) == 0,
                      "%s, batch %lld:\n--- built\n%s--- traced\n%s", bc->name,
                      (long long)sizes[s], got, want);
        free(want);
        free(got);

        em_tensor *eager, *traced;
        ck_assert_int_eq(bc->body(1, &x, 1, &eager, NULL), 1);
        ck_assert_int_eq(em_function_call(poly, 1, &x, 1, &traced), 1);
        assert_same_tensor(traced, eager);
        em_scope_end();
    }
    /* One trace for 8 and the sizes built from it, one for 1 (sizes 0 and
     * 1 are always traced on their own). */
    em_function_stats stats = em_function_get_stats(poly);
    ck_assert_msg(stats.traces == 2, "%s: %lld traces", bc->name,
                  (long long)stats.traces);
    ck_assert_int_eq(stats.concrete_functions, 5);
    em_function_free(poly);
    em_function_free(exact);
}
END_TEST

/* ---- size symbols ---------------------------------------------------------*/

/* x: [b, t], y: [b]: rows summed, plus y. */
static int rows_plus(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_add(em_mean(in[0], 1, (const int[]){1}, false), in[1]);
    return 1;
}

static const em_input_spec batch_by_time[] = {{EM_FLOAT32, 2, {-1, -1}},
                                              {EM_FLOAT32, 1, {-1}}};

/* Calls f on random x [b, t] and y [b] and compares with the body run
 * eagerly. */
static void call_rows_plus(em_function *f, int64_t b, int64_t t)
{
    em_scope_begin();
    em_tensor *in[2] = {
        test_random(50, EM_FLOAT32, 2, (int64_t[]){b, t}, -1, 1),
        test_random(51, EM_FLOAT32, 1, (int64_t[]){b}, -1, 1)};
    em_tensor *eager, *traced;
    ck_assert_int_eq(rows_plus(2, in, 1, &eager, NULL), 1);
    ck_assert_msg(em_function_call(f, 2, in, 1, &traced) == 1, "%s",
                  em_error_last());
    assert_same_tensor(traced, eager);
    em_scope_end();
}

START_TEST(two_sizes_that_differ_at_the_first_call_vary_independently)
{
    em_trace_options options = {
        .name = "rows_plus", .n_signature = 2, .signature = batch_by_time};
    em_function *f = em_trace_fn(rows_plus, NULL, &options);
    call_rows_plus(f, 4, 7);
    call_rows_plus(f, 9, 2);
    call_rows_plus(f, 2, 30);
    call_rows_plus(f, 7, 7);
    em_function_stats stats = em_function_get_stats(f);
    ck_assert_int_eq(stats.traces, 1);
    ck_assert_int_eq(stats.concrete_functions, 4);
    em_function_free(f);
}
END_TEST

START_TEST(sizes_equal_at_the_first_call_are_one_size_until_they_differ)
{
    em_trace_options options = {
        .name = "rows_plus", .n_signature = 2, .signature = batch_by_time};
    em_function *f = em_trace_fn(rows_plus, NULL, &options);
    call_rows_plus(f, 5, 5);
    call_rows_plus(f, 3, 3);
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    /* b != t does not fit the one size: traced again, still right. */
    call_rows_plus(f, 3, 8);
    ck_assert_int_eq(em_function_get_stats(f).traces, 2);
    em_function_free(f);
}
END_TEST

/* ---- falling back to a trace per size -------------------------------------*/

typedef struct info_log {
    int count;
    char text[1024];
} info_log;

static void keep_info(em_log_level level, const char *message, void *user)
{
    info_log *log = user;
    if (level == EM_LOG_INFO && strstr(message, "traced again")) {
        log->count++;
        snprintf(log->text, sizeof log->text, "%s", message);
    }
}

static void keep_warning(em_log_level level, const char *message, void *user)
{
    info_log *log = user;
    if (level == EM_LOG_WARN) {
        log->count++;
        snprintf(log->text, sizeof log->text, "%s", message);
    }
}

/* C code choosing ops by the batch size: the graphs differ in more than
 * their sizes. */
static int branch_on_size(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_tensor_dim(in[0], 0) > 6 ? em_neg(in[0]) : em_exp(in[0]);
    return 1;
}

/* [b, 6] -> [b * b]: a size quadratic in the batch. */
static int outer_flat(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max, (void)user;
    int64_t b = em_tensor_dim(in[0], 0);
    out[0] = em_reshape(em_matmul(in[0], in[0], false, true), 1,
                        (const int64_t[]){b * b});
    return 1;
}

/* A reshape with the batch written into the function. */
static int fixed_batch(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_reshape(in[0], 1, (const int64_t[]){48});
    return out[0] ? 1 : -1;
}

/* How many of the rows' indices are below 8: a constant mask that is all
 * true near a first batch of 4, and not at 20. */
static int rows_below_8(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *index =
        em_arange(0, (double)em_tensor_dim(in[0], 0), 1, EM_FLOAT32);
    em_tensor *below =
        em_cast(em_less(index, em_scalar(8, EM_FLOAT32)), EM_FLOAT32);
    out[0] = em_add(em_sum(below, 0, NULL, false),
                    em_mul_scalar(em_sum(in[0], 0, NULL, false), 0));
    return out[0] ? 1 : -1;
}

/* The first 8 rows, as a slice clamps them: fewer when there are fewer. */
static int first_8(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_slice(in[0], (const int64_t[]){0, 0},
                      (const int64_t[]){8, INT64_MAX}, NULL);
    return out[0] ? 1 : -1;
}

typedef struct fallback_case {
    const char *name;
    em_traced_body body;
    const char *reason;
    int64_t sizes[3];
} fallback_case;

static const fallback_case fallbacks[] = {
    {"C code branching on the size", branch_on_size, "differ", {8, 5, 8}},
    {"a size quadratic in the batch", outer_flat, "does not fit", {8, 5, 8}},
    {"the batch written into the function",
     fixed_batch,
     "tracing it at other sizes failed",
     {8, 5, 8}},
    {"a mask that is all true near the first size",
     rows_below_8,
     "does not fit",
     {4, 20, 4}},
};

START_TEST(a_body_whose_sizes_do_not_follow_its_inputs_is_traced_per_size)
{
    const fallback_case *fc = &fallbacks[_i];
    info_log log = {0};
    em_log_level level = em_log_get_level();
    em_log_set_level(EM_LOG_INFO);
    em_log_set_handler(keep_info, &log);
    em_trace_options options = {.name = "body",
                                .n_signature = 1,
                                .signature = &rows_of_6,
                                .jit = EM_JIT_OFF};
    em_function *f = em_trace_fn(fc->body, NULL, &options);
    const int64_t *sizes = fc->sizes;
    int64_t traces = 0;
    for (int s = 0; s < 3; s++) {
        em_scope_begin();
        em_tensor *x =
            test_random(60, EM_FLOAT32, 2, (int64_t[]){sizes[s], 6}, -1, 1);
        em_tensor *eager, *traced;
        int want = fc->body(1, &x, 1, &eager, NULL);
        if (want < 0)
            em_error_clear();
        int got = em_function_call(f, 1, &x, 1, &traced);
        ck_assert_int_eq(got, want);
        if (got == 1) {
            assert_same_tensor(traced, eager);
            traces += s < 2;
        } else {
            /* The error a trace at this size gives: eager's own. */
            assert_error("reshape", "float32[5,6]", "while tracing body");
        }
        em_scope_end();
    }
    em_log_set_handler(NULL, NULL);
    em_log_set_level(level);
    ck_assert_int_eq(em_function_get_stats(f).traces, traces);
    ck_assert_int_eq(log.count, 1);
    ck_assert_msg(strstr(log.text, "'body'") && strstr(log.text, fc->reason),
                  "%s: %s", fc->name, log.text);
    em_function_free(f);
}
END_TEST

/* A slice's end kept by the fit can be past a smaller input: that size is
 * traced, and clamps as eager does. */
START_TEST(a_size_the_fit_cannot_serve_is_traced_and_matches_eager)
{
    em_trace_options options = {.name = "first_8",
                                .n_signature = 1,
                                .signature = &rows_of_6,
                                .jit = EM_JIT_OFF};
    em_function *f = em_trace_fn(first_8, NULL, &options);
    const int64_t sizes[] = {16, 4, 12};
    for (int s = 0; s < 3; s++) {
        em_scope_begin();
        em_tensor *x =
            test_random(70, EM_FLOAT32, 2, (int64_t[]){sizes[s], 6}, -1, 1);
        em_tensor *eager, *traced;
        ck_assert_int_eq(first_8(1, &x, 1, &eager, NULL), 1);
        ck_assert_msg(em_function_call(f, 1, &x, 1, &traced) == 1, "%s",
                      em_error_last());
        assert_same_tensor(traced, eager);
        em_scope_end();
    }
    /* 16 and 12 from the fit, 4 traced. */
    ck_assert_int_eq(em_function_get_stats(f).traces, 2);
    em_function_free(f);
}
END_TEST

/* The traces at other sizes fail for a body with its batch written in;
 * an error the caller left pending before the call stays pending. */
START_TEST(a_failing_trace_at_other_sizes_keeps_the_callers_error)
{
    em_trace_options options = {
        .name = "body", .n_signature = 1, .signature = &rows_of_6};
    em_function *f = em_trace_fn(fixed_batch, NULL, &options);
    em_scope_begin();
    em_tensor *bad = em_reshape(em_ones(EM_FLOAT32, 1, (int64_t[]){2}), 1,
                                (const int64_t[]){3});
    ck_assert_ptr_null(bad);
    em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){8, 6});
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    assert_error("reshape", "[2]");
    em_scope_end();
    em_function_free(f);
}
END_TEST

/* Where the body cannot be fitted, new sizes trace again, and too many of
 * them warn, saying so. */
START_TEST(a_body_that_cannot_be_fitted_warns_after_too_many_sizes)
{
    info_log log = {0};
    em_log_set_handler(keep_warning, &log);
    em_trace_options options = {.name = "outer_flat",
                                .n_signature = 1,
                                .signature = &rows_of_6,
                                .retrace_warning = 2,
                                .jit = EM_JIT_OFF};
    em_function *f = em_trace_fn(outer_flat, NULL, &options);
    for (int64_t b = 5; b <= 8; b++) {
        em_scope_begin();
        em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){b, 6});
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        em_scope_end();
    }
    em_log_set_handler(NULL, NULL);
    ck_assert_int_eq(log.count, 1);
    ck_assert_msg(strstr(log.text, "'outer_flat'") &&
                      strstr(log.text, "does not follow the sizes"),
                  "%s", log.text);
    em_function_free(f);
}
END_TEST

/* A body that makes its variable at every trace: the fit is given up, and
 * the graph reads the variable the caller's pointer names. */
typedef struct counter_holder {
    em_tensor *made[8]; /* the last is the one in use */
    int count;
} counter_holder;

static int count_rows(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max;
    counter_holder *h = user;
    ck_assert_int_lt(h->count, 8);
    em_tensor *v = h->made[h->count++] =
        em_variable_new("counter", em_scalar(0, EM_FLOAT32), false);
    if (!v || em_variable_assign_add(v, em_sum(in[0], 0, NULL, false)) != 0)
        return -1;
    out[0] = em_sum(in[0], 0, NULL, false);
    return 1;
}

START_TEST(a_body_making_variables_at_every_trace_reads_the_callers_variable)
{
    counter_holder h = {0};
    em_trace_options options = {
        .name = "count_rows", .n_signature = 1, .signature = &rows_of_6};
    em_function *f = em_trace_fn(count_rows, &h, &options);
    em_scope_begin();
    em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){4, 6});
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    em_scope_end();
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    /* Two calls, each adding 4 rows of 6 ones. */
    ck_assert_double_eq(em_tensor_item(h.made[h.count - 1]), 48);
    em_function_free(f);
    for (int i = 0; i < h.count; i++)
        em_tensor_free(h.made[i]);
}
END_TEST

/* A batch of none: the mean's 1/0 is no size's reciprocal, so that size is
 * traced, and gives eager's NaN. */
START_TEST(an_empty_batch_is_traced_and_matches_eager)
{
    em_trace_options options = {.name = "body",
                                .n_signature = 1,
                                .signature = &rows_of_6,
                                .jit = EM_JIT_OFF};
    em_function *f = em_trace_fn(b_mean_rows, NULL, &options);
    const int64_t sizes[] = {8, 0};
    for (int s = 0; s < 2; s++) {
        em_scope_begin();
        em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){sizes[s], 6});
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        for (int i = 0; i < 6; i++)
            ck_assert(s == 0 ? test_at(y, i) == 1 : isnan(test_at(y, i)));
        em_scope_end();
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 2);
    em_function_free(f);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("trace_shapes");
    TCase *tc = tcase_create("shapes");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc,
                        every_size_gets_the_graph_a_trace_at_that_size_gives, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc,
                   two_sizes_that_differ_at_the_first_call_vary_independently);
    tcase_add_test(
        tc, sizes_equal_at_the_first_call_are_one_size_until_they_differ);
    tcase_add_loop_test(
        tc, a_body_whose_sizes_do_not_follow_its_inputs_is_traced_per_size, 0,
        (int)(sizeof fallbacks / sizeof fallbacks[0]));
    tcase_add_test(tc, a_size_the_fit_cannot_serve_is_traced_and_matches_eager);
    tcase_add_test(tc, a_failing_trace_at_other_sizes_keeps_the_callers_error);
    tcase_add_test(tc, a_body_that_cannot_be_fitted_warns_after_too_many_sizes);
    tcase_add_test(
        tc, a_body_making_variables_at_every_trace_reads_the_callers_variable);
    tcase_add_test(tc, an_empty_batch_is_traced_and_matches_eager);
    suite_add_tcase(suite, tc);
    return test_run(suite);
}
