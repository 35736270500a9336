/* gemm_impl.h -- template of the portable micro-kernels, the kernel tables, the blocked
 * GEMM driver and md_gemm (see gemm.c and gemm_internal.h). */

/* ------------------------------------------------------------------ portable kernels */

/* Portable tile shapes. The "vector" of the portable kernels is just a column count that
 * the compiler's baseline vectorises well. */
#define MD_PMR 6
#define MD_PVL (MD_IS_F32 ? 8 : 4)
#define MD_PNR (2 * MD_PVL)

static void MD_FN(md_gemm_portable)(int64_t kc, const md_T *a, const md_T *b, md_T *c,
                                    int64_t ldc, int accumulate) {
    md_T acc[MD_PMR][MD_PNR];
    memset(acc, 0, sizeof(acc));
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < MD_PMR; i++) {
            const md_T ai = a[p * MD_PMR + i];
            for (int j = 0; j < MD_PNR; j++) acc[i][j] += ai * b[p * MD_PNR + j];
        }
    }
    for (int i = 0; i < MD_PMR; i++) {
        md_T *cr = c + i * ldc;
        for (int j = 0; j < MD_PNR; j++) cr[j] = accumulate ? cr[j] + acc[i][j] : acc[i][j];
    }
}

/* Store row i of a finished tile: the first nc of NR values, ReLU when asked. */
static inline void MD_FN(md_store_row)(md_T *cr, const md_T *v, int nc, int relu) {
    for (int j = 0; j < nc; j++) cr[j] = (relu && v[j] < (md_T)0) ? (md_T)0 : v[j];
}

static inline __attribute__((always_inline)) void
MD_FN(md_ikr_portable_body)(const MD_FN(md_ikr_args) *g, const int NR) {
    md_T acc[MD_PMR][4 * MD_PVL];
    for (int i = 0; i < MD_PMR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = g->init != NULL ? g->init[j] : (md_T)0;
    const int rows = g->mr < MD_PMR ? g->mr : MD_PMR; /* rows past mr are not stored */
    for (int64_t t = 0; t < g->ntaps; t++) {
        const md_T *bt = g->b[t];
        for (int i = 0; i < rows; i++) {
            const md_T *a = g->a[t * g->astride + i] + g->aoff[t];
            for (int64_t q = 0; q < g->q; q++) {
                const md_T aq = a[q];
                const md_T *bq = bt + q * g->bstride;
                for (int j = 0; j < NR; j++) acc[i][j] += aq * bq[j];
            }
        }
    }
    for (int i = 0; i < g->mr; i++) MD_FN(md_store_row)(g->c + i * g->ldc, acc[i], g->nc, g->relu);
}

#define MD_PIKR(nv)                                                                            \
    static void MD_FN(md_ikr##nv##_portable)(const MD_FN(md_ikr_args) *g) {                   \
        MD_FN(md_ikr_portable_body)(g, nv * MD_PVL);                                           \
    }
MD_PIKR(1)
MD_PIKR(2)
MD_PIKR(3)
MD_PIKR(4)
#undef MD_PIKR

/* dkr: any N <= 8, rows MD_PMR */
static void MD_FN(md_dkr_portable)(const MD_FN(md_ikr_args) *g) {
    md_T acc[MD_PMR][8];
    const int n = g->nc;
    for (int i = 0; i < MD_PMR; i++)
        for (int j = 0; j < n; j++) acc[i][j] = 0;
    const int rows = g->mr < MD_PMR ? g->mr : MD_PMR; /* rows past mr are not stored */
    for (int64_t t = 0; t < g->ntaps; t++) {
        const md_T *bt = g->b[t];
        for (int i = 0; i < rows; i++) {
            const md_T *a = g->a[t * g->astride + i] + g->aoff[t];
            for (int j = 0; j < n; j++) {
                const md_T *bj = bt + j * g->bstride;
                md_T s = 0;
                for (int64_t q = 0; q < g->q; q++) s += a[q] * bj[q];
                acc[i][j] += s;
            }
        }
    }
    for (int i = 0; i < g->mr; i++) {
        md_T v[8];
        for (int j = 0; j < n; j++) v[j] = acc[i][j] + (g->init != NULL ? g->init[j] : (md_T)0);
        MD_FN(md_store_row)(g->c + i * g->ldc, v, n, g->relu);
    }
}

/* wkr: any rows, nc <= 4 * MD_PVL; blocks of 8 rows */
static void MD_FN(md_wkr_portable)(const MD_FN(md_wkr_args) *g) {
    const int nc = g->nc;
    for (int64_t r0 = 0; r0 < g->mr; r0 += 8) {
        const int rows = (int)md_min64(8, g->mr - r0);
        md_T acc[8][4 * MD_PVL];
        for (int i = 0; i < rows; i++) {
            const md_T *cr = g->c + (r0 + i) * g->ldc;
            for (int j = 0; j < nc; j++) acc[i][j] = g->accumulate ? cr[j] : (md_T)0;
        }
        for (int64_t e = 0; e < g->np; e++) {
            const md_T *x = g->x[e] + g->xoff + r0;
            const md_T *d = g->dy[e] + g->dyoff;
            for (int i = 0; i < rows; i++) {
                const md_T xi = x[i];
                for (int j = 0; j < nc; j++) acc[i][j] += xi * d[j];
            }
        }
        for (int i = 0; i < rows; i++) {
            md_T *cr = g->c + (r0 + i) * g->ldc;
            for (int j = 0; j < nc; j++) cr[j] = acc[i][j];
        }
    }
}

static void MD_FN(md_colsum_portable)(double *out, const md_T *y, int64_t rows, int64_t cols) {
    for (int64_t c = 0; c < cols; c++) out[c] = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < cols; c++) out[c] += (double)y[i * cols + c];
}

static void MD_FN(md_tpose_portable)(md_T *out, const md_T *tile, int64_t ldt, int n, int64_t len,
                                     const md_T *bias, int relu) {
    for (int64_t j = 0; j < len; j++)
        for (int c = 0; c < n; c++) {
            md_T v = tile[c * ldt + j];
            if (bias != NULL) v += bias[c];
            out[j * n + c] = (relu && v < (md_T)0) ? (md_T)0 : v;
        }
}

static void MD_FN(md_untpose_portable)(md_T *t, const md_T *d, int n, int64_t len) {
    for (int c = 0; c < n; c++) {
        for (int64_t i = 0; i < len; i++) t[c * MD_PVL + i] = d[i * n + c];
        for (int64_t i = len; i < MD_PVL; i++) t[c * MD_PVL + i] = 0;
    }
}

static const MD_FN(md_kernels) MD_FN(md_kernels_table_portable) = {
    MD_PVL,
    MD_PMR,
    MD_PNR,
    MD_FN(md_gemm_portable),
    {MD_PMR, MD_PMR, MD_PMR, MD_PMR},
    {MD_FN(md_ikr1_portable), MD_FN(md_ikr2_portable), MD_FN(md_ikr3_portable),
     MD_FN(md_ikr4_portable)},
    {MD_FN(md_ikr2_portable), MD_FN(md_ikr2_portable), MD_FN(md_ikr2_portable),
     MD_FN(md_ikr2_portable), MD_FN(md_ikr2_portable), MD_FN(md_ikr2_portable), NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {MD_PMR, MD_PMR, MD_PMR, MD_PMR, MD_PMR, MD_PMR, MD_PMR, MD_PMR},
    {MD_FN(md_dkr_portable), MD_FN(md_dkr_portable), MD_FN(md_dkr_portable),
     MD_FN(md_dkr_portable), MD_FN(md_dkr_portable), MD_FN(md_dkr_portable),
     MD_FN(md_dkr_portable), MD_FN(md_dkr_portable)},
    {MD_FN(md_wkr_portable), MD_FN(md_wkr_portable), MD_FN(md_wkr_portable),
     MD_FN(md_wkr_portable)},
    MD_FN(md_tpose_portable),
    MD_FN(md_untpose_portable),
    MD_FN(md_colsum_portable),
};

const MD_FN(md_kernels) *MD_FN(md_kernels_get)(void) {
#if MD_HAVE_X86
    switch (md_isa_level()) {
    case MD_ISA_AVX512: return &MD_FN(md_kernels_table_avx512);
    case MD_ISA_AVX2: return &MD_FN(md_kernels_table_avx2);
    default: break;
    }
#endif
    return &MD_FN(md_kernels_table_portable);
}

/* ------------------------------------------------------------------ GEMM driver */

/* Pack a strided operand into micro-panels of width W (see gemm_internal.h). */
void MD_FN(md_pack_strided)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen, int64_t p0,
                            int64_t plen, int W) {
    const MD_FN(md_strided) *s = ctx;
    const md_T scale = s->scale;
    for (int64_t q = 0; q * W < rlen; q++) {
        const int64_t rows = md_min64(W, rlen - q * W);
        md_T *panel = dst + q * W * plen;
        const md_T *src = s->base + (r0 + q * W) * s->rs + p0 * s->ps;
        if (s->rs == 1) { /* rows contiguous: copy W-runs */
            for (int64_t p = 0; p < plen; p++) {
                const md_T *sp = src + p * s->ps;
                md_T *dp = panel + p * W;
                for (int64_t r = 0; r < rows; r++) dp[r] = scale * sp[r];
                for (int64_t r = rows; r < W; r++) dp[r] = 0;
            }
        } else {
            for (int64_t r = 0; r < rows; r++) {
                const md_T *sr = src + r * s->rs;
                for (int64_t p = 0; p < plen; p++) panel[p * W + r] = scale * sr[p * s->ps];
            }
            for (int64_t r = rows; r < W; r++)
                for (int64_t p = 0; p < plen; p++) panel[p * W + r] = 0;
        }
    }
}

/* Elements of the packed-A buffer of one thread, and of the shared packed-B buffer: all of
 * the depth for one block of at most MD_GEMM_NC columns. */
static inline int64_t MD_FN(md_apack_elems)(const MD_FN(md_kernels) *kr, int64_t m, int64_t k) {
    return md_round_up(md_min64(m, MD_GEMM_MC), kr->gemm_mr) * md_min64(k, MD_GEMM_KC);
}
static inline int64_t MD_FN(md_bpack_elems)(const MD_FN(md_kernels) *kr, int64_t n, int64_t k) {
    return md_round_up(md_min64(n, MD_GEMM_NC), kr->gemm_nr) * k;
}

/* Whether A is packed once up front, shared by the threads: when there are too few row
 * blocks for the threads, the columns are split into groups, and packing A per group
 * would repeat it (a small-batch dense layer: 4 times). */
static inline int MD_FN(md_gemm_shares_a)(int64_t m, int nthreads) {
    return md_ceil_div(m, MD_GEMM_MC) < 2 * nthreads;
}

/* Packed-A buffers: one per thread, or (shared) one per (row block, depth block). */
static inline int64_t MD_FN(md_apack_buffers)(int64_t m, int64_t k, int nthreads) {
    return MD_FN(md_gemm_shares_a)(m, nthreads) ? md_ceil_div(m, MD_GEMM_MC) *
                                                      md_ceil_div(k, MD_GEMM_KC)
                                                : nthreads;
}

size_t MD_FN(md_gemm_run_workspace)(const MD_FN(md_kernels) *kr, int64_t m, int64_t n, int64_t k,
                                    int nthreads) {
    const size_t a = (size_t)md_round_up(MD_FN(md_apack_elems)(kr, m, k), 16) * sizeof(md_T);
    const size_t b = (size_t)md_round_up(MD_FN(md_bpack_elems)(kr, n, k), 16) * sizeof(md_T);
    return b + (size_t)MD_FN(md_apack_buffers)(m, k, nthreads) * a;
}

/* One tile of the macro-kernel: packed A block (mc rows) times micro-panels
 * [jp0, jp1) of the packed B block, into C at (i0, j0 of panel jp0). */
static void MD_FN(md_macro_tile)(const MD_FN(md_kernels) *kr, const md_T *apack,
                                 const md_T *bpack, int64_t mc, int64_t nc, int64_t kc,
                                 int64_t jp0, int64_t jp1, md_T *c, int64_t ldc, int accumulate) {
    md_T tmp[MD_TILE_MAX] __attribute__((aligned(64)));
    const int64_t MR = kr->gemm_mr, NR = kr->gemm_nr;
    const MD_FN(md_ukr_fn) ukr = kr->gemm;
    for (int64_t jp = jp0; jp < jp1; jp++) {
        const int64_t j = jp * NR;
        const int64_t ncols = md_min64(NR, nc - j);
        const md_T *bp = bpack + jp * NR * kc;
        for (int64_t i = 0; i < mc; i += MR) {
            const int64_t nrows = md_min64(MR, mc - i);
            const md_T *ap = apack + i * kc;
            md_T *ct = c + i * ldc + j;
            if (nrows == MR && ncols == NR) {
                ukr(kc, ap, bp, ct, ldc, accumulate);
            } else { /* edge tile: full micro-tile into tmp, then the valid part */
                ukr(kc, ap, bp, tmp, NR, 0);
                for (int64_t r = 0; r < nrows; r++)
                    for (int64_t s = 0; s < ncols; s++)
                        ct[r * ldc + s] = accumulate ? ct[r * ldc + s] + tmp[r * NR + s]
                                                     : tmp[r * NR + s];
            }
        }
    }
}

/* Per block of columns: B is packed for the whole depth (work-shared, one barrier), and
 * before the first, a shared A (md_gemm_shares_a) for all of it; then every tile of C (MC
 * rows x a group of panels) is computed by one thread over all depth blocks in order,
 * without further barriers (contiguous ranges of tiles per thread, md_internal.h;
 * deterministic since a tile's arithmetic does not depend on its thread). */
void MD_FN(md_gemm_run)(const MD_FN(md_kernels) *kr, const MD_FN(md_gemm_plan) *plan, int64_t m,
                        int64_t n, int64_t k, md_T *c, int64_t ldc, int accumulate,
                        void *workspace, int nthreads) {
    const int64_t MR = kr->gemm_mr, NR = kr->gemm_nr;
    md_T *bpack = (md_T *)workspace;
    md_T *apack_all = bpack + md_round_up(MD_FN(md_bpack_elems)(kr, n, k), 16);
    const int64_t apack_stride = md_round_up(MD_FN(md_apack_elems)(kr, m, k), 16);
    const int64_t n_ic = md_ceil_div(m, MD_GEMM_MC), n_pc = md_ceil_div(k, MD_GEMM_KC);
    const int share_a = MD_FN(md_gemm_shares_a)(m, nthreads);

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        /* this thread's packed A, unless A is shared (then there may be fewer buffers) */
        md_T *apack = share_a ? NULL : apack_all + (int64_t)md_thread_id() * apack_stride;
        if (share_a) { /* block (ic, ip) at apack_all + (ic * n_pc + ip) * apack_stride */
#pragma omp for schedule(static) nowait
            for (int64_t t = 0; t < n_ic * n_pc; t++) {
                const int64_t i0 = t / n_pc * MD_GEMM_MC, pc = t % n_pc * MD_GEMM_KC;
                plan->pack_a(apack_all + t * apack_stride, plan->a_ctx, i0,
                             md_min64(MD_GEMM_MC, m - i0), pc, md_min64(MD_GEMM_KC, k - pc),
                             (int)MR);
            }
        }
        for (int64_t jc = 0; jc < n; jc += MD_GEMM_NC) {
            const int64_t nc = md_min64(MD_GEMM_NC, n - jc);
            const int64_t n_panels = md_ceil_div(nc, NR);
            /* depth block pc of the packed B starts at pc * round_up(nc, NR) */
            const int64_t bstride = n_panels * NR;
#pragma omp for schedule(static)
            for (int64_t t = 0; t < n_pc * n_panels; t++) {
                const int64_t ip = t / n_panels, jp = t % n_panels;
                const int64_t pc = ip * MD_GEMM_KC, kc = md_min64(MD_GEMM_KC, k - pc);
                plan->pack_b(bpack + pc * bstride + jp * NR * kc, plan->b_ctx, jc + jp * NR,
                             md_min64(NR, nc - jp * NR), pc, kc, (int)NR);
            }
            /* split columns too when there are few row blocks */
            const int64_t n_jg = n_ic >= 2 * nthreads ? 1
                                 : md_min64(n_panels, md_ceil_div(2 * nthreads, n_ic));
#pragma omp for schedule(static)
            for (int64_t t = 0; t < n_ic * n_jg; t++) {
                const int64_t ic = t / n_jg, jg = t % n_jg;
                const int64_t i0 = ic * MD_GEMM_MC, mc = md_min64(MD_GEMM_MC, m - i0);
                const int64_t jp0 = jg * n_panels / n_jg, jp1 = (jg + 1) * n_panels / n_jg;
                if (jp0 == jp1) continue;
                for (int64_t pc = 0; pc < k; pc += MD_GEMM_KC) {
                    const int64_t kc = md_min64(MD_GEMM_KC, k - pc);
                    const md_T *ap = apack;
                    if (share_a)
                        ap = apack_all + (ic * n_pc + pc / MD_GEMM_KC) * apack_stride;
                    else
                        plan->pack_a(apack, plan->a_ctx, i0, mc, pc, kc, (int)MR);
                    MD_FN(md_macro_tile)(kr, ap, bpack + pc * bstride, mc, nc, kc, jp0, jp1,
                                         c + i0 * ldc + jc, ldc, accumulate || pc > 0);
                }
            }
        }
    }
}

md_status MD_FN(md_gemm)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, md_T alpha,
                         const md_T *a, int64_t lda, const md_T *b, int64_t ldb, md_T beta,
                         md_T *c, int64_t ldc) {
    if (m < 0 || n < 0 || k < 0) return MD_ERR_SHAPE;
    if (m == 0 || n == 0) return MD_OK;
    if (c == NULL || ldc < n) return c == NULL ? MD_ERR_ARG : MD_ERR_SHAPE;
    int64_t scratch;
    if (!md_mul_ok(m, ldc, &scratch) || !md_mul_ok(m, n, &scratch) ||
        !md_mul_ok(scratch, k > 0 ? k : 1, &scratch))
        return MD_ERR_OVERFLOW;
    const int skip_product = (k == 0 || alpha == 0);
    if (!skip_product) {
        if (a == NULL || b == NULL) return MD_ERR_ARG;
        if (lda < (trans_a ? m : k) || ldb < (trans_b ? k : n)) return MD_ERR_SHAPE;
    }
    /* C = beta * C first unless beta is 0 (overwrite) or 1 (accumulate) */
    if (beta != 0 && beta != 1) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] *= beta;
    }
    if (skip_product) {
        if (beta == 0)
            for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(md_T));
        return MD_OK;
    }
    const MD_FN(md_kernels) *kr = MD_FN(md_kernels_get)();
    const MD_FN(md_strided) sa = {a, trans_a ? 1 : lda, trans_a ? lda : 1, alpha};
    const MD_FN(md_strided) sb = {b, trans_b ? ldb : 1, trans_b ? 1 : ldb, (md_T)1};
    const MD_FN(md_gemm_plan) plan = {MD_FN(md_pack_strided), &sa, MD_FN(md_pack_strided), &sb};
    const int nt = md_threads_for(m * n * k);
    md_workspace ws;
    md_status st = md_workspace_acquire(&ws, MD_FN(md_gemm_run_workspace)(kr, m, n, k, nt));
    if (st != MD_OK) return st;
    MD_FN(md_gemm_run)(kr, &plan, m, n, k, c, ldc, beta != 0, ws.ptr, nt);
    md_workspace_release(&ws);
    return MD_OK;
}

#undef MD_PMR
#undef MD_PVL
#undef MD_PNR
