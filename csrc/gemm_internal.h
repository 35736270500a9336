/*
 * gemm_internal.h -- the micro-kernels and the blocked GEMM driver shared by gemm.c and
 * conv2d.c. Not part of the public API.
 *
 * Every micro-kernel exists for three instruction-set levels (AVX-512, AVX2/FMA, portable
 * C; see md_isa_level) and both element types; md_kernels_get_* returns the table of the
 * level in use. Tile shapes differ between levels, so whoever packs operands for a kernel
 * takes MR / NR / VL from the same table.
 *
 *   gemm  C (MR x NR) [+]= A B with A packed as [k][MR] and B as [k][NR]   (BLIS style)
 *   ikr   indirect GEMM: C (MR x NR) = init + sum_t sum_q a[t][i][q] * b[t][q][j], where
 *         a[t][i] are row pointers (convolution: the input pixel row of output pixel i under
 *         tap t, or a zero row) and b[t] holds depth row q at b[t] + q * bstride (packed:
 *         bstride = NR); NR = nv * VL for nv = 1..4.
 *         a[t][i] = a[t * astride + i] + aoff[t]: a table of pointers per tap, or (astride
 *         0) one base pointer per row plus a per-tap offset (windows inside the image)
 *   dkr   the same sum for few columns (N <= 8), vectorised along q: b[t] is packed
 *         [N][bstride] (bstride >= q, multiple of VL, zero-padded)
 *   wkr   C (rows x NR) [+]= sum_e x[e][xoff + i] * dy[e][dyoff + j]  (weight gradients:
 *         rows are input channels or im2col depths, the sum runs over pixel entries)
 */
#ifndef MD_GEMM_INTERNAL_H
#define MD_GEMM_INTERNAL_H

#include "md_internal.h"

#define MD_GEMM_KC 256  /* depth of a packed block */
#define MD_GEMM_MC 144  /* rows of a packed A block (a multiple of every MR: 6, 12) */
#define MD_GEMM_NC 1024 /* columns of a packed B block (a multiple of every NR) */
#define MD_TILE_MAX 1024 /* MR * NR of the largest gemm tile (edge-tile scratch) */

/* Expand X(i) for the rows of a micro-tile (named accumulators). */
#define MD_ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define MD_ROWS16(X) MD_ROWS8(X) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

#define MD_GEMM_DECLARE(md_T, SUF)                                                            \
    typedef void (*md_ukr_fn##SUF)(int64_t kc, const md_T *a, const md_T *b, md_T *c,          \
                                   int64_t ldc, int accumulate);                               \
    typedef struct {                                                                          \
        int64_t ntaps, q;       /* taps (pointer sets) and depth per tap */                   \
        const md_T *const *a;   /* row pointers: row i of tap t is a[t*astride + i] + aoff[t] \
                                   (astride MR: a table per tap; 0: shared bases) */          \
        int64_t astride;                                                                      \
        const int64_t *aoff;    /* ntaps element offsets */                                   \
        const md_T *const *b;   /* per tap: packed weights */                                 \
        int64_t bstride;        /* ikr: distance between the depth rows of b[t] (NR when     \
                                   packed); dkr: distance between the columns of b[t] */      \
        const md_T *init;       /* added to every row, or NULL: NR values (ikr); dkr: 32   \
                                   values init[m] = bias[m % N] (MR * N <= 32) */             \
        md_T *c;                /* output tile: rows [0, mr), columns [0, nc) */              \
        int64_t ldc;                                                                          \
        int mr, nc, relu;       /* relu: max(0, v) before the store */                        \
    } md_ikr_args##SUF;                                                                       \
    typedef void (*md_ikr_fn##SUF)(const md_ikr_args##SUF *);                                 \
    typedef struct {                                                                          \
        int64_t np;             /* entries */                                                 \
        const md_T *const *x;   /* np pointers: rows of the broadcast operand */              \
        const md_T *const *dy;  /* np pointers: rows of the vector operand */                 \
        int64_t xoff, dyoff;    /* added to every x / dy pointer */                           \
        md_T *c;                                                                              \
        int64_t ldc, mr;        /* any number of rows */                                      \
        int nc;                 /* columns: ceil(nc / VL) == the kernel's nv */               \
        int accumulate;         /* 0: C = sum, 1: C += sum */                                 \
    } md_wkr_args##SUF;                                                                       \
    typedef void (*md_wkr_fn##SUF)(const md_wkr_args##SUF *);                                 \
    typedef struct {                                                                          \
        int vl;                 /* columns per vector */                                      \
        int gemm_mr, gemm_nr;                                                                 \
        md_ukr_fn##SUF gemm;                                                                  \
        int ikr_mr[4];          /* ikr[nv - 1]: nv vectors of columns */                      \
        md_ikr_fn##SUF ikr[4];                                                                \
        md_ikr_fn##SUF ikr2_rows[16]; /* nv = 2 with exactly m <= ikr_mr[1] rows: [m - 1] */  \
        int dkr_mr[8];          /* dkr[n - 1]: n columns */                                   \
        md_ikr_fn##SUF dkr[8];                                                                \
        md_wkr_fn##SUF wkr[4];  /* wkr[nv - 1] */                                             \
        /* out[j * n + c] = act(tile[c * ldt + j] + bias[c]) for j < len, c < n <= 16:        \
           a tile of n rows stored transposed (act: ReLU when relu, else identity) */         \
        void (*tpose)(md_T *out, const md_T *tile, int64_t ldt, int n, int64_t len,           \
                      const md_T *bias, int relu);                                            \
        /* t[c * VL + i] = d[i * n + c] for i < len <= VL, 0 for len <= i < VL; c < n <= 16: \
           a block of len rows of n values, transposed into n zero-padded vectors */          \
        void (*untpose)(md_T *t, const md_T *d, int n, int64_t len);                          \
        /* out[c] = sum over r < rows of y[r * cols + c] in double (a fixed order per size) */ \
        void (*colsum)(double *out, const md_T *y, int64_t rows, int64_t cols);               \
    } md_kernels##SUF;                                                                        \
    /* The kernels of the instruction-set level in use (md_isa_level()). */                  \
    const md_kernels##SUF *md_kernels_get##SUF(void);                                         \
    /* Pack rows [r0, r0 + rlen) x depth [p0, p0 + plen) of an operand into micro-panels of  \
       W rows: dst[panel][p][w], rows past rlen zero-filled. */                              \
    typedef void (*md_pack_fn##SUF)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,     \
                                    int64_t p0, int64_t plen, int W);                         \
    typedef struct {                                                                          \
        md_pack_fn##SUF pack_a;                                                               \
        const void *a_ctx;                                                                    \
        md_pack_fn##SUF pack_b;                                                               \
        const void *b_ctx;                                                                    \
    } md_gemm_plan##SUF;                                                                      \
    /* A plain strided matrix: element (r, p) = scale * base[r * rs + p * ps]. */             \
    typedef struct {                                                                          \
        const md_T *base;                                                                     \
        int64_t rs, ps;                                                                       \
        md_T scale;                                                                           \
    } md_strided##SUF;                                                                        \
    void md_pack_strided##SUF(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,           \
                              int64_t p0, int64_t plen, int W);                               \
    /* Bytes of workspace md_gemm_run needs for this problem on nthreads threads. */          \
    size_t md_gemm_run_workspace##SUF(const md_kernels##SUF *kr, int64_t m, int64_t n,        \
                                      int64_t k, int nthreads);                               \
    /* C = A B (accumulate == 0) or C += A B, on nthreads threads (1: no OpenMP region).      \
       m, n, k >= 1; workspace: 64-byte aligned, md_gemm_run_workspace bytes. */              \
    void md_gemm_run##SUF(const md_kernels##SUF *kr, const md_gemm_plan##SUF *plan,           \
                          int64_t m, int64_t n, int64_t k, md_T *c, int64_t ldc,              \
                          int accumulate, void *workspace, int nthreads);

MD_GEMM_DECLARE(float, _f32)
MD_GEMM_DECLARE(double, _f64)

#endif /* MD_GEMM_INTERNAL_H */
