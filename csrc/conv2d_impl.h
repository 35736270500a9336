/* conv2d_impl.h -- template of the convolution passes (see conv2d.c). */

/* A forward-shaped convolution: out (batch, out_h, out_w, N) from src (batch, src_h,
 * src_w, C) through the taps (ky, kx) of a KH x KW window: output pixel (oy, ox) reads
 * source pixel (oy * sh - pt + ky, ox * sw - pl + kx), or, with strided_bwd, pixel
 * ((oy + pt - ky) / sh, (ox + pl - kx) / sw) when both divisions are exact. Weight of
 * tap (ky, kx), channel c, column n = w[wtap * wts + c * wqs + n * wns] with
 * wtap = ky * KW + kx, or its mirror KH*KW-1-wtap when flip is set. */
typedef struct {
    const md_T *src;
    int64_t batch, src_h, src_w, C;
    int64_t out_h, out_w, N;
    int64_t KH, KW, sh, sw, pt, pl;
    int strided_bwd;
    const md_T *w;
    int64_t wts, wqs, wns;
    int flip;
} MD_FN(md_cv);

/* Rows of the padded copy of a source in row-tap mode: the window rows of every output
 * pixel lie inside it. */
static int64_t MD_FN(md_cv_span)(int64_t out, int64_t s, int64_t k) { return (out - 1) * s + k; }

/* Whether row-tap mode must copy the source into a zero-padded buffer. */
static int MD_FN(md_cv_needs_pad)(const MD_FN(md_cv) *p) {
    return p->pt > 0 || p->pl > 0 || MD_FN(md_cv_span)(p->out_h, p->sh, p->KH) > p->src_h ||
           MD_FN(md_cv_span)(p->out_w, p->sw, p->KW) > p->src_w;
}

/* How a forward-shaped problem is cut and where its workspace parts lie.
 * Tap mode (many channels): one kernel tap per (ky, kx), depth C, row pointers checked
 * against the image (zero row in the padding). Row-tap mode (few channels, no stride
 * gather): one kernel tap per ky, depth KW*C -- the window row is contiguous in NHWC --
 * read from the source or, when there is padding, from a zero-padded copy of it. */
typedef struct {
    int dkr, rows, pad, nt;
    int64_t Hs, Ws;        /* source geometry the pointers use (padded copy in row mode) */
    int64_t T, Q, K;       /* kernel taps, depth per tap, total depth */
    int64_t MR, nv, NRb;   /* tile rows, vectors per column block, block width */
    int64_t nb, qpad;      /* column blocks; dkr: padded depth */
    int64_t M, MB, nblocks;
    int64_t wpack, bpack, zero, padded; /* elements */
    int64_t hw, npos;      /* output pixels per image; entries of the position table */
    size_t off_bpack, off_zero, off_pad, off_pos, off_thread, thread_bytes, total;
} MD_FN(md_cv_plan);

/* How the indirect kernel covers N columns: nb blocks of nv vectors each, the widest
 * block with the largest tile (ties: wider), spread evenly. */
static void MD_FN(md_cv_column_blocks)(const MD_FN(md_kernels) *kr, int64_t N, int64_t *nb,
                                       int64_t *nv) {
    int64_t nvmax = 1;
    for (int64_t v = 2; v <= MD_CONV_NV_MAX; v++)
        if (kr->ikr_mr[v - 1] * v >= kr->ikr_mr[nvmax - 1] * nvmax) nvmax = v;
    const int64_t nvneed = md_ceil_div(N, kr->vl);
    *nb = md_ceil_div(nvneed, nvmax);
    *nv = md_ceil_div(nvneed, *nb);
}

static void MD_FN(md_cv_plan_make)(MD_FN(md_cv_plan) *pl, const MD_FN(md_cv) *p,
                                   const MD_FN(md_kernels) *kr) {
    const int64_t VL = kr->vl, K = p->KH * p->KW * p->C;
    memset(pl, 0, sizeof(*pl));
    pl->K = K;
    pl->rows = !p->strided_bwd && p->C < MD_CONV_ROWTAP_C;
    pl->T = pl->rows ? p->KH : p->KH * p->KW;
    pl->Q = pl->rows ? p->KW * p->C : p->C;
    pl->pad = pl->rows && MD_FN(md_cv_needs_pad)(p);
    pl->Hs = pl->pad ? MD_FN(md_cv_span)(p->out_h, p->sh, p->KH) : p->src_h;
    pl->Ws = pl->pad ? MD_FN(md_cv_span)(p->out_w, p->sw, p->KW) : p->src_w;
    const int64_t nvneed = md_ceil_div(p->N, VL);
    /* vector FMAs per output row: ikr over columns, dkr over the depth (+ its reductions) */
    const int64_t cost_ikr = K * nvneed;
    const int64_t cost_dkr = pl->T * md_ceil_div(pl->Q, VL) * p->N + 4 * p->N;
    pl->dkr = p->N <= 8 && cost_dkr < cost_ikr;
    if (pl->dkr) {
        pl->MR = kr->dkr_mr[p->N - 1];
        pl->nb = 1;
        pl->NRb = p->N;
        pl->qpad = md_round_up(pl->Q, VL);
        pl->wpack = pl->T * p->N * pl->qpad;
        pl->bpack = 32; /* the bias repeated along a row-major tile */
    } else {
        MD_FN(md_cv_column_blocks)(kr, p->N, &pl->nb, &pl->nv);
        pl->MR = kr->ikr_mr[pl->nv - 1];
        pl->NRb = pl->nv * VL;
        pl->qpad = pl->Q;
        pl->wpack = pl->nb * K * pl->NRb;
        pl->bpack = pl->nb * pl->NRb;
    }
    pl->zero = pl->rows ? 0 : p->C + VL;
    pl->padded = pl->pad ? p->batch * pl->Hs * pl->Ws * p->C : 0;
    pl->hw = p->out_h * p->out_w;
    pl->npos = p->strided_bwd ? 0 : pl->hw;
    pl->M = p->batch * pl->hw;
    pl->MB = pl->MR * MD_CONV_TILES_PER_BLOCK;
    pl->nblocks = md_ceil_div(pl->M, pl->MB);
    pl->nt = (int)md_min64(md_threads_for(md_work3(pl->M, p->N, K)), pl->nblocks);
    const size_t E = sizeof(md_T);
    pl->off_bpack = (size_t)md_round_up(pl->wpack, 16) * E;
    pl->off_zero = pl->off_bpack + (size_t)md_round_up(pl->bpack, 16) * E;
    pl->off_pad = pl->off_zero + (size_t)md_round_up(pl->zero, 16) * E;
    pl->off_pos = pl->off_pad + (size_t)md_round_up(pl->padded, 16) * E;
    pl->off_thread = pl->off_pos + (size_t)md_round_up(3 * pl->npos * (int64_t)sizeof(int64_t), 64);
    /* per thread: pointer table, weight pointers, then taps[], zero offsets, tap offsets */
    pl->thread_bytes = (size_t)md_round_up((pl->MR * pl->T + pl->T) * (int64_t)sizeof(void *), 64) +
                       (size_t)md_round_up(3 * pl->T * (int64_t)sizeof(int64_t), 64);
    pl->total = pl->off_thread + (size_t)pl->nt * pl->thread_bytes;
}

/* Pack the weights for the kernel. Depth row r = (ky * KW + kx) * C + c runs over all
 * taps in every mode; a kernel tap t covers rows [t * Q, (t + 1) * Q). ikr: [block][r][NRb]
 * (zero columns past N); dkr: [t][n][qpad] (zero depths past Q). Called by every thread of
 * the team: the loops are OpenMP work-shared (and simply run whole without OpenMP). */
static void MD_FN(md_cv_pack_weights)(md_T *wp, const MD_FN(md_cv) *p,
                                      const MD_FN(md_cv_plan) *pl) {
    const int64_t TT = p->KH * p->KW, C = p->C, N = p->N, K = pl->K;
    if (pl->dkr) { /* one (t, n) depth run per iteration */
#pragma omp for schedule(static) nowait
        for (int64_t tn = 0; tn < pl->T * N; tn++) {
            const int64_t t = tn / N, n = tn % N;
            md_T *dst = wp + tn * pl->qpad;
            for (int64_t q = 0; q < pl->Q; q++) {
                const int64_t r = t * pl->Q + q, tap = r / C, c = r % C;
                dst[q] = p->w[(p->flip ? TT - 1 - tap : tap) * p->wts + c * p->wqs + n * p->wns];
            }
            for (int64_t q = pl->Q; q < pl->qpad; q++) dst[q] = 0;
        }
        return;
    }
    const int64_t NRb = pl->NRb;
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < K; r++) {
        const int64_t tap = r / C, c = r % C;
        const md_T *wr = p->w + (p->flip ? TT - 1 - tap : tap) * p->wts + c * p->wqs;
        for (int64_t jb = 0; jb < pl->nb; jb++) {
            const int64_t n0 = jb * NRb, ncols = md_min64(NRb, N - n0);
            const md_T *src = wr + n0 * p->wns;
            md_T *dst = wp + (jb * K + r) * NRb;
            if (p->wns == 1) {
                for (int64_t j = 0; j < ncols; j++) dst[j] = src[j];
            } else {
                for (int64_t j = 0; j < ncols; j++) dst[j] = src[j * p->wns];
            }
            for (int64_t j = ncols; j < NRb; j++) dst[j] = 0;
        }
    }
}

/* dst (n, Hp, Wp, C) = src (n, H, W, C) moved down/right by (pt, pl), zeros elsewhere, for
 * images [n0, n1). Source rows and columns past the copy are never read by a window. */
static void MD_FN(md_cv_pad_images)(md_T *dst, const md_T *src, int64_t n0, int64_t n1,
                                    int64_t H, int64_t W, int64_t C, int64_t Hp, int64_t Wp,
                                    int64_t pt, int64_t pl) {
    const int64_t x1 = md_min64(Wp, pl + W); /* copied columns: [pl, x1) */
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t yp = 0; yp < Hp; yp++) {
            md_T *d = dst + (n * Hp + yp) * Wp * C;
            const int64_t y = yp - pt;
            if (y < 0 || y >= H || x1 <= pl) {
                memset(d, 0, (size_t)(Wp * C) * sizeof(md_T));
                continue;
            }
            memset(d, 0, (size_t)(pl * C) * sizeof(md_T));
            memcpy(d + pl * C, src + (n * H + y) * W * C, (size_t)((x1 - pl) * C) * sizeof(md_T));
            memset(d + x1 * C, 0, (size_t)((Wp - x1) * C) * sizeof(md_T));
        }
    }
}

/* Advance the pixel coordinates (n, y, x) of an out_h x out_w grid by one. */
static inline void MD_FN(md_cv_next)(int64_t *n, int64_t *y, int64_t *x, int64_t h, int64_t w) {
    if (++*x == w) {
        *x = 0;
        if (++*y == h) {
            *y = 0;
            ++*n;
        }
    }
}

/* The position table of a forward-shaped problem (not strided_bwd): for every output pixel
 * position p = oy * out_w + ox of an image, the element offset of its window origin inside
 * the image (negative or past the end where the window hangs over the padding) and, in tap
 * mode, bit masks of the window rows ky and columns kx that lie inside the source image
 * (all ones: the whole window is inside). Built once per call, so the tiles need neither
 * divisions nor per-pixel branches. Positions [p0, p1). */
static void MD_FN(md_cv_pos_table)(int64_t *off, uint64_t *ym, uint64_t *xm,
                                   const MD_FN(md_cv) *p, int rows, int64_t Ws, int64_t p0,
                                   int64_t p1) {
    for (int64_t q = p0; q < p1; q++) {
        const int64_t oy = q / p->out_w, ox = q % p->out_w;
        if (rows) { /* origin in the (padded) source of row width Ws */
            off[q] = (oy * p->sh * Ws + ox * p->sw) * p->C;
            ym[q] = xm[q] = 0;
            continue;
        }
        const int64_t y0 = oy * p->sh - p->pt, x0 = ox * p->sw - p->pl;
        off[q] = (y0 * p->src_w + x0) * p->C;
        uint64_t my = 0, mx = 0;
        for (int64_t k = 0; k < p->KH && k < 64; k++)
            my |= (uint64_t)((uint64_t)(y0 + k) < (uint64_t)p->src_h) << k;
        for (int64_t k = 0; k < p->KW && k < 64; k++)
            mx |= (uint64_t)((uint64_t)(x0 + k) < (uint64_t)p->src_w) << k;
        ym[q] = my;
        xm[q] = mx;
    }
}

/* All ones in the low k bits. */
static inline uint64_t MD_FN(md_cv_ones)(int64_t k) {
    return k >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << k) - 1;
}

/* Tap mode: row pointers of the tile of output rows [m0, m0 + mr), m0 = image n, position
 * q0, for every tap (ky, kx). When every window of the tile lies inside the image, tab gets
 * one base pointer per row (*shared = 1: the kernel adds the per-tap offsets). Else tab
 * gets a table, tap-major, MR per tap (taps in the padding point at zero) and taps where
 * no row sees the image are left out. Rows past mr repeat the last row. The kept taps'
 * indices go to taps[]; returns their count. */
static int64_t MD_FN(md_cv_tap_ptrs)(const md_T **tab, int64_t *taps, int *shared,
                                     const MD_FN(md_cv) *p, const MD_FN(md_cv_plan) *pl,
                                     const int64_t *pos_off, const uint64_t *pos_ym,
                                     const uint64_t *pos_xm, const md_T *zero, int64_t n,
                                     int64_t q0, int64_t mr) {
    const int64_t MR = pl->MR, T = p->KH * p->KW, img = p->src_h * p->src_w * p->C;
    if (p->KH > 63 || p->KW > 63) { /* no bit masks: check every pointer */
        int64_t rn[16], rq[16], nact = 0;
        for (int64_t i = 0, ni = n, qi = q0; i < MR; i++) {
            rn[i] = ni;
            rq[i] = qi;
            if (i + 1 < mr && ++qi == pl->hw) {
                qi = 0;
                ni++;
            }
        }
        for (int64_t ky = 0; ky < p->KH; ky++) {
            for (int64_t kx = 0; kx < p->KW; kx++) {
                const md_T **row = tab + nact * MR;
                int any = 0;
                for (int64_t i = 0; i < MR; i++) {
                    const int64_t y = rq[i] / p->out_w * p->sh - p->pt + ky;
                    const int64_t x = rq[i] % p->out_w * p->sw - p->pl + kx;
                    const int ok =
                        (uint64_t)y < (uint64_t)p->src_h && (uint64_t)x < (uint64_t)p->src_w;
                    row[i] = ok ? p->src + ((rn[i] * p->src_h + y) * p->src_w + x) * p->C : zero;
                    any |= ok;
                }
                if (any) taps[nact++] = ky * p->KW + kx;
            }
        }
        *shared = 0;
        return nact;
    }
    const uint64_t fy = MD_FN(md_cv_ones)(p->KH), fx = MD_FN(md_cv_ones)(p->KW);
    int64_t off[16];
    uint64_t ym[16], xm[16], inside = 1;
    for (int64_t i = 0, ni = n, qi = q0; i < MR; i++) {
        off[i] = ni * img + pos_off[qi];
        tab[i] = p->src + off[i]; /* here, not in a loop of its own: GCC would vectorise
                                     it and stall on loading off[] just stored */
        ym[i] = pos_ym[qi];
        xm[i] = pos_xm[qi];
        inside &= (uint64_t)(ym[i] == fy) & (uint64_t)(xm[i] == fx);
        if (i + 1 < mr && ++qi == pl->hw) {
            qi = 0;
            ni++;
        }
    }
    if (inside) {
        for (int64_t t = 0; t < T; t++) taps[t] = t;
        *shared = 1;
        return T;
    }
    *shared = 0;
    int64_t nact = 0;
    for (int64_t ky = 0; ky < p->KH; ky++) {
        for (int64_t kx = 0; kx < p->KW; kx++) {
            const md_T **row = tab + nact * MR;
            const int64_t toff = (ky * p->src_w + kx) * p->C;
            uint64_t any = 0;
            for (int64_t i = 0; i < MR; i++) {
                const uint64_t ok = (ym[i] >> ky) & (xm[i] >> kx) & 1u;
                row[i] = ok ? p->src + (off[i] + toff) : zero;
                any |= ok;
            }
            if (any) taps[nact++] = ky * p->KW + kx;
        }
    }
    return nact;
}

/* Strided backward input: the table of row pointers of the tile [m0, m0 + mr), tap-major,
 * as md_cv_tap_ptrs (rows past mr and taps without a dy pixel point at zero). */
static int64_t MD_FN(md_cv_gather_ptrs)(const md_T **tab, int64_t *taps, const MD_FN(md_cv) *p,
                                        int64_t MR, const md_T *zero, int64_t m0, int64_t mr) {
    int64_t ry[16], rx[16], rb[16]; /* MR <= 16 */
    const int64_t hw = p->out_h * p->out_w;
    int64_t n = m0 / hw, oy = (m0 % hw) / p->out_w, ox = m0 % p->out_w;
    const int64_t SH = p->src_h, SW = p->src_w, C = p->C;
    const int64_t far = -(INT64_C(1) << 40); /* never a dy pixel */
    for (int64_t i = 0; i < MR; i++) {
        if (i < mr) {
            ry[i] = oy + p->pt;
            rx[i] = ox + p->pl;
            rb[i] = n * SH;
            MD_FN(md_cv_next)(&n, &oy, &ox, p->out_h, p->out_w);
        } else {
            ry[i] = rx[i] = far;
            rb[i] = 0;
        }
    }
    int64_t nact = 0;
    for (int64_t ky = 0; ky < p->KH; ky++) {
        for (int64_t kx = 0; kx < p->KW; kx++) {
            const md_T **row = tab + nact * MR;
            int any = 0;
            for (int64_t i = 0; i < MR; i++) {
                const int64_t ty = ry[i] - ky, tx = rx[i] - kx;
                int ok = ty >= 0 && tx >= 0 && ty % p->sh == 0 && tx % p->sw == 0;
                const int64_t y = ty / p->sh, x = tx / p->sw;
                ok = ok && y < SH && x < SW;
                row[i] = ok ? p->src + ((rb[i] + y) * SW + x) * C : zero;
                any |= ok;
            }
            if (any) taps[nact++] = ky * p->KW + kx;
        }
    }
    return nact;
}

/* Row-tap mode: the window origin of every row of the tile (image n, position q0, mr rows)
 * in the (padded) source src; rows past mr repeat the last one. Window row ky lies
 * ky * Ws * C further. */
static void MD_FN(md_cv_row_ptrs)(const md_T **tab, const md_T *src, const MD_FN(md_cv_plan) *pl,
                                  const int64_t *pos_off, int64_t img, int64_t n, int64_t q0,
                                  int64_t mr) {
    for (int64_t i = 0, ni = n, qi = q0; i < pl->MR; i++) {
        tab[i] = src + (ni * img + pos_off[qi]);
        if (i + 1 < mr && ++qi == pl->hw) {
            qi = 0;
            ni++;
        }
    }
}

/* Row-tap mode with padding: the first of the kernel rows that read a real source row for
 * some row of the tile (image position q0, mr rows), and their count in *ntaps; the
 * others only meet the zero padding, and skipping them adds exactly the same (a tile that
 * runs into the next image keeps them all). */
static int64_t MD_FN(md_cv_row_taps)(const MD_FN(md_cv) *p, int64_t q0, int64_t mr, int64_t hw,
                                     int64_t *ntaps) {
    *ntaps = p->KH;
    if (q0 + mr > hw) return 0;
    const int64_t oy0 = q0 / p->out_w, oy1 = (q0 + mr - 1) / p->out_w;
    const int64_t lo = md_max64(0, p->pt - oy1 * p->sh);
    const int64_t hi = md_min64(p->KH, p->src_h + p->pt - oy0 * p->sh);
    if (hi <= lo) return 0;
    *ntaps = hi - lo;
    return lo;
}

/* Run a forward-shaped problem into out (M, N); workspace laid out by the plan. */
static void MD_FN(md_cv_run)(md_T *out, const md_T *bias, int activation,
                             const MD_FN(md_cv) *p, const MD_FN(md_cv_plan) *pl,
                             const MD_FN(md_kernels) *kr, char *ws) {
    md_T *wpack = (md_T *)ws;
    md_T *bpack = (md_T *)(ws + pl->off_bpack);
    md_T *zero = (md_T *)(ws + pl->off_zero);
    md_T *padded = (md_T *)(ws + pl->off_pad);
    int64_t *pos_off = (int64_t *)(ws + pl->off_pos);
    uint64_t *pos_ym = (uint64_t *)(pos_off + pl->npos), *pos_xm = pos_ym + pl->npos;
    const md_T *rsrc = pl->pad ? padded : p->src;
    const int64_t rimg = pl->Hs * pl->Ws * p->C; /* one image of rsrc */
    const md_T *init = NULL;
    if (bias != NULL) {
        for (int64_t j = 0; j < pl->bpack; j++)
            bpack[j] = pl->dkr ? bias[j % p->N] : j < p->N ? bias[j] : (md_T)0;
        init = bpack;
    }
    for (int64_t j = 0; j < pl->zero; j++) zero[j] = 0;
    const int relu = activation == MD_ACT_RELU;
    const int other_act = activation == MD_ACT_SIGMOID || activation == MD_ACT_TANH;
    const int64_t MR = pl->MR, N = p->N, T = pl->T, NRb = pl->NRb;
    const MD_FN(md_ikr_fn) fn = pl->dkr ? kr->dkr[N - 1] : kr->ikr[pl->nv - 1];
    const int64_t wblock = pl->dkr ? 0 : pl->K * NRb; /* one column block of wpack */
    const int64_t wtap = pl->dkr ? N * pl->qpad : pl->Q * NRb;

#pragma omp parallel num_threads(pl->nt) if (pl->nt > 1)
    {
        MD_FN(md_cv_pack_weights)(wpack, p, pl); /* work-shared inside */
        if (pl->pad) {
#pragma omp for schedule(static) nowait
            for (int64_t n = 0; n < p->batch; n++)
                MD_FN(md_cv_pad_images)(padded, p->src, n, n + 1, p->src_h, p->src_w, p->C,
                                        pl->Hs, pl->Ws, p->pt, p->pl);
        }
        if (pl->npos > 0) {
            const int64_t step = 256, nsteps = md_ceil_div(pl->npos, step);
#pragma omp for schedule(static) nowait
            for (int64_t s = 0; s < nsteps; s++)
                MD_FN(md_cv_pos_table)(pos_off, pos_ym, pos_xm, p, pl->rows, pl->Ws, s * step,
                                       md_min64(pl->npos, (s + 1) * step));
        }
#pragma omp barrier
        char *tws = ws + pl->off_thread + (size_t)md_thread_id() * pl->thread_bytes;
        const md_T **tab = (const md_T **)tws;
        const md_T **bptr = tab + MR * T;
        int64_t *taps = (int64_t *)(tws + md_round_up((MR * T + T) * (int64_t)sizeof(void *), 64));
        int64_t *zoff = taps + T, *toff = zoff + T;
        for (int64_t t = 0; t < T; t++) {
            zoff[t] = 0;
            /* offset of kernel tap t from the window origin */
            toff[t] = pl->rows ? t * pl->Ws * p->C : ((t / p->KW) * p->src_w + t % p->KW) * p->C;
            if (pl->rows) taps[t] = t;
        }
        MD_FN(md_ikr_args) args;
        args.q = pl->Q;
        args.a = tab;
        args.b = bptr;
        args.bstride = pl->dkr ? pl->qpad : NRb;
        args.ldc = N;
        args.relu = relu;
        /* runs of consecutive blocks (neighbouring tiles share input rows), split in
         * contiguous ranges (see md_internal.h on scheduling) */
        const int64_t run = md_max64(1, pl->nblocks / (8 * (int64_t)pl->nt));
#pragma omp for schedule(static)
        for (int64_t rb = 0; rb < pl->nblocks; rb += run)
        for (int64_t blk = rb; blk < md_min64(pl->nblocks, rb + run); blk++) {
            const int64_t m0 = blk * pl->MB, mb = md_min64(pl->MB, pl->M - m0);
            int64_t n = m0 / pl->hw, q = m0 % pl->hw; /* image and position of row i0 */
            int64_t prev_ntaps = 0;                   /* bptr[] holds nothing yet */
            for (int64_t i0 = 0; i0 < mb; i0 += MR) {
                const int64_t mr = md_min64(MR, mb - i0);
                int64_t ntaps = T, first = 0; /* taps [first, first + ntaps) */
                int shared = 1;
                if (pl->rows) {
                    MD_FN(md_cv_row_ptrs)(tab, rsrc, pl, pos_off, rimg, n, q, mr);
                    if (pl->pad) first = MD_FN(md_cv_row_taps)(p, q, mr, pl->hw, &ntaps);
                } else if (p->strided_bwd) {
                    ntaps = MD_FN(md_cv_gather_ptrs)(tab, taps, p, MR, zero, m0 + i0, mr);
                    shared = 0;
                } else {
                    ntaps = MD_FN(md_cv_tap_ptrs)(tab, taps, &shared, p, pl, pos_off, pos_ym,
                                                  pos_xm, zero, n, q, mr);
                }
                for (q += MR; q >= pl->hw; q -= pl->hw) n++;
                args.astride = shared ? 0 : MR;
                args.aoff = shared ? toff + first : zoff;
                md_T *crow = out + (m0 + i0) * N;
                args.ntaps = ntaps;
                args.mr = (int)mr;
                for (int64_t jb = 0; jb < pl->nb; jb++) {
                    const md_T *wb = wpack + jb * wblock;
                    /* all taps in order (ntaps == T) with one column block: bptr[] stays */
                    if (pl->nb > 1 || ntaps < T || prev_ntaps < T)
                        for (int64_t a = 0; a < ntaps; a++) bptr[a] = wb + taps[first + a] * wtap;
                    prev_ntaps = ntaps;
                    args.init = init != NULL ? init + jb * NRb : NULL;
                    args.c = crow + jb * NRb;
                    args.nc = (int)md_min64(NRb, N - jb * NRb);
                    fn(&args);
                }
                if (other_act) MD_FN(md_activate_range)(crow, crow, mr * N, activation);
            }
        }
    }
}

/* ------------------------------------------------------------------ one input channel */
/* With a single source channel and unit horizontal stride, the pixels of an output row
 * are the vector lanes instead (each window row is a contiguous, shifted run of x):
 * out^T (N x pixels) = w^T (N x KH*KW) . im2col^T, one output-row segment of NR pixels at
 * a time, by the indirect kernel with rows = output channels (a[ky][n] -> w^T row n at
 * ky), taps = ky, depth = kx and B rows read straight from the zero-padded source copy
 * (bstride 1, shifted by kx). The N x NR tile is then transposed into the NHWC output. */
typedef struct {
    int64_t nv, MR, NR, Hs, Ws, K, rows, nt;
    size_t off_wt, off_zoff, off_thread, thread_bytes, total;
} MD_FN(md_cv1_plan);

/* Whether the one-channel path applies; fills the plan when it does. */
static int MD_FN(md_cv1_plan_make)(MD_FN(md_cv1_plan) *pl, const MD_FN(md_cv) *p,
                                   const MD_FN(md_kernels) *kr) {
    memset(pl, 0, sizeof(*pl));
    if (p->strided_bwd || p->C != 1 || p->sw != 1) return 0;
    pl->nv = 2;
    if (p->N > kr->ikr_mr[1] || p->N > 16) return 0;
    pl->MR = p->N; /* kr->ikr2_rows[N - 1] has exactly N rows */
    pl->NR = pl->nv * kr->vl;
    pl->Hs = MD_FN(md_cv_span)(p->out_h, p->sh, p->KH);
    pl->Ws = MD_FN(md_cv_span)(p->out_w, p->sw, p->KW);
    pl->K = p->KH * p->KW;
    pl->rows = p->batch * p->out_h;
    pl->nt = (int)md_min64(md_threads_for(md_work3(pl->rows * p->out_w, p->N, pl->K)), pl->rows);
    const size_t E = sizeof(md_T);
    /* padded source (+ slack: a segment reads up to NR + KW past its row start) */
    const int64_t padded = p->batch * pl->Hs * pl->Ws + pl->NR + p->KW;
    pl->off_wt = (size_t)md_round_up(padded, 16) * E;
    pl->off_zoff = pl->off_wt + (size_t)md_round_up(p->N * pl->K, 16) * E;
    pl->off_thread = pl->off_zoff + (size_t)md_round_up(p->KH * (int64_t)sizeof(int64_t), 64);
    pl->thread_bytes = (size_t)md_round_up((pl->MR + 1) * p->KH * (int64_t)sizeof(void *), 64) +
                       (size_t)md_round_up(pl->MR * pl->NR * (int64_t)E, 64);
    pl->total = pl->off_thread + (size_t)pl->nt * pl->thread_bytes;
    return 1;
}

static void MD_FN(md_cv1_run)(md_T *out, const md_T *bias, int activation, const MD_FN(md_cv) *p,
                              const MD_FN(md_cv1_plan) *pl, const MD_FN(md_kernels) *kr,
                              char *ws) {
    md_T *xs = (md_T *)ws;
    md_T *wt = (md_T *)(ws + pl->off_wt);
    int64_t *zoff = (int64_t *)(ws + pl->off_zoff);
    const int64_t KH = p->KH, KW = p->KW, K = pl->K, N = p->N, MR = pl->MR, NR = pl->NR;
    const int64_t OW = p->out_w, TT = K;
    const int relu = activation == MD_ACT_RELU;
    const int other_act = activation == MD_ACT_SIGMOID || activation == MD_ACT_TANH;
    const MD_FN(md_ikr_fn) fn = kr->ikr2_rows[N - 1];

#pragma omp parallel num_threads(pl->nt) if (pl->nt > 1)
    {
#pragma omp for schedule(static) nowait
        for (int64_t n = 0; n < p->batch; n++)
            MD_FN(md_cv_pad_images)(xs, p->src, n, n + 1, p->src_h, p->src_w, 1, pl->Hs, pl->Ws,
                                    p->pt, p->pl);
#pragma omp single
        {
            for (int64_t j = 0; j < NR + KW; j++) xs[p->batch * pl->Hs * pl->Ws + j] = 0;
            for (int64_t n = 0; n < N; n++) /* w^T: row n holds the K taps of column n */
                for (int64_t t = 0; t < K; t++)
                    wt[n * K + t] = p->w[(p->flip ? TT - 1 - t : t) * p->wts + n * p->wns];
            for (int64_t ky = 0; ky < KH; ky++) zoff[ky] = 0;
        }
        char *tws = ws + pl->off_thread + (size_t)md_thread_id() * pl->thread_bytes;
        const md_T **tab = (const md_T **)tws, **bptr = tab + MR * KH;
        md_T *tmp = (md_T *)(tws + md_round_up((MR + 1) * KH * (int64_t)sizeof(void *), 64));
        for (int64_t ky = 0; ky < KH; ky++)
            for (int64_t i = 0; i < MR; i++)
                tab[ky * MR + i] = wt + md_min64(i, N - 1) * K + ky * KW;
        MD_FN(md_ikr_args) args;
        args.ntaps = KH;
        args.q = KW;
        args.a = tab;
        args.astride = MR;
        args.aoff = zoff;
        args.b = bptr;
        args.bstride = 1;
        args.init = NULL;
        args.c = tmp;
        args.ldc = NR;
        args.mr = (int)N;
        args.nc = (int)NR;
        args.relu = 0;
        /* groups of output rows (n, oy), contiguous in the output: the sigmoid/tanh runs
         * once over a group (few rows of few channels are short, ragged vector runs) */
        const int64_t groups = md_ceil_div(pl->rows, MD_CONV1_ROW_GROUP);
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < groups; gi++) {
            const int64_t r0 = gi * MD_CONV1_ROW_GROUP;
            const int64_t r1 = md_min64(r0 + MD_CONV1_ROW_GROUP, pl->rows);
            for (int64_t r = r0; r < r1; r++) {
                const int64_t n = r / p->out_h, oy = r % p->out_h;
                const md_T *xrow = xs + (n * pl->Hs + oy * p->sh) * pl->Ws;
                md_T *orow = out + r * OW * N;
                for (int64_t x0 = 0; x0 < OW; x0 += NR) {
                    const int64_t len = md_min64(NR, OW - x0);
                    for (int64_t ky = 0; ky < KH; ky++) bptr[ky] = xrow + ky * pl->Ws + x0;
                    fn(&args);
                    kr->tpose(orow + x0 * N, tmp, NR, (int)N, len, bias, relu);
                }
            }
            if (other_act)
                MD_FN(md_activate_range)(out + r0 * OW * N, out + r0 * OW * N,
                                         (r1 - r0) * OW * N, activation);
        }
    }
}

/* Forward: src = x, N = out_c, weights as stored (c = ci, n = co). */
static void MD_FN(md_cv_forward_problem)(MD_FN(md_cv) *p, const md_T *x, const md_T *w,
                                         const md_conv2d_geom *g) {
    *p = (MD_FN(md_cv)){x, g->batch, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c,
                        g->k_h, g->k_w, g->stride_h, g->stride_w, g->pad_top, g->pad_left, 0,
                        w, g->in_c * g->out_c, g->out_c, 1, 0};
}

/* Backward input: src = dy, N = in_c, weights transposed (c = co, n = ci); stride 1 is a
 * 'full' forward correlation with the flipped kernel, stride > 1 gathers. */
static void MD_FN(md_cv_backward_input_problem)(MD_FN(md_cv) *p, const md_T *dy, const md_T *w,
                                                const md_conv2d_geom *g) {
    const int unit = g->stride_h == 1 && g->stride_w == 1;
    *p = (MD_FN(md_cv)){dy, g->batch, g->out_h, g->out_w, g->out_c, g->in_h, g->in_w, g->in_c,
                        g->k_h, g->k_w, g->stride_h, g->stride_w,
                        unit ? g->k_h - 1 - g->pad_top : g->pad_top,
                        unit ? g->k_w - 1 - g->pad_left : g->pad_left, !unit,
                        w, g->in_c * g->out_c, 1, g->out_c, unit};
}

/* The Winograd path of 3x3 stride-1 problems (winograd_impl.h, instantiated after this
 * file). */
static int MD_FN(md_wino_applies)(const MD_FN(md_cv) *p);
static md_status MD_FN(md_wino_exec)(md_T *out, const md_T *bias, int activation,
                                     const MD_FN(md_cv) *p);
static md_status MD_FN(md_wino_wg_exec)(md_T *dw, md_T *dbias, const md_T *dy,
                                        const MD_FN(md_cv) *p);

#if MD_IS_F32
/* The float32 one-channel forward on AVX2/AVX-512 (conv_one_channel.h, included after this
 * file): -1 when it does not apply, else the status. */
static int md_c1d_run(float *out, float *pooled, const float *bias, int activation,
                      const md_cv_f32 *p);
/* Its weight gradient (conv_one_channel.h): -1 when it does not apply, else the status. */
static int md_c1w_run(float *dw, float *dbias, const float *dy, const float *x,
                      const md_conv2d_geom *g);
#endif

/* Run a forward-shaped problem on the thread's scratch workspace. */
static md_status MD_FN(md_cv_exec)(md_T *out, const md_T *bias, int activation,
                                   const MD_FN(md_cv) *p) {
    if (MD_FN(md_wino_applies)(p)) return MD_FN(md_wino_exec)(out, bias, activation, p);
#if MD_IS_F32
    const int direct = md_c1d_run(out, NULL, bias, activation, p);
    if (direct >= 0) return (md_status)direct;
#endif
    const MD_FN(md_kernels) *kr = MD_FN(md_kernels_get)();
    MD_FN(md_cv1_plan) p1;
    MD_FN(md_cv_plan) pl;
    const int one = MD_FN(md_cv1_plan_make)(&p1, p, kr);
    if (!one) MD_FN(md_cv_plan_make)(&pl, p, kr);
    md_workspace ws;
    const md_status st = md_workspace_acquire(&ws, one ? p1.total : pl.total);
    if (st != MD_OK) return st;
    if (one)
        MD_FN(md_cv1_run)(out, bias, activation, p, &p1, kr, ws.ptr);
    else
        MD_FN(md_cv_run)(out, bias, activation, p, &pl, kr, ws.ptr);
    md_workspace_release(&ws);
    return MD_OK;
}

/* The checks of both forward entry points, and the forward problem in *p. */
static md_status MD_FN(md_cv_forward_args)(MD_FN(md_cv) *p, const md_T *y, const md_T *x,
                                           const md_T *w, int activation,
                                           const md_conv2d_geom *g) {
    const md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (y == NULL || x == NULL || w == NULL || !md_act_fusable(activation)) return MD_ERR_ARG;
    MD_FN(md_cv_forward_problem)(p, x, w, g);
    return MD_OK;
}

md_status MD_FN(md_conv2d_forward)(md_T *y, const md_T *x, const md_T *w, const md_T *bias,
                                   int activation, const md_conv2d_geom *g) {
    MD_FN(md_cv) p;
    const md_status st = MD_FN(md_cv_forward_args)(&p, y, x, w, activation, g);
    if (st != MD_OK) return st;
    return MD_FN(md_cv_exec)(y, bias, activation, &p);
}

md_status MD_FN(md_conv2d_forward_avgpool2)(md_T *y, md_T *unpooled, const md_T *x,
                                            const md_T *w, const md_T *bias, int activation,
                                            const md_conv2d_geom *g) {
    MD_FN(md_cv) p;
    md_status st = MD_FN(md_cv_forward_args)(&p, y, x, w, activation, g);
    if (st != MD_OK) return st;
    if (g->out_h < 2 || g->out_w < 2) return MD_ERR_SHAPE;
    if (unpooled != NULL && (unpooled == y || unpooled == x)) return MD_ERR_ARG;
#if MD_IS_F32
    const int direct = md_c1d_run(unpooled, y, bias, activation, &p);
    if (direct >= 0) return (md_status)direct;
#endif
    /* elsewhere: the convolution into unpooled or a buffer, then the pooling pass */
    md_T *z = unpooled;
    if (z == NULL) {
        z = malloc((size_t)(g->batch * g->out_h * g->out_w * g->out_c) * sizeof(md_T));
        if (z == NULL) return MD_ERR_ALLOC;
    }
    st = MD_FN(md_cv_exec)(z, bias, activation, &p);
    if (st == MD_OK) {
        const md_pool2d_geom pg = {g->batch, g->out_h, g->out_w, g->out_c, 2, 2, 2, 2, 0, 0,
                                   g->out_h / 2, g->out_w / 2};
        st = MD_FN(md_avgpool2d_forward)(y, z, &pg);
    }
    if (z != unpooled) free(z);
    return st;
}

md_status MD_FN(md_conv2d_backward_input)(md_T *dx, const md_T *dy, const md_T *w,
                                          const md_conv2d_geom *g) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (dx == NULL || dy == NULL || w == NULL) return MD_ERR_ARG;
    MD_FN(md_cv) p;
    MD_FN(md_cv_backward_input_problem)(&p, dy, w, g);
    return MD_FN(md_cv_exec)(dx, NULL, MD_ACT_LINEAR, &p);
}

/* ------------------------------------------------------------------ weight gradient */

/* dw += the chunk partials 1..nchunks-1 (blocks of nw after partials; chunk 0 is dw
 * itself), in chunk order: the same additions for any thread count. Work-shared: call
 * it from every thread of a parallel region. */
static void MD_FN(md_wg_add_partials)(md_T *dw, const md_T *partials, int64_t nchunks,
                                      int64_t nw) {
    if (nchunks < 2) return;
    const int64_t step = 4096, nsteps = md_ceil_div(nw, step);
#pragma omp for schedule(static)
    for (int64_t s = 0; s < nsteps; s++) {
        const int64_t i0 = s * step, i1 = md_min64(nw, i0 + step);
        for (int64_t c = 1; c < nchunks; c++) {
            const md_T *pp = partials + (c - 1) * nw;
            for (int64_t i = i0; i < i1; i++) dw[i] += pp[i];
        }
    }
}

/* dbias[c] = the sum of the chunks' bias partials (double, chunk order). */
static void MD_FN(md_wg_bias_total)(md_T *dbias, const double *bias_part, int64_t nchunks,
                                    int64_t CO) {
    for (int64_t c = 0; c < CO; c++) {
        double sum = 0;
        for (int64_t ch = 0; ch < nchunks; ch++) sum += bias_part[ch * CO + c];
        dbias[c] = (md_T)sum;
    }
}

/* Weight gradient plan. Tap mode: per (ky, kx) the entries are the pixels whose tap lands
 * in the image (x pixel, dy row), kernel rows = in_c. Row-tap mode (few channels): per ky
 * every pixel is an entry pointing at its window row in the (padded) x, rows = KW*in_c. */
typedef struct {
    int rows, pad, nt;
    int64_t Hs, Ws, K, SB, CP, nchunks, cob; /* cob: columns per out-channel block */
    int64_t padded, hw;
    size_t off_bias, off_pad, off_pos, off_thread, thread_bytes, total;
} MD_FN(md_wg_plan);

static void MD_FN(md_wg_plan_make)(MD_FN(md_wg_plan) *pl, const md_conv2d_geom *g,
                                   const MD_FN(md_kernels) *kr) {
    memset(pl, 0, sizeof(*pl));
    const int64_t P = g->batch * g->out_h * g->out_w, CO = g->out_c, VL = kr->vl;
    MD_FN(md_cv) fp;
    MD_FN(md_cv_forward_problem)(&fp, NULL, NULL, g);
    pl->K = g->k_h * g->k_w * g->in_c;
    pl->rows = g->in_c < MD_CONV_ROWTAP_C;
    pl->pad = pl->rows && MD_FN(md_cv_needs_pad)(&fp);
    pl->Hs = pl->pad ? MD_FN(md_cv_span)(g->out_h, g->stride_h, g->k_h) : g->in_h;
    pl->Ws = pl->pad ? MD_FN(md_cv_span)(g->out_w, g->stride_w, g->k_w) : g->in_w;
    pl->padded = pl->pad ? g->batch * pl->Hs * pl->Ws * g->in_c : 0;
    pl->hw = g->out_h * g->out_w;
    pl->SB = MD_CONV_WG_SUB;
    pl->CP = md_wg_chunk_pixels(P);
    pl->nchunks = md_ceil_div(P, pl->CP);
    const int64_t nvneed = md_ceil_div(CO, VL), nb = md_ceil_div(nvneed, 4);
    pl->cob = md_ceil_div(nvneed, nb) * VL;
    pl->nt = (int)md_min64(md_threads_for(md_work3(P, pl->K, CO)), pl->nchunks);
    const size_t E = sizeof(md_T);
    pl->off_bias = (size_t)md_round_up((pl->nchunks - 1) * pl->K * CO, 16) * E;
    pl->off_pad = pl->off_bias + (size_t)md_round_up(pl->nchunks * CO, 8) * sizeof(double);
    pl->off_pos = pl->off_pad + (size_t)md_round_up(pl->padded, 16) * E;
    pl->off_thread = pl->off_pos + (size_t)md_round_up(3 * pl->hw * (int64_t)sizeof(int64_t), 64);
    /* per thread: x and dy pointers, window offsets and masks of a sub-block */
    pl->thread_bytes = (size_t)md_round_up(3 * pl->SB * (int64_t)sizeof(void *), 64) +
                       (size_t)md_round_up(3 * pl->SB * (int64_t)sizeof(int64_t), 64);
    pl->total = pl->off_thread + (size_t)pl->nt * pl->thread_bytes;
}

/* Weight gradient with one input channel and unit horizontal stride: the pixels of an
 * output-row segment (up to VL of them) are the vector lanes. Each weight dw[ky][kx][co] is
 * a dot product over pixels of a shifted x row run with the dy column co, which is what
 * the dot-product kernel computes: rows = kernel taps (pointers into the zero-padded x
 * copy), columns = out channels (dy segments transposed to [co][lane], zero lanes past
 * the segment), its "taps" = the segments of a sub-block of pixels. */
typedef struct {
    int64_t Hs, Ws, K, hw, SB, CP, nchunks, MR, VL;
    int nt;
    size_t off_bias, off_pad, off_thread, thread_bytes, total;
} MD_FN(md_wg1_plan);

static int MD_FN(md_wg1_plan_make)(MD_FN(md_wg1_plan) *pl, const md_conv2d_geom *g,
                                   const MD_FN(md_kernels) *kr) {
    memset(pl, 0, sizeof(*pl));
    const int64_t CO = g->out_c;
    if (g->in_c != 1 || g->stride_w != 1 || CO > 8) return 0;
    const int64_t P = g->batch * g->out_h * g->out_w;
    pl->VL = kr->vl;
    pl->MR = kr->dkr_mr[CO - 1];
    pl->Hs = MD_FN(md_cv_span)(g->out_h, g->stride_h, g->k_h);
    pl->Ws = MD_FN(md_cv_span)(g->out_w, g->stride_w, g->k_w);
    pl->K = g->k_h * g->k_w;
    pl->hw = g->out_h * g->out_w;
    pl->SB = MD_CONV_WG1_SUB;
    pl->CP = md_max64(MD_CONV_WG_MIN_SUBS * pl->SB,
                      md_round_up(md_ceil_div(P, MD_CONV_WG_MAX_CHUNKS), pl->SB));
    pl->nchunks = md_ceil_div(P, pl->CP);
    pl->nt = (int)md_min64(md_threads_for(md_work3(P, pl->K, CO)), pl->nchunks);
    const size_t E = sizeof(md_T);
    const int64_t padded = g->batch * pl->Hs * pl->Ws + pl->VL + g->k_w; /* + read slack */
    pl->off_bias = (size_t)md_round_up((pl->nchunks - 1) * pl->K * CO, 16) * E;
    pl->off_pad = pl->off_bias + (size_t)md_round_up(pl->nchunks * CO, 8) * sizeof(double);
    pl->off_thread = pl->off_pad + (size_t)md_round_up(padded, 16) * E;
    /* per thread: segment bases, row pointers, dy pointers, zero offsets, dy^T, a tile */
    pl->thread_bytes = (size_t)md_round_up((pl->SB * (pl->MR + 2)) * (int64_t)sizeof(void *), 64) +
                       (size_t)md_round_up(pl->SB * (int64_t)sizeof(int64_t), 64) +
                       (size_t)md_round_up(pl->SB * CO * pl->VL * (int64_t)E, 64) +
                       (size_t)md_round_up(pl->MR * CO * (int64_t)E, 64);
    pl->total = pl->off_thread + (size_t)pl->nt * pl->thread_bytes;
    return 1;
}

static void MD_FN(md_wg1_run)(md_T *dw, md_T *dbias, const md_T *dy, const md_T *x,
                              const md_conv2d_geom *g, const MD_FN(md_wg1_plan) *pl,
                              const MD_FN(md_kernels) *kr, char *base) {
    md_T *partials = (md_T *)base;
    double *bias_part = (double *)(base + pl->off_bias);
    md_T *xs = (md_T *)(base + pl->off_pad);
    const int64_t P = g->batch * g->out_h * g->out_w, K = pl->K, CO = g->out_c;
    const int64_t OW = g->out_w, hw = pl->hw, VL = pl->VL, MR = pl->MR, SB = pl->SB;
    const int64_t nw = K * CO, ximg = pl->Hs * pl->Ws;
    const MD_FN(md_ikr_fn) fn = kr->dkr[CO - 1];

#pragma omp parallel num_threads(pl->nt) if (pl->nt > 1)
    {
#pragma omp for schedule(static) nowait
        for (int64_t n = 0; n < g->batch; n++)
            MD_FN(md_cv_pad_images)(xs, x, n, n + 1, g->in_h, g->in_w, 1, pl->Hs, pl->Ws,
                                    g->pad_top, g->pad_left);
#pragma omp single
        for (int64_t j = 0; j < VL + g->k_w; j++) xs[g->batch * ximg + j] = 0;
        char *tws = base + pl->off_thread + (size_t)md_thread_id() * pl->thread_bytes;
        const md_T **xb = (const md_T **)tws, **tab = xb + SB, **bptr = tab + SB * MR;
        int64_t *zoff = (int64_t *)(tws + md_round_up(SB * (MR + 2) * (int64_t)sizeof(void *), 64));
        md_T *dyt = (md_T *)((char *)zoff + md_round_up(SB * (int64_t)sizeof(int64_t), 64));
        md_T *tmp = (md_T *)((char *)dyt + md_round_up(SB * CO * VL * (int64_t)sizeof(md_T), 64));
        for (int64_t e = 0; e < SB; e++) zoff[e] = 0;
        MD_FN(md_ikr_args) a;
        a.q = VL;
        a.a = tab;
        a.astride = MR;
        a.aoff = zoff;
        a.b = bptr;
        a.bstride = VL;
        a.init = NULL;
        a.c = tmp;
        a.ldc = CO;
        a.nc = (int)CO;
        a.relu = 0;
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < pl->nchunks; ch++) {
            md_T *part = ch == 0 ? dw : partials + (ch - 1) * nw;
            const int64_t c0 = ch * pl->CP, c1 = md_min64(P, c0 + pl->CP);
            for (int64_t s0 = c0; s0 < c1; s0 += SB) {
                const int64_t sn = md_min64(SB, c1 - s0);
                /* segments: runs of <= VL pixels inside one output row */
                int64_t ns = 0;
                for (int64_t e = 0; e < sn;) {
                    const int64_t pix = s0 + e, n = pix / hw, q = pix % hw;
                    const int64_t oy = q / OW, ox = q % OW;
                    const int64_t len = md_min64(md_min64(VL, OW - ox), sn - e);
                    xb[ns] = xs + (n * pl->Hs + oy * g->stride_h) * pl->Ws + ox;
                    md_T *t = dyt + ns * CO * VL;
                    kr->untpose(t, dy + pix * CO, (int)CO, len);
                    bptr[ns] = t;
                    ns++;
                    e += len;
                }
                a.ntaps = ns;
                for (int64_t r0 = 0; r0 < K; r0 += MR) {
                    const int64_t mr = md_min64(MR, K - r0);
                    for (int64_t i = 0; i < MR; i++) {
                        const int64_t r = r0 + md_min64(i, mr - 1);
                        const int64_t off = (r / g->k_w) * pl->Ws + r % g->k_w;
                        for (int64_t sg = 0; sg < ns; sg++) tab[sg * MR + i] = xb[sg] + off;
                    }
                    a.mr = (int)mr;
                    fn(&a);
                    md_T *dst = part + r0 * CO;
                    if (s0 == c0) {
                        for (int64_t i = 0; i < mr * CO; i++) dst[i] = tmp[i];
                    } else {
                        for (int64_t i = 0; i < mr * CO; i++) dst[i] += tmp[i];
                    }
                }
            }
            if (dbias != NULL) kr->colsum(bias_part + ch * CO, dy + c0 * CO, c1 - c0, CO);
        }
        MD_FN(md_wg_add_partials)(dw, partials, pl->nchunks, nw);
    }
    if (dbias != NULL) MD_FN(md_wg_bias_total)(dbias, bias_part, pl->nchunks, CO);
}

md_status MD_FN(md_conv2d_backward_weight)(md_T *dw, md_T *dbias, const md_T *dy, const md_T *x,
                                           const md_conv2d_geom *g) {
    md_status st = md_conv2d_geom_check(g);
    if (st != MD_OK) return st;
    if (dw == NULL || dy == NULL || x == NULL) return MD_ERR_ARG;
#if MD_IS_F32
    const int direct = md_c1w_run(dw, dbias, dy, x, g);
    if (direct >= 0) return (md_status)direct;
#endif
    MD_FN(md_cv) fp; /* the forward problem: the Winograd path's tiles, the position table */
    MD_FN(md_cv_forward_problem)(&fp, x, NULL, g);
    if (MD_FN(md_wino_applies)(&fp)) return MD_FN(md_wino_wg_exec)(dw, dbias, dy, &fp);
    const MD_FN(md_kernels) *kr = MD_FN(md_kernels_get)();
    md_workspace ws;
    MD_FN(md_wg1_plan) p1;
    if (MD_FN(md_wg1_plan_make)(&p1, g, kr)) {
        st = md_workspace_acquire(&ws, p1.total);
        if (st != MD_OK) return st;
        MD_FN(md_wg1_run)(dw, dbias, dy, x, g, &p1, kr, ws.ptr);
        md_workspace_release(&ws);
        return MD_OK;
    }
    MD_FN(md_wg_plan) pl;
    MD_FN(md_wg_plan_make)(&pl, g, kr);
    st = md_workspace_acquire(&ws, pl.total);
    if (st != MD_OK) return st;
    char *base = ws.ptr;
    md_T *partials = (md_T *)base;
    double *bias_part = (double *)(base + pl.off_bias);
    md_T *padded = (md_T *)(base + pl.off_pad);
    int64_t *pos_off = (int64_t *)(base + pl.off_pos);
    uint64_t *pos_ym = (uint64_t *)(pos_off + pl.hw), *pos_xm = pos_ym + pl.hw;
    const int64_t P = g->batch * g->out_h * g->out_w, K = pl.K, CO = g->out_c, CI = g->in_c;
    const int64_t KH = g->k_h, KW = g->k_w, hw = pl.hw;
    const int64_t nw = K * CO;
    const md_T *xs = pl.pad ? padded : x; /* the x the entries point into */
    const int64_t ximg = (pl.rows ? pl.Hs * pl.Ws : g->in_h * g->in_w) * CI;
    const int masks = !pl.rows && KH <= 63 && KW <= 63;

#pragma omp parallel num_threads(pl.nt) if (pl.nt > 1)
    {
        if (pl.pad) {
#pragma omp for schedule(static) nowait
            for (int64_t n = 0; n < g->batch; n++)
                MD_FN(md_cv_pad_images)(padded, x, n, n + 1, g->in_h, g->in_w, CI, pl.Hs, pl.Ws,
                                        g->pad_top, g->pad_left);
        }
        {
            const int64_t step = 256, nsteps = md_ceil_div(hw, step);
#pragma omp for schedule(static)
            for (int64_t s = 0; s < nsteps; s++)
                MD_FN(md_cv_pos_table)(pos_off, pos_ym, pos_xm, &fp, pl.rows, pl.Ws, s * step,
                                       md_min64(hw, (s + 1) * step));
        }
        char *tws = base + pl.off_thread + (size_t)md_thread_id() * pl.thread_bytes;
        const md_T **xp = (const md_T **)tws;
        const md_T **dp = xp + pl.SB, **dq = dp + pl.SB; /* dq: compacted dy pointers */
        int64_t *eo = (int64_t *)(tws + md_round_up(3 * pl.SB * (int64_t)sizeof(void *), 64));
        uint64_t *eym = (uint64_t *)(eo + pl.SB), *exm = eym + pl.SB;
        MD_FN(md_wkr_args) a;
        a.ldc = CO;
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < pl.nchunks; ch++) {
            md_T *part = ch == 0 ? dw : partials + (ch - 1) * nw;
            const int64_t c0 = ch * pl.CP, c1 = md_min64(P, c0 + pl.CP);
            for (int64_t s0 = c0; s0 < c1; s0 += pl.SB) {
                const int64_t sn = md_min64(pl.SB, c1 - s0);
                a.accumulate = s0 > c0;
                /* the window origin (offset in x or padded x) and masks of every entry */
                uint64_t andy = ~(uint64_t)0, andx = ~(uint64_t)0;
                for (int64_t e = 0, n = s0 / hw, q = s0 % hw; e < sn; e++) {
                    eo[e] = n * ximg + pos_off[q];
                    eym[e] = pos_ym[q];
                    exm[e] = pos_xm[q];
                    andy &= eym[e];
                    andx &= exm[e];
                    dp[e] = dy + (s0 + e) * CO;
                    if (++q == hw) {
                        q = 0;
                        n++;
                    }
                }
                a.dy = dp;
                a.x = xp;
                if (pl.rows) { /* every window row lies inside xs: one pointer per entry */
                    for (int64_t e = 0; e < sn; e++) xp[e] = xs + eo[e];
                    a.np = sn;
                    a.mr = KW * CI;
                    for (int64_t ky = 0; ky < KH; ky++) {
                        a.xoff = ky * pl.Ws * CI;
                        for (int64_t j0 = 0; j0 < CO; j0 += pl.cob) {
                            a.nc = (int)md_min64(pl.cob, CO - j0);
                            a.dyoff = j0;
                            a.c = part + ky * KW * CI * CO + j0;
                            kr->wkr[md_ceil_div(a.nc, kr->vl) - 1](&a);
                        }
                    }
                    continue;
                }
                a.mr = CI;
                a.xoff = 0;
                a.x = xp;
                for (int64_t ky = 0; ky < KH; ky++) {
                    for (int64_t kx = 0; kx < KW; kx++) {
                        const int64_t toff = (ky * g->in_w + kx) * CI;
                        int64_t ne = 0;
                        if (masks && ((andy >> ky) & (andx >> kx) & 1u)) { /* all inside */
                            for (int64_t e = 0; e < sn; e++) xp[e] = x + (eo[e] + toff);
                            a.dy = dp;
                            ne = sn;
                        } else {
                            a.dy = dq;
                            for (int64_t e = 0; e < sn; e++) {
                                int ok;
                                if (masks) {
                                    ok = (int)((eym[e] >> ky) & (exm[e] >> kx) & 1u);
                                } else { /* no masks: decode the position again */
                                    const int64_t q = (s0 + e) % hw;
                                    const int64_t y = q / g->out_w * g->stride_h - g->pad_top + ky;
                                    const int64_t xx =
                                        q % g->out_w * g->stride_w - g->pad_left + kx;
                                    ok = (uint64_t)y < (uint64_t)g->in_h &&
                                         (uint64_t)xx < (uint64_t)g->in_w;
                                }
                                if (ok) {
                                    xp[ne] = x + (eo[e] + toff);
                                    dq[ne] = dp[e];
                                    ne++;
                                }
                            }
                        }
                        a.np = ne;
                        for (int64_t j0 = 0; j0 < CO; j0 += pl.cob) {
                            a.nc = (int)md_min64(pl.cob, CO - j0);
                            a.dyoff = j0;
                            a.c = part + (ky * KW + kx) * CI * CO + j0;
                            kr->wkr[md_ceil_div(a.nc, kr->vl) - 1](&a);
                        }
                    }
                }
            }
            if (dbias != NULL) kr->colsum(bias_part + ch * CO, dy + c0 * CO, c1 - c0, CO);
        }
        MD_FN(md_wg_add_partials)(dw, partials, pl.nchunks, nw);
    }
    if (dbias != NULL) MD_FN(md_wg_bias_total)(dbias, bias_part, pl.nchunks, CO);
    md_workspace_release(&ws);
    return MD_OK;
}
