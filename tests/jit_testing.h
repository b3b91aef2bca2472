/*
 * tests/jit_testing.h - what the suites of the native tier (test_jit*.c)
 * share: comparisons, the tanh(x * a + b) * sigmoid(x) chain checked in C,
 * a compile long enough to keep the background compiler busy, and
 * running checks in a forked child.
 */
#ifndef EMBER_JIT_TESTING_H
#define EMBER_JIT_TESTING_H

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testing.h"

/* ---- comparisons ----------------------------------------------------------*/

/* Largest |a - b| divided by max(largest |b|, 1e-6). */
static inline double relative_error(em_tensor *a, em_tensor *b)
{
    int64_t n = em_tensor_size(b);
    ck_assert_int_eq(em_tensor_size(a), n);
    size_t bytes = sizeof(double) * (size_t)(n ? n : 1);
    double *x = malloc(bytes), *y = malloc(bytes);
    em_tensor_copy_to(a, x, EM_FLOAT64, sizeof(double) * (size_t)n);
    em_tensor_copy_to(b, y, EM_FLOAT64, sizeof(double) * (size_t)n);
    double diff = 0, scale = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(x[i] - y[i]));
        scale = fmax(scale, fabs(y[i]));
    }
    free(x);
    free(y);
    return diff / scale;
}

/* A tensor's elements as doubles (malloc'd; free them). */
static inline double *values_of(em_tensor *t)
{
    size_t n = (size_t)em_tensor_size(t);
    double *v = malloc(sizeof(double) * (n ? n : 1));
    ck_assert_int_eq(em_tensor_copy_to(t, v, EM_FLOAT64, sizeof(double) * n),
                     0);
    return v;
}

/* The pending error's text (which it clears), or "no error". */
static inline const char *error_text(void)
{
    const char *e = em_error_pending() ? em_error_last() : NULL;
    return e ? e : "no error";
}

static inline em_trace_options jit_options(const char *name, em_jit_mode jit)
{
    return (em_trace_options){.name = name, .jit = jit};
}

static inline void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- tanh(x * a + b) * sigmoid(x), x [m, n], a and b [n] ------------------*/

static inline int chain(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    em_tensor *x = in[0];
    out[0] = em_mul(em_tanh(em_add(em_mul(x, in[1]), in[2])), em_sigmoid(x));
    return out[0] ? 1 : -1;
}

typedef struct chain_inputs {
    em_tensor *in[3];
    int64_t m, n;
} chain_inputs;

static inline chain_inputs chain_make(uint64_t seed, int64_t m, int64_t n)
{
    chain_inputs c = {.m = m, .n = n};
    c.in[0] = test_random(seed, EM_FLOAT32, 2, (int64_t[]){m, n}, -3, 3);
    c.in[1] = test_random(seed + 1, EM_FLOAT32, 1, &n, -2, 2);
    c.in[2] = test_random(seed + 2, EM_FLOAT32, 1, &n, -1, 1);
    return c;
}

/* The chain in double from the float32 inputs, elementwise in C. */
static inline void assert_chain(em_tensor *got, const chain_inputs *c)
{
    ck_assert_msg(got != NULL, "no output: %s", error_text());
    assert_shape(got, 2, c->m, c->n);
    int64_t size = c->m * c->n;
    double *want = malloc(sizeof(double) * (size_t)(size ? size : 1));
    for (int64_t i = 0; i < size; i++) {
        double x = test_at(c->in[0], i), a = test_at(c->in[1], i % c->n);
        double b = test_at(c->in[2], i % c->n);
        want[i] = tanh(x * a + b) / (1 + exp(-x));
    }
    assert_values(got, want, size, 2e-6, 2e-6);
    free(want);
}

/* A chain of `depth` tanh(0.5 x) + sin(x) steps: one loop whose compile
 * time grows with depth (a few hundred give ~1 s), to keep the background
 * compiler busy. */
static inline int deep_chain(int n, em_tensor *const *in, int max,
                             em_tensor **out, void *user)
{
    int depth = *(const int *)user;
    em_tensor *x = in[0];
    for (int i = 0; i < depth; i++)
        x = em_add(em_tanh(em_mul_scalar(x, 0.5)), em_sin(x));
    out[0] = x;
    return x ? 1 : -1;
}

/* Starts a background compile that keeps the compile thread busy for a
 * while; free the result after use. *input belongs to the current scope. */
static inline em_function *occupy_compiler(em_tensor **input)
{
    static const int depth = 300;
    em_trace_options o = jit_options("busy", EM_JIT_BACKGROUND);
    em_function *f = em_trace_fn(deep_chain, (void *)&depth, &o);
    *input = em_ones(EM_FLOAT32, 1, (int64_t[]){17});
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 1, input, 1, &out), 1);
    em_tensor_free(out);
    return f;
}

/* |got - want| <= tol (1 + |want|) */
static inline bool close_to(double got, double want, double tol)
{
    return fabs(got - want) <= tol * (1 + fabs(want));
}

/* ---- running checks in a forked child -------------------------------------*/

/* Child exit codes. */
enum { CHILD_OK = 0, CHILD_NOT_NATIVE = 10, CHILD_CALL_FAILED, CHILD_WRONG };

typedef struct parent_function {
    em_function *fn; /* or NULL */
    chain_inputs *in;
} parent_function;

/* In a child process: a function traced and compiled there runs
 * natively and right, and so does the parent's function when given. */
static inline int child_checks(void *arg)
{
    parent_function *p = arg;
    em_function *parent_fn = p->fn;
    chain_inputs *parent_in = p->in;
    if (parent_fn) {
        em_concrete *k = em_function_concrete(parent_fn, 3, parent_in->in);
        if (em_concrete_wait_compiled(k) != EM_TIER_NATIVE)
            return CHILD_NOT_NATIVE;
    }
    em_scope_begin();
    chain_inputs c = chain_make(123, 6, 10);
    em_trace_options o = jit_options("child", EM_JIT_SYNC);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_function *fns[2] = {f, parent_fn};
    for (int k = 0; k < 2 && fns[k]; k++) {
        em_tensor *out = NULL;
        if (em_function_call(fns[k], 3, c.in, 1, &out) != 1)
            return CHILD_CALL_FAILED;
        if (em_concrete_wait_compiled(em_function_concrete(fns[k], 3, c.in)) !=
            EM_TIER_NATIVE)
            return CHILD_NOT_NATIVE;
        for (int64_t i = 0; i < c.m * c.n; i++) {
            double x = test_at(c.in[0], i), a = test_at(c.in[1], i % c.n);
            double b = test_at(c.in[2], i % c.n);
            if (!close_to(test_at(out, i), tanh(x * a + b) / (1 + exp(-x)),
                          1e-5))
                return CHILD_WRONG;
        }
    }
    em_function_free(f);
    em_scope_end();
    return CHILD_OK;
}

/* Forks; the child runs `checks` under an alarm (a hang fails) and exits
 * with what it returns; the parent checks how it ended. */
static inline void fork_and_check(int (*checks)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL); /* Check's handler would kill the test */
        alarm(20);
        _exit(checks(arg));
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFSIGNALED(status),
                  "the child was killed by signal %d (%s)", WTERMSIG(status),
                  WTERMSIG(status) == SIGALRM ? "hung for 20 s" : "crashed");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK,
                  "the child exited with %d (10 not native, 11 call failed, "
                  "12 wrong values)",
                  WEXITSTATUS(status));
}

#endif
