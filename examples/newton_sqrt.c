/*
 * newton_sqrt.c - square roots by Newton's method, a loop whose number of
 * iterations depends on the data, inside a traced function.
 *
 * Newton's step for y^2 = a is y <- (y + a / y) / 2. Started from y = a
 * (or 1 for a < 1), it converges quadratically, but how many steps it
 * needs depends on a: the loop runs "until the largest relative change is
 * below the tolerance". A C `while` on a tensor value cannot be traced, so
 * the loop is em_while_loop: the traced graph holds one while node whose
 * size is the same for any number of iterations, and each call runs as
 * many iterations as its inputs need. The step count is a loop variable,
 * returned with the roots.
 *
 * Run:  newton_sqrt [--tolerance X]
 * Prints, for several inputs, the roots, the steps taken and the largest
 * error against libm's sqrt; exits 1 if any error is above 1e-9.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember.h>

typedef struct solver {
    em_tensor *a; /* the numbers whose roots are sought */
    double tolerance;
} solver;

/* Loop variables: step (int64), y (the estimates), change (the last step's
 * largest relative change). */
static int not_converged(int n, em_tensor *const *vars, int max,
                         em_tensor **out, void *user)
{
    solver *s = user;
    out[0] = em_greater(vars[2], em_scalar(s->tolerance, EM_FLOAT64));
    return out[0] ? 1 : -1;
}

static int newton_step(int n, em_tensor *const *vars, int max, em_tensor **out,
                       void *user)
{
    solver *s = user;
    em_tensor *y = vars[1];
    em_tensor *next =
        em_mul(em_add(y, em_div(s->a, y)), em_scalar(0.5, EM_FLOAT64));
    em_tensor *change =
        em_max(em_abs(em_div(em_sub(next, y), next)), 0, NULL, false);
    out[0] = em_add(vars[0], em_scalar(1, EM_INT64));
    out[1] = next;
    out[2] = change;
    return 3;
}

/* The traced function: a -> (sqrt(a), steps). */
static int newton_sqrt(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    solver s = *(solver *)user;
    s.a = in[0];
    em_tensor *start = em_maximum(in[0], em_scalar(1, EM_FLOAT64));
    em_tensor *vars[3] = {em_scalar(0, EM_INT64), start,
                          em_scalar(INFINITY, EM_FLOAT64)};
    em_tensor *results[3];
    em_while_options options = {.max_iterations = 200};
    if (em_while_loop(not_converged, newton_step, &s, 3, vars, results,
                      &options) != 0)
        return -1;
    out[0] = results[1];
    out[1] = results[0];
    return 2;
}

int main(int argc, char **argv)
{
    solver config = {.tolerance = 1e-12};
    for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--tolerance") == 0)
            config.tolerance = atof(argv[i + 1]);

    em_trace_options options = {.name = "newton_sqrt"};
    em_function *f = em_trace_fn(newton_sqrt, &config, &options);
    double inputs[4][4] = {{2, 3, 5, 7},
                           {0.25, 0.5, 0.75, 1},
                           {1e6, 2e6, 3e6, 4e6},
                           {1e-6, 1e12, 42, 9}};
    double worst = 0;
    for (int k = 0; k < 4; k++) {
        em_scope_begin();
        em_tensor *a =
            em_tensor_from_data(inputs[k], EM_FLOAT64, 1, (int64_t[]){4});
        em_tensor *out[2];
        if (em_function_call(f, 1, &a, 2, out) != 2) {
            fprintf(stderr, "newton_sqrt: %s\n", em_error_last());
            return 1;
        }
        double roots[4];
        em_tensor_copy_to(out[0], roots, EM_FLOAT64, sizeof roots);
        printf("steps %2d:", (int)em_tensor_item(out[1]));
        for (int i = 0; i < 4; i++) {
            double err =
                fabs(roots[i] - sqrt(inputs[k][i])) / sqrt(inputs[k][i]);
            worst = err > worst ? err : worst;
            printf("  sqrt(%g) = %.12g", inputs[k][i], roots[i]);
        }
        printf("\n");
        em_scope_end();
    }
    em_tensor *probe =
        em_tensor_from_data(inputs[0], EM_FLOAT64, 1, (int64_t[]){4});
    printf("one traced graph of %d nodes for every step count (%lld "
           "trace)\n",
           em_concrete_node_count(em_function_concrete(f, 1, &probe)),
           (long long)em_function_get_stats(f).traces);
    printf("largest relative error against libm: %.3g\n", worst);
    em_tensor_free(probe);
    em_function_free(f);
    return worst < 1e-9 ? 0 : 1;
}
