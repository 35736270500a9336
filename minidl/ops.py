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


def _bn_axis(axis, ndim, where):
    """A channel axis as a non-negative int, or a ValueError naming the op."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"{where}: argument 'axis' must be an int, received {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{where}: argument 'axis' must be in [{-ndim}, {ndim}) for an "
                         f"input of rank {ndim}, received {axis}")
    return int(axis) % ndim


def _bn_number(value, name, where, low, high=None):
    """A finite real number in [low, high] (high None: unbounded) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: argument '{name}' must be a real number, "
                        f"received {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < low or (high is not None and value > high):
        wanted = f"in [{low}, {high}]" if high is not None else f"a finite number >= {low}"
        raise ValueError(f"{where}: argument '{name}' must be {wanted}, received {value!r}")
    return value


def _bn_input(x, where, axis, name="x"):
    """x with its channel axis moved last, as a C-contiguous (rows, channels) array.

    Returns (x2d, moved_shape, axis) where moved_shape is the shape after the move.
    """
    if np.ndim(x) == 0 and not isinstance(x, (str, bytes)):
        raise ValueError(f"{where}: argument '{name}' must have rank >= 1, "
                         f"received shape () (rank 0)")
    x = _prepare(x, name, where)
    _require_nonempty(x, name, where)
    axis = _bn_axis(axis, x.ndim, where)
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    return moved.reshape(-1, moved.shape[-1]), moved.shape, axis


def _bn_like_input(dy, x2d, moved_shape, axis, where):
    """dy laid out like _bn_input's x2d, or a ValueError unless it has the shape of x."""
    dy = _prepare(dy, "dy", where, x2d.dtype)
    x_shape = moved_shape[:axis] + moved_shape[-1:] + moved_shape[axis:-1]
    if dy.shape != x_shape:
        raise ValueError(f"{where}: argument 'dy' must have the shape of 'x' {x_shape}, "
                         f"received shape {dy.shape}")
    return np.ascontiguousarray(np.moveaxis(dy, axis, -1)).reshape(x2d.shape)


def _bn_output(y2d, moved_shape, axis):
    """Undo _bn_input's move: y (rows, channels) back to the input's layout."""
    y = y2d.reshape(moved_shape)
    if axis == len(moved_shape) - 1:
        return y
    return np.ascontiguousarray(np.moveaxis(y, -1, axis))


def _bn_vector(v, name, where, channels, dtype, optional=True):
    """A per-channel vector of ``channels`` values as a C-contiguous 1-D array.

    Shapes (channels,) and broadcastable ones such as (1, 1, 1, channels) are accepted.
    None passes through when ``optional``.
    """
    if v is None:
        if optional:
            return None
        raise TypeError(f"{where}: argument '{name}' must be an array of shape "
                        f"({channels},), received None")
    v = _prepare(v, name, where, dtype)
    if v.size != channels or sum(1 for d in v.shape if d != 1) > 1:
        raise ValueError(f"{where}: argument '{name}' must have shape ({channels},) (one "
                         f"value per channel), received shape {v.shape}")
    return v.reshape(channels)


def _bn_nonnegative_variance(variance, epsilon, name, where):
    """ValueError when variance + epsilon < 0 for some channel (NaN passes)."""
    if np.any(variance.astype(np.float64) + epsilon < 0):
        raise ValueError(f"{where}: argument '{name}' must be >= -epsilon "
                         f"({-epsilon}) in every channel, received minimum "
                         f"{float(np.nanmin(variance))}")


def _bn_moving(v, name, where, channels, dtype):
    """Check a moving statistic that is updated in place (None: no update)."""
    if v is None:
        return None
    if not isinstance(v, np.ndarray):
        raise TypeError(f"{where}: argument '{name}' must be a NumPy array (it is updated "
                        f"in place), received {type(v).__name__}")
    if v.dtype != dtype:
        raise TypeError(f"{where}: argument '{name}' must have dtype "
                        f"{np.dtype(dtype).name} (the compute dtype of 'x'; it is updated "
                        f"in place), received dtype {v.dtype}")
    if v.shape != (channels,):
        raise ValueError(f"{where}: argument '{name}' must have shape ({channels},), "
                         f"received shape {v.shape}")
    if not v.flags.c_contiguous or not v.flags.writeable:
        raise ValueError(f"{where}: argument '{name}' must be a writable C-contiguous "
                         f"array (it is updated in place), received "
                         f"{'a read-only' if not v.flags.writeable else 'a non-contiguous'} "
                         f"array")
    return v


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and biased variance of ``x`` over ``axes`` (``keras.ops.moments``).

    The statistics are accumulated in double precision with a fixed summation order
    (bit-identical for any thread count).

    Args:
        x: input array (non-empty).
        axes: an int or a sequence of ints, the axes to reduce (negative counts from
            the end; ``()`` reduces nothing and gives variance 0).
        keepdims: keep the reduced axes with length 1.
        synchronized: accepted for Keras compatibility; minidl runs on one device, so
            it has no effect.

    Returns:
        ``(mean, variance)``, two arrays of x's compute dtype with the shape of ``x``
        without (or, with ``keepdims``, with length 1 on) the reduced axes.
    """
    where = "moments"
    scalar = np.ndim(x) == 0 and not isinstance(x, (str, bytes))
    x = _prepare(x, "x", where)
    if scalar:
        x = x.reshape(())  # _prepare returns at least 1-D
    _require_nonempty(x, "x", where)
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = (axes,)
    try:
        axes = tuple(axes)
    except TypeError:
        axes = None
    if axes is None or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                               for a in axes):
        raise ValueError(f"{where}: argument 'axes' must be an int or a sequence of ints, "
                         f"received {axes!r}")
    if any(not -x.ndim <= a < x.ndim for a in axes):
        raise ValueError(f"{where}: argument 'axes' must be in [{-x.ndim}, {x.ndim}) for "
                         f"an input of shape {x.shape}, received {axes}")
    axes = tuple(int(a) % x.ndim for a in axes) if x.ndim else ()
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: argument 'axes' must not repeat an axis, received {axes}")
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    moved = np.ascontiguousarray(np.transpose(x, axes + kept))
    channels = int(np.prod([x.shape[a] for a in kept], dtype=np.int64))
    x2d = moved.reshape(-1, channels)
    mean = np.empty(channels, dtype=x.dtype)
    variance = np.empty(channels, dtype=x.dtype)
    _backend(x).moments(mean, variance, x2d)
    if keepdims:
        shape = tuple(1 if a in axes else x.shape[a] for a in range(x.ndim))
    else:
        shape = tuple(x.shape[a] for a in kept)
    return mean.reshape(shape), variance.reshape(shape)


def batch_normalization(x, mean, variance, axis=-1, offset=None, scale=None, epsilon=1e-3):
    """Normalise ``x`` with given statistics (``keras.ops.batch_normalization``).

    ``y = (x - mean) * scale / sqrt(variance + epsilon) + offset`` along ``axis``; this
    is the inference forward of batch normalization. Where ``variance + epsilon`` is
    exactly 0 the channel's output is ``offset`` (the limit for a constant channel).

    Args:
        x: input array, channels on ``axis``.
        mean: per-channel mean, shape ``(channels,)``.
        variance: per-channel variance, shape ``(channels,)``; ``variance + epsilon``
            must not be negative.
        axis: the channel axis (default: last).
        offset: per-channel offset (beta), or None for 0.
        scale: per-channel scale (gamma), or None for 1.
        epsilon: a small number >= 0 added to the variance.

    Returns:
        The normalised array, same shape as ``x``, in x's compute dtype.
    """
    where = "batch_normalization"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    epsilon = _bn_number(epsilon, "epsilon", where, 0.0)
    mean = _bn_vector(mean, "mean", where, channels, dtype, optional=False)
    variance = _bn_vector(variance, "variance", where, channels, dtype, optional=False)
    _bn_nonnegative_variance(variance, epsilon, "variance", where)
    offset = _bn_vector(offset, "offset", where, channels, dtype)
    scale = _bn_vector(scale, "scale", where, channels, dtype)
    y = np.empty_like(x2d)
    _backend(x2d).batchnorm_forward_infer(y, x2d, mean, variance, scale, offset, epsilon)
    return _bn_output(y, moved_shape, axis)


def batch_normalization_backward(dy, x, mean, variance, axis=-1, scale=None, epsilon=1e-3):
    """Gradients of :func:`batch_normalization` with the statistics held constant.

    ``dx = dy * scale / sqrt(variance + epsilon)``, ``dscale = sum(dy * xhat)``,
    ``doffset = sum(dy)`` with ``xhat = (x - mean) / sqrt(variance + epsilon)``, the
    sums over every axis but ``axis``. No gradients flow to ``mean`` or ``variance``.

    Args:
        dy: gradient of the loss with respect to the output, shape of ``x``.
        x: the forward input.
        mean: per-channel mean used by the forward pass, shape ``(channels,)``.
        variance: per-channel variance used by the forward pass.
        axis: the channel axis (default: last).
        scale: per-channel scale of the forward pass, or None for 1.
        epsilon: the forward pass's epsilon.

    Returns:
        ``(dx, dscale, doffset)``: dx with the shape of ``x``; dscale and doffset of
        shape ``(channels,)`` (computed even when the forward pass had no scale or
        offset), all in x's compute dtype.
    """
    where = "batch_normalization_backward"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    dy2d = _bn_like_input(dy, x2d, moved_shape, axis, where)
    epsilon = _bn_number(epsilon, "epsilon", where, 0.0)
    mean = _bn_vector(mean, "mean", where, channels, dtype, optional=False)
    variance = _bn_vector(variance, "variance", where, channels, dtype, optional=False)
    _bn_nonnegative_variance(variance, epsilon, "variance", where)
    scale = _bn_vector(scale, "scale", where, channels, dtype)
    dx = np.empty_like(x2d)
    dscale = np.empty(channels, dtype=dtype)
    doffset = np.empty(channels, dtype=dtype)
    _backend(x2d).batchnorm_backward_infer(dx, dscale, doffset, dy2d, x2d, mean, variance,
                                           scale, epsilon)
    return _bn_output(dx, moved_shape, axis), dscale, doffset


def batch_norm_train(x, scale, offset, moving_mean, moving_variance, momentum=0.99,
                     epsilon=1e-3, axis=-1):
    """Training forward of batch normalization, with the Keras 3 moving-statistics update.

    Normalises ``x`` with its own per-channel batch mean and biased batch variance
    (over every axis but ``axis``): ``y = (x - mean) * scale / sqrt(var + epsilon) +
    offset``. When given, the moving statistics are updated in place:
    ``moving = moving * momentum + batch_stat * (1 - momentum)`` (the biased variance
    is stored, as Keras 3 does).

    Args:
        x: input array, channels on ``axis`` (e.g. (N, C) or NHWC).
        scale: per-channel gamma of shape ``(channels,)``, or None (scale=False: 1).
        offset: per-channel beta of shape ``(channels,)``, or None (center=False: 0).
        moving_mean: None (no update), or a writable C-contiguous NumPy array of x's
            compute dtype and shape ``(channels,)``, updated in place.
        moving_variance: like ``moving_mean``.
        momentum: a number in [0, 1].
        epsilon: a number >= 0 added to the variance.
        axis: the channel axis (default: last).

    Returns:
        ``(y, batch_mean, batch_variance)``: y with the shape of ``x``, the batch
        statistics of shape ``(channels,)`` (the saved state for
        :func:`batch_norm_train_backward`), all in x's compute dtype.
    """
    where = "batch_norm_train"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    momentum = _bn_number(momentum, "momentum", where, 0.0, 1.0)
    epsilon = _bn_number(epsilon, "epsilon", where, 0.0)
    scale = _bn_vector(scale, "scale", where, channels, dtype)
    offset = _bn_vector(offset, "offset", where, channels, dtype)
    moving_mean = _bn_moving(moving_mean, "moving_mean", where, channels, dtype)
    moving_variance = _bn_moving(moving_variance, "moving_variance", where, channels, dtype)
    if (moving_mean is not None and moving_variance is not None and
            np.may_share_memory(moving_mean, moving_variance)):
        raise ValueError(f"{where}: arguments 'moving_mean' and 'moving_variance' must not "
                         f"share memory")
    y = np.empty_like(x2d)
    batch_mean = np.empty(channels, dtype=dtype)
    batch_variance = np.empty(channels, dtype=dtype)
    _backend(x2d).batchnorm_forward_train(y, batch_mean, batch_variance, moving_mean,
                                          moving_variance, x2d, scale, offset, epsilon,
                                          momentum)
    return _bn_output(y, moved_shape, axis), batch_mean, batch_variance


def batch_norm_train_backward(dy, x, batch_mean, batch_variance, scale=None, epsilon=1e-3,
                              axis=-1):
    """Gradients of :func:`batch_norm_train` (the batch statistics depend on ``x``).

    With ``xhat = (x - mean) * r``, ``r = 1 / sqrt(var + epsilon)`` and ``m`` values per
    channel: ``doffset = sum(dy)``, ``dscale = sum(dy * xhat)`` and
    ``dx = scale * r / m * (m * dy - doffset - xhat * dscale)``.

    Args:
        dy: gradient of the loss with respect to ``y``, shape of ``x``.
        x: the forward input.
        batch_mean: the batch mean returned by :func:`batch_norm_train`.
        batch_variance: the batch variance returned by :func:`batch_norm_train`.
        scale: the forward pass's gamma, or None (1).
        epsilon: the forward pass's epsilon.
        axis: the channel axis (default: last).

    Returns:
        ``(dx, dscale, doffset)``: dx with the shape of ``x``; dscale and doffset of
        shape ``(channels,)`` (computed even when the forward pass had no scale or
        offset), all in x's compute dtype.
    """
    where = "batch_norm_train_backward"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    dy2d = _bn_like_input(dy, x2d, moved_shape, axis, where)
    epsilon = _bn_number(epsilon, "epsilon", where, 0.0)
    batch_mean = _bn_vector(batch_mean, "batch_mean", where, channels, dtype, optional=False)
    batch_variance = _bn_vector(batch_variance, "batch_variance", where, channels, dtype,
                                optional=False)
    _bn_nonnegative_variance(batch_variance, epsilon, "batch_variance", where)
    scale = _bn_vector(scale, "scale", where, channels, dtype)
    dx = np.empty_like(x2d)
    dscale = np.empty(channels, dtype=dtype)
    doffset = np.empty(channels, dtype=dtype)
    _backend(x2d).batchnorm_backward_train(dx, dscale, doffset, dy2d, x2d, batch_mean,
                                           batch_variance, scale, epsilon)
    return _bn_output(dx, moved_shape, axis), dscale, doffset


# ---------------------------------------------------------------- activations (activations.c)


# ---------------------------------------------------------------- losses (loss.c)


# ---------------------------------------------------------------- optimizer updates (optim.c)


# ---------------------------------------------------------------- tensor ops (tensor_ops.c)


# ---------------------------------------------------------------- image ops (image.c)

