# Wrappers for csrc/activations.c.

# Codes of the elementwise activations (md_activation), by Keras name.
ACTIVATION_CODES = {
    "linear": MD_ACT_LINEAR,
    "relu": MD_ACT_RELU,
    "sigmoid": MD_ACT_SIGMOID,
    "tanh": MD_ACT_TANH,
    "elu": MD_ACT_ELU,
    "selu": MD_ACT_SELU,
    "softplus": MD_ACT_SOFTPLUS,
    "leaky_relu": MD_ACT_LEAKY_RELU,
    "gelu": MD_ACT_GELU,
    "silu": MD_ACT_SILU,
}

# The activations whose gradient needs the forward's input (activation_backward_input).
INPUT_GRADIENT_ACTIVATIONS = frozenset({"gelu", "silu"})


def activation_forward(real[::1] y not None, const real[::1] x not None, int activation,
                       Program program=None):
    """y = act(x) elementwise over flat arrays of n values (``activation``: an
    ``ACTIVATION_CODES`` value). y may be x itself (in place).

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the output, written; same dtype
            as x.
        x (C-contiguous float32 or float64 numpy.ndarray (n,)): the input.
        activation (int): the activation's code, a value of ``ACTIVATION_CODES``
            (ValueError for an unknown code).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x, y = np.array([-1.0, 0.0, 2.0]), np.empty(3)
        >>> _C.activation_forward(y, x, _C.ACTIVATION_CODES["relu"])
        >>> y
        array([0., 0., 2.])
        >>> _C.activation_forward(y, x, _C.ACTIVATION_CODES["sigmoid"])
        >>> y.round(4)
        array([0.2689, 0.5   , 0.8808])
    """
    cdef int64_t n = x.shape[0]
    cdef md_status st
    expect_shape("activation_forward", "y", shape_of(y, 1), (n,))
    cdef md_op op = new_op(MD_OP_ACTIVATION_FORWARD, real is double)
    op.arg[0] = <void *>&y[0]
    op.arg[1] = <void *>&x[0]
    op.dim[0] = n
    op.flag[0] = activation
    if program is not None:
        program.record(&op, "activation_forward", (y, x))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "activation_forward")


def activation_backward(real[::1] dx not None, const real[::1] dy not None,
                        const real[::1] y not None, int activation, Program program=None):
    """dx = dy * act'(.) from the forward OUTPUT y (flat arrays of n values). dx may be dy.

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient with respect to
            the input, written.
        dy (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient with respect to
            the output.
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the forward pass's output.
        activation (int): the activation's code, a value of ``ACTIVATION_CODES``.
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> y = np.array([0.0, 0.5, 1.0])  # sigmoid outputs
        >>> dx = np.empty(3)
        >>> _C.activation_backward(dx, np.ones(3), y, _C.ACTIVATION_CODES["sigmoid"])
        >>> dx  # y * (1 - y)
        array([0.  , 0.25, 0.  ])
    """
    cdef int64_t n = dy.shape[0]
    cdef md_status st
    expect_shape("activation_backward", "dx", shape_of(dx, 1), (n,))
    expect_shape("activation_backward", "y", shape_of(y, 1), (n,))
    cdef md_op op = new_op(MD_OP_ACTIVATION_BACKWARD, real is double)
    op.arg[0] = <void *>&dx[0]
    op.arg[1] = <void *>&dy[0]
    op.arg[2] = <void *>&y[0]
    op.dim[0] = n
    op.flag[0] = activation
    if program is not None:
        program.record(&op, "activation_backward", (dx, dy, y))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "activation_backward")


def activation_backward_input(real[::1] dx not None, const real[::1] dy not None,
                              const real[::1] x not None, int activation):
    """dx = dy * act'(x) from the forward INPUT x (flat arrays of n values), for the
    activations in ``INPUT_GRADIENT_ACTIVATIONS`` (gelu, silu). dx may be dy.

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient with respect to
            the input, written.
        dy (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient with respect to
            the output.
        x (C-contiguous float32 or float64 numpy.ndarray (n,)): the forward pass's input.
        activation (int): the code of 'gelu' or 'silu' in ``ACTIVATION_CODES``.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x, dx = np.array([-1.0, 0.0, 2.0]), np.empty(3)
        >>> _C.activation_backward_input(dx, np.ones(3), x, _C.ACTIVATION_CODES["silu"])
        >>> dx.round(4)
        array([0.0723, 0.5   , 1.0908])
    """
    cdef int64_t n = dy.shape[0]
    cdef md_status st
    expect_shape("activation_backward_input", "dx", shape_of(dx, 1), (n,))
    expect_shape("activation_backward_input", "x", shape_of(x, 1), (n,))
    with nogil:
        if real is float:
            st = md_activation_backward_input_f32(&dx[0], &dy[0], &x[0], n, activation)
        else:
            st = md_activation_backward_input_f64(&dx[0], &dy[0], &x[0], n, activation)
    check_status(st, "activation_backward_input")


def activation_forward_param(real[::1] y not None, const real[::1] x not None, int activation,
                             double alpha):
    """y = elu(x, alpha) or leaky_relu(x, slope alpha) elementwise over flat arrays
    (``activation``: the code of 'elu' or 'leaky_relu'). y may be x itself.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the output, written; same dtype
            as x.
        x (C-contiguous float32 or float64 numpy.ndarray (n,)): the input.
        activation (int): ``ACTIVATION_CODES['elu']`` or ``ACTIVATION_CODES['leaky_relu']``.
        alpha (float): ELU's alpha, or leaky ReLU's negative slope.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x, y = np.array([-2.0, 0.0, 3.0]), np.empty(3)
        >>> _C.activation_forward_param(y, x, _C.ACTIVATION_CODES["leaky_relu"], 0.25)
        >>> y
        array([-0.5,  0. ,  3. ])
        >>> _C.activation_forward_param(y, x, _C.ACTIVATION_CODES["elu"], 1.0)
        >>> y.round(4)
        array([-0.8647,  0.    ,  3.    ])
    """
    cdef int64_t n = x.shape[0]
    cdef md_status st
    expect_shape("activation_forward_param", "y", shape_of(y, 1), (n,))
    with nogil:
        if real is float:
            st = md_activation_forward_param_f32(&y[0], &x[0], n, activation, alpha)
        else:
            st = md_activation_forward_param_f64(&y[0], &x[0], n, activation, alpha)
    check_status(st, "activation_forward_param")


def activation_backward_param(real[::1] dx not None, const real[::1] dy not None,
                              const real[::1] y not None, int activation, double alpha):
    """The gradient of :func:`activation_forward_param` from its output y. dx may be dy.

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient with respect to
            the input, written.
        dy (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient with respect to
            the output.
        y (C-contiguous float32 or float64 numpy.ndarray (n,)): the forward pass's output.
        activation (int): ``ACTIVATION_CODES['elu']`` or ``ACTIVATION_CODES['leaky_relu']``.
        alpha (float): the alpha (ELU) or slope (leaky ReLU) of the forward pass.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> y = np.array([-0.5, 3.0])  # leaky_relu outputs (slope 0.25)
        >>> dx = np.empty(2)
        >>> leaky_relu = _C.ACTIVATION_CODES["leaky_relu"]
        >>> _C.activation_backward_param(dx, np.ones(2), y, leaky_relu, 0.25)
        >>> dx
        array([0.25, 1.  ])
    """
    cdef int64_t n = dy.shape[0]
    cdef md_status st
    expect_shape("activation_backward_param", "dx", shape_of(dx, 1), (n,))
    expect_shape("activation_backward_param", "y", shape_of(y, 1), (n,))
    with nogil:
        if real is float:
            st = md_activation_backward_param_f32(&dx[0], &dy[0], &y[0], n, activation, alpha)
        else:
            st = md_activation_backward_param_f64(&dx[0], &dy[0], &y[0], n, activation, alpha)
    check_status(st, "activation_backward_param")


def softmax_forward(real[:, ::1] y not None, const real[:, ::1] x not None, Program program=None):
    """y (rows, cols) = softmax over the last axis of x (rows, cols), max-subtracted.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the output, written;
            same dtype as x.
        x (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the logits.
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
        >>> y = np.empty((2, 3))
        >>> _C.softmax_forward(y, x)
        >>> y.round(4)
        array([[0.09  , 0.2447, 0.6652],
               [0.3333, 0.3333, 0.3333]])
    """
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    cdef md_status st
    expect_shape("softmax_forward", "y", shape_of(y, 2), (rows, cols))
    cdef md_op op = new_op(MD_OP_SOFTMAX_FORWARD, real is double)
    op.arg[0] = <void *>&y[0, 0]
    op.arg[1] = <void *>&x[0, 0]
    op.dim[0] = rows
    op.dim[1] = cols
    if program is not None:
        program.record(&op, "softmax_forward", (y, x))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "softmax_forward")


def softmax_backward(real[:, ::1] dx not None, const real[:, ::1] dy not None,
                     const real[:, ::1] y not None, Program program=None):
    """dx = y * (dy - sum(dy * y)) per row of (rows, cols) arrays. dx may be dy.

    Args:
        dx (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the gradient with
            respect to the logits, written.
        dy (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the gradient with
            respect to the output.
        y (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the forward pass's
            output (the probabilities).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> y = np.array([[0.25, 0.75]])  # softmax outputs
        >>> dx = np.empty((1, 2))
        >>> _C.softmax_backward(dx, np.array([[1.0, 0.0]]), y)
        >>> dx
        array([[ 0.1875, -0.1875]])
    """
    cdef int64_t rows = dy.shape[0], cols = dy.shape[1]
    cdef md_status st
    expect_shape("softmax_backward", "dx", shape_of(dx, 2), (rows, cols))
    expect_shape("softmax_backward", "y", shape_of(y, 2), (rows, cols))
    cdef md_op op = new_op(MD_OP_SOFTMAX_BACKWARD, real is double)
    op.arg[0] = <void *>&dx[0, 0]
    op.arg[1] = <void *>&dy[0, 0]
    op.arg[2] = <void *>&y[0, 0]
    op.dim[0] = rows
    op.dim[1] = cols
    if program is not None:
        program.record(&op, "softmax_backward", (dx, dy, y))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "softmax_backward")
