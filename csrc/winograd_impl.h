/* winograd_impl.h -- template of the Winograd F(2x2, 3x3) convolution (see conv2d.c).
 *
 * A stride-1 3x3 forward-shaped problem (md_cv) is cut into 2x2 output tiles, each read
 * from a 4x4 source window. Per tile and source channel the window d becomes
 * V = B^T d B, per (channel, column) the kernel g becomes U = G g G^T, and the tile's
 * 4x4 products summed over the channels, M[xi] = sum_c V[xi][c] U[xi][c][.], give the
 * output Y = A^T M A:
 *     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *     G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *     A^T = [1 1 1 0; 0 1 -1 -1]
 * so 16 multiplies per tile and channel pair instead of 36: the 16 sums are 16 matrix
 * products (tiles x C) . (C x N) for the indirect micro-kernel (one tap of depth C).
 * Work is cut into blocks of whole tile rows of one image; a thread transforms a block's
 * inputs into its own buffer, runs the 16 products into a second one and writes the
 * block's outputs (bias, activation), so every output element is computed by one thread
 * in a fixed order: the same bits for any thread count. */

typedef struct {
    int64_t tw, th;          /* tiles per output row, tile rows per image */
    int64_t R, TB, nblocks;  /* tile rows per block, most tiles per block, blocks */
    int64_t nv, nb, NRb, MR; /* the indirect kernel's column blocking (as md_cv_plan) */
    int nt;
    size_t off_zero, off_thread, thread_bytes, total;
} MD_FN(md_wino_plan);

/* Whether the Winograd path computes this problem: 3x3, stride 1, no stride gather, and
 * enough channels on both sides for the transforms to pay. */
static int MD_FN(md_wino_applies)(const MD_FN(md_cv) *p) {
    return md_conv_winograd() && p->KH == 3 && p->KW == 3 && p->sh == 1 && p->sw == 1 &&
           !p->strided_bwd && p->C >= MD_WINO_MIN_CHANNELS && p->N >= MD_WINO_MIN_CHANNELS;
}

static void MD_FN(md_wino_plan_make)(MD_FN(md_wino_plan) *pl, const MD_FN(md_cv) *p,
                                     const MD_FN(md_kernels) *kr) {
    const int64_t C = p->C, N = p->N;
    memset(pl, 0, sizeof(*pl));
    pl->tw = md_ceil_div(p->out_w, 2);
    pl->th = md_ceil_div(p->out_h, 2);
    pl->R = md_min64(pl->th, md_max64(1, MD_WINO_BLOCK_TILES / pl->tw));
    pl->TB = pl->R * pl->tw;
    pl->nblocks = p->batch * md_ceil_div(pl->th, pl->R);
    MD_FN(md_cv_column_blocks)(kr, N, &pl->nb, &pl->nv, &pl->MR, &pl->NRb);
    const int64_t M = p->batch * p->out_h * p->out_w;
    pl->nt = (int)md_min64(md_threads_for(md_work3(M, N, 4 * C)), pl->nblocks);
    const size_t E = sizeof(md_T);
    pl->off_zero = (size_t)md_round_up(16 * pl->nb * C * pl->NRb, 16) * E;
    pl->off_thread = pl->off_zero + (size_t)md_round_up(C, 16) * E;
    /* per thread: the block's transformed inputs and products, a tile's scratch, MR row
     * pointers, the 16 window pointers of a tile and one weight pointer */
    pl->thread_bytes = (size_t)md_round_up(16 * pl->TB * C, 16) * E +
                       (size_t)md_round_up(16 * pl->TB * N, 16) * E +
                       (size_t)md_round_up(16 * md_max64(C, N), 16) * E +
                       (size_t)md_round_up((pl->MR + 17) * (int64_t)sizeof(void *), 64);
    pl->total = pl->off_thread + (size_t)pl->nt * pl->thread_bytes;
}

/* U = G g G^T of every (channel c, column n), packed for the micro-kernel as the direct
 * path packs a tap: upack[(xi * nb + jb) * C + c][NRb], zero columns past N. */
static void MD_FN(md_wino_weights)(md_T *upack, const MD_FN(md_cv) *p,
                                   const MD_FN(md_wino_plan) *pl) {
    const int64_t C = p->C, N = p->N, NRb = pl->NRb, nb = pl->nb;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        for (int64_t n = 0; n < nb * NRb; n++) {
            md_T u[16] = {0};
            if (n < N) {
                md_T g[9], gg[12];
                for (int64_t t = 0; t < 9; t++)
                    g[t] = p->w[(p->flip ? 8 - t : t) * p->wts + c * p->wqs + n * p->wns];
                for (int64_t kx = 0; kx < 3; kx++) { /* G g: rows of the kernel */
                    gg[0 * 3 + kx] = g[kx];
                    gg[1 * 3 + kx] = (g[kx] + g[3 + kx] + g[6 + kx]) * (md_T)0.5;
                    gg[2 * 3 + kx] = (g[kx] - g[3 + kx] + g[6 + kx]) * (md_T)0.5;
                    gg[3 * 3 + kx] = g[6 + kx];
                }
                for (int64_t r = 0; r < 4; r++) { /* (G g) G^T: its columns */
                    const md_T *row = gg + r * 3;
                    u[r * 4 + 0] = row[0];
                    u[r * 4 + 1] = (row[0] + row[1] + row[2]) * (md_T)0.5;
                    u[r * 4 + 2] = (row[0] - row[1] + row[2]) * (md_T)0.5;
                    u[r * 4 + 3] = row[2];
                }
            }
            const int64_t jb = n / NRb, j = n % NRb;
            for (int64_t xi = 0; xi < 16; xi++) upack[((xi * nb + jb) * C + c) * NRb + j] = u[xi];
        }
    }
}

/* V[xi * vs + c] = (B^T d B)[xi] for the 4x4 window d whose 16 pixels (row-major) start
 * at d[k] (C channels each). The window rows are taken one at a time (d B), then the
 * four rows combined (B^T (d B)), channels innermost: contiguous in NHWC, so the loops
 * vectorise. */
MD_WINO_CLONES static void MD_FN(md_wino_input_tile)(md_T *restrict V, int64_t vs,
                                                     const md_T *const *d, int64_t C,
                                                     md_T *restrict t) {
    for (int64_t r = 0; r < 4; r++) { /* t[r][j][c] = (d B)[r][j] */
        const md_T *restrict a0 = d[r * 4], *restrict a1 = d[r * 4 + 1];
        const md_T *restrict a2 = d[r * 4 + 2], *restrict a3 = d[r * 4 + 3];
        md_T *restrict t0 = t + (r * 4) * C, *restrict t1 = t0 + C;
        md_T *restrict t2 = t1 + C, *restrict t3 = t2 + C;
        for (int64_t c = 0; c < C; c++) {
            t0[c] = a0[c] - a2[c];
            t1[c] = a1[c] + a2[c];
            t2[c] = a2[c] - a1[c];
            t3[c] = a1[c] - a3[c];
        }
    }
    for (int64_t j = 0; j < 4; j++) { /* V[i][j] = (B^T t)[i][j] */
        const md_T *restrict r0 = t + j * C, *restrict r1 = t + (4 + j) * C;
        const md_T *restrict r2 = t + (8 + j) * C, *restrict r3 = t + (12 + j) * C;
        md_T *restrict v0 = V + j * vs, *restrict v1 = V + (4 + j) * vs;
        md_T *restrict v2 = V + (8 + j) * vs, *restrict v3 = V + (12 + j) * vs;
        for (int64_t c = 0; c < C; c++) {
            v0[c] = r0[c] - r2[c];
            v1[c] = r1[c] + r2[c];
            v2[c] = r2[c] - r1[c];
            v3[c] = r1[c] - r3[c];
        }
    }
}

/* The tile's outputs o[r * 2 + s] (NULL: outside the image) = A^T M A + bias, from the
 * products M[xi * ms + n] (ReLU when relu); s is scratch for 8 rows of N. */
MD_WINO_CLONES static void MD_FN(md_wino_output_tile)(md_T *const *o, const md_T *restrict M,
                                                      int64_t ms, int64_t N,
                                                      const md_T *restrict bias, int relu,
                                                      md_T *restrict s) {
    for (int64_t j = 0; j < 4; j++) { /* s[0][j] = m0 + m1 + m2, s[1][j] = m1 - m2 - m3 */
        const md_T *restrict m0 = M + j * ms, *restrict m1 = M + (4 + j) * ms;
        const md_T *restrict m2 = M + (8 + j) * ms, *restrict m3 = M + (12 + j) * ms;
        md_T *restrict s0 = s + j * N, *restrict s1 = s + (4 + j) * N;
        for (int64_t n = 0; n < N; n++) {
            s0[n] = m0[n] + m1[n] + m2[n];
            s1[n] = m1[n] - m2[n] - m3[n];
        }
    }
    for (int64_t r = 0; r < 2; r++) { /* (A^T M) A along each row, plus the bias */
        const md_T *restrict q0 = s + (r * 4) * N, *restrict q1 = q0 + N;
        const md_T *restrict q2 = q1 + N, *restrict q3 = q2 + N;
        for (int64_t k = 0; k < 2; k++) {
            md_T *restrict y = o[r * 2 + k];
            if (y == NULL) continue;
            for (int64_t n = 0; n < N; n++) {
                md_T v = (k == 0 ? q0[n] + q1[n] + q2[n] : q1[n] - q2[n] - q3[n]) +
                         (bias != NULL ? bias[n] : (md_T)0);
                y[n] = relu && v < 0 ? (md_T)0 : v;
            }
        }
    }
}

/* One block: tile rows [ty0, ty1) of image n, from transformed inputs to outputs. */
static void MD_FN(md_wino_block)(md_T *out, const md_T *bias, int activation,
                                 const MD_FN(md_cv) *p, const MD_FN(md_wino_plan) *pl,
                                 const MD_FN(md_kernels) *kr, const md_T *upack,
                                 const md_T *zero, char *tws, int64_t n, int64_t ty0,
                                 int64_t ty1) {
    const int64_t C = p->C, N = p->N, TB = pl->TB, MR = pl->MR, NRb = pl->NRb;
    md_T *V = (md_T *)tws;
    md_T *M = V + md_round_up(16 * TB * C, 16);
    md_T *scratch = M + md_round_up(16 * TB * N, 16); /* 16 rows of max(C, N) */
    const md_T **tab = (const md_T **)(scratch + md_round_up(16 * md_max64(C, N), 16));
    const md_T **d = tab + MR, **bptr = d + 16;
    const int64_t tiles = (ty1 - ty0) * pl->tw;
    for (int64_t i = 0; i < tiles; i++) {
        const int64_t y0 = (ty0 + i / pl->tw) * 2 - p->pt, x0 = (i % pl->tw) * 2 - p->pl;
        for (int64_t k = 0; k < 16; k++) {
            const int64_t y = y0 + k / 4, x = x0 + k % 4;
            d[k] = y < 0 || y >= p->src_h || x < 0 || x >= p->src_w
                       ? zero
                       : p->src + ((n * p->src_h + y) * p->src_w + x) * C;
        }
        MD_FN(md_wino_input_tile)(V + i * C, TB * C, d, C, scratch);
    }
    static const int64_t no_offset = 0;
    MD_FN(md_ikr_args) args;
    args.ntaps = 1;
    args.q = C;
    args.a = tab;
    args.astride = MR;
    args.aoff = &no_offset;
    args.b = bptr;
    args.bstride = NRb;
    args.init = NULL;
    args.ldc = N;
    args.relu = 0;
    const MD_FN(md_ikr_fn) fn = kr->ikr[pl->nv - 1];
    for (int64_t xi = 0; xi < 16; xi++) {
        for (int64_t i0 = 0; i0 < tiles; i0 += MR) {
            const int64_t mr = md_min64(MR, tiles - i0);
            for (int64_t i = 0; i < MR; i++)
                tab[i] = V + (xi * TB + i0 + md_min64(i, mr - 1)) * C;
            args.mr = (int)mr;
            for (int64_t jb = 0; jb < pl->nb; jb++) {
                bptr[0] = upack + (xi * pl->nb + jb) * C * NRb;
                args.c = M + (xi * TB + i0) * N + jb * NRb;
                args.nc = (int)md_min64(NRb, N - jb * NRb);
                fn(&args);
            }
        }
    }
    const int relu = activation == MD_ACT_RELU;
    for (int64_t i = 0; i < tiles; i++) {
        const int64_t oy = (ty0 + i / pl->tw) * 2, ox = (i % pl->tw) * 2;
        md_T *o[4];
        for (int64_t k = 0; k < 4; k++) {
            const int64_t y = oy + k / 2, x = ox + k % 2;
            o[k] = y < p->out_h && x < p->out_w ? out + ((n * p->out_h + y) * p->out_w + x) * N
                                                : NULL;
        }
        MD_FN(md_wino_output_tile)(o, M + i * N, TB * N, N, bias, relu, scratch);
    }
    if (activation == MD_ACT_SIGMOID || activation == MD_ACT_TANH) {
        const int64_t oy0 = ty0 * 2, oy1 = md_min64(p->out_h, ty1 * 2);
        md_T *rows = out + (n * p->out_h + oy0) * p->out_w * N;
        MD_FN(md_activate_range)(rows, rows, (oy1 - oy0) * p->out_w * N, activation);
    }
}

static void MD_FN(md_wino_run)(md_T *out, const md_T *bias, int activation,
                               const MD_FN(md_cv) *p, const MD_FN(md_wino_plan) *pl,
                               const MD_FN(md_kernels) *kr, char *ws) {
    md_T *upack = (md_T *)ws;
    md_T *zero = (md_T *)(ws + pl->off_zero);
    const int64_t per_image = md_ceil_div(pl->th, pl->R);
#pragma omp parallel num_threads(pl->nt) if (pl->nt > 1)
    {
        MD_FN(md_wino_weights)(upack, p, pl); /* work-shared, ends in a barrier */
#pragma omp single
        for (int64_t c = 0; c < p->C; c++) zero[c] = 0;
        char *tws = ws + pl->off_thread + (size_t)md_thread_id() * pl->thread_bytes;
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < pl->nblocks; b++) {
            const int64_t n = b / per_image, ty0 = (b % per_image) * pl->R;
            MD_FN(md_wino_block)(out, bias, activation, p, pl, kr, upack, zero, tws, n, ty0,
                                 md_min64(pl->th, ty0 + pl->R));
        }
    }
}
