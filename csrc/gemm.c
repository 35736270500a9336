/* gemm.c -- the packed, cache-blocked GEMM (BLIS-style) behind dense and conv layers.
 *
 * Micro-kernels: a 6x16 (float) and 6x8 (double) AVX2/FMA kernel with twelve named
 * vector accumulators (an array of vectors makes GCC spill them), chosen at run time,
 * and a portable C kernel of the same tile shape. */
#include "gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MD_HAVE_X86 1
#else
#define MD_HAVE_X86 0
#endif

#if MD_HAVE_X86
/* c (6 x 16, row stride ldc) = [c +] sum_p a[p][0..6) (x) b[p][0..16). */
__attribute__((target("avx2,fma"))) static void md_ukr_avx2_f32(int64_t kc, const float *a,
                                                                const float *b, float *c,
                                                                int64_t ldc, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(b);
        const __m256 b1 = _mm256_load_ps(b + 8);
        __m256 av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
        a += 6;
        b += 16;
    }
#define MD_STORE_ROW_F32(row, lo, hi)                                                          \
    do {                                                                                       \
        float *cr = c + (row) * ldc;                                                           \
        if (accumulate) {                                                                      \
            lo = _mm256_add_ps(_mm256_loadu_ps(cr), lo);                                       \
            hi = _mm256_add_ps(_mm256_loadu_ps(cr + 8), hi);                                   \
        }                                                                                      \
        _mm256_storeu_ps(cr, lo);                                                              \
        _mm256_storeu_ps(cr + 8, hi);                                                          \
    } while (0)
    MD_STORE_ROW_F32(0, c00, c01);
    MD_STORE_ROW_F32(1, c10, c11);
    MD_STORE_ROW_F32(2, c20, c21);
    MD_STORE_ROW_F32(3, c30, c31);
    MD_STORE_ROW_F32(4, c40, c41);
    MD_STORE_ROW_F32(5, c50, c51);
#undef MD_STORE_ROW_F32
}

/* c (6 x 8) = [c +] sum_p a[p][0..6) (x) b[p][0..8). */
__attribute__((target("avx2,fma"))) static void md_ukr_avx2_f64(int64_t kc, const double *a,
                                                                const double *b, double *c,
                                                                int64_t ldc, int accumulate) {
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
    for (int64_t p = 0; p < kc; p++) {
        const __m256d b0 = _mm256_load_pd(b);
        const __m256d b1 = _mm256_load_pd(b + 4);
        __m256d av = _mm256_broadcast_sd(a + 0);
        c00 = _mm256_fmadd_pd(av, b0, c00); c01 = _mm256_fmadd_pd(av, b1, c01);
        av = _mm256_broadcast_sd(a + 1);
        c10 = _mm256_fmadd_pd(av, b0, c10); c11 = _mm256_fmadd_pd(av, b1, c11);
        av = _mm256_broadcast_sd(a + 2);
        c20 = _mm256_fmadd_pd(av, b0, c20); c21 = _mm256_fmadd_pd(av, b1, c21);
        av = _mm256_broadcast_sd(a + 3);
        c30 = _mm256_fmadd_pd(av, b0, c30); c31 = _mm256_fmadd_pd(av, b1, c31);
        av = _mm256_broadcast_sd(a + 4);
        c40 = _mm256_fmadd_pd(av, b0, c40); c41 = _mm256_fmadd_pd(av, b1, c41);
        av = _mm256_broadcast_sd(a + 5);
        c50 = _mm256_fmadd_pd(av, b0, c50); c51 = _mm256_fmadd_pd(av, b1, c51);
        a += 6;
        b += 8;
    }
#define MD_STORE_ROW_F64(row, lo, hi)                                                          \
    do {                                                                                       \
        double *cr = c + (row) * ldc;                                                          \
        if (accumulate) {                                                                      \
            lo = _mm256_add_pd(_mm256_loadu_pd(cr), lo);                                       \
            hi = _mm256_add_pd(_mm256_loadu_pd(cr + 4), hi);                                   \
        }                                                                                      \
        _mm256_storeu_pd(cr, lo);                                                              \
        _mm256_storeu_pd(cr + 4, hi);                                                          \
    } while (0)
    MD_STORE_ROW_F64(0, c00, c01);
    MD_STORE_ROW_F64(1, c10, c11);
    MD_STORE_ROW_F64(2, c20, c21);
    MD_STORE_ROW_F64(3, c30, c31);
    MD_STORE_ROW_F64(4, c40, c41);
    MD_STORE_ROW_F64(5, c50, c51);
#undef MD_STORE_ROW_F64
}
#endif /* MD_HAVE_X86 */

#define MD_TEMPLATE "gemm_impl.h"
#include "md_instantiate.h"

size_t md_gemm_workspace_size(int64_t m, int64_t n, int64_t k, int elem_size) {
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    const int nt = md_threads_for(m * n * k);
    return elem_size == 8 ? md_gemm_run_workspace_f64(m, n, k, nt)
                          : md_gemm_run_workspace_f32(m, n, k, nt);
}
