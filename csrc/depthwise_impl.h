/* depthwise_impl.h -- the depthwise convolution, a template included by conv2d.c once per
 * element type. */

/* y (batch, out_h, out_w, C * M) = depthwise(x, w) + bias (C * M, or NULL). */
md_status MD_FN(md_depthwise_conv2d_forward)(md_T *y, const md_T *x, const md_T *w,
                                             const md_T *bias, const md_conv2d_geom *g) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (y == NULL || x == NULL || w == NULL) return MD_ERR_ARG;
    if (!md_dw_sizes_ok(g)) return MD_ERR_OVERFLOW;
    const int64_t C = g->in_c, M = g->out_c, CM = C * M, rows = g->batch * g->out_h;
#pragma omp parallel for schedule(static) \
    num_threads(md_threads_for(md_work3(rows * g->out_w, CM, g->k_h * g->k_w)))
    for (int64_t r = 0; r < rows; r++) {
        const int64_t n = r / g->out_h, oh = r % g->out_h;
        md_T *yr = y + r * g->out_w * CM;
        memset(yr, 0, (size_t)(g->out_w * CM) * sizeof(md_T));
        for (int64_t kh = 0; kh < g->k_h; kh++) {
            const int64_t ih = oh * g->stride_h + kh - g->pad_top;
            if (ih < 0 || ih >= g->in_h) continue;
            for (int64_t kw = 0; kw < g->k_w; kw++) {
                const md_T *wk = w + (kh * g->k_w + kw) * CM;
                for (int64_t ow = 0; ow < g->out_w; ow++) {
                    const int64_t iw = ow * g->stride_w + kw - g->pad_left;
                    if (iw < 0 || iw >= g->in_w) continue;
                    const md_T *restrict xp = x + ((n * g->in_h + ih) * g->in_w + iw) * C;
                    md_T *restrict yp = yr + ow * CM;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t m = 0; m < M; m++) yp[c * M + m] += xp[c] * wk[c * M + m];
                }
            }
        }
        if (bias != NULL)
            for (int64_t ow = 0; ow < g->out_w; ow++)
                for (int64_t j = 0; j < CM; j++) yr[ow * CM + j] += bias[j];
    }
    return MD_OK;
}

/* dx (batch, in_h, in_w, C) from dy (batch, out_h, out_w, C * M) and w, gathered: every
 * dx value sums, tap by tap, the dy values its taps reach. */
md_status MD_FN(md_depthwise_conv2d_backward_input)(md_T *dx, const md_T *dy, const md_T *w,
                                                    const md_conv2d_geom *g) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (dx == NULL || dy == NULL || w == NULL) return MD_ERR_ARG;
    if (!md_dw_sizes_ok(g)) return MD_ERR_OVERFLOW;
    const int64_t C = g->in_c, M = g->out_c, CM = C * M, rows = g->batch * g->in_h;
#pragma omp parallel for schedule(static) \
    num_threads(md_threads_for(md_work3(rows * g->in_w, CM, g->k_h * g->k_w)))
    for (int64_t r = 0; r < rows; r++) {
        const int64_t n = r / g->in_h, ih = r % g->in_h;
        md_T *dxr = dx + r * g->in_w * C;
        memset(dxr, 0, (size_t)(g->in_w * C) * sizeof(md_T));
        for (int64_t kh = 0; kh < g->k_h; kh++) {
            const int64_t oh = md_dw_source(ih, kh, g->pad_top, g->stride_h, g->out_h);
            if (oh < 0) continue;
            for (int64_t kw = 0; kw < g->k_w; kw++) {
                const md_T *wk = w + (kh * g->k_w + kw) * CM;
                for (int64_t iw = 0; iw < g->in_w; iw++) {
                    const int64_t ow = md_dw_source(iw, kw, g->pad_left, g->stride_w, g->out_w);
                    if (ow < 0) continue;
                    const md_T *restrict dyp = dy + ((n * g->out_h + oh) * g->out_w + ow) * CM;
                    md_T *restrict dxp = dxr + iw * C;
                    for (int64_t c = 0; c < C; c++) {
                        md_T sum = 0;
                        for (int64_t m = 0; m < M; m++) sum += dyp[c * M + m] * wk[c * M + m];
                        dxp[c] += sum;
                    }
                }
            }
        }
    }
    return MD_OK;
}

/* The weight and bias gradients of the rows (n, oh) in [r0, r1) into dw / dbias. */
static void MD_FN(md_dw_weight_rows)(md_T *dw, md_T *dbias, const md_T *dy, const md_T *x,
                                     const md_conv2d_geom *g, int64_t r0, int64_t r1) {
    const int64_t C = g->in_c, M = g->out_c, CM = C * M;
    memset(dw, 0, (size_t)(g->k_h * g->k_w * CM) * sizeof(md_T));
    memset(dbias, 0, (size_t)CM * sizeof(md_T));
    for (int64_t r = r0; r < r1; r++) {
        const int64_t n = r / g->out_h, oh = r % g->out_h;
        const md_T *dyr = dy + r * g->out_w * CM;
        for (int64_t ow = 0; ow < g->out_w; ow++)
            for (int64_t j = 0; j < CM; j++) dbias[j] += dyr[ow * CM + j];
        for (int64_t kh = 0; kh < g->k_h; kh++) {
            const int64_t ih = oh * g->stride_h + kh - g->pad_top;
            if (ih < 0 || ih >= g->in_h) continue;
            for (int64_t kw = 0; kw < g->k_w; kw++) {
                md_T *restrict dwk = dw + (kh * g->k_w + kw) * CM;
                for (int64_t ow = 0; ow < g->out_w; ow++) {
                    const int64_t iw = ow * g->stride_w + kw - g->pad_left;
                    if (iw < 0 || iw >= g->in_w) continue;
                    const md_T *restrict xp = x + ((n * g->in_h + ih) * g->in_w + iw) * C;
                    const md_T *restrict dyp = dyr + ow * CM;
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t m = 0; m < M; m++) dwk[c * M + m] += xp[c] * dyp[c * M + m];
                }
            }
        }
    }
}

/* dw (k_h, k_w, C, M) and dbias (C * M, skipped when NULL) from dy and x: fixed chunks of
 * rows, each into its own partial, then the partials added in chunk order. */
md_status MD_FN(md_depthwise_conv2d_backward_weight)(md_T *dw, md_T *dbias, const md_T *dy,
                                                     const md_T *x, const md_conv2d_geom *g) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (dw == NULL || dy == NULL || x == NULL) return MD_ERR_ARG;
    if (!md_dw_sizes_ok(g)) return MD_ERR_OVERFLOW;
    const int64_t CM = g->in_c * g->out_c, nw = g->k_h * g->k_w * CM;
    const int64_t rows = g->batch * g->out_h;
    const int64_t chunks = md_min64(rows, MD_DW_MAX_CHUNKS);
    const int64_t per_chunk = nw + CM;
    md_T *partials = (md_T *)malloc((size_t)(chunks * per_chunk) * sizeof(md_T));
    if (partials == NULL) return MD_ERR_ALLOC;
#pragma omp parallel for schedule(static) \
    num_threads(md_threads_for(md_work3(rows * g->out_w, CM, g->k_h * g->k_w)))
    for (int64_t k = 0; k < chunks; k++) {
        md_T *part = partials + k * per_chunk;
        MD_FN(md_dw_weight_rows)(part, part + nw, dy, x, g, rows * k / chunks,
                                 rows * (k + 1) / chunks);
    }
    for (int64_t i = 0; i < per_chunk; i++) {
        md_T sum = partials[i];
        for (int64_t k = 1; k < chunks; k++) sum += partials[k * per_chunk + i];
        if (i < nw)
            dw[i] = sum;
        else if (dbias != NULL)
            dbias[i - nw] = sum;
    }
    free(partials);
    return MD_OK;
}
