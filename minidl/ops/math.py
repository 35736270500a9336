"""Linear algebra and elementwise ops: matmul, bias_add, sum, add, multiply, scale,
axpy, clip and summary_statistics (``csrc/gemm.c``, ``csrc/tensor_ops.c``)."""
import numpy as np

from minidl.backend import backend_of
from minidl.ops._checks import real_scalar, reduction_axes, same_shape


def _matmul_operands(backend, x1, x2, where):
    """Validate and convert the operands of matmul: x1 (..., k), x2 (k, n) or (k,)."""
    a = backend.prepare(x1, "x1", where)
    b = backend.prepare(x2, "x2", where, dtype=a.dtype)
    if a.ndim < 1 or b.ndim not in (1, 2):
        raise ValueError(f"{where}: x1 must have rank >= 1 and x2 rank 1 or 2. Received: "
                         f"shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"{where}: the last axis of x1 must match the first axis of x2. "
                         f"Received: shapes {a.shape} and {b.shape}")
    return a, b


def _as_matrices(a, b):
    """x1 (..., k) as (rows, k) and x2 as (k, n), with explicit sizes so that empty
    operands (rows, k or n of 0) keep their shapes."""
    rows = int(np.prod(a.shape[:-1], dtype=np.int64))
    cols = b.shape[1] if b.ndim == 2 else 1
    return a.reshape(rows, a.shape[-1]), b.reshape(b.shape[0], cols)


def matmul(x1, x2):
    """Matrix product ``x1 @ x2`` on minidl's packed GEMM.

    Args:
        x1 (array): array of shape ``(..., k)``; leading axes are treated as rows, as a
            dense layer does.
        x2 (array): array of shape ``(k, n)`` or ``(k,)``.

    Returns:
        Array of shape ``(..., n)`` (or ``(...)`` for a vector x2).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.matmul(np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]]))
        array([[11.]])
    """
    backend = backend_of(x1, x2)
    a, b = _matmul_operands(backend, x1, x2, "matmul")
    a2, b2 = _as_matrices(a, b)
    out = backend.empty((a2.shape[0], b2.shape[1]), dtype=a.dtype)
    backend.kernels.gemm(False, False, a2, b2, out)
    return out.reshape(a.shape[:-1] + b.shape[1:])


def matmul_backward(dy, x1, x2):
    """Gradients of ``matmul(x1, x2)``.

    Args:
        dy (array): gradient of the output, shape ``(..., n)`` (``(...)`` for a vector x2).
        x1 (array): the forward input of shape ``(..., k)``.
        x2 (array): the forward input of shape ``(k, n)`` or ``(k,)``.

    Returns:
        ``(dx1, dx2)`` with the shapes of x1 and x2: ``dx1 = dy @ x2.T`` and
        ``dx2 = x1.T @ dy`` (leading axes summed).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x1, x2 = np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])
        >>> dx1, dx2 = ops.matmul_backward(np.array([[1.0]]), x1, x2)
        >>> dx1, dx2
        (array([[3., 4.]]), array([[1.],
               [2.]]))
    """
    backend = backend_of(dy, x1, x2)
    a, b = _matmul_operands(backend, x1, x2, "matmul_backward")
    g = backend.prepare(dy, "dy", "matmul_backward", dtype=a.dtype)
    expected = a.shape[:-1] + b.shape[1:]
    if g.shape != expected:
        raise ValueError(f"matmul_backward: argument 'dy' must have shape {expected}. "
                         f"Received: shape {g.shape}")
    a2, b2 = _as_matrices(a, b)
    g2 = g.reshape(a2.shape[0], b2.shape[1])
    dx1 = backend.empty(a2.shape, dtype=a.dtype)
    dx2 = backend.empty(b2.shape, dtype=a.dtype)
    backend.kernels.gemm(False, True, g2, b2, dx1)
    backend.kernels.gemm(True, False, a2, g2, dx2)
    return dx1.reshape(a.shape), dx2.reshape(b.shape)


def _tops_sum3(backend, x, outer, reduce, inner):
    """Sum of a C-contiguous x viewed as (outer, reduce, inner) over the middle axis."""
    out = backend.empty((outer, inner), dtype=x.dtype)
    backend.kernels.reduce_sum(out, x.reshape(outer, reduce, inner))
    return out


def bias_add(x, bias):
    """Add a bias vector along the last axis: ``x + bias``.

    Args:
        x (array): array of rank >= 1, shape ``(..., channels)``.
        bias (array): vector of length ``channels`` (cast to x's dtype).

    Returns:
        Array of x's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.bias_add(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]))
        array([[1., 2., 3.],
               [1., 2., 3.]])
    """
    backend = backend_of(x, bias)
    where = "bias_add"
    x = backend.prepare(x, "x", where)
    if x.ndim < 1:
        raise ValueError(f"{where}: argument 'x' must have rank >= 1. Received: shape "
                         f"{x.shape} (rank 0)")
    bias = backend.prepare(bias, "bias", where, dtype=x.dtype)
    cols = x.shape[-1]
    if bias.shape != (cols,):
        raise ValueError(f"{where}: argument 'bias' must be a vector of length "
                         f"x.shape[-1] = {cols}. Received: shape {bias.shape}")
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    y = backend.empty(x.shape, x.dtype)
    backend.kernels.bias_add(y.reshape(rows, cols), x.reshape(rows, cols), bias)
    return y


def bias_add_backward(dy):
    """Gradient of ``bias_add`` with respect to the bias.

    The gradient with respect to x is ``dy`` itself.

    Args:
        dy (array): gradient of the output, rank >= 1, shape ``(..., channels)``.

    Returns:
        ``dbias`` of shape ``(channels,)``: dy summed over every axis but the last.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.bias_add_backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
        array([4., 6.])
    """
    backend = backend_of(dy)
    where = "bias_add_backward"
    dy = backend.prepare(dy, "dy", where)
    if dy.ndim < 1:
        raise ValueError(f"{where}: argument 'dy' must have rank >= 1. Received: shape "
                         f"{dy.shape} (rank 0)")
    cols = dy.shape[-1]
    rows = int(np.prod(dy.shape[:-1], dtype=np.int64))
    return _tops_sum3(backend, dy, 1, rows, cols).reshape(cols)


def sum(x, axis=None, keepdims=False):  # noqa: A001 -- keras.ops.sum
    """Sum of array elements over the given axes (``keras.ops.sum``).

    Accumulated in double; bit-identical for every thread count. Non-adjacent axes are
    gathered with one transposed copy.

    Args:
        x (array): input of any shape.
        axis (int or tuple of ints or None): None (every axis), an int or a tuple of ints;
            negative axes count from the end.
        keepdims (bool): keep the reduced axes with length 1.

    Returns:
        Array of x's compute dtype (0-d when every axis is reduced without keepdims).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.sum(np.arange(6.0).reshape(2, 3), axis=0)
        array([3., 5., 7.])
    """
    backend = backend_of(x)
    where = "sum"
    x = backend.prepare(x, "x", where)
    axes = reduction_axes(axis, x.ndim, where)
    if keepdims:
        out_shape = tuple(1 if a in axes else n for a, n in enumerate(x.shape))
    else:
        out_shape = tuple(n for a, n in enumerate(x.shape) if a not in axes)
    if not axes:
        return x.copy().reshape(out_shape)
    kept = [a for a in range(x.ndim) if a not in axes]
    inner_axes = []
    while kept and kept[-1] == x.ndim - 1 - len(inner_axes):
        inner_axes.insert(0, kept.pop())
    order = kept + list(axes) + inner_axes
    size = lambda dims: int(np.prod([x.shape[a] for a in dims], dtype=np.int64))  # noqa: E731
    outer, reduce, inner = size(kept), size(axes), size(inner_axes)
    if order != list(range(x.ndim)):
        x = backend.transpose(x, order)
    return _tops_sum3(backend, x, outer, reduce, inner).reshape(out_shape)


def _elementwise(kernel, x1, x2, where):
    """``kernel(y, x1, x2)`` over two arrays of the same shape (no broadcasting)."""
    backend = backend_of(x1, x2)
    x1 = backend.prepare(x1, "x1", where)
    x2 = backend.prepare(x2, "x2", where, dtype=x1.dtype)
    same_shape(x1, x2, "x1", "x2", where)
    y = backend.empty(x1.shape, x1.dtype)
    getattr(backend.kernels, kernel)(y.reshape(-1), x1.reshape(-1), x2.reshape(-1))
    return y


def add(x1, x2):
    """Elementwise ``x1 + x2`` of two arrays of the same shape (no broadcasting).

    Args:
        x1 (array): the first operand (a NumPy array or array-like on the CPU, a
            DeviceArray on the GPU).
        x2 (array): the second operand, of x1's shape (cast to x1's compute dtype).

    Returns:
        Array of x1's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.add(np.ones(2), np.ones(2))
        array([2., 2.])
    """
    return _elementwise("add", x1, x2, "add")


def multiply(x1, x2):
    """Elementwise ``x1 * x2`` of two arrays of the same shape (no broadcasting).

    Args:
        x1 (array): the first operand (a NumPy array or array-like on the CPU, a
            DeviceArray on the GPU).
        x2 (array): the second operand, of x1's shape (cast to x1's compute dtype).

    Returns:
        Array of x1's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.multiply(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        array([3., 8.])
    """
    return _elementwise("mul", x1, x2, "multiply")


def scale(x, alpha):
    """``alpha * x`` (alpha is cast once to x's dtype).

    Args:
        x (array): input of any shape (a NumPy array or array-like on the CPU, a
            DeviceArray on the GPU).
        alpha (float): finite real scalar.

    Returns:
        Array of x's shape and compute dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.scale(np.ones(2), 3.0)
        array([3., 3.])
    """
    backend = backend_of(x)
    x = backend.prepare(x, "x", "scale")
    a = real_scalar(alpha, "alpha", "scale")
    y = backend.empty(x.shape, x.dtype)
    backend.kernels.scale(y.reshape(-1), x.reshape(-1), a)
    return y


def axpy(y, alpha, x):
    """In-place ``y += alpha * x`` (e.g. to accumulate gradients).

    Args:
        y (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        alpha (float): finite real scalar.
        x (array): array of y's shape (any real dtype and layout; cast to y's dtype).

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> y = np.array([1.0, 1.0])
        >>> ops.axpy(y, 2.0, np.array([3.0, 4.0]))  # y += 2 x, in place
        >>> y
        array([7., 9.])
    """
    backend = backend_of(y, x)
    where = "axpy"
    flat_y = backend.check_in_place(y, "y", where).reshape(-1)
    a = real_scalar(alpha, "alpha", where)
    if tuple(np.shape(x)) != y.shape:
        raise ValueError(f"{where}: argument 'x' must have the shape of 'y' {y.shape}. "
                         f"Received: shape {tuple(np.shape(x))}")
    flat_x = backend.prepare(x, "x", where, dtype=y.dtype).reshape(-1)
    if backend.shares_memory(flat_x, y):  # the kernel reads x while it writes y
        flat_x = flat_x.copy()
    backend.kernels.axpy(flat_y, a, flat_x)


def clip(x, x_min, x_max):
    """``min(max(x, x_min), x_max)`` elementwise (``keras.ops.clip``; NaN stays NaN).

    Args:
        x (array): input of any shape.
        x_min (float): finite lower bound.
        x_max (float): finite upper bound (>= x_min).

    Returns:
        Array of x's shape and compute dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.clip(np.array([-2.0, 0.5, 3.0]), -1.0, 1.0)
        array([-1. ,  0.5,  1. ])
    """
    backend = backend_of(x)
    where = "clip"
    x = backend.prepare(x, "x", where)
    low = real_scalar(x_min, "x_min", where)
    high = real_scalar(x_max, "x_max", where, low=low)
    y = backend.empty(x.shape, x.dtype)
    if x.size:
        backend.kernels.clip(y.reshape(-1), x.reshape(-1), low, high)
    return y


_SATURATING_CODES = {"linear": 0, None: 0, "relu": 1, "sigmoid": 2, "tanh": 3}


def transpose(x, axes=None):
    """``x`` with its axes permuted (``keras.ops.transpose``), as a C-contiguous array
    (``x`` itself, converted, when the permutation is the identity).

    Args:
        x (array): input of any shape.
        axes (tuple of ints or None): a permutation of ``range(x.ndim)``; None reverses the
            axes.

    Returns:
        The transposed array, in x's compute dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.transpose(np.arange(6.0).reshape(2, 3)).shape
        (3, 2)
    """
    backend = backend_of(x)
    where = "transpose"
    x = backend.prepare(x, "x", where)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    try:
        perm = tuple(int(a) % x.ndim for a in axes) if x.ndim else tuple(axes)
    except TypeError:
        perm = None
    if perm is None or sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"{where}: argument 'axes' must be a permutation of the {x.ndim} "
                         f"axes of x (shape {x.shape}). Received: axes={axes!r}")
    return backend.transpose(x, perm)


def summary_statistics(x, activation=None):
    """Mean, standard deviation and saturated fraction of all values of ``x``, in one
    pass (minidl extension; the training diagnostics of
    :class:`minidl.callbacks.LayerStatistics` use it).

    Args:
        x (array): non-empty real array of any shape (float64 stays float64, everything else
            is read as float32); the statistics are accumulated in double.
        activation (str or None): ``None``/``'linear'``, ``'relu'``, ``'sigmoid'`` or
            ``'tanh'``: the activation whose *output* ``x`` is. The saturated fraction
            counts the values at which that activation's derivative is below 1% of its
            maximum (sigmoid: ``y (1 - y) < 0.0025``; tanh: ``1 - y**2 < 0.01``; relu:
            ``y <= 0``).

    Returns:
        ``(mean, std, saturated_fraction)`` as Python floats: the population standard
        deviation (ddof 0), and ``None`` for the fraction when ``activation`` is linear.
        Bit-identical for every thread count.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.summary_statistics(np.array([-1.0, 0.0, 1.0, 2.0]), activation="relu")
        (0.5, 1.118033988749895, 0.5)
    """
    backend = backend_of(x)
    where = "summary_statistics"
    if activation not in _SATURATING_CODES:
        valid = ", ".join(repr(name) for name in _SATURATING_CODES)
        raise ValueError(f"{where}: argument 'activation' must be one of {valid}. "
                         f"Received: activation={activation!r}")
    flat = backend.prepare(x, "x", where).reshape(-1)
    if flat.size == 0:
        raise ValueError(f"{where}: argument 'x' must not be empty. Received: shape "
                         f"{np.shape(x)}")
    code = _SATURATING_CODES[activation]
    mean, variance, saturated = backend.require("summary_stats", where)(flat, code)
    return mean, variance ** 0.5, (saturated if code else None)
