/* conv2d_impl.h -- template of the convolution passes (see conv2d.c). */

#if MD_IS_F32
#define MD_NR MD_GEMM_NR_F32
#else
#define MD_NR MD_GEMM_NR_F64
#endif
#define MD_MR MD_GEMM_MR

typedef struct {
    const md_T *src; /* x for forward / weight gradient, dy for backward input */
    const md_conv2d_geom *g;
} MD_FN(md_conv_src);

/* Copy `run` consecutive channels into a micro-panel column (stride W), or zeros. */
static inline void MD_FN(md_put_run)(md_T *dst, const md_T *src, int64_t run, int W) {
    if (src == NULL) {
        for (int64_t t = 0; t < run; t++) dst[t * W] = 0;
    } else {
        for (int64_t t = 0; t < run; t++) dst[t * W] = src[t];
    }
}

/* Forward / weight-gradient im2col row: output pixel `row`, depth index p = (kh*KW+kw)*C+ci.
 * Packs depth [p0, p0+plen) of this row into column r of an MR-wide panel. */
static void MD_FN(md_im2col_row)(md_T *panel, int r, const MD_FN(md_conv_src) *s, int64_t row,
                                 int64_t p0, int64_t plen) {
    const md_conv2d_geom *g = s->g;
    const int64_t ohw = g->out_h * g->out_w;
    const int64_t n = row / ohw, rem = row % ohw;
    const int64_t ih0 = (rem / g->out_w) * g->stride_h - g->pad_top;
    const int64_t iw0 = (rem % g->out_w) * g->stride_w - g->pad_left;
    const int64_t C = g->in_c;
    int64_t khkw = p0 / C, ci = p0 % C;
    for (int64_t p = p0; p < p0 + plen; khkw++, ci = 0) {
        const int64_t run = md_min64(C - ci, p0 + plen - p);
        const int64_t ih = ih0 + khkw / g->k_w, iw = iw0 + khkw % g->k_w;
        const md_T *src = NULL;
        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
            src = s->src + ((n * g->in_h + ih) * g->in_w + iw) * C + ci;
        MD_FN(md_put_run)(panel + (p - p0) * MD_MR + r, src, run, MD_MR);
        p += run;
    }
}

/* Backward-input gather row: input pixel `row`, depth index p = (kh*KW+kw)*CO+co. */
static void MD_FN(md_gather_row)(md_T *panel, int r, const MD_FN(md_conv_src) *s, int64_t row,
                                 int64_t p0, int64_t plen) {
    const md_conv2d_geom *g = s->g;
    const int64_t ihw = g->in_h * g->in_w;
    const int64_t n = row / ihw, rem = row % ihw;
    const int64_t th = rem / g->in_w + g->pad_top, tw = rem % g->in_w + g->pad_left;
    const int64_t C = g->out_c;
    int64_t khkw = p0 / C, co = p0 % C;
    for (int64_t p = p0; p < p0 + plen; khkw++, co = 0) {
        const int64_t run = md_min64(C - co, p0 + plen - p);
        const int64_t dh = th - khkw / g->k_w, dw = tw - khkw % g->k_w;
        const md_T *src = NULL;
        if (dh >= 0 && dw >= 0 && dh % g->stride_h == 0 && dw % g->stride_w == 0) {
            const int64_t oh = dh / g->stride_h, ow = dw / g->stride_w;
            if (oh < g->out_h && ow < g->out_w)
                src = s->src + ((n * g->out_h + oh) * g->out_w + ow) * C + co;
        }
        MD_FN(md_put_run)(panel + (p - p0) * MD_MR + r, src, run, MD_MR);
        p += run;
    }
}

typedef void (*MD_FN(md_row_packer))(md_T *, int, const MD_FN(md_conv_src) *, int64_t, int64_t,
                                     int64_t);

static inline void MD_FN(md_pack_rows)(md_T *dst, const MD_FN(md_conv_src) *s, int64_t r0,
                                       int64_t rlen, int64_t p0, int64_t plen,
                                       MD_FN(md_row_packer) pack_row) {
    for (int64_t q = 0; q * MD_MR < rlen; q++) {
        md_T *panel = dst + q * MD_MR * plen;
        for (int r = 0; r < MD_MR; r++) {
            const int64_t row = q * MD_MR + r;
            if (row < rlen) {
                pack_row(panel, r, s, r0 + row, p0, plen);
            } else {
                for (int64_t p = 0; p < plen; p++) panel[p * MD_MR + r] = 0;
            }
        }
    }
}

static void MD_FN(md_pack_im2col)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,
                                  int64_t p0, int64_t plen) {
    MD_FN(md_pack_rows)(dst, ctx, r0, rlen, p0, plen, MD_FN(md_im2col_row));
}

static void MD_FN(md_pack_gather)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,
                                  int64_t p0, int64_t plen) {
    MD_FN(md_pack_rows)(dst, ctx, r0, rlen, p0, plen, MD_FN(md_gather_row));
}

/* Weight-gradient A operand: rows are depth indices k = (kh*KW+kw)*C+ci, the GEMM depth
 * runs over the output pixels [pix0 + p0, ...) of the current chunk. */
typedef struct {
    const md_T *x;
    const md_conv2d_geom *g;
    int64_t pix0;
} MD_FN(md_im2col_t);

static void MD_FN(md_pack_im2col_t)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,
                                    int64_t p0, int64_t plen) {
    const MD_FN(md_im2col_t) *s = ctx;
    const md_conv2d_geom *g = s->g;
    const int64_t C = g->in_c, ohw = g->out_h * g->out_w;
    for (int64_t q = 0; q * MD_MR < rlen; q++) {
        md_T *panel = dst + q * MD_MR * plen;
        int64_t kh[MD_MR], kw[MD_MR], ci[MD_MR];
        const int rows = (int)md_min64(MD_MR, rlen - q * MD_MR);
        for (int r = 0; r < rows; r++) {
            const int64_t kidx = r0 + q * MD_MR + r;
            kh[r] = (kidx / C) / g->k_w;
            kw[r] = (kidx / C) % g->k_w;
            ci[r] = kidx % C;
        }
        for (int64_t p = 0; p < plen; p++) {
            const int64_t pix = s->pix0 + p0 + p;
            const int64_t n = pix / ohw, rem = pix % ohw;
            const int64_t ih0 = (rem / g->out_w) * g->stride_h - g->pad_top;
            const int64_t iw0 = (rem % g->out_w) * g->stride_w - g->pad_left;
            const md_T *img = s->x + n * g->in_h * g->in_w * C;
            md_T *col = panel + p * MD_MR;
            for (int r = 0; r < rows; r++) {
                const int64_t ih = ih0 + kh[r], iw = iw0 + kw[r];
                col[r] = (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
                             ? img[(ih * g->in_w + iw) * C + ci[r]]
                             : 0;
            }
            for (int r = rows; r < MD_MR; r++) col[r] = 0;
        }
    }
}

/* Backward-input B operand: element (ci, (kh*KW+kw)*CO+co) = w[kh, kw, ci, co]. */
static void MD_FN(md_pack_w_flip)(md_T *dst, const void *ctx, int64_t r0, int64_t rlen,
                                  int64_t p0, int64_t plen) {
    const MD_FN(md_conv_src) *s = ctx;
    const md_conv2d_geom *g = s->g;
    const int64_t CI = g->in_c, CO = g->out_c;
    for (int64_t q = 0; q * MD_NR < rlen; q++) {
        md_T *panel = dst + q * MD_NR * plen;
        const int64_t rows = md_min64(MD_NR, rlen - q * MD_NR);
        for (int64_t p = 0; p < plen; p++) {
            const int64_t khkw = (p0 + p) / CO, co = (p0 + p) % CO;
            const md_T *src = s->src + khkw * CI * CO + co;
            md_T *col = panel + p * MD_NR;
            for (int64_t r = 0; r < rows; r++) col[r] = src[(r0 + q * MD_NR + r) * CO];
            for (int64_t r = rows; r < MD_NR; r++) col[r] = 0;
        }
    }
}

typedef struct {
    const md_T *bias;
    int activation;
} MD_FN(md_conv_epilogue_ctx);

/* Forward epilogue: bias and activation on a finished tile while it is in cache. */
static void MD_FN(md_conv_epilogue)(const void *ctx, md_T *c, int64_t ldc, int64_t i0,
                                    int64_t mlen, int64_t j0, int64_t nlen) {
    const MD_FN(md_conv_epilogue_ctx) *e = ctx;
    for (int64_t i = i0; i < i0 + mlen; i++) {
        md_T *row = c + i * ldc + j0;
        if (e->bias != NULL)
            for (int64_t j = 0; j < nlen; j++) row[j] += e->bias[j0 + j];
        if (e->activation != MD_ACT_LINEAR)
            MD_FN(md_activation_forward)(row, row, nlen, e->activation);
    }
}

static int64_t MD_FN(md_conv_kdepth)(const md_conv2d_geom *g) { return g->k_h * g->k_w * g->in_c; }

static size_t MD_FN(md_conv2d_forward_ws)(const md_conv2d_geom *g) {
    const int64_t m = g->batch * g->out_h * g->out_w, k = MD_FN(md_conv_kdepth)(g);
    return MD_FN(md_gemm_run_workspace)(m, g->out_c, k, md_threads_for(m * g->out_c * k));
}

static size_t MD_FN(md_conv2d_backward_input_ws)(const md_conv2d_geom *g) {
    const int64_t m = g->batch * g->in_h * g->in_w, k = g->k_h * g->k_w * g->out_c;
    return MD_FN(md_gemm_run_workspace)(m, g->in_c, k, md_threads_for(m * g->in_c * k));
}

/* Weight gradient workspace: per chunk a partial dw (and dbias), per thread a GEMM
 * workspace. Layout: [partials | gemm workspaces]. */
static void MD_FN(md_conv_bw_layout)(const md_conv2d_geom *g, int64_t *n_chunks,
                                     int64_t *chunk, size_t *partial_bytes, size_t *gemm_bytes,
                                     int *nt) {
    const int64_t pixels = g->batch * g->out_h * g->out_w, kd = MD_FN(md_conv_kdepth)(g);
    *chunk = md_conv_chunk_pixels(pixels);
    *n_chunks = md_ceil_div(pixels, *chunk);
    *nt = (int)md_min64(md_threads_for(pixels * kd * g->out_c), *n_chunks);
    *partial_bytes = (size_t)md_round_up(kd * g->out_c + g->out_c, 16) * sizeof(md_T);
    *gemm_bytes = MD_FN(md_gemm_run_workspace)(kd, g->out_c, md_min64(*chunk, pixels), 1);
}

static size_t MD_FN(md_conv2d_backward_weight_ws)(const md_conv2d_geom *g) {
    int64_t n_chunks, chunk;
    size_t partial_bytes, gemm_bytes;
    int nt;
    MD_FN(md_conv_bw_layout)(g, &n_chunks, &chunk, &partial_bytes, &gemm_bytes, &nt);
    return (size_t)n_chunks * partial_bytes + (size_t)nt * gemm_bytes;
}

md_status MD_FN(md_conv2d_forward)(md_T *y, const md_T *x, const md_T *w, const md_T *bias,
                                   int activation, const md_conv2d_geom *g, void *workspace,
                                   size_t workspace_bytes) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (y == NULL || x == NULL || w == NULL) return MD_ERR_ARG;
    if (activation < MD_ACT_LINEAR || activation > MD_ACT_TANH) return MD_ERR_ARG;
    const int64_t m = g->batch * g->out_h * g->out_w, k = MD_FN(md_conv_kdepth)(g);
    const MD_FN(md_conv_src) a = {x, g};
    const MD_FN(md_strided) b = {w, 1, g->out_c, (md_T)1};
    const MD_FN(md_conv_epilogue_ctx) e = {bias, activation};
    const int need_epilogue = bias != NULL || activation != MD_ACT_LINEAR;
    const MD_FN(md_gemm_plan) plan = {MD_FN(md_pack_im2col), &a, MD_FN(md_pack_b_strided), &b,
                                      need_epilogue ? MD_FN(md_conv_epilogue) : NULL, &e};
    md_workspace ws;
    st = md_workspace_acquire(&ws, workspace, workspace_bytes, MD_FN(md_conv2d_forward_ws)(g));
    if (st != MD_OK) return st;
    MD_FN(md_gemm_run)(&plan, m, g->out_c, k, y, g->out_c, 0, ws.ptr,
                       md_threads_for(m * g->out_c * k));
    md_workspace_release(&ws);
    return MD_OK;
}

md_status MD_FN(md_conv2d_backward_input)(md_T *dx, const md_T *dy, const md_T *w,
                                          const md_conv2d_geom *g, void *workspace,
                                          size_t workspace_bytes) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (dx == NULL || dy == NULL || w == NULL) return MD_ERR_ARG;
    const int64_t m = g->batch * g->in_h * g->in_w, k = g->k_h * g->k_w * g->out_c;
    const MD_FN(md_conv_src) a = {dy, g};
    const MD_FN(md_conv_src) b = {w, g};
    const MD_FN(md_gemm_plan) plan = {MD_FN(md_pack_gather), &a, MD_FN(md_pack_w_flip), &b, NULL,
                                      NULL};
    md_workspace ws;
    st = md_workspace_acquire(&ws, workspace, workspace_bytes,
                              MD_FN(md_conv2d_backward_input_ws)(g));
    if (st != MD_OK) return st;
    MD_FN(md_gemm_run)(&plan, m, g->in_c, k, dx, g->in_c, 0, ws.ptr,
                       md_threads_for(m * g->in_c * k));
    md_workspace_release(&ws);
    return MD_OK;
}

/* Column sums of dy over one chunk of pixels, in double, written to out. */
static void MD_FN(md_conv_bias_chunk)(md_T *out, const md_T *dy, int64_t pix0, int64_t npix,
                                      int64_t C) {
    for (int64_t c = 0; c < C; c++) out[c] = 0;
    double acc[64];
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
        const int64_t cw = md_min64(64, C - c0);
        for (int64_t c = 0; c < cw; c++) acc[c] = 0;
        for (int64_t p = pix0; p < pix0 + npix; p++)
            for (int64_t c = 0; c < cw; c++) acc[c] += (double)dy[p * C + c0 + c];
        for (int64_t c = 0; c < cw; c++) out[c0 + c] = (md_T)acc[c];
    }
}

md_status MD_FN(md_conv2d_backward_weight)(md_T *dw, md_T *dbias, const md_T *dy, const md_T *x,
                                           const md_conv2d_geom *g, void *workspace,
                                           size_t workspace_bytes) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (dw == NULL || dy == NULL || x == NULL) return MD_ERR_ARG;
    int64_t n_chunks, chunk;
    size_t partial_bytes, gemm_bytes;
    int nt;
    MD_FN(md_conv_bw_layout)(g, &n_chunks, &chunk, &partial_bytes, &gemm_bytes, &nt);
    md_workspace ws;
    st = md_workspace_acquire(&ws, workspace, workspace_bytes,
                              MD_FN(md_conv2d_backward_weight_ws)(g));
    if (st != MD_OK) return st;
    const int64_t pixels = g->batch * g->out_h * g->out_w, kd = MD_FN(md_conv_kdepth)(g);
    const int64_t CO = g->out_c, pstride = (int64_t)(partial_bytes / sizeof(md_T));
    md_T *partials = ws.ptr;
    char *gemm_ws = (char *)ws.ptr + (size_t)n_chunks * partial_bytes;

#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t ch = 0; ch < n_chunks; ch++) {
        const int64_t pix0 = ch * chunk, npix = md_min64(chunk, pixels - pix0);
        md_T *part = partials + ch * pstride;
        const MD_FN(md_im2col_t) a = {x, g, pix0};
        const MD_FN(md_strided) b = {dy + pix0 * CO, 1, CO, (md_T)1};
        const MD_FN(md_gemm_plan) plan = {MD_FN(md_pack_im2col_t), &a, MD_FN(md_pack_b_strided),
                                          &b, NULL, NULL};
        MD_FN(md_gemm_run)(&plan, kd, CO, npix, part, CO, 0,
                           gemm_ws + (size_t)md_thread_id() * gemm_bytes, 1);
        if (dbias != NULL) MD_FN(md_conv_bias_chunk)(part + kd * CO, dy, pix0, npix, CO);
    }
    /* add the chunk partials in chunk order: the same additions for any thread count */
    const int64_t nw = kd * CO;
    memcpy(dw, partials, (size_t)nw * sizeof(md_T));
    if (dbias != NULL) memcpy(dbias, partials + nw, (size_t)CO * sizeof(md_T));
    for (int64_t ch = 1; ch < n_chunks; ch++) {
        const md_T *part = partials + ch * pstride;
        for (int64_t i = 0; i < nw; i++) dw[i] += part[i];
        if (dbias != NULL)
            for (int64_t c = 0; c < CO; c++) dbias[c] += part[nw + c];
    }
    md_workspace_release(&ws);
    return MD_OK;
}

#undef MD_NR
#undef MD_MR
