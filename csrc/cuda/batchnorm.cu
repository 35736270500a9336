/* batchnorm.cu -- batch normalization over a (rows, channels) view, as batchnorm.c.
 *
 * Per-channel statistics come from the deterministic column reduction (mdc::column_sums,
 * double accumulators, fixed chunks): first the sum (the mean), then the squared and
 * plain deviations about that mean (the corrected two-pass variance of the CPU). Small
 * per-channel kernels turn the sums into coefficients, in double, and one elementwise
 * pass applies them. The elementwise arithmetic is done in double with explicit
 * rounding (no fused multiply-adds), as the CPU does it. */
#include "mdc_internal.cuh"

namespace {

using mdc::kThreads;

/* ---------------------------------------------------------------- reductions */

struct SumX {
    static constexpr int NS = 1;
    const float *x;
    int64_t ch;
    __device__ void add(double (&acc)[1], int64_t, int64_t r, int64_t j) const {
        acc[0] += (double)x[r * ch + j];
    }
};

struct Deviations { /* s0 = sum (x - c)^2, s1 = sum (x - c) */
    static constexpr int NS = 2;
    const float *x;
    const double *center;
    int64_t ch;
    __device__ void add(double (&acc)[2], int64_t, int64_t r, int64_t j) const {
        const double d = __dsub_rn((double)x[r * ch + j], center[j]);
        acc[0] = __dadd_rn(acc[0], __dmul_rn(d, d));
        acc[1] += d;
    }
};

struct DyDyxc { /* s0 = sum dy, s1 = sum dy * (x - c) */
    static constexpr int NS = 2;
    const float *dy, *x;
    const double *center;
    int64_t ch;
    __device__ void add(double (&acc)[2], int64_t, int64_t r, int64_t j) const {
        const double g = (double)dy[r * ch + j];
        acc[0] += g;
        acc[1] = __dadd_rn(acc[1], __dmul_rn(g, __dsub_rn((double)x[r * ch + j], center[j])));
    }
};

/* ---------------------------------------------------------------- per channel */

/* 1 / sqrt(var + eps), 0 for a zero denominator (see batchnorm.c); NaN when negative. */
__device__ inline double rstd(double var, double eps) {
    const double s = var + eps;
    return s == 0.0 ? 0.0 : 1.0 / sqrt(s);
}

__global__ void mean_from_sum(double *mean, const double *sum, double inv_n, int64_t ch) {
    MDC_FOR(c, ch) mean[c] = sum[c] * inv_n;
}

/* From the deviation sums: the biased variance (clamped at 0, NaN kept) and the mean
 * corrected by the mean deviation. dev: [sum d^2 (ch) | sum d (ch)]. */
__global__ void variance_from_deviations(double *mean, double *var, const double *dev,
                                         double inv_n, int64_t ch) {
    MDC_FOR(c, ch) {
        const double corr = dev[ch + c] * inv_n;
        const double v = dev[c] * inv_n - corr * corr;
        var[c] = v > 0.0 ? v : (v == v ? 0.0 : v);
        mean[c] += corr;
    }
}

/* Training forward coefficients, saved statistics and the moving-statistics update. */
__global__ void train_coefficients(double *scale, double *shift, float *batch_mean,
                                   float *batch_var, float *moving_mean, float *moving_var,
                                   const double *mean, const double *var, const float *gamma,
                                   const float *beta, double eps, double mom, int64_t ch) {
    MDC_FOR(c, ch) {
        scale[c] = (gamma != nullptr ? (double)gamma[c] : 1.0) * rstd(var[c], eps);
        shift[c] = beta != nullptr ? (double)beta[c] : 0.0;
        batch_mean[c] = (float)mean[c];
        batch_var[c] = (float)var[c];
        if (moving_mean != nullptr)
            moving_mean[c] = (float)((double)moving_mean[c] * mom + mean[c] * (1.0 - mom));
        if (moving_var != nullptr)
            moving_var[c] = (float)((double)moving_var[c] * mom + var[c] * (1.0 - mom));
    }
}

/* Given statistics: mean in double and r = 1/sqrt(var + eps); flags var + eps < 0. */
__global__ void given_statistics(double *mean_d, double *r_d, const float *mean,
                                 const float *var, double eps, int64_t ch, unsigned *errors) {
    MDC_FOR(c, ch) {
        if ((double)var[c] + eps < 0.0) atomicOr(errors, MDC_DATA_NEGATIVE_VARIANCE);
        mean_d[c] = (double)mean[c];
        r_d[c] = rstd((double)var[c], eps);
    }
}

/* Inference coefficients: scale = gamma * r, shift = beta. */
__global__ void infer_coefficients(double *scale, double *shift, const double *r_d,
                                   const float *gamma, const float *beta, int64_t ch) {
    MDC_FOR(c, ch) {
        scale[c] = r_d[c] * (gamma != nullptr ? (double)gamma[c] : 1.0);
        shift[c] = beta != nullptr ? (double)beta[c] : 0.0;
    }
}

/* Parameter gradients dgamma = r * sum dy*(x - mean), dbeta = sum dy (sums: [s_dy |
 * s_dyxc]); then the dx coefficients in place: k1 = gamma * r, k2 = s_dy / m,
 * k3 = r^2 s_dyxc / m (train) or k1 = gamma * r (infer). */
__global__ void backward_coefficients(float *dgamma, float *dbeta, double *k1, double *k2,
                                      double *k3, const double *sums, const double *r_d,
                                      const float *gamma, double inv_m, int64_t ch,
                                      int train) {
    MDC_FOR(c, ch) {
        const double r = r_d[c], s_dy = sums[c], s_dyxc = sums[ch + c];
        if (dgamma != nullptr) dgamma[c] = (float)(r * s_dyxc);
        if (dbeta != nullptr) dbeta[c] = (float)s_dy;
        k1[c] = (gamma != nullptr ? (double)gamma[c] : 1.0) * r;
        if (train) {
            k2[c] = s_dy * inv_m;
            k3[c] = r * r * s_dyxc * inv_m;
        }
    }
}

/* ---------------------------------------------------------------- elementwise */

__global__ void affine(float *y, const float *x, const double *mean, const double *scale,
                       const double *shift, int64_t total, int64_t ch) {
    MDC_FOR(e, total) {
        const int64_t c = e % ch;
        y[e] = (float)__dadd_rn(__dmul_rn(__dsub_rn((double)x[e], mean[c]), scale[c]), shift[c]);
    }
}

__global__ void dx_train(float *dx, const float *dy, const float *x, const double *mean,
                         const double *k1, const double *k2, const double *k3, int64_t total,
                         int64_t ch) {
    MDC_FOR(e, total) {
        const int64_t c = e % ch;
        const double centered = __dmul_rn(__dsub_rn((double)x[e], mean[c]), k3[c]);
        dx[e] = (float)__dmul_rn(k1[c], __dsub_rn(__dsub_rn((double)dy[e], k2[c]), centered));
    }
}

__global__ void dx_infer(float *dx, const float *dy, const double *k, int64_t total,
                         int64_t ch) {
    MDC_FOR(e, total) dx[e] = (float)__dmul_rn((double)dy[e], k[e % ch]);
}

/* ---------------------------------------------------------------- shared pieces */

/* The CPU's geometry checks (md_bn_check_geom). */
int check_geom(const md_batchnorm_geom *g) {
    if (g == NULL) return MD_ERR_ARG;
    if (g->rows <= 0 || g->channels <= 0) return MD_ERR_SHAPE;
    int64_t n;
    if (!mdc::mul_ok(g->rows, g->channels, &n) || !mdc::mul_ok(n, 8, &n) ||
        !mdc::mul_ok(g->channels, 16 * (int64_t)sizeof(double), &n))
        return MD_ERR_OVERFLOW;
    if (!(g->epsilon >= 0.0) || isinf(g->epsilon)) return MD_ERR_ARG;
    if (!(g->momentum >= 0.0 && g->momentum <= 1.0)) return MD_ERR_ARG;
    return MD_OK;
}

/* Per-channel mean and biased variance (double, device) of x (rows, ch). tmp: 2*ch. */
int batch_statistics(double *mean, double *var, double *tmp, const float *x, int64_t rows,
                     int64_t ch, const char *where) {
    const double inv_n = 1.0 / (double)rows;
    int st = mdc::column_sums(SumX{x, ch}, tmp, 1, rows, ch, where);
    if (st != MD_OK) return st;
    mean_from_sum<<<mdc::blocks_for(ch), kThreads>>>(mean, tmp, inv_n, ch);
    st = mdc::column_sums(Deviations{x, mean, ch}, tmp, 1, rows, ch, where);
    if (st != MD_OK) return st;
    variance_from_deviations<<<mdc::blocks_for(ch), kThreads>>>(mean, var, tmp, inv_n, ch);
    return mdc::launched(where);
}

}  // namespace

extern "C" {

int mdc_moments(float *mean, float *var, const float *x, int64_t rows, int64_t channels) {
    if (mean == NULL || var == NULL || x == NULL) return MD_ERR_ARG;
    const md_batchnorm_geom g = {rows, channels, 0.0, 0.0};
    int st = check_geom(&g);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    mdc::Scratch work;
    if ((st = work.get(4 * (size_t)channels * sizeof(double))) != MD_OK) return st;
    double *mean_d = work.as<double>(), *var_d = mean_d + channels, *tmp = var_d + channels;
    st = batch_statistics(mean_d, var_d, tmp, x, rows, channels, "mdc_moments");
    if (st != MD_OK) return st;
    /* the float outputs: reuse train_coefficients' stores without gamma, beta or moving */
    train_coefficients<<<mdc::blocks_for(channels), kThreads>>>(
        tmp, tmp + channels, mean, var, nullptr, nullptr, mean_d, var_d, nullptr, nullptr,
        0.0, 0.0, channels);
    return mdc::launched("mdc_moments");
}

int mdc_batchnorm_forward_train(float *y, float *batch_mean, float *batch_var,
                                float *moving_mean, float *moving_var, const float *x,
                                const float *gamma, const float *beta,
                                const md_batchnorm_geom *g) {
    int st = check_geom(g);
    if (st != MD_OK) return st;
    if (y == NULL || batch_mean == NULL || batch_var == NULL || x == NULL) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t rows = g->rows, ch = g->channels;
    mdc::Scratch work;
    if ((st = work.get(6 * (size_t)ch * sizeof(double))) != MD_OK) return st;
    double *mean_d = work.as<double>(), *var_d = mean_d + ch;
    double *scale = var_d + ch, *shift = scale + ch, *tmp = shift + ch;
    st = batch_statistics(mean_d, var_d, tmp, x, rows, ch, "mdc_batchnorm_forward_train");
    if (st != MD_OK) return st;
    train_coefficients<<<mdc::blocks_for(ch), kThreads>>>(
        scale, shift, batch_mean, batch_var, moving_mean, moving_var, mean_d, var_d, gamma,
        beta, g->epsilon, g->momentum, ch);
    affine<<<mdc::blocks_for(rows * ch), kThreads>>>(y, x, mean_d, scale, shift, rows * ch, ch);
    return mdc::launched("mdc_batchnorm_forward_train");
}

int mdc_batchnorm_forward_infer(float *y, const float *x, const float *mean, const float *var,
                                const float *gamma, const float *beta,
                                const md_batchnorm_geom *g) {
    int st = check_geom(g);
    if (st != MD_OK) return st;
    if (y == NULL || x == NULL || mean == NULL || var == NULL) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t rows = g->rows, ch = g->channels;
    mdc::Scratch work;
    if ((st = work.get(4 * (size_t)ch * sizeof(double))) != MD_OK) return st;
    double *mean_d = work.as<double>(), *r_d = mean_d + ch, *scale = r_d + ch, *shift = scale + ch;
    given_statistics<<<mdc::blocks_for(ch), kThreads>>>(mean_d, r_d, mean, var, g->epsilon, ch,
                                                        mdc::data_error_word());
    infer_coefficients<<<mdc::blocks_for(ch), kThreads>>>(scale, shift, r_d, gamma, beta, ch);
    affine<<<mdc::blocks_for(rows * ch), kThreads>>>(y, x, mean_d, scale, shift, rows * ch, ch);
    return mdc::launched("mdc_batchnorm_forward_infer");
}

int mdc_batchnorm_backward_train(float *dx, float *dgamma, float *dbeta, const float *dy,
                                 const float *x, const float *batch_mean,
                                 const float *batch_var, const float *gamma,
                                 const md_batchnorm_geom *g) {
    int st = check_geom(g);
    if (st != MD_OK) return st;
    if (dx == NULL || dy == NULL || x == NULL || batch_mean == NULL || batch_var == NULL)
        return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t rows = g->rows, ch = g->channels;
    const char *where = "mdc_batchnorm_backward_train";
    mdc::Scratch work;
    if ((st = work.get(7 * (size_t)ch * sizeof(double))) != MD_OK) return st;
    double *mean_d = work.as<double>(), *r_d = mean_d + ch, *sums = r_d + ch;
    double *k1 = sums + 2 * ch, *k2 = k1 + ch, *k3 = k2 + ch;
    given_statistics<<<mdc::blocks_for(ch), kThreads>>>(mean_d, r_d, batch_mean, batch_var,
                                                        g->epsilon, ch, mdc::data_error_word());
    st = mdc::column_sums(DyDyxc{dy, x, mean_d, ch}, sums, 1, rows, ch, where);
    if (st != MD_OK) return st;
    backward_coefficients<<<mdc::blocks_for(ch), kThreads>>>(
        dgamma, dbeta, k1, k2, k3, sums, r_d, gamma, 1.0 / (double)rows, ch, 1);
    dx_train<<<mdc::blocks_for(rows * ch), kThreads>>>(dx, dy, x, mean_d, k1, k2, k3,
                                                       rows * ch, ch);
    return mdc::launched(where);
}

int mdc_batchnorm_backward_infer(float *dx, float *dgamma, float *dbeta, const float *dy,
                                 const float *x, const float *mean, const float *var,
                                 const float *gamma, const md_batchnorm_geom *g) {
    int st = check_geom(g);
    if (st != MD_OK) return st;
    if (dx == NULL || dy == NULL || x == NULL || mean == NULL || var == NULL)
        return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t rows = g->rows, ch = g->channels;
    const char *where = "mdc_batchnorm_backward_infer";
    mdc::Scratch work;
    if ((st = work.get(5 * (size_t)ch * sizeof(double))) != MD_OK) return st;
    double *mean_d = work.as<double>(), *r_d = mean_d + ch, *sums = r_d + ch, *k1 = sums + 2 * ch;
    given_statistics<<<mdc::blocks_for(ch), kThreads>>>(mean_d, r_d, mean, var, g->epsilon, ch,
                                                        mdc::data_error_word());
    if (dgamma != NULL || dbeta != NULL) {
        st = mdc::column_sums(DyDyxc{dy, x, mean_d, ch}, sums, 1, rows, ch, where);
        if (st != MD_OK) return st;
    } else {
        cudaMemsetAsync(sums, 0, 2 * (size_t)ch * sizeof(double));
    }
    backward_coefficients<<<mdc::blocks_for(ch), kThreads>>>(
        dgamma, dbeta, k1, nullptr, nullptr, sums, r_d, gamma, 1.0 / (double)rows, ch, 0);
    dx_infer<<<mdc::blocks_for(rows * ch), kThreads>>>(dx, dy, k1, rows * ch, ch);
    return mdc::launched(where);
}

}  // extern "C"
