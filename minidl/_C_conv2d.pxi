# Wrappers for csrc/conv2d.c.


cdef int make_conv_geom(md_conv2d_geom *g, str where, tuple x_shape, tuple w_shape,
                        int64_t stride_h, int64_t stride_w, str padding) except -1:
    """Fill a convolution geometry from NHWC input and HWIO kernel shapes."""
    if x_shape[3] != w_shape[2]:
        raise ValueError(f"{where}: the input has {x_shape[3]} channels but the kernel "
                         f"{w_shape} expects {w_shape[2]}")
    status = md_conv2d_geom_init(g, x_shape[0], x_shape[1], x_shape[2], x_shape[3],
                                 w_shape[0], w_shape[1], w_shape[3], stride_h, stride_w,
                                 padding_code(where, padding))
    if status != MD_OK:
        raise ValueError(f"{where}: invalid geometry for input {x_shape}, kernel {w_shape}, "
                         f"strides ({stride_h}, {stride_w}), padding {padding!r}: "
                         f"{md_status_string(status).decode()}")
    return 0


def conv2d_forward(real[:, :, :, ::1] y not None, const real[:, :, :, ::1] x not None,
                   const real[:, :, :, ::1] w not None, const real[::1] bias=None,
                   int64_t stride_h=1, int64_t stride_w=1, str padding="valid",
                   int activation=MD_ACT_LINEAR, Program program=None, int pool=0,
                   real[:, :, :, ::1] unpooled=None):
    """y = activation(conv2d(x, w) + bias); x NHWC, w HWIO, y (N, OH, OW, out_c); with
    ``pool=2``, y is that average-pooled over 2x2 windows with stride 2, (N, OH // 2,
    OW // 2, out_c), in the same call (the bits of the two passes), and ``unpooled``, when
    given, receives the output before pooling too (training keeps it for the backward
    pass; the one-channel path pools its rows while they are in cache).

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (N, OH, OW, out_c)): the output,
            written; same dtype as x.
        x (C-contiguous float32 or float64 numpy.ndarray (N, H, W, in_c)): the input images.
        w (C-contiguous float32 or float64 numpy.ndarray (kh, kw, in_c, out_c)): the kernel.
        bias (C-contiguous float32 or float64 numpy.ndarray (out_c,) or None): the bias; None
            for none.
        stride_h (int): the vertical stride.
        stride_w (int): the horizontal stride.
        padding (str): ``'valid'`` or ``'same'`` (any case).
        activation (int): the fused activation's code: that of ``'linear'``, ``'relu'``,
            ``'sigmoid'`` or ``'tanh'`` in ``ACTIVATION_CODES`` (ValueError for another).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).
        pool (int): 0 for the convolution's output, 2 for its 2x2 average pooling
            (ValueError for another value, or an output smaller than 2x2).
        unpooled (C-contiguous float32 or float64 numpy.ndarray (N, OH, OW, out_c) or None):
            with ``pool=2``, the output before pooling, also written; not y or x.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> w = np.ones((2, 2, 1, 1))  # sums each 2x2 window
        >>> y = np.empty((1, 3, 3, 1))
        >>> _C.conv2d_forward(y, x, w, bias=np.array([-20.0]),
        ...                   activation=_C.ACTIVATION_CODES["relu"])
        >>> y[0, :, :, 0]
        array([[ 0.,  0.,  0.],
               [ 6., 10., 14.],
               [22., 26., 30.]])
    """
    cdef md_conv2d_geom g
    cdef md_status status
    make_conv_geom(&g, "conv2d_forward", shape_of(x, 4), shape_of(w, 4), stride_h, stride_w,
                   padding)
    if pool not in (0, 2):
        raise ValueError(f"conv2d_forward: argument 'pool' must be 0 or 2. Received: {pool}")
    if pool and (g.out_h < 2 or g.out_w < 2):
        raise ValueError(f"conv2d_forward: pool=2 needs an output of at least 2x2. Received: "
                         f"{g.out_h}x{g.out_w}")
    expect_shape("conv2d_forward", "y", shape_of(y, 4),
                 (g.batch, g.out_h // 2, g.out_w // 2, g.out_c) if pool else
                 (g.batch, g.out_h, g.out_w, g.out_c))
    cdef const real *pbias = NULL
    if bias is not None:
        expect_shape("conv2d_forward", "bias", shape_of(bias, 1), (g.out_c,))
        pbias = &bias[0]
    cdef real *punpooled = NULL
    if unpooled is not None:
        if not pool:
            raise ValueError("conv2d_forward: argument 'unpooled' needs pool=2")
        expect_shape("conv2d_forward", "unpooled", shape_of(unpooled, 4),
                     (g.batch, g.out_h, g.out_w, g.out_c))
        punpooled = &unpooled[0, 0, 0, 0]
        if <void *>punpooled == <void *>&y[0, 0, 0, 0] or \
                <const void *>punpooled == <const void *>&x[0, 0, 0, 0]:
            raise ValueError("conv2d_forward: 'unpooled' must not be y or x")
    cdef md_op op = new_op(MD_OP_CONV2D_FORWARD, real is double)
    op.arg[0] = <void *>&y[0, 0, 0, 0]
    op.arg[1] = <void *>&x[0, 0, 0, 0]
    op.arg[2] = <void *>&w[0, 0, 0, 0]
    op.arg[3] = <void *>pbias
    op.flag[0] = activation
    op.arg[4] = <void *>punpooled
    op.flag[1] = pool
    op.geom.conv = g
    if program is not None:
        program.record(&op, "conv2d_forward", (y, x, w, bias, unpooled))
        return
    with nogil:
        status = md_op_run(&op)
    check_status(status, "conv2d_forward")


def conv2d_backward_input(real[:, :, :, ::1] dx not None, const real[:, :, :, ::1] dy not None,
                          const real[:, :, :, ::1] w not None, int64_t stride_h=1,
                          int64_t stride_w=1, str padding="valid", Program program=None):
    """dx (N, H, W, in_c) = gradient of conv2d with respect to its input.

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (N, H, W, in_c)): the gradient with
            respect to the input, written; its shape gives the input's.
        dy (C-contiguous float32 or float64 numpy.ndarray (N, OH, OW, out_c)): the gradient with
            respect to the output.
        w (C-contiguous float32 or float64 numpy.ndarray (kh, kw, in_c, out_c)): the kernel.
        stride_h (int): the vertical stride.
        stride_w (int): the horizontal stride.
        padding (str): ``'valid'`` or ``'same'`` (any case).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> dx = np.empty((1, 3, 3, 1))
        >>> _C.conv2d_backward_input(dx, np.ones((1, 2, 2, 1)), np.ones((2, 2, 1, 1)))
        >>> dx[0, :, :, 0]  # how many windows cover each pixel
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    cdef md_conv2d_geom g
    cdef md_status status
    make_conv_geom(&g, "conv2d_backward_input", shape_of(dx, 4), shape_of(w, 4), stride_h,
                   stride_w, padding)
    expect_shape("conv2d_backward_input", "dy", shape_of(dy, 4),
                 (g.batch, g.out_h, g.out_w, g.out_c))
    cdef md_op op = new_op(MD_OP_CONV2D_BACKWARD_INPUT, real is double)
    op.arg[0] = <void *>&dx[0, 0, 0, 0]
    op.arg[1] = <void *>&dy[0, 0, 0, 0]
    op.arg[2] = <void *>&w[0, 0, 0, 0]
    op.geom.conv = g
    if program is not None:
        program.record(&op, "conv2d_backward_input", (dx, dy, w))
        return
    with nogil:
        status = md_op_run(&op)
    check_status(status, "conv2d_backward_input")


def conv2d_backward_weight(real[:, :, :, ::1] dw not None, real[::1] dbias,
                           const real[:, :, :, ::1] dy not None,
                           const real[:, :, :, ::1] x not None, int64_t stride_h=1,
                           int64_t stride_w=1, str padding="valid", Program program=None):
    """dw (kh, kw, in_c, out_c) and dbias (out_c; None to skip) of conv2d, written.

    Args:
        dw (C-contiguous float32 or float64 numpy.ndarray (kh, kw, in_c, out_c)): the kernel's
            gradient, written.
        dbias (C-contiguous float32 or float64 numpy.ndarray (out_c,) or None): the bias's
            gradient, written; None to skip it.
        dy (C-contiguous float32 or float64 numpy.ndarray (N, OH, OW, out_c)): the gradient with
            respect to the output.
        x (C-contiguous float32 or float64 numpy.ndarray (N, H, W, in_c)): the forward pass's
            input.
        stride_h (int): the vertical stride.
        stride_w (int): the horizontal stride.
        padding (str): ``'valid'`` or ``'same'`` (any case).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
        >>> dw, dbias = np.empty((2, 2, 1, 1)), np.empty(1)
        >>> _C.conv2d_backward_weight(dw, dbias, np.ones((1, 2, 2, 1)), x)
        >>> dw[:, :, 0, 0], dbias
        (array([[ 8., 12.],
               [20., 24.]]), array([4.]))
    """
    cdef md_conv2d_geom g
    cdef md_status status
    make_conv_geom(&g, "conv2d_backward_weight", shape_of(x, 4), shape_of(dw, 4), stride_h,
                   stride_w, padding)
    expect_shape("conv2d_backward_weight", "dy", shape_of(dy, 4),
                 (g.batch, g.out_h, g.out_w, g.out_c))
    cdef real *pdbias = NULL
    if dbias is not None:
        expect_shape("conv2d_backward_weight", "dbias", shape_of(dbias, 1), (g.out_c,))
        pdbias = &dbias[0]
    cdef md_op op = new_op(MD_OP_CONV2D_BACKWARD_WEIGHT, real is double)
    op.arg[0] = <void *>&dw[0, 0, 0, 0]
    op.arg[1] = <void *>pdbias
    op.arg[2] = <void *>&dy[0, 0, 0, 0]
    op.arg[3] = <void *>&x[0, 0, 0, 0]
    op.geom.conv = g
    if program is not None:
        program.record(&op, "conv2d_backward_weight", (dw, dbias, dy, x))
        return
    with nogil:
        status = md_op_run(&op)
    check_status(status, "conv2d_backward_weight")


def depthwise_conv2d_forward(real[:, :, :, ::1] y not None, const real[:, :, :, ::1] x not None,
                             const real[:, :, :, ::1] w not None, const real[::1] bias=None,
                             int64_t stride_h=1, int64_t stride_w=1, str padding="valid"):
    """y (N, OH, OW, C * M) = depthwise_conv2d(x, w) + bias; x NHWC, w (kh, kw, C, M).

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (N, OH, OW, C * M)): the output,
            written; same dtype as x.
        x (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C)): the input images.
        w (C-contiguous float32 or float64 numpy.ndarray (kh, kw, C, M)): the depthwise kernel
            (M: the depth multiplier).
        bias (C-contiguous float32 or float64 numpy.ndarray (C * M,) or None): the bias; None
            for none.
        stride_h (int): the vertical stride.
        stride_w (int): the horizontal stride.
        padding (str): ``'valid'`` or ``'same'`` (any case).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))], axis=-1)[None]  # C = 2
        >>> w = np.ones((2, 2, 2, 2))  # M = 2 outputs per channel
        >>> w[..., 1] = -1.0
        >>> y = np.empty((1, 2, 2, 4))
        >>> _C.depthwise_conv2d_forward(y, x, w)
        >>> y[0, 0, 0]  # channel c, multiplier m at c * M + m
        array([ 4., -4.,  8., -8.])
    """
    cdef md_conv2d_geom g
    cdef md_status status
    where = "depthwise_conv2d_forward"
    make_conv_geom(&g, where, shape_of(x, 4), shape_of(w, 4), stride_h, stride_w, padding)
    expect_shape(where, "y", shape_of(y, 4), (g.batch, g.out_h, g.out_w, g.in_c * g.out_c))
    cdef const real *pbias = NULL
    if bias is not None:
        expect_shape(where, "bias", shape_of(bias, 1), (g.in_c * g.out_c,))
        pbias = &bias[0]
    with nogil:
        if real is float:
            status = md_depthwise_conv2d_forward_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                     &w[0, 0, 0, 0], pbias, &g)
        else:
            status = md_depthwise_conv2d_forward_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0],
                                                     &w[0, 0, 0, 0], pbias, &g)
    check_status(status, where)


def depthwise_conv2d_backward_input(real[:, :, :, ::1] dx not None,
                                    const real[:, :, :, ::1] dy not None,
                                    const real[:, :, :, ::1] w not None, int64_t stride_h=1,
                                    int64_t stride_w=1, str padding="valid"):
    """dx (N, H, W, C) = gradient of depthwise_conv2d with respect to its input.

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C)): the gradient with
            respect to the input, written; its shape gives the input's.
        dy (C-contiguous float32 or float64 numpy.ndarray (N, OH, OW, C * M)): the gradient with
            respect to the output.
        w (C-contiguous float32 or float64 numpy.ndarray (kh, kw, C, M)): the depthwise kernel.
        stride_h (int): the vertical stride.
        stride_w (int): the horizontal stride.
        padding (str): ``'valid'`` or ``'same'`` (any case).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> w = np.ones((2, 2, 2, 1))
        >>> w[:, :, 1, 0] = 2.0  # the second channel's kernel
        >>> dx = np.empty((1, 3, 3, 2))
        >>> _C.depthwise_conv2d_backward_input(dx, np.ones((1, 2, 2, 2)), w)
        >>> dx[0, :, :, 1]
        array([[2., 4., 2.],
               [4., 8., 4.],
               [2., 4., 2.]])
    """
    cdef md_conv2d_geom g
    cdef md_status status
    where = "depthwise_conv2d_backward_input"
    make_conv_geom(&g, where, shape_of(dx, 4), shape_of(w, 4), stride_h, stride_w, padding)
    expect_shape(where, "dy", shape_of(dy, 4), (g.batch, g.out_h, g.out_w, g.in_c * g.out_c))
    with nogil:
        if real is float:
            status = md_depthwise_conv2d_backward_input_f32(&dx[0, 0, 0, 0], &dy[0, 0, 0, 0],
                                                            &w[0, 0, 0, 0], &g)
        else:
            status = md_depthwise_conv2d_backward_input_f64(&dx[0, 0, 0, 0], &dy[0, 0, 0, 0],
                                                            &w[0, 0, 0, 0], &g)
    check_status(status, where)


def depthwise_conv2d_backward_weight(real[:, :, :, ::1] dw not None, real[::1] dbias,
                                     const real[:, :, :, ::1] dy not None,
                                     const real[:, :, :, ::1] x not None, int64_t stride_h=1,
                                     int64_t stride_w=1, str padding="valid"):
    """dw (kh, kw, C, M) and dbias (C * M; None to skip) of depthwise_conv2d, written.

    Args:
        dw (C-contiguous float32 or float64 numpy.ndarray (kh, kw, C, M)): the kernel's
            gradient, written.
        dbias (C-contiguous float32 or float64 numpy.ndarray (C * M,) or None): the bias's
            gradient, written; None to skip it.
        dy (C-contiguous float32 or float64 numpy.ndarray (N, OH, OW, C * M)): the gradient with
            respect to the output.
        x (C-contiguous float32 or float64 numpy.ndarray (N, H, W, C)): the forward pass's input.
        stride_h (int): the vertical stride.
        stride_w (int): the horizontal stride.
        padding (str): ``'valid'`` or ``'same'`` (any case).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
        >>> dw, dbias = np.empty((2, 2, 1, 1)), np.empty(1)
        >>> _C.depthwise_conv2d_backward_weight(dw, dbias, np.ones((1, 2, 2, 1)), x)
        >>> dw[:, :, 0, 0], dbias
        (array([[ 8., 12.],
               [20., 24.]]), array([4.]))
    """
    cdef md_conv2d_geom g
    cdef md_status status
    where = "depthwise_conv2d_backward_weight"
    make_conv_geom(&g, where, shape_of(x, 4), shape_of(dw, 4), stride_h, stride_w, padding)
    expect_shape(where, "dy", shape_of(dy, 4), (g.batch, g.out_h, g.out_w, g.in_c * g.out_c))
    cdef real *pdbias = NULL
    if dbias is not None:
        expect_shape(where, "dbias", shape_of(dbias, 1), (g.in_c * g.out_c,))
        pdbias = &dbias[0]
    with nogil:
        if real is float:
            status = md_depthwise_conv2d_backward_weight_f32(&dw[0, 0, 0, 0], pdbias,
                                                             &dy[0, 0, 0, 0], &x[0, 0, 0, 0], &g)
        else:
            status = md_depthwise_conv2d_backward_weight_f64(&dw[0, 0, 0, 0], pdbias,
                                                             &dy[0, 0, 0, 0], &x[0, 0, 0, 0], &g)
    check_status(status, where)

