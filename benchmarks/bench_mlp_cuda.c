/*
 * benchmarks/bench_mlp_cuda.c - mlp-step on a GPU (ember-bench mlp-step
 * --device cuda): one training step (SGD with momentum) of a
 * 4096-4096-4096-10 ReLU MLP, at batch 128 (launch-bound: the cost of
 * running the step) and 4096 (bound by its products), in three modes:
 *   eager      the step's C body, each op dispatched to a GPU kernel
 *   jit        the same body traced: fused PTX kernels, cuBLAS products,
 *              the step replayed as one CUDA graph
 *   reference  the step written by hand with cuBLAS (reference_mlp_cuda.c)
 * float32 products use TF32 tensor cores in every mode (em_cuda_set_tf32),
 * as a GPU training run would. Each timed loop ends by waiting for the
 * GPU, so the times are the GPU's, not only the host's queueing. Without
 * a GPU (or without CUDA in the build) the rows are skipped with a note.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef EMBER_BENCH_CUDA
#include "reference_mlp_cuda.h"
#endif

/* mlp-step-cuda cycles through this many pre-made random batches. */
enum { DATA_BATCHES = 4, PARAMS = 6 };

static const double LR = 0.01;
static const double MOMENTUM = 0.9;
static const uint64_t SEED = 1234;

/* The widths of the timed runs, and of --smoke (tiny, to run every path). */
static const int WIDTHS[4] = {4096, 4096, 4096, 10};
static const int SMOKE_WIDTHS[4] = {64, 64, 32, 10};

/* What every mode starts from: the weights (He normal, zero biases) and
 * the batches (pixels uniform in [0, 1), labels uniform over the
 * classes), on the host. */
typedef struct gpu_data {
    const int *widths;
    int64_t batch;
    float *init[PARAMS];
    int64_t shapes[PARAMS][2];
    float *x[DATA_BATCHES];
    int64_t *labels[DATA_BATCHES];
} gpu_data;

static int64_t param_size(const gpu_data *d, int i)
{
    return i % 2 ? d->shapes[i][0] : d->shapes[i][0] * d->shapes[i][1];
}

static void gpu_data_init(gpu_data *d, const int *widths, int64_t batch)
{
    *d = (gpu_data){.widths = widths, .batch = batch};
    uint64_t state = SEED;
    for (int l = 0; l < 3; l++) {
        d->shapes[2 * l][0] = widths[l];
        d->shapes[2 * l][1] = widths[l + 1];
        d->shapes[2 * l + 1][0] = widths[l + 1];
        float *w = bench_check_alloc(
            malloc((size_t)param_size(d, 2 * l) * sizeof(float)));
        double std = sqrt(2.0 / widths[l]);
        /* Box-Muller, both outputs of each pair. */
        for (int64_t i = 0; i < param_size(d, 2 * l); i += 2) {
            double u1 = 1.0 - (double)bench_uniform(&state);
            double u2 = (double)bench_uniform(&state);
            double r = std * sqrt(-2.0 * log(u1));
            w[i] = (float)(r * cos(6.283185307179586 * u2));
            if (i + 1 < param_size(d, 2 * l))
                w[i + 1] = (float)(r * sin(6.283185307179586 * u2));
        }
        d->init[2 * l] = w;
        d->init[2 * l + 1] =
            bench_check_alloc(calloc((size_t)widths[l + 1], sizeof(float)));
    }
    int64_t xn = batch * widths[0];
    for (int k = 0; k < DATA_BATCHES; k++) {
        d->x[k] = bench_check_alloc(malloc((size_t)xn * sizeof(float)));
        d->labels[k] = bench_check_alloc(malloc((size_t)batch * 8));
        for (int64_t i = 0; i < xn; i++)
            d->x[k][i] = bench_uniform(&state);
        for (int64_t i = 0; i < batch; i++)
            d->labels[k][i] =
                (int64_t)(bench_splitmix64(&state) % (uint64_t)widths[3]);
    }
}

static void gpu_data_free(gpu_data *d)
{
    for (int i = 0; i < PARAMS; i++)
        free(d->init[i]);
    for (int k = 0; k < DATA_BATCHES; k++) {
        free(d->x[k]);
        free(d->labels[k]);
    }
}

/* ---- ember ---------------------------------------------------------------*/

typedef struct gpu_mlp {
    em_tensor *params[PARAMS]; /* W1, b1, W2, b2, W3, b3 on the GPU */
    em_optimizer *opt;
    em_tensor *x[DATA_BATCHES], *labels[DATA_BATCHES];
    em_function *f; /* the traced step, or NULL for eager */
    int next;
} gpu_mlp;

/* in[0] images, in[1] labels -> out[0] the loss; bench_mlp.c's step. */
static int step_body(int n_inputs, em_tensor *const *in, int max_outputs,
                     em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    gpu_mlp *e = user;
    em_tensor *const *p = e->params;
    em_tape *tape = em_tape_begin(false);
    em_tensor *h1 = em_relu(em_add(em_matmul(in[0], p[0], false, false), p[1]));
    em_tensor *h2 = em_relu(em_add(em_matmul(h1, p[2], false, false), p[3]));
    em_tensor *logits = em_add(em_matmul(h2, p[4], false, false), p[5]);
    em_tensor *loss = em_softmax_cross_entropy(logits, in[1]);
    em_tensor *grads[PARAMS] = {NULL};
    em_tape_gradient(tape, loss, PARAMS, p, grads);
    em_tape_free(tape);
    em_optimizer_apply(e->opt, PARAMS, grads, p);
    out[0] = loss;
    return em_error_pending() ? -1 : 1;
}

/* A host array as a tensor on device (owned by the caller). */
static em_tensor *on_device(const void *data, em_dtype dtype, int ndim,
                            const int64_t *shape, em_device device)
{
    em_tensor *host = em_tensor_from_data(data, dtype, ndim, shape);
    em_tensor *t = em_tensor_to(host, device);
    em_tensor_free(host);
    return t;
}

static void gpu_mlp_init(gpu_mlp *e, const gpu_data *d, bench_mode mode,
                         em_device device)
{
    static const char *const names[PARAMS] = {"W1", "b1", "W2",
                                              "b2", "W3", "b3"};
    *e = (gpu_mlp){0};
    for (int i = 0; i < PARAMS; i++) {
        em_tensor *t = on_device(d->init[i], EM_FLOAT32, i % 2 ? 1 : 2,
                                 d->shapes[i], device);
        e->params[i] = em_variable_new(names[i], t, true);
        em_tensor_free(t);
    }
    for (int k = 0; k < DATA_BATCHES; k++) {
        e->x[k] = on_device(d->x[k], EM_FLOAT32, 2,
                            (int64_t[]){d->batch, d->widths[0]}, device);
        e->labels[k] = on_device(d->labels[k], EM_INT64, 1, &d->batch, device);
    }
    e->opt = em_optimizer_sgd(LR, MOMENTUM, false);
    e->f = mode == MODE_EAGER
               ? NULL
               : bench_trace(step_body, e, "mlp_step_cuda", mode, 0, NULL);
    bench_fail_on_error("mlp-step-cuda: setting up the model");
}

static void gpu_mlp_free(gpu_mlp *e)
{
    em_function_free(e->f);
    for (int i = 0; i < PARAMS; i++)
        em_tensor_free(e->params[i]);
    for (int k = 0; k < DATA_BATCHES; k++) {
        em_tensor_free(e->x[k]);
        em_tensor_free(e->labels[k]);
    }
    em_optimizer_free(e->opt);
}

/* One step on the next batch; the loss tensor belongs to the open scope. */
static em_tensor *gpu_mlp_step(gpu_mlp *e)
{
    em_tensor *in[2] = {e->x[e->next], e->labels[e->next]};
    e->next = (e->next + 1) % DATA_BATCHES;
    em_tensor *loss = NULL;
    if (e->f)
        em_function_call(e->f, 2, in, 1, &loss);
    else
        step_body(2, in, 1, &loss, e);
    return loss;
}

static void gpu_mlp_loop(void *ctx, int64_t iterations)
{
    for (int64_t i = 0; i < iterations; i++) {
        em_scope_begin();
        gpu_mlp_step(ctx);
        em_scope_end();
    }
    em_cuda_synchronize();
}

/* Three steps of a traced mode and of eager from the same weights and
 * batches: the losses and the weights after them must agree. */
static void check_traced(const options *o, const gpu_data *d, bench_mode mode,
                         const char *case_name)
{
    gpu_mlp e, g;
    gpu_mlp_init(&e, d, MODE_EAGER, o->device);
    gpu_mlp_init(&g, d, mode, o->device);
    double worst_loss = 0, worst_param = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(gpu_mlp_step(&e));
        double lg = em_tensor_item(gpu_mlp_step(&g));
        worst_loss = fmax(worst_loss, fabs(le - lg) / fmax(1.0, fabs(le)));
        em_scope_end();
    }
    for (int i = 0; i < PARAMS; i++)
        worst_param =
            fmax(worst_param, bench_max_abs_diff(e.params[i], g.params[i]));
    bench_fail_on_error("mlp-step-cuda: checking a traced mode against eager");
    gpu_mlp_free(&g);
    gpu_mlp_free(&e);
    bench_report_check(o, "mlp-step-cuda", case_name, bench_mode_name(mode),
                       "eager", worst_loss, worst_param);
}

/* ---- the hand-written step -----------------------------------------------*/

#ifdef EMBER_BENCH_CUDA
typedef struct reference_ctx {
    ref_mlp_cuda *model;
    int next;
} reference_ctx;

static ref_mlp_cuda *reference_new(const gpu_data *d)
{
    ref_mlp_cuda *m = ref_mlp_cuda_new(
        d->batch, d->widths, (const float *const *)d->init, DATA_BATCHES,
        (const float *const *)d->x, (const int64_t *const *)d->labels,
        (float)LR, (float)MOMENTUM, true);
    if (!m) {
        fprintf(stderr, "ember-bench: the CUDA reference could not start\n");
        exit(1);
    }
    return m;
}

static void reference_loop(void *p, int64_t iterations)
{
    reference_ctx *c = p;
    for (int64_t i = 0; i < iterations; i++)
        if (ref_mlp_cuda_step(c->model, c->next++) != 0)
            exit(1);
    if (isnan(ref_mlp_cuda_finish(c->model)))
        exit(1);
}

/* Three steps of eager and of the reference from the same weights and
 * batches: the losses and the weights after them must agree. */
static void check_reference(const options *o, const gpu_data *d,
                            const char *case_name)
{
    gpu_mlp e;
    gpu_mlp_init(&e, d, MODE_EAGER, o->device);
    ref_mlp_cuda *r = reference_new(d);
    double worst_loss = 0, worst_param = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(gpu_mlp_step(&e));
        em_scope_end();
        if (ref_mlp_cuda_step(r, step) != 0)
            exit(1);
        double lr = ref_mlp_cuda_finish(r);
        worst_loss = fmax(worst_loss, fabs(le - lr) / fmax(1.0, fabs(lr)));
    }
    bench_fail_on_error("mlp-step-cuda: checking eager against the reference");
    for (int i = 0; i < PARAMS; i++) {
        int64_t n = param_size(d, i);
        float *want = bench_check_alloc(malloc((size_t)n * sizeof(float)));
        float *got = bench_check_alloc(malloc((size_t)n * sizeof(float)));
        if (ref_mlp_cuda_param(r, i, want, n) == 0 &&
            em_tensor_copy_to(e.params[i], got, EM_FLOAT32,
                              (size_t)n * sizeof(float)) == 0) {
            for (int64_t k = 0; k < n; k++)
                worst_param = fmax(worst_param, fabs(got[k] - want[k]));
        } else {
            worst_param = INFINITY;
        }
        free(want);
        free(got);
    }
    ref_mlp_cuda_free(r);
    gpu_mlp_free(&e);
    bench_report_check(o, "mlp-step-cuda", case_name, "eager", "reference",
                       worst_loss, worst_param);
}
#endif

/* ---- the workload --------------------------------------------------------*/

bool bench_cuda_ready(const options *o, char *why, size_t size)
{
#ifndef EMBER_BENCH_CUDA
    (void)o;
    snprintf(why, size, "ember-bench was built without CUDA");
    return false;
#else
    if (!em_cuda_available()) {
        snprintf(why, size,
                 "no usable GPU (or no driver) on this machine, or ember "
                 "was built without CUDA");
        return false;
    }
    if (o->device - 1 >= em_cuda_device_count()) {
        char name[32];
        snprintf(why, size, "%s does not exist",
                 em_device_name(o->device, name, sizeof name));
        return false;
    }
    return true;
#endif
}

void bench_gpu_name(char *buf, size_t size)
{
#ifdef EMBER_BENCH_CUDA
    ref_cuda_device_name(buf, size);
#else
    snprintf(buf, size, "no GPU");
#endif
}

void bench_mlp_cuda(const options *o)
{
    char why[160];
    if (!bench_cuda_ready(o, why, sizeof why)) {
        fprintf(stderr, "ember-bench: mlp-step on cuda skipped: %s\n", why);
        return;
    }
    /* The reference runs on GPU 0 only. */
    bool reference = o->modes[MODE_REFERENCE] && o->device == EM_CUDA(0);
    em_cuda_set_tf32(true);
    gpu_data data;
    for (int b = 0; b < o->nbatches; b++) {
        gpu_data_init(&data, o->smoke ? SMOKE_WIDTHS : WIDTHS, o->batches[b]);
        char name[32];
        snprintf(name, sizeof name, "batch %lld", (long long)data.batch);

#ifdef EMBER_BENCH_CUDA
        if (o->modes[MODE_EAGER] && reference)
            check_reference(o, &data, name);
#endif
        if (o->modes[MODE_EAGER] && o->modes[MODE_JIT])
            check_traced(o, &data, MODE_JIT, name);

        bench_case cases[MODE_COUNT];
        gpu_mlp models[MODE_COUNT];
#ifdef EMBER_BENCH_CUDA
        reference_ctx ref = {NULL, 0};
#endif
        int n = 0;
        for (bench_mode mode = MODE_EAGER; mode < MODE_COUNT; mode++) {
            if (!o->modes[mode] || mode == MODE_GRAPH ||
                (mode == MODE_REFERENCE && !reference))
                continue;
            cases[n] = (bench_case){.workload = "mlp-step-cuda",
                                    .mode = bench_mode_name(mode),
                                    .unit = "us",
                                    .scale = 1e6,
                                    .fn = gpu_mlp_loop,
                                    .ctx = &models[n]};
            snprintf(cases[n].name, sizeof cases[n].name, "%s", name);
#ifdef EMBER_BENCH_CUDA
            if (mode == MODE_REFERENCE) {
                ref.model = reference_new(&data);
                cases[n].fn = reference_loop;
                cases[n].ctx = &ref;
                n++;
                continue;
            }
#endif
            gpu_mlp_init(&models[n], &data, mode, o->device);
            if (mode == MODE_JIT)
                bench_traced_ready(
                    o, &cases[n], models[n].f, 2,
                    (em_tensor *const[]){models[n].x[0], models[n].labels[0]});
            n++;
        }
        bench_measure(o, cases, n);

        for (int i = 0; i < n; i++)
            if (cases[i].fn == gpu_mlp_loop)
                gpu_mlp_free(&models[i]);
#ifdef EMBER_BENCH_CUDA
        ref_mlp_cuda_free(ref.model);
#endif
        gpu_data_free(&data);
    }
    em_cuda_set_tf32(false);
}
