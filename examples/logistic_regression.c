/*
 * logistic_regression.c - a probability from a linear score: telling
 * sneakers from ankle boots.
 *
 * The model scores an image x (784 pixels) with z = x . w + b, a number
 * anywhere on the real line called the logit, and reads
 *
 *     p = sigmoid(z) = 1 / (1 + exp(-z))
 *
 * as the probability that the image is an ankle boot. sigmoid maps the real
 * line onto (0, 1) monotonically, and its inverse, log(p / (1 - p)), is the
 * log-odds: the model is linear in the log-odds. We predict "ankle boot"
 * when p > 0.5, that is when z > 0.
 *
 * The loss is the binary cross-entropy, the negative log-likelihood of the
 * labels under those probabilities:
 *     -[y log p + (1 - y) log(1 - p)]
 * em_bce_with_logits takes z rather than p and computes the same quantity
 * as softplus(z) - y z, which never takes the log of a rounded-off 0. Its
 * gradient with respect to z is simply p - y.
 *
 * The tape records the forward pass and em_tape_gradient runs the chain
 * rule back to dL/dw and dL/db; an optimiser (Adam) then updates w and b.
 *
 * Run:  logistic_regression [--data DIR] [--epochs N] [--lr X] [--seed S]
 */
#include <inttypes.h>
#include <stdio.h>

#include <ember.h>

#include "common.h"

enum { NEGATIVE = 7, POSITIVE = 9 }; /* sneaker, ankle boot */

/* [n, 784] -> [n, 1] logits. */
static em_tensor *logits_of(em_tensor *x, em_tensor *w, em_tensor *b)
{
    return em_add(em_matmul(x, w, false, false), b);
}

/* Fraction of rows where (p > 0.5) matches the 0/1 target. */
static em_tensor *accuracy_of(em_tensor *logits, em_tensor *y)
{
    em_tensor *p = em_sigmoid(logits);
    em_tensor *predicted = em_greater(p, em_scalar_f32(0.5f));
    em_tensor *right = em_cast(em_equal(predicted, y), EM_FLOAT32);
    return em_mean(right, 0, NULL, false);
}

static double evaluate(em_tensor *x, em_tensor *y, em_tensor *w, em_tensor *b)
{
    em_scope_begin();
    double accuracy = em_tensor_item(accuracy_of(logits_of(x, w, b), y));
    em_scope_end();
    ex_check("evaluation");
    return accuracy;
}

int main(int argc, char **argv)
{
    const char *data_dir = EX_FASHION_MNIST_DIR;
    int epochs = 5;
    double lr = 0.01;
    uint64_t seed = 3;
    const ex_option options[] = {
        {"data", EX_OPTION_STRING, &data_dir,
         "folder holding the Fashion-MNIST IDX files"},
        {"epochs", EX_OPTION_INT, &epochs, "passes over the training set"},
        {"lr", EX_OPTION_DOUBLE, &lr, "Adam's learning rate"},
        {"seed", EX_OPTION_UINT64, &seed, "seed of the shuffling"},
    };
    ex_options_parse(argc, argv, "Logistic regression: sneaker vs ankle boot.",
                     (int)(sizeof options / sizeof options[0]), options);

    ex_fashion_mnist data;
    if (ex_fashion_mnist_load(data_dir, &data) != 0)
        return 1;
    em_tensor *x, *y, *test_x, *test_y;
    int64_t n = ex_binary_subset(data.train_images, data.train_labels, NEGATIVE,
                                 POSITIVE, &x, &y);
    int64_t n_test = ex_binary_subset(data.test_images, data.test_labels,
                                      NEGATIVE, POSITIVE, &test_x, &test_y);
    ex_check("selecting two classes");
    printf("%s (0) vs %s (1): %" PRId64 " training, %" PRId64
           " test images\n\n",
           ex_fashion_mnist_classes[NEGATIVE],
           ex_fashion_mnist_classes[POSITIVE], n, n_test);

    /* Zero weights are a fine start here: the loss is convex, and a single
     * layer has no symmetry between units to break. */
    em_tensor *w, *b;
    em_scope_begin();
    w = em_variable_new("w", em_zeros(EM_FLOAT32, 2, (int64_t[]){784, 1}),
                        true);
    b = em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){1}), true);
    em_scope_end();
    em_tensor *params[2] = {w, b};
    em_optimizer *opt = em_optimizer_adam(lr, 0.9, 0.999, 1e-8);
    em_batch_iter *batches =
        em_batch_iter_new(2, (em_tensor *const[]){x, y}, 64, true, seed, false);
    ex_check("setting up");

    printf("%5s %9s %9s %9s\n", "epoch", "loss", "train acc", "test acc");
    int64_t steps = em_batch_iter_count(batches);
    for (int epoch = 1; epoch <= epochs; epoch++) {
        double loss_sum = 0;
        int64_t seen = 0;

        for (int64_t step = 0; step < steps; step++) {
            em_tensor *xy[2] = {NULL, NULL};
            em_scope_begin();
            em_batch_iter_next(batches, xy);

            em_tape *tape = em_tape_begin(false);
            em_tensor *loss = em_bce_with_logits(logits_of(xy[0], w, b), xy[1]);
            em_tensor *grads[2] = {NULL, NULL};
            em_tape_gradient(tape, loss, 2, params, grads);
            em_tape_free(tape);
            em_optimizer_apply(opt, 2, grads, params);

            int64_t rows = em_tensor_dim(xy[0], 0);
            loss_sum += em_tensor_item(loss) * (double)rows;
            seen += rows;
            em_scope_end();
            ex_check("training step");
        }
        em_batch_iter_reset(batches);

        printf("%5d %9.4f %9.4f %9.4f\n", epoch, loss_sum / (double)seen,
               evaluate(x, y, w, b), evaluate(test_x, test_y, w, b));
        fflush(stdout);
    }

    /* The model's output read as a probability, on a few test images. */
    enum { SHOW = 8 };
    float probs[SHOW], labels[SHOW];
    em_scope_begin();
    em_tensor *first =
        em_slice(test_x, NULL, (int64_t[]){SHOW, INT64_MAX}, NULL);
    em_tensor_copy_to(em_sigmoid(logits_of(first, w, b)), probs, EM_FLOAT32,
                      sizeof probs);
    em_tensor *first_y =
        em_slice(test_y, NULL, (int64_t[]){SHOW, INT64_MAX}, NULL);
    em_tensor_copy_to(first_y, labels, EM_FLOAT32, sizeof labels);
    em_scope_end();
    ex_check("predicting");

    printf("\nP(%s) for the first test images:\n",
           ex_fashion_mnist_classes[POSITIVE]);
    for (int i = 0; i < SHOW; i++) {
        int truth = labels[i] > 0.5f ? POSITIVE : NEGATIVE;
        int guess = probs[i] > 0.5f ? POSITIVE : NEGATIVE;
        printf("  image %d: p = %.3f -> %-10s (label: %s)%s\n", i, probs[i],
               ex_fashion_mnist_classes[guess], ex_fashion_mnist_classes[truth],
               guess == truth ? "" : "  <- wrong");
    }

    em_batch_iter_free(batches);
    em_optimizer_free(opt);
    em_tensor_free(w);
    em_tensor_free(b);
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(test_x);
    em_tensor_free(test_y);
    ex_fashion_mnist_free(&data);
    ex_check("cleaning up");
    return 0;
}
