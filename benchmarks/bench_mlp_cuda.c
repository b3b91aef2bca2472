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
#include <string.h>

#include "mlp_model.h"

#ifdef EMBER_BENCH_CUDA
#include "reference_mlp_cuda.h"
#endif

/* mlp-step-cuda cycles through this many pre-made random batches. */
enum { DATA_BATCHES = 4, PARAMS = MLP_PARAMS };

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
    mlp_start start; /* the above, for mlp_model_init */
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
    d->start = (mlp_start){.n_batches = DATA_BATCHES,
                           .batch = batch,
                           .width = widths[0],
                           .x = (const float *const *)d->x,
                           .labels = (const int64_t *const *)d->labels,
                           .lr = LR,
                           .momentum = MOMENTUM};
    for (int i = 0; i < PARAMS; i++)
        d->start.params[i] = d->init[i];
    memcpy(d->start.shapes, d->shapes, sizeof d->start.shapes);
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
    mlp_model e;
    mlp_model_init(&e, &d->start, MODE_EAGER, o->device, "mlp_step_cuda");
    ref_mlp_cuda *r = reference_new(d);
    double worst_loss = 0, worst_param = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(mlp_model_step(&e));
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
    mlp_model_free(&e);
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
            mlp_model_check_traced(o, &data.start, MODE_JIT, o->device,
                                   "mlp-step-cuda", name);

        bench_case cases[MODE_COUNT];
        mlp_model models[MODE_COUNT];
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
                                    .fn = mlp_model_loop,
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
            mlp_model_init(&models[n], &data.start, mode, o->device,
                           "mlp_step_cuda");
            if (mode == MODE_JIT)
                bench_traced_ready(
                    o, &cases[n], models[n].f, 2,
                    (em_tensor *const[]){models[n].x[0], models[n].labels[0]});
            n++;
        }
        bench_measure(o, cases, n);

        for (int i = 0; i < n; i++)
            if (cases[i].fn == mlp_model_loop)
                mlp_model_free(&models[i]);
#ifdef EMBER_BENCH_CUDA
        ref_mlp_cuda_free(ref.model);
#endif
        gpu_data_free(&data);
    }
    em_cuda_set_tf32(false);
}
