/* batchnorm_impl.h -- batch normalization kernels, written once in terms of md_T and
 * MD_FN (instantiated for float and double by batchnorm.c through md_instantiate.h).
 *
 * Statistics and reductions are accumulated in double; the elementwise passes compute in
 * md_T from per-lane coefficients prepared in double and rounded once. Outputs may alias
 * inputs of the same shape (y may be x; dx may be dy or x): every reduction over the
 * inputs finishes before the elementwise pass, which reads and writes each element at the
 * same index. */

/* The lane loops of one ISA level (batchnorm_lanes_impl.h). */
typedef struct {
    void (*sums)(double *restrict s1, double *restrict s2, int mode, const md_T *restrict a,
                 const md_T *restrict b, const md_T *restrict ctr, int64_t start,
                 int64_t end, int64_t P);
    void (*affine)(md_T *y, const md_T *x, const md_T *restrict m, const md_T *restrict a,
                   const md_T *restrict b, int64_t start, int64_t end, int64_t P);
    void (*dx)(md_T *dx, const md_T *dy, const md_T *x, const md_T *restrict m,
               const md_T *restrict k1, const md_T *restrict k2, const md_T *restrict k3,
               int64_t start, int64_t end, int64_t P);
    void (*scale)(md_T *dx, const md_T *dy, const md_T *restrict k, int64_t start,
                  int64_t end, int64_t P);
} MD_FN(md_bn_lanes);

#define MD_BN_ATTR
#define MD_BN_ISA(name) MD_CAT(MD_FN(name), _base)
#include "batchnorm_lanes_impl.h"
#undef MD_BN_ATTR
#undef MD_BN_ISA
#if MD_HAVE_BN_AVX2
#define MD_BN_ATTR __attribute__((target("avx2,fma")))
#define MD_BN_ISA(name) MD_CAT(MD_FN(name), _avx2)
#if MD_IS_F32
#define MD_BN_SLICES8 1 /* the 8-lane float intrinsic loops of batchnorm.c */
#endif
#include "batchnorm_lanes_impl.h"
#undef MD_BN_ATTR
#undef MD_BN_ISA
#undef MD_BN_SLICES8
#endif

/* The lane loops for the current ISA level (md_force_isa lowers it for tests). */
static const MD_FN(md_bn_lanes) *MD_FN(md_bn_lanes_get)(void) {
#if MD_HAVE_BN_AVX2
    if (md_use_avx2()) return &MD_CAT(MD_FN(md_bn_lanes_table), _avx2);
#endif
    return &MD_CAT(MD_FN(md_bn_lanes_table), _base);
}

/* lanes[l] = values[l % channels] for the P lanes of the plan, rounded to md_T. */
static void MD_FN(md_bn_spread)(md_T *lanes, const double *values, const md_bn_plan *p) {
    for (int64_t l = 0; l < p->period; l++) lanes[l] = (md_T)values[l % p->channels];
}

/* One zeroed allocation holding `nch` per-channel double arrays followed by `nlanes`
 * md_T lane arrays; *lanes points at the first lane array. NULL when out of memory. */
static double *MD_FN(md_bn_alloc)(md_T **lanes, int nch, int nlanes, const md_bn_plan *p) {
    const size_t dbytes = (size_t)nch * (size_t)p->channels * sizeof(double);
    const size_t lbytes = (size_t)nlanes * (size_t)p->period * sizeof(md_T);
    double *w = (double *)calloc(1, dbytes + lbytes);
    if (w != NULL) *lanes = (md_T *)((char *)w + dbytes);
    return w;
}

/* Per-channel sums over the rows of a (and b), in double, following md_bn_plan (see
 * batchnorm.c for the modes). s1 (channels) is written; s2 (channels) is written for
 * MD_BN_DEV and MD_BN_DY_DYXC. center (channels) may be NULL for MD_BN_SUM.
 * Bit-identical for every thread count. */
static md_status MD_FN(md_bn_sums)(double *s1, double *s2, int mode, const md_T *a,
                                   const md_T *b, const md_T *center, int64_t rows,
                                   int64_t channels) {
    const md_bn_plan p = md_bn_make_plan(rows, channels);
    const int64_t P = p.period, G = p.ngroups;
    const int nsums = mode == MD_BN_SUM ? 1 : 2;
    double *part = (double *)malloc((size_t)((nsums * G + 1) * P) * sizeof(double));
    if (part == NULL) return MD_ERR_ALLOC;
    md_T *ctr = (md_T *)(part + nsums * G * P);
    for (int64_t l = 0; l < P; l++) ctr[l] = center != NULL ? center[l % channels] : (md_T)0;
    const MD_FN(md_bn_lanes) *lanes = MD_FN(md_bn_lanes_get)();

#pragma omp parallel for schedule(static) num_threads(md_threads_for(p.n))
    for (int64_t gi = 0; gi < G; gi++) {
        double *g1 = part + gi * P, *g2 = nsums == 2 ? part + (G + gi) * P : NULL;
        memset(g1, 0, (size_t)P * sizeof(double));
        if (g2 != NULL) memset(g2, 0, (size_t)P * sizeof(double));
        int64_t start, end;
        md_bn_group_range(&p, gi, &start, &end);
        lanes->sums(g1, g2, mode, a, b, ctr, start, end, P);
    }

    /* fold: groups in order, and within a group the lanes of each channel in order */
    for (int64_t c = 0; c < channels; c++) {
        double t1 = 0.0, t2 = 0.0;
        for (int64_t gi = 0; gi < G; gi++)
            for (int64_t l = c; l < P; l += channels) {
                t1 += part[gi * P + l];
                if (nsums == 2) t2 += part[(G + gi) * P + l];
            }
        s1[c] = t1;
        if (nsums == 2) s2[c] = t2;
    }
    free(part);
    return MD_OK;
}

/* Per-channel mean and biased variance of x (rows, channels) in double, in one pass:
 * sums of d = x - K and d^2 about a shift K taken from the data (the first row), so
 * var = mean(d^2) - mean(d)^2 suffers no cancellation unless K lies many standard
 * deviations from the mean, which a sample of the data does not. */
static md_status MD_FN(md_bn_stats)(double *mean, double *var, const md_T *x, int64_t rows,
                                    int64_t channels) {
    const md_T *shift = x; /* the first row */
    const md_status st = MD_FN(md_bn_sums)(mean, var, MD_BN_DEV, x, NULL, shift, rows,
                                           channels);
    if (st == MD_OK) {
        const double inv_n = 1.0 / (double)rows;
        for (int64_t c = 0; c < channels; c++) {
            const double dm = mean[c] * inv_n; /* mean of the deviations */
            const double v = var[c] * inv_n - dm * dm;
            var[c] = v > 0.0 ? v : (v == v ? 0.0 : v); /* clamp rounding, keep NaN */
            mean[c] = (double)shift[c] + dm;
        }
    }
    return st;
}

/* y = (x - mean) * scale + shift elementwise, from per-channel double coefficients. */
static void MD_FN(md_bn_affine)(md_T *y, const md_T *x, const double *mean,
                                const double *scale, const double *shift, md_T *lanes,
                                const md_bn_plan *p) {
    md_T *m = lanes, *a = lanes + p->period, *b = lanes + 2 * p->period;
    MD_FN(md_bn_spread)(m, mean, p);
    MD_FN(md_bn_spread)(a, scale, p);
    MD_FN(md_bn_spread)(b, shift, p);
    const MD_FN(md_bn_lanes) *fns = MD_FN(md_bn_lanes_get)();
#pragma omp parallel for schedule(static) num_threads(md_threads_for(p->n))
    for (int64_t gi = 0; gi < p->ngroups; gi++) {
        int64_t start, end;
        md_bn_group_range(p, gi, &start, &end);
        fns->affine(y, x, m, a, b, start, end, p->period);
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
 * backwards): the geometry check, then MD_ERR_ARG unless `pointers_ok`, then the zeroed
 * allocation of md_bn_alloc (`nch` channel arrays, `nlanes` lane arrays) whose first two
 * channel arrays are mean and 1 / sqrt(var + eps) (md_bn_given_stats). On MD_OK the
 * caller owns *work and frees it; on any error nothing is left allocated. */
static md_status MD_FN(md_bn_begin_given)(double **work, md_T **lanes, md_bn_plan *p,
                                          int nch, int nlanes, int pointers_ok,
                                          const md_T *mean, const md_T *var,
                                          const md_batchnorm_geom *g) {
    md_status st = md_bn_check_geom(g, (int)sizeof(md_T));
    if (st != MD_OK) return st;
    if (!pointers_ok) return MD_ERR_ARG;
    *p = md_bn_make_plan(g->rows, g->channels);
    double *w = MD_FN(md_bn_alloc)(lanes, nch, nlanes, p);
    if (w == NULL) return MD_ERR_ALLOC;
    st = MD_FN(md_bn_given_stats)(w, w + g->channels, mean, var, g->channels, g->epsilon);
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
    const md_bn_plan p = md_bn_make_plan(rows, channels);
    md_T *lanes;
    double *work = MD_FN(md_bn_alloc)(&lanes, 4, 3, &p);
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
    MD_FN(md_bn_affine)(y, x, mean_d, scale, shift, lanes, &p);
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
    md_T *lanes;
    md_bn_plan p;
    const md_status st = MD_FN(md_bn_begin_given)(
        &work, &lanes, &p, 3, 3, y != NULL && x != NULL && mean != NULL && var != NULL, mean,
        var, g);
    if (st != MD_OK) return st;
    const int64_t channels = g->channels;
    double *mean_d = work, *scale = work + channels, *shift = work + 2 * channels;
    for (int64_t c = 0; c < channels; c++) {
        scale[c] *= gamma != NULL ? (double)gamma[c] : 1.0;
        shift[c] = beta != NULL ? (double)beta[c] : 0.0;
    }
    MD_FN(md_bn_affine)(y, x, mean_d, scale, shift, lanes, &p);
    free(work);
    return MD_OK;
}

md_status MD_FN(md_batchnorm_backward_train)(md_T *dx, md_T *dgamma, md_T *dbeta,
                                             const md_T *dy, const md_T *x,
                                             const md_T *batch_mean, const md_T *batch_var,
                                             const md_T *gamma, const md_batchnorm_geom *g) {
    return MD_FN(md_batchnorm_backward_train_act)(dx, dgamma, dbeta, dy, x, batch_mean,
                                                  batch_var, gamma, MD_ACT_LINEAR, g);
}

md_status MD_FN(md_batchnorm_backward_train_act)(md_T *dx, md_T *dgamma, md_T *dbeta,
                                                 const md_T *dy, const md_T *x,
                                                 const md_T *batch_mean,
                                                 const md_T *batch_var, const md_T *gamma,
                                                 int activation, const md_batchnorm_geom *g) {
    if (!md_act_fusable(activation)) return MD_ERR_ARG;
    if (activation != MD_ACT_LINEAR && dx == x) return MD_ERR_ARG; /* x is read after dx */
    double *work;
    md_T *lanes;
    md_bn_plan p;
    md_status st = MD_FN(md_bn_begin_given)(
        &work, &lanes, &p, 4, 4,
        dx != NULL && dy != NULL && x != NULL && batch_mean != NULL && batch_var != NULL,
        batch_mean, batch_var, g);
    if (st != MD_OK) return st;
    const int64_t rows = g->rows, channels = g->channels;
    double *mean_d = work, *r_d = work + channels;
    double *s_dy = work + 2 * channels, *s_dyxc = work + 3 * channels;
    st = MD_FN(md_bn_sums)(s_dy, s_dyxc, MD_BN_DY_DYXC, dy, x, batch_mean, rows,
                           channels);
    if (st != MD_OK) {
        free(work);
        return st;
    }
    MD_FN(md_bn_param_grads)(dgamma, dbeta, r_d, s_dy, s_dyxc, channels);
    /* dx = gamma*r * (dy - sum dy / m - (x - mean) * r^2 * sum dy*(x - mean) / m), from
     * the per-channel k1 = gamma*r, k2 = sum dy / m, k3 = r^2 sum dy*(x-mean) / m */
    const double inv_m = 1.0 / (double)rows;
    for (int64_t c = 0; c < channels; c++) {
        const double r = r_d[c];
        s_dyxc[c] = r * r * s_dyxc[c] * inv_m;
        s_dy[c] *= inv_m;
        r_d[c] = (gamma != NULL ? (double)gamma[c] : 1.0) * r;
    }
    const int64_t P = p.period;
    md_T *m = lanes, *k1 = lanes + P, *k2 = lanes + 2 * P, *k3 = lanes + 3 * P;
    MD_FN(md_bn_spread)(m, mean_d, &p);
    MD_FN(md_bn_spread)(k1, r_d, &p);
    MD_FN(md_bn_spread)(k2, s_dy, &p);
    MD_FN(md_bn_spread)(k3, s_dyxc, &p);
    const MD_FN(md_bn_lanes) *fns = MD_FN(md_bn_lanes_get)();
#pragma omp parallel for schedule(static) num_threads(md_threads_for(p.n))
    for (int64_t gi = 0; gi < p.ngroups; gi++) {
        int64_t start, end;
        md_bn_group_range(&p, gi, &start, &end);
        fns->dx(dx, dy, x, m, k1, k2, k3, start, end, P);
        /* x is the activation's output: its derivative while the group is in cache */
        if (activation != MD_ACT_LINEAR)
            MD_FN(md_activation_backward_range)(dx + start, dx + start, x + start,
                                                end - start, activation);
    }
    free(work);
    return MD_OK;
}

md_status MD_FN(md_batchnorm_backward_infer)(md_T *dx, md_T *dgamma, md_T *dbeta,
                                             const md_T *dy, const md_T *x,
                                             const md_T *mean, const md_T *var,
                                             const md_T *gamma, const md_batchnorm_geom *g) {
    double *work;
    md_T *lanes;
    md_bn_plan p;
    md_status st = MD_FN(md_bn_begin_given)(
        &work, &lanes, &p, 4, 1,
        dx != NULL && dy != NULL && x != NULL && mean != NULL && var != NULL, mean, var, g);
    if (st != MD_OK) return st;
    const int64_t rows = g->rows, channels = g->channels;
    double *r_d = work + channels; /* work holds the mean first */
    double *s_dy = work + 2 * channels, *s_dyxc = work + 3 * channels;
    /* parameter gradients first (dx may alias dy) */
    if (dgamma != NULL)
        st = MD_FN(md_bn_sums)(s_dy, s_dyxc, MD_BN_DY_DYXC, dy, x, mean, rows, channels);
    else if (dbeta != NULL)
        st = MD_FN(md_bn_sums)(s_dy, NULL, MD_BN_SUM, dy, NULL, NULL, rows, channels);
    if (st != MD_OK) {
        free(work);
        return st;
    }
    MD_FN(md_bn_param_grads)(dgamma, dbeta, r_d, s_dy, s_dyxc, channels);
    for (int64_t c = 0; c < channels; c++)
        r_d[c] *= gamma != NULL ? (double)gamma[c] : 1.0; /* now gamma * r */
    MD_FN(md_bn_spread)(lanes, r_d, &p);
    const MD_FN(md_bn_lanes) *fns = MD_FN(md_bn_lanes_get)();
#pragma omp parallel for schedule(static) num_threads(md_threads_for(p.n))
    for (int64_t gi = 0; gi < p.ngroups; gi++) {
        int64_t start, end;
        md_bn_group_range(&p, gi, &start, &end);
        fns->scale(dx, dy, lanes, start, end, p.period);
    }
    free(work);
    return MD_OK;
}
