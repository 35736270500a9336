# Wrappers for csrc/batchnorm.c.
#
# Arrays are (rows, channels) views: rows = N for 2-D input, N*H*W for NHWC input; the
# per-channel vectors have shape (channels,). Optional vectors default to None (NULL).


cdef md_batchnorm_geom _bn_geom(tuple xshape, double epsilon, double momentum):
    """The batch-norm geometry of a (rows, channels) view."""
    cdef md_batchnorm_geom g
    g.rows = xshape[0]
    g.channels = xshape[1]
    g.epsilon = epsilon
    g.momentum = momentum
    return g


cdef int _bn_vector(str where, str name, object v, int64_t channels) except -1:
    """Check an optional per-channel vector's shape (None passes)."""
    if v is not None:
        expect_shape(where, name, shape_of(v, 1), (channels,))
    return 0


def batchnorm_forward_train(real[:, ::1] y not None, real[::1] batch_mean not None,
                            real[::1] batch_var not None, real[::1] moving_mean,
                            real[::1] moving_var, const real[:, ::1] x not None,
                            const real[::1] gamma, const real[::1] beta, double epsilon,
                            double momentum, Program program=None):
    """Training forward of batch normalization over x (rows, channels).

    Writes y (rows, channels), batch_mean and the biased batch_var (channels,). When
    moving_mean / moving_var are not None they are updated in place:
    moving = moving * momentum + batch_stat * (1 - momentum). gamma None means
    scale=False (1); beta None means center=False (0). y may be x.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the output, written;
            same dtype as x.
        batch_mean (C-contiguous float32 or float64 numpy.ndarray (channels,)): receives the
            batch mean.
        batch_var (C-contiguous float32 or float64 numpy.ndarray (channels,)): receives the
            biased batch variance.
        moving_mean (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the
            moving mean, updated in place; None to skip it.
        moving_var (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the
            moving variance, updated in place; None to skip it.
        x (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the input.
        gamma (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the scale;
            None for 1.
        beta (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the offset;
            None for 0.
        epsilon (float): added to the variance before the square root.
        momentum (float): the moving statistics' momentum.
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
        >>> y, mean, var = np.empty((2, 2)), np.empty(2), np.empty(2)
        >>> moving_mean, moving_var = np.zeros(2), np.ones(2)
        >>> _C.batchnorm_forward_train(y, mean, var, moving_mean, moving_var, x, None, None,
        ...                            epsilon=0.0, momentum=0.9)
        >>> y, mean, var
        (array([[-1., -1.],
               [ 1.,  1.]]), array([ 2., 20.]), array([  1., 100.]))
        >>> moving_mean.round(4), moving_var.round(4)
        (array([0.2, 2. ]), array([ 1. , 10.9]))
    """
    where = "batchnorm_forward_train"
    xs = shape_of(x, 2)
    expect_shape(where, "y", shape_of(y, 2), xs)
    cdef int64_t channels = xs[1]
    _bn_vector(where, "batch_mean", batch_mean, channels)
    _bn_vector(where, "batch_var", batch_var, channels)
    _bn_vector(where, "moving_mean", moving_mean, channels)
    _bn_vector(where, "moving_var", moving_var, channels)
    _bn_vector(where, "gamma", gamma, channels)
    _bn_vector(where, "beta", beta, channels)
    cdef md_batchnorm_geom g = _bn_geom(xs, epsilon, momentum)
    cdef real *mm = &moving_mean[0] if moving_mean is not None else NULL
    cdef real *mv = &moving_var[0] if moving_var is not None else NULL
    cdef const real *gp = &gamma[0] if gamma is not None else NULL
    cdef const real *bp = &beta[0] if beta is not None else NULL
    cdef md_status st
    cdef md_op op = new_op(MD_OP_BATCHNORM_FORWARD_TRAIN, real is double)
    op.arg[0] = <void *>&y[0, 0]
    op.arg[1] = <void *>&batch_mean[0]
    op.arg[2] = <void *>&batch_var[0]
    op.arg[3] = <void *>mm
    op.arg[4] = <void *>mv
    op.arg[5] = <void *>&x[0, 0]
    op.arg[6] = <void *>gp
    op.arg[7] = <void *>bp
    op.geom.bn = g
    if program is not None:
        program.record(&op, where,
                       (y, batch_mean, batch_var, moving_mean, moving_var, x, gamma, beta))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, where)


def batchnorm_forward_infer(real[:, ::1] y not None, const real[:, ::1] x not None,
                            const real[::1] mean not None, const real[::1] var not None,
                            const real[::1] gamma=None, const real[::1] beta=None,
                            double epsilon=1e-3):
    """Inference forward: y = (x - mean) * gamma / sqrt(var + epsilon) + beta.

    x, y (rows, channels); mean, var, gamma, beta (channels,); gamma / beta None mean
    1 / 0. y may be x. ValueError when var + epsilon < 0.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the output, written;
            same dtype as x.
        x (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the input.
        mean (C-contiguous float32 or float64 numpy.ndarray (channels,)): the mean to subtract
            (the moving mean).
        var (C-contiguous float32 or float64 numpy.ndarray (channels,)): the variance to divide
            by (the moving variance).
        gamma (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the scale;
            None for 1.
        beta (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the offset;
            None for 0.
        epsilon (float): added to the variance before the square root.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
        >>> y = np.empty((2, 2))
        >>> _C.batchnorm_forward_infer(y, x, np.array([2.0, 20.0]), np.array([1.0, 100.0]),
        ...                            gamma=np.array([2.0, 1.0]), beta=np.array([0.0, 5.0]),
        ...                            epsilon=0.0)
        >>> y
        array([[-2.,  4.],
               [ 2.,  6.]])
    """
    where = "batchnorm_forward_infer"
    xs = shape_of(x, 2)
    expect_shape(where, "y", shape_of(y, 2), xs)
    cdef int64_t channels = xs[1]
    _bn_vector(where, "mean", mean, channels)
    _bn_vector(where, "var", var, channels)
    _bn_vector(where, "gamma", gamma, channels)
    _bn_vector(where, "beta", beta, channels)
    cdef md_batchnorm_geom g = _bn_geom(xs, epsilon, 0.0)
    cdef const real *gp = &gamma[0] if gamma is not None else NULL
    cdef const real *bp = &beta[0] if beta is not None else NULL
    cdef md_status st
    with nogil:
        if real is float:
            st = md_batchnorm_forward_infer_f32(&y[0, 0], &x[0, 0], &mean[0], &var[0],
                                                gp, bp, &g)
        else:
            st = md_batchnorm_forward_infer_f64(&y[0, 0], &x[0, 0], &mean[0], &var[0],
                                                gp, bp, &g)
    check_status(st, where)


def batchnorm_backward_train(real[:, ::1] dx not None, real[::1] dgamma, real[::1] dbeta,
                             const real[:, ::1] dy not None, const real[:, ::1] x not None,
                             const real[::1] batch_mean not None,
                             const real[::1] batch_var not None, const real[::1] gamma=None,
                             double epsilon=1e-3, Program program=None,
                             int activation=MD_ACT_LINEAR):
    """Training backward (the batch statistics depend on x).

    dx (rows, channels) = gamma*r/m * (m*dy - sum dy - xhat * sum dy*xhat), with
    r = 1/sqrt(batch_var + epsilon), m = rows; dgamma = sum dy*xhat and dbeta = sum dy
    (channels,) are written when not None. dx may be dy or x (x only without an
    activation).

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the gradient with
            respect to x, written.
        dgamma (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the scale's
            gradient, written; None to skip it.
        dbeta (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the offset's
            gradient, written; None to skip it.
        dy (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the gradient with
            respect to the output.
        x (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the forward pass's
            input.
        batch_mean (C-contiguous float32 or float64 numpy.ndarray (channels,)): the forward
            pass's batch mean.
        batch_var (C-contiguous float32 or float64 numpy.ndarray (channels,)): the forward
            pass's biased batch variance.
        gamma (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the scale;
            None for 1.
        epsilon (float): the forward pass's epsilon.
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).
        activation (int): when x is the output of an activation (the code of ``'relu'``,
            ``'sigmoid'`` or ``'tanh'`` in ``ACTIVATION_CODES``), dx is also multiplied
            by its derivative, from x, in the same pass: the gradient before the
            activation, with the bits of ``activation_backward`` after this call.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
        >>> y, mean, var = np.empty((3, 2)), np.empty(2), np.empty(2)
        >>> _C.batchnorm_forward_train(y, mean, var, None, None, x, None, None, 1e-3, 0.99)
        >>> dy = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
        >>> dx, dgamma, dbeta = np.empty((3, 2)), np.empty(2), np.empty(2)
        >>> _C.batchnorm_backward_train(dx, dgamma, dbeta, dy, x, mean, var, epsilon=1e-3)
        >>> dgamma.round(4), dbeta  # sum(dy * xhat), sum(dy)
        (array([-1.2245, -1.2247]), array([1., 1.]))
        >>> bool(np.allclose(dx.sum(axis=0), 0.0))  # the batch mean absorbs any shift of x
        True
    """
    where = "batchnorm_backward_train"
    xs = shape_of(x, 2)
    expect_shape(where, "dy", shape_of(dy, 2), xs)
    expect_shape(where, "dx", shape_of(dx, 2), xs)
    cdef int64_t channels = xs[1]
    _bn_vector(where, "dgamma", dgamma, channels)
    _bn_vector(where, "dbeta", dbeta, channels)
    _bn_vector(where, "batch_mean", batch_mean, channels)
    _bn_vector(where, "batch_var", batch_var, channels)
    _bn_vector(where, "gamma", gamma, channels)
    check_fusable_activation(where, activation)
    if activation != MD_ACT_LINEAR and <const void *>&dx[0, 0] == <const void *>&x[0, 0]:
        raise ValueError(f"{where}: 'dx' must not be 'x' with an activation (its derivative "
                         f"is read from x)")
    cdef md_batchnorm_geom g = _bn_geom(xs, epsilon, 0.0)
    cdef real *dgp = &dgamma[0] if dgamma is not None else NULL
    cdef real *dbp = &dbeta[0] if dbeta is not None else NULL
    cdef const real *gp = &gamma[0] if gamma is not None else NULL
    cdef md_status st
    cdef md_op op = new_op(MD_OP_BATCHNORM_BACKWARD_TRAIN, real is double)
    op.flag[0] = activation
    op.arg[0] = <void *>&dx[0, 0]
    op.arg[1] = <void *>dgp
    op.arg[2] = <void *>dbp
    op.arg[3] = <void *>&dy[0, 0]
    op.arg[4] = <void *>&x[0, 0]
    op.arg[5] = <void *>&batch_mean[0]
    op.arg[6] = <void *>&batch_var[0]
    op.arg[7] = <void *>gp
    op.geom.bn = g
    if program is not None:
        program.record(&op, where, (dx, dgamma, dbeta, dy, x, batch_mean, batch_var, gamma))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, where)


def batchnorm_backward_infer(real[:, ::1] dx not None, real[::1] dgamma, real[::1] dbeta,
                             const real[:, ::1] dy not None, const real[:, ::1] x not None,
                             const real[::1] mean not None, const real[::1] var not None,
                             const real[::1] gamma=None, double epsilon=1e-3):
    """Inference backward (mean and var are constants).

    dx (rows, channels) = dy * gamma / sqrt(var + epsilon); dgamma = sum dy*xhat and
    dbeta = sum dy (channels,) are written when not None. dx may be dy.

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the gradient with
            respect to x, written.
        dgamma (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the scale's
            gradient, written; None to skip it.
        dbeta (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the offset's
            gradient, written; None to skip it.
        dy (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the gradient with
            respect to the output.
        x (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the forward pass's
            input.
        mean (C-contiguous float32 or float64 numpy.ndarray (channels,)): the mean of the
            forward pass.
        var (C-contiguous float32 or float64 numpy.ndarray (channels,)): the variance of the
            forward pass.
        gamma (C-contiguous float32 or float64 numpy.ndarray (channels,) or None): the scale;
            None for 1.
        epsilon (float): the forward pass's epsilon.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x, dy = np.array([[4.0, 3.0], [4.0, 5.0]]), np.ones((2, 2))
        >>> dx, dgamma, dbeta = np.empty((2, 2)), np.empty(2), np.empty(2)
        >>> _C.batchnorm_backward_infer(dx, dgamma, dbeta, dy, x, np.array([2.0, 2.0]),
        ...                             np.array([4.0, 1.0]), gamma=np.array([1.0, 3.0]),
        ...                             epsilon=0.0)
        >>> dx, dgamma, dbeta
        (array([[0.5, 3. ],
               [0.5, 3. ]]), array([2., 4.]), array([2., 2.]))
    """
    where = "batchnorm_backward_infer"
    xs = shape_of(x, 2)
    expect_shape(where, "dy", shape_of(dy, 2), xs)
    expect_shape(where, "dx", shape_of(dx, 2), xs)
    cdef int64_t channels = xs[1]
    _bn_vector(where, "dgamma", dgamma, channels)
    _bn_vector(where, "dbeta", dbeta, channels)
    _bn_vector(where, "mean", mean, channels)
    _bn_vector(where, "var", var, channels)
    _bn_vector(where, "gamma", gamma, channels)
    cdef md_batchnorm_geom g = _bn_geom(xs, epsilon, 0.0)
    cdef real *dgp = &dgamma[0] if dgamma is not None else NULL
    cdef real *dbp = &dbeta[0] if dbeta is not None else NULL
    cdef const real *gp = &gamma[0] if gamma is not None else NULL
    cdef md_status st
    with nogil:
        if real is float:
            st = md_batchnorm_backward_infer_f32(&dx[0, 0], dgp, dbp, &dy[0, 0], &x[0, 0],
                                                 &mean[0], &var[0], gp, &g)
        else:
            st = md_batchnorm_backward_infer_f64(&dx[0, 0], dgp, dbp, &dy[0, 0], &x[0, 0],
                                                 &mean[0], &var[0], gp, &g)
    check_status(st, where)


def moments(real[::1] mean not None, real[::1] var not None, const real[:, ::1] x not None):
    """Per-channel mean and biased variance of x (rows, channels), in double.

    Args:
        mean (C-contiguous float32 or float64 numpy.ndarray (channels,)): receives the mean;
            same dtype as x.
        var (C-contiguous float32 or float64 numpy.ndarray (channels,)): receives the biased
            variance.
        x (C-contiguous float32 or float64 numpy.ndarray (rows, channels)): the input.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> mean, var = np.empty(2), np.empty(2)
        >>> _C.moments(mean, var, np.array([[1.0, 10.0], [3.0, 30.0]]))
        >>> mean, var
        (array([ 2., 20.]), array([  1., 100.]))
    """
    where = "moments"
    xs = shape_of(x, 2)
    _bn_vector(where, "mean", mean, xs[1])
    _bn_vector(where, "var", var, xs[1])
    cdef int64_t rows = xs[0], channels = xs[1]
    cdef md_status st
    with nogil:
        if real is float:
            st = md_moments_f32(&mean[0], &var[0], &x[0, 0], rows, channels)
        else:
            st = md_moments_f64(&mean[0], &var[0], &x[0, 0], rows, channels)
    check_status(st, where)
