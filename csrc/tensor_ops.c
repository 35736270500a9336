/* tensor_ops.c -- bias add, deterministic sum over an axis, elementwise arithmetic,
 * one-pass summary statistics, the embedding lookup and its gradient; and the step
 * program's runner (md_op_run, md_program_run: recorded kernel calls run in order).
 *
 * The kernels are written once in tensor_ops_impl.h and instantiated for float and double.
 *
 * md_reduce_sum is deterministic: the reduced axis is cut into chunks of
 * MD_REDUCE_CHUNK_ROWS rows (a function of the problem size only), each chunk's partial
 * sum is accumulated in double in a fixed order, and the partials are added in chunk
 * order. Two schedules compute exactly these operations -- one task per (outer row,
 * column block) looping over the chunks, or one task per (outer row, chunk, column block)
 * followed by a combine pass -- so the result is bit-identical whichever one runs and for
 * every thread count.
 *
 * Zero-sized problems are allowed (no-ops; a sum over an empty axis writes zeros), and a
 * pointer is only required when there is something to read or write through it.
 */
#include "md_internal.h"

/* Columns per task in md_bias_add. */
#define MD_BIAS_COLS 4096
/* Columns of the inner axis per task in md_reduce_sum (its double accumulators live on
 * the stack: two arrays of this many doubles). */
#define MD_SUM_COLS 512
/* Independent accumulators ("lanes") for a contiguous sum (inner == 1), combined in a
 * fixed pairwise order: vectorisable, and still the same operations for any schedule. */
#define MD_SUM_LANES 8

/* Columns per task of md_embedding_backward. */
#define MD_EMBED_COLS 64

/* The shared argument checks of the embedding kernels: pointers, positive sizes, and
 * every index in [0, rows) (before anything is written). */
static md_status md_embedding_args(const void *out, const void *in, const int64_t *indices,
                                   int64_t n, int64_t rows, int64_t dim) {
    if (out == NULL || in == NULL || indices == NULL) return MD_ERR_ARG;
    if (n <= 0 || rows <= 0 || dim <= 0) return MD_ERR_SHAPE;
    for (int64_t i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= rows) return MD_ERR_ARG;
    return MD_OK;
}

/* Values per task of md_summary_stats (a function of n only, never of the threads). */
#define MD_STATS_CHUNK 16384
/* md_summary_stats accumulates in md_T lanes over blocks of MD_STATS_BLOCK values (one
 * vector register per quantity), then adds each block's lanes to double lanes. */
#define MD_STATS_LANES 32
#define MD_STATS_BLOCK 1024
/* Chunks whose partial statistics fit on the stack; more are allocated. */
#define MD_STATS_STACK_CHUNKS 64

/* An activation's derivative is below 1% of its maximum where its output y lies outside
 * a band: sigmoid y(1-y) < 0.0025 <=> |y - 1/2| > sqrt(0.99)/2; tanh 1 - y^2 < 0.01 <=>
 * |y| > sqrt(0.99); relu y <= 0 (derivative 0). */
#define MD_SIGMOID_SATURATED_HALF_WIDTH 0.49749371855330996
#define MD_TANH_SATURATED_LEVEL 0.99498743710661997

/* The sum of `lanes` (a power of two) accumulators, pairwise in a fixed order; the
 * lanes are overwritten. */
static double md_lane_total(double *lane, int lanes) {
    for (int width = lanes / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; k++) lane[k] += lane[k + width];
    return lane[0];
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MD_HAVE_STATS_AVX2 1

/* All bits set in the lanes where an activation with output v is saturated (see
 * md_saturated_unit in tensor_ops_impl.h: the same comparisons on |v - center|); the
 * callers count the lanes by subtracting the mask as integers (-1 per saturated unit),
 * which gives the same whole numbers as the portable code's float counts. */
__attribute__((target("avx2,fma"))) static inline __m256 md_saturated8(__m256 v,
                                                                       int activation) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    switch (activation) {
    case MD_ACT_SIGMOID: {
        const __m256 offset = _mm256_andnot_ps(sign, _mm256_sub_ps(v, _mm256_set1_ps(0.5f)));
        return _mm256_cmp_ps(offset, _mm256_set1_ps((float)MD_SIGMOID_SATURATED_HALF_WIDTH),
                             _CMP_GT_OQ);
    }
    case MD_ACT_TANH:
        return _mm256_cmp_ps(_mm256_andnot_ps(sign, v),
                             _mm256_set1_ps((float)MD_TANH_SATURATED_LEVEL), _CMP_GT_OQ);
    case MD_ACT_RELU:
        return _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LE_OQ);
    default: return _mm256_setzero_ps();
    }
}

/* md_stats_lanes_f32 (tensor_ops_impl.h) with its float lanes in MD_STATS_REGISTERS AVX2
 * registers per quantity: the same operations in the same order, hence the same bits. */
#define MD_STATS_REGISTERS (MD_STATS_LANES / 8)
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
md_stats_lanes_avx2(double *part, const float *x, int64_t n, float shift, int activation) {
    double sum[MD_STATS_LANES] = {0.0}, squares[MD_STATS_LANES] = {0.0};
    double saturated[MD_STATS_LANES] = {0.0};
    const __m256 vshift = _mm256_set1_ps(shift);
    int64_t i = 0;
    for (; i + MD_STATS_BLOCK <= n; i += MD_STATS_BLOCK) {
        __m256 s[MD_STATS_REGISTERS], q[MD_STATS_REGISTERS];
        __m256i c[MD_STATS_REGISTERS];
        for (int r = 0; r < MD_STATS_REGISTERS; r++) {
            s[r] = q[r] = _mm256_setzero_ps();
            c[r] = _mm256_setzero_si256();
        }
        for (int64_t j = 0; j < MD_STATS_BLOCK; j += MD_STATS_LANES)
            for (int r = 0; r < MD_STATS_REGISTERS; r++) {
                const __m256 v = _mm256_loadu_ps(x + i + j + 8 * r);
                const __m256 d = _mm256_sub_ps(v, vshift);
                s[r] = _mm256_add_ps(s[r], d);
                q[r] = _mm256_add_ps(q[r], _mm256_mul_ps(d, d));
                c[r] = _mm256_sub_epi32(c[r], _mm256_castps_si256(md_saturated8(v, activation)));
            }
        float lanes[2][MD_STATS_LANES];
        int32_t counts[MD_STATS_LANES];
        for (int r = 0; r < MD_STATS_REGISTERS; r++) {
            _mm256_storeu_ps(lanes[0] + 8 * r, s[r]);
            _mm256_storeu_ps(lanes[1] + 8 * r, q[r]);
            _mm256_storeu_si256((__m256i *)(counts + 8 * r), c[r]);
        }
        for (int k = 0; k < MD_STATS_LANES; k++) {
            sum[k] += (double)lanes[0][k];
            squares[k] += (double)lanes[1][k];
            saturated[k] += (double)counts[k];
        }
    }
    for (; i < n; i++) { /* the tail, in double, as the portable code */
        const double d = (double)x[i] - (double)shift;
        sum[0] += d;
        squares[0] += d * d;
        saturated[0] += (_mm256_movemask_ps(md_saturated8(_mm256_set1_ps(x[i]), activation))
                         & 1) ? 1.0 : 0.0;
    }
    part[0] = md_lane_total(sum, MD_STATS_LANES);
    part[1] = md_lane_total(squares, MD_STATS_LANES);
    part[2] = md_lane_total(saturated, MD_STATS_LANES);
}

__attribute__((target("avx2,fma"))) static void md_stats_chunk_avx2(
    double *part, const float *x, int64_t n, float shift, int activation) {
    switch (activation) { /* a constant activation per inlined copy */
    case MD_ACT_SIGMOID: md_stats_lanes_avx2(part, x, n, shift, MD_ACT_SIGMOID); break;
    case MD_ACT_TANH: md_stats_lanes_avx2(part, x, n, shift, MD_ACT_TANH); break;
    case MD_ACT_RELU: md_stats_lanes_avx2(part, x, n, shift, MD_ACT_RELU); break;
    default: md_stats_lanes_avx2(part, x, n, shift, MD_ACT_LINEAR); break;
    }
}
#endif

#define MD_TEMPLATE "tensor_ops_impl.h"
#include "md_instantiate.h"
#undef MD_TEMPLATE

/* ------------------------------------------------------------------ step program */
/* A recorded kernel call names its kernel and holds the arguments its wrapper would
 * pass, so running it later is the same call with the same bits. The bindings check
 * every argument when they record it; md_op_run checks only that the kind is known, and
 * each kernel checks its geometry as always. (Here, not in runtime.c: the CUDA extension
 * links runtime.c, and the program calls every CPU kernel.) */
#define MD_TEMPLATE "program_impl.h"
#include "md_instantiate.h"
#undef MD_TEMPLATE

md_status md_op_run(const md_op *op) {
    if (op == NULL || op->kind < 0 || op->kind >= MD_OP_COUNT) return MD_ERR_ARG;
    return op->f64 ? md_op_exec_f64(op) : md_op_exec_f32(op);
}

const char *md_op_name(int kind) {
    static const char *const names[MD_OP_COUNT] = {
        [MD_OP_GEMM] = "gemm",
        [MD_OP_BIAS_ADD] = "bias_add",
        [MD_OP_REDUCE_SUM] = "reduce_sum",
        [MD_OP_ACTIVATION_FORWARD] = "activation_forward",
        [MD_OP_ACTIVATION_BACKWARD] = "activation_backward",
        [MD_OP_SOFTMAX_FORWARD] = "softmax_forward",
        [MD_OP_SOFTMAX_BACKWARD] = "softmax_backward",
        [MD_OP_CONV2D_FORWARD] = "conv2d_forward",
        [MD_OP_CONV2D_BACKWARD_INPUT] = "conv2d_backward_input",
        [MD_OP_CONV2D_BACKWARD_WEIGHT] = "conv2d_backward_weight",
        [MD_OP_MAXPOOL2D_FORWARD] = "maxpool2d_forward",
        [MD_OP_MAXPOOL2D_BACKWARD] = "maxpool2d_backward",
        [MD_OP_AVGPOOL2D_FORWARD] = "avgpool2d_forward",
        [MD_OP_AVGPOOL2D_BACKWARD] = "avgpool2d_backward",
        [MD_OP_BATCHNORM_FORWARD_TRAIN] = "batchnorm_forward_train",
        [MD_OP_BATCHNORM_BACKWARD_TRAIN] = "batchnorm_backward_train",
        [MD_OP_SOFTMAX_XENT_FORWARD] = "softmax_xent_forward",
        [MD_OP_SOFTMAX_XENT_BACKWARD] = "softmax_xent_backward",
        [MD_OP_SPARSE_SOFTMAX_XENT_FORWARD] = "sparse_softmax_xent_forward",
        [MD_OP_SPARSE_SOFTMAX_XENT_BACKWARD] = "sparse_softmax_xent_backward",
        [MD_OP_SGD_UPDATE] = "sgd_update_many",
        [MD_OP_RMSPROP_UPDATE] = "rmsprop_update_many",
        [MD_OP_ADAM_UPDATE] = "adam_update_many",
    };
    return kind >= 0 && kind < MD_OP_COUNT && names[kind] != NULL ? names[kind] : "unknown";
}

md_status md_program_run(const md_op *ops, int64_t count, int64_t *failed) {
    if (failed != NULL) *failed = -1;
    if (count < 0 || (ops == NULL && count > 0)) return MD_ERR_ARG;
    for (int64_t i = 0; i < count; i++) {
        const md_status st = md_op_run(&ops[i]);
        if (st != MD_OK) {
            if (failed != NULL) *failed = i;
            return st;
        }
    }
    return MD_OK;
}
