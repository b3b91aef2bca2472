/*
 * tape/gradcheck.c - comparing tape gradients with central finite
 * differences in float64.
 */
#include <math.h>
#include <stdlib.h>

#include "tape_internal.h"

/* fn at the current values of xs, as a double (NAN on failure). */
static double evaluate(em_scalar_fn fn, void *user, int n, em_tensor *const *xs)
{
    em_scope_begin();
    em_tensor *y = fn(n, xs, user);
    double v = y && y->size == 1 ? em_tensor_item(y) : NAN;
    em_scope_end();
    return v;
}

/* Largest relative error between the tape gradient of input i and the
 * numerical one; negative on failure. */
static double check_input(em_scalar_fn fn, void *user, int n,
                          em_tensor *const *xs, int i, em_tensor *analytic,
                          double epsilon)
{
    em_tensor *x = xs[i];
    double *data = x->data;
    double worst = 0;
    for (int64_t j = 0; j < x->size; j++) {
        double saved = data[j];
        data[j] = saved + epsilon;
        double up = evaluate(fn, user, n, xs);
        data[j] = saved - epsilon;
        double down = evaluate(fn, user, n, xs);
        data[j] = saved;
        double numeric = (up - down) / (2 * epsilon);
        double tape =
            analytic ? em__load_f64(analytic->data, analytic->type.dtype, j)
                     : 0.0;
        if (isnan(numeric) || isnan(tape)) {
            em__error("gradient_check: input %d element %lld: tape %g, "
                      "numeric %g",
                      i, (long long)j, tape, numeric);
            return -1;
        }
        double error = fabs(tape - numeric) / fmax(1.0, fabs(numeric));
        if (error > worst)
            worst = error;
        if (error > 1e-3 && em__log_enabled(EM_LOG_DEBUG))
            em__log(EM_LOG_DEBUG,
                    "gradient_check: input %d element %lld: "
                    "tape %.9g, numeric %.9g",
                    i, (long long)j, tape, numeric);
    }
    return worst;
}

double em_gradient_check(em_scalar_fn fn, void *user, int n,
                         em_tensor *const *inputs, double epsilon)
{
    if (!fn || n < 0 || (n > 0 && !inputs) || !(epsilon > 0)) {
        em__error("gradient_check: needs a function, inputs and epsilon > 0");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!inputs[i]) {
            if (!em_error_pending())
                em__error("gradient_check: input %d is NULL", i);
            return -1;
        }

    em_scope_begin();
    em_tensor **xs = calloc((size_t)n + 1, sizeof *xs);
    em_tensor **grads = calloc((size_t)n + 1, sizeof *grads);
    double worst = -1;
    if (!xs || !grads) {
        em__error("gradient_check: out of memory");
        goto done;
    }
    /* Float inputs are checked in float64; others (labels, indices) are
     * passed through unchanged. */
    for (int i = 0; i < n; i++) {
        bool is_float = em_dtype_is_float(inputs[i]->type.dtype);
        xs[i] = is_float ? em_copy(em_cast(inputs[i], EM_FLOAT64)) : inputs[i];
        if (!xs[i])
            goto done;
    }

    em_tape *tape = em_tape_begin(false);
    if (!tape)
        goto done;
    for (int i = 0; i < n; i++)
        if (em_dtype_is_float(xs[i]->type.dtype))
            em_tape_watch(tape, xs[i]);
    em_tensor *y = fn(n, xs, user);
    if (y && y->size != 1)
        em__error("gradient_check: the function must return one element, "
                  "got %lld",
                  (long long)y->size);
    int rc = y && y->size == 1 ? em_tape_gradient(tape, y, n, xs, grads) : -1;
    em_tape_free(tape);
    if (rc != 0)
        goto done;

    worst = 0;
    for (int i = 0; i < n && worst >= 0; i++) {
        if (!em_dtype_is_float(xs[i]->type.dtype))
            continue;
        double e = check_input(fn, user, n, xs, i, grads[i], epsilon);
        worst = e < 0 ? -1 : fmax(worst, e);
    }

done:
    free(xs);
    free(grads);
    em_scope_end();
    return worst;
}
