/*
 * benchmarks/reference_mlp.c - the hand-written training step (see
 * reference_mlp.h). Every buffer is allocated once, at ref_mlp_new; a step
 * allocates nothing.
 *
 * The arithmetic is the one an eager step must do at least:
 *   forward   3 products, bias + ReLU, softmax cross-entropy
 *   backward  dW = h^T d for each layer, dh = d W^T for the two hidden
 *             layers (not for the input, which needs no gradient),
 *             column sums for the biases, the ReLU masks
 *   update    b = mu b + g; w -= lr b   for each of the six tensors
 */
#include "reference_mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 784, H1 = 256, H2 = 128, OUT = 10, LAYERS = 3 };

static const int fan_in[LAYERS] = {IN, H1, H2};
static const int fan_out[LAYERS] = {H1, H2, OUT};

typedef struct layer {
    float *w, *b;   /* [in, out], [out] */
    float *dw, *db; /* gradients */
    float *mw, *mb; /* momentum buffers */
    float *out;     /* [batch, out]: activations after bias (+ ReLU) */
    float *dout;    /* [batch, out]: gradient at the pre-activation */
} layer;

struct ref_mlp {
    int64_t batch;
    float lr, momentum;
    layer layers[LAYERS];
    float *arena;
};

/* SplitMix64, then Box-Muller: enough for initial weights. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double next_normal(uint64_t *state)
{
    double u1 = ((double)(next_u64(state) >> 11) + 1.0) * 0x1p-53;
    double u2 = (double)(next_u64(state) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

ref_mlp *ref_mlp_new(int64_t batch, uint64_t seed, float lr, float momentum)
{
    size_t floats = 0;
    for (int l = 0; l < LAYERS; l++) {
        size_t wn = (size_t)fan_in[l] * (size_t)fan_out[l];
        floats += 3 * wn + 3 * (size_t)fan_out[l] +
                  2 * (size_t)batch * (size_t)fan_out[l];
    }

    ref_mlp *m = calloc(1, sizeof *m);
    float *arena = calloc(floats, sizeof *arena);
    if (!m || !arena) {
        free(m);
        free(arena);
        return NULL;
    }
    m->batch = batch;
    m->lr = lr;
    m->momentum = momentum;
    m->arena = arena;

    uint64_t state = seed;
    float *p = arena;
    for (int l = 0; l < LAYERS; l++) {
        layer *L = &m->layers[l];
        size_t wn = (size_t)fan_in[l] * (size_t)fan_out[l];
        size_t bn = (size_t)fan_out[l];
        size_t an = (size_t)batch * bn;
        L->w = p, p += wn;
        L->dw = p, p += wn;
        L->mw = p, p += wn;
        L->b = p, p += bn;
        L->db = p, p += bn;
        L->mb = p, p += bn;
        L->out = p, p += an;
        L->dout = p, p += an;

        double std = sqrt(2.0 / fan_in[l]);
        for (size_t i = 0; i < wn; i++)
            L->w[i] = (float)(std * next_normal(&state));
    }
    return m;
}

void ref_mlp_free(ref_mlp *m)
{
    if (!m)
        return;
    free(m->arena);
    free(m);
}

/* [batch, in] x [in, out] + [out] -> [batch, out], then ReLU if asked. */
static void dense_forward(const float *x, layer *L, int64_t batch, int in,
                          int out, int relu)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, out, in,
                1.0f, x, in, L->w, out, 0.0f, L->out, out);
    for (int64_t r = 0; r < batch; r++) {
        float *row = L->out + r * out;
        for (int j = 0; j < out; j++) {
            float v = row[j] + L->b[j];
            row[j] = relu && v < 0.0f ? 0.0f : v;
        }
    }
}

/* [batch, 10] logits -> mean loss; dlogits = (softmax - onehot) / batch. */
static float softmax_xent(const float *logits, const int64_t *labels,
                          float *dlogits, int64_t batch)
{
    double loss = 0;
    float scale = 1.0f / (float)batch;
    for (int64_t r = 0; r < batch; r++) {
        const float *z = logits + r * OUT;
        float *d = dlogits + r * OUT;
        float max = z[0];
        for (int j = 1; j < OUT; j++)
            max = z[j] > max ? z[j] : max;
        float sum = 0;
        for (int j = 0; j < OUT; j++) {
            d[j] = expf(z[j] - max);
            sum += d[j];
        }
        loss += logf(sum) + max - z[labels[r]];
        float inv = scale / sum;
        for (int j = 0; j < OUT; j++)
            d[j] *= inv;
        d[labels[r]] -= scale;
    }
    return (float)(loss / (double)batch);
}

/* Given L->dout [batch, out] and the layer input x [batch, in]:
 * dW = x^T dout   [in, batch] x [batch, out] -> [in, out]
 * db = column sums of dout. */
static void dense_backward_params(const float *x, layer *L, int64_t batch,
                                  int in, int out)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, (int)batch,
                1.0f, x, in, L->dout, out, 0.0f, L->dw, out);
    memset(L->db, 0, (size_t)out * sizeof *L->db);
    for (int64_t r = 0; r < batch; r++) {
        const float *row = L->dout + r * out;
        for (int j = 0; j < out; j++)
            L->db[j] += row[j];
    }
}

/* The gradient at the previous layer's pre-activation:
 * dx = dout W^T   [batch, out] x [out, in] -> [batch, in], masked by
 * ReLU'(prev), read from prev's output (positive exactly where its input
 * was). */
static void dense_backward_input(const layer *L, layer *prev, int64_t batch,
                                 int in, int out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, in, out,
                1.0f, L->dout, out, L->w, out, 0.0f, prev->dout, in);
    size_t n = (size_t)batch * (size_t)in;
    for (size_t i = 0; i < n; i++) {
        if (prev->out[i] <= 0.0f)
            prev->dout[i] = 0.0f;
    }
}

/* b = mu b + g; v -= lr b   (PyTorch's SGD, dampening 0, no Nesterov). */
static void sgd_momentum(float *v, float *buf, const float *g, size_t n,
                         float lr, float mu)
{
    for (size_t i = 0; i < n; i++) {
        buf[i] = mu * buf[i] + g[i];
        v[i] -= lr * buf[i];
    }
}

float ref_mlp_step(ref_mlp *m, const float *x, const int64_t *labels)
{
    layer *L = m->layers;
    int64_t batch = m->batch;

    dense_forward(x, &L[0], batch, IN, H1, 1);
    dense_forward(L[0].out, &L[1], batch, H1, H2, 1);
    dense_forward(L[1].out, &L[2], batch, H2, OUT, 0);
    float loss = softmax_xent(L[2].out, labels, L[2].dout, batch);

    dense_backward_params(L[1].out, &L[2], batch, H2, OUT);
    dense_backward_input(&L[2], &L[1], batch, H2, OUT);
    dense_backward_params(L[0].out, &L[1], batch, H1, H2);
    dense_backward_input(&L[1], &L[0], batch, H1, H2);
    dense_backward_params(x, &L[0], batch, IN, H1);

    for (int l = 0; l < LAYERS; l++) {
        size_t wn = (size_t)fan_in[l] * (size_t)fan_out[l];
        sgd_momentum(L[l].w, L[l].mw, L[l].dw, wn, m->lr, m->momentum);
        sgd_momentum(L[l].b, L[l].mb, L[l].db, (size_t)fan_out[l], m->lr,
                     m->momentum);
    }
    return loss;
}

float *ref_mlp_param(ref_mlp *m, int i, int *ndim, int64_t shape[2])
{
    if (i < 0 || i >= 2 * LAYERS)
        return NULL;
    int l = i / 2;
    if (i % 2 == 0) {
        *ndim = 2;
        shape[0] = fan_in[l];
        shape[1] = fan_out[l];
        return m->layers[l].w;
    }
    *ndim = 1;
    shape[0] = fan_out[l];
    return m->layers[l].b;
}

int ref_blas_threads(void)
{
    return openblas_get_num_threads();
}
