/* batchnorm_lanes_impl.h -- the lane loops of batchnorm_impl.h, included once per ISA
 * level with MD_BN_ISA(name) (the name with its type and ISA suffixes) and MD_BN_ATTR
 * (the function's target attribute). Each loop covers the elements [start, end) of a flat
 * (rows, channels) array, start a multiple of the period P: element i uses lane i % P,
 * whose per-lane arrays (P entries) repeat the per-channel values. No include guard. */

/* The number of elements of [start, end) in whole periods, handed to the 8-lane
 * intrinsic loops (the float AVX2 level, P a multiple of 8); the generic loops below
 * take what is left. */
static inline int64_t MD_BN_ISA(md_bn_slices_end)(int64_t start, int64_t end, int64_t P) {
#ifdef MD_BN_SLICES8
    if (P % 8 == 0) return start + (end - start) / P * P;
#endif
    (void)end;
    (void)P;
    return start;
}

/* Adds the MD_BN_* sums of [start, end) into the double lane accumulators s1 (and s2);
 * ctr holds the per-lane centers. */
MD_BN_ATTR static void MD_BN_ISA(md_bn_lane_sums)(double *restrict s1, double *restrict s2,
                                                  int mode, const md_T *restrict a,
                                                  const md_T *restrict b,
                                                  const md_T *restrict ctr, int64_t start,
                                                  int64_t end, int64_t P) {
    const int64_t whole = MD_BN_ISA(md_bn_slices_end)(start, end, P);
#ifdef MD_BN_SLICES8
    if (whole > start) md_bn_sums8_avx2(s1, s2, mode, a, b, ctr, start, whole, P);
#endif
    for (int64_t i = whole; i < end; i += P) {
        const int64_t len = md_min64(P, end - i);
        const md_T *restrict ai = a + i;
        if (mode == MD_BN_SUM) {
            for (int64_t l = 0; l < len; l++) s1[l] += (double)ai[l];
        } else if (mode == MD_BN_DEV) {
            for (int64_t l = 0; l < len; l++) {
                const double d = (double)ai[l] - (double)ctr[l];
                s1[l] += d;
                s2[l] += d * d;
            }
        } else {
            const md_T *restrict bi = b + i;
            for (int64_t l = 0; l < len; l++) {
                const double dy = (double)ai[l];
                s1[l] += dy;
                s2[l] += dy * ((double)bi[l] - (double)ctr[l]);
            }
        }
    }
}

/* y = (x - m) * a + b. */
MD_BN_ATTR static void MD_BN_ISA(md_bn_lane_affine)(md_T *y, const md_T *x,
                                                    const md_T *restrict m,
                                                    const md_T *restrict a,
                                                    const md_T *restrict b, int64_t start,
                                                    int64_t end, int64_t P) {
    const int64_t whole = MD_BN_ISA(md_bn_slices_end)(start, end, P);
#ifdef MD_BN_SLICES8
    if (whole > start) md_bn_affine8_avx2(y, x, m, a, b, start, whole, P);
#endif
    for (int64_t i = whole; i < end; i += P) {
        const int64_t len = md_min64(P, end - i);
        const md_T *xi = x + i;
        md_T *yi = y + i;
        for (int64_t l = 0; l < len; l++) yi[l] = (xi[l] - m[l]) * a[l] + b[l];
    }
}

/* dx = k1 * ((dy - k2) - (x - m) * k3): the training backward's elementwise pass. */
MD_BN_ATTR static void MD_BN_ISA(md_bn_lane_dx)(md_T *dx, const md_T *dy, const md_T *x,
                                                const md_T *restrict m,
                                                const md_T *restrict k1,
                                                const md_T *restrict k2,
                                                const md_T *restrict k3, int64_t start,
                                                int64_t end, int64_t P) {
    const int64_t whole = MD_BN_ISA(md_bn_slices_end)(start, end, P);
#ifdef MD_BN_SLICES8
    if (whole > start) md_bn_dx8_avx2(dx, dy, x, m, k1, k2, k3, start, whole, P);
#endif
    for (int64_t i = whole; i < end; i += P) {
        const int64_t len = md_min64(P, end - i);
        const md_T *dyi = dy + i, *xi = x + i;
        md_T *dxi = dx + i;
        for (int64_t l = 0; l < len; l++)
            dxi[l] = k1[l] * ((dyi[l] - k2[l]) - (xi[l] - m[l]) * k3[l]);
    }
}

/* dx = dy * k: the inference backward. */
MD_BN_ATTR static void MD_BN_ISA(md_bn_lane_scale)(md_T *dx, const md_T *dy,
                                                   const md_T *restrict k, int64_t start,
                                                   int64_t end, int64_t P) {
    const int64_t whole = MD_BN_ISA(md_bn_slices_end)(start, end, P);
#ifdef MD_BN_SLICES8
    if (whole > start) md_bn_scale8_avx2(dx, dy, k, start, whole, P);
#endif
    for (int64_t i = whole; i < end; i += P) {
        const int64_t len = md_min64(P, end - i);
        const md_T *dyi = dy + i;
        md_T *dxi = dx + i;
        for (int64_t l = 0; l < len; l++) dxi[l] = dyi[l] * k[l];
    }
}

/* The table of this level's loops. */
static const MD_FN(md_bn_lanes) MD_BN_ISA(md_bn_lanes_table) = {
    MD_BN_ISA(md_bn_lane_sums), MD_BN_ISA(md_bn_lane_affine), MD_BN_ISA(md_bn_lane_dx),
    MD_BN_ISA(md_bn_lane_scale)};
