/*
 * jit/none/export_none.c - ahead-of-time export in a build without LLVM:
 * always refused.
 */
#include "ember.h"
#include "internal.h"

int em_concrete_export(em_concrete *c, const char *object_path,
                       const char *header_path,
                       const em_export_options *options)
{
    em__error("concrete_export: ember was built without LLVM "
              "(EMBER_WITH_LLVM=OFF), so it cannot generate code");
    return -1;
}
