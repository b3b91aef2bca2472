/*
 * trace/shape_poly.h - one trace for every size under a signature's -1.
 *
 * A -1 in an input signature stands for a size that varies between calls
 * (the batch). Dimensions under -1 that had the same size at the first call
 * are one size symbol (the batch of the images and of their labels). The
 * function is traced at the first call's sizes and, to learn what each
 * symbol changes, once more per symbol with that size plus one. Every size
 * in the graphs (value shapes, reshape and slice attributes) and every
 * constant that moved is then fitted as a linear function of the symbols:
 * a size, a one-element constant n or 1/n (a mean's divisor), or a
 * constant filled with one value whose shape follows the symbols. One more
 * trace at other sizes checks the fit exactly. A later call with new sizes
 * gets its graph from the fit, without running the function again; its
 * plan and native code are made for those sizes, as XLA compiles once per
 * shape. Where anything does not fit (a size inside the function that
 * does not follow the input, a constant that changes another way, a
 * different graph), the function is traced again for each new size.
 *
 * The check is as good as the sizes it traces at: a body that is linear
 * in the sizes near them but not elsewhere (a size clamped with min(b, 8)
 * in C, say) fits, and gives wrong graphs at sizes past the clamp. Sizes
 * 0 and 1 are always traced on their own (as torch.compile specialises
 * them), since squeezing or broadcasting a 1, or an empty mean, changes a
 * graph in ways no other size shows.
 */
#ifndef EMBER_TRACE_SHAPE_POLY_H
#define EMBER_TRACE_SHAPE_POLY_H

#include "graph.h"
#include "ember/trace.h"

/* Most size symbols one function may have. */
#define EM__MAX_SIZE_SYMBOLS 8

typedef struct em__shape_poly em__shape_poly;

/* The size symbols of a call: classes of the signature's -1 dimensions with
 * equal sizes in `types`. Writes each symbol's size into sizes and returns
 * the count (0: the signature has no -1 the inputs use), or -1 when there
 * are more than EM__MAX_SIZE_SYMBOLS. */
int em__shape_poly_symbols(int n, const em_input_spec *signature,
                           const em__type *types, int64_t *sizes);

/* types with every -1 dimension of symbol j (as `base` assigns symbols)
 * set to sizes[j], into out. */
void em__shape_poly_types(int n, const em_input_spec *signature,
                          const em__type *base, const int64_t *base_sizes,
                          int count, const int64_t *sizes, em__type *out);

/* A fit from graphs[0] (traced at base_sizes) and graphs[1 + j] (symbol j
 * one larger). Takes the graphs and the array. NULL when out of memory
 * (with an error). */
em__shape_poly *em__shape_poly_new(int n, const em_input_spec *signature,
                                   const em__type *base_types, int count,
                                   const int64_t *base_sizes,
                                   em__graph **graphs);
/* Does `traced`, a trace at these symbol sizes, equal the graph the fit
 * builds for them (sizes and constants' values included)? Takes traced.
 * False with the reason in why (or out of memory, with an error). */
bool em__shape_poly_check(const em__shape_poly *p, em__graph *traced,
                          const int64_t *sizes, char *why, size_t size);
void em__shape_poly_free(em__shape_poly *p);

/* The symbols' sizes for a call with these input types, when p serves it
 * (dtypes and fixed sizes as at the first call, each symbol's dimensions
 * equal, and no symbol newly 0 or 1: those sizes change what some ops do
 * in ways the traces at other sizes cannot show). False otherwise. */
bool em__shape_poly_match(const em__shape_poly *p, int n, const em__type *types,
                          int64_t *sizes);

/* The graph for these symbol sizes, unoptimised: a new graph the caller
 * owns. NULL with the reason in why when a size would be negative (or
 * out of memory, with an error). */
em__graph *em__shape_poly_graph(const em__shape_poly *p, const int64_t *sizes,
                                char *why, size_t size);

/* A copy of g (regions too) sharing its captured tensors; NULL when out of
 * memory (with an error). */
em__graph *em__graph_clone(const em__graph *g);

#endif
