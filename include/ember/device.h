/*
 * ember/device.h - where tensors live: the host (EM_CPU) or an NVIDIA GPU
 * (EM_CUDA(n), "cuda:n").
 *
 * An op runs on the device of its inputs and returns a tensor there. Inputs
 * on two devices are an error naming both, with one exception: a
 * one-element CPU tensor (a scalar such as the ones gradient rules and
 * optimisers make) is copied to the other inputs' GPU. Reading values
 * (em_tensor_item, em_tensor_copy_to, em_tensor_print) copies them back to
 * the host and waits for the GPU; em_tensor_data, npy and checkpoint files
 * refuse a GPU tensor: move it with em_tensor_to(t, EM_CPU) first.
 *
 * GPU work is queued on one stream per device and runs asynchronously:
 * only reading values waits for it.
 *
 * Creation functions (em_zeros, em_tensor_from_data, em_random_normal, ...)
 * put their tensor on the default device: EM_CPU unless EMBER_DEVICE
 * ("cpu", "cuda", "cuda:1") or em_set_default_device says otherwise.
 * While a function is being traced they always create on the CPU (the
 * traced graph's constants), and em_*_like functions follow their model.
 *
 * The same library binary runs with and without a GPU: when ember was
 * built without CUDA, or no GPU is visible, em_cuda_available() is false
 * and asking for a CUDA device is an error saying why.
 */
#ifndef EMBER_DEVICE_H
#define EMBER_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A device: EM_CPU, or EM_CUDA(n) for GPU n (counted from 0). Negative
 * values are invalid. */
typedef int em_device;

#define EM_CPU 0
#define EM_CUDA(n) ((em_device)(n) + 1)
/* What em_tensor_device returns for NULL. */
#define EM_DEVICE_INVALID (-1)

/* True when d names a GPU. */
static inline bool em_device_is_cuda(em_device d)
{
    return d > 0;
}

/* "cpu", "cuda:0", ... into buf (always NUL-terminated when size > 0);
 * "invalid" for a negative device. Returns buf. */
char *em_device_name(em_device device, char *buf, size_t size);

/* Parses "cpu", "cuda" (GPU 0) or "cuda:N" into *device. Returns 0, or -1
 * with an error when the text is none of these. The device need not
 * exist. */
int em_device_parse(const char *text, em_device *device);

/* The device t lives on; EM_DEVICE_INVALID for NULL. Symbolic tensors
 * (while tracing) report EM_CPU. */
em_device em_tensor_device(const em_tensor *t);

/* A tensor with t's dtype, shape and values on `device`, owned like an
 * op's result (the innermost scope, or the caller). When t is already
 * there, the result shares its storage. The copy is not recorded on
 * gradient tapes: move inputs first, then watch them. NULL with an error
 * when t is NULL or symbolic, the device does not exist, or ember was
 * built without CUDA. */
em_tensor *em_tensor_to(const em_tensor *t, em_device device);

/* Makes `device` the default for creation functions in every thread.
 * Returns 0, or -1 with an error (the default unchanged) when the device
 * does not exist. */
int em_set_default_device(em_device device);

/* The default device for creation functions (see above). */
em_device em_get_default_device(void);

/* True when ember was built with CUDA and at least one GPU is usable. */
bool em_cuda_available(void);

/* Usable GPUs: 0 without CUDA or without a driver. */
int em_cuda_device_count(void);

/* Waits until the GPU work queued so far has finished (all devices).
 * Returns 0, or -1 with an error when a kernel failed; 0 without CUDA. */
int em_cuda_synchronize(void);

/* Lets float32 matrix products on the GPU use TF32 tensor cores (10-bit
 * mantissa inputs, float32 accumulation): faster, less exact. Off by
 * default; applies to products started afterwards. */
void em_cuda_set_tf32(bool enabled);

#ifdef __cplusplus
}
#endif

#endif
