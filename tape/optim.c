/*
 * tape/optim.c - optimisers: SGD (momentum, Nesterov), Adam, AdamW and
 * RMSprop, with the formulas of ember/optim.h (PyTorch's torch.optim).
 *
 * Every update is written with public ops and variable assignments, so that
 * a traced training step captures it. It runs in its own scope, which frees
 * the temporaries, and with tape recording paused, as the update is not
 * part of any function being differentiated. Adam's bias correction counts
 * the steps since each variable's first update, so a variable first updated
 * late starts its correction at step 1, as in PyTorch.
 *
 * Nothing that changes from step to step is computed on the host: the step
 * count is a variable, and the learning rate and the bias corrections are
 * ops on it, so a traced training step replays them right at every call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"

/* ---- construction --------------------------------------------------------*/

static bool in_unit(double x)
{
    return x >= 0 && x < 1;
}

/* A scalar held by the optimiser itself, outside every scope. */
static em_tensor *held_scalar(double value, em_dtype dtype)
{
    em_scope_begin();
    em_tensor *t = em_scalar(value, dtype);
    if (t)
        em__tensor_ref(t);
    em_scope_end();
    return t;
}

static void optimizer_release(em_optimizer *opt)
{
    em_tensor *held[] = {opt->one_step, opt->one, opt->base_lr,
                         opt->beta1_scalar, opt->beta2_scalar};
    for (size_t i = 0; i < sizeof held / sizeof *held; i++)
        if (held[i])
            em__tensor_unref(held[i]);
    em_tensor_free(opt->steps);
    free(opt);
}

/* beta1 and beta2 are 0 where the kind has none. */
static em_optimizer *optimizer_new(em__optim_kind kind, double lr, double beta1,
                                   double beta2)
{
    em_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) {
        em__error("optimizer: out of memory");
        return NULL;
    }
    opt->kind = kind;
    opt->lr = lr;
    /* Made here, never during a trace, so a traced step only captures it. */
    em_tensor *zero = em_scalar(0, EM_INT64);
    opt->steps = em_variable_new("optimizer/steps", zero, false);
    em_tensor_free(zero);
    opt->one_step = held_scalar(1, EM_INT64);
    opt->one = held_scalar(1, EM_FLOAT64);
    opt->base_lr = held_scalar(lr, EM_FLOAT64);
    opt->beta1_scalar = held_scalar(beta1, EM_FLOAT64);
    opt->beta2_scalar = held_scalar(beta2, EM_FLOAT64);
    if (!opt->steps || !opt->one_step || !opt->one || !opt->base_lr ||
        !opt->beta1_scalar || !opt->beta2_scalar) {
        optimizer_release(opt);
        return NULL;
    }
    return opt;
}

static bool check_lr(const char *what, double lr)
{
    if (lr >= 0 && isfinite(lr))
        return true;
    em__error("%s: learning rate %g is not a finite value >= 0", what, lr);
    return false;
}

em_optimizer *em_optimizer_sgd(double lr, double momentum, bool nesterov)
{
    if (!check_lr("optimizer_sgd", lr))
        return NULL;
    if (!(momentum >= 0) || isinf(momentum)) {
        em__error("optimizer_sgd: momentum %g is not a finite value >= 0",
                  momentum);
        return NULL;
    }
    if (nesterov && momentum == 0) {
        em__error("optimizer_sgd: Nesterov momentum needs momentum > 0");
        return NULL;
    }
    em_optimizer *opt = optimizer_new(EM__OPTIM_SGD, lr, 0, 0);
    if (opt) {
        opt->momentum = momentum;
        opt->nesterov = nesterov;
    }
    return opt;
}

static em_optimizer *adam_new(const char *what, em__optim_kind kind, double lr,
                              double beta1, double beta2, double epsilon,
                              double weight_decay)
{
    if (!check_lr(what, lr))
        return NULL;
    if (!in_unit(beta1) || !in_unit(beta2)) {
        em__error("%s: betas (%g, %g) must lie in [0, 1)", what, beta1, beta2);
        return NULL;
    }
    if (!(epsilon >= 0) || isinf(epsilon) || !(weight_decay >= 0) ||
        isinf(weight_decay)) {
        em__error("%s: epsilon %g and weight decay %g must be finite and "
                  ">= 0",
                  what, epsilon, weight_decay);
        return NULL;
    }
    em_optimizer *opt = optimizer_new(kind, lr, beta1, beta2);
    if (opt) {
        opt->momentum = beta1;
        opt->beta2 = beta2;
        opt->epsilon = epsilon;
        opt->weight_decay = weight_decay;
    }
    return opt;
}

em_optimizer *em_optimizer_adam(double lr, double beta1, double beta2,
                                double epsilon)
{
    return adam_new("optimizer_adam", EM__OPTIM_ADAM, lr, beta1, beta2, epsilon,
                    0);
}

em_optimizer *em_optimizer_adamw(double lr, double beta1, double beta2,
                                 double epsilon, double weight_decay)
{
    return adam_new("optimizer_adamw", EM__OPTIM_ADAMW, lr, beta1, beta2,
                    epsilon, weight_decay);
}

em_optimizer *em_optimizer_rmsprop(double lr, double rho, double momentum,
                                   double epsilon)
{
    if (!check_lr("optimizer_rmsprop", lr))
        return NULL;
    if (!in_unit(rho) || !(momentum >= 0) || isinf(momentum) ||
        !(epsilon >= 0) || isinf(epsilon)) {
        em__error("optimizer_rmsprop: needs rho in [0, 1) and finite "
                  "momentum, epsilon >= 0 (got %g, %g, %g)",
                  rho, momentum, epsilon);
        return NULL;
    }
    em_optimizer *opt = optimizer_new(EM__OPTIM_RMSPROP, lr, 0, 0);
    if (opt) {
        opt->beta2 = rho;
        opt->momentum = momentum;
        opt->epsilon = epsilon;
    }
    return opt;
}

void em_optimizer_free(em_optimizer *opt)
{
    if (!opt)
        return;
    for (int64_t i = 0; i < opt->capslots; i++) {
        em_tensor_free(opt->slots[i].state[0]);
        em_tensor_free(opt->slots[i].state[1]);
    }
    free(opt->slots);
    optimizer_release(opt);
}

/* ---- per-variable state ---------------------------------------------------*/

static int64_t slot_index(const em__optim_slot *slots, int64_t cap, uint64_t id)
{
    int64_t i = (int64_t)((id * 0x9E3779B97F4A7C15ull) >> 11) & (cap - 1);
    while (slots[i].id != 0 && slots[i].id != id)
        i = (i + 1) & (cap - 1);
    return i;
}

static bool slots_grow(em_optimizer *opt)
{
    int64_t cap = opt->capslots ? opt->capslots * 2 : 16;
    em__optim_slot *slots = calloc((size_t)cap, sizeof *slots);
    if (!slots)
        return false;
    for (int64_t i = 0; i < opt->capslots; i++)
        if (opt->slots[i].id)
            slots[slot_index(slots, cap, opt->slots[i].id)] = opt->slots[i];
    free(opt->slots);
    opt->slots = slots;
    opt->capslots = cap;
    return true;
}

/* How many state tensors each variable needs. */
static int state_count(const em_optimizer *opt)
{
    switch (opt->kind) {
    case EM__OPTIM_SGD:
        return opt->momentum > 0 ? 1 : 0;
    case EM__OPTIM_ADAM:
    case EM__OPTIM_ADAMW:
        return 2;
    case EM__OPTIM_RMSPROP:
        return opt->momentum > 0 ? 2 : 1;
    }
    return 0;
}

static em_tensor *state_new(em_tensor *v, const char *what)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", em_variable_name(v), what);
    em_tensor *zeros = em_zeros_like(v);
    em_tensor *state = em_variable_new(name, zeros, false);
    em_tensor_free(zeros); /* whether or not a scope is open */
    return state;
}

/* The state of v, created (zeros, v's dtype and shape) at its first
 * update. NULL with an error when out of memory. */
static em__optim_slot *slot_get(em_optimizer *opt, em_tensor *v)
{
    if (2 * (opt->nslots + 1) > opt->capslots && !slots_grow(opt)) {
        em__error("optimizer_apply: out of memory");
        return NULL;
    }
    em__optim_slot *slot =
        &opt->slots[slot_index(opt->slots, opt->capslots, v->id)];
    if (slot->id)
        return slot;

    static const char *names[][2] = {
        [EM__OPTIM_SGD] = {"sgd_momentum", NULL},
        [EM__OPTIM_ADAM] = {"adam_m", "adam_v"},
        [EM__OPTIM_ADAMW] = {"adam_m", "adam_v"},
        [EM__OPTIM_RMSPROP] = {"rmsprop_square_average", "rmsprop_momentum"},
    };
    em_tensor *state[2] = {NULL, NULL};
    int count = state_count(opt);
    for (int k = 0; k < count; k++) {
        state[k] = state_new(v, names[opt->kind][k]);
        if (!state[k]) {
            em_tensor_free(state[0]);
            return NULL;
        }
    }
    slot->id = v->id;
    slot->state[0] = state[0];
    slot->state[1] = state[1];
    slot->first_step = em__optim_steps(opt);
    opt->nslots++;
    return slot;
}

int em_optimizer_prepare(em_optimizer *opt, int n, em_tensor *const *vars)
{
    if (!opt || n < 0 || (n > 0 && !vars)) {
        em__error("optimizer_prepare: needs an optimizer, n >= 0 and the "
                  "variables (n = %d)",
                  n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!em_tensor_is_variable(vars[i]) ||
            !em_dtype_is_float(em_tensor_dtype(vars[i]))) {
            em__error("optimizer_prepare: entry %d is not a float variable", i);
            return -1;
        }
    }
    for (int i = 0; i < n; i++)
        if (!slot_get(opt, vars[i]))
            return -1;
    return 0;
}

int em_optimizer_state(const em_optimizer *opt, int capacity,
                       em_tensor **variables)
{
    if (!opt || capacity < 0 || (capacity > 0 && !variables)) {
        em__error("optimizer_state: needs an optimizer, capacity >= 0 and "
                  "an array when capacity > 0 (capacity = %d)",
                  capacity);
        return -1;
    }
    int per_slot = state_count(opt);
    if (opt->nslots > (INT32_MAX - 1) / (per_slot > 0 ? per_slot : 1)) {
        em__error("optimizer_state: too many state variables");
        return -1;
    }
    int count = 1 + (int)opt->nslots * per_slot;
    if (count > capacity)
        return count;
    int k = 0;
    variables[k++] = opt->steps;
    for (int64_t i = 0; i < opt->capslots; i++)
        for (int s = 0; opt->slots[i].id && s < per_slot; s++)
            variables[k++] = opt->slots[i].state[s];
    return count;
}

/* ---- update rules ---------------------------------------------------------
 * Each returns the status of its last assignment; a failing op makes every
 * later one return NULL, so the first error is the one reported. */

/* The scalars of one apply call, made once and converted to each
 * variable's dtype on demand (all in apply's scope). */
typedef struct update_scalars {
    em_tensor *lr; /* float64 [] */
    em_tensor *lr_as[EM_DTYPE_COUNT];
    /* Adam: lr / (1 - b1^t) and 1 / (1 - b2^t) for the variables whose
     * first update was at `first_step` (nearly always all of them). */
    int64_t first_step;
    em_tensor *adam_step, *adam_inv_c2;
    em_tensor *adam_step_as[EM_DTYPE_COUNT], *adam_inv_c2_as[EM_DTYPE_COUNT];
} update_scalars;

static em_tensor *as_dtype(em_tensor *x, em_dtype dtype, em_tensor **cache)
{
    if (!x || x->type.dtype == dtype)
        return x;
    if (!cache[dtype])
        cache[dtype] = em_cast(x, dtype);
    return cache[dtype];
}

static em_tensor *lr_for(update_scalars *k, const em_tensor *v)
{
    return as_dtype(k->lr, v->type.dtype, k->lr_as);
}

static int sgd_update(const em_optimizer *opt, em__optim_slot *slot,
                      em_tensor *v, em_tensor *g, update_scalars *k)
{
    double mu = opt->momentum;
    em_tensor *lr = lr_for(k, v);
    if (mu == 0)
        return em_variable_assign_sub_scaled(v, lr, g);

    em_tensor *b = slot->state[0];
    if (em_variable_assign_scale_add(b, mu, g) != 0)
        return -1;
    em_tensor *step = opt->nesterov ? em_add(g, em_mul_scalar(b, mu)) : b;
    return em_variable_assign_sub_scaled(v, lr, step);
}

/* Fills k's Adam scalars for variables first updated at first_step:
 * t = steps - first_step + 1, the update's number for those variables. */
static void adam_scalars(const em_optimizer *opt, int64_t first_step,
                         update_scalars *k)
{
    if (k->adam_step && k->first_step == first_step)
        return;
    k->first_step = first_step;
    memset(k->adam_step_as, 0, sizeof k->adam_step_as);
    memset(k->adam_inv_c2_as, 0, sizeof k->adam_inv_c2_as);
    em_tensor *t = em_add_scalar(em_cast(opt->steps, EM_FLOAT64),
                                 (double)(1 - first_step));
    em_tensor *correction1 = em_sub(opt->one, em_pow(opt->beta1_scalar, t));
    em_tensor *correction2 = em_sub(opt->one, em_pow(opt->beta2_scalar, t));
    k->adam_step = em_div(k->lr, correction1);
    k->adam_inv_c2 = em_reciprocal(correction2);
}

static int adam_update(const em_optimizer *opt, em__optim_slot *slot,
                       em_tensor *v, em_tensor *g, update_scalars *k)
{
    double b1 = opt->momentum, b2 = opt->beta2;
    em_tensor *m = slot->state[0], *s = slot->state[1];

    /* AdamW decays the weights apart from the gradient. */
    if (opt->kind == EM__OPTIM_ADAMW && opt->weight_decay != 0 &&
        em_variable_assign_sub(
            v, em_mul(v, em_mul_scalar(lr_for(k, v), opt->weight_decay))))
        return -1;

    em_tensor *m_new = em_add(em_mul_scalar(m, b1), em_mul_scalar(g, 1 - b1));
    em_tensor *s_new =
        em_add(em_mul_scalar(s, b2), em_mul_scalar(em_square(g), 1 - b2));
    if (em_variable_assign(m, m_new) != 0 || em_variable_assign(s, s_new) != 0)
        return -1;

    adam_scalars(opt, slot->first_step, k);
    em_dtype dtype = v->type.dtype;
    em_tensor *step_size = as_dtype(k->adam_step, dtype, k->adam_step_as);
    em_tensor *inv_c2 = as_dtype(k->adam_inv_c2, dtype, k->adam_inv_c2_as);
    em_tensor *denom = em_add_scalar(em_sqrt(em_mul(s, inv_c2)), opt->epsilon);
    return em_variable_assign_sub(v, em_div(em_mul(m, step_size), denom));
}

static int rmsprop_update(const em_optimizer *opt, em__optim_slot *slot,
                          em_tensor *v, em_tensor *g, update_scalars *k)
{
    double rho = opt->beta2, mu = opt->momentum;
    em_tensor *lr = lr_for(k, v);
    em_tensor *s = slot->state[0];
    em_tensor *s_new =
        em_add(em_mul_scalar(s, rho), em_mul_scalar(em_square(g), 1 - rho));
    if (em_variable_assign(s, s_new) != 0)
        return -1;

    em_tensor *scaled = em_div(g, em_add_scalar(em_sqrt(s), opt->epsilon));
    if (mu == 0)
        return em_variable_assign_sub(v, em_mul(scaled, lr));
    em_tensor *b = slot->state[1];
    if (em_variable_assign(b, em_add(em_mul_scalar(b, mu), scaled)) != 0)
        return -1;
    return em_variable_assign_sub(v, em_mul(b, lr));
}

/* ---- apply ----------------------------------------------------------------*/

/* Everything that could make an update fail for the caller's arguments,
 * checked before any variable changes. */
static bool apply_check(const em_optimizer *opt, int n, em_tensor *const *grads,
                        em_tensor *const *vars)
{
    if (!opt || n < 0 || (n > 0 && (!grads || !vars))) {
        em__error("optimizer_apply: needs an optimizer, n >= 0 and non-NULL "
                  "arrays (n = %d)",
                  n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        em_tensor *v = vars[i], *g = grads[i];
        char vt[200], gt[200];
        if (!v) {
            em__error("optimizer_apply: variable %d is NULL", i);
            return false;
        }
        em__type_format(&v->type, vt, sizeof vt);
        if (!em_tensor_is_variable(v)) {
            em__error("optimizer_apply: tensor %d (%s) is not a variable", i,
                      vt);
            return false;
        }
        if (!em_dtype_is_float(v->type.dtype)) {
            em__error("optimizer_apply: variable '%s' %s is not float", v->name,
                      vt);
            return false;
        }
        if (!g)
            continue;
        em__type_format(&g->type, gt, sizeof gt);
        if (!em_dtype_is_float(g->type.dtype) ||
            !em__type_equal_shape(&g->type, &v->type)) {
            em__error("optimizer_apply: gradient %s does not match variable "
                      "'%s' %s",
                      gt, v->name, vt);
            return false;
        }
    }
    return true;
}

/* Clips (when asked) and converts the gradients to their variables'
 * dtypes, into g (in the current scope). */
static int prepare_gradients(const em_optimizer *opt, int n,
                             em_tensor *const *grads, em_tensor *const *vars,
                             em_tensor **g)
{
    if (opt->clip_norm > 0) {
        if (em_clip_by_global_norm(n, grads, opt->clip_norm, g, NULL) != 0)
            return -1;
    } else {
        for (int i = 0; i < n; i++)
            g[i] = grads[i];
    }
    for (int i = 0; i < n; i++) {
        if (g[i] && g[i]->type.dtype != vars[i]->type.dtype) {
            g[i] = em_cast(g[i], vars[i]->type.dtype);
            if (!g[i])
                return -1;
        }
    }
    return 0;
}

int em_optimizer_apply(em_optimizer *opt, int n, em_tensor *const *grads,
                       em_tensor *const *vars)
{
    if (!apply_check(opt, n, grads, vars))
        return -1;
    em_tensor **g = calloc((size_t)(n > 0 ? n : 1), sizeof *g);
    if (!g) {
        em__error("optimizer_apply: out of memory");
        return -1;
    }

    em__thread *thread = em__thread_state();
    thread->record_paused++;
    em_scope_begin();
    update_scalars k = {0};
    int status = prepare_gradients(opt, n, grads, vars, g);
    for (int i = 0; i < n && status == 0; i++) {
        if (!g[i])
            continue;
        if (!k.lr && !(k.lr = em__optim_rate(opt))) {
            status = -1;
            break;
        }
        em__optim_slot *slot = slot_get(opt, vars[i]);
        if (!slot) {
            status = -1;
            break;
        }
        switch (opt->kind) {
        case EM__OPTIM_SGD:
            status = sgd_update(opt, slot, vars[i], g[i], &k);
            break;
        case EM__OPTIM_ADAM:
        case EM__OPTIM_ADAMW:
            status = adam_update(opt, slot, vars[i], g[i], &k);
            break;
        case EM__OPTIM_RMSPROP:
            status = rmsprop_update(opt, slot, vars[i], g[i], &k);
            break;
        }
    }
    if (status == 0)
        status = em_variable_assign_add(opt->steps, opt->one_step);
    em_scope_end();
    thread->record_paused--;
    free(g);
    return status;
}
