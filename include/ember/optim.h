/*
 * ember/optim.h - optimisers, learning-rate schedules, gradient clipping.
 *
 * An optimiser updates a list of variables from a list of gradients in one
 * call, every variable from the gradients of the same step. Its state
 * (momentum, moment estimates) lives in non-trainable variables created at
 * the first update of each variable. The formulas follow PyTorch's
 * torch.optim (and Keras where PyTorch has no equivalent):
 *   SGD:      b = mu*b + g;  v -= lr*(g + mu*b) with Nesterov, lr*b without
 *             (plain v -= lr*g when mu = 0)
 *   Adam:     m = b1*m + (1-b1)*g;  s = b2*s + (1-b2)*g^2;
 *             v -= lr * (m/(1-b1^t)) / (sqrt(s/(1-b2^t)) + eps)
 *   AdamW:    v -= lr*wd*v first, then the Adam step
 *   RMSprop:  s = rho*s + (1-rho)*g^2;  b = mu*b + g/(sqrt(s)+eps);
 *             v -= lr*b   (v -= lr*g/(sqrt(s)+eps) when mu = 0)
 * Ownership: each _new result is released with em_optimizer_free, which
 * also releases the state variables.
 */
#ifndef EMBER_OPTIM_H
#define EMBER_OPTIM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct em_optimizer em_optimizer;

em_optimizer *em_optimizer_sgd(double lr, double momentum, bool nesterov);
em_optimizer *em_optimizer_adam(double lr, double beta1, double beta2,
                                double epsilon);
em_optimizer *em_optimizer_adamw(double lr, double beta1, double beta2,
                                 double epsilon, double weight_decay);
em_optimizer *em_optimizer_rmsprop(double lr, double rho, double momentum,
                                   double epsilon);
void em_optimizer_free(em_optimizer *opt);

/* Updates vars[i] with grads[i]. A NULL gradient leaves its variable alone.
 * Returns 0, or -1 with an error (nothing updated) when a variable is not a
 * float variable or a gradient's shape differs from its variable's. */
int em_optimizer_apply(em_optimizer *opt, int n, em_tensor *const *grads,
                       em_tensor *const *vars);

/* Learning rate as a function of the step (0 for the first update). */
typedef double (*em_lr_schedule)(int64_t step, double base_lr, void *user);
/* Installs a schedule (NULL: constant, the default). */
void em_optimizer_set_schedule(em_optimizer *opt, em_lr_schedule schedule,
                               void *user);
/* lr * gamma^(step / every). */
void em_optimizer_set_step_schedule(em_optimizer *opt, int64_t every,
                                    double gamma);
/* Cosine decay from lr to min_lr over total_steps, then min_lr. */
void em_optimizer_set_cosine_schedule(em_optimizer *opt, int64_t total_steps,
                                      double min_lr);
/* Rate the next update will use. */
double em_optimizer_learning_rate(const em_optimizer *opt);
/* Updates applied so far. */
int64_t em_optimizer_steps(const em_optimizer *opt);
/* Clips gradients by their global norm before every update (0: off). */
void em_optimizer_set_clip_norm(em_optimizer *opt, double max_norm);

/* Scales all gradients by max_norm / max(global_norm, max_norm), where the
 * global norm is sqrt of the sum of every element squared; writes new
 * tensors into clipped[i] (NULL stays NULL) and the norm before clipping
 * into *global_norm when not NULL. Returns 0 or -1. */
int em_clip_by_global_norm(int n, em_tensor *const *grads, double max_norm,
                           em_tensor **clipped, double *global_norm);

#ifdef __cplusplus
}
#endif
#endif
