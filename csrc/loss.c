/* loss.c -- cross-entropy losses: softmax + cross-entropy fused over logits (dense and
 * sparse targets) and Keras's categorical cross-entropy from probabilities.
 * The kernels are written once in loss_impl.h and built for float and double. */
#include <math.h>

#include "md_internal.h"

/* Common checks of a (rows, cols) problem: positive sizes whose product fits in int64. */
static md_status md_loss_geometry(int64_t rows, int64_t cols, int64_t *total) {
    if (rows <= 0 || cols <= 0) return MD_ERR_SHAPE;
    if (!md_mul_ok(rows, cols, total)) return MD_ERR_OVERFLOW;
    return MD_OK;
}

/* md_loss_geometry, then MD_ERR_ARG unless every label lies in [0, cols); checked before
 * anything is written. */
static md_status md_loss_sparse_geometry(const int64_t *labels, int64_t rows, int64_t cols,
                                         int64_t *total) {
    const md_status st = md_loss_geometry(rows, cols, total);
    if (st != MD_OK) return st;
    int bad = 0;
    for (int64_t r = 0; r < rows; r++) bad |= (labels[r] < 0) | (labels[r] >= cols);
    return bad ? MD_ERR_ARG : MD_OK;
}

/* MD_ERR_ARG unless the probability clip eps lies in [0, 0.5), then md_loss_geometry. */
static md_status md_loss_clip_geometry(int64_t rows, int64_t cols, double eps, int64_t *total) {
    if (!(eps >= 0.0 && eps < 0.5)) return MD_ERR_ARG;
    return md_loss_geometry(rows, cols, total);
}

#define MD_TEMPLATE "loss_impl.h"
#include "md_instantiate.h"
