/*
 * minidl_cuda.h -- the C API of minidl's optional CUDA backend (the .cu files of csrc/cuda).
 *
 * The same kernels as the CPU core (csrc/minidl.h), in float32, on device memory:
 *   - every pointer argument of a kernel is a device pointer (from mdc_malloc), except
 *     the geometry structs, which live on the host;
 *   - layouts, argument order (outputs, saved state, inputs, geometry) and semantics
 *     follow the md_* kernel of the same name; where a result may differ (summation
 *     order of reductions, expf/tanhf of the GPU) it agrees to float32 round-off;
 *   - reductions are deterministic: fixed chunks that depend only on the problem size,
 *     partials added in a fixed order (in double), no atomics; a given GPU gives
 *     bit-identical results run after run;
 *   - every entry point returns MD_OK, an md_status error code (checked before anything
 *     is launched) or MDC_ERR_CUDA when a CUDA runtime call failed (mdc_last_error()
 *     says which and why). Kernels are launched asynchronously on the legacy default
 *     stream, so a fault inside a kernel surfaces at the next synchronising call
 *     (a copy to the host, mdc_synchronize).
 *   - errors that depend on the DATA of device arrays (a label or an argmax out of
 *     range, a negative variance), which the CPU kernels report before computing, cannot
 *     be seen by the host without a synchronisation; the kernels record them in a
 *     device-side word instead (bits MDC_DATA_*) that mdc_take_data_errors reads and
 *     clears. The affected outputs are unspecified (no memory outside the buffers is
 *     ever touched).
 * Scratch memory (split-K partials, reduction partials) comes from the caching pool, so
 * steady-state training performs no cudaMalloc.
 */
#ifndef MINIDL_CUDA_H
#define MINIDL_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "minidl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A CUDA runtime call failed (beyond the md_status codes of minidl.h). */
#define MDC_ERR_CUDA 64

/* Bits of the deferred data-error word. */
#define MDC_DATA_LABEL_RANGE 1u       /* a class label outside [0, cols) */
#define MDC_DATA_ARGMAX_RANGE 2u      /* a max-pooling argmax outside [0, in_h * in_w) */
#define MDC_DATA_NEGATIVE_VARIANCE 4u /* variance + epsilon < 0 in batch normalization */

/* Element types of mdc_convert. */
typedef enum { MDC_F32 = 0, MDC_F64 = 1, MDC_I32 = 2, MDC_I64 = 3, MDC_U8 = 4 } mdc_dtype;

/* Allocation statistics of the caching pool (bytes, and counts of device calls). */
typedef struct {
    size_t in_use;          /* handed out and not yet returned */
    size_t cached;          /* returned, kept for reuse */
    size_t peak_in_use;     /* high-water mark of in_use */
    int64_t device_mallocs; /* cudaMalloc calls made so far */
    int64_t reuses;         /* requests served from the cache */
} mdc_pool_stats;

/* ------------------------------------------------------------------ runtime.cu */
/* The message of the last failure of this thread ("" when none). */
const char *mdc_last_error(void);
/* CUDART_VERSION this backend was compiled with (e.g. 13000). */
int mdc_runtime_version(void);
/* The driver's CUDA version (0 when no driver is installed). */
int mdc_driver_version(int *version);
/* Number of usable devices; MDC_ERR_CUDA (with the reason) when there is no driver or
 * no device. */
int mdc_device_count(int *count);
/* Select `device` for this process and prepare the backend; call once before anything
 * else (later calls with the same device are no-ops; another device is MD_ERR_ARG). */
int mdc_init(int device);
/* Name (NUL-terminated, truncated to name_len), compute capability, SM count and memory
 * of a device. */
int mdc_device_properties(int device, char *name, size_t name_len, int *major, int *minor,
                          int *sm_count, size_t *total_memory);
/* Free and total device memory (cudaMemGetInfo). */
int mdc_mem_get_info(size_t *free_bytes, size_t *total_bytes);

/* Caching pool: blocks are rounded up to a size class and kept for reuse when freed.
 * mdc_free must be given the size passed to mdc_malloc. When cudaMalloc fails, the
 * cache is released and the allocation retried once; then MD_ERR_ALLOC. */
int mdc_malloc(void **ptr, size_t bytes);
int mdc_free(void *ptr, size_t bytes);
int mdc_get_pool_stats(mdc_pool_stats *stats);
/* Return every cached (unused) block to the driver. */
int mdc_pool_release(void);

/* Copies and fills (ordered with every kernel on the default stream; host copies
 * synchronise). */
int mdc_memcpy_h2d(void *dst, const void *src, size_t bytes);
int mdc_memcpy_d2h(void *dst, const void *src, size_t bytes);
int mdc_memcpy_d2d(void *dst, const void *src, size_t bytes);
int mdc_memset(void *dst, int value, size_t bytes);
int mdc_synchronize(void);
/* Wait for the device, then read and clear the deferred data-error word (MDC_DATA_*). */
int mdc_take_data_errors(unsigned *flags);

/* ------------------------------------------------------------------ tensor_ops.cu */
/* y (n values of y_dtype) = x (n values of x_dtype), converted as C casts do. */
int mdc_convert(void *y, int y_dtype, const void *x, int x_dtype, int64_t n);
/* y = x transposed: x is C-contiguous of `shape` (ndim <= 8), y[i_0..] = x[i_axes[0]..],
 * i.e. numpy.transpose(x, axes); elem_size 1, 2, 4 or 8 bytes. */
int mdc_permute(void *y, const void *x, int elem_size, int ndim, const int64_t *shape,
                const int64_t *axes);
/* y (n) = value. */
int mdc_fill(float *y, double value, int64_t n);
/* y (n) = min(max(x, lo), hi) (NaN stays NaN); y may alias x. */
int mdc_clip(float *y, const float *x, double lo, double hi, int64_t n);
/* As md_bias_add, md_reduce_sum, md_add, md_mul, md_scale, md_axpy (float). */
int mdc_bias_add(float *y, const float *x, const float *bias, int64_t rows, int64_t cols);
int mdc_reduce_sum(float *out, const float *x, int64_t outer, int64_t reduce, int64_t inner);
int mdc_add(float *y, const float *a, const float *b, int64_t n);
int mdc_mul(float *y, const float *a, const float *b, int64_t n);
int mdc_scale(float *y, const float *x, double alpha, int64_t n);
int mdc_axpy(float *y, double alpha, const float *x, int64_t n);
/* Training helpers: *acc (one double on the device) += sum of x (n values), in a fixed
 * order; *acc += the number of rows (rows, cols) whose first maximum of pred is at the
 * first maximum of target (target != NULL) or at labels[r] (labels != NULL). */
int mdc_accumulate_sum(double *acc, const float *x, int64_t n);
int mdc_accumulate_matches(double *acc, const float *pred, const float *target,
                           const int64_t *labels, int64_t rows, int64_t cols);

/* ------------------------------------------------------------------ gemm.cu */
/* As md_gemm_f32: row-major C = alpha * op(A) op(B) + beta * C; beta == 0 never reads C. */
int mdc_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc);

/* ------------------------------------------------------------------ conv2d.cu */
/* As md_conv2d_forward_f32 / _backward_input / _backward_weight (implicit GEMMs). */
int mdc_conv2d_forward(float *y, const float *x, const float *w, const float *bias,
                       int activation, const md_conv2d_geom *g);
int mdc_conv2d_backward_input(float *dx, const float *dy, const float *w,
                              const md_conv2d_geom *g);
int mdc_conv2d_backward_weight(float *dw, float *dbias, const float *dy, const float *x,
                               const md_conv2d_geom *g);

/* ------------------------------------------------------------------ pool2d.cu */
/* As md_maxpool2d_* / md_avgpool2d_* (float). The backward passes gather instead of
 * scattering: each input cell adds the gradients of the windows that picked it (max) or
 * contain it (average) in the CPU's window order, so no atomics are needed. */
int mdc_maxpool2d_forward(float *y, int64_t *argmax, const float *x, const md_pool2d_geom *g);
int mdc_maxpool2d_backward(float *dx, const float *dy, const int64_t *argmax,
                           const md_pool2d_geom *g);
int mdc_avgpool2d_forward(float *y, const float *x, const md_pool2d_geom *g);
int mdc_avgpool2d_backward(float *dx, const float *dy, const md_pool2d_geom *g);

/* ------------------------------------------------------------------ batchnorm.cu */
/* As md_batchnorm_* / md_moments (float): per-channel statistics by a deterministic
 * two-pass reduction in double, moving statistics with Keras 3 momentum. */
int mdc_batchnorm_forward_train(float *y, float *batch_mean, float *batch_var,
                                float *moving_mean, float *moving_var, const float *x,
                                const float *gamma, const float *beta,
                                const md_batchnorm_geom *g);
int mdc_batchnorm_forward_infer(float *y, const float *x, const float *mean, const float *var,
                                const float *gamma, const float *beta,
                                const md_batchnorm_geom *g);
int mdc_batchnorm_backward_train(float *dx, float *dgamma, float *dbeta, const float *dy,
                                 const float *x, const float *batch_mean,
                                 const float *batch_var, const float *gamma,
                                 const md_batchnorm_geom *g);
int mdc_batchnorm_backward_infer(float *dx, float *dgamma, float *dbeta, const float *dy,
                                 const float *x, const float *mean, const float *var,
                                 const float *gamma, const md_batchnorm_geom *g);
int mdc_moments(float *mean, float *var, const float *x, int64_t rows, int64_t channels);

/* ------------------------------------------------------------------ activations.cu */
int mdc_activation_forward(float *y, const float *x, int64_t n, int activation);
int mdc_activation_backward(float *dx, const float *dy, const float *y, int64_t n,
                            int activation);
int mdc_softmax_forward(float *y, const float *x, int64_t rows, int64_t cols);
int mdc_softmax_backward(float *dx, const float *dy, const float *y, int64_t rows,
                         int64_t cols);

/* ------------------------------------------------------------------ loss.cu */
int mdc_softmax_xent_forward(float *loss, float *probs, const float *logits,
                             const float *targets, int64_t rows, int64_t cols);
int mdc_softmax_xent_backward(float *dlogits, const float *dloss, const float *probs,
                              const float *targets, int64_t rows, int64_t cols);
/* Labels outside [0, cols) set MDC_DATA_LABEL_RANGE; their rows get a NaN loss. */
int mdc_sparse_softmax_xent_forward(float *loss, float *probs, const float *logits,
                                    const int64_t *labels, int64_t rows, int64_t cols);
int mdc_sparse_softmax_xent_backward(float *dlogits, const float *dloss, const float *probs,
                                     const int64_t *labels, int64_t rows, int64_t cols);
int mdc_categorical_xent_forward(float *loss, const float *probs, const float *targets,
                                 int64_t rows, int64_t cols, double eps);
int mdc_categorical_xent_backward(float *dprobs, const float *dloss, const float *probs,
                                  const float *targets, int64_t rows, int64_t cols,
                                  double eps);

/* ------------------------------------------------------------------ optim.cu */
int mdc_sgd_update(float *var, float *velocity, const float *grad, int64_t n, double lr,
                   double momentum, int nesterov);
int mdc_rmsprop_update(float *var, float *velocity, float *average_grad, float *momentum_buf,
                       const float *grad, int64_t n, double lr, double rho, double momentum,
                       double epsilon, int centered);
int mdc_adam_update(float *var, float *m, float *v, float *vhat, const float *grad, int64_t n,
                    double lr, double beta_1, double beta_2, double epsilon, int64_t step,
                    double weight_decay);

/* ------------------------------------------------------------------ image.cu */
/* As md_affine_warp_f32 (transforms: n * 6 doubles on the device), md_flip_horizontal_f32
 * (flags: n bytes on the device or NULL) and md_resize_bilinear_f32. */
int mdc_affine_warp(float *y, const float *x, const double *transforms, int64_t n, int64_t h,
                    int64_t w, int64_t c, int64_t out_h, int64_t out_w, int fill_mode,
                    double cval);
int mdc_flip_horizontal(float *y, const float *x, const uint8_t *flags, int64_t n, int64_t h,
                        int64_t w, int64_t c);
int mdc_resize_bilinear(float *y, const float *x, int64_t n, int64_t h, int64_t w, int64_t c,
                        int64_t out_h, int64_t out_w);

#ifdef __cplusplus
}
#endif
#endif /* MINIDL_CUDA_H */
