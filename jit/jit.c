/*
 * jit/jit.c - the native tier: compiles concrete functions with LLVM's ORC
 * LLJIT on a background thread and runs the result.
 *
 * One LLJIT serves the process; each compiled function is one module
 * added under its own resource tracker, so that freeing the function
 * removes its code. Compilation is serialised by one lock (the target
 * machine is shared); a single worker thread takes queued functions in
 * order, and EM_JIT_SYNC compiles on the caller's thread instead.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "jit_internal.h"
#include "tier.h"

typedef int32_t (*entry_fn)(void **data, em__plan *plan);

typedef enum state { QUEUED, COMPILING, READY, FAILED } state;

struct em__native {
    const em__graph *g;
    char *name;      /* the function's name, for logs and dumps */
    char symbol[32]; /* the entry point's unique symbol */
    em__jit_schedule schedule;
    em__plan *plan;
    void **data;      /* per node: its buffer (fixed, or set per call) */
    int *bound_nodes; /* inputs, views and updates: set at each call */
    int n_bound;
    bool *computed_output; /* per output: the code writes it in place */
    state state;           /* under the lock */
    const char *reason;
    entry_fn entry;
    LLVMOrcResourceTrackerRef tracker;
    double ir_seconds, optimize_seconds, codegen_seconds;
    em__native *next_queued;
};

/* ---- process-wide state ---------------------------------------------------*/

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_changed = PTHREAD_COND_INITIALIZER;
static pthread_cond_t compiled = PTHREAD_COND_INITIALIZER;
static em__native *queue_head, *queue_tail;
static em__native *taken; /* by the worker, until it is published */
static bool worker_running;
static bool exiting; /* the process is exiting: nothing more compiles */
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;
static LLVMOrcLLJITRef jit;
static LLVMTargetMachineRef target;
static const char *setup_problem;
static unsigned long long symbols;

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A forked child has no worker thread: it starts its own on demand, and
 * functions queued in the parent (or taken by the parent's worker but not
 * yet compiling) compile on the child's. No compile is in progress at the
 * fork: it waits for the one running to end. */
static void before_fork(void)
{
    pthread_mutex_lock(&compile_lock);
    pthread_mutex_lock(&lock);
}
static void after_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&compile_lock);
}
static void after_fork_child(void)
{
    worker_running = false;
    if (taken) {
        taken->state = QUEUED;
        taken->next_queued = queue_head;
        queue_head = taken;
        if (!queue_tail)
            queue_tail = taken;
        taken = NULL;
    }
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&compile_lock);
}

/* At exit: waits for the compile in progress and lets no other start,
 * holding compile_lock to the end. LLVM's own static objects are destroyed
 * at exit too, and code generation running on the worker thread meanwhile
 * would crash; registered after they were constructed (at load time,
 * lazily by em__jit_warm_up, or by an earlier compile), this runs before
 * their destructors.
 * Functions not yet compiled stay in the executor. */
static void finish_at_exit(void)
{
    /* Registered more than once (see compile_and_publish); exit runs the
     * handlers one after another on its own thread. */
    static bool finished;
    if (finished)
        return;
    finished = true;
    pthread_mutex_lock(&lock);
    exiting = true;
    pthread_cond_broadcast(&compiled);
    int queued = 0;
    for (const em__native *n = queue_head; n; n = n->next_queued)
        queued++;
    pthread_mutex_unlock(&lock);
    if (queued)
        em__log(EM_LOG_INFO,
                "jit: the process exits with %d function%s not compiled",
                queued, queued == 1 ? "" : "s");
    pthread_mutex_lock(&compile_lock);
}

/* Creates the LLJIT and the host target machine, once. */
static void setup(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    char *triple = LLVMGetDefaultTargetTriple();
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    LLVMTargetRef t = NULL;
    char *problem = NULL;
    /* Position-independent code in the small code model, as the JIT's own
     * target machine generates it for its linker (JITLink): the dumped
     * assembly is then the code that runs. */
    if (LLVMGetTargetFromTriple(triple, &t, &problem) == 0)
        target = LLVMCreateTargetMachine(t, triple, cpu, features,
                                         LLVMCodeGenLevelDefault, LLVMRelocPIC,
                                         LLVMCodeModelSmall);
    LLVMDisposeMessage(problem);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    if (!target) {
        setup_problem = "LLVM has no target for this host";
        return;
    }
    LLVMErrorRef error = LLVMOrcCreateLLJIT(&jit, NULL);
    if (error) {
        char *message = LLVMGetErrorMessage(error);
        em__log(EM_LOG_WARN, "jit: cannot start LLVM's JIT: %s", message);
        LLVMDisposeErrorMessage(message);
        setup_problem = "LLVM's JIT could not start";
        jit = NULL;
        return;
    }
    em__jit_warm_up(jit, target);
    atexit(finish_at_exit);
}

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

/* ---- compiling ------------------------------------------------------------*/

static void dump_module(LLVMModuleRef module, const char *name,
                        const char *suffix)
{
    FILE *out = em__dump_open("llvm", name, suffix);
    if (!out)
        return;
    char *text = LLVMPrintModuleToString(module);
    fputs(text, out);
    LLVMDisposeMessage(text);
    fclose(out);
}

static void dump_assembly(LLVMModuleRef module, const char *name)
{
    FILE *out = em__dump_open("asm", name, "s");
    if (!out)
        return;
    /* Code generation changes the module it is given: use a copy. */
    LLVMModuleRef copy = LLVMCloneModule(module);
    LLVMMemoryBufferRef buffer = NULL;
    char *problem = NULL;
    if (!LLVMTargetMachineEmitToMemoryBuffer(target, copy, LLVMAssemblyFile,
                                             &problem, &buffer)) {
        fwrite(LLVMGetBufferStart(buffer), 1, LLVMGetBufferSize(buffer), out);
        LLVMDisposeMemoryBuffer(buffer);
    }
    LLVMDisposeMessage(problem);
    LLVMDisposeModule(copy);
    fclose(out);
}

static bool report(LLVMErrorRef error, const char *what, em__native *n)
{
    if (!error)
        return true;
    char *message = LLVMGetErrorMessage(error);
    em__log(EM_LOG_WARN, "jit: %s failed for '%s': %s", what, n->name, message);
    LLVMDisposeErrorMessage(message);
    return false;
}

/* What the lowering asked of LLVM for fn: 0 nothing (its code is
 * generated as it is), 1 optimised code generation, 2 the IR passes too. */
static int optimisation_of(LLVMValueRef fn)
{
    LLVMAttributeRef a = LLVMGetStringAttributeAtIndex(
        fn, LLVMAttributeFunctionIndex, EM__JIT_OPTIMIZE,
        strlen(EM__JIT_OPTIMIZE));
    if (!a)
        return 0;
    unsigned len;
    const char *value = LLVMGetStringAttributeValue(a, &len);
    return len == strlen(EM__JIT_OPTIMIZE_IR) &&
                   memcmp(value, EM__JIT_OPTIMIZE_IR, len) == 0
               ? 2
               : 1;
}

/* Marks the functions the lowering asked nothing for as final (optnone):
 * LLVM's IR passes leave them alone, and code generation takes the fast
 * instruction selector (keeping the full register allocator), several
 * times quicker than optimised code generation of the same code. Returns
 * whether a function wants the IR passes. */
static bool mark_final(LLVMModuleRef module)
{
    bool ir = false;
    for (LLVMValueRef fn = LLVMGetFirstFunction(module); fn;
         fn = LLVMGetNextFunction(fn)) {
        if (LLVMIsDeclaration(fn))
            continue;
        int level = optimisation_of(fn);
        ir = ir || level == 2;
        if (level == 0) {
            em__jit_add_attribute(fn, LLVMAttributeFunctionIndex, "noinline");
            em__jit_add_attribute(fn, LLVMAttributeFunctionIndex, "optnone");
        }
    }
    return ir;
}

/* Builds, optimises and links n's module, writing the stages' seconds
 * into times. Runs under compile_lock. */
static bool compile_now(em__native *n, double *times)
{
    double start = seconds_now();
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMContextRef llvm = LLVMOrcThreadSafeContextGetContext(tsc);
    LLVMModuleRef module =
        em__jit_lower(llvm, n->g, &n->schedule, n->symbol, target);
    if (!module) {
        em__log(EM_LOG_WARN, "jit: '%s' runs in the graph executor: %s",
                n->name, em_error_last());
        em_error_clear();
        LLVMOrcDisposeThreadSafeContext(tsc);
        return false;
    }
    dump_module(module, n->name, "ll");
    double built = seconds_now();

    /* The lowering emits vector loops itself, ready for code generation;
     * only what it left to LLVM's loop vectoriser (loops with strided
     * operands, small matrix products) goes through O3, without the
     * generic loop unroller: the vectoriser still unrolls (interleaves)
     * its loops. */
    LLVMErrorRef error = NULL;
    if (mark_final(module)) {
        LLVMPassBuilderOptionsRef options = LLVMCreatePassBuilderOptions();
        LLVMPassBuilderOptionsSetLoopUnrolling(options, 0);
        error = LLVMRunPasses(module, "default<O3>", target, options);
        LLVMDisposePassBuilderOptions(options);
    }
    double optimized = seconds_now();
    if (!report(error, "optimisation", n)) {
        LLVMDisposeModule(module);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return false;
    }
    dump_module(module, n->name, "opt.ll");
    dump_assembly(module, n->name);

    LLVMOrcJITDylibRef main = LLVMOrcLLJITGetMainJITDylib(jit);
    n->tracker = LLVMOrcJITDylibCreateResourceTracker(main);
    LLVMOrcThreadSafeModuleRef tsm =
        LLVMOrcCreateNewThreadSafeModule(module, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc);
    /* The JIT owns the module from here, whether this succeeds or not. */
    error = LLVMOrcLLJITAddLLVMIRModuleWithRT(jit, n->tracker, tsm);
    if (!report(error, "adding the module", n))
        return false;
    LLVMOrcExecutorAddress address = 0;
    error = LLVMOrcLLJITLookup(jit, &address, n->symbol);
    if (!report(error, "code generation", n))
        return false;
    n->entry = (entry_fn)(uintptr_t)address;
    times[0] = built - start;
    times[1] = optimized - built;
    times[2] = seconds_now() - optimized;
    em__log(EM_LOG_INFO,
            "jit: '%s' compiled to %d loop%s and %d library call%s in %.1f "
            "ms (IR %.1f, optimisation %.1f, code generation %.1f)",
            n->name, n->schedule.loops, n->schedule.loops == 1 ? "" : "s",
            n->schedule.calls, n->schedule.calls == 1 ? "" : "s",
            (seconds_now() - start) * 1e3, times[0] * 1e3, times[1] * 1e3,
            times[2] * 1e3);
    return true;
}

/* Compiles n and publishes the result. */
static void compile_and_publish(em__native *n)
{
    /* Published before compile_lock is released, so that a fork (which
     * takes compile_lock first) never sees code compiled but not yet
     * published. */
    double times[3] = {0};
    pthread_mutex_lock(&compile_lock);
    bool ok = compile_now(n, times);
    /* LLVM objects this compile built first have their destructors
     * registered after the exit handler: registered again, it runs before
     * them. The first compiles build nearly all; the count bounds the
     * handlers kept. */
    static int registrations;
    if (registrations < 32 && atexit(finish_at_exit) == 0)
        registrations++;
    pthread_mutex_lock(&lock);
    n->ir_seconds = times[0];
    n->optimize_seconds = times[1];
    n->codegen_seconds = times[2];
    __atomic_store_n(&n->state, ok ? READY : FAILED, __ATOMIC_RELEASE);
    if (taken == n)
        taken = NULL;
    if (!ok)
        n->reason = "LLVM could not compile it (see the warning)";
    pthread_cond_broadcast(&compiled);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&compile_lock);
}

static void *worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!queue_head || exiting)
            pthread_cond_wait(&queue_changed, &lock);
        em__native *n = queue_head;
        queue_head = n->next_queued;
        if (!queue_head)
            queue_tail = NULL;
        __atomic_store_n(&n->state, COMPILING, __ATOMIC_RELAXED);
        taken = n;
        pthread_mutex_unlock(&lock);
        compile_and_publish(n);
        pthread_mutex_lock(&lock);
    }
    return NULL;
}

/* Starts the worker unless it runs. Runs under the lock. */
static bool start_worker(void)
{
    if (worker_running)
        return true;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    worker_running = pthread_create(&thread, &attr, worker, NULL) == 0;
    pthread_attr_destroy(&attr);
    return worker_running;
}

/* In a forked child, functions queued before the fork wait for a worker
 * that is started by their first call (or wait) there. */
static void restart_worker_if_needed(em__native *n)
{
    if (__atomic_load_n(&n->state, __ATOMIC_RELAXED) != QUEUED)
        return;
    pthread_mutex_lock(&lock);
    if (queue_head)
        start_worker();
    pthread_mutex_unlock(&lock);
}

/* Queues n for the worker (started on first use). False when no thread
 * could be started. Runs under the lock. */
static bool enqueue(em__native *n)
{
    if (!start_worker())
        return false;
    __atomic_store_n(&n->state, QUEUED, __ATOMIC_RELAXED);
    n->next_queued = NULL;
    if (queue_tail)
        queue_tail->next_queued = n;
    else
        queue_head = n;
    queue_tail = n;
    pthread_cond_signal(&queue_changed);
    return true;
}

/* ---- the tier -------------------------------------------------------------*/

static void native_free(em__native *n)
{
    if (n->tracker) {
        LLVMErrorRef error = LLVMOrcResourceTrackerRemove(n->tracker);
        if (error)
            LLVMConsumeError(error);
        LLVMOrcReleaseResourceTracker(n->tracker);
    }
    em__plan_free(n->plan);
    em__jit_schedule_free(&n->schedule);
    free(n->data);
    free(n->bound_nodes);
    free(n->computed_output);
    free(n->name);
    free(n);
}

/* The buffers: fixed ones now, the rest listed for each call. */
static bool bind_buffers(em__native *n)
{
    const em__graph *g = n->g;
    n->data = calloc((size_t)g->len + 1, sizeof *n->data);
    n->bound_nodes = calloc((size_t)g->len + 1, sizeof *n->bound_nodes);
    n->computed_output =
        calloc((size_t)g->n_outputs + 1, sizeof *n->computed_output);
    if (!n->data || !n->bound_nodes || !n->computed_output)
        return false;
    /* An output the code computes into a buffer of its own (which nothing
     * else shares: it lives to the end) is computed straight into the
     * tensor returned, instead of being copied there. */
    for (int k = 0; k < g->n_outputs; k++) {
        int o = g->outputs[k];
        em__jit_role r = n->schedule.role[o];
        bool computed = r == EM__ROLE_LOOP || r == EM__ROLE_REDUCE ||
                        r == EM__ROLE_MATMUL || r == EM__ROLE_KERNEL;
        bool in_place = em__op_table[g->nodes[o].op].flags & EM__OP_IN_PLACE;
        for (int j = 0; j < k && computed; j++)
            computed = g->outputs[j] != o;
        n->computed_output[k] = computed && !in_place;
    }
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        bool alias =
            node->kind == EM__NODE_OP &&
            (em__op_table[node->op].flags & (EM__OP_VIEW | EM__OP_IN_PLACE));
        if (node->kind == EM__NODE_INPUT || alias)
            n->bound_nodes[n->n_bound++] = i;
        else
            n->data[i] = em__plan_header(n->plan, i)->data;
    }
    return true;
}

static em__native *compile(const em__graph *g, const char *name, bool wait,
                           char *reason, size_t size)
{
    pthread_once(&setup_once, setup);
    if (setup_problem) {
        snprintf(reason, size, "%s", setup_problem);
        return NULL;
    }
    em__native *n = calloc(1, sizeof *n);
    if (!n || !(n->name = strdup(name))) {
        free(n);
        snprintf(reason, size, "out of memory");
        return NULL;
    }
    n->g = g;
    if (!em__jit_schedule_make_regions(g, NULL, &n->schedule, reason, size)) {
        if (reason[0])
            em__log(EM_LOG_INFO, "jit: '%s' runs in the graph executor: %s",
                    name, reason);
        else {
            em_error_clear();
            snprintf(reason, size, "out of memory");
        }
        native_free(n);
        return NULL;
    }
    n->plan = em__plan_new_fused(g, n->schedule.run_at);
    if (!n->plan || !bind_buffers(n)) {
        em_error_clear();
        snprintf(reason, size, "out of memory");
        native_free(n);
        return NULL;
    }
    pthread_mutex_lock(&lock);
    snprintf(n->symbol, sizeof n->symbol, "ember_fn_%llu", ++symbols);
    if (exiting) {
        __atomic_store_n(&n->state, FAILED, __ATOMIC_RELAXED);
        n->reason = "the process is exiting";
        pthread_mutex_unlock(&lock);
        return n;
    }
    bool queued = !wait && enqueue(n);
    if (!queued)
        __atomic_store_n(&n->state, COMPILING, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
    if (!queued)
        compile_and_publish(n);
    return n;
}

static int run(em__native *n, em_tensor *const *inputs, em_tensor **outputs)
{
    /* READY is final: once seen, no lock is needed to read the entry. */
    if (__atomic_load_n(&n->state, __ATOMIC_ACQUIRE) != READY) {
        restart_worker_if_needed(n);
        return 0;
    }
    /* Outputs computed in place first: views of them (bound below) must
     * see the new buffers. */
    const em__graph *g = n->g;
    for (int k = 0; k < g->n_outputs; k++) {
        outputs[k] = NULL;
        if (!n->computed_output[k])
            continue;
        int o = g->outputs[k];
        outputs[k] = em__tensor_new(&g->nodes[o].type);
        if (!outputs[k]) {
            for (int j = 0; j < k; j++) {
                em_tensor_free(outputs[j]);
                outputs[j] = NULL;
            }
            return -1;
        }
        em__plan_header(n->plan, o)->data = n->data[o] = outputs[k]->data;
    }
    /* The tracer picked this function for the inputs' exact types, so
     * they need no second check. Views and updates follow their input 0,
     * in node order. */
    for (int k = 0; k < n->n_bound; k++) {
        int i = n->bound_nodes[k];
        const em__node *node = &g->nodes[i];
        em_tensor *h = em__plan_header(n->plan, i);
        if (node->kind == EM__NODE_INPUT)
            h->data = inputs[node->index]->data;
        else
            h->data = em__plan_header(n->plan, node->inputs[0])->data;
        n->data[i] = h->data;
    }
    if (n->entry(n->data, n->plan) != 0) {
        for (int k = 0; k < g->n_outputs; k++) {
            em_tensor_free(outputs[k]);
            outputs[k] = NULL;
        }
        return -1;
    }
    return em__plan_copy_outputs(n->plan, outputs) ? 1 : -1;
}

static em_tier wait_compiled(em__native *n)
{
    pthread_mutex_lock(&lock);
    if (n->state == QUEUED)
        start_worker();
    while ((n->state == QUEUED && !exiting) || n->state == COMPILING)
        pthread_cond_wait(&compiled, &lock);
    em_tier tier = n->state == READY ? EM_TIER_NATIVE : EM_TIER_EXECUTOR;
    pthread_mutex_unlock(&lock);
    return tier;
}

static void stats(const em__native *n, em_compile_stats *out)
{
    pthread_mutex_lock(&lock);
    state st = n->state;
    out->ir_seconds = n->ir_seconds;
    out->optimize_seconds = n->optimize_seconds;
    out->codegen_seconds = n->codegen_seconds;
    pthread_mutex_unlock(&lock);
    out->tier = st == READY    ? EM_TIER_NATIVE
                : st == FAILED ? EM_TIER_EXECUTOR
                               : EM_TIER_COMPILING;
    out->reason = st == FAILED ? n->reason : st == READY ? "" : "compiling";
    out->fused_loops = n->schedule.loops;
    out->library_calls = n->schedule.calls;
}

static void release(em__native *n)
{
    /* Take it off the queue, or wait for the compile in progress. */
    pthread_mutex_lock(&lock);
    if (n->state == QUEUED) {
        em__native **p = &queue_head;
        em__native *previous = NULL;
        while (*p && *p != n) {
            previous = *p;
            p = &(*p)->next_queued;
        }
        if (*p)
            *p = n->next_queued;
        if (queue_tail == n)
            queue_tail = previous;
        __atomic_store_n(&n->state, FAILED, __ATOMIC_RELAXED);
    }
    while (n->state == COMPILING)
        pthread_cond_wait(&compiled, &lock);
    pthread_mutex_unlock(&lock);
    pthread_mutex_lock(&compile_lock); /* the JIT is not safe to change */
    native_free(n);
    pthread_mutex_unlock(&compile_lock);
}

const em__tier em__jit_tier = {
    .unavailable = NULL,
    .compile = compile,
    .run = run,
    .wait = wait_compiled,
    .stats = stats,
    .release = release,
};
