/*
 * ember/tape.h - gradient tapes (reverse-mode automatic differentiation).
 *
 * While a tape records, every op whose inputs include a watched tensor is
 * recorded, and its output becomes watched. Trainable variables are watched
 * automatically. Tapes nest: the gradient computation of an inner tape is
 * itself made of ops, which an outer tape records, so the outer tape can
 * differentiate a gradient (second derivatives, Hessian-vector products).
 *
 * Ownership: a tape is released with em_tape_free. Gradients it returns are
 * new tensors owned like any op result (innermost scope, or the caller). A
 * tape keeps the tensors it recorded alive until it is freed (or, when not
 * persistent, until its gradient has been computed).
 *
 * Variables assigned between recording and em_tape_gradient give gradients
 * for the new values, as in PyTorch without its version check: compute
 * gradients before updating.
 */
#ifndef EMBER_TAPE_H
#define EMBER_TAPE_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct em_tape em_tape;

/* Starts a tape recording on this thread. A persistent tape allows several
 * gradient calls; a non-persistent one releases its records after the
 * first. NULL only when out of memory. */
em_tape *em_tape_begin(bool persistent);

/* Records ops on t (and what is computed from it) from now on. */
void em_tape_watch(em_tape *tape, em_tensor *t);

/* Stops recording; the tape keeps what it recorded. */
void em_tape_stop(em_tape *tape);

/* Stops recording if still recording, releases the records and the tape. */
void em_tape_free(em_tape *tape);

/* d target / d sources[i] into grads[i], for a target with one element.
 * Stops the tape's recording first. A source the target does not depend on
 * gets NULL. Returns 0, or -1 with an error (grads all NULL) when the target
 * is not a one-element tensor, the tape was not persistent and already
 * used, or an op on the path has no gradient. */
int em_tape_gradient(em_tape *tape, em_tensor *target, int n,
                     em_tensor *const *sources, em_tensor **grads);

typedef struct em_gradient_options {
    /* Gradient of the target itself, shaped like it (a vector-Jacobian
     * product). When NULL, the target must have one element. */
    em_tensor *output_gradient;
    /* Give zeros, not NULL, for sources the target does not depend on. */
    bool unconnected_zeros;
} em_gradient_options;

/* em_tape_gradient with options (options may be NULL). */
int em_tape_gradient_ex(em_tape *tape, em_tensor *target, int n,
                        em_tensor *const *sources, em_tensor **grads,
                        const em_gradient_options *options);

/* True when a tape records on this thread now. */
bool em_tape_is_recording(void);

/* ---- user-defined gradients ---------------------------------------------*/

/* Computes the output from n inputs; returns a new tensor (or NULL). */
typedef em_tensor *(*em_forward_fn)(int n, em_tensor *const *inputs,
                                    void *user);
/* Fills input_grads[i] (NULL for none) from the output's gradient, using
 * ember ops, so that the rule itself can be differentiated. Returns 0 or -1
 * on failure. */
typedef int (*em_backward_fn)(int n, em_tensor *const *inputs,
                              em_tensor *output, em_tensor *output_grad,
                              em_tensor **input_grads, void *user);

/* Runs forward(inputs) with recording paused, and records one entry whose
 * gradient is backward (like tf.custom_gradient). `user` must outlive every
 * tape that records the entry. */
em_tensor *em_custom_gradient(em_forward_fn forward, em_backward_fn backward,
                              void *user, int n, em_tensor *const *inputs);

/* ---- checking gradients -------------------------------------------------*/

typedef em_tensor *(*em_scalar_fn)(int n, em_tensor *const *inputs, void *user);

/* Compares the tape gradient of fn (a one-element output) with central
 * finite differences computed in float64 (inputs are converted to float64
 * for the check). Returns the largest error over all inputs and elements,
 * |tape - numeric| / max(1, |numeric|); a negative value when fn fails. */
double em_gradient_check(em_scalar_fn fn, void *user, int n,
                         em_tensor *const *inputs, double epsilon);

#ifdef __cplusplus
}
#endif
#endif
