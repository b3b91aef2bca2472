/*
 * trace/control_grad.c - gradients of traced cond and while nodes.
 *
 * A traced cond or while loop leaves one record on the tapes recording
 * around it, whose inputs are the values its regions read (and the
 * variables they use). The gradient rules are written with public ops and
 * em_cond / em_while_loop, so they trace into the same graph:
 *  - cond: a cond whose branches run the original branch again under a
 *    tape and return the vector-Jacobian product for every source;
 *  - while: the forward loop saved each iteration's loop variables; a loop
 *    counting down from the last iteration runs the body again on that
 *    iteration's saved values under a tape, carrying the loop variables'
 *    gradients back and summing the sources' gradients.
 * Eager control flow needs none of this: the tape records the ops that ran.
 */
#include <stdlib.h>
#include <string.h>

#include "control_internal.h"

/* Takes a reference to each of t[0..n) into a new array. */
static em_tensor **ref_all(int n, em_tensor *const *t)
{
    em_tensor **copy = calloc((size_t)n + 1, sizeof *copy);
    for (int i = 0; copy && i < n; i++)
        copy[i] = em__tensor_ref(t[i]);
    return copy;
}

static void unref_all(int n, em_tensor **t)
{
    for (int i = 0; t && i < n; i++)
        if (t[i])
            em__tensor_unref(t[i]);
    free(t);
}

/* The sources a region's gradient is taken for: its captured values, then
 * its variables. */
static em_tensor **sources_of(const em__region_captures *u, int *n)
{
    *n = u->n_values + u->n_variables;
    em_tensor **s = calloc((size_t)*n + 1, sizeof *s);
    if (!s)
        return NULL;
    for (int i = 0; i < u->n_values; i++)
        s[i] = em__tensor_ref(u->values[i]);
    for (int i = 0; i < u->n_variables; i++)
        s[u->n_values + i] = em__tensor_ref(u->variables[i]);
    return s;
}

/* sum_k <outs[k], grads[k]> over the float outputs: a scalar whose
 * gradient is the vector-Jacobian product. NULL when no output is float
 * (no error then). */
static em_tensor *vjp_target(int n, em_tensor *const *outs,
                             em_tensor *const *grads)
{
    em_tensor *target = NULL;
    for (int k = 0; k < n; k++) {
        if (!em_dtype_is_float(outs[k]->type.dtype))
            continue;
        em_tensor *term = em_sum(em_mul(outs[k], grads[k]), 0, NULL, false);
        target = target ? em_add(target, term) : term;
    }
    return target;
}

/* d target / d sources with zeros for unconnected sources; a NULL target
 * gives zeros for all. Frees the tape. */
static int take_gradient(em_tape *tape, em_tensor *target, int n,
                         em_tensor *const *sources, em_tensor **grads)
{
    int rc = 0;
    if (target) {
        em_gradient_options options = {.unconnected_zeros = true};
        rc = em_tape_gradient_ex(tape, target, n, sources, grads, &options);
    } else if (em_error_pending()) {
        rc = -1;
    } else {
        for (int i = 0; i < n && rc == 0; i++)
            rc = (grads[i] = em_zeros_like(sources[i])) ? 0 : -1;
    }
    em_tape_free(tape);
    return rc;
}

/* Runs fn (NULL: the identity) on inputs; the outputs go into out. */
static int rerun(em_traced_body fn, void *user, int n, em_tensor *const *in,
                 int max, em_tensor **out)
{
    if (fn)
        return fn(n, in, max, out, user);
    for (int i = 0; i < n && i < max; i++)
        out[i] = em_copy(in[i]);
    return n;
}

/* ---- cond ----------------------------------------------------------------*/

typedef struct cond_grad {
    em__multi_grad base;
    em_traced_body fn[2]; /* then, else */
    void *user;
    int n_inputs;
    em_tensor **inputs;
    int n_sources;
    em_tensor **sources;
    int n_out;
    em_tensor *const *out_grads; /* while the backward runs */
} cond_grad;

static int cond_branch_gradient(cond_grad *cg, int which, int max,
                                em_tensor **grads)
{
    em_tensor **outs = calloc((size_t)cg->n_out + 1, sizeof *outs);
    em_tape *tape = em_tape_begin(false);
    if (!outs || !tape) {
        free(outs);
        em_tape_free(tape);
        em__error("cond: out of memory");
        return -1;
    }
    for (int s = 0; s < cg->n_sources; s++)
        if (em_dtype_is_float(cg->sources[s]->type.dtype))
            em_tape_watch(tape, cg->sources[s]);
    int k = rerun(cg->fn[which], cg->user, cg->n_inputs, cg->inputs, cg->n_out,
                  outs);
    em_tensor *target =
        k == cg->n_out ? vjp_target(k, outs, cg->out_grads) : NULL;
    int rc =
        k == cg->n_out && max >= cg->n_sources
            ? take_gradient(tape, target, cg->n_sources, cg->sources, grads)
            : (em_tape_free(tape), -1);
    free(outs);
    return rc < 0 ? -1 : cg->n_sources;
}

static int cond_then_gradient(int n, em_tensor *const *in, int max,
                              em_tensor **out, void *user)
{
    return cond_branch_gradient(user, 0, max, out);
}

static int cond_else_gradient(int n, em_tensor *const *in, int max,
                              em_tensor **out, void *user)
{
    return cond_branch_gradient(user, 1, max, out);
}

static int cond_backward(em__multi_grad *self, int n, em_tensor *const *inputs,
                         int n_out, em_tensor *const *outputs,
                         em_tensor *const *output_grads,
                         em_tensor **input_grads)
{
    cond_grad *cg = (cond_grad *)self;
    em_tensor **g = calloc((size_t)n_out + 1, sizeof *g);
    em_tensor **grads = calloc((size_t)cg->n_sources + 1, sizeof *grads);
    int rc = g && grads ? 0 : -1;
    for (int k = 0; rc == 0 && k < n_out; k++)
        rc = (g[k] =
                  output_grads[k] ? output_grads[k] : em_zeros_like(outputs[k]))
                 ? 0
                 : -1;
    cg->out_grads = g;
    if (rc == 0 && cg->n_sources > 0)
        rc = em_cond(inputs[0], cond_then_gradient, cond_else_gradient, cg, 0,
                     NULL, cg->n_sources, grads) == cg->n_sources
                 ? 0
                 : -1;
    cg->out_grads = NULL;
    for (int s = 0; rc == 0 && s < cg->n_sources; s++) {
        if (em_dtype_is_float(cg->sources[s]->type.dtype))
            input_grads[1 + s] = grads[s];
        else
            em_tensor_free(grads[s]);
    }
    free(g);
    free(grads);
    return rc;
}

static void cond_destroy(em__multi_grad *self)
{
    cond_grad *cg = (cond_grad *)self;
    unref_all(cg->n_inputs, cg->inputs);
    unref_all(cg->n_sources, cg->sources);
    free(cg);
}

void em__cond_record_gradient(em_tensor *pred, em_traced_body then_fn,
                              em_traced_body else_fn, void *user, int n_inputs,
                              em_tensor *const *inputs,
                              const em__region_captures *u, int n_out,
                              em_tensor *const *outputs)
{
    if (!em_tape_is_recording() || n_out < 1)
        return;
    cond_grad *cg = calloc(1, sizeof *cg);
    if (!cg)
        return;
    cg->base = (em__multi_grad){1, cond_backward, cond_destroy};
    cg->fn[0] = then_fn;
    cg->fn[1] = else_fn;
    cg->user = user;
    cg->n_inputs = n_inputs;
    cg->inputs = ref_all(n_inputs, inputs);
    cg->sources = sources_of(u, &cg->n_sources);
    cg->n_out = n_out;
    em_tensor **in = calloc((size_t)cg->n_sources + 2, sizeof *in);
    if (cg->inputs && cg->sources && in) {
        in[0] = pred;
        memcpy(in + 1, cg->sources, sizeof *in * (size_t)cg->n_sources);
        em__tape_record_multi(&cg->base, 1 + cg->n_sources, in, n_out, outputs);
    }
    free(in);
    em__multi_grad_release(&cg->base);
}

/* ---- while ---------------------------------------------------------------*/

typedef struct while_grad {
    em__multi_grad base;
    em_traced_body body;
    void *user;
    int n_vars;
    em_tensor *count;
    em_tensor **history; /* per loop variable: [iterations, ...] */
    int n_sources;
    em_tensor **sources;
    int n_float; /* float sources, whose gradients the loop sums */
    em_tensor **float_sources;
} while_grad;

/* Loop variables of the backward loop: the iteration i, the gradients of
 * the n_vars loop variables, the sums for the float sources. */
static int backward_cond(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    em_tensor *zero = em_scalar(0, EM_INT64);
    out[0] = em_greater_equal(in[0], zero);
    em_tensor_free(zero);
    return out[0] ? 1 : -1;
}

static int backward_body(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    while_grad *wg = user;
    int nv = wg->n_vars, nf = wg->n_float;
    em_tensor **values = calloc((size_t)(nv + nf) + 1, sizeof *values);
    em_tensor **outs = calloc((size_t)nv + 1, sizeof *outs);
    em_tensor **grads = calloc((size_t)(nv + nf) + 1, sizeof *grads);
    em_tape *tape = values && outs && grads ? em_tape_begin(false) : NULL;
    int rc = -1;
    if (!tape) {
        em__error("while_loop: out of memory");
        goto done;
    }
    for (int k = 0; k < nv; k++) {
        values[k] = em_gather(wg->history[k], in[0], 0);
        if (values[k] && em_dtype_is_float(values[k]->type.dtype))
            em_tape_watch(tape, values[k]);
    }
    for (int s = 0; s < nf; s++) {
        values[nv + s] = wg->float_sources[s];
        em_tape_watch(tape, values[nv + s]);
    }
    int k_out = rerun(wg->body, wg->user, nv, values, nv, outs);
    em_tensor *target = k_out == nv ? vjp_target(nv, outs, in + 1) : NULL;
    if (k_out != nv ||
        take_gradient(tape, target, nv + nf, values, grads) != 0) {
        if (k_out != nv)
            em_tape_free(tape);
        goto done;
    }
    em_tensor *one = em_scalar(1, EM_INT64);
    out[0] = em_sub(in[0], one);
    em_tensor_free(one);
    for (int k = 0; k < nv; k++)
        out[1 + k] =
            em_dtype_is_float(in[1 + k]->type.dtype) ? grads[k] : in[1 + k];
    for (int s = 0; s < nf; s++)
        out[1 + nv + s] = em_add(in[1 + nv + s], grads[nv + s]);
    rc = 1 + nv + nf;
done:
    free(values);
    free(outs);
    free(grads);
    return rc;
}

static int while_backward(em__multi_grad *self, int n, em_tensor *const *inputs,
                          int n_out, em_tensor *const *outputs,
                          em_tensor *const *output_grads,
                          em_tensor **input_grads)
{
    while_grad *wg = (while_grad *)self;
    int nv = wg->n_vars, nf = wg->n_float, n_loop = 1 + nv + nf;
    em_tensor **vars = calloc((size_t)n_loop + 1, sizeof *vars);
    em_tensor **done = calloc((size_t)n_loop + 1, sizeof *done);
    if (!vars || !done) {
        free(vars);
        free(done);
        em__error("while_loop: out of memory");
        return -1;
    }
    em_tensor *one = em_scalar(1, EM_INT64);
    vars[0] = em_sub(wg->count, one);
    em_tensor_free(one);
    for (int k = 0; k < nv; k++)
        vars[1 + k] =
            output_grads[k] ? output_grads[k] : em_zeros_like(outputs[k]);
    for (int s = 0; s < nf; s++)
        vars[1 + nv + s] = em_zeros_like(wg->float_sources[s]);
    int rc = em_while_loop(backward_cond, backward_body, wg, n_loop, vars, done,
                           NULL);
    for (int k = 0; rc == 0 && k < nv; k++)
        input_grads[k] =
            em_dtype_is_float(done[1 + k]->type.dtype) ? done[1 + k] : NULL;
    for (int s = 0, f = 0; rc == 0 && s < wg->n_sources; s++)
        if (em_dtype_is_float(wg->sources[s]->type.dtype))
            input_grads[nv + s] = done[1 + nv + f++];
    free(vars);
    free(done);
    return rc;
}

static void while_destroy(em__multi_grad *self)
{
    while_grad *wg = (while_grad *)self;
    if (wg->count)
        em__tensor_unref(wg->count);
    unref_all(wg->n_vars, wg->history);
    unref_all(wg->n_sources, wg->sources);
    free(wg->float_sources);
    free(wg);
}

void em__while_record_gradient(em_traced_body body_fn, void *user, int n_vars,
                               em_tensor *const *init,
                               const em__region_captures *u,
                               em_tensor *const *results, em_tensor *count,
                               em_tensor *const *history)
{
    if (!em_tape_is_recording())
        return;
    while_grad *wg = calloc(1, sizeof *wg);
    if (!wg)
        return;
    wg->base = (em__multi_grad){1, while_backward, while_destroy};
    wg->body = body_fn;
    wg->user = user;
    wg->n_vars = n_vars;
    wg->count = em__tensor_ref(count);
    wg->history = ref_all(n_vars, history);
    wg->sources = sources_of(u, &wg->n_sources);
    wg->float_sources = calloc((size_t)wg->n_sources + 1, sizeof(em_tensor *));
    em_tensor **in = calloc((size_t)(n_vars + wg->n_sources) + 1, sizeof *in);
    if (wg->history && wg->sources && wg->float_sources && in) {
        for (int s = 0; s < wg->n_sources; s++)
            if (wg->sources[s] && em_dtype_is_float(wg->sources[s]->type.dtype))
                wg->float_sources[wg->n_float++] = wg->sources[s];
        memcpy(in, init, sizeof *in * (size_t)n_vars);
        memcpy(in + n_vars, wg->sources, sizeof *in * (size_t)wg->n_sources);
        em__tape_record_multi(&wg->base, n_vars + wg->n_sources, in, n_vars,
                              results);
    }
    free(in);
    em__multi_grad_release(&wg->base);
}
