/*
 * linear_regression.c - fitting y = X w + b by gradient descent, three ways.
 *
 * The data are synthetic so the answer is known: y = X w_true + b_true +
 * noise, with X and the noise drawn from a seeded normal generator.
 *
 * The model is yhat = X w + b, and its output has NO activation: a
 * regression target can be any real number, and a sigmoid or a ReLU on the
 * output would squash or clip the predictions into a range the targets do
 * not respect. The loss is the mean squared error, mean((yhat - y)^2).
 *
 * Gradients come from a tape: the forward pass is recorded while it runs,
 * and em_tape_gradient applies the chain rule backwards through it to give
 * dL/dw and dL/db. For this model they are 2/n X^T (yhat - y) and
 * 2/n sum(yhat - y), but the tape derives them from the ops used, so the
 * same loop works for any model. Each update is plain gradient descent,
 * written out rather than hidden in an optimiser:
 *
 *     w -= lr * dL/dw        b -= lr * dL/db
 *
 * What changes between the three runs is how many examples each gradient
 * looks at:
 *   batch GD     all n examples: the exact gradient, one update per epoch;
 *   stochastic   one example: a noisy gradient, but n updates per epoch;
 *   mini-batch   32 examples: a less noisy gradient, n/32 updates per epoch,
 *                and matrix products big enough to run efficiently.
 * The table shows the loss on the whole data set after each epoch. With the
 * same learning rate, the stochastic and mini-batch runs reach the noise
 * floor within a few epochs, while batch GD is still far from it: per pass
 * over the data it takes one step where the others take many.
 *
 * Run:  linear_regression [--epochs N] [--lr X] [--seed S]
 */
#include <stdio.h>
#include <stdlib.h>

#include <ember.h>

#include "common.h"

enum { N = 1000, D = 4, MAX_EPOCHS = 100 };

static const float w_true[D] = {2.0f, -3.0f, 0.5f, 1.5f};
static const float b_true = 0.7f;
static const double noise_stddev = 0.1;

typedef struct run {
    const char *name;
    int64_t batch;
    double losses[MAX_EPOCHS + 1]; /* whole-set loss, [0] before training */
    float w[D];
    float b;
    double seconds;
} run;

/* Mean squared error of (w, b) on the whole data set. */
static double full_loss(em_tensor *x, em_tensor *y, em_tensor *w, em_tensor *b)
{
    em_scope_begin();
    em_tensor *yhat = em_add(em_matmul(x, w, false, false), b);
    double loss = em_tensor_item(em_mse_loss(yhat, y));
    em_scope_end();
    ex_check("computing the loss");
    return loss;
}

static void train(run *r, em_tensor *x, em_tensor *y, int epochs, double lr,
                  uint64_t seed)
{
    em_tensor *w, *b;
    em_scope_begin();
    w = em_variable_new("w", em_zeros(EM_FLOAT32, 2, (int64_t[]){D, 1}), true);
    b = em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){1}), true);
    em_scope_end();

    bool shuffle = r->batch < N;
    em_batch_iter *it = em_batch_iter_new(2, (em_tensor *const[]){x, y},
                                          r->batch, shuffle, seed, false);
    ex_check("setting up");
    double start = ex_seconds();

    int64_t steps = em_batch_iter_count(it);
    r->losses[0] = full_loss(x, y, w, b);
    for (int epoch = 1; epoch <= epochs; epoch++) {
        for (int64_t step = 0; step < steps; step++) {
            em_tensor *xy[2] = {NULL, NULL};
            em_scope_begin();
            em_batch_iter_next(it, xy);

            /* Record the forward pass... */
            em_tape *tape = em_tape_begin(false);
            em_tensor *yhat = em_add(em_matmul(xy[0], w, false, false), b);
            em_tensor *loss = em_mse_loss(yhat, xy[1]);

            /* ...and let the chain rule run backwards through it. */
            em_tensor *grads[2] = {NULL, NULL};
            em_tape_gradient(tape, loss, 2, (em_tensor *const[]){w, b}, grads);
            em_tape_free(tape);

            em_variable_assign_sub(w, em_mul_scalar(grads[0], lr));
            em_variable_assign_sub(b, em_mul_scalar(grads[1], lr));

            em_scope_end();
            ex_check(r->name);
        }
        em_batch_iter_reset(it);
        r->losses[epoch] = full_loss(x, y, w, b);
    }
    r->seconds = ex_seconds() - start;

    em_tensor_copy_to(w, r->w, EM_FLOAT32, sizeof r->w);
    em_tensor_copy_to(b, &r->b, EM_FLOAT32, sizeof r->b);
    em_batch_iter_free(it);
    em_tensor_free(w);
    em_tensor_free(b);
    ex_check(r->name);
}

int main(int argc, char **argv)
{
    int epochs = 20;
    double lr = 0.05;
    uint64_t seed = 7;
    const ex_option options[] = {
        {"epochs", EX_OPTION_INT, &epochs, "passes over the data (<= 100)"},
        {"lr", EX_OPTION_DOUBLE, &lr, "learning rate, the same for all runs"},
        {"seed", EX_OPTION_UINT64, &seed, "seed of the data and shuffling"},
    };
    ex_options_parse(argc, argv,
                     "Linear regression by batch, stochastic and mini-batch "
                     "gradient descent.",
                     (int)(sizeof options / sizeof options[0]), options);
    if (epochs < 1 || epochs > MAX_EPOCHS) {
        fprintf(stderr, "error: --epochs must be in [1, %d]\n", MAX_EPOCHS);
        return 2;
    }

    /* y = X w_true + b_true + noise. */
    em_rng *rng = em_rng_new(seed);
    em_scope_begin();
    em_tensor *x =
        em_random_normal(rng, 0, 1, EM_FLOAT32, 2, (int64_t[]){N, D});
    em_tensor *wt =
        em_tensor_from_data(w_true, EM_FLOAT32, 2, (int64_t[]){D, 1});
    em_tensor *noise = em_random_normal(rng, 0, noise_stddev, EM_FLOAT32, 2,
                                        (int64_t[]){N, 1});
    em_tensor *y =
        em_add(em_add_scalar(em_matmul(x, wt, false, false), b_true), noise);
    em_scope_keep(x);
    em_scope_keep(y);
    em_scope_end();
    em_rng_free(rng);
    ex_check("making the data");

    printf("%d examples, %d features: y = X w + b + N(0, %g^2) noise\n", N, D,
           noise_stddev);
    printf("learning rate %g for every run; the noise floor (the loss of "
           "the true weights)\nis about %.4f\n\n",
           lr, noise_stddev * noise_stddev);

    static run runs[3] = {
        {.name = "batch GD", .batch = N},
        {.name = "SGD", .batch = 1},
        {.name = "mini-batch", .batch = 32},
    };
    for (int i = 0; i < 3; i++)
        train(&runs[i], x, y, epochs, lr, seed);

    printf("loss on the whole set after each epoch (updates per epoch: %d, "
           "%d, %d)\n\n",
           1, N, (N + 31) / 32);
    printf("%5s %12s %12s %12s\n", "epoch", "batch GD", "SGD (b=1)",
           "mini (b=32)");
    for (int e = 0; e <= epochs; e++)
        printf("%5d %12.5f %12.5f %12.5f\n", e, runs[0].losses[e],
               runs[1].losses[e], runs[2].losses[e]);

    printf("\nWhat to look for: batch GD follows the exact gradient but "
           "moves once per\nepoch, so it descends slowly and smoothly. SGD "
           "moves after every example:\nit reaches the noise floor within "
           "an epoch, then jitters around it, each\nstep chasing one noisy "
           "example. Mini-batches average that noise away and\nsettle "
           "close to the floor almost as fast.\n");

    printf("\nrecovered parameters\n\n%-6s %8s", "", "true");
    for (int i = 0; i < 3; i++)
        printf(" %11s", runs[i].name);
    printf("\n");
    for (int j = 0; j < D; j++) {
        printf("w[%d]   %8.4f", j, w_true[j]);
        for (int i = 0; i < 3; i++)
            printf(" %11.4f", runs[i].w[j]);
        printf("\n");
    }
    printf("b      %8.4f", b_true);
    for (int i = 0; i < 3; i++)
        printf(" %11.4f", runs[i].b);
    printf("\nseconds        ");
    for (int i = 0; i < 3; i++)
        printf(" %11.2f", runs[i].seconds);
    printf("\n");

    em_tensor_free(x);
    em_tensor_free(y);
    ex_check("cleaning up");
    return 0;
}
