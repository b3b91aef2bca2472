/*
 * benchmarks/bench.h - what ember-bench's workloads share: the options, the
 * modes, the timing method (bench.c) and the checks that two modes compute
 * the same thing. Each workload lives in its own file (bench_*.c) and
 * records its results with bench_measure.
 */
#ifndef EMBER_BENCH_H
#define EMBER_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ember.h>

enum {
    BENCH_MAX_RESULTS = 96,
    BENCH_MAX_BATCHES = 8,
    BENCH_MAX_REPEATS = 1000
};

/* How a case runs its work. A traced mode wraps the same C body as eager
 * with em_trace_fn: graph with EM_JIT_OFF (the graph executor), jit with
 * EM_JIT_SYNC (native code ready before the first call returns, so warm-up
 * never times the executor). reference is hand-written C with no runtime;
 * it exists for mlp-step and chain. */
typedef enum bench_mode {
    MODE_EAGER,
    MODE_GRAPH,
    MODE_JIT,
    MODE_REFERENCE,
    MODE_COUNT
} bench_mode;

typedef enum bench_workload {
    WORK_ADD,
    WORK_MLP,
    WORK_LOGREG,
    WORK_CALL,
    WORK_CHAIN,
    WORK_EPOCH,
    WORK_COUNT
} bench_workload;

typedef struct options {
    bool run[WORK_COUNT];
    bool modes[MODE_COUNT];
    int64_t batches[BENCH_MAX_BATCHES]; /* mlp-step */
    int nbatches;
    int repeats;
    bool json;
    /* Tiny sizes and short loops: every path runs, nothing is worth
     * timing (the smoke test). */
    bool smoke;
    /* --device: EM_CPU, or the GPU mlp-step runs on (bench_mlp_cuda). */
    em_device device;
} options;

/* One row of the report. Traced rows also say where their calls ran. */
typedef struct result {
    const char *workload;
    const char *mode;
    char case_name[32];
    const char *unit;
    double median, min, max;
    int64_t iterations;
    /* Traced modes: "executor" or "native", the compile time in ms (trace,
     * passes and LLVM together) and, when not native, why. */
    const char *tier;
    double compile_ms;
    char reason[96];
} result;

typedef void (*bench_loop_fn)(void *ctx, int64_t iterations);

/* One case of a workload: what to run and how to report it. */
typedef struct bench_case {
    const char *workload;
    const char *mode;
    char name[32];
    const char *unit;
    double scale; /* seconds -> unit */
    bench_loop_fn fn;
    void *ctx;
    /* Filled by bench_traced_ready for traced cases. */
    const char *tier;
    double compile_ms;
    char reason[96];
    int64_t iterations;
    double samples[BENCH_MAX_REPEATS];
} bench_case;

extern result bench_results[BENCH_MAX_RESULTS];
extern int bench_nresults;
/* 1 once a check has failed; main returns it. */
extern int bench_exit_status;

const char *bench_mode_name(bench_mode mode);

/* Times n cases, their repeats taking turns, and records each one's
 * per-iteration median, min and max. */
void bench_measure(const options *o, bench_case *cases, int n);

/* em_trace_fn with the mode's jit setting (graph: EM_JIT_OFF, jit:
 * EM_JIT_SYNC) and optionally an input signature. Exits on failure. */
em_function *bench_trace(em_traced_body body, void *user, const char *name,
                         bench_mode mode, int n_signature,
                         const em_input_spec *signature);

/* Traces (and for jit, compiles) f for these inputs without calling it,
 * and notes in c where its calls will run and what compiling cost. A jit
 * case that ends up in the executor is reported on stderr with the
 * reason. */
void bench_traced_ready(const options *o, bench_case *c, em_function *f,
                        int n_inputs, em_tensor *const *inputs);

/* Exits with status 1 when an ember error is pending. */
void bench_fail_on_error(const char *what);
/* Exits with status 1 when p is NULL. */
void *bench_check_alloc(void *p);

/* Reports a comparison of one mode with another: they must agree within
 * 1e-4 for their times to be comparable; otherwise the run's exit status
 * becomes 1. worst_loss is NaN for a workload without a loss. */
void bench_report_check(const options *o, const char *workload,
                        const char *case_name, const char *mode,
                        const char *against, double worst_loss,
                        double worst_param);

/* The largest |a - b| over two tensors of one shape (any float dtype). */
double bench_max_abs_diff(em_tensor *a, em_tensor *b);

uint64_t bench_splitmix64(uint64_t *state);
/* Uniform in [0, 1). */
float bench_uniform(uint64_t *state);

void bench_add(const options *o);
void bench_call(const options *o);
void bench_logreg(const options *o);
void bench_mlp(const options *o);
void bench_chain(const options *o);
void bench_epoch(const options *o);
/* mlp-step on o->device (a GPU): skipped with a note when there is none. */
void bench_mlp_cuda(const options *o);
/* True when bench_mlp_cuda can run; else false with why. */
bool bench_cuda_ready(const options *o, char *why, size_t size);
/* The GPU's name, for the report. */
void bench_gpu_name(char *buf, size_t size);

#endif
