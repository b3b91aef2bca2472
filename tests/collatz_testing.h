/*
 * tests/collatz_testing.h - the Collatz step count as a traced body, an
 * em_cond inside an em_while_loop, shared by the control-flow suites
 * (eager and traced, graph files, native code).
 */
#ifndef EMBER_TESTS_COLLATZ_TESTING_H
#define EMBER_TESTS_COLLATZ_TESTING_H

#include "ember/control.h"
#include "testing.h"

/* Loop variables (steps, v), both int64 scalars: while v != 1. */
static inline int not_one(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    out[0] = em_not_equal(in[1], em_scalar(1, EM_INT64));
    return 1;
}

static inline int halve(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    out[0] = em_div(in[0], em_scalar(2, EM_INT64));
    return 1;
}

static inline int triple_plus_one(int n, em_tensor *const *in, int max,
                                  em_tensor **out, void *user)
{
    out[0] =
        em_add(em_mul(in[0], em_scalar(3, EM_INT64)), em_scalar(1, EM_INT64));
    return 1;
}

/* (steps, v) -> (steps + 1, v even ? v / 2 : 3 v + 1); user, when not
 * NULL, is an int64 variable the step also increments. */
static inline int collatz_step(int n, em_tensor *const *in, int max,
                               em_tensor **out, void *user)
{
    em_tensor *two = em_scalar(2, EM_INT64);
    em_tensor *even = em_equal(em_mul(em_div(in[1], two), two), in[1]);
    if (user && em_variable_assign_add(user, em_scalar(1, EM_INT64)))
        return -1;
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    return em_cond(even, halve, triple_plus_one, NULL, 1, &in[1], 1, &out[1]) ==
                   1
               ? 2
               : -1;
}

/* in[0] an int64 start -> out[0] its step count (at most 1000); user as
 * for collatz_step. */
static inline int collatz(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), in[0]};
    em_tensor *res[2];
    em_while_options o = {.max_iterations = 1000};
    if (em_while_loop(not_one, collatz_step, user, 2, vars, res, &o) != 0)
        return -1;
    out[0] = res[0];
    return 1;
}

/* The same count in C. */
static inline int64_t collatz_steps(int64_t v)
{
    int64_t steps = 0;
    while (v != 1) {
        v = v % 2 == 0 ? v / 2 : 3 * v + 1;
        steps++;
    }
    return steps;
}

#endif
