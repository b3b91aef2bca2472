/*
 * benchmarks/bench_small.c - the workloads that measure per-op and per-call
 * costs: add (one eager op, with and without a tape), call (a traced
 * function holding one add) and logreg-step (a training step small enough
 * to be all overhead).
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The traced modes, in report order. */
static const bench_mode traced_modes[] = {MODE_GRAPH, MODE_JIT};
enum { N_TRACED = 2 };

/* ---- add -----------------------------------------------------------------*/

/* The add workload's tape is restarted every this many ops, so that what it
 * records stays bounded; its begin and free are part of the time. */
enum { TAPE_CHUNK = 1024 };

typedef struct add_ctx {
    em_tensor *a, *b;
    bool tape;
    em_function *f; /* traced modes: the one-add function */
} add_ctx;

/* c = a + b, released at once; eagerly (with a tape recording that watches
 * a, when asked) or through the traced function. */
static void add_loop(void *p, int64_t iterations)
{
    add_ctx *c = p;
    if (c->f) {
        em_tensor *in[2] = {c->a, c->b};
        for (int64_t i = 0; i < iterations; i++) {
            em_tensor *out = NULL;
            em_function_call(c->f, 2, in, 1, &out);
            em_tensor_free(out);
        }
        return;
    }
    if (!c->tape) {
        for (int64_t i = 0; i < iterations; i++)
            em_tensor_free(em_add(c->a, c->b));
        return;
    }
    for (int64_t done = 0; done < iterations;) {
        int64_t chunk = iterations - done;
        chunk = chunk < TAPE_CHUNK ? chunk : TAPE_CHUNK;
        em_tape *tape = em_tape_begin(false);
        em_tape_watch(tape, c->a);
        for (int64_t i = 0; i < chunk; i++)
            em_tensor_free(em_add(c->a, c->b));
        em_tape_free(tape);
        done += chunk;
    }
}

/* The traced modes' body: one add. */
static int add_body(int n_inputs, em_tensor *const *in, int max_outputs,
                    em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs, (void)user;
    out[0] = em_add(in[0], in[1]);
    return out[0] ? 1 : -1;
}

void bench_add(const options *o)
{
    static const struct {
        const char *label;
        int ndim;
        int64_t shape[2];
    } shapes[] = {{"[1]", 1, {1, 0}}, {"[64,64]", 2, {64, 64}}};
    enum { NSHAPES = sizeof shapes / sizeof shapes[0], PER_SHAPE = 4 };

    add_ctx ctx[NSHAPES * PER_SHAPE];
    bench_case cases[NSHAPES * PER_SHAPE];
    em_tensor *held[NSHAPES * 2];
    int n = 0;
    for (int s = 0; s < NSHAPES; s++) {
        em_tensor *a =
            em_full(1.5, EM_FLOAT32, shapes[s].ndim, shapes[s].shape);
        em_tensor *b =
            em_full(2.25, EM_FLOAT32, shapes[s].ndim, shapes[s].shape);
        bench_fail_on_error("add: making the inputs");
        held[2 * s] = a, held[2 * s + 1] = b;
        for (int tape = 0; tape < 2 && o->modes[MODE_EAGER]; tape++) {
            ctx[n] = (add_ctx){a, b, tape, NULL};
            cases[n] = (bench_case){.workload = "add",
                                    .mode = "eager",
                                    .unit = "ns",
                                    .scale = 1e9,
                                    .fn = add_loop,
                                    .ctx = &ctx[n]};
            snprintf(cases[n].name, sizeof cases[n].name, "%s %s",
                     shapes[s].label, tape ? "tape" : "no tape");
            n++;
        }
        for (int k = 0; k < N_TRACED; k++) {
            bench_mode mode = traced_modes[k];
            if (!o->modes[mode])
                continue;
            ctx[n] = (add_ctx){
                a, b, false, bench_trace(add_body, NULL, "add", mode, 0, NULL)};
            cases[n] = (bench_case){.workload = "add",
                                    .mode = bench_mode_name(mode),
                                    .unit = "ns",
                                    .scale = 1e9,
                                    .fn = add_loop,
                                    .ctx = &ctx[n]};
            snprintf(cases[n].name, sizeof cases[n].name, "%s no tape",
                     shapes[s].label);
            bench_traced_ready(o, &cases[n], ctx[n].f, 2,
                               (em_tensor *const[]){a, b});
            n++;
        }
    }
    bench_measure(o, cases, n);
    for (int i = 0; i < n; i++)
        em_function_free(ctx[i].f);
    for (int i = 0; i < 2 * NSHAPES; i++)
        em_tensor_free(held[i]);
}

/* ---- call ----------------------------------------------------------------*/

/* The least a traced function can do: y = x + c on [1], c a captured
 * constant. */
typedef struct call_ctx {
    em_tensor *x, *c;
    em_function *f; /* NULL: call the body directly (eager) */
} call_ctx;

static int call_body(int n_inputs, em_tensor *const *in, int max_outputs,
                     em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    const call_ctx *c = user;
    out[0] = em_add(in[0], c->c);
    return out[0] ? 1 : -1;
}

static void call_loop(void *p, int64_t iterations)
{
    call_ctx *c = p;
    for (int64_t i = 0; i < iterations; i++) {
        em_tensor *out = NULL;
        if (c->f)
            em_function_call(c->f, 1, &c->x, 1, &out);
        else
            call_body(1, &c->x, 1, &out, c);
        em_tensor_free(out);
    }
}

void bench_call(const options *o)
{
    const int64_t one = 1;
    em_tensor *x = em_full(1.5, EM_FLOAT32, 1, &one);
    em_tensor *c = em_full(2.25, EM_FLOAT32, 1, &one);
    call_ctx ctx[3];
    bench_case cases[3];
    int n = 0;
    for (bench_mode mode = MODE_EAGER; mode <= MODE_JIT; mode++) {
        if (!o->modes[mode])
            continue;
        ctx[n] = (call_ctx){x, c, NULL};
        cases[n] = (bench_case){.workload = "call",
                                .mode = bench_mode_name(mode),
                                .unit = "ns",
                                .scale = 1e9,
                                .fn = call_loop,
                                .ctx = &ctx[n]};
        snprintf(cases[n].name, sizeof cases[n].name, "[1] x + c");
        if (mode != MODE_EAGER) {
            ctx[n].f = bench_trace(call_body, &ctx[n], "call", mode, 0, NULL);
            bench_traced_ready(o, &cases[n], ctx[n].f, 1, &x);
        }
        n++;
    }
    bench_fail_on_error("call: setting up");
    bench_measure(o, cases, n);
    for (int i = 0; i < n; i++)
        em_function_free(ctx[i].f);
    em_tensor_free(x);
    em_tensor_free(c);
}

/* ---- logreg-step ---------------------------------------------------------*/

/* A 784 -> 1 logistic regression: weights, plain SGD, LOGREG_DATA_BATCHES
 * fixed batches used in turn. */
enum { LOGREG_DATA_BATCHES = 8 };
static const double LOGREG_LR = 0.1;

typedef struct logreg {
    em_tensor *w, *b; /* [784, 1], [1] */
    em_optimizer *opt;
    em_tensor *x[LOGREG_DATA_BATCHES], *y[LOGREG_DATA_BATCHES];
    em_function *f; /* the traced step, or NULL for eager */
    int next;
} logreg;

/* One training step: in[0] x [batch, 784], in[1] y [batch, 1] in {0, 1}
 * -> out[0] the mean binary cross-entropy. */
static int logreg_body(int n_inputs, em_tensor *const *in, int max_outputs,
                       em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    logreg *m = user;
    em_tensor *vars[2] = {m->w, m->b};
    em_tape *tape = em_tape_begin(false);
    em_tensor *logits = em_add(em_matmul(in[0], m->w, false, false), m->b);
    em_tensor *loss = em_bce_with_logits(logits, in[1]);
    em_tensor *grads[2] = {NULL, NULL};
    int rc = em_tape_gradient(tape, loss, 2, vars, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 2, grads, vars) != 0)
        return -1;
    out[0] = loss;
    return 1;
}

/* The same weights (small, from a fixed seed) and data for every model of
 * one batch size; traced in the graph and jit modes. */
static void logreg_init(logreg *m, int64_t batch, bench_mode mode)
{
    uint64_t state = 7;
    float *w = bench_check_alloc(malloc(784 * sizeof *w));
    float *x = bench_check_alloc(malloc((size_t)(batch * 784) * sizeof *x));
    float *y = bench_check_alloc(malloc((size_t)batch * sizeof *y));
    for (int i = 0; i < 784; i++)
        w[i] = (bench_uniform(&state) - 0.5f) * 0.1f;
    em_scope_begin();
    m->w = em_variable_new(
        "w", em_tensor_from_data(w, EM_FLOAT32, 2, (int64_t[]){784, 1}), true);
    m->b = em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){1}), true);
    em_scope_end();
    for (int k = 0; k < LOGREG_DATA_BATCHES; k++) {
        for (int64_t i = 0; i < batch * 784; i++)
            x[i] = bench_uniform(&state);
        for (int64_t i = 0; i < batch; i++)
            y[i] = (float)(bench_splitmix64(&state) & 1);
        m->x[k] =
            em_tensor_from_data(x, EM_FLOAT32, 2, (int64_t[]){batch, 784});
        m->y[k] = em_tensor_from_data(y, EM_FLOAT32, 2, (int64_t[]){batch, 1});
    }
    free(w);
    free(x);
    free(y);
    m->opt = em_optimizer_sgd(LOGREG_LR, 0.0, false);
    m->next = 0;
    m->f = mode == MODE_EAGER
               ? NULL
               : bench_trace(logreg_body, m, "logreg_step", mode, 0, NULL);
    bench_fail_on_error("logreg-step: setting up the model");
}

static void logreg_free(logreg *m)
{
    em_function_free(m->f);
    em_optimizer_free(m->opt);
    em_tensor_free(m->w);
    em_tensor_free(m->b);
    for (int k = 0; k < LOGREG_DATA_BATCHES; k++) {
        em_tensor_free(m->x[k]);
        em_tensor_free(m->y[k]);
    }
}

/* One step on the next batch; the loss belongs to the caller's scope. */
static em_tensor *logreg_step(logreg *m)
{
    em_tensor *in[2] = {m->x[m->next], m->y[m->next]};
    m->next = (m->next + 1) % LOGREG_DATA_BATCHES;
    em_tensor *loss = NULL;
    if (m->f)
        em_function_call(m->f, 2, in, 1, &loss);
    else
        logreg_body(2, in, 1, &loss, m);
    return loss;
}

static void logreg_loop(void *ctx, int64_t iterations)
{
    for (int64_t i = 0; i < iterations; i++) {
        em_scope_begin();
        logreg_step(ctx);
        em_scope_end();
    }
}

/* Three steps of a traced mode and of eager from the same start must
 * agree. */
static void logreg_check(const options *o, int64_t batch, bench_mode mode)
{
    logreg e, g;
    logreg_init(&e, batch, MODE_EAGER);
    logreg_init(&g, batch, mode);
    double worst_loss = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(logreg_step(&e));
        double lg = em_tensor_item(logreg_step(&g));
        worst_loss = fmax(worst_loss, fabs(le - lg) / fmax(1.0, fabs(le)));
        em_scope_end();
    }
    double worst_param =
        fmax(bench_max_abs_diff(e.w, g.w), bench_max_abs_diff(e.b, g.b));
    bench_fail_on_error("logreg-step: checking a traced mode against eager");
    logreg_free(&e);
    logreg_free(&g);
    char name[32];
    snprintf(name, sizeof name, "batch %lld", (long long)batch);
    bench_report_check(o, "logreg-step", name, bench_mode_name(mode), "eager",
                       worst_loss, worst_param);
}

void bench_logreg(const options *o)
{
    static const int64_t batches[] = {1, 32};
    for (int b = 0; b < 2; b++) {
        for (int k = 0; k < N_TRACED; k++)
            if (o->modes[MODE_EAGER] && o->modes[traced_modes[k]])
                logreg_check(o, batches[b], traced_modes[k]);
        logreg models[3];
        bench_case cases[3];
        int n = 0;
        for (bench_mode mode = MODE_EAGER; mode <= MODE_JIT; mode++) {
            if (!o->modes[mode])
                continue;
            logreg_init(&models[n], batches[b], mode);
            cases[n] = (bench_case){.workload = "logreg-step",
                                    .mode = bench_mode_name(mode),
                                    .unit = "us",
                                    .scale = 1e6,
                                    .fn = logreg_loop,
                                    .ctx = &models[n]};
            snprintf(cases[n].name, sizeof cases[n].name, "batch %lld",
                     (long long)batches[b]);
            if (models[n].f)
                bench_traced_ready(
                    o, &cases[n], models[n].f, 2,
                    (em_tensor *const[]){models[n].x[0], models[n].y[0]});
            n++;
        }
        bench_measure(o, cases, n);
        for (int i = 0; i < n; i++)
            logreg_free(&models[i]);
    }
}
