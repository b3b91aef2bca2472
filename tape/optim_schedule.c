/*
 * tape/optim_schedule.c - learning-rate schedules and clipping gradients by
 * their global norm.
 */
#include <math.h>
#include <stdlib.h>

#include "optim_internal.h"

/* The built-in schedules, evaluated on the host (for
 * em_optimizer_learning_rate) in the same order of operations as their op
 * forms below, so both give the same double. They are installed as
 * callbacks, and apply recognises them by address to use the op form. */
static double step_rate(int64_t step, double base_lr, void *user)
{
    const em_optimizer *opt = user;
    /* Whole periods completed: the division truncates on purpose. */
    int64_t periods = step / opt->schedule_every;
    return base_lr * pow(opt->schedule_gamma, (double)periods);
}

static double cosine_rate(int64_t step, double base_lr, void *user)
{
    const em_optimizer *opt = user;
    double min_lr = opt->schedule_min_lr;
    double progress = fmin((double)step / (double)opt->schedule_total, 1.0);
    return min_lr + (base_lr - min_lr) * 0.5 * (1 + cos(M_PI * progress));
}

/* []: base_lr * gamma^(steps / every), the division on int64. */
static em_tensor *step_rate_op(const em_optimizer *opt)
{
    em_tensor *every = em_scalar((double)opt->schedule_every, EM_INT64);
    em_tensor *periods = em_cast(em_div(opt->steps, every), EM_FLOAT64);
    em_tensor *gamma = em_scalar(opt->schedule_gamma, EM_FLOAT64);
    return em_mul_scalar(em_pow(gamma, periods), opt->lr);
}

/* []: min_lr + (lr - min_lr)/2 * (1 + cos(pi * min(steps / total, 1))). */
static em_tensor *cosine_rate_op(const em_optimizer *opt)
{
    double min_lr = opt->schedule_min_lr;
    em_tensor *step = em_cast(opt->steps, EM_FLOAT64);
    em_tensor *total = em_scalar((double)opt->schedule_total, EM_FLOAT64);
    em_tensor *progress =
        em_minimum(em_div(step, total), em_scalar(1.0, EM_FLOAT64));
    em_tensor *wave = em_add_scalar(em_cos(em_mul_scalar(progress, M_PI)), 1);
    return em_add_scalar(em_mul_scalar(wave, (opt->lr - min_lr) * 0.5), min_lr);
}

em_tensor *em__optim_rate(const em_optimizer *opt)
{
    if (opt->schedule == step_rate)
        return step_rate_op(opt);
    if (opt->schedule == cosine_rate)
        return cosine_rate_op(opt);
    if (!opt->schedule)
        return opt->base_lr;

    /* A C callback cannot be replayed: a trace keeps this one value. */
    double lr =
        opt->schedule(em__optim_steps(opt), opt->lr, opt->schedule_user);
    const char *tracing = em__thread_state()->tracing;
    if (tracing)
        em__log(EM_LOG_WARN,
                "optimizer_apply: the learning-rate schedule callback runs "
                "once while tracing %s; its rate %g is frozen in the trace "
                "(use a built-in schedule, or call apply outside the traced "
                "function)",
                tracing, lr);
    return em_scalar(lr, EM_FLOAT64);
}

void em_optimizer_set_schedule(em_optimizer *opt, em_lr_schedule schedule,
                               void *user)
{
    if (!opt)
        return;
    opt->schedule = schedule;
    opt->schedule_user = user;
}

void em_optimizer_set_step_schedule(em_optimizer *opt, int64_t every,
                                    double gamma)
{
    if (!opt)
        return;
    if (every < 1 || !isfinite(gamma) || gamma < 0) {
        em__error("optimizer_set_step_schedule: needs every >= 1 and a "
                  "finite gamma >= 0 (got %lld, %g); schedule unchanged",
                  (long long)every, gamma);
        return;
    }
    opt->schedule_every = every;
    opt->schedule_gamma = gamma;
    em_optimizer_set_schedule(opt, step_rate, opt);
}

void em_optimizer_set_cosine_schedule(em_optimizer *opt, int64_t total_steps,
                                      double min_lr)
{
    if (!opt)
        return;
    if (total_steps < 1 || !isfinite(min_lr) || min_lr < 0) {
        em__error("optimizer_set_cosine_schedule: needs total_steps >= 1 "
                  "and a finite min_lr >= 0 (got %lld, %g); schedule "
                  "unchanged",
                  (long long)total_steps, min_lr);
        return;
    }
    opt->schedule_total = total_steps;
    opt->schedule_min_lr = min_lr;
    em_optimizer_set_schedule(opt, cosine_rate, opt);
}

double em_optimizer_learning_rate(const em_optimizer *opt)
{
    if (!opt)
        return NAN;
    if (!opt->schedule)
        return opt->lr;
    return opt->schedule(em__optim_steps(opt), opt->lr, opt->schedule_user);
}

int64_t em__optim_steps(const em_optimizer *opt)
{
    /* Read in place: a traced step advances the variable's own storage.
     * On a GPU, through a copy to the host. */
    if (!opt->steps)
        return 0;
    if (em_tensor_device(opt->steps) != EM_CPU)
        return (int64_t)em_tensor_item(opt->steps);
    return *(const int64_t *)opt->steps->data;
}

int64_t em_optimizer_steps(const em_optimizer *opt)
{
    return opt ? em__optim_steps(opt) : 0;
}

void em_optimizer_set_clip_norm(em_optimizer *opt, double max_norm)
{
    if (!opt)
        return;
    if (!(max_norm >= 0) || isinf(max_norm)) {
        em__error("optimizer_set_clip_norm: max_norm %g is not a finite "
                  "value >= 0; clipping unchanged",
                  max_norm);
        return;
    }
    opt->clip_norm = max_norm;
}

/* ---- clipping ---------------------------------------------------------------
 * Written with public ops, so that a traced step computes the norm and the
 * scale in its graph; only *global_norm reads a value back. */

static bool clip_check(int n, em_tensor *const *grads, double max_norm,
                       em_tensor **clipped)
{
    if (n < 0 || (n > 0 && (!grads || !clipped))) {
        em__error("clip_by_global_norm: needs n >= 0 and non-NULL arrays "
                  "(n = %d)",
                  n);
        return false;
    }
    if (!(max_norm > 0) || isinf(max_norm)) {
        em__error("clip_by_global_norm: max_norm %g is not a finite value "
                  "> 0",
                  max_norm);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (grads[i] && !em_dtype_is_float(grads[i]->type.dtype)) {
            char detail[80];
            snprintf(detail, sizeof detail, "gradient %d is not float", i);
            em__error_op("clip_by_global_norm", &grads[i], 1, detail);
            return false;
        }
    }
    return true;
}

int em_clip_by_global_norm(int n, em_tensor *const *grads, double max_norm,
                           em_tensor **clipped, double *global_norm)
{
    if (!clip_check(n, grads, max_norm, clipped)) {
        for (int i = 0; clipped && i < n; i++)
            clipped[i] = NULL;
        return -1;
    }

    em_scope_begin();
    em_tensor *total = NULL;
    bool any = false;
    for (int i = 0; i < n; i++) {
        if (!grads[i])
            continue;
        em_tensor *part =
            em_cast(em_sum(em_square(grads[i]), 0, NULL, false), EM_FLOAT64);
        total = any ? em_add(total, part) : part;
        any = true;
    }
    if (!any) {
        em_scope_end();
        for (int i = 0; i < n; i++)
            clipped[i] = NULL;
        if (global_norm)
            *global_norm = 0;
        return 0;
    }

    /* scale = max_norm / max(norm, max_norm): 1 when already short enough. */
    em_tensor *norm = em_sqrt(total);
    em_tensor *limit = em_scalar(max_norm, EM_FLOAT64);
    em_tensor *scale = em_div(limit, em_maximum(norm, limit));
    em_tensor **out = calloc((size_t)n, sizeof *out);
    bool ok = scale != NULL && out != NULL;
    if (!out)
        em__error("clip_by_global_norm: out of memory");
    for (int i = 0; i < n && out; i++) {
        if (!grads[i] || !ok)
            continue;
        em_tensor *s = em_cast(scale, grads[i]->type.dtype);
        out[i] = em_mul(grads[i], s);
        ok = out[i] != NULL;
    }
    /* Reading the norm back is the one host step: only when asked, so a
     * traced update (which cannot read values) stays all ops. */
    double value = ok && global_norm ? em_tensor_item(norm) : NAN;
    for (int i = 0; i < n; i++)
        clipped[i] = ok ? em_scope_keep(out[i]) : NULL;
    free(out);
    em_scope_end();

    if (!ok)
        return -1;
    if (global_norm)
        *global_norm = value;
    return 0;
}
