/*
 * benchmarks/mlp_model.c - the mlp-step workloads' model (see
 * mlp_model.h).
 */
#include "mlp_model.h"

#include <math.h>

/* in[0] inputs, in[1] labels -> out[0] the loss, after one update of the
 * weights: the training step of examples/fashion_mnist_mlp.c. */
static int step_body(int n_inputs, em_tensor *const *in, int max_outputs,
                     em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    mlp_model *m = user;
    em_tensor *const *p = m->params;

    em_tape *tape = em_tape_begin(false);
    em_tensor *h1 = em_relu(em_add(em_matmul(in[0], p[0], false, false), p[1]));
    em_tensor *h2 = em_relu(em_add(em_matmul(h1, p[2], false, false), p[3]));
    em_tensor *logits = em_add(em_matmul(h2, p[4], false, false), p[5]);
    em_tensor *loss = em_softmax_cross_entropy(logits, in[1]);
    em_tensor *grads[MLP_PARAMS] = {NULL};
    em_tape_gradient(tape, loss, MLP_PARAMS, p, grads);
    em_tape_free(tape);
    em_optimizer_apply(m->opt, MLP_PARAMS, grads, p);
    out[0] = loss;
    return em_error_pending() ? -1 : 1;
}

/* A host array as a new tensor on device. */
static em_tensor *on_device(const void *data, em_dtype dtype, int ndim,
                            const int64_t *shape, em_device device)
{
    em_tensor *host = em_tensor_from_data(data, dtype, ndim, shape);
    if (device == EM_CPU)
        return host;
    em_tensor *t = em_tensor_to(host, device);
    em_tensor_free(host);
    return t;
}

void mlp_model_init(mlp_model *m, const mlp_start *s, bench_mode mode,
                    em_device device, const char *name)
{
    static const char *const names[MLP_PARAMS] = {"W1", "b1", "W2",
                                                  "b2", "W3", "b3"};
    *m =
        (mlp_model){.n_batches = s->n_batches, .synchronize = device != EM_CPU};
    for (int i = 0; i < MLP_PARAMS; i++) {
        em_tensor *t = on_device(s->params[i], EM_FLOAT32, i % 2 ? 1 : 2,
                                 s->shapes[i], device);
        m->params[i] = em_variable_new(names[i], t, true);
        em_tensor_free(t);
    }
    for (int k = 0; k < s->n_batches; k++) {
        m->x[k] = on_device(s->x[k], EM_FLOAT32, 2,
                            (int64_t[]){s->batch, s->width}, device);
        m->labels[k] = on_device(s->labels[k], EM_INT64, 1, &s->batch, device);
    }
    m->opt = em_optimizer_sgd(s->lr, s->momentum, false);
    m->f = mode == MODE_EAGER ? NULL
                              : bench_trace(step_body, m, name, mode, 0, NULL);
    bench_fail_on_error("mlp-step: setting up the model");
}

void mlp_model_free(mlp_model *m)
{
    em_function_free(m->f);
    for (int i = 0; i < MLP_PARAMS; i++)
        em_tensor_free(m->params[i]);
    for (int k = 0; k < m->n_batches; k++) {
        em_tensor_free(m->x[k]);
        em_tensor_free(m->labels[k]);
    }
    em_optimizer_free(m->opt);
}

em_tensor *mlp_model_step(mlp_model *m)
{
    em_tensor *in[2] = {m->x[m->next], m->labels[m->next]};
    m->next = (m->next + 1) % m->n_batches;
    em_tensor *loss = NULL;
    if (m->f)
        em_function_call(m->f, 2, in, 1, &loss);
    else
        step_body(2, in, 1, &loss, m);
    return loss;
}

void mlp_model_loop(void *model, int64_t iterations)
{
    mlp_model *m = model;
    for (int64_t i = 0; i < iterations; i++) {
        em_scope_begin();
        mlp_model_step(m);
        em_scope_end();
    }
    if (m->synchronize)
        em_cuda_synchronize();
}

void mlp_model_check_traced(const options *o, const mlp_start *s,
                            bench_mode mode, em_device device,
                            const char *workload, const char *case_name)
{
    mlp_model e, g;
    mlp_model_init(&e, s, MODE_EAGER, device, "mlp_step");
    mlp_model_init(&g, s, mode, device, "mlp_step");
    double worst_loss = 0, worst_param = 0;
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        double le = em_tensor_item(mlp_model_step(&e));
        double lg = em_tensor_item(mlp_model_step(&g));
        worst_loss = fmax(worst_loss, fabs(le - lg) / fmax(1.0, fabs(le)));
        em_scope_end();
    }
    for (int i = 0; i < MLP_PARAMS; i++)
        worst_param =
            fmax(worst_param, bench_max_abs_diff(e.params[i], g.params[i]));
    bench_fail_on_error("mlp-step: checking a traced mode against eager");
    mlp_model_free(&g);
    mlp_model_free(&e);
    bench_report_check(o, workload, case_name, bench_mode_name(mode), "eager",
                       worst_loss, worst_param);
}
