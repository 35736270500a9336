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

/* Keras's SELU constants and leaky_relu's default negative slope */
#define MD_SELU_SCALE 1.0507009873554804934193349852946
#define MD_SELU_ALPHA 1.6732632423543772848170429916717
#define MD_LEAKY_SLOPE 0.2

#include "softmax_row_impl.h"

/* ---------------------------------------------------------------- elementwise */

/* The activations with a parameter: x > 0 ? x : alpha * (exp(x) - 1) (ELU) and
 * x > 0 ? x : slope * x (leaky ReLU); NaN stays NaN. The fixed-parameter codes (elu with
 * alpha 1, leaky_relu with slope 0.2) run the same loops. */
static void MD_FN(md_elu_range)(md_T *y, const md_T *x, int64_t n, md_T alpha) {
    for (int64_t i = 0; i < n; i++) {
        const md_T v = x[i];
        y[i] = v > (md_T)0 ? v : alpha * MD_AX_EXPM1(v);
    }
}

static void MD_FN(md_leaky_range)(md_T *y, const md_T *x, int64_t n, md_T slope) {
    for (int64_t i = 0; i < n; i++) {
        const md_T v = x[i];
        y[i] = v > (md_T)0 ? v : slope * v;
    }
}

/* Their derivatives from the forward output y: where y > 0, 1; elsewhere exp(x) * alpha
 * = y + alpha (ELU, alpha > 0; at y = 0 the right derivative 1, as TensorFlow) or slope (leaky ReLU, slope >= 0: y <= 0 exactly where
 * x <= 0). dx may alias dy. */
static void MD_FN(md_elu_backward_range)(md_T *dx, const md_T *dy, const md_T *y, int64_t n,
                                         md_T alpha) {
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] >= (md_T)0 ? dy[i] : dy[i] * (y[i] + alpha);
}

static void MD_FN(md_leaky_backward_range)(md_T *dx, const md_T *dy, const md_T *y, int64_t n,
                                           md_T slope) {
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] > (md_T)0 ? dy[i] : dy[i] * slope;
}

/* y = act(x) over n values on the calling thread (SIMD where the CPU has it); y may alias
 * x. The one definition of the forward formulas: md_activation_forward runs it over
 * blocks in parallel and fused kernels (conv2d) call it on their finished tiles, so a
 * fused activation is bit-identical to a separate one. An unknown code leaves y as is. */
void MD_FN(md_activate_range)(md_T *y, const md_T *x, int64_t n, int activation) {
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
        if (md_sigmoid_simd(y, x, n)) return;
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
        if (md_tanh_simd(y, x, n)) return;
#endif
        for (int64_t i = 0; i < n; i++) y[i] = MD_AX_TANH(x[i]);
        return;
    case MD_ACT_ELU:
        MD_FN(md_elu_range)(y, x, n, (md_T)1);
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
        MD_FN(md_leaky_range)(y, x, n, (md_T)MD_LEAKY_SLOPE);
        return;
    default:
        return;
    }
}

/* y = act(x) over n values; y may alias x (every element is read before it is written). */
md_status MD_FN(md_activation_forward)(md_T *y, const md_T *x, int64_t n, int activation) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (activation < MD_ACT_LINEAR || activation > MD_ACT_LEAKY_RELU) return MD_ERR_ARG;
    if (activation == MD_ACT_LINEAR && y == x) return MD_OK;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < n; b += MD_ACT_BLOCK)
        MD_FN(md_activate_range)(y + b, x + b, md_min64(MD_ACT_BLOCK, n - b), activation);
    return MD_OK;
}

/* dx = dy * act'(.) written in terms of the forward OUTPUT y; dx may alias dy. */
md_status MD_FN(md_activation_backward)(md_T *dx, const md_T *dy, const md_T *y, int64_t n,
                                        int activation) {
    if (dx == NULL || dy == NULL || y == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
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
        MD_FN(md_elu_backward_range)(dx, dy, y, n, (md_T)1);
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
        MD_FN(md_leaky_backward_range)(dx, dy, y, n, (md_T)MD_LEAKY_SLOPE);
        return MD_OK;
    default:
        return MD_ERR_ARG;
    }
}

/* ELU (activation MD_ACT_ELU, alpha > 0) or leaky ReLU (MD_ACT_LEAKY_RELU, slope
 * alpha >= 0) with the given parameter; y may alias x. */
md_status MD_FN(md_activation_forward_param)(md_T *y, const md_T *x, int64_t n, int activation,
                                             double alpha) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (!md_param_ok(activation, alpha)) return MD_ERR_ARG;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < n; b += MD_ACT_BLOCK) {
        const int64_t len = md_min64(MD_ACT_BLOCK, n - b);
        if (activation == MD_ACT_ELU)
            MD_FN(md_elu_range)(y + b, x + b, len, (md_T)alpha);
        else
            MD_FN(md_leaky_range)(y + b, x + b, len, (md_T)alpha);
    }
    return MD_OK;
}

/* Their gradient from the forward output y; dx may alias dy. */
md_status MD_FN(md_activation_backward_param)(md_T *dx, const md_T *dy, const md_T *y,
                                              int64_t n, int activation, double alpha) {
    if (dx == NULL || dy == NULL || y == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (!md_param_ok(activation, alpha)) return MD_ERR_ARG;
    if (activation == MD_ACT_ELU)
        MD_FN(md_elu_backward_range)(dx, dy, y, n, (md_T)alpha);
    else
        MD_FN(md_leaky_backward_range)(dx, dy, y, n, (md_T)alpha);
    return MD_OK;
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
#undef MD_LEAKY_SLOPE
#undef MD_AX_EXP
#undef MD_AX_EXPM1
#undef MD_AX_LOG1P
#undef MD_AX_TANH
#undef MD_AX_ABS
