/*
 * md_internal.h -- helpers shared by the kernel sources; not part of the public API.
 */
#ifndef MD_INTERNAL_H
#define MD_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minidl.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenMP house style: parallel loops carry a plain `#pragma omp ...` line. A serial build
 * (no -fopenmp) ignores those pragmas; setup.py passes -Wno-unknown-pragmas there, so no
 * per-file guard or diagnostic pragma is needed. Only calls of omp_* functions sit under
 * #ifdef _OPENMP (see md_thread_id). */

/* Parallel loops use schedule(static): each thread takes one contiguous range of the
 * items, and as the items of every kernel run image by image, a thread works on the same
 * images in each kernel of a step, whose data then stays in its own caches. Dynamic
 * scheduling handed items out in turn, so about half of every activation a kernel read
 * had been written by the other core: free when the two cores share a last-level cache,
 * but this VM's two vCPUs are at times placed on different core complexes (a round trip
 * between them takes ~400 ns instead of ~110), and then a LeNet-5 step took 1210 us
 * with dynamic scheduling against 990 us with static (equal, ~775 us, otherwise). */

/* Below this many elements (or multiply-adds) a kernel stays on one thread:
 * an OpenMP fork/join costs more than the work. */
#define MD_PARALLEL_MIN_WORK 32768

/* Rows per chunk in chunked reductions. The chunking depends only on the problem
 * size, never on the thread count, and chunk partials are added in chunk order:
 * results are bit-identical for every thread count. */
#define MD_REDUCE_CHUNK_ROWS 256

/* Threads to use for a loop of `work` elementary operations. */
static inline int md_threads_for(int64_t work) {
    int nt = md_get_num_threads();
    return (work < MD_PARALLEL_MIN_WORK || nt < 1) ? 1 : nt;
}

static inline int md_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline int64_t md_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t md_round_up(int64_t a, int64_t b) { return md_ceil_div(a, b) * b; }
/* Whether an activation code is one the kernels fuse into their output or gradient pass:
 * linear, relu, sigmoid or tanh. */
static inline int md_act_fusable(int activation) {
    return activation >= MD_ACT_LINEAR && activation <= MD_ACT_TANH;
}
static inline int64_t md_gcd64(int64_t a, int64_t b) {
    while (b != 0) {
        const int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}
static inline int64_t md_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t md_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* *out = a * b; returns 0 on int64 overflow (operands must be >= 0). */
static inline int md_mul_ok(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* a * b * c for work estimates, saturating at INT64_MAX (operands >= 0). */
static inline int64_t md_work3(int64_t a, int64_t b, int64_t c) {
    int64_t ab, abc;
    if (!md_mul_ok(a, b, &ab) || !md_mul_ok(ab, c, &abc)) return INT64_MAX;
    return abc;
}

/* 64-byte aligned allocation; NULL on failure or zero size. */
static inline void *md_aligned_alloc(size_t bytes) {
    if (bytes == 0) return NULL;
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

/* The workspace a kernel should use (arena.c): this thread's reusable scratch buffer
 * (grown on demand, never shrunk), or -- when that buffer is already in use further up
 * the call stack -- a fresh allocation. Release it with md_workspace_release on every
 * path. Reusing the scratch buffer avoids an mmap/munmap and the page faults of a large
 * malloc per call. */
typedef struct {
    void *ptr;
    int source; /* 0: none, 1: malloc'd, 2: the thread's scratch buffer */
} md_workspace;

md_status md_workspace_acquire(md_workspace *ws, size_t needed);
void md_workspace_release(md_workspace *ws);

/* Instruction-set levels of the SIMD code paths. Every level's kernels are compiled into
 * every build (with __attribute__((target(...)))) and chosen at run time. */
#define MD_ISA_PORTABLE 0 /* plain C (whatever the compiler's baseline vectorises) */
#define MD_ISA_AVX2 1     /* AVX2 + FMA, 256-bit */
#define MD_ISA_AVX512 2   /* AVX-512F, 512-bit */

/* The highest level this CPU (and OS) supports, detected once. */
int md_cpu_isa(void);
/* The level the kernels use now: md_cpu_isa(), lowered by md_force_isa/md_force_portable. */
int md_isa_level(void);
/* Cap the level (for tests and benchmarks): 0 portable, 1 AVX2, 2 AVX-512; a negative
 * value restores detection. A cap above what the CPU supports has no effect. Not thread
 * safe against kernels running at the same time (set it between calls). */
void md_force_isa(int level);

/* Whether the AVX2/FMA code paths (or better) are active: md_isa_level() >= MD_ISA_AVX2. */
int md_use_avx2(void);

/* y = act(x) over n contiguous values on the calling thread, SIMD where the CPU has it
 * (activations.c): the epilogue of kernels that fuse an activation. y may alias x. */
void md_activate_range_f32(float *y, const float *x, int64_t n, int activation);
void md_activate_range_f64(double *y, const double *x, int64_t n, int activation);
/* dx = dy * act'(.) from the forward output y, one thread, for linear, relu, sigmoid and
 * tanh (activations.c). */
void md_activation_backward_range_f32(float *dx, const float *dy, const float *y, int64_t n,
                                      int activation);
void md_activation_backward_range_f64(double *dx, const double *dy, const double *y,
                                      int64_t n, int activation);

/* Kernel sources are written once as X_impl.h in terms of md_T (the element type) and
 * MD_FN(name) (the name with its _f32/_f64 suffix), then instantiated twice by X.c:
 *     #define MD_TEMPLATE "X_impl.h"
 *     #include "md_instantiate.h"
 * MD_IS_F32 is 1 in the float pass and 0 in the double pass. */
#define MD_CAT_(a, b) a##b
#define MD_CAT(a, b) MD_CAT_(a, b)

#endif /* MD_INTERNAL_H */
