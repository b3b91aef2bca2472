/*
 * benchmarks/bench_chain.c - the chain workload: y = tanh(x * a + b) *
 * sigmoid(x) over 2^20 float32, a and b scalars. Eagerly it is five ops,
 * each a pass over memory with its own result; traced and compiled it can
 * be one fused loop, which is what the hand-written references are.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "reference_chain.h"

static const float CHAIN_A = 0.75f, CHAIN_B = -0.25f;

typedef struct chain_ctx {
    em_tensor *x, *a, *b; /* [n], [], [] */
    em_function *f;       /* traced modes */
    /* Reference modes: the same data as plain arrays, y written in place. */
    const float *xs;
    float *ys;
    int64_t n;
    bool libm;
} chain_ctx;

/* in[0] x [n], in[1] a [], in[2] b [] -> out[0] tanh(x a + b) sigmoid(x). */
static int chain_body(int n_inputs, em_tensor *const *in, int max_outputs,
                      em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs, (void)user;
    em_tensor *u = em_add(em_mul(in[0], in[1]), in[2]);
    out[0] = em_mul(em_tanh(u), em_sigmoid(in[0]));
    return out[0] ? 1 : -1;
}

/* The ember modes' output; the caller's scope owns it. */
static em_tensor *chain_ember(chain_ctx *c)
{
    em_tensor *in[3] = {c->x, c->a, c->b};
    em_tensor *y = NULL;
    if (c->f)
        em_function_call(c->f, 3, in, 1, &y);
    else
        chain_body(3, in, 1, &y, NULL);
    return y;
}

static void chain_loop(void *p, int64_t iterations)
{
    chain_ctx *c = p;
    for (int64_t i = 0; i < iterations; i++) {
        em_scope_begin();
        chain_ember(c);
        em_scope_end();
    }
}

static void reference_chain_loop(void *p, int64_t iterations)
{
    chain_ctx *c = p;
    for (int64_t i = 0; i < iterations; i++) {
        if (c->libm)
            ref_chain_libm(c->xs, c->ys, c->n, CHAIN_A, CHAIN_B);
        else
            ref_chain(c->xs, c->ys, c->n, CHAIN_A, CHAIN_B);
    }
}

/* The largest absolute error of a mode's y against the formula evaluated
 * in double on the same float inputs. */
static double chain_error(const float *x, const float *y, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(x[i] * CHAIN_A + CHAIN_B);
        double want = tanh(u) / (1.0 + exp(-(double)x[i]));
        worst = fmax(worst, fabs((double)y[i] - want));
    }
    return isnan(worst) ? INFINITY : worst;
}

/* Every mode's output is checked against double precision before timing,
 * so that every row computes the same function. */
static void chain_check(const options *o, chain_ctx *c, const float *xs,
                        const char *mode, const char *case_name)
{
    double worst;
    if (c->ys) {
        reference_chain_loop(c, 1);
        worst = chain_error(xs, c->ys, c->n);
    } else {
        em_scope_begin();
        em_tensor *y = chain_ember(c);
        bench_fail_on_error("chain: checking");
        worst = chain_error(xs, em_tensor_data(y), c->n);
        em_scope_end();
    }
    bench_report_check(o, "chain", case_name, mode, "double-precision libm",
                       NAN, worst);
}

void bench_chain(const options *o)
{
    int64_t n = o->smoke ? 4096 : (int64_t)1 << 20;
    float *xs = bench_check_alloc(malloc((size_t)n * sizeof *xs));
    float *ys = bench_check_alloc(malloc((size_t)n * sizeof *ys));
    uint64_t state = 11;
    for (int64_t i = 0; i < n; i++)
        xs[i] = 8.0f * bench_uniform(&state) - 4.0f;
    em_tensor *x = em_tensor_from_data(xs, EM_FLOAT32, 1, &n);
    em_tensor *a = em_scalar(CHAIN_A, EM_FLOAT32);
    em_tensor *b = em_scalar(CHAIN_B, EM_FLOAT32);
    bench_fail_on_error("chain: making the inputs");

    char name[32];
    snprintf(name, sizeof name, "2^%d float32", n == 4096 ? 12 : 20);
    chain_ctx ctx[MODE_COUNT + 1];
    bench_case cases[MODE_COUNT + 1];
    int count = 0;
    for (bench_mode mode = MODE_EAGER; mode < MODE_COUNT; mode++) {
        if (!o->modes[mode])
            continue;
        for (int libm = 0; libm <= (mode == MODE_REFERENCE); libm++) {
            chain_ctx *c = &ctx[count];
            bench_case *bc = &cases[count++];
            *c = (chain_ctx){.x = x, .a = a, .b = b, .n = n, .libm = libm};
            *bc = (bench_case){.workload = "chain",
                               .mode = libm ? "reference-libm"
                                            : bench_mode_name(mode),
                               .unit = "us",
                               .scale = 1e6,
                               .fn = chain_loop,
                               .ctx = c};
            snprintf(bc->name, sizeof bc->name, "%s", name);
            if (mode == MODE_REFERENCE) {
                c->xs = xs;
                c->ys = ys;
                bc->fn = reference_chain_loop;
            } else if (mode != MODE_EAGER) {
                c->f = bench_trace(chain_body, NULL, "chain", mode, 0, NULL);
                bench_traced_ready(o, bc, c->f, 3,
                                   (em_tensor *const[]){x, a, b});
            }
            chain_check(o, c, xs, bc->mode, name);
        }
    }
    if (!o->json && o->modes[MODE_REFERENCE])
        fprintf(stderr, "  chain reference: %s\n",
                ref_chain_uses_fma() ? "compiled with vector FMA"
                                     : "compiled without FMA");
    bench_measure(o, cases, count);

    for (int i = 0; i < count; i++)
        em_function_free(ctx[i].f);
    em_tensor_free(x);
    em_tensor_free(a);
    em_tensor_free(b);
    free(xs);
    free(ys);
}
