/* gemm_simd_impl.h -- the SIMD micro-kernels, written once over a small vector vocabulary
 * and instantiated by gemm.c for every (instruction set, element type) pair:
 *     MD_SIMD_W  512 (AVX-512F) or 256 (AVX2 + FMA)
 *     md_T       float or double
 *     MD_VFN(x)  x with the pair's suffix (x_avx512_f32, ...)
 * No include guard: included once per pair. Every function is compiled for its
 * instruction set with __attribute__((target)) and only called after run-time detection.
 *
 * Accumulators are named variables (c<row>_<vector>) selected by compile-time row and
 * vector counts: an array of vectors makes GCC keep them in memory. Each kernel body is
 * an always-inline function taking those counts as arguments; the small wrappers below
 * pass constants, so every unused accumulator and branch folds away.
 *
 * Kernels (argument structs in gemm_internal.h):
 *   gemm  C (MR x NR) [+]= A (packed [k][MR]) B (packed [k][NR])             -- BLIS style
 *   ikr   C (MR x NV*VL) = init + sum_t sum_q a[t][i][q] * b[t][q * bstride + :] -- indirect GEMM
 *         (rows read through pointers: conv forward and backward-input), where the row
 *         pointer a[t][i] = a[t * astride + i] + aoff[t]
 *   dkr   C (MR x N) = init + sum_t sum_q a[t][i][q] * b[t][j][q]  for N <= 8 -- dot products
 *         along q (few output columns); init, when given, holds 32 values init[m] = bias[m % N]
 *   wkr   C (rows x NV*VL) [+]= sum_e x[e][i] * dy[e][:]                      -- weight gradient
 */

#if MD_SIMD_W == 512
#define MD_TGT __attribute__((target("avx512f,avx2,fma")))
#if MD_IS_F32
#define V_T __m512
#define V_L 16
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define M_T __mmask16
#define M_MAKE(n) ((__mmask16)((1u << (n)) - 1u))
#define V_LOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define V_STOREM(p, v, m) _mm512_mask_storeu_ps(p, m, v)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define MD_HAVE_HSUM16 1
/* Lane m of the result = the sum of the 16 lanes of v[m] (a transposing add tree). */
MD_TGT static inline __attribute__((always_inline)) __m512 MD_VFN(md_hsum16)(const __m512 *v) {
    __m512 c[8], d[4], e[2];
    for (int k = 0; k < 8; k++) /* 128-bit blocks: [a0+a2, a1+a3, b0+b2, b1+b3] */
        c[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
    for (int k = 0; k < 4; k++) /* block j: 4 partial sums of v[4k + j] */
        d[k] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * k], c[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(c[2 * k], c[2 * k + 1], 0xDD));
    for (int k = 0; k < 2; k++) /* block j: 2 + 2 partials of v[j], v[4 + j] (+8k) */
        e[k] = _mm512_add_ps(_mm512_shuffle_ps(d[2 * k], d[2 * k + 1], 0x44),
                             _mm512_shuffle_ps(d[2 * k], d[2 * k + 1], 0xEE));
    /* block j: sums of v[j], v[4 + j], v[8 + j], v[12 + j]; then lane m = sum of v[m] */
    const __m512 f = _mm512_add_ps(_mm512_shuffle_ps(e[0], e[1], 0x88),
                                   _mm512_shuffle_ps(e[0], e[1], 0xDD));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(idx, f);
}
#else
#define V_T __m512d
#define V_L 8
#define V_ZERO() _mm512_setzero_pd()
#define V_LOAD(p) _mm512_loadu_pd(p)
#define V_BCAST(p) _mm512_set1_pd(*(p))
#define V_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define V_ADD(a, b) _mm512_add_pd(a, b)
#define V_MAX(a, b) _mm512_max_pd(a, b)
#define V_STORE(p, v) _mm512_storeu_pd(p, v)
#define M_T __mmask8
#define M_MAKE(n) ((__mmask8)((1u << (n)) - 1u))
#define V_LOADM(p, m) _mm512_maskz_loadu_pd(m, p)
#define V_STOREM(p, v, m) _mm512_mask_storeu_pd(p, m, v)
#define V_HSUM(v) _mm512_reduce_add_pd(v)
#endif
#else /* 256 */
#define MD_TGT __attribute__((target("avx2,fma")))
#if MD_IS_F32
#define V_T __m256
#define V_L 8
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define M_T __m256i
#define M_MAKE(n)                                                                              \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOADM(p, m) _mm256_maskload_ps(p, m)
#define V_STOREM(p, v, m) _mm256_maskstore_ps(p, m, v)
#define V_HSUM(v) MD_VFN(md_hsum)(v)
MD_TGT static inline float MD_VFN(md_hsum)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#else
#define V_T __m256d
#define V_L 4
#define V_ZERO() _mm256_setzero_pd()
#define V_LOAD(p) _mm256_loadu_pd(p)
#define V_BCAST(p) _mm256_broadcast_sd(p)
#define V_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define V_ADD(a, b) _mm256_add_pd(a, b)
#define V_MAX(a, b) _mm256_max_pd(a, b)
#define V_STORE(p, v) _mm256_storeu_pd(p, v)
#define M_T __m256i
#define M_MAKE(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define V_LOADM(p, m) _mm256_maskload_pd(p, m)
#define V_STOREM(p, v, m) _mm256_maskstore_pd(p, m, v)
#define V_HSUM(v) MD_VFN(md_hsum)(v)
MD_TGT static inline double MD_VFN(md_hsum)(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}
#endif
#endif

#define MD_INL MD_TGT static inline __attribute__((always_inline))
#define MD_ARGS_IKR MD_FN(md_ikr_args)
#define MD_ARGS_WKR MD_FN(md_wkr_args)

/* Store vector v (the j-th of a row at cr) keeping the first nc columns of the row. */
#define MD_STORE_COLS(cr, v, j, nc)                                                            \
    do {                                                                                       \
        const int lanes_ = (nc) - (j) * V_L;                                                   \
        if (lanes_ >= V_L) V_STORE((cr) + (j) * V_L, v);                                       \
        else if (lanes_ > 0) V_STOREM((cr) + (j) * V_L, v, M_MAKE(lanes_));                    \
    } while (0)

/* ------------------------------------------------------------------ gemm (packed) */

MD_INL void MD_VFN(md_gemm_body)(int64_t kc, const md_T *a, const md_T *b, md_T *c, int64_t ldc,
                                 int accumulate, const int MR, const int NV) {
#define MD_D(i) V_T c##i##_0 = V_ZERO(), c##i##_1 = V_ZERO(), c##i##_2 = V_ZERO();
    MD_ROWS16(MD_D)
#undef MD_D
    for (int64_t p = 0; p < kc; p++) {
        const V_T b0 = V_LOAD(b);
        const V_T b1 = NV > 1 ? V_LOAD(b + V_L) : b0;
        const V_T b2 = NV > 2 ? V_LOAD(b + 2 * V_L) : b0;
#define MD_F(i)                                                                                \
    if (MR > i) {                                                                              \
        const V_T av = V_BCAST(a + i);                                                         \
        c##i##_0 = V_FMA(av, b0, c##i##_0);                                                    \
        if (NV > 1) c##i##_1 = V_FMA(av, b1, c##i##_1);                                        \
        if (NV > 2) c##i##_2 = V_FMA(av, b2, c##i##_2);                                        \
    }
        MD_ROWS16(MD_F)
#undef MD_F
        a += MR;
        b += NV * V_L;
    }
#define MD_S1(i, j)                                                                            \
    if (NV > j) {                                                                              \
        if (accumulate) c##i##_##j = V_ADD(V_LOAD(cr + j * V_L), c##i##_##j);                  \
        V_STORE(cr + j * V_L, c##i##_##j);                                                     \
    }
#define MD_S(i)                                                                                \
    if (MR > i) {                                                                              \
        md_T *cr = c + i * ldc;                                                                \
        MD_S1(i, 0) MD_S1(i, 1) MD_S1(i, 2)                                                    \
    }
    MD_ROWS16(MD_S)
#undef MD_S
#undef MD_S1
}

/* ------------------------------------------------------------------ ikr (indirect) */

MD_INL void MD_VFN(md_ikr_body)(const MD_ARGS_IKR *g, const int MR, const int NV) {
    V_T i0 = V_ZERO(), i1 = V_ZERO(), i2 = V_ZERO(), i3 = V_ZERO();
    if (g->init != NULL) {
        i0 = V_LOAD(g->init);
        if (NV > 1) i1 = V_LOAD(g->init + V_L);
        if (NV > 2) i2 = V_LOAD(g->init + 2 * V_L);
        if (NV > 3) i3 = V_LOAD(g->init + 3 * V_L);
    }
#define MD_D(i)                                                                                \
    V_T c##i##_0 = i0, c##i##_1 = i1, c##i##_2 = i2, c##i##_3 = i3;                            \
    const md_T *a##i = NULL;
    MD_ROWS16(MD_D)
#undef MD_D
    const int64_t nq = g->q, bs = g->bstride;
    for (int64_t t = 0; t < g->ntaps; t++) {
        const md_T *const *ap = g->a + t * g->astride;
        const int64_t off = g->aoff[t];
#define MD_LA(i) if (MR > i) a##i = ap[i] + off;
        MD_ROWS16(MD_LA)
#undef MD_LA
        if (t + 1 < g->ntaps) { /* the next tap's rows, while this one computes */
            const md_T *const *np = g->a + (t + 1) * g->astride;
            const int64_t noff = g->aoff[t + 1];
#define MD_PF(i) if (MR > i) _mm_prefetch((const char *)(np[i] + noff), _MM_HINT_T0);
            MD_ROWS16(MD_PF)
#undef MD_PF
        }
        const md_T *b = g->b[t];
        for (int64_t q = 0; q < nq; q++) {
            const V_T b0 = V_LOAD(b);
            const V_T b1 = NV > 1 ? V_LOAD(b + V_L) : b0;
            const V_T b2 = NV > 2 ? V_LOAD(b + 2 * V_L) : b0;
            const V_T b3 = NV > 3 ? V_LOAD(b + 3 * V_L) : b0;
            b += bs;
#define MD_F(i)                                                                                \
    if (MR > i) {                                                                              \
        const V_T av = V_BCAST(a##i + q);                                                      \
        c##i##_0 = V_FMA(av, b0, c##i##_0);                                                    \
        if (NV > 1) c##i##_1 = V_FMA(av, b1, c##i##_1);                                        \
        if (NV > 2) c##i##_2 = V_FMA(av, b2, c##i##_2);                                        \
        if (NV > 3) c##i##_3 = V_FMA(av, b3, c##i##_3);                                        \
    }
            MD_ROWS16(MD_F)
#undef MD_F
        }
    }
    const int mr = g->mr, nc = g->nc;
    const int64_t ldc = g->ldc;
    const V_T zero = V_ZERO();
#define MD_S1(i, j)                                                                            \
    if (NV > j) {                                                                              \
        /* max(0, v) returns v when v is NaN, like the scalar (v < 0 ? 0 : v) */                \
        if (g->relu) c##i##_##j = V_MAX(zero, c##i##_##j);                                     \
        MD_STORE_COLS(cr, c##i##_##j, j, nc);                                                  \
    }
#define MD_S(i)                                                                                \
    if (MR > i && i < mr) {                                                                    \
        md_T *cr = g->c + i * ldc;                                                             \
        MD_S1(i, 0) MD_S1(i, 1) MD_S1(i, 2) MD_S1(i, 3)                                        \
    }
    MD_ROWS16(MD_S)
#undef MD_S
#undef MD_S1
}

/* ------------------------------------------------------------------ dkr (dot products) */

MD_INL void MD_VFN(md_dkr_body)(const MD_ARGS_IKR *g, const int MR, const int N) {
#define MD_D(i)                                                                                \
    V_T c##i##_0 = V_ZERO(), c##i##_1 = V_ZERO(), c##i##_2 = V_ZERO(), c##i##_3 = V_ZERO();    \
    V_T c##i##_4 = V_ZERO(), c##i##_5 = V_ZERO(), c##i##_6 = V_ZERO(), c##i##_7 = V_ZERO();    \
    const md_T *a##i = NULL;                                                                   \
    V_T x##i = V_ZERO();
    MD_ROWS8(MD_D)
#undef MD_D
    const int64_t nq = g->q, bs = g->bstride;
    const int64_t nfull = nq / V_L * V_L;
    const M_T tail = M_MAKE((int)(nq - nfull));
    for (int64_t t = 0; t < g->ntaps; t++) {
        const md_T *const *ap = g->a + t * g->astride;
        const int64_t off = g->aoff[t];
#define MD_LA(i) if (MR > i) a##i = ap[i] + off;
        MD_ROWS8(MD_LA)
#undef MD_LA
        const md_T *b = g->b[t];
        for (int64_t q = 0; q < nq; q += V_L) {
            if (q < nfull) {
#define MD_LX(i) if (MR > i) x##i = V_LOAD(a##i + q);
                MD_ROWS8(MD_LX)
#undef MD_LX
            } else {
#define MD_LX(i) if (MR > i) x##i = V_LOADM(a##i + q, tail);
                MD_ROWS8(MD_LX)
#undef MD_LX
            }
#define MD_F1(i, j) if (MR > i) c##i##_##j = V_FMA(x##i, bv, c##i##_##j);
#define MD_F(j)                                                                                \
    if (N > j) {                                                                               \
        const V_T bv = V_LOAD(b + j * bs + q); /* b is zero-padded to bs */                    \
        MD_F1(0, j) MD_F1(1, j) MD_F1(2, j) MD_F1(3, j)                                        \
        MD_F1(4, j) MD_F1(5, j) MD_F1(6, j) MD_F1(7, j)                                        \
    }
            MD_ROWS8(MD_F)
#undef MD_F
#undef MD_F1
        }
    }
    const int mr = g->mr;
    const int64_t ldc = g->ldc;
#ifdef MD_HAVE_HSUM16
    {
        /* all MR*N sums at once, in row-major tile order m = i * N + j */
        V_T flat[32];
        const V_T zero = V_ZERO();
        const int lim = MR * N > 16 ? 32 : 16;
#define MD_P1(i, j) if (N > j) flat[i * N + j] = c##i##_##j;
#define MD_P(i)                                                                                \
    if (MR > i) {                                                                              \
        MD_P1(i, 0) MD_P1(i, 1) MD_P1(i, 2) MD_P1(i, 3)                                        \
        MD_P1(i, 4) MD_P1(i, 5) MD_P1(i, 6) MD_P1(i, 7)                                        \
    }
        MD_ROWS8(MD_P)
#undef MD_P
#undef MD_P1
#define MD_Z(m) if ((m) >= MR * N && (m) < lim) flat[m] = zero;
        MD_ROWS16(MD_Z)
#define MD_Z16(m) MD_Z((m) + 16)
        MD_ROWS16(MD_Z16)
#undef MD_Z16
#undef MD_Z
        V_T s0 = MD_VFN(md_hsum16)(flat), s1 = zero;
        if (lim > 16) s1 = MD_VFN(md_hsum16)(flat + 16);
        /* init holds (at least) 32 values: init[m] = bias[m % N] */
        if (g->init != NULL) {
            s0 = V_ADD(s0, V_LOAD(g->init));
            if (lim > 16) s1 = V_ADD(s1, V_LOAD(g->init + 16));
        }
        if (g->relu) {
            s0 = V_MAX(zero, s0);
            s1 = V_MAX(zero, s1);
        }
        const int rows = mr < MR ? mr : MR;
        if (ldc == N) { /* the tile is contiguous */
            const int total = rows * N;
            if (total >= 16) V_STORE(g->c, s0);
            else V_STOREM(g->c, s0, M_MAKE(total));
            if (total > 16) V_STOREM(g->c + 16, s1, M_MAKE(total - 16));
        } else {
            md_T sums[32] __attribute__((aligned(64)));
            V_STORE(sums, s0);
            V_STORE(sums + 16, s1);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < N; j++) g->c[i * ldc + j] = sums[i * N + j];
        }
    }
#else
#define MD_S1(i, j)                                                                            \
    if (N > j) {                                                                               \
        md_T v = V_HSUM(c##i##_##j);                                                           \
        if (g->init != NULL) v += g->init[j];                                                  \
        if (g->relu) v = v < (md_T)0 ? (md_T)0 : v;                                            \
        cr[j] = v;                                                                             \
    }
#define MD_S(i)                                                                                \
    if (MR > i && i < mr) {                                                                    \
        md_T *cr = g->c + i * ldc;                                                             \
        MD_S1(i, 0) MD_S1(i, 1) MD_S1(i, 2) MD_S1(i, 3)                                        \
        MD_S1(i, 4) MD_S1(i, 5) MD_S1(i, 6) MD_S1(i, 7)                                        \
    }
    MD_ROWS8(MD_S)
#undef MD_S
#undef MD_S1
#endif
}

/* ------------------------------------------------------------------ wkr (weight gradient) */

MD_INL void MD_VFN(md_wkr_body)(const MD_ARGS_WKR *g, int64_t r0, md_T *c, const int MR,
                                const int NV) {
    const int nc = g->nc;
    const int64_t ldc = g->ldc;
    const M_T mlast = M_MAKE(nc - (NV - 1) * V_L); /* NV == ceil(nc / V_L) */
#define MD_D(i)                                                                                \
    V_T c##i##_0 = V_ZERO(), c##i##_1 = V_ZERO(), c##i##_2 = V_ZERO(), c##i##_3 = V_ZERO();
    MD_ROWS16(MD_D)
#undef MD_D
    if (g->accumulate) {
#define MD_L1(i, j)                                                                            \
    if (NV > j) c##i##_##j = (NV - 1 > j) ? V_LOAD(cr + j * V_L) : V_LOADM(cr + j * V_L, mlast);
#define MD_L(i)                                                                                \
    if (MR > i) {                                                                              \
        const md_T *cr = c + i * ldc;                                                          \
        MD_L1(i, 0) MD_L1(i, 1) MD_L1(i, 2) MD_L1(i, 3)                                        \
    }
        MD_ROWS16(MD_L)
#undef MD_L
#undef MD_L1
    }
    const int64_t xoff = g->xoff + r0, dyoff = g->dyoff;
    const md_T *const *xp = g->x;
    const md_T *const *dp = g->dy;
    for (int64_t e = 0; e < g->np; e++) {
        const md_T *x = xp[e] + xoff;
        const md_T *d = dp[e] + dyoff;
        const V_T d0 = NV > 1 ? V_LOAD(d) : V_LOADM(d, mlast);
        const V_T d1 = NV > 2 ? V_LOAD(d + V_L) : NV > 1 ? V_LOADM(d + V_L, mlast) : d0;
        const V_T d2 = NV > 3 ? V_LOAD(d + 2 * V_L) : NV > 2 ? V_LOADM(d + 2 * V_L, mlast) : d0;
        const V_T d3 = NV > 3 ? V_LOADM(d + 3 * V_L, mlast) : d0;
#define MD_F(i)                                                                                \
    if (MR > i) {                                                                              \
        const V_T av = V_BCAST(x + i);                                                         \
        c##i##_0 = V_FMA(av, d0, c##i##_0);                                                    \
        if (NV > 1) c##i##_1 = V_FMA(av, d1, c##i##_1);                                        \
        if (NV > 2) c##i##_2 = V_FMA(av, d2, c##i##_2);                                        \
        if (NV > 3) c##i##_3 = V_FMA(av, d3, c##i##_3);                                        \
    }
        MD_ROWS16(MD_F)
#undef MD_F
    }
#define MD_S1(i, j)                                                                            \
    if (NV > j) {                                                                              \
        if (NV - 1 > j) V_STORE(cr + j * V_L, c##i##_##j);                                     \
        else V_STOREM(cr + j * V_L, c##i##_##j, mlast);                                        \
    }
#define MD_S(i)                                                                                \
    if (MR > i) {                                                                              \
        md_T *cr = c + i * ldc;                                                                \
        MD_S1(i, 0) MD_S1(i, 1) MD_S1(i, 2) MD_S1(i, 3)                                        \
    }
    MD_ROWS16(MD_S)
#undef MD_S
#undef MD_S1
}

/* ------------------------------------------------------------------ column sums */

#if MD_SIMD_W == 512
#define D_T __m512d
#define D_L 8
#define D_ZERO() _mm512_setzero_pd()
#define D_ADD(a, b) _mm512_add_pd(a, b)
#define D_STORE(p, v) _mm512_storeu_pd(p, v)
#define D_STOREM(p, v, n) _mm512_mask_storeu_pd(p, (__mmask8)((1u << (n)) - 1u), v)
#if MD_IS_F32
#define D_LOAD(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define D_LOADM(p, n)                                                                          \
    _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), p)))
#else
#define D_LOAD(p) _mm512_loadu_pd(p)
#define D_LOADM(p, n) _mm512_maskz_loadu_pd((__mmask8)((1u << (n)) - 1u), p)
#endif
#else
#define D_T __m256d
#define D_L 4
#define D_ZERO() _mm256_setzero_pd()
#define D_ADD(a, b) _mm256_add_pd(a, b)
#define D_MASK64(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define D_STORE(p, v) _mm256_storeu_pd(p, v)
#define D_STOREM(p, v, n) _mm256_maskstore_pd(p, D_MASK64(n), v)
#if MD_IS_F32
#define D_LOAD(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define D_LOADM(p, n)                                                                          \
    _mm256_cvtps_pd(                                                                           \
        _mm_maskload_ps(p, _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3))))
#else
#define D_LOAD(p) _mm256_loadu_pd(p)
#define D_LOADM(p, n) _mm256_maskload_pd(p, D_MASK64(n))
#endif
#endif

/* Blocks of up to 4 double vectors of columns, each summed over all rows in registers.
 * Fewer columns than a vector: the flat array is summed with the period L = lcm(cols, D_L)
 * (at most 4 vectors), then the L / cols partial sums of each column are folded. */
MD_TGT static void MD_VFN(md_colsum)(double *out, const md_T *y, int64_t rows, int64_t cols) {
    int64_t L = cols;
    while (L % D_L != 0) L += cols;
    if (cols < D_L && L <= 4 * D_L && rows * cols >= L) {
        const int64_t nv = L / D_L, steps = rows * cols / L;
        D_T a0 = D_ZERO(), a1 = D_ZERO(), a2 = D_ZERO(), a3 = D_ZERO();
        const md_T *r = y;
        for (int64_t i = 0; i < steps; i++, r += L) {
            a0 = D_ADD(a0, D_LOAD(r));
            if (nv > 1) a1 = D_ADD(a1, D_LOAD(r + D_L));
            if (nv > 2) a2 = D_ADD(a2, D_LOAD(r + 2 * D_L));
            if (nv > 3) a3 = D_ADD(a3, D_LOAD(r + 3 * D_L));
        }
        double part[4 * D_L];
        D_STORE(part, a0);
        D_STORE(part + D_L, a1);
        D_STORE(part + 2 * D_L, a2);
        D_STORE(part + 3 * D_L, a3);
        for (int64_t i = steps * L; i < rows * cols; i++) part[i % L] += (double)y[i];
        for (int64_t c = 0; c < cols; c++) {
            double sum = 0;
            for (int64_t q = c; q < L; q += cols) sum += part[q];
            out[c] = sum;
        }
        return;
    }
    for (int64_t c0 = 0; c0 < cols; c0 += 4 * D_L) {
        const int64_t w = md_min64(4 * D_L, cols - c0);
        const int nfull = (int)(w / D_L), tail = (int)(w % D_L);
        D_T a0 = D_ZERO(), a1 = D_ZERO(), a2 = D_ZERO(), a3 = D_ZERO();
        const md_T *r = y + c0;
        if (nfull == 4) {
            for (int64_t i = 0; i < rows; i++, r += cols) {
                a0 = D_ADD(a0, D_LOAD(r));
                a1 = D_ADD(a1, D_LOAD(r + D_L));
                a2 = D_ADD(a2, D_LOAD(r + 2 * D_L));
                a3 = D_ADD(a3, D_LOAD(r + 3 * D_L));
            }
        } else {
            for (int64_t i = 0; i < rows; i++, r += cols) {
                if (nfull > 0) a0 = D_ADD(a0, D_LOAD(r));
                if (nfull > 1) a1 = D_ADD(a1, D_LOAD(r + D_L));
                if (nfull > 2) a2 = D_ADD(a2, D_LOAD(r + 2 * D_L));
                if (tail > 0) {
                    const D_T v = D_LOADM(r + nfull * D_L, tail);
                    if (nfull == 0) a0 = D_ADD(a0, v);
                    else if (nfull == 1) a1 = D_ADD(a1, v);
                    else a2 = D_ADD(a2, v);
                }
            }
        }
        const D_T acc[4] = {a0, a1, a2, a3};
        for (int k = 0; k < nfull; k++) D_STORE(out + c0 + k * D_L, acc[k]);
        if (tail > 0) D_STOREM(out + c0 + nfull * D_L, acc[nfull], tail);
    }
}

#undef D_T
#undef D_L
#undef D_ZERO
#undef D_ADD
#undef D_STORE
#undef D_STOREM
#undef D_LOAD
#undef D_LOADM
#ifdef D_MASK64
#undef D_MASK64
#endif

/* ------------------------------------------------------------------ wrappers and table */

/* Tile shapes per instruction set: rows (MR) for 1..4 vectors of columns. */
#if MD_SIMD_W == 512
#define MD_GEMM_MR_V 12
#define MD_GEMM_NV_V 2
#define MD_IKR_MR1 12
#define MD_IKR_MR2 12
#define MD_IKR_MR3 8
#define MD_IKR_MR4 6
#define MD_WKR_MR1 16
#define MD_WKR_MR2 12
#define MD_WKR_MR3 8
#define MD_WKR_MR4 6
#define MD_DKR_MR(n) ((n) <= 2 ? 8 : (n) <= 4 ? 6 : (n) <= 6 ? 4 : 3)
#else
#define MD_GEMM_MR_V 6
#define MD_GEMM_NV_V 2
#define MD_IKR_MR1 8
#define MD_IKR_MR2 6
#define MD_IKR_MR3 4
#define MD_IKR_MR4 2
#define MD_WKR_MR1 12
#define MD_WKR_MR2 6
#define MD_WKR_MR3 4
#define MD_WKR_MR4 2
#define MD_DKR_MR(n) ((n) <= 1 ? 6 : (n) <= 2 ? 4 : (n) <= 3 ? 3 : (n) <= 4 ? 2 : 1)
#endif

MD_TGT static void MD_VFN(md_gemm_ukr)(int64_t kc, const md_T *a, const md_T *b, md_T *c,
                                       int64_t ldc, int accumulate) {
    MD_VFN(md_gemm_body)(kc, a, b, c, ldc, accumulate, MD_GEMM_MR_V, MD_GEMM_NV_V);
}

#define MD_IKR_WRAP(nv)                                                                        \
    MD_TGT static void MD_VFN(md_ikr##nv)(const MD_ARGS_IKR *g) {                              \
        MD_VFN(md_ikr_body)(g, MD_IKR_MR##nv, nv);                                             \
    }
MD_IKR_WRAP(1)
MD_IKR_WRAP(2)
MD_IKR_WRAP(3)
MD_IKR_WRAP(4)
#undef MD_IKR_WRAP

/* nv = 2 with an exact number of rows m (rows beyond MD_IKR_MR2 fall back to the widest) */
#define MD_IKR2_ROWS(m)                                                                        \
    MD_TGT static void MD_VFN(md_ikr2_r##m)(const MD_ARGS_IKR *g) {                            \
        MD_VFN(md_ikr_body)(g, (m) <= MD_IKR_MR2 ? (m) : MD_IKR_MR2, 2);                       \
    }
MD_IKR2_ROWS(1)
MD_IKR2_ROWS(2)
MD_IKR2_ROWS(3)
MD_IKR2_ROWS(4)
MD_IKR2_ROWS(5)
MD_IKR2_ROWS(6)
MD_IKR2_ROWS(7)
MD_IKR2_ROWS(8)
MD_IKR2_ROWS(9)
MD_IKR2_ROWS(10)
MD_IKR2_ROWS(11)
MD_IKR2_ROWS(12)
#undef MD_IKR2_ROWS

/* ------------------------------------------------------------------ transposed store */

#if MD_SIMD_W == 512 && MD_IS_F32
/* 16 pixels at a time: the n source vectors (one per row of the tile, lanes = pixels)
 * become n output vectors of the interleaved block by masked lane permutations: output
 * vector k, lane l holds element e = 16 k + l = pixel e / n, channel e % n. */
MD_TGT static void MD_VFN(md_tpose)(md_T *out, const md_T *tile, int64_t ldt, int n, int64_t len,
                                    const md_T *bias, int relu) {
    /* the permutation of this n, built once per thread and n */
    static _Thread_local int tn = 0;
    static _Thread_local int ix[16][16];
    static _Thread_local __mmask16 msk[16][16];
    if (tn != n) {
        for (int k = 0; k < n; k++) {
            for (int l = 0; l < 16; l++) ix[k][l] = (16 * k + l) / n;
            for (int c = 0; c < n; c++) {
                unsigned m = 0;
                for (int l = 0; l < 16; l++) m |= (unsigned)((16 * k + l) % n == c) << l;
                msk[k][c] = (__mmask16)m;
            }
        }
        tn = n;
    }
    __m512 src[16];
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t j0 = 0; j0 < len; j0 += 16) {
        const int64_t cnt = md_min64(16, len - j0) * n; /* output elements of this block */
        for (int c = 0; c < n; c++) {
            __m512 v = _mm512_loadu_ps(tile + c * ldt + j0);
            if (bias != NULL) v = _mm512_add_ps(v, _mm512_set1_ps(bias[c]));
            src[c] = relu ? _mm512_max_ps(zero, v) : v;
        }
        md_T *o = out + j0 * n;
        for (int k = 0; k * 16 < cnt; k++) {
            __m512 v = zero;
            const __m512i idx = _mm512_loadu_si512(ix[k]);
            for (int c = 0; c < n; c++) v = _mm512_mask_permutexvar_ps(v, msk[k][c], idx, src[c]);
            if (cnt - 16 * k >= 16) _mm512_storeu_ps(o + 16 * k, v);
            else _mm512_mask_storeu_ps(o + 16 * k, (__mmask16)((1u << (cnt - 16 * k)) - 1u), v);
        }
    }
}

/* The inverse: n vectors of 16 lanes from a contiguous block of len rows of n values.
 * Output vector c, lane i = element i * n + c = source vector (i n + c) / 16, lane
 * (i n + c) % 16; lanes i >= len stay zero. */
MD_TGT static void MD_VFN(md_untpose)(md_T *t, const md_T *d, int n, int64_t len) {
    static _Thread_local int tn = 0;
    static _Thread_local int ix[16][16];
    static _Thread_local __mmask16 msk[16][16];
    if (tn != n) {
        for (int c = 0; c < n; c++) {
            for (int i = 0; i < 16; i++) ix[c][i] = (i * n + c) % 16;
            for (int k = 0; k < n; k++) {
                unsigned m = 0;
                for (int i = 0; i < 16; i++) m |= (unsigned)((i * n + c) / 16 == k) << i;
                msk[c][k] = (__mmask16)m;
            }
        }
        tn = n;
    }
    const int64_t cnt = len * n;
    __m512 src[16];
    for (int k = 0; k < n; k++) {
        const int64_t left = cnt - 16 * k;
        src[k] = left >= 16 ? _mm512_loadu_ps(d + 16 * k)
                 : left > 0 ? _mm512_maskz_loadu_ps((__mmask16)((1u << left) - 1u), d + 16 * k)
                            : _mm512_setzero_ps();
    }
    const __mmask16 live = (__mmask16)((1u << len) - 1u);
    for (int c = 0; c < n; c++) {
        const __m512i idx = _mm512_loadu_si512(ix[c]);
        __m512 v = _mm512_setzero_ps();
        for (int k = 0; k < n; k++)
            v = _mm512_mask_permutexvar_ps(v, (__mmask16)(msk[c][k] & live), idx, src[k]);
        _mm512_storeu_ps(t + 16 * c, v);
    }
}
#else
MD_TGT static void MD_VFN(md_untpose)(md_T *t, const md_T *d, int n, int64_t len) {
    for (int c = 0; c < n; c++) {
        for (int64_t i = 0; i < len; i++) t[c * V_L + i] = d[i * n + c];
        for (int64_t i = len; i < V_L; i++) t[c * V_L + i] = 0;
    }
}
MD_TGT static void MD_VFN(md_tpose)(md_T *out, const md_T *tile, int64_t ldt, int n, int64_t len,
                                    const md_T *bias, int relu) {
    for (int64_t j = 0; j < len; j++)
        for (int c = 0; c < n; c++) {
            md_T v = tile[c * ldt + j];
            if (bias != NULL) v += bias[c];
            out[j * n + c] = (relu && v < (md_T)0) ? (md_T)0 : v;
        }
}
#endif

#define MD_DKR_WRAP(n)                                                                         \
    MD_TGT static void MD_VFN(md_dkr##n)(const MD_ARGS_IKR *g) {                               \
        MD_VFN(md_dkr_body)(g, MD_DKR_MR(n), n);                                               \
    }
MD_DKR_WRAP(1)
MD_DKR_WRAP(2)
MD_DKR_WRAP(3)
MD_DKR_WRAP(4)
MD_DKR_WRAP(5)
MD_DKR_WRAP(6)
MD_DKR_WRAP(7)
MD_DKR_WRAP(8)
#undef MD_DKR_WRAP

/* Weight-gradient kernel for any number of rows: ceil(rows / MRmax) groups of balanced
 * heights (every height up to MRmax is compiled), each one pass over the entries. */
#define MD_WC(m, nv)                                                                           \
    case m: MD_VFN(md_wkr_body)(g, r, c, m, nv); break;
#define MD_WCASES_2(nv) MD_WC(1, nv)
#define MD_WCASES_4(nv) MD_WCASES_2(nv) MD_WC(2, nv) MD_WC(3, nv)
#define MD_WCASES_6(nv) MD_WCASES_4(nv) MD_WC(4, nv) MD_WC(5, nv)
#define MD_WCASES_8(nv) MD_WCASES_6(nv) MD_WC(6, nv) MD_WC(7, nv)
#define MD_WCASES_12(nv) MD_WCASES_8(nv) MD_WC(8, nv) MD_WC(9, nv) MD_WC(10, nv) MD_WC(11, nv)
#define MD_WCASES_16(nv) MD_WCASES_12(nv) MD_WC(12, nv) MD_WC(13, nv) MD_WC(14, nv) MD_WC(15, nv)
#define MD_WCASES_(n, nv) MD_WCASES_##n(nv)
#define MD_WCASES(n, nv) MD_WCASES_(n, nv)
#define MD_WKR_WRAP(nv)                                                                        \
    MD_TGT static void MD_VFN(md_wkr##nv)(const MD_ARGS_WKR *g) {                              \
        const int64_t ng = md_ceil_div(g->mr, MD_WKR_MR##nv);                                  \
        int64_t r = 0;                                                                         \
        for (int64_t k = 0; k < ng; k++) {                                                     \
            const int h = (int)((g->mr - r) / (ng - k)); /* the rest, split evenly */          \
            md_T *c = g->c + r * g->ldc;                                                       \
            switch (h) {                                                                       \
                MD_WCASES(MD_WKR_MR##nv, nv)                                                   \
            default: MD_VFN(md_wkr_body)(g, r, c, MD_WKR_MR##nv, nv); break;                   \
            }                                                                                  \
            r += h;                                                                            \
        }                                                                                      \
    }
MD_WKR_WRAP(1)
MD_WKR_WRAP(2)
MD_WKR_WRAP(3)
MD_WKR_WRAP(4)
#undef MD_WKR_WRAP
#undef MD_WC
#undef MD_WCASES_2
#undef MD_WCASES_4
#undef MD_WCASES_6
#undef MD_WCASES_8
#undef MD_WCASES_12
#undef MD_WCASES_16
#undef MD_WCASES_
#undef MD_WCASES

static const MD_FN(md_kernels) MD_VFN(md_kernels_table) = {
    V_L,
    MD_GEMM_MR_V,
    MD_GEMM_NV_V * V_L,
    MD_VFN(md_gemm_ukr),
    {MD_IKR_MR1, MD_IKR_MR2, MD_IKR_MR3, MD_IKR_MR4},
    {MD_VFN(md_ikr1), MD_VFN(md_ikr2), MD_VFN(md_ikr3), MD_VFN(md_ikr4)},
    {MD_VFN(md_ikr2_r1), MD_VFN(md_ikr2_r2), MD_VFN(md_ikr2_r3), MD_VFN(md_ikr2_r4),
     MD_VFN(md_ikr2_r5), MD_VFN(md_ikr2_r6), MD_VFN(md_ikr2_r7), MD_VFN(md_ikr2_r8),
     MD_VFN(md_ikr2_r9), MD_VFN(md_ikr2_r10), MD_VFN(md_ikr2_r11), MD_VFN(md_ikr2_r12), NULL,
     NULL, NULL, NULL},
    {MD_DKR_MR(1), MD_DKR_MR(2), MD_DKR_MR(3), MD_DKR_MR(4), MD_DKR_MR(5), MD_DKR_MR(6),
     MD_DKR_MR(7), MD_DKR_MR(8)},
    {MD_VFN(md_dkr1), MD_VFN(md_dkr2), MD_VFN(md_dkr3), MD_VFN(md_dkr4), MD_VFN(md_dkr5),
     MD_VFN(md_dkr6), MD_VFN(md_dkr7), MD_VFN(md_dkr8)},
    {MD_VFN(md_wkr1), MD_VFN(md_wkr2), MD_VFN(md_wkr3), MD_VFN(md_wkr4)},
    MD_VFN(md_tpose),
    MD_VFN(md_untpose),
    MD_VFN(md_colsum),
};

#undef MD_GEMM_MR_V
#undef MD_GEMM_NV_V
#undef MD_IKR_MR1
#undef MD_IKR_MR2
#undef MD_IKR_MR3
#undef MD_IKR_MR4
#undef MD_WKR_MR1
#undef MD_WKR_MR2
#undef MD_WKR_MR3
#undef MD_WKR_MR4
#undef MD_DKR_MR
#undef MD_STORE_COLS
#undef MD_ARGS_IKR
#undef MD_ARGS_WKR
#undef MD_INL
#undef MD_TGT
#undef V_T
#undef V_L
#undef V_ZERO
#undef V_LOAD
#undef V_BCAST
#undef V_FMA
#undef V_ADD
#undef V_MAX
#undef V_STORE
#undef M_T
#undef M_MAKE
#undef V_LOADM
#undef V_STOREM
#undef V_HSUM
#undef MD_HAVE_HSUM16
