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

/* MD_OK when every label lies in [0, cols); checked before anything is written. */
static md_status md_loss_labels_ok(const int64_t *labels, int64_t rows, int64_t cols) {
    int bad = 0;
    for (int64_t r = 0; r < rows; r++) bad |= (labels[r] < 0) | (labels[r] >= cols);
    return bad ? MD_ERR_ARG : MD_OK;
}

#define MD_TEMPLATE "loss_impl.h"
#include "md_instantiate.h"
