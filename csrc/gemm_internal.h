/*
 * gemm_internal.h -- the blocked GEMM driver shared by gemm.c and conv2d.c.
 *
 * The driver computes C (m, n) = A (m, k) B (k, n) (or C += ...) BLIS-style: B is packed
 * in blocks of KC x NC into NR-wide micro-panels, A in blocks of MC x KC into MR-high
 * micro-panels, and a register-blocked MR x NR micro-kernel does the multiply-adds.
 * How A and B are read is up to the caller's pack functions: plain strided matrices for
 * md_gemm, on-the-fly im2col for the convolutions (no column matrix is ever built).
 */
#ifndef MD_GEMM_INTERNAL_H
#define MD_GEMM_INTERNAL_H

#include "md_internal.h"

#define MD_GEMM_MR 6    /* rows of the micro-tile */
#define MD_GEMM_KC 256  /* depth of a packed block */
#define MD_GEMM_MC 144  /* rows of a packed A block (a multiple of MR) */
#define MD_GEMM_NC 4080 /* columns of a packed B block (a multiple of NR) */
/* columns of the micro-tile: two AVX2 vectors */
#define MD_GEMM_NR_F32 16
#define MD_GEMM_NR_F64 8

/* Pack rows [r0, r0 + rlen) x depth [p0, p0 + plen) of an operand into micro-panels of
 * W rows (W = MR for A, NR for B): dst[panel][p][w], rows past rlen zero-filled. */
#define MD_GEMM_DECLARE(md_T, SUF)                                                            \
    typedef void (*md_pack_fn##SUF)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,     \
                                    int64_t p0, int64_t plen);                                \
    /* Called once per finished tile: rows [i0, i0 + mlen), columns [j0, j0 + nlen). */       \
    typedef void (*md_epilogue_fn##SUF)(const void *ctx, md_T *c, int64_t ldc, int64_t i0,    \
                                        int64_t mlen, int64_t j0, int64_t nlen);              \
    typedef struct {                                                                          \
        md_pack_fn##SUF pack_a;                                                               \
        const void *a_ctx;                                                                    \
        md_pack_fn##SUF pack_b;                                                               \
        const void *b_ctx;                                                                    \
        md_epilogue_fn##SUF epilogue; /* may be NULL */                                       \
        const void *epilogue_ctx;                                                             \
    } md_gemm_plan##SUF;                                                                      \
    /* A plain strided matrix: element (r, p) = scale * base[r * rs + p * ps]. */             \
    typedef struct {                                                                          \
        const md_T *base;                                                                     \
        int64_t rs, ps;                                                                       \
        md_T scale;                                                                           \
    } md_strided##SUF;                                                                        \
    void md_pack_a_strided##SUF(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,         \
                                int64_t p0, int64_t plen);                                    \
    void md_pack_b_strided##SUF(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,         \
                                int64_t p0, int64_t plen);                                    \
    /* Bytes of workspace md_gemm_run needs for this problem on nthreads threads. */          \
    size_t md_gemm_run_workspace##SUF(int64_t m, int64_t n, int64_t k, int nthreads);         \
    /* C = A B (accumulate == 0) or C += A B, on nthreads threads (1: no OpenMP region).      \
       m, n, k >= 1; workspace: 64-byte aligned, md_gemm_run_workspace bytes. */              \
    void md_gemm_run##SUF(const md_gemm_plan##SUF *plan, int64_t m, int64_t n, int64_t k,     \
                          md_T *c, int64_t ldc, int accumulate, void *workspace,              \
                          int nthreads);

MD_GEMM_DECLARE(float, _f32)
MD_GEMM_DECLARE(double, _f64)

#endif /* MD_GEMM_INTERNAL_H */
