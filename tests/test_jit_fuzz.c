/* Native code on inputs a hostile user would pick: random elementwise
 * programs with broadcasting, odd sizes and zero-size dimensions, random
 * reductions, and special values (NaN, infinities, signed zeros,
 * subnormals, integer extremes), compiled with EM_JIT_SYNC and checked
 * against independently computed results.
 *
 * Tolerances:
 *  - random float32 programs: against the same program run eagerly in
 *    float64, |native - ref| <= 8 |eager32 - ref| + 2e-5 (1 + |ref|) +
 *    1e-6 B + 1e-7 n B, B a bound on the magnitudes the program can reach
 *    (float32 rounding of the same ops, plus the few ulp of the vectorised
 *    maths) and n the most elements a sum upstream adds (reassociated
 *    float32 sums);
 *    float64 programs: against eager float64 within 1e-10 (1 + |ref|) +
 *    1e-13 B (reassociated sums only);
 *  - random reductions: a naive C loop in double over the float32-rounded
 *    elements, sums within 1e-6 (float32) or 1e-13 (float64) of the sum of
 *    magnitudes, max and min exactly;
 *  - special values: against eager, NaN where eager gives NaN, infinities
 *    and integers exactly, finite floats within 4 ulp (float32). */
#include <stdio.h>
#include <string.h>

#include "jit_testing.h"

/* A local xorshift generator, independent of the library's. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static int below(rng *r, int n)
{
    return (int)(next(r) % (uint64_t)n);
}

static bool chance(rng *r, int percent)
{
    return below(r, 100) < percent;
}

/* ---- random programs ------------------------------------------------------*/

enum { MAX_VALUES = 24, MAX_STEPS = 16, MAX_OUT = 4 };

typedef enum step_kind {
    UNARY,
    BINARY,
    SCALAR,     /* x * s or x + s */
    WHERE,      /* where(input > 0, a, b) */
    COMPARE,    /* cast(input_i < input_j) */
    ROUND_TRIP, /* cast to the other float dtype and back */
    EXPAND,     /* expand_dims(x, 0): a view */
    REDUCE,
} step_kind;

typedef enum unary_op {
    U_NEG,
    U_ABS,
    U_TANH,
    U_SIGMOID,
    U_SIN,
    U_COS,
    U_RELU,
    U_SOFTPLUS,
    U_LEAKY,
    U_ELU,
    U_GELU,
    U_ERF,
    U_SQUARE,
    U_EXP,
    U_COUNT
} unary_op;

typedef enum binary_op { B_ADD, B_SUB, B_MUL, B_MAX, B_MIN, B_COUNT } binary_op;

typedef enum reduce_op { R_SUM, R_MEAN, R_MAX, R_MIN, R_COUNT } reduce_op;

typedef struct step {
    step_kind kind;
    int op;
    int a, b, c; /* operands: indices of earlier values */
    double scalar;
    int naxes, axes[4];
    bool keepdims;
} step;

typedef struct program {
    em_dtype dtype;
    int n_inputs;
    int ndim[MAX_VALUES];
    int64_t shape[MAX_VALUES][5];
    double bound[MAX_VALUES];  /* largest magnitude a value can reach */
    double summed[MAX_VALUES]; /* most elements a sum upstream adds up */
    bool terminal[MAX_VALUES]; /* reduced without keepdims: outputs only */
    int n_steps;
    step steps[MAX_STEPS];
    int n_outputs, outputs[MAX_OUT];
} program;

static const int64_t sizes[] = {1,  1,  2,  3,  5,  7,  8,  9,   13,
                                15, 16, 17, 31, 33, 63, 65, 127, 1023};

/* Elements of a shape, in double (random shapes may overflow int64). */
static double size_of(int ndim, const int64_t *shape)
{
    double n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (double)shape[d];
    return n;
}

/* The broadcast of two shapes (right-aligned) into *n, out. */
static void broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b,
                             int *n, int64_t *out)
{
    int64_t result[5];
    int nr = na > nb ? na : nb;
    for (int d = 0; d < nr; d++) {
        int da = d - (nr - na), db = d - (nr - nb);
        int64_t sa = da >= 0 ? a[da] : 1, sb = db >= 0 ? b[db] : 1;
        result[d] = sa == 1 ? sb : sa;
    }
    memcpy(out, result, sizeof(int64_t) * (size_t)nr);
    *n = nr;
}

/* Value n takes the broadcast of values a and b. */
static void broadcast(program *p, int a, int b, int n)
{
    broadcast_shapes(p->ndim[a], p->shape[a], p->ndim[b], p->shape[b],
                     &p->ndim[n], p->shape[n]);
}

static int operand(rng *r, const program *p, int n_values)
{
    for (;;) {
        int v = chance(r, 40) ? n_values - 1 : below(r, n_values);
        if (!p->terminal[v])
            return v;
    }
}

static int input_operand(rng *r, const program *p)
{
    return below(r, p->n_inputs);
}

/* A random program: inputs broadcasting to one shape (some dimensions 1,
 * some leading ones dropped), then a chain of steps. */
/* Random dimensions for a shape of `rank`: small (at most 6000
 * elements, some zero-size), or large (2^17 to 2^19 elements, enough for
 * compiled loops to be split across threads). */
static void dims_make(rng *r, int rank, bool large, int64_t *full)
{
    for (int d = 0; d < rank; d++) {
        full[d] = sizes[below(r, (int)(sizeof sizes / sizeof *sizes))];
        if (!large && chance(r, 4))
            full[d] = 0;
    }
    while (!large && size_of(rank, full) > 6000)
        full[below(r, rank)] = 2;
    while (large && size_of(rank, full) < 131072)
        full[below(r, rank)] = full[below(r, rank)] * 2 + 1;
    while (large && size_of(rank, full) > 524288) {
        int d = below(r, rank);
        full[d] = full[d] / 2 + (full[d] > 1);
    }
}

static program program_make(uint64_t seed, em_dtype dtype, bool large)
{
    rng r = {seed * 0x9E3779B97F4A7C15ull + 7};
    program p = {.dtype = dtype};
    int rank = large ? 1 + below(&r, 4) : chance(&r, 8) ? 0 : 1 + below(&r, 4);
    int64_t full[4];
    dims_make(&r, rank, large, full);
    p.n_inputs = 1 + below(&r, 3);
    for (int i = 0; i < p.n_inputs; i++) {
        int drop = i > 0 && rank > 0 ? below(&r, rank + 1) : 0;
        p.ndim[i] = rank - drop;
        for (int d = 0; d < p.ndim[i]; d++) {
            p.shape[i][d] = full[d + drop];
            if (i > 0 && chance(&r, 30))
                p.shape[i][d] = 1;
        }
        p.bound[i] = 2;
    }

    int n = p.n_inputs;
    p.n_steps = 3 + below(&r, MAX_STEPS - 3);
    for (int k = 0; k < p.n_steps; k++, n++) {
        step *s = &p.steps[k];
        s->a = operand(&r, &p, n);
        s->b = operand(&r, &p, n);
        s->c = input_operand(&r, &p);
        int roll = below(&r, 100);
        s->kind = roll < 35   ? UNARY
                  : roll < 65 ? BINARY
                  : roll < 72 ? SCALAR
                  : roll < 77 ? WHERE
                  : roll < 80 ? COMPARE
                  : roll < 84 ? ROUND_TRIP
                  : roll < 88 ? EXPAND
                              : REDUCE;
        double ba = p.bound[s->a], bb = p.bound[s->b];
        p.summed[n] = fmax(p.summed[s->a], p.summed[s->b]);
        p.ndim[n] = p.ndim[s->a];
        memcpy(p.shape[n], p.shape[s->a], sizeof p.shape[n]);
        p.bound[n] = ba;
        switch (s->kind) {
        case UNARY:
            s->op = below(&r, U_COUNT);
            if ((s->op == U_SQUARE && ba > 8) || (s->op == U_EXP && ba > 3))
                s->op = U_TANH;
            p.bound[n] = s->op == U_SQUARE                        ? ba * ba
                         : s->op == U_EXP                         ? exp(ba)
                         : s->op == U_SOFTPLUS || s->op == U_GELU ? ba + 1
                         : s->op == U_ELU || s->op == U_LEAKY     ? ba + 1
                         : s->op <= U_ABS || s->op == U_RELU      ? ba
                                                                  : 1;
            break;
        case BINARY:
            s->op = below(&r, B_COUNT);
            if (s->op == B_MUL && ba * bb > 64)
                s->op = B_ADD;
            broadcast(&p, s->a, s->b, n);
            p.bound[n] = s->op == B_MUL ? ba * bb : ba + bb;
            break;
        case SCALAR:
            s->op = below(&r, 2);
            s->scalar = (double)below(&r, 2001) / 1000 - 1;
            p.bound[n] = ba + 1;
            break;
        case WHERE: /* where(input c > 0, a, b) */
            broadcast(&p, s->a, s->b, n);
            broadcast_shapes(p.ndim[n], p.shape[n], p.ndim[s->c], p.shape[s->c],
                             &p.ndim[n], p.shape[n]);
            p.bound[n] = ba > bb ? ba : bb;
            break;
        case COMPARE:
            s->a = input_operand(&r, &p);
            s->b = input_operand(&r, &p);
            broadcast(&p, s->a, s->b, n);
            p.bound[n] = 1;
            break;
        case ROUND_TRIP:
            break;
        case EXPAND:
            if (p.ndim[n] >= 4) {
                s->kind = UNARY, s->op = U_NEG;
                break;
            }
            memmove(p.shape[n] + 1, p.shape[n], sizeof(int64_t) * 4);
            p.shape[n][0] = 1;
            p.ndim[n]++;
            break;
        case REDUCE: {
            s->op = below(&r, R_COUNT);
            int nd = p.ndim[s->a];
            s->keepdims = chance(&r, 60);
            s->naxes = 0;
            bool all = nd == 0 || chance(&r, 15);
            for (int d = 0; d < nd && !all; d++)
                if (chance(&r, 50))
                    s->axes[s->naxes++] = chance(&r, 30) ? d - nd : d;
            if (!all && s->naxes == 0)
                s->axes[s->naxes++] = below(&r, nd);
            int64_t count = 1;
            int out_nd = 0;
            for (int d = 0; d < nd; d++) {
                bool reduced = all;
                for (int j = 0; j < s->naxes; j++)
                    reduced =
                        reduced || s->axes[j] == d || s->axes[j] == d - nd;
                if (reduced)
                    count *= p.shape[s->a][d];
                if (!reduced)
                    p.shape[n][out_nd++] = p.shape[s->a][d];
                else if (s->keepdims)
                    p.shape[n][out_nd++] = 1;
            }
            p.ndim[n] = out_nd;
            /* max and min of nothing are errors, not a test of the JIT */
            if (count == 0 && (s->op == R_MAX || s->op == R_MIN))
                s->op = R_SUM;
            p.bound[n] = s->op == R_SUM ? ba * (double)(count ? count : 1) : ba;
            if (s->op == R_SUM || s->op == R_MEAN)
                p.summed[n] = fmax(p.summed[n], (double)count);
            p.terminal[n] = !s->keepdims;
            break;
        }
        }
    }
    /* outputs: the last value, every terminal reduction, maybe one more
     * (views of outputs are covered by test_jit's regressions) */
    p.outputs[p.n_outputs++] = n - 1;
    for (int v = p.n_inputs; v < n - 1 && p.n_outputs < MAX_OUT; v++)
        if (p.terminal[v])
            p.outputs[p.n_outputs++] = v;
    int extra = p.n_inputs + below(&r, p.n_steps);
    bool viewed = false;
    for (int k = 0; k < p.n_steps; k++)
        viewed = viewed || (p.steps[k].kind == EXPAND && p.steps[k].a == extra);
    if (p.n_outputs < MAX_OUT && chance(&r, 50) && !viewed)
        p.outputs[p.n_outputs++] = extra;
    return p;
}

static em_tensor *run_unary(int op, em_tensor *x)
{
    switch ((unary_op)op) {
    case U_NEG:
        return em_neg(x);
    case U_ABS:
        return em_abs(x);
    case U_TANH:
        return em_tanh(x);
    case U_SIGMOID:
        return em_sigmoid(x);
    case U_SIN:
        return em_sin(x);
    case U_COS:
        return em_cos(x);
    case U_RELU:
        return em_relu(x);
    case U_SOFTPLUS:
        return em_softplus(x);
    case U_LEAKY:
        return em_leaky_relu(x, 0.125);
    case U_ELU:
        return em_elu(x, 0.75);
    case U_GELU:
        return em_gelu(x);
    case U_ERF:
        return em_erf(x);
    case U_SQUARE:
        return em_square(x);
    default:
        return em_exp(x);
    }
}

static em_tensor *run_binary(int op, em_tensor *a, em_tensor *b)
{
    switch ((binary_op)op) {
    case B_ADD:
        return em_add(a, b);
    case B_SUB:
        return em_sub(a, b);
    case B_MUL:
        return em_mul(a, b);
    case B_MAX:
        return em_maximum(a, b);
    default:
        return em_minimum(a, b);
    }
}

static em_tensor *run_reduce(const step *s, em_tensor *x)
{
    const int *axes = s->naxes ? s->axes : NULL;
    switch ((reduce_op)s->op) {
    case R_SUM:
        return em_sum(x, s->naxes, axes, s->keepdims);
    case R_MEAN:
        return em_mean(x, s->naxes, axes, s->keepdims);
    case R_MAX:
        return em_max(x, s->naxes, axes, s->keepdims);
    default:
        return em_min(x, s->naxes, axes, s->keepdims);
    }
}

/* The program as a traced body (user: the program). Runs in the inputs'
 * dtype, so the same program runs in float32 and float64. */
static int program_body(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    const program *p = user;
    if (n < 1 || !in[0])
        return -1;
    em_dtype dt = em_tensor_dtype(in[0]);
    em_dtype other = dt == EM_FLOAT32 ? EM_FLOAT64 : EM_FLOAT32;
    em_tensor *v[MAX_VALUES] = {0};
    for (int i = 0; i < p->n_inputs; i++)
        v[i] = in[i];
    for (int k = 0; k < p->n_steps; k++) {
        const step *s = &p->steps[k];
        em_tensor *a = v[s->a], *r = NULL;
        switch (s->kind) {
        case UNARY:
            r = run_unary(s->op, a);
            break;
        case BINARY:
            r = run_binary(s->op, a, v[s->b]);
            break;
        case SCALAR:
            r = s->op ? em_mul_scalar(a, s->scalar)
                      : em_add_scalar(a, s->scalar);
            break;
        case WHERE:
            r = em_where(em_greater(v[s->c], em_scalar(0, dt)), a, v[s->b]);
            break;
        case COMPARE:
            r = em_cast(em_less(a, v[s->b]), dt);
            break;
        case ROUND_TRIP:
            r = em_cast(em_cast(a, other), dt);
            break;
        case EXPAND:
            r = em_expand_dims(a, 0);
            break;
        case REDUCE:
            r = run_reduce(s, a);
            break;
        }
        if (!r)
            return -1;
        v[p->n_inputs + k] = r;
    }
    for (int k = 0; k < p->n_outputs; k++)
        out[k] = v[p->outputs[k]];
    return p->n_outputs;
}

static void describe(const program *p, char *buf, size_t size)
{
    int used = snprintf(buf, size, "%s inputs", em_dtype_name(p->dtype));
    for (int i = 0; i < p->n_inputs && used < (int)size; i++) {
        char shape[100];
        em_shape_format(p->ndim[i], p->shape[i], shape, sizeof shape);
        used += snprintf(buf + used, size - (size_t)used, " %s", shape);
    }
    for (int k = 0; k < p->n_steps && used < (int)size; k++) {
        const step *s = &p->steps[k];
        used += snprintf(buf + used, size - (size_t)used,
                         "; v%d = kind%d op%d (v%d, v%d, in%d)",
                         p->n_inputs + k, s->kind, s->op, s->a, s->b, s->c);
    }
}

/* Runs program `seed` eagerly (in float32 and in float64 when the program
 * is float32) and natively, and checks every output. */
static void check_program(uint64_t seed, em_dtype dtype, bool large)
{
    program p = program_make(seed, dtype, large);
    char text[2048];
    describe(&p, text, sizeof text);
    em_scope_begin();
    em_tensor *in[3] = {0}, *in64[3] = {0};
    for (int i = 0; i < p.n_inputs; i++) {
        in64[i] = test_random(seed * 10 + (uint64_t)i, EM_FLOAT64, p.ndim[i],
                              p.shape[i], -2, 2);
        in[i] = dtype == EM_FLOAT64 ? in64[i] : em_cast(in64[i], dtype);
        if (dtype == EM_FLOAT32) /* the reference sees float32's values */
            in64[i] = em_cast(in[i], EM_FLOAT64);
    }
    em_tensor *eager[MAX_OUT], *ref[MAX_OUT], *native[MAX_OUT];
    int n_out = program_body(p.n_inputs, in, MAX_OUT, eager, &p);
    ck_assert_msg(n_out == p.n_outputs, "seed %llu: eager failed: %s (%s)",
                  (unsigned long long)seed, error_text(), text);
    ck_assert_int_eq(program_body(p.n_inputs, in64, MAX_OUT, ref, &p), n_out);

    em_trace_options o = {.name = "fuzz", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(program_body, &p, &o);
    int rc = em_function_call(f, p.n_inputs, in, MAX_OUT, native);
    ck_assert_msg(rc == n_out, "seed %llu: native call gave %d: %s (%s)",
                  (unsigned long long)seed, rc, error_text(), text);
    em_compile_stats s =
        em_concrete_compile_stats(em_function_concrete(f, p.n_inputs, in));
    ck_assert_msg(s.tier == EM_TIER_NATIVE, "seed %llu: tier %d (%s)",
                  (unsigned long long)seed, s.tier, s.reason);

    if (getenv("FUZZ_DEBUG")) {
        int64_t sz = em_tensor_size(native[0]);
        fprintf(stderr, "seed %llu loops %d calls %d out0 size %lld: %s\n",
                (unsigned long long)seed, s.fused_loops, s.library_calls,
                (long long)sz, text);
    }
    for (int k = 0; k < n_out; k++) {
        double bound = p.bound[p.outputs[k]];
        double summed = p.summed[p.outputs[k]];
        ck_assert_int_eq(em_tensor_ndim(native[k]), em_tensor_ndim(eager[k]));
        for (int d = 0; d < em_tensor_ndim(eager[k]); d++)
            ck_assert_int_eq(em_tensor_dim(native[k], d),
                             em_tensor_dim(eager[k], d));
        double *nv = values_of(native[k]), *rv = values_of(ref[k]);
        double *ev = values_of(eager[k]);
        for (int64_t e = 0; e < em_tensor_size(eager[k]); e++) {
            double got = nv[e], want = rv[e], e32 = ev[e];
            double tol = dtype == EM_FLOAT32
                             ? 8 * fabs(e32 - want) + 2e-5 * (1 + fabs(want)) +
                                   1e-6 * bound + 1e-7 * summed * bound
                             : 1e-10 * (1 + fabs(want)) + 1e-13 * bound;
            bool ok = isnan(want) ? isnan(got) : fabs(got - want) <= tol;
            ck_assert_msg(ok,
                          "seed %llu output %d element %lld: native %.9g, "
                          "eager %.9g, float64 %.9g (%s)",
                          (unsigned long long)seed, k, (long long)e, got, e32,
                          want, text);
        }
        free(nv);
        free(rv);
        free(ev);
    }
    em_function_free(f);
    em_scope_end();
}

enum { PROGRAMS_PER_LOOP = 12 };

/* Large programs: their loops run split across the runtime's threads
 * (four of them, whatever the machine has). */
START_TEST(random_large_programs_split_across_threads_match_eager)
{
    em_set_num_threads(4);
    for (int k = 0; k < 3; k++)
        check_program((uint64_t)_i * 3 + (uint64_t)k + 200001,
                      k == 2 ? EM_FLOAT64 : EM_FLOAT32, true);
}
END_TEST

START_TEST(random_float32_programs_match_float64_eager)
{
    for (int k = 0; k < PROGRAMS_PER_LOOP; k++)
        check_program((uint64_t)_i * PROGRAMS_PER_LOOP + (uint64_t)k + 1,
                      EM_FLOAT32, false);
}
END_TEST

START_TEST(random_float64_programs_match_eager)
{
    for (int k = 0; k < PROGRAMS_PER_LOOP; k++)
        check_program((uint64_t)_i * PROGRAMS_PER_LOOP + (uint64_t)k + 100001,
                      EM_FLOAT64, false);
}
END_TEST

/* ---- random reductions against a naive loop -------------------------------*/

typedef struct reduction {
    em_dtype dtype;
    reduce_op op;
    int ndim, ndim_y;
    int64_t shape[EM_MAX_DIMS], shape_y[EM_MAX_DIMS];
    int naxes, axes[EM_MAX_DIMS];
    bool keepdims;
    bool reduced[EM_MAX_DIMS];
} reduction;

static reduction reduction_make(uint64_t seed, bool large)
{
    rng r = {seed * 0x2545F4914F6CDD1Dull + 3};
    reduction c = {.dtype = seed % 2 ? EM_FLOAT32 : EM_FLOAT64};
    c.op = (reduce_op)below(&r, R_COUNT);
    c.ndim = chance(&r, 15) ? 5 + below(&r, EM_MAX_DIMS - 4) : 1 + below(&r, 4);
    if (large)
        c.ndim = 1 + below(&r, 3);
    for (int d = 0; d < c.ndim; d++) {
        c.shape[d] = sizes[below(&r, (int)(sizeof sizes / sizeof *sizes))];
        if (!large && chance(&r, 5))
            c.shape[d] = 0;
    }
    while (!large && size_of(c.ndim, c.shape) > 8000)
        c.shape[below(&r, c.ndim)] = 1 + below(&r, 3);
    if (large)
        dims_make(&r, c.ndim, true, c.shape);
    int drop = below(&r, c.ndim + 1);
    c.ndim_y = c.ndim - drop;
    for (int d = 0; d < c.ndim_y; d++)
        c.shape_y[d] = chance(&r, 40) ? 1 : c.shape[d + drop];
    bool all = chance(&r, 15);
    for (int d = 0; d < c.ndim && !all; d++)
        if (chance(&r, 50)) {
            c.axes[c.naxes++] = chance(&r, 30) ? d - c.ndim : d;
            c.reduced[d] = true;
        }
    if (!all && c.naxes == 0) {
        int d = below(&r, c.ndim);
        c.axes[c.naxes++] = d;
        c.reduced[d] = true;
    }
    if (all)
        for (int d = 0; d < c.ndim; d++)
            c.reduced[d] = true;
    c.keepdims = chance(&r, 50);
    int64_t count = 1;
    for (int d = 0; d < c.ndim; d++)
        count *= c.reduced[d] ? c.shape[d] : 1;
    if (count == 0 && (c.op == R_MAX || c.op == R_MIN))
        c.op = R_SUM;
    return c;
}

/* reduce(x * y + 0.5), y broadcast against x: the reduction's loop reads
 * its fused input through broadcast strides. */
static int reduction_body(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    const reduction *c = user;
    const int *axes = c->naxes ? c->axes : NULL;
    em_tensor *x = em_add_scalar(em_mul(in[0], in[1]), 0.5);
    switch (c->op) {
    case R_SUM:
        out[0] = em_sum(x, c->naxes, axes, c->keepdims);
        break;
    case R_MEAN:
        out[0] = em_mean(x, c->naxes, axes, c->keepdims);
        break;
    case R_MAX:
        out[0] = em_max(x, c->naxes, axes, c->keepdims);
        break;
    default:
        out[0] = em_min(x, c->naxes, axes, c->keepdims);
        break;
    }
    return out[0] ? 1 : -1;
}

/* The element x * y + 0.5 rounded as the dtype rounds it. */
static double fused_element(em_dtype dt, double x, double y)
{
    if (dt == EM_FLOAT32) {
        float t = (float)x * (float)y;
        return (double)(t + 0.5f);
    }
    return x * y + 0.5;
}

static void check_reduction(uint64_t seed, bool large)
{
    reduction c = reduction_make(seed, large);
    em_scope_begin();
    em_tensor *in[2] = {
        test_random(seed, c.dtype, c.ndim, c.shape, -3, 3),
        test_random(seed + 7, c.dtype, c.ndim_y, c.shape_y, -2, 2)};
    em_trace_options o = {.name = "reduce_fuzz", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(reduction_body, &c, &o);
    em_tensor *got = NULL;
    int rc = em_function_call(f, 2, in, 1, &got);
    ck_assert_msg(rc == 1, "seed %llu: %s", (unsigned long long)seed,
                  error_text());
    ck_assert_int_eq(
        em_concrete_compile_stats(em_function_concrete(f, 2, in)).tier,
        EM_TIER_NATIVE);

    /* the output's shape, and each input element's output index */
    int out_nd = 0;
    int64_t out_shape[EM_MAX_DIMS], out_size = 1;
    for (int d = 0; d < c.ndim; d++)
        if (!c.reduced[d] || c.keepdims)
            out_shape[out_nd++] = c.reduced[d] ? 1 : c.shape[d];
    for (int d = 0; d < out_nd; d++)
        out_size *= out_shape[d];
    test_assert_shape(__FILE__, __LINE__, got, out_nd, out_shape);
    size_t bytes = sizeof(double) * (size_t)(out_size ? out_size : 1);
    double *acc = malloc(bytes), *mag = calloc(1, bytes);
    int64_t count = 1;
    for (int d = 0; d < c.ndim; d++)
        count *= c.reduced[d] ? c.shape[d] : 1;
    for (int64_t o_ = 0; o_ < out_size; o_++)
        acc[o_] = c.op == R_MAX ? -INFINITY : c.op == R_MIN ? INFINITY : 0;
    int64_t size = em_tensor_size(in[0]);
    double *xv = values_of(in[0]), *yv = values_of(in[1]);
    double *gv = values_of(got);
    for (int64_t i = 0; i < size; i++) {
        int64_t idx[EM_MAX_DIMS], rest = i, o_ = 0, yi = 0;
        for (int d = c.ndim - 1; d >= 0; d--) {
            idx[d] = rest % c.shape[d];
            rest /= c.shape[d];
        }
        for (int d = 0; d < c.ndim; d++)
            if (!c.reduced[d])
                o_ = o_ * c.shape[d] + idx[d];
        for (int d = 0; d < c.ndim_y; d++) {
            int dx = d + (c.ndim - c.ndim_y);
            yi = yi * c.shape_y[d] + (c.shape_y[d] == 1 ? 0 : idx[dx]);
        }
        double e = fused_element(c.dtype, xv[i], yv[yi]);
        if (c.op == R_MAX)
            acc[o_] = fmax(acc[o_], e);
        else if (c.op == R_MIN)
            acc[o_] = fmin(acc[o_], e);
        else
            acc[o_] += e;
        mag[o_] += fabs(e);
    }
    double eps = c.dtype == EM_FLOAT32 ? 1e-6 : 1e-13;
    for (int64_t o_ = 0; o_ < out_size; o_++) {
        double want = acc[o_], tol = eps * mag[o_];
        if (c.op == R_MEAN) {
            want /= (double)count;
            tol /= (double)count;
        }
        if (c.op == R_MAX || c.op == R_MIN)
            tol = 0;
        double g = gv[o_];
        bool ok = isnan(want) ? isnan(g) : fabs(g - want) <= tol + 1e-300;
        char shape[100];
        em_shape_format(c.ndim, c.shape, shape, sizeof shape);
        ck_assert_msg(ok,
                      "seed %llu: %s op %d of %s over %d axes (keepdims %d): "
                      "element %lld is %.17g, expected %.17g",
                      (unsigned long long)seed, em_dtype_name(c.dtype), c.op,
                      shape, c.naxes, c.keepdims, (long long)o_, g, want);
    }
    free(acc);
    free(mag);
    free(xv);
    free(yv);
    free(gv);
    em_function_free(f);
    em_scope_end();
}

START_TEST(random_reductions_of_fused_inputs_match_a_naive_loop)
{
    for (int k = 0; k < PROGRAMS_PER_LOOP; k++)
        check_reduction((uint64_t)_i * PROGRAMS_PER_LOOP + (uint64_t)k + 1,
                        false);
}
END_TEST

START_TEST(random_large_reductions_split_across_threads_match_a_naive_loop)
{
    em_set_num_threads(4);
    for (int k = 0; k < 4; k++)
        check_reduction((uint64_t)_i * 4 + (uint64_t)k + 300001, true);
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    Suite *suite = suite_create("jit fuzz");
    TCase *tc = test_case(suite, "random programs");
    tcase_add_loop_test(tc, random_float32_programs_match_float64_eager, 0, 20);
    tcase_add_loop_test(tc, random_float64_programs_match_eager, 0, 10);
    tcase_add_loop_test(
        tc, random_reductions_of_fused_inputs_match_a_naive_loop, 0, 20);
    tc = test_case(suite, "large programs");
    tcase_add_loop_test(
        tc, random_large_programs_split_across_threads_match_eager, 0, 4);
    tcase_add_loop_test(
        tc, random_large_reductions_split_across_threads_match_a_naive_loop, 0,
        4);
    return test_run(suite);
}
