/*
 * trace/control_internal.h - what the control-flow files share: tracing a
 * region (control.c), recording its gradient (control_grad.c) and running
 * it (executor_control.c).
 */
#ifndef EMBER_TRACE_CONTROL_INTERNAL_H
#define EMBER_TRACE_CONTROL_INTERNAL_H

#include "executor.h"
#include "tape_internal.h"
#include "trace_internal.h"

/* A branch, condition or body traced into a region graph. */
typedef struct em__region_trace {
    em__graph *graph;
    int n_out;     /* outputs the function returned */
    em__type *out; /* their types */
    em__trace_region_captures caps;
} em__region_trace;

void em__region_trace_free(em__region_trace *rt);

/* The union of two regions' captures (borrowed references): the values of
 * enclosing graphs the node reads, and the variables its regions use. */
typedef struct em__region_captures {
    int n_values;
    em_tensor **values;
    int n_variables;
    em_tensor **variables;
} em__region_captures;

void em__region_captures_free(em__region_captures *u);

/* Records a traced cond on the recording tapes: its inputs are pred, the
 * captured values and the variables; its gradient is a cond over the
 * branches' gradients. */
void em__cond_record_gradient(em_tensor *pred, em_traced_body then_fn,
                              em_traced_body else_fn, void *user, int n_inputs,
                              em_tensor *const *inputs,
                              const em__region_captures *u, int n_out,
                              em_tensor *const *outputs);

/* Records a traced while loop on the recording tapes: its inputs are the
 * initial loop variables, the captured values and the variables; its
 * gradient is a loop that runs the body again on each saved iteration, in
 * reverse. count and history are the node's saved iterations. */
void em__while_record_gradient(em_traced_body body_fn, void *user, int n_vars,
                               em_tensor *const *init,
                               const em__region_captures *u,
                               em_tensor *const *results, em_tensor *count,
                               em_tensor *const *history);

/* Runs cond or while node i of the plan's graph on the headers' values and
 * holds its results for the result nodes. False with an error. */
bool em__plan_run_region(em__plan *plan, int i);

#endif
