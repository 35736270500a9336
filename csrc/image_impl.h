/* image_impl.h -- kernel bodies of image.c, written once for md_T (float / double).
 * Included twice by md_instantiate.h; the type-independent helpers live in image.c. */

/* One bilinear sample of c channels, in double:
 *     yp = wr0 * (wc0 * p00 + fc * p01) + fr * (wc0 * p10 + fc * p11)
 * with wr0 = 1 - fr and wc0 = 1 - fc (passed in, so that a caller can hoist them). */
static inline void MD_FN(md_img_bilinear)(md_T *yp, const md_T *p00, const md_T *p01,
                                          const md_T *p10, const md_T *p11, double wr0,
                                          double fr, double wc0, double fc, int64_t c) {
    for (int64_t ch = 0; ch < c; ch++) {
        const double top = wc0 * (double)p00[ch] + fc * (double)p01[ch];
        const double bottom = wc0 * (double)p10[ch] + fc * (double)p11[ch];
        yp[ch] = (md_T)(wr0 * top + fr * bottom);
    }
}

/* One output row of an affine warp: out_w pixels of image xi (h, w, c) into yrow. */
static void MD_FN(md_affine_row)(md_T *yrow, const md_T *xi, const md_T *cval_pixel,
                                 const double *t, int64_t r, int64_t h, int64_t w, int64_t c,
                                 int64_t out_w, int fill_mode, md_T cval) {
    const double rr = (double)r;
    for (int64_t col = 0; col < out_w; col++) {
        const double cc = (double)col;
        const double sr = t[0] * rr + t[1] * cc + t[2];
        const double sc = t[3] * rr + t[4] * cc + t[5];
        md_T *yp = yrow + col * c;
        int64_t r0, r1, c0, c1;
        double fr, fc;
        if (!md_img_axis(sr, h, fill_mode, &r0, &r1, &fr) ||
            !md_img_axis(sc, w, fill_mode, &c0, &c1, &fc)) {
            for (int64_t ch = 0; ch < c; ch++) yp[ch] = cval;
            continue;
        }
        /* a neighbour index of -1 (constant mode only) reads the cval pixel */
        const md_T *p00 = (r0 < 0 || c0 < 0) ? cval_pixel : xi + (r0 * w + c0) * c;
        const md_T *p01 = (r0 < 0 || c1 < 0) ? cval_pixel : xi + (r0 * w + c1) * c;
        const md_T *p10 = (r1 < 0 || c0 < 0) ? cval_pixel : xi + (r1 * w + c0) * c;
        const md_T *p11 = (r1 < 0 || c1 < 0) ? cval_pixel : xi + (r1 * w + c1) * c;
        MD_FN(md_img_bilinear)(yp, p00, p01, p10, p11, 1.0 - fr, fr, 1.0 - fc, fc, c);
    }
}

md_status MD_FN(md_affine_warp)(md_T *y, const md_T *x, const double *transforms, int64_t n,
                                int64_t h, int64_t w, int64_t c, int64_t out_h, int64_t out_w,
                                int fill_mode, double cval) {
    if (transforms == NULL) return MD_ERR_ARG;
    int64_t in_count = 0, out_count = 0, t_count = 0;
    md_status st = md_img_check(y, x, n, h, w, c, out_h, out_w, &in_count, &out_count);
    if (st != MD_OK) return st;
    if (fill_mode != MD_FILL_NEAREST && fill_mode != MD_FILL_CONSTANT &&
        fill_mode != MD_FILL_REFLECT && fill_mode != MD_FILL_WRAP)
        return MD_ERR_ARG;
    int64_t twice = 0;
    if (!md_mul_ok(n, 6, &t_count) || !md_mul_ok(md_max64(h, w), 2, &twice))
        return MD_ERR_OVERFLOW;
    /* the pixel that out-of-image neighbours read in constant mode */
    md_T *cval_pixel = NULL;
    const md_T cv = (md_T)cval;
    if (fill_mode == MD_FILL_CONSTANT) {
        cval_pixel = (md_T *)malloc((size_t)c * sizeof(md_T));
        if (cval_pixel == NULL) return MD_ERR_ALLOC;
        for (int64_t ch = 0; ch < c; ch++) cval_pixel[ch] = cv;
    }
    const int64_t rows = n * out_h;
    const int64_t image_size = h * w * c;
    const int64_t row_size = out_w * c;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(out_count))
    for (int64_t row = 0; row < rows; row++) {
        const int64_t i = row / out_h;
        MD_FN(md_affine_row)(y + row * row_size, x + i * image_size, cval_pixel,
                             transforms + 6 * i, row - i * out_h, h, w, c, out_w, fill_mode,
                             cv);
    }
    free(cval_pixel);
    return MD_OK;
}

md_status MD_FN(md_flip_horizontal)(md_T *y, const md_T *x, const uint8_t *flags, int64_t n,
                                    int64_t h, int64_t w, int64_t c) {
    int64_t count = 0, out_count = 0;
    md_status st = md_img_check(y, x, n, h, w, c, h, w, &count, &out_count);
    if (st != MD_OK) return st;
    if ((uint64_t)count > SIZE_MAX / sizeof(md_T)) return MD_ERR_OVERFLOW;
    /* y may not overlap x at all (the flip reads a row while writing it) */
    const uintptr_t ya = (uintptr_t)y, xa = (uintptr_t)x;
    const uintptr_t bytes = (uintptr_t)count * sizeof(md_T);
    if (ya < xa + bytes && xa < ya + bytes) return MD_ERR_ARG;
    const int64_t rows = n * h;
    const int64_t row_size = w * c;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(count))
    for (int64_t row = 0; row < rows; row++) {
        const int64_t i = row / h;
        const md_T *xr = x + row * row_size;
        md_T *yr = y + row * row_size;
        if (flags != NULL && flags[i] == 0) {
            memcpy(yr, xr, (size_t)row_size * sizeof(md_T));
            continue;
        }
        for (int64_t col = 0; col < w; col++) {
            const md_T *src = xr + (w - 1 - col) * c;
            md_T *dst = yr + col * c;
            for (int64_t ch = 0; ch < c; ch++) dst[ch] = src[ch];
        }
    }
    return MD_OK;
}

md_status MD_FN(md_resize_bilinear)(md_T *y, const md_T *x, int64_t n, int64_t h, int64_t w,
                                    int64_t c, int64_t out_h, int64_t out_w) {
    int64_t in_count = 0, out_count = 0;
    md_status st = md_img_check(y, x, n, h, w, c, out_h, out_w, &in_count, &out_count);
    if (st != MD_OK) return st;
    if ((uint64_t)out_w > SIZE_MAX / (2 * sizeof(int64_t) + sizeof(double)))
        return MD_ERR_OVERFLOW;
    /* column table: the two source columns (as offsets, times c) and the weight of the
     * right one, for every output column */
    int64_t *col_off = (int64_t *)malloc((size_t)out_w * 2 * sizeof(int64_t));
    double *col_f = (double *)malloc((size_t)out_w * sizeof(double));
    if (col_off == NULL || col_f == NULL) {
        free(col_off);
        free(col_f);
        return MD_ERR_ALLOC;
    }
    /* half-pixel centres, clamped to the image: the nearest fill mode of md_img_axis */
    const double scale_w = (double)w / (double)out_w;
    const double scale_h = (double)h / (double)out_h;
    for (int64_t j = 0; j < out_w; j++) {
        int64_t k0, k1;
        md_img_axis(((double)j + 0.5) * scale_w - 0.5, w, MD_FILL_NEAREST, &k0, &k1, &col_f[j]);
        col_off[2 * j] = k0 * c;
        col_off[2 * j + 1] = k1 * c;
    }
    const int64_t rows = n * out_h;
    const int64_t image_size = h * w * c;
    const int64_t in_row_size = w * c;
    const int64_t out_row_size = out_w * c;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(out_count))
    for (int64_t row = 0; row < rows; row++) {
        const int64_t i = row / out_h;
        const int64_t r = row - i * out_h;
        int64_t k0, k1;
        double fr;
        md_img_axis(((double)r + 0.5) * scale_h - 0.5, h, MD_FILL_NEAREST, &k0, &k1, &fr);
        const md_T *x0 = x + i * image_size + k0 * in_row_size;
        const md_T *x1 = x + i * image_size + k1 * in_row_size;
        md_T *yr = y + row * out_row_size;
        const double wr0 = 1.0 - fr;
        for (int64_t j = 0; j < out_w; j++)
            MD_FN(md_img_bilinear)(yr + j * c, x0 + col_off[2 * j], x0 + col_off[2 * j + 1],
                                   x1 + col_off[2 * j], x1 + col_off[2 * j + 1], wr0, fr,
                                   1.0 - col_f[j], col_f[j], c);
    }
    free(col_off);
    free(col_f);
    return MD_OK;
}
