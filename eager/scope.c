/*
 * eager/scope.c - scopes: each thread keeps one list of the tensors its open
 * scopes own (one reference each) and a stack of where each scope starts in
 * it. Ending a scope releases its part of the list; kept tensors are moved
 * to the enclosing scope.
 */
#include <stdlib.h>

#include "internal.h"

void em__tensor_release_from_scope(em_tensor *t);

typedef struct scope_frame {
    int64_t start;    /* first slot of this scope in the list */
    em_tensor **kept; /* tensors moving to the enclosing scope */
    int64_t nkept, capkept;
} scope_frame;

typedef struct scope_state {
    em_tensor **list;
    int64_t len, cap;
    scope_frame *frames;
    int depth, capframes;
} scope_state;

static _Thread_local scope_state state;
/* Scopes at or below this depth belong to a caller that em_scope_end must
 * not close (a traced body running inside its tracer's scope). */
static _Thread_local int floor_depth;

int em__scope_set_floor(int depth)
{
    int old = floor_depth;
    floor_depth = depth;
    return old;
}

static bool grow(void **items, int64_t *cap, int64_t need, size_t item)
{
    if (need <= *cap)
        return true;
    int64_t cap2 = *cap ? *cap * 2 : 256;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*items, (size_t)cap2 * item);
    if (!p)
        return false;
    *items = p;
    *cap = cap2;
    return true;
}

void em__scope_adopt(em_tensor *t)
{
    if (state.depth == 0)
        return;
    if (!grow((void **)&state.list, &state.cap, state.len + 1,
              sizeof *state.list)) {
        /* Out of memory: the caller ends up owning t, which leaks at worst. */
        em__log(EM_LOG_WARN, "scope: out of memory, a tensor left unowned");
        return;
    }
    t->scope_slot = state.len;
    state.list[state.len++] = t;
}

void em__scope_forget(em_tensor *t)
{
    if (t->scope_slot >= 0 && t->scope_slot < state.len &&
        state.list[t->scope_slot] == t)
        state.list[t->scope_slot] = NULL;
    t->scope_slot = -1;
}

bool em__scope_owns(const em_tensor *t)
{
    return state.depth > 0 && t->scope_slot >= 0 &&
           t->scope_slot >= state.frames[state.depth - 1].start &&
           t->scope_slot < state.len && state.list[t->scope_slot] == t;
}

void em_scope_begin(void)
{
    if (state.depth == state.capframes) {
        int cap = state.capframes ? state.capframes * 2 : 16;
        scope_frame *p = realloc(state.frames, (size_t)cap * sizeof *p);
        if (!p) {
            em__error("scope_begin: out of memory");
            return;
        }
        state.frames = p;
        state.capframes = cap;
    }
    scope_frame *f = &state.frames[state.depth++];
    f->start = state.len;
    f->kept = NULL;
    f->nkept = f->capkept = 0;
}

em_tensor *em_scope_keep(em_tensor *t)
{
    if (!t || t->scope_slot < 0 || state.depth == 0)
        return t;
    scope_frame *f = &state.frames[state.depth - 1];
    if (t->scope_slot < f->start)
        return t; /* already owned by an enclosing scope */
    if (!grow((void **)&f->kept, &f->capkept, f->nkept + 1, sizeof *f->kept)) {
        em__error("scope_keep: out of memory");
        return t;
    }
    state.list[t->scope_slot] = NULL;
    t->scope_slot = -1;
    f->kept[f->nkept++] = t;
    return t;
}

void em_scope_end(void)
{
    if (state.depth == 0) {
        em__error("scope_end: no scope is open");
        return;
    }
    if (state.depth <= floor_depth) {
        em__error("scope_end: no scope begun inside the traced function '%s' "
                  "is open",
                  em__thread_state()->tracing ? em__thread_state()->tracing
                                              : "?");
        return;
    }
    scope_frame *f = &state.frames[state.depth - 1];
    for (int64_t i = state.len - 1; i >= f->start; i--) {
        em_tensor *t = state.list[i];
        if (t)
            em__tensor_release_from_scope(t);
    }
    state.len = f->start;
    state.depth--;
    for (int64_t i = 0; i < f->nkept; i++)
        em__scope_adopt(f->kept[i]);
    free(f->kept);
    if (state.depth == 0) {
        free(state.list);
        free(state.frames);
        state = (scope_state){0};
    }
}

int em_scope_depth(void)
{
    return state.depth;
}
