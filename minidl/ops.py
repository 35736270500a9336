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


def _pool_args(x_shape, pool_size, strides, padding, where):
    """Validate pooling arguments for an NHWC input shape.

    Returns:
        (pool, stride, padding, output_shape): two 2-tuples, the lower-case padding and
        the NHWC output shape.
    """
    pool = _positive_tuple(pool_size, 2, "pool_size", where)
    stride = pool if strides is None else _positive_tuple(strides, 2, "strides", where)
    pad = _padding(padding, where)
    height, width = x_shape[1], x_shape[2]
    if pad == "valid" and (pool[0] > height or pool[1] > width):
        raise ValueError(f"{where}: argument 'pool_size' {pool} is larger than the input's "
                         f"spatial size {(height, width)} with padding='valid'; received "
                         f"input shape {tuple(x_shape)}")
    out_shape = (x_shape[0], _output_length(height, pool[0], stride[0], pad),
                 _output_length(width, pool[1], stride[1], pad), x_shape[3])
    return pool, stride, pad, out_shape


def _pool_input(inputs, where):
    """The rank-4, non-empty NHWC input of a pooling op as a contiguous float array."""
    x = _prepare(inputs, "inputs", where)
    _require_ndim(x, 4, "inputs", where)
    _require_nonempty(x, "inputs", where)
    return x


def _pool_input_shape(input_shape, where):
    """Validate the ``input_shape`` argument of a pooling backward op (4 positive ints)."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) != 4 or not all(isinstance(v, numbers.Integral) and
                                  not isinstance(v, bool) and v > 0 for v in shape):
        raise ValueError(f"{where}: argument 'input_shape' must be a tuple of 4 positive "
                         f"ints (batch, height, width, channels), received {input_shape!r}")
    return tuple(int(v) for v in shape)


def _pool_dy(dy, input_shape, pool_size, strides, padding, where):
    """Validate dy and the geometry of a pooling backward op.

    Returns:
        (dy, input_shape, pool, stride, padding): dy as a contiguous float array.
    """
    dy = _prepare(dy, "dy", where)
    _require_ndim(dy, 4, "dy", where)
    shape = _pool_input_shape(input_shape, where)
    pool, stride, pad, out_shape = _pool_args(shape, pool_size, strides, padding, where)
    if dy.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape} (the output "
                         f"of pooling an input of shape {shape} with pool_size={pool}, "
                         f"strides={stride}, padding='{pad}'), received shape {dy.shape}")
    return dy, shape, pool, stride, pad


def _max_pool(inputs, pool_size, strides, padding, where, want_argmax):
    """Shared body of max_pool and max_pool_with_argmax: (y, argmax or None)."""
    x = _pool_input(inputs, where)
    pool, stride, pad, out_shape = _pool_args(x.shape, pool_size, strides, padding, where)
    y = np.empty(out_shape, dtype=x.dtype)
    argmax = np.empty(out_shape, dtype=np.int64) if want_argmax else None
    _backend(x).maxpool2d_forward(y, argmax, x, pool, stride, pad)
    return y, argmax


def max_pool(inputs, pool_size, strides=None, padding="valid"):
    """Max pooling over the spatial axes of an NHWC batch (Keras/TensorFlow semantics).

    Args:
        inputs: array of shape (batch, height, width, channels).
        pool_size: int or (pool_height, pool_width).
        strides: int, (stride_height, stride_width) or None (then equal to pool_size).
        padding: 'valid' or 'same'. With 'same' the output is ceil(size / stride) and the
            odd padded pixel goes bottom/right; padded cells are never picked.

    Returns:
        Array of shape (batch, out_height, out_width, channels), float32 or float64.
    """
    return _max_pool(inputs, pool_size, strides, padding, "max_pool", False)[0]


def max_pool_with_argmax(inputs, pool_size, strides=None, padding="valid"):
    """Max pooling that also returns where each maximum came from.

    Ties pick the first maximum in row-major window order. Unlike
    ``tf.nn.max_pool_with_argmax``, the index is ``h * width + w`` within the cell's own
    image and channel (neither batch nor channel is folded in).

    Args:
        inputs: array of shape (batch, height, width, channels).
        pool_size: int or (pool_height, pool_width).
        strides: int, (stride_height, stride_width) or None (then equal to pool_size).
        padding: 'valid' or 'same'.

    Returns:
        (y, argmax): y of shape (batch, out_height, out_width, channels) and argmax, int64
        of the same shape, for ``max_pool_backward``.
    """
    return _max_pool(inputs, pool_size, strides, padding, "max_pool_with_argmax", True)


def max_pool_backward(dy, argmax, input_shape, pool_size, strides=None, padding="valid"):
    """Gradient of ``max_pool`` with respect to its input.

    Each output gradient goes to the input cell its window picked (gradients add up where
    windows overlap, i.e. stride < pool_size).

    Args:
        dy: gradient of the loss with respect to the output, (batch, out_h, out_w, channels).
        argmax: the int64 indices returned by ``max_pool_with_argmax`` (same shape as dy).
        input_shape: the forward input's shape (batch, height, width, channels).
        pool_size: int or (pool_height, pool_width), as in the forward pass.
        strides: int, 2-tuple or None, as in the forward pass.
        padding: 'valid' or 'same', as in the forward pass.

    Returns:
        dx, the gradient with respect to the input, of shape ``input_shape``.
    """
    where = "max_pool_backward"
    dy, shape, pool, stride, pad = _pool_dy(dy, input_shape, pool_size, strides, padding,
                                            where)
    if not isinstance(argmax, np.ndarray):
        argmax = np.asarray(argmax)
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"{where}: argument 'argmax' must be an integer array, "
                        f"received dtype {argmax.dtype}")
    if argmax.shape != dy.shape:
        raise ValueError(f"{where}: argument 'argmax' must have the shape of 'dy' "
                         f"{dy.shape}, received shape {argmax.shape}")
    argmax = np.ascontiguousarray(argmax, dtype=np.int64)
    dx = np.empty(shape, dtype=dy.dtype)
    _backend(dy).maxpool2d_backward(dx, dy, argmax, pool, stride, pad)
    return dx


def average_pool(inputs, pool_size, strides=None, padding="valid"):
    """Average pooling over the spatial axes of an NHWC batch (Keras/TensorFlow semantics).

    Args:
        inputs: array of shape (batch, height, width, channels).
        pool_size: int or (pool_height, pool_width).
        strides: int, (stride_height, stride_width) or None (then equal to pool_size).
        padding: 'valid' or 'same'. With 'same' padded cells are left out of the mean
            (each window is divided by its number of real cells).

    Returns:
        Array of shape (batch, out_height, out_width, channels), float32 or float64.
    """
    where = "average_pool"
    x = _pool_input(inputs, where)
    pool, stride, pad, out_shape = _pool_args(x.shape, pool_size, strides, padding, where)
    y = np.empty(out_shape, dtype=x.dtype)
    _backend(x).avgpool2d_forward(y, x, pool, stride, pad)
    return y


def average_pool_backward(dy, input_shape, pool_size, strides=None, padding="valid"):
    """Gradient of ``average_pool`` with respect to its input.

    Args:
        dy: gradient of the loss with respect to the output, (batch, out_h, out_w, channels).
        input_shape: the forward input's shape (batch, height, width, channels).
        pool_size: int or (pool_height, pool_width), as in the forward pass.
        strides: int, 2-tuple or None, as in the forward pass.
        padding: 'valid' or 'same', as in the forward pass.

    Returns:
        dx, the gradient with respect to the input, of shape ``input_shape``.
    """
    where = "average_pool_backward"
    dy, shape, pool, stride, pad = _pool_dy(dy, input_shape, pool_size, strides, padding,
                                            where)
    dx = np.empty(shape, dtype=dy.dtype)
    _backend(dy).avgpool2d_backward(dx, dy, pool, stride, pad)
    return dx


# ---------------------------------------------------------------- batch normalization (batchnorm.c)


# ---------------------------------------------------------------- activations (activations.c)


# ---------------------------------------------------------------- losses (loss.c)


# ---------------------------------------------------------------- optimizer updates (optim.c)


# ---------------------------------------------------------------- tensor ops (tensor_ops.c)


# ---------------------------------------------------------------- image ops (image.c)

