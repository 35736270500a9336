/* winograd_impl.h -- template of the Winograd path of the forward-shaped convolutions
 * (see conv2d.c): 3x3 kernels, stride 1, by minimal filtering F(m x m, 3 x 3) with
 * m = MD_WINO_M output pixels per tile side and A = m + 2 input pixels.
 *
 * Per tile of m x m output pixels and per channel: V = B^T d B (d: the A x A input patch),
 * U = G g G^T (g: the 3 x 3 kernel of an (input, output) channel pair), then for each of
 * the A*A positions pos an ordinary matrix product over the channels,
 * M[pos] (tiles x N) = V[pos] (tiles x C) . U[pos] (C x N), and the output tile
 * Y = A^T M A. The products are the indirect micro-kernel (ikr) with one tap: its row
 * pointers are the tiles' V rows, its packed operand U[pos].
 *
 * Tiles are processed in blocks (consecutive in (image, tile row, tile column) order) small
 * enough for the block's V and M to stay in L2. Each block is computed by one thread from
 * start to end, so every output value gets the same operations in the same order for any
 * thread count. */

/* Where the plan puts things: U at the start of the workspace, then a zero pixel, then one
 * part per thread (V, M, transform scratch, discarded outputs, row pointers). */
typedef struct {
    int64_t tiles_h, tiles_w, ntiles; /* tiles per image column / row, in all */
    int64_t TB, nblocks;              /* tiles per block, blocks */
    int64_t MR, nv, nb, NRb;          /* micro-kernel rows, vectors, column blocks, width */
    int64_t scratch;                  /* elements of the transform scratch */
    int nt;
    size_t off_zero, off_thread, thread_bytes, total;
} MD_FN(md_wino_plan);

/* Whether a forward-shaped problem takes the Winograd path: a 3x3 stride-1 correlation
 * (forward or stride-1 backward input) with enough channels on both sides, a large enough
 * image and enough tiles for the transforms to pay, and the switch on. */
static int MD_FN(md_wino_applies)(const MD_FN(md_cv) *p) {
    if (!md_get_conv_winograd() || p->KH != 3 || p->KW != 3 || p->sh != 1 || p->sw != 1 ||
        p->strided_bwd || p->C < MD_WINO_MIN_C || p->N < MD_WINO_MIN_N ||
        p->out_h < MD_WINO_MIN_HW || p->out_w < MD_WINO_MIN_HW)
        return 0;
    const int64_t tiles = md_work3(p->batch, md_ceil_div(p->out_h, MD_WINO_M),
                                   md_ceil_div(p->out_w, MD_WINO_M));
    return tiles >= MD_WINO_MIN_TILES;
}

static void MD_FN(md_wino_plan_make)(MD_FN(md_wino_plan) *pl, const MD_FN(md_cv) *p,
                                     const MD_FN(md_kernels) *kr) {
    const int64_t A2 = MD_WINO_A * MD_WINO_A, C = p->C, N = p->N;
    const size_t E = sizeof(md_T);
    memset(pl, 0, sizeof(*pl));
    pl->tiles_h = md_ceil_div(p->out_h, MD_WINO_M);
    pl->tiles_w = md_ceil_div(p->out_w, MD_WINO_M);
    pl->ntiles = p->batch * pl->tiles_h * pl->tiles_w;
    MD_FN(md_cv_column_blocks)(kr, N, &pl->nb, &pl->nv);
    pl->MR = kr->ikr_mr[pl->nv - 1];
    pl->NRb = pl->nv * kr->vl;
    /* V and M of a block fill about MD_WINO_BLOCK_BYTES; whole micro-kernel tiles */
    const int64_t per_tile = A2 * (C + N) * (int64_t)E;
    pl->TB = md_max64(1, MD_WINO_BLOCK_BYTES / per_tile / pl->MR) * pl->MR;
    pl->nblocks = md_ceil_div(pl->ntiles, pl->TB);
    pl->nt = (int)md_min64(md_threads_for(md_work3(pl->ntiles * A2, C, N)), pl->nblocks);
    pl->scratch = A2 * md_max64(C, N);
    pl->off_zero = (size_t)md_round_up(A2 * pl->nb * C * pl->NRb, 16) * E;
    pl->off_thread = pl->off_zero + (size_t)md_round_up(C, 16) * E;
    /* per thread: V, M, transform scratch, m discarded output pixels, row pointers */
    pl->thread_bytes = (size_t)md_round_up(pl->TB * A2 * C, 16) * E +
                       (size_t)md_round_up(pl->TB * A2 * N, 16) * E +
                       (size_t)md_round_up(pl->scratch, 16) * E +
                       (size_t)md_round_up(MD_WINO_M * N, 16) * E +
                       (size_t)md_round_up((pl->TB + pl->MR) * (int64_t)sizeof(void *), 64);
    pl->total = pl->off_thread + (size_t)pl->nt * pl->thread_bytes;
}

/* U = G g G^T of every (input channel c, output column n) pair, in double and rounded
 * once, packed for the micro-kernel: position pos, column block jb at
 * U + ((pos * nb + jb) * C + c) * NRb, columns past N zero. Work-shared over c (every
 * thread of the team calls it). The values of a run of columns are gathered in a local
 * buffer first and then stored one contiguous row per position: storing them straight
 * would write A*A lines that lie a power of two apart and evict each other. */
#define MD_WINO_PACK_RUN 64
static void MD_FN(md_wino_pack_weights)(md_T *U, const MD_FN(md_cv) *p,
                                        const MD_FN(md_wino_plan) *pl) {
    const int64_t A = MD_WINO_A, C = p->C, N = p->N, NRb = pl->NRb, nb = pl->nb;
    const int64_t pos_stride = nb * C * NRb; /* from U[pos] to U[pos + 1] */
    md_T run[MD_WINO_A * MD_WINO_A][MD_WINO_PACK_RUN];
#pragma omp for schedule(static) nowait
    for (int64_t c = 0; c < C; c++) {
        for (int64_t n0 = 0; n0 < nb * NRb; n0 += MD_WINO_PACK_RUN) {
            const int64_t len = md_min64(MD_WINO_PACK_RUN, nb * NRb - n0);
            for (int64_t k = 0; k < len; k++) {
                const int64_t n = n0 + k;
                if (n >= N) { /* a zero column of the last block */
                    for (int64_t pos = 0; pos < A * A; pos++) run[pos][k] = 0;
                    continue;
                }
                double g[3][3], gg[MD_WINO_A][3];
                for (int64_t t = 0; t < 9; t++)
                    g[t / 3][t % 3] =
                        (double)p->w[(p->flip ? 8 - t : t) * p->wts + c * p->wqs + n * p->wns];
                for (int64_t i = 0; i < A; i++) /* gg = G g */
                    for (int64_t q = 0; q < 3; q++)
                        gg[i][q] = md_wino_G[i][0] * g[0][q] + md_wino_G[i][1] * g[1][q] +
                                   md_wino_G[i][2] * g[2][q];
                for (int64_t i = 0; i < A; i++) /* U = gg G^T */
                    for (int64_t j = 0; j < A; j++)
                        run[i * A + j][k] =
                            (md_T)(gg[i][0] * md_wino_G[j][0] + gg[i][1] * md_wino_G[j][1] +
                                   gg[i][2] * md_wino_G[j][2]);
            }
            for (int64_t k = 0; k < len;) { /* pieces within one column block */
                const int64_t n = n0 + k, piece = md_min64(len - k, NRb - n % NRb);
                md_T *dst = U + ((n / NRb) * C + c) * NRb + n % NRb;
                for (int64_t pos = 0; pos < A * A; pos++)
                    memcpy(dst + pos * pos_stride, &run[pos][k], (size_t)piece * sizeof(md_T));
                k += piece;
            }
        }
    }
}

/* ------------------------------------------------------------------ 1-D transforms
 * Each applies one transform matrix to A (or m) vectors of len channels; the channels are
 * contiguous, so the loops vectorise. Inlined into the per-ISA tile functions below. */
#define MD_WINO_INL static inline __attribute__((always_inline))

#if MD_WINO_M == 2
/* o = B^T d, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
MD_WINO_INL void MD_FN(md_wino_bt4)(md_T *restrict o0, md_T *restrict o1, md_T *restrict o2,
                                    md_T *restrict o3, const md_T *restrict d0,
                                    const md_T *restrict d1, const md_T *restrict d2,
                                    const md_T *restrict d3, int64_t len) {
    for (int64_t c = 0; c < len; c++) {
        o0[c] = d0[c] - d2[c];
        o1[c] = d1[c] + d2[c];
        o2[c] = d2[c] - d1[c];
        o3[c] = d1[c] - d3[c];
    }
}

/* o = A^T s, A^T = [1 1 1 0; 0 1 -1 -1]. */
MD_WINO_INL void MD_FN(md_wino_at4)(md_T *restrict o0, md_T *restrict o1,
                                    const md_T *restrict s0, const md_T *restrict s1,
                                    const md_T *restrict s2, const md_T *restrict s3,
                                    int64_t len) {
    for (int64_t c = 0; c < len; c++) {
        o0[c] = s0[c] + s1[c] + s2[c];
        o1[c] = s1[c] - s2[c] - s3[c];
    }
}
/* o = A s (the transpose of A^T: the weight gradient's output-gradient transform). */
MD_WINO_INL void MD_FN(md_wino_a2)(md_T *restrict o0, md_T *restrict o1, md_T *restrict o2,
                                   md_T *restrict o3, const md_T *restrict s0,
                                   const md_T *restrict s1, int64_t len) {
    for (int64_t c = 0; c < len; c++) {
        o0[c] = s0[c];
        o1[c] = s0[c] + s1[c];
        o2[c] = s0[c] - s1[c];
        o3[c] = -s1[c];
    }
}
/* The transforms on arrays of A (B^T, A s) or m (A^T) output and A (or m) input vectors;
 * restrict parameters tell the vectoriser that no output overlaps an input. */
#define MD_WINO_BT(o, d, len) MD_FN(md_wino_bt4)(o[0], o[1], o[2], o[3], d[0], d[1], d[2], d[3], len)
#define MD_WINO_AT(o, s, len) MD_FN(md_wino_at4)(o[0], o[1], s[0], s[1], s[2], s[3], len)
#define MD_WINO_AS(o, s, len) MD_FN(md_wino_a2)(o[0], o[1], o[2], o[3], s[0], s[1], len)
#else
/* o = B^T d for the interpolation points 0, 1, -1, 2, -1/2 (and infinity):
 * B^T = [1  3/2 -2   -3/2  1    0]
 *       [0 -1   -5/2 -1/2  1    0]
 *       [0  1    1/2 -5/2  1    0]
 *       [0 -1/2 -1    1/2  1    0]
 *       [0  2   -1   -2    1    0]
 *       [0  1    3/2 -2   -3/2  1]
 * (-1/2 instead of the usual -2: smaller entries in all three matrices, about 3x less
 * float32 error for a few more additions). e = d1 - d3 and f = d4 - d2 are shared. */
MD_WINO_INL void MD_FN(md_wino_bt6)(md_T *restrict o0, md_T *restrict o1, md_T *restrict o2,
                                    md_T *restrict o3, md_T *restrict o4, md_T *restrict o5,
                                    const md_T *restrict d0, const md_T *restrict d1,
                                    const md_T *restrict d2, const md_T *restrict d3,
                                    const md_T *restrict d4, const md_T *restrict d5,
                                    int64_t len) {
    const md_T half = (md_T)0.5, three_halves = (md_T)1.5, five_halves = (md_T)2.5;
    for (int64_t c = 0; c < len; c++) {
        const md_T e = d1[c] - d3[c], f = d4[c] - d2[c];
        o0[c] = (d0[c] - d2[c]) + f + three_halves * e;
        o1[c] = (d4[c] - d1[c]) - five_halves * d2[c] - half * d3[c];
        o2[c] = (d4[c] + d1[c]) + half * d2[c] - five_halves * d3[c];
        o3[c] = f - half * e;
        o4[c] = f + 2 * e;
        o5[c] = (d1[c] + d5[c]) - 2 * d3[c] - three_halves * f;
    }
}

/* o = A^T s, A^T = [1 1  1 1  1    0]
 *                  [0 1 -1 2 -1/2  0]
 *                  [0 1  1 4  1/4  0]
 *                  [0 1 -1 8 -1/8  1]  (the powers 0..3 of the points). */
MD_WINO_INL void MD_FN(md_wino_at6)(md_T *restrict o0, md_T *restrict o1, md_T *restrict o2,
                                    md_T *restrict o3, const md_T *restrict s0,
                                    const md_T *restrict s1, const md_T *restrict s2,
                                    const md_T *restrict s3, const md_T *restrict s4,
                                    const md_T *restrict s5, int64_t len) {
    const md_T half = (md_T)0.5, quarter = (md_T)0.25, eighth = (md_T)0.125;
    for (int64_t c = 0; c < len; c++) {
        const md_T sp = s1[c] + s2[c], sm = s1[c] - s2[c];
        o0[c] = s0[c] + sp + s3[c] + s4[c];
        o1[c] = sm + 2 * s3[c] - half * s4[c];
        o2[c] = sp + 4 * s3[c] + quarter * s4[c];
        o3[c] = sm + 8 * s3[c] - eighth * s4[c] + s5[c];
    }
}

/* The transforms on arrays of A (B^T) or m (A^T) output and A input vectors; restrict
 * parameters tell the vectoriser that no output overlaps an input. */
#define MD_WINO_BT(o, d, len)                                                                \
    MD_FN(md_wino_bt6)(o[0], o[1], o[2], o[3], o[4], o[5], d[0], d[1], d[2], d[3], d[4], d[5], \
                       len)
/* o = A s: the polynomial with coefficients s0..s3 at the points 0, 1, -1, 2, -1/2 and its
 * leading coefficient (infinity); the transpose of A^T, for the weight gradient. */
MD_WINO_INL void MD_FN(md_wino_a6)(md_T *restrict o0, md_T *restrict o1, md_T *restrict o2,
                                   md_T *restrict o3, md_T *restrict o4, md_T *restrict o5,
                                   const md_T *restrict s0, const md_T *restrict s1,
                                   const md_T *restrict s2, const md_T *restrict s3,
                                   int64_t len) {
    const md_T half = (md_T)0.5, quarter = (md_T)0.25;
    for (int64_t c = 0; c < len; c++) {
        const md_T even = s0[c] + s2[c], odd = s1[c] + s3[c];
        o0[c] = s0[c];
        o1[c] = even + odd;
        o2[c] = even - odd;
        o3[c] = (s0[c] + 4 * s2[c]) + 2 * (s1[c] + 4 * s3[c]);
        o4[c] = (s0[c] + quarter * s2[c]) - half * (s1[c] + quarter * s3[c]);
        o5[c] = s3[c];
    }
}

#define MD_WINO_AT(o, s, len)                                                                \
    MD_FN(md_wino_at6)(o[0], o[1], o[2], o[3], s[0], s[1], s[2], s[3], s[4], s[5], len)
#define MD_WINO_AS(o, s, len)                                                                \
    MD_FN(md_wino_a6)(o[0], o[1], o[2], o[3], o[4], o[5], s[0], s[1], s[2], s[3], len)
#endif

/* ------------------------------------------------------------------ tile transforms */

/* Tile t of the problem: image n, tile row ty, tile column tx. */
static inline void MD_FN(md_wino_tile_coords)(const MD_FN(md_wino_plan) *pl, int64_t t,
                                              int64_t *n, int64_t *ty, int64_t *tx) {
    const int64_t per_image = pl->tiles_h * pl->tiles_w;
    *n = t / per_image;
    *ty = t % per_image / pl->tiles_w;
    *tx = t % pl->tiles_w;
}

/* The output pixels of tile t: its first one's offset in an output of N channels, and
 * how many of its m rows and columns lie inside the output. */
static inline int64_t MD_FN(md_wino_tile_output)(const MD_FN(md_cv) *p,
                                                 const MD_FN(md_wino_plan) *pl, int64_t t,
                                                 int64_t *rows, int64_t *cols) {
    int64_t n, ty, tx;
    MD_FN(md_wino_tile_coords)(pl, t, &n, &ty, &tx);
    const int64_t oy0 = ty * MD_WINO_M, ox0 = tx * MD_WINO_M;
    *rows = md_min64(MD_WINO_M, p->out_h - oy0);
    *cols = md_min64(MD_WINO_M, p->out_w - ox0);
    return ((n * p->out_h + oy0) * p->out_w + ox0) * p->N;
}

/* V rows of tiles [t0, t0 + tb): tile i, position pos at V + (i * A*A + pos) * C. The
 * patch of a tile starts at source pixel (ty * m - pt, tx * m - pl); pixels outside the
 * source read the zero pixel. First B^T along each patch row into tmp[r][k], then along
 * the columns into V. */
MD_WINO_INL void MD_FN(md_wino_input_body)(md_T *V, md_T *tmp, const MD_FN(md_cv) *p,
                                           const MD_FN(md_wino_plan) *pl, const md_T *zero,
                                           int64_t t0, int64_t tb) {
    const int64_t A = MD_WINO_A, C = p->C;
    for (int64_t i = 0; i < tb; i++) {
        int64_t n, ty, tx;
        MD_FN(md_wino_tile_coords)(pl, t0 + i, &n, &ty, &tx);
        const int64_t y0 = ty * MD_WINO_M - p->pt, x0 = tx * MD_WINO_M - p->pl;
        const md_T *d[MD_WINO_A];
        md_T *o[MD_WINO_A];
        for (int64_t r = 0; r < A; r++) {
            const int64_t y = y0 + r;
            const int row_in = (uint64_t)y < (uint64_t)p->src_h;
            const md_T *src_row = p->src + ((n * p->src_h + y) * p->src_w) * C;
            for (int64_t j = 0; j < A; j++) {
                const int64_t x = x0 + j;
                d[j] = row_in && (uint64_t)x < (uint64_t)p->src_w ? src_row + x * C : zero;
                o[j] = tmp + (r * A + j) * C;
            }
            MD_WINO_BT(o, d, C);
        }
        md_T *vt = V + i * A * A * C;
        for (int64_t k = 0; k < A; k++) {
            for (int64_t r = 0; r < A; r++) {
                d[r] = tmp + (r * A + k) * C;
                o[r] = vt + (r * A + k) * C;
            }
            MD_WINO_BT(o, d, C);
        }
    }
}

/* Bias and activation of len output pixels of N channels at row, in place. */
MD_WINO_INL void MD_FN(md_wino_epilogue)(md_T *row, int64_t len, int64_t N, const md_T *bias,
                                         int activation) {
    if (bias != NULL)
        for (int64_t x = 0; x < len; x++) {
            md_T *restrict px = row + x * N;
            for (int64_t c = 0; c < N; c++) px[c] += bias[c];
        }
    if (activation == MD_ACT_RELU) {
        md_T *restrict v = row;
        /* (v < 0) ? 0 : v keeps NaN, as the direct path and the relu op do */
        for (int64_t c = 0; c < len * N; c++) v[c] = v[c] < 0 ? 0 : v[c];
    } else if (activation != MD_ACT_LINEAR) {
        MD_FN(md_activate_range)(row, row, len * N, activation);
    }
}

/* Outputs of tiles [t0, t0 + tb) from their M rows (tile i, position pos at
 * Mb + (i * A*A + pos) * N): A^T along each row of M into tmp[r][k], then along the
 * columns straight into out (pixels past the image edge into the discard rows), then
 * bias and activation on the tile's output rows. */
MD_WINO_INL void MD_FN(md_wino_output_body)(md_T *out, const md_T *Mb, md_T *tmp,
                                            md_T *discard, const md_T *bias, int activation,
                                            const MD_FN(md_cv) *p,
                                            const MD_FN(md_wino_plan) *pl, int64_t t0,
                                            int64_t tb) {
    const int64_t A = MD_WINO_A, m = MD_WINO_M, N = p->N;
    for (int64_t i = 0; i < tb; i++) {
        int64_t rows, cols;
        md_T *origin = out + MD_FN(md_wino_tile_output)(p, pl, t0 + i, &rows, &cols);
        const md_T *mt = Mb + i * A * A * N;
        const md_T *s[MD_WINO_A];
        md_T *o[MD_WINO_A];
        for (int64_t r = 0; r < A; r++) {
            for (int64_t j = 0; j < A; j++) s[j] = mt + (r * A + j) * N;
            for (int64_t k = 0; k < m; k++) o[k] = tmp + (r * m + k) * N;
            MD_WINO_AT(o, s, N);
        }
        for (int64_t k = 0; k < m; k++) {
            for (int64_t r = 0; r < A; r++) s[r] = tmp + (r * m + k) * N;
            for (int64_t r = 0; r < m; r++)
                o[r] = r < rows && k < cols ? origin + (r * p->out_w + k) * N : discard + r * N;
            MD_WINO_AT(o, s, N);
        }
        for (int64_t r = 0; r < rows; r++)
            MD_FN(md_wino_epilogue)(origin + r * p->out_w * N, cols, N, bias, activation);
    }
}

/* ------------------------------------------------------------------ weight gradient
 * The transpose of the forward's bilinear algorithm: per tile and channel pair,
 * dg = G^T [(A dY A^T) . (B^T d B)] G with dY the tile's m x m output gradients and d its
 * A x A input patch. Summed over the tiles in the transformed domain (a matrix product per
 * position over the tiles: M[pos] (C x N) += V[pos]^T . D[pos]), then G^T M G once per
 * chunk of tiles. */

/* D rows of tiles [t0, t0 + tb): tile i, position pos at D + (i * A*A + pos) * N, from the
 * output gradients dy (pixels past the output edge read the zero pixel). A along each
 * gradient row into tmp[r][k], then along the columns into D. */
MD_WINO_INL void MD_FN(md_wino_dy_body)(md_T *D, md_T *tmp, const md_T *dy,
                                        const MD_FN(md_cv) *p, const MD_FN(md_wino_plan) *pl,
                                        const md_T *zero, int64_t t0, int64_t tb) {
    const int64_t A = MD_WINO_A, m = MD_WINO_M, N = p->N;
    for (int64_t i = 0; i < tb; i++) {
        int64_t rows, cols;
        const md_T *origin = dy + MD_FN(md_wino_tile_output)(p, pl, t0 + i, &rows, &cols);
        const md_T *s[MD_WINO_A];
        md_T *o[MD_WINO_A];
        for (int64_t r = 0; r < m; r++) {
            for (int64_t j = 0; j < m; j++)
                s[j] = r < rows && j < cols ? origin + (r * p->out_w + j) * N : zero;
            for (int64_t k = 0; k < A; k++) o[k] = tmp + (r * A + k) * N;
            MD_WINO_AS(o, s, N);
        }
        md_T *dt = D + i * A * A * N;
        for (int64_t k = 0; k < A; k++) {
            for (int64_t r = 0; r < m; r++) s[r] = tmp + (r * A + k) * N;
            for (int64_t r = 0; r < A; r++) o[r] = dt + (r * A + k) * N;
            MD_WINO_AS(o, s, N);
        }
    }
}

/* out[v] = sum over i < A of g[i][q] in[i * stride + v], v < len: one column of G^T
 * applied along runs of values (rows with g[i][q] = 0 skipped). */
MD_WINO_INL void MD_FN(md_wino_gt_run)(md_T *restrict out, const md_T *in, int64_t stride,
                                       const md_T g[MD_WINO_A][3], int64_t q, int64_t len) {
    for (int64_t v = 0; v < len; v++) out[v] = g[0][q] * in[v];
    for (int64_t i = 1; i < MD_WINO_A; i++) {
        const md_T coef = g[i][q];
        const md_T *restrict row = in + i * stride;
        if (coef != 0)
            for (int64_t v = 0; v < len; v++) out[v] += coef * row[v];
    }
}

/* dw (3, 3, C, N) = G^T M G of the transformed sums M (position pos at M + pos * C * N):
 * the same combination for every (c, n), so it runs along runs of the flattened C * N
 * values: G^T along the patch columns into tmp[i][kx] (A x 3 runs), then along the patch
 * rows into dw. */
#define MD_WINO_FINISH_RUN 256
MD_WINO_INL void MD_FN(md_wino_wg_finish_body)(md_T *dw, const md_T *M, md_T *tmp,
                                               int64_t C, int64_t N) {
    const int64_t A = MD_WINO_A, CN = C * N, R = MD_WINO_FINISH_RUN;
    md_T g[MD_WINO_A][3];
    for (int64_t i = 0; i < A; i++)
        for (int64_t q = 0; q < 3; q++) g[i][q] = (md_T)md_wino_G[i][q];
    for (int64_t v0 = 0; v0 < CN; v0 += R) {
        const int64_t len = md_min64(R, CN - v0);
        for (int64_t i = 0; i < A; i++) /* tmp[i][kx] = sum over j of G[j][kx] M[i][j] */
            for (int64_t kx = 0; kx < 3; kx++)
                MD_FN(md_wino_gt_run)(tmp + (i * 3 + kx) * R, M + i * A * CN + v0, CN, g, kx,
                                      len);
        for (int64_t ky = 0; ky < 3; ky++) /* dw[ky][kx] = sum over i of G[i][ky] tmp[i][kx] */
            for (int64_t kx = 0; kx < 3; kx++)
                MD_FN(md_wino_gt_run)(dw + (ky * 3 + kx) * CN + v0, tmp + kx * R, 3 * R, g, ky,
                                      len);
    }
}

/* Each tile function compiled for every instruction-set level (the channel loops
 * vectorise at its width), chosen at run time. */
typedef void (*MD_FN(md_wino_input_fn))(md_T *, md_T *, const MD_FN(md_cv) *,
                                        const MD_FN(md_wino_plan) *, const md_T *, int64_t,
                                        int64_t);
typedef void (*MD_FN(md_wino_output_fn))(md_T *, const md_T *, md_T *, md_T *, const md_T *,
                                         int, const MD_FN(md_cv) *,
                                         const MD_FN(md_wino_plan) *, int64_t, int64_t);
typedef void (*MD_FN(md_wino_dy_fn))(md_T *, md_T *, const md_T *, const MD_FN(md_cv) *,
                                     const MD_FN(md_wino_plan) *, const md_T *, int64_t,
                                     int64_t);
typedef void (*MD_FN(md_wino_wg_finish_fn))(md_T *, const md_T *, md_T *, int64_t, int64_t);
#define MD_WINO_TILE_FNS(ISA, ATTR)                                                          \
    ATTR static void MD_FN(md_wino_input_##ISA)(md_T *V, md_T *tmp, const MD_FN(md_cv) *p,   \
                                                const MD_FN(md_wino_plan) *pl,               \
                                                const md_T *zero, int64_t t0, int64_t tb) {  \
        MD_FN(md_wino_input_body)(V, tmp, p, pl, zero, t0, tb);                              \
    }                                                                                        \
    ATTR static void MD_FN(md_wino_output_##ISA)(                                            \
        md_T *out, const md_T *Mb, md_T *tmp, md_T *discard, const md_T *bias,               \
        int activation, const MD_FN(md_cv) *p, const MD_FN(md_wino_plan) *pl, int64_t t0,    \
        int64_t tb) {                                                                        \
        MD_FN(md_wino_output_body)(out, Mb, tmp, discard, bias, activation, p, pl, t0, tb); \
    }                                                                                        \
    ATTR static void MD_FN(md_wino_dy_##ISA)(md_T *D, md_T *tmp, const md_T *dy,            \
                                             const MD_FN(md_cv) *p,                          \
                                             const MD_FN(md_wino_plan) *pl,                  \
                                             const md_T *zero, int64_t t0, int64_t tb) {     \
        MD_FN(md_wino_dy_body)(D, tmp, dy, p, pl, zero, t0, tb);                             \
    }                                                                                        \
    ATTR static void MD_FN(md_wino_wg_finish_##ISA)(md_T *dw, const md_T *M, md_T *tmp,     \
                                                    int64_t C, int64_t N) {                  \
        MD_FN(md_wino_wg_finish_body)(dw, M, tmp, C, N);                                     \
    }
MD_WINO_TILE_FNS(portable, )
#if MD_WINO_X86
MD_WINO_TILE_FNS(avx2, __attribute__((target("avx2,fma"))))
MD_WINO_TILE_FNS(avx512, __attribute__((target("avx512f,avx2,fma"))))
#endif
#undef MD_WINO_TILE_FNS

/* The tile functions of this machine's instruction-set level. */
typedef struct {
    MD_FN(md_wino_input_fn) input;
    MD_FN(md_wino_output_fn) output;
    MD_FN(md_wino_dy_fn) dy;
    MD_FN(md_wino_wg_finish_fn) finish;
} MD_FN(md_wino_fns);

#define MD_WINO_FNS_OF(ISA)                                                                  \
    (MD_FN(md_wino_fns)){MD_FN(md_wino_input_##ISA), MD_FN(md_wino_output_##ISA),            \
                         MD_FN(md_wino_dy_##ISA), MD_FN(md_wino_wg_finish_##ISA)}
static MD_FN(md_wino_fns) MD_FN(md_wino_fns_get)(void) {
#if MD_WINO_X86
    if (md_isa_level() >= MD_ISA_AVX512) return MD_WINO_FNS_OF(avx512);
    if (md_isa_level() >= MD_ISA_AVX2) return MD_WINO_FNS_OF(avx2);
#endif
    return MD_WINO_FNS_OF(portable);
}
#undef MD_WINO_FNS_OF

/* Run a problem that md_wino_applies to into out (batch, out_h, out_w, N). */
static void MD_FN(md_wino_run)(md_T *out, const md_T *bias, int activation,
                               const MD_FN(md_cv) *p, const MD_FN(md_wino_plan) *pl,
                               const MD_FN(md_kernels) *kr, char *ws) {
    const MD_FN(md_wino_fns) fns = MD_FN(md_wino_fns_get)();
    const MD_FN(md_wino_input_fn) input = fns.input;
    const MD_FN(md_wino_output_fn) output = fns.output;
    const int64_t A2 = MD_WINO_A * MD_WINO_A, C = p->C, N = p->N, TB = pl->TB;
    const int64_t MR = pl->MR, NRb = pl->NRb, nb = pl->nb;
    md_T *U = (md_T *)ws;
    md_T *zero = (md_T *)(ws + pl->off_zero);
    const MD_FN(md_ikr_fn) fn = kr->ikr[pl->nv - 1];

#pragma omp parallel num_threads(pl->nt) if (pl->nt > 1)
    {
        MD_FN(md_wino_pack_weights)(U, p, pl); /* work-shared inside */
#pragma omp single nowait
        for (int64_t c = 0; c < C; c++) zero[c] = 0;
#pragma omp barrier
        char *tws = ws + pl->off_thread + (size_t)md_thread_id() * pl->thread_bytes;
        md_T *V = (md_T *)tws;
        md_T *Mb = V + md_round_up(TB * A2 * C, 16);
        md_T *tmp = Mb + md_round_up(TB * A2 * N, 16);
        md_T *discard = tmp + md_round_up(pl->scratch, 16);
        const md_T **rowp = (const md_T **)(discard + md_round_up(MD_WINO_M * N, 16));
        int64_t aoff = 0;
        const md_T *bptr = NULL;
        MD_FN(md_ikr_args) args;
        args.ntaps = 1;
        args.q = C;
        args.astride = 0; /* one base pointer per row (its tile) plus the position offset */
        args.aoff = &aoff;
        args.b = &bptr;
        args.bstride = NRb;
        args.init = NULL;
        args.ldc = A2 * N;
        args.relu = 0;
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < pl->nblocks; blk++) {
            const int64_t t0 = blk * TB, tb = md_min64(TB, pl->ntiles - t0);
            input(V, tmp, p, pl, zero, t0, tb);
            /* rows past the block repeat its last tile (computed, never stored) */
            for (int64_t i = 0; i < TB + MR; i++) rowp[i] = V + md_min64(i, tb - 1) * A2 * C;
            for (int64_t pos = 0; pos < A2; pos++) { /* U[pos] stays in L1 for the block */
                aoff = pos * C;
                for (int64_t i0 = 0; i0 < tb; i0 += MR) {
                    args.a = rowp + i0;
                    args.mr = (int)md_min64(MR, tb - i0);
                    for (int64_t jb = 0; jb < nb; jb++) {
                        bptr = U + (pos * nb + jb) * C * NRb;
                        args.c = Mb + (i0 * A2 + pos) * N + jb * NRb;
                        args.nc = (int)md_min64(NRb, N - jb * NRb);
                        fn(&args);
                    }
                }
            }
            output(out, Mb, tmp, discard, bias, activation, p, pl, t0, tb);
        }
    }
}

/* The Winograd path on the thread's scratch workspace. */
static md_status MD_FN(md_wino_exec)(md_T *out, const md_T *bias, int activation,
                                     const MD_FN(md_cv) *p) {
    const MD_FN(md_kernels) *kr = MD_FN(md_kernels_get)();
    MD_FN(md_wino_plan) pl;
    MD_FN(md_wino_plan_make)(&pl, p, kr);
    md_workspace ws;
    const md_status st = md_workspace_acquire(&ws, pl.total);
    if (st != MD_OK) return st;
    MD_FN(md_wino_run)(out, bias, activation, p, &pl, kr, ws.ptr);
    md_workspace_release(&ws);
    return MD_OK;
}

/* Weight-gradient plan: tiles as in the forward problem, split into chunks of CT tiles
 * (the partial gradients, split among the threads; their number depends on the problem
 * alone, so the sums are the same for any thread count), each computed in blocks of TB
 * tiles whose V and D stay in L2. */
typedef struct {
    MD_FN(md_wino_plan) tiles;       /* tiles_h, tiles_w, ntiles */
    int64_t TB, CT, nchunks, cob;    /* cob: columns per wkr call */
    int64_t bias_cp, bias_chunks;    /* the direct path's pixel chunks of the bias sums */
    int nt;
    size_t off_bias, off_zero, off_thread, thread_bytes, total;
} MD_FN(md_wino_wg_plan);

/* Elements of a thread's transform scratch: the tile transforms' and the finish's. */
static int64_t MD_FN(md_wino_wg_scratch)(int64_t C, int64_t N) {
    return md_max64(MD_WINO_A * MD_WINO_A * md_max64(C, N), MD_WINO_A * 3 * MD_WINO_FINISH_RUN);
}

static void MD_FN(md_wino_wg_plan_make)(MD_FN(md_wino_wg_plan) *pl, const MD_FN(md_cv) *p,
                                        const MD_FN(md_kernels) *kr) {
    const int64_t A2 = MD_WINO_A * MD_WINO_A, C = p->C, N = p->N, VL = kr->vl;
    const size_t E = sizeof(md_T);
    memset(pl, 0, sizeof(*pl));
    pl->tiles.tiles_h = md_ceil_div(p->out_h, MD_WINO_M);
    pl->tiles.tiles_w = md_ceil_div(p->out_w, MD_WINO_M);
    const int64_t ntiles = pl->tiles.ntiles = p->batch * pl->tiles.tiles_h * pl->tiles.tiles_w;
    pl->CT = md_max64(MD_WINO_WG_MIN_CHUNK, md_ceil_div(ntiles, MD_CONV_WG_MAX_CHUNKS));
    pl->nchunks = md_ceil_div(ntiles, pl->CT);
    /* blocks of about MD_WINO_BLOCK_BYTES, balanced within a chunk */
    const int64_t most = md_max64(1, MD_WINO_BLOCK_BYTES / (A2 * (C + N) * (int64_t)E));
    pl->TB = md_ceil_div(pl->CT, md_ceil_div(pl->CT, most));
    const int64_t nvneed = md_ceil_div(N, VL), nb = md_ceil_div(nvneed, 4);
    pl->cob = md_ceil_div(nvneed, nb) * VL;
    const int64_t P = p->batch * p->out_h * p->out_w;
    pl->bias_cp = md_wg_chunk_pixels(P);
    pl->bias_chunks = md_ceil_div(P, pl->bias_cp);
    pl->nt = (int)md_min64(md_threads_for(md_work3(ntiles * A2, C, N)), pl->nchunks);
    const int64_t nw = 9 * C * N;
    pl->off_bias = (size_t)md_round_up((pl->nchunks - 1) * nw, 16) * E;
    pl->off_zero = pl->off_bias + (size_t)md_round_up(pl->bias_chunks * N, 8) * sizeof(double);
    pl->off_thread = pl->off_zero + (size_t)md_round_up(md_max64(C, N), 16) * E;
    /* per thread: M, V and D of a block, transform scratch, x and dy row pointers */
    pl->thread_bytes = (size_t)md_round_up(A2 * C * N, 16) * E +
                       (size_t)md_round_up(pl->TB * A2 * (C + N), 16) * E +
                       (size_t)md_round_up(MD_FN(md_wino_wg_scratch)(C, N), 16) * E +
                       (size_t)md_round_up(2 * pl->TB * (int64_t)sizeof(void *), 64);
    pl->total = pl->off_thread + (size_t)pl->nt * pl->thread_bytes;
}

/* The transformed sums of tiles [t0, t1) into M (A*A positions of C x N), in blocks. */
static void MD_FN(md_wino_wg_chunk)(md_T *M, const md_T *dy, const MD_FN(md_cv) *p,
                                    const MD_FN(md_wino_wg_plan) *pl,
                                    const MD_FN(md_kernels) *kr, const MD_FN(md_wino_fns) *fns,
                                    const md_T *zero, char *tws, int64_t t0, int64_t t1) {
    const int64_t A2 = MD_WINO_A * MD_WINO_A, C = p->C, N = p->N, TB = pl->TB;
    md_T *V = M + md_round_up(A2 * C * N, 16);
    md_T *D = V + TB * A2 * C;
    md_T *tmp = V + md_round_up(TB * A2 * (C + N), 16);
    const md_T **xp = (const md_T **)(tmp + md_round_up(MD_FN(md_wino_wg_scratch)(C, N), 16));
    const md_T **dp = xp + TB;
    MD_FN(md_wkr_args) a;
    a.x = xp;
    a.dy = dp;
    a.ldc = N;
    a.mr = C;
    for (int64_t b0 = t0; b0 < t1; b0 += TB) {
        const int64_t tb = md_min64(TB, t1 - b0);
        fns->input(V, tmp, p, &pl->tiles, zero, b0, tb);
        fns->dy(D, tmp, dy, p, &pl->tiles, zero, b0, tb);
        for (int64_t i = 0; i < tb; i++) {
            xp[i] = V + i * A2 * C;
            dp[i] = D + i * A2 * N;
        }
        a.np = tb;
        a.accumulate = b0 > t0;
        for (int64_t pos = 0; pos < A2; pos++) {
            a.xoff = pos * C;
            for (int64_t j0 = 0; j0 < N; j0 += pl->cob) {
                a.nc = (int)md_min64(pl->cob, N - j0);
                a.dyoff = pos * N + j0;
                a.c = M + pos * C * N + j0;
                kr->wkr[md_ceil_div(a.nc, kr->vl) - 1](&a);
            }
        }
    }
}

/* The weight gradient of a forward problem that md_wino_applies to (src = x): dw
 * (3, 3, C, N) and, unless NULL, dbias (N). */
static md_status MD_FN(md_wino_wg_exec)(md_T *dw, md_T *dbias, const md_T *dy,
                                        const MD_FN(md_cv) *p) {
    const MD_FN(md_kernels) *kr = MD_FN(md_kernels_get)();
    const MD_FN(md_wino_fns) fns = MD_FN(md_wino_fns_get)();
    MD_FN(md_wino_wg_plan) pl;
    MD_FN(md_wino_wg_plan_make)(&pl, p, kr);
    md_workspace ws;
    const md_status st = md_workspace_acquire(&ws, pl.total);
    if (st != MD_OK) return st;
    char *base = ws.ptr;
    md_T *partials = (md_T *)base;
    double *bias_part = (double *)(base + pl.off_bias);
    md_T *zero = (md_T *)(base + pl.off_zero);
    const int64_t C = p->C, N = p->N, nw = 9 * C * N, A2 = MD_WINO_A * MD_WINO_A;
    const int64_t P = p->batch * p->out_h * p->out_w;
#pragma omp parallel num_threads(pl.nt) if (pl.nt > 1)
    {
#pragma omp single
        for (int64_t c = 0; c < md_max64(C, N); c++) zero[c] = 0;
        char *tws = base + pl.off_thread + (size_t)md_thread_id() * pl.thread_bytes;
        md_T *M = (md_T *)tws;
        md_T *tmp = M + md_round_up(A2 * C * N, 16) + md_round_up(pl.TB * A2 * (C + N), 16);
#pragma omp for schedule(static) nowait
        for (int64_t ch = 0; ch < pl.nchunks; ch++) {
            const int64_t t0 = ch * pl.CT, t1 = md_min64(pl.tiles.ntiles, t0 + pl.CT);
            MD_FN(md_wino_wg_chunk)(M, dy, p, &pl, kr, &fns, zero, tws, t0, t1);
            fns.finish(ch == 0 ? dw : partials + (ch - 1) * nw, M, tmp, C, N);
        }
        if (dbias != NULL) {
#pragma omp for schedule(static)
            for (int64_t ch = 0; ch < pl.bias_chunks; ch++) {
                const int64_t c0 = ch * pl.bias_cp, c1 = md_min64(P, c0 + pl.bias_cp);
                kr->colsum(bias_part + ch * N, dy + c0 * N, c1 - c0, N);
            }
        }
#pragma omp barrier
        MD_FN(md_wg_add_partials)(dw, partials, pl.nchunks, nw);
    }
    if (dbias != NULL) MD_FN(md_wg_bias_total)(dbias, bias_part, pl.bias_chunks, N);
    md_workspace_release(&ws);
    return MD_OK;
}

#undef MD_WINO_BT
#undef MD_WINO_AT
#undef MD_WINO_AS
#undef MD_WINO_INL
#undef MD_WINO_PACK_RUN
#undef MD_WINO_FINISH_RUN
