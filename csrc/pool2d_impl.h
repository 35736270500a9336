/* pool2d_impl.h -- pooling kernels written once in terms of md_T and MD_FN; included twice
 * (float, double) by pool2d.c through md_instantiate.h. No include guard on purpose.
 *
 * Parallelism: the forward passes split the batch*out_h output rows over threads (rows
 * are independent). The backward passes scatter into dx and windows overlap when
 * stride < pool, so they split over images, which never share a dx cell; within an image
 * the scatter runs in a fixed order, so results are bit-identical for any thread count.
 */

/* Max over one clipped window for `count` channels; ties keep the first maximum in
 * row-major window order and a NaN is always picked (the first NaN, for argmax). yo/ao:
 * the output cell's first channel; ao may be NULL. xn: the image, at the same first
 * channel; pixels lie `channels` values apart. */
static void MD_FN(md_maxpool_cell)(md_T *restrict yo, int64_t *restrict ao,
                                   const md_T *restrict xn, int64_t channels, int64_t count,
                                   int64_t in_w, int64_t h0, int64_t h1, int64_t w0,
                                   int64_t w1) {
    const int64_t first = h0 * in_w + w0;
    memcpy(yo, xn + first * channels, (size_t)count * sizeof(md_T));
    if (ao != NULL)
        for (int64_t c = 0; c < count; c++) ao[c] = first;
    for (int64_t h = h0; h < h1; h++) {
        for (int64_t w = (h == h0 ? w0 + 1 : w0); w < w1; w++) {
            const int64_t idx = h * in_w + w;
            const md_T *restrict xp = xn + idx * channels;
            if (ao != NULL) {
                for (int64_t c = 0; c < count; c++) {
                    const md_T v = xp[c], best = yo[c];
                    const int take = (v > best) | ((v != v) & (best == best));
                    yo[c] = take ? v : best;
                    ao[c] = take ? idx : ao[c];
                }
            } else {
                for (int64_t c = 0; c < count; c++) {
                    const md_T v = xp[c], best = yo[c];
                    yo[c] = ((v > best) | (v != v)) ? v : best;
                }
            }
        }
    }
}

/* Mean over one clipped window for `count` channels, accumulated in double
 * MD_POOL_CHANNEL_BLOCK channels at a time. yo: the output cell's first channel; xn: the
 * image, at the same first channel; pixels lie `channels` values apart. */
static inline void MD_FN(md_avgpool_cell)(md_T *restrict yo, const md_T *restrict xn,
                                          int64_t channels, int64_t count, int64_t in_w,
                                          int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    double acc[MD_POOL_CHANNEL_BLOCK];
    const double cells = (double)((h1 - h0) * (w1 - w0));
    for (int64_t c0 = 0; c0 < count; c0 += MD_POOL_CHANNEL_BLOCK) {
        const int64_t cb = md_min64(MD_POOL_CHANNEL_BLOCK, count - c0);
        for (int64_t j = 0; j < cb; j++) acc[j] = 0.0;
        for (int64_t h = h0; h < h1; h++) {
            for (int64_t w = w0; w < w1; w++) {
                const md_T *restrict xp = xn + (h * in_w + w) * channels + c0;
                for (int64_t j = 0; j < cb; j++) acc[j] += (double)xp[j];
            }
        }
        for (int64_t j = 0; j < cb; j++) yo[c0 + j] = (md_T)(acc[j] / cells);
    }
}

/* One output row r = n * out_h + oh of a pooling forward pass: the channels from c0 on
 * of every cell of y from its clipped window of x, by md_avgpool_cell when `average`,
 * else by md_maxpool_cell (argmax may then be NULL). `average` is a constant at every
 * call site, so each forward kernel gets its own loop. The geometry comes by value:
 * stores through argmax (int64_t, like its fields) then cannot force it to be reloaded
 * for every window. */
static inline __attribute__((always_inline)) void MD_FN(md_pool_forward_row)(
    md_T *y, int64_t *argmax, const md_T *x, const md_pool2d_geom g, int64_t r,
    const int average, int64_t c0) {
    const int64_t channels = g.channels, in_h = g.in_h, in_w = g.in_w;
    const int64_t out_h = g.out_h, out_w = g.out_w;
    const int64_t n = r / out_h, oh = r % out_h;
    int64_t h0, h1;
    md_pool_window(oh, g.stride_h, g.pad_top, g.pool_h, in_h, &h0, &h1);
    const md_T *xn = x + n * (in_h * in_w * channels) + c0;
    for (int64_t ow = 0; ow < out_w; ow++) {
        int64_t w0, w1;
        md_pool_window(ow, g.stride_w, g.pad_left, g.pool_w, in_w, &w0, &w1);
        const int64_t o = (r * out_w + ow) * channels + c0;
        if (average)
            MD_FN(md_avgpool_cell)(y + o, xn, channels, channels - c0, in_w, h0, h1, w0, w1);
        else
            MD_FN(md_maxpool_cell)(y + o, argmax != NULL ? argmax + o : NULL, xn, channels,
                                   channels - c0, in_w, h0, h1, w0, w1);
    }
}

/* y (batch, out_h, out_w, channels) = max over each window of x (batch, in_h, in_w,
 * channels); argmax (same shape as y, may be NULL) = h * in_w + w of the chosen cell. */
md_status MD_FN(md_maxpool2d_forward)(md_T *y, int64_t *argmax, const md_T *x,
                                      const md_pool2d_geom *g) {
    if (y == NULL || x == NULL || g == NULL) return MD_ERR_ARG;
    const md_status st = md_pool2d_geom_check(g);
    if (st != MD_OK) return st;
    const int64_t rows = g->batch * g->out_h;
#if MD_IS_F32 && MD_HAVE_POOL_AVX2
    if (argmax != NULL && md_use_avx2() && md_pool_windows_whole(g) &&
        g->in_h * g->in_w <= INT32_MAX) {
        const int64_t c8 = g->channels / 8 * 8; /* the rest: one by one, by the cell */
#pragma omp parallel for schedule(static) num_threads(md_threads_for(md_pool_work(g)))
        for (int64_t r = 0; r < rows; r++) {
            md_maxpool_row_avx2(y, argmax, x, g, r);
            if (c8 < g->channels) MD_FN(md_pool_forward_row)(y, argmax, x, *g, r, 0, c8);
        }
        return MD_OK;
    }
#endif
#pragma omp parallel for schedule(static) num_threads(md_threads_for(md_pool_work(g)))
    for (int64_t r = 0; r < rows; r++) MD_FN(md_pool_forward_row)(y, argmax, x, *g, r, 0, 0);
    return MD_OK;
}

/* dx of image n times the derivative of the activation whose output y (the pooling's
 * input) is, while the image is in cache (nothing for linear). */
static void MD_FN(md_pool_backward_act)(md_T *dxn, const md_T *y, int64_t n, int64_t image,
                                        int activation) {
    if (activation != MD_ACT_LINEAR)
        MD_FN(md_activation_backward_range)(dxn, dxn, y + n * image, image, activation);
}

/* The checks of the activation arguments of a pooling backward: a fused code, and y given
 * (not dx) with one. */
static int MD_FN(md_pool_act_ok)(const md_T *dx, const md_T *y, int activation) {
    return md_act_fusable(activation) &&
           (activation == MD_ACT_LINEAR || (y != NULL && y != dx));
}

/* o[c] = (argmax a[c] is cell idx) ? 0 + d[c] : 0 over C channels; the number of hits.
 * Compiled for the baseline and, on x86, for AVX-512 (a vector loop there). */
#define MD_MAXPOOL_SELECT(ISA, ATTR)                                                         \
    ATTR static int64_t MD_FN(md_maxpool_select_##ISA)(md_T *restrict o,                     \
                                                       const md_T *restrict d,               \
                                                       const int64_t *restrict a,            \
                                                       int64_t idx, int64_t C) {             \
        int64_t hits = 0;                                                                    \
        for (int64_t c = 0; c < C; c++) {                                                    \
            const int hit = a[c] == idx;                                                     \
            o[c] = hit ? (md_T)0 + d[c] : (md_T)0;                                           \
            hits += hit;                                                                     \
        }                                                                                    \
        return hits;                                                                         \
    }
MD_MAXPOOL_SELECT(portable, )
#if MD_HAVE_POOL_AVX2
MD_MAXPOOL_SELECT(avx512, __attribute__((target("avx512f,avx2,fma"))))
#endif
#undef MD_MAXPOOL_SELECT

/* Image n of a max pooling backward whose windows tile the input (md_pool_windows_tile):
 * each dx cell written once, 0 + dy where it is its window's argmax and 0 elsewhere (the
 * values of the zeroing and the scatter, -0.0 included), then times the activation's
 * derivative row by row while in cache. Returns 0 when some argmax lies outside its own
 * window (then dx must be made by the scatter). */
static int MD_FN(md_maxpool_backward_tiled)(md_T *restrict dxn, const md_T *restrict dyn,
                                            const int64_t *restrict an, const md_T *y,
                                            int64_t n, int activation,
                                            const md_pool2d_geom *g) {
    const int64_t C = g->channels, ph = g->pool_h, pw = g->pool_w, in_w = g->in_w;
    const int64_t row = in_w * C, image = g->in_h * row;
    int64_t (*select)(md_T *, const md_T *, const int64_t *, int64_t, int64_t) =
        MD_FN(md_maxpool_select_portable);
#if MD_HAVE_POOL_AVX2
    if (md_isa_level() >= MD_ISA_AVX512) select = MD_FN(md_maxpool_select_avx512);
#endif
    int64_t hits = 0;
    for (int64_t ih = 0; ih < g->in_h; ih++) {
        const int64_t first = ih / ph * g->out_w; /* the row's first window */
        for (int64_t ow = 0, ix = 0; ow < g->out_w; ow++)
            for (int64_t k = 0; k < pw; k++, ix++) {
                const int64_t cell = first + ow, idx = ih * in_w + ix;
                hits += select(dxn + idx * C, dyn + cell * C, an + cell * C, idx, C);
            }
        if (activation != MD_ACT_LINEAR)
            MD_FN(md_activation_backward_range)(dxn + ih * row, dxn + ih * row,
                                                y + n * image + ih * row, row, activation);
    }
    return hits == g->out_h * g->out_w * C; /* each argmax found in its own window once */
}

/* dx (batch, in_h, in_w, channels) = 0, then dx[n, argmax, c] += dy[n, oh, ow, c].
 * MD_ERR_ARG when an argmax value lies outside [0, in_h * in_w) (dx is then
 * unspecified). dx must not alias dy or argmax. */
md_status MD_FN(md_maxpool2d_backward)(md_T *dx, const md_T *dy, const int64_t *argmax,
                                       const md_pool2d_geom *g) {
    return MD_FN(md_maxpool2d_backward_act)(dx, dy, argmax, NULL, MD_ACT_LINEAR, g);
}

md_status MD_FN(md_maxpool2d_backward_act)(md_T *dx, const md_T *dy, const int64_t *argmax,
                                           const md_T *y, int activation,
                                           const md_pool2d_geom *g) {
    if (dx == NULL || dy == NULL || argmax == NULL || g == NULL) return MD_ERR_ARG;
    if (!MD_FN(md_pool_act_ok)(dx, y, activation)) return MD_ERR_ARG;
    const md_status st = md_pool2d_geom_check(g);
    if (st != MD_OK) return st;
    const int64_t channels = g->channels;
    const int64_t in_cells = g->in_h * g->in_w, out_cells = g->out_h * g->out_w;
    const int64_t image = in_cells * channels, out_image = out_cells * channels;
    const int tiled = md_pool_windows_tile(g);
    int bad = 0;

#pragma omp parallel for schedule(static) reduction(| : bad) \
    num_threads(md_threads_for(md_pool_scatter_work(g)))
    for (int64_t n = 0; n < g->batch; n++) {
        md_T *restrict dxn = dx + n * image;
        const md_T *restrict dyn = dy + n * out_image;
        const int64_t *restrict an = argmax + n * out_image;
        if (tiled && MD_FN(md_maxpool_backward_tiled)(dxn, dyn, an, y, n, activation, g))
            continue;
        memset(dxn, 0, (size_t)image * sizeof(md_T));
        int out_of_range = 0;
        for (int64_t i = 0; i < out_image; i++) out_of_range |= (an[i] < 0) | (an[i] >= in_cells);
        if (out_of_range) {
            bad |= 1;
            continue;
        }
        for (int64_t o = 0; o < out_cells; o++) {
            const md_T *restrict dyo = dyn + o * channels;
            const int64_t *restrict ao = an + o * channels;
            for (int64_t c = 0; c < channels; c++) dxn[ao[c] * channels + c] += dyo[c];
        }
        MD_FN(md_pool_backward_act)(dxn, y, n, image, activation);
    }
    return bad ? MD_ERR_ARG : MD_OK;
}

/* The lane masks of the AVX-512 2x2 average pooling rows, filled into table (2 *
 * MD_POOL2_SIMD_C entries), when they apply to this geometry (float32, AVX-512, 2x2 windows
 * with stride 2, fewer than MD_POOL2_SIMD_C channels); else NULL. */
static const uint16_t *MD_FN(md_pool2_simd_keep)(const md_pool2d_geom *g, uint16_t *table) {
#if MD_IS_F32 && MD_HAVE_POOL_AVX2
    if (md_pool_is_2x2(g) && g->channels < MD_POOL2_SIMD_C && md_isa_level() >= MD_ISA_AVX512) {
        md_pool2_keep(table, g->channels);
        return table;
    }
#endif
    (void)g, (void)table;
    return NULL;
}

/* One output row r = n * out_h + oh of average pooling when every window is whole
 * (md_pool_windows_whole): the pool_h input rows are summed first, in double over the
 * contiguous width (a vector loop whatever the channel count), then each window's
 * pool_w columns of that sum. tmp: in_w * channels doubles. */
static void MD_FN(md_avgpool_row_whole)(md_T *y, const md_T *x, const md_pool2d_geom *g,
                                        int64_t r, double *restrict tmp, const uint16_t *keep) {
    const int64_t channels = g->channels, width = g->in_w * channels;
    const int64_t n = r / g->out_h, oh = r % g->out_h;
    const md_T *restrict xr = x + (n * g->in_h + oh * g->stride_h) * width;
    md_T *restrict yr = y + r * g->out_w * channels;
    if (md_pool_is_2x2(g)) {
        /* the common 2x2 window, in the element type (four terms: within 2 ulp), the same
         * operations on every instruction set: ((x0 + x1) + (x0' + x1')) / 4 */
        const md_T *restrict x1 = xr + width;
#if MD_IS_F32 && MD_HAVE_POOL_AVX2
        if (keep != NULL) {
            md_avgpool2_row_avx512(yr, xr, x1, channels, g->out_w * channels, keep);
            return;
        }
#else
        (void)keep;
#endif
        for (int64_t ow = 0; ow < g->out_w; ow++) {
            const int64_t a = 2 * ow * channels, b = a + channels;
            for (int64_t c = 0; c < channels; c++)
                yr[ow * channels + c] =
                    ((xr[a + c] + x1[a + c]) + (xr[b + c] + x1[b + c])) * (md_T)0.25;
        }
        return;
    }
    for (int64_t j = 0; j < width; j++) tmp[j] = (double)xr[j];
    for (int64_t h = 1; h < g->pool_h; h++)
        for (int64_t j = 0; j < width; j++) tmp[j] += (double)xr[h * width + j];
    const double inv_count = 1.0 / (double)(g->pool_h * g->pool_w);
    for (int64_t ow = 0; ow < g->out_w; ow++) {
        const double *t = tmp + ow * g->stride_w * channels;
        for (int64_t c = 0; c < channels; c++) {
            double sum = t[c];
            for (int64_t w = 1; w < g->pool_w; w++) sum += t[w * channels + c];
            yr[ow * channels + c] = (md_T)(sum * inv_count);
        }
    }
}

/* y (batch, out_h, out_w, channels) = mean of x over the real (unpadded) cells of each
 * window, accumulated in double. */
md_status MD_FN(md_avgpool2d_forward)(md_T *y, const md_T *x, const md_pool2d_geom *g) {
    if (y == NULL || x == NULL || g == NULL) return MD_ERR_ARG;
    const md_status st = md_pool2d_geom_check(g);
    if (st != MD_OK) return st;
    const int64_t rows = g->batch * g->out_h;
    if (md_pool_windows_whole(g)) {
        uint16_t table[2 * MD_POOL2_SIMD_C];
        const uint16_t *keep = MD_FN(md_pool2_simd_keep)(g, table);
        int failed = 0;
#pragma omp parallel num_threads(md_threads_for(md_pool_work(g))) reduction(| : failed)
        {
            double *tmp = (double *)malloc((size_t)(g->in_w * g->channels) * sizeof(double));
            failed = tmp == NULL;
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r++)
                if (tmp != NULL) MD_FN(md_avgpool_row_whole)(y, x, g, r, tmp, keep);
            free(tmp);
        }
        return failed ? MD_ERR_ALLOC : MD_OK;
    }
#pragma omp parallel for schedule(static) num_threads(md_threads_for(md_pool_work(g)))
    for (int64_t r = 0; r < rows; r++) MD_FN(md_pool_forward_row)(y, NULL, x, *g, r, 1, 0);
    return MD_OK;
}

/* Image n of the average pooling backward when every window is whole and no two overlap
 * (stride >= pool): each input cell belongs to at most one window, so dx is written
 * once, row by row, instead of zeroed and then accumulated. */
static void MD_FN(md_avgpool_backward_disjoint)(md_T *restrict dxn, const md_T *restrict dyn,
                                                const md_pool2d_geom *g, const uint16_t *keep) {
    const int64_t channels = g->channels, width = g->in_w * channels;
    const md_T scale = (md_T)(1.0 / (double)(g->pool_h * g->pool_w));
    const int gaps = g->stride_w != g->pool_w || g->out_w * g->stride_w != g->in_w;
    for (int64_t h = 0; h < g->in_h; h++) {
        md_T *restrict dxr = dxn + h * width;
        const int64_t oh = h / g->stride_h;
        if (oh >= g->out_h || h - oh * g->stride_h >= g->pool_h) {
            memset(dxr, 0, (size_t)width * sizeof(md_T));
            continue;
        }
        if (gaps) memset(dxr, 0, (size_t)width * sizeof(md_T));
        const md_T *restrict dyr = dyn + oh * g->out_w * channels;
#if MD_IS_F32 && MD_HAVE_POOL_AVX2
        if (keep != NULL && !gaps && h % 2 == 0) { /* both rows of the window at once */
            md_avgpool2_back_row_avx512(dxr, dxr + width, dyr, channels, g->out_w * channels,
                                        keep);
            h++;
            continue;
        }
#endif
        if (g->pool_w == 2 && !gaps) { /* the common 2-wide window, without the loop over w */
            for (int64_t ow = 0; ow < g->out_w; ow++) {
                md_T *restrict d = dxr + 2 * ow * channels;
                for (int64_t c = 0; c < channels; c++) {
                    const md_T v = dyr[ow * channels + c] * scale;
                    d[c] = v;
                    d[channels + c] = v;
                }
            }
            continue;
        }
        for (int64_t ow = 0; ow < g->out_w; ow++)
            for (int64_t w = 0; w < g->pool_w; w++) {
                md_T *restrict d = dxr + (ow * g->stride_w + w) * channels;
                for (int64_t c = 0; c < channels; c++) d[c] = dyr[ow * channels + c] * scale;
            }
    }
}

/* dx (batch, in_h, in_w, channels) = 0, then every real cell of each window receives
 * dy / (number of real cells of the window). dx must not alias dy. */
md_status MD_FN(md_avgpool2d_backward)(md_T *dx, const md_T *dy, const md_pool2d_geom *g) {
    return MD_FN(md_avgpool2d_backward_act)(dx, dy, NULL, MD_ACT_LINEAR, g);
}

md_status MD_FN(md_avgpool2d_backward_act)(md_T *dx, const md_T *dy, const md_T *y,
                                           int activation, const md_pool2d_geom *g) {
    if (dx == NULL || dy == NULL || g == NULL) return MD_ERR_ARG;
    if (!MD_FN(md_pool_act_ok)(dx, y, activation)) return MD_ERR_ARG;
    const md_status st = md_pool2d_geom_check(g);
    if (st != MD_OK) return st;
    const int64_t channels = g->channels, in_h = g->in_h, in_w = g->in_w;
    const int64_t out_h = g->out_h, out_w = g->out_w;
    const int64_t image = in_h * in_w * channels, out_image = out_h * out_w * channels;

    if (md_pool_windows_whole(g) && g->stride_h >= g->pool_h && g->stride_w >= g->pool_w) {
        uint16_t table[2 * MD_POOL2_SIMD_C];
        const uint16_t *keep = MD_FN(md_pool2_simd_keep)(g, table);
#pragma omp parallel for schedule(static) num_threads(md_threads_for(md_pool_work(g)))
        for (int64_t n = 0; n < g->batch; n++) {
            MD_FN(md_avgpool_backward_disjoint)(dx + n * image, dy + n * out_image, g, keep);
            MD_FN(md_pool_backward_act)(dx + n * image, y, n, image, activation);
        }
        return MD_OK;
    }
#pragma omp parallel for schedule(static) num_threads(md_threads_for(md_pool_work(g)))
    for (int64_t n = 0; n < g->batch; n++) {
        md_T *restrict dxn = dx + n * image;
        const md_T *restrict dyn = dy + n * out_image;
        memset(dxn, 0, (size_t)image * sizeof(md_T));
        for (int64_t oh = 0; oh < out_h; oh++) {
            int64_t h0, h1;
            md_pool_window(oh, g->stride_h, g->pad_top, g->pool_h, in_h, &h0, &h1);
            for (int64_t ow = 0; ow < out_w; ow++) {
                int64_t w0, w1;
                md_pool_window(ow, g->stride_w, g->pad_left, g->pool_w, in_w, &w0, &w1);
                const md_T scale = (md_T)(1.0 / (double)((h1 - h0) * (w1 - w0)));
                const md_T *restrict dyo = dyn + (oh * out_w + ow) * channels;
                for (int64_t h = h0; h < h1; h++) {
                    for (int64_t w = w0; w < w1; w++) {
                        md_T *restrict dxp = dxn + (h * in_w + w) * channels;
                        for (int64_t c = 0; c < channels; c++) dxp[c] += dyo[c] * scale;
                    }
                }
            }
        }
        MD_FN(md_pool_backward_act)(dxn, y, n, image, activation);
    }
    return MD_OK;
}
