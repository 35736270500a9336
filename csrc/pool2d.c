/* pool2d.c -- 2-D max and average pooling over NHWC batches (Keras/TensorFlow rules).
 *
 * The kernels are written once in pool2d_impl.h and instantiated for float and double.
 * Geometry: output (oh, ow) covers input rows [oh*stride_h - pad_top, ... + pool_h) and
 * columns likewise; the part of the window outside the image (the 'same' padding) is
 * ignored. md_pool2d_geom_check guarantees that every clipped window holds at least
 * one real cell (pad < pool and every window starts inside the image).
 */
#include "md_internal.h"
#include "pool2_simd.h"

/* Channels accumulated at once in double by the average pooling forward pass. */
#define MD_POOL_CHANNEL_BLOCK 256

/* The clipped window [*lo, *hi) of output position o along one axis. */
static inline void md_pool_window(int64_t o, int64_t stride, int64_t pad, int64_t pool,
                                  int64_t in, int64_t *lo, int64_t *hi) {
    const int64_t start = o * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = md_min64(start + pool, in);
}

/* Elementary operations of a pass over every window (saturates instead of overflowing;
 * only used to decide the thread count). */
static inline int64_t md_pool_work(const md_pool2d_geom *g) {
    int64_t work = 1;
    const int64_t factors[6] = {g->batch, g->out_h, g->out_w, g->channels, g->pool_h,
                                g->pool_w};
    for (int i = 0; i < 6; i++)
        if (!md_mul_ok(work, factors[i], &work)) return INT64_MAX;
    return work;
}

/* Elements touched by a max pooling backward pass (dx zeroed, dy and argmax read); the
 * geometry check guarantees that both sizes fit in int64. */
static inline int64_t md_pool_scatter_work(const md_pool2d_geom *g) {
    return md_max64(g->batch * g->in_h * g->in_w * g->channels,
                    g->batch * g->out_h * g->out_w * g->channels);
}

/* Whether every window lies wholly inside the image (no padding reaches any): then the
 * average pooling passes take their row-wise fast paths. */
static inline int md_pool_windows_whole(const md_pool2d_geom *g) {
    return g->pad_top == 0 && g->pad_left == 0 &&
           (g->out_h - 1) * g->stride_h + g->pool_h <= g->in_h &&
           (g->out_w - 1) * g->stride_w + g->pool_w <= g->in_w;
}

/* Whether the windows tile the input exactly: no padding, stride = window, and every
 * input cell in one window (a max pooling's backward then writes each dx cell once). */
static inline int md_pool_windows_tile(const md_pool2d_geom *g) {
    return g->pad_top == 0 && g->pad_left == 0 && g->stride_h == g->pool_h &&
           g->stride_w == g->pool_w && g->out_h * g->pool_h == g->in_h &&
           g->out_w * g->pool_w == g->in_w;
}

/* Whether the windows are 2x2 with stride 2 (the seed networks' pooling). */
static inline int md_pool_is_2x2(const md_pool2d_geom *g) {
    return g->pool_h == 2 && g->pool_w == 2 && g->stride_h == 2 && g->stride_w == 2;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MD_HAVE_POOL_AVX2 1

/* One dy row (n_out floats) of the float 2x2, stride-2 average pooling backward into the
 * dx rows d0 and d1 (2 n_out floats each): both columns of a window receive dy * 0.25.
 * The lanes of a window's first and second columns are each a run of consecutive dy
 * elements, expanded into place. */
__attribute__((target("avx512f,avx2,fma"))) static void md_avgpool2_back_row_avx512(
    float *d0, float *d1, const float *dyr, int64_t C, int64_t n_out, const uint16_t *keep) {
    const int64_t n_in = 2 * n_out, period = 2 * C;
    const __m512 quarter = _mm512_set1_ps(0.25f);
    int64_t first = 0, second = 0; /* the dy element of the next first / second column lane */
    for (int64_t j = 0, k = 0; j < n_in; j += 16, k = k + 1 == period ? 0 : k + 1) {
        const __mmask16 in = md_pool2_first(n_in - j);
        const __mmask16 m1 = (__mmask16)(keep[k] & in), m2 = (__mmask16)(~keep[k] & in);
        const int c1 = __builtin_popcount(m1), c2 = __builtin_popcount(m2);
        __m512 v = _mm512_maskz_expand_ps(m1, _mm512_maskz_loadu_ps(md_pool2_first(c1), dyr + first));
        v = _mm512_mask_expand_ps(v, m2, _mm512_maskz_loadu_ps(md_pool2_first(c2), dyr + second));
        v = _mm512_mul_ps(v, quarter);
        _mm512_mask_storeu_ps(d0 + j, in, v);
        _mm512_mask_storeu_ps(d1 + j, in, v);
        first += c1;
        second += c2;
    }
}

/* Max and argmax of one float window for 8 channels at c of the image xn, with the rule
 * of md_maxpool_cell (ties keep the first cell in row-major order; a NaN is taken over a
 * number). The running index is int32 (the caller checks the image has < 2^31 cells) and
 * widened to int64 when stored. */
__attribute__((target("avx2,fma"))) static inline void md_maxpool8_avx2(
    float *yo, int64_t *ao, const float *xn, int64_t channels, int64_t in_w, int64_t h0,
    int64_t w0, int64_t pool_h, int64_t pool_w) {
    const int64_t first = h0 * in_w + w0;
    __m256 best = _mm256_loadu_ps(xn + first * channels);
    __m256 where = _mm256_castsi256_ps(_mm256_set1_epi32((int)first));
    for (int64_t h = h0; h < h0 + pool_h; h++)
        for (int64_t w = (h == h0 ? w0 + 1 : w0); w < w0 + pool_w; w++) {
            const int64_t idx = h * in_w + w;
            const __m256 v = _mm256_loadu_ps(xn + idx * channels);
            const __m256 nan_over_number = _mm256_andnot_ps(
                _mm256_cmp_ps(best, best, _CMP_UNORD_Q), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), nan_over_number);
            best = _mm256_blendv_ps(best, v, take);
            where = _mm256_blendv_ps(where, _mm256_castsi256_ps(_mm256_set1_epi32((int)idx)), take);
        }
    const __m256i idx32 = _mm256_castps_si256(where);
    _mm256_storeu_ps(yo, best);
    _mm256_storeu_si256((__m256i *)ao, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(idx32)));
    _mm256_storeu_si256((__m256i *)(ao + 4),
                        _mm256_cvtepi32_epi64(_mm256_extracti128_si256(idx32, 1)));
}

/* One output row r = n * out_h + oh of float max pooling with argmax when every window is
 * whole: the channels in whole groups of 8, in registers (the caller takes the rest). */
__attribute__((target("avx2,fma"))) static void md_maxpool_row_avx2(
    float *y, int64_t *argmax, const float *x, const md_pool2d_geom *g, int64_t r) {
    const int64_t channels = g->channels, in_w = g->in_w;
    const int64_t n = r / g->out_h, h0 = (r % g->out_h) * g->stride_h;
    const float *xn = x + n * g->in_h * in_w * channels;
    for (int64_t ow = 0; ow < g->out_w; ow++) {
        const int64_t w0 = ow * g->stride_w, o = (r * g->out_w + ow) * channels;
        for (int64_t c = 0; c + 8 <= channels; c += 8)
            md_maxpool8_avx2(y + o + c, argmax + o + c, xn + c, channels, in_w, h0, w0,
                             g->pool_h, g->pool_w);
    }
}
#else
#define MD_HAVE_POOL_AVX2 0
#endif

#define MD_TEMPLATE "pool2d_impl.h"
#include "md_instantiate.h"
