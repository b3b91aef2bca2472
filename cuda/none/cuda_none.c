/*
 * cuda/none/cuda_none.c - ember built without CUDA: no GPU is ever
 * available, and asking for one says so (eager/device.c words the error,
 * seeing no backend installed).
 */
#include "internal.h"

bool em_cuda_available(void)
{
    return false;
}

int em_cuda_device_count(void)
{
    return 0;
}

int em_cuda_synchronize(void)
{
    return 0;
}

void em_cuda_set_tf32(bool enabled)
{
    (void)enabled;
}

em_tensor *em_tensor_to(const em_tensor *t, em_device device)
{
    return em__tensor_to(t, device);
}

int em_set_default_device(em_device device)
{
    return em__set_default_device(device);
}
