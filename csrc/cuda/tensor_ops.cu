/* tensor_ops.cu -- bias add, deterministic reduce_sum, elementwise arithmetic, and the
 * device-side helpers of the Python layer: dtype conversion, transposition, fill, clip,
 * and the accumulators of the training loop's metrics.
 *
 * reduce_sum follows md_reduce_sum: sums in double, cut into chunks that depend only on
 * the problem size, partials added in a fixed order (see mdc::column_sums). */
#include "mdc_internal.cuh"

namespace {

using mdc::kThreads;

/* ---------------------------------------------------------------- conversion, layout */

template <class Y, class X>
__global__ void convert_kernel(Y *y, const X *x, int64_t n) {
    MDC_FOR(i, n) y[i] = (Y)x[i];
}

template <class Y>
int convert_from(Y *y, const void *x, int x_dtype, int64_t n) {
    const unsigned blocks = mdc::blocks_for(n);
    switch (x_dtype) {
    case MDC_F32: convert_kernel<<<blocks, kThreads>>>(y, (const float *)x, n); break;
    case MDC_F64: convert_kernel<<<blocks, kThreads>>>(y, (const double *)x, n); break;
    case MDC_I32: convert_kernel<<<blocks, kThreads>>>(y, (const int32_t *)x, n); break;
    case MDC_I64: convert_kernel<<<blocks, kThreads>>>(y, (const int64_t *)x, n); break;
    case MDC_U8: convert_kernel<<<blocks, kThreads>>>(y, (const uint8_t *)x, n); break;
    default: return MD_ERR_ARG;
    }
    return mdc::launched("mdc_convert");
}

constexpr int kMaxDims = 8;

struct PermuteGeom {
    int ndim;
    int64_t out_shape[kMaxDims];   /* shape of y */
    int64_t src_stride[kMaxDims];  /* stride in x (elements) of y's axis d */
};

/* One thread per element of y: unravel its index over y's shape, gather from x. */
template <class T>
__global__ void permute_kernel(T *y, const T *x, PermuteGeom g, int64_t n) {
    MDC_FOR(i, n) {
        int64_t rest = i, src = 0;
        for (int d = g.ndim - 1; d >= 0; --d) {
            const int64_t idx = rest % g.out_shape[d];
            rest /= g.out_shape[d];
            src += idx * g.src_stride[d];
        }
        y[i] = x[src];
    }
}

__global__ void fill_kernel(float *y, float value, int64_t n) {
    MDC_FOR(i, n) y[i] = value;
}

/* min(max(x, lo), hi) written with comparisons so that NaN stays NaN (np.clip). */
__global__ void clip_kernel(float *y, const float *x, float lo, float hi, int64_t n) {
    MDC_FOR(i, n) {
        const float v = x[i];
        y[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

/* ---------------------------------------------------------------- arithmetic */

__global__ void bias_add_kernel(float *y, const float *x, const float *bias, int64_t total,
                                int64_t cols) {
    MDC_FOR(i, total) y[i] = x[i] + bias[i % cols];
}

__global__ void add_kernel(float *y, const float *a, const float *b, int64_t n) {
    MDC_FOR(i, n) y[i] = a[i] + b[i];
}

__global__ void mul_kernel(float *y, const float *a, const float *b, int64_t n) {
    MDC_FOR(i, n) y[i] = a[i] * b[i];
}

__global__ void scale_kernel(float *y, const float *x, float alpha, int64_t n) {
    MDC_FOR(i, n) y[i] = alpha * x[i];
}

/* y + a*x rounded twice, as the CPU's y[i] + a * x[i] (no fused multiply-add). */
__global__ void axpy_kernel(float *y, float alpha, const float *x, int64_t n) {
    MDC_FOR(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(alpha, x[i]));
}

/* reduce_sum contribution: x (outer, reduce, inner). */
struct SumOf {
    static constexpr int NS = 1;
    const float *x;
    int64_t reduce, inner;
    __device__ void add(double (&acc)[1], int64_t o, int64_t r, int64_t j) const {
        acc[0] += (double)x[(o * reduce + r) * inner + j];
    }
};

__global__ void round_to_float(float *out, const double *total, int64_t n) {
    MDC_FOR(i, n) out[i] = (float)total[i];
}

/* ---------------------------------------------------------------- training helpers */

/* One block: acc[0] += sum of x in a fixed order (thread-strided partials, warp
 * butterflies, warps in order). */
__global__ void __launch_bounds__(kThreads) accumulate_sum_kernel(double *acc, const float *x,
                                                                  int64_t n) {
    __shared__ double sh[kThreads / 32];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += kThreads) s += (double)x[i];
    s = mdc::warp_sum(s);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = sh[0];
        for (int w = 1; w < kThreads / 32; ++w) t += sh[w];
        acc[0] += t;
    }
}

/* Index of the first maximum of a row (np.argmax: NaN counts as the maximum). */
__device__ int64_t row_argmax(const float *row, int64_t cols) {
    int64_t best = 0;
    float m = row[0];
    if (m != m) return 0;
    for (int64_t j = 1; j < cols; ++j) {
        const float v = row[j];
        if (v != v) return j;
        if (v > m) {
            m = v;
            best = j;
        }
    }
    return best;
}

/* One block: acc[0] += number of matching rows (one thread per row, block reduction). */
__global__ void __launch_bounds__(kThreads)
    accumulate_matches_kernel(double *acc, const float *pred, const float *target,
                              const int64_t *labels, int64_t rows, int64_t cols) {
    __shared__ double sh[kThreads / 32];
    double count = 0.0;
    for (int64_t r = threadIdx.x; r < rows; r += kThreads) {
        const int64_t p = row_argmax(pred + r * cols, cols);
        const int64_t t = labels != nullptr ? labels[r] : row_argmax(target + r * cols, cols);
        count += p == t ? 1.0 : 0.0;
    }
    count = mdc::warp_sum(count);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = count;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = sh[0];
        for (int w = 1; w < kThreads / 32; ++w) t += sh[w];
        acc[0] += t;
    }
}

/* Shared checks of the elementwise entry points: n >= 0, pointers when n > 0. */
int elementwise_args(int64_t n, bool pointers_ok) {
    if (n < 0) return MD_ERR_SHAPE;
    if (n == 0) return MD_OK;
    return pointers_ok ? MD_OK : MD_ERR_ARG;
}

}  // namespace

extern "C" {

int mdc_convert(void *y, int y_dtype, const void *x, int x_dtype, int64_t n) {
    int st = elementwise_args(n, y != NULL && x != NULL);
    if (st != MD_OK || n == 0) return st;
    if (x_dtype < MDC_F32 || x_dtype > MDC_U8) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    switch (y_dtype) {
    case MDC_F32: return convert_from((float *)y, x, x_dtype, n);
    case MDC_F64: return convert_from((double *)y, x, x_dtype, n);
    case MDC_I32: return convert_from((int32_t *)y, x, x_dtype, n);
    case MDC_I64: return convert_from((int64_t *)y, x, x_dtype, n);
    case MDC_U8: return convert_from((uint8_t *)y, x, x_dtype, n);
    default: return MD_ERR_ARG;
    }
}

int mdc_permute(void *y, const void *x, int elem_size, int ndim, const int64_t *shape,
                const int64_t *axes) {
    if (ndim < 1 || ndim > kMaxDims || shape == NULL || axes == NULL) return MD_ERR_ARG;
    PermuteGeom g;
    g.ndim = ndim;
    int64_t strides[kMaxDims];
    int64_t n = 1;
    for (int d = ndim - 1; d >= 0; --d) {
        if (shape[d] < 0) return MD_ERR_SHAPE;
        strides[d] = n;
        if (!mdc::mul_ok(n, shape[d], &n)) return MD_ERR_OVERFLOW;
    }
    int seen = 0;
    for (int d = 0; d < ndim; ++d) {
        const int64_t a = axes[d];
        if (a < 0 || a >= ndim || (seen >> a) & 1) return MD_ERR_ARG;
        seen |= 1 << a;
        g.out_shape[d] = shape[a];
        g.src_stride[d] = strides[a];
    }
    if (n == 0) return MD_OK;
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const unsigned blocks = mdc::blocks_for(n);
    switch (elem_size) {
    case 1: permute_kernel<<<blocks, kThreads>>>((uint8_t *)y, (const uint8_t *)x, g, n); break;
    case 2: permute_kernel<<<blocks, kThreads>>>((uint16_t *)y, (const uint16_t *)x, g, n); break;
    case 4: permute_kernel<<<blocks, kThreads>>>((uint32_t *)y, (const uint32_t *)x, g, n); break;
    case 8: permute_kernel<<<blocks, kThreads>>>((uint64_t *)y, (const uint64_t *)x, g, n); break;
    default: return MD_ERR_ARG;
    }
    return mdc::launched("mdc_permute");
}

int mdc_fill(float *y, double value, int64_t n) {
    int st = elementwise_args(n, y != NULL);
    if (st != MD_OK || n == 0) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    fill_kernel<<<mdc::blocks_for(n), kThreads>>>(y, (float)value, n);
    return mdc::launched("mdc_fill");
}

int mdc_clip(float *y, const float *x, double lo, double hi, int64_t n) {
    int st = elementwise_args(n, y != NULL && x != NULL);
    if (st != MD_OK || n == 0) return st;
    if (!(lo <= hi)) return MD_ERR_ARG;
    if ((st = mdc::enter()) != MD_OK) return st;
    clip_kernel<<<mdc::blocks_for(n), kThreads>>>(y, x, (float)lo, (float)hi, n);
    return mdc::launched("mdc_clip");
}

int mdc_bias_add(float *y, const float *x, const float *bias, int64_t rows, int64_t cols) {
    int64_t total;
    if (rows < 0 || cols < 0) return MD_ERR_SHAPE;
    if (!mdc::mul_ok(rows, cols, &total)) return MD_ERR_OVERFLOW;
    if (total == 0) return MD_OK;
    if (y == NULL || x == NULL || bias == NULL) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    bias_add_kernel<<<mdc::blocks_for(total), kThreads>>>(y, x, bias, total, cols);
    return mdc::launched("mdc_bias_add");
}

int mdc_reduce_sum(float *out, const float *x, int64_t outer, int64_t reduce, int64_t inner) {
    int64_t out_n, total;
    if (outer < 0 || reduce < 0 || inner < 0) return MD_ERR_SHAPE;
    if (!mdc::mul_ok(outer, inner, &out_n) || !mdc::mul_ok(out_n, reduce, &total))
        return MD_ERR_OVERFLOW;
    if (out_n == 0) return MD_OK;
    if (out == NULL) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    if (reduce == 0) {
        fill_kernel<<<mdc::blocks_for(out_n), kThreads>>>(out, 0.0f, out_n);
        return mdc::launched("mdc_reduce_sum");
    }
    if (x == NULL) return MD_ERR_ARG;
    int64_t bytes;
    if (!mdc::mul_ok(out_n, (int64_t)sizeof(double), &bytes)) return MD_ERR_OVERFLOW;
    mdc::Scratch totals;
    if ((st = totals.get((size_t)bytes)) != MD_OK) return st;
    const SumOf f{x, reduce, inner};
    st = mdc::column_sums(f, totals.as<double>(), outer, reduce, inner, "mdc_reduce_sum");
    if (st != MD_OK) return st;
    round_to_float<<<mdc::blocks_for(out_n), kThreads>>>(out, totals.as<double>(), out_n);
    return mdc::launched("mdc_reduce_sum");
}

int mdc_add(float *y, const float *a, const float *b, int64_t n) {
    int st = elementwise_args(n, y != NULL && a != NULL && b != NULL);
    if (st != MD_OK || n == 0) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    add_kernel<<<mdc::blocks_for(n), kThreads>>>(y, a, b, n);
    return mdc::launched("mdc_add");
}

int mdc_mul(float *y, const float *a, const float *b, int64_t n) {
    int st = elementwise_args(n, y != NULL && a != NULL && b != NULL);
    if (st != MD_OK || n == 0) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    mul_kernel<<<mdc::blocks_for(n), kThreads>>>(y, a, b, n);
    return mdc::launched("mdc_mul");
}

int mdc_scale(float *y, const float *x, double alpha, int64_t n) {
    int st = elementwise_args(n, y != NULL && x != NULL);
    if (st != MD_OK || n == 0) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    scale_kernel<<<mdc::blocks_for(n), kThreads>>>(y, x, (float)alpha, n);
    return mdc::launched("mdc_scale");
}

int mdc_axpy(float *y, double alpha, const float *x, int64_t n) {
    int st = elementwise_args(n, y != NULL && x != NULL);
    if (st != MD_OK || n == 0) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    axpy_kernel<<<mdc::blocks_for(n), kThreads>>>(y, (float)alpha, x, n);
    return mdc::launched("mdc_axpy");
}

int mdc_accumulate_sum(double *acc, const float *x, int64_t n) {
    int st = elementwise_args(n, acc != NULL && x != NULL);
    if (st != MD_OK || n == 0) return st;
    if ((st = mdc::enter()) != MD_OK) return st;
    accumulate_sum_kernel<<<1, kThreads>>>(acc, x, n);
    return mdc::launched("mdc_accumulate_sum");
}

int mdc_accumulate_matches(double *acc, const float *pred, const float *target,
                           const int64_t *labels, int64_t rows, int64_t cols) {
    if (rows < 0 || cols <= 0) return MD_ERR_SHAPE;
    if (rows == 0) return MD_OK;
    if (acc == NULL || pred == NULL || (target == NULL) == (labels == NULL)) return MD_ERR_ARG;
    int64_t total;
    if (!mdc::mul_ok(rows, cols, &total)) return MD_ERR_OVERFLOW;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    accumulate_matches_kernel<<<1, kThreads>>>(acc, pred, target, labels, rows, cols);
    return mdc::launched("mdc_accumulate_matches");
}

}  // extern "C"
