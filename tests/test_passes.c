/* Graph optimisation passes: each pass on a graph built by hand (text
 * before and after written out here), the whole pipeline on traced
 * functions, and traced results against eager ones. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "passes.h"
#include "testing.h"

static char text[4096];

static const char *format(const em__graph *g)
{
    em__graph_format(g, text, sizeof text);
    return text;
}

static void assert_valid(const em__graph *g)
{
    char msg[400] = "";
    ck_assert_msg(em__graph_verify(g, msg, sizeof msg), "%s", msg);
}

static em__type type_of(em_dtype dtype, int ndim, const int64_t *shape)
{
    em__type t;
    ck_assert(em__type_make(&t, dtype, ndim, shape));
    return t;
}

static int input(em__graph *g, em__type t)
{
    int id = em__graph_add(g, EM__NODE_INPUT, 0, NULL, 0, NULL, &t, NULL);
    g->nodes[id].index = g->n_inputs++;
    return id;
}

static int constant(em__graph *g, em_tensor *value)
{
    return em__graph_add(g, EM__NODE_CONST, 0, NULL, 0, NULL, &value->type,
                         value);
}

/* An op node typed by the op's own shape rule. */
static int op(em__graph *g, em__op o, int n, const int *in,
              const em__attrs *attrs)
{
    const em__type *types[4];
    for (int j = 0; j < n; j++)
        types[j] = &g->nodes[in[j]].type;
    em__attrs a = {0};
    if (attrs)
        a = *attrs;
    em__type out;
    char msg[200];
    ck_assert_msg(em__op_table[o].infer(types, n, &a, &out, msg, sizeof msg),
                  "%s", msg);
    return em__graph_add(g, EM__NODE_OP, o, in, n, &a, &out, NULL);
}

static void set_outputs(em__graph *g, int n, const int *outputs)
{
    g->outputs = malloc(sizeof(int) * (size_t)n);
    memcpy(g->outputs, outputs, sizeof(int) * (size_t)n);
    g->n_outputs = n;
}

static void assert_same(em_tensor *got, em_tensor *want, double tol)
{
    int64_t n = em_tensor_size(want);
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    em_tensor_copy_to(want, v, EM_FLOAT64, sizeof(double) * (size_t)n);
    assert_values(got, v, n, tol, tol);
    free(v);
}

/* The optimised text of f's graph for these inputs. */
static const char *traced_text(em_function *f, int n, em_tensor *const *in)
{
    em_concrete *c = em_function_concrete(f, n, in);
    ck_assert_ptr_nonnull(c);
    em_concrete_format(c, text, sizeof text);
    return text;
}

/* ---- simplify -------------------------------------------------------------*/

static int times_one_plus_zero(int n, em_tensor *const *in, int max,
                               em_tensor **out, void *user)
{
    out[0] = em_add_scalar(em_mul_scalar(in[0], 1), 0);
    return 1;
}

START_TEST(simplify_turns_x_times_one_plus_zero_into_x)
{
    em_scope_begin();
    em_trace_options options = {.name = "ident"};
    em_function *f = em_trace_fn(times_one_plus_zero, NULL, &options);
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, -2, 3});
    ck_assert_str_eq(traced_text(f, 1, &x), "graph ident(%0: float32[3]) {\n"
                                            "  return (%0)\n"
                                            "}\n");
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    assert_values(y, ((double[]){1, -2, 3}), 3, 0, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(simplify_handles_one_on_the_left_and_zero_subtracted)
{
    em_scope_begin();
    em__graph *g = em__graph_new("g");
    int x = input(g, type_of(EM_FLOAT32, 1, (int64_t[]){2}));
    int one = constant(g, em_scalar_f32(1));
    int zero = constant(g, em_scalar_f32(0));
    int m = op(g, EM_OP_MUL, 2, (int[]){one, x}, NULL);
    int s = op(g, EM_OP_SUB, 2, (int[]){m, zero}, NULL);
    int a = op(g, EM_OP_ADD, 2, (int[]){zero, s}, NULL);
    int e = op(g, EM_OP_EXP, 1, (int[]){a}, NULL);
    set_outputs(g, 1, (int[]){e});
    ck_assert(em__pass_simplify(g));
    assert_valid(g);
    ck_assert(em__pass_dce(g));
    ck_assert_str_eq(format(g), "graph g(%0: float32[2]) {\n"
                                "  %1 = exp(%0) : float32[2]\n"
                                "  return (%1)\n"
                                "}\n");
    em__graph_free(g);
    em_scope_end();
}
END_TEST

START_TEST(simplify_keeps_an_identity_operand_that_broadcasts)
{
    em_scope_begin();
    em__graph *g = em__graph_new("g");
    int x = input(g, type_of(EM_FLOAT32, 1, (int64_t[]){3}));
    int ones = constant(g, em_ones(EM_FLOAT32, 2, (int64_t[]){2, 3}));
    int zero = constant(g, em_scalar(0, EM_FLOAT64));
    int xd = input(g, type_of(EM_FLOAT64, 1, (int64_t[]){3}));
    int m = op(g, EM_OP_MUL, 2, (int[]){x, ones}, NULL);
    int a = op(g, EM_OP_SUB, 2, (int[]){zero, xd}, NULL); /* 0 - x: not x */
    set_outputs(g, 2, (int[]){m, a});
    ck_assert(em__pass_simplify(g));
    assert_valid(g);
    ck_assert_str_eq(format(g), "graph g(%0: float32[3], %3: float64[3]) {\n"
                                "  %1 = const : float32[2,3]\n"
                                "  %2 = const 0 : float64[]\n"
                                "  %4 = mul(%0, %1) : float32[2,3]\n"
                                "  %5 = sub(%2, %3) : float64[3]\n"
                                "  return (%4, %5)\n"
                                "}\n");
    em__graph_free(g);
    em_scope_end();
}
END_TEST

static int log_of_softmax(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    out[0] = em_log(em_softmax(in[0], 1));
    return 1;
}

START_TEST(simplify_turns_log_of_softmax_into_log_softmax)
{
    em_scope_begin();
    em_trace_options options = {.name = "lsm"};
    em_function *f = em_trace_fn(log_of_softmax, NULL, &options);
    em_tensor *x = test_random(4, EM_FLOAT32, 2, (int64_t[]){2, 3}, -5, 5);
    ck_assert_str_eq(traced_text(f, 1, &x),
                     "graph lsm(%0: float32[2,3]) {\n"
                     "  %1 = log_softmax(%0) axis=1 : float32[2,3]\n"
                     "  return (%1)\n"
                     "}\n");
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    /* log_softmax by hand, in double */
    double want[6];
    for (int r = 0; r < 2; r++) {
        double m = -INFINITY, s = 0;
        for (int k = 0; k < 3; k++)
            m = fmax(m, test_at(x, r * 3 + k));
        for (int k = 0; k < 3; k++)
            s += exp(test_at(x, r * 3 + k) - m);
        for (int k = 0; k < 3; k++)
            want[r * 3 + k] = test_at(x, r * 3 + k) - m - log(s);
    }
    assert_values(y, want, 6, 1e-5, 1e-5);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int permutes(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = em_transpose(em_transpose(in[0]));
    em_tensor *p = em_permute(in[1], (int[]){1, 2, 0});
    out[1] = em_permute(p, (int[]){1, 2, 0});
    return 2;
}

START_TEST(simplify_composes_permutes_and_drops_identity_ones)
{
    em_scope_begin();
    em_trace_options options = {.name = "perm"};
    em_function *f = em_trace_fn(permutes, NULL, &options);
    em_tensor *in[2] = {
        test_random(5, EM_FLOAT32, 2, (int64_t[]){2, 3}, -1, 1),
        test_random(6, EM_FLOAT32, 3, (int64_t[]){2, 3, 4}, -1, 1)};
    /* applying [1,2,0] twice takes axis k from axis [2,0,1][k] */
    ck_assert_str_eq(traced_text(f, 2, in),
                     "graph perm(%0: float32[2,3], %1: float32[2,3,4]) {\n"
                     "  %2 = permute(%1) axes=[2,0,1] : float32[4,2,3]\n"
                     "  return (%0, %2)\n"
                     "}\n");
    em_tensor *got[2], *want[2];
    ck_assert_int_eq(em_function_call(f, 2, in, 2, got), 2);
    ck_assert_int_eq(permutes(2, in, 2, want, NULL), 2);
    assert_same(got[0], want[0], 0);
    assert_same(got[1], want[1], 0);
    assert_shape(got[1], 3, 4, 2, 3);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int reshapes(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    em_tensor *r = em_reshape(in[0], 2, (int64_t[]){3, 2});
    out[0] = em_reshape(r, 1, (int64_t[]){6});
    out[1] = em_exp(
        em_reshape(em_reshape(in[0], 1, (int64_t[]){6}), 2, (int64_t[]){2, 3}));
    return 2;
}

START_TEST(simplify_merges_reshapes_and_drops_same_shape_ones)
{
    em_scope_begin();
    em_trace_options options = {.name = "rs"};
    em_function *f = em_trace_fn(reshapes, NULL, &options);
    em_tensor *x = test_random(7, EM_FLOAT32, 2, (int64_t[]){2, 3}, -1, 1);
    ck_assert_str_eq(traced_text(f, 1, &x),
                     "graph rs(%0: float32[2,3]) {\n"
                     "  %1 = reshape(%0) shape=[6] : float32[6]\n"
                     "  %2 = exp(%0) : float32[2,3]\n"
                     "  return (%1, %2)\n"
                     "}\n");
    em_tensor *got[2], *want[2];
    ck_assert_int_eq(em_function_call(f, 1, &x, 2, got), 2);
    ck_assert_int_eq(reshapes(1, &x, 2, want, NULL), 2);
    assert_same(got[0], want[0], 0);
    assert_same(got[1], want[1], 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int named_identity(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    out[0] = em_exp(em_trace_name(em_mul_scalar(in[0], 1), "h"));
    return 1;
}

START_TEST(simplify_keeps_named_nodes_for_partial_runs)
{
    em_scope_begin();
    em_function *f = em_trace_fn(named_identity, NULL, NULL);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 2});
    em_concrete *c = em_function_concrete(f, 1, &x);
    em_tensor *h = test_f32(1, (int64_t[]){2}, (float[]){0, 0});
    const char *feed[] = {"h"}, *fetch[] = {"out:0"};
    em_tensor *got;
    ck_assert_int_eq(em_concrete_run(c, 1, &x, 1, feed, &h, 1, fetch, &got), 0);
    assert_values(got, ((double[]){1, 1}), 2, 0, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- fold -----------------------------------------------------------------*/

START_TEST(fold_computes_constant_only_subgraphs)
{
    em_scope_begin();
    em__graph *g = em__graph_new("g");
    int x = input(g, type_of(EM_FLOAT32, 1, (int64_t[]){2}));
    int a = constant(g, test_f32(1, (int64_t[]){2}, (float[]){1, 2}));
    int b = constant(g, em_scalar_f32(3));
    int m = op(g, EM_OP_MUL, 2, (int[]){a, b}, NULL);
    int e = op(g, EM_OP_EXP, 1, (int[]){m}, NULL);
    int r = op(g, EM_OP_RESHAPE, 1, (int[]){e},
               &(em__attrs){.ndim = 2, .shape = {2, 1}});
    int y = op(g, EM_OP_ADD, 2, (int[]){x, e}, NULL);
    set_outputs(g, 2, (int[]){y, r});
    ck_assert(em__pass_fold(g));
    assert_valid(g);
    ck_assert(em__pass_dce(g));
    ck_assert_str_eq(format(g), "graph g(%0: float32[2]) {\n"
                                "  %1 = const : float32[2]\n"
                                "  %2 = const : float32[2,1]\n"
                                "  %3 = add(%0, %1) : float32[2]\n"
                                "  return (%3, %2)\n"
                                "}\n");
    assert_values(g->nodes[1].value, ((double[]){exp(3.0), exp(6.0)}), 2, 1e-6,
                  1e-6);
    assert_values(g->nodes[2].value, ((double[]){exp(3.0), exp(6.0)}), 2, 1e-6,
                  1e-6);
    assert_shape(g->nodes[2].value, 2, 2, 1);
    em__graph_free(g);
    em_scope_end();
}
END_TEST

START_TEST(fold_leaves_ops_on_inputs_and_large_results)
{
    em_scope_begin();
    em__graph *g = em__graph_new("g");
    int x = input(g, type_of(EM_FLOAT32, 1, (int64_t[]){2}));
    int c = constant(g, em_scalar_f32(2));
    int big = constant(g, em_zeros(EM_FLOAT32, 1, (int64_t[]){300000}));
    int m = op(g, EM_OP_MUL, 2, (int[]){x, c}, NULL);
    int e = op(g, EM_OP_EXP, 1, (int[]){big}, NULL); /* 1.2 MB */
    set_outputs(g, 2, (int[]){m, e});
    ck_assert(em__pass_fold(g));
    assert_valid(g);
    ck_assert_str_eq(format(g), "graph g(%0: float32[2]) {\n"
                                "  %1 = const 2 : float32[]\n"
                                "  %2 = const : float32[300000]\n"
                                "  %3 = mul(%0, %1) : float32[2]\n"
                                "  %4 = exp(%2) : float32[300000]\n"
                                "  return (%3, %4)\n"
                                "}\n");
    em__graph_free(g);
    em_scope_end();
}
END_TEST

/* ---- cse ------------------------------------------------------------------*/

static int twice(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    out[0] = em_add(em_exp(in[0]), em_exp(in[0]));
    out[1] = em_add_scalar(em_mul_scalar(in[0], 2), 2);
    return 2;
}

START_TEST(cse_merges_identical_ops_and_equal_scalars)
{
    em_scope_begin();
    em_trace_options options = {.name = "twice"};
    em_function *f = em_trace_fn(twice, NULL, &options);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){0.5f, -1});
    ck_assert_str_eq(traced_text(f, 1, &x), "graph twice(%0: float32[2]) {\n"
                                            "  %1 = exp(%0) : float32[2]\n"
                                            "  %2 = add(%1, %1) : float32[2]\n"
                                            "  %3 = const 2 : float32[]\n"
                                            "  %4 = mul(%0, %3) : float32[2]\n"
                                            "  %5 = add(%4, %3) : float32[2]\n"
                                            "  return (%2, %5)\n"
                                            "}\n");
    em_tensor *y[2];
    ck_assert_int_eq(em_function_call(f, 1, &x, 2, y), 2);
    assert_values(y[0], ((double[]){2 * exp(0.5), 2 * exp(-1.0)}), 2, 1e-6,
                  1e-6);
    assert_values(y[1], ((double[]){3, 0}), 2, 0, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(cse_keeps_ops_whose_attributes_differ)
{
    em_scope_begin();
    em__graph *g = em__graph_new("g");
    int x = input(g, type_of(EM_FLOAT32, 2, (int64_t[]){2, 3}));
    int s0 =
        op(g, EM_OP_SUM, 1, (int[]){x}, &(em__attrs){.naxes = 1, .axes = {0}});
    int s1 =
        op(g, EM_OP_SUM, 1, (int[]){x}, &(em__attrs){.naxes = 1, .axes = {1}});
    int s2 =
        op(g, EM_OP_SUM, 1, (int[]){x}, &(em__attrs){.naxes = 1, .axes = {1}});
    set_outputs(g, 3, (int[]){s0, s1, s2});
    ck_assert(em__pass_cse(g));
    assert_valid(g);
    ck_assert_str_eq(format(g), "graph g(%0: float32[2,3]) {\n"
                                "  %1 = sum(%0) axes=[0] : float32[3]\n"
                                "  %2 = sum(%0) axes=[1] : float32[2]\n"
                                "  return (%1, %2, %2)\n"
                                "}\n");
    em__graph_free(g);
    em_scope_end();
}
END_TEST

/* Reads the variable twice, adds one, reads it again. */
static int read_add_read(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    em_tensor *v = user;
    out[0] = em_add(em_exp(v), em_exp(v));
    if (em_variable_assign_add(v, em_scalar(1, EM_FLOAT64)) != 0)
        return -1;
    out[1] = em_exp(v);
    return 2;
}

START_TEST(cse_does_not_merge_reads_across_an_assignment)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("v", em_scalar(0, EM_FLOAT64), false);
    em_trace_options options = {.name = "rar"};
    em_function *f = em_trace_fn(read_add_read, v, &options);
    ck_assert_str_eq(traced_text(f, 0, NULL),
                     "graph rar() {\n"
                     "  %0 = variable \"v\" : float64[]\n"
                     "  %1 = exp(%0) : float64[]\n"
                     "  %2 = add(%1, %1) : float64[]\n"
                     "  %3 = const 1 : float64[]\n"
                     "  %4 = assign_add(%0, %3) : float64[]\n"
                     "  %5 = exp(%0) : float64[]\n"
                     "  return (%2, %5)\n"
                     "}\n");
    for (int call = 0; call < 3; call++) {
        em_tensor *y[2];
        /* before call k the variable holds k */
        ck_assert_int_eq(em_function_call(f, 0, NULL, 2, y), 2);
        assert_values(y[0], ((double[]){2 * exp((double)call)}), 1, 1e-12,
                      1e-12);
        assert_values(y[1], ((double[]){exp(call + 1.0)}), 1, 1e-12, 1e-12);
    }
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

START_TEST(cse_does_not_merge_reads_through_a_view_across_an_assignment)
{
    em_scope_begin();
    em__graph *g = em__graph_new("g");
    em_tensor *v =
        em_variable_new("v", em_zeros(EM_FLOAT32, 1, (int64_t[]){2}), false);
    int var =
        em__graph_add(g, EM__NODE_VARIABLE, 0, NULL, 0, NULL, &v->type, v);
    int view = op(g, EM_OP_RESHAPE, 1, (int[]){var},
                  &(em__attrs){.ndim = 2, .shape = {1, 2}});
    int e0 = op(g, EM_OP_EXP, 1, (int[]){view}, NULL);
    int one = constant(g, em_ones(EM_FLOAT32, 1, (int64_t[]){2}));
    op(g, EM_OP_ASSIGN_ADD, 2, (int[]){var, one}, NULL);
    int e1 = op(g, EM_OP_EXP, 1, (int[]){view}, NULL);
    set_outputs(g, 2, (int[]){e0, e1});
    ck_assert(em__pass_cse(g));
    assert_valid(g);
    ck_assert_int_eq(em__graph_live_nodes(g), 6);
    em__graph_free(g);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

/* ---- prune ----------------------------------------------------------------*/

START_TEST(prune_keeps_the_listed_outputs_and_effects)
{
    em_scope_begin();
    em__graph *g = em__graph_new("g");
    em_tensor *v = em_variable_new("v", em_scalar_f32(0), false);
    int x = input(g, type_of(EM_FLOAT32, 1, (int64_t[]){2}));
    int var =
        em__graph_add(g, EM__NODE_VARIABLE, 0, NULL, 0, NULL, &v->type, v);
    int one = constant(g, em_scalar_f32(1));
    op(g, EM_OP_ASSIGN_ADD, 2, (int[]){var, one}, NULL);
    int s = op(g, EM_OP_SIN, 1, (int[]){x}, NULL);
    int e = op(g, EM_OP_EXP, 1, (int[]){x}, NULL);
    int t = op(g, EM_OP_TANH, 1, (int[]){e}, NULL);
    set_outputs(g, 3, (int[]){s, e, t});
    ck_assert(em__pass_prune(g, 1, (int[]){2}));
    assert_valid(g);
    ck_assert_str_eq(format(g), "graph g(%0: float32[2]) {\n"
                                "  %1 = variable \"v\" : float32[]\n"
                                "  %2 = const 1 : float32[]\n"
                                "  %3 = assign_add(%1, %2) : float32[]\n"
                                "  %4 = exp(%0) : float32[2]\n"
                                "  %5 = tanh(%4) : float32[2]\n"
                                "  return (%5)\n"
                                "}\n");
    ck_assert(!em__pass_prune(g, 1, (int[]){1}));
    assert_error("no output 1");
    em__graph_free(g);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

/* ---- the pipeline against eager ------------------------------------------*/

static int mixed(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    em_tensor *x = in[0];
    em_tensor *a = em_mul_scalar(em_transpose(em_transpose(x)), 1);
    em_tensor *b = em_log(em_softmax(em_add(a, em_exp(x)), 0));
    em_tensor *c =
        em_reshape(em_reshape(em_sub(b, em_exp(x)), 1, (int64_t[]){12}), 2,
                   (int64_t[]){4, 3});
    out[0] = em_add(em_matmul(c, em_transpose(em_exp(x)), false, false),
                    em_sum(em_tanh(x), 0, NULL, false));
    out[1] = em_sub(em_div(c, em_scalar_f32(1)), em_scalar_f32(0));
    return 2;
}

START_TEST(optimised_functions_compute_what_eager_computes)
{
    em_scope_begin();
    em_function *f = em_trace_fn(mixed, NULL, NULL);
    for (int seed = 0; seed < 3; seed++) {
        em_tensor *x =
            test_random(10 + seed, EM_FLOAT32, 2, (int64_t[]){4, 3}, -2, 2);
        em_tensor *got[2], *want[2];
        ck_assert_int_eq(em_function_call(f, 1, &x, 2, got), 2);
        ck_assert_int_eq(mixed(1, &x, 2, want, NULL), 2);
        assert_same(got[0], want[0], 1e-5);
        assert_same(got[1], want[1], 1e-5);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("passes");
    TCase *tc = test_case(s, "passes");
    tcase_add_test(tc, simplify_turns_x_times_one_plus_zero_into_x);
    tcase_add_test(tc, simplify_handles_one_on_the_left_and_zero_subtracted);
    tcase_add_test(tc, simplify_keeps_an_identity_operand_that_broadcasts);
    tcase_add_test(tc, simplify_turns_log_of_softmax_into_log_softmax);
    tcase_add_test(tc, simplify_composes_permutes_and_drops_identity_ones);
    tcase_add_test(tc, simplify_merges_reshapes_and_drops_same_shape_ones);
    tcase_add_test(tc, simplify_keeps_named_nodes_for_partial_runs);
    tcase_add_test(tc, fold_computes_constant_only_subgraphs);
    tcase_add_test(tc, fold_leaves_ops_on_inputs_and_large_results);
    tcase_add_test(tc, cse_merges_identical_ops_and_equal_scalars);
    tcase_add_test(tc, cse_keeps_ops_whose_attributes_differ);
    tcase_add_test(tc, cse_does_not_merge_reads_across_an_assignment);
    tcase_add_test(
        tc, cse_does_not_merge_reads_through_a_view_across_an_assignment);
    tcase_add_test(tc, prune_keeps_the_listed_outputs_and_effects);
    tcase_add_test(tc, optimised_functions_compute_what_eager_computes);
    return test_run(s);
}
