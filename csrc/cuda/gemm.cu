/* gemm.cu -- mdc_gemm: row-major SGEMM on the shared tiled kernel (mdc_gemm.cuh).
 *
 * C = alpha * op(A) op(B) + beta * C; beta == 0 never reads C, as md_gemm. Small outputs
 * with a deep product are split along the depth; the partial products are then added in
 * split order in double (deterministic). */
#include "mdc_gemm.cuh"

namespace {

using mdc::kThreads;

/* C[i, j] = alpha * v (+ beta * C[i, j]), rounded as the CPU's beta * c + product. */
struct StoreAlphaBeta {
    float *c;
    int64_t ldc;
    float alpha, beta;
    __device__ void operator()(int i, int j, int, float v) const {
        float *p = c + (int64_t)i * ldc + j;
        const float prod = __fmul_rn(alpha, v);
        if (beta == 0.0f)
            *p = prod;
        else
            *p = __fadd_rn(beta == 1.0f ? *p : __fmul_rn(beta, *p), prod);
    }
};

/* The split-K partials added in split order, then stored. */
__global__ void combine_splits(const float *part, int splits, int64_t m, int64_t n,
                               StoreAlphaBeta store) {
    const int64_t mn = m * n;
    MDC_FOR(e, mn) {
        double t = 0.0;
        for (int z = 0; z < splits; ++z) t += (double)part[(int64_t)z * mn + e];
        store((int)(e / n), (int)(e % n), 0, (float)t);
    }
}

/* C = beta * C (or 0 when beta == 0): the result when the product is empty. */
__global__ void scale_c(float *c, int64_t ldc, int64_t m, int64_t n, float beta) {
    MDC_FOR(e, m * n) {
        float *p = c + (e / n) * ldc + e % n;
        *p = beta == 0.0f ? 0.0f : __fmul_rn(beta, *p);
    }
}

template <bool TA, bool TB>
int run(const mdc::GemmPlan &plan, int64_t m, int64_t n, int64_t k, const float *a,
        int64_t lda, const float *b, int64_t ldb, const StoreAlphaBeta &store) {
    const mdc::Strided<TA, true> A{a, lda};
    const mdc::Strided<TB, false> B{b, ldb};
    if (plan.splits == 1) {
        mdc::launch_gemm(plan, A, B, store, m, n, k);
        return mdc::launched("mdc_gemm");
    }
    int64_t bytes;
    if (!mdc::mul_ok(m * n, (int64_t)plan.splits * (int64_t)sizeof(float), &bytes))
        return MD_ERR_OVERFLOW;
    mdc::Scratch part;
    int st = part.get((size_t)bytes);
    if (st != MD_OK) return st;
    const mdc::StorePartial partial{part.as<float>(), m * n, (int)n};
    mdc::launch_gemm(plan, A, B, partial, m, n, k);
    combine_splits<<<mdc::blocks_for(m * n), kThreads>>>(part.as<float>(), plan.splits, m, n,
                                                         store);
    return mdc::launched("mdc_gemm");
}

}  // namespace

extern "C" int mdc_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc) {
    if (m < 0 || n < 0 || k < 0) return MD_ERR_SHAPE;
    if (m == 0 || n == 0) return MD_OK;
    if (c == NULL) return MD_ERR_ARG;
    if (ldc < n) return MD_ERR_SHAPE;
    int64_t scratch;
    if (!mdc::mul_ok(m, ldc, &scratch) || !mdc::mul_ok(m, n, &scratch) ||
        !mdc::mul_ok(scratch, k > 0 ? k : 1, &scratch))
        return MD_ERR_OVERFLOW;
    const bool skip_product = k == 0 || alpha == 0.0f;
    if (!skip_product) {
        if (a == NULL || b == NULL) return MD_ERR_ARG;
        if (lda < (trans_a ? m : k) || ldb < (trans_b ? k : n)) return MD_ERR_SHAPE;
    }
    int st = mdc::enter();
    if (st != MD_OK) return st;
    if (skip_product) {
        if (beta != 1.0f) scale_c<<<mdc::blocks_for(m * n), kThreads>>>(c, ldc, m, n, beta);
        return mdc::launched("mdc_gemm");
    }
    mdc::GemmPlan plan;
    if ((st = mdc::plan_gemm(m, n, k, true, &plan)) != MD_OK) return st;
    const StoreAlphaBeta store{c, ldc, alpha, beta};
    if (!trans_a && !trans_b) return run<false, false>(plan, m, n, k, a, lda, b, ldb, store);
    if (!trans_a && trans_b) return run<false, true>(plan, m, n, k, a, lda, b, ldb, store);
    if (trans_a && !trans_b) return run<true, false>(plan, m, n, k, a, lda, b, ldb, store);
    return run<true, true>(plan, m, n, k, a, lda, b, ldb, store);
}
