/* pool2d.cu -- max and average pooling over NHWC batches (md_pool2d_geom, Keras rules;
 * padded cells are ignored: never picked by max pooling, not counted by the average).
 *
 * Forward: one thread per output value, scanning its clipped window in row-major order
 * with the CPU's rules (ties keep the first maximum, a NaN is always picked; averages in
 * double). Backward: one thread per INPUT value gathers the gradients of the windows
 * that contain it, in increasing output order -- the order in which the CPU scatters
 * them -- so no atomics are needed and the sums are rounded as on the CPU. */
#include "mdc_internal.cuh"

namespace {

using mdc::kThreads;

struct PoolDims {
    int64_t batch, in_h, in_w, ch, ph, pw, sh, sw, pt, pl, out_h, out_w;
};

/* The clipped window [*lo, *hi) of output position o along one axis. */
__device__ inline void window(int64_t o, int64_t stride, int64_t pad, int64_t pool, int64_t in,
                              int64_t *lo, int64_t *hi) {
    const int64_t start = o * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = start + pool < in ? start + pool : in;
}

/* The outputs [*lo, *hi) along one axis whose windows contain input position i. */
__device__ inline void covering(int64_t i, int64_t stride, int64_t pad, int64_t pool,
                                int64_t out, int64_t *lo, int64_t *hi) {
    const int64_t first = i + pad - pool + 1; /* o * stride >= first */
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    const int64_t last = (i + pad) / stride; /* o * stride <= i + pad */
    *hi = last + 1 < out ? last + 1 : out;
}

__global__ void maxpool_forward_kernel(float *y, int64_t *argmax, const float *x, PoolDims d,
                                       int64_t total) {
    MDC_FOR(e, total) {
        const int64_t c = e % d.ch;
        int64_t t = e / d.ch;
        const int64_t ow = t % d.out_w;
        t /= d.out_w;
        const int64_t oh = t % d.out_h, n = t / d.out_h;
        int64_t h0, h1, w0, w1;
        window(oh, d.sh, d.pt, d.ph, d.in_h, &h0, &h1);
        window(ow, d.sw, d.pl, d.pw, d.in_w, &w0, &w1);
        const float *xn = x + n * d.in_h * d.in_w * d.ch + c;
        int64_t best_idx = h0 * d.in_w + w0;
        float best = xn[best_idx * d.ch];
        for (int64_t h = h0; h < h1; ++h) {
            for (int64_t w = (h == h0 ? w0 + 1 : w0); w < w1; ++w) {
                const int64_t idx = h * d.in_w + w;
                const float v = xn[idx * d.ch];
                if (v > best || (v != v && best == best)) {
                    best = v;
                    best_idx = idx;
                }
            }
        }
        y[e] = best;
        if (argmax != nullptr) argmax[e] = best_idx;
    }
}

/* Flag argmax values outside [0, cells) (the CPU's MD_ERR_ARG). */
__global__ void check_argmax(const int64_t *argmax, int64_t total, int64_t cells,
                             unsigned *errors) {
    MDC_FOR(e, total) {
        const int64_t a = argmax[e];
        if (a < 0 || a >= cells) atomicOr(errors, MDC_DATA_ARGMAX_RANGE);
    }
}

__global__ void maxpool_backward_kernel(float *dx, const float *dy, const int64_t *argmax,
                                        PoolDims d, int64_t total) {
    MDC_FOR(e, total) {
        const int64_t c = e % d.ch;
        int64_t t = e / d.ch;
        const int64_t w = t % d.in_w;
        t /= d.in_w;
        const int64_t h = t % d.in_h, n = t / d.in_h;
        const int64_t me = h * d.in_w + w;
        int64_t oh0, oh1, ow0, ow1;
        covering(h, d.sh, d.pt, d.ph, d.out_h, &oh0, &oh1);
        covering(w, d.sw, d.pl, d.pw, d.out_w, &ow0, &ow1);
        const int64_t base = n * d.out_h * d.out_w;
        float acc = 0.0f;
        for (int64_t oh = oh0; oh < oh1; ++oh)
            for (int64_t ow = ow0; ow < ow1; ++ow) {
                const int64_t o = ((base + oh * d.out_w + ow) * d.ch) + c;
                if (argmax[o] == me) acc = __fadd_rn(acc, dy[o]);
            }
        dx[e] = acc;
    }
}

__global__ void avgpool_forward_kernel(float *y, const float *x, PoolDims d, int64_t total) {
    MDC_FOR(e, total) {
        const int64_t c = e % d.ch;
        int64_t t = e / d.ch;
        const int64_t ow = t % d.out_w;
        t /= d.out_w;
        const int64_t oh = t % d.out_h, n = t / d.out_h;
        int64_t h0, h1, w0, w1;
        window(oh, d.sh, d.pt, d.ph, d.in_h, &h0, &h1);
        window(ow, d.sw, d.pl, d.pw, d.in_w, &w0, &w1);
        const float *xn = x + n * d.in_h * d.in_w * d.ch + c;
        double acc = 0.0;
        for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) acc += (double)xn[(h * d.in_w + w) * d.ch];
        y[e] = (float)(acc / (double)((h1 - h0) * (w1 - w0)));
    }
}

__global__ void avgpool_backward_kernel(float *dx, const float *dy, PoolDims d, int64_t total) {
    MDC_FOR(e, total) {
        const int64_t c = e % d.ch;
        int64_t t = e / d.ch;
        const int64_t w = t % d.in_w;
        t /= d.in_w;
        const int64_t h = t % d.in_h, n = t / d.in_h;
        int64_t oh0, oh1, ow0, ow1;
        covering(h, d.sh, d.pt, d.ph, d.out_h, &oh0, &oh1);
        covering(w, d.sw, d.pl, d.pw, d.out_w, &ow0, &ow1);
        const int64_t base = n * d.out_h * d.out_w;
        float acc = 0.0f;
        for (int64_t oh = oh0; oh < oh1; ++oh) {
            int64_t h0, h1;
            window(oh, d.sh, d.pt, d.ph, d.in_h, &h0, &h1);
            for (int64_t ow = ow0; ow < ow1; ++ow) {
                int64_t w0, w1;
                window(ow, d.sw, d.pl, d.pw, d.in_w, &w0, &w1);
                const float scale = (float)(1.0 / (double)((h1 - h0) * (w1 - w0)));
                const float g = dy[((base + oh * d.out_w + ow) * d.ch) + c];
                acc = __fadd_rn(acc, __fmul_rn(g, scale));
            }
        }
        dx[e] = acc;
    }
}

int make_dims(const md_pool2d_geom *g, PoolDims *d) {
    if (g == NULL) return MD_ERR_ARG;
    const md_status st = md_pool2d_geom_check(g);
    if (st != MD_OK) return st;
    *d = PoolDims{g->batch, g->in_h,     g->in_w,   g->channels, g->pool_h, g->pool_w,
                  g->stride_h, g->stride_w, g->pad_top, g->pad_left, g->out_h,  g->out_w};
    return MD_OK;
}

}  // namespace

extern "C" {

int mdc_maxpool2d_forward(float *y, int64_t *argmax, const float *x, const md_pool2d_geom *g) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    PoolDims d;
    int st = make_dims(g, &d);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t total = d.batch * d.out_h * d.out_w * d.ch;
    maxpool_forward_kernel<<<mdc::blocks_for(total), kThreads>>>(y, argmax, x, d, total);
    return mdc::launched("mdc_maxpool2d_forward");
}

int mdc_maxpool2d_backward(float *dx, const float *dy, const int64_t *argmax,
                           const md_pool2d_geom *g) {
    if (dx == NULL || dy == NULL || argmax == NULL) return MD_ERR_ARG;
    PoolDims d;
    int st = make_dims(g, &d);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t out_total = d.batch * d.out_h * d.out_w * d.ch;
    const int64_t in_total = d.batch * d.in_h * d.in_w * d.ch;
    check_argmax<<<mdc::blocks_for(out_total), kThreads>>>(argmax, out_total, d.in_h * d.in_w,
                                                          mdc::data_error_word());
    maxpool_backward_kernel<<<mdc::blocks_for(in_total), kThreads>>>(dx, dy, argmax, d,
                                                                    in_total);
    return mdc::launched("mdc_maxpool2d_backward");
}

int mdc_avgpool2d_forward(float *y, const float *x, const md_pool2d_geom *g) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    PoolDims d;
    int st = make_dims(g, &d);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t total = d.batch * d.out_h * d.out_w * d.ch;
    avgpool_forward_kernel<<<mdc::blocks_for(total), kThreads>>>(y, x, d, total);
    return mdc::launched("mdc_avgpool2d_forward");
}

int mdc_avgpool2d_backward(float *dx, const float *dy, const md_pool2d_geom *g) {
    if (dx == NULL || dy == NULL) return MD_ERR_ARG;
    PoolDims d;
    int st = make_dims(g, &d);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    const int64_t total = d.batch * d.in_h * d.in_w * d.ch;
    avgpool_backward_kernel<<<mdc::blocks_for(total), kThreads>>>(dx, dy, d, total);
    return mdc::launched("mdc_avgpool2d_backward");
}

}  // extern "C"
