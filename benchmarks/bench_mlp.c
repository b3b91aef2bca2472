/*
 * benchmarks/bench_mlp.c - the mlp-step workload: one training step of the
 * example's 784-256-128-10 MLP (SGD with momentum), eager, traced (graph
 * executor and native code) and hand-written (reference_mlp.c).
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "reference_mlp.h"

/* mlp-step cycles through this many pre-made random batches. */
enum { MLP_DATA_BATCHES = 8 };

static const double MLP_LR = 0.01;
static const double MLP_MOMENTUM = 0.9;
static const uint64_t MLP_SEED = 1234;

/* Random batches shared by every mode: pixels uniform in [0, 1), labels
 * uniform in [0, 10). */
typedef struct mlp_data {
    int64_t batch;
    float *x[MLP_DATA_BATCHES];
    int64_t *labels[MLP_DATA_BATCHES];
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
}

static void mlp_data_free(mlp_data *d)
{
    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        free(d->x[k]);
        free(d->labels[k]);
    }
}

/* The ember model of the eager and traced modes. */
typedef struct ember_mlp {
    em_tensor *params[6]; /* W1, b1, W2, b2, W3, b3 */
    em_optimizer *opt;
    em_tensor *x[MLP_DATA_BATCHES], *labels[MLP_DATA_BATCHES];
    em_function *f; /* the traced step, or NULL for eager */
    int next;
} ember_mlp;

/* The training step of examples/fashion_mnist_mlp.c as a traceable body:
 * in[0] images, in[1] labels -> out[0] the loss. */
static int mlp_step_body(int n_inputs, em_tensor *const *in, int max_outputs,
                         em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    ember_mlp *e = user;
    em_tensor *const *p = e->params;
    em_tensor *x = in[0], *labels = in[1];

    em_tape *tape = em_tape_begin(false);
    em_tensor *h1 = em_relu(em_add(em_matmul(x, p[0], false, false), p[1]));
    em_tensor *h2 = em_relu(em_add(em_matmul(h1, p[2], false, false), p[3]));
    em_tensor *logits = em_add(em_matmul(h2, p[4], false, false), p[5]);
    em_tensor *loss = em_softmax_cross_entropy(logits, labels);
    em_tensor *grads[6] = {NULL};
    em_tape_gradient(tape, loss, 6, p, grads);
    em_tape_free(tape);
    em_optimizer_apply(e->opt, 6, grads, p);
    out[0] = loss;
    return em_error_pending() ? -1 : 1;
}

/* The model starts from the reference's initial weights, so that every
 * mode computes the same numbers (checked before timing). */
static void ember_mlp_init(ember_mlp *e, const mlp_data *d, bench_mode mode)
{
    ref_mlp *init = bench_check_alloc(ref_mlp_new(d->batch, MLP_SEED, 0, 0));
    for (int i = 0; i < 6; i++) {
        static const char *const names[6] = {"W1", "b1", "W2",
                                             "b2", "W3", "b3"};
        int ndim;
        int64_t shape[2];
        const float *values = ref_mlp_param(init, i, &ndim, shape);
        em_tensor *t = em_tensor_from_data(values, EM_FLOAT32, ndim, shape);
        e->params[i] = em_variable_new(names[i], t, true);
        em_tensor_free(t);
    }
    ref_mlp_free(init);

    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        e->x[k] = em_tensor_from_data(d->x[k], EM_FLOAT32, 2,
                                      (int64_t[]){d->batch, 784});
        e->labels[k] =
            em_tensor_from_data(d->labels[k], EM_INT64, 1, &d->batch);
    }
    e->opt = em_optimizer_sgd(MLP_LR, MLP_MOMENTUM, false);
    e->next = 0;
    e->f = mode == MODE_EAGER
               ? NULL
               : bench_trace(mlp_step_body, e, "mlp_step", mode, 0, NULL);
    bench_fail_on_error("mlp-step: setting up the model");
}

static void ember_mlp_free(ember_mlp *e)
{
    em_function_free(e->f);
    for (int i = 0; i < 6; i++)
        em_tensor_free(e->params[i]);
    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        em_tensor_free(e->x[k]);
        em_tensor_free(e->labels[k]);
    }
    em_optimizer_free(e->opt);
}

/* One step on the next batch, eagerly or through the traced function.
 * Returns the loss tensor, owned by the caller's scope. */
static em_tensor *ember_mlp_step(ember_mlp *e)
{
    em_tensor *in[2] = {e->x[e->next], e->labels[e->next]};
    e->next = (e->next + 1) % MLP_DATA_BATCHES;
    em_tensor *loss = NULL;
    if (e->f)
        em_function_call(e->f, 2, in, 1, &loss);
    else
        mlp_step_body(2, in, 1, &loss, e);
    return loss;
}

static void ember_mlp_loop(void *ctx, int64_t iterations)
{
    for (int64_t i = 0; i < iterations; i++) {
        em_scope_begin();
        ember_mlp_step(ctx);
        em_scope_end();
    }
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
    ember_mlp e;
    ember_mlp_init(&e, d, MODE_EAGER);
    ref_mlp *r = bench_check_alloc(
        ref_mlp_new(d->batch, MLP_SEED, (float)MLP_LR, (float)MLP_MOMENTUM));
    double worst_loss = 0, worst_param = 0;

    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double eager_loss = em_tensor_item(ember_mlp_step(&e));
        em_scope_end();
        double ref_loss = ref_mlp_step(r, d->x[step], d->labels[step]);
        double diff = fabs(eager_loss - ref_loss) / fmax(1.0, fabs(ref_loss));
        worst_loss = fmax(worst_loss, diff);
    }
    bench_fail_on_error("mlp-step: checking eager against the reference");

    for (int i = 0; i < 6; i++) {
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
    ember_mlp_free(&e);
    bench_report_check(o, "mlp-step", case_name, "eager", "reference",
                       worst_loss, worst_param);
}

/* Three steps eagerly and three through a traced step from the same
 * weights and batches: the losses and weights must agree. */
static void mlp_check_traced(const options *o, const mlp_data *d,
                             bench_mode mode, const char *case_name)
{
    ember_mlp e, g;
    ember_mlp_init(&e, d, MODE_EAGER);
    ember_mlp_init(&g, d, mode);
    double worst_loss = 0, worst_param = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(ember_mlp_step(&e));
        double lg = em_tensor_item(ember_mlp_step(&g));
        worst_loss = fmax(worst_loss, fabs(le - lg) / fmax(1.0, fabs(le)));
        em_scope_end();
    }
    for (int i = 0; i < 6; i++)
        worst_param =
            fmax(worst_param, bench_max_abs_diff(e.params[i], g.params[i]));
    bench_fail_on_error("mlp-step: checking a traced mode against eager");
    ember_mlp_free(&g);
    ember_mlp_free(&e);
    bench_report_check(o, "mlp-step", case_name, bench_mode_name(mode), "eager",
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
                mlp_check_traced(o, &data, mode, name);

        bench_case cases[MODE_COUNT];
        ember_mlp models[MODE_COUNT];
        reference_ctx ref = {NULL, &data, 0};
        int n = 0;
        for (bench_mode mode = MODE_EAGER; mode < MODE_COUNT; mode++) {
            if (!o->modes[mode])
                continue;
            cases[n] = (bench_case){.workload = "mlp-step",
                                    .mode = bench_mode_name(mode),
                                    .unit = "us",
                                    .scale = 1e6,
                                    .fn = ember_mlp_loop,
                                    .ctx = &models[n]};
            snprintf(cases[n].name, sizeof cases[n].name, "%s", name);
            if (mode == MODE_REFERENCE) {
                ref.model = bench_check_alloc(ref_mlp_new(
                    data.batch, MLP_SEED, (float)MLP_LR, (float)MLP_MOMENTUM));
                cases[n].fn = reference_mlp_loop;
                cases[n].ctx = &ref;
            } else {
                ember_mlp_init(&models[n], &data, mode);
            }
            if (mode == MODE_GRAPH || mode == MODE_JIT)
                bench_traced_ready(
                    o, &cases[n], models[n].f, 2,
                    (em_tensor *const[]){models[n].x[0], models[n].labels[0]});
            n++;
        }
        bench_measure(o, cases, n);

        for (int i = 0; i < n; i++)
            if (cases[i].fn == ember_mlp_loop)
                ember_mlp_free(&models[i]);
        ref_mlp_free(ref.model);
        mlp_data_free(&data);
    }
}
