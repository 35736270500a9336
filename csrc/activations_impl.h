/* activations_impl.h -- template of activations.c, included once per element type
 * (md_T, MD_FN, MD_IS_F32 come from md_instantiate.h). No include guard. */

#if MD_IS_F32
#define MD_AX_EXP expf
#define MD_AX_EXPM1 expm1f
#define MD_AX_LOG1P log1pf
#define MD_AX_ABS fabsf
#define MD_AX_TANH tanhf
#else
#define MD_AX_EXP exp
#define MD_AX_EXPM1 expm1
#define MD_AX_LOG1P log1p
#define MD_AX_ABS fabs
#define MD_AX_TANH tanh
#endif

/* Keras's SELU constants */
#define MD_SELU_SCALE 1.0507009873554804934193349852946
#define MD_SELU_ALPHA 1.6732632423543772848170429916717

#include "softmax_row_impl.h"

/* ---------------------------------------------------------------- elementwise */

/* y = act(x) over n values on the calling thread (SIMD where the CPU has it); y may alias
 * x. ``param`` is ELU's alpha (x > 0 ? x : alpha (exp(x) - 1)) or leaky ReLU's slope
 * (x > 0 ? x : slope x); the other codes ignore it. The one definition of the forward
 * formulas: md_activation_forward(_param) run it over blocks in parallel and fused kernels
 * (conv2d) call it on their finished tiles through md_activate_range, so a fused
 * activation is bit-identical to a separate one. An unknown code leaves y as is. */
static void MD_FN(md_activate_param_range)(md_T *y, const md_T *x, int64_t n, int activation,
                                           md_T param) {
    switch (activation) {
    case MD_ACT_LINEAR:
        if (y != x) memmove(y, x, (size_t)n * sizeof(md_T));
        return;
    case MD_ACT_RELU:
        /* (x < 0) ? 0 : x keeps NaN as NaN, like max(x, 0) in NumPy */
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            y[i] = v < (md_T)0 ? (md_T)0 : v;
        }
        return;
    case MD_ACT_SIGMOID:
#if MD_IS_F32 && MD_HAVE_ACT_SIMD
        if (md_sigmoid_tanh_simd(y, x, n, activation)) return;
#endif
        /* Stable for any |x|: e = exp(-|x|) never overflows; then
         * sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0. */
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            const md_T e = MD_AX_EXP(-MD_AX_ABS(v));
            const md_T r = (md_T)1 / ((md_T)1 + e);
            y[i] = v >= (md_T)0 ? r : e * r;
        }
        return;
    case MD_ACT_TANH:
#if MD_IS_F32 && MD_HAVE_ACT_SIMD
        if (md_sigmoid_tanh_simd(y, x, n, activation)) return;
#endif
        for (int64_t i = 0; i < n; i++) y[i] = MD_AX_TANH(x[i]);
        return;
    case MD_ACT_ELU:
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            y[i] = v > (md_T)0 ? v : param * MD_AX_EXPM1(v);
        }
        return;
    case MD_ACT_SELU:
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            y[i] = v > (md_T)0 ? (md_T)MD_SELU_SCALE * v
                               : (md_T)(MD_SELU_SCALE * MD_SELU_ALPHA) * MD_AX_EXPM1(v);
        }
        return;
    case MD_ACT_SOFTPLUS: /* log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), for any |x| */
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            y[i] = (v > (md_T)0 ? v : (md_T)0) + MD_AX_LOG1P(MD_AX_EXP(-MD_AX_ABS(v)));
        }
        return;
    case MD_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            y[i] = v > (md_T)0 ? v : param * v;
        }
        return;
    default:
        return;
    }
}

/* md_activate_param_range with the code's fixed parameter (elu: alpha 1, leaky_relu:
 * slope 0.2). */
void MD_FN(md_activate_range)(md_T *y, const md_T *x, int64_t n, int activation) {
    MD_FN(md_activate_param_range)(y, x, n, activation, (md_T)md_default_param(activation));
}

/* y = act(x) over n values in parallel blocks; y may alias x (every element is read
 * before it is written). */
static void MD_FN(md_activate_blocks)(md_T *y, const md_T *x, int64_t n, int activation,
                                      md_T param) {
    if (activation == MD_ACT_LINEAR && y == x) return;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < n; b += MD_ACT_BLOCK)
        MD_FN(md_activate_param_range)(y + b, x + b, md_min64(MD_ACT_BLOCK, n - b),
                                       activation, param);
}

md_status MD_FN(md_activation_forward)(md_T *y, const md_T *x, int64_t n, int activation) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (activation < MD_ACT_LINEAR || activation > MD_ACT_LEAKY_RELU) return MD_ERR_ARG;
    MD_FN(md_activate_blocks)(y, x, n, activation, (md_T)md_default_param(activation));
    return MD_OK;
}

/* dx = dy * act'(.) written in terms of the forward OUTPUT y; dx may alias dy. ``param``
 * as in md_activate_param_range: ELU's derivative is 1 where y >= 0 (at y = 0 the right
 * derivative, as TensorFlow's) and alpha exp(x) = y + alpha elsewhere (alpha > 0); leaky
 * ReLU's is 1 where y > 0 and the slope elsewhere (slope >= 0: y <= 0 exactly where
 * x <= 0). */
static md_status MD_FN(md_activation_param_backward)(md_T *dx, const md_T *dy, const md_T *y,
                                                     int64_t n, int activation, md_T param) {
    switch (activation) {
    case MD_ACT_LINEAR:
        if (dx != dy) {
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
            for (int64_t i = 0; i < n; i++) dx[i] = dy[i];
        }
        return MD_OK;
    case MD_ACT_RELU:
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++) dx[i] = y[i] > (md_T)0 ? dy[i] : (md_T)0;
        return MD_OK;
    case MD_ACT_SIGMOID:
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++) {
            const md_T s = y[i];
            dx[i] = dy[i] * (s * ((md_T)1 - s));
        }
        return MD_OK;
    case MD_ACT_TANH:
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++) {
            const md_T t = y[i];
            dx[i] = dy[i] * ((md_T)1 - t * t);
        }
        return MD_OK;
    case MD_ACT_ELU:
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++)
            dx[i] = y[i] >= (md_T)0 ? dy[i] : dy[i] * (y[i] + param);
        return MD_OK;
    case MD_ACT_SELU: /* scale where y > 0, else scale alpha exp(x) = y + scale alpha */
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++)
            dx[i] = y[i] > (md_T)0 ? dy[i] * (md_T)MD_SELU_SCALE
                                   : dy[i] * (y[i] + (md_T)(MD_SELU_SCALE * MD_SELU_ALPHA));
        return MD_OK;
    case MD_ACT_SOFTPLUS: /* sigmoid(x) = 1 - exp(-y) */
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * -MD_AX_EXPM1(-y[i]);
        return MD_OK;
    case MD_ACT_LEAKY_RELU:
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++) dx[i] = y[i] > (md_T)0 ? dy[i] : dy[i] * param;
        return MD_OK;
    default:
        return MD_ERR_ARG;
    }
}

md_status MD_FN(md_activation_backward)(md_T *dx, const md_T *dy, const md_T *y, int64_t n,
                                        int activation) {
    if (dx == NULL || dy == NULL || y == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    return MD_FN(md_activation_param_backward)(dx, dy, y, n, activation,
                                               (md_T)md_default_param(activation));
}

/* ELU (activation MD_ACT_ELU, alpha > 0) or leaky ReLU (MD_ACT_LEAKY_RELU, slope
 * alpha >= 0) with the given parameter, and its gradient; y may alias x, dx may alias dy. */
md_status MD_FN(md_activation_forward_param)(md_T *y, const md_T *x, int64_t n, int activation,
                                             double alpha) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (!md_param_ok(activation, alpha)) return MD_ERR_ARG;
    MD_FN(md_activate_blocks)(y, x, n, activation, (md_T)alpha);
    return MD_OK;
}

md_status MD_FN(md_activation_backward_param)(md_T *dx, const md_T *dy, const md_T *y,
                                              int64_t n, int activation, double alpha) {
    if (dx == NULL || dy == NULL || y == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (!md_param_ok(activation, alpha)) return MD_ERR_ARG;
    return MD_FN(md_activation_param_backward)(dx, dy, y, n, activation, (md_T)alpha);
}

/* ---------------------------------------------------------------- softmax */

/* y (rows, cols) = softmax of each row of x, max-subtracted; the row sum is accumulated in
 * double. Rows are independent (one thread owns a row), so results do not depend on the
 * thread count. y may alias x. */
md_status MD_FN(md_softmax_forward)(md_T *y, const md_T *x, int64_t rows, int64_t cols) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    if (rows <= 0 || cols <= 0) return MD_ERR_SHAPE;
    int64_t total;
    if (!md_mul_ok(rows, cols, &total)) return MD_ERR_OVERFLOW;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *xr = x + r * cols;
        MD_FN(md_softmax_row)(y + r * cols, xr, MD_FN(md_row_max)(xr, cols), cols, NULL, NULL,
                              NULL);
    }
    return MD_OK;
}

/* dx = y * (dy - sum(dy * y)) per row (sum in double); dx may alias dy. */
md_status MD_FN(md_softmax_backward)(md_T *dx, const md_T *dy, const md_T *y, int64_t rows,
                                     int64_t cols) {
    if (dx == NULL || dy == NULL || y == NULL) return MD_ERR_ARG;
    if (rows <= 0 || cols <= 0) return MD_ERR_SHAPE;
    int64_t total;
    if (!md_mul_ok(rows, cols, &total)) return MD_ERR_OVERFLOW;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *dyr = dy + r * cols;
        const md_T *yr = y + r * cols;
        md_T *dxr = dx + r * cols;
        double s = 0.0;
        for (int64_t j = 0; j < cols; j++) s += (double)dyr[j] * (double)yr[j];
        for (int64_t j = 0; j < cols; j++)
            dxr[j] = (md_T)((double)yr[j] * ((double)dyr[j] - s));
    }
    return MD_OK;
}

#undef MD_SELU_SCALE
#undef MD_SELU_ALPHA
#undef MD_AX_EXP
#undef MD_AX_EXPM1
#undef MD_AX_LOG1P
#undef MD_AX_TANH
#undef MD_AX_ABS
