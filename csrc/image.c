/* image.c -- image ops for augmentation and preprocessing over NHWC batches:
 * bilinear affine warp with fill modes, left-right flip, bilinear resize.
 * Every kernel is parallel over the output rows of all the images of the batch; each
 * output value is computed by one thread from its inputs alone, so results are
 * bit-identical for any thread count. Interpolation is done in double for both element
 * types (float32 results are rounded once, at the end). */
#include <math.h>

#include "md_internal.h"

/* Product of n positive sizes into *out: MD_ERR_SHAPE for a non-positive size,
 * MD_ERR_OVERFLOW when the product overflows int64. */
static md_status md_img_count(const int64_t *sizes, int count, int64_t *out) {
    int64_t total = 1;
    for (int i = 0; i < count; i++)
        if (sizes[i] <= 0) return MD_ERR_SHAPE;
    for (int i = 0; i < count; i++)
        if (!md_mul_ok(total, sizes[i], &total)) return MD_ERR_OVERFLOW;
    *out = total;
    return MD_OK;
}

/* k modulo a period p > 0, in [0, p). */
static inline int64_t md_img_mod(int64_t k, int64_t p) {
    int64_t m = k % p;
    return m < 0 ? m + p : m;
}

/* One axis of a bilinear sample: the source coordinate s on an axis of len pixels
 * (centres at 0 .. len-1) gives the two neighbours *i0 = floor(s), *i1 = *i0 + 1 mapped
 * into the image by the fill mode, and the weight *f of *i1 (1 - *f is that of *i0).
 * For MD_FILL_CONSTANT a neighbour outside the image is returned as -1, and the
 * function returns 0 when both neighbours are outside (the sample is cval); it returns
 * 1 otherwise. Any double is handled without overflow or out-of-range indices:
 *   nearest:  s is clamped to [0, len-1] first (NaN -> 0), which gives the same values
 *             as clamping each neighbour;
 *   constant: s outside (-1, len) or NaN -> both neighbours outside;
 *   reflect / wrap: the periodic index maps of period 2*len / len; s is first reduced
 *             exactly with fmod when |s| >= period; +inf -> len-1, -inf and NaN -> 0.
 * The fill mode must be valid (checked by the caller). */
static inline int md_img_axis(double s, int64_t len, int mode, int64_t *i0, int64_t *i1,
                              double *f) {
    const double last = (double)(len - 1);
    if (mode == MD_FILL_NEAREST) {
        if (!(s > 0.0)) s = 0.0;
        else if (s > last) s = last;
        const int64_t k = (int64_t)s; /* s >= 0: truncation is floor */
        *i0 = k;
        *i1 = k + 1 < len ? k + 1 : len - 1;
        *f = s - (double)k;
        return 1;
    }
    if (mode == MD_FILL_CONSTANT) {
        if (!(s > -1.0 && s < (double)len)) return 0;
        const double fl = floor(s);
        const int64_t k = (int64_t)fl; /* in [-1, len-1] */
        *i0 = k >= 0 ? k : -1;
        *i1 = k + 1 < len ? k + 1 : -1;
        *f = s - fl;
        return 1;
    }
    /* reflect (period 2*len, mirrored) or wrap (period len) */
    const int64_t period = mode == MD_FILL_REFLECT ? 2 * len : len;
    if (!isfinite(s)) s = s > 0.0 ? last : 0.0;
    if (fabs(s) >= (double)period) s = fmod(s, (double)period); /* exact */
    const double fl = floor(s);
    const int64_t k = (int64_t)fl; /* in [-period, period) */
    int64_t a = md_img_mod(k, period), b = md_img_mod(k + 1, period);
    if (mode == MD_FILL_REFLECT) {
        if (a >= len) a = period - 1 - a;
        if (b >= len) b = period - 1 - b;
    }
    *i0 = a;
    *i1 = b;
    *f = s - fl;
    return 1;
}

/* Common argument checks of the image kernels: element counts of x and y. */
static md_status md_img_check(const void *y, const void *x, int64_t n, int64_t h, int64_t w,
                              int64_t c, int64_t out_h, int64_t out_w, int64_t *in_count,
                              int64_t *out_count) {
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    const int64_t in_sizes[4] = {n, h, w, c};
    const int64_t out_sizes[4] = {n, out_h, out_w, c};
    md_status st = md_img_count(in_sizes, 4, in_count);
    if (st != MD_OK) return st;
    return md_img_count(out_sizes, 4, out_count);
}

#define MD_TEMPLATE "image_impl.h"
#include "md_instantiate.h"
