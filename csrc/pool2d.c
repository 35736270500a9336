/* pool2d.c -- 2-D max and average pooling over NHWC batches (Keras/TensorFlow rules).
 *
 * The kernels are written once in pool2d_impl.h and instantiated for float and double.
 * Geometry: output (oh, ow) covers input rows [oh*stride_h - pad_top, ... + pool_h) and
 * columns likewise; the part of the window outside the image (the 'same' padding) is
 * ignored. md_pool2d_geom_check guarantees that every clipped window holds at least
 * one real cell (pad < pool and every window starts inside the image).
 */
#include "md_internal.h"

/* Channels accumulated at once in double by the average pooling forward pass. */
#define MD_POOL_CHANNEL_BLOCK 256

/* The clipped window [*lo, *hi) of output position o along one axis. */
static inline void md_pool_window(int64_t o, int64_t stride, int64_t pad, int64_t pool,
                                  int64_t in, int64_t *lo, int64_t *hi) {
    const int64_t start = o * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = md_min64(start + pool, in);
}

/* Elementary operations of a pass over every window (saturates instead of overflowing;
 * only used to decide the thread count). */
static inline int64_t md_pool_work(const md_pool2d_geom *g) {
    int64_t work = 1;
    const int64_t factors[6] = {g->batch, g->out_h, g->out_w, g->channels, g->pool_h,
                                g->pool_w};
    for (int i = 0; i < 6; i++)
        if (!md_mul_ok(work, factors[i], &work)) return INT64_MAX;
    return work;
}

/* Elements touched by a max pooling backward pass (dx zeroed, dy and argmax read); the
 * geometry check guarantees that both sizes fit in int64. */
static inline int64_t md_pool_scatter_work(const md_pool2d_geom *g) {
    return md_max64(g->batch * g->in_h * g->in_w * g->channels,
                    g->batch * g->out_h * g->out_w * g->channels);
}

/* Whether every window lies wholly inside the image (no padding reaches any): then the
 * average pooling passes take their row-wise fast paths. */
static inline int md_pool_windows_whole(const md_pool2d_geom *g) {
    return g->pad_top == 0 && g->pad_left == 0 &&
           (g->out_h - 1) * g->stride_h + g->pool_h <= g->in_h &&
           (g->out_w - 1) * g->stride_w + g->pool_w <= g->in_w;
}

#define MD_TEMPLATE "pool2d_impl.h"
#include "md_instantiate.h"
