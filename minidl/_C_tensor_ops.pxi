# Wrappers for csrc/tensor_ops.c: bias add, deterministic axis sum, elementwise ops.
# Zero-sized arrays are fine (the kernels return without touching them).


def bias_add(real[:, ::1] y not None, const real[:, ::1] x not None,
             const real[::1] bias not None, Program program=None):
    """y (rows, cols) = x + bias (cols) broadcast over rows. y may be x itself.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the output, written;
            same dtype as x.
        x (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the input.
        bias (C-contiguous float32 or float64 numpy.ndarray (cols,)): the bias.
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> y = np.empty((2, 3))
        >>> _C.bias_add(y, np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]))
        >>> y
        array([[1., 2., 3.],
               [1., 2., 3.]])
    """
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    cdef md_status st
    expect_shape("bias_add", "y", shape_of(y, 2), (rows, cols))
    expect_shape("bias_add", "bias", shape_of(bias, 1), (cols,))
    cdef md_op op = new_op(MD_OP_BIAS_ADD, real is double)
    op.arg[0] = <void *>&y[0, 0]
    op.arg[1] = <void *>&x[0, 0]
    op.arg[2] = <void *>&bias[0]
    op.dim[0] = rows
    op.dim[1] = cols
    if program is not None:
        program.record(&op, "bias_add", (y, x, bias))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "bias_add")


def reduce_sum(real[:, ::1] out not None, const real[:, :, ::1] x not None, Program program=None):
    """out (outer, inner) = sum of x (outer, reduce, inner) over its middle axis,
    accumulated in double in fixed chunks: bit-identical for every thread count.

    Args:
        out (C-contiguous float32 or float64 numpy.ndarray (outer, inner)): the sums, written;
            same dtype as x.
        x (C-contiguous float32 or float64 numpy.ndarray (outer, reduce, inner)): the input.
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(12.0).reshape(2, 3, 2)  # (outer, reduce, inner)
        >>> out = np.empty((2, 2))
        >>> _C.reduce_sum(out, x)
        >>> out  # x.sum(axis=1)
        array([[ 6.,  9.],
               [24., 27.]])
    """
    cdef int64_t outer = x.shape[0], reduce = x.shape[1], inner = x.shape[2]
    cdef md_status st
    expect_shape("reduce_sum", "out", shape_of(out, 2), (outer, inner))
    cdef md_op op = new_op(MD_OP_REDUCE_SUM, real is double)
    op.arg[0] = <void *>&out[0, 0]
    op.arg[1] = <void *>&x[0, 0, 0]
    op.dim[0] = outer
    op.dim[1] = reduce
    op.dim[2] = inner
    if program is not None:
        program.record(&op, "reduce_sum", (out, x))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "reduce_sum")


def add(real[::1] y not None, const real[::1] a not None, const real[::1] b not None):
    """y = a + b over flat arrays of n values. y may be a or b.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the output, written; same dtype
            as a.
        a (C-contiguous float32 or float64 numpy.ndarray (n,)): the first operand.
        b (C-contiguous float32 or float64 numpy.ndarray (n,)): the second operand.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> a, b, y = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.empty(2)
        >>> _C.add(y, a, b)
        >>> y
        array([4., 6.])
    """
    cdef int64_t n = a.shape[0]
    cdef md_status st
    expect_shape("add", "b", shape_of(b, 1), (n,))
    expect_shape("add", "y", shape_of(y, 1), (n,))
    with nogil:
        if real is float:
            st = md_add_f32(&y[0], &a[0], &b[0], n)
        else:
            st = md_add_f64(&y[0], &a[0], &b[0], n)
    check_status(st, "add")


def mul(real[::1] y not None, const real[::1] a not None, const real[::1] b not None):
    """y = a * b over flat arrays of n values. y may be a or b.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the output, written; same dtype
            as a.
        a (C-contiguous float32 or float64 numpy.ndarray (n,)): the first operand.
        b (C-contiguous float32 or float64 numpy.ndarray (n,)): the second operand.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
        >>> _C.mul(a, a, b)  # in place: a *= b
        >>> a
        array([3., 8.])
    """
    cdef int64_t n = a.shape[0]
    cdef md_status st
    expect_shape("mul", "b", shape_of(b, 1), (n,))
    expect_shape("mul", "y", shape_of(y, 1), (n,))
    with nogil:
        if real is float:
            st = md_mul_f32(&y[0], &a[0], &b[0], n)
        else:
            st = md_mul_f64(&y[0], &a[0], &b[0], n)
    check_status(st, "mul")


def scale(real[::1] y not None, const real[::1] x not None, double alpha):
    """y = alpha * x over flat arrays of n values (alpha cast once to the dtype). y may
    be x.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the output, written; same dtype
            as x.
        x (C-contiguous float32 or float64 numpy.ndarray (n,)): the input.
        alpha (float): the factor.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> y = np.empty(2, dtype=np.float32)
        >>> _C.scale(y, np.array([2.0, 4.0], dtype=np.float32), 0.5)
        >>> y
        array([1., 2.], dtype=float32)
    """
    cdef int64_t n = x.shape[0]
    cdef md_status st
    expect_shape("scale", "y", shape_of(y, 1), (n,))
    with nogil:
        if real is float:
            st = md_scale_f32(&y[0], &x[0], alpha, n)
        else:
            st = md_scale_f64(&y[0], &x[0], alpha, n)
    check_status(st, "scale")


def axpy(real[::1] y not None, double alpha, const real[::1] x not None):
    """y += alpha * x in place over flat arrays of n values. x may be y.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the accumulator, updated in place.
        alpha (float): the factor of x.
        x (C-contiguous float32 or float64 numpy.ndarray (n,)): the values to add; same dtype as y.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> y = np.ones(2)
        >>> _C.axpy(y, 2.0, np.array([1.0, 2.0]))  # y += 2 * x
        >>> y
        array([3., 5.])
    """
    cdef int64_t n = x.shape[0]
    cdef md_status st
    expect_shape("axpy", "y", shape_of(y, 1), (n,))
    with nogil:
        if real is float:
            st = md_axpy_f32(&y[0], alpha, &x[0], n)
        else:
            st = md_axpy_f64(&y[0], alpha, &x[0], n)
    check_status(st, "axpy")


def embedding_forward(real[:, ::1] y not None, const real[:, ::1] table not None,
                      const int64_t[::1] indices not None):
    """y (n, dim) = the rows of table (rows, dim) at indices (n); an index outside
    [0, rows) raises ValueError before anything is written.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n, dim)): the output, written; same
            dtype as table.
        table (C-contiguous float32 or float64 numpy.ndarray (rows, dim)): the embedding table.
        indices (C-contiguous int64 numpy.ndarray (n,)): the rows to gather, in [0, rows).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> table = np.arange(6.0).reshape(3, 2)
        >>> y = np.empty((3, 2))
        >>> _C.embedding_forward(y, table, np.array([2, 0, 2], dtype=np.int64))
        >>> y
        array([[4., 5.],
               [0., 1.],
               [4., 5.]])
    """
    cdef int64_t n = indices.shape[0], rows = table.shape[0], dim = table.shape[1]
    cdef md_status st
    expect_shape("embedding_forward", "y", shape_of(y, 2), (n, dim))
    with nogil:
        if real is float:
            st = md_embedding_forward_f32(&y[0, 0], &table[0, 0], &indices[0], n, rows, dim)
        else:
            st = md_embedding_forward_f64(&y[0, 0], &table[0, 0], &indices[0], n, rows, dim)
    check_status(st, "embedding_forward")


def embedding_backward(real[:, ::1] dtable not None, const real[:, ::1] dy not None,
                       const int64_t[::1] indices not None):
    """dtable (rows, dim) = the sum of the dy rows (n, dim) of each index, written.

    Args:
        dtable (C-contiguous float32 or float64 numpy.ndarray (rows, dim)): the table's
            gradient, written.
        dy (C-contiguous float32 or float64 numpy.ndarray (n, dim)): the gradient with respect
            to the gathered rows.
        indices (C-contiguous int64 numpy.ndarray (n,)): the forward pass's indices.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> dtable = np.empty((3, 2))
        >>> _C.embedding_backward(dtable, np.ones((3, 2)), np.array([2, 0, 2], dtype=np.int64))
        >>> dtable  # row 2 was gathered twice, row 1 never
        array([[1., 1.],
               [0., 0.],
               [2., 2.]])
    """
    cdef int64_t n = indices.shape[0], rows = dtable.shape[0], dim = dtable.shape[1]
    cdef md_status st
    expect_shape("embedding_backward", "dy", shape_of(dy, 2), (n, dim))
    with nogil:
        if real is float:
            st = md_embedding_backward_f32(&dtable[0, 0], &dy[0, 0], &indices[0], n, rows, dim)
        else:
            st = md_embedding_backward_f64(&dtable[0, 0], &dy[0, 0], &indices[0], n, rows, dim)
    check_status(st, "embedding_backward")


def summary_stats(const real[::1] x not None, int activation=MD_ACT_LINEAR):
    """(mean, variance, saturated fraction) of the n > 0 values of x in one pass, in
    double: the variance is the biased one; the fraction counts the values at which the
    derivative of ``activation`` (x taken as its output) is below 1% of its maximum.
    Bit-identical for every thread count.

    Args:
        x (C-contiguous float32 or float64 numpy.ndarray (n,)): the values, n > 0 (ValueError
            when empty).
        activation (int): the code (``ACTIVATION_CODES``) of the activation whose output
            x is, for the saturated fraction.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> y = np.array([0.0, 0.5, 1.0, 0.5])  # sigmoid outputs
        >>> _C.summary_stats(y, _C.ACTIVATION_CODES["sigmoid"])  # 0 and 1 are saturated
        (0.5, 0.125, 0.5)
        >>> _C.summary_stats(y)  # linear: nothing saturates
        (0.5, 0.125, 0.0)
    """
    cdef double stats[3]
    cdef int64_t n = x.shape[0]
    cdef md_status st
    if n == 0:
        raise ValueError("summary_stats: x is empty")
    with nogil:
        if real is float:
            st = md_summary_stats_f32(stats, &x[0], n, activation)
        else:
            st = md_summary_stats_f64(stats, &x[0], n, activation)
    check_status(st, "summary_stats")
    return stats[0], stats[1], stats[2]
