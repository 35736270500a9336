/* softmax_row_impl.h -- the max-subtracted softmax of one row, shared by md_softmax_forward
 * (activations_impl.h) and the fused softmax + cross-entropy (loss_impl.h). A template
 * fragment: each of those two templates includes it, once per element type (md_T, MD_FN,
 * MD_IS_F32 come from md_instantiate.h). No include guard. */

#if MD_IS_F32
#define MD_SM_EXP expf
#else
#define MD_SM_EXP exp
#endif

/* The largest of x[0 .. cols) (cols >= 1); a NaN after x[0] is skipped (NaN compares false). */
static inline md_T MD_FN(md_row_max)(const md_T *x, int64_t cols) {
    md_T m = x[0];
    for (int64_t j = 1; j < cols; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* y[j] = exp(x[j] - m) / s over one row, with s = sum exp(x - m) accumulated in double;
 * returns s (>= 1 when m is the row's maximum). y may alias x (each element is read before
 * it is written).
 * With targets t (loss.c; NULL from activations.c) the same pass also accumulates the
 * cross-entropy target term: *picked += t_j * (m - x_j) and *tsum += t_j for every
 * t_j != 0 (so that -inf logits with zero target cost nothing), in double. */
static inline double MD_FN(md_softmax_row)(md_T *y, const md_T *x, md_T m, int64_t cols,
                                           const md_T *t, double *picked, double *tsum) {
    double s = 0.0;
    for (int64_t j = 0; j < cols; j++) {
        if (t != NULL) {
            const double tj = (double)t[j];
            if (tj != 0.0) {
                *picked += tj * ((double)m - (double)x[j]);
                *tsum += tj;
            }
        }
        const md_T e = MD_SM_EXP(x[j] - m);
        y[j] = e;
        s += (double)e;
    }
    const double inv = 1.0 / s;
    for (int64_t j = 0; j < cols; j++) y[j] = (md_T)((double)y[j] * inv);
    return s;
}

#undef MD_SM_EXP
