# cython: language_level=3
"""minidl._cuda -- thin Cython bindings to minidl's CUDA backend (``csrc/cuda``).

Built only where the CUDA toolkit was found at build time (see ``setup.py``); import it
through ``minidl.cuda``, which reports why when it is missing. The runtime functions
manage the device, the caching memory pool and copies; the kernel wrappers mirror
``minidl._C``'s (same names, same argument order) but take ``minidl.cuda.DeviceArray``
objects: each wrapper checks dtypes and shapes (float32 arrays; int64 argmax and
labels; uint8 flags; float64 affine transforms), releases the GIL, calls the C entry
point and turns its status into an exception (``ValueError`` for shapes and arguments,
``MemoryError`` when the pool cannot allocate, ``RuntimeError`` for CUDA errors).
Outputs are allocated by the caller (``minidl.cuda.ops``) and passed in. Kernels run
asynchronously; errors inside a kernel surface at the next synchronising call.
"""
from libc.stdint cimport int64_t, uint8_t, uintptr_t

from minidl._cminidl cimport *

cdef extern from "minidl_cuda.h" nogil:
    int MDC_ERR_CUDA
    unsigned MDC_DATA_LABEL_RANGE
    unsigned MDC_DATA_ARGMAX_RANGE
    unsigned MDC_DATA_NEGATIVE_VARIANCE
    int MDC_F32, MDC_F64, MDC_I32, MDC_I64, MDC_U8

    ctypedef struct mdc_pool_stats:
        size_t in_use
        size_t cached
        size_t peak_in_use
        int64_t device_mallocs
        int64_t reuses

    const char *mdc_last_error()
    int mdc_runtime_version()
    int mdc_driver_version(int *version)
    int mdc_device_count(int *count)
    int mdc_init(int device)
    int mdc_device_properties(int device, char *name, size_t name_len, int *major, int *minor,
                              int *sm_count, size_t *total_memory)
    int mdc_mem_get_info(size_t *free_bytes, size_t *total_bytes)
    int mdc_malloc(void **ptr, size_t nbytes)
    int mdc_free(void *ptr, size_t nbytes)
    int mdc_get_pool_stats(mdc_pool_stats *stats)
    int mdc_pool_release()
    int mdc_memcpy_h2d(void *dst, const void *src, size_t nbytes)
    int mdc_memcpy_d2h(void *dst, const void *src, size_t nbytes)
    int mdc_memcpy_d2d(void *dst, const void *src, size_t nbytes)
    int mdc_memset(void *dst, int value, size_t nbytes)
    int mdc_synchronize()
    int mdc_take_data_errors(unsigned *flags)

    int mdc_convert(void *y, int y_dtype, const void *x, int x_dtype, int64_t n)
    int mdc_permute(void *y, const void *x, int elem_size, int ndim, const int64_t *shape,
                    const int64_t *axes)
    int mdc_fill(float *y, double value, int64_t n)
    int mdc_clip(float *y, const float *x, double lo, double hi, int64_t n)
    int mdc_bias_add(float *y, const float *x, const float *bias, int64_t rows, int64_t cols)
    int mdc_reduce_sum(float *out, const float *x, int64_t outer, int64_t reduce, int64_t inner)
    int mdc_add(float *y, const float *a, const float *b, int64_t n)
    int mdc_mul(float *y, const float *a, const float *b, int64_t n)
    int mdc_scale(float *y, const float *x, double alpha, int64_t n)
    int mdc_axpy(float *y, double alpha, const float *x, int64_t n)
    int mdc_accumulate_sum(double *acc, const float *x, int64_t n)
    int mdc_accumulate_matches(double *acc, const float *pred, const float *target,
                               const int64_t *labels, int64_t rows, int64_t cols)

    int mdc_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                 float *c, int64_t ldc)
    int mdc_conv2d_forward(float *y, const float *x, const float *w, const float *bias,
                           int activation, const md_conv2d_geom *g)
    int mdc_conv2d_backward_input(float *dx, const float *dy, const float *w,
                                  const md_conv2d_geom *g)
    int mdc_conv2d_backward_weight(float *dw, float *dbias, const float *dy, const float *x,
                                   const md_conv2d_geom *g)
    int mdc_maxpool2d_forward(float *y, int64_t *argmax, const float *x,
                              const md_pool2d_geom *g)
    int mdc_maxpool2d_backward(float *dx, const float *dy, const int64_t *argmax,
                               const md_pool2d_geom *g)
    int mdc_avgpool2d_forward(float *y, const float *x, const md_pool2d_geom *g)
    int mdc_avgpool2d_backward(float *dx, const float *dy, const md_pool2d_geom *g)
    int mdc_batchnorm_forward_train(float *y, float *batch_mean, float *batch_var,
                                    float *moving_mean, float *moving_var, const float *x,
                                    const float *gamma, const float *beta,
                                    const md_batchnorm_geom *g)
    int mdc_batchnorm_forward_infer(float *y, const float *x, const float *mean,
                                    const float *var, const float *gamma, const float *beta,
                                    const md_batchnorm_geom *g)
    int mdc_batchnorm_backward_train(float *dx, float *dgamma, float *dbeta, const float *dy,
                                     const float *x, const float *batch_mean,
                                     const float *batch_var, const float *gamma,
                                     const md_batchnorm_geom *g)
    int mdc_batchnorm_backward_infer(float *dx, float *dgamma, float *dbeta, const float *dy,
                                     const float *x, const float *mean, const float *var,
                                     const float *gamma, const md_batchnorm_geom *g)
    int mdc_moments(float *mean, float *var, const float *x, int64_t rows, int64_t channels)
    int mdc_activation_forward(float *y, const float *x, int64_t n, int activation)
    int mdc_activation_backward(float *dx, const float *dy, const float *y, int64_t n,
                                int activation)
    int mdc_softmax_forward(float *y, const float *x, int64_t rows, int64_t cols)
    int mdc_softmax_backward(float *dx, const float *dy, const float *y, int64_t rows,
                             int64_t cols)
    int mdc_softmax_xent_forward(float *loss, float *probs, const float *logits,
                                 const float *targets, int64_t rows, int64_t cols)
    int mdc_softmax_xent_backward(float *dlogits, const float *dloss, const float *probs,
                                  const float *targets, int64_t rows, int64_t cols)
    int mdc_sparse_softmax_xent_forward(float *loss, float *probs, const float *logits,
                                        const int64_t *labels, int64_t rows, int64_t cols)
    int mdc_sparse_softmax_xent_backward(float *dlogits, const float *dloss,
                                         const float *probs, const int64_t *labels,
                                         int64_t rows, int64_t cols)
    int mdc_categorical_xent_forward(float *loss, const float *probs, const float *targets,
                                     int64_t rows, int64_t cols, double eps)
    int mdc_categorical_xent_backward(float *dprobs, const float *dloss, const float *probs,
                                      const float *targets, int64_t rows, int64_t cols,
                                      double eps)
    int mdc_sgd_update(float *var, float *velocity, const float *grad, int64_t n, double lr,
                       double momentum, int nesterov)
    int mdc_rmsprop_update(float *var, float *velocity, float *average_grad,
                           float *momentum_buf, const float *grad, int64_t n, double lr,
                           double rho, double momentum, double epsilon, int centered)
    int mdc_adam_update(float *var, float *m, float *v, float *vhat, const float *grad,
                        int64_t n, double lr, double beta_1, double beta_2, double epsilon,
                        int64_t step, double weight_decay)
    int mdc_affine_warp(float *y, const float *x, const double *transforms, int64_t n,
                        int64_t h, int64_t w, int64_t c, int64_t out_h, int64_t out_w,
                        int fill_mode, double cval)
    int mdc_flip_horizontal(float *y, const float *x, const uint8_t *flags, int64_t n,
                            int64_t h, int64_t w, int64_t c)
    int mdc_resize_bilinear(float *y, const float *x, int64_t n, int64_t h, int64_t w,
                            int64_t c, int64_t out_h, int64_t out_w)


# ---------------------------------------------------------------- shared helpers

ACTIVATION_CODES = {"linear": MD_ACT_LINEAR, "relu": MD_ACT_RELU, "sigmoid": MD_ACT_SIGMOID,
                    "tanh": MD_ACT_TANH}
DATA_ERRORS = {MDC_DATA_LABEL_RANGE: "a class label outside [0, classes)",
               MDC_DATA_ARGMAX_RANGE: "a max-pooling argmax outside the image",
               MDC_DATA_NEGATIVE_VARIANCE: "a variance + epsilon below 0"}
_DTYPE_CODES = {"float32": MDC_F32, "float64": MDC_F64, "int32": MDC_I32, "int64": MDC_I64,
                "uint8": MDC_U8}
_FILL_MODE_CODES = {"nearest": MD_FILL_NEAREST, "constant": MD_FILL_CONSTANT,
                    "reflect": MD_FILL_REFLECT, "wrap": MD_FILL_WRAP}


cdef int check(int status, str where) except -1:
    """Turn a status code into the matching Python exception (no-op on MD_OK)."""
    if status == MD_OK:
        return 0
    if status == MDC_ERR_CUDA:
        raise RuntimeError(f"{where}: CUDA error: {mdc_last_error().decode()}")
    message = f"{where}: {md_status_string(<md_status>status).decode()}"
    if status == MD_ERR_ALLOC:
        raise MemoryError(message + " (device memory)")
    raise ValueError(message)


cdef tuple expect(str where, str name, object a, str dtype, object shape=None, int ndim=-1):
    """Check a device array's dtype, and its shape or its rank (ndim >= 0); return its
    shape, so that a wrapper may index it up to the rank it asked for."""
    if a is None:
        raise TypeError(f"{where}: argument '{name}' must be a device array. Received: None")
    if a.dtype.name != dtype:
        raise TypeError(f"{where}: argument '{name}' must have dtype {dtype}. Received: "
                        f"{a.dtype.name}")
    got = tuple(a.shape)
    if shape is not None and got != shape:
        raise ValueError(f"{where}: argument '{name}' must have shape {shape}. Received: "
                         f"shape {got}")
    if ndim >= 0 and len(got) != ndim:
        raise ValueError(f"{where}: argument '{name}' must be {ndim}-D. Received: shape {got}")
    return got


cdef inline float *fptr(object a) except? NULL:
    """The device address of a float32 array, NULL for None."""
    return NULL if a is None else <float *><uintptr_t>a.ptr


cdef inline int64_t *iptr(object a) except? NULL:
    """The device address of an int64 array, NULL for None."""
    return NULL if a is None else <int64_t *><uintptr_t>a.ptr


cdef int padding_code(str where, str padding) except -1:
    """'valid' / 'same' (any case) to md_padding."""
    key = padding.lower()
    if key == "valid":
        return MD_PADDING_VALID
    if key == "same":
        return MD_PADDING_SAME
    raise ValueError(f"{where}: argument 'padding' must be 'valid' or 'same'. "
                     f"Received: {padding!r}")


cdef int64_t prod(tuple shape):
    cdef int64_t n = 1
    for extent in shape:
        n *= <int64_t>extent
    return n


# ---------------------------------------------------------------- runtime

def last_error():
    """The message of this thread's last CUDA failure ('' when none)."""
    return mdc_last_error().decode()


def runtime_version():
    """CUDART_VERSION the backend was compiled with (e.g. 13000 for CUDA 13.0)."""
    return mdc_runtime_version()


def driver_version():
    """The installed driver's CUDA version (0 when there is no driver)."""
    cdef int version = 0
    mdc_driver_version(&version)
    return version


def device_count():
    """The number of CUDA devices; RuntimeError (naming the cause) without driver/device."""
    cdef int count = 0
    check(mdc_device_count(&count), "device_count")
    return count


def init(int device=0):
    """Select ``device`` and prepare the backend (once per process)."""
    cdef int st
    with nogil:
        st = mdc_init(device)
    check(st, "init")


def device_properties(int device=0):
    """Name, compute capability, SM count and memory of a device, as a dict."""
    cdef char name[256]
    cdef int major = 0, minor = 0, sms = 0
    cdef size_t total = 0
    check(mdc_device_properties(device, name, sizeof(name), &major, &minor, &sms, &total),
          "device_properties")
    return {"name": name.decode(errors="replace"), "compute_capability": (major, minor),
            "multiprocessors": sms, "total_memory": total}


def mem_get_info():
    """(free, total) bytes of device memory."""
    cdef size_t free_bytes = 0, total = 0
    check(mdc_mem_get_info(&free_bytes, &total), "mem_get_info")
    return free_bytes, total


def pool_stats():
    """The caching pool's statistics as a dict (bytes and counts)."""
    cdef mdc_pool_stats s
    check(mdc_get_pool_stats(&s), "pool_stats")
    return {"in_use": s.in_use, "cached": s.cached, "peak_in_use": s.peak_in_use,
            "device_mallocs": s.device_mallocs, "reuses": s.reuses}


def pool_release():
    """Give every cached (unused) block back to the driver (waits for the device)."""
    cdef int st
    with nogil:
        st = mdc_pool_release()
    check(st, "pool_release")


def synchronize():
    """Wait until every queued kernel and copy has finished."""
    cdef int st
    with nogil:
        st = mdc_synchronize()
    check(st, "synchronize")


def take_data_errors():
    """Wait for the device, then read and clear the deferred data-error bits."""
    cdef unsigned flags = 0
    cdef int st
    with nogil:
        st = mdc_take_data_errors(&flags)
    check(st, "take_data_errors")
    return flags


cdef class Buffer:
    """A block of device memory from the caching pool.

    The block goes back to the pool when ``free()`` is called or when the object is
    collected, whichever comes first; ``ptr`` is 0 afterwards.

    Args:
        nbytes: the size in bytes.
    """
    cdef readonly uintptr_t ptr
    cdef readonly size_t nbytes

    def __cinit__(self, size_t nbytes):
        cdef void *p = NULL
        cdef int st
        with nogil:
            st = mdc_malloc(&p, nbytes)
        check(st, "Buffer")
        self.ptr = <uintptr_t>p
        self.nbytes = nbytes

    def free(self):
        """Return the block to the pool now (idempotent)."""
        if self.ptr:
            mdc_free(<void *>self.ptr, self.nbytes)
            self.ptr = 0

    def __dealloc__(self):
        if self.ptr:
            mdc_free(<void *>self.ptr, self.nbytes)
            self.ptr = 0


def copy_h2d(uintptr_t dst, const unsigned char[::1] src not None):
    """Copy the bytes of a host buffer to device address dst."""
    cdef size_t n = src.shape[0]
    cdef int st
    if n == 0:
        return
    with nogil:
        st = mdc_memcpy_h2d(<void *>dst, &src[0], n)
    check(st, "copy_h2d")


def copy_d2h(unsigned char[::1] dst not None, uintptr_t src):
    """Copy len(dst) bytes from device address src into a writable host buffer."""
    cdef size_t n = dst.shape[0]
    cdef int st
    if n == 0:
        return
    with nogil:
        st = mdc_memcpy_d2h(&dst[0], <const void *>src, n)
    check(st, "copy_d2h")


def copy_d2d(uintptr_t dst, uintptr_t src, size_t nbytes):
    """Copy nbytes between device addresses."""
    check(mdc_memcpy_d2d(<void *>dst, <const void *>src, nbytes), "copy_d2d")


def memset(uintptr_t dst, int value, size_t nbytes):
    """Set nbytes at a device address to the byte value."""
    check(mdc_memset(<void *>dst, value, nbytes), "memset")


# ---------------------------------------------------------------- tensor ops

def convert(y not None, x not None):
    """y = x converted to y's dtype (float32/float64/int32/int64/uint8), same shape."""
    shape = tuple(x.shape)
    if tuple(y.shape) != shape:
        raise ValueError(f"convert: argument 'y' must have shape {shape}. Received: "
                         f"shape {tuple(y.shape)}")
    yc, xc = _DTYPE_CODES.get(y.dtype.name), _DTYPE_CODES.get(x.dtype.name)
    if yc is None or xc is None:
        raise TypeError(f"convert: unsupported dtypes {y.dtype.name} <- {x.dtype.name}")
    check(mdc_convert(<void *><uintptr_t>y.ptr, yc, <const void *><uintptr_t>x.ptr, xc,
                      prod(shape)), "convert")


def permute(y not None, x not None, tuple axes):
    """y = numpy.transpose(x, axes) (rank <= 8); y has the permuted shape."""
    cdef int64_t shape_c[8]
    cdef int64_t axes_c[8]
    cdef int ndim = len(axes)
    shape = tuple(x.shape)
    if ndim != len(shape) or ndim > 8 or ndim < 1 or sorted(axes) != list(range(ndim)):
        raise ValueError(f"permute: 'axes' {axes} is not a permutation of the axes of an "
                         f"array of shape {shape}")
    if y.dtype != x.dtype:
        raise TypeError(f"permute: 'y' must have x's dtype {x.dtype}. Received: {y.dtype}")
    expect("permute", "y", y, x.dtype.name, tuple(shape[a] for a in axes))
    for d in range(ndim):
        shape_c[d] = shape[d]
        axes_c[d] = axes[d]
    check(mdc_permute(<void *><uintptr_t>y.ptr, <const void *><uintptr_t>x.ptr,
                      x.dtype.itemsize, ndim, shape_c, axes_c), "permute")


def fill(y not None, double value):
    """y (float32) = value everywhere."""
    shape = expect("fill", "y", y, "float32")
    check(mdc_fill(fptr(y), value, prod(shape)), "fill")


def clip(y not None, x not None, double lo, double hi):
    """y = min(max(x, lo), hi) (float32, same shape; NaN stays NaN)."""
    shape = expect("clip", "x", x, "float32")
    expect("clip", "y", y, "float32", shape)
    check(mdc_clip(fptr(y), fptr(x), lo, hi, prod(shape)), "clip")


def bias_add(y not None, x not None, bias not None):
    """y (rows, cols) = x + bias (cols); y may be x."""
    shape = expect("bias_add", "x", x, "float32", None, 2)
    expect("bias_add", "y", y, "float32", shape)
    expect("bias_add", "bias", bias, "float32", (shape[1],))
    check(mdc_bias_add(fptr(y), fptr(x), fptr(bias), shape[0], shape[1]), "bias_add")


def reduce_sum(out not None, x not None):
    """out (outer, inner) = x (outer, reduce, inner) summed over the middle axis."""
    shape = expect("reduce_sum", "x", x, "float32", None, 3)
    expect("reduce_sum", "out", out, "float32", (shape[0], shape[2]))
    check(mdc_reduce_sum(fptr(out), fptr(x), shape[0], shape[1], shape[2]), "reduce_sum")


def add(y not None, a not None, b not None):
    """y = a + b (1-D, same length; y may alias either)."""
    shape = expect("add", "a", a, "float32", None, 1)
    expect("add", "b", b, "float32", shape)
    expect("add", "y", y, "float32", shape)
    check(mdc_add(fptr(y), fptr(a), fptr(b), shape[0]), "add")


def mul(y not None, a not None, b not None):
    """y = a * b (1-D, same length; y may alias either)."""
    shape = expect("mul", "a", a, "float32", None, 1)
    expect("mul", "b", b, "float32", shape)
    expect("mul", "y", y, "float32", shape)
    check(mdc_mul(fptr(y), fptr(a), fptr(b), shape[0]), "mul")


def scale(y not None, x not None, double alpha):
    """y = alpha * x (1-D)."""
    shape = expect("scale", "x", x, "float32", None, 1)
    expect("scale", "y", y, "float32", shape)
    check(mdc_scale(fptr(y), fptr(x), alpha, shape[0]), "scale")


def axpy(y not None, double alpha, x not None):
    """y += alpha * x in place (1-D)."""
    shape = expect("axpy", "x", x, "float32", None, 1)
    expect("axpy", "y", y, "float32", shape)
    check(mdc_axpy(fptr(y), alpha, fptr(x), shape[0]), "axpy")


def accumulate_sum(acc not None, x not None):
    """acc (one float64) += sum of x (float32, any shape), in a fixed order."""
    expect("accumulate_sum", "acc", acc, "float64", (1,))
    shape = expect("accumulate_sum", "x", x, "float32")
    check(mdc_accumulate_sum(<double *><uintptr_t>acc.ptr, fptr(x), prod(shape)),
          "accumulate_sum")


def accumulate_matches(acc not None, pred not None, target=None, labels=None):
    """acc (one float64) += rows of pred (rows, cols) whose argmax is the target's
    argmax (target, float32 (rows, cols)) or the label (labels, int64 (rows,))."""
    expect("accumulate_matches", "acc", acc, "float64", (1,))
    shape = expect("accumulate_matches", "pred", pred, "float32", None, 2)
    if (target is None) == (labels is None):
        raise ValueError("accumulate_matches: give exactly one of 'target' and 'labels'")
    if target is not None:
        expect("accumulate_matches", "target", target, "float32", shape)
    else:
        expect("accumulate_matches", "labels", labels, "int64", (shape[0],))
    check(mdc_accumulate_matches(<double *><uintptr_t>acc.ptr, fptr(pred), fptr(target),
                                 iptr(labels), shape[0], shape[1]), "accumulate_matches")


# ---------------------------------------------------------------- gemm

def gemm(bint trans_a, bint trans_b, a not None, b not None, c not None, double alpha=1.0,
         double beta=0.0):
    """c = alpha * op(a) @ op(b) + beta * c, in place (2-D float32; beta == 0 never
    reads c)."""
    sa = expect("gemm", "a", a, "float32", None, 2)
    sb = expect("gemm", "b", b, "float32", None, 2)
    cdef int64_t m = sa[1] if trans_a else sa[0]
    cdef int64_t k = sa[0] if trans_a else sa[1]
    cdef int64_t kb = sb[1] if trans_b else sb[0]
    cdef int64_t n = sb[0] if trans_b else sb[1]
    if k != kb:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is ({m}, {k}) and "
                         f"op(b) is ({kb}, {n})")
    expect("gemm", "c", c, "float32", (m, n))
    cdef float *pa = fptr(a)
    cdef float *pb = fptr(b)
    cdef float *pc = fptr(c)
    cdef int64_t lda = sa[1], ldb = sb[1]
    cdef int st
    with nogil:
        st = mdc_gemm(trans_a, trans_b, m, n, k, <float>alpha, pa, lda, pb, ldb, <float>beta,
                      pc, n)
    check(st, "gemm")


# ---------------------------------------------------------------- conv2d

cdef int conv_geom(md_conv2d_geom *g, str where, tuple x_shape, tuple w_shape,
                   int64_t stride_h, int64_t stride_w, str padding) except -1:
    """Fill a convolution geometry from NHWC input and HWIO kernel shapes."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{where}: input and kernel must be rank 4. Received: shapes "
                         f"{x_shape} and {w_shape}")
    if x_shape[3] != w_shape[2]:
        raise ValueError(f"{where}: the input has {x_shape[3]} channels but the kernel "
                         f"{w_shape} expects {w_shape[2]}")
    st = md_conv2d_geom_init(g, x_shape[0], x_shape[1], x_shape[2], x_shape[3], w_shape[0],
                             w_shape[1], w_shape[3], stride_h, stride_w,
                             padding_code(where, padding))
    if st != MD_OK:
        raise ValueError(f"{where}: invalid geometry for input {x_shape}, kernel {w_shape}, "
                         f"strides ({stride_h}, {stride_w}), padding {padding!r}: "
                         f"{md_status_string(st).decode()}")
    return 0


def conv2d_forward(y not None, x not None, w not None, bias=None, int64_t stride_h=1,
                   int64_t stride_w=1, str padding="valid", int activation=MD_ACT_LINEAR):
    """y = activation(conv2d(x, w) + bias); x NHWC, w HWIO, y (N, OH, OW, out_c)."""
    cdef md_conv2d_geom g
    cdef int st
    where = "conv2d_forward"
    conv_geom(&g, where, expect(where, "x", x, "float32"), expect(where, "w", w, "float32"),
              stride_h, stride_w, padding)
    expect(where, "y", y, "float32", (g.batch, g.out_h, g.out_w, g.out_c))
    if bias is not None:
        expect(where, "bias", bias, "float32", (g.out_c,))
    cdef float *py = fptr(y)
    cdef float *px = fptr(x)
    cdef float *pw = fptr(w)
    cdef float *pb = fptr(bias)
    with nogil:
        st = mdc_conv2d_forward(py, px, pw, pb, activation, &g)
    check(st, where)


def conv2d_backward_input(dx not None, dy not None, w not None, int64_t stride_h=1,
                          int64_t stride_w=1, str padding="valid"):
    """dx (N, H, W, in_c) = gradient of conv2d with respect to its input."""
    cdef md_conv2d_geom g
    cdef int st
    where = "conv2d_backward_input"
    conv_geom(&g, where, expect(where, "dx", dx, "float32"), expect(where, "w", w, "float32"),
              stride_h, stride_w, padding)
    expect(where, "dy", dy, "float32", (g.batch, g.out_h, g.out_w, g.out_c))
    cdef float *pdx = fptr(dx)
    cdef float *pdy = fptr(dy)
    cdef float *pw = fptr(w)
    with nogil:
        st = mdc_conv2d_backward_input(pdx, pdy, pw, &g)
    check(st, where)


def conv2d_backward_weight(dw not None, dbias, dy not None, x not None, int64_t stride_h=1,
                           int64_t stride_w=1, str padding="valid"):
    """dw (kh, kw, in_c, out_c) and dbias (out_c; None to skip) of conv2d, written."""
    cdef md_conv2d_geom g
    cdef int st
    where = "conv2d_backward_weight"
    conv_geom(&g, where, expect(where, "x", x, "float32"), expect(where, "dw", dw, "float32"),
              stride_h, stride_w, padding)
    expect(where, "dy", dy, "float32", (g.batch, g.out_h, g.out_w, g.out_c))
    if dbias is not None:
        expect(where, "dbias", dbias, "float32", (g.out_c,))
    cdef float *pdw = fptr(dw)
    cdef float *pdb = fptr(dbias)
    cdef float *pdy = fptr(dy)
    cdef float *px = fptr(x)
    with nogil:
        st = mdc_conv2d_backward_weight(pdw, pdb, pdy, px, &g)
    check(st, where)


# ---------------------------------------------------------------- pool2d

cdef int pool_geom(str where, md_pool2d_geom *g, tuple in_shape, tuple pool_size,
                   tuple strides, str padding) except -1:
    """Fill g for an NHWC input of shape in_shape."""
    if len(in_shape) != 4 or len(pool_size) != 2 or len(strides) != 2:
        raise ValueError(f"{where}: an NHWC input and (height, width) pairs are required. "
                         f"Received: {in_shape}, {pool_size!r} and {strides!r}")
    check(md_pool2d_geom_init(g, in_shape[0], in_shape[1], in_shape[2], in_shape[3],
                              pool_size[0], pool_size[1], strides[0], strides[1],
                              padding_code(where, padding)), where)
    return 0


def maxpool2d_forward(y not None, argmax, x not None, tuple pool_size, tuple strides,
                      str padding):
    """Max pooling: y = max of x over each window; argmax (int64, or None) receives
    h * W + w of the chosen cell (ties: the first maximum; padded cells never)."""
    cdef md_pool2d_geom g
    cdef int st
    where = "maxpool2d_forward"
    pool_geom(where, &g, expect(where, "x", x, "float32"), pool_size, strides, padding)
    out_shape = (g.batch, g.out_h, g.out_w, g.channels)
    expect(where, "y", y, "float32", out_shape)
    if argmax is not None:
        expect(where, "argmax", argmax, "int64", out_shape)
    cdef float *py = fptr(y)
    cdef int64_t *pa = iptr(argmax)
    cdef float *px = fptr(x)
    with nogil:
        st = mdc_maxpool2d_forward(py, pa, px, &g)
    check(st, where)


def maxpool2d_backward(dx not None, dy not None, argmax not None, tuple pool_size,
                       tuple strides, str padding):
    """dx = dy routed to each window's argmax (sums where windows overlap)."""
    cdef md_pool2d_geom g
    cdef int st
    where = "maxpool2d_backward"
    pool_geom(where, &g, expect(where, "dx", dx, "float32"), pool_size, strides, padding)
    out_shape = (g.batch, g.out_h, g.out_w, g.channels)
    expect(where, "dy", dy, "float32", out_shape)
    expect(where, "argmax", argmax, "int64", out_shape)
    cdef float *pdx = fptr(dx)
    cdef float *pdy = fptr(dy)
    cdef int64_t *pa = iptr(argmax)
    with nogil:
        st = mdc_maxpool2d_backward(pdx, pdy, pa, &g)
    check(st, where)


def avgpool2d_forward(y not None, x not None, tuple pool_size, tuple strides, str padding):
    """Average pooling over the real (unpadded) cells of each window."""
    cdef md_pool2d_geom g
    cdef int st
    where = "avgpool2d_forward"
    pool_geom(where, &g, expect(where, "x", x, "float32"), pool_size, strides, padding)
    expect(where, "y", y, "float32", (g.batch, g.out_h, g.out_w, g.channels))
    cdef float *py = fptr(y)
    cdef float *px = fptr(x)
    with nogil:
        st = mdc_avgpool2d_forward(py, px, &g)
    check(st, where)


def avgpool2d_backward(dx not None, dy not None, tuple pool_size, tuple strides, str padding):
    """dx = dy spread evenly over the real cells of each window."""
    cdef md_pool2d_geom g
    cdef int st
    where = "avgpool2d_backward"
    pool_geom(where, &g, expect(where, "dx", dx, "float32"), pool_size, strides, padding)
    expect(where, "dy", dy, "float32", (g.batch, g.out_h, g.out_w, g.channels))
    cdef float *pdx = fptr(dx)
    cdef float *pdy = fptr(dy)
    with nogil:
        st = mdc_avgpool2d_backward(pdx, pdy, &g)
    check(st, where)


# ---------------------------------------------------------------- batchnorm

cdef md_batchnorm_geom bn_geom(tuple xshape, double epsilon, double momentum):
    cdef md_batchnorm_geom g
    g.rows = xshape[0]
    g.channels = xshape[1]
    g.epsilon = epsilon
    g.momentum = momentum
    return g


cdef int bn_vectors(str where, int64_t channels, dict vectors) except -1:
    """Check optional per-channel float32 vectors (None passes)."""
    for name, v in vectors.items():
        if v is not None:
            expect(where, name, v, "float32", (channels,))
    return 0


def batchnorm_forward_train(y not None, batch_mean not None, batch_var not None, moving_mean,
                            moving_var, x not None, gamma, beta, double epsilon,
                            double momentum):
    """Training forward over x (rows, channels): y, the batch mean and biased variance;
    moving statistics (if not None) updated in place with Keras 3 momentum."""
    where = "batchnorm_forward_train"
    xs = expect(where, "x", x, "float32", None, 2)
    expect(where, "y", y, "float32", xs)
    bn_vectors(where, xs[1], {"batch_mean": batch_mean, "batch_var": batch_var,
                              "moving_mean": moving_mean, "moving_var": moving_var,
                              "gamma": gamma, "beta": beta})
    cdef md_batchnorm_geom g = bn_geom(xs, epsilon, momentum)
    cdef float *py = fptr(y)
    cdef float *pbm = fptr(batch_mean)
    cdef float *pbv = fptr(batch_var)
    cdef float *pmm = fptr(moving_mean)
    cdef float *pmv = fptr(moving_var)
    cdef float *px = fptr(x)
    cdef float *pg = fptr(gamma)
    cdef float *pb = fptr(beta)
    cdef int st
    with nogil:
        st = mdc_batchnorm_forward_train(py, pbm, pbv, pmm, pmv, px, pg, pb, &g)
    check(st, where)


def batchnorm_forward_infer(y not None, x not None, mean not None, var not None, gamma=None,
                            beta=None, double epsilon=1e-3):
    """Inference forward with given statistics."""
    where = "batchnorm_forward_infer"
    xs = expect(where, "x", x, "float32", None, 2)
    expect(where, "y", y, "float32", xs)
    expect(where, "mean", mean, "float32", (xs[1],))
    expect(where, "var", var, "float32", (xs[1],))
    bn_vectors(where, xs[1], {"gamma": gamma, "beta": beta})
    cdef md_batchnorm_geom g = bn_geom(xs, epsilon, 0.0)
    cdef float *py = fptr(y)
    cdef float *px = fptr(x)
    cdef float *pm = fptr(mean)
    cdef float *pv = fptr(var)
    cdef float *pg = fptr(gamma)
    cdef float *pb = fptr(beta)
    cdef int st
    with nogil:
        st = mdc_batchnorm_forward_infer(py, px, pm, pv, pg, pb, &g)
    check(st, where)


def batchnorm_backward_train(dx not None, dgamma, dbeta, dy not None, x not None,
                             batch_mean not None, batch_var not None, gamma=None,
                             double epsilon=1e-3):
    """Training backward: dx, and dgamma / dbeta unless None."""
    where = "batchnorm_backward_train"
    xs = expect(where, "x", x, "float32", None, 2)
    expect(where, "dx", dx, "float32", xs)
    expect(where, "dy", dy, "float32", xs)
    expect(where, "batch_mean", batch_mean, "float32", (xs[1],))
    expect(where, "batch_var", batch_var, "float32", (xs[1],))
    bn_vectors(where, xs[1], {"dgamma": dgamma, "dbeta": dbeta, "gamma": gamma})
    cdef md_batchnorm_geom g = bn_geom(xs, epsilon, 0.0)
    cdef float *pdx = fptr(dx)
    cdef float *pdg = fptr(dgamma)
    cdef float *pdb = fptr(dbeta)
    cdef float *pdy = fptr(dy)
    cdef float *px = fptr(x)
    cdef float *pm = fptr(batch_mean)
    cdef float *pv = fptr(batch_var)
    cdef float *pg = fptr(gamma)
    cdef int st
    with nogil:
        st = mdc_batchnorm_backward_train(pdx, pdg, pdb, pdy, px, pm, pv, pg, &g)
    check(st, where)


def batchnorm_backward_infer(dx not None, dgamma, dbeta, dy not None, x not None,
                             mean not None, var not None, gamma=None, double epsilon=1e-3):
    """Inference backward (statistics constant): dx = dy * gamma * r."""
    where = "batchnorm_backward_infer"
    xs = expect(where, "x", x, "float32", None, 2)
    expect(where, "dx", dx, "float32", xs)
    expect(where, "dy", dy, "float32", xs)
    expect(where, "mean", mean, "float32", (xs[1],))
    expect(where, "var", var, "float32", (xs[1],))
    bn_vectors(where, xs[1], {"dgamma": dgamma, "dbeta": dbeta, "gamma": gamma})
    cdef md_batchnorm_geom g = bn_geom(xs, epsilon, 0.0)
    cdef float *pdx = fptr(dx)
    cdef float *pdg = fptr(dgamma)
    cdef float *pdb = fptr(dbeta)
    cdef float *pdy = fptr(dy)
    cdef float *px = fptr(x)
    cdef float *pm = fptr(mean)
    cdef float *pv = fptr(var)
    cdef float *pg = fptr(gamma)
    cdef int st
    with nogil:
        st = mdc_batchnorm_backward_infer(pdx, pdg, pdb, pdy, px, pm, pv, pg, &g)
    check(st, where)


def moments(mean not None, var not None, x not None):
    """Per-channel mean and biased variance of x (rows, channels)."""
    xs = expect("moments", "x", x, "float32", None, 2)
    expect("moments", "mean", mean, "float32", (xs[1],))
    expect("moments", "var", var, "float32", (xs[1],))
    check(mdc_moments(fptr(mean), fptr(var), fptr(x), xs[0], xs[1]), "moments")


# ---------------------------------------------------------------- activations

def activation_forward(y not None, x not None, int activation):
    """y = act(x) over 1-D arrays (ACTIVATION_CODES); y may be x."""
    shape = expect("activation_forward", "x", x, "float32", None, 1)
    expect("activation_forward", "y", y, "float32", shape)
    check(mdc_activation_forward(fptr(y), fptr(x), shape[0], activation), "activation_forward")


def activation_backward(dx not None, dy not None, y not None, int activation):
    """dx = dy * act'(.) from the forward output y (1-D)."""
    shape = expect("activation_backward", "dy", dy, "float32", None, 1)
    expect("activation_backward", "y", y, "float32", shape)
    expect("activation_backward", "dx", dx, "float32", shape)
    check(mdc_activation_backward(fptr(dx), fptr(dy), fptr(y), shape[0], activation),
          "activation_backward")


def softmax_forward(y not None, x not None):
    """Row softmax of x (rows, cols)."""
    shape = expect("softmax_forward", "x", x, "float32", None, 2)
    expect("softmax_forward", "y", y, "float32", shape)
    check(mdc_softmax_forward(fptr(y), fptr(x), shape[0], shape[1]), "softmax_forward")


def softmax_backward(dx not None, dy not None, y not None):
    """dx = y * (dy - sum(dy * y)) per row."""
    shape = expect("softmax_backward", "dy", dy, "float32", None, 2)
    expect("softmax_backward", "y", y, "float32", shape)
    expect("softmax_backward", "dx", dx, "float32", shape)
    check(mdc_softmax_backward(fptr(dx), fptr(dy), fptr(y), shape[0], shape[1]),
          "softmax_backward")


# ---------------------------------------------------------------- losses

def softmax_xent_forward(loss not None, probs not None, logits not None, targets not None):
    """Fused softmax + cross-entropy over (rows, cols) logits and dense targets."""
    where = "softmax_xent_forward"
    shape = expect(where, "logits", logits, "float32", None, 2)
    expect(where, "targets", targets, "float32", shape)
    expect(where, "probs", probs, "float32", shape)
    expect(where, "loss", loss, "float32", (shape[0],))
    check(mdc_softmax_xent_forward(fptr(loss), fptr(probs), fptr(logits), fptr(targets),
                                   shape[0], shape[1]), where)


def softmax_xent_backward(dlogits not None, dloss not None, probs not None, targets not None):
    """dlogits = dloss * (probs * sum(targets) - targets) per row."""
    where = "softmax_xent_backward"
    shape = expect(where, "probs", probs, "float32", None, 2)
    expect(where, "targets", targets, "float32", shape)
    expect(where, "dlogits", dlogits, "float32", shape)
    expect(where, "dloss", dloss, "float32", (shape[0],))
    check(mdc_softmax_xent_backward(fptr(dlogits), fptr(dloss), fptr(probs), fptr(targets),
                                    shape[0], shape[1]), where)


def sparse_softmax_xent_forward(loss not None, probs not None, logits not None,
                                labels not None):
    """Fused softmax + cross-entropy against int64 class labels (rows,)."""
    where = "sparse_softmax_xent_forward"
    shape = expect(where, "logits", logits, "float32", None, 2)
    expect(where, "probs", probs, "float32", shape)
    expect(where, "loss", loss, "float32", (shape[0],))
    expect(where, "labels", labels, "int64", (shape[0],))
    check(mdc_sparse_softmax_xent_forward(fptr(loss), fptr(probs), fptr(logits), iptr(labels),
                                          shape[0], shape[1]), where)


def sparse_softmax_xent_backward(dlogits not None, dloss not None, probs not None,
                                 labels not None):
    """dlogits = dloss * (probs - one_hot(labels))."""
    where = "sparse_softmax_xent_backward"
    shape = expect(where, "probs", probs, "float32", None, 2)
    expect(where, "dlogits", dlogits, "float32", shape)
    expect(where, "dloss", dloss, "float32", (shape[0],))
    expect(where, "labels", labels, "int64", (shape[0],))
    check(mdc_sparse_softmax_xent_backward(fptr(dlogits), fptr(dloss), fptr(probs),
                                           iptr(labels), shape[0], shape[1]), where)


def categorical_xent_forward(loss not None, probs not None, targets not None, double eps):
    """Keras categorical cross-entropy from probabilities (renormalised, clipped)."""
    where = "categorical_xent_forward"
    shape = expect(where, "probs", probs, "float32", None, 2)
    expect(where, "targets", targets, "float32", shape)
    expect(where, "loss", loss, "float32", (shape[0],))
    check(mdc_categorical_xent_forward(fptr(loss), fptr(probs), fptr(targets), shape[0],
                                       shape[1], eps), where)


def categorical_xent_backward(dprobs not None, dloss not None, probs not None,
                              targets not None, double eps):
    """Gradient of categorical_xent_forward with respect to probs."""
    where = "categorical_xent_backward"
    shape = expect(where, "probs", probs, "float32", None, 2)
    expect(where, "targets", targets, "float32", shape)
    expect(where, "dprobs", dprobs, "float32", shape)
    expect(where, "dloss", dloss, "float32", (shape[0],))
    check(mdc_categorical_xent_backward(fptr(dprobs), fptr(dloss), fptr(probs), fptr(targets),
                                        shape[0], shape[1], eps), where)


# ---------------------------------------------------------------- optimizers

cdef int64_t optim_length(str where, var, dict arrays) except -1:
    """The length of the 1-D variable; every array given (not None) must match it."""
    shape = expect(where, "var", var, "float32", None, 1)
    for name, a in arrays.items():
        if a is not None:
            expect(where, name, a, "float32", shape)
    return shape[0]


def sgd_update(var not None, velocity, grad not None, double lr, double momentum,
               bint nesterov):
    """SGD step in place (Keras 3); velocity may be None when momentum == 0."""
    cdef int64_t n = optim_length("sgd_update", var, {"velocity": velocity, "grad": grad})
    check(mdc_sgd_update(fptr(var), fptr(velocity), fptr(grad), n, lr, momentum, nesterov),
          "sgd_update")


def rmsprop_update(var not None, velocity not None, average_grad, momentum_buf,
                   grad not None, double lr, double rho, double momentum, double epsilon,
                   bint centered):
    """RMSprop step in place (Keras 3)."""
    cdef int64_t n = optim_length("rmsprop_update", var,
                                  {"velocity": velocity, "average_grad": average_grad,
                                   "momentum_buf": momentum_buf, "grad": grad})
    check(mdc_rmsprop_update(fptr(var), fptr(velocity), fptr(average_grad), fptr(momentum_buf),
                             fptr(grad), n, lr, rho, momentum, epsilon, centered),
          "rmsprop_update")


def adam_update(var not None, m not None, v not None, vhat, grad not None, double lr,
                double beta_1, double beta_2, double epsilon, int64_t step,
                double weight_decay):
    """Adam / AdamW step in place (Keras 3); vhat (not None) turns on amsgrad."""
    cdef int64_t n = optim_length("adam_update", var,
                                  {"m": m, "v": v, "vhat": vhat, "grad": grad})
    check(mdc_adam_update(fptr(var), fptr(m), fptr(v), fptr(vhat), fptr(grad), n, lr, beta_1,
                          beta_2, epsilon, step, weight_decay), "adam_update")


# ---------------------------------------------------------------- image ops

def affine_warp(y not None, x not None, transforms not None, str fill_mode,
                double fill_value):
    """Bilinear affine warp of NHWC images; transforms (n, 6) float64 on the device."""
    where = "affine_warp"
    xs = expect(where, "x", x, "float32")
    ys = expect(where, "y", y, "float32")
    if len(xs) != 4 or len(ys) != 4 or ys[0] != xs[0] or ys[3] != xs[3]:
        raise ValueError(f"{where}: x and y must be NHWC batches of the same size and "
                         f"channels. Received: shapes {xs} and {ys}")
    expect(where, "transforms", transforms, "float64", (xs[0], 6))
    code = _FILL_MODE_CODES.get(fill_mode.lower())
    if code is None:
        raise ValueError(f"{where}: argument 'fill_mode' must be one of "
                         f"{tuple(_FILL_MODE_CODES)}. Received: {fill_mode!r}")
    check(mdc_affine_warp(fptr(y), fptr(x), <double *><uintptr_t>transforms.ptr, xs[0], xs[1],
                          xs[2], xs[3], ys[1], ys[2], code, fill_value), where)


def flip_horizontal(y not None, x not None, flags=None):
    """Mirror NHWC images left-right; flags (n,) uint8 or None (all flip)."""
    where = "flip_horizontal"
    xs = expect(where, "x", x, "float32")
    expect(where, "y", y, "float32", xs)
    if len(xs) != 4:
        raise ValueError(f"{where}: x must be an NHWC batch. Received: shape {xs}")
    cdef const uint8_t *pf = NULL
    if flags is not None:
        expect(where, "flags", flags, "uint8", (xs[0],))
        pf = <const uint8_t *><uintptr_t>flags.ptr
    check(mdc_flip_horizontal(fptr(y), fptr(x), pf, xs[0], xs[1], xs[2], xs[3]), where)


def resize_bilinear(y not None, x not None):
    """Bilinear resize with half-pixel centres; the output size is y's."""
    where = "resize_bilinear"
    xs = expect(where, "x", x, "float32")
    ys = expect(where, "y", y, "float32")
    if len(xs) != 4 or len(ys) != 4 or ys[0] != xs[0] or ys[3] != xs[3]:
        raise ValueError(f"{where}: x and y must be NHWC batches of the same size and "
                         f"channels. Received: shapes {xs} and {ys}")
    check(mdc_resize_bilinear(fptr(y), fptr(x), xs[0], xs[1], xs[2], xs[3], ys[1], ys[2]),
          where)
