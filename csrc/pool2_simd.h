/* pool2_simd.h -- the float32 2x2, stride-2 average pooling of one row on AVX-512, for few
 * channels: shared by the pooling pass (pool2d.c) and the convolution that pools its own
 * output for inference (conv_one_channel.h), so that both give the same bits. */
#ifndef MD_POOL2_SIMD_H
#define MD_POOL2_SIMD_H

#include <stdint.h>

/* Below this many channels the 2x2 average pooling rows of float32 run on AVX-512 (the
 * template's loop over the channels is too short to vectorise). */
#define MD_POOL2_SIMD_C 16

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Lane masks of the 2x2 pooling rows: bit l of keep[k] is set when element 16 k + l of a
 * row of pixels with C channels lies in an even pixel (the first of a window's two
 * columns); the pattern repeats every 2 C / gcd(2 C, 16) <= 2 C vectors. */
static void md_pool2_keep(uint16_t *keep, int64_t C) {
    for (int64_t k = 0; k < 2 * C; k++) {
        unsigned m = 0;
        for (int l = 0; l < 16; l++) m |= (unsigned)((16 * k + l) / C % 2 == 0) << l;
        keep[k] = (uint16_t)m;
    }
}

/* A mask of the first n (0..16, clamped) lanes. */
static inline __mmask16 md_pool2_first(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* One output row of the float 2x2, stride-2 average pooling over whole windows, from the
 * source rows x0 and x1 (2 n_out floats of each are read): y[i] = ((x0[a] + x1[a]) +
 * (x0[a + C] + x1[a + C])) * 0.25 for the element a of the window's first column, the
 * same operations as the template's 2x2 loop. All 16 sums of a vector are formed, and the
 * lanes of first columns are compressed into y. */
__attribute__((target("avx512f,avx2,fma"))) static void md_avgpool2_row_avx512(
    float *y, const float *x0, const float *x1, int64_t C, int64_t n_out, const uint16_t *keep) {
    const int64_t n_in = 2 * n_out, period = 2 * C;
    const __m512 quarter = _mm512_set1_ps(0.25f);
    for (int64_t j = 0, k = 0; j < n_in; j += 16, k = k + 1 == period ? 0 : k + 1) {
        const __mmask16 in = md_pool2_first(n_in - j), partner = md_pool2_first(n_in - j - C);
        const __m512 a = _mm512_add_ps(_mm512_maskz_loadu_ps(in, x0 + j),
                                       _mm512_maskz_loadu_ps(in, x1 + j));
        const __m512 b = _mm512_add_ps(_mm512_maskz_loadu_ps(partner, x0 + j + C),
                                       _mm512_maskz_loadu_ps(partner, x1 + j + C));
        const __mmask16 take = (__mmask16)(keep[k] & in);
        const __m512 v = _mm512_maskz_compress_ps(take, _mm512_mul_ps(_mm512_add_ps(a, b), quarter));
        const int count = __builtin_popcount(take);
        _mm512_mask_storeu_ps(y, md_pool2_first(count), v);
        y += count;
    }
}

#endif /* x86 */

#endif /* MD_POOL2_SIMD_H */
