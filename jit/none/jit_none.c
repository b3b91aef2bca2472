/*
 * jit/none/jit_none.c - the native tier of a build without LLVM: it never
 * compiles, so every concrete function runs in the graph executor.
 */
#include <stdio.h>

#include "tier.h"

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
