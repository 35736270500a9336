/* conv2d.c -- 2-D convolution (NHWC input, HWIO kernel) as implicit GEMMs.
 *
 * All three passes run on the blocked GEMM driver with pack functions that read the
 * input through the convolution geometry on the fly, so no column matrix is built:
 *   forward          y  (pixels, out_c) = im2col(x) (pixels, kh*kw*in_c) . w (kh*kw*in_c, out_c)
 *   backward input   dx (in pixels, in_c) = gather(dy) (in pixels, kh*kw*out_c) . w' (kh*kw*out_c, in_c)
 *                    where gather(dy)[(n,ih,iw), (kh,kw,co)] = dy[n, (ih+pt-kh)/sh, (iw+pl-kw)/sw, co]
 *                    when both divisions are exact and in range, else 0 (no scatter, no races)
 *   backward weight  dw (kh*kw*in_c, out_c) = im2col(x)^T . dy, split over fixed chunks of
 *                    pixels whose partial products are added in chunk order (deterministic
 *                    for any thread count). */
#include "gemm_internal.h"

/* Pixels per chunk of the weight-gradient reduction: a multiple of KC, at most
 * MD_CONV_MAX_CHUNKS chunks. Depends only on the problem size. */
#define MD_CONV_MIN_CHUNK_PIXELS 1024
#define MD_CONV_MAX_CHUNKS 32

static int64_t md_conv_chunk_pixels(int64_t pixels) {
    int64_t chunk = md_max64(MD_CONV_MIN_CHUNK_PIXELS, md_ceil_div(pixels, MD_CONV_MAX_CHUNKS));
    return md_round_up(chunk, MD_GEMM_KC);
}

#define MD_TEMPLATE "conv2d_impl.h"
#include "md_instantiate.h"

static size_t md_conv_elem_dispatch(int elem_size, size_t f32, size_t f64) {
    return elem_size == 8 ? f64 : f32;
}

size_t md_conv2d_forward_workspace_size(const md_conv2d_geom *g, int elem_size) {
    if (md_conv2d_geom_check(g) != MD_OK) return 0;
    return md_conv_elem_dispatch(elem_size, md_conv2d_forward_ws_f32(g), md_conv2d_forward_ws_f64(g));
}

size_t md_conv2d_backward_input_workspace_size(const md_conv2d_geom *g, int elem_size) {
    if (md_conv2d_geom_check(g) != MD_OK) return 0;
    return md_conv_elem_dispatch(elem_size, md_conv2d_backward_input_ws_f32(g),
                                 md_conv2d_backward_input_ws_f64(g));
}

size_t md_conv2d_backward_weight_workspace_size(const md_conv2d_geom *g, int elem_size) {
    if (md_conv2d_geom_check(g) != MD_OK) return 0;
    return md_conv_elem_dispatch(elem_size, md_conv2d_backward_weight_ws_f32(g),
                                 md_conv2d_backward_weight_ws_f64(g));
}
