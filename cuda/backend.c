/*
 * cuda/backend.c - the CUDA backend's life: finding GPUs, one stream and
 * cuBLAS handle per device, device memory, copies, and the hooks through
 * which eager's dispatch reaches the kernels. Also the public functions of
 * ember/device.h that need CUDA.
 *
 * Nothing touches CUDA before a GPU tensor is asked for, so CPU-only
 * programs pay nothing. Only the runtime (cudart) is linked; it loads the
 * driver when one is there, and without one every query here reads as
 * "no GPU".
 *
 * Memory comes from each device's stream-ordered pool (cudaMallocAsync)
 * with its release threshold raised to the maximum: freed blocks stay
 * cached for the next allocation of the stream instead of going back to
 * the driver, which is what a training step that allocates the same sizes
 * every step needs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_kernels.h"

#define MAX_DEVICES 8

typedef struct device_state {
    pthread_once_t once;
    bool ready;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_workspace;
    char error[200]; /* why setting it up failed */
} device_state;

/* cuBLAS's workspace, ours rather than one it allocates itself: products
 * captured into a CUDA graph (cuda/graph_run.c) then allocate nothing.
 * NVIDIA recommends 32 MiB on Hopper. */
#define BLAS_WORKSPACE_BYTES ((size_t)32 << 20)

static device_state devices[MAX_DEVICES];
static pthread_once_t count_once = PTHREAD_ONCE_INIT;
static int device_count;
static atomic_bool tf32;

static void count_devices(void)
{
    int n = 0;
    /* No driver or no GPU: an error here means "no device". */
    if (cudaGetDeviceCount(&n) != cudaSuccess)
        n = 0;
    cudaGetLastError();
    device_count = n > MAX_DEVICES ? MAX_DEVICES : n;
}

static int cuda_count(void)
{
    pthread_once(&count_once, count_devices);
    return device_count;
}

/* Per device once: the stream, the cuBLAS handle, the pool's threshold. */
static _Thread_local int setting_up = -1;
static void setup_device(void)
{
    int i = setting_up;
    device_state *d = &devices[i];
    cudaError_t e = cudaSetDevice(i);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) {
        cudaMemPool_t pool;
        if (cudaDeviceGetDefaultMemPool(&pool, i) == cudaSuccess) {
            uint64_t keep = UINT64_MAX;
            cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold,
                                    &keep);
        }
    }
    if (e != cudaSuccess) {
        snprintf(d->error, sizeof d->error, "%s", cudaGetErrorString(e));
        cudaGetLastError();
        return;
    }
    if (cublasCreate(&d->blas) != CUBLAS_STATUS_SUCCESS) {
        snprintf(d->error, sizeof d->error, "cuBLAS could not start");
        return;
    }
    /* After the stream: setting the stream resets the workspace. */
    cublasStatus_t st = cublasSetStream(d->blas, d->stream);
    e = cudaMalloc(&d->blas_workspace, BLAS_WORKSPACE_BYTES);
    if (st == CUBLAS_STATUS_SUCCESS && e == cudaSuccess)
        st = cublasSetWorkspace(d->blas, d->blas_workspace,
                                BLAS_WORKSPACE_BYTES);
    if (st != CUBLAS_STATUS_SUCCESS || e != cudaSuccess) {
        cudaGetLastError();
        snprintf(d->error, sizeof d->error,
                 "cuBLAS could not be given its stream and workspace (%s)",
                 e != cudaSuccess ? cudaGetErrorString(e) : "cuBLAS status");
        return;
    }
    d->ready = true;
}

/* pthread_once has no argument: a table of per-device trampolines. */
#define SETUP(n)                                                               \
    static void setup_##n(void)                                                \
    {                                                                          \
        setting_up = n;                                                        \
        setup_device();                                                        \
    }
SETUP(0)
SETUP(1)
SETUP(2)
SETUP(3)
SETUP(4)
SETUP(5)
SETUP(6)
SETUP(7)
static void (*const setups[MAX_DEVICES])(void) = {
    setup_0, setup_1, setup_2, setup_3, setup_4, setup_5, setup_6, setup_7};

static device_state *state_of(em_device device)
{
    int i = device - 1;
    char name[32];
    if (i < 0 || i >= cuda_count()) {
        em__error("cuda: %s is not available (%d usable GPUs)",
                  em_device_name(device, name, sizeof name), cuda_count());
        return NULL;
    }
    device_state *d = &devices[i];
    pthread_once(&d->once, setups[i]);
    if (!d->ready) {
        em__error("cuda: %s could not be set up: %s",
                  em_device_name(device, name, sizeof name), d->error);
        return NULL;
    }
    cudaSetDevice(i);
    return d;
}

cudaStream_t em__cuda_stream(em_device device)
{
    device_state *d = state_of(device);
    return d ? d->stream : NULL;
}

cublasHandle_t em__cuda_blas(em_device device)
{
    device_state *d = state_of(device);
    return d ? d->blas : NULL;
}

bool em__cuda_tf32(void)
{
    return atomic_load(&tf32);
}

bool em__cuda_launched(const char *what, char *msg, size_t size)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        return true;
    snprintf(msg, size, "%s failed on the GPU: %s", what,
             cudaGetErrorString(e));
    return false;
}

/* ---- memory ---------------------------------------------------------------*/

void *em__cuda_alloc(em_device device, size_t bytes)
{
    cudaStream_t s = em__cuda_stream(device);
    if (!s)
        return NULL;
    void *p = NULL;
    cudaError_t e = cudaMallocAsync(&p, bytes, s);
    if (e != cudaSuccess) {
        cudaGetLastError();
        char name[32];
        em__error("cuda: cannot allocate %zu bytes on %s: %s", bytes,
                  em_device_name(device, name, sizeof name),
                  cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

void em__cuda_free(em_device device, void *ptr)
{
    int i = device - 1;
    if (!ptr || i < 0 || i >= MAX_DEVICES || !devices[i].ready)
        return;
    cudaSetDevice(i);
    /* At process exit the runtime may be gone already: nothing to do. */
    if (cudaFreeAsync(ptr, devices[i].stream) != cudaSuccess)
        cudaGetLastError();
}

/* Waits for device's stream; false with an error when a kernel failed or
 * an index was out of range. */
static bool finish(em_device device, const char *what)
{
    cudaStream_t s = em__cuda_stream(device);
    if (!s)
        return false;
    cudaError_t e = cudaStreamSynchronize(s);
    char name[32];
    em_device_name(device, name, sizeof name);
    if (e != cudaSuccess) {
        cudaGetLastError();
        em__error("%s: work queued on %s failed: %s", what, name,
                  cudaGetErrorString(e));
        return false;
    }
    if (em__cu_take_error(s)) {
        em__error("%s: a gather or one_hot on %s met an index out of range "
                  "(its result holds zeros there)",
                  what, name);
        return false;
    }
    return true;
}

static bool cuda_copy(void *dst, em_device dst_device, const void *src,
                      em_device src_device, size_t bytes)
{
    cudaError_t e;
    if (dst_device == EM_CPU) {
        cudaStream_t s = em__cuda_stream(src_device);
        if (!s)
            return false;
        e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess)
            return finish(src_device, "copy to host");
    } else if (src_device == EM_CPU || src_device == dst_device) {
        cudaStream_t s = em__cuda_stream(dst_device);
        if (!s)
            return false;
        /* From pageable host memory the call returns once src is staged:
         * the caller may free it at once. */
        e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s);
    } else {
        /* Between GPUs: the source's work first, then the copy on the
         * destination's stream. */
        if (!finish(src_device, "copy between GPUs"))
            return false;
        cudaStream_t s = em__cuda_stream(dst_device);
        if (!s)
            return false;
        e = cudaMemcpyPeerAsync(dst, dst_device - 1, src, src_device - 1, bytes,
                                s);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        em__error("cuda: copying %zu bytes failed: %s", bytes,
                  cudaGetErrorString(e));
        return false;
    }
    return true;
}

/* Installed before main: only pointers, no CUDA call. */
__attribute__((constructor)) static void install_hooks(void)
{
    em__device_installed = (em__device_hooks){
        .count = cuda_count,
        .alloc = em__cuda_alloc,
        .free = em__cuda_free,
        .copy = cuda_copy,
        .kernels = em__cuda_kernels,
    };
}

/* ---- public ---------------------------------------------------------------*/

bool em_cuda_available(void)
{
    return cuda_count() > 0;
}

int em_cuda_device_count(void)
{
    return cuda_count();
}

int em_cuda_synchronize(void)
{
    for (int i = 0; i < cuda_count(); i++)
        if (devices[i].ready && !finish(EM_CUDA(i), "cuda_synchronize"))
            return -1;
    return 0;
}

void em_cuda_set_tf32(bool enabled)
{
    atomic_store(&tf32, enabled);
}

em_tensor *em_tensor_to(const em_tensor *t, em_device device)
{
    return em__tensor_to(t, device);
}

int em_set_default_device(em_device device)
{
    return em__set_default_device(device);
}
