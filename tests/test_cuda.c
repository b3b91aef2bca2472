/*
 * The CUDA backend against the CPU, op by op: each test builds its inputs
 * on the host, runs the same public calls on CPU and on cuda:0 copies, and
 * compares. Tolerances: float32 elementwise maths 2e-6 relative (device
 * libm within 2 ulp), sums and matrix products 1e-4 relative (another
 * summation order), integer and data-movement ops exact.
 *
 * Traced functions called with GPU tensors run in the CUDA tier (fused
 * PTX kernels, cuBLAS, CUDA graph replay from the second call): they are
 * compared with the same function called with host tensors, over several
 * calls with new values each (the first queues its work, the second
 * captures a graph, later ones replay it). Tolerances: 1e-5 relative for
 * fused float32 maths (the same element code as the CPU JIT), 1e-4 for
 * training steps (products and sums in another order).
 *
 * Needs a GPU: exits 77 (skipped) without one, unless EMBER_REQUIRE_GPU=1
 * (scripts/gpu-check.sh), which turns a missing GPU into a failure.
 */
#include <stdlib.h>
#include <string.h>

#include "testing.h"

#define GPU EM_CUDA(0)

typedef em_tensor *(*fn1)(em_tensor *);
typedef em_tensor *(*fn2)(em_tensor *, em_tensor *);

/* Copies t to the GPU (checking it arrived there). */
static em_tensor *gpu(em_tensor *t)
{
    em_tensor *g = em_tensor_to(t, GPU);
    ck_assert_msg(g != NULL, "tensor_to: %s", em_error_last());
    ck_assert_int_eq(em_tensor_device(g), GPU);
    return g;
}

/* Fails unless the GPU result equals the CPU one within the tolerance. */
static void assert_same(em_tensor *cpu, em_tensor *on_gpu, double rtol,
                        const char *what)
{
    ck_assert_msg(cpu && on_gpu, "%s: %s", what, em_error_last());
    ck_assert_int_eq(em_tensor_device(on_gpu), GPU);
    ck_assert_int_eq(em_tensor_dtype(cpu), em_tensor_dtype(on_gpu));
    ck_assert_int_eq(em_tensor_ndim(cpu), em_tensor_ndim(on_gpu));
    int64_t n = em_tensor_size(cpu);
    ck_assert_int_eq(n, em_tensor_size(on_gpu));
    double *a = malloc(sizeof(double) * (size_t)(n + 1));
    double *b = malloc(sizeof(double) * (size_t)(n + 1));
    ck_assert_int_eq(em_tensor_copy_to(cpu, a, EM_FLOAT64, sizeof(double) * n),
                     0);
    ck_assert_int_eq(
        em_tensor_copy_to(on_gpu, b, EM_FLOAT64, sizeof(double) * n), 0);
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i]))
            continue;
        double tol = rtol * fabs(a[i]) + (rtol > 0 ? 1e-6 : 0);
        ck_assert_msg(fabs(a[i] - b[i]) <= tol,
                      "%s: element %lld: cpu %.9g, gpu %.9g", what,
                      (long long)i, a[i], b[i]);
    }
    free(a);
    free(b);
}

START_TEST(every_unary_op_matches_the_cpu)
{
    static const struct {
        const char *name;
        fn1 f;
        double low, high;
    } ops[] = {
        {"neg", em_neg, -3, 3},       {"abs", em_abs, -3, 3},
        {"sign", em_sign, -3, 3},     {"exp", em_exp, -5, 5},
        {"log", em_log, 0.01, 9},     {"log1p", em_log1p, -0.5, 9},
        {"sqrt", em_sqrt, 0, 9},      {"rsqrt", em_rsqrt, 0.1, 9},
        {"square", em_square, -3, 3}, {"reciprocal", em_reciprocal, 0.1, 3},
        {"sin", em_sin, -6, 6},       {"cos", em_cos, -6, 6},
        {"tanh", em_tanh, -4, 4},     {"sigmoid", em_sigmoid, -9, 9},
        {"relu", em_relu, -3, 3},     {"gelu", em_gelu, -5, 5},
        {"erf", em_erf, -3, 3},       {"softplus", em_softplus, -9, 9},
        {"step", em_step, -3, 3},     {"logical_not", em_logical_not, -1, 1},
    };
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (em_dtype dt = EM_FLOAT32; dt <= EM_FLOAT64; dt++) {
            em_tensor *x = test_random(k + 1, dt, 2, (int64_t[]){33, 65},
                                       ops[k].low, ops[k].high);
            em_tensor *g = gpu(x);
            assert_same(ops[k].f(x), ops[k].f(g),
                        dt == EM_FLOAT32 ? 2e-6 : 1e-12, ops[k].name);
        }
    em_tensor *x = test_random(99, EM_FLOAT32, 1, (int64_t[]){100}, -3, 3);
    assert_same(em_leaky_relu(x, 0.1), em_leaky_relu(gpu(x), 0.1), 1e-6,
                "leaky_relu");
    assert_same(em_elu(x, 0.7), em_elu(gpu(x), 0.7), 2e-6, "elu");
    em_tensor *i = em_cast(em_mul_scalar(x, 10), EM_INT32);
    assert_same(em_neg(i), em_neg(gpu(i)), 0, "neg int32");
    assert_same(em_abs(i), em_abs(gpu(i)), 0, "abs int32");
}
END_TEST

START_TEST(every_binary_op_broadcasts_like_the_cpu)
{
    static const struct {
        const char *name;
        fn2 f;
    } ops[] = {
        {"add", em_add},
        {"sub", em_sub},
        {"mul", em_mul},
        {"div", em_div},
        {"pow", em_pow},
        {"maximum", em_maximum},
        {"minimum", em_minimum},
        {"equal", em_equal},
        {"not_equal", em_not_equal},
        {"less", em_less},
        {"less_equal", em_less_equal},
        {"greater", em_greater},
        {"greater_equal", em_greater_equal},
        {"logical_and", em_logical_and},
        {"logical_or", em_logical_or},
    };
    em_tensor *a = test_random(1, EM_FLOAT32, 3, (int64_t[]){4, 1, 37}, 0.5, 2);
    em_tensor *b = test_random(2, EM_FLOAT32, 2, (int64_t[]){5, 37}, 0.5, 2);
    em_tensor *ia = em_cast(em_mul_scalar(a, 7), EM_INT64);
    em_tensor *ib = em_cast(em_mul_scalar(b, 3), EM_INT64);
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        assert_same(ops[k].f(a, b), ops[k].f(gpu(a), gpu(b)), 2e-6,
                    ops[k].name);
        if (ops[k].f != em_pow)
            assert_same(ops[k].f(ia, ib), ops[k].f(gpu(ia), gpu(ib)), 0,
                        ops[k].name);
    }
    em_tensor *c = em_greater(a, b);
    assert_same(em_where(c, a, b), em_where(gpu(c), gpu(a), gpu(b)), 0,
                "where");
}
END_TEST

START_TEST(reductions_match_the_cpu)
{
    em_tensor *x = test_random(3, EM_FLOAT32, 3, (int64_t[]){6, 300, 7}, -1, 1);
    em_tensor *g = gpu(x);
    int axes[][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 2}, {0, 1}};
    int counts[] = {1, 1, 1, 2, 2};
    for (int k = 0; k < 5; k++) {
        assert_same(em_sum(x, counts[k], axes[k], false),
                    em_sum(g, counts[k], axes[k], false), 1e-4, "sum");
        assert_same(em_max(x, counts[k], axes[k], true),
                    em_max(g, counts[k], axes[k], true), 0, "max");
        assert_same(em_min(x, counts[k], axes[k], false),
                    em_min(g, counts[k], axes[k], false), 0, "min");
    }
    assert_same(em_sum(x, 0, NULL, false), em_sum(g, 0, NULL, false), 1e-4,
                "sum all");
    assert_same(em_mean(x, 0, NULL, false), em_mean(g, 0, NULL, false), 1e-4,
                "mean");
    for (int axis = 0; axis < 3; axis++) {
        assert_same(em_argmax(x, axis, false), em_argmax(g, axis, false), 0,
                    "argmax");
        assert_same(em_argmin(x, axis, false), em_argmin(g, axis, false), 0,
                    "argmin");
        assert_same(em_softmax(x, axis), em_softmax(g, axis), 1e-5, "softmax");
        assert_same(em_log_softmax(x, axis), em_log_softmax(g, axis), 1e-5,
                    "log_softmax");
    }
}
END_TEST

START_TEST(matmul_plain_transposed_and_batched_matches_the_cpu)
{
    for (em_dtype dt = EM_FLOAT32; dt <= EM_FLOAT64; dt++) {
        em_tensor *a = test_random(4, dt, 2, (int64_t[]){33, 70}, -1, 1);
        em_tensor *b = test_random(5, dt, 2, (int64_t[]){70, 19}, -1, 1);
        em_tensor *bt = em_transpose(b), *at = em_transpose(a);
        double tol = dt == EM_FLOAT32 ? 1e-4 : 1e-10;
        assert_same(em_matmul(a, b, false, false),
                    em_matmul(gpu(a), gpu(b), false, false), tol, "matmul");
        assert_same(em_matmul(at, b, true, false),
                    em_matmul(gpu(at), gpu(b), true, false), tol, "matmul ta");
        assert_same(em_matmul(a, bt, false, true),
                    em_matmul(gpu(a), gpu(bt), false, true), tol, "matmul tb");
        em_tensor *ba = test_random(6, dt, 3, (int64_t[]){3, 33, 70}, -1, 1);
        em_tensor *bb = test_random(7, dt, 4, (int64_t[]){2, 1, 70, 19}, -1, 1);
        assert_same(em_matmul(ba, b, false, false),
                    em_matmul(gpu(ba), gpu(b), false, false), tol, "batched");
        assert_same(em_matmul(ba, bb, false, false),
                    em_matmul(gpu(ba), gpu(bb), false, false), tol,
                    "broadcast batch");
    }
}
END_TEST

START_TEST(shape_and_index_ops_match_the_cpu)
{
    em_tensor *x = test_random(8, EM_FLOAT32, 3, (int64_t[]){4, 5, 6}, -1, 1);
    em_tensor *g = gpu(x);
    assert_same(em_permute(x, (int[]){2, 0, 1}),
                em_permute(g, (int[]){2, 0, 1}), 0, "permute");
    assert_same(em_broadcast_to(x, 4, (int64_t[]){2, 4, 5, 6}),
                em_broadcast_to(g, 4, (int64_t[]){2, 4, 5, 6}), 0,
                "broadcast_to");
    assert_same(em_reshape(x, 2, (int64_t[]){20, 6}),
                em_reshape(g, 2, (int64_t[]){20, 6}), 0, "reshape");
    int64_t start[] = {3, 0, 1}, stop[] = {0, 5, 6}, step[] = {-1, 2, 2};
    assert_same(em_slice(x, start, stop, step), em_slice(g, start, stop, step),
                0, "slice");
    em_tensor *xs[] = {x, em_mul_scalar(x, 2)};
    em_tensor *gs[] = {g, gpu(xs[1])};
    for (int axis = 0; axis < 3; axis++)
        assert_same(em_concat(2, xs, axis), em_concat(2, gs, axis), 0,
                    "concat");
    em_tensor *idx = test_i64(1, (int64_t[]){4}, (int64_t[]){4, 0, -1, 2});
    assert_same(em_gather(x, idx, 1), em_gather(g, gpu(idx), 1), 0, "gather");
    em_tensor *labels = test_i64(1, (int64_t[]){5}, (int64_t[]){1, 0, 3, 3, 2});
    assert_same(em_one_hot(labels, 4, EM_FLOAT32),
                em_one_hot(gpu(labels), 4, EM_FLOAT32), 0, "one_hot");
    for (em_dtype to = EM_BOOL; to < EM_DTYPE_COUNT; to++) {
        em_tensor *big = em_mul_scalar(x, 300);
        assert_same(em_cast(big, to), em_cast(gpu(big), to), 0, "cast");
    }
    assert_same(em_copy(x), em_copy(g), 0, "copy");
    assert_same(em_stop_gradient(x), em_stop_gradient(g), 0, "stop_gradient");
}
END_TEST

START_TEST(losses_match_the_cpu)
{
    em_tensor *logits =
        test_random(9, EM_FLOAT32, 2, (int64_t[]){16, 10}, -3, 3);
    em_tensor *labels =
        test_i64(1, (int64_t[]){16},
                 (int64_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5});
    assert_same(em_softmax_cross_entropy(logits, labels),
                em_softmax_cross_entropy(gpu(logits), gpu(labels)), 1e-5,
                "softmax_cross_entropy");
    em_tensor *t = test_random(10, EM_FLOAT32, 2, (int64_t[]){16, 10}, 0, 1);
    assert_same(em_mse_loss(logits, t), em_mse_loss(gpu(logits), gpu(t)), 1e-5,
                "mse");
    assert_same(em_bce_with_logits(logits, t),
                em_bce_with_logits(gpu(logits), gpu(t)), 1e-5, "bce");
}
END_TEST

/* Three SGD-with-momentum steps of a two-layer network, on each device. */
static void train(em_device device, em_tensor **w_out)
{
    em_tensor *x0 = test_random(11, EM_FLOAT32, 2, (int64_t[]){32, 20}, -1, 1);
    em_tensor *w0 =
        test_random(12, EM_FLOAT32, 2, (int64_t[]){20, 16}, -.3, .3);
    em_tensor *v0 = test_random(13, EM_FLOAT32, 2, (int64_t[]){16, 5}, -.3, .3);
    em_tensor *labels =
        test_i64(1, (int64_t[]){32},
                 (int64_t[]){0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0,
                             1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1});
    em_tensor *x = em_tensor_to(x0, device), *y = em_tensor_to(labels, device);
    em_tensor *w = em_variable_new("w", em_tensor_to(w0, device), true);
    em_tensor *v = em_variable_new("v", em_tensor_to(v0, device), true);
    em_optimizer *opt = em_optimizer_sgd(0.1, 0.9, false);
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        em_tape *tape = em_tape_begin(false);
        em_tensor *h = em_relu(em_matmul(x, w, false, false));
        em_tensor *loss =
            em_softmax_cross_entropy(em_matmul(h, v, false, false), y);
        em_tensor *vars[] = {w, v}, *grads[2];
        ck_assert_int_eq(em_tape_gradient(tape, loss, 2, vars, grads), 0);
        em_tape_free(tape);
        ck_assert_int_eq(em_optimizer_apply(opt, 2, grads, vars), 0);
        em_scope_end();
    }
    ck_assert_int_eq(em_tensor_device(w), device);
    w_out[0] = w;
    w_out[1] = v;
    em_optimizer_free(opt);
}

START_TEST(tape_and_optimiser_steps_match_the_cpu)
{
    em_tensor *cpu[2], *on_gpu[2];
    train(EM_CPU, cpu);
    train(GPU, on_gpu);
    assert_same(cpu[0], on_gpu[0], 1e-4, "w after 3 steps");
    assert_same(cpu[1], on_gpu[1], 1e-4, "v after 3 steps");
}
END_TEST

START_TEST(inputs_on_two_devices_name_both)
{
    em_tensor *a = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_tensor *b = gpu(a);
    ck_assert_ptr_null(em_add(a, b));
    assert_error("add", "cuda:0", "cpu");
    /* A one-element CPU tensor joins a GPU op (the scalars of wrappers). */
    em_tensor *s = em_mul(b, em_scalar_f32(2));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(em_tensor_device(s), GPU);
}
END_TEST

START_TEST(reading_values_copies_back_and_raw_data_is_refused)
{
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    em_tensor *g = em_mul_scalar(gpu(x), 2);
    ck_assert_double_eq(em_tensor_item(em_sum(g, 0, NULL, false)), 12);
    ck_assert_ptr_null(em_tensor_data(g));
    assert_error("tensor_data", "cuda:0", "em_tensor_to");
    em_tensor *back = em_tensor_to(g, EM_CPU);
    ck_assert_int_eq(em_tensor_device(back), EM_CPU);
    ck_assert_float_eq(((float *)em_tensor_data(back))[2], 6);
    char text[200];
    ck_assert_int_gt(em_tensor_format(g, text, sizeof text), 0);
    ck_assert_ptr_nonnull(strstr(text, "cuda:0"));
}
END_TEST

START_TEST(a_batch_iterator_over_gpu_data_is_refused)
{
    em_tensor *x = gpu(em_ones(EM_FLOAT32, 2, (int64_t[]){4, 2}));
    em_tensor *y = em_ones(EM_FLOAT32, 1, (int64_t[]){4});
    ck_assert_ptr_null(
        em_batch_iter_new(2, (em_tensor *[]){y, x}, 2, false, 0, false));
    assert_error("batch_iter_new", "tensor 1 is on cuda:0", "em_tensor_to");
}
END_TEST

START_TEST(gather_out_of_range_is_reported_at_the_next_read)
{
    em_tensor *x = gpu(em_ones(EM_FLOAT32, 1, (int64_t[]){4}));
    em_tensor *idx = gpu(test_i64(1, (int64_t[]){1}, (int64_t[]){9}));
    em_tensor *y = em_gather(x, idx, 0);
    ck_assert_ptr_nonnull(y);
    ck_assert(isnan(em_tensor_item(y)));
    assert_error("out of range");
}
END_TEST

static int body(int n, em_tensor *const *in, int max, em_tensor **out,
                void *user)
{
    (void)n, (void)max, (void)user;
    out[0] =
        em_mul(em_tanh(em_add(em_mul(in[0], in[1]), in[1])), em_sigmoid(in[0]));
    return 1;
}

START_TEST(traced_function_on_gpu_inputs_matches_the_cpu)
{
    em_function *f = em_trace_fn(body, NULL, NULL);
    em_tensor *a = test_random(14, EM_FLOAT32, 2, (int64_t[]){64, 33}, -2, 2);
    em_tensor *b = test_random(15, EM_FLOAT32, 1, (int64_t[]){33}, -2, 2);
    em_tensor *cpu = NULL, *on_gpu = NULL;
    ck_assert_int_eq(em_function_call(f, 2, (em_tensor *[]){a, b}, 1, &cpu), 1);
    ck_assert_int_eq(
        em_function_call(f, 2, (em_tensor *[]){gpu(a), gpu(b)}, 1, &on_gpu), 1);
    assert_same(cpu, on_gpu, 2e-6, "traced");
    em_function_free(f);
}
END_TEST

/* ---- traced functions on the GPU (the CUDA tier) -------------------------*/

/* Calls f with in (n of them, host tensors) and with their GPU copies;
 * every output must agree within rtol. Returns the GPU call's concrete. */
static em_concrete *assert_traced_same(em_function *f, int n,
                                       em_tensor *const *in, int n_out,
                                       double rtol, const char *what)
{
    em_tensor *on_gpu[4], *cpu_out[4] = {NULL}, *gpu_out[4] = {NULL};
    for (int i = 0; i < n; i++)
        on_gpu[i] =
            em_tensor_device(in[i]) == EM_CPU && em_tensor_size(in[i]) > 1
                ? gpu(in[i])
                : in[i];
    ck_assert_msg(em_function_call(f, n, in, n_out, cpu_out) == n_out,
                  "%s on the host: %s", what, em_error_last());
    ck_assert_msg(em_function_call(f, n, on_gpu, n_out, gpu_out) == n_out,
                  "%s on the GPU: %s", what, em_error_last());
    for (int k = 0; k < n_out; k++)
        assert_same(cpu_out[k], gpu_out[k], rtol, what);
    return em_function_concrete(f, n, on_gpu);
}

START_TEST(a_traced_elementwise_chain_runs_fused_on_the_gpu_like_the_cpu)
{
    em_trace_options o = {.name = "chain_on_gpu", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(body, NULL, &o);
    em_concrete *k = NULL;
    for (int call = 0; call < 4; call++) {
        em_scope_begin();
        em_tensor *in[2] = {
            test_random(20 + call, EM_FLOAT32, 2, (int64_t[]){64, 33}, -2, 2),
            test_random(40 + call, EM_FLOAT32, 1, (int64_t[]){33}, -2, 2)};
        k = assert_traced_same(f, 2, in, 1, 1e-5, "fused chain");
        em_scope_end();
    }
    em_compile_stats st = em_concrete_compile_stats(k);
    ck_assert_int_eq(st.tier, EM_TIER_NATIVE);
    /* One kernel for the five ops, when this build generates PTX. */
    if (em_jit_available())
        ck_assert_int_eq(st.fused_loops, 1);
    /* One concrete function per device. */
    ck_assert_int_eq(em_function_get_stats(f).concrete_functions, 2);
    em_function_free(f);
}
END_TEST

/* out[0] = reshape(x * x), out[1] = x itself, out[2] = sum(x * x) */
static int views_and_inputs(int n, em_tensor *const *in, int max,
                            em_tensor **out, void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_reshape(em_mul(in[0], in[0]), 1, (int64_t[]){-1});
    out[1] = in[0];
    out[2] = em_sum(em_square(in[0]), 0, NULL, false);
    return 3;
}

START_TEST(traced_outputs_that_are_views_inputs_and_sums_match_the_cpu)
{
    em_trace_options o = {.name = "views_on_gpu", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(views_and_inputs, NULL, &o);
    for (int call = 0; call < 3; call++) {
        em_scope_begin();
        em_tensor *in[1] = {
            test_random(60 + call, EM_FLOAT32, 2, (int64_t[]){7, 9}, -1, 1)};
        assert_traced_same(f, 1, in, 3, 1e-4, "views, inputs and sums");
        em_scope_end();
    }
    em_function_free(f);
}
END_TEST

/* x * s + s, with s a one-element host tensor */
static int scaled(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_add(em_mul(in[0], in[1]), in[1]);
    return 1;
}

START_TEST(a_host_scalar_input_is_copied_to_the_gpu_at_each_call)
{
    em_trace_options o = {.name = "scaled_on_gpu", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(scaled, NULL, &o);
    for (int call = 0; call < 4; call++) {
        em_scope_begin();
        em_tensor *in[2] = {
            test_random(70 + call, EM_FLOAT32, 1, (int64_t[]){100}, -1, 1),
            em_scalar_f32(0.5f + (float)call)};
        assert_traced_same(f, 2, in, 1, 1e-6, "host scalar");
        em_scope_end();
    }
    em_function_free(f);
}
END_TEST

/* A two-layer network's training step: in[0] x [32, 20], in[1] labels
 * [32] -> out[0] the loss; the weights and the optimiser from user. */
typedef struct net {
    em_tensor *params[4];
    em_optimizer *opt;
} net;

static int net_step(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    (void)n, (void)max;
    net *m = user;
    em_tensor *const *p = m->params;
    em_tape *tape = em_tape_begin(false);
    em_tensor *h = em_relu(em_add(em_matmul(in[0], p[0], false, false), p[1]));
    em_tensor *logits = em_add(em_matmul(h, p[2], false, false), p[3]);
    em_tensor *loss = em_softmax_cross_entropy(logits, in[1]);
    em_tensor *grads[4] = {NULL};
    int rc = em_tape_gradient(tape, loss, 4, m->params, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 4, grads, m->params) != 0)
        return -1;
    out[0] = loss;
    return 1;
}

/* Five traced steps on device with opt, from fixed weights and batches:
 * the losses, and the weights after them (the caller frees them). */
static void train_traced(em_device device, em_optimizer *opt, double losses[5],
                         em_tensor *weights[4])
{
    static const int64_t shapes[4][2] = {{20, 16}, {16, 0}, {16, 5}, {5, 0}};
    net m = {.opt = opt};
    for (int i = 0; i < 4; i++) {
        em_scope_begin();
        em_tensor *t = test_random(80 + i, EM_FLOAT32, i % 2 ? 1 : 2, shapes[i],
                                   -0.3, 0.3);
        m.params[i] = em_variable_new("p", em_tensor_to(t, device), true);
        em_scope_end();
    }
    em_trace_options o = {.name = "train_step", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(net_step, &m, &o);
    for (int step = 0; step < 5; step++) {
        em_scope_begin();
        int64_t labels[32];
        for (int r = 0; r < 32; r++)
            labels[r] = (r * 7 + step) % 5;
        em_tensor *x =
            test_random(90 + step, EM_FLOAT32, 2, (int64_t[]){32, 20}, -1, 1);
        em_tensor *in[2] = {
            em_tensor_to(x, device),
            em_tensor_to(test_i64(1, (int64_t[]){32}, labels), device)};
        em_tensor *loss = NULL;
        ck_assert_msg(em_function_call(f, 2, in, 1, &loss) == 1,
                      "step %d on %s: %s", step,
                      device == EM_CPU ? "cpu" : "gpu", em_error_last());
        losses[step] = em_tensor_item(loss);
        em_scope_end();
    }
    if (device != EM_CPU) {
        em_compile_stats st = em_concrete_compile_stats(em_function_concrete(
            f, 2,
            (em_tensor *[]){gpu(em_zeros(EM_FLOAT32, 2, (int64_t[]){32, 20})),
                            gpu(em_zeros(EM_INT64, 1, (int64_t[]){32}))}));
        ck_assert_int_eq(st.tier, EM_TIER_NATIVE);
    }
    for (int i = 0; i < 4; i++)
        weights[i] = m.params[i];
    em_function_free(f);
}

START_TEST(a_traced_training_step_on_the_gpu_matches_the_cpu)
{
    /* SGD: its step count is a host variable no GPU op reads, so the step
     * is replayed as a CUDA graph. Adam: its bias corrections come from
     * that host count at each call, so each call queues its work. */
    for (int kind = 0; kind < 2; kind++) {
        double cpu_loss[5], gpu_loss[5];
        em_tensor *cpu_w[4], *gpu_w[4];
        em_optimizer *opts[2];
        for (int d = 0; d < 2; d++)
            opts[d] = kind ? em_optimizer_adam(1e-2, 0.9, 0.999, 1e-8)
                           : em_optimizer_sgd(0.1, 0.9, false);
        train_traced(EM_CPU, opts[0], cpu_loss, cpu_w);
        train_traced(GPU, opts[1], gpu_loss, gpu_w);
        for (int step = 0; step < 5; step++)
            ck_assert_msg(fabs(cpu_loss[step] - gpu_loss[step]) <=
                              1e-4 * fmax(1, fabs(cpu_loss[step])),
                          "%s step %d: loss cpu %.9g, gpu %.9g",
                          kind ? "adam" : "sgd", step, cpu_loss[step],
                          gpu_loss[step]);
        for (int i = 0; i < 4; i++) {
            assert_same(cpu_w[i], gpu_w[i], 1e-4, "weights after 5 steps");
            em_tensor_free(cpu_w[i]);
            em_tensor_free(gpu_w[i]);
        }
        em_optimizer_free(opts[0]);
        em_optimizer_free(opts[1]);
    }
}
END_TEST

static int relu_fn(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_relu(in[0]);
    return 1;
}

static int negate_fn(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_neg(in[0]);
    return 1;
}

/* cond(sum(x) > 0, relu(x), -x) */
static int branches(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0.0, EM_FLOAT32));
    return em_cond(pred, relu_fn, negate_fn, NULL, 1, in, 1, out);
}

START_TEST(control_flow_on_the_gpu_runs_op_by_op_and_says_why)
{
    em_trace_options o = {.name = "branches_on_gpu", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(branches, NULL, &o);
    em_concrete *k = NULL;
    for (int call = 0; call < 2; call++) {
        em_scope_begin();
        em_tensor *in[1] = {test_random(100 + call, EM_FLOAT32, 1,
                                        (int64_t[]){17}, call ? -2 : -1, 1)};
        k = assert_traced_same(f, 1, in, 1, 1e-6, "cond");
        em_scope_end();
    }
    em_compile_stats st = em_concrete_compile_stats(k);
    ck_assert_int_eq(st.tier, EM_TIER_EXECUTOR);
    ck_assert_ptr_nonnull(strstr(st.reason, "control flow"));
    em_function_free(f);
}
END_TEST

static int add_fn(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_add(in[0], in[1]);
    return out[0] ? 1 : -1;
}

START_TEST(a_traced_call_with_a_gpu_and_a_host_matrix_names_both_devices)
{
    em_function *f = em_trace_fn(add_fn, NULL, NULL);
    em_tensor *a = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_tensor *out = NULL;
    ck_assert_int_eq(
        em_function_call(f, 2, (em_tensor *[]){gpu(a), a}, 1, &out), -1);
    assert_error("add", "cuda:0", "cpu");
    em_function_free(f);
}
END_TEST

int main(void)
{
    if (!em_cuda_available()) {
        const char *require = getenv("EMBER_REQUIRE_GPU");
        if (require && strcmp(require, "1") == 0) {
            fprintf(stderr, "test_cuda: FAIL: EMBER_REQUIRE_GPU=1 but no "
                            "usable CUDA GPU is visible\n");
            return 1;
        }
        printf("test_cuda: SKIP: no usable CUDA GPU (ember built without "
               "CUDA, no driver, or no device); scripts/gpu-check.sh runs "
               "these on a GPU machine\n");
        return 77;
    }
    Suite *s = suite_create("cuda");
    TCase *tc = test_case(s, "cuda");
    tcase_add_test(tc, every_unary_op_matches_the_cpu);
    tcase_add_test(tc, every_binary_op_broadcasts_like_the_cpu);
    tcase_add_test(tc, reductions_match_the_cpu);
    tcase_add_test(tc, matmul_plain_transposed_and_batched_matches_the_cpu);
    tcase_add_test(tc, shape_and_index_ops_match_the_cpu);
    tcase_add_test(tc, losses_match_the_cpu);
    tcase_add_test(tc, tape_and_optimiser_steps_match_the_cpu);
    tcase_add_test(tc, inputs_on_two_devices_name_both);
    tcase_add_test(tc, reading_values_copies_back_and_raw_data_is_refused);
    tcase_add_test(tc, a_batch_iterator_over_gpu_data_is_refused);
    tcase_add_test(tc, gather_out_of_range_is_reported_at_the_next_read);
    tcase_add_test(tc, traced_function_on_gpu_inputs_matches_the_cpu);
    TCase *tier = test_case(s, "cuda tier");
    tcase_add_test(
        tier, a_traced_elementwise_chain_runs_fused_on_the_gpu_like_the_cpu);
    tcase_add_test(tier,
                   traced_outputs_that_are_views_inputs_and_sums_match_the_cpu);
    tcase_add_test(tier, a_host_scalar_input_is_copied_to_the_gpu_at_each_call);
    tcase_add_test(tier, a_traced_training_step_on_the_gpu_matches_the_cpu);
    tcase_add_test(tier, control_flow_on_the_gpu_runs_op_by_op_and_says_why);
    tcase_add_test(
        tier, a_traced_call_with_a_gpu_and_a_host_matrix_names_both_devices);
    return test_run(s);
}
