/* activations.c -- elementwise activations and the row softmax, forward and backward.
 * The kernels are written once in activations_impl.h and built for float and double. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "md_internal.h"

#if defined(__x86_64__) || defined(__i386__)
/* The float32 sigmoid and tanh, written once with GCC vector extensions and compiled for
 * AVX2 (8 lanes) and AVX-512 (16 lanes); the level is chosen at run time. Every element,
 * the ragged end included (computed in a zero-padded vector), goes through the same
 * formula, so an element's value does not depend on its position or the array's length,
 * and both levels give the same bits (the same IEEE operations lane by lane: -std=c11
 * turns FMA contraction off). */
#define MD_ACT_SIMD(W, SUF, TGT)                                                                  \
    typedef float md_vf_##SUF __attribute__((vector_size(4 * W)));                              \
    typedef int32_t md_vi_##SUF __attribute__((vector_size(4 * W)));                            \
                                                                                                  \
    /* mask ? a : b, lane by lane (mask lanes are all ones or all zeros) */                      \
    TGT static inline md_vf_##SUF md_sel_##SUF(md_vi_##SUF mask, md_vf_##SUF a, md_vf_##SUF b) { \
        return (md_vf_##SUF)((mask & (md_vi_##SUF)a) | (~mask & (md_vi_##SUF)b));                \
    }                                                                                             \
                                                                                                  \
    /* exp(v), |relative error| < 2 ulp: v = n ln2 + r with |r| <= ln2/2 (ln2 split in two for   \
     * Cody-Waite accuracy; n rounded to nearest by the 1.5 * 2^23 shift), exp(r) by a degree-6 \
     * Taylor/Horner polynomial, times 2^n built in the exponent bits. Results below FLT_MIN    \
     * (v < -87.3) flush to 0; v is clamped at 88.7 above. */                                   \
    TGT static inline md_vf_##SUF md_exp_##SUF(md_vf_##SUF v) {                                  \
        const md_vf_##SUF low = (md_vf_##SUF){0} - 87.3f, high = (md_vf_##SUF){0} + 88.7f;     \
        const md_vi_##SUF representable = v >= low;                                              \
        v = md_sel_##SUF(v < low, low, md_sel_##SUF(v > high, high, v));                         \
        const md_vf_##SUF shift = (md_vf_##SUF){0} + 12582912.0f;                               \
        const md_vf_##SUF n = (v * 1.44269504088896341f + shift) - shift;                      \
        const md_vf_##SUF r = (v - n * 0.693359375f) - n * -2.12194440e-4f;                     \
        md_vf_##SUF p = r * (1.0f / 720) + 1.0f / 120;                                           \
        p = p * r + 1.0f / 24;                                                                   \
        p = p * r + 1.0f / 6;                                                                    \
        p = p * r + 0.5f;                                                                        \
        p = p * r + 1.0f;                                                                        \
        p = p * r + 1.0f;                                                                        \
        const md_vi_##SUF bits = (__builtin_convertvector(n, md_vi_##SUF) + 127) << 23;          \
        return (md_vf_##SUF)((md_vi_##SUF)(p * (md_vf_##SUF)bits) & representable);             \
    }                                                                                             \
                                                                                                  \
    /* sigmoid, stable for any |x|: e = exp(-|x|), 1 / (1 + e) for x >= 0 and e / (1 + e)      \
     * below; NaN stays NaN. */                                                                  \
    TGT static inline md_vf_##SUF md_sigmoid_v_##SUF(md_vf_##SUF v) {                            \
        const md_vi_##SUF sign = (md_vi_##SUF){0} + INT32_MIN;                                   \
        const md_vf_##SUF e = md_exp_##SUF((md_vf_##SUF)((md_vi_##SUF)v | sign));               \
        const md_vf_##SUF r = 1.0f / (1.0f + e);                                                 \
        return md_sel_##SUF(v != v, v, md_sel_##SUF(v < 0.0f, e * r, r));                        \
    }                                                                                             \
                                                                                                  \
    /* tanh: sign(x) (1 - e) / (1 + e) with e = exp(-2|x|); below |x| = 0.0625 the Taylor      \
     * series x - x^3/3 + 2x^5/15 - 17x^7/315 avoids the cancellation in 1 - e. NaN stays NaN. */ \
    TGT static inline md_vf_##SUF md_tanh_v_##SUF(md_vf_##SUF v) {                               \
        const md_vi_##SUF sign = (md_vi_##SUF){0} + INT32_MIN;                                   \
        const md_vf_##SUF a = (md_vf_##SUF)(~sign & (md_vi_##SUF)v);                             \
        const md_vf_##SUF e = md_exp_##SUF(a * -2.0f);                                           \
        const md_vf_##SUF v2 = v * v;                                                            \
        md_vf_##SUF s = v2 * (-17.0f / 315) + 2.0f / 15;                                         \
        s = s * v2 + -1.0f / 3;                                                                  \
        s = s * v2 + 1.0f;                                                                       \
        md_vf_##SUF t = md_sel_##SUF(a < 0.0625f, s * a, (1.0f - e) / (1.0f + e));               \
        t = (md_vf_##SUF)((md_vi_##SUF)t | (sign & (md_vi_##SUF)v));                             \
        return md_sel_##SUF(v != v, v, t);                                                       \
    }                                                                                             \
                                                                                                  \
    TGT static void md_sigmoid_##SUF(float *y, const float *x, int64_t n) {                      \
        MD_ACT_SIMD_LOOP(W, SUF, md_sigmoid_v_##SUF)                                             \
    }                                                                                             \
    TGT static void md_tanh_##SUF(float *y, const float *x, int64_t n) {                         \
        MD_ACT_SIMD_LOOP(W, SUF, md_tanh_v_##SUF)                                                \
    }

/* y[i] = f(x[i]) over whole vectors, then the ragged end in a zero-padded vector. */
#define MD_ACT_SIMD_LOOP(W, SUF, f)                                                               \
    int64_t i = 0;                                                                                \
    for (; i + W <= n; i += W) {                                                                  \
        md_vf_##SUF v;                                                                            \
        memcpy(&v, x + i, sizeof(v));                                                             \
        v = f(v);                                                                                 \
        memcpy(y + i, &v, sizeof(v));                                                             \
    }                                                                                             \
    if (i < n) {                                                                                  \
        md_vf_##SUF v = {0};                                                                      \
        memcpy(&v, x + i, (size_t)(n - i) * sizeof(float));                                      \
        v = f(v);                                                                                 \
        memcpy(y + i, &v, (size_t)(n - i) * sizeof(float));                                      \
    }

MD_ACT_SIMD(8, avx2, __attribute__((target("avx2,fma"))))
MD_ACT_SIMD(16, avx512, __attribute__((target("avx512f,avx2,fma"))))

/* The float32 sigmoid (MD_ACT_SIGMOID) or tanh at the highest level in use; 0 at the
 * portable level, where the caller's loop runs instead. */
static int md_sigmoid_tanh_simd(float *y, const float *x, int64_t n, int activation) {
    const int level = md_isa_level();
    if (level < MD_ISA_AVX2) return 0;
    const int wide = level >= MD_ISA_AVX512, sigmoid = activation == MD_ACT_SIGMOID;
    if (wide)
        (sigmoid ? md_sigmoid_avx512 : md_tanh_avx512)(y, x, n);
    else
        (sigmoid ? md_sigmoid_avx2 : md_tanh_avx2)(y, x, n);
    return 1;
}
#define MD_HAVE_ACT_SIMD 1
#else
#define MD_HAVE_ACT_SIMD 0
#endif

/* The fixed parameter of an activation code: leaky_relu's negative slope 0.2 (Keras 3's
 * default), elu's alpha 1 (the other codes ignore it). */
static double md_default_param(int activation) {
    return activation == MD_ACT_LEAKY_RELU ? 0.2 : 1.0;
}

/* Whether a parameterised activation's parameter is valid: ELU's alpha > 0 (its gradient
 * is read from the output), leaky ReLU's slope >= 0; both finite. */
static int md_param_ok(int activation, double alpha) {
    if (!isfinite(alpha)) return 0;
    if (activation == MD_ACT_ELU) return alpha > 0;
    return activation == MD_ACT_LEAKY_RELU && alpha >= 0;
}

/* Elements per OpenMP work item of the elementwise activations: large enough that a
 * vector loop dominates, small enough to balance. */
#define MD_ACT_BLOCK 8192

#define MD_TEMPLATE "activations_impl.h"
#include "md_instantiate.h"
