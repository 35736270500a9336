/* activations.c -- elementwise activations and the row softmax, forward and backward.
 * The kernels are written once in activations_impl.h and built for float and double. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "act_simd.h"
#include "md_internal.h"

#if defined(__x86_64__) || defined(__i386__)
/* The float32 sigmoid and tanh over arrays (vector functions: act_simd.h); the level is
 * chosen at run time. Every element, the ragged end included (computed in a zero-padded
 * vector), goes through the same formula, so an element's value does not depend on its
 * position or the array's length, and both levels give the same bits. */
#define MD_ACT_SIMD(W, SUF, TGT)                                                                  \
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

MD_ACT_SIMD(8, avx2, MD_SIMD_AVX2)
MD_ACT_SIMD(16, avx512, MD_SIMD_AVX512)

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
