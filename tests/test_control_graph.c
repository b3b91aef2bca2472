/*
 * tests/test_control_graph.c - graphs with cond and while nodes: the
 * optimisation passes keep what regions need and the order of their
 * effects, and the graph file saves and loads them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collatz_testing.h"
#include "testing.h"

static em_trace_options no_jit(const char *name)
{
    return (em_trace_options){.name = name, .jit = EM_JIT_OFF};
}

static int negate(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    out[0] = em_neg(in[0]);
    return 1;
}

static int assign_input(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    em_variable_assign(user, in[0]);
    out[0] = em_copy(in[0]);
    return 1;
}

/* A cond whose result nobody uses: gone when its branches have no effect,
 * kept when one assigns. */
static int unused_cond(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    em_tensor *pred = em_greater(in[0], em_scalar(0, EM_FLOAT64));
    em_tensor *r = NULL;
    em_cond(pred, user ? assign_input : negate, negate, user, 1, in, 1, &r);
    out[0] = em_mul(in[0], em_scalar(2, EM_FLOAT64));
    return r ? 1 : -1;
}

START_TEST(dce_removes_an_unused_cond_without_effects)
{
    em_scope_begin();
    em_function *f =
        em_trace_fn(unused_cond, NULL,
                    &(em_trace_options){.name = "unused", .jit = EM_JIT_OFF});
    em_tensor *x = em_scalar(3, EM_FLOAT64);
    char text[4096];
    em_concrete_format(em_function_concrete(f, 1, &x), text, sizeof text);
    ck_assert_ptr_null(strstr(text, "cond("));
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(dce_keeps_an_unused_cond_that_assigns)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("v", em_scalar(0, EM_FLOAT64), false);
    em_trace_options o = no_jit("unused_assign");
    em_function *f = em_trace_fn(unused_cond, v, &o);
    em_tensor *x = em_scalar(3, EM_FLOAT64), *y = NULL;
    char text[4096];
    em_concrete_format(em_function_concrete(f, 1, &x), text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "cond("));
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    ck_assert_double_eq(em_tensor_item(v), 3);
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

/* v * 2 read before and after a cond that assigns v: not merged. */
static int reads_around(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    em_tensor *v = user, *r = NULL;
    out[0] = em_mul(v, em_scalar(2, EM_FLOAT64));
    em_tensor *pred = em_greater(in[0], em_scalar(0, EM_FLOAT64));
    if (em_cond(pred, assign_input, negate, v, 1, in, 1, &r) != 1)
        return -1;
    out[1] = em_mul(v, em_scalar(2, EM_FLOAT64));
    return 2;
}

START_TEST(cse_does_not_merge_reads_across_a_region_that_assigns)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("v", em_scalar(1, EM_FLOAT64), false);
    em_trace_options o = no_jit("reads_around");
    em_function *f = em_trace_fn(reads_around, v, &o);
    em_tensor *x = em_scalar(5, EM_FLOAT64), *out[2];
    ck_assert_int_eq(em_function_call(f, 1, &x, 2, out), 2);
    ck_assert_double_eq(em_tensor_item(out[0]), 2);
    ck_assert_double_eq(em_tensor_item(out[1]), 10);
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

/* Folding and CSE inside a region: 2 * 3 folds, x + x twice merges. */
static int foldable_branch(int n, em_tensor *const *in, int max,
                           em_tensor **out, void *user)
{
    em_tensor *six = em_mul(em_scalar(2, EM_FLOAT64), em_scalar(3, EM_FLOAT64));
    em_tensor *a = em_add(in[0], in[0]), *b = em_add(in[0], in[0]);
    out[0] = em_mul(em_mul(a, b), six);
    return 1;
}

static int optimised_region(int n, em_tensor *const *in, int max,
                            em_tensor **out, void *user)
{
    em_tensor *pred = em_greater(in[0], em_scalar(0, EM_FLOAT64));
    return em_cond(pred, foldable_branch, negate, NULL, 1, in, 1, out);
}

START_TEST(passes_optimise_inside_regions)
{
    em_scope_begin();
    em_trace_options o = no_jit("optimised");
    em_function *f = em_trace_fn(optimised_region, NULL, &o);
    em_tensor *x = em_scalar(1.5, EM_FLOAT64), *y = NULL;
    char text[4096];
    em_concrete_format(em_function_concrete(f, 1, &x), text, sizeof text);
    /* one add left of the two */
    char *first = strstr(text, "add(");
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_null(strstr(first + 1, "add("));
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    ck_assert_double_eq(em_tensor_item(y), 3.0 * 3.0 * 6);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- graph files ---------------------------------------------------------*/

/* The bodies: collatz_testing.h. */

START_TEST(graph_file_round_trips_cond_and_while)
{
    em_scope_begin();
    em_tensor *calls = em_variable_new("calls", em_scalar(0, EM_INT64), false);
    em_trace_options o = no_jit("collatz");
    em_function *f = em_trace_fn(collatz, calls, &o);
    em_tensor *x = em_scalar(27, EM_INT64);
    char path[] = "/tmp/ember-control-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(em_concrete_save(em_function_concrete(f, 1, &x), path), 0);
    em_loaded_graph *g = em_graph_load(path);
    unlink(path);
    ck_assert_ptr_nonnull(g);
    char a[8192], b[8192];
    em_concrete_format(em_function_concrete(f, 1, &x), a, sizeof a);
    em_loaded_graph_format(g, b, sizeof b);
    ck_assert_str_eq(a, b);
    int64_t starts[3] = {27, 6, 1};
    for (int k = 0; k < 3; k++) {
        em_tensor *in = em_scalar((double)starts[k], EM_INT64), *y = NULL;
        ck_assert_int_eq(em_loaded_graph_run(g, 1, &in, 1, &y), 1);
        ck_assert_int_eq((int64_t)em_tensor_item(y), collatz_steps(starts[k]));
    }
    /* The loaded graph counts in its own copy of the variable. */
    em_tensor *var = NULL;
    ck_assert_int_eq(em_loaded_graph_variables(g, 1, &var), 1);
    ck_assert_int_eq((int64_t)em_tensor_item(var),
                     collatz_steps(27) + collatz_steps(6));
    em_loaded_graph_free(g);
    em_function_free(f);
    em_tensor_free(calls);
    em_scope_end();
}
END_TEST

START_TEST(graph_file_with_regions_refuses_every_truncation)
{
    em_scope_begin();
    em_tensor *calls = em_variable_new("calls", em_scalar(0, EM_INT64), false);
    em_trace_options o = no_jit("collatz");
    em_function *f = em_trace_fn(collatz, calls, &o);
    em_tensor *x = em_scalar(27, EM_INT64);
    char path[] = "/tmp/ember-control-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ck_assert_int_eq(em_concrete_save(em_function_concrete(f, 1, &x), path), 0);
    size_t size = 0;
    unsigned char *bytes = test_read_file(path, &size);
    for (size_t cut = 0; cut < size; cut += 7) {
        test_write_file(path, bytes, cut);
        ck_assert_ptr_null(em_graph_load(path));
        em_error_clear();
    }
    unlink(path);
    free(bytes);
    em_function_free(f);
    em_tensor_free(calls);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("control_graph");
    TCase *tc = test_case(s, "passes");
    tcase_add_test(tc, dce_removes_an_unused_cond_without_effects);
    tcase_add_test(tc, dce_keeps_an_unused_cond_that_assigns);
    tcase_add_test(tc, cse_does_not_merge_reads_across_a_region_that_assigns);
    tcase_add_test(tc, passes_optimise_inside_regions);
    tc = test_case(s, "graph_file");
    tcase_add_test(tc, graph_file_round_trips_cond_and_while);
    tcase_add_test(tc, graph_file_with_regions_refuses_every_truncation);
    return test_run(s);
}
