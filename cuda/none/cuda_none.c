/*
 * cuda/none/cuda_none.c - ember built without CUDA: no GPU is ever
 * available, and asking for one says so (eager/device.c words the error,
 * seeing no backend installed); no GPU tensor exists, so the CUDA tier is
 * never asked to run.
 */
#include <stdio.h>

#include "tier.h"

static em__native *compile(const em__graph *g, const char *name, bool wait,
                           char *reason, size_t size)
{
    snprintf(reason, size, "%s", em__cuda_tier.unavailable);
    return NULL;
}

static int run(em__native *native, em_tensor *const *inputs,
               em_tensor **outputs)
{
    return 0;
}

static em_tier wait_compiled(em__native *native)
{
    return EM_TIER_EXECUTOR;
}

static void stats(const em__native *native, em_compile_stats *out) {}

static void release(em__native *native) {}

const em__tier em__cuda_tier = {
    .unavailable = "ember was built without CUDA (EMBER_WITH_CUDA=OFF)",
    .compile = compile,
    .run = run,
    .wait = wait_compiled,
    .stats = stats,
    .release = release,
};

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
