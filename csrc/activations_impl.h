/* activations_impl.h -- template of activations.c, included once per element type
 * (md_T, MD_FN, MD_IS_F32 come from md_instantiate.h). No include guard. */

#if MD_IS_F32
#define MD_AX_ERF erff
#define MD_AX_EXP expf
#define MD_AX_EXPM1 expm1f
#define MD_AX_LOG1P log1pf
#define MD_AX_ABS fabsf
#define MD_AX_TANH tanhf
#else
#define MD_AX_ERF erf
#define MD_AX_EXP exp
#define MD_AX_EXPM1 expm1
#define MD_AX_LOG1P log1p
#define MD_AX_ABS fabs
#define MD_AX_TANH tanh
#endif

/* 1 / sqrt(2) and 1 / sqrt(2 pi) (GELU) */
#define MD_SQRT1_2 0.70710678118654752440084436210485
#define MD_INV_SQRT_2PI 0.39894228040143267793994605993438

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
    case MD_ACT_GELU: /* x Phi(x), Keras's exact form (approximate=False) */
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            y[i] = (md_T)0.5 * v * ((md_T)1 + MD_AX_ERF(v * (md_T)MD_SQRT1_2));
        }
        return;
    case MD_ACT_SILU: /* x sigmoid(x); the sigmoid as MD_ACT_SIGMOID's scalar loop */
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            y[i] = v / ((md_T)1 + MD_AX_EXP(-v));
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
    if (activation < MD_ACT_LINEAR || activation > MD_ACT_SILU) return MD_ERR_ARG;
    MD_FN(md_activate_blocks)(y, x, n, activation, (md_T)md_default_param(activation));
    return MD_OK;
}

/* dx = dy * act'(.) from the forward output y over n values, one thread, for the codes a
 * layer fuses (linear, relu, sigmoid, tanh; nothing for another); dx may alias dy. Also
 * the epilogue of a batch norm's backward that follows the activation
 * (md_batchnorm_backward_train_act), so fused and separate give the same bits. */
void MD_FN(md_activation_backward_range)(md_T *dx, const md_T *dy, const md_T *y, int64_t n,
                                         int activation) {
    switch (activation) {
    case MD_ACT_LINEAR:
        if (dx != dy)
            for (int64_t i = 0; i < n; i++) dx[i] = dy[i];
        return;
    case MD_ACT_RELU:
        for (int64_t i = 0; i < n; i++) dx[i] = y[i] > (md_T)0 ? dy[i] : (md_T)0;
        return;
    case MD_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            const md_T s = y[i];
            dx[i] = dy[i] * (s * ((md_T)1 - s));
        }
        return;
    case MD_ACT_TANH:
        for (int64_t i = 0; i < n; i++) {
            const md_T t = y[i];
            dx[i] = dy[i] * ((md_T)1 - t * t);
        }
        return;
    default:
        return;
    }
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
    case MD_ACT_RELU:
    case MD_ACT_SIGMOID:
    case MD_ACT_TANH:
        if (activation == MD_ACT_LINEAR && dx == dy) return MD_OK;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t b = 0; b < n; b += MD_ACT_BLOCK)
            MD_FN(md_activation_backward_range)(dx + b, dy + b, y + b,
                                                md_min64(MD_ACT_BLOCK, n - b), activation);
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

/* dx = dy * act'(x) from the forward INPUT x, for the activations whose derivative the
 * output does not determine: GELU (Phi(x) + x phi(x)) and SiLU (s (1 + x (1 - s)), s the
 * sigmoid). dx may alias dy. */
md_status MD_FN(md_activation_backward_input)(md_T *dx, const md_T *dy, const md_T *x,
                                              int64_t n, int activation) {
    if (dx == NULL || dy == NULL || x == NULL) return MD_ERR_ARG;
    if (n <= 0) return MD_ERR_SHAPE;
    if (activation == MD_ACT_GELU) {
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i];
            const md_T cdf = (md_T)0.5 * ((md_T)1 + MD_AX_ERF(v * (md_T)MD_SQRT1_2));
            const md_T pdf = (md_T)MD_INV_SQRT_2PI * MD_AX_EXP((md_T)-0.5 * v * v);
            dx[i] = dy[i] * (cdf + v * pdf);
        }
        return MD_OK;
    }
    if (activation == MD_ACT_SILU) {
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
        for (int64_t i = 0; i < n; i++) {
            const md_T v = x[i], s = (md_T)1 / ((md_T)1 + MD_AX_EXP(-v));
            dx[i] = dy[i] * (s * ((md_T)1 + v * ((md_T)1 - s)));
        }
        return MD_OK;
    }
    return MD_ERR_ARG;
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


/* ---------------------------------------------------------------- recurrent cells */

/* Whether batch x width (width = gates x units) elements are countable; *total = that. */
static int MD_FN(md_cell_size)(int64_t batch, int64_t units, int64_t gates, int64_t *total) {
    int64_t width;
    return batch >= 0 && units >= 0 && md_mul_ok(units, gates, &width) &&
           md_mul_ok(batch, width, total);
}

/* One LSTM step over `batch` rows of `units`, Keras's gate order (i, f, g, o): gates
 * (batch, 4 units) = [sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)] of the
 * pre-activations z = x W + h U + b (the same formulas, bit for bit, as the activation
 * kernels); c = f c_prev + i g; h = o tanh(c). gates may alias z, c may alias c_prev. */
md_status MD_FN(md_lstm_cell_forward)(md_T *gates, md_T *c, md_T *h, const md_T *z,
                                      const md_T *c_prev, int64_t batch, int64_t units) {
    int64_t total;
    if (!MD_FN(md_cell_size)(batch, units, 4, &total)) return MD_ERR_SHAPE;
    if (total == 0) return MD_OK;
    if (!gates || !c || !h || !z || !c_prev) return MD_ERR_ARG;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t b = 0; b < batch; b++) {
        md_T *g = gates + b * 4 * units, *cr = c + b * units, *hr = h + b * units;
        const md_T *zr = z + b * 4 * units, *cp = c_prev + b * units;
        MD_FN(md_activate_range)(g, zr, 2 * units, MD_ACT_SIGMOID);
        MD_FN(md_activate_range)(g + 2 * units, zr + 2 * units, units, MD_ACT_TANH);
        MD_FN(md_activate_range)(g + 3 * units, zr + 3 * units, units, MD_ACT_SIGMOID);
        for (int64_t j = 0; j < units; j++)
            cr[j] = g[units + j] * cp[j] + g[j] * g[2 * units + j];
        MD_FN(md_activate_range)(hr, cr, units, MD_ACT_TANH);
        for (int64_t j = 0; j < units; j++) hr[j] *= g[3 * units + j];
    }
    return MD_OK;
}

/* The gradient of one LSTM step: dz (batch, 4 units), the gradient of the step's
 * pre-activations, and dc_prev (batch, units), from dh (of h) and dc (of c, from the next
 * step; NULL for none). gates, c, c_prev are the forward's. dc_prev may alias dc. */
md_status MD_FN(md_lstm_cell_backward)(md_T *dz, md_T *dc_prev, const md_T *gates,
                                       const md_T *c, const md_T *c_prev, const md_T *dh,
                                       const md_T *dc, int64_t batch, int64_t units) {
    int64_t total;
    if (!MD_FN(md_cell_size)(batch, units, 4, &total)) return MD_ERR_SHAPE;
    if (total == 0) return MD_OK;
    if (!dz || !dc_prev || !gates || !c || !c_prev || !dh) return MD_ERR_ARG;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t b = 0; b < batch; b++) {
        const md_T *g = gates + b * 4 * units;
        md_T *d = dz + b * 4 * units;
        for (int64_t j = 0; j < units; j++) {
            const int64_t k = b * units + j;
            const md_T i = g[j], f = g[units + j], gg = g[2 * units + j], o = g[3 * units + j];
            const md_T tc = MD_AX_TANH(c[k]);
            const md_T dct = dh[k] * o * (1 - tc * tc) + (dc ? dc[k] : 0);
            d[j] = dct * gg * i * (1 - i);
            d[units + j] = dct * c_prev[k] * f * (1 - f);
            d[2 * units + j] = dct * i * (1 - gg * gg);
            d[3 * units + j] = dh[k] * tc * o * (1 - o);
            dc_prev[k] = dct * f;
        }
    }
    return MD_OK;
}

/* One GRU step as Keras's default (reset_after=True), gate order (u, r, n): from xz = x W
 * + b_input and hz = h_prev U + b_recurrent (batch, 3 units each), gates (batch, 3 units)
 * = [u, r, n] with u = sigmoid(xz_u + hz_u), r = sigmoid(xz_r + hz_r), n = tanh(xz_n +
 * r hz_n); h = u h_prev + (1 - u) n. h may alias h_prev. */
md_status MD_FN(md_gru_cell_forward)(md_T *gates, md_T *h, const md_T *xz, const md_T *hz,
                                     const md_T *h_prev, int64_t batch, int64_t units) {
    int64_t total;
    if (!MD_FN(md_cell_size)(batch, units, 3, &total)) return MD_ERR_SHAPE;
    if (total == 0) return MD_OK;
    if (!gates || !h || !xz || !hz || !h_prev) return MD_ERR_ARG;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t b = 0; b < batch; b++) {
        md_T *g = gates + b * 3 * units, *hr = h + b * units;
        const md_T *x = xz + b * 3 * units, *r = hz + b * 3 * units, *hp = h_prev + b * units;
        for (int64_t j = 0; j < 2 * units; j++) g[j] = x[j] + r[j];
        MD_FN(md_activate_range)(g, g, 2 * units, MD_ACT_SIGMOID);
        for (int64_t j = 0; j < units; j++)
            g[2 * units + j] = x[2 * units + j] + g[units + j] * r[2 * units + j];
        MD_FN(md_activate_range)(g + 2 * units, g + 2 * units, units, MD_ACT_TANH);
        for (int64_t j = 0; j < units; j++)
            hr[j] = g[j] * hp[j] + (1 - g[j]) * g[2 * units + j];
    }
    return MD_OK;
}

/* The gradient of one GRU step: dxz and dhz (batch, 3 units), the gradients of xz and hz,
 * and dh_prev = dh u, the part of h_prev's gradient that does not pass through hz (the
 * caller adds dhz U^T). gates, hz, h_prev are the forward's. dh_prev may alias dh. */
md_status MD_FN(md_gru_cell_backward)(md_T *dxz, md_T *dhz, md_T *dh_prev, const md_T *gates,
                                      const md_T *hz, const md_T *h_prev, const md_T *dh,
                                      int64_t batch, int64_t units) {
    int64_t total;
    if (!MD_FN(md_cell_size)(batch, units, 3, &total)) return MD_ERR_SHAPE;
    if (total == 0) return MD_OK;
    if (!dxz || !dhz || !dh_prev || !gates || !hz || !h_prev || !dh) return MD_ERR_ARG;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t b = 0; b < batch; b++) {
        const md_T *g = gates + b * 3 * units, *hzr = hz + b * 3 * units;
        md_T *dx = dxz + b * 3 * units, *dr = dhz + b * 3 * units;
        for (int64_t j = 0; j < units; j++) {
            const int64_t k = b * units + j;
            const md_T u = g[j], r = g[units + j], n = g[2 * units + j], d = dh[k];
            const md_T dn = d * (1 - u) * (1 - n * n);
            const md_T du = d * (h_prev[k] - n) * u * (1 - u);
            const md_T dreset = dn * hzr[2 * units + j] * r * (1 - r);
            dx[j] = dr[j] = du;
            dx[units + j] = dr[units + j] = dreset;
            dx[2 * units + j] = dn;
            dr[2 * units + j] = dn * r;
            dh_prev[k] = d * u;
        }
    }
    return MD_OK;
}

#undef MD_SQRT1_2
#undef MD_INV_SQRT_2PI
#undef MD_AX_ERF
#undef MD_SELU_SCALE
#undef MD_SELU_ALPHA
#undef MD_AX_EXP
#undef MD_AX_EXPM1
#undef MD_AX_LOG1P
#undef MD_AX_TANH
#undef MD_AX_ABS
