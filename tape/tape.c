/*
 * tape/tape.c - gradient tapes: recording op calls, and the reverse sweep
 * that turns them into gradients with the rules of tape/gradients.c.
 *
 * Each thread has a stack of recording tapes. Dispatch calls record() after
 * every op; each recording tape keeps the call when one of its inputs is
 * watched (or is a trainable variable) and then watches the output. A tape
 * holds a reference to every tensor it recorded, so scopes may end freely
 * between recording and differentiating.
 */
#include <stdlib.h>
#include <string.h>

#include "tape_internal.h"

/* Marks a record made by em_custom_gradient rather than by an op. */
#define CUSTOM_OP EM_OP_COUNT

typedef struct record {
    int op; /* an em__op, or CUSTOM_OP */
    int n;
    em_tensor **inputs;
    em_tensor *output;
    em__attrs attrs;
    em_backward_fn backward; /* custom records only */
    void *user;
    int n_out; /* calls with several outputs: output is outputs[0] */
    em_tensor **outputs;
    em__multi_grad *multi;
} record;

/* Open-addressing map from tensor id (never 0) to a tensor, or to nothing
 * when used as a set. */
typedef struct id_map {
    uint64_t *keys;
    em_tensor **values;
    int64_t cap, len;
} id_map;

struct em_tape {
    bool persistent;
    bool recording;
    bool used;
    record *records;
    int64_t len, cap;
    id_map watched;
    em_tape *below; /* next recording tape on this thread's stack */
};

static _Thread_local em_tape *recording_top;

/* ---- id maps
 * ----------------------------------------------------------------*/

static uint64_t hash_id(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull;
    id ^= id >> 33;
    return id;
}

static int64_t map_slot(const id_map *map, uint64_t id)
{
    int64_t mask = map->cap - 1;
    int64_t i = (int64_t)(hash_id(id) & (uint64_t)mask);
    while (map->keys[i] != 0 && map->keys[i] != id)
        i = (i + 1) & mask;
    return i;
}

static bool map_has(const id_map *map, uint64_t id)
{
    return map->cap > 0 && map->keys[map_slot(map, id)] == id;
}

static em_tensor *map_get(const id_map *map, uint64_t id)
{
    if (map->cap == 0)
        return NULL;
    int64_t i = map_slot(map, id);
    return map->keys[i] == id ? map->values[i] : NULL;
}

static bool map_put(id_map *map, uint64_t id, em_tensor *value)
{
    if ((map->len + 1) * 2 > map->cap) {
        id_map bigger = {0};
        bigger.cap = map->cap ? map->cap * 2 : 64;
        bigger.keys = calloc((size_t)bigger.cap, sizeof *bigger.keys);
        bigger.values = calloc((size_t)bigger.cap, sizeof *bigger.values);
        if (!bigger.keys || !bigger.values) {
            free(bigger.keys);
            free(bigger.values);
            return false;
        }
        for (int64_t i = 0; i < map->cap; i++)
            if (map->keys[i]) {
                int64_t j = map_slot(&bigger, map->keys[i]);
                bigger.keys[j] = map->keys[i];
                bigger.values[j] = map->values[i];
            }
        bigger.len = map->len;
        free(map->keys);
        free(map->values);
        *map = bigger;
    }
    int64_t i = map_slot(map, id);
    if (map->keys[i] == 0)
        map->len++;
    map->keys[i] = id;
    map->values[i] = value;
    return true;
}

static void map_free(id_map *map)
{
    free(map->keys);
    free(map->values);
    *map = (id_map){0};
}

/* ---- recording
 * ----------------------------------------------------------------*/

static bool is_watched(const em_tape *tape, const em_tensor *t)
{
    return (t->flags & EM__TENSOR_TRAINABLE) || map_has(&tape->watched, t->id);
}

static void append(em_tape *tape, int op, em_tensor *const *in, int n,
                   const em__attrs *attrs, em_tensor *out,
                   em_backward_fn backward, void *user)
{
    if (tape->len == tape->cap) {
        int64_t cap = tape->cap ? tape->cap * 2 : 64;
        record *p = realloc(tape->records, (size_t)cap * sizeof *p);
        if (!p)
            goto out_of_memory;
        tape->records = p;
        tape->cap = cap;
    }
    em_tensor **inputs = malloc(sizeof *inputs * (size_t)n);
    if (!inputs || !map_put(&tape->watched, out->id, NULL)) {
        free(inputs);
        goto out_of_memory;
    }
    for (int i = 0; i < n; i++)
        inputs[i] = em__tensor_ref(in[i]);
    record *r = &tape->records[tape->len++];
    r->op = op;
    r->n = n;
    r->inputs = inputs;
    r->output = em__tensor_ref(out);
    r->attrs = *attrs;
    r->backward = backward;
    r->user = user;
    r->n_out = 0;
    r->outputs = NULL;
    r->multi = NULL;
    return;

out_of_memory:
    em__log(EM_LOG_WARN, "tape: out of memory, a %s call was not recorded",
            op == CUSTOM_OP ? "custom" : em__op_table[op].name);
}

static void record_call(int op, em_tensor *const *in, int n,
                        const em__attrs *attrs, em_tensor *out,
                        em_backward_fn backward, void *user)
{
    for (em_tape *tape = recording_top; tape; tape = tape->below) {
        for (int i = 0; i < n; i++) {
            if (is_watched(tape, in[i])) {
                append(tape, op, in, n, attrs, out, backward, user);
                break;
            }
        }
    }
}

static void record_op(em__op op, em_tensor *const *in, int n,
                      const em__attrs *attrs, em_tensor *out)
{
    record_call((int)op, in, n, attrs, out, NULL, NULL);
}

em_tape *em_tape_begin(bool persistent)
{
    em_tape *tape = calloc(1, sizeof *tape);
    if (!tape) {
        em__error("tape_begin: out of memory");
        return NULL;
    }
    tape->persistent = persistent;
    tape->recording = true;
    tape->below = recording_top;
    recording_top = tape;
    em__thread_state()->recording_tapes++;
    em__hooks_installed.record = record_op;
    return tape;
}

void em_tape_watch(em_tape *tape, em_tensor *t)
{
    if (!tape || !t)
        return;
    if (!map_put(&tape->watched, t->id, NULL))
        em__error("tape_watch: out of memory");
}

/* Stacks of recording tapes hidden by em__tape_suspend (one per trace in
 * progress on this thread, innermost last). */
#define MAX_SUSPENDED 64
static _Thread_local em_tape *suspended[MAX_SUSPENDED];
static _Thread_local int n_suspended;

/* Takes tape out of the stack whose top is *top; true when it was there. */
static bool unlink_from(em_tape **top, em_tape *tape)
{
    for (em_tape **p = top; *p; p = &(*p)->below) {
        if (*p == tape) {
            *p = tape->below;
            tape->below = NULL;
            return true;
        }
    }
    return false;
}

void em_tape_stop(em_tape *tape)
{
    if (!tape || !tape->recording)
        return;
    tape->recording = false;
    if (unlink_from(&recording_top, tape)) {
        em__thread_state()->recording_tapes--;
        return;
    }
    /* A tape hidden by a trace in progress (stopped from inside the traced
     * body): it leaves the hidden stack, which holds no count. */
    for (int i = n_suspended - 1; i >= 0; i--)
        if (unlink_from(&suspended[i], tape))
            return;
}

void *em__tape_suspend(void)
{
    if (n_suspended == MAX_SUSPENDED) {
        em__log(EM_LOG_WARN,
                "tape: more than %d nested traces; outer tapes "
                "stay visible",
                MAX_SUSPENDED);
        return NULL;
    }
    int count = 0;
    for (em_tape *t = recording_top; t; t = t->below)
        count++;
    suspended[n_suspended++] = recording_top;
    recording_top = NULL;
    em__thread_state()->recording_tapes -= count;
    return &suspended[n_suspended - 1];
}

void em__tape_resume(void *token)
{
    if (!token || n_suspended == 0)
        return;
    em_tape *top = suspended[--n_suspended];
    suspended[n_suspended] = NULL;
    int count = 0;
    for (em_tape *t = top; t; t = t->below)
        count++;
    /* Tapes begun while suspended and not stopped stay above the old ones. */
    em_tape **bottom = &recording_top;
    while (*bottom)
        bottom = &(*bottom)->below;
    *bottom = top;
    em__thread_state()->recording_tapes += count;
}

bool em_tape_is_recording(void)
{
    return recording_top != NULL;
}

static void release_records(em_tape *tape)
{
    for (int64_t i = 0; i < tape->len; i++) {
        record *r = &tape->records[i];
        for (int j = 0; j < r->n; j++)
            em__tensor_unref(r->inputs[j]);
        free(r->inputs);
        em__tensor_unref(r->output);
        for (int j = 0; j < r->n_out; j++)
            em__tensor_unref(r->outputs[j]);
        free(r->outputs);
        if (r->multi)
            em__multi_grad_release(r->multi);
    }
    free(tape->records);
    tape->records = NULL;
    tape->len = tape->cap = 0;
}

void em_tape_free(em_tape *tape)
{
    if (!tape)
        return;
    em_tape_stop(tape);
    release_records(tape);
    map_free(&tape->watched);
    free(tape);
}

/* ---- the reverse sweep
 * -------------------------------------------------------*/

/* Gradients of one record's inputs from its output's gradient. */
static bool record_gradients(const record *r, em_tensor *grad,
                             em_tensor **grads, const bool *needs_grad,
                             const id_map *multi_grads)
{
    if (r->multi) {
        em_tensor *inline_grads[8] = {0};
        em_tensor **out_grads = inline_grads;
        if (r->n_out > 8 &&
            !(out_grads = calloc((size_t)r->n_out, sizeof *out_grads))) {
            em__error("tape_gradient: out of memory");
            return false;
        }
        for (int k = 0; k < r->n_out; k++)
            out_grads[k] = map_get(multi_grads, r->outputs[k]->id);
        int rc = r->multi->backward(r->multi, r->n, r->inputs, r->n_out,
                                    r->outputs, out_grads, grads);
        if (out_grads != inline_grads)
            free(out_grads);
        return rc == 0;
    }
    if (r->op == CUSTOM_OP) {
        if (r->backward(r->n, r->inputs, r->output, grad, grads, r->user) !=
            0) {
            if (!em_error_pending())
                em__error("custom_gradient: the backward function failed");
            return false;
        }
        return true;
    }
    em__grad_fn rule = em__grad_table[r->op];
    if (!rule) {
        em__error_op(em__op_table[r->op].name, r->inputs, r->n,
                     "has no gradient");
        return false;
    }
    em__grad_call call = {.op = (em__op)r->op,
                          .n = r->n,
                          .inputs = r->inputs,
                          .output = r->output,
                          .attrs = &r->attrs,
                          .needs_grad = needs_grad};
    return rule(&call, grad, grads);
}

/* Adds g into the gradient accumulated for tensor t. */
static bool accumulate(id_map *grads, const em_tensor *t, em_tensor *g)
{
    em_tensor *sum = map_get(grads, t->id);
    if (sum) {
        g = em_add(sum, g);
        if (!g)
            return false;
    }
    if (!map_put(grads, t->id, g)) {
        em__error("tape_gradient: out of memory");
        return false;
    }
    return true;
}

/* The gradient a rule gave for input i, checked against that input: the
 * same shape, and its dtype (a float gradient of another width is
 * converted; anything else is the rule's mistake). NULL with an error. */
static em_tensor *checked_gradient(const record *r, int i, em_tensor *g)
{
    const em_tensor *x = r->inputs[i];
    bool same_shape = em__type_equal_shape(&g->type, &x->type);
    if (same_shape && g->type.dtype == x->type.dtype)
        return g;
    if (same_shape && em_dtype_is_float(g->type.dtype) &&
        em_dtype_is_float(x->type.dtype))
        return em_cast(g, x->type.dtype);
    char want[200], got[200];
    em__error("tape_gradient: the gradient rule of %s gave %s for input %d, "
              "which is %s",
              r->op == CUSTOM_OP ? "a custom function"
                                 : em__op_table[r->op].name,
              em__type_format(&g->type, got, sizeof got), i,
              em__type_format(&x->type, want, sizeof want));
    return NULL;
}

static bool sweep(em_tape *tape, id_map *grads)
{
    em_tensor *inline_grads[8];
    for (int64_t k = tape->len - 1; k >= 0; k--) {
        const record *r = &tape->records[k];
        em_tensor *g = map_get(grads, r->output->id);
        for (int j = 0; !g && j < r->n_out; j++)
            g = map_get(grads, r->outputs[j]->id);
        if (!g)
            continue;
        em_tensor **in_grads = inline_grads;
        if (r->n > 8 && !(in_grads = calloc((size_t)r->n, sizeof *in_grads))) {
            em__error("tape_gradient: out of memory");
            return false;
        }
        memset(in_grads, 0, sizeof *in_grads * (size_t)(r->n > 8 ? r->n : 8));
        bool inline_needs[8];
        bool *needs =
            r->n > 8 ? calloc((size_t)r->n, sizeof *needs) : inline_needs;
        bool ok = needs != NULL;
        for (int i = 0; ok && i < r->n; i++)
            needs[i] = is_watched(tape, r->inputs[i]);
        ok = ok && record_gradients(r, g, in_grads, needs, grads);
        for (int i = 0; ok && i < r->n; i++) {
            if (!in_grads[i] || !needs[i])
                continue;
            em_tensor *checked = checked_gradient(r, i, in_grads[i]);
            ok = checked && accumulate(grads, r->inputs[i], checked);
        }
        if (in_grads != inline_grads)
            free(in_grads);
        if (needs != inline_needs)
            free(needs);
        if (!ok) {
            if (!em_error_pending())
                em__error("tape_gradient: out of memory");
            return false;
        }
    }
    return true;
}

/* The gradient to hand back for source i: the sweep's own tensor when its
 * scope owns it and no earlier source took it, else a copy (the caller's
 * output gradient, or a tensor shared by two sources). */
static em_tensor *hand_back(em_tensor *g, em_tensor **grads, int i)
{
    bool taken = false;
    for (int j = 0; j < i; j++)
        taken = taken || grads[j] == g;
    return em__scope_owns(g) && !taken ? g : em_copy(g);
}

int em_tape_gradient_ex(em_tape *tape, em_tensor *target, int n,
                        em_tensor *const *sources, em_tensor **grads,
                        const em_gradient_options *options)
{
    if (n < 0 || (n > 0 && (!sources || !grads))) {
        em__error("tape_gradient: needs n >= 0 and, for n > 0, sources and "
                  "grads arrays (n = %d)",
                  n);
        return -1;
    }
    for (int i = 0; i < n; i++)
        grads[i] = NULL;
    if (!tape) {
        em__error("tape_gradient: tape is NULL");
        return -1;
    }
    if (!target)
        return -1;
    for (int i = 0; i < n; i++)
        if (!sources[i]) {
            if (!em_error_pending())
                em__error("tape_gradient: source %d is NULL", i);
            return -1;
        }
    em_tape_stop(tape);
    if (tape->used && !tape->persistent) {
        em__error("tape_gradient: a non-persistent tape computes gradients "
                  "once; begin it with persistent = true for more");
        return -1;
    }
    em_tensor *seed = options ? options->output_gradient : NULL;
    char text[200], text2[200];
    if (seed && (!em__type_equal_shape(&seed->type, &target->type) ||
                 seed->type.dtype != target->type.dtype)) {
        em__error("tape_gradient: output gradient %s does not match target %s",
                  em__type_format(&seed->type, text, sizeof text),
                  em__type_format(&target->type, text2, sizeof text2));
        return -1;
    }
    if (!seed && target->size != 1) {
        em__error("tape_gradient: target %s has more than one element; pass "
                  "an output gradient (em_tape_gradient_ex)",
                  em__type_format(&target->type, text, sizeof text));
        return -1;
    }
    tape->used = true;

    em_scope_begin();
    id_map map = {0};
    bool ok = true;
    if (!seed)
        seed = em_ones_like(target);
    ok = seed && map_put(&map, target->id, seed) && sweep(tape, &map);
    bool zeros = options && options->unconnected_zeros;
    for (int i = 0; ok && i < n; i++) {
        /* Unwatched sources get nothing, even when on the path. */
        em_tensor *g =
            is_watched(tape, sources[i]) ? map_get(&map, sources[i]->id) : NULL;
        if (g)
            grads[i] = hand_back(g, grads, i);
        else if (zeros)
            grads[i] = em_zeros_like(sources[i]);
        ok = grads[i] || (!g && !zeros);
    }
    map_free(&map);
    /* Only now, all gradients made, do they leave the sweep's scope. */
    for (int i = 0; i < n; i++) {
        if (ok)
            em_scope_keep(grads[i]);
        else
            grads[i] = NULL;
    }
    em_scope_end();

    if (!tape->persistent)
        release_records(tape);
    return ok ? 0 : -1;
}

int em_tape_gradient(em_tape *tape, em_tensor *target, int n,
                     em_tensor *const *sources, em_tensor **grads)
{
    return em_tape_gradient_ex(tape, target, n, sources, grads, NULL);
}

/* ---- user-defined gradients ---------------------------------------------*/

em_tensor *em_custom_gradient(em_forward_fn forward, em_backward_fn backward,
                              void *user, int n, em_tensor *const *inputs)
{
    if (!forward || !backward) {
        em__error("custom_gradient: forward and backward must not be NULL");
        return NULL;
    }
    if (n < 0 || (n > 0 && !inputs)) {
        em__error("custom_gradient: needs n >= 0 and, for n > 0, an inputs "
                  "array (n = %d)",
                  n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!inputs[i]) {
            if (!em_error_pending())
                em__error("custom_gradient: input %d is NULL", i);
            return NULL;
        }
    em__thread *thread = em__thread_state();
    thread->record_paused++;
    em_tensor *out = forward(n, inputs, user);
    thread->record_paused--;
    if (!out) {
        if (!em_error_pending())
            em__error("custom_gradient: the forward function returned NULL");
        return NULL;
    }
    if (thread->recording_tapes > 0 && thread->record_paused == 0) {
        em__attrs none;
        memset(&none, 0, sizeof none);
        record_call(CUSTOM_OP, inputs, n, &none, out, backward, user);
    }
    return out;
}

/* ---- calls with several outputs -------------------------------------------*/

void em__multi_grad_release(em__multi_grad *g)
{
    if (g && --g->refs == 0)
        g->destroy(g);
}

void em__tape_record_multi(em__multi_grad *g, int n, em_tensor *const *inputs,
                           int n_out, em_tensor *const *outputs)
{
    em__thread *thread = em__thread_state();
    if (thread->recording_tapes == 0 || thread->record_paused > 0 || n_out < 1)
        return;
    em__attrs none;
    memset(&none, 0, sizeof none);
    for (em_tape *tape = recording_top; tape; tape = tape->below) {
        bool watched = false;
        for (int i = 0; i < n && !watched; i++)
            watched = is_watched(tape, inputs[i]);
        if (!watched)
            continue;
        em_tensor **outs = malloc(sizeof *outs * (size_t)n_out);
        int64_t before = tape->len;
        if (outs)
            append(tape, CUSTOM_OP, inputs, n, &none, outputs[0], NULL, NULL);
        bool ok = outs && tape->len > before;
        for (int k = 1; ok && k < n_out; k++)
            ok = map_put(&tape->watched, outputs[k]->id, NULL);
        if (!ok && (!outs || tape->len == before)) {
            free(outs);
            em__log(EM_LOG_WARN, "tape: out of memory, a region was not "
                                 "recorded");
            continue;
        }
        record *r = &tape->records[tape->len - 1];
        for (int k = 0; k < n_out; k++)
            outs[k] = em__tensor_ref(outputs[k]);
        r->n_out = n_out;
        r->outputs = outs;
        r->multi = g;
        g->refs++;
    }
}
