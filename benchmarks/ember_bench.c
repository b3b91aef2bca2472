/*
 * benchmarks/ember_bench.c - the benchmark driver, ember-bench.
 *
 *   ember-bench [add|mlp-step|logreg-step|call]
 *               [--modes eager,graph,reference] [--batch N[,N..]]
 *               [--repeats N] [--json]
 *
 * With no workload it runs them all. Each case is warmed up and calibrated
 * (the iteration count doubles until a loop takes 20 ms, then is scaled so
 * that one loop takes about 100 ms); then `repeats` loops are timed with
 * CLOCK_MONOTONIC, the cases of a workload taking turns, and the
 * per-operation median, min and max over them are reported. The graph
 * mode runs the same C step wrapped with em_trace_fn and called with
 * em_function_call.
 * benchmarks/README.md defines each workload and the method.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ember.h>

#include "reference_mlp.h"

enum { MAX_RESULTS = 64, MAX_BATCHES = 8, MAX_REPEATS = 1000 };

/* The add workload's tape is restarted every this many ops, so that what it
 * records stays bounded; its begin and free are part of the time. */
enum { TAPE_CHUNK = 1024 };

/* mlp-step cycles through this many pre-made random batches. */
enum { MLP_DATA_BATCHES = 8 };

static const double MLP_LR = 0.01;
static const double MLP_MOMENTUM = 0.9;
static const uint64_t MLP_SEED = 1234;

/* logreg-step: 784 -> 1 logistic regression, plain SGD. */
static const double LOGREG_LR = 0.1;

typedef struct result {
    const char *workload;
    const char *mode;
    char case_name[32];
    const char *unit;
    double median, min, max;
    int64_t iterations;
} result;

typedef struct options {
    bool run_add, run_mlp, run_logreg, run_call;
    bool eager, graph, reference;
    int64_t batches[MAX_BATCHES];
    int nbatches;
    int repeats;
    bool json;
} options;

static result results[MAX_RESULTS];
static int nresults;
static int exit_status;

/* ---- timing --------------------------------------------------------------*/

typedef void (*loop_fn)(void *ctx, int64_t iterations);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_loop(loop_fn fn, void *ctx, int64_t iterations)
{
    double start = now();
    fn(ctx, iterations);
    return now() - start;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fail_on_error(const char *what)
{
    const char *err = em_error_last();
    if (err) {
        fprintf(stderr, "ember-bench: %s: %s\n", what, err);
        exit(1);
    }
}

/* Reports a check of one mode against another: two computations must
 * agree (tolerance 1e-4) for their times to be comparable; if they do not,
 * the run fails with status 1. */
static void report_check(const options *o, const char *workload, int64_t batch,
                         const char *mode, const char *against,
                         double worst_loss, double worst_param)
{
    if (worst_loss > 1e-4 || worst_param > 1e-4) {
        fprintf(stderr,
                "ember-bench: %s batch %lld: %s and %s disagree after 3 "
                "steps (loss %.3g, weights %.3g)\n",
                workload, (long long)batch, mode, against, worst_loss,
                worst_param);
        exit_status = 1;
    } else if (!o->json) {
        fprintf(stderr,
                "  %s batch %lld: %s matches %s (loss %.1e, weights %.1e)\n",
                workload, (long long)batch, mode, against, worst_loss,
                worst_param);
    }
}

/* One case of a workload: what to run and how to report it. */
typedef struct bench_case {
    const char *workload;
    const char *mode;
    char name[32];
    const char *unit;
    double scale; /* seconds -> unit */
    loop_fn fn;
    void *ctx;
    int64_t iterations;
    double samples[MAX_REPEATS];
} bench_case;

/* Warm-up doubles as calibration: caches, page mappings, BLAS threads and
 * the runtime's allocator all settle while the count grows. */
static void calibrate(bench_case *c)
{
    int64_t iterations = 1;
    double t = time_loop(c->fn, c->ctx, iterations);
    while (t < 0.02) {
        iterations *= 2;
        t = time_loop(c->fn, c->ctx, iterations);
    }
    iterations = (int64_t)ceil((double)iterations * 0.1 / t);
    c->iterations = iterations < 1 ? 1 : iterations;
}

static void record_result(const options *o, bench_case *c)
{
    double *samples = c->samples;
    qsort(samples, (size_t)o->repeats, sizeof samples[0], compare_doubles);
    int mid = o->repeats / 2;
    result *r = &results[nresults++];
    r->workload = c->workload;
    r->mode = c->mode;
    snprintf(r->case_name, sizeof r->case_name, "%s", c->name);
    r->unit = c->unit;
    r->median =
        o->repeats % 2 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
    r->min = samples[0];
    r->max = samples[o->repeats - 1];
    r->iterations = c->iterations;
}

/* Times n cases and records each one's per-iteration median, min and max.
 * The repeats of the cases are interleaved (case 1, case 2, ..., case 1,
 * ...), so that a change in the machine's load during the run touches all
 * of them alike and their ratios stay meaningful. */
static void measure(const options *o, bench_case *cases, int n)
{
    for (int i = 0; i < n; i++)
        calibrate(&cases[i]);
    for (int r = 0; r < o->repeats; r++) {
        for (int i = 0; i < n; i++) {
            bench_case *c = &cases[i];
            double t = time_loop(c->fn, c->ctx, c->iterations);
            c->samples[r] = t / (double)c->iterations * c->scale;
        }
    }
    for (int i = 0; i < n; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s %s %s", cases[i].workload,
                 cases[i].mode, cases[i].name);
        fail_on_error(what);
        record_result(o, &cases[i]);
        if (!o->json)
            fprintf(stderr, "  %s done\n", what);
    }
}

/* ---- add -----------------------------------------------------------------*/

typedef struct add_ctx {
    em_tensor *a, *b;
    bool tape;
} add_ctx;

/* c = a + b, released at once; with a tape recording that watches a. */
static void add_loop(void *p, int64_t iterations)
{
    add_ctx *c = p;
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

/* The graph mode's body: one add. */
static int add_body(int n_inputs, em_tensor *const *in, int max_outputs,
                    em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs, (void)user;
    out[0] = em_add(in[0], in[1]);
    return out[0] ? 1 : -1;
}

typedef struct graph_add_ctx {
    em_function *f;
    em_tensor *in[2];
} graph_add_ctx;

/* c = a + b through a traced function, released at once. */
static void graph_add_loop(void *p, int64_t iterations)
{
    graph_add_ctx *c = p;
    for (int64_t i = 0; i < iterations; i++) {
        em_tensor *out = NULL;
        em_function_call(c->f, 2, c->in, 1, &out);
        em_tensor_free(out);
    }
}

static void bench_add(const options *o)
{
    static const struct {
        const char *label;
        int ndim;
        int64_t shape[2];
    } shapes[] = {{"[1]", 1, {1, 0}}, {"[64,64]", 2, {64, 64}}};

    if (!o->eager && !o->graph)
        return;
    enum { NSHAPES = sizeof shapes / sizeof shapes[0] };
    add_ctx ctx[NSHAPES][2];
    graph_add_ctx gctx[NSHAPES];
    bench_case cases[NSHAPES * 3];
    int n = 0;
    for (int s = 0; s < NSHAPES; s++) {
        em_tensor *a =
            em_full(1.5, EM_FLOAT32, shapes[s].ndim, shapes[s].shape);
        em_tensor *b =
            em_full(2.25, EM_FLOAT32, shapes[s].ndim, shapes[s].shape);
        fail_on_error("add: making the inputs");
        ctx[s][0] = (add_ctx){a, b, false};
        gctx[s] = (graph_add_ctx){em_trace_fn(add_body, NULL, NULL), {a, b}};
        fail_on_error("add: tracing");
        for (int tape = 0; tape < 2 && o->eager; tape++) {
            ctx[s][tape] = (add_ctx){a, b, tape};
            bench_case *c = &cases[n++];
            *c = (bench_case){.workload = "add",
                              .mode = "eager",
                              .unit = "ns",
                              .scale = 1e9,
                              .fn = add_loop,
                              .ctx = &ctx[s][tape]};
            snprintf(c->name, sizeof c->name, "%s %s", shapes[s].label,
                     tape ? "tape" : "no tape");
        }
        if (o->graph) {
            bench_case *c = &cases[n++];
            *c = (bench_case){.workload = "add",
                              .mode = "graph",
                              .unit = "ns",
                              .scale = 1e9,
                              .fn = graph_add_loop,
                              .ctx = &gctx[s]};
            snprintf(c->name, sizeof c->name, "%s no tape", shapes[s].label);
        }
    }
    measure(o, cases, n);
    for (int s = 0; s < NSHAPES; s++) {
        em_function_free(gctx[s].f);
        em_tensor_free(ctx[s][0].a);
        em_tensor_free(ctx[s][0].b);
    }
}

/* ---- mlp-step ------------------------------------------------------------*/

/* Random batches shared by both modes: pixels uniform in [0, 1), labels
 * uniform in [0, 10). */
typedef struct mlp_data {
    int64_t batch;
    float *x[MLP_DATA_BATCHES];
    int64_t *labels[MLP_DATA_BATCHES];
} mlp_data;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void mlp_data_init(mlp_data *d, int64_t batch)
{
    uint64_t state = 99;
    d->batch = batch;
    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        d->x[k] = malloc((size_t)(batch * 784) * sizeof(float));
        d->labels[k] = malloc((size_t)batch * sizeof(int64_t));
        if (!d->x[k] || !d->labels[k]) {
            fprintf(stderr, "ember-bench: out of memory\n");
            exit(1);
        }
        for (int64_t i = 0; i < batch * 784; i++)
            d->x[k][i] = (float)(splitmix64(&state) >> 40) * 0x1p-24f;
        for (int64_t i = 0; i < batch; i++)
            d->labels[k][i] = (int64_t)(splitmix64(&state) % 10);
    }
}

static void mlp_data_free(mlp_data *d)
{
    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        free(d->x[k]);
        free(d->labels[k]);
    }
}

typedef struct eager_mlp {
    em_tensor *params[6]; /* W1, b1, W2, b2, W3, b3 */
    em_optimizer *opt;
    em_tensor *x[MLP_DATA_BATCHES], *labels[MLP_DATA_BATCHES];
    int next;
} eager_mlp;

/* The eager model starts from the reference's initial weights, so that
 * both compute the same numbers (checked by mlp_check). */
static void eager_mlp_init(eager_mlp *e, const mlp_data *d)
{
    ref_mlp *init = ref_mlp_new(d->batch, MLP_SEED, 0, 0);
    if (!init) {
        fprintf(stderr, "ember-bench: out of memory\n");
        exit(1);
    }
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
    fail_on_error("mlp-step: setting up the eager model");
}

static void eager_mlp_free(eager_mlp *e)
{
    for (int i = 0; i < 6; i++)
        em_tensor_free(e->params[i]);
    for (int k = 0; k < MLP_DATA_BATCHES; k++) {
        em_tensor_free(e->x[k]);
        em_tensor_free(e->labels[k]);
    }
    em_optimizer_free(e->opt);
}

/* The training step of examples/fashion_mnist_mlp.c as a traceable body:
 * in[0] images, in[1] labels -> out[0] the loss. */
static int mlp_step_body(int n_inputs, em_tensor *const *in, int max_outputs,
                         em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    eager_mlp *e = user;
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

/* One step on the next batch, eagerly or through f when not NULL. Returns
 * the loss tensor, owned by the caller's scope. */
static em_tensor *mlp_step(eager_mlp *e, em_function *f)
{
    em_tensor *in[2] = {e->x[e->next], e->labels[e->next]};
    e->next = (e->next + 1) % MLP_DATA_BATCHES;
    em_tensor *loss = NULL;
    if (f)
        em_function_call(f, 2, in, 1, &loss);
    else
        mlp_step_body(2, in, 1, &loss, e);
    return loss;
}

static em_function *trace_mlp_step(eager_mlp *e)
{
    em_trace_options trace = {.name = "mlp_step"};
    em_function *f = em_trace_fn(mlp_step_body, e, &trace);
    fail_on_error("mlp-step: wrapping the step");
    return f;
}

static em_tensor *eager_mlp_step(eager_mlp *e)
{
    return mlp_step(e, NULL);
}

static void eager_mlp_loop(void *ctx, int64_t iterations)
{
    for (int64_t i = 0; i < iterations; i++) {
        em_scope_begin();
        eager_mlp_step(ctx);
        em_scope_end();
    }
}

typedef struct graph_mlp_ctx {
    eager_mlp model;
    em_function *f;
} graph_mlp_ctx;

static void graph_mlp_loop(void *p, int64_t iterations)
{
    graph_mlp_ctx *c = p;
    for (int64_t i = 0; i < iterations; i++) {
        em_scope_begin();
        mlp_step(&c->model, c->f);
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

/* Runs three steps of both from the same weights and data and compares the
 * losses and the weights after them: the two modes must do the same
 * arithmetic for their times to be comparable. */
static void mlp_check(const options *o, const mlp_data *d)
{
    eager_mlp e;
    eager_mlp_init(&e, d);
    ref_mlp *r =
        ref_mlp_new(d->batch, MLP_SEED, (float)MLP_LR, (float)MLP_MOMENTUM);
    double worst_loss = 0, worst_param = 0;

    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double eager_loss = em_tensor_item(eager_mlp_step(&e));
        em_scope_end();
        double ref_loss = ref_mlp_step(r, d->x[step], d->labels[step]);
        double diff = fabs(eager_loss - ref_loss) / fmax(1.0, fabs(ref_loss));
        worst_loss = fmax(worst_loss, diff);
    }
    fail_on_error("mlp-step: checking eager against the reference");

    for (int i = 0; i < 6; i++) {
        int ndim;
        int64_t shape[2];
        const float *want = ref_mlp_param(r, i, &ndim, shape);
        int64_t n = ndim == 2 ? shape[0] * shape[1] : shape[0];
        float *got = malloc((size_t)n * sizeof *got);
        if (got && em_tensor_copy_to(e.params[i], got, EM_FLOAT32,
                                     (size_t)n * sizeof *got) == 0) {
            for (int64_t k = 0; k < n; k++)
                worst_param = fmax(worst_param, fabs(got[k] - want[k]));
        } else {
            worst_param = INFINITY;
        }
        free(got);
    }
    ref_mlp_free(r);
    eager_mlp_free(&e);

    if (worst_loss > 1e-4 || worst_param > 1e-4) {
        fprintf(stderr,
                "ember-bench: mlp-step batch %lld: eager and reference "
                "disagree after 3 steps (loss %.3g, weights %.3g)\n",
                (long long)d->batch, worst_loss, worst_param);
        exit_status = 1;
    } else if (!o->json) {
        fprintf(stderr,
                "  mlp-step batch %lld: eager matches the reference "
                "(loss %.1e, weights %.1e)\n",
                (long long)d->batch, worst_loss, worst_param);
    }
}

/* Three steps eagerly and three through the traced step from the same
 * weights and batches: the losses and weights must agree (tolerance 1e-4),
 * or the times are not comparable. */
static void mlp_graph_check(const options *o, const mlp_data *d)
{
    eager_mlp e, g;
    eager_mlp_init(&e, d);
    eager_mlp_init(&g, d);
    em_function *f = trace_mlp_step(&g);
    double worst_loss = 0, worst_param = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(mlp_step(&e, NULL));
        double lg = em_tensor_item(mlp_step(&g, f));
        worst_loss = fmax(worst_loss, fabs(le - lg) / fmax(1.0, fabs(le)));
        em_scope_end();
    }
    for (int i = 0; i < 6; i++) {
        em_scope_begin();
        worst_param =
            fmax(worst_param,
                 em_tensor_item(em_max(em_abs(em_sub(e.params[i], g.params[i])),
                                       0, NULL, false)));
        em_scope_end();
    }
    fail_on_error("mlp-step: checking graph against eager");
    em_function_free(f);
    eager_mlp_free(&g);
    eager_mlp_free(&e);
    report_check(o, "mlp-step", d->batch, "graph", "eager", worst_loss,
                 worst_param);
}

static void bench_mlp(const options *o)
{
    for (int b = 0; b < o->nbatches; b++) {
        mlp_data data;
        mlp_data_init(&data, o->batches[b]);

        if (o->eager && o->reference)
            mlp_check(o, &data);
        if (o->eager && o->graph)
            mlp_graph_check(o, &data);

        bench_case cases[3];
        int n = 0;
        eager_mlp e;
        graph_mlp_ctx g;
        reference_ctx ref = {NULL, &data, 0};
        if (o->eager) {
            eager_mlp_init(&e, &data);
            cases[n++] = (bench_case){.workload = "mlp-step",
                                      .mode = "eager",
                                      .unit = "us",
                                      .scale = 1e6,
                                      .fn = eager_mlp_loop,
                                      .ctx = &e};
        }
        if (o->graph) {
            eager_mlp_init(&g.model, &data);
            g.f = trace_mlp_step(&g.model);
            cases[n++] = (bench_case){.workload = "mlp-step",
                                      .mode = "graph",
                                      .unit = "us",
                                      .scale = 1e6,
                                      .fn = graph_mlp_loop,
                                      .ctx = &g};
        }
        if (o->reference) {
            ref.model = ref_mlp_new(data.batch, MLP_SEED, (float)MLP_LR,
                                    (float)MLP_MOMENTUM);
            if (!ref.model) {
                fprintf(stderr, "ember-bench: out of memory\n");
                exit(1);
            }
            cases[n++] = (bench_case){.workload = "mlp-step",
                                      .mode = "reference",
                                      .unit = "us",
                                      .scale = 1e6,
                                      .fn = reference_mlp_loop,
                                      .ctx = &ref};
        }
        for (int i = 0; i < n; i++)
            snprintf(cases[i].name, sizeof cases[i].name, "batch %lld",
                     (long long)data.batch);
        measure(o, cases, n);

        if (o->eager)
            eager_mlp_free(&e);
        if (o->graph) {
            em_function_free(g.f);
            eager_mlp_free(&g.model);
        }
        ref_mlp_free(ref.model);
        mlp_data_free(&data);
    }
}

/* ---- logreg-step ---------------------------------------------------------*/

/* A 784 -> 1 logistic regression: weights, plain SGD, LOGREG_DATA_BATCHES
 * fixed batches used in turn. */
enum { LOGREG_DATA_BATCHES = 8 };

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
 * one batch size; traced when graph is set. */
static void logreg_init(logreg *m, int64_t batch, bool graph)
{
    uint64_t state = 7;
    float *w = malloc(784 * sizeof *w);
    float *x = malloc((size_t)(batch * 784) * sizeof *x);
    float *y = malloc((size_t)batch * sizeof *y);
    if (!w || !x || !y) {
        fprintf(stderr, "ember-bench: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < 784; i++)
        w[i] = ((float)(splitmix64(&state) >> 40) * 0x1p-24f - 0.5f) * 0.1f;
    em_scope_begin();
    m->w = em_variable_new(
        "w", em_tensor_from_data(w, EM_FLOAT32, 2, (int64_t[]){784, 1}), true);
    m->b = em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){1}), true);
    em_scope_end();
    for (int k = 0; k < LOGREG_DATA_BATCHES; k++) {
        for (int64_t i = 0; i < batch * 784; i++)
            x[i] = (float)(splitmix64(&state) >> 40) * 0x1p-24f;
        for (int64_t i = 0; i < batch; i++)
            y[i] = (float)(splitmix64(&state) & 1);
        m->x[k] =
            em_tensor_from_data(x, EM_FLOAT32, 2, (int64_t[]){batch, 784});
        m->y[k] = em_tensor_from_data(y, EM_FLOAT32, 2, (int64_t[]){batch, 1});
    }
    free(w);
    free(x);
    free(y);
    m->opt = em_optimizer_sgd(LOGREG_LR, 0.0, false);
    m->next = 0;
    em_trace_options trace = {.name = "logreg_step"};
    m->f = graph ? em_trace_fn(logreg_body, m, &trace) : NULL;
    fail_on_error("logreg-step: setting up the model");
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

/* Three steps of each mode from the same start must agree. */
static void logreg_check(const options *o, int64_t batch)
{
    logreg e, g;
    logreg_init(&e, batch, false);
    logreg_init(&g, batch, true);
    double worst_loss = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(logreg_step(&e));
        double lg = em_tensor_item(logreg_step(&g));
        worst_loss = fmax(worst_loss, fabs(le - lg) / fmax(1.0, fabs(le)));
        em_scope_end();
    }
    em_scope_begin();
    double worst_param =
        fmax(em_tensor_item(em_max(em_abs(em_sub(e.w, g.w)), 0, NULL, false)),
             em_tensor_item(em_max(em_abs(em_sub(e.b, g.b)), 0, NULL, false)));
    em_scope_end();
    fail_on_error("logreg-step: checking graph against eager");
    logreg_free(&e);
    logreg_free(&g);
    report_check(o, "logreg-step", batch, "graph", "eager", worst_loss,
                 worst_param);
}

static void bench_logreg(const options *o)
{
    static const int64_t batches[] = {1, 32};
    for (int b = 0; b < 2; b++) {
        if (o->eager && o->graph)
            logreg_check(o, batches[b]);
        logreg models[2];
        bench_case cases[2];
        int n = 0;
        for (int graph = 0; graph < 2; graph++) {
            if (!(graph ? o->graph : o->eager))
                continue;
            logreg_init(&models[n], batches[b], graph);
            cases[n] = (bench_case){.workload = "logreg-step",
                                    .mode = graph ? "graph" : "eager",
                                    .unit = "us",
                                    .scale = 1e6,
                                    .fn = logreg_loop,
                                    .ctx = &models[n]};
            snprintf(cases[n].name, sizeof cases[n].name, "batch %lld",
                     (long long)batches[b]);
            n++;
        }
        measure(o, cases, n);
        for (int i = 0; i < n; i++)
            logreg_free(&models[i]);
    }
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

static void bench_call(const options *o)
{
    if (!o->eager && !o->graph)
        return;
    const int64_t one = 1;
    em_tensor *x = em_full(1.5, EM_FLOAT32, 1, &one);
    em_tensor *c = em_full(2.25, EM_FLOAT32, 1, &one);
    call_ctx ctx[2];
    bench_case cases[2];
    int n = 0;
    for (int graph = 0; graph < 2; graph++) {
        if (!(graph ? o->graph : o->eager))
            continue;
        ctx[n] = (call_ctx){x, c, NULL};
        if (graph) {
            em_trace_options trace = {.name = "call"};
            ctx[n].f = em_trace_fn(call_body, &ctx[n], &trace);
        }
        cases[n] = (bench_case){.workload = "call",
                                .mode = graph ? "graph" : "eager",
                                .unit = "ns",
                                .scale = 1e9,
                                .fn = call_loop,
                                .ctx = &ctx[n]};
        snprintf(cases[n].name, sizeof cases[n].name, "[1] x + c");
        n++;
    }
    fail_on_error("call: setting up");
    measure(o, cases, n);
    for (int i = 0; i < n; i++)
        em_function_free(ctx[i].f);
    em_tensor_free(x);
    em_tensor_free(c);
}

/* ---- report --------------------------------------------------------------*/

static const result *find(const char *workload, const char *mode,
                          const char *case_name)
{
    for (int i = 0; i < nresults; i++) {
        if (strcmp(results[i].workload, workload) == 0 &&
            strcmp(results[i].mode, mode) == 0 &&
            strcmp(results[i].case_name, case_name) == 0)
            return &results[i];
    }
    return NULL;
}

/* The row a result is compared with: a graph row against the eager row of
 * the same case, mlp-step eager against the reference of the same batch,
 * add with a tape against add without one. */
static const result *baseline(const result *r, const char **label)
{
    if (strcmp(r->mode, "graph") == 0) {
        *label = "eager";
        return find(r->workload, "eager", r->case_name);
    }
    if (strcmp(r->workload, "mlp-step") == 0 && strcmp(r->mode, "eager") == 0) {
        *label = "reference";
        return find("mlp-step", "reference", r->case_name);
    }
    const char *tape = strstr(r->case_name, " tape");
    if (strcmp(r->workload, "add") == 0 && tape &&
        tape == r->case_name + strlen(r->case_name) - 5) {
        char plain[32];
        snprintf(plain, sizeof plain, "%.*s no tape",
                 (int)(tape - r->case_name), r->case_name);
        *label = "no tape";
        return find("add", r->mode, plain);
    }
    return NULL;
}

static void print_json(void)
{
    for (int i = 0; i < nresults; i++) {
        const result *r = &results[i];
        printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"case\":\"%s\","
               "\"unit\":\"%s\",\"median\":%.2f,\"min\":%.2f,\"max\":%.2f,"
               "\"iterations\":%lld}\n",
               r->workload, r->mode, r->case_name, r->unit, r->median, r->min,
               r->max, (long long)r->iterations);
    }
}

/* The targets benchmarks/README.md sets, for the rows this run has. */
static void print_targets(void)
{
    const result *add = find("add", "eager", "[1] no tape");
    bool any = add != NULL;
    for (int i = 0; i < nresults; i++) {
        const char *label;
        if (baseline(&results[i], &label) &&
            strcmp(results[i].workload, "add") != 0)
            any = true;
    }
    if (!any)
        return;
    printf("\ntargets\n");
    if (add) {
        printf("  eager add [1] no tape <= 200 ns:        %8.1f ns  %s\n",
               add->median, add->median <= 200 ? "met" : "MISSED");
    }
    for (int i = 0; i < nresults; i++) {
        const result *r = &results[i];
        const char *label;
        const result *base = baseline(r, &label);
        if (strcmp(r->workload, "mlp-step") != 0 || !base)
            continue;
        double ratio = r->median / base->median;
        if (strcmp(r->mode, "eager") == 0)
            printf("  eager mlp-step %-9s <= 1.3x reference: %8.2fx     %s\n",
                   r->case_name, ratio, ratio <= 1.3 ? "met" : "MISSED");
        else
            printf("  graph mlp-step %-9s <= 1.0x eager:     %8.2fx     %s\n",
                   r->case_name, ratio, ratio <= 1.0 ? "met" : "MISSED");
    }
    const result *graph = find("logreg-step", "graph", "batch 1");
    const result *eager = find("logreg-step", "eager", "batch 1");
    if (graph && eager) {
        double speedup = eager->median / graph->median;
        printf("  graph logreg-step batch 1 >= 3x faster:  %8.2fx     %s\n",
               speedup, speedup >= 3 ? "met" : "MISSED");
    }
}

static void print_table(const options *o)
{
    printf("\nember %s, OpenBLAS on %d thread(s), %d repeats; time per "
           "operation\n\n",
           EMBER_VERSION, ref_blas_threads(), o->repeats);
    printf("%-11s %-9s %-16s %10s %10s %10s %-4s  %s\n", "workload", "mode",
           "case", "median", "min", "max", "unit", "ratio");
    for (int i = 0; i < nresults; i++) {
        const result *r = &results[i];
        printf("%-11s %-9s %-16s %10.2f %10.2f %10.2f %-4s", r->workload,
               r->mode, r->case_name, r->median, r->min, r->max, r->unit);
        const char *label = NULL;
        const result *base = baseline(r, &label);
        if (base)
            printf("  %.2fx %s", r->median / base->median, label);
        printf("\n");
    }
    print_targets();
}

/* ---- command line --------------------------------------------------------*/

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ember-bench [add|mlp-step|logreg-step|call]\n"
            "                   [--modes eager,graph,reference]\n"
            "                   [--batch N[,N...]] [--repeats N] [--json]\n"
            "\n"
            "  add          c = a + b on float32 [1] and [64,64], without "
            "and with a tape\n"
            "  mlp-step     one training step of the 784-256-128-10 MLP "
            "(SGD with momentum)\n"
            "  logreg-step  one training step of a 784 -> 1 logistic "
            "regression (SGD), batch 1 and 32\n"
            "  call         a traced function holding one add on [1]\n"
            "  (none)       every workload\n"
            "\n"
            "  --modes    eager, graph (em_trace_fn) and/or reference "
            "(mlp-step only); default all\n"
            "  --batch    mlp-step batch sizes; default 32,128\n"
            "  --repeats  timed loops per case; default 7\n"
            "  --json     one JSON object per result\n");
}

static bool parse_modes(options *o, const char *text)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    o->eager = o->graph = o->reference = false;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "eager") == 0)
            o->eager = true;
        else if (strcmp(tok, "graph") == 0)
            o->graph = true;
        else if (strcmp(tok, "reference") == 0)
            o->reference = true;
        else
            return false;
    }
    return o->eager || o->graph || o->reference;
}

static bool parse_batches(options *o, const char *text)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    o->nbatches = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long long v = strtoll(tok, &end, 10);
        if (*end || v < 1 || v > 65536 || o->nbatches == MAX_BATCHES)
            return false;
        o->batches[o->nbatches++] = v;
    }
    return o->nbatches > 0;
}

static void parse_args(int argc, char **argv, options *o)
{
    *o = (options){.eager = true,
                   .graph = true,
                   .reference = true,
                   .batches = {32, 128},
                   .nbatches = 2,
                   .repeats = 7};
    bool any_workload = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "add") == 0) {
            o->run_add = any_workload = true;
        } else if (strcmp(a, "mlp-step") == 0) {
            o->run_mlp = any_workload = true;
        } else if (strcmp(a, "logreg-step") == 0) {
            o->run_logreg = any_workload = true;
        } else if (strcmp(a, "call") == 0) {
            o->run_call = any_workload = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--modes") == 0 && value) {
            ok = parse_modes(o, value), i++;
        } else if (strcmp(a, "--batch") == 0 && value) {
            ok = parse_batches(o, value), i++;
        } else if (strcmp(a, "--repeats") == 0 && value) {
            o->repeats = atoi(value), i++;
            ok = o->repeats >= 1 && o->repeats <= MAX_REPEATS;
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "ember-bench: bad argument '%s'\n\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (!any_workload)
        o->run_add = o->run_mlp = o->run_logreg = o->run_call = true;
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);

    if (o.run_add)
        bench_add(&o);
    if (o.run_mlp)
        bench_mlp(&o);
    if (o.run_logreg)
        bench_logreg(&o);
    if (o.run_call)
        bench_call(&o);

    if (o.json)
        print_json();
    else
        print_table(&o);
    return exit_status;
}
