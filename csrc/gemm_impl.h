/* gemm_impl.h -- template of the GEMM driver, packers and md_gemm (see gemm.c). */

#if MD_IS_F32
#define MD_NR MD_GEMM_NR_F32
#define MD_UKR_SIMD md_ukr_avx2_f32
#else
#define MD_NR MD_GEMM_NR_F64
#define MD_UKR_SIMD md_ukr_avx2_f64
#endif
#define MD_MR MD_GEMM_MR

/* Portable micro-kernel with the tile shape of the SIMD one. */
static void MD_FN(md_ukr_portable)(int64_t kc, const md_T *a, const md_T *b, md_T *c,
                                   int64_t ldc, int accumulate) {
    md_T acc[MD_MR][MD_NR];
    memset(acc, 0, sizeof(acc));
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < MD_MR; i++) {
            const md_T ai = a[p * MD_MR + i];
            for (int j = 0; j < MD_NR; j++) acc[i][j] += ai * b[p * MD_NR + j];
        }
    }
    for (int i = 0; i < MD_MR; i++) {
        md_T *cr = c + i * ldc;
        for (int j = 0; j < MD_NR; j++) cr[j] = accumulate ? cr[j] + acc[i][j] : acc[i][j];
    }
}

typedef void (*MD_FN(md_ukr_fn))(int64_t, const md_T *, const md_T *, md_T *, int64_t, int);

static MD_FN(md_ukr_fn) MD_FN(md_select_ukr)(void) {
#if MD_HAVE_X86
    if (md_use_avx2()) return MD_UKR_SIMD;
#endif
    return MD_FN(md_ukr_portable);
}

/* Pack a strided operand into micro-panels of width W (see gemm_internal.h). */
static inline void MD_FN(md_pack_strided)(md_T *dst, const MD_FN(md_strided) *s, int64_t r0,
                                          int64_t rlen, int64_t p0, int64_t plen, int W) {
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

void MD_FN(md_pack_a_strided)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen, int64_t p0,
                              int64_t plen) {
    MD_FN(md_pack_strided)(dst, (const MD_FN(md_strided) *)ctx, r0, rlen, p0, plen, MD_MR);
}

void MD_FN(md_pack_b_strided)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen, int64_t p0,
                              int64_t plen) {
    MD_FN(md_pack_strided)(dst, (const MD_FN(md_strided) *)ctx, r0, rlen, p0, plen, MD_NR);
}

/* Elements of the packed-A buffer of one thread and of the shared packed-B buffer. */
static inline int64_t MD_FN(md_apack_elems)(int64_t m, int64_t k) {
    return md_round_up(md_min64(m, MD_GEMM_MC), MD_MR) * md_min64(k, MD_GEMM_KC);
}
static inline int64_t MD_FN(md_bpack_elems)(int64_t n, int64_t k) {
    return md_round_up(md_min64(n, MD_GEMM_NC), MD_NR) * md_min64(k, MD_GEMM_KC);
}

size_t MD_FN(md_gemm_run_workspace)(int64_t m, int64_t n, int64_t k, int nthreads) {
    const size_t a = (size_t)md_round_up(MD_FN(md_apack_elems)(m, k), 16) * sizeof(md_T);
    const size_t b = (size_t)md_round_up(MD_FN(md_bpack_elems)(n, k), 16) * sizeof(md_T);
    return b + (size_t)nthreads * a;
}

/* One tile of the macro-kernel: packed A block (mc rows) times micro-panels
 * [jp0, jp1) of the packed B block, into C at (i0, j0 of panel jp0). */
static void MD_FN(md_macro_tile)(MD_FN(md_ukr_fn) ukr, const md_T *apack, const md_T *bpack,
                                 int64_t mc, int64_t nc, int64_t kc, int64_t jp0, int64_t jp1,
                                 md_T *c, int64_t ldc, int accumulate) {
    md_T tmp[MD_MR * MD_NR] __attribute__((aligned(64)));
    for (int64_t jp = jp0; jp < jp1; jp++) {
        const int64_t j = jp * MD_NR;
        const int64_t ncols = md_min64(MD_NR, nc - j);
        const md_T *bp = bpack + jp * MD_NR * kc;
        for (int64_t i = 0; i < mc; i += MD_MR) {
            const int64_t nrows = md_min64(MD_MR, mc - i);
            const md_T *ap = apack + i * kc;
            md_T *ct = c + i * ldc + j;
            if (nrows == MD_MR && ncols == MD_NR) {
                ukr(kc, ap, bp, ct, ldc, accumulate);
            } else { /* edge tile: full micro-tile into tmp, then the valid part */
                ukr(kc, ap, bp, tmp, MD_NR, 0);
                for (int64_t r = 0; r < nrows; r++)
                    for (int64_t s = 0; s < ncols; s++)
                        ct[r * ldc + s] = accumulate ? ct[r * ldc + s] + tmp[r * MD_NR + s]
                                                     : tmp[r * MD_NR + s];
            }
        }
    }
}

void MD_FN(md_gemm_run)(const MD_FN(md_gemm_plan) *plan, int64_t m, int64_t n, int64_t k,
                        md_T *c, int64_t ldc, int accumulate, void *workspace, int nthreads) {
    const MD_FN(md_ukr_fn) ukr = MD_FN(md_select_ukr)();
    md_T *bpack = (md_T *)workspace;
    md_T *apack_all = bpack + md_round_up(MD_FN(md_bpack_elems)(n, k), 16);
    const int64_t apack_stride = md_round_up(MD_FN(md_apack_elems)(m, k), 16);
    const int64_t n_ic = md_ceil_div(m, MD_GEMM_MC);

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        md_T *apack = apack_all + (int64_t)md_thread_id() * apack_stride;
        for (int64_t jc = 0; jc < n; jc += MD_GEMM_NC) {
            const int64_t nc = md_min64(MD_GEMM_NC, n - jc);
            const int64_t n_panels = md_ceil_div(nc, MD_NR);
            /* split columns too when there are fewer row blocks than threads */
            const int64_t n_jg = n_ic >= nthreads ? 1 : md_min64(n_panels, md_ceil_div(nthreads, n_ic));
            const int64_t n_tiles = n_ic * n_jg;
            for (int64_t pc = 0; pc < k; pc += MD_GEMM_KC) {
                const int64_t kc = md_min64(MD_GEMM_KC, k - pc);
                const int acc = accumulate || pc > 0;
                const int last = pc + kc >= k;
#pragma omp for schedule(static)
                for (int64_t jp = 0; jp < n_panels; jp++)
                    plan->pack_b(bpack + jp * MD_NR * kc, plan->b_ctx, jc + jp * MD_NR,
                                 md_min64(MD_NR, nc - jp * MD_NR), pc, kc);
                int64_t packed_ic = -1;
#pragma omp for schedule(static)
                for (int64_t t = 0; t < n_tiles; t++) {
                    const int64_t ic = t / n_jg, jg = t % n_jg;
                    const int64_t i0 = ic * MD_GEMM_MC;
                    const int64_t mc = md_min64(MD_GEMM_MC, m - i0);
                    const int64_t jp0 = jg * n_panels / n_jg, jp1 = (jg + 1) * n_panels / n_jg;
                    if (jp0 == jp1) continue;
                    if (packed_ic != ic) {
                        plan->pack_a(apack, plan->a_ctx, i0, mc, pc, kc);
                        packed_ic = ic;
                    }
                    md_T *ctile = c + i0 * ldc + jc;
                    MD_FN(md_macro_tile)(ukr, apack, bpack, mc, nc, kc, jp0, jp1, ctile, ldc, acc);
                    if (last && plan->epilogue != NULL) {
                        const int64_t j0 = jc + jp0 * MD_NR;
                        const int64_t j1 = md_min64(jc + jp1 * MD_NR, jc + nc);
                        plan->epilogue(plan->epilogue_ctx, c, ldc, i0, mc, j0, j1 - j0);
                    }
                }
            }
        }
    }
}

md_status MD_FN(md_gemm)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, md_T alpha,
                         const md_T *a, int64_t lda, const md_T *b, int64_t ldb, md_T beta,
                         md_T *c, int64_t ldc, void *workspace, size_t workspace_bytes) {
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
    const MD_FN(md_strided) sa = {a, trans_a ? 1 : lda, trans_a ? lda : 1, alpha};
    const MD_FN(md_strided) sb = {b, trans_b ? ldb : 1, trans_b ? 1 : ldb, (md_T)1};
    const MD_FN(md_gemm_plan) plan = {MD_FN(md_pack_a_strided), &sa, MD_FN(md_pack_b_strided),
                                      &sb, NULL, NULL};
    const int nt = md_threads_for(m * n * k);
    md_workspace ws;
    md_status st = md_workspace_acquire(&ws, workspace, workspace_bytes,
                                        MD_FN(md_gemm_run_workspace)(m, n, k, nt));
    if (st != MD_OK) return st;
    MD_FN(md_gemm_run)(&plan, m, n, k, c, ldc, beta != 0, ws.ptr, nt);
    md_workspace_release(&ws);
    return MD_OK;
}

#undef MD_NR
#undef MD_MR
#undef MD_UKR_SIMD
