/* em_trace_fn for training: whole training steps traced against the same
 * steps run eagerly (SGD with momentum on Fashion-MNIST, Adam), and the
 * function-level behaviours a training loop relies on: static keys,
 * variables created by the body, argument checks, nesting, and traced
 * functions called under an eager tape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* Largest |a - b| over the elements divided by max(largest |b|, 1e-6): an
 * infinity-norm relative error between two tensors of one shape. */
static double relative_error(em_tensor *a, em_tensor *b)
{
    int64_t n = em_tensor_size(b);
    ck_assert_int_eq(em_tensor_size(a), n);
    double *x = malloc(sizeof(double) * (size_t)(n ? n : 1));
    double *y = malloc(sizeof(double) * (size_t)(n ? n : 1));
    em_tensor_copy_to(a, x, EM_FLOAT64, sizeof(double) * (size_t)n);
    em_tensor_copy_to(b, y, EM_FLOAT64, sizeof(double) * (size_t)n);
    double diff = 0, scale = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(x[i] - y[i]));
        scale = fmax(scale, fabs(y[i]));
    }
    free(x);
    free(y);
    return diff / scale;
}

/* ---- an MLP training step, run eagerly or traced ------------------------*/

enum { MAX_PARAMS = 6 };

typedef struct model {
    int n_params;
    em_tensor *params[MAX_PARAMS]; /* W1, b1, W2, b2, ... */
    em_optimizer *opt;
} model;

/* Dense layers with He-normal weights and zero biases, drawn in order from
 * one generator seeded with `seed`. */
static model make_model(uint64_t seed, int n_layers, const int64_t *widths,
                        em_optimizer *opt)
{
    model m = {.n_params = 2 * n_layers, .opt = opt};
    em_rng *rng = em_rng_new(seed);
    em_scope_begin();
    for (int l = 0; l < n_layers; l++) {
        int64_t shape[2] = {widths[l], widths[l + 1]};
        m.params[2 * l] = em_variable_new(
            "W", em_init_he_normal(rng, EM_FLOAT32, 2, shape), true);
        m.params[2 * l + 1] =
            em_variable_new("b", em_zeros(EM_FLOAT32, 1, &shape[1]), true);
    }
    em_scope_end();
    em_rng_free(rng);
    return m;
}

static void free_model(model *m)
{
    for (int i = 0; i < m->n_params; i++)
        em_tensor_free(m->params[i]);
    em_optimizer_free(m->opt);
}

/* in[0]: [batch, features] float32, in[1]: [batch] integer labels.
 * ReLU between layers, softmax cross-entropy, one optimiser update.
 * Output: the loss before the update. */
static int train_step(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max;
    model *m = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *h = in[0];
    for (int i = 0; i < m->n_params; i += 2) {
        h = em_add(em_matmul(h, m->params[i], false, false), m->params[i + 1]);
        if (i + 2 < m->n_params)
            h = em_relu(h);
    }
    em_tensor *loss = em_softmax_cross_entropy(h, in[1]);
    em_tensor *grads[MAX_PARAMS] = {NULL};
    int rc = em_tape_gradient(tape, loss, m->n_params, m->params, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, m->n_params, grads, m->params))
        return -1;
    out[0] = loss;
    return 1;
}

/* Trains `eager` with train_step and `traced` with its traced form (with
 * `options`, or none) on the same batches, batch rows from step * batch on
 * (fewer at the end of x); every step's loss agrees, and so do the weights
 * after. Returns the traced function's stats. */
static em_function_stats train_both_with(model *eager, model *traced,
                                         const em_trace_options *options,
                                         em_tensor *x, em_tensor *labels,
                                         int64_t batch, int steps,
                                         double tolerance)
{
    em_trace_options plain = {.name = "train_step"};
    em_function *f =
        em_trace_fn(train_step, traced, options ? options : &plain);
    for (int s = 0; s < steps; s++) {
        em_scope_begin();
        int64_t rows = em_tensor_dim(x, 0);
        int64_t lo = ((int64_t)s * batch) % rows;
        int64_t hi = lo + batch < rows ? lo + batch : rows;
        em_tensor *in[2] = {em_slice(x, (const int64_t[]){lo, 0},
                                     (const int64_t[]){hi, INT64_MAX}, NULL),
                            em_slice(labels, &lo, &hi, NULL)};
        em_tensor *loss_e, *loss_t;
        ck_assert_int_eq(train_step(2, in, 1, &loss_e, eager), 1);
        int rc = em_function_call(f, 2, in, 1, &loss_t);
        ck_assert_msg(rc == 1, "step %d: %s", s,
                      em_error_pending() ? em_error_last() : "no error");
        double e = relative_error(loss_t, loss_e);
        ck_assert_msg(e <= tolerance, "step %d: loss relative error %g", s, e);
        em_scope_end();
    }
    em_function_stats stats = em_function_get_stats(f);
    ck_assert_int_eq(stats.traces, 1);
    ck_assert_int_eq(em_optimizer_steps(traced->opt), steps);
    for (int i = 0; i < eager->n_params; i++) {
        double e = relative_error(traced->params[i], eager->params[i]);
        ck_assert_msg(e <= tolerance, "parameter %d: relative error %g", i, e);
    }
    em_function_free(f);
    return stats;
}

static void train_both(model *eager, model *traced, em_tensor *x,
                       em_tensor *labels, int64_t batch, int steps,
                       double tolerance)
{
    train_both_with(eager, traced, NULL, x, labels, batch, steps, tolerance);
}

static bool readable(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file)
        fclose(file);
    return file != NULL;
}

START_TEST(traced_sgd_momentum_on_fashion_mnist_matches_eager)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char images_path[512], labels_path[512];
    snprintf(images_path, sizeof images_path, "%s/train-images-idx3-ubyte.gz",
             dir);
    snprintf(labels_path, sizeof labels_path, "%s/train-labels-idx1-ubyte.gz",
             dir);
    if (!readable(images_path) || !readable(labels_path)) {
        printf("skipped: no Fashion-MNIST data in %s\n", dir);
        return;
    }
    em_scope_begin();
    int64_t n = 12800;
    em_tensor *raw = em_idx_load(images_path);
    em_tensor *raw_labels = em_idx_load(labels_path);
    ck_assert_msg(raw && raw_labels, "%s", em_error_last());
    em_tensor *x = em_mul_scalar(
        em_cast(em_reshape(em_slice(raw, (const int64_t[]){0, 0, 0},
                                    (const int64_t[]){n, 28, 28}, NULL),
                           2, (const int64_t[]){n, 784}),
                EM_FLOAT32),
        1.0 / 255.0);
    em_tensor *labels = em_cast(
        em_slice(raw_labels, (const int64_t[]){0}, (const int64_t[]){n}, NULL),
        EM_INT64);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(labels);
    const int64_t widths[] = {784, 256, 128, 10};
    model eager = make_model(1, 3, widths, em_optimizer_sgd(0.05, 0.9, false));
    model traced = make_model(1, 3, widths, em_optimizer_sgd(0.05, 0.9, false));
    train_both(&eager, &traced, x, labels, 128, 100, 1e-5);
    free_model(&eager);
    free_model(&traced);
    em_scope_end();
}
END_TEST

/* Adam's bias corrections 1 - beta^t change at every step: a traced step
 * must compute them from the step counter at run time, not bake in the
 * value of the step it was traced at. */
START_TEST(traced_adam_matches_eager_adam)
{
    em_scope_begin();
    em_tensor *x = test_random(11, EM_FLOAT32, 2, (int64_t[]){64, 6}, -1, 1);
    em_tensor *labels = em_cast(
        test_random(12, EM_FLOAT64, 1, (int64_t[]){64}, 0, 3), EM_INT32);
    const int64_t widths[] = {6, 8, 3};
    model eager =
        make_model(5, 2, widths, em_optimizer_adam(0.01, 0.9, 0.999, 1e-8));
    model traced =
        make_model(5, 2, widths, em_optimizer_adam(0.01, 0.9, 0.999, 1e-8));
    train_both(&eager, &traced, x, labels, 16, 20, 1e-5);
    free_model(&eager);
    free_model(&traced);
    em_scope_end();
}
END_TEST

/* A signature with -1 batch dimensions: the smaller batch at the end of
 * the data (40 rows in batches of 16: 16, 16, 8, ...) runs a graph made
 * from the one trace, and trains as eager mode does. */
START_TEST(a_smaller_last_batch_trains_from_the_one_trace)
{
    em_scope_begin();
    em_tensor *x = test_random(13, EM_FLOAT32, 2, (int64_t[]){40, 6}, -1, 1);
    em_tensor *labels = em_cast(
        test_random(14, EM_FLOAT64, 1, (int64_t[]){40}, 0, 3), EM_INT64);
    const int64_t widths[] = {6, 8, 3};
    model eager =
        make_model(5, 2, widths, em_optimizer_adam(0.01, 0.9, 0.999, 1e-8));
    model traced =
        make_model(5, 2, widths, em_optimizer_adam(0.01, 0.9, 0.999, 1e-8));
    const em_input_spec signature[] = {{EM_FLOAT32, 2, {-1, 6}},
                                       {EM_INT64, 1, {-1}}};
    em_trace_options options = {
        .name = "train_step", .n_signature = 2, .signature = signature};
    em_function_stats stats =
        train_both_with(&eager, &traced, &options, x, labels, 16, 9, 1e-5);
    /* Batches of 16, 8 and (from row 32 + 16 wrapping to 8) 16 again. */
    ck_assert_int_eq(stats.concrete_functions, 2);
    free_model(&eager);
    free_model(&traced);
    em_scope_end();
}
END_TEST

/* ---- static keys ----------------------------------------------------------*/

typedef struct mode {
    unsigned char training;
    int body_runs;
} mode;

/* Training scales by 2, inference by 3: the flag is plain C, so each value
 * needs its own trace. */
static int scaled(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    (void)n, (void)max;
    mode *m = user;
    m->body_runs++;
    out[0] = em_mul_scalar(in[0], m->training ? 2 : 3);
    return 1;
}

static size_t training_key(void *user, unsigned char *key, size_t capacity)
{
    ck_assert_uint_ge(capacity, 1);
    key[0] = ((mode *)user)->training;
    return 1;
}

START_TEST(a_static_key_selects_the_trace_for_training_or_inference)
{
    em_scope_begin();
    mode m = {0};
    em_trace_options options = {.name = "scaled",
                                .static_key_fn = training_key};
    em_function *f = em_trace_fn(scaled, &m, &options);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, -4});
    const unsigned char flags[] = {1, 1, 0, 0, 1, 0};
    for (int i = 0; i < 6; i++) {
        m.training = flags[i];
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        double k = flags[i] ? 2 : 3;
        assert_values(y, ((double[]){k, -4 * k}), 2, 0, 0);
    }
    em_function_stats stats = em_function_get_stats(f);
    ck_assert_int_eq(stats.calls, 6);
    ck_assert_int_eq(stats.traces, 2);
    ck_assert_int_eq(stats.concrete_functions, 2);
    ck_assert_int_eq(m.body_runs, 2);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(fixed_static_key_bytes_trace_once)
{
    em_scope_begin();
    mode m = {.training = 1};
    em_trace_options options = {
        .name = "scaled", .static_key = "train", .static_key_size = 5};
    em_function *f = em_trace_fn(scaled, &m, &options);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, -4});
    for (int i = 0; i < 3; i++) {
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        assert_values(y, ((double[]){2, -8}), 2, 0, 0);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- variables created by the body -------------------------------------*/

typedef struct lazy {
    em_tensor *total; /* created on first use */
} lazy;

/* total += x; returns total (a running sum over calls). */
static int accumulate(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max;
    lazy *s = user;
    if (!s->total)
        s->total = em_variable_new("total", em_zeros_like(in[0]), false);
    if (!s->total || em_variable_assign_add(s->total, in[0]) != 0)
        return -1;
    out[0] = em_add_scalar(s->total, 0);
    return 1;
}

START_TEST(a_variable_created_on_the_first_trace_is_kept)
{
    em_scope_begin();
    lazy s = {0};
    em_function *f = em_trace_fn(accumulate, &s, NULL);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 10});
    for (int call = 1; call <= 3; call++) {
        em_tensor *y;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        assert_values(y, ((double[]){call, 10.0 * call}), 2, 0, 0);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    /* the lifted variable is a real variable holding the running sum */
    ck_assert(em_tensor_is_variable(s.total));
    ck_assert_str_eq(em_variable_name(s.total), "total");
    assert_values(s.total, ((double[]){3, 30}), 2, 0, 0);
    /* the function holds its own reference; ours is released as for any
     * variable, before or after the function */
    em_function_free(f);
    assert_values(s.total, ((double[]){3, 30}), 2, 0, 0);
    em_tensor_free(s.total);
    em_scope_end();
}
END_TEST

/* Creates a variable shaped like its input at every trace. */
static int scratch_per_trace(int n, em_tensor *const *in, int max,
                             em_tensor **out, void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *v = em_variable_new("scratch", em_zeros_like(in[0]), false);
    if (!v)
        return -1;
    out[0] = em_add(v, in[0]);
    em_tensor_free(v); /* the function keeps its own reference */
    return 1;
}

START_TEST(creating_a_variable_on_a_later_trace_names_function_and_variable)
{
    em_scope_begin();
    em_trace_options options = {.name = "grower"};
    em_function *f = em_trace_fn(scratch_per_trace, NULL, &options);
    em_tensor *a = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    em_tensor *b = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_tensor *y;
    ck_assert_int_eq(em_function_call(f, 1, &a, 1, &y), 1);
    assert_values(y, ((double[]){1, 1}), 2, 0, 0);
    ck_assert_int_eq(em_function_call(f, 1, &b, 1, &y), -1);
    ck_assert_ptr_null(y);
    assert_error("grower", "scratch");
    /* the first trace still works */
    ck_assert_int_eq(em_function_call(f, 1, &a, 1, &y), 1);
    assert_values(y, ((double[]){1, 1}), 2, 0, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- argument checks ----------------------------------------------------*/

static int two_outputs(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_neg(in[0]);
    out[1] = em_exp(in[0]);
    return 2;
}

START_TEST(a_null_input_is_an_error_naming_the_function)
{
    em_scope_begin();
    em_trace_options options = {.name = "pair"};
    em_function *f = em_trace_fn(two_outputs, NULL, &options);
    em_tensor *y[2] = {NULL, NULL};
    ck_assert_int_eq(em_function_call(f, 1, (em_tensor *[]){NULL}, 2, y), -1);
    assert_error("pair", "input 0");
    ck_assert_ptr_null(y[0]);
    ck_assert_int_eq(em_function_get_stats(f).traces, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(a_null_input_array_is_an_error)
{
    em_scope_begin();
    em_trace_options options = {.name = "pair"};
    em_function *f = em_trace_fn(two_outputs, NULL, &options);
    em_tensor *y[2] = {NULL, NULL};
    ck_assert_int_eq(em_function_call(f, 1, NULL, 2, y), -1);
    assert_error("pair", "inputs");
    ck_assert_int_eq(em_function_call(NULL, 0, NULL, 2, y), -1);
    ck_assert(em_error_pending());
    em_error_clear();
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(a_wrong_input_count_for_the_signature_is_an_error)
{
    em_scope_begin();
    em_input_spec spec = {EM_FLOAT32, 1, {-1}};
    em_trace_options options = {
        .name = "pair", .n_signature = 1, .signature = &spec};
    em_function *f = em_trace_fn(two_outputs, NULL, &options);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    em_tensor *y[2] = {NULL, NULL};
    ck_assert_int_eq(em_function_call(f, 2, (em_tensor *[]){x, x}, 2, y), -1);
    assert_error("pair", "2 inputs", "1");
    ck_assert_int_eq(em_function_call(f, -1, &x, 2, y), -1);
    ck_assert(em_error_pending());
    em_error_clear();
    ck_assert_int_eq(em_function_get_stats(f).traces, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(too_few_output_slots_never_writes_past_them)
{
    em_scope_begin();
    em_function *f = em_trace_fn(two_outputs, NULL, NULL);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    em_tensor *slots[2] = {NULL, NULL};
    em_tensor *sentinel = x;
    slots[1] = sentinel;
    int rc = em_function_call(f, 1, &x, 1, slots);
    /* either the first output alone, or an error; never a write to [1] */
    ck_assert_ptr_eq(slots[1], sentinel);
    if (rc == -1) {
        ck_assert(em_error_pending());
        em_error_clear();
    } else {
        ck_assert_int_eq(rc, 1);
        assert_values(slots[0], ((double[]){-1, -1}), 2, 0, 0);
    }
    ck_assert_int_eq(em_function_call(f, 1, &x, 2, NULL), -1);
    ck_assert(em_error_pending());
    em_error_clear();
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- nesting and eager tapes --------------------------------------------*/

/* tanh(x @ w) with w a trainable variable in user. */
static int inner_layer(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    (void)n, (void)max;
    out[0] = em_tanh(em_matmul(in[0], (em_tensor *)user, false, false));
    return 1;
}

typedef struct outer_ctx {
    em_function *inner; /* NULL: call inner_layer directly */
    em_tensor *w;
} outer_ctx;

/* sum(layer(x) * 2 + 1) over rows, through the traced inner function or
 * the plain C one. */
static int outer_body(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max;
    outer_ctx *c = user;
    em_tensor *h;
    int rc = c->inner ? em_function_call(c->inner, 1, in, 1, &h)
                      : inner_layer(1, in, 1, &h, c->w);
    if (rc != 1)
        return -1;
    out[0] = em_sum(em_add_scalar(em_mul_scalar(h, 2), 1), 1, (const int[]){0},
                    false);
    return 1;
}

START_TEST(a_traced_function_called_inside_another_is_inlined)
{
    em_scope_begin();
    em_tensor *w = em_variable_new(
        "w", test_random(21, EM_FLOAT32, 2, (int64_t[]){4, 3}, -1, 1), true);
    em_tensor *x = test_random(22, EM_FLOAT32, 2, (int64_t[]){5, 4}, -1, 1);
    outer_ctx plain = {NULL, w};
    em_tensor *want;
    ck_assert_int_eq(outer_body(1, &x, 1, &want, &plain), 1);

    em_trace_options inner_options = {.name = "inner"};
    outer_ctx nested = {em_trace_fn(inner_layer, w, &inner_options), w};
    em_trace_options outer_options = {.name = "outer"};
    em_function *outer = em_trace_fn(outer_body, &nested, &outer_options);
    for (int call = 0; call < 2; call++) {
        em_tensor *got;
        int rc = em_function_call(outer, 1, &x, 1, &got);
        ck_assert_msg(rc == 1, "%s",
                      em_error_pending() ? em_error_last() : "no error");
        ck_assert_double_eq(relative_error(got, want), 0);
    }
    ck_assert_int_eq(em_function_get_stats(outer).traces, 1);
    /* inlined: the outer graph computes the tanh itself */
    em_concrete *c = em_function_concrete(outer, 1, &x);
    char text[4096];
    em_concrete_format(c, text, sizeof text);
    ck_assert_msg(strstr(text, "tanh(") != NULL, "%s", text);
    em_function_free(outer);
    em_function_free(nested.inner);
    em_tensor_free(w);
    em_scope_end();
}
END_TEST

/* Gradients of sum(f(x) * r) with respect to x and w, with f run as
 * `fn` (traced) or by calling body directly. */
static void taped_gradients(em_function *fn, em_traced_body body, em_tensor *x,
                            em_tensor *w, em_tensor *r, em_tensor **gx,
                            em_tensor **gw)
{
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *out[2] = {NULL, NULL};
    int rc = fn ? em_function_call(fn, 1, &x, 2, out) : body(1, &x, 2, out, w);
    ck_assert_msg(rc >= 1, "%s",
                  em_error_pending() ? em_error_last() : "no error");
    em_tensor *loss = em_sum(em_mul(out[0], r), 0, NULL, false);
    if (rc == 2) /* the second output contributes too */
        loss = em_add(loss, em_sum(out[1], 0, NULL, false));
    em_tensor *grads[2];
    ck_assert_int_eq(
        em_tape_gradient(tape, loss, 2, (em_tensor *const[]){x, w}, grads), 0);
    em_tape_free(tape);
    *gx = grads[0];
    *gw = grads[1];
}

/* inner_layer plus a second output, softplus(x @ w). */
static int layer_two_outputs(int n, em_tensor *const *in, int max,
                             em_tensor **out, void *user)
{
    (void)n, (void)max;
    em_tensor *z = em_matmul(in[0], (em_tensor *)user, false, false);
    out[0] = em_tanh(z);
    out[1] = em_softplus(z);
    return 2;
}

START_TEST(a_traced_call_under_an_eager_tape_gives_eager_gradients)
{
    em_traced_body bodies[] = {inner_layer, layer_two_outputs};
    for (int b = 0; b < 2; b++) {
        em_scope_begin();
        em_tensor *w = em_variable_new(
            "w", test_random(31, EM_FLOAT32, 2, (int64_t[]){4, 3}, -1, 1),
            true);
        em_tensor *x = test_random(32, EM_FLOAT32, 2, (int64_t[]){5, 4}, -1, 1);
        em_tensor *r = test_random(33, EM_FLOAT32, 2, (int64_t[]){5, 3}, -1, 1);
        em_tensor *want_x, *want_w;
        taped_gradients(NULL, bodies[b], x, w, r, &want_x, &want_w);
        em_function *f = em_trace_fn(bodies[b], w, NULL);
        for (int call = 0; call < 2; call++) {
            em_tensor *gx, *gw;
            taped_gradients(f, bodies[b], x, w, r, &gx, &gw);
            /* the same ops in the same order: expected bit-equal */
            ck_assert_msg(relative_error(gx, want_x) == 0,
                          "body %d call %d: dx error %g", b, call,
                          relative_error(gx, want_x));
            ck_assert_msg(relative_error(gw, want_w) == 0,
                          "body %d call %d: dw error %g", b, call,
                          relative_error(gw, want_w));
        }
        em_function_free(f);
        em_tensor_free(w);
        em_scope_end();
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trace_training");
    TCase *tc = test_case(s, "training");
    tcase_add_test(tc, traced_sgd_momentum_on_fashion_mnist_matches_eager);
    tcase_add_test(tc, traced_adam_matches_eager_adam);
    tcase_add_test(tc, a_smaller_last_batch_trains_from_the_one_trace);
    tc = test_case(s, "function");
    tcase_add_test(tc,
                   a_static_key_selects_the_trace_for_training_or_inference);
    tcase_add_test(tc, fixed_static_key_bytes_trace_once);
    tcase_add_test(tc, a_variable_created_on_the_first_trace_is_kept);
    tcase_add_test(
        tc, creating_a_variable_on_a_later_trace_names_function_and_variable);
    tcase_add_test(tc, a_null_input_is_an_error_naming_the_function);
    tcase_add_test(tc, a_null_input_array_is_an_error);
    tcase_add_test(tc, a_wrong_input_count_for_the_signature_is_an_error);
    tcase_add_test(tc, too_few_output_slots_never_writes_past_them);
    tcase_add_test(tc, a_traced_function_called_inside_another_is_inlined);
    tcase_add_test(tc, a_traced_call_under_an_eager_tape_gives_eager_gradients);
    return test_run(s);
}
