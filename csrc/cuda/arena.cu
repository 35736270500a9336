/* arena.cu -- the device's memory, in one place: the caching pool behind every
 * DeviceArray (the GPU twin of csrc/arena.c).
 *
 * The pool keeps freed blocks in per-size-class free lists and hands them out again, so
 * a training loop that allocates the same shapes every step stops calling cudaMalloc
 * after its first step. All work runs on the legacy default stream, in issue order, so
 * a block freed by the host while kernels that use it are still queued is only reused by
 * work queued after them. */
#include <mutex>
#include <unordered_map>
#include <vector>

#include "mdc_internal.cuh"

namespace {

struct Pool {
    std::mutex mutex;
    std::unordered_map<size_t, std::vector<void *>> free_lists;
    mdc_pool_stats stats{};
};

/* Never destroyed: blocks may be returned by Python finalizers during interpreter exit. */
Pool &pool() {
    static Pool *p = new Pool();
    return *p;
}

/* The size class of a request: multiples of 512 bytes up to 1 MiB, then 8 classes per
 * power of two (at most 12.5% waste). 0 for a request too large to round. */
size_t size_class(size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > ((size_t)1 << 62)) return 0;
    if (bytes <= ((size_t)1 << 20)) return (bytes + 511) & ~(size_t)511;
    size_t p = (size_t)1 << 20;
    while (p * 2 <= bytes) p *= 2;
    const size_t step = p / 8;
    return (bytes + step - 1) / step * step;
}

}  // namespace

extern "C" {

int mdc_malloc(void **ptr, size_t bytes) {
    if (ptr == NULL) return MD_ERR_ARG;
    *ptr = nullptr;
    const size_t cls = size_class(bytes);
    if (cls == 0) return MD_ERR_OVERFLOW;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    Pool &P = pool();
    {
        std::lock_guard<std::mutex> lock(P.mutex);
        auto it = P.free_lists.find(cls);
        if (it != P.free_lists.end() && !it->second.empty()) {
            *ptr = it->second.back();
            it->second.pop_back();
            P.stats.cached -= cls;
            P.stats.in_use += cls;
            if (P.stats.in_use > P.stats.peak_in_use) P.stats.peak_in_use = P.stats.in_use;
            P.stats.reuses++;
            return MD_OK;
        }
    }
    void *p = nullptr;
    cudaError_t err = cudaMalloc(&p, cls);
    if (err == cudaErrorMemoryAllocation) { /* give the cache back, then try once more */
        cudaGetLastError();
        mdc_pool_release();
        err = cudaMalloc(&p, cls);
    }
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        return MD_ERR_ALLOC;
    }
    if (err != cudaSuccess) return mdc::fail(err, "cudaMalloc");
    std::lock_guard<std::mutex> lock(P.mutex);
    P.stats.in_use += cls;
    if (P.stats.in_use > P.stats.peak_in_use) P.stats.peak_in_use = P.stats.in_use;
    P.stats.device_mallocs++;
    *ptr = p;
    return MD_OK;
}

int mdc_free(void *ptr, size_t bytes) {
    if (ptr == NULL) return MD_OK;
    const size_t cls = size_class(bytes);
    if (cls == 0) return MD_ERR_ARG;
    Pool &P = pool();
    std::lock_guard<std::mutex> lock(P.mutex);
    P.free_lists[cls].push_back(ptr);
    P.stats.in_use -= cls;
    P.stats.cached += cls;
    return MD_OK;
}

int mdc_get_pool_stats(mdc_pool_stats *stats) {
    if (stats == NULL) return MD_ERR_ARG;
    Pool &P = pool();
    std::lock_guard<std::mutex> lock(P.mutex);
    *stats = P.stats;
    return MD_OK;
}

int mdc_pool_release(void) {
    if (!mdc::device_ready()) return MD_OK;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    Pool &P = pool();
    std::lock_guard<std::mutex> lock(P.mutex);
    cudaError_t first = cudaSuccess;
    for (auto &entry : P.free_lists) {
        for (void *p : entry.second) {
            const cudaError_t err = cudaFree(p); /* synchronises with the device */
            if (err != cudaSuccess && first == cudaSuccess) first = err;
        }
        P.stats.cached -= entry.first * entry.second.size();
        entry.second.clear();
    }
    return first == cudaSuccess ? MD_OK : mdc::fail(first, "cudaFree");
}

}  /* extern "C" */
