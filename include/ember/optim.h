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
 * Adam's t counts the steps since the variable's first update (1 at that
 * update).
 *
 * Tracing: the step count is a variable and the update, the bias
 * corrections, clipping and the built-in schedules are all ops on it, so a
 * training step traced with em_trace_fn (ember/trace.h) replays them
 * correctly at every call. A user schedule callback is C code: inside a
 * traced function it runs once, at trace time, and its rate is frozen in
 * the trace (a warning says so when it happens).
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
/* Installs a schedule (NULL: constant, the default). The callback is asked
 * on the host at each apply; when apply runs inside a function being
 * traced it is asked once, its value is frozen into the trace for every
 * later call, and a warning is logged. Prefer the built-in schedules
 * below in traced steps: they are computed with ops and replay right. */
void em_optimizer_set_schedule(em_optimizer *opt, em_lr_schedule schedule,
                               void *user);
/* lr * gamma^(step / every), the division truncating. Traceable. */
void em_optimizer_set_step_schedule(em_optimizer *opt, int64_t every,
                                    double gamma);
/* Cosine decay from lr to min_lr over total_steps, then min_lr:
 * min_lr + (lr - min_lr)/2 * (1 + cos(pi * min(step / total_steps, 1))).
 * Traceable. */
void em_optimizer_set_cosine_schedule(em_optimizer *opt, int64_t total_steps,
                                      double min_lr);
/* Rate the next update will use (read from the step count, so right after
 * traced updates too; a user callback is asked). */
double em_optimizer_learning_rate(const em_optimizer *opt);
/* Updates applied so far, eager or traced. */
int64_t em_optimizer_steps(const em_optimizer *opt);
/* Creates now, as zeros, the state the optimiser would otherwise create at
 * each variable's first update, so that a checkpoint of it can be restored
 * into a fresh optimiser (em_optimizer_state lists it). Variables already
 * known are left alone. Returns 0, or -1 with an error when an entry is
 * not a float variable. */
int em_optimizer_prepare(em_optimizer *opt, int n, em_tensor *const *vars);

/* The optimiser's state, for checkpoints (ember/checkpoint.h): writes
 * into variables[] the step count ("optimizer/steps", int64 scalar) and
 * then the state of every variable updated so far, named after it:
 * "<name>/sgd_momentum", "<name>/adam_m" and "<name>/adam_v" (Adam and
 * AdamW), "<name>/rmsprop_square_average" and "<name>/rmsprop_momentum".
 * The state is made at a variable's first update, so restore into an
 * optimiser that has updated the same variables: a fresh one given zero
 * gradients for all of them once, before the restore sets the step
 * count back (Adam's bias correction counts from that first update's
 * step, which a checkpoint does not hold). The variables
 * belong to the optimiser: do not free them. Returns how many there are;
 * when that exceeds capacity nothing is written (capacity 0 asks the
 * count). -1 with an error when opt is NULL, capacity < 0, or variables
 * is NULL with capacity > 0. */
int em_optimizer_state(const em_optimizer *opt, int capacity,
                       em_tensor **variables);
/* Clips gradients by their global norm before every update (0: off). */
void em_optimizer_set_clip_norm(em_optimizer *opt, double max_norm);

/* Scales all gradients by max_norm / max(global_norm, max_norm), where the
 * global norm is sqrt of the sum of every element squared; writes new
 * tensors into clipped[i] (NULL stays NULL) and the norm before clipping
 * into *global_norm when not NULL. Returns 0, or -1 with an error and
 * every clipped[i] NULL. */
int em_clip_by_global_norm(int n, em_tensor *const *grads, double max_norm,
                           em_tensor **clipped, double *global_norm);

#ifdef __cplusplus
}
#endif
#endif
