# Shared pieces of the Cython wrappers: the fused element type, status -> exception,
# shape checks and the runtime switches. Included by _C.pyx.

ctypedef fused real:
    float
    double


cdef int check_status(md_status status, str where) except -1:
    """Turn a C status code into the matching Python exception (no-op on MD_OK)."""
    if status == MD_OK:
        return 0
    message = f"{where}: {md_status_string(status).decode()}"
    if status == MD_ERR_ALLOC:
        raise MemoryError(message)
    raise ValueError(message)


cdef int expect_shape(str where, str name, tuple got, tuple want) except -1:
    """Raise ValueError unless an array's shape is exactly the one a kernel needs."""
    if got != want:
        raise ValueError(f"{where}: argument '{name}' must have shape {want}. "
                         f"Received: shape {got}")
    return 0


cdef int check_disjoint(str where, str out_name, const void *out, size_t out_bytes,
                        str in_name, const void *src, size_t src_bytes) except -1:
    """Raise ValueError when an output's bytes overlap an input's (a kernel that writes
    the output while it still reads the input would compute garbage)."""
    cdef uintptr_t o = <uintptr_t>out
    cdef uintptr_t i = <uintptr_t>src
    if out == NULL or src == NULL or out_bytes == 0 or src_bytes == 0:
        return 0
    if o < i + src_bytes and i < o + out_bytes:
        raise ValueError(f"{where}: argument '{out_name}' must not share memory with "
                         f"argument '{in_name}' (the output is written while the input is "
                         f"read); pass a separate output array")
    return 0


cdef tuple shape_of(object array, int ndim):
    """The first ndim extents of a memoryview as a tuple of Python ints."""
    return tuple(array.shape[:ndim])


cdef int check_fusable_activation(str where, int activation) except -1:
    """Raise ValueError unless ``activation`` is the code of an activation the kernels
    fuse into their pass: linear, relu, sigmoid or tanh."""
    if activation < MD_ACT_LINEAR or activation > MD_ACT_TANH:
        raise ValueError(f"{where}: argument 'activation' must be the code of 'linear', "
                         f"'relu', 'sigmoid' or 'tanh'. Received: {activation}")
    return 0


cdef int padding_code(str where, str padding) except -1:
    """'valid' / 'same' (any case) to md_padding."""
    key = padding.lower()
    if key == "valid":
        return MD_PADDING_VALID
    if key == "same":
        return MD_PADDING_SAME
    raise ValueError(f"{where}: argument 'padding' must be 'valid' or 'same'. "
                     f"Received: {padding!r}")


def set_num_threads(n):
    """Set the number of threads every kernel may use: an int >= 1, clamped to
    ``max_num_threads()``.

    Args:
        n (int): the number of threads, >= 1 (ValueError below; a larger value than
            ``max_num_threads()`` is clamped to it).

    Example:
        >>> from minidl import _C
        >>> before = _C.get_num_threads()
        >>> _C.set_num_threads(1)
        >>> _C.get_num_threads()
        1
        >>> _C.set_num_threads(10 ** 6)  # more than allowed: clamped
        >>> _C.get_num_threads() == _C.max_num_threads()
        True
        >>> _C.set_num_threads(before)  # restore the previous count
    """
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: argument 'n' must be >= 1. Received: {n}")
    md_set_num_threads(min(n, md_max_num_threads()))


def max_num_threads():
    """The most threads the kernels may use (``md_max_num_threads``).

    Example:
        >>> from minidl import _C
        >>> n = _C.max_num_threads()  # depends on the machine
        >>> isinstance(n, int) and n >= 1
        True
    """
    return md_max_num_threads()


def get_num_threads():
    """The number of threads the kernels use.

    Example:
        >>> from minidl import _C
        >>> 1 <= _C.get_num_threads() <= _C.max_num_threads()
        True
    """
    return md_get_num_threads()


def has_openmp():
    """True when the core was compiled with OpenMP.

    Example:
        >>> from minidl import _C
        >>> isinstance(_C.has_openmp(), bool)  # True or False depending on the build
        True
    """
    return bool(md_has_openmp())


def cpu_has_avx2_fma():
    """True when this CPU runs the AVX2/FMA code paths.

    Example:
        >>> from minidl import _C
        >>> isinstance(_C.cpu_has_avx2_fma(), bool)  # depends on the CPU
        True
    """
    return bool(md_cpu_has_avx2_fma())


def force_portable(bint on):
    """Use the portable C paths even on an AVX2 CPU (True), or detect again (False).

    Args:
        on (bool): True forces the portable paths; False detects the CPU's level again.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> a, b = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
        >>> c_best, c_portable = np.empty((2, 2)), np.empty((2, 2))
        >>> _C.gemm(False, False, a, b, c_best)
        >>> _C.force_portable(True)  # the portable C paths from here on
        >>> _C.gemm(False, False, a, b, c_portable)
        >>> _C.force_portable(False)  # back to the CPU's best level
        >>> bool((c_best == c_portable).all())
        True
    """
    md_force_portable(1 if on else 0)


def set_conv_winograd(bint on):
    """Let 3x3 stride-1 convolutions take the Winograd path (True, the default) or keep every
    convolution on the implicit-GEMM path (False).

    The Winograd path (forward and input gradient, float32 and float64) does 4x fewer
    multiplications for 3x3 stride-1 convolutions with at least 16 input and output
    channels, an output of at least 8x8 and 48 tiles of 4x4; its float32 error is about 3x
    the direct path's (still below 1e-6 of ``sum |x| |w|``).

    Args:
        on (bool): True allows the Winograd path; False turns it off for this process.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.ones((1, 32, 32, 16), np.float32)
        >>> w = np.full((3, 3, 16, 16), 0.5, np.float32)
        >>> y_fast, y_direct = np.empty((2, 1, 30, 30, 16), np.float32)
        >>> _C.conv2d_forward(y_fast, x, w)  # 3x3, stride 1, 16 channels, 30x30: Winograd
        >>> _C.set_conv_winograd(False)  # the implicit-GEMM path from here on
        >>> _C.conv2d_forward(y_direct, x, w)
        >>> _C.set_conv_winograd(True)
        >>> bool(np.allclose(y_fast, y_direct)), float(y_direct[0, 0, 0, 0])
        (True, 72.0)
    """
    md_set_conv_winograd(1 if on else 0)


def conv_winograd():
    """Whether 3x3 stride-1 convolutions may take the Winograd path (see set_conv_winograd).

    Example:
        >>> from minidl import _C
        >>> _C.conv_winograd()  # on by default
        True
    """
    return bool(md_get_conv_winograd())
