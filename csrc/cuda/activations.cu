/* activations.cu -- elementwise activations and the row softmax, forward and backward,
 * with the formulas of activations.c (sigmoid from exp(-|x|), backward from the forward
 * OUTPUT). Softmax: one warp per row, max-subtracted, the row sum in double. Outputs may
 * alias inputs as on the CPU: every element is read, by the thread that writes it,
 * before it is written. */
#include "mdc_activation.cuh"
#include "mdc_rows.cuh"

namespace {

using mdc::kThreads;

__global__ void activation_forward_kernel(float *y, const float *x, int64_t n, int act) {
    MDC_FOR(i, n) y[i] = mdc::activate(x[i], act);
}

__global__ void activation_backward_kernel(float *dx, const float *dy, const float *y,
                                           int64_t n, int act) {
    MDC_FOR(i, n) {
        const float g = dy[i], s = y[i];
        float d;
        switch (act) {
        case MD_ACT_RELU: d = s > 0.0f ? g : 0.0f; break;
        case MD_ACT_SIGMOID: d = __fmul_rn(g, __fmul_rn(s, __fsub_rn(1.0f, s))); break;
        case MD_ACT_TANH: d = __fmul_rn(g, __fsub_rn(1.0f, __fmul_rn(s, s))); break;
        default: d = g; break;
        }
        dx[i] = d;
    }
}

__global__ void softmax_forward_kernel(float *y, const float *x, int64_t rows, int64_t cols) {
    MDC_FOR_ROWS(r, lane, rows) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        const float x0 = xr[0]; /* read before any lane writes (y may alias x) */
        float m = -INFINITY;
        for (int64_t j = lane; j < cols; j += 32) m = xr[j] > m ? xr[j] : m;
        m = mdc::warp_max(m);
        if (x0 != x0) m = x0; /* the CPU's max starts from x[0]: a NaN there stays */
        double s = 0.0;
        for (int64_t j = lane; j < cols; j += 32) {
            const float e = expf(xr[j] - m);
            yr[j] = e;
            s += (double)e;
        }
        const double inv = 1.0 / mdc::warp_sum(s);
        for (int64_t j = lane; j < cols; j += 32) yr[j] = (float)((double)yr[j] * inv);
    }
}

__global__ void softmax_backward_kernel(float *dx, const float *dy, const float *y, int64_t rows,
                                        int64_t cols) {
    MDC_FOR_ROWS(r, lane, rows) {
        const float *dyr = dy + r * cols, *yr = y + r * cols;
        float *dxr = dx + r * cols;
        double s = 0.0;
        for (int64_t j = lane; j < cols; j += 32) s += (double)dyr[j] * (double)yr[j];
        s = mdc::warp_sum(s);
        for (int64_t j = lane; j < cols; j += 32)
            dxr[j] = (float)((double)yr[j] * ((double)dyr[j] - s));
    }
}

int rows_args(const void *a, const void *b, const void *c, int64_t rows, int64_t cols) {
    if (a == NULL || b == NULL || c == NULL) return MD_ERR_ARG;
    if (rows <= 0 || cols <= 0) return MD_ERR_SHAPE;
    int64_t total;
    if (!mdc::mul_ok(rows, cols, &total)) return MD_ERR_OVERFLOW;
    return MD_OK;
}

}  // namespace

extern "C" {

int mdc_activation_forward(float *y, const float *x, int64_t n, int activation) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (activation < MD_ACT_LINEAR || activation > MD_ACT_TANH) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    if (activation == MD_ACT_LINEAR && y == x) return MD_OK;
    activation_forward_kernel<<<mdc::blocks_for(n), kThreads>>>(y, x, n, activation);
    return mdc::launched("mdc_activation_forward");
}

int mdc_activation_backward(float *dx, const float *dy, const float *y, int64_t n,
                            int activation) {
    if (dx == NULL || dy == NULL || y == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (activation < MD_ACT_LINEAR || activation > MD_ACT_TANH) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    if (activation == MD_ACT_LINEAR && dx == dy) return MD_OK;
    activation_backward_kernel<<<mdc::blocks_for(n), kThreads>>>(dx, dy, y, n, activation);
    return mdc::launched("mdc_activation_backward");
}

int mdc_softmax_forward(float *y, const float *x, int64_t rows, int64_t cols) {
    int st = rows_args(y, x, x, rows, cols);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    softmax_forward_kernel<<<mdc::row_blocks(rows), kThreads>>>(y, x, rows, cols);
    return mdc::launched("mdc_softmax_forward");
}

int mdc_softmax_backward(float *dx, const float *dy, const float *y, int64_t rows,
                         int64_t cols) {
    int st = rows_args(dx, dy, y, rows, cols);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    softmax_backward_kernel<<<mdc::row_blocks(rows), kThreads>>>(dx, dy, y, rows, cols);
    return mdc::launched("mdc_softmax_backward");
}

}  // extern "C"
