/*
 * eager/ops_matmul.c - the matrix product, through BLAS.
 *
 * [..., m, k] @ [..., k, n] -> [..., m, n]. Batch dimensions broadcast as
 * in NumPy; each batch is one gemm call on the operands' row-major
 * matrices, with BLAS doing the transposes. When the right operand is one
 * matrix shared by every batch of a non-transposed left operand
 * ([batch, m, k] @ [k, n]), the batches fold into a single gemm with
 * batch * m rows.
 */
#include <cblas.h>
#include <string.h>

#include "kernels.h"
#include "ops_common.h"

/* "[128,784]", with "^T" when the operand is used transposed. */
static void operand_text(const em__type *t, bool transposed, char *buf,
                         size_t size)
{
    char shape[160];
    em_shape_format(t->ndim, t->shape, shape, sizeof shape);
    snprintf(buf, size, "%s%s", shape, transposed ? "^T" : "");
}

/* Rows and columns of an operand as the product uses it. */
static void matrix_dims(const em__type *t, bool transposed, int64_t *rows,
                        int64_t *cols)
{
    int64_t r = t->shape[t->ndim - 2], c = t->shape[t->ndim - 1];
    *rows = transposed ? c : r;
    *cols = transposed ? r : c;
}

/* a [..., m, k], b [..., k, n] (either transposed by attrs) ->
 * [broadcast(...), m, n]; float32 or float64, one dtype. */
EM__INFER(matmul)
{
    const em__type *a = in[0], *b = in[1];
    char as[200], bs[200];
    operand_text(a, attrs->transpose_a, as, sizeof as);
    operand_text(b, attrs->transpose_b, bs, sizeof bs);

    if (!em_dtype_is_float(a->dtype) || a->dtype != b->dtype) {
        snprintf(msg, size,
                 "takes two float32 or two float64 operands, not "
                 "%s and %s",
                 em_dtype_name(a->dtype), em_dtype_name(b->dtype));
        return false;
    }
    if (a->ndim < 2 || b->ndim < 2) {
        snprintf(msg, size, "operands need at least 2 dimensions: %s @ %s", as,
                 bs);
        return false;
    }
    int64_t m, ka, kb, cols;
    matrix_dims(a, attrs->transpose_a, &m, &ka);
    matrix_dims(b, attrs->transpose_b, &kb, &cols);
    if (ka != kb) {
        snprintf(msg, size, "inner dimensions differ: %s @ %s", as, bs);
        return false;
    }

    em__type abatch, bbatch;
    abatch.ndim = a->ndim - 2;
    bbatch.ndim = b->ndim - 2;
    memcpy(abatch.shape, a->shape, sizeof(int64_t) * (size_t)abatch.ndim);
    memcpy(bbatch.shape, b->shape, sizeof(int64_t) * (size_t)bbatch.ndim);
    if (!em__broadcast_shape(&abatch, &bbatch, out)) {
        char ab[160], bb[160];
        snprintf(
            msg, size, "batch dimensions %s and %s do not broadcast: %s @ %s",
            em_shape_format(abatch.ndim, abatch.shape, ab, sizeof ab),
            em_shape_format(bbatch.ndim, bbatch.shape, bb, sizeof bb), as, bs);
        return false;
    }
    if (out->ndim + 2 > EM_MAX_DIMS) {
        snprintf(msg, size, "result would have more than %d dimensions",
                 EM_MAX_DIMS);
        return false;
    }
    out->dtype = a->dtype;
    out->shape[out->ndim++] = m;
    out->shape[out->ndim++] = cols;
    return true;
}

/* One gemm: C[m, n] = op(A) op(B), row-major, leading dimensions the
 * stored matrices' row lengths. */
/* Below this many multiply-adds BLAS spends more time packing its operands
 * than computing (a [1,784] x [784,1] step measured 3x slower through
 * sgemm); plain loops, accumulating in double, are faster there. */
#define SMALL_GEMM 16384

#define DEFINE_SMALL_GEMM(NAME, T)                                             \
    static void NAME(bool ta, bool tb, int64_t m, int64_t n, int64_t k,        \
                     const T *a, int64_t lda, const T *b, int64_t ldb, T *c)   \
    {                                                                          \
        int64_t a_row = ta ? 1 : lda, a_col = ta ? lda : 1;                    \
        int64_t b_row = tb ? 1 : ldb, b_col = tb ? ldb : 1;                    \
        for (int64_t i = 0; i < m; i++)                                        \
            for (int64_t j = 0; j < n; j++) {                                  \
                double sum = 0;                                                \
                for (int64_t p = 0; p < k; p++)                                \
                    sum += (double)a[i * a_row + p * a_col] *                  \
                           (double)b[p * b_row + j * b_col];                   \
                c[i * n + j] = (T)sum;                                         \
            }                                                                  \
    }
DEFINE_SMALL_GEMM(small_gemm_f32, float)
DEFINE_SMALL_GEMM(small_gemm_f64, double)

void em__gemm(em_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
              const void *a, int64_t lda, const void *b, int64_t ldb, void *c)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) {
        /* Empty sums; BLAS would also be handed zero leading dimensions. */
        memset(c, 0, (size_t)(m * n) * em_dtype_size(dt));
        return;
    }
    if (m * n * k <= SMALL_GEMM) {
        if (dt == EM_FLOAT32)
            small_gemm_f32(ta, tb, m, n, k, a, lda, b, ldb, c);
        else
            small_gemm_f64(ta, tb, m, n, k, a, lda, b, ldb, c);
        return;
    }
    enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
    if (dt == EM_FLOAT32)
        cblas_sgemm(CblasRowMajor, opa, opb, (blasint)m, (blasint)n, (blasint)k,
                    1.0f, a, (blasint)lda, b, (blasint)ldb, 0.0f, c,
                    (blasint)n);
    else
        cblas_dgemm(CblasRowMajor, opa, opb, (blasint)m, (blasint)n, (blasint)k,
                    1.0, a, (blasint)lda, b, (blasint)ldb, 0.0, c, (blasint)n);
}

/* a [..., m, k] x b [..., k, n] -> out [..., m, n] (transposes per attrs). */
EM__KERNEL(matmul)
{
    const em_tensor *a = in[0], *b = in[1];
    bool ta = attrs->transpose_a, tb = attrs->transpose_b;
    em_dtype dt = out->type.dtype;
    size_t elem = em_dtype_size(dt);
    int64_t m, k, cols, kb;
    matrix_dims(&a->type, ta, &m, &k);
    matrix_dims(&b->type, tb, &kb, &cols);
    if (out->size == 0)
        return true;
    int64_t lda = a->type.shape[a->type.ndim - 1];
    int64_t ldb = b->type.shape[b->type.ndim - 1];
    int64_t a_step = m * k, b_step = k * cols, c_step = m * cols;

    /* Batch shapes, right-aligned to the output's. */
    em__type batch = out->type, abatch = a->type, bbatch = b->type;
    batch.ndim -= 2;
    abatch.ndim -= 2;
    bbatch.ndim -= 2;
    int64_t nbatch = em__type_size(&batch);

    if (em__type_size(&bbatch) == 1 && !ta &&
        em__type_equal_shape(&abatch, &batch)) {
        em__gemm(dt, false, tb, nbatch * m, cols, k, a->data, lda, b->data, ldb,
                 out->data);
        return true;
    }

    int64_t astr[EM_MAX_DIMS], bstr[EM_MAX_DIMS];
    em__broadcast_strides(&abatch, &batch, astr);
    em__broadcast_strides(&bbatch, &batch, bstr);
    int64_t index[EM_MAX_DIMS] = {0};
    int64_t aoff = 0, boff = 0;
    const char *ad = a->data, *bd = b->data;
    char *cd = out->data;
    for (int64_t i = 0; i < nbatch; i++) {
        em__gemm(dt, ta, tb, m, cols, k, ad + (size_t)(aoff * a_step) * elem,
                 lda, bd + (size_t)(boff * b_step) * elem, ldb,
                 cd + (size_t)(i * c_step) * elem);
        /* Odometer over the batch index, moving both operands' offsets. */
        for (int d = batch.ndim - 1; d >= 0; d--) {
            aoff += astr[d];
            boff += bstr[d];
            if (++index[d] < batch.shape[d])
                break;
            aoff -= astr[d] * index[d];
            boff -= bstr[d] * index[d];
            index[d] = 0;
        }
    }
    return true;
}

em_tensor *em_matmul(em_tensor *a, em_tensor *b, bool transpose_a,
                     bool transpose_b)
{
    if (!ops_inputs_present("matmul", (em_tensor *[]){a, b}, 2))
        return NULL;
    em__attrs attrs = {0};
    attrs.transpose_a = transpose_a;
    attrs.transpose_b = transpose_b;

    /* float32 with float64 promotes as every binary op does; integer
     * operands are refused by the shape rule. */
    em_dtype da = a->type.dtype, db = b->type.dtype;
    if (da != db && em_dtype_is_float(da) && em_dtype_is_float(db)) {
        em_tensor *wide = em_cast(da == EM_FLOAT32 ? a : b, EM_FLOAT64);
        em_tensor *pair[2] = {da == EM_FLOAT32 ? wide : a,
                              da == EM_FLOAT32 ? b : wide};
        em_tensor *out =
            wide ? em__dispatch(EM_OP_MATMUL, pair, 2, &attrs) : NULL;
        em_tensor_free(wide);
        return out;
    }
    em_tensor *pair[2] = {a, b};
    return em__dispatch(EM_OP_MATMUL, pair, 2, &attrs);
}
