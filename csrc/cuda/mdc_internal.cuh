/* mdc_internal.cuh -- helpers shared by the CUDA sources; not part of the public API.
 *
 * Launch helpers, the checks every entry point starts with, scratch memory from the
 * caching pool, warp reductions and the deterministic column reduction used by batch
 * normalization, reduce_sum and the convolution's bias gradient. */
#ifndef MDC_INTERNAL_CUH
#define MDC_INTERNAL_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "minidl_cuda.h"

namespace mdc {

/* Threads per block of the elementwise kernels. */
constexpr int kThreads = 256;
/* At most this many blocks for a grid-stride loop (each thread then loops). */
constexpr int64_t kMaxBlocks = 1 << 20;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* *out = a * b for non-negative a, b; false on int64 overflow. */
inline bool mul_ok(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* Blocks of kThreads for a grid-stride loop over n items (at least 1). */
inline unsigned blocks_for(int64_t n) {
    const int64_t b = ceil_div(n > 0 ? n : 1, kThreads);
    return (unsigned)(b < kMaxBlocks ? b : kMaxBlocks);
}

/* Record a failed CUDA call (the message is kept per host thread for mdc_last_error)
 * and return MDC_ERR_CUDA. `where` names the entry point or the runtime call. */
int fail(cudaError_t err, const char *where);
/* Record a failure that is not a CUDA error code (e.g. the backend is not initialised). */
int fail_message(const char *message);

/* Every kernel entry point starts here: the backend must be initialised (mdc_init),
 * and the calling host thread is bound to the backend's device. */
int enter(void);

/* The status of the launches just made: MD_OK or MDC_ERR_CUDA (with the reason). */
inline int launched(const char *where) {
    const cudaError_t err = cudaGetLastError();
    return err == cudaSuccess ? MD_OK : fail(err, where);
}

/* The device word of deferred data errors (MDC_DATA_* bits), set by kernels with
 * atomicOr; valid after mdc_init. */
unsigned *data_error_word(void);

/* Whether mdc_init has chosen a device (the pool has nothing to release before). */
bool device_ready(void);

/* Scratch device memory from the caching pool, returned on every path (RAII). */
class Scratch {
  public:
    Scratch() : ptr_(nullptr), bytes_(0) {}
    Scratch(const Scratch &) = delete;
    Scratch &operator=(const Scratch &) = delete;
    ~Scratch() {
        if (ptr_ != nullptr) mdc_free(ptr_, bytes_);
    }
    /* Allocate `bytes` (MD_OK, MD_ERR_ALLOC or MDC_ERR_CUDA). */
    int get(size_t bytes) {
        const int st = mdc_malloc(&ptr_, bytes);
        bytes_ = st == MD_OK ? bytes : 0;
        if (st != MD_OK) ptr_ = nullptr;
        return st;
    }
    template <class T> T *as() const { return static_cast<T *>(ptr_); }

  private:
    void *ptr_;
    size_t bytes_;
};

/* ---------------------------------------------------------------- device helpers */

/* Grid-stride loop over [0, n) with a 64-bit index. */
#define MDC_FOR(i, n)                                                                        \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)blockDim.x * gridDim.x)

/* Sum over the 32 lanes of a warp by a butterfly: every lane receives the same value
 * (additions are commutative), and the order is fixed, so the result is deterministic. */
__device__ inline double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Maximum over the lanes of a warp, ignoring NaN (every lane receives it). */
__device__ inline float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* ---------------------------------------------------------------- column reduction
 *
 * Deterministic sums over the middle axis of an (outer, rows, inner) index space:
 *     total[s][o][j] = sum over r of F's s-th contribution at (o, r, j), s < F::NS,
 * in double. The rows are cut into chunks whose size depends only on `rows`; pass 1
 * sums each (chunk, o, j) in a fixed order (8 row groups of a 32 x 8 block, combined in
 * group order; or, when inner == 1, one block per chunk reduced through warp shuffles),
 * pass 2 adds the chunk partials in chunk order. No atomics: the same problem gives the
 * same bits on every run. F is a functor with
 *     static constexpr int NS;
 *     __device__ void add(double (&acc)[NS], int64_t o, int64_t r, int64_t j) const;  */

constexpr int kRedLanes = 32;  /* columns of a pass-1 block */
constexpr int kRedGroups = 8;  /* row groups of a pass-1 block */
constexpr int kRedChunk = 512; /* rows per chunk (grown when there would be > 65535) */

inline int64_t reduction_chunk(int64_t rows) {
    int64_t chunk = kRedChunk;
    if (ceil_div(rows, chunk) > 65535) chunk = round_up(ceil_div(rows, 65535), kRedGroups);
    return chunk;
}

template <class F>
__global__ void __launch_bounds__(kRedLanes *kRedGroups)
    colsum_partials(const F f, double *part, int64_t outer, int64_t rows, int64_t inner,
                    int64_t chunk, int64_t nchunks) {
    constexpr int NS = F::NS;
    __shared__ double sh[NS][kRedGroups][kRedLanes + 1];
    const int lane = threadIdx.x % kRedLanes, group = threadIdx.x / kRedLanes;
    const int64_t j = (int64_t)blockIdx.x * kRedLanes + lane;
    const int64_t c = blockIdx.y;
    const int64_t r0 = c * chunk;
    const int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
    for (int64_t o = blockIdx.z; o < outer; o += gridDim.z) {
        double acc[NS];
        for (int s = 0; s < NS; ++s) acc[s] = 0.0;
        if (j < inner)
            for (int64_t r = r0 + group; r < r1; r += kRedGroups) f.add(acc, o, r, j);
        for (int s = 0; s < NS; ++s) sh[s][group][lane] = acc[s];
        __syncthreads();
        if (group == 0 && j < inner) {
            for (int s = 0; s < NS; ++s) {
                double t = sh[s][0][lane];
                for (int g = 1; g < kRedGroups; ++g) t += sh[s][g][lane];
                part[((s * outer + o) * nchunks + c) * inner + j] = t;
            }
        }
        __syncthreads();
    }
}

/* inner == 1: a block of 256 threads sums one chunk of one row of the outer axis. */
template <class F>
__global__ void __launch_bounds__(kThreads)
    rowsum_partials(const F f, double *part, int64_t outer, int64_t rows, int64_t chunk,
                    int64_t nchunks) {
    constexpr int NS = F::NS;
    __shared__ double sh[NS][kThreads / 32];
    const int64_t c = blockIdx.x;
    const int64_t r0 = c * chunk;
    const int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
        double acc[NS];
        for (int s = 0; s < NS; ++s) acc[s] = 0.0;
        for (int64_t r = r0 + threadIdx.x; r < r1; r += kThreads) f.add(acc, o, r, 0);
        for (int s = 0; s < NS; ++s) {
            const double w = warp_sum(acc[s]);
            if (lane == 0) sh[s][warp] = w;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int s = 0; s < NS; ++s) {
                double t = sh[s][0];
                for (int g = 1; g < kThreads / 32; ++g) t += sh[s][g];
                part[(s * outer + o) * nchunks + c] = t;
            }
        }
        __syncthreads();
    }
}

/* total[s][o][j] = sum of the chunk partials in chunk order (a template only so that
 * every translation unit gets its own copy). */
template <class T>
__global__ void colsum_combine(T *total, const T *part, int64_t count, int64_t nchunks,
                               int64_t inner) {
    MDC_FOR(e, count) {
        const int64_t j = e % inner, so = e / inner;
        const T *p = part + so * nchunks * inner + j;
        T t = p[0];
        for (int64_t c = 1; c < nchunks; ++c) t += p[c * inner];
        total[e] = t;
    }
}

/* Run both passes; total must hold F::NS * outer * inner doubles (device). */
template <class F>
int column_sums(const F &f, double *total, int64_t outer, int64_t rows, int64_t inner,
                const char *where) {
    constexpr int NS = F::NS;
    const int64_t chunk = reduction_chunk(rows);
    const int64_t nchunks = ceil_div(rows, chunk);
    int64_t count, elems;
    if (!mul_ok(outer, inner, &count) || !mul_ok(count, NS, &count) ||
        !mul_ok(count, nchunks, &elems) || !mul_ok(elems, (int64_t)sizeof(double), &elems))
        return MD_ERR_OVERFLOW;
    Scratch part;
    int st = part.get((size_t)elems);
    if (st != MD_OK) return st;
    const unsigned gz = (unsigned)(outer < 65535 ? outer : 65535);
    if (inner == 1) {
        rowsum_partials<F><<<dim3((unsigned)nchunks, gz), kThreads>>>(f, part.as<double>(),
                                                                      outer, rows, chunk,
                                                                      nchunks);
    } else {
        const int64_t gx = ceil_div(inner, kRedLanes);
        if (gx > 0x7fffffff) return MD_ERR_OVERFLOW;
        colsum_partials<F><<<dim3((unsigned)gx, (unsigned)nchunks, gz), kRedLanes * kRedGroups>>>(
            f, part.as<double>(), outer, rows, inner, chunk, nchunks);
    }
    colsum_combine<double><<<blocks_for(count), kThreads>>>(total, part.as<double>(), count, nchunks,
                                                    inner);
    return launched(where);
}

}  // namespace mdc

#endif /* MDC_INTERNAL_CUH */
