/* Native loops that run a vector of elements at a time, then the rest one
 * at a time: elementwise loops, broadcast rows, reductions along and
 * across rows and integer and bool loops at every length around the
 * vector width, loops split across threads at their remainder; all
 * against the same arithmetic written here in C. Also the sharing of one
 * function by loops whose code is the same (jit/share.c), on modules built
 * here. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jit_testing.h"

#ifdef EMBER_WITH_LLVM
#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>

#include "jit_internal.h"
#endif

/* Lengths around every vector width a host may have (4 to 64 lanes). */
static const int64_t lengths[] = {1,  2,  3,  4,   5,   7,   8,   9,    12,
                                  15, 16, 17, 23,  31,  32,  33,  40,   47,
                                  63, 64, 65, 127, 128, 129, 255, 1000, 1003};
enum { N_LENGTHS = (int)(sizeof lengths / sizeof *lengths) };

/* Calls body compiled before the first call returns, checking that it ran
 * as native code. */
static void run_native(em_traced_body body, int n_in, em_tensor **in, int n_out,
                       em_tensor **out)
{
    em_trace_options o = jit_options("vector", EM_JIT_SYNC);
    em_function *f = em_trace_fn(body, NULL, &o);
    ck_assert_msg(em_function_call(f, n_in, in, n_out, out) == n_out, "%s",
                  error_text());
    ck_assert_int_eq(
        em_concrete_wait_compiled(em_function_concrete(f, n_in, in)),
        EM_TIER_NATIVE);
    em_function_free(f);
}

static double tolerance(em_dtype dt)
{
    return dt == EM_FLOAT32 ? 1e-5 : 1e-12;
}

/* ---- elementwise loops ----------------------------------------------------*/

/* where(x > y, x * y + x, relu(y - x)) + sqrt(|x|) */
static int mixed(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *x = in[0], *y = in[1];
    em_tensor *w = em_where(em_greater(x, y), em_add(em_mul(x, y), x),
                            em_relu(em_sub(y, x)));
    out[0] = em_add(w, em_sqrt(em_abs(x)));
    return 1;
}

START_TEST(elementwise_loops_are_right_at_every_length)
{
    em_dtype dt = _i == 0 ? EM_FLOAT32 : EM_FLOAT64;
    for (int k = 0; k < N_LENGTHS; k++) {
        int64_t n = lengths[k];
        em_scope_begin();
        em_tensor *in[2] = {test_random(10 + (uint64_t)k, dt, 1, &n, -2, 2),
                            test_random(50 + (uint64_t)k, dt, 1, &n, -2, 2)};
        em_tensor *out = NULL;
        run_native(mixed, 2, in, 1, &out);
        double *want = malloc(sizeof(double) * (size_t)n);
        double *xs = values_of(in[0]), *ys = values_of(in[1]);
        for (int64_t i = 0; i < n; i++) {
            double x = xs[i], y = ys[i];
            want[i] = (x > y ? x * y + x : fmax(y - x, 0)) + sqrt(fabs(x));
        }
        assert_values(out, want, n, tolerance(dt), tolerance(dt));
        free(want), free(xs), free(ys);
        em_scope_end();
    }
}
END_TEST

/* relu(x + b) * 0.5 - b, x [3, n], b [n]. */
static int rows(int n, em_tensor *const *in, int max, em_tensor **out,
                void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *b = in[1];
    out[0] = em_sub(em_mul_scalar(em_relu(em_add(in[0], b)), 0.5), b);
    return 1;
}

START_TEST(broadcast_rows_are_right_at_every_row_length)
{
    em_dtype dt = _i == 0 ? EM_FLOAT32 : EM_FLOAT64;
    for (int k = 0; k < N_LENGTHS; k++) {
        int64_t n = lengths[k];
        em_scope_begin();
        em_tensor *in[2] = {
            test_random(7 + (uint64_t)k, dt, 2, (int64_t[]){3, n}, -1, 1),
            test_random(90 + (uint64_t)k, dt, 1, &n, -1, 1)};
        em_tensor *out = NULL;
        run_native(rows, 2, in, 1, &out);
        double *want = malloc(sizeof(double) * (size_t)(3 * n));
        double *xs = values_of(in[0]), *bs = values_of(in[1]);
        for (int64_t i = 0; i < 3 * n; i++)
            want[i] = fmax(xs[i] + bs[i % n], 0) * 0.5 - bs[i % n];
        assert_shape(out, 2, 3, n);
        assert_values(out, want, 3 * n, tolerance(dt), tolerance(dt));
        free(want), free(xs), free(bs);
        em_scope_end();
    }
}
END_TEST

/* ---- reductions -----------------------------------------------------------*/

/* Sums, maxima and minima of x [3, n] along its rows; sums of its
 * columns. */
static int reductions(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *x = em_mul_scalar(in[0], 1.0);
    out[0] = em_sum(x, 1, (const int[]){1}, false);
    out[1] = em_max(x, 1, (const int[]){1}, false);
    out[2] = em_min(x, 1, (const int[]){1}, false);
    out[3] = em_sum(x, 1, (const int[]){0}, false);
    return 4;
}

/* Row r of x [3, n] combined in double: 0 sum, 1 max, 2 min (NaN wins). */
static double row_value(const double *x, int64_t n, int64_t r, int kind)
{
    double v = kind == 0 ? 0 : kind == 1 ? -INFINITY : INFINITY;
    for (int64_t j = 0; j < n; j++) {
        double e = x[r * n + j];
        if (isnan(e) || isnan(v))
            v = NAN;
        else
            v = kind == 0 ? v + e : kind == 1 ? fmax(v, e) : fmin(v, e);
    }
    return v;
}

START_TEST(reductions_along_and_across_rows_are_right_at_every_length)
{
    em_dtype dt = _i == 0 ? EM_FLOAT32 : EM_FLOAT64;
    for (int k = 0; k < N_LENGTHS; k++) {
        int64_t n = lengths[k];
        em_scope_begin();
        em_tensor *x = test_random(30 + (uint64_t)k, EM_FLOAT64, 2,
                                   (int64_t[]){3, n}, -4, 4);
        /* NaN last in row 1 (often in the one-at-a-time tail), first in
         * row 2 (in the first vector): max and min give NaN there. */
        double *v = values_of(x);
        v[2 * n - 1] = NAN;
        v[2 * n] = NAN;
        x = em_cast(test_f64(2, (int64_t[]){3, n}, v), dt);
        free(v);
        em_tensor *out[4] = {NULL};
        run_native(reductions, 1, &x, 4, out);
        double *xs = values_of(x);
        for (int kind = 0; kind < 3; kind++) {
            double want[3];
            for (int64_t r = 0; r < 3; r++)
                want[r] = row_value(xs, n, r, kind);
            double *got = values_of(out[kind]);
            for (int r = 0; r < 3; r++) {
                bool ok = isnan(want[r])
                              ? isnan(got[r])
                              : fabs(got[r] - want[r]) <=
                                    tolerance(dt) * (1 + fabs(want[r]));
                ck_assert_msg(ok, "n %lld reduction %d row %d: %.9g, not %.9g",
                              (long long)n, kind, r, got[r], want[r]);
            }
            free(got);
        }
        double *cols = malloc(sizeof(double) * (size_t)n);
        for (int64_t j = 0; j < n; j++)
            cols[j] = xs[j] + xs[n + j] + xs[2 * n + j];
        double *got = values_of(out[3]);
        for (int64_t j = 0; j < n; j++) {
            bool ok = isnan(cols[j]) ? isnan(got[j])
                                     : fabs(got[j] - cols[j]) <=
                                           tolerance(dt) * (1 + fabs(cols[j]));
            ck_assert_msg(ok, "n %lld column %lld: %.9g, not %.9g",
                          (long long)n, (long long)j, got[j], cols[j]);
        }
        free(got);
        free(cols);
        free(xs);
        em_scope_end();
    }
}
END_TEST

/* ---- integers and bools ---------------------------------------------------*/

/* min(a, b) by where, a < b, a && b, float32(a) + 0.5, a through float64
 * and back, not c, where(c, a, b): a, b integers, c bool. */
static int integer_ops(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *a = in[0], *b = in[1], *c = in[2];
    em_dtype dt = em_tensor_dtype(a);
    out[0] = em_where(em_less(a, b), a, b);
    out[1] = em_less(a, b);
    out[2] = em_logical_and(a, b);
    out[3] = em_add(em_cast(a, EM_FLOAT32), em_scalar(0.5, EM_FLOAT32));
    out[4] = em_cast(em_cast(a, EM_FLOAT64), dt);
    out[5] = em_logical_not(c);
    out[6] = em_where(c, a, b);
    return 7;
}

START_TEST(integer_and_bool_loops_are_right_at_every_length)
{
    const em_dtype dts[3] = {EM_INT32, EM_INT64, EM_UINT8};
    em_dtype dt = dts[_i];
    for (int k = 0; k < N_LENGTHS; k++) {
        int64_t n = lengths[k];
        em_scope_begin();
        int64_t *a = malloc(sizeof(int64_t) * (size_t)n);
        int64_t *b = malloc(sizeof(int64_t) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            a[i] = (i * 37 + k) % 7;
            b[i] = (i * 11 + 3 * k) % 5;
        }
        em_tensor *in[3] = {em_cast(test_i64(1, &n, a), dt),
                            em_cast(test_i64(1, &n, b), dt), NULL};
        in[2] = em_greater(in[1], em_cast(em_scalar(2, EM_INT64), dt));
        em_tensor *out[7] = {NULL};
        run_native(integer_ops, 3, in, 7, out);
        double *want[7];
        for (int j = 0; j < 7; j++)
            want[j] = malloc(sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            bool c = b[i] > 2;
            want[0][i] = (double)(a[i] < b[i] ? a[i] : b[i]);
            want[1][i] = a[i] < b[i];
            want[2][i] = a[i] != 0 && b[i] != 0;
            want[3][i] = (double)a[i] + 0.5;
            want[4][i] = (double)a[i];
            want[5][i] = !c;
            want[6][i] = (double)(c ? a[i] : b[i]);
        }
        for (int j = 0; j < 7; j++) {
            assert_values(out[j], want[j], n, 0, 0);
            free(want[j]);
        }
        free(a);
        free(b);
        em_scope_end();
    }
}
END_TEST

/* ---- loops split across threads -------------------------------------------*/

static int axpy(int n, em_tensor *const *in, int max, em_tensor **out,
                void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_add(em_mul_scalar(in[0], 2.0), in[1]);
    return 1;
}

START_TEST(loops_split_across_threads_are_right_at_their_remainder)
{
    em_set_num_threads(2);
    int64_t n = 2 * 131072 + 13;
    em_scope_begin();
    em_tensor *in[2] = {test_random(3, EM_FLOAT32, 1, &n, -1, 1),
                        test_random(4, EM_FLOAT32, 1, &n, -1, 1)};
    em_tensor *out = NULL;
    run_native(axpy, 2, in, 1, &out);
    double *want = malloc(sizeof(double) * (size_t)n);
    double *xs = values_of(in[0]), *ys = values_of(in[1]);
    for (int64_t i = 0; i < n; i++)
        want[i] = 2.0 * xs[i] + ys[i];
    assert_values(out, want, n, 1e-6, 1e-6);
    free(want), free(xs), free(ys);
    em_scope_end();
}
END_TEST

/* ---- sharing loop functions -----------------------------------------------*/

#ifdef EMBER_WITH_LLVM

/* void name(ptr p, i64 n): p[n] = p[n] op k, as float; nsw on the
 * index when asked, p noalias when asked. */
static LLVMValueRef add_loop(LLVMModuleRef m, const char *name, double k,
                             bool mul, bool nsw, bool noalias)
{
    LLVMContextRef llvm = LLVMGetModuleContext(m);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(llvm, 0);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(llvm);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(llvm);
    LLVMTypeRef type = LLVMFunctionType(LLVMVoidTypeInContext(llvm),
                                        (LLVMTypeRef[]){ptr, i64}, 2, 0);
    LLVMValueRef fn = LLVMAddFunction(m, name, type);
    LLVMSetLinkage(fn, LLVMPrivateLinkage);
    if (noalias) {
        unsigned kind = LLVMGetEnumAttributeKindForName("noalias", 7);
        LLVMAddAttributeAtIndex(fn, 1, LLVMCreateEnumAttribute(llvm, kind, 0));
    }
    LLVMBuilderRef b = LLVMCreateBuilderInContext(llvm);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(llvm, fn, "s"));
    LLVMValueRef at = LLVMGetParam(fn, 1);
    at = nsw ? LLVMBuildNSWAdd(b, at, LLVMConstInt(i64, 1, 0), "")
             : LLVMBuildAdd(b, at, LLVMConstInt(i64, 1, 0), "");
    LLVMValueRef p =
        LLVMBuildInBoundsGEP2(b, f32, LLVMGetParam(fn, 0), &at, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(b, f32, p, "");
    LLVMValueRef kv = LLVMConstReal(f32, k);
    LLVMBuildStore(
        b, mul ? LLVMBuildFMul(b, x, kv, "") : LLVMBuildFAdd(b, x, kv, ""), p);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    return fn;
}

/* A module whose entry calls each of fns in turn. */
static LLVMValueRef add_caller(LLVMModuleRef m, LLVMValueRef *fns, int n)
{
    LLVMContextRef llvm = LLVMGetModuleContext(m);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(llvm, 0);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(llvm);
    LLVMTypeRef type = LLVMFunctionType(LLVMVoidTypeInContext(llvm),
                                        (LLVMTypeRef[]){ptr, i64}, 2, 0);
    LLVMValueRef entry = LLVMAddFunction(m, "entry", type);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(llvm);
    LLVMPositionBuilderAtEnd(b,
                             LLVMAppendBasicBlockInContext(llvm, entry, "s"));
    for (int k = 0; k < n; k++)
        LLVMBuildCall2(
            b, type, fns[k],
            (LLVMValueRef[]){LLVMGetParam(entry, 0), LLVMGetParam(entry, 1)}, 2,
            "");
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    return entry;
}

/* The functions the calls of entry reach, in order. */
static void callees(LLVMValueRef entry, LLVMValueRef *out, int n)
{
    LLVMValueRef i = LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(entry));
    for (int k = 0; k < n; i = LLVMGetNextInstruction(i))
        if (LLVMIsACallInst(i))
            out[k++] = LLVMGetCalledValue(i);
}

static int count_functions(LLVMModuleRef m)
{
    int n = 0;
    for (LLVMValueRef f = LLVMGetFirstFunction(m); f;
         f = LLVMGetNextFunction(f))
        n++;
    return n;
}

START_TEST(loop_functions_with_the_same_code_become_one)
{
    LLVMContextRef llvm = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("share", llvm);
    LLVMValueRef fns[3] = {add_loop(m, "loop", 1.5, false, true, true),
                           add_loop(m, "loop.1", 1.5, false, true, true),
                           add_loop(m, "loop.2", 1.5, false, true, true)};
    LLVMValueRef entry = add_caller(m, fns, 3);
    em__jit_share_loops(m);
    ck_assert_int_eq(count_functions(m), 2);
    LLVMValueRef got[3];
    callees(entry, got, 3);
    for (int k = 0; k < 3; k++)
        ck_assert_ptr_eq(got[k], fns[0]);
    char *problem = NULL;
    ck_assert_msg(!LLVMVerifyModule(m, LLVMReturnStatusAction, &problem), "%s",
                  problem);
    LLVMDisposeMessage(problem);
    LLVMDisposeModule(m);
    LLVMContextDispose(llvm);
}
END_TEST

START_TEST(loop_functions_that_differ_in_a_constant_flag_or_attribute_stay)
{
    LLVMContextRef llvm = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("share", llvm);
    LLVMValueRef fns[5] = {
        add_loop(m, "loop", 1.5, false, true, true),
        add_loop(m, "loop.1", 2.5, false, true, true),  /* constant */
        add_loop(m, "loop.2", 1.5, true, true, true),   /* opcode */
        add_loop(m, "loop.3", 1.5, false, false, true), /* nsw */
        add_loop(m, "loop.4", 1.5, false, true, false), /* noalias */
    };
    LLVMValueRef entry = add_caller(m, fns, 5);
    /* Not a loop function: never shared, though the same as "loop". */
    add_loop(m, "other", 1.5, false, true, true);
    em__jit_share_loops(m);
    ck_assert_int_eq(count_functions(m), 7);
    LLVMValueRef got[5];
    callees(entry, got, 5);
    for (int k = 0; k < 5; k++)
        ck_assert_ptr_eq(got[k], fns[k]);
    LLVMDisposeModule(m);
    LLVMContextDispose(llvm);
}
END_TEST
#endif

int main(void)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    Suite *suite = suite_create("jit vector loops");
    TCase *tc = test_case(suite, "lengths");
    tcase_add_loop_test(tc, elementwise_loops_are_right_at_every_length, 0, 2);
    tcase_add_loop_test(tc, broadcast_rows_are_right_at_every_row_length, 0, 2);
    tcase_add_loop_test(
        tc, reductions_along_and_across_rows_are_right_at_every_length, 0, 2);
    tcase_add_loop_test(tc, integer_and_bool_loops_are_right_at_every_length, 0,
                        3);
    tcase_add_test(tc, loops_split_across_threads_are_right_at_their_remainder);
#ifdef EMBER_WITH_LLVM
    TCase *share = test_case(suite, "sharing");
    tcase_add_test(share, loop_functions_with_the_same_code_become_one);
    tcase_add_test(
        share, loop_functions_that_differ_in_a_constant_flag_or_attribute_stay);
#endif
    return test_run(suite);
}
