/* activations.c -- elementwise activations and the row softmax, forward and backward.
 * The kernels are written once in activations_impl.h and built for float and double. */
#include <math.h>

#include "md_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* exp(v) for 8 floats, |relative error| < 2 ulp: v = n ln2 + r with |r| <= ln2/2 (ln2 split
 * in two for Cody-Waite accuracy), exp(r) by a degree-6 Taylor/Horner polynomial, times 2^n
 * built in the exponent bits. Results below FLT_MIN (v < -87.3) flush to 0; v is clamped
 * at 88.7 above. */
__attribute__((target("avx2,fma"))) static inline __m256 md_exp8(__m256 v) {
    const __m256 representable = _mm256_cmp_ps(v, _mm256_set1_ps(-87.3f), _CMP_GE_OQ);
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(v, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), v);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i scale = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(scale)), representable);
}

/* y = sigmoid(x) over n floats, stable for any |x| (the same formulation as the portable
 * loop: e = exp(-|x|), 1 / (1 + e) for x >= 0 and e / (1 + e) below); NaN stays NaN. */
__attribute__((target("avx2,fma"))) static void md_sigmoid_avx2(float *y, const float *x,
                                                                int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 e = md_exp8(_mm256_or_ps(v, sign)); /* exp(-|v|) */
        const __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
        const __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        __m256 out = _mm256_blendv_ps(r, _mm256_mul_ps(e, r), negative);
        out = _mm256_blendv_ps(out, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); /* NaN */
        _mm256_storeu_ps(y + i, out);
    }
    for (; i < n; i++) {
        const float e = expf(-fabsf(x[i]));
        const float r = 1.0f / (1.0f + e);
        y[i] = x[i] >= 0.0f ? r : (x[i] < 0.0f ? e * r : x[i]);
    }
}

/* y = tanh(x) over n floats: sign(x) (1 - e) / (1 + e) with e = exp(-2|x|); below
 * |x| = 0.0625 the Taylor series x - x^3/3 + 2x^5/15 - 17x^7/315 avoids the cancellation
 * in 1 - e. NaN stays NaN. */
__attribute__((target("avx2,fma"))) static void md_tanh_avx2(float *y, const float *x,
                                                             int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 a = _mm256_andnot_ps(sign, v);
        const __m256 e = md_exp8(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
        __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
        const __m256 v2 = _mm256_mul_ps(v, v);
        __m256 s = _mm256_set1_ps(-17.0f / 315);
        s = _mm256_fmadd_ps(s, v2, _mm256_set1_ps(2.0f / 15));
        s = _mm256_fmadd_ps(s, v2, _mm256_set1_ps(-1.0f / 3));
        s = _mm256_fmadd_ps(s, v2, one);
        const __m256 small = _mm256_mul_ps(s, a);
        t = _mm256_blendv_ps(t, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.0625f), _CMP_LT_OQ));
        t = _mm256_or_ps(t, _mm256_and_ps(v, sign)); /* the sign of x */
        t = _mm256_blendv_ps(t, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); /* NaN */
        _mm256_storeu_ps(y + i, t);
    }
    for (; i < n; i++) y[i] = tanhf(x[i]);
}
#define MD_HAVE_ACT_SIMD 1
#else
#define MD_HAVE_ACT_SIMD 0
#endif

/* Elements per OpenMP work item of the elementwise activations: large enough that a
 * vector loop dominates, small enough to balance. */
#define MD_ACT_BLOCK 8192

#define MD_TEMPLATE "activations_impl.h"
#include "md_instantiate.h"
