/*
 * jit/none/jit_none.c - the native tier of a build without LLVM: it never
 * compiles, so every concrete function runs in the graph executor; and no
 * PTX, so on a GPU every node runs through its eager CUDA kernel.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ptx.h"
#include "tier.h"

em__ptx_module *em__jit_ptx_module(const em__graph *g)
{
    em__error("ptx: no fused GPU kernels for '%s': ember was built without "
              "LLVM (EMBER_WITH_LLVM=OFF)",
              g->name);
    return NULL;
}

void em__ptx_module_free(em__ptx_module *m)
{
    free(m);
}

static em__native *compile(const em__graph *g, const char *name, bool wait,
                           char *reason, size_t size)
{
    snprintf(reason, size, "%s", em__jit_tier.unavailable);
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

const em__tier em__jit_tier = {
    .unavailable = "ember was built without LLVM (EMBER_WITH_LLVM=OFF)",
    .compile = compile,
    .run = run,
    .wait = wait_compiled,
    .stats = stats,
    .release = release,
};
