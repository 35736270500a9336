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

/* Output rows per work item at most (a whole image of LeNet-5's 28 rows: fewer items
 * expand fewer overlapping source rows). */
#define MD_C1D_ROWS 32

typedef struct {
    const float *x, *x_end, *wrep, *brep; /* x_end: one past the source's last float */
    const int32_t *expand; /* (P, VL): lane l of E vector k reads padded pixel k VL / N + idx */
    int64_t base[16];      /* q VL / N: the first pixel of E vector q < P */
    float *out;
    int64_t H, Wd, pt, pl, sh; /* source size, padding, vertical stride */
    int64_t out_h, L, N, KH, KW;
    int64_t Ws, erow, P, nvec; /* padded source width, floats per E row, phases, vectors per
                                  output row (L = out_w * N floats) */
    int activation;
} md_c1d;

#if defined(__x86_64__) || defined(__i386__)

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
            _Pragma("GCC unroll 16") for (int j = 0; j < NB; j++) {                              \
                const int64_t at = (v0 + j) * W, left = a->L - at;                               \
                if (left <= 0) continue;                                                         \
                const md_vf_##SUF v = md_c1d_act_##SUF(acc[r][j], a->activation);                \
                if (left >= W) memcpy(o + r * a->L + at, &v, sizeof(v));                         \
                else memcpy(o + r * a->L + at, &v, (size_t)left * sizeof(float));                \
            }                                                                                    \
    }                                                                                            \
                                                                                                 \
    /* rows (R or 1) output rows; the weights of a tile's vector j are those of vector     \
     * j mod P: loaded once per tap for P = 1 or 3 (pw = P), else per vector (pw = NB). */  \
    TGT static void md_c1d_rows_##SUF(const md_c1d *a, const float *e, float *o,               \
                                      const int rows) {                                         \
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
    /* Output rows [oy0, oy0 + rows) of image n; E and pad are the thread's buffers. */       \
    TGT static void md_c1d_block_##SUF(const md_c1d *a, float *E, float *pad, int64_t n,        \
                                       int64_t oy0, int64_t rows) {                              \
        const float *img = a->x + n * a->H * a->Wd;                                              \
        const int64_t sy0 = oy0 * a->sh - a->pt, need = (rows - 1) * a->sh + a->KH;              \
        for (int64_t r = 0; r < need; r++)                                                       \
            md_c1d_expand_##SUF(a, E + r * a->erow, pad, img, sy0 + r);                          \
        float *o = a->out + (n * a->out_h + oy0) * a->L;                                         \
        const int64_t step = a->sh * a->erow;                                                    \
        int64_t r = 0;                                                                           \
        for (; r + R <= rows; r += R) md_c1d_rows_r_##SUF(a, E + r * step, o + r * a->L);       \
        for (; r < rows; r++) md_c1d_rows_1_##SUF(a, E + r * step, o + r * a->L);                \
    }

MD_C1D_SIMD(8, avx2, MD_SIMD_AVX2, 2, 6)
MD_C1D_SIMD(16, avx512, MD_SIMD_AVX512, 4, 6)
#define MD_C1D_NB 6 /* the vectors per tile of both widths (E's slack) */

static int64_t md_c1d_gcd(int64_t a, int64_t b) {
    while (b) {
        const int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The one-channel forward of p into out when this path applies (float32, AVX2 or better,
 * one source channel, unit horizontal stride, at most 16 output channels, an activation
 * it fuses); -1 when it does not apply, else the status. */
static int md_c1d_run(float *out, const float *bias, int activation, const md_cv_f32 *p) {
    const int level = md_isa_level();
    if (level < MD_ISA_AVX2 || p->strided_bwd || p->C != 1 || p->sw != 1 || p->N > 16 ||
        activation < MD_ACT_LINEAR || activation > MD_ACT_TANH)
        return -1;
    const int64_t W = level >= MD_ISA_AVX512 ? 16 : 8, N = p->N, K = p->KH * p->KW;
    md_c1d a = {p->src, p->src + p->batch * p->src_h * p->src_w, NULL, NULL, NULL, {0}, out, p->src_h, p->src_w, p->pt, p->pl, p->sh,
                p->out_h, p->out_w * N, N, p->KH, p->KW, p->out_w - 1 + p->KW, 0, 0, 0,
                activation};
    a.erow = a.Ws * N;
    a.P = N / md_c1d_gcd(N, W);
    a.nvec = md_ceil_div(a.L, W);
    const int64_t per_item = md_min64(p->out_h, MD_C1D_ROWS);
    const int64_t blocks = md_ceil_div(p->out_h, per_item), items = p->batch * blocks;
    const int64_t need = (per_item - 1) * p->sh + p->KH;
    /* E: its rows, then the slack that the last tile's vectors past the row end read */
    const int64_t e_floats = md_round_up(need * a.erow + (MD_C1D_NB + 2) * W, 16);
    const int64_t pad_floats = md_round_up(a.Ws + W, 16);
    const int64_t span = (a.P + MD_C1D_NB) * W; /* weights per tap */
    const int64_t shared = md_round_up((K + 1) * span + a.P * W, 16);
    const int nt = (int)md_min64(md_threads_for(md_work3(p->batch * p->out_h, a.L, K)), items);
    md_workspace ws;
    const md_status st = md_workspace_acquire(
        &ws, (size_t)(shared + nt * (e_floats + pad_floats)) * sizeof(float));
    if (st != MD_OK) return st;
    float *wrep = ws.ptr, *brep = wrep + K * span;
    int32_t *expand = (int32_t *)(brep + span);
    float *thread_bufs = wrep + shared;
    for (int64_t t = 0; t < K; t++) /* tap t's weights: channel i mod N at float i */
        for (int64_t i = 0; i < span; i++)
            wrep[t * span + i] = p->w[(p->flip ? K - 1 - t : t) * p->wts + (i % N) * p->wns];
    for (int64_t i = 0; i < span; i++) brep[i] = bias != NULL ? bias[i % N] : 0.0f;
    for (int64_t q = 0; q < a.P; q++) {
        a.base[q] = q * W / N;
        for (int64_t l = 0; l < W; l++) /* lane l of E vector q: pixel (q W + l) / N */
            expand[q * W + l] = (int32_t)((q * W + l) / N - a.base[q]);
    }
    a.wrep = wrep;
    a.brep = brep;
    a.expand = expand;
    const int wide = W == 16;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int64_t item = 0; item < items; item++) {
        float *E = thread_bufs + md_thread_id() * (e_floats + pad_floats), *pad = E + e_floats;
        const int64_t n = item / blocks, oy0 = item % blocks * per_item;
        const int64_t rows = md_min64(per_item, p->out_h - oy0);
        if (wide) md_c1d_block_avx512(&a, E, pad, n, oy0, rows);
        else md_c1d_block_avx2(&a, E, pad, n, oy0, rows);
    }
    md_workspace_release(&ws);
    return MD_OK;
}

#else
static int md_c1d_run(float *out, const float *bias, int activation, const md_cv_f32 *p) {
    (void)out, (void)bias, (void)activation, (void)p;
    return -1;
}
#endif
