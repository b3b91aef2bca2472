/*
 * perceptron.c - Rosenblatt's perceptron (1958), the first learning
 * machine, and the problem it cannot solve.
 *
 * A perceptron scores an input x with weights w and a bias b and answers
 * with a step: yhat = step(w . x + b), 1 when the score is positive, else 0.
 * Its learning rule needs no derivatives. Show it one example at a time;
 * when it answers wrongly, move the weights toward the right answer:
 *
 *     w += lr * (y - yhat) * x        b += lr * (y - yhat)
 *
 * (y - yhat) is 0 when the answer is right, so nothing changes; +1 when it
 * said 0 for a 1, so x is added and the score of x goes up; -1 the other way
 * round. The step has no useful gradient (it is flat everywhere), which is
 * why this rule, not a gradient tape, is the point here.
 *
 * The convergence theorem: if some line (hyperplane) separates the two
 * classes, the rule makes only finitely many mistakes and then stops
 * changing. Part 1 shows it on two Fashion-MNIST classes that a hyperplane
 * in pixel space separates: T-shirts and ankle boots. Part 2 shows the limit
 * found by Minsky and Papert (1969): XOR's four points cannot be split by any
 * line, so the mistakes never stop. Hidden layers fix that (see
 * fashion_mnist_mlp.c).
 *
 * Run:  perceptron [--data DIR] [--epochs N] [--seed S]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <ember.h>

#include "common.h"

typedef struct perceptron {
    em_tensor *w; /* [1, d] variable */
    em_tensor *b; /* [1] variable */
} perceptron;

static perceptron perceptron_new(int64_t d)
{
    perceptron p;
    em_scope_begin();
    p.w =
        em_variable_new("w", em_zeros(EM_FLOAT32, 2, (int64_t[]){1, d}), false);
    p.b = em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){1}), false);
    em_scope_end();
    return p;
}

static void perceptron_free(perceptron *p)
{
    em_tensor_free(p->w);
    em_tensor_free(p->b);
}

/* [n, d] inputs -> [n, 1] answers, 0 or 1. */
static em_tensor *perceptron_predict(const perceptron *p, em_tensor *x)
{
    return em_step(em_add(em_matmul(x, p->w, false, true), p->b));
}

/* Fisher-Yates shuffle of order[0..n-1]. */
static void shuffle(int64_t *order, int64_t n, em_rng *rng)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(em_rng_next_u64(rng) % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* One pass of the perceptron rule over x [n, d] with 0/1 targets y[n], in
 * a fresh random order (order holds a permutation of 0..n-1). Returns the
 * number of mistakes made on the way. */
static int64_t perceptron_epoch(perceptron *p, em_tensor *x, const float *y,
                                int64_t n, int64_t *order, em_rng *rng,
                                double lr)
{
    int64_t mistakes = 0;

    shuffle(order, n, rng);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = order[k];
        em_scope_begin();

        /* Example i as a [1, d] row. */
        em_tensor *xi =
            em_slice(x, (int64_t[]){i, 0}, (int64_t[]){i + 1, INT64_MAX}, NULL);
        double yhat = em_tensor_item(perceptron_predict(p, xi));
        double error = y[i] - yhat;

        if (error != 0) {
            mistakes++;
            em_variable_assign_add(p->w, em_mul_scalar(xi, lr * error));
            em_variable_assign_add(p->b, em_scalar_f32((float)(lr * error)));
        }
        em_scope_end();
        ex_check("perceptron step");
    }
    return mistakes;
}

/* Fraction of rows of x whose answer equals y ([n, 1] 0/1 targets). */
static double perceptron_accuracy(const perceptron *p, em_tensor *x,
                                  em_tensor *y)
{
    em_scope_begin();
    em_tensor *right =
        em_cast(em_equal(perceptron_predict(p, x), y), EM_FLOAT32);
    double accuracy = em_tensor_item(em_mean(right, 0, NULL, false));
    em_scope_end();
    ex_check("accuracy");
    return accuracy;
}

/* Reads the [n, 1] targets into a new C array. */
static float *targets_to_array(em_tensor *y)
{
    int64_t n = em_tensor_size(y);
    float *out = malloc((size_t)n * sizeof *out);
    if (!out || em_tensor_copy_to(y, out, EM_FLOAT32, (size_t)n * 4) != 0) {
        fprintf(stderr, "error: reading targets\n");
        exit(1);
    }
    return out;
}

static int64_t *identity_order(int64_t n)
{
    int64_t *order = malloc((size_t)n * sizeof *order);
    if (!order) {
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    return order;
}

/* Part 1: T-shirts/tops (class 0) against ankle boots (class 9). */
static void fashion_part(const char *data_dir, int max_epochs, em_rng *rng)
{
    const int negative = 0, positive = 9;
    ex_fashion_mnist data;
    if (ex_fashion_mnist_load(data_dir, &data) != 0)
        exit(1);

    em_tensor *x, *y, *test_x, *test_y;
    int64_t n = ex_binary_subset(data.train_images, data.train_labels, negative,
                                 positive, &x, &y);
    ex_binary_subset(data.test_images, data.test_labels, negative, positive,
                     &test_x, &test_y);
    ex_check("selecting two classes");
    printf("Part 1: %s (0) vs %s (1), %" PRId64 " training images of 784 "
           "pixels\n\n",
           ex_fashion_mnist_classes[negative],
           ex_fashion_mnist_classes[positive], n);

    float *targets = targets_to_array(y);
    int64_t *order = identity_order(n);
    perceptron p = perceptron_new(784);

    printf("%5s %9s\n", "epoch", "mistakes");
    int64_t mistakes = -1;
    int epoch = 0;
    while (epoch < max_epochs && mistakes != 0) {
        epoch++;
        mistakes = perceptron_epoch(&p, x, targets, n, order, rng, 1.0);
        printf("%5d %9" PRId64 "\n", epoch, mistakes);
        fflush(stdout);
    }
    if (mistakes == 0)
        printf("\nConverged: a whole pass with no mistake after %d epochs. "
               "The two classes\nare linearly separable, as the "
               "convergence theorem needs.\n",
               epoch);
    else
        printf("\nStopped at the limit of %d epochs with %" PRId64
               " mistakes in the last pass;\nthe rule settles only after "
               "a clean pass (try more --epochs).\n",
               epoch, mistakes);
    printf("training accuracy %.4f, test accuracy %.4f\n\n",
           perceptron_accuracy(&p, x, y),
           perceptron_accuracy(&p, test_x, test_y));

    perceptron_free(&p);
    free(order);
    free(targets);
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(test_x);
    em_tensor_free(test_y);
    ex_fashion_mnist_free(&data);
}

/* Trains on the four points of a two-input truth table; returns the
 * fewest mistakes seen in any epoch and prints the first epochs'. */
static int64_t truth_table(const char *name, const float *truth, int epochs,
                           em_rng *rng)
{
    static const float inputs[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    em_tensor *x =
        em_tensor_from_data(inputs, EM_FLOAT32, 2, (int64_t[]){4, 2});
    em_tensor *y = em_tensor_from_data(truth, EM_FLOAT32, 2, (int64_t[]){4, 1});
    int64_t order[4] = {0, 1, 2, 3};
    perceptron p = perceptron_new(2);
    int64_t fewest = 4;
    int first_clean = 0;

    printf("%-3s mistakes per epoch:", name);
    for (int epoch = 1; epoch <= epochs; epoch++) {
        int64_t m = perceptron_epoch(&p, x, truth, 4, order, rng, 1.0);
        if (m < fewest)
            fewest = m;
        if (m == 0 && !first_clean)
            first_clean = epoch;
        if (epoch <= 12)
            printf(" %" PRId64, m);
    }
    printf(" ...\n");

    em_scope_begin();
    float answers[4];
    em_tensor_copy_to(perceptron_predict(&p, x), answers, EM_FLOAT32,
                      sizeof answers);
    em_scope_end();
    ex_check(name);
    printf("    after %d epochs:", epochs);
    for (int i = 0; i < 4; i++)
        printf("  %g,%g -> %g (want %g)", inputs[2 * i], inputs[2 * i + 1],
               answers[i], truth[i]);
    printf("\n");
    if (first_clean)
        printf("    learned: first pass without a mistake at epoch %d\n\n",
               first_clean);

    perceptron_free(&p);
    em_tensor_free(x);
    em_tensor_free(y);
    return fewest;
}

int main(int argc, char **argv)
{
    const char *data_dir = EX_FASHION_MNIST_DIR;
    int epochs = 50;
    uint64_t seed = 1;
    const ex_option options[] = {
        {"data", EX_OPTION_STRING, &data_dir,
         "folder holding the Fashion-MNIST IDX files"},
        {"epochs", EX_OPTION_INT, &epochs,
         "most passes over the two Fashion-MNIST classes"},
        {"seed", EX_OPTION_UINT64, &seed, "seed of the example order"},
    };
    ex_options_parse(argc, argv,
                     "Rosenblatt's perceptron: learns two separable "
                     "Fashion-MNIST classes, fails on XOR.",
                     (int)(sizeof options / sizeof options[0]), options);

    em_rng *rng = em_rng_new(seed);
    fashion_part(data_dir, epochs, rng);

    const int xor_epochs = 1000;
    printf("Part 2: truth tables of two inputs, %d epochs each\n\n",
           xor_epochs);
    static const float and_truth[4] = {0, 0, 0, 1};
    static const float xor_truth[4] = {0, 1, 1, 0};
    truth_table("AND", and_truth, xor_epochs, rng);
    int64_t fewest = truth_table("XOR", xor_truth, xor_epochs, rng);
    if (fewest > 0)
        printf("    XOR never learned: at least %" PRId64 " mistake(s) in "
               "every one of %d epochs.\n    No line separates "
               "{(0,1), (1,0)} from {(0,0), (1,1)}, so a single-layer\n"
               "    perceptron cannot represent XOR; a hidden layer can.\n",
               fewest, xor_epochs);
    else
        printf("    unexpected: XOR was learned\n");

    em_rng_free(rng);
    ex_check("cleaning up");
    return fewest > 0 ? 0 : 1;
}
