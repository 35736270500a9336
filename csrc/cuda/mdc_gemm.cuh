/* mdc_gemm.cuh -- the tiled SGEMM kernel shared by gemm.cu and conv2d.cu.
 *
 * C (m, n) = sum over p of A(i, p) * B(p, j), with A, B and the store given as functors,
 * so that the same kernel runs plain strided matrices (gemm.cu) and the implicit GEMMs
 * of the convolution (conv2d.cu), whose operands gather im2col elements on the fly.
 *
 * Tiling: a block of T::THREADS = (BM/TM) * (BN/TN) threads computes a BM x BN tile of
 * C. Each step stages a BM x BK slice of A and a BK x BN slice of B in shared memory
 * (zero-filled outside the matrices), then every thread accumulates a TM x TN register
 * tile whose rows are ty, ty + BM/TM, ... and columns tx, tx + BN/TN, ...: a warp reads
 * two A values (broadcast) and 16 consecutive B values per step, free of bank
 * conflicts. Loads are coalesced along whichever index is contiguous in memory (the
 * operand's `along_k`). Split-K: blockIdx.z selects the depth range
 * [z * kchunk, (z + 1) * kchunk); its partial tile goes to the store with z, and the
 * caller adds the partials in z order (deterministic, no atomics). */
#ifndef MDC_GEMM_CUH
#define MDC_GEMM_CUH

#include "mdc_internal.cuh"

namespace mdc {

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct Tile {
    static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
    static constexpr int TY = BM / TM, TX = BN / TN, THREADS = TY * TX;
    static_assert(THREADS == 256, "the kernels are tuned for 256 threads");
    static_assert((BM * BK) % THREADS == 0 && (BK * BN) % THREADS == 0, "whole loads");
};

/* 64 x 64 tiles for small problems (more blocks), 128 x 128 for large ones. */
using TileSmall = Tile<64, 64, 16, 4, 4>;
using TileLarge = Tile<128, 128, 8, 8, 8>;

template <class T, class A, class B, class S>
__global__ void __launch_bounds__(T::THREADS)
    gemm_tiles(const A a, const B b, const S s, int m, int n, int k, int kchunk) {
    __shared__ float As[T::BK][T::BM + 1];
    __shared__ float Bs[T::BK][T::BN + 1];
    const int tid = threadIdx.x;
    const int tx = tid % T::TX, ty = tid / T::TX;
    const int row0 = blockIdx.x * T::BM, col0 = blockIdx.y * T::BN;
    const int kb = blockIdx.z * kchunk;
    const int ke = k - kb < kchunk ? k : kb + kchunk;
    float acc[T::TM][T::TN];
#pragma unroll
    for (int i = 0; i < T::TM; ++i)
#pragma unroll
        for (int j = 0; j < T::TN; ++j) acc[i][j] = 0.0f;

    for (int p0 = kb; p0 < ke; p0 += T::BK) {
#pragma unroll
        for (int e = tid; e < T::BM * T::BK; e += T::THREADS) {
            int i, p;
            if (A::along_k) {
                i = e / T::BK;
                p = e % T::BK;
            } else {
                p = e / T::BM;
                i = e % T::BM;
            }
            const int gi = row0 + i, gp = p0 + p;
            As[p][i] = (gi < m && gp < ke) ? a(gi, gp) : 0.0f;
        }
#pragma unroll
        for (int e = tid; e < T::BK * T::BN; e += T::THREADS) {
            int p, j;
            if (B::along_k) {
                j = e / T::BK;
                p = e % T::BK;
            } else {
                p = e / T::BN;
                j = e % T::BN;
            }
            const int gp = p0 + p, gj = col0 + j;
            Bs[p][j] = (gp < ke && gj < n) ? b(gp, gj) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int p = 0; p < T::BK; ++p) {
            float ra[T::TM], rb[T::TN];
#pragma unroll
            for (int i = 0; i < T::TM; ++i) ra[i] = As[p][ty + i * T::TY];
#pragma unroll
            for (int j = 0; j < T::TN; ++j) rb[j] = Bs[p][tx + j * T::TX];
#pragma unroll
            for (int i = 0; i < T::TM; ++i)
#pragma unroll
                for (int j = 0; j < T::TN; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < T::TM; ++i) {
        const int gi = row0 + ty + i * T::TY;
#pragma unroll
        for (int j = 0; j < T::TN; ++j) {
            const int gj = col0 + tx + j * T::TX;
            if (gi < m && gj < n) s(gi, gj, (int)blockIdx.z, acc[i][j]);
        }
    }
}

/* How a GEMM is cut into blocks: the tile shape and the split of the depth. Depends only
 * on (m, n, k), so results do not depend on the GPU model's SM count. */
struct GemmPlan {
    bool large;
    int splits;
    int kchunk;
    dim3 grid;
};

/* The largest m, n or k the kernels index: row0 + i, col0 + j and p0 + p are int and run
 * up to a tile (at most 128 rows or columns, 16 deep) past the extent. */
constexpr int64_t kMaxGemmExtent = 0x7fffffff - 256;

/* Blocks wanted before the depth is split (enough to fill a large GPU). */
constexpr int64_t kTargetBlocks = 256;

/* Plan (m, n, k); `allow_split` when the caller can combine split-K partials. Returns
 * MD_ERR_OVERFLOW when a size exceeds what the kernels index (int, grid limits). */
inline int plan_gemm(int64_t m, int64_t n, int64_t k, bool allow_split, GemmPlan *plan) {
    if (m > kMaxGemmExtent || n > kMaxGemmExtent || k > kMaxGemmExtent) return MD_ERR_OVERFLOW;
    /* 128 x 128 tiles only when both sides fill them and there are enough of them */
    const int64_t large_tiles = ceil_div(m, TileLarge::BM) * ceil_div(n, TileLarge::BN);
    plan->large = m >= TileLarge::BM && n >= TileLarge::BN && large_tiles >= kTargetBlocks / 2;
    const int64_t bm = plan->large ? TileLarge::BM : TileSmall::BM;
    const int64_t bn = plan->large ? TileLarge::BN : TileSmall::BN;
    const int64_t bk = plan->large ? TileLarge::BK : TileSmall::BK;
    const int64_t tiles_m = ceil_div(m, bm), tiles_n = ceil_div(n, bn);
    if (tiles_n > 65535 || tiles_m > 0x7fffffff) return MD_ERR_OVERFLOW;
    int64_t splits = 1;
    const int64_t tiles = tiles_m * tiles_n;
    if (allow_split && tiles < kTargetBlocks && k >= 1024) {
        splits = ceil_div(kTargetBlocks, tiles);
        const int64_t by_depth = ceil_div(k, 256); /* at least 256 deep per split */
        if (splits > by_depth) splits = by_depth;
        if (splits > 1024) splits = 1024;
    }
    int64_t kchunk = round_up(ceil_div(k > 0 ? k : 1, splits), bk);
    splits = ceil_div(k > 0 ? k : 1, kchunk);
    plan->splits = (int)splits;
    plan->kchunk = (int)kchunk;
    plan->grid = dim3((unsigned)tiles_m, (unsigned)tiles_n, (unsigned)splits);
    return MD_OK;
}

template <class A, class B, class S>
void launch_gemm(const GemmPlan &plan, const A &a, const B &b, const S &s, int64_t m,
                 int64_t n, int64_t k) {
    if (plan.large)
        gemm_tiles<TileLarge, A, B, S><<<plan.grid, TileLarge::THREADS>>>(
            a, b, s, (int)m, (int)n, (int)k, plan.kchunk);
    else
        gemm_tiles<TileSmall, A, B, S><<<plan.grid, TileSmall::THREADS>>>(
            a, b, s, (int)m, (int)n, (int)k, plan.kchunk);
}

/* ---------------------------------------------------------------- common operands */

/* A row-major matrix with leading dimension ld, read as op(M)(r, c). */
template <bool TRANS, bool IS_A>
struct Strided {
    /* contiguous along the depth: A not transposed (a[i*ld + p]), B transposed */
    static constexpr bool along_k = IS_A ? !TRANS : TRANS;
    const float *ptr;
    int64_t ld;
    __device__ float operator()(int r, int c) const {
        return TRANS ? ptr[(int64_t)c * ld + r] : ptr[(int64_t)r * ld + c];
    }
};

/* Store of split-K partials: part[z][i][j] (m x n each). */
struct StorePartial {
    float *part;
    int64_t mn;
    int n;
    __device__ void operator()(int i, int j, int z, float v) const {
        part[(int64_t)z * mn + (int64_t)i * n + j] = v;
    }
};

}  // namespace mdc

#endif /* MDC_GEMM_CUH */
