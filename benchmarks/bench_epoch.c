/*
 * benchmarks/bench_epoch.c - the epoch workload: one pass over a small
 * synthetic training set with a 784-128-10 MLP, either one call per step
 * (the batch sliced on the host, the step eager or traced) or one call per
 * epoch (a traced function whose em_while_loop gathers each batch from the
 * whole training tensors and updates the weights inside the loop body).
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { EPOCH_IN = 784, EPOCH_HIDDEN = 128, EPOCH_OUT = 10 };
static const uint64_t EPOCH_SEED = 2024;
static const double EPOCH_LR = 1e-3;

typedef struct epoch_model {
    em_tensor *params[4]; /* W1 [784,128], b1 [128], W2 [128,10], b2 [10] */
    em_optimizer *opt;
    em_tensor *images, *labels; /* [samples, 784] float32, [samples] int64 */
    int64_t batch, steps;
    bool per_epoch;
    em_function *f; /* the traced step or epoch; NULL for eager */
} epoch_model;

/* What the loop body reaches: the model, and the training tensors of the
 * enclosing call (traced values while tracing). */
typedef struct epoch_loop {
    epoch_model *m;
    em_tensor *images, *labels;
    em_tensor *offsets; /* [batch] int64: 0 .. batch - 1 */
} epoch_loop;

/* x [batch, 784], labels [batch] -> the mean loss; updates the weights. */
static em_tensor *train_step(epoch_model *m, em_tensor *x, em_tensor *labels)
{
    em_tensor *const *p = m->params;
    em_tape *tape = em_tape_begin(false);
    em_tensor *h = em_relu(em_add(em_matmul(x, p[0], false, false), p[1]));
    em_tensor *logits = em_add(em_matmul(h, p[2], false, false), p[3]);
    em_tensor *loss = em_softmax_cross_entropy(logits, labels);
    em_tensor *grads[4] = {NULL};
    int rc = em_tape_gradient(tape, loss, 4, m->params, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 4, grads, m->params) != 0)
        return NULL;
    return loss;
}

/* in[0] images [batch, 784], in[1] labels [batch] -> out[0] the loss. */
static int step_body(int n_inputs, em_tensor *const *in, int max_outputs,
                     em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    out[0] = train_step(user, in[0], in[1]);
    return out[0] ? 1 : -1;
}

/* Loop variables: step [] int64, loss_sum [] float32. */
static int epoch_cond(int n, em_tensor *const *vars, int max_outputs,
                      em_tensor **out, void *user)
{
    (void)n, (void)max_outputs;
    const epoch_loop *l = user;
    out[0] = em_less(vars[0], em_scalar((double)l->m->steps, EM_INT64));
    return out[0] ? 1 : -1;
}

/* One step inside the loop: rows [step * batch, (step + 1) * batch) of the
 * training tensors, gathered, then the same step as train_step. */
static int epoch_body(int n, em_tensor *const *vars, int max_outputs,
                      em_tensor **out, void *user)
{
    (void)n, (void)max_outputs;
    const epoch_loop *l = user;
    em_tensor *start =
        em_mul(vars[0], em_scalar((double)l->m->batch, EM_INT64));
    em_tensor *rows = em_add(l->offsets, start);
    em_tensor *loss = train_step(l->m, em_gather(l->images, rows, 0),
                                 em_gather(l->labels, rows, 0));
    out[0] = em_add(vars[0], em_scalar(1, EM_INT64));
    out[1] = em_add(vars[1], loss);
    return loss && out[0] && out[1] ? 2 : -1;
}

/* in[0] images [samples, 784], in[1] labels [samples] -> out[0] the mean
 * loss over the epoch's steps. */
static int epoch_fn(int n_inputs, em_tensor *const *in, int max_outputs,
                    em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    epoch_model *m = user;
    epoch_loop l = {m, in[0], in[1],
                    em_arange(0, (double)m->batch, 1, EM_INT64)};
    em_tensor *start[2] = {em_scalar(0, EM_INT64), em_scalar(0, EM_FLOAT32)};
    em_tensor *final[2] = {NULL, NULL};
    if (em_while_loop(epoch_cond, epoch_body, &l, 2, start, final, NULL) != 0)
        return -1;
    out[0] = em_div(final[1], em_scalar((double)m->steps, EM_FLOAT32));
    return out[0] ? 1 : -1;
}

/* Every model starts from the same weights and trains on the same data,
 * in order: one pass is the same arithmetic in every mode. */
static void epoch_init(epoch_model *m, int64_t samples, int64_t batch,
                       bench_mode mode, bool per_epoch)
{
    *m = (epoch_model){
        .batch = batch, .steps = samples / batch, .per_epoch = per_epoch};
    em_rng *rng = em_rng_new(EPOCH_SEED);
    em_scope_begin();
    static const char *const names[4] = {"W1", "b1", "W2", "b2"};
    const int64_t shapes[4][2] = {{EPOCH_IN, EPOCH_HIDDEN},
                                  {EPOCH_HIDDEN, 0},
                                  {EPOCH_HIDDEN, EPOCH_OUT},
                                  {EPOCH_OUT, 0}};
    for (int i = 0; i < 4; i++) {
        em_tensor *init = i % 2 == 0
                              ? em_init_he_normal(rng, EM_FLOAT32, 2, shapes[i])
                              : em_zeros(EM_FLOAT32, 1, shapes[i]);
        m->params[i] = em_variable_new(names[i], init, true);
    }
    em_scope_end();
    m->images = em_random_uniform(rng, 0, 1, EM_FLOAT32, 2,
                                  (int64_t[]){samples, EPOCH_IN});
    em_tensor *classes =
        em_random_uniform(rng, 0, EPOCH_OUT, EM_FLOAT32, 1, &samples);
    m->labels = em_cast(classes, EM_INT64);
    em_tensor_free(classes);
    em_rng_free(rng);

    m->opt = em_optimizer_adam(EPOCH_LR, 0.9, 0.999, 1e-8);
    /* The optimiser's state exists before any trace, so that no trace (nor
     * the loop body's) creates variables. */
    em_optimizer_prepare(m->opt, 4, m->params);
    if (mode != MODE_EAGER)
        m->f = bench_trace(per_epoch ? epoch_fn : step_body, m,
                           per_epoch ? "epoch" : "epoch_step", mode, 0, NULL);
    bench_fail_on_error("epoch: setting up the model");
}

static void epoch_free(epoch_model *m)
{
    em_function_free(m->f);
    em_optimizer_free(m->opt);
    for (int i = 0; i < 4; i++)
        em_tensor_free(m->params[i]);
    em_tensor_free(m->images);
    em_tensor_free(m->labels);
}

/* The inputs of one call: the batch of `step` (per step) or the whole
 * training set (per epoch). Owned by the caller's scope. */
static void epoch_inputs(epoch_model *m, int64_t step, em_tensor **in)
{
    if (m->per_epoch) {
        in[0] = m->images;
        in[1] = m->labels;
        return;
    }
    int64_t start[2] = {step * m->batch, 0};
    int64_t stop[2] = {(step + 1) * m->batch, INT64_MAX};
    in[0] = em_slice(m->images, start, stop, NULL);
    in[1] = em_slice(m->labels, start, stop, NULL);
}

/* One pass over the training set; returns the mean loss over its steps. */
static double epoch_run(epoch_model *m, bool read_loss)
{
    int64_t calls = m->per_epoch ? 1 : m->steps;
    double loss_sum = 0;
    for (int64_t step = 0; step < calls; step++) {
        em_scope_begin();
        em_tensor *in[2];
        epoch_inputs(m, step, in);
        em_tensor *loss = NULL;
        em_traced_body body = m->per_epoch ? epoch_fn : step_body;
        if (m->f)
            em_function_call(m->f, 2, in, 1, &loss);
        else
            body(2, in, 1, &loss, m);
        if (read_loss)
            loss_sum += em_tensor_item(loss);
        em_scope_end();
    }
    return loss_sum / (double)calls;
}

static void epoch_loop_fn(void *ctx, int64_t iterations)
{
    for (int64_t i = 0; i < iterations; i++)
        epoch_run(ctx, false);
}

/* One epoch in a mode and eagerly one call per step, from the same
 * weights: the mean losses and the weights must agree. */
static void epoch_check(const options *o, int64_t samples, int64_t batch,
                        bench_mode mode, bool per_epoch)
{
    epoch_model e, g;
    epoch_init(&e, samples, batch, MODE_EAGER, false);
    epoch_init(&g, samples, batch, mode, per_epoch);
    double le = epoch_run(&e, true), lg = epoch_run(&g, true);
    double worst_param = 0;
    for (int i = 0; i < 4; i++)
        worst_param =
            fmax(worst_param, bench_max_abs_diff(e.params[i], g.params[i]));
    bench_fail_on_error("epoch: checking against eager per step");
    epoch_free(&e);
    epoch_free(&g);
    bench_report_check(o, "epoch", per_epoch ? "per epoch" : "per step",
                       bench_mode_name(mode), "eager per step",
                       fabs(le - lg) / fmax(1.0, fabs(le)), worst_param);
}

void bench_epoch(const options *o)
{
    int64_t samples = o->smoke ? 512 : 4096;
    int64_t batch = o->smoke ? 64 : 128;
    epoch_model models[2 * MODE_COUNT];
    bench_case cases[2 * MODE_COUNT];
    int n = 0;
    for (bench_mode mode = MODE_EAGER; mode <= MODE_JIT; mode++) {
        if (!o->modes[mode])
            continue;
        for (int per_epoch = 0; per_epoch < 2; per_epoch++) {
            if (mode != MODE_EAGER || per_epoch)
                epoch_check(o, samples, batch, mode, per_epoch);
            epoch_model *m = &models[n];
            epoch_init(m, samples, batch, mode, per_epoch);
            cases[n] = (bench_case){.workload = "epoch",
                                    .mode = bench_mode_name(mode),
                                    .unit = "ms",
                                    .scale = 1e3,
                                    .fn = epoch_loop_fn,
                                    .ctx = m};
            snprintf(cases[n].name, sizeof cases[n].name, "%s",
                     per_epoch ? "per epoch" : "per step");
            if (m->f) {
                em_scope_begin();
                em_tensor *in[2];
                epoch_inputs(m, 0, in);
                bench_traced_ready(o, &cases[n], m->f, 2, in);
                em_scope_end();
            }
            n++;
        }
    }
    bench_measure(o, cases, n);
    for (int i = 0; i < n; i++)
        epoch_free(&models[i]);
}
