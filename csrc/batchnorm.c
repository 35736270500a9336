/* batchnorm.c -- batch normalization over a (rows, channels) view and per-channel moments.
 *
 * x is viewed as (rows, channels): rows = N for 2-D input, N*H*W for NHWC. Every pass
 * walks the flat array in "periods" of P lanes, P a multiple of the channel count (and of
 * 8 when that keeps P small), so lane l always holds channel l % channels: the loops
 * vectorise across rows even when there are only a few channels (6 in LeNet-5), which a
 * loop over the channels of one row cannot. Statistics are accumulated per lane in double
 * over fixed groups of periods (see md_bn_plan), so the results are bit-identical for
 * every thread count. The kernel bodies live in batchnorm_impl.h (instantiated for float
 * and double) and the lane loops in batchnorm_lanes_impl.h (built once per ISA level). */
#include <math.h>

#include "md_internal.h"

/* The longest period made of whole 8-lane vectors (lcm(channels, 8)); above it the
 * period is the channel count itself. */
#define MD_BN_MAX_PERIOD 128
/* A reduction group (and an elementwise block) spans at least this many elements. */
#define MD_BN_GROUP_ELEMS 4096
/* Periods a lane sums in md_T before adding the result to its double accumulator. */
#define MD_BN_FLUSH 16
/* At most this many groups: bounds the partials buffer whatever the number of rows. */
#define MD_BN_MAX_GROUPS 128

/* What md_bn_sums accumulates per channel (a, b: (rows, channels) arrays; center:
 * per-channel values):
 *   MD_BN_SUM:      s1 = sum a
 *   MD_BN_DEV:      s1 = sum (a - center),    s2 = sum (a - center)^2
 *   MD_BN_DY_DYXC:  s1 = sum a,               s2 = sum a * (b - center)   */
enum { MD_BN_SUM = 0, MD_BN_DEV = 1, MD_BN_DY_DYXC = 2 };

/* How the flat array of n = rows * channels elements is cut. Periods of `period` lanes
 * (the last one may be partial: it still holds whole rows); groups of `per_group`
 * consecutive periods, each summed in double from zero in period order; the group
 * partials are added in group order. Every number depends only on (rows, channels). */
typedef struct {
    int64_t n, channels, period, nper, per_group, ngroups;
} md_bn_plan;

static md_bn_plan md_bn_make_plan(int64_t rows, int64_t channels) {
    md_bn_plan p;
    p.n = rows * channels;
    p.channels = channels;
    const int64_t lcm8 = channels / md_gcd64(channels, 8) * 8;
    p.period = lcm8 <= MD_BN_MAX_PERIOD ? lcm8 : channels;
    p.nper = md_ceil_div(p.n, p.period);
    p.per_group = md_max64(1, md_ceil_div(MD_BN_GROUP_ELEMS, p.period));
    if (md_ceil_div(p.nper, p.per_group) > MD_BN_MAX_GROUPS)
        p.per_group = md_ceil_div(p.nper, MD_BN_MAX_GROUPS);
    p.ngroups = md_ceil_div(p.nper, p.per_group);
    return p;
}

/* Element range [*start, *end) of group gi. */
static inline void md_bn_group_range(const md_bn_plan *p, int64_t gi, int64_t *start,
                                     int64_t *end) {
    *start = gi * p->per_group * p->period;
    *end = md_min64(p->n, *start + p->per_group * p->period);
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
    /* the largest per-call buffer: 2 partial sums per lane per group, plus 4 lane
     * arrays, in double */
    md_bn_plan p = md_bn_make_plan(g->rows, g->channels);
    if (!md_mul_ok(p.ngroups + 2, p.period, &n) || !md_mul_ok(n, 2 * (int64_t)sizeof(double), &n))
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

#if defined(__x86_64__) || defined(__i386__)
#define MD_HAVE_BN_AVX2 1
#include <immintrin.h>

/* Float AVX2 loops over whole periods [start, end) when P is a multiple of 8. Each loop
 * takes one 8-lane slice of the period at a time (its coefficients or accumulators stay in
 * registers) and walks it down the periods of the range with stride P: a range is one
 * reduction group or elementwise block (a few KiB), so it stays in L1 across the slices. */

/* One slice's sums (see md_bn_lane_sums): t1 += u, t2 += u * w with u = x - c, w = u for
 * MD_BN_DEV, u = dy, w = x - c for MD_BN_DY_DYXC (s1 = sum d, s2 = sum d^2 for MD_BN_DEV),
 * u = x and no t2 for MD_BN_SUM. Two periods per step into two accumulator pairs hide the
 * add latency; every MD_BN_FLUSH periods the float sums go into double accumulators. */
__attribute__((target("avx2,fma"), always_inline)) static inline void md_bn_slice_sums(
    double *restrict s1, double *restrict s2, const int mode, const float *a, const float *b,
    __m256 c, int64_t first, int64_t end, int64_t P) {
    __m256d u1lo = _mm256_loadu_pd(s1), u1hi = _mm256_loadu_pd(s1 + 4);
    __m256d u2lo = _mm256_setzero_pd(), u2hi = _mm256_setzero_pd();
    if (mode != MD_BN_SUM) {
        u2lo = _mm256_loadu_pd(s2);
        u2hi = _mm256_loadu_pd(s2 + 4);
    }
    for (int64_t p0 = first; p0 < end; p0 += MD_BN_FLUSH * P) {
        const int64_t p1 = md_min64(end, p0 + MD_BN_FLUSH * P);
        __m256 t1[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        __m256 t2[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        int64_t i = p0;
        for (int k = 0; i < p1; i += P, k ^= 1) {
            const __m256 x = _mm256_loadu_ps(a + i);
            if (mode == MD_BN_SUM) {
                t1[k] = _mm256_add_ps(t1[k], x);
            } else {
                const __m256 u = mode == MD_BN_DEV ? _mm256_sub_ps(x, c) : x;
                const __m256 w =
                    mode == MD_BN_DEV ? u : _mm256_sub_ps(_mm256_loadu_ps(b + i), c);
                t1[k] = _mm256_add_ps(t1[k], u);
                t2[k] = _mm256_fmadd_ps(u, w, t2[k]);
            }
        }
        const __m256 f1 = _mm256_add_ps(t1[0], t1[1]), f2 = _mm256_add_ps(t2[0], t2[1]);
        u1lo = _mm256_add_pd(u1lo, _mm256_cvtps_pd(_mm256_castps256_ps128(f1)));
        u1hi = _mm256_add_pd(u1hi, _mm256_cvtps_pd(_mm256_extractf128_ps(f1, 1)));
        u2lo = _mm256_add_pd(u2lo, _mm256_cvtps_pd(_mm256_castps256_ps128(f2)));
        u2hi = _mm256_add_pd(u2hi, _mm256_cvtps_pd(_mm256_extractf128_ps(f2, 1)));
    }
    _mm256_storeu_pd(s1, u1lo);
    _mm256_storeu_pd(s1 + 4, u1hi);
    if (mode != MD_BN_SUM) {
        _mm256_storeu_pd(s2, u2lo);
        _mm256_storeu_pd(s2 + 4, u2hi);
    }
}

__attribute__((target("avx2,fma"))) static void md_bn_sums8_avx2(
    double *restrict s1, double *restrict s2, int mode, const float *a, const float *b,
    const float *ctr, int64_t start, int64_t end, int64_t P) {
    for (int64_t v = 0; v < P; v += 8) {
        const __m256 c = _mm256_loadu_ps(ctr + v);
        double *t2 = s2 != NULL ? s2 + v : NULL;
        if (mode == MD_BN_SUM)
            md_bn_slice_sums(s1 + v, t2, MD_BN_SUM, a, b, c, start + v, end, P);
        else if (mode == MD_BN_DEV)
            md_bn_slice_sums(s1 + v, t2, MD_BN_DEV, a, b, c, start + v, end, P);
        else
            md_bn_slice_sums(s1 + v, t2, MD_BN_DY_DYXC, a, b, c, start + v, end, P);
    }
}

/* y = (x - m) * a + b */
__attribute__((target("avx2,fma"))) static void md_bn_affine8_avx2(
    float *y, const float *x, const float *m, const float *a, const float *b, int64_t start,
    int64_t end, int64_t P) {
    for (int64_t v = 0; v < P; v += 8) {
        const __m256 mv = _mm256_loadu_ps(m + v), av = _mm256_loadu_ps(a + v);
        const __m256 bv = _mm256_loadu_ps(b + v);
        for (int64_t i = start + v; i < end; i += P)
            _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv),
                                                    av, bv));
    }
}

/* dx = k1 * ((dy - k2) - (x - m) * k3) */
__attribute__((target("avx2,fma"))) static void md_bn_dx8_avx2(
    float *dx, const float *dy, const float *x, const float *m, const float *k1,
    const float *k2, const float *k3, int64_t start, int64_t end, int64_t P) {
    for (int64_t v = 0; v < P; v += 8) {
        const __m256 mv = _mm256_loadu_ps(m + v), k1v = _mm256_loadu_ps(k1 + v);
        const __m256 k2v = _mm256_loadu_ps(k2 + v), k3v = _mm256_loadu_ps(k3 + v);
        for (int64_t i = start + v; i < end; i += P) {
            const __m256 xc = _mm256_sub_ps(_mm256_loadu_ps(x + i), mv);
            const __m256 g = _mm256_sub_ps(_mm256_loadu_ps(dy + i), k2v);
            _mm256_storeu_ps(dx + i, _mm256_mul_ps(k1v, _mm256_fnmadd_ps(xc, k3v, g)));
        }
    }
}

/* dx = dy * k */
__attribute__((target("avx2,fma"))) static void md_bn_scale8_avx2(
    float *dx, const float *dy, const float *k, int64_t start, int64_t end, int64_t P) {
    for (int64_t v = 0; v < P; v += 8) {
        const __m256 kv = _mm256_loadu_ps(k + v);
        for (int64_t i = start + v; i < end; i += P)
            _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), kv));
    }
}
#else
#define MD_HAVE_BN_AVX2 0
#endif

#define MD_TEMPLATE "batchnorm_impl.h"
#include "md_instantiate.h"
