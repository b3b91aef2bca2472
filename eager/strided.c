/*
 * eager/strided.c - strided-to-contiguous copies. Dimensions are first
 * simplified (size-1 dimensions dropped, neighbours that are contiguous in
 * the source merged), so that most copies become a few long memcpy runs;
 * a transposition reads in tiles to stay in cache.
 */
#include <string.h>

#include "strided.h"

/* Tile edge for transpositions, and the largest element they handle. */
#define TILE 16
#define MAX_TILED_ELEM 8

/* Copies n elements read `stride` elements apart into contiguous dst.
 * memcpy with a constant size compiles to one load and store, and keeps
 * the copy free of type punning. */
static void copy_row(char *dst, const char *src, int64_t n, int64_t stride,
                     size_t elem)
{
    ptrdiff_t step = (ptrdiff_t)stride * (ptrdiff_t)elem;
    switch (elem) {
    case 1:
        for (int64_t i = 0; i < n; i++, src += step)
            dst[i] = *src;
        break;
    case 4:
        for (int64_t i = 0; i < n; i++, src += step)
            memcpy(dst + i * 4, src, 4);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++, src += step)
            memcpy(dst + i * 8, src, 8);
        break;
    default:
        for (int64_t i = 0; i < n; i++, src += step)
            memcpy(dst + (size_t)i * elem, src, elem);
        break;
    }
}

/* [rows, cols] block with source strides (1, col_stride) and destination
 * row stride dst_stride. Each TILE x TILE square goes through a small
 * buffer: read column by column, written row by row, so that every cache
 * line is touched in one go. Walking both sides directly would keep TILE
 * lines of each open at once, which collide in the cache when the strides
 * are large powers of two. */
static void copy_transposed(char *dst, const char *src, size_t elem,
                            int64_t rows, int64_t cols, int64_t col_stride,
                            int64_t dst_stride)
{
    char buf[TILE * TILE * MAX_TILED_ELEM];
    for (int64_t r0 = 0; r0 < rows; r0 += TILE) {
        int64_t nr = r0 + TILE < rows ? TILE : rows - r0;
        for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
            int64_t nc = c0 + TILE < cols ? TILE : cols - c0;
            for (int64_t c = 0; c < nc; c++)
                memcpy(buf + (size_t)(c * TILE) * elem,
                       src + (ptrdiff_t)(r0 + (c0 + c) * col_stride) *
                                 (ptrdiff_t)elem,
                       (size_t)nr * elem);
            for (int64_t r = 0; r < nr; r++)
                copy_row(dst + (size_t)((r0 + r) * dst_stride + c0) * elem,
                         buf + (size_t)r * elem, nc, TILE, elem);
        }
    }
}

/* Drops size-1 dimensions and merges dimension pairs that the source
 * holds back to back. Returns the new ndim, or -1 when the block is empty. */
static int simplify(int ndim, const int64_t *shape, const int64_t *strides,
                    int64_t *sh, int64_t *st)
{
    int nd = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0)
            return -1;
        if (shape[i] == 1)
            continue;
        if (nd > 0 && st[nd - 1] == strides[i] * shape[i]) {
            sh[nd - 1] *= shape[i];
            st[nd - 1] = strides[i];
            continue;
        }
        sh[nd] = shape[i];
        st[nd] = strides[i];
        nd++;
    }
    return nd;
}

void em__copy_strided(void *dst, const void *src, size_t elem, int ndim,
                      const int64_t *shape, const int64_t *strides)
{
    int64_t sh[16], st[16];
    int nd = simplify(ndim, shape, strides, sh, st);
    if (nd < 0)
        return;
    if (nd == 0) {
        memcpy(dst, src, elem);
        return;
    }

    /* A transposition: some outer dimension reads contiguously while the
     * innermost does not. */
    int tdim = -1;
    if (st[nd - 1] != 1 && sh[nd - 1] >= 4 && elem <= MAX_TILED_ELEM)
        for (int i = 0; i < nd - 1; i++)
            if (st[i] == 1 && sh[i] >= 4)
                tdim = i;

    /* The innermost dimension (and the tiled one) is copied by the inner
     * routine; a counter walks the others. */
    int64_t dst_strides[16];
    int64_t d = 1;
    for (int i = nd - 1; i >= 0; i--) {
        dst_strides[i] = d;
        d *= sh[i];
    }
    int64_t index[16] = {0};
    int64_t total = d / sh[nd - 1] / (tdim >= 0 ? sh[tdim] : 1);
    const char *s = src;
    char *out = dst;
    for (int64_t k = 0; k < total; k++) {
        ptrdiff_t src_off = 0, dst_off = 0;
        for (int i = 0; i < nd - 1; i++) {
            src_off += (ptrdiff_t)(index[i] * st[i]);
            dst_off += (ptrdiff_t)(index[i] * dst_strides[i]);
        }
        char *o = out + dst_off * (ptrdiff_t)elem;
        const char *p = s + src_off * (ptrdiff_t)elem;
        if (tdim >= 0)
            copy_transposed(o, p, elem, sh[tdim], sh[nd - 1], st[nd - 1],
                            dst_strides[tdim]);
        else if (st[nd - 1] == 1)
            memcpy(o, p, (size_t)sh[nd - 1] * elem);
        else
            copy_row(o, p, sh[nd - 1], st[nd - 1], elem);

        for (int i = nd - 2; i >= 0; i--) {
            if (i == tdim)
                continue;
            if (++index[i] < sh[i])
                break;
            index[i] = 0;
        }
    }
}
