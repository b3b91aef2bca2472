/* Checkpoints: round trips, a hostile or damaged file is refused without
 * touching any variable, saves are atomic, and optimiser state resumes
 * training exactly. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.h"

/* ---- helpers ------------------------------------------------------------*/

/* A fresh folder for one test (each test runs in its own process). */
static char dir[64];
static char path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/ember-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char file[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
            unlink(file);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* Files in the test folder. */
static int files_in_dir(void)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        count += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return count;
}

static em_tensor *var_f32(const char *name, int ndim, const int64_t *shape,
                          const float *values)
{
    em_scope_begin();
    em_tensor *v = em_variable_new(name, test_f32(ndim, shape, values), true);
    em_scope_end();
    return v;
}

static em_tensor *var_zeros(const char *name, em_dtype dtype, int ndim,
                            const int64_t *shape)
{
    em_scope_begin();
    em_tensor *v = em_variable_new(name, em_zeros(dtype, ndim, shape), true);
    em_scope_end();
    return v;
}

static void assert_bytes(em_tensor *t, const void *expected, size_t nbytes)
{
    ck_assert_uint_eq(em_tensor_nbytes(t), nbytes);
    if (nbytes)
        ck_assert_int_eq(memcmp(em_tensor_data(t), expected, nbytes), 0);
}

/* The small checkpoint the damage tests work on: a [2,3] float32 "w" and
 * a [2] float32 "b"; in memory both are then zeros. */
static const float w_saved[6] = {1, 2, 3, 4, 5, 6};
static const float b_saved[2] = {-1, 0.5f};

static void save_small(em_tensor **vars)
{
    em_tensor *w = var_f32("w", 2, (int64_t[]){2, 3}, w_saved);
    em_tensor *b = var_f32("b", 1, (int64_t[]){2}, b_saved);
    ck_assert_int_eq(em_checkpoint_save(path, 2, (em_tensor *[]){w, b}), 0);
    em_tensor_free(w);
    em_tensor_free(b);
    vars[0] = var_zeros("w", EM_FLOAT32, 2, (int64_t[]){2, 3});
    vars[1] = var_zeros("b", EM_FLOAT32, 1, (int64_t[]){2});
}

static void assert_zeros(em_tensor **vars)
{
    static const float zeros[6] = {0};
    assert_bytes(vars[0], zeros, sizeof zeros);
    assert_bytes(vars[1], zeros, 2 * sizeof(float));
}

/* ---- round trips ----------------------------------------------------------*/

START_TEST(round_trip_keeps_every_dtype_and_shape_bit_for_bit)
{
    make_dir();
    const float f32[6] = {1.5f, -2, 0, 3.25f, -0.0f, 1e-30f};
    const double f64 = -7.125;
    const int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
    const int32_t i32[3] = {-5, 0, 123456};
    const uint8_t u8[3] = {0, 128, 255};
    const bool flags[4] = {true, false, false, true};

    em_scope_begin();
    em_tensor *saved[] = {
        em_variable_new(
            "f32", em_tensor_from_data(f32, EM_FLOAT32, 2, (int64_t[]){2, 3}),
            true),
        em_variable_new("scalar",
                        em_tensor_from_data(&f64, EM_FLOAT64, 0, NULL), false),
        em_variable_new("i64",
                        em_tensor_from_data(i64, EM_INT64, 1, (int64_t[]){4}),
                        false),
        em_variable_new(
            "i32", em_tensor_from_data(i32, EM_INT32, 3, (int64_t[]){1, 3, 1}),
            false),
        em_variable_new(
            "u8", em_tensor_from_data(u8, EM_UINT8, 1, (int64_t[]){3}), false),
        em_variable_new(
            "bool", em_tensor_from_data(flags, EM_BOOL, 2, (int64_t[]){2, 2}),
            false),
        em_variable_new("empty", em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 5}),
                        false),
    };
    em_scope_end();
    enum { N = sizeof saved / sizeof *saved };
    ck_assert_int_eq(em_checkpoint_save(path, N, saved), 0);

    em_tensor *loaded[N];
    for (int i = 0; i < N; i++)
        loaded[i] =
            var_zeros(em_variable_name(saved[i]), em_tensor_dtype(saved[i]),
                      em_tensor_ndim(saved[i]), em_tensor_shape(saved[i]));
    /* A different order than saved: entries are found by name. */
    em_tensor *reversed[N];
    for (int i = 0; i < N; i++)
        reversed[i] = loaded[N - 1 - i];
    ck_assert_int_eq(em_checkpoint_restore(path, N, reversed), 0);
    assert_bytes(loaded[0], f32, sizeof f32);
    assert_bytes(loaded[1], &f64, sizeof f64);
    assert_bytes(loaded[2], i64, sizeof i64);
    assert_bytes(loaded[3], i32, sizeof i32);
    assert_bytes(loaded[4], u8, sizeof u8);
    assert_bytes(loaded[5], flags, sizeof flags);
    assert_bytes(loaded[6], NULL, 0);
    ck_assert_int_eq(em_tensor_ndim(loaded[1]), 0);
    for (int i = 0; i < N; i++) {
        em_tensor_free(saved[i]);
        em_tensor_free(loaded[i]);
    }
    ck_assert_int_eq(files_in_dir(), 1); /* no temporary file left */
    remove_dir();
}
END_TEST

START_TEST(an_empty_checkpoint_round_trips)
{
    make_dir();
    ck_assert_int_eq(em_checkpoint_save(path, 0, NULL), 0);
    ck_assert_int_eq(em_checkpoint_restore(path, 0, NULL), 0);
    remove_dir();
}
END_TEST

START_TEST(restore_of_a_subset_ignores_the_other_entries)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    ck_assert_int_eq(em_checkpoint_restore(path, 1, &vars[1]), 0);
    assert_bytes(vars[1], b_saved, sizeof b_saved);
    static const float zeros[6] = {0};
    assert_bytes(vars[0], zeros, sizeof zeros);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

START_TEST(save_replaces_an_existing_checkpoint)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars); /* vars are zeros now */
    ck_assert_int_eq(em_checkpoint_save(path, 2, vars), 0);
    em_tensor *w = var_f32("w", 2, (int64_t[]){2, 3}, w_saved);
    em_tensor *b = var_f32("b", 1, (int64_t[]){2}, b_saved);
    ck_assert_int_eq(em_checkpoint_restore(path, 2, (em_tensor *[]){w, b}), 0);
    assert_zeros((em_tensor *[]){w, b});
    for (int i = 0; i < 2; i++)
        em_tensor_free(vars[i]);
    em_tensor_free(w);
    em_tensor_free(b);
    ck_assert_int_eq(files_in_dir(), 1);
    remove_dir();
}
END_TEST

/* ---- refusals on restore --------------------------------------------------*/

START_TEST(restore_refuses_a_missing_file)
{
    make_dir();
    em_tensor *v = var_zeros("w", EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_int_eq(em_checkpoint_restore(path, 1, &v), -1);
    assert_error("checkpoint", path, "cannot open");
    em_tensor_free(v);
    remove_dir();
}
END_TEST

START_TEST(restore_refuses_the_file_truncated_at_every_byte)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    size_t size;
    unsigned char *bytes = test_read_file(path, &size);
    char cut[160];
    snprintf(cut, sizeof cut, "%s.cut", path);
    for (size_t len = 0; len < size; len++) {
        test_write_file(cut, bytes, len);
        ck_assert_msg(em_checkpoint_restore(cut, 2, vars) == -1,
                      "truncated to %zu of %zu bytes was accepted", len, size);
        assert_error("checkpoint", cut);
        assert_zeros(vars);
    }
    /* And one byte too many. */
    bytes[size] = 0;
    test_write_file(cut, bytes, size + 1);
    ck_assert_int_eq(em_checkpoint_restore(cut, 2, vars), -1);
    assert_error("unexpected bytes after the last entry");
    assert_zeros(vars);
    free(bytes);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

START_TEST(restore_refuses_any_single_flipped_byte)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    size_t size;
    unsigned char *bytes = test_read_file(path, &size);
    for (size_t at = 0; at < size; at++) {
        static const unsigned char masks[] = {0x01, 0x80, 0xff};
        for (size_t m = 0; m < sizeof masks; m++) {
            bytes[at] ^= masks[m];
            test_write_file(path, bytes, size);
            ck_assert_msg(em_checkpoint_restore(path, 2, vars) == -1,
                          "byte %zu ^ 0x%02x was accepted", at, masks[m]);
            assert_error("checkpoint", path);
            assert_zeros(vars);
            bytes[at] ^= masks[m];
        }
    }
    /* The undamaged bytes still restore. */
    test_write_file(path, bytes, size);
    ck_assert_int_eq(em_checkpoint_restore(path, 2, vars), 0);
    assert_bytes(vars[0], w_saved, sizeof w_saved);
    free(bytes);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

START_TEST(a_damaged_entry_is_named_with_its_byte_offset)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    size_t size;
    unsigned char *bytes = test_read_file(path, &size);
    bytes[size - 6] ^= 0x10; /* inside b's data */
    test_write_file(path, bytes, size);
    ck_assert_int_eq(em_checkpoint_restore(path, 2, vars), -1);
    assert_error("entry 1 ('b'", "checksum mismatch at byte");
    assert_zeros(vars);
    free(bytes);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

START_TEST(restore_refuses_a_different_shape_and_changes_nothing)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    em_tensor *w = var_zeros("w", EM_FLOAT32, 2, (int64_t[]){3, 2});
    ck_assert_int_eq(
        em_checkpoint_restore(path, 2, (em_tensor *[]){vars[1], w}), -1);
    assert_error(path, "variable 'w' is float32[2,3] in the file",
                 "float32[3,2] in memory");
    assert_zeros(vars); /* b, checked first, was not restored either */
    em_tensor_free(w);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

START_TEST(restore_refuses_a_different_dtype)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    em_tensor *b = var_zeros("b", EM_FLOAT64, 1, (int64_t[]){2});
    ck_assert_int_eq(
        em_checkpoint_restore(path, 2, (em_tensor *[]){vars[0], b}), -1);
    assert_error("variable 'b' is float32[2] in the file",
                 "float64[2] in memory");
    assert_zeros(vars);
    static const double zeros[2] = {0, 0};
    assert_bytes(b, zeros, sizeof zeros);
    em_tensor_free(b);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

START_TEST(restore_refuses_a_name_missing_from_the_file)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    em_tensor *c = var_zeros("c", EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_int_eq(
        em_checkpoint_restore(path, 3, (em_tensor *[]){vars[0], vars[1], c}),
        -1);
    assert_error(path, "no entry for variable 'c'");
    assert_zeros(vars);
    em_tensor_free(c);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

START_TEST(restore_refuses_a_file_that_is_not_a_checkpoint)
{
    make_dir();
    const char text[] = "this is not a checkpoint, just some text";
    test_write_file(path, (const unsigned char *)text, sizeof text);
    em_tensor *v = var_zeros("w", EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_int_eq(em_checkpoint_restore(path, 1, &v), -1);
    assert_error(path, "not an ember checkpoint");
    em_tensor_free(v);
    remove_dir();
}
END_TEST

/* A traced body that tries both directions on the variable in `user`. */
static int traced_rc[2];
static char traced_error[512];

static int checkpoint_inside(int n_inputs, em_tensor *const *in,
                             int max_outputs, em_tensor **out, void *user)
{
    (void)n_inputs, (void)max_outputs;
    em_tensor *v = user;
    traced_rc[0] = em_checkpoint_save(path, 1, &v);
    snprintf(traced_error, sizeof traced_error, "%s", em_error_peek());
    em_error_clear();
    traced_rc[1] = em_checkpoint_restore(path, 1, &v);
    em_error_clear();
    out[0] = em_add(in[0], v);
    return out[0] ? 1 : -1;
}

START_TEST(save_and_restore_are_refused_while_tracing)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    em_function *f = em_trace_fn(checkpoint_inside, vars[1], NULL);
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 2});
    em_tensor *y = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    em_scope_end();
    ck_assert_int_eq(traced_rc[0], -1);
    ck_assert_int_eq(traced_rc[1], -1);
    ck_assert_ptr_nonnull(strstr(traced_error, "while tracing"));
    assert_zeros(vars);
    em_function_free(f);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

/* ---- refusals on save, atomicity ------------------------------------------*/

START_TEST(save_refuses_duplicate_names_and_non_variables)
{
    make_dir();
    em_tensor *a = var_zeros("same", EM_FLOAT32, 1, (int64_t[]){2});
    em_tensor *b = var_zeros("same", EM_FLOAT32, 1, (int64_t[]){3});
    ck_assert_int_eq(em_checkpoint_save(path, 2, (em_tensor *[]){a, b}), -1);
    assert_error("checkpoint_save", path, "both named 'same'");
    em_scope_begin();
    em_tensor *plain = em_zeros(EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_int_eq(em_checkpoint_save(path, 2, (em_tensor *[]){a, plain}),
                     -1);
    assert_error("checkpoint_save", "entry 1 is not a variable");
    ck_assert_int_eq(em_checkpoint_save(path, 2, (em_tensor *[]){a, NULL}), -1);
    assert_error("checkpoint_save", "entry 1 is NULL");
    ck_assert_int_eq(em_checkpoint_save(NULL, 1, &a), -1);
    assert_error("checkpoint_save", "needs a path");
    ck_assert_int_eq(em_checkpoint_restore(path, -1, NULL), -1);
    assert_error("checkpoint_restore", "n >= 0");
    em_scope_end();
    ck_assert_int_eq(files_in_dir(), 0);
    em_tensor_free(a);
    em_tensor_free(b);
    remove_dir();
}
END_TEST

START_TEST(a_failed_save_leaves_the_old_checkpoint_intact)
{
    make_dir();
    em_tensor *vars[2];
    save_small(vars);
    em_tensor *dup[] = {vars[0], vars[0]};
    ck_assert_int_eq(em_checkpoint_save(path, 2, dup), -1);
    assert_error("both named 'w'");

    char bad[200];
    snprintf(bad, sizeof bad, "%s/no-such-folder/model.ckpt", dir);
    ck_assert_int_eq(em_checkpoint_save(bad, 2, vars), -1);
    assert_error("checkpoint_save", bad, "opening");

    ck_assert_int_eq(em_checkpoint_restore(path, 2, vars), 0);
    assert_bytes(vars[0], w_saved, sizeof w_saved);
    assert_bytes(vars[1], b_saved, sizeof b_saved);
    ck_assert_int_eq(files_in_dir(), 1);
    em_tensor_free(vars[0]);
    em_tensor_free(vars[1]);
    remove_dir();
}
END_TEST

enum { BIG = 1 << 24 }; /* float32 elements: a 64 MiB checkpoint */

static em_tensor *big_variable(float value)
{
    em_scope_begin();
    em_tensor *v = em_variable_new(
        "big", em_full(value, EM_FLOAT32, 1, (int64_t[]){BIG}), true);
    em_scope_end();
    return v;
}

static bool big_is(em_tensor *v, float value)
{
    const float *p = em_tensor_data(v);
    for (int64_t i = 0; i < BIG; i++)
        if (p[i] != value)
            return false;
    return true;
}

START_TEST(a_full_disk_fails_the_save_and_keeps_the_old_checkpoint)
{
    make_dir();
    em_tensor *old = big_variable(1);
    ck_assert_int_eq(em_checkpoint_save(path, 1, &old), 0);
    em_tensor_free(old);

    /* A file size limit stands in for a full disk: writes past it fail
     * with EFBIG (SIGXFSZ ignored). In a child, so the limit dies with it. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = {1 << 20, 1 << 20};
        setrlimit(RLIMIT_FSIZE, &limit);
        em_tensor *fresh = big_variable(2);
        int rc = em_checkpoint_save(path, 1, &fresh);
        bool message = rc == -1 && strstr(em_error_peek(), path) &&
                       strstr(em_error_peek(), "old file is untouched");
        _exit(message ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);

    em_tensor *loaded = big_variable(0);
    ck_assert_int_eq(em_checkpoint_restore(path, 1, &loaded), 0);
    ck_assert(big_is(loaded, 1));
    ck_assert_int_eq(files_in_dir(), 1); /* the temporary file is gone */
    em_tensor_free(loaded);
    remove_dir();
}
END_TEST

/* Kills a child that is saving over an existing checkpoint after `delay`
 * microseconds, then checks the checkpoint holds the old values or the new
 * ones, whole: never a torn file. */
static void kill_a_save_after(useconds_t delay)
{
    em_tensor *old = big_variable(1);
    ck_assert_int_eq(em_checkpoint_save(path, 1, &old), 0);
    em_tensor_free(old);

    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        em_tensor *fresh = big_variable(2);
        ck_assert_int_eq(write(ready[1], "s", 1), 1);
        em_checkpoint_save(path, 1, &fresh);
        _exit(0);
    }
    close(ready[1]);
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    usleep(delay);
    kill(pid, SIGKILL);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);

    em_tensor *loaded = big_variable(0);
    ck_assert_int_eq(em_checkpoint_restore(path, 1, &loaded), 0);
    ck_assert_msg(big_is(loaded, 1) || big_is(loaded, 2),
                  "after a kill at %u us the checkpoint is neither the old "
                  "nor the new one",
                  (unsigned)delay);
    em_tensor_free(loaded);
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)pid);
    unlink(tmp); /* what a killed save leaves behind */
}

START_TEST(a_save_killed_midway_leaves_the_old_checkpoint_readable)
{
    make_dir();
    /* From before the file is opened to after the rename: whenever the
     * kill lands, the checkpoint restores whole. */
    const useconds_t delays[] = {0, 200, 1000, 3000, 10000};
    for (size_t i = 0; i < sizeof delays / sizeof *delays; i++)
        kill_a_save_after(delays[i]);
    remove_dir();
}
END_TEST

/* ---- optimiser state ------------------------------------------------------*/

/* Data and parameters of a tiny linear model, loss mean((x w + b - y)^2). */
static const float xs[8] = {1, 2, -1, 0.5f, 3, -2, 0, 1};
static const float ys[4] = {1, -1, 2, 0.5f};

static void train_step(em_optimizer *opt, em_tensor *w, em_tensor *b)
{
    em_scope_begin();
    em_tensor *x = test_f32(2, (int64_t[]){4, 2}, xs);
    em_tensor *y = test_f32(2, (int64_t[]){4, 1}, ys);
    em_tape *tape = em_tape_begin(false);
    em_tensor *err = em_sub(em_add(em_matmul(x, w, false, false), b), y);
    em_tensor *loss = em_mean(em_square(err), 0, NULL, false);
    em_tensor *grads[2] = {NULL, NULL};
    ck_assert_int_eq(
        em_tape_gradient(tape, loss, 2, (em_tensor *[]){w, b}, grads), 0);
    em_tape_free(tape);
    ck_assert_int_eq(em_optimizer_apply(opt, 2, grads, (em_tensor *[]){w, b}),
                     0);
    em_scope_end();
}

static void make_params(em_tensor **w, em_tensor **b)
{
    *w = var_f32("w", 2, (int64_t[]){2, 1}, (float[]){0.3f, -0.2f});
    *b = var_f32("b", 1, (int64_t[]){1}, (float[]){0.1f});
}

static bool has_name(em_tensor **vars, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(em_variable_name(vars[i]), name) == 0)
            return true;
    return false;
}

START_TEST(optimizer_state_lists_the_steps_and_every_slot)
{
    em_tensor *w, *b;
    make_params(&w, &b);
    em_optimizer *opt = em_optimizer_adam(0.01, 0.9, 0.999, 1e-8);
    em_tensor *state[8] = {NULL};
    ck_assert_int_eq(em_optimizer_state(opt, 8, state), 1);
    ck_assert_str_eq(em_variable_name(state[0]), "optimizer/steps");

    /* The gradient of the loss at the initial point, by hand:
     * d/dw = 2/4 x^T (x w + b - y), d/db = 2/4 sum(x w + b - y). */
    double gw[2] = {0, 0}, gb = 0;
    for (int i = 0; i < 4; i++) {
        double r = (double)xs[2 * i] * 0.3f + (double)xs[2 * i + 1] * -0.2f +
                   0.1f - ys[i];
        gw[0] += 0.5 * r * xs[2 * i];
        gw[1] += 0.5 * r * xs[2 * i + 1];
        gb += 0.5 * r;
    }
    train_step(opt, w, b);

    ck_assert_int_eq(em_optimizer_state(opt, 0, NULL), 5);
    em_tensor *few[2] = {NULL, NULL};
    ck_assert_int_eq(em_optimizer_state(opt, 2, few), 5);
    ck_assert_ptr_null(few[0]); /* too small: nothing written */
    ck_assert_int_eq(em_optimizer_state(opt, 8, state), 5);
    const char *names[] = {"optimizer/steps", "w/adam_m", "w/adam_v",
                           "b/adam_m", "b/adam_v"};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(has_name(state, 5, names[i]), "no %s", names[i]);
    for (int i = 0; i < 5; i++) {
        const char *name = em_variable_name(state[i]);
        if (strcmp(name, "optimizer/steps") == 0)
            ck_assert_double_eq(em_tensor_item(state[i]), 1);
        else if (strcmp(name, "w/adam_m") == 0)
            assert_values(state[i], ((double[]){0.1 * gw[0], 0.1 * gw[1]}), 2,
                          1e-6, 1e-5);
        else if (strcmp(name, "w/adam_v") == 0)
            assert_values(
                state[i],
                ((double[]){0.001 * gw[0] * gw[0], 0.001 * gw[1] * gw[1]}), 2,
                1e-9, 1e-5);
        else if (strcmp(name, "b/adam_m") == 0)
            assert_values(state[i], ((double[]){0.1 * gb}), 1, 1e-6, 1e-5);
    }
    ck_assert_int_eq(em_optimizer_state(NULL, 0, NULL), -1);
    assert_error("optimizer_state");
    em_optimizer_free(opt);
    em_tensor_free(w);
    em_tensor_free(b);
}
END_TEST

static void copy_values(em_tensor *w, em_tensor *b, float *out)
{
    memcpy(out, em_tensor_data(w), 2 * sizeof(float));
    memcpy(out + 2, em_tensor_data(b), sizeof(float));
}

/* Exactly equal weights and bias (no tolerance: the replay is exact). */
static bool same_values(const float *a, const float *b)
{
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

START_TEST(restoring_params_and_state_replays_training_exactly)
{
    make_dir();
    em_tensor *w, *b;
    make_params(&w, &b);
    em_optimizer *opt = em_optimizer_adam(0.05, 0.9, 0.999, 1e-8);
    em_optimizer_set_cosine_schedule(opt, 10, 0.001);
    train_step(opt, w, b);
    train_step(opt, w, b);

    em_tensor *vars[8] = {w, b};
    int n = 2 + em_optimizer_state(opt, 6, vars + 2);
    ck_assert_int_eq(n, 7);
    ck_assert_int_eq(em_checkpoint_save(path, n, vars), 0);
    float before[3], first[3], second[3], fresh[3];
    copy_values(w, b, before);
    for (int i = 0; i < 3; i++)
        train_step(opt, w, b);
    copy_values(w, b, first);
    ck_assert(!same_values(first, before));

    /* The same optimiser, set back. */
    ck_assert_int_eq(em_checkpoint_restore(path, n, vars), 0);
    ck_assert_int_eq(em_optimizer_steps(opt), 2);
    for (int i = 0; i < 3; i++)
        train_step(opt, w, b);
    copy_values(w, b, second);
    ck_assert(same_values(first, second));

    /* A fresh optimiser, its state made by em_optimizer_prepare, then
     * restored. */
    em_optimizer *opt2 = em_optimizer_adam(0.05, 0.9, 0.999, 1e-8);
    em_optimizer_set_cosine_schedule(opt2, 10, 0.001);
    ck_assert_int_eq(em_optimizer_prepare(opt2, 2, (em_tensor *[]){w, b}), 0);
    ck_assert_int_eq(em_optimizer_steps(opt2), 0);
    em_tensor *vars2[8] = {w, b};
    ck_assert_int_eq(2 + em_optimizer_state(opt2, 6, vars2 + 2), n);
    ck_assert_int_eq(em_checkpoint_restore(path, n, vars2), 0);
    for (int i = 0; i < 3; i++)
        train_step(opt2, w, b);
    copy_values(w, b, fresh);
    ck_assert(same_values(first, fresh));

    em_optimizer_free(opt);
    em_optimizer_free(opt2);
    em_tensor_free(w);
    em_tensor_free(b);
    remove_dir();
}
END_TEST

Suite *checkpoint_suite(void);
Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = test_case(s, "round trip");
    tcase_add_test(tc, round_trip_keeps_every_dtype_and_shape_bit_for_bit);
    tcase_add_test(tc, an_empty_checkpoint_round_trips);
    tcase_add_test(tc, restore_of_a_subset_ignores_the_other_entries);
    tcase_add_test(tc, save_replaces_an_existing_checkpoint);
    tc = test_case(s, "restore refusals");
    tcase_add_test(tc, restore_refuses_a_missing_file);
    tcase_add_test(tc, restore_refuses_the_file_truncated_at_every_byte);
    tcase_add_test(tc, restore_refuses_any_single_flipped_byte);
    tcase_add_test(tc, a_damaged_entry_is_named_with_its_byte_offset);
    tcase_add_test(tc, restore_refuses_a_different_shape_and_changes_nothing);
    tcase_add_test(tc, restore_refuses_a_different_dtype);
    tcase_add_test(tc, restore_refuses_a_name_missing_from_the_file);
    tcase_add_test(tc, restore_refuses_a_file_that_is_not_a_checkpoint);
    tcase_add_test(tc, save_and_restore_are_refused_while_tracing);
    tc = test_case(s, "save");
    tcase_add_test(tc, save_refuses_duplicate_names_and_non_variables);
    tcase_add_test(tc, a_failed_save_leaves_the_old_checkpoint_intact);
    tcase_add_test(tc, a_full_disk_fails_the_save_and_keeps_the_old_checkpoint);
    tcase_add_test(tc, a_save_killed_midway_leaves_the_old_checkpoint_readable);
    tc = test_case(s, "optimizer state");
    tcase_add_test(tc, optimizer_state_lists_the_steps_and_every_slot);
    tcase_add_test(tc, restoring_params_and_state_replays_training_exactly);
    return s;
}

int main(void)
{
    return test_run(checkpoint_suite());
}
