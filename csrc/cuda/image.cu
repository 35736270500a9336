/* image.cu -- image ops over NHWC batches as image.c: bilinear affine warp with the four
 * fill modes, left-right flip, bilinear resize with half-pixel centres. One thread per
 * output pixel (warp, resize: all its channels) or per value (flip); the interpolation is
 * done in double with the CPU's formulas and rounded once to float. */
#include "mdc_internal.cuh"

namespace {

using mdc::kThreads;

__device__ inline int64_t mod_floor(int64_t k, int64_t p) {
    const int64_t m = k % p;
    return m < 0 ? m + p : m;
}

/* One axis of a bilinear sample, exactly md_img_axis (image.c): the neighbours i0, i1
 * of source coordinate s mapped by the fill mode and the weight f of i1; -1 marks a
 * neighbour outside the image in constant mode; returns false when the sample is the
 * constant (both neighbours outside). */
__device__ inline bool sample_axis(double s, int64_t len, int mode, int64_t *i0, int64_t *i1,
                                   double *f) {
    const double last = (double)(len - 1);
    if (mode == MD_FILL_NEAREST) {
        if (!(s > 0.0)) s = 0.0;
        else if (s > last) s = last;
        const int64_t k = (int64_t)s;
        *i0 = k;
        *i1 = k + 1 < len ? k + 1 : len - 1;
        *f = s - (double)k;
        return true;
    }
    if (mode == MD_FILL_CONSTANT) {
        if (!(s > -1.0 && s < (double)len)) return false;
        const double fl = floor(s);
        const int64_t k = (int64_t)fl;
        *i0 = k >= 0 ? k : -1;
        *i1 = k + 1 < len ? k + 1 : -1;
        *f = s - fl;
        return true;
    }
    const int64_t period = mode == MD_FILL_REFLECT ? 2 * len : len;
    if (!isfinite(s)) s = s > 0.0 ? last : 0.0;
    if (fabs(s) >= (double)period) s = fmod(s, (double)period);
    const double fl = floor(s);
    const int64_t k = (int64_t)fl;
    int64_t a = mod_floor(k, period), b = mod_floor(k + 1, period);
    if (mode == MD_FILL_REFLECT) {
        if (a >= len) a = period - 1 - a;
        if (b >= len) b = period - 1 - b;
    }
    *i0 = a;
    *i1 = b;
    *f = s - fl;
    return true;
}

__device__ inline double blend(double w0, double a, double f, double b) {
    return __dadd_rn(__dmul_rn(w0, a), __dmul_rn(f, b));
}

__global__ void affine_warp_kernel(float *y, const float *x, const double *transforms, int64_t n,
                                   int64_t h, int64_t w, int64_t c, int64_t out_h,
                                   int64_t out_w, int fill_mode, float cval) {
    const int64_t pixels = n * out_h * out_w;
    MDC_FOR(e, pixels) {
        const int64_t col = e % out_w, t = e / out_w;
        const int64_t r = t % out_h, i = t / out_h;
        const double *tr = transforms + 6 * i;
        const double rr = (double)r, cc = (double)col;
        const double sr = __dadd_rn(__dadd_rn(__dmul_rn(tr[0], rr), __dmul_rn(tr[1], cc)), tr[2]);
        const double sc = __dadd_rn(__dadd_rn(__dmul_rn(tr[3], rr), __dmul_rn(tr[4], cc)), tr[5]);
        float *yp = y + e * c;
        int64_t r0, r1, c0, c1;
        double fr, fc;
        if (!sample_axis(sr, h, fill_mode, &r0, &r1, &fr) ||
            !sample_axis(sc, w, fill_mode, &c0, &c1, &fc)) {
            for (int64_t ch = 0; ch < c; ++ch) yp[ch] = cval;
            continue;
        }
        const float *xi = x + i * h * w * c;
        const float *p00 = (r0 < 0 || c0 < 0) ? nullptr : xi + (r0 * w + c0) * c;
        const float *p01 = (r0 < 0 || c1 < 0) ? nullptr : xi + (r0 * w + c1) * c;
        const float *p10 = (r1 < 0 || c0 < 0) ? nullptr : xi + (r1 * w + c0) * c;
        const float *p11 = (r1 < 0 || c1 < 0) ? nullptr : xi + (r1 * w + c1) * c;
        const double wr0 = 1.0 - fr, wc0 = 1.0 - fc, cv = (double)cval;
        for (int64_t ch = 0; ch < c; ++ch) {
            const double v00 = p00 ? (double)p00[ch] : cv, v01 = p01 ? (double)p01[ch] : cv;
            const double v10 = p10 ? (double)p10[ch] : cv, v11 = p11 ? (double)p11[ch] : cv;
            const double top = blend(wc0, v00, fc, v01);
            const double bottom = blend(wc0, v10, fc, v11);
            yp[ch] = (float)blend(wr0, top, fr, bottom);
        }
    }
}

__global__ void flip_kernel(float *y, const float *x, const uint8_t *flags, int64_t n, int64_t h,
                            int64_t w, int64_t c) {
    const int64_t total = n * h * w * c;
    MDC_FOR(e, total) {
        const int64_t ch = e % c, t = e / c;
        const int64_t col = t % w, row = t / w; /* row over n * h */
        const int64_t i = row / h;
        const bool flip = flags == nullptr || flags[i] != 0;
        const int64_t src_col = flip ? w - 1 - col : col;
        y[e] = x[(row * w + src_col) * c + ch];
    }
}

/* Source coordinate of output index d for a resize from `in` to `out` (half-pixel
 * centres, clamped): the lower neighbour k, the upper one and the weight of the upper. */
__device__ inline void resize_axis(int64_t d, int64_t in, int64_t out, int64_t *k0,
                                   int64_t *k1, double *f) {
    const double scale = (double)in / (double)out;
    double s = __dsub_rn(__dmul_rn((double)d + 0.5, scale), 0.5);
    if (!(s > 0.0)) s = 0.0;
    else if (s > (double)(in - 1)) s = (double)(in - 1);
    const int64_t k = (int64_t)s;
    *k0 = k;
    *k1 = k + 1 < in ? k + 1 : in - 1;
    *f = s - (double)k;
}

__global__ void resize_kernel(float *y, const float *x, int64_t n, int64_t h, int64_t w,
                              int64_t c, int64_t out_h, int64_t out_w) {
    const int64_t pixels = n * out_h * out_w;
    MDC_FOR(e, pixels) {
        const int64_t j = e % out_w, t = e / out_w;
        const int64_t r = t % out_h, i = t / out_h;
        int64_t a0, a1, b0, b1;
        double fr, fc;
        resize_axis(r, h, out_h, &a0, &a1, &fr);
        resize_axis(j, w, out_w, &b0, &b1, &fc);
        const float *img = x + i * h * w * c;
        const float *p00 = img + (a0 * w + b0) * c, *p01 = img + (a0 * w + b1) * c;
        const float *p10 = img + (a1 * w + b0) * c, *p11 = img + (a1 * w + b1) * c;
        const double wr0 = 1.0 - fr, wc0 = 1.0 - fc;
        float *yp = y + e * c;
        for (int64_t ch = 0; ch < c; ++ch) {
            const double top = blend(wc0, (double)p00[ch], fc, (double)p01[ch]);
            const double bottom = blend(wc0, (double)p10[ch], fc, (double)p11[ch]);
            yp[ch] = (float)blend(wr0, top, fr, bottom);
        }
    }
}

/* md_img_check: pointers and positive sizes whose products fit in int64. */
int check_images(const void *y, const void *x, int64_t n, int64_t h, int64_t w, int64_t c,
                 int64_t out_h, int64_t out_w, int64_t *in_count, int64_t *out_count) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    const int64_t in_sizes[4] = {n, h, w, c}, out_sizes[4] = {n, out_h, out_w, c};
    for (int i = 0; i < 4; ++i)
        if (in_sizes[i] <= 0 || out_sizes[i] <= 0) return MD_ERR_SHAPE;
    int64_t a = 1, b = 1;
    for (int i = 0; i < 4; ++i)
        if (!mdc::mul_ok(a, in_sizes[i], &a) || !mdc::mul_ok(b, out_sizes[i], &b))
            return MD_ERR_OVERFLOW;
    *in_count = a;
    *out_count = b;
    return MD_OK;
}

}  // namespace

extern "C" {

int mdc_affine_warp(float *y, const float *x, const double *transforms, int64_t n, int64_t h,
                    int64_t w, int64_t c, int64_t out_h, int64_t out_w, int fill_mode,
                    double cval) {
    if (transforms == NULL) return MD_ERR_ARG;
    int64_t in_count, out_count, t_count, twice;
    int st = check_images(y, x, n, h, w, c, out_h, out_w, &in_count, &out_count);
    if (st != MD_OK) return st;
    if (fill_mode != MD_FILL_NEAREST && fill_mode != MD_FILL_CONSTANT &&
        fill_mode != MD_FILL_REFLECT && fill_mode != MD_FILL_WRAP)
        return MD_ERR_ARG;
    if (!mdc::mul_ok(n, 6, &t_count) || !mdc::mul_ok(h > w ? h : w, 2, &twice))
        return MD_ERR_OVERFLOW;
    if ((st = mdc::enter()) != MD_OK) return st;
    affine_warp_kernel<<<mdc::blocks_for(n * out_h * out_w), kThreads>>>(
        y, x, transforms, n, h, w, c, out_h, out_w, fill_mode, (float)cval);
    return mdc::launched("mdc_affine_warp");
}

int mdc_flip_horizontal(float *y, const float *x, const uint8_t *flags, int64_t n, int64_t h,
                        int64_t w, int64_t c) {
    int64_t count, out_count;
    int st = check_images(y, x, n, h, w, c, h, w, &count, &out_count);
    if (st != MD_OK) return st;
    const uintptr_t ya = (uintptr_t)y, xa = (uintptr_t)x, bytes = (uintptr_t)count * 4u;
    if (ya < xa + bytes && xa < ya + bytes) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    flip_kernel<<<mdc::blocks_for(count), kThreads>>>(y, x, flags, n, h, w, c);
    return mdc::launched("mdc_flip_horizontal");
}

int mdc_resize_bilinear(float *y, const float *x, int64_t n, int64_t h, int64_t w, int64_t c,
                        int64_t out_h, int64_t out_w) {
    int64_t in_count, out_count;
    int st = check_images(y, x, n, h, w, c, out_h, out_w, &in_count, &out_count);
    if (st != MD_OK) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    resize_kernel<<<mdc::blocks_for(n * out_h * out_w), kThreads>>>(y, x, n, h, w, c, out_h,
                                                                    out_w);
    return mdc::launched("mdc_resize_bilinear");
}

}  // extern "C"
