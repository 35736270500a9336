/* conv2d.c -- 2-D convolution (NHWC input, HWIO kernel) as implicit GEMMs that read the
 * images in place; and the depthwise convolution (below, and depthwise_impl.h).
 *
 * Forward: y (pixels, out_c) = im2col(x) (pixels, kh*kw*in_c) . w (kh*kw*in_c, out_c),
 * computed by the indirect micro-kernel (ikr, gemm_internal.h) without any column matrix:
 * for a tile of MR output pixels it receives, per kernel tap, MR row pointers into x and
 * the packed weights of that tap (packed once per call; they are small).
 *   - Tap mode (in_c >= MD_CONV_ROWTAP_C): one tap per (kh, kw); the in_c channels of the
 *     input pixel under it are contiguous in NHWC. Taps in the padding point at a zero
 *     row; taps that only see padding for the whole tile are skipped.
 *   - Row-tap mode (few input channels, where per-(kh, kw) runs would be too short): one
 *     tap per kernel row kh, whose kw*in_c values are contiguous as well. When the
 *     convolution pads, x is first copied into a zero-padded buffer (cheap for few
 *     channels) so that every window row lies inside it.
 * For few output columns (<= 8) the dot-product kernel (dkr) vectorises along the depth
 * instead of along the columns.
 *
 * Backward input with stride 1 is the same forward-shaped problem: dx is the 'full'
 * correlation of dy with the flipped kernel, w'[kh', kw', co, ci] = w[KH-1-kh', KW-1-kw',
 * ci, co], padding KH-1-pad_top / KW-1-pad_left. With stride > 1 the tap (kh, kw) of dx
 * pixel (ih, iw) reads dy[(ih + pad_top - kh) / stride_h, ...] when both divisions are
 * exact and in range, else a zero row (a gather: no scatter, no races).
 *
 * Backward weight: dw (kh*kw*in_c, out_c) = sum over pixels of im2col(x)^T dy, by the
 * weight-gradient kernel (wkr): for each tap, entries (x pointer, dy row pointer) per
 * pixel -- padding entries dropped -- with the in_c (or kw*in_c in row-tap mode) rows
 * broadcast from x and the out_c columns loaded from the dy row. The pixels are split
 * into fixed chunks (sizes depend only on the problem) whose partial gradients are added
 * in chunk order.
 *
 * 3x3 stride-1 forward-shaped problems (the forward pass and the stride-1 input gradient)
 * with enough channels and tiles run as Winograd F(4x4, 3x3) instead: winograd_impl.h
 * (md_cv_exec chooses; md_set_conv_winograd(0) keeps them here).
 *
 * Every output element is computed by one thread in a fixed order, so all three passes
 * give the same bits for every thread count and every run (for a given instruction set).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"

/* Below this many input channels the kernel taps are whole kernel rows (row-tap mode). */
#define MD_CONV_ROWTAP_C 32
/* Most column vectors per forward tile (ikr nv; the table's MR shrinks as nv grows). */
#define MD_CONV_NV_MAX 4
/* One-channel forward: output rows per scheduling group (the fused activation runs once
 * over a group's contiguous rows). */
#define MD_CONV1_ROW_GROUP 4
/* Output rows per scheduling block of the forward-shaped passes (times MR). */
#define MD_CONV_TILES_PER_BLOCK 8
/* Weight gradient: pixels per sub-block (one pass of every tile over its entries), the
 * most chunks (partial gradients, split among the threads) the pixels are split into, and
 * the fewest sub-blocks per chunk. */
#define MD_CONV_WG_SUB 128  /* x and dy rows of a sub-block stay in L1 */
#define MD_CONV_WG1_SUB 256 /* one-channel path: more segments per kernel call */
#define MD_CONV_WG_MAX_CHUNKS 16
#define MD_CONV_WG_MIN_SUBS 2

/* Pixels per chunk of a weight gradient's partial sums over P output pixels (whole
 * sub-blocks; the same chunks for the bias sums of every path). */
static int64_t md_wg_chunk_pixels(int64_t P) {
    return md_max64(MD_CONV_WG_MIN_SUBS * MD_CONV_WG_SUB,
                    md_round_up(md_ceil_div(P, MD_CONV_WG_MAX_CHUNKS), MD_CONV_WG_SUB));
}

/* Winograd path (winograd_impl.h) of 3x3 stride-1 forward and backward-input passes:
 * F(m x m, 3 x 3) with m = MD_WINO_M output pixels per tile side, A = m + 2. */
#define MD_WINO_M 4
#define MD_WINO_A (MD_WINO_M + 2)
/* When it pays (measured, one thread, batch 32): from 16 input channels (the products'
 * depth) and 16 output columns, on outputs of at least 8x8 (smaller ones waste much of
 * their 4x4 tiles on padding) and with at least 48 tiles in all (the kernel transform
 * costs about as much per channel pair as 40 tiles save). */
#define MD_WINO_MIN_C 16
#define MD_WINO_MIN_N 16
#define MD_WINO_MIN_HW 8
#define MD_WINO_MIN_TILES 48
/* Bytes of transformed input and products per tile block: both stay in L2. */
#define MD_WINO_BLOCK_BYTES (384 * 1024)
/* Weight gradient: the fewest tiles per chunk (each chunk's partial sums cost a final
 * transform and a pass of the reduction). */
#define MD_WINO_WG_MIN_CHUNK 64
/* The tile transforms are also compiled for AVX2 and AVX-512. */
#if defined(__x86_64__) || defined(__i386__)
#define MD_WINO_X86 1
#else
#define MD_WINO_X86 0
#endif

/* G of the kernel transform U = G g G^T (A x 3): row j holds p^0, p^1, p^2 of the
 * interpolation point p over prod (p - q) for the other finite points q; the last row is
 * the point at infinity. Applied in double, so its rounding does not matter. */
#if MD_WINO_M == 2
static const double md_wino_G[MD_WINO_A][3] = {
    {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
#else /* points 0, 1, -1, 2, -1/2 */
static const double md_wino_G[MD_WINO_A][3] = {
    {1, 0, 0},
    {-1.0 / 3, -1.0 / 3, -1.0 / 3},
    {1.0 / 3, -1.0 / 3, 1.0 / 3},
    {1.0 / 15, 2.0 / 15, 4.0 / 15},
    {-16.0 / 15, 8.0 / 15, -4.0 / 15},
    {0, 0, 1}};
#endif

#define MD_TEMPLATE "conv2d_impl.h"
#include "md_instantiate.h"

#undef MD_TEMPLATE

#include "conv_one_channel.h"

#define MD_TEMPLATE "winograd_impl.h"
#include "md_instantiate.h"

#undef MD_TEMPLATE

/* Depthwise 2-D convolution (NHWC input, kernel (k_h, k_w, channels,
 * multiplier)), forward and both backward passes.
 *
 * Each input channel c is convolved with its own multiplier M filters; output channel
 * c * M + m is filter m of channel c (Keras's DepthwiseConv2D and tf.nn.depthwise_conv2d).
 * The geometry is md_conv2d_geom with in_c = channels and out_c = M (the kernel's shape
 * is then exactly the geometry's (k_h, k_w, in_c, out_c)); the output has in_c * out_c
 * channels.
 *
 * Depthwise convolutions are memory-bound (k_h * k_w multiply-adds per output value), so
 * it is written as plain loops with the channels innermost (contiguous in NHWC: the compiler
 * vectorises them). Every output element is computed by one thread in a fixed order --
 * the weight gradient sums fixed chunks of rows in chunk order -- so the results do not
 * depend on the thread count.
 */
/* The weight gradient's rows (n, oh) are split into at most this many chunks. */
#define MD_DW_MAX_CHUNKS 16

/* Whether the output (batch, out_h, out_w, in_c * out_c) is addressable. */
static int md_dw_sizes_ok(const md_conv2d_geom *g) {
    int64_t channels, pixels, total;
    return md_mul_ok(g->in_c, g->out_c, &channels) &&
           md_mul_ok(g->batch * g->out_h, g->out_w, &pixels) &&
           md_mul_ok(pixels, channels, &total);
}

/* The output index along one axis that input index i reads with kernel tap k, or -1 when
 * none does (a gather of the backward input pass: (i + pad - k) / stride, exact and in
 * range). */
static inline int64_t md_dw_source(int64_t i, int64_t k, int64_t pad, int64_t stride,
                                   int64_t out) {
    const int64_t t = i + pad - k;
    if (t < 0 || t % stride) return -1;
    return t / stride < out ? t / stride : -1;
}

#define MD_TEMPLATE "depthwise_impl.h"
#include "md_instantiate.h"
