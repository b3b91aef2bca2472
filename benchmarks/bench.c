/*
 * benchmarks/bench.c - the timing method and helpers every workload uses
 * (see bench.h and benchmarks/README.md, "Method").
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

result bench_results[BENCH_MAX_RESULTS];
int bench_nresults;
int bench_exit_status;

const char *bench_mode_name(bench_mode mode)
{
    static const char *const names[MODE_COUNT] = {"eager", "graph", "jit",
                                                  "reference"};
    return names[mode];
}

/* ---- timing --------------------------------------------------------------*/

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_loop(bench_loop_fn fn, void *ctx, int64_t iterations)
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

/* Warm-up doubles as calibration: caches, page mappings, BLAS threads and
 * the runtime's allocator all settle while the count grows. */
static void calibrate(const options *o, bench_case *c)
{
    double warm = o->smoke ? 0.001 : 0.02;
    double target = o->smoke ? 0.002 : 0.1;
    int64_t iterations = 1;
    double t = time_loop(c->fn, c->ctx, iterations);
    while (t < warm) {
        iterations *= 2;
        t = time_loop(c->fn, c->ctx, iterations);
    }
    iterations = (int64_t)ceil((double)iterations * target / t);
    c->iterations = iterations < 1 ? 1 : iterations;
}

static void record_result(const options *o, bench_case *c)
{
    if (bench_nresults == BENCH_MAX_RESULTS) {
        fprintf(stderr, "ember-bench: raise BENCH_MAX_RESULTS\n");
        exit(1);
    }
    double *samples = c->samples;
    qsort(samples, (size_t)o->repeats, sizeof samples[0], compare_doubles);
    int mid = o->repeats / 2;
    result *r = &bench_results[bench_nresults++];
    *r = (result){.workload = c->workload,
                  .mode = c->mode,
                  .unit = c->unit,
                  .min = samples[0],
                  .max = samples[o->repeats - 1],
                  .iterations = c->iterations,
                  .tier = c->tier,
                  .compile_ms = c->compile_ms};
    snprintf(r->case_name, sizeof r->case_name, "%s", c->name);
    snprintf(r->reason, sizeof r->reason, "%s", c->reason);
    r->median =
        o->repeats % 2 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
}

/* The repeats of the cases are interleaved (case 1, case 2, ..., case 1,
 * ...), so that a change in the machine's load during the run touches all
 * of them alike and their ratios stay meaningful. */
void bench_measure(const options *o, bench_case *cases, int n)
{
    for (int i = 0; i < n; i++)
        calibrate(o, &cases[i]);
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
        bench_fail_on_error(what);
        record_result(o, &cases[i]);
        if (!o->json)
            fprintf(stderr, "  %s done\n", what);
    }
}

/* ---- traced modes --------------------------------------------------------*/

em_function *bench_trace(em_traced_body body, void *user, const char *name,
                         bench_mode mode, int n_signature,
                         const em_input_spec *signature)
{
    em_trace_options trace = {.name = name,
                              .n_signature = n_signature,
                              .signature = signature,
                              .jit =
                                  mode == MODE_JIT ? EM_JIT_SYNC : EM_JIT_OFF};
    em_function *f = em_trace_fn(body, user, &trace);
    bench_fail_on_error(name);
    return f;
}

void bench_traced_ready(const options *o, bench_case *c, em_function *f,
                        int n_inputs, em_tensor *const *inputs)
{
    em_concrete *concrete = em_function_concrete(f, n_inputs, inputs);
    bench_fail_on_error("tracing");
    em_tier tier = em_concrete_wait_compiled(concrete);
    em_compile_stats s = em_concrete_compile_stats(concrete);
    c->tier = tier == EM_TIER_NATIVE ? "native" : "executor";
    c->compile_ms = 1e3 * (s.trace_seconds + s.passes_seconds + s.ir_seconds +
                           s.optimize_seconds + s.codegen_seconds);
    snprintf(c->reason, sizeof c->reason, "%s", s.reason ? s.reason : "");
    if (strcmp(c->mode, "jit") != 0 || o->json)
        return;
    if (tier == EM_TIER_NATIVE)
        fprintf(stderr,
                "  %s jit %s: native, compiled in %.1f ms (trace %.1f, "
                "passes %.1f, IR %.1f, O3 %.1f, codegen %.1f; %d fused "
                "loops, %d library calls)\n",
                c->workload, c->name, c->compile_ms, 1e3 * s.trace_seconds,
                1e3 * s.passes_seconds, 1e3 * s.ir_seconds,
                1e3 * s.optimize_seconds, 1e3 * s.codegen_seconds,
                s.fused_loops, s.library_calls);
    else
        fprintf(stderr, "  %s jit %s: runs in the graph executor: %s\n",
                c->workload, c->name, c->reason);
}

/* ---- checks and helpers --------------------------------------------------*/

void bench_fail_on_error(const char *what)
{
    const char *err = em_error_last();
    if (err) {
        fprintf(stderr, "ember-bench: %s: %s\n", what, err);
        exit(1);
    }
}

void *bench_check_alloc(void *p)
{
    if (!p) {
        fprintf(stderr, "ember-bench: out of memory\n");
        exit(1);
    }
    return p;
}

void bench_report_check(const options *o, const char *workload,
                        const char *case_name, const char *mode,
                        const char *against, double worst_loss,
                        double worst_param)
{
    bool has_loss = !isnan(worst_loss);
    char loss[40] = "";
    if (has_loss)
        snprintf(loss, sizeof loss, "loss %.1e, ", worst_loss);
    if (!((!has_loss || worst_loss <= 1e-4) && worst_param <= 1e-4)) {
        fprintf(stderr,
                "ember-bench: %s %s: %s and %s disagree (%svalues %.3g)\n",
                workload, case_name, mode, against, loss, worst_param);
        bench_exit_status = 1;
    } else if (!o->json) {
        fprintf(stderr, "  %s %s: %s matches %s (%svalues %.1e)\n", workload,
                case_name, mode, against, loss, worst_param);
    }
}

double bench_max_abs_diff(em_tensor *a, em_tensor *b)
{
    em_scope_begin();
    double d = em_tensor_item(em_max(em_abs(em_sub(a, b)), 0, NULL, false));
    em_scope_end();
    return em_error_pending() ? INFINITY : d;
}

uint64_t bench_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float bench_uniform(uint64_t *state)
{
    return (float)(bench_splitmix64(state) >> 40) * 0x1p-24f;
}
