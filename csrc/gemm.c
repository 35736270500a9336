/* gemm.c -- the packed, cache-blocked GEMM (BLIS-style) behind dense layers, and the
 * micro-kernels of the convolutions (see gemm_internal.h).
 *
 * The SIMD micro-kernels are written once (gemm_simd_impl.h) and compiled here for
 * AVX-512 and for AVX2/FMA, each for float and double; the portable C kernels and the
 * driver are in gemm_impl.h. The level is chosen at run time (md_isa_level), so one
 * build runs on any x86-64. */
#include "gemm_internal.h"
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MD_HAVE_X86 1
#else
#define MD_HAVE_X86 0
#endif

#if MD_HAVE_X86
/* the SIMD micro-kernels, for float and double, at each vector width */
#define MD_TEMPLATE "gemm_simd_impl.h"
#define MD_SIMD_W 512
#define MD_VFN(name) MD_FN(MD_CAT(name, _avx512))
#include "md_instantiate.h"
#undef MD_VFN
#undef MD_SIMD_W

#define MD_SIMD_W 256
#define MD_VFN(name) MD_FN(MD_CAT(name, _avx2))
#include "md_instantiate.h"
#undef MD_VFN
#undef MD_SIMD_W
#undef MD_TEMPLATE
#endif /* MD_HAVE_X86 */

#define MD_TEMPLATE "gemm_impl.h"
#include "md_instantiate.h"

/* ------------------------------------------------------------------ the FMA ceiling */

/* Independent FMA chains per thread: enough to cover the FMA latency on every FMA pipe
 * (4-5 cycles x 2 pipes), few enough to stay in registers (16 of 32 zmm, 12 of 16 ymm). */
#define MD_PEAK_CHAINS_512 16
#define MD_PEAK_CHAINS_256 12
#define MD_PEAK_CHAINS_C 8

#if MD_HAVE_X86
__attribute__((target("avx512f"))) static float md_peak_avx512(int64_t iterations) {
    const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-7f);
    __m512 acc[MD_PEAK_CHAINS_512];
    for (int j = 0; j < MD_PEAK_CHAINS_512; j++) acc[j] = _mm512_set1_ps((float)j);
    for (int64_t i = 0; i < iterations; i++)
        for (int j = 0; j < MD_PEAK_CHAINS_512; j++) acc[j] = _mm512_fmadd_ps(acc[j], scale, shift);
    for (int j = 1; j < MD_PEAK_CHAINS_512; j++) acc[0] = _mm512_add_ps(acc[0], acc[j]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static float md_peak_avx2(int64_t iterations) {
    const __m256 scale = _mm256_set1_ps(0.999999f), shift = _mm256_set1_ps(1e-7f);
    __m256 acc[MD_PEAK_CHAINS_256];
    for (int j = 0; j < MD_PEAK_CHAINS_256; j++) acc[j] = _mm256_set1_ps((float)j);
    for (int64_t i = 0; i < iterations; i++)
        for (int j = 0; j < MD_PEAK_CHAINS_256; j++) acc[j] = _mm256_fmadd_ps(acc[j], scale, shift);
    float lanes[8];
    for (int j = 1; j < MD_PEAK_CHAINS_256; j++) acc[0] = _mm256_add_ps(acc[0], acc[j]);
    _mm256_storeu_ps(lanes, acc[0]);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

static float md_peak_portable(int64_t iterations) {
    float acc[MD_PEAK_CHAINS_C];
    for (int j = 0; j < MD_PEAK_CHAINS_C; j++) acc[j] = (float)j;
    for (int64_t i = 0; i < iterations; i++)
        for (int j = 0; j < MD_PEAK_CHAINS_C; j++) acc[j] = acc[j] * 0.999999f + 1e-7f;
    float sum = 0;
    for (int j = 0; j < MD_PEAK_CHAINS_C; j++) sum += acc[j];
    return sum;
}

/* FLOPs of one thread's run at the current SIMD level, and the run itself. */
static double md_peak_one_thread(int64_t iterations, float *checksum) {
#if MD_HAVE_X86
    const int level = md_isa_level();
    if (level >= MD_ISA_AVX512) {
        *checksum = md_peak_avx512(iterations);
        return 2.0 * 16 * MD_PEAK_CHAINS_512 * (double)iterations;
    }
    if (level >= MD_ISA_AVX2) {
        *checksum = md_peak_avx2(iterations);
        return 2.0 * 8 * MD_PEAK_CHAINS_256 * (double)iterations;
    }
#endif
    *checksum = md_peak_portable(iterations);
    return 2.0 * MD_PEAK_CHAINS_C * (double)iterations;
}

double md_core_round_trip_ns(int64_t rounds) {
    if (rounds < 1) return -1.0;
#ifdef _OPENMP
    /* 0: the first thread's turn to set it to 1, 1: the second's to set it to 0 */
    _Alignas(64) atomic_int turn = 0;
    double seconds = -1.0;
#pragma omp parallel num_threads(2)
    if (omp_get_num_threads() == 2) {
        const int me = omp_get_thread_num();
#pragma omp barrier
        const double start = omp_get_wtime();
        for (int64_t r = 0; r < rounds; r++) {
            while (atomic_load_explicit(&turn, memory_order_acquire) != me) {
            }
            atomic_store_explicit(&turn, 1 - me, memory_order_release);
        }
        if (me == 0) seconds = omp_get_wtime() - start;
    }
    return seconds < 0 ? -1.0 : seconds / (double)rounds * 1e9;
#else
    return -1.0;
#endif
}

double md_fma_peak_flops(int64_t iterations, int threads, float *checksum) {
    if (iterations < 0 || threads < 1 || checksum == NULL) return -1.0;
    double flops = 0.0;
    float sum = 0.0f;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : flops, sum)
#endif
    {
        float mine = 0.0f;
        flops += md_peak_one_thread(iterations, &mine);
        sum += mine;
    }
    *checksum = sum;
    return flops;
}
