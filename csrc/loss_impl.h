/* loss_impl.h -- template of loss.c, included once per element type (md_T, MD_FN,
 * MD_IS_F32 come from md_instantiate.h). No include guard.
 *
 * Every kernel works row by row (one thread owns a row) and accumulates its row sums in
 * double, so the results do not depend on the thread count. */

#include "softmax_row_impl.h"

/* sum of v[0 .. cols) in double, in index order */
static inline double MD_FN(md_loss_row_sum)(const md_T *v, int64_t cols) {
    double s = 0.0;
    for (int64_t j = 0; j < cols; j++) s += (double)v[j];
    return s;
}

/* One row of the fused softmax: writes probs (cols) and returns the row's cross-entropy
 * against `targets` (dense, may be NULL) or against the class `label` (targets == NULL).
 * The loss comes from the log-sum-exp, never from log(probs):
 *     -log_softmax(x)_j = (m - x_j) + log(s),  m = max x,  s = sum exp(x - m) >= 1.
 * Entries with zero target are skipped, so -inf logits with zero target cost nothing.
 * probs may alias logits (each element is read before it is written). */
static double MD_FN(md_loss_softmax_row)(md_T *probs, const md_T *logits, const md_T *targets,
                                         int64_t label, int64_t cols) {
    const md_T m = MD_FN(md_row_max)(logits, cols);
    /* the target term: sum_j t_j (m - x_j), or m - x_label, with differences in double */
    double picked = 0.0, tsum = 1.0;
    if (targets == NULL) picked = (double)m - (double)logits[label];
    else tsum = 0.0;
    const double s = MD_FN(md_softmax_row)(probs, logits, m, cols, targets, &picked, &tsum);
    return picked + tsum * log(s);
}

/* ---------------------------------------------------------------- softmax + xent */

md_status MD_FN(md_softmax_xent_forward)(md_T *loss, md_T *probs, const md_T *logits,
                                         const md_T *targets, int64_t rows, int64_t cols) {
    if (loss == NULL || probs == NULL || logits == NULL || targets == NULL) return MD_ERR_ARG;
    int64_t total;
    md_status st = md_loss_geometry(rows, cols, &total);
    if (st != MD_OK) return st;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        loss[r] = (md_T)MD_FN(md_loss_softmax_row)(probs + r * cols, logits + r * cols,
                                                   targets + r * cols, 0, cols);
    }
    return MD_OK;
}

/* dlogits[r,j] = dloss[r] * (probs[r,j] * sum_j t[r,j] - t[r,j]); dlogits may alias probs. */
md_status MD_FN(md_softmax_xent_backward)(md_T *dlogits, const md_T *dloss, const md_T *probs,
                                          const md_T *targets, int64_t rows, int64_t cols) {
    if (dlogits == NULL || dloss == NULL || probs == NULL || targets == NULL) return MD_ERR_ARG;
    int64_t total;
    md_status st = md_loss_geometry(rows, cols, &total);
    if (st != MD_OK) return st;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *p = probs + r * cols;
        const md_T *t = targets + r * cols;
        md_T *d = dlogits + r * cols;
        const double tsum = MD_FN(md_loss_row_sum)(t, cols);
        const double g = (double)dloss[r];
        for (int64_t j = 0; j < cols; j++)
            d[j] = (md_T)(g * ((double)p[j] * tsum - (double)t[j]));
    }
    return MD_OK;
}

/* ---------------------------------------------------------------- sparse twins */

md_status MD_FN(md_sparse_softmax_xent_forward)(md_T *loss, md_T *probs, const md_T *logits,
                                                const int64_t *labels, int64_t rows,
                                                int64_t cols) {
    if (loss == NULL || probs == NULL || logits == NULL || labels == NULL) return MD_ERR_ARG;
    int64_t total;
    md_status st = md_loss_sparse_geometry(labels, rows, cols, &total);
    if (st != MD_OK) return st;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        loss[r] = (md_T)MD_FN(md_loss_softmax_row)(probs + r * cols, logits + r * cols, NULL,
                                                   labels[r], cols);
    }
    return MD_OK;
}

/* dlogits[r,j] = dloss[r] * (probs[r,j] - [j == label[r]]); dlogits may alias probs. */
md_status MD_FN(md_sparse_softmax_xent_backward)(md_T *dlogits, const md_T *dloss,
                                                 const md_T *probs, const int64_t *labels,
                                                 int64_t rows, int64_t cols) {
    if (dlogits == NULL || dloss == NULL || probs == NULL || labels == NULL) return MD_ERR_ARG;
    int64_t total;
    md_status st = md_loss_sparse_geometry(labels, rows, cols, &total);
    if (st != MD_OK) return st;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *p = probs + r * cols;
        md_T *d = dlogits + r * cols;
        const double g = (double)dloss[r];
        for (int64_t j = 0; j < cols; j++) d[j] = (md_T)(g * (double)p[j]);
        d[labels[r]] = (md_T)(g * ((double)p[labels[r]] - 1.0));
    }
    return MD_OK;
}

/* ---------------------------------------------------------------- categorical (Keras) */

/* Keras 3 categorical_crossentropy from probabilities, per row (in double):
 *     q = p / sum(p),  c = clip(q, eps, 1 - eps),  loss = -sum t * log(c).
 * The clip is written with comparisons so that a NaN stays NaN (as np.clip does). */
md_status MD_FN(md_categorical_xent_forward)(md_T *loss, const md_T *probs, const md_T *targets,
                                             int64_t rows, int64_t cols, double eps) {
    if (loss == NULL || probs == NULL || targets == NULL) return MD_ERR_ARG;
    int64_t total;
    md_status st = md_loss_clip_geometry(rows, cols, eps, &total);
    if (st != MD_OK) return st;
    const double hi = 1.0 - eps;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *p = probs + r * cols;
        const md_T *t = targets + r * cols;
        const double s = MD_FN(md_loss_row_sum)(p, cols);
        double acc = 0.0;
        for (int64_t j = 0; j < cols; j++) {
            double q = (double)p[j] / s;
            q = q < eps ? eps : (q > hi ? hi : q);
            acc -= (double)t[j] * log(q);
        }
        loss[r] = (md_T)acc;
    }
    return MD_OK;
}

/* Backward through the clip and the renormalisation. With S = sum p, q = p / S and
 * g_j = dloss/dq_j = -t_j / q_j where eps <= q_j <= 1 - eps (0 where clipped):
 *     dprobs_k = dloss * (g_k - sum_j g_j q_j) / S = dloss * (g_k + T_in) / S,
 * T_in = sum of t_j over the unclipped j. dprobs may alias probs or targets. */
md_status MD_FN(md_categorical_xent_backward)(md_T *dprobs, const md_T *dloss,
                                              const md_T *probs, const md_T *targets,
                                              int64_t rows, int64_t cols, double eps) {
    if (dprobs == NULL || dloss == NULL || probs == NULL || targets == NULL) return MD_ERR_ARG;
    int64_t total;
    md_status st = md_loss_clip_geometry(rows, cols, eps, &total);
    if (st != MD_OK) return st;
    const double hi = 1.0 - eps;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *p = probs + r * cols;
        const md_T *t = targets + r * cols;
        md_T *d = dprobs + r * cols;
        const double s = MD_FN(md_loss_row_sum)(p, cols);
        double t_in = 0.0;
        for (int64_t j = 0; j < cols; j++) {
            const double q = (double)p[j] / s;
            if (q >= eps && q <= hi) t_in += (double)t[j];
        }
        const double scale = (double)dloss[r] / s;
        for (int64_t j = 0; j < cols; j++) {
            const double q = (double)p[j] / s;
            const double g = (q >= eps && q <= hi) ? -(double)t[j] / q : 0.0;
            d[j] = (md_T)(scale * (g + t_in));
        }
    }
    return MD_OK;
}
