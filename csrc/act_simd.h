/* act_simd.h -- the float32 sigmoid and tanh on whole vectors, written once with GCC vector
 * extensions for AVX2 (8 lanes) and AVX-512 (16 lanes); shared by the elementwise
 * activations (activations.c) and the kernels that fuse an activation into their output
 * (the one-channel convolution, conv2d.c), so a fused activation gives the same bits as the
 * separate pass.
 *
 * Every lane goes through the same IEEE operations in both widths. The functions are built
 * with FMA contraction (MD_SIMD_AVX2 / MD_SIMD_AVX512: the project compiles with -std=c11,
 * which turns contraction off): a multiply-add of the polynomials is one rounding, the same
 * one at both widths, and a third fewer instructions. A caller that inlines them must carry
 * the same attributes. */
#ifndef MD_ACT_SIMD_H
#define MD_ACT_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define MD_SIMD_AVX2 __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#define MD_SIMD_AVX512 __attribute__((target("avx512f,avx2,fma"), optimize("fp-contract=fast")))

/* md_vf_SUF / md_vi_SUF (W lanes of float / int32), md_sel_SUF, md_exp_SUF,
 * md_sigmoid_v_SUF and md_tanh_v_SUF for one width. */
#define MD_ACT_VEC(W, SUF, TGT)                                                                     \
    typedef float md_vf_##SUF __attribute__((vector_size(4 * W)));                              \
    typedef int32_t md_vi_##SUF __attribute__((vector_size(4 * W)));                            \
                                                                                                  \
    /* mask ? a : b, lane by lane (mask lanes are all ones or all zeros) */                      \
    TGT static inline md_vf_##SUF md_sel_##SUF(md_vi_##SUF mask, md_vf_##SUF a, md_vf_##SUF b) { \
        return (md_vf_##SUF)((mask & (md_vi_##SUF)a) | (~mask & (md_vi_##SUF)b));                \
    }                                                                                             \
                                                                                                  \
    /* exp(v) for v in [-87.3, 88.7], |relative error| < 2 ulp: v = n ln2 + r with |r| <=    \
     * ln2/2 (ln2 split in two for Cody-Waite accuracy; n rounded to nearest by the 1.5 * 2^23 \
     * shift), exp(r) by a degree-6 Taylor/Horner polynomial, times 2^n built in the exponent  \
     * bits. No range checks: the caller bounds v. */                                          \
    TGT static inline md_vf_##SUF md_exp_bounded_##SUF(md_vf_##SUF v) {                          \
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
        return p * (md_vf_##SUF)bits;                                                            \
    }                                                                                             \
                                                                                                  \
    /* exp(v) for any v: results below FLT_MIN (v < -87.3) flush to 0; v is clamped at 88.7   \
     * above. */                                                                                 \
    TGT static inline md_vf_##SUF md_exp_##SUF(md_vf_##SUF v) {                                  \
        const md_vf_##SUF low = (md_vf_##SUF){0} - 87.3f, high = (md_vf_##SUF){0} + 88.7f;     \
        const md_vi_##SUF representable = v >= low;                                              \
        v = md_sel_##SUF(v < low, low, md_sel_##SUF(v > high, high, v));                         \
        return (md_vf_##SUF)((md_vi_##SUF)md_exp_bounded_##SUF(v) & representable);             \
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
    /* tanh: sign(x) |x| P(x^2) / Q(x^2), P of degree 5 and Q of degree 4 (Q(0) = 1): a   \
     * rational fit of tanh(x) / x on |x| <= 9.02 with a relative error of 1.3e-9          \
     * (python -m benchmarks.tanh_fit derives the coefficients); 1 from |x| = 9.02 on,     \
     * where tanh rounds to 1, and at most 1 below it. Max error 5.4 ulp over every float  \
     * (tests/test_activations.py), one division and no exp: half the time of           \
     * (1 - e) / (1 + e) with e = exp(-2|x|). NaN stays NaN. */                            \
    TGT static inline md_vf_##SUF md_tanh_v_##SUF(md_vf_##SUF v) {                               \
        const md_vi_##SUF sign = (md_vi_##SUF){0} + INT32_MIN;                                   \
        const md_vf_##SUF a = (md_vf_##SUF)(~sign & (md_vi_##SUF)v), u = a * a;                  \
        const md_vf_##SUF one = (md_vf_##SUF){0} + 1.0f;                                         \
        md_vf_##SUF p = u * -1.2203666655817951e-11f + 3.0585291104106195e-08f;                  \
        p = p * u + 2.800756952277564e-05f;                                                      \
        p = p * u + 0.003868333182983274f;                                                       \
        p = p * u + 0.1367991939267109f;                                                         \
        p = p * u + 1.0f;                                                                        \
        md_vf_##SUF q = u * 1.2873743685916558e-06f + 0.00039386407379567927f;                   \
        q = q * u + 0.027245858655069125f;                                                       \
        q = q * u + 0.47013251453218147f;                                                        \
        q = q * u + 1.0f;                                                                        \
        md_vf_##SUF t = a * p / q;                                                               \
        t = md_sel_##SUF(t > one, one, t);                                                       \
        t = md_sel_##SUF(a > 9.02f, one, t); /* (P / Q overflows to NaN for huge |x|) */       \
        return (md_vf_##SUF)((md_vi_##SUF)t | (sign & (md_vi_##SUF)v));                          \
    }

MD_ACT_VEC(8, avx2, MD_SIMD_AVX2)
MD_ACT_VEC(16, avx512, MD_SIMD_AVX512)
#endif

#endif /* MD_ACT_SIMD_H */
