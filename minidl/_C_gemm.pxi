# Wrappers for csrc/gemm.c.


def gemm(bint trans_a, bint trans_b, const real[:, ::1] a not None, const real[:, ::1] b not None,
         real[:, ::1] c not None, double alpha=1.0, double beta=0.0, Program program=None):
    """c = alpha * op(a) @ op(b) + beta * c, in place (op transposes when trans_* is set).

    a, b and c are C-contiguous 2-D arrays of one float dtype; beta == 0 never reads c.
    c must not share memory with a or b (ValueError).

    Args:
        trans_a (bool): use the transpose of a.
        trans_b (bool): use the transpose of b.
        a (C-contiguous float32 or float64 numpy.ndarray (m, k), or (k, m) with trans_a): the
            left operand.
        b (C-contiguous float32 or float64 numpy.ndarray (k, n), or (n, k) with trans_b): the
            right operand; same dtype as a.
        c (C-contiguous float32 or float64 numpy.ndarray (m, n)): the output, updated in place;
            same dtype as a.
        alpha (float): the factor of op(a) @ op(b).
        beta (float): the factor of c's previous value (0 overwrites c without reading
            it).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> b = np.array([[1.0, 0.0], [1.0, 1.0]])
        >>> c = np.empty((2, 2))
        >>> _C.gemm(False, False, a, b, c)  # c = a @ b
        >>> c
        array([[3., 2.],
               [7., 4.]])
        >>> _C.gemm(True, False, a, b, c, alpha=1.0, beta=1.0)  # c += a.T @ b
        >>> c
        array([[ 7.,  5.],
               [13.,  8.]])
    """
    cdef int64_t m = a.shape[1] if trans_a else a.shape[0]
    cdef int64_t k = a.shape[0] if trans_a else a.shape[1]
    cdef int64_t kb = b.shape[1] if trans_b else b.shape[0]
    cdef int64_t n = b.shape[0] if trans_b else b.shape[1]
    cdef md_status status
    if k != kb:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is ({m}, {k}) and "
                         f"op(b) is ({kb}, {n})")
    expect_shape("gemm", "c", shape_of(c, 2), (m, n))
    # a NULL pointer stands for an empty operand (memoryviews of size 0 have no element 0)
    cdef const real *pa = &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL
    cdef const real *pb = &b[0, 0] if b.shape[0] > 0 and b.shape[1] > 0 else NULL
    cdef real *pc = &c[0, 0] if m > 0 and n > 0 else NULL
    check_disjoint("gemm", "c", pc, m * n * sizeof(real), "a", pa,
                   a.shape[0] * a.shape[1] * sizeof(real))
    check_disjoint("gemm", "c", pc, m * n * sizeof(real), "b", pb,
                   b.shape[0] * b.shape[1] * sizeof(real))
    cdef md_op op = new_op(MD_OP_GEMM, real is double)
    op.flag[0], op.flag[1] = trans_a, trans_b
    op.dim[0], op.dim[1], op.dim[2] = m, n, k
    op.dim[3], op.dim[4], op.dim[5] = a.shape[1], b.shape[1], n
    op.scalar[0], op.scalar[1] = alpha, beta
    op.arg[0], op.arg[1], op.arg[2] = <void *>pa, <void *>pb, <void *>pc
    if program is not None:
        program.record(&op, "gemm", (a, b, c))
        return
    with nogil:
        status = md_op_run(&op)
    check_status(status, "gemm")


def fma_peak(int64_t iterations, int threads):
    """Run the FMA ceiling loop (``md_fma_peak_flops``): each of ``threads`` threads does
    ``iterations`` rounds of independent float FMA chains at the SIMD level in use.
    Returns the FLOPs done; time the call to get the machine's FLOP/s ceiling.

    Args:
        iterations (int): the rounds each thread does, >= 0.
        threads (int): the number of threads, >= 1.

    Example:
        >>> from minidl import _C
        >>> import time
        >>> start = time.perf_counter()
        >>> flops = _C.fma_peak(1000, 1)
        >>> seconds = time.perf_counter() - start  # flops / seconds: one thread's FLOP/s
        >>> flops > 0
        True
    """
    if iterations < 0 or threads < 1:
        raise ValueError(f"fma_peak: iterations must be >= 0 and threads >= 1. Received: "
                         f"iterations={iterations}, threads={threads}")
    cdef float checksum = 0
    cdef double flops
    with nogil:
        flops = md_fma_peak_flops(iterations, threads, &checksum)
    return flops


def core_round_trip_ns(int64_t rounds=20000):
    """The mean time in nanoseconds for two threads to hand a flag back and forth through
    one cache line (``md_core_round_trip_ns``): how far apart the two cores are. On a VM
    whose vCPUs move between core complexes it tells the phases apart (here ~110 ns
    within one complex, ~400 ns across two), which change multi-threaded timings.

    Args:
        rounds (int): round trips to time, >= 1.

    Returns:
        The nanoseconds per round trip, or None without OpenMP (a serial build).

    Example:
        >>> from minidl import _C
        >>> ns = _C.core_round_trip_ns(1000)
        >>> ns is None or ns > 0
        True
    """
    if rounds < 1:
        raise ValueError(f"core_round_trip_ns: rounds must be >= 1. Received: {rounds}")
    cdef double ns
    with nogil:
        ns = md_core_round_trip_ns(rounds)
    return None if ns < 0 else ns
