/*
 * fashion_mnist_mlp.c - a multi-layer perceptron that classifies
 * Fashion-MNIST clothes, trained with a gradient tape.
 *
 * The model is 784 -> 256 -> 128 -> 10:
 *   h1     = relu(x  @ W1 + b1)     [batch, 784] x [784, 256] -> [batch, 256]
 *   h2     = relu(h1 @ W2 + b2)     [batch, 256] x [256, 128] -> [batch, 128]
 *   logits =      h2 @ W3 + b3      [batch, 128] x [128, 10]  -> [batch, 10]
 * and the loss is softmax cross-entropy: the mean over the batch of
 * -log softmax(logits)[label]. softmax turns the ten scores into
 * probabilities; the loss is small when the right class gets most of them.
 *
 * Why ReLU between the layers: without a non-linearity, three matrix
 * products collapse into one, and the network could draw only linear
 * boundaries. Why He-normal weights (N(0, sqrt(2 / fan_in))): ReLU zeroes
 * half of its inputs, so doubling the variance keeps the activations' scale
 * about the same from layer to layer at the start of training. Biases start
 * at zero.
 *
 * The gradient tape is the chain rule, automated. While the tape records,
 * each op notes its inputs and output; em_tape_gradient then walks the
 * records backwards from the loss, multiplying the gradient that arrives at
 * each output by that op's local derivative (its gradient rule), and sums
 * what reaches each weight. That is backpropagation, and none of it has to
 * be written by hand.
 *
 * Each training step runs inside em_scope_begin / em_scope_end: every
 * temporary (activations, gradients, the batch itself) is released at the
 * end of the step, so memory stays flat however long training runs.
 * Weights are variables, which outlive scopes and are updated in place by
 * the optimiser.
 *
 * With --mode traced, the training step and the evaluation step are
 * wrapped with em_trace_fn (see "Tracing" below train_step_body): the same
 * C functions, run as graphs. Both modes print the same numbers.
 *
 * With --epoch-in-graph, one traced call trains a whole epoch: an
 * em_while_loop inside the graph gathers each batch from the full training
 * tensors and runs the same training step (see "A whole epoch in one call"
 * below train_epoch).
 *
 * With --save PATH, the weights, the optimiser's state and the epoch
 * count are checkpointed to PATH after every epoch; --resume PATH reads
 * them back and training goes on from the next epoch (see "Checkpoints"
 * below train_epoch).
 *
 * With --device cuda, the model, the optimiser's state and each batch
 * live on the GPU (cuda:0): em_set_default_device makes every tensor
 * created afterwards a GPU tensor, and run_step moves each batch there.
 * The data set itself stays on the host. Ops then run on the GPU, and a
 * traced step runs as fused GPU kernels and cuBLAS calls.
 *
 * Run:  fashion_mnist_mlp [--epochs N] [--batch B] [--lr X]
 *                         [--optimizer sgd|momentum|adam]
 *                         [--schedule constant|cosine] [--seed S]
 *                         [--mode eager|traced] [--epoch-in-graph]
 *                         [--device cpu|cuda] [--data DIR] [--json]
 *                         [--save PATH] [--resume PATH]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember.h>

#include "common.h"

enum { NUM_PARAMS = 6 };

typedef struct mlp {
    /* W1, b1, W2, b2, W3, b3: trainable variables. */
    em_tensor *params[NUM_PARAMS];
} mlp;

/* One dense layer's weight [fan_in, fan_out] (He normal) and bias
 * [fan_out] (zeros), as trainable variables. */
static void dense_init(em_rng *rng, int64_t fan_in, int64_t fan_out,
                       const char *name, em_tensor **weight, em_tensor **bias)
{
    char wname[16], bname[16];
    snprintf(wname, sizeof wname, "W%s", name);
    snprintf(bname, sizeof bname, "b%s", name);

    em_scope_begin();
    const int64_t wshape[2] = {fan_in, fan_out};
    *weight = em_variable_new(
        wname, em_init_he_normal(rng, EM_FLOAT32, 2, wshape), true);
    *bias = em_variable_new(bname, em_zeros(EM_FLOAT32, 1, &fan_out), true);
    em_scope_end();
}

static void mlp_init(mlp *m, uint64_t seed)
{
    em_rng *rng = em_rng_new(seed);
    dense_init(rng, 784, 256, "1", &m->params[0], &m->params[1]);
    dense_init(rng, 256, 128, "2", &m->params[2], &m->params[3]);
    dense_init(rng, 128, 10, "3", &m->params[4], &m->params[5]);
    em_rng_free(rng);
}

static void mlp_free(mlp *m)
{
    for (int i = 0; i < NUM_PARAMS; i++)
        em_tensor_free(m->params[i]);
}

/* [batch, 784] images -> [batch, 10] logits. */
static em_tensor *mlp_forward(const mlp *m, em_tensor *x)
{
    em_tensor *const *p = m->params;
    em_tensor *h1 = em_relu(em_add(em_matmul(x, p[0], false, false), p[1]));
    em_tensor *h2 = em_relu(em_add(em_matmul(h1, p[2], false, false), p[3]));
    return em_add(em_matmul(h2, p[4], false, false), p[5]);
}

/* What a step needs besides its inputs: the model and the optimiser. The
 * traced functions reach them through their `user` pointer. */
typedef struct trainer {
    mlp *model;
    em_optimizer *opt;
} trainer;

/* The evaluation step: in[0] images [batch, 784], in[1] labels [batch]
 * -> out[0] the batch's accuracy (a scalar). No tape records here, so the
 * forward pass costs only its arithmetic. */
static int eval_step_body(int n_inputs, em_tensor *const *in, int max_outputs,
                          em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    const trainer *t = user;
    out[0] = em_accuracy(mlp_forward(t->model, in[0]), in[1]);
    return out[0] ? 1 : -1;
}

/* One training step: in[0] images [batch, 784], in[1] labels [batch] ->
 * out[0] the batch's mean loss, out[1] its accuracy (before the update).
 * The forward pass is recorded on a tape, the gradients of the loss with
 * respect to every weight and bias come from it (the chain rule, run
 * backwards over the records), and the optimiser updates the weights. */
static int train_step_body(int n_inputs, em_tensor *const *in, int max_outputs,
                           em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    trainer *t = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *logits = mlp_forward(t->model, in[0]);
    em_tensor *loss = em_softmax_cross_entropy(logits, in[1]);
    em_tensor *grads[NUM_PARAMS] = {NULL};
    int rc = em_tape_gradient(tape, loss, NUM_PARAMS, t->model->params, grads);
    em_tape_free(tape);
    if (rc != 0 ||
        em_optimizer_apply(t->opt, NUM_PARAMS, grads, t->model->params) != 0)
        return -1;
    out[0] = loss;
    out[1] = em_accuracy(logits, in[1]);
    return out[1] ? 2 : -1;
}

/*
 * Tracing. In eager mode every op of a step is dispatched on its own: its
 * arguments are checked, its shape inferred, its result allocated, and the
 * tape records it - about a hundred times per training step. em_trace_fn
 * wraps a C function so that its first call (per input signature) runs the
 * body once with symbolic tensors, recording each op as a node of a graph
 * instead of computing it; the tape and the optimiser inside are traced
 * too. Later calls run that graph directly, with the checks and the
 * bookkeeping already done. The body must stay free of C decisions that
 * depend on tensor values (it reads none here).
 *
 * The weights are variables: a graph reads their current values at every
 * call and the optimiser's assignments happen at every call, so the model
 * trains exactly as in eager mode.
 *
 * The signature's -1 batch dimension accepts any batch size: the smaller
 * last batch of an epoch runs a graph made from the one trace (compiled
 * for its size once), without the warning that a function retracing on
 * ever new shapes would give.
 */
typedef struct step_fns {
    trainer t;
    em_function *train, *eval; /* NULL in eager mode */
    em_function *epoch;        /* --epoch-in-graph only */
    int64_t batch, epoch_steps;
} step_fns;

static void step_fns_init(step_fns *s, mlp *m, em_optimizer *opt, bool traced)
{
    *s = (step_fns){.t = {m, opt}};
    if (!traced)
        return;
    static const em_input_spec signature[2] = {
        {EM_FLOAT32, 2, {-1, 784}}, /* images */
        {EM_INT64, 1, {-1}},        /* labels */
    };
    const em_trace_options train = {
        .name = "train_step", .n_signature = 2, .signature = signature};
    const em_trace_options eval = {
        .name = "eval_step", .n_signature = 2, .signature = signature};
    s->train = em_trace_fn(train_step_body, &s->t, &train);
    s->eval = em_trace_fn(eval_step_body, &s->t, &eval);
}

static void step_fns_free(step_fns *s)
{
    em_function_free(s->train);
    em_function_free(s->eval);
    em_function_free(s->epoch);
}

/* Runs a step: the traced function when there is one, else the body
 * itself, eagerly. Either way the outputs belong to the open scope. The
 * batch iterator yields host tensors: they move to the model's device
 * first (on the host em_tensor_to returns a view, nothing is copied). */
static int run_step(em_function *f, em_traced_body body, void *user,
                    em_tensor *const *batch, int n_out, em_tensor **out)
{
    em_device device = em_get_default_device();
    em_tensor *in[2] = {em_tensor_to(batch[0], device),
                        em_tensor_to(batch[1], device)};
    if (f)
        return em_function_call(f, 2, in, n_out, out);
    return body(2, in, n_out, out, user);
}

/* Accuracy on a whole set, 1000 images at a time. */
static double evaluate(step_fns *s, em_tensor *images, em_tensor *labels)
{
    em_batch_iter *batches = em_batch_iter_new(
        2, (em_tensor *const[]){images, labels}, 1000, false, 0, false);
    int64_t count = em_batch_iter_count(batches);
    double correct = 0;

    for (int64_t i = 0; i < count; i++) {
        em_tensor *xy[2] = {NULL, NULL};
        em_scope_begin();
        em_batch_iter_next(batches, xy);
        em_tensor *accuracy = NULL;
        if (run_step(s->eval, eval_step_body, &s->t, xy, 1, &accuracy) == 1)
            correct +=
                em_tensor_item(accuracy) * (double)em_tensor_dim(xy[0], 0);
        em_scope_end();
    }
    em_batch_iter_free(batches);
    ex_check("evaluation");
    return correct / (double)em_tensor_dim(images, 0);
}

typedef struct epoch_stats {
    double loss, train_accuracy, seconds;
    int64_t examples;
} epoch_stats;

/* One pass over the shuffled training set. Each step runs in its own
 * scope: everything it creates (the batch, activations, gradients) is
 * released at its end, so memory stays flat. */
static epoch_stats train_epoch(step_fns *s, em_batch_iter *batches,
                               ex_progress *progress)
{
    int64_t steps = em_batch_iter_count(batches);
    double loss_sum = 0, correct = 0;
    int64_t seen = 0;
    double start = ex_seconds();

    for (int64_t step = 0; step < steps; step++) {
        em_tensor *xy[2] = {NULL, NULL};
        em_scope_begin();
        em_batch_iter_next(batches, xy);
        em_tensor *out[2] = {NULL, NULL};
        double loss = NAN, accuracy = NAN;
        if (run_step(s->train, train_step_body, &s->t, xy, 2, out) == 2) {
            loss = em_tensor_item(out[0]);
            accuracy = em_tensor_item(out[1]);
        }
        int64_t rows = em_tensor_dim(xy[0], 0);
        em_scope_end();
        ex_check("training step");

        loss_sum += loss * (double)rows;
        correct += accuracy * (double)rows;
        seen += rows;
        ex_progress_update(progress, step + 1, loss_sum / (double)seen);
    }
    em_batch_iter_reset(batches);

    return (epoch_stats){.loss = loss_sum / (double)seen,
                         .train_accuracy = correct / (double)seen,
                         .seconds = ex_seconds() - start,
                         .examples = seen};
}

/*
 * A whole epoch in one call. With --epoch-in-graph the host does not loop
 * over batches at all: one traced function receives the whole training
 * set and this epoch's shuffled order, and an em_while_loop inside its
 * graph runs every step. The loop's variables are the step number and
 * the running sums of loss and accuracy; its body gathers rows
 * [step * batch, (step + 1) * batch) of the order, gathers those images
 * and labels, and calls train_step_body, whose tape and optimiser update
 * the weights inside the loop. The graph's size does not depend on the
 * number of steps, and no call returns to C between them.
 *
 * Every batch has the same shape, so an epoch runs n / batch steps: the
 * n % batch examples left over (different ones each epoch, as the order
 * is reshuffled) wait for a later epoch.
 */
typedef struct epoch_loop {
    step_fns *s;
    em_tensor *images, *labels, *order; /* the call's inputs */
    em_tensor *offsets;                 /* [batch] int64: 0 .. batch - 1 */
} epoch_loop;

/* Loop variables: step [] int64, loss_sum [] and accuracy_sum [] float32. */
static int epoch_cond(int n, em_tensor *const *vars, int max_outputs,
                      em_tensor **out, void *user)
{
    (void)n, (void)max_outputs;
    const epoch_loop *l = user;
    out[0] = em_less(vars[0], em_scalar((double)l->s->epoch_steps, EM_INT64));
    return out[0] ? 1 : -1;
}

static int epoch_body(int n, em_tensor *const *vars, int max_outputs,
                      em_tensor **out, void *user)
{
    (void)n, (void)max_outputs;
    const epoch_loop *l = user;
    em_tensor *start =
        em_mul(vars[0], em_scalar((double)l->s->batch, EM_INT64));
    em_tensor *rows = em_gather(l->order, em_add(l->offsets, start), 0);
    em_tensor *xy[2] = {em_gather(l->images, rows, 0),
                        em_gather(l->labels, rows, 0)};
    em_tensor *step[2] = {NULL, NULL};
    if (train_step_body(2, xy, 2, step, &l->s->t) != 2)
        return -1;
    out[0] = em_add(vars[0], em_scalar(1, EM_INT64));
    out[1] = em_add(vars[1], step[0]);
    out[2] = em_add(vars[2], step[1]);
    return 3;
}

/* in[0] images [n, 784], in[1] labels [n], in[2] the order [n] int64 ->
 * out[0] the epoch's mean loss, out[1] its mean training accuracy. */
static int train_epoch_body(int n_inputs, em_tensor *const *in, int max_outputs,
                            em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    step_fns *s = user;
    epoch_loop l = {s, in[0], in[1], in[2],
                    em_arange(0, (double)s->batch, 1, EM_INT64)};
    em_tensor *start[3] = {em_scalar(0, EM_INT64), em_scalar(0, EM_FLOAT32),
                           em_scalar(0, EM_FLOAT32)};
    em_tensor *sums[3] = {NULL, NULL, NULL};
    if (em_while_loop(epoch_cond, epoch_body, &l, 3, start, sums, NULL) != 0)
        return -1;
    em_tensor *steps = em_scalar((double)s->epoch_steps, EM_FLOAT32);
    out[0] = em_div(sums[1], steps);
    out[1] = em_div(sums[2], steps);
    return out[1] ? 2 : -1;
}

/* The epoch's order: a permutation of [0, n) drawn from seed and epoch
 * (Fisher-Yates), as an int64 tensor owned by the open scope. */
static em_tensor *epoch_order(uint64_t seed, int epoch, int64_t n)
{
    int64_t *order = malloc((size_t)n * sizeof *order);
    em_rng *rng = em_rng_new(seed + (uint64_t)epoch);
    if (!order || !rng) {
        free(order);
        em_rng_free(rng);
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(em_rng_next_u64(rng) % (uint64_t)(i + 1));
        int64_t swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
    em_tensor *t = em_tensor_from_data(order, EM_INT64, 1, &n);
    free(order);
    em_rng_free(rng);
    return t;
}

/* One epoch as one call of the traced epoch function. */
static epoch_stats train_epoch_in_graph(step_fns *s, ex_fashion_mnist *data,
                                        uint64_t seed, int epoch)
{
    int64_t n = em_tensor_dim(data->train_images, 0);
    double start = ex_seconds();
    em_scope_begin();
    em_device device = em_get_default_device();
    em_tensor *in[3] = {em_tensor_to(data->train_images, device),
                        em_tensor_to(data->train_labels, device),
                        epoch_order(seed, epoch, n)};
    em_tensor *out[2] = {NULL, NULL};
    double loss = NAN, accuracy = NAN;
    if (em_function_call(s->epoch, 3, in, 2, out) == 2) {
        loss = em_tensor_item(out[0]);
        accuracy = em_tensor_item(out[1]);
    }
    em_scope_end();
    ex_check("training epoch");
    return (epoch_stats){.loss = loss,
                         .train_accuracy = accuracy,
                         .seconds = ex_seconds() - start,
                         .examples = s->epoch_steps * s->batch};
}

/*
 * Checkpoints. A checkpoint (ember/checkpoint.h) stores variables by name:
 * here the six weights and biases, the optimiser's state (its step count
 * and Adam's moment estimates or the momentum, as em_optimizer_state
 * lists them) and an int64 variable counting the epochs done. Each save
 * writes a new file and renames it over the old one, so a run killed
 * mid-save leaves the previous epoch's checkpoint whole.
 */
enum { MAX_CHECKPOINT_VARS = 32 };

/* Fills vars with what a checkpoint holds; returns how many. */
static int checkpoint_vars(mlp *m, em_optimizer *opt, em_tensor *epochs_done,
                           em_tensor **vars)
{
    int n = 0;
    for (int i = 0; i < NUM_PARAMS; i++)
        vars[n++] = m->params[i];
    vars[n++] = epochs_done;
    int state = em_optimizer_state(opt, MAX_CHECKPOINT_VARS - n, vars + n);
    if (state > MAX_CHECKPOINT_VARS - n) {
        fprintf(stderr, "error: raise MAX_CHECKPOINT_VARS to %d\n", n + state);
        exit(1);
    }
    return n + state;
}

/* Restores a checkpoint and returns the epochs it had done. The optimiser
 * makes its state at each weight's first update; preparing it makes that
 * state now, so that the restore has somewhere to write. */
static int resume(const char *path, mlp *m, em_optimizer *opt,
                  em_tensor *epochs_done)
{
    if (em_optimizer_prepare(opt, NUM_PARAMS, m->params) != 0)
        return -1;

    em_tensor *vars[MAX_CHECKPOINT_VARS];
    int n = checkpoint_vars(m, opt, epochs_done, vars);
    if (em_checkpoint_restore(path, n, vars) != 0)
        return -1;
    return (int)em_tensor_item(epochs_done);
}

static em_optimizer *make_optimizer(const char *name, double lr)
{
    if (strcmp(name, "sgd") == 0)
        return em_optimizer_sgd(lr, 0.0, false);
    if (strcmp(name, "momentum") == 0)
        return em_optimizer_sgd(lr, 0.9, false);
    if (strcmp(name, "adam") == 0)
        return em_optimizer_adam(lr, 0.9, 0.999, 1e-8);
    return NULL;
}

int main(int argc, char **argv)
{
    int epochs = 10;
    int batch = 128;
    double lr = NAN; /* not given: chosen per optimiser below */
    const char *optimizer_name = "adam";
    const char *schedule = "cosine";
    uint64_t seed = 42;
    const char *data_dir = EX_FASHION_MNIST_DIR;
    bool json = false;
    const char *mode = "eager";
    const char *device_name = "cpu";
    const char *save_path = NULL, *resume_path = NULL;
    bool epoch_in_graph = false;

    const ex_option options[] = {
        {"epochs", EX_OPTION_INT, &epochs, "passes over the training set"},
        {"batch", EX_OPTION_INT, &batch, "examples per training step"},
        {"lr", EX_OPTION_DOUBLE, &lr,
         "learning rate (default: 1e-3 for adam, 0.05 for momentum, 0.1 for "
         "sgd)"},
        {"optimizer", EX_OPTION_STRING, &optimizer_name,
         "sgd, momentum (SGD with momentum 0.9) or adam"},
        {"schedule", EX_OPTION_STRING, &schedule,
         "learning rate over the run: constant, or cosine (decays to 0 at "
         "the last step)"},
        {"seed", EX_OPTION_UINT64, &seed,
         "seed of the weights and of the shuffling"},
        {"mode", EX_OPTION_STRING, &mode,
         "eager (ops run one by one) or traced (each step runs as a graph "
         "made by em_trace_fn)"},
        {"epoch-in-graph", EX_OPTION_FLAG, &epoch_in_graph,
         "train each epoch with one traced call, its steps run by an "
         "em_while_loop inside the graph (implies --mode traced)"},
        {"device", EX_OPTION_STRING, &device_name,
         "where the model and each batch live: cpu, or cuda (GPU 0)"},
        {"data", EX_OPTION_STRING, &data_dir,
         "folder holding the Fashion-MNIST IDX files"},
        {"json", EX_OPTION_FLAG, &json,
         "print one JSON object per epoch and a final one"},
        {"save", EX_OPTION_STRING, &save_path,
         "checkpoint the model and the optimiser to this file after every "
         "epoch"},
        {"resume", EX_OPTION_STRING, &resume_path,
         "continue the training saved in this checkpoint"},
    };
    ex_options_parse(argc, argv,
                     "Trains a 784-256-128-10 ReLU network on Fashion-MNIST.",
                     (int)(sizeof options / sizeof options[0]), options);
    if (isnan(lr)) {
        lr = strcmp(optimizer_name, "adam") == 0       ? 1e-3
             : strcmp(optimizer_name, "momentum") == 0 ? 0.05
                                                       : 0.1;
    } else if (!(lr >= 0) || isinf(lr)) {
        fprintf(stderr, "error: learning rate %g is not a finite value >= 0\n",
                lr);
        return 1;
    }
    bool traced = strcmp(mode, "traced") == 0;
    if (!traced && strcmp(mode, "eager") != 0) {
        fprintf(stderr, "error: unknown mode '%s' (eager, traced)\n", mode);
        return 2;
    }
    if (epoch_in_graph) {
        traced = true;
        mode = "epoch-in-graph";
    }
    if (strcmp(schedule, "cosine") != 0 && strcmp(schedule, "constant") != 0) {
        fprintf(stderr, "error: unknown schedule '%s' (constant, cosine)\n",
                schedule);
        return 2;
    }
    if (epochs < 1 || batch < 1) {
        fprintf(stderr, "error: --epochs and --batch must be positive\n");
        return 2;
    }
    em_device device;
    if (em_device_parse(device_name, &device) != 0) {
        fprintf(stderr, "error: --device: %s\n", em_error_last());
        return 2;
    }
    /* From here on every tensor ember creates lives on this device. */
    if (em_set_default_device(device) != 0) {
        fprintf(stderr, "error: --device %s: %s\n", device_name,
                em_error_last());
        return 1;
    }
    if (device != EM_CPU && (save_path || resume_path)) {
        fprintf(stderr, "error: --save and --resume need --device cpu "
                        "(checkpoints read the variables on the host)\n");
        return 2;
    }

    em_optimizer *opt = make_optimizer(optimizer_name, lr);
    if (!opt) {
        fprintf(stderr, "error: unknown optimizer '%s' (sgd, momentum, adam)\n",
                optimizer_name);
        return 2;
    }
    ex_fashion_mnist data;
    if (ex_fashion_mnist_load(data_dir, &data) != 0)
        return 1;
    int64_t n_train = em_tensor_dim(data.train_images, 0);

    mlp model;
    mlp_init(&model, seed);
    ex_check("creating the model");
    em_scope_begin();
    em_tensor *epochs_done =
        em_variable_new("epochs_done", em_scalar(0, EM_INT64), false);
    em_scope_end();
    int first_epoch = 1;
    if (resume_path) {
        first_epoch = resume(resume_path, &model, opt, epochs_done) + 1;
        ex_check("resuming");
    }

    em_batch_iter *batches = em_batch_iter_new(
        2, (em_tensor *const[]){data.train_images, data.train_labels}, batch,
        true, seed, false);
    ex_check("creating the batch iterator");
    step_fns fns;
    step_fns_init(&fns, &model, opt, traced);
    int64_t steps = em_batch_iter_count(batches);
    if (epoch_in_graph) {
        steps = n_train / batch;
        if (steps < 1) {
            fprintf(stderr,
                    "error: --batch %d is larger than the %" PRId64
                    " training images\n",
                    batch, n_train);
            return 2;
        }
        fns.batch = batch;
        fns.epoch_steps = steps;
        /* Compiled before its first call returns: a call is a whole epoch,
         * which would otherwise run in the graph executor while LLVM
         * compiles it in the background. */
        const em_trace_options epoch_options = {.name = "train_epoch",
                                                .jit = EM_JIT_SYNC};
        fns.epoch = em_trace_fn(train_epoch_body, &fns, &epoch_options);
        /* The optimiser's state is made now rather than by its first
         * update, which runs inside the loop body's trace. */
        em_optimizer_prepare(opt, NUM_PARAMS, model.params);
    }
    ex_check("wrapping the steps");
    /* The shuffled order depends on the epoch: catch up with the run. */
    for (int epoch = 1; epoch < first_epoch; epoch++)
        em_batch_iter_reset(batches);

    /* Large steps early make fast progress; small ones late let the
     * weights settle into a minimum instead of rattling around it. */
    if (strcmp(schedule, "cosine") == 0)
        em_optimizer_set_cosine_schedule(opt, steps * epochs, 0.0);

    if (!json) {
        printf("Fashion-MNIST: %" PRId64 " training and %" PRId64
               " test images\n",
               n_train, em_tensor_dim(data.test_images, 0));
        printf("model 784-256-128-10 (ReLU), %s lr %g (%s), batch %d, "
               "%d epochs, %s on %s\n\n",
               optimizer_name, lr, schedule, batch, epochs, mode, device_name);
        printf("%5s %9s %9s %9s %8s %10s\n", "epoch", "loss", "train acc",
               "test acc", "seconds", "examples/s");
    }

    double total_seconds = 0;
    double test_accuracy = 0, train_accuracy = 0;
    for (int epoch = first_epoch; epoch <= epochs; epoch++) {
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", epoch, epochs);
        epoch_stats e;
        if (fns.epoch) {
            e = train_epoch_in_graph(&fns, &data, seed, epoch);
        } else {
            ex_progress progress;
            ex_progress_start(&progress, label, steps, !json);
            e = train_epoch(&fns, batches, &progress);
            ex_progress_finish(&progress);
        }

        total_seconds += e.seconds;
        train_accuracy = e.train_accuracy;
        test_accuracy = evaluate(&fns, data.test_images, data.test_labels);
        double rate = (double)e.examples / e.seconds;
        if (json) {
            printf("{\"epoch\":%d,\"mode\":\"%s\",\"loss\":%.6f,\"train_"
                   "accuracy\":%.6f,"
                   "\"test_accuracy\":%.6f,\"seconds\":%.3f,"
                   "\"examples_per_second\":%.1f}\n",
                   epoch, mode, e.loss, train_accuracy, test_accuracy,
                   e.seconds, rate);
        } else {
            printf("%5d %9.4f %9.4f %9.4f %8.2f %10.0f\n", epoch, e.loss,
                   train_accuracy, test_accuracy, e.seconds, rate);
        }
        fflush(stdout);

        if (save_path) {
            em_scope_begin();
            em_variable_assign(epochs_done, em_scalar(epoch, EM_INT64));
            em_scope_end();
            em_tensor *vars[MAX_CHECKPOINT_VARS];
            int n = checkpoint_vars(&model, opt, epochs_done, vars);
            em_checkpoint_save(save_path, n, vars);
            ex_check("saving the checkpoint");
        }
    }

    if (json) {
        printf("{\"final\":true,\"mode\":\"%s\",\"epochs\":%d,"
               "\"optimizer\":\"%s\","
               "\"lr\":%g,\"schedule\":\"%s\",\"batch\":%d,"
               "\"train_accuracy\":%.6f,\"test_accuracy\":%.6f,"
               "\"seconds\":%.3f}\n",
               mode, epochs, optimizer_name, lr, schedule, batch,
               train_accuracy, test_accuracy, total_seconds);
    } else {
        printf("\ntest accuracy %.4f after %d epochs, %.1f s of training\n",
               test_accuracy, epochs, total_seconds);
    }

    step_fns_free(&fns);
    em_batch_iter_free(batches);
    em_optimizer_free(opt);
    em_tensor_free(epochs_done);
    mlp_free(&model);
    ex_fashion_mnist_free(&data);
    ex_check("cleaning up");
    return 0;
}
