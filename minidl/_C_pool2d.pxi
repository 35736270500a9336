# Wrappers for csrc/pool2d.c: 2-D max and average pooling over NHWC batches.
#
# pool_size and strides are (height, width) pairs of ints; padding is 'valid' or 'same'.
# The geometry is built from the input's shape (x, or dx in the backward passes) and the
# other arrays are checked against it before C is entered.


cdef int pool2d_geometry(str where, md_pool2d_geom *g, tuple in_shape, tuple pool_size,
                         tuple strides, str padding) except -1:
    """Fill g for an NHWC input of shape in_shape; ValueError when the geometry is bad."""
    if len(pool_size) != 2 or len(strides) != 2:
        raise ValueError(f"{where}: 'pool_size' and 'strides' must be pairs of ints. "
                         f"Received: {pool_size!r} and {strides!r}")
    cdef int code = padding_code(where, padding)
    check_status(md_pool2d_geom_init(g, in_shape[0], in_shape[1], in_shape[2], in_shape[3],
                                     pool_size[0], pool_size[1], strides[0], strides[1],
                                     code), where)
    return 0


def maxpool2d_forward(real[:, :, :, ::1] y not None, int64_t[:, :, :, ::1] argmax,
                      const real[:, :, :, ::1] x not None, tuple pool_size, tuple strides,
                      str padding, Program program=None):
    """Max pooling: y (N, out_h, out_w, C) = max of x (N, H, W, C) over each window.

    argmax (same shape as y, int64, or None) receives h * W + w of the chosen cell inside
    its image and channel. Ties pick the first maximum in row-major window order; padded
    cells are never picked.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (N, out_h, out_w, C)): the output,
            written; same dtype as x.
        argmax (C-contiguous int64 numpy.ndarray (N, out_h, out_w, C) or None): receives
            the index h * W + w of each window's maximum; None to skip it.
        x (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C)): the input images.
        pool_size (tuple of 2 ints): the window's (height, width).
        strides (tuple of 2 ints): the (vertical, horizontal) strides.
        padding (str): ``'valid'`` or ``'same'`` (any case).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.array([[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 7, 6], [9, 1, 3, 4]],
        ...              dtype=np.float64).reshape(1, 4, 4, 1)
        >>> y = np.empty((1, 2, 2, 1))
        >>> argmax = np.empty((1, 2, 2, 1), dtype=np.int64)
        >>> _C.maxpool2d_forward(y, argmax, x, (2, 2), (2, 2), "valid")
        >>> y[0, :, :, 0], argmax[0, :, :, 0]  # argmax: h * W + w of each maximum
        (array([[5., 8.],
               [9., 7.]]), array([[ 1,  6],
               [12, 10]]))
    """
    cdef str where = "maxpool2d_forward"
    cdef md_pool2d_geom g
    pool2d_geometry(where, &g, shape_of(x, 4), pool_size, strides, padding)
    out_shape = (g.batch, g.out_h, g.out_w, g.channels)
    expect_shape(where, "y", shape_of(y, 4), out_shape)
    cdef int64_t *argmax_ptr = NULL
    if argmax is not None:
        expect_shape(where, "argmax", shape_of(argmax, 4), out_shape)
        argmax_ptr = &argmax[0, 0, 0, 0]
    cdef md_status status
    cdef md_op op = new_op(MD_OP_MAXPOOL2D_FORWARD, real is double)
    op.arg[0] = <void *>&y[0, 0, 0, 0]
    op.arg[1] = <void *>argmax_ptr
    op.arg[2] = <void *>&x[0, 0, 0, 0]
    op.geom.pool = g
    if program is not None:
        program.record(&op, where, (y, argmax, x))
        return
    with nogil:
        status = md_op_run(&op)
    check_status(status, where)


def _pool_activation(str where, int activation, y_shape, tuple dx_shape, bint same):
    """Refuse the activation arguments of a pooling backward before any work."""
    check_fusable_activation(where, activation)
    if activation == MD_ACT_LINEAR:
        return
    if y_shape is False:
        raise ValueError(f"{where}: argument 'y' is needed with an activation")
    expect_shape(where, "y", y_shape, dx_shape)
    if same:
        raise ValueError(f"{where}: 'y' must not be 'dx' (the derivative is read from y)")


def maxpool2d_backward(real[:, :, :, ::1] dx not None, const real[:, :, :, ::1] dy not None,
                       const int64_t[:, :, :, ::1] argmax not None, tuple pool_size, tuple strides,
                       str padding, Program program=None, const real[:, :, :, ::1] y=None,
                       int activation=MD_ACT_LINEAR):
    """Max pooling backward: dx (N, H, W, C) = 0, then dx[n, argmax, c] += dy[n, ..., c].

    dy and argmax have the forward output's shape (N, out_h, out_w, C). ValueError when an
    argmax value lies outside [0, H * W) (nothing is written outside dx).

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C)): the gradient with
            respect to the input, written; its shape gives the input's.
        dy (C-contiguous float32 or float64 numpy.ndarray (N, out_h, out_w, C)): the gradient
            with respect to the output.
        argmax (C-contiguous int64 numpy.ndarray (N, out_h, out_w, C)): the forward pass's
            argmax.
        pool_size (tuple of 2 ints): the window's (height, width).
        strides (tuple of 2 ints): the (vertical, horizontal) strides.
        padding (str): ``'valid'`` or ``'same'`` (any case).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).
        y (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C) or None): the
            pooling's input when it is the output of ``activation``; not dx.
        activation (int): the code of that activation (``'relu'``, ``'sigmoid'``, ``'tanh'``
            in ``ACTIVATION_CODES``): dx is then multiplied by its derivative, from y, in
            the same pass, with the bits of ``activation_backward`` after this call.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.array([[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 7, 6], [9, 1, 3, 4]],
        ...              dtype=np.float64).reshape(1, 4, 4, 1)
        >>> y, argmax = np.empty((1, 2, 2, 1)), np.empty((1, 2, 2, 1), dtype=np.int64)
        >>> _C.maxpool2d_forward(y, argmax, x, (2, 2), (2, 2), "valid")
        >>> dx = np.empty_like(x)
        >>> _C.maxpool2d_backward(dx, np.ones((1, 2, 2, 1)), argmax, (2, 2), (2, 2), "valid")
        >>> dx[0, :, :, 0]  # the gradient goes to each window's maximum
        array([[0., 1., 0., 0.],
               [0., 0., 1., 0.],
               [0., 0., 1., 0.],
               [1., 0., 0., 0.]])
    """
    cdef str where = "maxpool2d_backward"
    cdef md_pool2d_geom g
    pool2d_geometry(where, &g, shape_of(dx, 4), pool_size, strides, padding)
    out_shape = (g.batch, g.out_h, g.out_w, g.channels)
    expect_shape(where, "dy", shape_of(dy, 4), out_shape)
    expect_shape(where, "argmax", shape_of(argmax, 4), out_shape)
    _pool_activation(where, activation, y is not None and shape_of(y, 4),
                     shape_of(dx, 4), y is not None and &y[0, 0, 0, 0] == &dx[0, 0, 0, 0])
    cdef md_status status
    cdef md_op op = new_op(MD_OP_MAXPOOL2D_BACKWARD, real is double)
    op.arg[0] = <void *>&dx[0, 0, 0, 0]
    op.arg[1] = <void *>&dy[0, 0, 0, 0]
    op.arg[2] = <void *>&argmax[0, 0, 0, 0]
    op.arg[3] = <void *>&y[0, 0, 0, 0] if activation != MD_ACT_LINEAR else NULL
    op.flag[0] = activation
    op.geom.pool = g
    if program is not None:
        program.record(&op, where, (dx, dy, argmax, y))
        return
    with nogil:
        status = md_op_run(&op)
    if status == MD_ERR_ARG:
        raise ValueError(f"{where}: argument 'argmax' holds an index outside "
                         f"[0, {g.in_h * g.in_w}) (in_h * in_w)")
    check_status(status, where)


def avgpool2d_forward(real[:, :, :, ::1] y not None, const real[:, :, :, ::1] x not None,
                      tuple pool_size, tuple strides, str padding, Program program=None):
    """Average pooling: y (N, out_h, out_w, C) = mean of x (N, H, W, C) over the real
    (unpadded) cells of each window.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (N, out_h, out_w, C)): the output,
            written; same dtype as x.
        x (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C)): the input images.
        pool_size (tuple of 2 ints): the window's (height, width).
        strides (tuple of 2 ints): the (vertical, horizontal) strides.
        padding (str): ``'valid'`` or ``'same'`` (any case).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
        >>> y = np.empty((1, 2, 2, 1))
        >>> _C.avgpool2d_forward(y, x, (2, 2), (2, 2), "same")
        >>> y[0, :, :, 0]  # the windows at the edge average only their real cells
        array([[2. , 3.5],
               [6.5, 8. ]])
    """
    cdef str where = "avgpool2d_forward"
    cdef md_pool2d_geom g
    pool2d_geometry(where, &g, shape_of(x, 4), pool_size, strides, padding)
    expect_shape(where, "y", shape_of(y, 4), (g.batch, g.out_h, g.out_w, g.channels))
    cdef md_status status
    cdef md_op op = new_op(MD_OP_AVGPOOL2D_FORWARD, real is double)
    op.arg[0] = <void *>&y[0, 0, 0, 0]
    op.arg[1] = <void *>&x[0, 0, 0, 0]
    op.geom.pool = g
    if program is not None:
        program.record(&op, where, (y, x))
        return
    with nogil:
        status = md_op_run(&op)
    check_status(status, where)


def avgpool2d_backward(real[:, :, :, ::1] dx not None, const real[:, :, :, ::1] dy not None,
                       tuple pool_size, tuple strides, str padding, Program program=None,
                       const real[:, :, :, ::1] y=None, int activation=MD_ACT_LINEAR):
    """Average pooling backward: dx (N, H, W, C) from dy (N, out_h, out_w, C); each real
    cell of a window receives dy / (number of real cells in the window).

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C)): the gradient with
            respect to the input, written; its shape gives the input's.
        dy (C-contiguous float32 or float64 numpy.ndarray (N, out_h, out_w, C)): the gradient
            with respect to the output.
        pool_size (tuple of 2 ints): the window's (height, width).
        strides (tuple of 2 ints): the (vertical, horizontal) strides.
        padding (str): ``'valid'`` or ``'same'`` (any case).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).
        y (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C) or None): the
            pooling's input when it is the output of ``activation``; not dx.
        activation (int): the code of that activation (``'relu'``, ``'sigmoid'``, ``'tanh'``
            in ``ACTIVATION_CODES``): dx is then multiplied by its derivative, from y, in
            the same pass, with the bits of ``activation_backward`` after this call.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> dx = np.empty((1, 3, 3, 1))
        >>> _C.avgpool2d_backward(dx, np.ones((1, 2, 2, 1)), (2, 2), (2, 2), "same")
        >>> dx[0, :, :, 0]
        array([[0.25, 0.25, 0.5 ],
               [0.25, 0.25, 0.5 ],
               [0.5 , 0.5 , 1.  ]])
    """
    cdef str where = "avgpool2d_backward"
    cdef md_pool2d_geom g
    pool2d_geometry(where, &g, shape_of(dx, 4), pool_size, strides, padding)
    expect_shape(where, "dy", shape_of(dy, 4), (g.batch, g.out_h, g.out_w, g.channels))
    _pool_activation(where, activation, y is not None and shape_of(y, 4),
                     shape_of(dx, 4), y is not None and &y[0, 0, 0, 0] == &dx[0, 0, 0, 0])
    cdef md_status status
    cdef md_op op = new_op(MD_OP_AVGPOOL2D_BACKWARD, real is double)
    op.arg[0] = <void *>&dx[0, 0, 0, 0]
    op.arg[1] = <void *>&dy[0, 0, 0, 0]
    op.arg[2] = <void *>&y[0, 0, 0, 0] if activation != MD_ACT_LINEAR else NULL
    op.flag[0] = activation
    op.geom.pool = g
    if program is not None:
        program.record(&op, where, (dx, dy, y))
        return
    with nogil:
        status = md_op_run(&op)
    check_status(status, where)
