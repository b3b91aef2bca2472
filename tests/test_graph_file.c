/* Graph files: a traced function saved with em_concrete_save and run again
 * from em_graph_load (text form, results, a training step that keeps
 * training), and every corrupted or forged file refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

/* A file name in a fresh folder under /tmp (removed by cleanup). */
static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/ember-gf-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *format_concrete(const em_concrete *c)
{
    int len = em_concrete_format(c, NULL, 0);
    char *s = malloc((size_t)len + 1);
    em_concrete_format(c, s, (size_t)len + 1);
    return s;
}

static char *format_loaded(const em_loaded_graph *g)
{
    int len = em_loaded_graph_format(g, NULL, 0);
    char *s = malloc((size_t)len + 1);
    em_loaded_graph_format(g, s, (size_t)len + 1);
    return s;
}

/* ---- a small function: y = sum(tanh(x @ W) * 0.5 + b, axis 1), x - 1 ----*/

static int small_body(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *w = test_f32(2, (int64_t[]){3, 2},
                            (float[]){0.5f, -1, 2, 0.25f, -0.75f, 1.5f});
    em_tensor *h = em_tanh(em_matmul(in[0], w, false, false));
    h = em_add(em_mul(h, em_scalar_f32(0.5f)), in[1]);
    out[0] = em_sum(h, 1, (const int[]){1}, false);
    out[1] = em_sub(in[0], em_scalar_f32(1));
    return 2;
}

/* Traces small_body for x [2,3], b [2] and saves it to dir/small.emg. */
static em_function *save_small(em_tensor **x, em_tensor **b, char *path,
                               size_t size)
{
    *x = test_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, -1, 0.5f, 0});
    *b = test_f32(1, (int64_t[]){2}, (float[]){0.25f, -2});
    em_trace_options options = {.name = "small"};
    em_function *f = em_trace_fn(small_body, NULL, &options);
    em_concrete *c = em_function_concrete(f, 2, (em_tensor *[]){*x, *b});
    ck_assert_ptr_nonnull(c);
    path_in(path, size, "small.emg");
    ck_assert_int_eq(em_concrete_save(c, path), 0);
    return f;
}

START_TEST(round_trip_keeps_text_form_and_results)
{
    em_scope_begin();
    make_dir();
    em_tensor *x, *b;
    char path[128];
    em_function *f = save_small(&x, &b, path, sizeof path);
    em_concrete *c = em_function_concrete(f, 2, (em_tensor *[]){x, b});
    em_loaded_graph *g = em_graph_load(path);
    ck_assert_msg(g != NULL, "%s", em_error_last());
    char *before = format_concrete(c), *after = format_loaded(g);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    ck_assert_str_eq(em_loaded_graph_name(g), "small");

    em_tensor *out[2];
    ck_assert_int_eq(em_loaded_graph_run(g, 2, (em_tensor *[]){x, b}, 2, out),
                     2);
    /* Row r: sum over j of tanh((x W)[r,j]) * 0.5 + b[j]. */
    const float xv[6] = {1, 2, 3, -1, 0.5f, 0};
    const float wv[6] = {0.5f, -1, 2, 0.25f, -0.75f, 1.5f};
    double expected[2];
    for (int r = 0; r < 2; r++) {
        expected[r] = 0;
        for (int j = 0; j < 2; j++) {
            double dot = 0;
            for (int k = 0; k < 3; k++)
                dot += (double)xv[3 * r + k] * wv[2 * k + j];
            expected[r] += tanh(dot) * 0.5 + (j ? -2 : 0.25);
        }
    }
    assert_values(out[0], expected, 2, 1e-5, 1e-5);
    double minus_one[6];
    for (int i = 0; i < 6; i++)
        minus_one[i] = xv[i] - 1.0;
    assert_values(out[1], minus_one, 6, 0, 0);
    em_tensor *again[2];
    ck_assert_int_eq(em_function_call(f, 2, (em_tensor *[]){x, b}, 2, again),
                     2);
    ck_assert_double_eq(test_at(again[0], 0), test_at(out[0], 0));
    ck_assert_double_eq(test_at(again[0], 1), test_at(out[0], 1));

    em_input_spec specs[2];
    ck_assert_int_eq(em_loaded_graph_inputs(g, 2, specs), 2);
    ck_assert_int_eq(specs[0].dtype, EM_FLOAT32);
    ck_assert_int_eq(specs[0].ndim, 2);
    ck_assert_int_eq(specs[0].shape[1], 3);
    ck_assert_int_eq(em_loaded_graph_outputs(g, 2, specs), 2);
    ck_assert_int_eq(specs[0].ndim, 1);
    ck_assert_int_eq(specs[0].shape[0], 2);
    ck_assert_int_eq(em_loaded_graph_variables(g, 0, NULL), 0);
    ck_assert_int_gt(em_loaded_graph_format_dot(g, NULL, 0), 0);
    em_loaded_graph_free(g);
    em_function_free(f);
    remove_dir();
    em_scope_end();
}
END_TEST

START_TEST(run_refuses_wrong_inputs_and_small_output_arrays)
{
    em_scope_begin();
    make_dir();
    em_tensor *x, *b;
    char path[128];
    em_function *f = save_small(&x, &b, path, sizeof path);
    em_loaded_graph *g = em_graph_load(path);
    ck_assert_ptr_nonnull(g);
    em_tensor *out[2];
    ck_assert_int_eq(em_loaded_graph_run(g, 1, &x, 2, out), -1);
    assert_error("small", "takes 2 inputs, 1 given");
    ck_assert_int_eq(em_loaded_graph_run(g, 2, (em_tensor *[]){x, b}, 1, out),
                     -1);
    assert_error("small", "returns 2 outputs, room for 1");
    em_tensor *wrong = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 3});
    ck_assert_int_eq(
        em_loaded_graph_run(g, 2, (em_tensor *[]){wrong, b}, 2, out), -1);
    ck_assert(em_error_pending());
    em_error_clear();
    ck_assert_int_eq(em_loaded_graph_run(NULL, 0, NULL, 0, NULL), -1);
    assert_error("loaded_graph_run");
    em_loaded_graph_free(g);
    em_function_free(f);
    remove_dir();
    em_scope_end();
}
END_TEST

START_TEST(save_and_load_refuse_bad_arguments)
{
    em_scope_begin();
    ck_assert_int_eq(em_concrete_save(NULL, "/tmp/x"), -1);
    assert_error("concrete_save");
    ck_assert_ptr_null(em_graph_load(NULL));
    assert_error("graph_load");
    ck_assert_ptr_null(em_graph_load("/nonexistent/ember/graph.emg"));
    assert_error("graph_load", "/nonexistent/ember/graph.emg", "cannot open");
    em_tensor *x, *b;
    make_dir();
    char path[128], bad[160];
    em_function *f = save_small(&x, &b, path, sizeof path);
    em_concrete *c = em_function_concrete(f, 2, (em_tensor *[]){x, b});
    snprintf(bad, sizeof bad, "%s/no/such/folder.emg", dir);
    ck_assert_int_eq(em_concrete_save(c, bad), -1);
    assert_error("concrete_save", "opening");
    em_function_free(f);
    remove_dir();
    em_scope_end();
}
END_TEST

/* ---- a training step that keeps training after loading -----------------*/

typedef struct model {
    em_tensor *w, *b;
    em_optimizer *opt;
} model;

static model make_model(void)
{
    model m;
    em_scope_begin();
    m.w = em_variable_new(
        "w", test_random(7, EM_FLOAT32, 2, (int64_t[]){4, 2}, -1, 1), true);
    m.b = em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){2}), true);
    em_scope_end();
    m.opt = em_optimizer_sgd(0.05, 0.9, false);
    return m;
}

static void free_model(model *m)
{
    em_tensor_free(m->w);
    em_tensor_free(m->b);
    em_optimizer_free(m->opt);
}

/* in[0] x [8,4], in[1] y [8,2]: one SGD-momentum step on the mean squared
 * error of x @ w + b; output: the loss before the step. */
static int train_step(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max;
    model *m = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *pred = em_add(em_matmul(in[0], m->w, false, false), m->b);
    em_tensor *loss = em_mse_loss(pred, in[1]);
    em_tensor *params[2] = {m->w, m->b}, *grads[2] = {NULL, NULL};
    int rc = em_tape_gradient(tape, loss, 2, params, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 2, grads, params) != 0)
        return -1;
    out[0] = loss;
    return 1;
}

static void batch(int step, em_tensor **in)
{
    in[0] = test_random(100 + (uint64_t)step, EM_FLOAT32, 2, (int64_t[]){8, 4},
                        -1, 1);
    in[1] = test_random(200 + (uint64_t)step, EM_FLOAT32, 2, (int64_t[]){8, 2},
                        -1, 1);
}

static em_tensor *find_variable(em_loaded_graph *g, const char *name)
{
    em_tensor *vars[16];
    int n = em_loaded_graph_variables(g, 16, vars);
    ck_assert_int_le(n, 16);
    em_tensor *found = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(em_variable_name(vars[i]), name) == 0) {
            ck_assert_ptr_null(found);
            found = vars[i];
        }
    ck_assert_ptr_nonnull(found);
    return found;
}

static void assert_same_values(em_tensor *a, em_tensor *b)
{
    int64_t n = em_tensor_size(b);
    ck_assert_int_eq(em_tensor_size(a), n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(test_at(a, i), test_at(b, i), 1e-6);
}

START_TEST(loaded_training_step_continues_training)
{
    em_scope_begin();
    make_dir();
    char path[128];
    path_in(path, sizeof path, "step.emg");
    em_trace_options options = {.name = "train_step"};
    model ref = make_model(), part = make_model();
    em_function *f_ref = em_trace_fn(train_step, &ref, &options);
    em_function *f_part = em_trace_fn(train_step, &part, &options);
    double ref_loss[10];
    for (int s = 0; s < 10; s++) {
        em_scope_begin();
        em_tensor *in[2], *loss;
        batch(s, in);
        ck_assert_int_eq(em_function_call(f_ref, 2, in, 1, &loss), 1);
        ref_loss[s] = test_at(loss, 0);
        if (s < 5) {
            ck_assert_int_eq(em_function_call(f_part, 2, in, 1, &loss), 1);
            ck_assert_double_eq(test_at(loss, 0), ref_loss[s]);
        }
        if (s == 4)
            ck_assert_int_eq(
                em_concrete_save(em_function_concrete(f_part, 2, in), path), 0);
        em_scope_end();
    }
    em_loaded_graph *g = em_graph_load(path);
    ck_assert_msg(g != NULL, "%s", em_error_last());
    ck_assert_int_ge(em_loaded_graph_variables(g, 0, NULL), 2);
    em_tensor *w = find_variable(g, "w"), *b = find_variable(g, "b");
    ck_assert(em_variable_trainable(w));
    /* Saved by value: the loaded variables start where `part` stopped. */
    assert_same_values(w, part.w);
    for (int s = 5; s < 10; s++) {
        em_scope_begin();
        em_tensor *in[2], *loss;
        batch(s, in);
        ck_assert_int_eq(em_loaded_graph_run(g, 2, in, 1, &loss), 1);
        ck_assert_double_eq_tol(test_at(loss, 0), ref_loss[s], 1e-6);
        em_scope_end();
    }
    assert_same_values(w, ref.w);
    assert_same_values(b, ref.b);
    /* The loaded graph trains its own variables, not part's. */
    double diff = 0;
    for (int64_t i = 0; i < 8; i++)
        diff = fmax(diff, fabs(test_at(part.w, i) - test_at(ref.w, i)));
    ck_assert_double_gt(diff, 0);
    em_loaded_graph_free(g);
    em_function_free(f_ref);
    em_function_free(f_part);
    free_model(&ref);
    free_model(&part);
    remove_dir();
    em_scope_end();
}
END_TEST

/* ---- hostile files --------------------------------------------------------*/

/* Loads buf[0..size) from dir/h.emg; true when refused with an error
 * naming graph_load (the error is cleared). */
static bool refused(const unsigned char *buf, size_t size, const char *need)
{
    char path[128];
    path_in(path, sizeof path, "h.emg");
    test_write_file(path, buf, size);
    em_loaded_graph *g = em_graph_load(path);
    if (g) {
        em_loaded_graph_free(g);
        return false;
    }
    const char *msg = em_error_last();
    return msg && strstr(msg, "graph_load") && (!need || strstr(msg, need));
}

START_TEST(every_truncation_is_refused)
{
    em_scope_begin();
    make_dir();
    em_tensor *x, *b;
    char path[128];
    em_function *f = save_small(&x, &b, path, sizeof path);
    size_t size;
    unsigned char *buf = test_read_file(path, &size);
    for (size_t cut = 0; cut < size; cut++)
        ck_assert_msg(refused(buf, cut, NULL), "cut at %zu of %zu accepted",
                      cut, size);
    /* One byte too many is refused as well. */
    unsigned char *longer = malloc(size + 1);
    memcpy(longer, buf, size);
    longer[size] = 0;
    ck_assert(refused(longer, size + 1, "after the last section"));
    free(longer);
    free(buf);
    em_function_free(f);
    remove_dir();
    em_scope_end();
}
END_TEST

START_TEST(every_flipped_byte_is_refused)
{
    em_scope_begin();
    make_dir();
    em_tensor *x, *b;
    char path[128];
    em_function *f = save_small(&x, &b, path, sizeof path);
    size_t size;
    unsigned char *buf = test_read_file(path, &size);
    for (size_t i = 0; i < size; i++) {
        buf[i] ^= 0xff;
        ck_assert_msg(refused(buf, size, NULL), "flip at %zu accepted", i);
        buf[i] ^= 0xff;
    }
    /* A flip inside a section's payload is caught by its CRC: the first
     * section's payload starts after the header and its 12-byte head. */
    buf[20 + 12 + 2] ^= 0x01;
    ck_assert(refused(buf, size, "checksum mismatch"));
    free(buf);
    em_function_free(f);
    remove_dir();
    em_scope_end();
}
END_TEST

/* zlib's CRC-32, bit by bit, to forge files whose checksums hold. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Recomputes every section's CRC after an edit. */
static void fix_crcs(unsigned char *buf, size_t size)
{
    size_t pos = 20;
    while (pos + 12 <= size) {
        size_t len = (size_t)get_u64(buf + pos + 4);
        uint32_t crc = crc32_of(buf + pos, 12 + len);
        for (int i = 0; i < 4; i++)
            buf[pos + 12 + len + (size_t)i] = (unsigned char)(crc >> (8 * i));
        pos += 12 + len + 4;
    }
}

/* The offset of the first string `s` in buf (after its u32 length). */
static size_t find(const unsigned char *buf, size_t size, const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 4; i + len <= size; i++)
        if (memcmp(buf + i, s, len) == 0 && buf[i - 4] == len &&
            buf[i - 3] == 0 && buf[i - 2] == 0 && buf[i - 1] == 0)
            return i;
    ck_abort_msg("'%s' not in the file", s);
    return 0;
}

START_TEST(forged_files_with_valid_checksums_are_refused)
{
    em_scope_begin();
    make_dir();
    em_tensor *x, *b;
    char path[128];
    em_function *f = save_small(&x, &b, path, sizeof path);
    size_t size;
    unsigned char *buf = test_read_file(path, &size);
    unsigned char *copy = malloc(size);

    /* An op name the op table does not have. */
    memcpy(copy, buf, size);
    memcpy(copy + find(copy, size, "tanh"), (const char[]){'t', 'a', 'n', 'x'},
           4);
    fix_crcs(copy, size);
    ck_assert(refused(copy, size, "unknown op 'tanx'"));

    /* An op with an input that is not an earlier node: tanh's input id,
     * the u32 after its name and input count, made to point at itself. */
    memcpy(copy, buf, size);
    size_t at = find(copy, size, "tanh") + 4 + 4;
    copy[at] = 200;
    fix_crcs(copy, size);
    ck_assert(refused(copy, size, "input node 200 out of range"));

    /* A version this ember does not read (header CRC fixed). */
    memcpy(copy, buf, size);
    copy[8] = 9;
    uint32_t crc = crc32_of(copy, 16);
    for (int i = 0; i < 4; i++)
        copy[16 + i] = (unsigned char)(crc >> (8 * i));
    ck_assert(refused(copy, size, "format version 9"));

    /* An op renamed to another of the same arity and types loads; to one
     * of another arity it is refused: sum takes one input, not two. */
    memcpy(copy, buf, size);
    size_t mul = find(copy, size, "mul");
    memcpy(copy + mul, (const char[]){'s', 'u', 'b'}, 3);
    fix_crcs(copy, size);
    em_loaded_graph *g = NULL;
    test_write_file(path, copy, size);
    g = em_graph_load(path);
    /* sub has mul's arity and types, so this one is a valid graph. */
    ck_assert_ptr_nonnull(g);
    em_loaded_graph_free(g);
    memcpy(copy + mul - 4, (unsigned char[]){3, 0, 0, 0}, 4);
    memcpy(copy + mul, (const char[]){'s', 'u', 'm'}, 3);
    fix_crcs(copy, size);
    ck_assert(refused(copy, size, "sum takes 1 inputs, not 2"));

    free(copy);
    free(buf);
    em_function_free(f);
    remove_dir();
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph_file");
    TCase *tc = test_case(s, "round_trip");
    tcase_add_test(tc, round_trip_keeps_text_form_and_results);
    tcase_add_test(tc, run_refuses_wrong_inputs_and_small_output_arrays);
    tcase_add_test(tc, save_and_load_refuse_bad_arguments);
    tc = test_case(s, "training");
    tcase_add_test(tc, loaded_training_step_continues_training);
    tc = test_case(s, "hostile");
    tcase_add_test(tc, every_truncation_is_refused);
    tcase_add_test(tc, every_flipped_byte_is_refused);
    tcase_add_test(tc, forged_files_with_valid_checksums_are_refused);
    return test_run(s);
}
