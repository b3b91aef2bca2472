/* em_trace_fn: tracing, the signature cache, variables, tapes inside a
 * trace, partial runs. Expected values come from running the same function
 * eagerly, or are derived by hand. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

/* y = relu(x @ w + b) with w and b passed in the user context. */
typedef struct layer {
    em_tensor *w, *b;
    int body_runs;
} layer;

static int dense(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    layer *l = user;
    l->body_runs++;
    out[0] = em_relu(em_add(em_matmul(in[0], l->w, false, false), l->b));
    return 1;
}

static layer make_layer(void)
{
    layer l = {0};
    l.w = em_variable_new(
        "w", test_random(1, EM_FLOAT32, 2, (int64_t[]){4, 3}, -1, 1), true);
    l.b = em_variable_new(
        "b", test_random(2, EM_FLOAT32, 1, (int64_t[]){3}, -1, 1), true);
    return l;
}

static void free_layer(layer *l)
{
    em_tensor_free(l->w);
    em_tensor_free(l->b);
}

static void assert_same(em_tensor *got, em_tensor *want, double tol)
{
    int64_t n = em_tensor_size(want);
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    em_tensor_copy_to(want, v, EM_FLOAT64, sizeof(double) * (size_t)n);
    assert_values(got, v, n, tol, tol);
    free(v);
}

START_TEST(traced_result_equals_eager)
{
    em_scope_begin();
    layer l = make_layer();
    em_tensor *x = test_random(3, EM_FLOAT32, 2, (int64_t[]){5, 4}, -1, 1);
    em_tensor *eager;
    ck_assert_int_eq(dense(1, &x, 1, &eager, &l), 1);
    em_function *f = em_trace_fn(dense, &l, NULL);
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    assert_same(y, eager, 0);
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    assert_same(y, eager, 0);
    em_function_stats stats = em_function_get_stats(f);
    ck_assert_int_eq(stats.calls, 2);
    ck_assert_int_eq(stats.traces, 1);
    ck_assert_int_eq(l.body_runs, 2); /* one eager run, one trace */
    em_function_free(f);
    free_layer(&l);
    em_scope_end();
}
END_TEST

START_TEST(a_new_shape_retraces_and_a_signature_avoids_the_warning)
{
    em_scope_begin();
    layer l = make_layer();
    em_function *f = em_trace_fn(dense, &l, NULL);
    for (int64_t batch = 1; batch <= 3; batch++) {
        em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){batch, 4});
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        assert_shape(y, 2, batch, 3);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 3);
    em_function_free(f);

    em_input_spec spec = {EM_FLOAT32, 2, {-1, 4}};
    em_trace_options options = {
        .name = "dense", .n_signature = 1, .signature = &spec};
    f = em_trace_fn(dense, &l, &options);
    em_tensor *bad = em_ones(EM_FLOAT32, 2, (int64_t[]){2, 5});
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &bad, 1, &y), -1);
    assert_error("dense", "input 0", "float32[2,5]", "float32[-1,4]");
    em_function_free(f);
    free_layer(&l);
    em_scope_end();
}
END_TEST

typedef struct captured_log {
    int warnings;
    char text[512];
} captured_log;

static void capture(em_log_level level, const char *message, void *user)
{
    captured_log *c = user;
    if (level == EM_LOG_WARN) {
        c->warnings++;
        snprintf(c->text, sizeof c->text, "%s", message);
    }
}

START_TEST(retracing_too_often_warns_once_saying_what_changed)
{
    em_scope_begin();
    layer l = make_layer();
    captured_log log = {0};
    em_log_set_handler(capture, &log);
    em_trace_options options = {.name = "step", .retrace_warning = 2};
    em_function *f = em_trace_fn(dense, &l, &options);
    int64_t batches[] = {128, 128, 96, 64, 32};
    for (int i = 0; i < 5; i++) {
        em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){batches[i], 4});
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    }
    em_log_set_handler(NULL, NULL);
    ck_assert_int_eq(log.warnings, 1);
    ck_assert_ptr_nonnull(strstr(log.text, "'step'"));
    ck_assert_ptr_nonnull(strstr(log.text, "input 0 shape [96,4] -> [64,4]"));
    em_function_free(f);
    free_layer(&l);
    em_scope_end();
}
END_TEST

/* Reads a variable and then adds one to it: the read must see the value
 * before the assignment, the next call the value after. */
static int read_then_increment(int n, em_tensor *const *in, int max,
                               em_tensor **out, void *user)
{
    em_tensor *v = user;
    out[0] = em_mul_scalar(v, 10);
    if (em_variable_assign_add(v, em_scalar(1, EM_FLOAT64)) != 0)
        return -1;
    out[1] = em_add_scalar(v, 0);
    return 2;
}

START_TEST(variables_are_read_and_assigned_at_every_call_in_order)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("counter", em_scalar(1, EM_FLOAT64), false);
    em_function *f = em_trace_fn(read_then_increment, v, NULL);
    for (int call = 0; call < 3; call++) {
        em_tensor *out[2];
        ck_assert_int_eq(em_function_call(f, 0, NULL, 2, out), 2);
        /* before call k the counter is 1 + k */
        assert_values(out[0], ((double[]){10.0 * (1 + call)}), 1, 0, 0);
        assert_values(out[1], ((double[]){2.0 + call}), 1, 0, 0);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    /* an assignment from outside is seen by the next call */
    em_variable_assign(v, em_scalar(100, EM_FLOAT64));
    em_tensor *out[2];
    ck_assert_int_eq(em_function_call(f, 0, NULL, 2, out), 2);
    assert_values(out[0], ((double[]){1000}), 1, 0, 0);
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

static int reads_a_value(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    double v = em_tensor_item(em_sum(in[0], 0, NULL, false));
    out[0] = em_mul_scalar(in[0], v);
    return 1;
}

START_TEST(reading_a_value_while_tracing_names_the_function)
{
    em_scope_begin();
    em_trace_options options = {.name = "reader"};
    em_function *f = em_trace_fn(reads_a_value, NULL, &options);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("item", "'reader'", "read it after the call");
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int mismatched(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *w = em_ones(EM_FLOAT32, 2, (int64_t[]){256, 10});
    out[0] = em_matmul(in[0], w, false, false);
    return 1;
}

static int copies_out(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    char text[200];
    em_tensor_format(in[0], text, sizeof text);
    ck_assert_str_eq(text, "tensor(<symbolic %0>, float32[3])");
    float values[3];
    ck_assert_int_eq(
        em_tensor_copy_to(in[0], values, EM_FLOAT32, sizeof values), -1);
    ck_assert_ptr_null(em_tensor_data(in[0]));
    out[0] = in[0];
    return 1;
}

START_TEST(copying_out_or_raw_data_while_tracing_is_an_error)
{
    em_scope_begin();
    em_trace_options options = {.name = "copier"};
    em_function *f = em_trace_fn(copies_out, NULL, &options);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("tensor_data", "'copier'");
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(shape_errors_at_trace_time_name_the_function)
{
    em_scope_begin();
    em_trace_options options = {.name = "forward"};
    em_function *f = em_trace_fn(mismatched, NULL, &options);
    em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){128, 784});
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("matmul: inner dimensions differ: [128,784] @ [256,10]",
                 "while tracing forward");
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* One logistic-regression training step: forward, loss, tape, SGD. */
typedef struct logreg {
    em_tensor *w, *b;
    em_optimizer *opt;
} logreg;

static int logreg_step(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    logreg *m = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *logits = em_add(em_matmul(in[0], m->w, false, false), m->b);
    em_tensor *loss = em_bce_with_logits(logits, in[1]);
    em_tensor *grads[2];
    em_tensor *vars[2] = {m->w, m->b};
    int rc = em_tape_gradient(tape, loss, 2, vars, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 2, grads, vars) != 0)
        return -1;
    out[0] = loss;
    return 1;
}

static logreg make_logreg(void)
{
    logreg m;
    m.w = em_variable_new(
        "w", test_random(7, EM_FLOAT32, 2, (int64_t[]){6, 1}, -0.1, 0.1), true);
    m.b = em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){1}), true);
    m.opt = em_optimizer_sgd(0.1, 0.9, false);
    return m;
}

START_TEST(a_traced_training_step_matches_eager_training)
{
    em_scope_begin();
    em_tensor *x = test_random(8, EM_FLOAT32, 2, (int64_t[]){16, 6}, -1, 1);
    em_tensor *y =
        em_cast(em_greater(em_sum(x, 1, (int[]){1}, true), em_scalar_f32(0)),
                EM_FLOAT32);
    logreg eager = make_logreg(), traced = make_logreg();
    em_trace_options options = {.name = "logreg_step"};
    em_function *f = em_trace_fn(logreg_step, &traced, &options);
    em_tensor *in[2] = {x, y};
    for (int step = 0; step < 100; step++) {
        em_scope_begin();
        em_tensor *loss_e, *loss_t;
        ck_assert_int_eq(logreg_step(2, in, 1, &loss_e, &eager), 1);
        ck_assert_int_eq(em_function_call(f, 2, in, 1, &loss_t), 1);
        assert_same(loss_t, loss_e, 1e-6);
        em_scope_end();
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    assert_same(traced.w, eager.w, 1e-5);
    assert_same(traced.b, eager.b, 1e-5);
    em_function_free(f);
    em_optimizer_free(eager.opt);
    em_optimizer_free(traced.opt);
    em_tensor_free(eager.w);
    em_tensor_free(eager.b);
    em_tensor_free(traced.w);
    em_tensor_free(traced.b);
    em_scope_end();
}
END_TEST

/* Two outputs with separate work, one named intermediate. */
static int two_paths(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_tensor *h = em_trace_name(em_mul_scalar(in[0], 2), "h");
    out[0] = em_add_scalar(h, 1);
    out[1] = em_exp(em_sin(in[0]));
    return 2;
}

START_TEST(partial_runs_compute_only_what_is_asked)
{
    em_scope_begin();
    em_function *f = em_trace_fn(two_paths, NULL, NULL);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 2});
    em_concrete *c = em_function_concrete(f, 1, &x);
    ck_assert_ptr_nonnull(c);
    em_tensor *got[2];
    const char *first[] = {"out:0"};
    ck_assert_int_eq(em_concrete_run(c, 1, &x, 0, NULL, NULL, 1, first, got),
                     0);
    assert_values(got[0], ((double[]){3, 5}), 2, 0, 0);
    /* mul and add ran; sin and exp did not */
    ck_assert_int_eq(em_concrete_last_run_nodes(c), 2);

    /* feeding h replaces it: only the add runs */
    em_tensor *h = test_f32(1, (int64_t[]){2}, (float[]){10, 20});
    const char *feed[] = {"h"};
    ck_assert_int_eq(em_concrete_run(c, 1, &x, 1, feed, &h, 1, first, got), 0);
    assert_values(got[0], ((double[]){11, 21}), 2, 0, 0);
    ck_assert_int_eq(em_concrete_last_run_nodes(c), 1);

    const char *both[] = {"h", "out:1"};
    ck_assert_int_eq(em_concrete_run(c, 1, &x, 0, NULL, NULL, 2, both, got), 0);
    assert_values(got[0], ((double[]){2, 4}), 2, 0, 0);
    assert_values(got[1], ((double[]){exp(sin(1.0)), exp(sin(2.0))}), 2, 1e-6,
                  1e-6);
    const char *missing[] = {"nowhere"};
    ck_assert_int_eq(em_concrete_run(c, 1, &x, 0, NULL, NULL, 1, missing, got),
                     -1);
    assert_error("nowhere");
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(the_text_form_lists_nodes_with_types)
{
    em_scope_begin();
    em_trace_options options = {.name = "paths"};
    em_function *f = em_trace_fn(two_paths, NULL, &options);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    em_concrete *c = em_function_concrete(f, 1, &x);
    char text[2048];
    em_concrete_format(c, text, sizeof text);
    ck_assert_str_eq(text, "graph paths(%0: float32[2]) {\n"
                           "  %1 = const 2 : float32[]\n"
                           "  %2 = mul(%0, %1) : float32[2]  # h\n"
                           "  %3 = const 1 : float32[]\n"
                           "  %4 = add(%2, %3) : float32[2]\n"
                           "  %5 = sin(%0) : float32[2]\n"
                           "  %6 = exp(%5) : float32[2]\n"
                           "  return (%4, %6)\n"
                           "}\n");
    em_concrete_format_dot(c, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "digraph \"paths\""));
    ck_assert_ptr_nonnull(strstr(text, "n5 -> n6;"));
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* sum(tanh(x @ w)): one output, no assignments. */
static int tanh_layer_sum(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    layer *l = user;
    l->body_runs++;
    out[0] =
        em_sum(em_tanh(em_matmul(in[0], l->w, false, false)), 0, NULL, false);
    return 1;
}

START_TEST(a_traced_call_on_an_eager_tape_is_one_node_with_a_traced_gradient)
{
    em_scope_begin();
    layer l = make_layer();
    em_tensor *x = test_random(9, EM_FLOAT32, 2, (int64_t[]){5, 4}, -1, 1);
    em_tensor *sources[2] = {x, l.w};

    em_tensor *want[2];
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y;
    ck_assert_int_eq(tanh_layer_sum(1, &x, 1, &y, &l), 1);
    ck_assert_int_eq(em_tape_gradient(tape, y, 2, sources, want), 0);
    em_tape_free(tape);

    em_function *f = em_trace_fn(tanh_layer_sum, &l, NULL);
    for (int call = 0; call < 3; call++) {
        em_tensor *got[2];
        tape = em_tape_begin(false);
        em_tape_watch(tape, x);
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        ck_assert_int_eq(em_tape_gradient(tape, y, 2, sources, got), 0);
        em_tape_free(tape);
        assert_same(got[0], want[0], 1e-6);
        assert_same(got[1], want[1], 1e-6);
    }
    /* one eager run, one forward trace, one gradient trace: no op-by-op
     * runs of the body on later calls */
    ck_assert_int_eq(l.body_runs, 3);
    em_function_free(f);
    free_layer(&l);
    em_scope_end();
}
END_TEST

/* Two outputs: tanh(x @ w) and sum(x^2), the second not reading w. */
static int two_outputs(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    layer *l = user;
    l->body_runs++;
    out[0] = em_tanh(em_matmul(in[0], l->w, false, false));
    out[1] = em_sum(em_square(in[0]), 0, NULL, false);
    return 2;
}

/* 2 sum(out0) + 3 out1, or only the first term (then no gradient reaches
 * the second output, which the tape's record must take as zeros). */
static em_tensor *combine_outputs(em_tensor **out, bool both)
{
    em_tensor *first = em_mul_scalar(em_sum(out[0], 0, NULL, false), 2);
    return both ? em_add(first, em_mul_scalar(out[1], 3)) : first;
}

START_TEST(a_traced_call_with_several_outputs_is_one_node_too)
{
    em_scope_begin();
    layer l = make_layer();
    em_tensor *x = test_random(10, EM_FLOAT32, 2, (int64_t[]){5, 4}, -1, 1);
    em_tensor *sources[2] = {x, l.w};
    em_function *f = em_trace_fn(two_outputs, &l, NULL);
    for (int both = 0; both < 2; both++) {
        em_tensor *want[2], *got[2], *out[2];
        em_tape *tape = em_tape_begin(false);
        em_tape_watch(tape, x);
        ck_assert_int_eq(two_outputs(1, &x, 2, out, &l), 2);
        ck_assert_int_eq(em_tape_gradient(tape, combine_outputs(out, both), 2,
                                          sources, want),
                         0);
        em_tape_free(tape);

        tape = em_tape_begin(false);
        em_tape_watch(tape, x);
        ck_assert_int_eq(em_function_call(f, 1, &x, 2, out), 2);
        ck_assert_int_eq(
            em_tape_gradient(tape, combine_outputs(out, both), 2, sources, got),
            0);
        em_tape_free(tape);
        assert_same(got[0], want[0], 1e-6);
        assert_same(got[1], want[1], 1e-6);
    }
    /* two eager runs, the forward trace and one gradient trace */
    ck_assert_int_eq(l.body_runs, 4);
    em_function_free(f);
    free_layer(&l);
    em_scope_end();
}
END_TEST

/* ---- misuse inside and around traced bodies ------------------------------*/

static int ends_a_scope_it_did_not_begin(int n, em_tensor *const *in, int max,
                                         em_tensor **out, void *user)
{
    em_scope_end();
    out[0] = em_neg(in[0]);
    return 1;
}

static int leaves_a_scope_open(int n, em_tensor *const *in, int max,
                               em_tensor **out, void *user)
{
    em_scope_begin();
    out[0] = em_neg(in[0]);
    return 1;
}

START_TEST(bodies_cannot_close_or_leave_open_their_callers_scopes)
{
    em_scope_begin();
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_trace_options options = {.name = "scoped"};
    em_function *f = em_trace_fn(ends_a_scope_it_did_not_begin, NULL, &options);
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("scope_end", "'scoped'");
    ck_assert_int_eq(em_scope_depth(), 1);
    assert_values(x, ((double[]){1, 1, 1}), 3, 0, 0); /* still alive */
    em_function_free(f);
    f = em_trace_fn(leaves_a_scope_open, NULL, &options);
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("scoped", "left 1 scope(s) open");
    ck_assert_int_eq(em_scope_depth(), 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int stops_a_tape(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    em_tape_stop(user);
    out[0] = em_neg(in[0]);
    return 1;
}

START_TEST(a_tape_stopped_inside_a_body_leaves_the_others_recording)
{
    em_scope_begin();
    em_tensor *x = test_f64(1, (int64_t[]){2}, (double[]){1, 3});
    em_tape *outer = em_tape_begin(false);
    em_tape_watch(outer, x);
    em_tape *inner = em_tape_begin(false);
    em_function *f = em_trace_fn(stops_a_tape, inner, NULL);
    em_tensor *y, *g;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    ck_assert(em_tape_is_recording());
    em_tape_free(inner);
    em_tensor *z = em_sum(em_mul(x, x), 0, NULL, false);
    ck_assert_int_eq(em_tape_gradient(outer, z, 1, &x, &g), 0);
    assert_values(g, ((double[]){2, 6}), 2, 0, 0);
    em_tape_free(outer);
    ck_assert(!em_tape_is_recording());
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* A view of a variable taken before an assignment, returned: eager code
 * sees the assigned values through the view. */
static int view_then_assign(int n, em_tensor *const *in, int max,
                            em_tensor **out, void *user)
{
    em_tensor *v = user;
    out[0] = em_reshape(v, 2, (int64_t[]){1, 3});
    if (em_variable_assign_add(v, in[0]) != 0)
        return -1;
    return 1;
}

START_TEST(a_view_of_a_variable_sees_later_assignments_as_in_eager)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    em_tensor *ve =
        em_variable_new("v", em_zeros(EM_FLOAT32, 1, (int64_t[]){3}), false);
    em_tensor *vt =
        em_variable_new("v", em_zeros(EM_FLOAT32, 1, (int64_t[]){3}), false);
    em_function *f = em_trace_fn(view_then_assign, vt, NULL);
    for (int call = 0; call < 3; call++) {
        em_tensor *want, *got;
        ck_assert_int_eq(view_then_assign(1, &x, 1, &want, ve), 1);
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &got), 1);
        assert_same(got, want, 0);
    }
    em_function_free(f);
    em_tensor_free(ve);
    em_tensor_free(vt);
    em_scope_end();
}
END_TEST

static em_tensor *kept_symbol;

static int keeps_a_symbol(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    kept_symbol = em_tensor_retain(in[0]);
    em_tensor *bad = em_arange(0, 1, 0, EM_FLOAT32); /* an error ... */
    (void)bad;
    em_error_clear(); /* ... the body handles itself */
    out[0] = em_neg(in[0]);
    return 1;
}

START_TEST(a_kept_symbol_is_refused_and_a_handled_error_is_not_a_failure)
{
    em_scope_begin();
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_function *f = em_trace_fn(keeps_a_symbol, NULL, NULL);
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    ck_assert_ptr_null(em_add(x, kept_symbol));
    assert_error("add", "symbolic", "trace that has ended");
    em_tensor_free(kept_symbol);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int square_sum(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    out[0] = em_sum(em_square(in[0]), 0, NULL, false);
    return 1;
}

START_TEST(a_taped_call_without_variables_works)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    em_function *f = em_trace_fn(square_sum, NULL, NULL);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y, *g;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    em_tape_free(tape);
    assert_values(g, ((double[]){2, 4, 6}), 3, 0, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(feeding_a_value_twice_is_an_error)
{
    em_scope_begin();
    em_function *f = em_trace_fn(two_paths, NULL, NULL);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    em_concrete *c = em_function_concrete(f, 1, &x);
    em_tensor *h = em_ones(EM_FLOAT32, 1, (int64_t[]){2}), *got;
    const char *feed[] = {"h", "h"}, *fetch[] = {"out:0"};
    ck_assert_int_eq(em_concrete_run(c, 1, &x, 2, feed, (em_tensor *[]){h, h},
                                     1, fetch, &got),
                     -1);
    assert_error("'h' is fed twice");
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(tracing_and_freeing_in_a_loop_holds_memory_flat)
{
    em_scope_begin();
    layer l = make_layer();
    em_tensor *x = em_scope_keep(em_ones(EM_FLOAT32, 2, (int64_t[]){8, 4}));
    em_scope_end();
    em_memory_stats base = em_memory_get_stats();
    for (int i = 0; i < 200; i++) {
        em_scope_begin();
        em_function *f = em_trace_fn(dense, &l, NULL);
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        em_function_free(f);
        em_scope_end();
        em_memory_stats now = em_memory_get_stats();
        ck_assert_int_eq(now.live_tensors, base.live_tensors);
        ck_assert_int_eq(now.live_bytes, base.live_bytes);
    }
    em_tensor_free(x);
    free_layer(&l);
}
END_TEST

/* EMBER_DUMP=graph, set by main before anything reads the environment. */
static char dump_dir[64];

START_TEST(ember_dump_graph_writes_the_graph_before_and_after_passes)
{
    em_scope_begin();
    em_trace_options options = {.name = "dumped"};
    em_function *f = em_trace_fn(two_paths, NULL, &options);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    em_tensor *y[2];
    ck_assert_int_eq(em_function_call(f, 1, &x, 2, y), 2);
    const char *stages[] = {"traced", "optimized"};
    for (int i = 0; i < 2; i++) {
        char path[256], text[256] = "";
        snprintf(path, sizeof path, "%s/dumped.%s.graph.txt", dump_dir,
                 stages[i]);
        FILE *in = fopen(path, "r");
        ck_assert_msg(in != NULL, "%s was not written", path);
        size_t got = fread(text, 1, sizeof text - 1, in);
        fclose(in);
        text[got] = '\0';
        ck_assert_msg(strncmp(text, "graph dumped(%0: float32[2]) {", 30) == 0,
                      "%s starts with: %s", path, text);
    }
    em_function_free(f);
    em_scope_end();
}
END_TEST

int main(void)
{
    snprintf(dump_dir, sizeof dump_dir, "/tmp/ember-test-dump-%d",
             (int)getpid());
    setenv("EMBER_DUMP", "graph", 1);
    setenv("EMBER_DUMP_DIR", dump_dir, 1);
    Suite *s = suite_create("trace");
    TCase *tc = test_case(s, "trace");
    tcase_add_test(tc, traced_result_equals_eager);
    tcase_add_test(tc, a_new_shape_retraces_and_a_signature_avoids_the_warning);
    tcase_add_test(tc, retracing_too_often_warns_once_saying_what_changed);
    tcase_add_test(tc, variables_are_read_and_assigned_at_every_call_in_order);
    tcase_add_test(tc, reading_a_value_while_tracing_names_the_function);
    tcase_add_test(tc, shape_errors_at_trace_time_name_the_function);
    tcase_add_test(tc, copying_out_or_raw_data_while_tracing_is_an_error);
    tcase_add_test(tc,
                   ember_dump_graph_writes_the_graph_before_and_after_passes);
    tcase_add_test(tc, a_traced_training_step_matches_eager_training);
    tcase_add_test(tc, partial_runs_compute_only_what_is_asked);
    tcase_add_test(tc, the_text_form_lists_nodes_with_types);
    tcase_add_test(tc, tracing_and_freeing_in_a_loop_holds_memory_flat);
    tcase_add_test(tc, bodies_cannot_close_or_leave_open_their_callers_scopes);
    tcase_add_test(tc,
                   a_tape_stopped_inside_a_body_leaves_the_others_recording);
    tcase_add_test(tc, a_view_of_a_variable_sees_later_assignments_as_in_eager);
    tcase_add_test(
        tc, a_kept_symbol_is_refused_and_a_handled_error_is_not_a_failure);
    tcase_add_test(tc, feeding_a_value_twice_is_an_error);
    tcase_add_test(tc, a_taped_call_without_variables_works);
    tcase_add_test(
        tc, a_traced_call_on_an_eager_tape_is_one_node_with_a_traced_gradient);
    tcase_add_test(tc, a_traced_call_with_several_outputs_is_one_node_too);
    int status = test_run(s);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dump_dir);
    if (system(command) != 0)
        status = EXIT_FAILURE;
    return status;
}
