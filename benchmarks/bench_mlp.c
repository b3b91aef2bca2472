/*
 * benchmarks/bench_mlp.c - the mlp-step workload: one training step of the
 * example's 784-256-128-10 MLP (SGD with momentum), eager, traced (graph
 * executor and native code) and hand-written (reference_mlp.c).
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlp_model.h"
#include "reference_mlp.h"

/* mlp-step cycles through this many pre-made random batches. */
enum { MLP_DATA_BATCHES = 8 };

static const double MLP_LR = 0.01;
static const double MLP_MOMENTUM = 0.9;
static const uint64_t MLP_SEED = 1234;

/* Random batches shared by every mode (pixels uniform in [0, 1), labels
 * uniform in [0, 10)) and the reference's initial weights, which the
 * ember models start from too, so that every mode computes the same
 * numbers (checked before timing). */
typedef struct mlp_data {
    int64_t batch;
    float *x[MLP_DATA_BATCHES];
    int64_t *labels[MLP_DATA_BATCHES];
    ref_mlp *init;
    mlp_start start;
} mlp_data;

static void mlp_data_init(mlp_data *d, int64_t batch)
{
    uint64_t state = 99;
    d->batch = batch;
    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        d->x[k] =
            bench_check_alloc(malloc((size_t)(batch * 784) * sizeof(float)));
        d->labels[k] =
            bench_check_alloc(malloc((size_t)batch * sizeof(int64_t)));
        for (int64_t i = 0; i < batch * 784; i++)
            d->x[k][i] = bench_uniform(&state);
        for (int64_t i = 0; i < batch; i++)
            d->labels[k][i] = (int64_t)(bench_splitmix64(&state) % 10);
    }
    d->init = bench_check_alloc(ref_mlp_new(batch, MLP_SEED, 0, 0));
    d->start = (mlp_start){.n_batches = MLP_DATA_BATCHES,
                           .batch = batch,
                           .width = 784,
                           .x = (const float *const *)d->x,
                           .labels = (const int64_t *const *)d->labels,
                           .lr = MLP_LR,
                           .momentum = MLP_MOMENTUM};
    for (int i = 0; i < MLP_PARAMS; i++) {
        int ndim;
        d->start.params[i] =
            ref_mlp_param(d->init, i, &ndim, d->start.shapes[i]);
    }
}

static void mlp_data_free(mlp_data *d)
{
    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        free(d->x[k]);
        free(d->labels[k]);
    }
    ref_mlp_free(d->init);
}

typedef struct reference_ctx {
    ref_mlp *model;
    const mlp_data *data;
    int next;
} reference_ctx;

static void reference_mlp_loop(void *p, int64_t iterations)
{
    reference_ctx *c = p;
    for (int64_t i = 0; i < iterations; i++) {
        ref_mlp_step(c->model, c->data->x[c->next], c->data->labels[c->next]);
        c->next = (c->next + 1) % MLP_DATA_BATCHES;
    }
}

/* Runs three steps of eager and of the reference from the same weights and
 * data and compares the losses and the weights after them. */
static void mlp_check_reference(const options *o, const mlp_data *d,
                                const char *case_name)
{
    mlp_model e;
    mlp_model_init(&e, &d->start, MODE_EAGER, EM_CPU, "mlp_step");
    ref_mlp *r = bench_check_alloc(
        ref_mlp_new(d->batch, MLP_SEED, (float)MLP_LR, (float)MLP_MOMENTUM));
    double worst_loss = 0, worst_param = 0;

    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double eager_loss = em_tensor_item(mlp_model_step(&e));
        em_scope_end();
        double ref_loss = ref_mlp_step(r, d->x[step], d->labels[step]);
        double diff = fabs(eager_loss - ref_loss) / fmax(1.0, fabs(ref_loss));
        worst_loss = fmax(worst_loss, diff);
    }
    bench_fail_on_error("mlp-step: checking eager against the reference");

    for (int i = 0; i < MLP_PARAMS; i++) {
        int ndim;
        int64_t shape[2];
        const float *want = ref_mlp_param(r, i, &ndim, shape);
        int64_t n = ndim == 2 ? shape[0] * shape[1] : shape[0];
        float *got = bench_check_alloc(malloc((size_t)n * sizeof *got));
        if (em_tensor_copy_to(e.params[i], got, EM_FLOAT32,
                              (size_t)n * sizeof *got) == 0) {
            for (int64_t k = 0; k < n; k++)
                worst_param = fmax(worst_param, fabs(got[k] - want[k]));
        } else {
            worst_param = INFINITY;
        }
        free(got);
    }
    ref_mlp_free(r);
    mlp_model_free(&e);
    bench_report_check(o, "mlp-step", case_name, "eager", "reference",
                       worst_loss, worst_param);
}

void bench_mlp(const options *o)
{
    for (int b = 0; b < o->nbatches; b++) {
        mlp_data data;
        mlp_data_init(&data, o->batches[b]);
        char name[32];
        snprintf(name, sizeof name, "batch %lld", (long long)data.batch);

        if (o->modes[MODE_EAGER] && o->modes[MODE_REFERENCE])
            mlp_check_reference(o, &data, name);
        for (bench_mode mode = MODE_GRAPH; mode <= MODE_JIT; mode++)
            if (o->modes[MODE_EAGER] && o->modes[mode])
                mlp_model_check_traced(o, &data.start, mode, EM_CPU, "mlp-step",
                                       name);

        bench_case cases[MODE_COUNT];
        mlp_model models[MODE_COUNT];
        reference_ctx ref = {NULL, &data, 0};
        int n = 0;
        for (bench_mode mode = MODE_EAGER; mode < MODE_COUNT; mode++) {
            if (!o->modes[mode])
                continue;
            cases[n] = (bench_case){.workload = "mlp-step",
                                    .mode = bench_mode_name(mode),
                                    .unit = "us",
                                    .scale = 1e6,
                                    .fn = mlp_model_loop,
                                    .ctx = &models[n]};
            snprintf(cases[n].name, sizeof cases[n].name, "%s", name);
            if (mode == MODE_REFERENCE) {
                ref.model = bench_check_alloc(ref_mlp_new(
                    data.batch, MLP_SEED, (float)MLP_LR, (float)MLP_MOMENTUM));
                cases[n].fn = reference_mlp_loop;
                cases[n].ctx = &ref;
            } else {
                mlp_model_init(&models[n], &data.start, mode, EM_CPU,
                               "mlp_step");
            }
            if (mode == MODE_GRAPH || mode == MODE_JIT)
                bench_traced_ready(
                    o, &cases[n], models[n].f, 2,
                    (em_tensor *const[]){models[n].x[0], models[n].labels[0]});
            n++;
        }
        bench_measure(o, cases, n);

        for (int i = 0; i < n; i++)
            if (cases[i].fn == mlp_model_loop)
                mlp_model_free(&models[i]);
        ref_mlp_free(ref.model);
        mlp_data_free(&data);
    }
}
