/*
 * ember/nn.h - neural-network pieces: softmax, losses, accuracy.
 *
 * Same conventions as ember/ops.h: new tensors owned by the innermost scope,
 * NULL plus a message on bad input. Every loss returns the mean over the
 * batch as a 0-d tensor and stays finite, with finite gradients, for logits
 * as large as +-1e4.
 */
#ifndef EMBER_NN_H
#define EMBER_NN_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* exp(x) / sum(exp(x)) along `axis`, computed from x - max(x). */
em_tensor *em_softmax(em_tensor *x, int axis);
/* x - logsumexp(x) along `axis`. */
em_tensor *em_log_softmax(em_tensor *x, int axis);

/* mean((prediction - target)^2) over every element; shapes broadcast. */
em_tensor *em_mse_loss(em_tensor *prediction, em_tensor *target);

/* Binary cross-entropy on logits (no sigmoid applied by the caller):
 * mean(softplus(z) - y * z), the stable form of
 * -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]. targets in [0, 1],
 * same shape as logits (or broadcastable to it). */
em_tensor *em_bce_with_logits(em_tensor *logits, em_tensor *targets);

/* Softmax cross-entropy on [batch, classes] logits with integer labels
 * [batch] (int32, int64 or uint8, each in [0, classes)). */
em_tensor *em_softmax_cross_entropy(em_tensor *logits, em_tensor *labels);

/* Softmax cross-entropy with a probability distribution per row:
 * mean over rows of -sum(p * log_softmax(logits)); probs shaped like
 * logits. */
em_tensor *em_softmax_cross_entropy_probs(em_tensor *logits, em_tensor *probs);

/* Fraction of rows whose argmax over the last axis equals the label:
 * a float32 0-d tensor. No gradient. A label outside [0, classes) is an
 * error, as for em_softmax_cross_entropy. */
em_tensor *em_accuracy(em_tensor *logits, em_tensor *labels);

#ifdef __cplusplus
}
#endif
#endif
