/* batchnorm_impl.h -- batch normalization kernels, written once in terms of md_T and
 * MD_FN (instantiated for float and double by batchnorm.c through md_instantiate.h).
 *
 * All per-channel arithmetic is in double; elements are read as md_T, computed in
 * double and rounded once when stored. Outputs may alias inputs of the same shape
 * (y may be x; dx may be dy or x): every reduction over the inputs finishes before
 * the elementwise pass, which reads and writes each element at the same index. */

/* Per-channel sums over the rows of a (and b), in double, following md_bn_plan (see
 * batchnorm.c for the modes). s1 (channels) is written; s2 (channels) is written for
 * MD_BN_DEV and MD_BN_DY_DYXC. Bit-identical for every thread count. */
static md_status MD_FN(md_bn_sums)(double *s1, double *s2, int mode, const md_T *a,
                                   const md_T *b, const double *center, int64_t rows,
                                   int64_t channels) {
    const md_bn_plan p = md_bn_make_plan(rows, channels);
    const int nsums = mode == MD_BN_SUM ? 1 : 2;
    const int64_t plane = p.ngroups * channels; /* partials of one sum */
    double *part = (double *)malloc((size_t)(nsums * plane) * sizeof(double));
    if (part == NULL) return MD_ERR_ALLOC;
    const int64_t ntasks = p.ngroups * p.nblocks;

#pragma omp parallel for schedule(static) num_threads(md_threads_for(rows * channels))
    for (int64_t t = 0; t < ntasks; t++) {
        const int64_t gi = t / p.nblocks;
        const int64_t c0 = (t % p.nblocks) * MD_BN_CBLOCK;
        const int64_t cb = md_min64(MD_BN_CBLOCK, channels - c0);
        const int64_t k_end = md_min64((gi + 1) * p.chunks_per_group, p.nchunks);
        double g1[MD_BN_CBLOCK], g2[MD_BN_CBLOCK], a1[MD_BN_CBLOCK], a2[MD_BN_CBLOCK];
        double ctr[MD_BN_CBLOCK];
        for (int64_t j = 0; j < cb; j++) {
            g1[j] = 0.0;
            g2[j] = 0.0;
            ctr[j] = center != NULL ? center[c0 + j] : 0.0;
        }
        for (int64_t k = gi * p.chunks_per_group; k < k_end; k++) {
            const int64_t r0 = k * MD_REDUCE_CHUNK_ROWS;
            const int64_t r1 = md_min64(r0 + MD_REDUCE_CHUNK_ROWS, rows);
            for (int64_t j = 0; j < cb; j++) {
                a1[j] = 0.0;
                a2[j] = 0.0;
            }
            if (mode == MD_BN_SUM) {
                for (int64_t r = r0; r < r1; r++) {
                    const md_T *ar = a + r * channels + c0;
                    for (int64_t j = 0; j < cb; j++) a1[j] += (double)ar[j];
                }
            } else if (mode == MD_BN_DEV) {
                for (int64_t r = r0; r < r1; r++) {
                    const md_T *ar = a + r * channels + c0;
                    for (int64_t j = 0; j < cb; j++) {
                        const double d = (double)ar[j] - ctr[j];
                        a1[j] += d * d;
                        a2[j] += d;
                    }
                }
            } else {
                for (int64_t r = r0; r < r1; r++) {
                    const md_T *ar = a + r * channels + c0;
                    const md_T *br = b + r * channels + c0;
                    for (int64_t j = 0; j < cb; j++) {
                        const double dy = (double)ar[j];
                        a1[j] += dy;
                        a2[j] += dy * ((double)br[j] - ctr[j]);
                    }
                }
            }
            for (int64_t j = 0; j < cb; j++) {
                g1[j] += a1[j];
                g2[j] += a2[j];
            }
        }
        double *p1 = part + gi * channels + c0;
        for (int64_t j = 0; j < cb; j++) p1[j] = g1[j];
        if (nsums == 2) {
            double *p2 = part + plane + gi * channels + c0;
            for (int64_t j = 0; j < cb; j++) p2[j] = g2[j];
        }
    }

    /* group partials in group order */
    for (int64_t c = 0; c < channels; c++) {
        double t1 = 0.0, t2 = 0.0;
        for (int64_t gi = 0; gi < p.ngroups; gi++) {
            t1 += part[gi * channels + c];
            if (nsums == 2) t2 += part[plane + gi * channels + c];
        }
        s1[c] = t1;
        if (nsums == 2) s2[c] = t2;
    }
    free(part);
    return MD_OK;
}

/* Per-channel mean and biased variance of x (rows, channels) in double: the corrected
 * two-pass algorithm (mean; then squared deviations about it, with the first-order
 * correction sum(d)^2 / n that removes the rounding error of the mean). */
static md_status MD_FN(md_bn_stats)(double *mean, double *var, const md_T *x, int64_t rows,
                                    int64_t channels) {
    md_status st = MD_FN(md_bn_sums)(mean, NULL, MD_BN_SUM, x, NULL, NULL, rows, channels);
    if (st != MD_OK) return st;
    const double inv_n = 1.0 / (double)rows;
    for (int64_t c = 0; c < channels; c++) mean[c] *= inv_n;
    double *dsum = (double *)malloc((size_t)channels * sizeof(double));
    if (dsum == NULL) return MD_ERR_ALLOC;
    st = MD_FN(md_bn_sums)(var, dsum, MD_BN_DEV, x, NULL, mean, rows, channels);
    if (st == MD_OK) {
        for (int64_t c = 0; c < channels; c++) {
            const double corr = dsum[c] * inv_n; /* mean of the deviations */
            const double v = var[c] * inv_n - corr * corr;
            var[c] = v > 0.0 ? v : (v == v ? 0.0 : v); /* clamp rounding, keep NaN */
            mean[c] += corr;
        }
    }
    free(dsum);
    return st;
}

/* y[r, c] = (x[r, c] - mean[c]) * scale[c] + shift[c], parallel over rows. */
static void MD_FN(md_bn_affine)(md_T *y, const md_T *x, const double *mean,
                                const double *scale, const double *shift, int64_t rows,
                                int64_t channels) {
#pragma omp parallel for schedule(static) num_threads(md_threads_for(rows * channels))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *xr = x + r * channels;
        md_T *yr = y + r * channels;
        for (int64_t c = 0; c < channels; c++)
            yr[c] = (md_T)(((double)xr[c] - mean[c]) * scale[c] + shift[c]);
    }
}

/* Fill mean_d / r_d (channels) from given statistics; MD_ERR_ARG when var + eps < 0. */
static md_status MD_FN(md_bn_given_stats)(double *mean_d, double *r_d, const md_T *mean,
                                          const md_T *var, int64_t channels, double eps) {
    int bad = 0;
    for (int64_t c = 0; c < channels; c++) {
        bad |= (double)var[c] + eps < 0.0;
        mean_d[c] = (double)mean[c];
        r_d[c] = md_bn_rstd((double)var[c], eps);
    }
    return bad ? MD_ERR_ARG : MD_OK;
}

/* The common start of the kernels that use given statistics (forward_infer and both
 * backwards): the geometry check, then MD_ERR_ARG unless `pointers_ok`, then a zeroed
 * double array of `narrays` rows of channels whose first two rows are mean and
 * 1 / sqrt(var + eps) (md_bn_given_stats). On MD_OK the caller owns *work and frees it;
 * on any error nothing is left allocated. */
static md_status MD_FN(md_bn_begin_given)(double **work, int narrays, int pointers_ok,
                                          const md_T *mean, const md_T *var,
                                          const md_batchnorm_geom *g) {
    md_status st = md_bn_check_geom(g, (int)sizeof(md_T));
    if (st != MD_OK) return st;
    if (!pointers_ok) return MD_ERR_ARG;
    const int64_t channels = g->channels;
    double *w = (double *)calloc((size_t)narrays * (size_t)channels, sizeof(double));
    if (w == NULL) return MD_ERR_ALLOC;
    st = MD_FN(md_bn_given_stats)(w, w + channels, mean, var, channels, g->epsilon);
    if (st != MD_OK) {
        free(w);
        return st;
    }
    *work = w;
    return MD_OK;
}

/* The parameter gradients of both backwards from the per-channel sums:
 * dgamma = sum dy * xhat = r * sum dy * (x - mean), dbeta = sum dy (each may be NULL). */
static void MD_FN(md_bn_param_grads)(md_T *dgamma, md_T *dbeta, const double *r,
                                     const double *s_dy, const double *s_dyxc,
                                     int64_t channels) {
    for (int64_t c = 0; c < channels; c++) {
        if (dgamma != NULL) dgamma[c] = (md_T)(r[c] * s_dyxc[c]);
        if (dbeta != NULL) dbeta[c] = (md_T)s_dy[c];
    }
}

md_status MD_FN(md_moments)(md_T *mean, md_T *var, const md_T *x, int64_t rows,
                            int64_t channels) {
    if (mean == NULL || var == NULL || x == NULL) return MD_ERR_ARG;
    md_batchnorm_geom g = {rows, channels, 0.0, 0.0};
    md_status st = md_bn_check_geom(&g, (int)sizeof(md_T));
    if (st != MD_OK) return st;
    double *work = (double *)calloc(2 * (size_t)channels, sizeof(double));
    if (work == NULL) return MD_ERR_ALLOC;
    double *mean_d = work, *var_d = work + channels;
    st = MD_FN(md_bn_stats)(mean_d, var_d, x, rows, channels);
    if (st == MD_OK) {
        for (int64_t c = 0; c < channels; c++) {
            mean[c] = (md_T)mean_d[c];
            var[c] = (md_T)var_d[c];
        }
    }
    free(work);
    return st;
}

md_status MD_FN(md_batchnorm_forward_train)(md_T *y, md_T *batch_mean, md_T *batch_var,
                                            md_T *moving_mean, md_T *moving_var,
                                            const md_T *x, const md_T *gamma,
                                            const md_T *beta, const md_batchnorm_geom *g) {
    md_status st = md_bn_check_geom(g, (int)sizeof(md_T));
    if (st != MD_OK) return st;
    if (y == NULL || batch_mean == NULL || batch_var == NULL || x == NULL) return MD_ERR_ARG;
    const int64_t rows = g->rows, channels = g->channels;
    double *work = (double *)calloc(4 * (size_t)channels, sizeof(double));
    if (work == NULL) return MD_ERR_ALLOC;
    double *mean_d = work, *var_d = work + channels;
    double *scale = work + 2 * channels, *shift = work + 3 * channels;
    st = MD_FN(md_bn_stats)(mean_d, var_d, x, rows, channels);
    if (st != MD_OK) {
        free(work);
        return st;
    }
    const double mom = g->momentum;
    for (int64_t c = 0; c < channels; c++) {
        scale[c] = (gamma != NULL ? (double)gamma[c] : 1.0) * md_bn_rstd(var_d[c], g->epsilon);
        shift[c] = beta != NULL ? (double)beta[c] : 0.0;
    }
    /* y may alias x: normalise before anything else is written over x's memory */
    MD_FN(md_bn_affine)(y, x, mean_d, scale, shift, rows, channels);
    for (int64_t c = 0; c < channels; c++) {
        batch_mean[c] = (md_T)mean_d[c];
        batch_var[c] = (md_T)var_d[c];
        if (moving_mean != NULL)
            moving_mean[c] = (md_T)((double)moving_mean[c] * mom + mean_d[c] * (1.0 - mom));
        if (moving_var != NULL)
            moving_var[c] = (md_T)((double)moving_var[c] * mom + var_d[c] * (1.0 - mom));
    }
    free(work);
    return MD_OK;
}

md_status MD_FN(md_batchnorm_forward_infer)(md_T *y, const md_T *x, const md_T *mean,
                                            const md_T *var, const md_T *gamma,
                                            const md_T *beta, const md_batchnorm_geom *g) {
    double *work;
    const md_status st = MD_FN(md_bn_begin_given)(
        &work, 3, y != NULL && x != NULL && mean != NULL && var != NULL, mean, var, g);
    if (st != MD_OK) return st;
    const int64_t channels = g->channels;
    double *mean_d = work, *scale = work + channels, *shift = work + 2 * channels;
    for (int64_t c = 0; c < channels; c++) {
        scale[c] *= gamma != NULL ? (double)gamma[c] : 1.0;
        shift[c] = beta != NULL ? (double)beta[c] : 0.0;
    }
    MD_FN(md_bn_affine)(y, x, mean_d, scale, shift, g->rows, channels);
    free(work);
    return MD_OK;
}

md_status MD_FN(md_batchnorm_backward_train)(md_T *dx, md_T *dgamma, md_T *dbeta,
                                             const md_T *dy, const md_T *x,
                                             const md_T *batch_mean, const md_T *batch_var,
                                             const md_T *gamma, const md_batchnorm_geom *g) {
    double *work;
    md_status st = MD_FN(md_bn_begin_given)(
        &work, 4,
        dx != NULL && dy != NULL && x != NULL && batch_mean != NULL && batch_var != NULL,
        batch_mean, batch_var, g);
    if (st != MD_OK) return st;
    const int64_t rows = g->rows, channels = g->channels;
    double *mean_d = work, *r_d = work + channels;
    double *s_dy = work + 2 * channels, *s_dyxc = work + 3 * channels;
    st = MD_FN(md_bn_sums)(s_dy, s_dyxc, MD_BN_DY_DYXC, dy, x, mean_d, rows, channels);
    if (st != MD_OK) {
        free(work);
        return st;
    }
    MD_FN(md_bn_param_grads)(dgamma, dbeta, r_d, s_dy, s_dyxc, channels);
    /* dx = gamma*r * (dy - sum dy / m - (x - mean) * r^2 * sum dy*(x - mean) / m), kept in
     * the per-channel arrays: k1 = gamma*r, k2 = sum dy / m, k3 = r^2 sum dy*(x-mean) / m */
    const double inv_m = 1.0 / (double)rows;
    for (int64_t c = 0; c < channels; c++) {
        const double r = r_d[c];
        const double k3 = r * r * s_dyxc[c] * inv_m;
        s_dy[c] *= inv_m;
        s_dyxc[c] = k3;
        r_d[c] = (gamma != NULL ? (double)gamma[c] : 1.0) * r;
    }
    const double *k1 = r_d, *k2 = s_dy, *k3 = s_dyxc;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(rows * channels))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *dyr = dy + r * channels;
        const md_T *xr = x + r * channels;
        md_T *dxr = dx + r * channels;
        for (int64_t c = 0; c < channels; c++)
            dxr[c] = (md_T)(k1[c] * ((double)dyr[c] - k2[c] -
                                     ((double)xr[c] - mean_d[c]) * k3[c]));
    }
    free(work);
    return MD_OK;
}

md_status MD_FN(md_batchnorm_backward_infer)(md_T *dx, md_T *dgamma, md_T *dbeta,
                                             const md_T *dy, const md_T *x,
                                             const md_T *mean, const md_T *var,
                                             const md_T *gamma, const md_batchnorm_geom *g) {
    double *work;
    md_status st = MD_FN(md_bn_begin_given)(
        &work, 4, dx != NULL && dy != NULL && x != NULL && mean != NULL && var != NULL,
        mean, var, g);
    if (st != MD_OK) return st;
    const int64_t rows = g->rows, channels = g->channels;
    double *mean_d = work, *r_d = work + channels;
    double *s_dy = work + 2 * channels, *s_dyxc = work + 3 * channels;
    /* parameter gradients first (dx may alias dy) */
    if (dgamma != NULL)
        st = MD_FN(md_bn_sums)(s_dy, s_dyxc, MD_BN_DY_DYXC, dy, x, mean_d, rows, channels);
    else if (dbeta != NULL)
        st = MD_FN(md_bn_sums)(s_dy, NULL, MD_BN_SUM, dy, NULL, NULL, rows, channels);
    if (st != MD_OK) {
        free(work);
        return st;
    }
    MD_FN(md_bn_param_grads)(dgamma, dbeta, r_d, s_dy, s_dyxc, channels);
    for (int64_t c = 0; c < channels; c++)
        r_d[c] *= gamma != NULL ? (double)gamma[c] : 1.0; /* now gamma * r */
    const double *k = r_d;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(rows * channels))
    for (int64_t r = 0; r < rows; r++) {
        const md_T *dyr = dy + r * channels;
        md_T *dxr = dx + r * channels;
        for (int64_t c = 0; c < channels; c++) dxr[c] = (md_T)((double)dyr[c] * k[c]);
    }
    free(work);
    return MD_OK;
}
