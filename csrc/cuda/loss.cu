/* loss.cu -- cross-entropy losses as loss.c: fused softmax + cross-entropy over logits
 * (dense targets and class labels) and Keras's categorical cross-entropy from
 * probabilities. One warp per row; row sums in double, reduced in a fixed order.
 * Labels outside [0, cols) cannot be reported before the launch (they live on the
 * device): they set MDC_DATA_LABEL_RANGE and give that row a NaN loss. */
#include "mdc_rows.cuh"

namespace {

using mdc::kThreads;

/* One row of the fused softmax + cross-entropy (all lanes of the warp call it): writes
 * probs and returns -sum t_j log_softmax(x)_j (or -log_softmax(x)_label when targets is
 * NULL) from the log-sum-exp, in every lane. Zero targets are skipped. */
__device__ double xent_row(float *probs, const float *logits, const float *targets,
                           int64_t label, int64_t cols, int lane) {
    const float x0 = logits[0];
    const float xl = targets == nullptr ? logits[label] : 0.0f; /* before any write */
    float m = -INFINITY;
    for (int64_t j = lane; j < cols; j += 32) m = logits[j] > m ? logits[j] : m;
    m = mdc::warp_max(m);
    if (x0 != x0) m = x0;
    double picked = 0.0, tsum = 0.0, s = 0.0;
    for (int64_t j = lane; j < cols; j += 32) {
        const float v = logits[j];
        if (targets != nullptr) {
            const double t = (double)targets[j];
            if (t != 0.0) {
                picked += t * ((double)m - (double)v);
                tsum += t;
            }
        }
        const float e = expf(v - m);
        probs[j] = e;
        s += (double)e;
    }
    s = mdc::warp_sum(s);
    if (targets != nullptr) {
        picked = mdc::warp_sum(picked);
        tsum = mdc::warp_sum(tsum);
    } else {
        picked = (double)m - (double)xl;
        tsum = 1.0;
    }
    const double inv = 1.0 / s;
    for (int64_t j = lane; j < cols; j += 32) probs[j] = (float)((double)probs[j] * inv);
    return picked + tsum * log(s);
}

__global__ void softmax_xent_forward_kernel(float *loss, float *probs, const float *logits,
                                            const float *targets, int64_t rows, int64_t cols) {
    MDC_FOR_ROWS(r, lane, rows) {
        const double l = xent_row(probs + r * cols, logits + r * cols, targets + r * cols, 0,
                                  cols, lane);
        if (lane == 0) loss[r] = (float)l;
    }
}

__global__ void sparse_xent_forward_kernel(float *loss, float *probs, const float *logits,
                                           const int64_t *labels, int64_t rows, int64_t cols,
                                           unsigned *errors) {
    MDC_FOR_ROWS(r, lane, rows) {
        const int64_t label = labels[r];
        if (label < 0 || label >= cols) {
            if (lane == 0) {
                atomicOr(errors, MDC_DATA_LABEL_RANGE);
                loss[r] = NAN;
            }
            continue;
        }
        const double l = xent_row(probs + r * cols, logits + r * cols, nullptr, label, cols,
                                  lane);
        if (lane == 0) loss[r] = (float)l;
    }
}

__global__ void softmax_xent_backward_kernel(float *dlogits, const float *dloss,
                                             const float *probs, const float *targets,
                                             int64_t rows, int64_t cols) {
    MDC_FOR_ROWS(r, lane, rows) {
        const float *p = probs + r * cols, *t = targets + r * cols;
        float *d = dlogits + r * cols;
        double tsum = 0.0;
        for (int64_t j = lane; j < cols; j += 32) tsum += (double)t[j];
        tsum = mdc::warp_sum(tsum);
        const double g = (double)dloss[r];
        for (int64_t j = lane; j < cols; j += 32)
            d[j] = (float)(g * ((double)p[j] * tsum - (double)t[j]));
    }
}

__global__ void sparse_xent_backward_kernel(float *dlogits, const float *dloss,
                                            const float *probs, const int64_t *labels,
                                            int64_t rows, int64_t cols, unsigned *errors) {
    MDC_FOR_ROWS(r, lane, rows) {
        const int64_t label = labels[r];
        const bool ok = label >= 0 && label < cols;
        if (!ok && lane == 0) atomicOr(errors, MDC_DATA_LABEL_RANGE);
        const float *p = probs + r * cols;
        float *d = dlogits + r * cols;
        const double g = (double)dloss[r];
        for (int64_t j = lane; j < cols; j += 32)
            d[j] = (float)(g * ((double)p[j] - (ok && j == label ? 1.0 : 0.0)));
    }
}

/* Keras's categorical cross-entropy per row: q = p / sum p, clipped to [eps, 1 - eps]
 * with comparisons (NaN stays NaN), loss = -sum t log q. */
__global__ void categorical_forward_kernel(float *loss, const float *probs, const float *targets,
                                           int64_t rows, int64_t cols, double eps) {
    const double hi = 1.0 - eps;
    MDC_FOR_ROWS(r, lane, rows) {
        const float *p = probs + r * cols, *t = targets + r * cols;
        double s = 0.0;
        for (int64_t j = lane; j < cols; j += 32) s += (double)p[j];
        s = mdc::warp_sum(s);
        double acc = 0.0;
        for (int64_t j = lane; j < cols; j += 32) {
            double q = (double)p[j] / s;
            q = q < eps ? eps : (q > hi ? hi : q);
            acc -= (double)t[j] * log(q);
        }
        acc = mdc::warp_sum(acc);
        if (lane == 0) loss[r] = (float)acc;
    }
}

/* Backward through the clip and the renormalisation (see loss_impl.h):
 * dprobs_k = dloss * (g_k + T_in) / S with g_k = -t_k / q_k inside the clip, else 0. */
__global__ void categorical_backward_kernel(float *dprobs, const float *dloss, const float *probs,
                                            const float *targets, int64_t rows, int64_t cols,
                                            double eps) {
    const double hi = 1.0 - eps;
    MDC_FOR_ROWS(r, lane, rows) {
        const float *p = probs + r * cols, *t = targets + r * cols;
        float *d = dprobs + r * cols;
        double s = 0.0;
        for (int64_t j = lane; j < cols; j += 32) s += (double)p[j];
        s = mdc::warp_sum(s);
        double t_in = 0.0;
        for (int64_t j = lane; j < cols; j += 32) {
            const double q = (double)p[j] / s;
            if (q >= eps && q <= hi) t_in += (double)t[j];
        }
        t_in = mdc::warp_sum(t_in);
        const double scale = (double)dloss[r] / s;
        for (int64_t j = lane; j < cols; j += 32) {
            const double q = (double)p[j] / s;
            const double g = (q >= eps && q <= hi) ? -(double)t[j] / q : 0.0;
            d[j] = (float)(scale * (g + t_in));
        }
    }
}

int loss_args(int64_t rows, int64_t cols) {
    if (rows <= 0 || cols <= 0) return MD_ERR_SHAPE;
    int64_t total;
    return mdc::mul_ok(rows, cols, &total) ? MD_OK : MD_ERR_OVERFLOW;
}

}  // namespace

extern "C" {

int mdc_softmax_xent_forward(float *loss, float *probs, const float *logits,
                             const float *targets, int64_t rows, int64_t cols) {
    if (loss == NULL || probs == NULL || logits == NULL || targets == NULL) return MD_ERR_ARG;
    int st = loss_args(rows, cols);
    if (st != MD_OK || (st = mdc::enter()) != MD_OK) return st;
    softmax_xent_forward_kernel<<<mdc::row_blocks(rows), kThreads>>>(loss, probs, logits,
                                                                     targets, rows, cols);
    return mdc::launched("mdc_softmax_xent_forward");
}

int mdc_softmax_xent_backward(float *dlogits, const float *dloss, const float *probs,
                              const float *targets, int64_t rows, int64_t cols) {
    if (dlogits == NULL || dloss == NULL || probs == NULL || targets == NULL) return MD_ERR_ARG;
    int st = loss_args(rows, cols);
    if (st != MD_OK || (st = mdc::enter()) != MD_OK) return st;
    softmax_xent_backward_kernel<<<mdc::row_blocks(rows), kThreads>>>(dlogits, dloss, probs,
                                                                      targets, rows, cols);
    return mdc::launched("mdc_softmax_xent_backward");
}

int mdc_sparse_softmax_xent_forward(float *loss, float *probs, const float *logits,
                                    const int64_t *labels, int64_t rows, int64_t cols) {
    if (loss == NULL || probs == NULL || logits == NULL || labels == NULL) return MD_ERR_ARG;
    int st = loss_args(rows, cols);
    if (st != MD_OK || (st = mdc::enter()) != MD_OK) return st;
    sparse_xent_forward_kernel<<<mdc::row_blocks(rows), kThreads>>>(
        loss, probs, logits, labels, rows, cols, mdc::data_error_word());
    return mdc::launched("mdc_sparse_softmax_xent_forward");
}

int mdc_sparse_softmax_xent_backward(float *dlogits, const float *dloss, const float *probs,
                                     const int64_t *labels, int64_t rows, int64_t cols) {
    if (dlogits == NULL || dloss == NULL || probs == NULL || labels == NULL) return MD_ERR_ARG;
    int st = loss_args(rows, cols);
    if (st != MD_OK || (st = mdc::enter()) != MD_OK) return st;
    sparse_xent_backward_kernel<<<mdc::row_blocks(rows), kThreads>>>(
        dlogits, dloss, probs, labels, rows, cols, mdc::data_error_word());
    return mdc::launched("mdc_sparse_softmax_xent_backward");
}

int mdc_categorical_xent_forward(float *loss, const float *probs, const float *targets,
                                 int64_t rows, int64_t cols, double eps) {
    if (loss == NULL || probs == NULL || targets == NULL) return MD_ERR_ARG;
    if (!(eps >= 0.0 && eps < 0.5)) return MD_ERR_ARG;
    int st = loss_args(rows, cols);
    if (st != MD_OK || (st = mdc::enter()) != MD_OK) return st;
    categorical_forward_kernel<<<mdc::row_blocks(rows), kThreads>>>(loss, probs, targets, rows,
                                                                    cols, eps);
    return mdc::launched("mdc_categorical_xent_forward");
}

int mdc_categorical_xent_backward(float *dprobs, const float *dloss, const float *probs,
                                  const float *targets, int64_t rows, int64_t cols,
                                  double eps) {
    if (dprobs == NULL || dloss == NULL || probs == NULL || targets == NULL) return MD_ERR_ARG;
    if (!(eps >= 0.0 && eps < 0.5)) return MD_ERR_ARG;
    int st = loss_args(rows, cols);
    if (st != MD_OK || (st = mdc::enter()) != MD_OK) return st;
    categorical_backward_kernel<<<mdc::row_blocks(rows), kThreads>>>(dprobs, dloss, probs,
                                                                     targets, rows, cols, eps);
    return mdc::launched("mdc_categorical_xent_backward");
}

}  // extern "C"
