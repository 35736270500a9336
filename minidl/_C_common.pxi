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
    """
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: argument 'n' must be >= 1. Received: {n}")
    md_set_num_threads(min(n, md_max_num_threads()))


def max_num_threads():
    """The most threads the kernels may use (``md_max_num_threads``)."""
    return md_max_num_threads()


def get_num_threads():
    """The number of threads the kernels use."""
    return md_get_num_threads()


def has_openmp():
    """True when the core was compiled with OpenMP."""
    return bool(md_has_openmp())


def cpu_has_avx2_fma():
    """True when this CPU runs the AVX2/FMA code paths."""
    return bool(md_cpu_has_avx2_fma())


def force_portable(bint on):
    """Use the portable C paths even on an AVX2 CPU (True), or detect again (False).

    Args:
        on (bool): True forces the portable paths; False detects the CPU's level again.
    """
    md_force_portable(1 if on else 0)
