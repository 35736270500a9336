"""Backend-neutral functional ops: the only layer that knows which backend holds an array.

Names and signatures follow ``keras.ops`` where Keras has the op. Every forward op has a
documented backward companion (``*_backward``) that returns the gradients of a scalar
loss with respect to the op's inputs, given the gradient ``dy`` of its output.

Dtypes: when the primary input is float64 the op runs in float64; every other input
(ints, bools, float16, float32, ...) is computed in float32. Secondary inputs are cast
to the primary input's dtype. Complex, object and non-numeric arrays raise ``TypeError``.
Arrays may be non-contiguous or read-only: they are copied when needed, never misread.
"""
import numbers

import numpy as np

from minidl import _C

# ---------------------------------------------------------------- shared helpers


def _backend(*arrays):
    """The compiled module that computes on these arrays (the CPU core for NumPy)."""
    return _C


def _compute_dtype(x):
    """float64 stays float64; everything else is computed in float32."""
    return np.float64 if np.asarray(x).dtype == np.float64 else np.float32


def _prepare(x, name, where, dtype=None):
    """``x`` as a C-contiguous float32/float64 array, or a TypeError naming the argument.

    Args:
        x: array-like input.
        name: the argument's name, for the error message.
        where: the op's name, for the error message.
        dtype: force this dtype (the primary input's); default: the compute dtype of x.
    """
    if isinstance(x, np.ndarray):
        array = x
    else:
        try:
            array = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: argument '{name}' must be a numeric array, "
                            f"received {type(x).__name__}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: argument '{name}' must be a real numeric array, "
                        f"received dtype {array.dtype}")
    target = dtype if dtype is not None else _compute_dtype(array)
    return np.ascontiguousarray(array, dtype=target)


def _require_ndim(array, ndims, name, where):
    """Raise ValueError unless array.ndim is one of ``ndims``."""
    if isinstance(ndims, int):
        ndims = (ndims,)
    if array.ndim not in ndims:
        wanted = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{where}: argument '{name}' must have rank {wanted}, "
                         f"received shape {array.shape} (rank {array.ndim})")


def _require_nonempty(array, name, where):
    """Raise ValueError for an array with a zero-length axis (an empty batch)."""
    if array.size == 0:
        raise ValueError(f"{where}: argument '{name}' must not be empty, "
                         f"received shape {array.shape}")


def _positive_tuple(value, n, name, where):
    """An int or a length-n sequence of positive ints as an n-tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        items = (int(value),) * n
    else:
        try:
            items = tuple(value)
        except TypeError:
            items = ()
        if len(items) != n or not all(isinstance(v, numbers.Integral) and
                                      not isinstance(v, bool) for v in items):
            raise ValueError(f"{where}: argument '{name}' must be an int or a tuple of "
                             f"{n} ints, received {value!r}")
        items = tuple(int(v) for v in items)
    if any(v <= 0 for v in items):
        raise ValueError(f"{where}: argument '{name}' must be positive, received {value!r}")
    return items


def _padding(padding, where):
    """Validate a padding string and return it in lower case."""
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{where}: argument 'padding' must be 'valid' or 'same', "
                         f"received {padding!r}")
    return padding.lower()


def _output_length(length, window, stride, padding):
    """Keras/TensorFlow output length of one spatial axis."""
    if padding == "same":
        return -(-length // stride)
    return (length - window) // stride + 1


# ---------------------------------------------------------------- matmul (gemm.c)


# ---------------------------------------------------------------- convolution (conv2d.c)


# ---------------------------------------------------------------- pooling (pool2d.c)


# ---------------------------------------------------------------- batch normalization (batchnorm.c)


# ---------------------------------------------------------------- activations (activations.c)


# ---------------------------------------------------------------- losses (loss.c)


# ---------------------------------------------------------------- optimizer updates (optim.c)


def _optim_scalar(value, name, where, low=None, high=None, high_open=False):
    """A finite real scalar argument as a float, optionally inside [low, high] (or
    [low, high) when ``high_open``); TypeError/ValueError naming the argument otherwise."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: argument '{name}' must be a real number, "
                        f"received {value!r}")
    result = float(value)
    if not np.isfinite(result):
        raise ValueError(f"{where}: argument '{name}' must be finite, received {value!r}")
    too_low = low is not None and result < low
    too_high = high is not None and (result > high or (high_open and result == high))
    if too_low or too_high:
        interval = f"[{low}, {high}{')' if high_open else ']'}" if high is not None \
            else f">= {low}"
        raise ValueError(f"{where}: argument '{name}' must be in {interval}, "
                         f"received {value!r}")
    return result


def _optim_inplace(array, name, where, like=None):
    """Check an array that a kernel updates in place: a writable, C-contiguous float32 or
    float64 ndarray (of ``like``'s dtype and shape when given). Returns its flat view.

    Never copies: a copy would be updated instead of the caller's array.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{where}: argument '{name}' must be a NumPy array (it is updated "
                        f"in place), received {type(array).__name__}")
    if like is None:
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(f"{where}: argument '{name}' must be a float32 or float64 array "
                            f"(it is updated in place), received dtype {array.dtype}")
    else:
        if array.dtype != like.dtype:
            raise TypeError(f"{where}: argument '{name}' must have the dtype of the variable "
                            f"({like.dtype}), received dtype {array.dtype}")
        if array.shape != like.shape:
            raise ValueError(f"{where}: argument '{name}' must have the shape of the variable "
                             f"{like.shape}, received shape {array.shape}")
    if not array.flags.writeable:
        raise ValueError(f"{where}: argument '{name}' must be writable (it is updated in "
                         f"place), received a read-only array")
    if not array.flags.c_contiguous:
        raise ValueError(f"{where}: argument '{name}' must be C-contiguous (it is updated in "
                         f"place), received strides {array.strides} for shape {array.shape}")
    return array.reshape(-1)


def _optim_arrays(where, variable, gradient, states):
    """Validate an update's arrays. ``states`` maps argument names to state arrays or None.

    Returns the flat variable, the flat gradient (cast to the variable's dtype, copied
    when it overlaps an updated array) and a dict of flat states (None stays None).
    """
    var = _optim_inplace(variable, "variable", where)
    flat = {name: (None if array is None else _optim_inplace(array, name, where, variable))
            for name, array in states.items()}
    updated = [("variable", variable)] + [(n, a) for n, a in states.items() if a is not None]
    for i, (name_a, a) in enumerate(updated):
        for name_b, b in updated[i + 1:]:
            if np.may_share_memory(a, b):
                raise ValueError(f"{where}: arguments '{name_a}' and '{name_b}' must be "
                                 f"separate arrays, received arrays that share memory")
    grad_shape = np.shape(gradient)
    if grad_shape != variable.shape:
        raise ValueError(f"{where}: argument 'gradient' must have the shape of the variable "
                         f"{variable.shape}, received shape {grad_shape}")
    grad = _prepare(gradient, "gradient", where, dtype=variable.dtype).reshape(-1)
    if any(np.may_share_memory(grad, a) for _, a in updated):
        grad = grad.copy()
    return var, grad, flat


def sgd_update(variable, gradient, velocity=None, learning_rate=0.01, momentum=0.0,
               nesterov=False):
    """One SGD step (Keras 3 ``SGD``), updating ``variable`` and ``velocity`` in place.

    ``momentum == 0``: ``variable -= learning_rate * gradient``. Otherwise
    ``velocity = momentum * velocity - learning_rate * gradient`` and
    ``variable += velocity`` (or, with Nesterov,
    ``variable += momentum * velocity - learning_rate * gradient``).

    Args:
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (any real dtype and layout; cast).
        velocity: the momentum buffer (variable's dtype and shape, writable,
            C-contiguous), updated in place; required when ``momentum != 0``.
        learning_rate: finite float.
        momentum: float in [0, 1].
        nesterov: whether to use Nesterov momentum.

    Returns:
        None.
    """
    where = "sgd_update"
    lr = _optim_scalar(learning_rate, "learning_rate", where)
    mom = _optim_scalar(momentum, "momentum", where, 0.0, 1.0)
    if mom != 0.0 and velocity is None:
        raise ValueError(f"{where}: argument 'velocity' is required when momentum != 0, "
                         f"received None (momentum={momentum!r})")
    var, grad, s = _optim_arrays(where, variable, gradient, {"velocity": velocity})
    _backend(variable).sgd_update(var, s["velocity"], grad, lr, mom, bool(nesterov))


def rmsprop_update(variable, gradient, velocity, learning_rate=0.001, rho=0.9, momentum=0.0,
                   epsilon=1e-7, centered=False, average_gradient=None, momentum_buffer=None):
    """One RMSprop step (Keras 3 ``RMSprop``), updating the variable and state in place.

    ``velocity = rho * velocity + (1 - rho) * gradient**2``; centered:
    ``average_gradient = rho * average_gradient + (1 - rho) * gradient`` and
    ``denominator = velocity - average_gradient**2 + epsilon``, else
    ``denominator = velocity + epsilon``;
    ``increment = learning_rate * gradient / sqrt(denominator)``; with momentum
    ``momentum_buffer = momentum * momentum_buffer + increment`` and
    ``variable -= momentum_buffer``, else ``variable -= increment``.

    Args:
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (any real dtype and layout; cast).
        velocity: running mean of squared gradients (variable's dtype and shape, writable,
            C-contiguous), updated in place.
        learning_rate: finite float.
        rho: discounting factor in [0, 1].
        momentum: float >= 0.
        epsilon: float >= 0, added inside the square root.
        centered: normalise by the estimated variance instead of the second moment.
        average_gradient: running mean of gradients, updated in place; required when
            ``centered``.
        momentum_buffer: momentum accumulator, updated in place; required when
            ``momentum > 0``.

    Returns:
        None.
    """
    where = "rmsprop_update"
    lr = _optim_scalar(learning_rate, "learning_rate", where)
    rho_ = _optim_scalar(rho, "rho", where, 0.0, 1.0)
    mom = _optim_scalar(momentum, "momentum", where, 0.0)
    eps = _optim_scalar(epsilon, "epsilon", where, 0.0)
    if velocity is None:
        raise ValueError(f"{where}: argument 'velocity' is required, received None")
    if centered and average_gradient is None:
        raise ValueError(f"{where}: argument 'average_gradient' is required when "
                         f"centered=True, received None")
    if mom > 0.0 and momentum_buffer is None:
        raise ValueError(f"{where}: argument 'momentum_buffer' is required when momentum > 0, "
                         f"received None (momentum={momentum!r})")
    var, grad, s = _optim_arrays(where, variable, gradient,
                                 {"velocity": velocity, "average_gradient": average_gradient,
                                  "momentum_buffer": momentum_buffer})
    _backend(variable).rmsprop_update(var, s["velocity"], s["average_gradient"],
                                      s["momentum_buffer"], grad, lr, rho_, mom, eps,
                                      bool(centered))


def adam_update(variable, gradient, m, v, step, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                epsilon=1e-7, vhat=None, weight_decay=0.0):
    """One Adam / AdamW step (Keras 3 ``Adam``/``AdamW``), updating in place.

    With ``t = step`` and ``alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)``:
    ``m += (gradient - m) * (1 - beta_1)``, ``v += (gradient**2 - v) * (1 - beta_2)``,
    amsgrad (``vhat`` given): ``vhat = maximum(vhat, v)`` is used instead of ``v``;
    ``variable -= alpha * m / (sqrt(v) + epsilon)``. ``weight_decay > 0`` (AdamW) first
    applies ``variable -= variable * weight_decay * learning_rate``.

    Args:
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (any real dtype and layout; cast).
        m: first-moment estimate (variable's dtype and shape, writable, C-contiguous),
            updated in place.
        v: second-moment estimate, updated in place.
        step: the 1-based number of this step (Keras' ``iterations + 1``).
        learning_rate: finite float.
        beta_1: float in [0, 1).
        beta_2: float in [0, 1).
        epsilon: float >= 0.
        vhat: running maximum of ``v`` (amsgrad), updated in place; None disables amsgrad.
        weight_decay: float >= 0, decoupled weight decay (AdamW).

    Returns:
        None.
    """
    where = "adam_update"
    lr = _optim_scalar(learning_rate, "learning_rate", where)
    b1 = _optim_scalar(beta_1, "beta_1", where, 0.0, 1.0, high_open=True)
    b2 = _optim_scalar(beta_2, "beta_2", where, 0.0, 1.0, high_open=True)
    eps = _optim_scalar(epsilon, "epsilon", where, 0.0)
    wd = _optim_scalar(weight_decay, "weight_decay", where, 0.0)
    if isinstance(step, np.ndarray) and step.ndim == 0 and step.dtype.kind in "iu":
        step = step.item()
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral):
        raise TypeError(f"{where}: argument 'step' must be an integer, received {step!r}")
    if step < 1:
        raise ValueError(f"{where}: argument 'step' must be >= 1 (the first step is 1), "
                         f"received {step!r}")
    if m is None or v is None:
        raise ValueError(f"{where}: arguments 'm' and 'v' are required, received None")
    var, grad, s = _optim_arrays(where, variable, gradient, {"m": m, "v": v, "vhat": vhat})
    _backend(variable).adam_update(var, s["m"], s["v"], s["vhat"], grad, lr, b1, b2, eps,
                                   int(step), wd)



# ---------------------------------------------------------------- tensor ops (tensor_ops.c)


def _tops_array(x, name, where, dtype=None):
    """``_prepare`` that keeps 0-d arrays 0-d (ascontiguousarray makes them 1-d)."""
    array = _prepare(x, name, where, dtype)
    shape = x.shape if isinstance(x, np.ndarray) else np.shape(x)
    return array.reshape(shape) if array.shape != shape else array


def _tops_same_shape(x1, x2, where):
    """Raise ValueError unless two operands have the same shape (no broadcasting)."""
    if x1.shape != x2.shape:
        raise ValueError(f"{where}: arguments 'x1' and 'x2' must have the same shape "
                         f"(no broadcasting), received shapes {x1.shape} and {x2.shape}")


def _tops_axes(axis, ndim, where):
    """Normalise keras.ops ``axis`` (None, an int or a sequence of ints; negative counts
    from the end) to a sorted tuple of distinct axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral) and not isinstance(axis, (bool, np.bool_)):
        items = (axis,)
    elif isinstance(axis, (tuple, list)):
        items = tuple(axis)
        if not all(isinstance(a, numbers.Integral) and not isinstance(a, (bool, np.bool_))
                   for a in items):
            raise TypeError(f"{where}: argument 'axis' must be None, an int or a tuple of "
                            f"ints, received {axis!r}")
    else:
        raise TypeError(f"{where}: argument 'axis' must be None, an int or a tuple of ints, "
                        f"received {axis!r}")
    axes = []
    for a in items:
        if not -ndim <= a < ndim:
            raise ValueError(f"{where}: argument 'axis' {axis!r} is out of range for an "
                             f"array of rank {ndim}")
        axes.append(int(a) % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: argument 'axis' must not repeat an axis, received {axis!r}")
    return tuple(sorted(axes))


def _tops_sum3(x, outer, reduce, inner):
    """Sum of a C-contiguous x viewed as (outer, reduce, inner) over the middle axis."""
    out = np.empty((outer, inner), dtype=x.dtype)
    _backend(x).reduce_sum(out, x.reshape(outer, reduce, inner))
    return out


def bias_add(x, bias):
    """Add a bias vector along the last axis: ``x + bias``.

    Args:
        x: array of rank >= 1, shape ``(..., channels)``.
        bias: vector of length ``channels`` (cast to x's dtype).

    Returns:
        Array of x's shape.
    """
    where = "bias_add"
    x = _tops_array(x, "x", where)
    if x.ndim < 1:
        raise ValueError(f"{where}: argument 'x' must have rank >= 1, received shape "
                         f"{x.shape} (rank 0)")
    bias = _prepare(bias, "bias", where, dtype=x.dtype)
    cols = x.shape[-1]
    if bias.shape != (cols,):
        raise ValueError(f"{where}: argument 'bias' must be a vector of length "
                         f"x.shape[-1] = {cols}, received shape {bias.shape}")
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    y = np.empty_like(x)
    _backend(x).bias_add(y.reshape(rows, cols), x.reshape(rows, cols), bias)
    return y


def bias_add_backward(dy):
    """Gradient of ``bias_add`` with respect to the bias.

    The gradient with respect to x is ``dy`` itself.

    Args:
        dy: gradient of the output, rank >= 1, shape ``(..., channels)``.

    Returns:
        ``dbias`` of shape ``(channels,)``: dy summed over every axis but the last.
    """
    where = "bias_add_backward"
    dy = _tops_array(dy, "dy", where)
    if dy.ndim < 1:
        raise ValueError(f"{where}: argument 'dy' must have rank >= 1, received shape "
                         f"{dy.shape} (rank 0)")
    cols = dy.shape[-1]
    rows = int(np.prod(dy.shape[:-1], dtype=np.int64))
    return _tops_sum3(dy, 1, rows, cols).reshape(cols)


def sum(x, axis=None, keepdims=False):  # noqa: A001 -- keras.ops.sum
    """Sum of array elements over the given axes (``keras.ops.sum``).

    Accumulated in double; bit-identical for every thread count. Non-adjacent axes are
    gathered with one transposed copy.

    Args:
        x: array-like input.
        axis: None (every axis), an int or a tuple of ints; negative axes count from
            the end.
        keepdims: keep the reduced axes with length 1.

    Returns:
        Array of x's compute dtype (0-d when every axis is reduced without keepdims).
    """
    where = "sum"
    x = _tops_array(x, "x", where)
    axes = _tops_axes(axis, x.ndim, where)
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
        x = np.ascontiguousarray(x.transpose(order))
    return _tops_sum3(x, outer, reduce, inner).reshape(out_shape)


def add(x1, x2):
    """Elementwise ``x1 + x2`` of two arrays of the same shape (no broadcasting).

    Args:
        x1: array-like.
        x2: array-like of x1's shape (cast to x1's compute dtype).

    Returns:
        Array of x1's shape.
    """
    x1 = _tops_array(x1, "x1", "add")
    x2 = _tops_array(x2, "x2", "add", dtype=x1.dtype)
    _tops_same_shape(x1, x2, "add")
    y = np.empty_like(x1)
    _backend(x1).add(y.reshape(-1), x1.reshape(-1), x2.reshape(-1))
    return y


def multiply(x1, x2):
    """Elementwise ``x1 * x2`` of two arrays of the same shape (no broadcasting).

    Args:
        x1: array-like.
        x2: array-like of x1's shape (cast to x1's compute dtype).

    Returns:
        Array of x1's shape.
    """
    x1 = _tops_array(x1, "x1", "multiply")
    x2 = _tops_array(x2, "x2", "multiply", dtype=x1.dtype)
    _tops_same_shape(x1, x2, "multiply")
    y = np.empty_like(x1)
    _backend(x1).mul(y.reshape(-1), x1.reshape(-1), x2.reshape(-1))
    return y


def scale(x, alpha):
    """``alpha * x`` (alpha is cast once to x's dtype).

    Args:
        x: array-like.
        alpha: finite real scalar.

    Returns:
        Array of x's shape and compute dtype.
    """
    x = _tops_array(x, "x", "scale")
    a = _optim_scalar(alpha, "alpha", "scale")
    y = np.empty_like(x)
    _backend(x).scale(y.reshape(-1), x.reshape(-1), a)
    return y


def axpy(y, alpha, x):
    """In-place ``y += alpha * x`` (e.g. to accumulate gradients).

    Args:
        y: float32 or float64 array, writable and C-contiguous; updated in place.
        alpha: finite real scalar.
        x: array of y's shape (any real dtype and layout; cast to y's dtype).

    Returns:
        None.
    """
    where = "axpy"
    flat_y = _optim_inplace(y, "y", where)
    a = _optim_scalar(alpha, "alpha", where)
    if np.shape(x) != y.shape:
        raise ValueError(f"{where}: argument 'x' must have the shape of 'y' {y.shape}, "
                         f"received shape {np.shape(x)}")
    flat_x = _prepare(x, "x", where, dtype=y.dtype).reshape(-1)
    if np.may_share_memory(flat_x, y):
        flat_x = flat_x.copy()
    _backend(y).axpy(flat_y, a, flat_x)



# ---------------------------------------------------------------- image ops (image.c)

