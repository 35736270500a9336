/* runtime.cu -- device selection, error messages, the caching memory pool, copies and
 * the deferred data-error word.
 *
 * The pool keeps freed blocks in per-size-class free lists and hands them out again, so
 * a training loop that allocates the same shapes every step stops calling cudaMalloc
 * after its first step. All work runs on the legacy default stream, in issue order, so
 * a block freed by the host while kernels that use it are still queued is only reused by
 * work queued after them. */
#include <stdio.h>
#include <string.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "mdc_internal.cuh"

namespace {

thread_local char g_last_error[512] = "";

std::mutex g_init_mutex;
int g_device = -1;
unsigned *g_data_errors = nullptr;

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

namespace mdc {

int fail(cudaError_t err, const char *where) {
    /* Clear the runtime's (non-sticky) last error, so that the next, unrelated op's launch
     * check does not report this failure a second time under its own name. */
    (void)cudaGetLastError();
    snprintf(g_last_error, sizeof(g_last_error), "%s: %s (%s)", where, cudaGetErrorString(err),
             cudaGetErrorName(err));
    return MDC_ERR_CUDA;
}

int fail_message(const char *message) {
    snprintf(g_last_error, sizeof(g_last_error), "%s", message);
    return MDC_ERR_CUDA;
}

int enter(void) {
    const int device = g_device;
    if (device < 0) return fail_message("the CUDA backend is not initialised (mdc_init)");
    int current = -1;
    cudaError_t err = cudaGetDevice(&current);
    if (err == cudaSuccess && current != device) err = cudaSetDevice(device);
    return err == cudaSuccess ? MD_OK : fail(err, "cudaSetDevice");
}

unsigned *data_error_word(void) { return g_data_errors; }

}  // namespace mdc

extern "C" {

const char *mdc_last_error(void) { return g_last_error; }

int mdc_runtime_version(void) { return CUDART_VERSION; }

int mdc_driver_version(int *version) {
    if (version == NULL) return MD_ERR_ARG;
    *version = 0;
    const cudaError_t err = cudaDriverGetVersion(version);
    return err == cudaSuccess ? MD_OK : mdc::fail(err, "cudaDriverGetVersion");
}

int mdc_device_count(int *count) {
    if (count == NULL) return MD_ERR_ARG;
    *count = 0;
    const cudaError_t err = cudaGetDeviceCount(count);
    if (err != cudaSuccess) {
        cudaGetLastError();
        *count = 0;
        return mdc::fail(err, "cudaGetDeviceCount");
    }
    return MD_OK;
}

int mdc_init(int device) {
    std::lock_guard<std::mutex> lock(g_init_mutex);
    if (g_device >= 0) return device == g_device ? MD_OK : MD_ERR_ARG;
    if (device < 0) return MD_ERR_ARG;
    cudaError_t err = cudaSetDevice(device);
    if (err != cudaSuccess) return mdc::fail(err, "cudaSetDevice");
    unsigned *word = nullptr;
    err = cudaMalloc(reinterpret_cast<void **>(&word), sizeof(unsigned));
    if (err != cudaSuccess) return mdc::fail(err, "cudaMalloc");
    err = cudaMemset(word, 0, sizeof(unsigned));
    if (err != cudaSuccess) {
        cudaFree(word);
        return mdc::fail(err, "cudaMemset");
    }
    g_data_errors = word;
    g_device = device;
    return MD_OK;
}

int mdc_device_properties(int device, char *name, size_t name_len, int *major, int *minor,
                          int *sm_count, size_t *total_memory) {
    cudaDeviceProp prop;
    const cudaError_t err = cudaGetDeviceProperties(&prop, device);
    if (err != cudaSuccess) return mdc::fail(err, "cudaGetDeviceProperties");
    if (name != NULL && name_len > 0) {
        strncpy(name, prop.name, name_len - 1);
        name[name_len - 1] = '\0';
    }
    if (major != NULL) *major = prop.major;
    if (minor != NULL) *minor = prop.minor;
    if (sm_count != NULL) *sm_count = prop.multiProcessorCount;
    if (total_memory != NULL) *total_memory = prop.totalGlobalMem;
    return MD_OK;
}

int mdc_mem_get_info(size_t *free_bytes, size_t *total_bytes) {
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const cudaError_t err = cudaMemGetInfo(free_bytes, total_bytes);
    return err == cudaSuccess ? MD_OK : mdc::fail(err, "cudaMemGetInfo");
}

/* ---------------------------------------------------------------- pool */

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
    if (g_device < 0) return MD_OK;
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

/* ---------------------------------------------------------------- copies */

static int mdc_copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                    const char *where) {
    if (bytes == 0) return MD_OK;
    if (dst == NULL || src == NULL) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const cudaError_t err = cudaMemcpy(dst, src, bytes, kind);
    return err == cudaSuccess ? MD_OK : mdc::fail(err, where);
}

int mdc_memcpy_h2d(void *dst, const void *src, size_t bytes) {
    return mdc_copy(dst, src, bytes, cudaMemcpyHostToDevice, "mdc_memcpy_h2d");
}

int mdc_memcpy_d2h(void *dst, const void *src, size_t bytes) {
    return mdc_copy(dst, src, bytes, cudaMemcpyDeviceToHost, "mdc_memcpy_d2h");
}

int mdc_memcpy_d2d(void *dst, const void *src, size_t bytes) {
    return mdc_copy(dst, src, bytes, cudaMemcpyDeviceToDevice, "mdc_memcpy_d2d");
}

int mdc_memset(void *dst, int value, size_t bytes) {
    if (bytes == 0) return MD_OK;
    if (dst == NULL) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const cudaError_t err = cudaMemset(dst, value, bytes);
    return err == cudaSuccess ? MD_OK : mdc::fail(err, "mdc_memset");
}

int mdc_synchronize(void) {
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const cudaError_t err = cudaDeviceSynchronize();
    return err == cudaSuccess ? MD_OK : mdc::fail(err, "cudaDeviceSynchronize");
}

int mdc_take_data_errors(unsigned *flags) {
    if (flags == NULL) return MD_ERR_ARG;
    *flags = 0;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    cudaError_t err = cudaMemcpy(flags, g_data_errors, sizeof(unsigned), cudaMemcpyDeviceToHost);
    if (err != cudaSuccess) return mdc::fail(err, "mdc_take_data_errors");
    if (*flags != 0) {
        err = cudaMemset(g_data_errors, 0, sizeof(unsigned));
        if (err != cudaSuccess) return mdc::fail(err, "mdc_take_data_errors");
    }
    return MD_OK;
}

}  // extern "C"
