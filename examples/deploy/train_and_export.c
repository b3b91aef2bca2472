/*
 * train_and_export.c - the first half of deploying a model: train a
 * Fashion-MNIST classifier with ember, then export its inference step as
 * an object file and a C header that a program without ember can link
 * (classify.c is that program; run.sh runs both).
 *
 * The model is 784 -> 128 -> 10 with a ReLU, trained with Adam; the
 * training step is traced and compiled as in ../fashion_mnist_mlp.c. The
 * exported function is the forward pass for a batch of 100 images:
 *
 *     logits = relu(x @ W1 + b1) @ W2 + b2     [100, 784] -> [100, 10]
 *
 * with the trained weights embedded. It returns logits, not classes:
 * argmax needs ember's kernels, and taking it in C is one loop.
 *
 * Writes into --out DIR: classifier.o, classifier.h, and the test set as
 * raw little-endian files (test_images.f32: float32 [10000, 784];
 * test_labels.u8: uint8 [10000]) so that the deployed program needs no
 * image decoder. Prints the test accuracy ember measures.
 *
 * Run:  train_and_export --out DIR [--epochs N] [--data DIR] [--seed S]
 */
#include <stdio.h>
#include <stdlib.h>

#include <ember.h>

#include "../common.h"

enum { BATCH = 128, EXPORT_BATCH = 100, HIDDEN = 128 };

typedef struct model {
    em_tensor *params[4]; /* W1, b1, W2, b2 */
    em_optimizer *opt;
} model;

static em_tensor *forward(const model *m, em_tensor *x)
{
    em_tensor *const *p = m->params;
    em_tensor *h = em_relu(em_add(em_matmul(x, p[0], false, false), p[1]));
    return em_add(em_matmul(h, p[2], false, false), p[3]);
}

/* in[0] images [batch, 784], in[1] labels [batch] -> out[0] the loss. */
static int train_step(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max;
    model *m = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *loss = em_softmax_cross_entropy(forward(m, in[0]), in[1]);
    em_tensor *grads[4] = {NULL};
    int rc = em_tape_gradient(tape, loss, 4, m->params, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 4, grads, m->params) != 0)
        return -1;
    out[0] = loss;
    return 1;
}

/* in[0] images [100, 784] -> out[0] logits [100, 10]: what is exported. */
static int logits_step(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    (void)n, (void)max;
    out[0] = forward(user, in[0]);
    return out[0] ? 1 : -1;
}

static void write_raw(const char *dir, const char *name, const void *data,
                      size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "train_and_export: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int epochs = 3;
    uint64_t seed = 1;
    const char *data_dir = EX_FASHION_MNIST_DIR, *out_dir = NULL;
    const ex_option options[] = {
        {"out", EX_OPTION_STRING, &out_dir, "folder for the exported files"},
        {"epochs", EX_OPTION_INT, &epochs, "training epochs"},
        {"data", EX_OPTION_STRING, &data_dir, "Fashion-MNIST IDX folder"},
        {"seed", EX_OPTION_UINT64, &seed, "weights' and shuffling's seed"},
    };
    ex_options_parse(argc, argv,
                     "Trains a Fashion-MNIST classifier and exports it as an "
                     "object file and a C header.",
                     4, options);
    if (!out_dir) {
        fprintf(stderr, "train_and_export: --out DIR is required\n");
        return 2;
    }
    ex_fashion_mnist data;
    if (ex_fashion_mnist_load(data_dir, &data) != 0)
        return 77; /* no data set: nothing to deploy */

    model m = {.opt = em_optimizer_adam(1e-3, 0.9, 0.999, 1e-8)};
    em_rng *rng = em_rng_new(seed);
    em_scope_begin();
    m.params[0] = em_variable_new(
        "W1",
        em_init_he_normal(rng, EM_FLOAT32, 2, (const int64_t[]){784, HIDDEN}),
        true);
    m.params[1] = em_variable_new(
        "b1", em_zeros(EM_FLOAT32, 1, (const int64_t[]){HIDDEN}), true);
    m.params[2] = em_variable_new(
        "W2",
        em_init_he_normal(rng, EM_FLOAT32, 2, (const int64_t[]){HIDDEN, 10}),
        true);
    m.params[3] = em_variable_new(
        "b2", em_zeros(EM_FLOAT32, 1, (const int64_t[]){10}), true);
    em_scope_end();
    em_rng_free(rng);

    /* Train: one traced call per batch (the last, smaller batch is
     * dropped, so one graph serves every step). */
    em_trace_options step_options = {.name = "train_step"};
    em_function *step = em_trace_fn(train_step, &m, &step_options);
    em_batch_iter *batches = em_batch_iter_new(
        2, (em_tensor *const[]){data.train_images, data.train_labels}, BATCH,
        true, seed, true);
    for (int e = 0; e < epochs; e++) {
        double start = ex_seconds(), loss = 0;
        int64_t steps = 0;
        em_tensor *xy[2];
        em_batch_iter_reset(batches);
        while (em_scope_begin(), em_batch_iter_next(batches, xy)) {
            em_tensor *l = NULL;
            if (em_function_call(step, 2, xy, 1, &l) == 1) {
                loss += em_tensor_item(l);
                steps++;
            }
            em_scope_end();
        }
        em_scope_end();
        ex_check("training");
        printf("epoch %d: loss %.4f (%.1f s)\n", e + 1, loss / (double)steps,
               ex_seconds() - start);
    }

    /* Evaluate with ember, in the batches the exported code will see. */
    em_trace_options logits_options = {.name = "logits"};
    em_function *logits = em_trace_fn(logits_step, &m, &logits_options);
    int64_t n_test = em_tensor_dim(data.test_images, 0), correct = 0;
    em_concrete *concrete = NULL;
    em_batch_iter *test = em_batch_iter_new(
        2, (em_tensor *const[]){data.test_images, data.test_labels},
        EXPORT_BATCH, false, 0, false);
    em_tensor *xy[2];
    while (em_scope_begin(), em_batch_iter_next(test, xy)) {
        em_tensor *out = NULL;
        if (em_function_call(logits, 1, xy, 1, &out) == 1) {
            em_tensor *hits = em_sum(
                em_cast(em_equal(em_argmax(out, 1, false), xy[1]), EM_INT64), 0,
                NULL, false);
            correct += (int64_t)em_tensor_item(hits);
        }
        if (!concrete)
            concrete = em_function_concrete(logits, 1, xy);
        em_scope_end();
    }
    em_scope_end();
    ex_check("evaluation");
    printf("ember test accuracy: %.4f (%lld of %lld)\n",
           (double)correct / (double)n_test, (long long)correct,
           (long long)n_test);

    /* Export the inference step and the test set. */
    char object[1024], header[1024];
    snprintf(object, sizeof object, "%s/classifier.o", out_dir);
    snprintf(header, sizeof header, "%s/classifier.h", out_dir);
    em_export_options export = {.symbol = "classifier"};
    if (em_concrete_export(concrete, object, header, &export) != 0) {
        fprintf(stderr, "train_and_export: %s\n", em_error_last());
        return 1;
    }
    write_raw(out_dir, "test_images.f32", em_tensor_data(data.test_images),
              em_tensor_nbytes(data.test_images));
    uint8_t *labels = malloc((size_t)n_test);
    const int64_t *l64 = em_tensor_data(data.test_labels);
    for (int64_t i = 0; i < n_test; i++)
        labels[i] = (uint8_t)l64[i];
    write_raw(out_dir, "test_labels.u8", labels, (size_t)n_test);
    free(labels);
    printf("exported %s and %s\n", object, header);

    em_batch_iter_free(test);
    em_batch_iter_free(batches);
    em_function_free(logits);
    em_function_free(step);
    for (int i = 0; i < 4; i++)
        em_tensor_free(m.params[i]);
    em_optimizer_free(m.opt);
    ex_fashion_mnist_free(&data);
    return 0;
}
