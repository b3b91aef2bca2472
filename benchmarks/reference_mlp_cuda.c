/*
 * benchmarks/reference_mlp_cuda.c - the hand-written GPU training step
 * (see reference_mlp_cuda.h). Every buffer is allocated once, at
 * ref_mlp_cuda_new; a step allocates nothing and only queues work on the
 * model's stream.
 *
 * The arithmetic is reference_mlp.c's:
 *   forward   3 products, bias + ReLU, softmax cross-entropy
 *   backward  dW = h^T d for each layer, dh = d W^T for the two hidden
 *             layers, column sums for the biases (a product with a vector
 *             of ones), the ReLU masks
 *   update    b = mu b + g; w -= lr b   for each of the six tensors
 * Row-major products go to column-major cuBLAS as C^T = B^T A^T, exactly
 * as ember's cuda/matmul.c passes them, so both compute the same numbers.
 */
#include "reference_mlp_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "reference_mlp_cuda_kernels.h"

enum { LAYERS = 3 };

typedef struct layer {
    int in, out;
    float *w, *b;   /* [in, out], [out] */
    float *dw, *db; /* gradients */
    float *mw, *mb; /* momentum buffers */
    float *act;     /* [batch, out]: activations after bias (+ ReLU) */
    float *dact;    /* [batch, out]: gradient at the pre-activation */
} layer;

struct ref_mlp_cuda {
    int64_t batch;
    float lr, momentum;
    cublasComputeType_t compute;
    cudaStream_t stream;
    cublasHandle_t blas;
    layer layers[LAYERS];
    int n_data;
    float **x;        /* per data batch: [batch, in] */
    int64_t **labels; /* per data batch: [batch] */
    float *ones;      /* [batch] */
    float *row_loss;  /* [batch] */
    float *loss;      /* [1] */
    bool failed;      /* a call failed: the message is printed */
};

/* ---- error checks --------------------------------------------------------*/

static bool cuda_ok(ref_mlp_cuda *m, cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return true;
    fprintf(stderr, "reference_mlp_cuda: %s: %s\n", what,
            cudaGetErrorString(e));
    cudaGetLastError();
    if (m)
        m->failed = true;
    return false;
}

static bool blas_ok(ref_mlp_cuda *m, cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return true;
    fprintf(stderr, "reference_mlp_cuda: %s: cuBLAS status %d\n", what, (int)s);
    m->failed = true;
    return false;
}

/* Device memory for n floats (or int64s, with size 8), or NULL. */
static void *device_alloc(ref_mlp_cuda *m, size_t n, size_t size)
{
    void *p = NULL;
    if (!cuda_ok(m, cudaMalloc(&p, n * size), "cudaMalloc"))
        return NULL;
    return p;
}

/* ---- products ------------------------------------------------------------*/

/* Row-major C [rows, cols] = op(A) op(B) with inner dimension k, where
 * A is stored [rows, k] (or [k, rows] when ta) and B [k, cols] (or
 * [cols, k] when tb): cuBLAS computes C^T = op(B)^T op(A)^T. */
static bool gemm(ref_mlp_cuda *m, bool ta, bool tb, int rows, int cols, int k,
                 const float *a, const float *b, float *c)
{
    static const float one = 1.0f, zero = 0.0f;
    int lda = ta ? rows : k, ldb = tb ? k : cols;
    cublasStatus_t s = cublasGemmEx(
        m->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
        cols, rows, k, &one, b, CUDA_R_32F, ldb, a, CUDA_R_32F, lda, &zero, c,
        CUDA_R_32F, cols, m->compute, CUBLAS_GEMM_DEFAULT);
    return blas_ok(m, s, "cublasGemmEx");
}

/* db [cols] = column sums of d [rows, cols]: d^T ones, as one product
 * (column-major d^T is [cols, rows] with leading dimension cols). */
static bool column_sums(ref_mlp_cuda *m, const float *d, int64_t rows, int cols,
                        float *db)
{
    static const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s = cublasSgemv(m->blas, CUBLAS_OP_N, cols, (int)rows, &one,
                                   d, cols, m->ones, 1, &zero, db, 1);
    return blas_ok(m, s, "cublasSgemv");
}

/* ---- the model -----------------------------------------------------------*/

static bool layer_alloc(ref_mlp_cuda *m, layer *L, const float *w0,
                        const float *b0)
{
    size_t wn = (size_t)L->in * (size_t)L->out, bn = (size_t)L->out;
    size_t an = (size_t)m->batch * bn;
    float **wbufs[] = {&L->w, &L->dw, &L->mw};
    float **bbufs[] = {&L->b, &L->db, &L->mb};
    for (int i = 0; i < 3; i++)
        if (!(*wbufs[i] = device_alloc(m, wn, sizeof(float))) ||
            !(*bbufs[i] = device_alloc(m, bn, sizeof(float))))
            return false;
    if (!(L->act = device_alloc(m, an, sizeof(float))) ||
        !(L->dact = device_alloc(m, an, sizeof(float))))
        return false;
    return cuda_ok(
               m,
               cudaMemcpy(L->w, w0, wn * sizeof(float), cudaMemcpyHostToDevice),
               "copying the weights") &&
           cuda_ok(
               m,
               cudaMemcpy(L->b, b0, bn * sizeof(float), cudaMemcpyHostToDevice),
               "copying the biases") &&
           cuda_ok(m, cudaMemset(L->mw, 0, wn * sizeof(float)), "cudaMemset") &&
           cuda_ok(m, cudaMemset(L->mb, 0, bn * sizeof(float)), "cudaMemset");
}

ref_mlp_cuda *ref_mlp_cuda_new(int64_t batch, const int sizes[4],
                               const float *const init[6], int n_data,
                               const float *const *x,
                               const int64_t *const *labels, float lr,
                               float momentum, bool tf32)
{
    ref_mlp_cuda *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->batch = batch;
    m->lr = lr;
    m->momentum = momentum;
    m->compute = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    m->n_data = n_data;
    m->x = calloc((size_t)n_data, sizeof *m->x);
    m->labels = calloc((size_t)n_data, sizeof *m->labels);
    if (!m->x || !m->labels) {
        ref_mlp_cuda_free(m);
        return NULL;
    }
    if (!cuda_ok(m, cudaSetDevice(0), "cudaSetDevice") ||
        !cuda_ok(m,
                 cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking),
                 "cudaStreamCreate") ||
        !blas_ok(m, cublasCreate(&m->blas), "cublasCreate") ||
        !blas_ok(m, cublasSetStream(m->blas, m->stream), "cublasSetStream")) {
        ref_mlp_cuda_free(m);
        return NULL;
    }

    bool ok = true;
    for (int l = 0; l < LAYERS && ok; l++) {
        layer *L = &m->layers[l];
        L->in = sizes[l];
        L->out = sizes[l + 1];
        ok = layer_alloc(m, L, init[2 * l], init[2 * l + 1]);
    }
    size_t xn = (size_t)batch * (size_t)sizes[0];
    for (int k = 0; k < n_data && ok; k++)
        ok = (m->x[k] = device_alloc(m, xn, sizeof(float))) &&
             (m->labels[k] = device_alloc(m, (size_t)batch, sizeof(int64_t))) &&
             cuda_ok(m,
                     cudaMemcpy(m->x[k], x[k], xn * sizeof(float),
                                cudaMemcpyHostToDevice),
                     "copying a batch") &&
             cuda_ok(m,
                     cudaMemcpy(m->labels[k], labels[k],
                                (size_t)batch * sizeof(int64_t),
                                cudaMemcpyHostToDevice),
                     "copying labels");
    ok = ok && (m->ones = device_alloc(m, (size_t)batch, sizeof(float))) &&
         (m->row_loss = device_alloc(m, (size_t)batch, sizeof(float))) &&
         (m->loss = device_alloc(m, 1, sizeof(float)));
    if (ok) {
        ref_cu_fill_ones(m->ones, batch, m->stream);
        ok = cuda_ok(m, cudaStreamSynchronize(m->stream), "filling ones");
    }
    if (!ok) {
        ref_mlp_cuda_free(m);
        return NULL;
    }
    return m;
}

void ref_mlp_cuda_free(ref_mlp_cuda *m)
{
    if (!m)
        return;
    if (m->stream)
        cudaStreamSynchronize(m->stream);
    for (int l = 0; l < LAYERS; l++) {
        layer *L = &m->layers[l];
        float *bufs[] = {L->w,  L->b,  L->dw,  L->db,
                         L->mw, L->mb, L->act, L->dact};
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
            cudaFree(bufs[i]);
    }
    for (int k = 0; m->x && k < m->n_data; k++)
        cudaFree(m->x[k]);
    for (int k = 0; m->labels && k < m->n_data; k++)
        cudaFree(m->labels[k]);
    cudaFree(m->ones);
    cudaFree(m->row_loss);
    cudaFree(m->loss);
    if (m->blas)
        cublasDestroy(m->blas);
    if (m->stream)
        cudaStreamDestroy(m->stream);
    cudaGetLastError();
    free(m->x);
    free(m->labels);
    free(m);
}

/* ---- one step ------------------------------------------------------------*/

/* [batch, in] x [in, out] + [out] -> [batch, out], then ReLU if asked. */
static bool dense_forward(ref_mlp_cuda *m, const float *x, layer *L, bool relu)
{
    if (!gemm(m, false, false, (int)m->batch, L->out, L->in, x, L->w, L->act))
        return false;
    ref_cu_bias_act(L->act, L->b, m->batch, L->out, relu, m->stream);
    return true;
}

/* dW = x^T dact   [in, batch] x [batch, out] -> [in, out]
 * db = column sums of dact. */
static bool dense_backward_params(ref_mlp_cuda *m, const float *x, layer *L)
{
    return gemm(m, true, false, L->in, L->out, (int)m->batch, x, L->dact,
                L->dw) &&
           column_sums(m, L->dact, m->batch, L->out, L->db);
}

/* prev->dact = dact W^T   [batch, out] x [out, in] -> [batch, in], masked
 * by ReLU'(prev), read from prev's output. */
static bool dense_backward_input(ref_mlp_cuda *m, const layer *L, layer *prev)
{
    if (!gemm(m, false, true, (int)m->batch, L->in, L->out, L->dact, L->w,
              prev->dact))
        return false;
    ref_cu_relu_mask(prev->dact, prev->act, m->batch * L->in, m->stream);
    return true;
}

int ref_mlp_cuda_step(ref_mlp_cuda *m, int k)
{
    layer *L = m->layers;
    const float *x = m->x[k % m->n_data];
    const int64_t *labels = m->labels[k % m->n_data];

    bool ok = dense_forward(m, x, &L[0], true) &&
              dense_forward(m, L[0].act, &L[1], true) &&
              dense_forward(m, L[1].act, &L[2], false);
    if (ok) {
        ref_cu_softmax_xent(L[2].act, labels, L[2].dact, m->row_loss, m->batch,
                            L[2].out, m->stream);
        ref_cu_mean(m->row_loss, m->loss, m->batch, m->stream);
    }
    ok = ok && dense_backward_params(m, L[1].act, &L[2]) &&
         dense_backward_input(m, &L[2], &L[1]) &&
         dense_backward_params(m, L[0].act, &L[1]) &&
         dense_backward_input(m, &L[1], &L[0]) &&
         dense_backward_params(m, x, &L[0]);
    for (int l = 0; l < LAYERS && ok; l++) {
        size_t wn = (size_t)L[l].in * (size_t)L[l].out;
        ref_cu_sgd_momentum(L[l].w, L[l].mw, L[l].dw, (int64_t)wn, m->lr,
                            m->momentum, m->stream);
        ref_cu_sgd_momentum(L[l].b, L[l].mb, L[l].db, L[l].out, m->lr,
                            m->momentum, m->stream);
    }
    return ok && cuda_ok(m, cudaGetLastError(), "a kernel launch") ? 0 : -1;
}

float ref_mlp_cuda_finish(ref_mlp_cuda *m)
{
    float loss = NAN;
    if (cuda_ok(m, cudaStreamSynchronize(m->stream), "a step") &&
        cuda_ok(m,
                cudaMemcpy(&loss, m->loss, sizeof loss, cudaMemcpyDeviceToHost),
                "reading the loss"))
        return loss;
    return NAN;
}

int ref_mlp_cuda_param(ref_mlp_cuda *m, int i, float *host, int64_t n)
{
    if (i < 0 || i >= 2 * LAYERS) {
        fprintf(stderr, "reference_mlp_cuda: no parameter %d\n", i);
        return -1;
    }
    const layer *L = &m->layers[i / 2];
    int64_t want = i % 2 ? L->out : (int64_t)L->in * L->out;
    if (n != want) {
        fprintf(stderr,
                "reference_mlp_cuda: parameter %d has %lld values, not "
                "%lld\n",
                i, (long long)want, (long long)n);
        return -1;
    }
    const float *src = i % 2 ? L->b : L->w;
    return cuda_ok(m, cudaStreamSynchronize(m->stream), "a step") &&
                   cuda_ok(m,
                           cudaMemcpy(host, src, (size_t)n * sizeof(float),
                                      cudaMemcpyDeviceToHost),
                           "reading a parameter")
               ? 0
               : -1;
}

void ref_cuda_device_name(char *buf, size_t size)
{
    struct cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) == cudaSuccess)
        snprintf(buf, size, "%s", p.name);
    else
        snprintf(buf, size, "unknown GPU");
    cudaGetLastError();
}
