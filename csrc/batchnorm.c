/* batchnorm.c -- batch normalization over a (rows, channels) view and per-channel moments.
 *
 * x is viewed as (rows, channels): rows = N for 2-D input, N*H*W for NHWC. Statistics
 * are accumulated in double with fixed-size row chunks (see md_bn_plan below), so the
 * results are bit-identical for every thread count. The kernel bodies live in
 * batchnorm_impl.h, instantiated for float and double. */
#include <math.h>

#include "md_internal.h"

/* Channels handled by one reduction task (the width of its on-stack accumulators). */
#define MD_BN_CBLOCK 64
/* At most this many chunk groups: bounds the partials buffer to MD_BN_MAX_GROUPS
 * rows of per-channel sums whatever the number of rows. */
#define MD_BN_MAX_GROUPS 128

/* What md_bn_sums accumulates per channel (a, b: (rows, channels) arrays; center:
 * per-channel double values):
 *   MD_BN_SUM:      s1 = sum a
 *   MD_BN_DEV:      s1 = sum (a - center)^2,  s2 = sum (a - center)
 *   MD_BN_DY_DYXC:  s1 = sum a,               s2 = sum a * (b - center)   */
enum { MD_BN_SUM = 0, MD_BN_DEV = 1, MD_BN_DY_DYXC = 2 };

/* How the rows are cut for a reduction. Rows are cut into chunks of
 * MD_REDUCE_CHUNK_ROWS; each chunk is summed in double from zero, and consecutive
 * chunks form groups (chunk sums added in chunk order); the group partials are then
 * added in group order. Every number here depends only on (rows, channels), never on
 * the thread count. Tasks are (group, channel block) pairs. */
typedef struct {
    int64_t nchunks, chunks_per_group, ngroups, nblocks;
} md_bn_plan;

static md_bn_plan md_bn_make_plan(int64_t rows, int64_t channels) {
    md_bn_plan p;
    p.nchunks = md_ceil_div(rows, MD_REDUCE_CHUNK_ROWS);
    p.chunks_per_group = md_ceil_div(p.nchunks, MD_BN_MAX_GROUPS);
    p.ngroups = md_ceil_div(p.nchunks, p.chunks_per_group);
    p.nblocks = md_ceil_div(channels, MD_BN_CBLOCK);
    return p;
}

/* Shared argument checks: MD_ERR_ARG for a NULL geometry, a negative, NaN or infinite
 * epsilon, or a momentum outside [0, 1]; MD_ERR_SHAPE for non-positive sizes;
 * MD_ERR_OVERFLOW when rows * channels (or the size of the per-call buffers) overflows. */
static md_status md_bn_check_geom(const md_batchnorm_geom *g, int elem_size) {
    if (g == NULL) return MD_ERR_ARG;
    if (g->rows <= 0 || g->channels <= 0) return MD_ERR_SHAPE;
    int64_t n, bytes;
    if (!md_mul_ok(g->rows, g->channels, &n) || !md_mul_ok(n, elem_size, &bytes))
        return MD_ERR_OVERFLOW;
    /* the largest per-call buffer: 2 partial sums per channel per group, in double */
    md_bn_plan p = md_bn_make_plan(g->rows, g->channels);
    if (!md_mul_ok(p.ngroups, g->channels, &n) || !md_mul_ok(n, 2 * (int64_t)sizeof(double), &n))
        return MD_ERR_OVERFLOW;
    if (!md_mul_ok(g->channels, 4 * (int64_t)sizeof(double), &n)) return MD_ERR_OVERFLOW;
    if (!(g->epsilon >= 0.0) || isinf(g->epsilon)) return MD_ERR_ARG;
    if (!(g->momentum >= 0.0 && g->momentum <= 1.0)) return MD_ERR_ARG;
    return MD_OK;
}

/* 1 / sqrt(var + eps). A zero denominator (eps == 0 and a constant channel) gives 0:
 * then x - mean is 0 in training, and y = beta, dx = 0, dgamma = 0 are the limits for
 * eps -> 0+. NaN propagates. Callers reject var + eps < 0 beforehand. */
static inline double md_bn_rstd(double var, double eps) {
    double s = var + eps;
    return s == 0.0 ? 0.0 : 1.0 / sqrt(s);
}

#define MD_TEMPLATE "batchnorm_impl.h"
#include "md_instantiate.h"
