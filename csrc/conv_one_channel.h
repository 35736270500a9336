/* conv_one_channel.h -- the float32 forward of a one-channel convolution (a network's first
 * layer on grey images: LeNet-5's 1 -> 6 channels) on AVX2 and AVX-512, written straight
 * into the NHWC output. Included once by conv2d.c, after the conv2d_impl.h template.
 *
 * The vector lanes run along an output row's out_w * N interleaved (pixel, channel) values.
 * Element e = ox * N + c of output row oy is
 *     bias[c] + sum over (ky, kx) of E[oy * sh + ky][e + kx * N] * w[ky][kx][c],
 * where E is the zero-padded source with every pixel repeated N times (E[r][i * N + c] =
 * x[r - pt][i - pl]). So each tap is one shifted vector load of E times a weight vector,
 * and the weights of a tap repeat with a period of P = N / gcd(N, VL) vectors (made once
 * per call: P + NB vectors per tap, so that a tile of NB vectors from any phase reads them
 * contiguously). There is no transposition (the pixel-lane path of
 * conv2d_impl.h transposes every N x 32 tile), and the activation runs on the accumulators
 * before the one store, through the same vector functions as the activation pass.
 *
 * Work items are blocks of MD_C1D_ROWS output rows of one image; a thread expands the
 * source rows of its block into its own E (a few KB: it stays in L1). Each output value
 * is one thread's sum over the taps in (ky, kx) order, started from the bias, so the
 * bits do not depend on the thread count, and AVX2 and AVX-512 give the same bits. */
#include "act_simd.h"
#include "pool2_simd.h"

/* Output rows per work item at most (a whole image of LeNet-5's 28 rows: fewer items
 * expand fewer overlapping source rows). */
#define MD_C1D_ROWS 32

typedef struct {
    const float *x, *x_end, *wrep, *brep; /* x_end: one past the source's last float */
    const int32_t *expand; /* (P, VL): lane l of E vector k reads padded pixel k VL / N + idx */
    int64_t base[16];      /* q VL / N: the first pixel of E vector q < P */
    float *out;            /* the output rows, or NULL (pooled only) */
    float *pooled;         /* forward: the output average-pooled over 2x2 windows, stride 2,
                              or NULL */
    int64_t H, Wd, pt, pl, sh; /* source size, padding, vertical stride */
    int64_t out_h, L, N, KH, KW;
    int64_t Ws, erow, P, nvec; /* padded source width, floats per E row, phases, vectors per
                                  output row (L = out_w * N floats) */
    int64_t Lp;                /* weight gradient: dy row stride in D (whole P-vector groups) */
    int activation;
    const uint16_t *keep;      /* pooling with the AVX-512 pooling row (pool2_simd.h), or NULL */
} md_c1d;

#if defined(__x86_64__) || defined(__i386__)

/* The pooled rows of output rows [oy0, oy0 + rows) of image n (oy0 even), from those rows
 * at rowbuf (a buffer, or the output rows just written, while in cache):
 * ((r0[a] + r1[a]) + (r0[a + N] + r1[a + N])) * 0.25 over each 2x2 window, the operations
 * of the pooling pass (pool2d.c), so the fused result has its bits. */
static void md_c1d_pool(const md_c1d *a, const float *rowbuf, int64_t n, int64_t oy0,
                        int64_t rows) {
    const int64_t N = a->N, pooled_h = a->out_h / 2, pooled = a->L / N / 2 * N;
    for (int64_t i = 0; i + 1 < rows && (oy0 + i) / 2 < pooled_h; i += 2) {
        float *y = a->pooled + (n * pooled_h + (oy0 + i) / 2) * pooled;
        const float *r0 = rowbuf + i * a->L, *r1 = r0 + a->L;
        if (a->keep != NULL) {
            md_avgpool2_row_avx512(y, r0, r1, N, pooled, a->keep);
            continue;
        }
        for (int64_t ow = 0; ow < pooled / N; ow++)
            for (int64_t c = 0, e = 2 * ow * N; c < N; c++, e++)
                y[ow * N + c] = ((r0[e] + r1[e]) + (r0[e + N] + r1[e + N])) * 0.25f;
    }
}

/* The window heights (at vertical stride 1) that run in pairs of vectors (md_c1d_pair):
 * 3 and 5, at most this. */
#define MD_C1D_KH_MAX 5

/* The kernels for one vector width: W lanes, R rows by NB vectors of accumulators. */
#define MD_C1D_SIMD(W, SUF, TGT, R, NB)                                                          \
    TGT static inline md_vf_##SUF md_c1d_act_##SUF(md_vf_##SUF v, int activation) {              \
        switch (activation) {                                                                    \
        case MD_ACT_RELU: return md_sel_##SUF(v < 0.0f, (md_vf_##SUF){0}, v);                   \
        case MD_ACT_SIGMOID: return md_sigmoid_v_##SUF(v);                                       \
        case MD_ACT_TANH: return md_tanh_v_##SUF(v);                                             \
        default: return v;                                                                       \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* E row er from source row sy of image img (zeros outside the source). The vectors  \
     * read the source row in place when it needs no padding and W floats past its end    \
     * still lie in x, else a padded copy in pad (Ws + W floats; a load that overlaps the \
     * copy's fresh stores stalls, so it is only made where needed). */                     \
    TGT static void md_c1d_expand_##SUF(const md_c1d *a, float *er, float *pad,                 \
                                        const float *img, int64_t sy) {                          \
        const float *row = img + sy * a->Wd;                                                     \
        const int inside = sy >= 0 && sy < a->H;                                                 \
        if (!(inside && a->pl == 0 && a->Ws <= a->Wd && row + a->Wd + W <= a->x_end)) {          \
            memset(pad, 0, (size_t)(a->Ws + W) * sizeof(float));                                 \
            const int64_t i0 = md_max64(0, a->pl), i1 = md_min64(a->Ws, a->pl + a->Wd);          \
            if (inside && i1 > i0)                                                               \
                memcpy(pad + i0, row + (i0 - a->pl), (size_t)(i1 - i0) * sizeof(float));         \
            row = pad;                                                                           \
        }                                                                                        \
        /* vector k = g P + q reads pixels from g W / gcd + (q W) / N on (no division per \
         * vector: the phases repeat every P vectors, W / gcd pixels apart) */                \
        const int64_t nv = md_ceil_div(a->erow, W), group = a->P * W / a->N;                   \
        for (int64_t k0 = 0, g = 0; k0 < nv; k0 += a->P, g++)                                   \
            for (int64_t q = 0; q < a->P && k0 + q < nv; q++) {                                 \
                md_vf_##SUF v;                                                                   \
                md_vi_##SUF idx;                                                                 \
                memcpy(&v, row + g * group + a->base[q], sizeof(v));                             \
                memcpy(&idx, a->expand + q * W, sizeof(idx));                                    \
                v = __builtin_shuffle(v, idx);                                                   \
                memcpy(er + (k0 + q) * W, &v, sizeof(v));                                       \
            }                                                                                    \
    }                                                                                            \
                                                                                                 \
    TGT static inline __attribute__((always_inline)) md_vf_##SUF md_c1d_load_##SUF(          \
        const float *p) {                                                                        \
        md_vf_##SUF v;                                                                           \
        memcpy(&v, p, sizeof(v));                                                                \
        return v;                                                                                \
    }                                                                                            \
                                                                                                 \
    /* Output vector v of the row at o, activated; only its part before the row end. */     \
    TGT static inline __attribute__((always_inline)) void md_c1d_put_##SUF(                    \
        const md_c1d *a, md_vf_##SUF acc, float *o, int64_t v) {                                 \
        const int64_t at = v * W, left = a->L - at;                                              \
        if (left <= 0) return;                                                                   \
        const md_vf_##SUF x = md_c1d_act_##SUF(acc, a->activation);                              \
        if (left >= W) memcpy(o + at, &x, sizeof(x));                                            \
        else memcpy(o + at, &x, (size_t)left * sizeof(float));                                   \
    }                                                                                            \
                                                                                                 \
    /* rows (<= R) output rows from o, vectors [v0, v0 + NB) of each, reading E from e. */    \
    TGT static inline __attribute__((always_inline)) void md_c1d_tile_##SUF(                   \
        const md_c1d *a, const float *e, float *o, int64_t v0, const int rows, const int pw) {   \
        md_vf_##SUF acc[R][NB];                                                                  \
        const int64_t phase = (v0 % a->P) * W, wstride = (a->P + NB) * W;                        \
        _Pragma("GCC unroll 16") for (int j = 0; j < NB; j++) {                                  \
            md_vf_##SUF b;                                                                       \
            memcpy(&b, a->brep + phase + j * W, sizeof(b));                                      \
            _Pragma("GCC unroll 16") for (int r = 0; r < rows; r++) acc[r][j] = b;               \
        }                                                                                        \
        const int64_t rs = a->sh * a->erow;                                                      \
        for (int64_t ky = 0; ky < a->KH; ky++)                                                   \
            for (int64_t kx = 0; kx < a->KW; kx++) {                                             \
                const float *wt = a->wrep + (ky * a->KW + kx) * wstride + phase;                 \
                const float *src = e + ky * a->erow + kx * a->N + v0 * W;                        \
                /* one pointer per row, opaque to the compiler: the loads below are then  \
                 * that pointer plus a constant, instead of R x NB offsets in (spilled)     \
                 * registers */                                                             \
                const float *row[R];                                                             \
                _Pragma("GCC unroll 16") for (int r = 0; r < rows; r++) {                        \
                    row[r] = src + r * rs;                                                       \
                    __asm__("" : "+r"(row[r]));                                                  \
                }                                                                                \
                _Pragma("GCC unroll 16") for (int j = 0; j < NB; j++) {                          \
                    md_vf_##SUF wv;                                                              \
                    memcpy(&wv, wt + j % pw * W, sizeof(wv));                                         \
                    _Pragma("GCC unroll 16") for (int r = 0; r < rows; r++) {                    \
                        md_vf_##SUF xv;                                                          \
                        memcpy(&xv, row[r] + j * W, sizeof(xv));                                  \
                        acc[r][j] += xv * wv;                                                    \
                    }                                                                            \
                }                                                                                \
            }                                                                                    \
        _Pragma("GCC unroll 16") for (int r = 0; r < rows; r++)                                  \
            _Pragma("GCC unroll 16") for (int j = 0; j < NB; j++)                                \
                md_c1d_put_##SUF(a, acc[r][j], o + r * a->L, v0 + j);                            \
    }                                                                                            \
                                                                                                 \
    /* Vectors v and v + 1 of rows (<= R) output rows at o, for a window KH rows high (a     \
     * compile-time constant) and vertical stride 1. Per tap column kx, the two vectors' KH  \
     * weight vectors stay in registers while the rows + KH - 1 source rows stream past     \
     * them, so each E vector (unaligned: most cross a cache line, which costs two loads) is \
     * loaded once for up to min(rows, KH) output rows instead of once per row. Each value   \
     * sums its taps in (kx, ky) order. */                                                   \
    TGT static inline __attribute__((always_inline)) void md_c1d_pair_##SUF(                   \
        const md_c1d *a, const float *e, float *o, int64_t v, const int rows, const int KH) {   \
        const int64_t phase = (v % a->P) * W, wstride = (a->P + NB) * W;                         \
        md_vf_##SUF acc[R][2];                                                                   \
        _Pragma("GCC unroll 2") for (int jj = 0; jj < 2; jj++) {                                 \
            const md_vf_##SUF b = md_c1d_load_##SUF(a->brep + phase + jj * W);                   \
            _Pragma("GCC unroll 16") for (int r = 0; r < rows; r++) acc[r][jj] = b;              \
        }                                                                                        \
        for (int64_t kx = 0; kx < a->KW; kx++) {                                                 \
            const float *src = e + kx * a->N + v * W, *wt = a->wrep + kx * wstride + phase;      \
            /* (fixed sizes: arrays sized by KH would be variable-length ones, kept in memory) */ \
            const float *row[R + MD_C1D_KH_MAX - 1]; /* opaque, as in md_c1d_tile */            \
            _Pragma("GCC unroll 16") for (int i = 0; i < rows + KH - 1; i++) {                   \
                row[i] = src + i * a->erow;                                                      \
                __asm__("" : "+r"(row[i]));                                                      \
            }                                                                                    \
            md_vf_##SUF wv[2][MD_C1D_KH_MAX];                                                    \
            _Pragma("GCC unroll 2") for (int jj = 0; jj < 2; jj++)                               \
                _Pragma("GCC unroll 16") for (int ky = 0; ky < KH; ky++)                         \
                    wv[jj][ky] = md_c1d_load_##SUF(wt + ky * a->KW * wstride + jj * W);          \
            _Pragma("GCC unroll 16") for (int i = 0; i < rows + KH - 1; i++)                     \
                _Pragma("GCC unroll 2") for (int jj = 0; jj < 2; jj++) {                         \
                    const md_vf_##SUF xv = md_c1d_load_##SUF(row[i] + jj * W);                   \
                    _Pragma("GCC unroll 16") for (int r = 0; r < rows; r++)                      \
                        if (i - r >= 0 && i - r < KH) acc[r][jj] += xv * wv[jj][i - r];          \
                }                                                                                \
        }                                                                                        \
        _Pragma("GCC unroll 16") for (int r = 0; r < rows; r++)                                  \
            _Pragma("GCC unroll 2") for (int jj = 0; jj < 2; jj++)                               \
                md_c1d_put_##SUF(a, acc[r][jj], o + r * a->L, v + jj);                           \
    }                                                                                            \
                                                                                                 \
    /* rows (R or 1) output rows: in pairs of vectors for windows 5 or 3 rows high at       \
     * vertical stride 1, else in tiles, where the weights of vector j are those of vector  \
     * j mod P: loaded once per tap for P = 1 or 3 (pw = P), else per vector (pw = NB). */  \
    TGT static inline __attribute__((always_inline)) void md_c1d_rows_##SUF(                   \
        const md_c1d *a, const float *e, float *o, const int rows) {                            \
        if (a->sh == 1 && (a->KH == 5 || a->KH == 3)) {                                         \
            for (int64_t v = 0; v < a->nvec; v += 2) {                                           \
                if (a->KH == 5) md_c1d_pair_##SUF(a, e, o, v, rows, 5);                          \
                else md_c1d_pair_##SUF(a, e, o, v, rows, 3);                                     \
            }                                                                                    \
            return;                                                                              \
        }                                                                                        \
        for (int64_t v0 = 0; v0 < a->nvec; v0 += NB) {                                          \
            if (a->P == 1) md_c1d_tile_##SUF(a, e, o, v0, rows, 1);                              \
            else if (a->P == 3) md_c1d_tile_##SUF(a, e, o, v0, rows, 3);                         \
            else md_c1d_tile_##SUF(a, e, o, v0, rows, NB);                                       \
        }                                                                                        \
    }                                                                                            \
    TGT static void md_c1d_rows_r_##SUF(const md_c1d *a, const float *e, float *o) {            \
        md_c1d_rows_##SUF(a, e, o, R);                                                           \
    }                                                                                            \
    TGT static void md_c1d_rows_1_##SUF(const md_c1d *a, const float *e, float *o) {            \
        md_c1d_rows_##SUF(a, e, o, 1);                                                           \
    }                                                                                            \
                                                                                                 \
    /* Output rows [oy0, oy0 + rows) of image n; E and pad are the thread's buffers; with   \
     * pooling only, the rows go to its buffer rowbuf first. */                             \
    TGT static void md_c1d_block_##SUF(const md_c1d *a, float *E, float *pad, float *rowbuf,    \
                                       int64_t n, int64_t oy0, int64_t rows) {                   \
        const float *img = a->x + n * a->H * a->Wd;                                              \
        const int64_t sy0 = oy0 * a->sh - a->pt, need = (rows - 1) * a->sh + a->KH;              \
        for (int64_t r = 0; r < need; r++)                                                       \
            md_c1d_expand_##SUF(a, E + r * a->erow, pad, img, sy0 + r);                          \
        float *o = a->out == NULL ? rowbuf : a->out + (n * a->out_h + oy0) * a->L;               \
        const int64_t step = a->sh * a->erow;                                                    \
        int64_t r = 0;                                                                           \
        for (; r + R <= rows; r += R) md_c1d_rows_r_##SUF(a, E + r * step, o + r * a->L);       \
        for (; r < rows; r++) md_c1d_rows_1_##SUF(a, E + r * step, o + r * a->L);                \
        if (a->pooled != NULL) md_c1d_pool(a, o, n, oy0, rows);                                  \
    }

#define MD_C1D_NB 6 /* the vectors per tile of both widths (E's slack depends on it) */
MD_C1D_SIMD(8, avx2, MD_SIMD_AVX2, 2, MD_C1D_NB)
MD_C1D_SIMD(16, avx512, MD_SIMD_AVX512, 4, MD_C1D_NB)

/* The lanes of the SIMD level in use for this path: 16 (AVX-512), 8 (AVX2), 0 (none). */
static int64_t md_c1d_lanes(void) {
    const int level = md_isa_level();
    return level >= MD_ISA_AVX512 ? 16 : level >= MD_ISA_AVX2 ? 8 : 0;
}

/* The geometry of a one-channel problem at W lanes: source x (batch, H, Wd), output
 * (batch, out_h, out_w, N), a KH x KW window, vertical stride sh, padding pt / pl. */
static md_c1d md_c1d_geometry(const float *x, int64_t batch, int64_t H, int64_t Wd, int64_t out_h,
                              int64_t out_w, int64_t N, int64_t KH, int64_t KW, int64_t sh,
                              int64_t pt, int64_t pl, int64_t W) {
    md_c1d a;
    memset(&a, 0, sizeof(a));
    a.x = x;
    a.x_end = x + batch * H * Wd;
    a.H = H, a.Wd = Wd, a.pt = pt, a.pl = pl, a.sh = sh;
    a.out_h = out_h, a.L = out_w * N, a.N = N, a.KH = KH, a.KW = KW;
    a.Ws = out_w - 1 + KW;
    a.erow = a.Ws * N;
    a.P = N / md_gcd64(N, W);
    a.nvec = md_ceil_div(a.L, W);
    return a;
}

/* The expansion table (P W int32 at expand) and its bases. */
static void md_c1d_expansion(md_c1d *a, int32_t *expand, int64_t W) {
    for (int64_t q = 0; q < a->P; q++) {
        a->base[q] = q * W / a->N;
        for (int64_t l = 0; l < W; l++) /* lane l of E vector q: pixel (q W + l) / N */
            expand[q * W + l] = (int32_t)((q * W + l) / a->N - a->base[q]);
    }
    a->expand = expand;
}

/* The one-channel forward of p into out when this path applies (float32, AVX2 or better,
 * one source channel, unit horizontal stride, at most 16 output channels, an activation
 * it fuses); -1 when it does not apply, else the status. Unless NULL, pooled receives the
 * output average-pooled over 2x2 windows with stride 2 (out_h / 2 x out_w / 2), and out
 * may then be NULL (the pooled output only). */
static int md_c1d_run(float *out, float *pooled, const float *bias, int activation,
                      const md_cv_f32 *p) {
    const int64_t W = md_c1d_lanes(), N = p->N, K = p->KH * p->KW;
    if (W == 0 || p->strided_bwd || p->C != 1 || p->sw != 1 || N > 16 ||
        !md_act_fusable(activation))
        return -1;
    md_c1d a = md_c1d_geometry(p->src, p->batch, p->src_h, p->src_w, p->out_h, p->out_w, N,
                               p->KH, p->KW, p->sh, p->pt, p->pl, W);
    a.out = out;
    a.pooled = pooled;
    a.activation = activation;
    uint16_t keep[2 * MD_POOL2_SIMD_C];
    if (pooled != NULL && W == 16 && N < MD_POOL2_SIMD_C) {
        md_pool2_keep(keep, N);
        a.keep = keep;
    }
    /* (MD_C1D_ROWS is even: the pooled windows' row pairs stay in one item) */
    const int64_t per_item = md_min64(p->out_h, MD_C1D_ROWS);
    const int64_t blocks = md_ceil_div(p->out_h, per_item), items = p->batch * blocks;
    const int64_t need = (per_item - 1) * p->sh + p->KH;
    /* E: its rows, then the slack that the last tile's vectors past the row end read */
    const int64_t e_floats = md_round_up(need * a.erow + (MD_C1D_NB + 2) * W, 16);
    const int64_t pad_floats = md_round_up(a.Ws + W, 16);
    const int64_t row_floats = out == NULL ? md_round_up(per_item * a.L + W, 16) : 0;
    const int64_t span = (a.P + MD_C1D_NB) * W; /* weights per tap */
    const int64_t shared = md_round_up((K + 1) * span + a.P * W, 16);
    const int nt = (int)md_min64(md_threads_for(md_work3(p->batch * p->out_h, a.L, K)), items);
    md_workspace ws;
    const md_status st = md_workspace_acquire(
        &ws, (size_t)(shared + nt * (e_floats + pad_floats + row_floats)) * sizeof(float));
    if (st != MD_OK) return st;
    float *wrep = ws.ptr, *brep = wrep + K * span;
    float *thread_bufs = wrep + shared;
    for (int64_t t = 0; t < K; t++) /* tap t's weights: channel i mod N at float i */
        for (int64_t i = 0; i < span; i++)
            wrep[t * span + i] = p->w[(p->flip ? K - 1 - t : t) * p->wts + (i % N) * p->wns];
    for (int64_t i = 0; i < span; i++) brep[i] = bias != NULL ? bias[i % N] : 0.0f;
    md_c1d_expansion(&a, (int32_t *)(brep + span), W);
    a.wrep = wrep;
    a.brep = brep;
    const int wide = W == 16;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t item = 0; item < items; item++) {
        float *E = thread_bufs + md_thread_id() * (e_floats + pad_floats + row_floats);
        float *pad = E + e_floats, *rowbuf = pad + pad_floats;
        const int64_t n = item / blocks, oy0 = item % blocks * per_item;
        const int64_t rows = md_min64(per_item, p->out_h - oy0);
        if (wide) md_c1d_block_avx512(&a, E, pad, rowbuf, n, oy0, rows);
        else md_c1d_block_avx2(&a, E, pad, rowbuf, n, oy0, rows);
    }
    md_workspace_release(&ws);
    return MD_OK;
}

/* ------------------------------------------------------------------ weight gradient */
/* dw[ky][kx][c] = sum over output pixels of E[oy sh + ky][e + kx N] dy[n][oy][e] over the
 * lanes e = ox N + c of each dy row: per kernel row ky, the accumulators acc[kx][p] (one
 * per tap and weight phase p < P) run over the rows of a chunk of images, reading each dy
 * vector once for the KW taps; their lanes are then summed per channel. The images are
 * split into at most MD_CONV_WG_MAX_CHUNKS fixed chunks (sizes depend only on the
 * problem), each expanded once into the thread's E, and the chunk partials are added in
 * chunk order: the same bits for any thread count (the two widths group the sums
 * differently, so they differ by rounding). Taken for P = 1 or 3 (N = 1, 2, 3, 4,
 * 6, 8, 12, 16 at 16 lanes) and KW <= 8. */
#define MD_C1W_KX 8               /* taps per tile at most */
#define MD_C1W_IMAGE_BYTES (1 << 21) /* E per image at most (else the pixel-lane path) */

#define MD_C1W_SIMD(W, SUF, TGT, KX3)                                                             \
    /* One group of PT dy vectors at j into acc[k][q], k < KX; masked: E lanes outside      \
     * keep[q] read as 0. */                                                                   \
    TGT static inline __attribute__((always_inline)) void md_c1w_group_##SUF(                  \
        md_vf_##SUF acc[][3], const float *const *tap, const float *d, int64_t j,                \
        const md_vi_##SUF *keep, const int KX, const int PT, const int masked) {                 \
        _Pragma("GCC unroll 4") for (int q = 0; q < PT; q++) {                                   \
            md_vf_##SUF dv;                                                                      \
            memcpy(&dv, d + j + q * W, sizeof(dv));                                              \
            _Pragma("GCC unroll 16") for (int k = 0; k < KX; k++) {                              \
                md_vf_##SUF ev;                                                                  \
                memcpy(&ev, tap[k] + j + q * W, sizeof(ev));                                     \
                if (masked) ev = md_sel_##SUF(keep[q], ev, (md_vf_##SUF){0});                    \
                acc[k][q] += ev * dv;                                                            \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* acc[kx][p] for taps kx0 .. kx0 + KX - 1 of kernel row ky over images [n0, n1),      \
     * stored at out[(kx P + p) W + lane] (PT == P, KX compile-time). D holds the chunk's dy \
     * rows at a stride of a->Lp floats, zero past L (a whole number of P-vector groups). */ \
    TGT static inline __attribute__((always_inline)) void md_c1w_tile_##SUF(                   \
        const md_c1d *a, const float *E, int64_t eimg, const float *D, int64_t images,           \
        int64_t ky, int64_t kx0, float *out, const int KX, const int PT) {                       \
        md_vf_##SUF acc[MD_C1W_KX][3];                                                           \
        _Pragma("GCC unroll 16") for (int k = 0; k < KX; k++)                                    \
            _Pragma("GCC unroll 4") for (int q = 0; q < PT; q++) acc[k][q] = (md_vf_##SUF){0};  \
        /* the last group of PT vectors holds the row's end: its lanes past L are dropped   \
         * (they read the next row or slack, which may hold any value, NaN included) */     \
        const int64_t last = a->Lp - PT * W;                                                     \
        md_vi_##SUF keep[3];                                                                     \
        for (int q = 0; q < PT; q++) {                                                           \
            int32_t lanes[W];                                                                    \
            for (int l = 0; l < W; l++) lanes[l] = last + q * W + l < a->L ? -1 : 0;             \
            memcpy(&keep[q], lanes, sizeof(keep[q]));                                            \
        }                                                                                        \
        for (int64_t i = 0; i < images; i++)                                                     \
            for (int64_t oy = 0; oy < a->out_h; oy++) {                                          \
                const float *er = E + i * eimg + (oy * a->sh + ky) * a->erow + kx0 * a->N;       \
                const float *d = D + (i * a->out_h + oy) * a->Lp;                                \
                /* one opaque pointer per tap: the loads are then pointer + index + constant \
                 * instead of KX x PT offsets in (spilled) registers */                     \
                const float *tap[MD_C1W_KX];                                                     \
                _Pragma("GCC unroll 16") for (int k = 0; k < KX; k++) {                          \
                    tap[k] = er + k * a->N;                                                      \
                    __asm__("" : "+r"(tap[k]));                                                  \
                }                                                                                \
                for (int64_t j = 0; j < last; j += PT * W)                                       \
                    md_c1w_group_##SUF(acc, tap, d, j, keep, KX, PT, 0);                         \
                md_c1w_group_##SUF(acc, tap, d, last, keep, KX, PT, 1);                          \
            }                                                                                    \
        _Pragma("GCC unroll 16") for (int k = 0; k < KX; k++)                                    \
            _Pragma("GCC unroll 4") for (int q = 0; q < PT; q++)                                 \
                memcpy(out + (k * PT + q) * W, &acc[k][q], sizeof(acc[k][q]));                   \
    }                                                                                            \
                                                                                                 \
    /* All KW taps of kernel row ky, in tiles of at most KX3 (P = 3) or MD_C1W_KX taps. */    \
    TGT static void md_c1w_row_##SUF(const md_c1d *a, const float *E, int64_t eimg,             \
                                     const float *D, int64_t images, int64_t ky, float *out) {   \
        const int64_t step = a->P == 3 ? KX3 : MD_C1W_KX;                                        \
        for (int64_t kx0 = 0; kx0 < a->KW; kx0 += step) {                                        \
            const int kx = (int)md_min64(step, a->KW - kx0);                                     \
            float *o = out + kx0 * a->P * W;                                                     \
            switch (kx * 4 + (int)a->P) {                                                        \
            MD_C1W_CASE(SUF, 1, 1) MD_C1W_CASE(SUF, 2, 1) MD_C1W_CASE(SUF, 3, 1)                 \
            MD_C1W_CASE(SUF, 4, 1) MD_C1W_CASE(SUF, 5, 1) MD_C1W_CASE(SUF, 6, 1)                 \
            MD_C1W_CASE(SUF, 7, 1) MD_C1W_CASE(SUF, 8, 1)                                        \
            MD_C1W_CASE(SUF, 1, 3) MD_C1W_CASE(SUF, 2, 3) MD_C1W_CASE(SUF, 3, 3)                 \
            MD_C1W_CASE(SUF, 4, 3) MD_C1W_CASE(SUF, 5, 3) MD_C1W_CASE(SUF, 6, 3)                 \
            MD_C1W_CASE(SUF, 7, 3) MD_C1W_CASE(SUF, 8, 3)                                        \
            default: break;                                                                      \
            }                                                                                    \
        }                                                                                        \
    }
#define MD_C1W_CASE(SUF, KX, PT)                                                                  \
    case KX * 4 + PT: md_c1w_tile_##SUF(a, E, eimg, D, images, ky, kx0, o, KX, PT); break;

/* AVX2's 16 registers hold 4 x 3 accumulators; AVX-512's 32 hold 8 x 3. */
MD_C1W_SIMD(8, avx2, MD_SIMD_AVX2, 4)
MD_C1W_SIMD(16, avx512, MD_SIMD_AVX512, 8)

/* Every kernel row at once, on AVX-512, for windows 3 x 3 or 5 x 5 at vertical stride 1:
 * for one weight phase q, acc[ky][kx] runs over the chunk's images, the vectors j of
 * phase q and the source rows s; each E vector (unaligned, mostly crossing a cache line)
 * is loaded once per (s, kx) for the KH kernel rows ky, whose dy vectors (rows s - ky)
 * are loaded once per s, instead of once per (oy, ky, kx): about 0.6 load slots per FMA
 * instead of 2.2. dy is read in place (rows of L floats); the lanes of a row's last
 * vector past L are loaded as 0 from both (they hold the next row, slack or nothing).
 * out[((ky KW + kx) P + q) W + lane]. */
#define MD_C1W_ALL_MAX 5

/* One source row s of one vector (mask: its lanes before the row end): the taps of every
 * kernel row whose output row s - ky lies in the image (each one when inside). */
MD_SIMD_AVX512 static inline __attribute__((always_inline)) void md_c1w_all_row(
    __m512 acc[][MD_C1W_ALL_MAX], const float *e, const float *d, int64_t s, int64_t out_h,
    int64_t L, int64_t N, __mmask16 mask, const int KH, const int KW, const int inside) {
    __m512 dv[MD_C1W_ALL_MAX];
    _Pragma("GCC unroll 8") for (int ky = 0; ky < KH; ky++) {
        dv[ky] = _mm512_setzero_ps(); /* (unused outside: set for the compiler's sake) */
        if (inside || (s - ky >= 0 && s - ky < out_h))
            dv[ky] = _mm512_maskz_loadu_ps(mask, d + (s - ky) * L);
    }
    _Pragma("GCC unroll 8") for (int kx = 0; kx < KW; kx++) {
        const __m512 ev = _mm512_maskz_loadu_ps(mask, e + kx * N);
        _Pragma("GCC unroll 8") for (int ky = 0; ky < KH; ky++)
            if (inside || (s - ky >= 0 && s - ky < out_h))
                acc[ky][kx] = _mm512_fmadd_ps(ev, dv[ky], acc[ky][kx]);
    }
}

MD_SIMD_AVX512 static inline __attribute__((always_inline)) void md_c1w_all_phase(
    const md_c1d *a, const float *E, int64_t eimg, const float *dy, int64_t images, int64_t q,
    float *out, const int KH, const int KW) {
    __m512 acc[MD_C1W_ALL_MAX][MD_C1W_ALL_MAX];
    _Pragma("GCC unroll 8") for (int ky = 0; ky < KH; ky++)
        _Pragma("GCC unroll 8") for (int kx = 0; kx < KW; kx++) acc[ky][kx] = _mm512_setzero_ps();
    const int64_t need = a->out_h + KH - 1;
    for (int64_t i = 0; i < images; i++)
        for (int64_t j = q; j < a->nvec; j += a->P) {
            const float *e = E + i * eimg + j * 16, *d = dy + i * a->out_h * a->L + j * 16;
            const int64_t left = a->L - j * 16;
            const __mmask16 mask = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            int64_t s = 0;
            for (; s < KH - 1; s++)
                md_c1w_all_row(acc, e + s * a->erow, d, s, a->out_h, a->L, a->N, mask, KH, KW, 0);
            for (; s < a->out_h; s++)
                md_c1w_all_row(acc, e + s * a->erow, d, s, a->out_h, a->L, a->N, mask, KH, KW, 1);
            for (; s < need; s++)
                md_c1w_all_row(acc, e + s * a->erow, d, s, a->out_h, a->L, a->N, mask, KH, KW, 0);
        }
    _Pragma("GCC unroll 8") for (int ky = 0; ky < KH; ky++)
        _Pragma("GCC unroll 8") for (int kx = 0; kx < KW; kx++)
            _mm512_storeu_ps(out + ((ky * KW + kx) * a->P + q) * 16, acc[ky][kx]);
}

/* Whether the all-rows kernel takes a problem (AVX-512 lanes, vertical stride 1, 3 x 3
 * or 5 x 5, at least KH - 1 output rows). */
static int md_c1w_all_applies(const md_c1d *a, int64_t W) {
    return W == 16 && a->sh == 1 && a->KH == a->KW && (a->KH == 5 || a->KH == 3) &&
           a->out_h >= a->KH - 1;
}

MD_SIMD_AVX512 static void md_c1w_all(const md_c1d *a, const float *E, int64_t eimg,
                                      const float *dy, int64_t images, float *out) {
    for (int64_t q = 0; q < a->P; q++) {
        if (a->KH == 5) md_c1w_all_phase(a, E, eimg, dy, images, q, out, 5, 5);
        else md_c1w_all_phase(a, E, eimg, dy, images, q, out, 3, 3);
    }
}

/* The chunk of images [n0, n1) into the thread's buffers: E (need rows per image) and D
 * (the dy rows at stride Lp, zero past L). */
static void md_c1w_chunk(const md_c1d *a, float *E, float *pad, float *D, const float *x,
                         const float *dy, int64_t n0, int64_t n1, int64_t need, int wide) {
    /* (D NULL: the dy rows are read in place) */
    const int64_t eimg = need * a->erow;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t r = 0; r < need; r++) {
            float *er = E + (n - n0) * eimg + r * a->erow;
            const float *img = x + n * a->H * a->Wd;
            if (wide) md_c1d_expand_avx512(a, er, pad, img, r - a->pt);
            else md_c1d_expand_avx2(a, er, pad, img, r - a->pt);
        }
    for (int64_t r = 0; D != NULL && r < (n1 - n0) * a->out_h; r++) {
        memcpy(D + r * a->Lp, dy + (n0 * a->out_h + r) * a->L, (size_t)a->L * sizeof(float));
        memset(D + r * a->Lp + a->L, 0, (size_t)(a->Lp - a->L) * sizeof(float));
    }
}

/* dw[kx][c] for the KW taps of one kernel row: the lanes of acc (tap kx, phase p, lane l =
 * channel (p W + l) mod N) summed per channel, in lane order. */
static void md_c1w_channels(float *dw, const float *acc, const md_c1d *a, int64_t KW,
                            int64_t W) {
    for (int64_t kx = 0; kx < KW; kx++) {
        float *dst = dw + kx * a->N;
        const float *t = acc + kx * a->P * W;
        for (int64_t c = 0; c < a->N; c++) dst[c] = 0;
        for (int64_t i = 0, c = 0; i < a->P * W; i++) {
            dst[c] += t[i];
            if (++c == a->N) c = 0;
        }
    }
}

/* The one-channel weight gradient (and bias gradient, when dbias is given) when this path
 * applies; -1 when it does not, else the status. */
static int md_c1w_run(float *dw, float *dbias, const float *dy, const float *x,
                      const md_conv2d_geom *g) {
    const int64_t W = md_c1d_lanes(), N = g->out_c;
    if (W == 0 || g->in_c != 1 || g->stride_w != 1 || N > 16 || g->k_w > MD_C1W_KX) return -1;
    md_c1d a = md_c1d_geometry(x, g->batch, g->in_h, g->in_w, g->out_h, g->out_w, N, g->k_h,
                               g->k_w, g->stride_h, g->pad_top, g->pad_left, W);
    const int64_t need = (g->out_h - 1) * g->stride_h + g->k_h, eimg = need * a.erow;
    if ((a.P != 1 && a.P != 3) || eimg * (int64_t)sizeof(float) > MD_C1W_IMAGE_BYTES) return -1;
    a.Lp = md_round_up(a.nvec, a.P) * W;
    const int64_t per_chunk = md_ceil_div(g->batch, md_min64(g->batch, MD_CONV_WG_MAX_CHUNKS));
    const int64_t nchunks = md_ceil_div(g->batch, per_chunk), K = g->k_h * g->k_w;
    const int all = md_c1w_all_applies(&a, W); /* every kernel row at once */
    const int64_t nw = K * N, tile = (all ? g->k_h : 1) * g->k_w * a.P * W;
    const int64_t drows = all ? 0 : per_chunk * g->out_h;
    /* E, then the slack that the last row's vectors read past its end (up to the P-vector
     * groups' end plus a vector) */
    const int64_t e_floats = md_round_up(per_chunk * eimg + (a.P + 2) * W, 16);
    const int64_t pad_floats = md_round_up(a.Ws + W, 16);
    const int64_t thread_floats = e_floats + pad_floats + md_round_up(tile, 16) + drows * a.Lp;
    const int64_t part_floats = md_round_up((nchunks - 1) * nw, 16);
    const int nt = (int)md_min64(
        md_threads_for(md_work3(g->batch * g->out_h, a.L, K)), nchunks);
    md_workspace ws;
    const md_status st = md_workspace_acquire(
        &ws, (size_t)(part_floats + md_round_up(a.P * W, 16) + nt * thread_floats) * sizeof(float) +
                 (size_t)(nchunks * N) * sizeof(double));
    if (st != MD_OK) return st;
    float *partials = ws.ptr;
    md_c1d_expansion(&a, (int32_t *)(partials + part_floats), W);
    float *thread_bufs = partials + part_floats + md_round_up(a.P * W, 16);
    double *bias_part = (double *)(thread_bufs + nt * thread_floats);
    const md_kernels_f32 *kr = md_kernels_get_f32();
    const int wide = W == 16;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *E = thread_bufs + md_thread_id() * thread_floats, *pad = E + e_floats;
        float *acc = pad + pad_floats, *D = acc + md_round_up(tile, 16);
#pragma omp for schedule(static)
        for (int64_t ch = 0; ch < nchunks; ch++) {
            float *part = ch == 0 ? dw : partials + (ch - 1) * nw;
            const int64_t n0 = ch * per_chunk, n1 = md_min64(g->batch, n0 + per_chunk);
            md_c1w_chunk(&a, E, pad, all ? NULL : D, x, dy, n0, n1, need, wide);
            if (all) md_c1w_all(&a, E, eimg, dy + n0 * g->out_h * a.L, n1 - n0, acc);
            for (int64_t ky = 0; ky < g->k_h; ky++) {
                const float *row = acc + (all ? ky * g->k_w * a.P * W : 0);
                if (all) {
                } else if (wide) {
                    md_c1w_row_avx512(&a, E, eimg, D, n1 - n0, ky, acc);
                } else {
                    md_c1w_row_avx2(&a, E, eimg, D, n1 - n0, ky, acc);
                }
                md_c1w_channels(part + ky * g->k_w * N, row, &a, g->k_w, W);
            }
            if (dbias != NULL)
                kr->colsum(bias_part + ch * N, dy + n0 * g->out_h * a.L,
                           (n1 - n0) * g->out_h * g->out_w, N);
        }
        md_wg_add_partials_f32(dw, partials, nchunks, nw);
    }
    if (dbias != NULL) md_wg_bias_total_f32(dbias, bias_part, nchunks, N);
    md_workspace_release(&ws);
    return MD_OK;
}

#else
static int md_c1d_run(float *out, float *pooled, const float *bias, int activation,
                      const md_cv_f32 *p) {
    (void)out, (void)pooled, (void)bias, (void)activation, (void)p;
    return -1;
}
static int md_c1w_run(float *dw, float *dbias, const float *dy, const float *x,
                      const md_conv2d_geom *g) {
    (void)dw, (void)dbias, (void)dy, (void)x, (void)g;
    return -1;
}
#endif
