/* conv2d.cu -- convolution passes as implicit GEMMs on the tiled kernel (mdc_gemm.cuh),
 * NHWC input, HWIO kernel, the geometry of md_conv2d_geom (Keras 'same' padding).
 *
 *   forward:          y (N*OH*OW, CO)  = im2col(x) (N*OH*OW, KH*KW*CI) . w (KH*KW*CI, CO)
 *                     with bias and activation applied as each tile is stored;
 *   backward input:   dx (N*H*W, CI)   = gather(dy) (N*H*W, KH*KW*CO) . w' (KH*KW*CO, CI)
 *                     where gather picks dy at the output pixel whose window put kernel
 *                     tap (kh, kw) on the input pixel (zero when the stride skips it);
 *   backward weight:  dw (KH*KW*CI, CO) = im2col(x)^T . dy (N*OH*OW, CO), split along the
 *                     pixels and the partials added in split order; dbias = column sums
 *                     of dy (deterministic reduction).
 * The im2col matrices are never stored: the operand functors compute each element's
 * source address while a tile is staged in shared memory. */
#include "mdc_activation.cuh"
#include "mdc_gemm.cuh"

namespace {

using mdc::kThreads;

/* The geometry in 32-bit ints (checked to fit) for cheap index arithmetic. */
struct Dims {
    int n, ih, iw, ic, kh, kw, oc, sh, sw, pt, pl, oh, ow;
};

/* Forward / weight-gradient operand: row = output pixel, col = (kh, kw, ci). */
__device__ inline float im2col_at(const float *x, const Dims &d, int pixel, int tap) {
    const int ow = pixel % d.ow, t = pixel / d.ow;
    const int oh = t % d.oh, n = t / d.oh;
    const int ci = tap % d.ic, t2 = tap / d.ic;
    const int kw = t2 % d.kw, kh = t2 / d.kw;
    const int h = oh * d.sh - d.pt + kh, w = ow * d.sw - d.pl + kw;
    if (h < 0 || h >= d.ih || w < 0 || w >= d.iw) return 0.0f;
    return x[(((int64_t)n * d.ih + h) * d.iw + w) * d.ic + ci];
}

struct Im2col { /* A of the forward pass: (pixel, tap), channels contiguous along taps */
    static constexpr bool along_k = true;
    const float *x;
    Dims d;
    __device__ float operator()(int i, int p) const { return im2col_at(x, d, i, p); }
};

struct Im2colT { /* A of the weight gradient: (tap, pixel), contiguous along taps */
    static constexpr bool along_k = false;
    const float *x;
    Dims d;
    __device__ float operator()(int i, int p) const { return im2col_at(x, d, p, i); }
};

struct GatherDy { /* A of the input gradient: (input pixel, (kh, kw, co)) */
    static constexpr bool along_k = true;
    const float *dy;
    Dims d;
    __device__ float operator()(int i, int p) const {
        const int w = i % d.iw, t = i / d.iw;
        const int h = t % d.ih, n = t / d.ih;
        const int co = p % d.oc, t2 = p / d.oc;
        const int kw = t2 % d.kw, kh = t2 / d.kw;
        const int dh = h + d.pt - kh, dw = w + d.pl - kw;
        if (dh < 0 || dw < 0 || dh % d.sh != 0 || dw % d.sw != 0) return 0.0f;
        const int oh = dh / d.sh, ow = dw / d.sw;
        if (oh >= d.oh || ow >= d.ow) return 0.0f;
        return dy[(((int64_t)n * d.oh + oh) * d.ow + ow) * d.oc + co];
    }
};

struct WeightFlip { /* B of the input gradient: ((kh, kw, co), ci) = w[kh, kw, ci, co] */
    static constexpr bool along_k = true;
    const float *w;
    Dims d;
    __device__ float operator()(int p, int j) const {
        const int co = p % d.oc, khkw = p / d.oc;
        return w[((int64_t)khkw * d.ic + j) * d.oc + co];
    }
};

/* Forward store: y = act(v + bias). */
struct StoreBiasAct {
    float *y;
    const float *bias;
    int activation, n;
    __device__ void operator()(int i, int j, int, float v) const {
        if (bias != nullptr) v = __fadd_rn(v, bias[j]);
        y[(int64_t)i * n + j] = mdc::activate(v, activation);
    }
};

/* Plain store (input gradient). */
struct StorePlain {
    float *y;
    int n;
    __device__ void operator()(int i, int j, int, float v) const { y[(int64_t)i * n + j] = v; }
};

/* dw = the split partials added in split order. */
__global__ void combine_partials(float *dw, const float *part, int splits, int64_t count) {
    MDC_FOR(e, count) {
        double t = 0.0;
        for (int z = 0; z < splits; ++z) t += (double)part[(int64_t)z * count + e];
        dw[e] = (float)t;
    }
}

/* dbias contribution: dy (pixels, CO). */
struct DyColumns {
    static constexpr int NS = 1;
    const float *dy;
    int64_t cols;
    __device__ void add(double (&acc)[1], int64_t, int64_t r, int64_t j) const {
        acc[0] += (double)dy[r * cols + j];
    }
};

__global__ void round_to_float(float *out, const double *total, int64_t n) {
    MDC_FOR(i, n) out[i] = (float)total[i];
}

/* Check the geometry and that every GEMM dimension fits the 32-bit kernels. */
int make_dims(const md_conv2d_geom *g, Dims *d) {
    const md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    const int64_t lim = 0x7fffffff;
    int64_t in_pixels, out_pixels, taps;
    if (!mdc::mul_ok(g->batch * g->in_h, g->in_w, &in_pixels) ||
        !mdc::mul_ok(g->batch * g->out_h, g->out_w, &out_pixels) ||
        !mdc::mul_ok(g->k_h * g->k_w, g->in_c > g->out_c ? g->in_c : g->out_c, &taps))
        return MD_ERR_OVERFLOW;
    if (in_pixels > lim || out_pixels > lim || taps > lim) return MD_ERR_OVERFLOW;
    *d = Dims{(int)g->batch, (int)g->in_h, (int)g->in_w, (int)g->in_c, (int)g->k_h,
              (int)g->k_w, (int)g->out_c, (int)g->stride_h, (int)g->stride_w,
              (int)g->pad_top, (int)g->pad_left, (int)g->out_h, (int)g->out_w};
    return MD_OK;
}

}  // namespace

extern "C" {

int mdc_conv2d_forward(float *y, const float *x, const float *w, const float *bias,
                       int activation, const md_conv2d_geom *g) {
    Dims d;
    int st = make_dims(g, &d);
    if (st != MD_OK) return st;
    if (y == NULL || x == NULL || w == NULL) return MD_ERR_ARG;
    if (activation < MD_ACT_LINEAR || activation > MD_ACT_TANH) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t m = (int64_t)d.n * d.oh * d.ow, n = d.oc, k = (int64_t)d.kh * d.kw * d.ic;
    mdc::GemmPlan plan;
    if ((st = mdc::plan_gemm(m, n, k, false, &plan)) != MD_OK) return st;
    mdc::launch_gemm(plan, Im2col{x, d}, mdc::Strided<false, false>{w, n},
                     StoreBiasAct{y, bias, activation, (int)n}, m, n, k);
    return mdc::launched("mdc_conv2d_forward");
}

int mdc_conv2d_backward_input(float *dx, const float *dy, const float *w,
                              const md_conv2d_geom *g) {
    Dims d;
    int st = make_dims(g, &d);
    if (st != MD_OK) return st;
    if (dx == NULL || dy == NULL || w == NULL) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t m = (int64_t)d.n * d.ih * d.iw, n = d.ic, k = (int64_t)d.kh * d.kw * d.oc;
    mdc::GemmPlan plan;
    if ((st = mdc::plan_gemm(m, n, k, false, &plan)) != MD_OK) return st;
    mdc::launch_gemm(plan, GatherDy{dy, d}, WeightFlip{w, d}, StorePlain{dx, (int)n}, m, n, k);
    return mdc::launched("mdc_conv2d_backward_input");
}

int mdc_conv2d_backward_weight(float *dw, float *dbias, const float *dy, const float *x,
                               const md_conv2d_geom *g) {
    Dims d;
    int st = make_dims(g, &d);
    if (st != MD_OK) return st;
    if (dw == NULL || dy == NULL || x == NULL) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t m = (int64_t)d.kh * d.kw * d.ic, n = d.oc, k = (int64_t)d.n * d.oh * d.ow;
    mdc::GemmPlan plan;
    if ((st = mdc::plan_gemm(m, n, k, true, &plan)) != MD_OK) return st;
    const Im2colT a{x, d};
    const mdc::Strided<false, false> b{dy, n};
    if (plan.splits == 1) {
        mdc::launch_gemm(plan, a, b, StorePlain{dw, (int)n}, m, n, k);
    } else {
        int64_t bytes;
        if (!mdc::mul_ok(m * n, (int64_t)plan.splits * (int64_t)sizeof(float), &bytes))
            return MD_ERR_OVERFLOW;
        mdc::Scratch part;
        if ((st = part.get((size_t)bytes)) != MD_OK) return st;
        mdc::launch_gemm(plan, a, b, mdc::StorePartial{part.as<float>(), m * n, (int)n}, m, n,
                         k);
        combine_partials<<<mdc::blocks_for(m * n), kThreads>>>(dw, part.as<float>(),
                                                               plan.splits, m * n);
        if ((st = mdc::launched("mdc_conv2d_backward_weight")) != MD_OK) return st;
    }
    if (dbias != NULL) {
        mdc::Scratch totals;
        if ((st = totals.get((size_t)n * sizeof(double))) != MD_OK) return st;
        st = mdc::column_sums(DyColumns{dy, n}, totals.as<double>(), 1, k, n,
                              "mdc_conv2d_backward_weight");
        if (st != MD_OK) return st;
        round_to_float<<<mdc::blocks_for(n), kThreads>>>(dbias, totals.as<double>(), n);
    }
    return mdc::launched("mdc_conv2d_backward_weight");
}

}  // extern "C"
