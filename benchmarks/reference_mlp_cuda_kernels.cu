/*
 * benchmarks/reference_mlp_cuda_kernels.cu - the elementwise and row
 * kernels of the hand-written GPU step: what cuBLAS does not do. Grid-stride
 * loops of 256 threads, as a careful CUDA programmer writes them.
 */
#include "reference_mlp_cuda_kernels.h"

#define THREADS 256

static unsigned blocks_for(int64_t n)
{
    int64_t b = (n + THREADS - 1) / THREADS;
    if (b < 1)
        b = 1;
    return (unsigned)(b > 65535 * 8 ? 65535 * 8 : b);
}

#define FOR_EACH(i, n)                                                         \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n);  \
         i += (int64_t)gridDim.x * blockDim.x)

__global__ static void bias_act_kernel(float *out, const float *bias,
                                       int64_t n, int cols, bool relu)
{
    FOR_EACH(i, n)
    {
        float v = out[i] + bias[i % cols];
        out[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

void ref_cu_bias_act(float *out, const float *bias, int64_t rows, int cols,
                     bool relu, cudaStream_t stream)
{
    int64_t n = rows * cols;
    bias_act_kernel<<<blocks_for(n), THREADS, 0, stream>>>(out, bias, n, cols,
                                                           relu);
}

/* One thread per row: the rows are short (the classes). */
__global__ static void softmax_xent_kernel(const float *logits,
                                           const int64_t *labels, float *d,
                                           float *row_loss, int64_t rows,
                                           int classes)
{
    float scale = 1.0f / (float)rows;
    FOR_EACH(r, rows)
    {
        const float *z = logits + r * classes;
        float *dr = d + r * classes;
        float max = z[0];
        for (int j = 1; j < classes; j++)
            max = fmaxf(max, z[j]);
        float sum = 0.0f;
        for (int j = 0; j < classes; j++) {
            dr[j] = expf(z[j] - max);
            sum += dr[j];
        }
        int64_t label = labels[r];
        row_loss[r] = logf(sum) + max - z[label];
        float inv = scale / sum;
        for (int j = 0; j < classes; j++)
            dr[j] *= inv;
        dr[label] -= scale;
    }
}

void ref_cu_softmax_xent(const float *logits, const int64_t *labels,
                         float *d, float *row_loss, int64_t rows, int classes,
                         cudaStream_t stream)
{
    softmax_xent_kernel<<<blocks_for(rows), THREADS, 0, stream>>>(
        logits, labels, d, row_loss, rows, classes);
}

__global__ static void mean_kernel(const float *in, float *out, int64_t n)
{
    __shared__ double partial[THREADS];
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += THREADS)
        s += in[i];
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        out[0] = (float)(partial[0] / (double)n);
}

void ref_cu_mean(const float *in, float *out, int64_t n, cudaStream_t stream)
{
    mean_kernel<<<1, THREADS, 0, stream>>>(in, out, n);
}

__global__ static void relu_mask_kernel(float *d, const float *out, int64_t n)
{
    FOR_EACH(i, n)
    {
        if (out[i] <= 0.0f)
            d[i] = 0.0f;
    }
}

void ref_cu_relu_mask(float *d, const float *out, int64_t n,
                      cudaStream_t stream)
{
    relu_mask_kernel<<<blocks_for(n), THREADS, 0, stream>>>(d, out, n);
}

__global__ static void sgd_momentum_kernel(float *v, float *buf,
                                           const float *g, int64_t n, float lr,
                                           float mu)
{
    FOR_EACH(i, n)
    {
        float b = mu * buf[i] + g[i];
        buf[i] = b;
        v[i] -= lr * b;
    }
}

void ref_cu_sgd_momentum(float *v, float *buf, const float *g, int64_t n,
                         float lr, float mu, cudaStream_t stream)
{
    sgd_momentum_kernel<<<blocks_for(n), THREADS, 0, stream>>>(v, buf, g, n,
                                                               lr, mu);
}

__global__ static void fill_ones_kernel(float *out, int64_t n)
{
    FOR_EACH(i, n)
    {
        out[i] = 1.0f;
    }
}

void ref_cu_fill_ones(float *out, int64_t n, cudaStream_t stream)
{
    fill_ones_kernel<<<blocks_for(n), THREADS, 0, stream>>>(out, n);
}
