/*
 * eager/device.c - devices as eager sees them: names, the default device,
 * and copies between host and device memory through the hooks a GPU
 * backend installs (em__device_installed). Nothing here knows CUDA.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

em__device_hooks em__device_installed;

/* -1 until first read: then EMBER_DEVICE, or what em_set_default_device
 * chose. */
static _Atomic int default_device = -1;

bool em__device_parse(const char *text, em_device *device)
{
    if (!text)
        return false;
    if (strcmp(text, "cpu") == 0) {
        *device = EM_CPU;
        return true;
    }
    if (strcmp(text, "cuda") == 0) {
        *device = EM_CUDA(0);
        return true;
    }
    if (strncmp(text, "cuda:", 5) != 0 || text[5] < '0' || text[5] > '9')
        return false;
    char *end;
    long n = strtol(text + 5, &end, 10);
    if (*end || n < 0 || n > 1023)
        return false;
    *device = EM_CUDA((int)n);
    return true;
}

int em_device_parse(const char *text, em_device *device)
{
    if (!device) {
        em__error("device_parse: device is NULL");
        return -1;
    }
    if (!em__device_parse(text, device)) {
        em__error("device_parse: '%s' is not cpu, cuda or cuda:N",
                  text ? text : "(null)");
        return -1;
    }
    return 0;
}

char *em_device_name(em_device device, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (device < 0)
        snprintf(buf, size, "invalid");
    else if (device == EM_CPU)
        snprintf(buf, size, "cpu");
    else
        snprintf(buf, size, "cuda:%d", device - 1);
    return buf;
}

em_device em_tensor_device(const em_tensor *t)
{
    return t ? em__tensor_device(t) : EM_DEVICE_INVALID;
}

/* Why `device` cannot hold tensors, or NULL when it can. */
static const char *unusable(em_device device)
{
    if (device == EM_CPU)
        return NULL;
    if (device < 0)
        return "is not a device";
    if (!em__device_installed.count)
        return "is not available: ember was built without CUDA";
    int n = em__device_installed.count();
    if (n == 0)
        return "is not available: no usable GPU (or no driver) on this "
               "machine";
    if (device - 1 >= n)
        return "does not exist (fewer GPUs on this machine)";
    return NULL;
}

int em__set_default_device(em_device device)
{
    const char *why = unusable(device);
    if (why) {
        char name[32];
        em__error("set_default_device: %s %s",
                  em_device_name(device, name, sizeof name), why);
        return -1;
    }
    atomic_store(&default_device, device);
    return 0;
}

em_device em_get_default_device(void)
{
    int d = atomic_load(&default_device);
    if (d >= 0)
        return d;
    d = em__config_device();
    const char *why = unusable(d);
    if (why) {
        char name[32];
        em__log(EM_LOG_WARN, "EMBER_DEVICE: %s %s; using cpu",
                em_device_name(d, name, sizeof name), why);
        d = EM_CPU;
    }
    int unset = -1;
    atomic_compare_exchange_strong(&default_device, &unset, d);
    return atomic_load(&default_device);
}

/* ---- copies ---------------------------------------------------------------*/

/* A new tensor on `device` holding t's values; NULL with an error. */
static em_tensor *copy_to(const em_tensor *t, em_device device,
                          const char *what)
{
    const char *why = unusable(device);
    if (why) {
        char name[32];
        em__error("%s: %s %s", what, em_device_name(device, name, sizeof name),
                  why);
        return NULL;
    }
    em_tensor *out = em__tensor_new_on(&t->type, device);
    if (!out)
        return NULL;
    size_t bytes = em_tensor_nbytes(t);
    if (bytes > 0 && !em__device_installed.copy(out->data, device, t->data,
                                                em__tensor_device(t), bytes)) {
        em_tensor_free(out);
        return NULL;
    }
    return out;
}

em_tensor *em__tensor_move(em_tensor *t, em_device device)
{
    if (!t || em__tensor_device(t) == device)
        return t;
    em_tensor *out = copy_to(t, device, "tensor_to");
    em_tensor_free(t);
    return out;
}

em_tensor *em__tensor_place(em_tensor *t)
{
    if (!t || em__thread_state()->tracing)
        return t;
    em_device device = em_get_default_device();
    return device == EM_CPU ? t : em__tensor_move(t, device);
}

em_tensor *em__tensor_to(const em_tensor *t, em_device device)
{
    if (!t) {
        if (!em_error_pending())
            em__error("tensor_to: tensor is NULL");
        return NULL;
    }
    if (t->flags & EM__TENSOR_SYMBOLIC) {
        em__error("tensor_to: the tensor is symbolic while tracing; move "
                  "the inputs before calling the traced function");
        return NULL;
    }
    if (em__tensor_device(t) == device)
        return em__tensor_view((em_tensor *)t, &t->type);
    return copy_to(t, device, "tensor_to");
}

em_tensor *em__tensor_host(const em_tensor *t, const char *what)
{
    if (em__tensor_device(t) == EM_CPU)
        return em__tensor_ref((em_tensor *)t);
    em_tensor *host = copy_to(t, EM_CPU, what);
    if (host)
        em__scope_forget(host);
    return host;
}
