/*
 * benchmarks/ember_bench.c - the benchmark driver, ember-bench.
 *
 *   ember-bench [add|mlp-step|logreg-step|call|chain|epoch ...]
 *               [--modes eager,graph,jit,reference] [--batch N[,N..]]
 *               [--repeats N] [--json] [--smoke] [--device cpu|cuda]
 *
 * With no workload it runs them all; with --device cuda it runs mlp-step
 * on the GPU (bench_mlp_cuda.c), the only workload there. Each case is
 * warmed up and calibrated (the iteration count doubles until a loop takes
 * 20 ms, then is scaled so that one loop takes about 100 ms); then
 * `repeats` loops are timed with CLOCK_MONOTONIC, the cases of a workload
 * taking turns, and the per-iteration median, min and max over them are
 * reported, with each row's ratio to its baseline and the targets met or
 * missed.
 * benchmarks/README.md defines each workload and the method.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "reference_mlp.h"

static const char *const workload_names[WORK_COUNT] = {
    "add", "mlp-step", "logreg-step", "call", "chain", "epoch"};

/* ---- ratios --------------------------------------------------------------*/

static const result *find(const char *workload, const char *mode,
                          const char *case_name)
{
    for (int i = 0; i < bench_nresults; i++) {
        const result *r = &bench_results[i];
        if (strcmp(r->workload, workload) == 0 && strcmp(r->mode, mode) == 0 &&
            strcmp(r->case_name, case_name) == 0)
            return r;
    }
    return NULL;
}

/* The row a result is compared with (the same rule as benchmarks/run.sh):
 * the reference row of the same case for mlp-step and chain; for epoch the
 * eager row of "per step"; for add with a tape the eager add without one;
 * otherwise the eager row of the same case. NULL for the baseline itself
 * or when that row was not run. */
static const result *baseline(const result *r)
{
    const char *w = r->workload;
    const result *base;
    if (strcmp(w, "mlp-step") == 0 || strcmp(w, "mlp-step-cuda") == 0 ||
        strcmp(w, "chain") == 0) {
        base = find(w, "reference", r->case_name);
    } else if (strcmp(w, "epoch") == 0) {
        base = find(w, "eager", "per step");
    } else if (strcmp(w, "add") == 0 && strstr(r->case_name, "] tape")) {
        char plain[32];
        snprintf(plain, sizeof plain, "%.*s no tape",
                 (int)(strchr(r->case_name, ']') - r->case_name + 1),
                 r->case_name);
        base = find(w, "eager", plain);
    } else {
        base = find(w, "eager", r->case_name);
    }
    return base == r ? NULL : base;
}

/* ---- targets -------------------------------------------------------------*/

/* A target: `value` (a ratio, or a time in `unit`) and whether it passed. */
typedef struct target {
    char what[96];
    double value;
    const char *unit;
    bool pass;
} target;

enum { MAX_TARGETS = 16 };

/* The targets benchmarks/README.md sets, for the rows this run has. */
static int collect_targets(target *t)
{
    int n = 0;
    const result *r, *s;
    if ((r = find("chain", "jit", "2^20 float32")) &&
        (s = find("chain", "reference", "2^20 float32"))) {
        double v = s->median / r->median;
        t[n++] = (target){"jit chain >= 0.9x reference throughput", v, "x",
                          v >= 0.9};
    }
    if ((r = find("mlp-step", "jit", "batch 128")) &&
        (s = find("mlp-step", "reference", "batch 128"))) {
        double v = r->median / s->median;
        t[n++] = (target){"jit mlp-step batch 128 <= 1.1x reference", v, "x",
                          v <= 1.1};
    }
    if ((r = find("logreg-step", "jit", "batch 1")) &&
        (s = find("logreg-step", "eager", "batch 1"))) {
        double v = s->median / r->median;
        t[n++] = (target){"jit logreg-step batch 1 >= 10x faster than eager", v,
                          "x", v >= 10};
    }
    if ((r = find("call", "jit", "[1] x + c")))
        t[n++] =
            (target){"jit call <= 100 ns", r->median, "ns", r->median <= 100};
    if ((r = find("add", "eager", "[1] no tape")))
        t[n++] = (target){"eager add [1] no tape <= 200 ns", r->median, "ns",
                          r->median <= 200};
    for (int i = 0; i < bench_nresults; i++) {
        r = &bench_results[i];
        if (strcmp(r->workload, "mlp-step") != 0)
            continue;
        if (strcmp(r->mode, "eager") == 0 &&
            (s = find("mlp-step", "reference", r->case_name))) {
            double v = r->median / s->median;
            t[n] = (target){"", v, "x", v <= 1.3};
            snprintf(t[n++].what, sizeof t->what,
                     "eager mlp-step %s <= 1.3x reference", r->case_name);
        }
        if (strcmp(r->mode, "graph") == 0 &&
            (s = find("mlp-step", "eager", r->case_name))) {
            double v = r->median / s->median;
            t[n] = (target){"", v, "x", v <= 1.0};
            snprintf(t[n++].what, sizeof t->what,
                     "graph mlp-step %s <= 1.0x eager", r->case_name);
        }
        if (n >= MAX_TARGETS - 4)
            break;
    }
    if ((r = find("logreg-step", "graph", "batch 1")) &&
        (s = find("logreg-step", "eager", "batch 1"))) {
        double v = s->median / r->median;
        t[n++] = (target){"graph logreg-step batch 1 >= 3x faster than eager",
                          v, "x", v >= 3};
    }
    if ((r = find("mlp-step-cuda", "jit", "batch 4096")) &&
        (s = find("mlp-step-cuda", "reference", "batch 4096"))) {
        double v = r->median / s->median;
        t[n++] = (target){"jit cuda mlp-step batch 4096 <= 1.1x reference", v,
                          "x", v <= 1.1};
    }
    if ((r = find("mlp-step-cuda", "jit", "batch 128")) &&
        (s = find("mlp-step-cuda", "eager", "batch 128"))) {
        double v = s->median / r->median;
        t[n++] = (target){"jit cuda mlp-step batch 128 >= 3x faster than eager",
                          v, "x", v >= 3};
    }
    return n;
}

/* ---- report --------------------------------------------------------------*/

static void print_json(void)
{
    for (int i = 0; i < bench_nresults; i++) {
        const result *r = &bench_results[i];
        printf("{\"workload\":\"%s\",\"mode\":\"%s\",\"case\":\"%s\","
               "\"unit\":\"%s\",\"median\":%.2f,\"min\":%.2f,\"max\":%.2f,"
               "\"iterations\":%lld",
               r->workload, r->mode, r->case_name, r->unit, r->median, r->min,
               r->max, (long long)r->iterations);
        if (r->tier)
            printf(",\"tier\":\"%s\",\"compile_ms\":%.1f", r->tier,
                   r->compile_ms);
        printf("}\n");
    }
    target t[MAX_TARGETS];
    int n = collect_targets(t);
    for (int i = 0; i < n; i++)
        printf("{\"target\":\"%s\",\"measured\":%.2f,\"unit\":\"%s\","
               "\"pass\":%s}\n",
               t[i].what, t[i].value, t[i].unit, t[i].pass ? "true" : "false");
}

static void print_table(const options *o)
{
    printf("\nember %s on %d thread(s), OpenBLAS on %d, %d repeats; time "
           "per iteration\n",
           EMBER_VERSION, em_get_num_threads(), ref_blas_threads(), o->repeats);
    char why[160];
    if (o->device != EM_CPU && bench_cuda_ready(o, why, sizeof why)) {
        char gpu[128], name[32];
        bench_gpu_name(gpu, sizeof gpu);
        printf("mlp-step-cuda: %s on %s, layers %s, float32 products in "
               "TF32\n",
               em_device_name(o->device, name, sizeof name), gpu,
               o->smoke ? "64-64-32-10" : "4096-4096-4096-10");
    }
    printf("\n%-13s %-14s %-14s %10s %10s %10s %-4s  %s\n", "workload", "mode",
           "case", "median", "min", "max", "unit", "ratio");
    for (int i = 0; i < bench_nresults; i++) {
        const result *r = &bench_results[i];
        printf("%-13s %-14s %-14s %10.2f %10.2f %10.2f %-4s", r->workload,
               r->mode, r->case_name, r->median, r->min, r->max, r->unit);
        const result *base = baseline(r);
        if (base)
            printf("  %5.2fx %s %s", r->median / base->median, base->mode,
                   base->case_name);
        if (r->tier && strcmp(r->mode, "jit") == 0 &&
            strcmp(r->tier, "native") != 0)
            printf("  (executor: %s)", r->reason);
        printf("\n");
    }

    target t[MAX_TARGETS];
    int n = o->smoke ? 0 : collect_targets(t);
    if (n == 0)
        return;
    printf("\n%-52s %10s  %s\n", "target", "measured", "result");
    for (int i = 0; i < n; i++)
        printf("%-52s %9.2f%-2s %s\n", t[i].what, t[i].value, t[i].unit,
               t[i].pass ? "PASS" : "MISS");
}

/* ---- command line --------------------------------------------------------*/

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ember-bench [add|mlp-step|logreg-step|call|chain|epoch "
            "...]\n"
            "                   [--modes eager,graph,jit,reference]\n"
            "                   [--batch N[,N...]] [--repeats N] [--json] "
            "[--smoke]\n"
            "                   [--device cpu|cuda]\n"
            "\n"
            "  add          c = a + b on float32 [1] and [64,64], without "
            "and with a tape\n"
            "  mlp-step     one training step of the 784-256-128-10 MLP "
            "(SGD with momentum)\n"
            "  logreg-step  one training step of a 784 -> 1 logistic "
            "regression (SGD), batch 1 and 32\n"
            "  call         a traced function holding one add on [1]\n"
            "  chain        tanh(x * a + b) * sigmoid(x) on 2^20 float32\n"
            "  epoch        a 784-128-10 MLP epoch (4096 samples, batch "
            "128): a call per step or per epoch\n"
            "  (none)       every workload\n"
            "\n"
            "  --modes    eager, graph (traced, executor), jit (traced, "
            "native code), reference\n"
            "             (hand-written C: mlp-step, chain; for chain it also "
            "runs\n"
            "             reference-libm, the loop calling libm); default all\n"
            "  --batch    mlp-step batch sizes; default 32,128\n"
            "  --repeats  timed loops per case; default 7\n"
            "  --json     one JSON object per result, then one per target\n"
            "  --smoke    tiny sizes and short loops, to check that "
            "everything runs\n"
            "  --device   cuda (or cuda:N) runs mlp-step on the GPU: a "
            "4096-4096-4096-10\n"
            "             MLP at batch 128 and 4096, modes eager, jit and "
            "reference (cuBLAS);\n"
            "             skipped with a note without a GPU. Default cpu\n");
}

static bool parse_modes(options *o, const char *text)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    memset(o->modes, 0, sizeof o->modes);
    bool any = false;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        bench_mode m = MODE_EAGER;
        while (m < MODE_COUNT && strcmp(tok, bench_mode_name(m)) != 0)
            m++;
        if (m == MODE_COUNT)
            return false;
        o->modes[m] = any = true;
    }
    return any;
}

static bool parse_batches(options *o, const char *text)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    o->nbatches = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        long long v = strtoll(tok, &end, 10);
        if (*end || v < 1 || v > 65536 || o->nbatches == BENCH_MAX_BATCHES)
            return false;
        o->batches[o->nbatches++] = v;
    }
    return o->nbatches > 0;
}

static void parse_args(int argc, char **argv, options *o)
{
    *o = (options){.batches = {32, 128}, .nbatches = 2, .repeats = 7};
    for (int m = 0; m < MODE_COUNT; m++)
        o->modes[m] = true;
    bool any_workload = false, batches_given = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        int w = 0;
        while (w < WORK_COUNT && strcmp(a, workload_names[w]) != 0)
            w++;
        if (w < WORK_COUNT) {
            o->run[w] = any_workload = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--smoke") == 0) {
            o->smoke = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--modes") == 0 && value) {
            ok = parse_modes(o, value), i++;
        } else if (strcmp(a, "--batch") == 0 && value) {
            ok = batches_given = parse_batches(o, value), i++;
        } else if (strcmp(a, "--device") == 0 && value) {
            ok = em_device_parse(value, &o->device) == 0, i++;
            em_error_clear();
        } else if (strcmp(a, "--repeats") == 0 && value) {
            o->repeats = atoi(value), i++;
            ok = o->repeats >= 1 && o->repeats <= BENCH_MAX_REPEATS;
        } else {
            ok = false;
        }
        if (!ok) {
            static const char *const with_value[] = {"--modes", "--batch",
                                                     "--device", "--repeats"};
            bool took_value = false;
            for (int k = 0; k < 4; k++)
                took_value = took_value || (value && !strcmp(a, with_value[k]));
            if (took_value)
                fprintf(stderr, "ember-bench: bad value '%s' for %s\n\n", value,
                        a);
            else
                fprintf(stderr, "ember-bench: bad argument '%s'\n\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (o->device != EM_CPU) {
        for (int w = 0; w < WORK_COUNT; w++)
            if (o->run[w] && w != WORK_MLP) {
                fprintf(stderr, "ember-bench: --device cuda runs mlp-step "
                                "only\n\n");
                usage(stderr);
                exit(2);
            }
        o->run[WORK_MLP] = any_workload = true;
        if (!batches_given) {
            o->batches[0] = 128, o->batches[1] = 4096;
            o->nbatches = 2;
        }
    }
    if (!any_workload)
        for (int w = 0; w < WORK_COUNT; w++)
            o->run[w] = true;
    if (o->smoke && !batches_given)
        o->batches[0] = 8, o->nbatches = 1;
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    /* On a GPU the traced step runs without LLVM too (no fused kernels). */
    if (o.modes[MODE_JIT] && !em_jit_available() && o.device == EM_CPU) {
        fprintf(stderr, "ember-bench: no jit rows: this build or EMBER_JIT=0 "
                        "leaves native code off\n");
        o.modes[MODE_JIT] = false;
    }

    static void (*const run[WORK_COUNT])(const options *) = {
        bench_add,  bench_mlp,   bench_logreg,
        bench_call, bench_chain, bench_epoch};
    if (o.device != EM_CPU) {
        bench_mlp_cuda(&o);
        memset(o.run, 0, sizeof o.run);
    }
    for (int w = 0; w < WORK_COUNT; w++)
        if (o.run[w])
            run[w](&o);

    if (o.json)
        print_json();
    else
        print_table(&o);
    return bench_exit_status;
}
