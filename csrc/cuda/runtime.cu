/* runtime.cu -- device selection, error messages, copies and the deferred data-error
 * word. The device's memory is arena.cu's. */
#include <stdio.h>
#include <string.h>

#include <mutex>

#include "mdc_internal.cuh"

namespace {

thread_local char g_last_error[512] = "";

std::mutex g_init_mutex;
int g_device = -1;
unsigned *g_data_errors = nullptr;

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

bool device_ready(void) { return g_device >= 0; }

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
