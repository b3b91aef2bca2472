/*
 * benchmarks/mlp_model.h - the three-layer ReLU MLP that the mlp-step
 * workloads train (SGD with momentum, softmax cross-entropy), as ember
 * runs it: eagerly or through a traced step, on the CPU or a GPU. The
 * CPU workload (bench_mlp.c) and the GPU one (bench_mlp_cuda.c) differ in
 * sizes and references, not in the step.
 */
#ifndef EMBER_BENCH_MLP_MODEL_H
#define EMBER_BENCH_MLP_MODEL_H

#include "bench.h"

enum { MLP_PARAMS = 6, MLP_MAX_BATCHES = 8 };

/* What every mode starts from, on the host: the weights W1, b1, W2, b2,
 * W3, b3 (biases one-dimensional) and batches of inputs [batch, width]
 * and int64 labels [batch]. Borrowed: mlp_model_init copies them. */
typedef struct mlp_start {
    const float *params[MLP_PARAMS];
    int64_t shapes[MLP_PARAMS][2];
    int n_batches; /* at most MLP_MAX_BATCHES */
    int64_t batch, width;
    const float *const *x;
    const int64_t *const *labels;
    double lr, momentum;
} mlp_start;

typedef struct mlp_model {
    em_tensor *params[MLP_PARAMS]; /* variables on the model's device */
    em_optimizer *opt;
    em_tensor *x[MLP_MAX_BATCHES], *labels[MLP_MAX_BATCHES];
    int n_batches, next;
    em_function *f;   /* the traced step, or NULL for eager */
    bool synchronize; /* timed loops wait for the GPU before they end */
} mlp_model;

/* The model of one mode (eager, graph or jit) on device, its traced step
 * named `name`; exits with a message if ember fails. */
void mlp_model_init(mlp_model *m, const mlp_start *s, bench_mode mode,
                    em_device device, const char *name);
void mlp_model_free(mlp_model *m);

/* One step on the next batch; the loss belongs to the open scope. */
em_tensor *mlp_model_step(mlp_model *m);

/* A bench_case's fn: iterations steps, each in a scope of its own. */
void mlp_model_loop(void *model, int64_t iterations);

/* Three steps of a traced mode and of eager from s on device: reports how
 * far the losses and the weights after them are apart. */
void mlp_model_check_traced(const options *o, const mlp_start *s,
                            bench_mode mode, em_device device,
                            const char *workload, const char *case_name);

#endif
