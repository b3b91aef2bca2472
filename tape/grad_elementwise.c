/*
 * tape/grad_elementwise.c - gradient rules of the elementwise ops.
 *
 * Each rule is written with public ops only, so that an enclosing tape can
 * differentiate it again; where a derivative is simplest in terms of the
 * op's output y (exp, tanh, sigmoid, ...) the rule uses y, which that tape
 * has recorded as a function of the input. Masks are applied with em_where,
 * never by multiplying with 0/1, and products with factors that can be
 * infinite keep a zero incoming gradient exactly zero
 * (em__grad_keep_zeros): Inf or NaN in a branch not taken, as in
 * where(x > 0, log(x), 0) at x = 0, must not leak into the gradient.
 *
 * Conventions at kinks (documented in ember/ops.h): relu'(0) = 0,
 * abs'(0) = 0, sign' = step' = 0, sqrt'(0) = +inf, maximum/minimum split
 * the gradient evenly at ties, d/db pow(a, b) = 0 where a == 0 and
 * d/da pow(a, b) = 0 where b == 0.
 *
 * Integer and bool inputs get no gradient (NULL). Every temporary is
 * released before the rule returns; the incoming gradient and the call's
 * tensors are never released.
 */
#include "tape_internal.h"

static bool is_float(const em_tensor *t)
{
    return em_dtype_is_float(t->type.dtype);
}

/* A 0-d tensor of t's dtype, for masks and constant factors. */
static em_tensor *constant_like(const em_tensor *t, double value)
{
    return em_scalar(value, t->type.dtype);
}

/* g summed down to like's shape. Takes over g unless g is the incoming
 * gradient, which the rule does not own. */
static em_tensor *shaped_like(em_tensor *g, const em_tensor *like,
                              const em_tensor *grad)
{
    em_tensor *r = em__grad_unbroadcast(g, like);
    if (r != g && g != grad)
        em_tensor_free(g);
    return r;
}

/* grad * factor, 0 where grad is 0; releases factor. */
static em_tensor *times(em_tensor *grad, em_tensor *factor)
{
    em_tensor *out = em__grad_keep_zeros(grad, em_mul(grad, factor));
    em_tensor_free(factor);
    return out;
}

/* 1 - t. */
static em_tensor *one_minus(em_tensor *t)
{
    em_tensor *negated = em_neg(t);
    em_tensor *out = em_add_scalar(negated, 1);
    em_tensor_free(negated);
    return out;
}

/* where(x > 0, on_positive, otherwise). */
static em_tensor *where_positive(em_tensor *x, em_tensor *on_positive,
                                 em_tensor *otherwise)
{
    em_tensor *zero = constant_like(x, 0);
    em_tensor *positive = em_greater(x, zero);
    em_tensor *out = em_where(positive, on_positive, otherwise);
    em_tensor_free(positive);
    em_tensor_free(zero);
    return out;
}

/* Rules of one input whose gradient is grad * factor, factor being a new
 * tensor computed from the input x, the output y and the attributes. */
#define UNARY_RULE(op, FACTOR)                                                 \
    EM__GRAD(op)                                                               \
    {                                                                          \
        em_tensor *x = call->inputs[0], *y = call->output;                     \
        const em__attrs *attrs = call->attrs;                                  \
        (void)x, (void)y, (void)attrs;                                         \
        if (!is_float(x))                                                      \
            return true;                                                       \
        grads[0] = times(grad, FACTOR);                                        \
        return grads[0] != NULL;                                               \
    }

/* ---- one input ------------------------------------------------------------*/

EM__GRAD(neg)
{
    if (!is_float(call->inputs[0]))
        return true;
    grads[0] = em_neg(grad);
    return grads[0] != NULL;
}

/* Derivatives that are zero wherever they exist: still a gradient, so that
 * a path through sign or step is connected rather than an error. */
static bool zero_rule(const em__grad_call *call, em_tensor **grads)
{
    if (!is_float(call->inputs[0]))
        return true;
    grads[0] = em_zeros_like(call->inputs[0]);
    return grads[0] != NULL;
}

EM__GRAD(sign)
{
    return zero_rule(call, grads);
}

EM__GRAD(step)
{
    return zero_rule(call, grads);
}

/* sign(0) = 0 gives abs'(0) = 0. */
UNARY_RULE(abs, em_sign(x))

EM__GRAD(exp)
{
    if (!is_float(call->inputs[0]))
        return true;
    grads[0] = em__grad_keep_zeros(grad, em_mul(grad, call->output));
    return grads[0] != NULL;
}

EM__GRAD(log)
{
    if (!is_float(call->inputs[0]))
        return true;
    grads[0] = em__grad_keep_zeros(grad, em_div(grad, call->inputs[0]));
    return grads[0] != NULL;
}

EM__GRAD(log1p)
{
    em_tensor *x = call->inputs[0];
    if (!is_float(x))
        return true;
    em_tensor *x1 = em_add_scalar(x, 1);
    grads[0] = em__grad_keep_zeros(grad, em_div(grad, x1));
    em_tensor_free(x1);
    return grads[0] != NULL;
}

/* g / (2 y): +inf at x = 0. */
EM__GRAD(sqrt)
{
    if (!is_float(call->inputs[0]))
        return true;
    em_tensor *twice = em_mul_scalar(call->output, 2);
    grads[0] = em__grad_keep_zeros(grad, em_div(grad, twice));
    em_tensor_free(twice);
    return grads[0] != NULL;
}

/* y = x^(-1/2): dy/dx = -y^3 / 2. */
static em_tensor *rsqrt_factor(em_tensor *y)
{
    em_tensor *y2 = em_square(y);
    em_tensor *y3 = em_mul(y2, y);
    em_tensor *out = em_mul_scalar(y3, -0.5);
    em_tensor_free(y3);
    em_tensor_free(y2);
    return out;
}
UNARY_RULE(rsqrt, rsqrt_factor(y))

UNARY_RULE(square, em_mul_scalar(x, 2))

/* y = 1/x: dy/dx = -y^2. */
static em_tensor *reciprocal_factor(em_tensor *y)
{
    em_tensor *y2 = em_square(y);
    em_tensor *out = em_neg(y2);
    em_tensor_free(y2);
    return out;
}
UNARY_RULE(reciprocal, reciprocal_factor(y))

UNARY_RULE(sin, em_cos(x))

static em_tensor *cos_factor(em_tensor *x)
{
    em_tensor *s = em_sin(x);
    em_tensor *out = em_neg(s);
    em_tensor_free(s);
    return out;
}
UNARY_RULE(cos, cos_factor(x))

static em_tensor *tanh_factor(em_tensor *y)
{
    em_tensor *y2 = em_square(y);
    em_tensor *out = one_minus(y2);
    em_tensor_free(y2);
    return out;
}
UNARY_RULE(tanh, tanh_factor(y))

static em_tensor *sigmoid_factor(em_tensor *y)
{
    em_tensor *rest = one_minus(y);
    em_tensor *out = em_mul(y, rest);
    em_tensor_free(rest);
    return out;
}
UNARY_RULE(sigmoid, sigmoid_factor(y))

UNARY_RULE(softplus, em_sigmoid(x))

/* Piecewise rules: the gradient for x > 0 and the one elsewhere, chosen with
 * where; relu'(0) = 0. */
EM__GRAD(relu)
{
    em_tensor *x = call->inputs[0];
    if (!is_float(x))
        return true;
    em_tensor *zero = constant_like(grad, 0);
    grads[0] = where_positive(x, grad, zero);
    em_tensor_free(zero);
    return grads[0] != NULL;
}

EM__GRAD(leaky_relu)
{
    em_tensor *x = call->inputs[0];
    if (!is_float(x))
        return true;
    em_tensor *scaled = em_mul_scalar(grad, call->attrs->alpha);
    grads[0] = where_positive(x, grad, scaled);
    em_tensor_free(scaled);
    return grads[0] != NULL;
}

/* For x <= 0, d/dx alpha (exp(x) - 1) = alpha exp(x) = y + alpha, which
 * unlike exp(x) cannot overflow in the branch not taken. */
EM__GRAD(elu)
{
    em_tensor *x = call->inputs[0];
    if (!is_float(x))
        return true;
    em_tensor *slope = em_add_scalar(call->output, call->attrs->alpha);
    em_tensor *scaled = em_mul(grad, slope);
    grads[0] = where_positive(x, grad, scaled);
    em_tensor_free(scaled);
    em_tensor_free(slope);
    return grads[0] != NULL;
}

/* d/dx x Phi(x) = Phi(x) + x phi(x), with Phi(x) = (1 + erf(x / sqrt 2)) / 2
 * and phi(x) = exp(-x^2 / 2) / sqrt(2 pi); both are differentiable ops, so
 * the second derivative follows. */
static em_tensor *gelu_factor(em_tensor *x)
{
    em_tensor *scaled = em_mul_scalar(x, 0.70710678118654752440);
    em_tensor *e = em_erf(scaled);
    em_tensor *half_e = em_mul_scalar(e, 0.5);
    em_tensor *cdf = em_add_scalar(half_e, 0.5);
    em_tensor *x2 = em_square(x);
    em_tensor *exponent = em_mul_scalar(x2, -0.5);
    em_tensor *g = em_exp(exponent);
    em_tensor *pdf = em_mul_scalar(g, 0.39894228040143267794);
    em_tensor *x_pdf = em_mul(x, pdf);
    em_tensor *out = em_add(cdf, x_pdf);
    em_tensor *temporaries[] = {scaled,   e, half_e, cdf,  x2,
                                exponent, g, pdf,    x_pdf};
    for (size_t i = 0; i < sizeof temporaries / sizeof *temporaries; i++)
        em_tensor_free(temporaries[i]);
    return out;
}
UNARY_RULE(gelu, gelu_factor(x))

/* d/dx erf(x) = 2 / sqrt(pi) exp(-x^2). */
static em_tensor *erf_factor(em_tensor *x)
{
    em_tensor *x2 = em_square(x);
    em_tensor *negated = em_neg(x2);
    em_tensor *g = em_exp(negated);
    em_tensor *out = em_mul_scalar(g, 1.12837916709551257390);
    em_tensor_free(g);
    em_tensor_free(negated);
    em_tensor_free(x2);
    return out;
}
UNARY_RULE(erf, erf_factor(x))

/* ---- two inputs -------------------------------------------------------------
 * Each gradient is computed in the output's (broadcast) shape, then summed
 * down to its input's shape. */

EM__GRAD(add)
{
    em_tensor *a = call->inputs[0], *b = call->inputs[1];
    if (is_float(a) && !(grads[0] = shaped_like(grad, a, grad)))
        return false;
    if (is_float(b) && !(grads[1] = shaped_like(grad, b, grad)))
        return false;
    return true;
}

EM__GRAD(sub)
{
    em_tensor *a = call->inputs[0], *b = call->inputs[1];
    if (is_float(a) && !(grads[0] = shaped_like(grad, a, grad)))
        return false;
    if (is_float(b) && !(grads[1] = shaped_like(em_neg(grad), b, grad)))
        return false;
    return true;
}

EM__GRAD(mul)
{
    em_tensor *a = call->inputs[0], *b = call->inputs[1];
    if (is_float(a) &&
        !(grads[0] =
              shaped_like(em__grad_keep_zeros(grad, em_mul(grad, b)), a, grad)))
        return false;
    if (is_float(b) &&
        !(grads[1] =
              shaped_like(em__grad_keep_zeros(grad, em_mul(grad, a)), b, grad)))
        return false;
    return true;
}

/* y = a / b: dy/da = 1 / b, dy/db = -y / b. */
EM__GRAD(div)
{
    em_tensor *a = call->inputs[0], *b = call->inputs[1];
    if (!is_float(a))
        return true;
    em_tensor *q = em__grad_keep_zeros(grad, em_div(grad, b));
    em_tensor *qy = em__grad_keep_zeros(q, em_mul(q, call->output));
    grads[0] = shaped_like(q, a, grad);
    grads[1] = shaped_like(em_neg(qy), b, grad);
    em_tensor_free(qy);
    return grads[0] && grads[1];
}

/* y = a^b: dy/da = b a^(b-1), taken as 0 where b == 0 (0 * inf at a = 0
 * otherwise); dy/db = log(a) y, taken as 0 where a == 0 (where log(a) is
 * -inf). */
static em_tensor *pow_grad_a(em_tensor *grad, em_tensor *a, em_tensor *b)
{
    em_tensor *zero = constant_like(a, 0);
    em_tensor *b_minus_1 = em_add_scalar(b, -1);
    em_tensor *power = em_pow(a, b_minus_1);
    em_tensor *slope = em_mul(b, power);
    em_tensor *scaled = em__grad_keep_zeros(grad, em_mul(grad, slope));
    em_tensor *b_zero = em_equal(b, zero);
    em_tensor *out = em_where(b_zero, zero, scaled);
    em_tensor_free(b_zero);
    em_tensor_free(scaled);
    em_tensor_free(slope);
    em_tensor_free(power);
    em_tensor_free(b_minus_1);
    em_tensor_free(zero);
    return out;
}

static em_tensor *pow_grad_b(em_tensor *grad, em_tensor *a, em_tensor *y)
{
    em_tensor *zero = constant_like(a, 0);
    em_tensor *one = constant_like(a, 1);
    em_tensor *a_zero = em_equal(a, zero);
    em_tensor *safe_a = em_where(a_zero, one, a);
    em_tensor *log_a = em_log(safe_a);
    em_tensor *slope = em_mul(y, log_a);
    em_tensor *scaled = em__grad_keep_zeros(grad, em_mul(grad, slope));
    em_tensor *out = em_where(a_zero, zero, scaled);
    em_tensor_free(scaled);
    em_tensor_free(slope);
    em_tensor_free(log_a);
    em_tensor_free(safe_a);
    em_tensor_free(a_zero);
    em_tensor_free(one);
    em_tensor_free(zero);
    return out;
}

EM__GRAD(pow)
{
    em_tensor *a = call->inputs[0], *b = call->inputs[1];
    if (!is_float(a))
        return true;
    grads[0] = shaped_like(pow_grad_a(grad, a, b), a, grad);
    grads[1] = shaped_like(pow_grad_b(grad, a, call->output), b, grad);
    return grads[0] && grads[1];
}

/* The gradient goes to the operand that won, split evenly at ties. */
static bool extreme_rule(const em__grad_call *call, em_tensor *grad,
                         em_tensor **grads, bool maximum)
{
    em_tensor *a = call->inputs[0], *b = call->inputs[1];
    if (!is_float(a))
        return true;
    em_tensor *zero = constant_like(grad, 0);
    em_tensor *half = em_mul_scalar(grad, 0.5);
    em_tensor *tie = em_equal(a, b);
    em_tensor *tie_share = em_where(tie, half, zero);
    em_tensor *a_wins = maximum ? em_greater(a, b) : em_less(a, b);
    em_tensor *b_wins = maximum ? em_less(a, b) : em_greater(a, b);
    grads[0] = shaped_like(em_where(a_wins, grad, tie_share), a, grad);
    grads[1] = shaped_like(em_where(b_wins, grad, tie_share), b, grad);
    em_tensor_free(b_wins);
    em_tensor_free(a_wins);
    em_tensor_free(tie_share);
    em_tensor_free(tie);
    em_tensor_free(half);
    em_tensor_free(zero);
    return grads[0] && grads[1];
}

EM__GRAD(maximum)
{
    return extreme_rule(call, grad, grads, true);
}

EM__GRAD(minimum)
{
    return extreme_rule(call, grad, grads, false);
}

/* Only the branch taken gets the gradient, selected rather than masked by
 * multiplication; the condition gets none. */
EM__GRAD(where)
{
    em_tensor *cond = call->inputs[0];
    em_tensor *a = call->inputs[1], *b = call->inputs[2];
    if (!is_float(a))
        return true;
    em_tensor *zero = constant_like(grad, 0);
    grads[1] = shaped_like(em_where(cond, grad, zero), a, grad);
    grads[2] = shaped_like(em_where(cond, zero, grad), b, grad);
    em_tensor_free(zero);
    return grads[1] && grads[2];
}
