/* Data: reading IDX files (plain and gzip) and iterating over batches. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing.h"

static char temp_dir[256];

static void make_temp_dir(void)
{
    snprintf(temp_dir, sizeof temp_dir, "/tmp/ember_test_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

static void remove_temp_dir(void)
{
    char command[300];
    snprintf(command, sizeof command, "rm -rf '%s'", temp_dir);
    ck_assert_int_eq(system(command), 0);
}

/* Path of `name` in the temporary folder (static buffer). */
static const char *temp_path(const char *name)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    return path;
}

/* CRC-32 of the gzip trailer, a byte at a time from a table (files of
 * tens of megabytes are written too). */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t c = b;
            for (int k = 0; k < 8; k++)
                c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
            table[b] = c;
        }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = (c >> 8) ^ table[(c ^ p[i]) & 0xff];
    return ~c;
}

static void put_le32(FILE *f, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        fputc((int)(v >> (8 * k)) & 0xff, f);
}

/* Writes bytes as a plain file, or as a gzip member made here with stored
 * (uncompressed) deflate blocks (RFC 1951/1952), so that the reader is
 * checked against a writer it shares no code with. */
static void write_file(const char *path, const unsigned char *bytes, size_t n,
                       bool gzip)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (!gzip) {
        ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
        fclose(f);
        return;
    }
    static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0,
                                             0,    0,    0, 0, 0xff};
    fwrite(header, 1, sizeof header, f);
    size_t done = 0;
    do {
        size_t len = n - done > 65535 ? 65535 : n - done;
        bool final = done + len == n;
        fputc(final ? 1 : 0, f);
        fputc((int)(len & 0xff), f);
        fputc((int)(len >> 8), f);
        fputc((int)(~len & 0xff), f);
        fputc((int)((~len >> 8) & 0xff), f);
        ck_assert_uint_eq(fwrite(bytes + done, 1, len, f), len);
        done += len;
    } while (done < n);
    put_le32(f, crc32_of(bytes, n));
    put_le32(f, (uint32_t)n);
    fclose(f);
}

/* An IDX image in memory: header (type, dims) then `payload` as given
 * (already big-endian). Returns its length; buf must be large enough. */
static size_t idx_bytes(unsigned char *buf, unsigned char type, int ndim,
                        const uint32_t *dims, const void *payload,
                        size_t payload_bytes)
{
    size_t n = 0;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = type;
    buf[n++] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        buf[n++] = (unsigned char)(dims[i] >> 24);
        buf[n++] = (unsigned char)(dims[i] >> 16);
        buf[n++] = (unsigned char)(dims[i] >> 8);
        buf[n++] = (unsigned char)dims[i];
    }
    if (payload_bytes > 0)
        memcpy(buf + n, payload, payload_bytes);
    return n + payload_bytes;
}

static em_tensor *load_written(const char *name, const unsigned char *bytes,
                               size_t n, bool gzip)
{
    const char *path = temp_path(name);
    write_file(path, bytes, n, gzip);
    return em_idx_load(path);
}

START_TEST(reads_uint8_plain_and_gzip)
{
    unsigned char payload[6] = {0, 1, 2, 253, 254, 255}, buf[64];
    size_t n = idx_bytes(buf, 0x08, 2, (uint32_t[]){2, 3}, payload, 6);
    for (int gz = 0; gz < 2; gz++) {
        em_tensor *t = load_written(gz ? "u8.gz" : "u8", buf, n, gz);
        assert_shape(t, 2, 2, 3);
        ck_assert_int_eq(em_tensor_dtype(t), EM_UINT8);
        assert_values(t, ((double[]){0, 1, 2, 253, 254, 255}), 6, 0, 0);
        em_tensor_free(t);
    }
}
END_TEST

START_TEST(widens_int8_and_int16_to_int32)
{
    unsigned char i8[4] = {0x00, 0x7f, 0x80, 0xff}, buf[64];
    size_t n = idx_bytes(buf, 0x09, 1, (uint32_t[]){4}, i8, 4);
    em_tensor *t = load_written("i8", buf, n, false);
    ck_assert_int_eq(em_tensor_dtype(t), EM_INT32);
    assert_values(t, ((double[]){0, 127, -128, -1}), 4, 0, 0);
    em_tensor_free(t);

    /* Big-endian int16: 0x0102 = 258, 0x8000 = -32768, 0xfffe = -2. */
    unsigned char i16[6] = {0x01, 0x02, 0x80, 0x00, 0xff, 0xfe};
    n = idx_bytes(buf, 0x0B, 1, (uint32_t[]){3}, i16, 6);
    t = load_written("i16.gz", buf, n, true);
    ck_assert_int_eq(em_tensor_dtype(t), EM_INT32);
    assert_values(t, ((double[]){258, -32768, -2}), 3, 0, 0);
    em_tensor_free(t);
}
END_TEST

START_TEST(converts_big_endian_int32_float32_float64)
{
    unsigned char i32[8] = {0x00, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfd};
    unsigned char buf[128];
    size_t n = idx_bytes(buf, 0x0C, 1, (uint32_t[]){2}, i32, 8);
    em_tensor *t = load_written("i32", buf, n, false);
    ck_assert_int_eq(em_tensor_dtype(t), EM_INT32);
    assert_values(t, ((double[]){65536, -3}), 2, 0, 0);
    em_tensor_free(t);

    /* 1.5f = 0x3fc00000, -2.0f = 0xc0000000. */
    unsigned char f32[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0};
    n = idx_bytes(buf, 0x0D, 2, (uint32_t[]){1, 2}, f32, 8);
    t = load_written("f32.gz", buf, n, true);
    ck_assert_int_eq(em_tensor_dtype(t), EM_FLOAT32);
    assert_shape(t, 2, 1, 2);
    assert_values(t, ((double[]){1.5, -2}), 2, 0, 0);
    em_tensor_free(t);

    /* 0.1 = 0x3fb999999999999a. */
    unsigned char f64[8] = {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a};
    n = idx_bytes(buf, 0x0E, 1, (uint32_t[]){1}, f64, 8);
    t = load_written("f64", buf, n, false);
    ck_assert_int_eq(em_tensor_dtype(t), EM_FLOAT64);
    assert_values(t, ((double[]){0.1}), 1, 0, 0);
    em_tensor_free(t);
}
END_TEST

START_TEST(reads_zero_sized_dimensions)
{
    unsigned char buf[64];
    size_t n = idx_bytes(buf, 0x08, 3, (uint32_t[]){0, 28, 28}, NULL, 0);
    em_tensor *t = load_written("empty.gz", buf, n, true);
    assert_shape(t, 3, 0, 28, 28);
    em_tensor_free(t);
}
END_TEST

START_TEST(missing_file_names_the_path)
{
    ck_assert_ptr_null(em_idx_load(temp_path("no-such-file.gz")));
    assert_error("idx_load", "no-such-file.gz", "cannot open", "No such file");
    ck_assert_ptr_null(em_idx_load(NULL));
    assert_error("idx_load", "NULL");
}
END_TEST

START_TEST(bad_magic_unknown_type_and_too_many_dims)
{
    unsigned char buf[64];
    unsigned char text[] = "hello, not an idx file";
    ck_assert_ptr_null(load_written("text", text, sizeof text, false));
    assert_error("idx_load", "text", "bad magic");

    size_t n = idx_bytes(buf, 0x0A, 1, (uint32_t[]){1}, (char[]){"x"}, 1);
    ck_assert_ptr_null(load_written("type", buf, n, false));
    assert_error("idx_load", "type", "unknown element type 0x0a");

    uint32_t dims[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    n = idx_bytes(buf, 0x08, 9, dims, (char[]){"x"}, 1);
    ck_assert_ptr_null(load_written("dims", buf, n, false));
    assert_error("idx_load", "dims", "9 dimensions", "at most 8");
}
END_TEST

START_TEST(truncated_files_are_errors)
{
    unsigned char payload[12] = {0}, buf[64];
    size_t n = idx_bytes(buf, 0x08, 2, (uint32_t[]){3, 4}, payload, 12);
    for (int gz = 0; gz < 2; gz++) {
        /* Data cut short. */
        ck_assert_ptr_null(load_written("short", buf, n - 5, gz));
        assert_error("idx_load", "short", "truncated", "[3,4]", "12 bytes",
                     "found 7");
        /* Header cut inside the dimensions, and inside the magic. */
        ck_assert_ptr_null(load_written("head", buf, 6, gz));
        assert_error("idx_load", "head", "truncated", "header");
        ck_assert_ptr_null(load_written("magic", buf, 2, gz));
        assert_error("idx_load", "magic", "truncated");
        ck_assert_ptr_null(load_written("nothing", buf, 0, gz));
        assert_error("idx_load", "nothing", "truncated");
    }
}
END_TEST

START_TEST(trailing_data_is_an_error)
{
    unsigned char payload[3] = {1, 2, 3}, buf[64];
    size_t n = idx_bytes(buf, 0x08, 1, (uint32_t[]){2}, payload, 3);
    for (int gz = 0; gz < 2; gz++) {
        ck_assert_ptr_null(load_written("long", buf, n, gz));
        assert_error("idx_load", "long", "data after the 2 elements");
    }
}
END_TEST

START_TEST(corrupt_gzip_is_an_error)
{
    unsigned char payload[4096], buf[4200];
    for (int i = 0; i < 4096; i++)
        payload[i] = (unsigned char)(i * 7 + i / 13);
    size_t n = idx_bytes(buf, 0x08, 1, (uint32_t[]){4096}, payload, 4096);
    const char *path = temp_path("corrupt.gz");

    /* Changed data: the CRC no longer matches. */
    write_file(path, buf, n, true);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 100, SEEK_SET);
    fputc(0xA5, f);
    fclose(f);
    ck_assert_ptr_null(em_idx_load(path));
    assert_error("idx_load", "corrupt.gz");

    /* A broken block header (LEN and NLEN disagree). */
    write_file(path, buf, n, true);
    f = fopen(path, "r+b");
    fseek(f, 12, SEEK_SET);
    fputc(0x00, f);
    fclose(f);
    ck_assert_ptr_null(em_idx_load(path));
    assert_error("idx_load", "corrupt.gz");

    /* The gzip stream itself cut in half. */
    write_file(path, buf, n, true);
    ck_assert_int_eq(truncate(path, (off_t)(n / 2)), 0);
    ck_assert_ptr_null(em_idx_load(path));
    assert_error("idx_load", "corrupt.gz");
}
END_TEST

/* Fails unless the pending error starts "idx_load: '<path>': " and names
 * the path only there; then checks the fragments and clears it. */
#define assert_idx_error(path, ...)                                            \
    do {                                                                       \
        char prefix_[500];                                                     \
        snprintf(prefix_, sizeof prefix_, "idx_load: '%s': ", (path));         \
        const char *e_ = em_error_peek();                                      \
        ck_assert_ptr_nonnull(e_);                                             \
        ck_assert_msg(strncmp(e_, prefix_, strlen(prefix_)) == 0,              \
                      "'%s' does not start with \"%s\"", e_, prefix_);         \
        ck_assert_msg(strstr(e_ + strlen(prefix_), (path)) == NULL,            \
                      "'%s' repeats the path", e_);                            \
        assert_error(__VA_ARGS__);                                             \
    } while (0)

START_TEST(huge_announced_shapes_fail_fast_as_truncated)
{
    /* 16 data bytes under headers announcing 21 GB and 2 TiB: an
     * allocation of that size would abort the sanitizer build. */
    const uint32_t shapes[2][3] = {{3, 1426063364u, 5}, {1u << 20, 1u << 21}};
    const int ndims[2] = {3, 2};
    unsigned char buf[64];
    for (int k = 0; k < 2; k++)
        for (int gz = 0; gz < 2; gz++) {
            size_t n = idx_bytes(buf, 0x08, ndims[k], shapes[k],
                                 "0123456789abcdef", 16);
            ck_assert_ptr_null(load_written("huge", buf, n, gz));
            assert_idx_error(temp_path("huge"), "truncated", "found 16");
        }
}
END_TEST

START_TEST(messages_start_with_the_path_once)
{
    ck_assert_ptr_null(em_idx_load(temp_dir));
    assert_idx_error(temp_dir, "directory");
    ck_assert_ptr_null(em_idx_load(temp_path("absent")));
    assert_idx_error(temp_path("absent"), "cannot open");
    unsigned char text[] = "not idx";
    ck_assert_ptr_null(load_written("text.gz", text, sizeof text, true));
    assert_idx_error(temp_path("text.gz"), "bad magic");
}
END_TEST

/* A gzip file whose data outgrows the loader's first read buffer, whole and
 * cut short. */
START_TEST(gzip_data_beyond_the_first_buffer)
{
    const uint32_t rows = 17, cols = 4u << 20; /* 68 MiB */
    size_t bytes = (size_t)rows * cols;
    unsigned char *file = malloc(bytes + 64);
    ck_assert_ptr_nonnull(file);
    size_t head = idx_bytes(file, 0x08, 2, (uint32_t[]){rows, cols}, NULL, 0);
    for (size_t i = 0; i < bytes; i++)
        file[head + i] = (unsigned char)(i * 7 + i / 4099);

    em_tensor *t = load_written("big.gz", file, head + bytes, true);
    assert_shape(t, 2, rows, cols);
    const unsigned char *p = em_tensor_data(t);
    size_t wrong = 0;
    for (size_t i = 0; i < bytes; i++)
        wrong += p[i] != (unsigned char)(i * 7 + i / 4099);
    ck_assert_uint_eq(wrong, 0);
    em_tensor_free(t);

    /* 20 MiB of the data under a header announcing 4 x 68 MiB. */
    idx_bytes(file, 0x08, 2, (uint32_t[]){4 * rows, cols}, NULL, 0);
    ck_assert_ptr_null(load_written("cut.gz", file, head + (20u << 20), true));
    assert_idx_error(temp_path("cut.gz"), "truncated", "found 20971520");
    free(file);
}
END_TEST

START_TEST(fashion_mnist_train_labels_are_balanced)
{
    const char *path =
        "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
    if (access(path, R_OK) != 0) {
        printf("skipped: %s is absent\n", path);
        return;
    }
    em_tensor *labels = em_idx_load(path);
    assert_shape(labels, 1, 60000);
    ck_assert_int_eq(em_tensor_dtype(labels), EM_UINT8);
    const uint8_t *p = em_tensor_data(labels);
    int counts[256] = {0};
    for (int i = 0; i < 60000; i++)
        counts[p[i]]++;
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(counts[c], 6000);
    em_tensor_free(labels);
}
END_TEST

/* ---- batch iterator ----------------------------------------------------*/

/* x: [rows, 2] with row r = (2r, 2r + 1) as float32; y: [rows] = r. */
static void make_rows(int64_t rows, em_tensor **x, em_tensor **y)
{
    float *xv = malloc(sizeof *xv * (size_t)(2 * rows + 1));
    int64_t *yv = malloc(sizeof *yv * (size_t)(rows + 1));
    for (int64_t r = 0; r < rows; r++) {
        xv[2 * r] = (float)(2 * r);
        xv[2 * r + 1] = (float)(2 * r + 1);
        yv[r] = r;
    }
    *x = test_f32(2, (int64_t[]){rows, 2}, xv);
    *y = test_i64(1, (int64_t[]){rows}, yv);
    free(xv);
    free(yv);
}

/* Runs one epoch; writes the row order into order (from y) and the batch
 * sizes into sizes; checks that x rows match their labels. Returns the
 * number of batches. */
static int run_epoch(em_batch_iter *it, int64_t *order, int64_t *sizes)
{
    em_tensor *out[2];
    int batches = 0;
    int64_t seen = 0;
    while (em_batch_iter_next(it, out)) {
        int64_t b = em_tensor_dim(out[1], 0);
        assert_shape(out[0], 2, b, 2);
        const float *xv = em_tensor_data(out[0]);
        const int64_t *yv = em_tensor_data(out[1]);
        for (int64_t r = 0; r < b; r++) {
            ck_assert_float_eq(xv[2 * r], (float)(2 * yv[r]));
            ck_assert_float_eq(xv[2 * r + 1], (float)(2 * yv[r] + 1));
            order[seen++] = yv[r];
        }
        sizes[batches++] = b;
        em_tensor_free(out[0]);
        em_tensor_free(out[1]);
    }
    ck_assert_ptr_null(out[0]);
    return batches;
}

START_TEST(iterator_without_shuffle_keeps_order_with_partial_last_batch)
{
    em_tensor *x, *y;
    make_rows(10, &x, &y);
    em_batch_iter *it =
        em_batch_iter_new(2, (em_tensor *[]){x, y}, 4, false, 0, false);
    ck_assert_int_eq(em_batch_iter_count(it), 3);
    int64_t order[10], sizes[4];
    ck_assert_int_eq(run_epoch(it, order, sizes), 3);
    ck_assert_int_eq(sizes[0], 4);
    ck_assert_int_eq(sizes[1], 4);
    ck_assert_int_eq(sizes[2], 2);
    for (int r = 0; r < 10; r++)
        ck_assert_int_eq(order[r], r);
    em_batch_iter_free(it);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(shuffled_epoch_covers_every_row_once)
{
    em_tensor *x, *y;
    make_rows(103, &x, &y);
    em_batch_iter *it =
        em_batch_iter_new(2, (em_tensor *[]){x, y}, 10, true, 42, false);
    for (int epoch = 0; epoch < 3; epoch++) {
        int64_t order[103], sizes[11];
        ck_assert_int_eq(run_epoch(it, order, sizes), 11);
        ck_assert_int_eq(sizes[10], 3);
        int seen[103] = {0};
        bool moved = false;
        for (int r = 0; r < 103; r++) {
            seen[order[r]]++;
            moved |= order[r] != r;
        }
        for (int r = 0; r < 103; r++)
            ck_assert_int_eq(seen[r], 1);
        ck_assert(moved);
        em_batch_iter_reset(it);
    }
    em_batch_iter_free(it);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(drop_last_skips_the_partial_batch)
{
    em_tensor *x, *y;
    make_rows(10, &x, &y);
    em_batch_iter *it =
        em_batch_iter_new(2, (em_tensor *[]){x, y}, 4, true, 1, true);
    ck_assert_int_eq(em_batch_iter_count(it), 2);
    int64_t order[10], sizes[3];
    ck_assert_int_eq(run_epoch(it, order, sizes), 2);
    ck_assert_int_eq(sizes[0], 4);
    ck_assert_int_eq(sizes[1], 4);
    em_batch_iter_free(it);

    /* Fewer rows than a batch: nothing at all. */
    it = em_batch_iter_new(1, &x, 11, false, 0, true);
    ck_assert_int_eq(em_batch_iter_count(it), 0);
    em_tensor *out[1];
    ck_assert(!em_batch_iter_next(it, out));
    em_batch_iter_free(it);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

static void epoch_order(uint64_t seed, int epoch, int64_t *order)
{
    em_tensor *x, *y;
    make_rows(50, &x, &y);
    em_batch_iter *it =
        em_batch_iter_new(2, (em_tensor *[]){x, y}, 7, true, seed, false);
    int64_t sizes[8];
    for (int e = 0; e < epoch; e++)
        em_batch_iter_reset(it);
    run_epoch(it, order, sizes);
    em_batch_iter_free(it);
    em_tensor_free(x);
    em_tensor_free(y);
}

START_TEST(order_is_a_function_of_seed_and_epoch)
{
    int64_t a[50], b[50], c[50], d[50];
    epoch_order(5, 0, a);
    epoch_order(5, 0, b);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    epoch_order(5, 1, c);
    ck_assert(memcmp(a, c, sizeof a) != 0);
    epoch_order(6, 0, d);
    ck_assert(memcmp(a, d, sizeof a) != 0);
    /* Reaching epoch 1 again gives its order again. */
    epoch_order(5, 1, b);
    ck_assert(memcmp(b, c, sizeof b) == 0);
}
END_TEST

START_TEST(next_after_the_end_stays_false_until_reset)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 2});
    em_batch_iter *it = em_batch_iter_new(1, &x, 3, false, 0, false);
    em_tensor *out[1];
    ck_assert(em_batch_iter_next(it, out));
    em_tensor_free(out[0]);
    ck_assert(!em_batch_iter_next(it, out));
    ck_assert(!em_batch_iter_next(it, out));
    em_batch_iter_reset(it);
    ck_assert(em_batch_iter_next(it, out));
    assert_shape(out[0], 2, 3, 2);
    em_tensor_free(out[0]);
    em_batch_iter_free(it);
    em_tensor_free(x);
}
END_TEST

START_TEST(iterator_keeps_its_tensors_alive_and_releases_them)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tensor *x, *y;
    make_rows(6, &x, &y);
    em_batch_iter *it =
        em_batch_iter_new(2, (em_tensor *[]){x, y}, 6, false, 0, false);
    em_scope_end(); /* x and y released by their scope */
    em_tensor *out[2];
    ck_assert(em_batch_iter_next(it, out));
    assert_values(out[1], ((double[]){0, 1, 2, 3, 4, 5}), 6, 0, 0);
    em_tensor_free(out[0]);
    em_tensor_free(out[1]);
    em_batch_iter_free(it);
    em_memory_stats after = em_memory_get_stats();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
    ck_assert_int_eq(after.live_bytes, before.live_bytes);
}
END_TEST

START_TEST(iterator_batches_belong_to_the_open_scope)
{
    em_tensor *x, *y;
    make_rows(8, &x, &y);
    em_batch_iter *it =
        em_batch_iter_new(2, (em_tensor *[]){x, y}, 4, true, 3, false);
    em_memory_stats before = em_memory_get_stats();
    em_tensor *out[2];
    for (int step = 0; step < 2; step++) {
        em_scope_begin();
        ck_assert(em_batch_iter_next(it, out));
        em_scope_end();
    }
    em_memory_stats after = em_memory_get_stats();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
    em_batch_iter_free(it);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(count_agrees_with_the_batches_next_gives)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){10, 2});
    const int64_t batches[] = {1, 3, 5, 10, 11, INT64_MAX / 2, INT64_MAX};
    for (int b = 0; b < 7; b++)
        for (int drop = 0; drop < 2; drop++) {
            em_batch_iter *it =
                em_batch_iter_new(1, &x, batches[b], false, 0, drop);
            ck_assert_ptr_nonnull(it);
            /* Full batches, plus a partial one unless dropped. */
            int64_t rows = 10, want = 0;
            for (int64_t left = rows; left > 0; left -= batches[b]) {
                if (left >= batches[b] || !drop)
                    want++;
                if (left <= batches[b])
                    break;
            }
            em_tensor *out[1];
            int64_t got = 0;
            while (em_batch_iter_next(it, out)) {
                got++;
                em_tensor_free(out[0]);
            }
            ck_assert_int_eq(got, want);
            ck_assert_int_eq(em_batch_iter_count(it), want);
            em_batch_iter_free(it);
        }
    em_tensor_free(x);
}
END_TEST

START_TEST(iterator_rejects_bad_arguments)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){5, 2});
    em_tensor *y = em_zeros(EM_INT64, 1, (int64_t[]){4});
    em_tensor *s = em_scalar(1, EM_FLOAT32);
    ck_assert_ptr_null(
        em_batch_iter_new(2, (em_tensor *[]){x, y}, 2, false, 0, false));
    assert_error("batch_iter_new", "tensor 1 has 4 rows", "tensor 0 has 5",
                 "float32[5,2]", "int64[4]");
    ck_assert_ptr_null(em_batch_iter_new(1, &x, 0, false, 0, false));
    assert_error("batch_iter_new", "batch size 0");
    ck_assert_ptr_null(em_batch_iter_new(1, &s, 1, false, 0, false));
    assert_error("batch_iter_new", "scalar");
    ck_assert_ptr_null(em_batch_iter_new(0, NULL, 1, false, 0, false));
    assert_error("batch_iter_new", "at least one tensor");
    ck_assert_ptr_null(
        em_batch_iter_new(1, (em_tensor *[]){NULL}, 1, false, 0, false));
    assert_error("batch_iter_new", "NULL");
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *tc = test_case(s, "idx");
    tcase_add_checked_fixture(tc, make_temp_dir, remove_temp_dir);
    tcase_add_test(tc, reads_uint8_plain_and_gzip);
    tcase_add_test(tc, widens_int8_and_int16_to_int32);
    tcase_add_test(tc, converts_big_endian_int32_float32_float64);
    tcase_add_test(tc, reads_zero_sized_dimensions);
    tcase_add_test(tc, missing_file_names_the_path);
    tcase_add_test(tc, bad_magic_unknown_type_and_too_many_dims);
    tcase_add_test(tc, truncated_files_are_errors);
    tcase_add_test(tc, trailing_data_is_an_error);
    tcase_add_test(tc, corrupt_gzip_is_an_error);
    tcase_add_test(tc, huge_announced_shapes_fail_fast_as_truncated);
    tcase_add_test(tc, messages_start_with_the_path_once);
    tcase_add_test(tc, gzip_data_beyond_the_first_buffer);
    tc = test_case(s, "fashion_mnist");
    tcase_add_test(tc, fashion_mnist_train_labels_are_balanced);
    tc = test_case(s, "batches");
    tcase_add_test(
        tc, iterator_without_shuffle_keeps_order_with_partial_last_batch);
    tcase_add_test(tc, shuffled_epoch_covers_every_row_once);
    tcase_add_test(tc, drop_last_skips_the_partial_batch);
    tcase_add_test(tc, order_is_a_function_of_seed_and_epoch);
    tcase_add_test(tc, next_after_the_end_stays_false_until_reset);
    tcase_add_test(tc, iterator_keeps_its_tensors_alive_and_releases_them);
    tcase_add_test(tc, iterator_batches_belong_to_the_open_scope);
    tcase_add_test(tc, iterator_rejects_bad_arguments);
    tcase_add_test(tc, count_agrees_with_the_batches_next_gives);
    return test_run(s);
}
