"""Backend-neutral functional ops: the only layer that knows which backend holds an array.

Names and signatures follow ``keras.ops`` where Keras has the op. Every forward op has a
documented backward companion (``*_backward``) that returns the gradients of a scalar
loss with respect to the op's inputs, given the gradient ``dy`` of its output.

Dtypes: when the primary input is float64 the op runs in float64; every other input
(ints, bools, float16, float32, ...) is computed in float32. Secondary inputs are cast
to the primary input's dtype. Complex, object and non-numeric arrays raise ``TypeError``.
Arrays may be non-contiguous or read-only: they are copied when needed, never misread.
"""
import functools
import numbers

import numpy as np

from minidl import _C

# ---------------------------------------------------------------- device dispatch

# Array types that live on a GPU, registered by minidl.cuda once its backend is ready. A
# call with such an array among its arguments runs minidl.cuda.ops' op of the same name;
# every other call runs the NumPy/C op below, unchanged (in a CPU-only process the check
# is one truth test).
_DEVICE_ARRAY_TYPES = ()


def _dispatch(op):
    """Decorator: route ``op`` to ``minidl.cuda.ops.<its name>`` when any argument is a
    device array; otherwise call ``op`` itself."""
    name = op.__name__

    @functools.wraps(op)
    def routed(*args, **kwargs):
        types = _DEVICE_ARRAY_TYPES
        if types and (any(isinstance(a, types) for a in args) or
                      any(isinstance(v, types) for v in kwargs.values())):
            from minidl.cuda import ops as device_ops
            return getattr(device_ops, name)(*args, **kwargs)
        return op(*args, **kwargs)

    return routed


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
    # asarray keeps 0-d arrays 0-d (ascontiguousarray would make them 1-d)
    return np.asarray(array, dtype=target, order="C")


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


def _matmul_operands(x1, x2, where):
    """Validate and convert the operands of matmul: x1 (..., k), x2 (k, n) or (k,)."""
    a = _prepare(x1, "x1", where)
    b = _prepare(x2, "x2", where, dtype=a.dtype)
    if a.ndim < 1 or b.ndim not in (1, 2):
        raise ValueError(f"{where}: x1 must have rank >= 1 and x2 rank 1 or 2, received "
                         f"shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"{where}: the last axis of x1 must match the first axis of x2, "
                         f"received shapes {a.shape} and {b.shape}")
    return a, b


def _as_matrices(a, b):
    """x1 (..., k) as (rows, k) and x2 as (k, n), with explicit sizes so that empty
    operands (rows, k or n of 0) keep their shapes."""
    rows = int(np.prod(a.shape[:-1], dtype=np.int64))
    cols = b.shape[1] if b.ndim == 2 else 1
    return a.reshape(rows, a.shape[-1]), b.reshape(b.shape[0], cols)


@_dispatch
def matmul(x1, x2):
    """Matrix product ``x1 @ x2`` on minidl's packed GEMM.

    Args:
        x1: array of shape ``(..., k)``; leading axes are treated as rows, as a dense
            layer does.
        x2: array of shape ``(k, n)`` or ``(k,)``.

    Returns:
        Array of shape ``(..., n)`` (or ``(...)`` for a vector x2).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.matmul(np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]]))
        array([[11.]])
    """
    a, b = _matmul_operands(x1, x2, "matmul")
    a2, b2 = _as_matrices(a, b)
    out = np.empty((a2.shape[0], b2.shape[1]), dtype=a.dtype)
    _backend(a).gemm(False, False, a2, b2, out)
    return out.reshape(a.shape[:-1] + b.shape[1:])


@_dispatch
def matmul_backward(dy, x1, x2):
    """Gradients of ``matmul(x1, x2)``.

    Args:
        dy: gradient of the output, shape ``(..., n)`` (``(...)`` for a vector x2).
        x1: the forward input of shape ``(..., k)``.
        x2: the forward input of shape ``(k, n)`` or ``(k,)``.

    Returns:
        ``(dx1, dx2)`` with the shapes of x1 and x2: ``dx1 = dy @ x2.T`` and
        ``dx2 = x1.T @ dy`` (leading axes summed).
    """
    a, b = _matmul_operands(x1, x2, "matmul_backward")
    g = _prepare(dy, "dy", "matmul_backward", dtype=a.dtype)
    expected = a.shape[:-1] + b.shape[1:]
    if g.shape != expected:
        raise ValueError(f"matmul_backward: argument 'dy' must have shape {expected}, "
                         f"received shape {g.shape}")
    a2, b2 = _as_matrices(a, b)
    g2 = g.reshape(a2.shape[0], b2.shape[1])
    dx1 = np.empty(a2.shape, dtype=a.dtype)
    dx2 = np.empty(b2.shape, dtype=a.dtype)
    backend = _backend(a)
    backend.gemm(False, True, g2, b2, dx1)
    backend.gemm(True, False, a2, g2, dx2)
    return dx1.reshape(a.shape), dx2.reshape(b.shape)


# ---------------------------------------------------------------- convolution (conv2d.c)

_ACTIVATION_CODES = {None: 0, "linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}


def _conv_geometry(x_shape, kernel_shape, strides, padding, data_format, dilation_rate, where):
    """Check a 2-D convolution's arguments; return (strides, padding, output shape)."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: only data_format='channels_last' (NHWC) is supported, "
                         f"received {data_format!r}")
    if _positive_tuple(dilation_rate, 2, "dilation_rate", where) != (1, 1):
        raise ValueError(f"{where}: only dilation_rate=1 is supported, "
                         f"received {dilation_rate!r}")
    strides = _positive_tuple(strides, 2, "strides", where)
    padding = _padding(padding, where)
    if len(x_shape) != 4 or len(kernel_shape) != 4:
        raise ValueError(f"{where}: inputs must be rank 4 (N, H, W, C) and kernel rank 4 "
                         f"(kh, kw, in, out), received shapes {tuple(x_shape)} and "
                         f"{tuple(kernel_shape)}")
    if any(int(v) <= 0 for v in kernel_shape):
        raise ValueError(f"{where}: every kernel dimension must be positive, received "
                         f"kernel shape {tuple(kernel_shape)}")
    if x_shape[3] != kernel_shape[2]:
        raise ValueError(f"{where}: the input has {x_shape[3]} channels but the kernel "
                         f"of shape {tuple(kernel_shape)} expects {kernel_shape[2]}")
    if padding == "valid" and (kernel_shape[0] > x_shape[1] or kernel_shape[1] > x_shape[2]):
        raise ValueError(f"{where}: the kernel ({kernel_shape[0]}, {kernel_shape[1]}) is "
                         f"larger than the input ({x_shape[1]}, {x_shape[2]}) with "
                         f"padding='valid'")
    out_h = _output_length(x_shape[1], kernel_shape[0], strides[0], padding)
    out_w = _output_length(x_shape[2], kernel_shape[1], strides[1], padding)
    return strides, padding, (x_shape[0], out_h, out_w, kernel_shape[3])


@_dispatch
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, *,
         bias=None, activation=None):
    """2-D convolution of NHWC inputs with an HWIO kernel (``keras.ops.conv``).

    Args:
        inputs: array of shape ``(N, H, W, C_in)``.
        kernel: array of shape ``(kh, kw, C_in, C_out)``.
        strides: int or pair of ints.
        padding: ``"valid"`` or ``"same"`` (Keras's split: the odd pixel goes
            bottom/right).
        data_format: ``None`` or ``"channels_last"``.
        dilation_rate: only 1 is supported.
        bias: optional ``(C_out,)`` bias, added in the same pass (minidl extension).
        activation: optional ``"relu"``, ``"sigmoid"`` or ``"tanh"`` applied in the same
            pass (minidl extension).

    Returns:
        Array of shape ``(N, H_out, W_out, C_out)``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.conv(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4)), padding="same").shape
        (1, 5, 5, 4)
    """
    x = _prepare(inputs, "inputs", "conv")
    w = _prepare(kernel, "kernel", "conv", dtype=x.dtype)
    _require_ndim(x, 4, "inputs", "conv")
    _require_nonempty(x, "inputs", "conv")
    strides, padding, out_shape = _conv_geometry(x.shape, w.shape, strides, padding,
                                                 data_format, dilation_rate, "conv")
    if activation not in _ACTIVATION_CODES:
        raise ValueError(f"conv: argument 'activation' must be one of 'linear', 'relu', "
                         f"'sigmoid', 'tanh' or None, received {activation!r}")
    b = None
    if bias is not None:
        b = _prepare(bias, "bias", "conv", dtype=x.dtype)
        if b.shape != (w.shape[3],):
            raise ValueError(f"conv: argument 'bias' must have shape ({w.shape[3]},), "
                             f"received shape {b.shape}")
    y = np.empty(out_shape, dtype=x.dtype)
    _backend(x).conv2d_forward(y, x, w, b, strides[0], strides[1], padding,
                               _ACTIVATION_CODES[activation])
    return y


@_dispatch
def conv_backward(dy, inputs, kernel, strides=1, padding="valid", data_format=None,
                  dilation_rate=1, *, use_bias=False, input_gradient=True):
    """Gradients of :func:`conv` (before any fused activation).

    Args:
        dy: gradient of the convolution's output, ``(N, H_out, W_out, C_out)``.
        inputs: the forward input ``(N, H, W, C_in)``.
        kernel: the forward kernel ``(kh, kw, C_in, C_out)``.
        strides, padding, data_format, dilation_rate: as given to :func:`conv`.
        use_bias: also return the bias gradient (the sum of dy over N, H, W).
        input_gradient: compute the input gradient (False skips it, e.g. for a
            first layer).

    Returns:
        ``(dinputs, dkernel, dbias)``; ``dinputs`` is None when ``input_gradient`` is
        False and ``dbias`` is None unless ``use_bias``.
    """
    where = "conv_backward"
    x = _prepare(inputs, "inputs", where)
    w = _prepare(kernel, "kernel", where, dtype=x.dtype)
    g = _prepare(dy, "dy", where, dtype=x.dtype)
    _require_ndim(x, 4, "inputs", where)
    _require_nonempty(x, "inputs", where)
    strides, padding, out_shape = _conv_geometry(x.shape, w.shape, strides, padding,
                                                 data_format, dilation_rate, where)
    if g.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape}, "
                         f"received shape {g.shape}")
    backend = _backend(x)
    dx = None
    if input_gradient:
        dx = np.empty(x.shape, dtype=x.dtype)
        backend.conv2d_backward_input(dx, g, w, strides[0], strides[1], padding)
    dw = np.empty(w.shape, dtype=x.dtype)
    db = np.empty((w.shape[3],), dtype=x.dtype) if use_bias else None
    backend.conv2d_backward_weight(dw, db, g, x, strides[0], strides[1], padding)
    return dx, dw, db


def _transposed_length(length, window, stride, padding):
    """The output length of a transposed convolution: the input length of the
    convolution it transposes (Keras's choice when output_padding is None)."""
    if padding == "same":
        return length * stride
    return (length - 1) * stride + window


def _conv_transpose_shapes(inputs, kernel, strides, padding, data_format, dilation_rate,
                           where):
    """Checked (x, kernel, strides, padding, output shape) of a transposed convolution."""
    x = _prepare(inputs, "inputs", where)
    w = _prepare(kernel, "kernel", where, dtype=x.dtype)
    _require_ndim(x, 4, "inputs", where)
    _require_ndim(w, 4, "kernel", where)
    _require_nonempty(x, "inputs", where)
    if x.shape[3] != w.shape[3]:
        raise ValueError(f"{where}: the input has {x.shape[3]} channels but the kernel of "
                         f"shape {w.shape} (kh, kw, out, in) expects {w.shape[3]}")
    pair = _positive_tuple(strides, 2, "strides", where)
    out_shape = (x.shape[0],
                 _transposed_length(x.shape[1], w.shape[0], pair[0], _padding(padding, where)),
                 _transposed_length(x.shape[2], w.shape[1], pair[1], _padding(padding, where)),
                 w.shape[2])
    # the convolution this one transposes maps out_shape back to x's shape
    strides, padding, back = _conv_geometry(out_shape, w.shape, strides, padding,
                                            data_format, dilation_rate, where)
    if back != x.shape:
        raise ValueError(f"{where}: inputs of shape {x.shape} are not the output of a "
                         f"convolution of shape {out_shape} with kernel {w.shape}")
    return x, w, strides, padding, out_shape


def conv_transpose(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1, *, bias=None):
    """Transposed 2-D convolution of NHWC inputs (``keras.ops.conv_transpose``): the
    input gradient of the convolution with the same kernel, run as a forward op.

    Args:
        inputs: array of shape ``(N, H, W, C_in)``.
        kernel: array of shape ``(kh, kw, C_out, C_in)`` (Keras's layout).
        strides: int or pair of ints.
        padding: ``"valid"`` (output ``(H - 1) * stride + kh``) or ``"same"`` (output
            ``H * stride``).
        data_format: ``None`` or ``"channels_last"``.
        dilation_rate: only 1.
        bias: optional vector of length ``C_out``.

    Returns:
        Array of shape ``(N, H_out, W_out, C_out)``.
    """
    where = "conv_transpose"
    x, w, strides, padding, out_shape = _conv_transpose_shapes(
        inputs, kernel, strides, padding, data_format, dilation_rate, where)
    y = np.empty(out_shape, dtype=x.dtype)
    _backend(x).conv2d_backward_input(y, x, w, strides[0], strides[1], padding)
    return y if bias is None else bias_add(y, bias)


def conv_transpose_backward(dy, inputs, kernel, strides=1, padding="valid",
                            data_format=None, dilation_rate=1, *, use_bias=False,
                            input_gradient=True):
    """Gradients of :func:`conv_transpose`.

    Args:
        dy: gradient of the output, ``(N, H_out, W_out, C_out)``.
        inputs, kernel, strides, padding, data_format, dilation_rate: as given to
            :func:`conv_transpose`.
        use_bias: also return the bias gradient (the sum of dy over N, H, W).
        input_gradient: compute the input gradient.

    Returns:
        ``(dinputs, dkernel, dbias)`` (None where not asked for).
    """
    where = "conv_transpose_backward"
    x, w, strides, padding, out_shape = _conv_transpose_shapes(
        inputs, kernel, strides, padding, data_format, dilation_rate, where)
    g = _prepare(dy, "dy", where, dtype=x.dtype)
    if g.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape}, received "
                         f"shape {g.shape}")
    backend = _backend(x)
    dx = None
    if input_gradient:  # the forward convolution of dy
        dx = np.empty(x.shape, dtype=x.dtype)
        backend.conv2d_forward(dx, g, w, None, strides[0], strides[1], padding,
                               _ACTIVATION_CODES["linear"])
    dw = np.empty(w.shape, dtype=x.dtype)
    backend.conv2d_backward_weight(dw, None, x, g, strides[0], strides[1], padding)
    db = sum(g, axis=(0, 1, 2)) if use_bias else None
    return dx, dw, db


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


@_dispatch
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

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.max_pool(np.arange(16.0).reshape(1, 4, 4, 1), 2)[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    return _max_pool(inputs, pool_size, strides, padding, "max_pool", False)[0]


@_dispatch
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


@_dispatch
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


@_dispatch
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

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.average_pool(np.arange(16.0).reshape(1, 4, 4, 1), 2)[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    where = "average_pool"
    x = _pool_input(inputs, where)
    pool, stride, pad, out_shape = _pool_args(x.shape, pool_size, strides, padding, where)
    y = np.empty(out_shape, dtype=x.dtype)
    _backend(x).avgpool2d_forward(y, x, pool, stride, pad)
    return y


@_dispatch
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
    if axis == x.ndim - 1:  # channels last already: a view, no copy
        return x.reshape(-1, x.shape[-1]), x.shape, axis
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    return moved.reshape(-1, moved.shape[-1]), moved.shape, axis


def _bn_like_input(dy, x2d, moved_shape, axis, where):
    """dy laid out like _bn_input's x2d, or a ValueError unless it has the shape of x."""
    dy = _prepare(dy, "dy", where, x2d.dtype)
    x_shape = moved_shape[:axis] + moved_shape[-1:] + moved_shape[axis:-1]
    if dy.shape != x_shape:
        raise ValueError(f"{where}: argument 'dy' must have the shape of 'x' {x_shape}, "
                         f"received shape {dy.shape}")
    if axis == len(moved_shape) - 1:
        return dy.reshape(x2d.shape)
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
    if (type(v) is np.ndarray and v.shape == (channels,) and v.dtype == dtype and
            v.flags.c_contiguous):
        return v  # the common case, checked without a copy
    v = _prepare(v, name, where, dtype)
    if v.size != channels or len([n for n in v.shape if n != 1]) > 1:
        raise ValueError(f"{where}: argument '{name}' must have shape ({channels},) (one "
                         f"value per channel), received shape {v.shape}")
    return v.reshape(channels)


def _bn_nonnegative_variance(variance, epsilon, name, where):
    """ValueError when variance + epsilon < 0 for some channel (NaN passes)."""
    # in float64, as the kernel checks it; NaN compares False and passes
    if np.less(variance, -epsilon, signature=(np.float64, np.float64, np.bool_)).any():
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


@_dispatch
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

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.moments(np.array([[1.0, 2.0], [3.0, 6.0]]), axes=0)
        (array([2., 4.]), array([1., 4.]))
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


@_dispatch
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


@_dispatch
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


@_dispatch
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

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> y, mean, var = ops.batch_norm_train(np.array([[1.0], [3.0]]), None, None, None,
        ...                                     None)
        >>> y.ravel().round(4), mean, var
        (array([-0.9995,  0.9995]), array([2.]), array([1.]))
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


@_dispatch
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

_ACTIVATION_NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax")


def _act_prepare(x, name, where, dtype=None):
    """``_prepare`` that keeps 0-d inputs 0-d (np.ascontiguousarray makes them 1-d)."""
    array = _prepare(x, name, where, dtype)
    if array.ndim == 1 and np.ndim(x) == 0:
        array = array.reshape(())
    return array


def _act_axis(axis, ndim, shape, where, name="axis"):
    """``axis`` in [-ndim, ndim) as a non-negative int, or a ValueError/TypeError."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{where}: argument '{name}' must be an int, received {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{where}: argument '{name}' must be in [{-ndim}, {ndim}) for an "
                         f"input of shape {shape}, received {axis}")
    return axis % ndim


def _act_same_shape(a, b, name_a, name_b, where):
    """Raise ValueError unless two arrays have the same shape (naming both shapes)."""
    if a.shape != b.shape:
        raise ValueError(f"{where}: arguments '{name_a}' and '{name_b}' must have the same "
                         f"shape, received {name_a}.shape={a.shape} and "
                         f"{name_b}.shape={b.shape}")


def _act_forward(x, name, where):
    """act(x) elementwise through the C kernel (empty arrays pass through)."""
    x = _act_prepare(x, "x", where)
    y = np.empty_like(x)
    if x.size:
        backend = _backend(x)
        backend.activation_forward(y.reshape(-1), x.reshape(-1),
                                   backend.ACTIVATION_CODES[name])
    return y


def _act_backward(dy, y, name, where):
    """dy * act'(.) from the forward output y, elementwise through the C kernel."""
    y = _act_prepare(y, "y", where)
    dy = _act_prepare(dy, "dy", where, dtype=y.dtype)
    _act_same_shape(dy, y, "dy", "y", where)
    dx = np.empty_like(y)
    if y.size:
        backend = _backend(y)
        backend.activation_backward(dx.reshape(-1), dy.reshape(-1), y.reshape(-1),
                                    backend.ACTIVATION_CODES[name])
    return dx


def _act_rows(array, axis):
    """(rows, cols) C-contiguous view of ``array`` with ``axis`` moved last, and the
    moved shape (to undo it with ``_act_unrows``)."""
    moved = np.moveaxis(array, axis, -1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1]), moved.shape


def _act_unrows(rows, moved_shape, axis):
    """Undo ``_act_rows``: reshape and move the last axis back to ``axis``."""
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved_shape), -1, axis))


@_dispatch
def relu(x):
    """Rectified linear unit, ``max(x, 0)`` elementwise.

    Args:
        x: input array of any shape.

    Returns:
        An array of x's shape (float64 for float64 input, else float32).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.relu(np.array([-1.0, 2.0]))
        array([0., 2.])
    """
    return _act_forward(x, "relu", "relu")


@_dispatch
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` elementwise, stable for any ``|x|``.

    Args:
        x: input array of any shape.

    Returns:
        An array of x's shape with values in [0, 1].

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.sigmoid(np.array([0.0]))
        array([0.5])
    """
    return _act_forward(x, "sigmoid", "sigmoid")


@_dispatch
def tanh(x):
    """Hyperbolic tangent elementwise.

    Args:
        x: input array of any shape.

    Returns:
        An array of x's shape with values in [-1, 1].

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.tanh(np.array([0.0]))
        array([0.])
    """
    return _act_forward(x, "tanh", "tanh")


@_dispatch
def softmax(x, axis=-1):
    """Softmax along one axis, ``exp(x - max) / sum(exp(x - max))``.

    Args:
        x: input array of rank >= 1.
        axis: the axis to normalise (default: the last).

    Returns:
        An array of x's shape whose slices along ``axis`` sum to 1.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.softmax(np.array([[0.0, 0.0]]))
        array([[0.5, 0.5]])
    """
    where = "softmax"
    x = _act_prepare(x, "x", where)
    axis = _act_axis(axis, x.ndim, x.shape, where)
    if x.size == 0:
        return np.empty_like(x)
    flat, moved_shape = _act_rows(x, axis)
    y = np.empty_like(flat)
    _backend(x).softmax_forward(y, flat)
    return _act_unrows(y, moved_shape, axis)


@_dispatch
def activation(x, name):
    """Apply an activation by its Keras name.

    Args:
        x: input array.
        name: 'linear', 'relu', 'sigmoid', 'tanh' or 'softmax' (last axis); None means
            'linear', as in ``keras.activations.get(None)``.

    Returns:
        The activated array, of x's shape.
    """
    name = _act_name(name, "activation")
    if name == "softmax":
        return softmax(x)
    return _act_forward(x, name, "activation")


def _act_name(name, where):
    """Validate an activation name (None -> 'linear')."""
    if name is None:
        return "linear"
    if not isinstance(name, str) or name not in _ACTIVATION_NAMES:
        valid = ", ".join(repr(n) for n in _ACTIVATION_NAMES)
        raise ValueError(f"{where}: argument 'name' must be one of {valid}, "
                         f"received {name!r}")
    return name


@_dispatch
def relu_backward(dy, y):
    """Gradient of :func:`relu`: ``dy * (y > 0)``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``relu(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.
    """
    return _act_backward(dy, y, "relu", "relu_backward")


@_dispatch
def sigmoid_backward(dy, y):
    """Gradient of :func:`sigmoid`: ``dy * y * (1 - y)``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``sigmoid(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.
    """
    return _act_backward(dy, y, "sigmoid", "sigmoid_backward")


@_dispatch
def tanh_backward(dy, y):
    """Gradient of :func:`tanh`: ``dy * (1 - y**2)``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``tanh(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.
    """
    return _act_backward(dy, y, "tanh", "tanh_backward")


@_dispatch
def softmax_backward(dy, y, axis=-1):
    """Gradient of :func:`softmax`: ``y * (dy - sum(dy * y, axis))``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``softmax(x, axis)`` (same shape as dy).
        axis: the axis the forward pass normalised.

    Returns:
        The gradient with respect to x.
    """
    where = "softmax_backward"
    y = _act_prepare(y, "y", where)
    dy = _act_prepare(dy, "dy", where, dtype=y.dtype)
    _act_same_shape(dy, y, "dy", "y", where)
    axis = _act_axis(axis, y.ndim, y.shape, where)
    if y.size == 0:
        return np.empty_like(y)
    flat_y, moved_shape = _act_rows(y, axis)
    flat_dy, _ = _act_rows(dy, axis)
    dx = np.empty_like(flat_y)
    _backend(y).softmax_backward(dx, flat_dy, flat_y)
    return _act_unrows(dx, moved_shape, axis)


@_dispatch
def activation_backward(dy, y, name):
    """Gradient of :func:`activation` from its output.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``activation(x, name)``.
        name: the activation's name, as given to :func:`activation`.

    Returns:
        The gradient with respect to x.
    """
    name = _act_name(name, "activation_backward")
    if name == "softmax":
        return softmax_backward(dy, y)
    return _act_backward(dy, y, name, "activation_backward")


# ---------------------------------------------------------------- losses (loss.c)

# keras.config.epsilon(): the clip of probabilities in categorical_crossentropy.
_LOSS_EPSILON = 1e-7


def _loss_matrix(x, name, where, dtype=None):
    """A non-empty rank-2 (samples, classes) array for a loss."""
    array = _prepare(x, name, where, dtype)
    _require_ndim(array, 2, name, where)
    _require_nonempty(array, name, where)
    return array


def _loss_dloss(dloss, rows, dtype, where):
    """The per-sample upstream gradient as a contiguous (rows,) array."""
    dloss = _prepare(dloss, "dloss", where, dtype=dtype)
    if dloss.shape != (rows,):
        raise ValueError(f"{where}: argument 'dloss' must have shape ({rows},) (one value "
                         f"per sample), received shape {dloss.shape}")
    return dloss


def _loss_labels(labels, rows, cols, where, name="labels"):
    """Class labels as a contiguous int64 (rows,) array.

    Accepts integer arrays of shape (rows,) or (rows, 1), and float arrays holding whole
    numbers; raises TypeError for other dtypes and ValueError for a wrong shape or a
    label outside [0, cols).
    """
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: argument '{name}' must be an integer array, received "
                        f"{type(labels).__name__}") from exc
    kind = array.dtype.kind
    if kind == "f":
        finite = np.isfinite(array)
        if not (finite.all() and np.array_equal(array, np.floor(array))):
            raise TypeError(f"{where}: argument '{name}' must hold integer class indices, "
                            f"received dtype {array.dtype} with non-integer values")
    elif kind not in "iu":
        raise TypeError(f"{where}: argument '{name}' must be an integer array, received "
                        f"dtype {array.dtype}")
    if array.shape not in ((rows,), (rows, 1)):
        raise ValueError(f"{where}: argument '{name}' must have shape ({rows},) or "
                         f"({rows}, 1), received shape {array.shape}")
    flat = array.reshape(-1)
    bad = (flat < 0) | (flat >= cols)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{where}: argument '{name}' must hold class indices in "
                         f"[0, {cols}), received {flat[index].item()!r} at index {index}")
    return np.ascontiguousarray(flat, dtype=np.int64)


def _loss_axis_rows(array, axis):
    """A (samples, classes) C-contiguous array with the class axis (0 or 1) last."""
    return np.ascontiguousarray(array.T) if axis == 0 else array


@_dispatch
def softmax_cross_entropy(logits, targets):
    """Fused softmax + cross-entropy against dense targets (probabilities or one-hot).

    The loss is computed from the log-sum-exp of the logits (never ``log(0)``), so very
    large logits are safe.

    Args:
        logits: (N, C) unnormalised scores.
        targets: (N, C) target distributions.

    Returns:
        ``(loss, probs)``: the per-sample loss (N,) ``-sum(targets * log_softmax(logits))``
        and ``softmax(logits)`` (N, C), which the backward pass takes.
    """
    where = "softmax_cross_entropy"
    logits = _loss_matrix(logits, "logits", where)
    targets = _prepare(targets, "targets", where, dtype=logits.dtype)
    _act_same_shape(logits, targets, "logits", "targets", where)
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    probs = np.empty_like(logits)
    _backend(logits).softmax_xent_forward(loss, probs, logits, targets)
    return loss, probs


@_dispatch
def softmax_cross_entropy_backward(dloss, probs, targets):
    """Gradient of :func:`softmax_cross_entropy` with respect to the logits.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        probs: (N, C) the probabilities returned by the forward pass.
        targets: (N, C) the targets of the forward pass.

    Returns:
        dlogits (N, C) ``= dloss[:, None] * (probs * sum(targets, -1) - targets)``.
    """
    where = "softmax_cross_entropy_backward"
    probs = _loss_matrix(probs, "probs", where)
    targets = _prepare(targets, "targets", where, dtype=probs.dtype)
    _act_same_shape(probs, targets, "probs", "targets", where)
    dloss = _loss_dloss(dloss, probs.shape[0], probs.dtype, where)
    dlogits = np.empty_like(probs)
    _backend(probs).softmax_xent_backward(dlogits, dloss, probs, targets)
    return dlogits


@_dispatch
def sparse_softmax_cross_entropy(logits, labels):
    """Fused softmax + cross-entropy against integer class labels.

    Args:
        logits: (N, C) unnormalised scores.
        labels: (N,) or (N, 1) class indices in [0, C) (integers, or floats holding whole
            numbers).

    Returns:
        ``(loss, probs)``: the per-sample loss (N,) ``-log_softmax(logits)[i, labels[i]]``
        and ``softmax(logits)`` (N, C).
    """
    where = "sparse_softmax_cross_entropy"
    logits = _loss_matrix(logits, "logits", where)
    labels = _loss_labels(labels, logits.shape[0], logits.shape[1], where)
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    probs = np.empty_like(logits)
    _backend(logits).sparse_softmax_xent_forward(loss, probs, logits, labels)
    return loss, probs


@_dispatch
def sparse_softmax_cross_entropy_backward(dloss, probs, labels):
    """Gradient of :func:`sparse_softmax_cross_entropy` with respect to the logits.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        probs: (N, C) the probabilities returned by the forward pass.
        labels: the labels of the forward pass.

    Returns:
        dlogits (N, C) ``= dloss[:, None] * (probs - one_hot(labels))``.
    """
    where = "sparse_softmax_cross_entropy_backward"
    probs = _loss_matrix(probs, "probs", where)
    labels = _loss_labels(labels, probs.shape[0], probs.shape[1], where)
    dloss = _loss_dloss(dloss, probs.shape[0], probs.dtype, where)
    dlogits = np.empty_like(probs)
    _backend(probs).sparse_softmax_xent_backward(dlogits, dloss, probs, labels)
    return dlogits


def _loss_categorical_inputs(target, output, axis, where):
    """Validated (target, output) as (samples, classes) arrays and the class axis."""
    output = _prepare(output, "output", where)
    _require_ndim(output, 2, "output", where)
    target = _prepare(target, "target", where, dtype=output.dtype)
    _act_same_shape(target, output, "target", "output", where)
    _require_nonempty(output, "output", where)
    axis = _act_axis(axis, 2, output.shape, where)
    return _loss_axis_rows(target, axis), _loss_axis_rows(output, axis), axis


@_dispatch
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical cross-entropy, as ``keras.ops.categorical_crossentropy``.

    With ``from_logits=False`` (Keras semantics) each row of ``output`` is renormalised
    to sum 1 and clipped to ``[1e-7, 1 - 1e-7]`` before the log; with ``from_logits=True``
    the fused, log-sum-exp based softmax + cross-entropy is used.

    Args:
        target: (N, C) target distributions (one-hot or probabilities).
        output: (N, C) predicted probabilities, or logits when ``from_logits``.
        from_logits: whether ``output`` holds logits.
        axis: the class axis of the rank-2 inputs (default: the last).

    Returns:
        The per-sample loss, shape (N,) (the extent of the non-class axis).
    """
    where = "categorical_crossentropy"
    target, output, axis = _loss_categorical_inputs(target, output, axis, where)
    backend = _backend(output)
    loss = np.empty(output.shape[0], dtype=output.dtype)
    if from_logits:
        backend.softmax_xent_forward(loss, np.empty_like(output), output, target)
    else:
        backend.categorical_xent_forward(loss, output, target, _LOSS_EPSILON)
    return loss


@_dispatch
def categorical_crossentropy_backward(dloss, target, output, from_logits=False, axis=-1):
    """Gradient of :func:`categorical_crossentropy` with respect to ``output``.

    Without logits the gradient flows through the renormalisation; the clip passes none
    where the renormalised probability lies outside ``[1e-7, 1 - 1e-7]``.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        target: the targets of the forward pass.
        output: the ``output`` of the forward pass (probabilities or logits).
        from_logits: as in the forward pass.
        axis: as in the forward pass.

    Returns:
        doutput, of output's shape.
    """
    where = "categorical_crossentropy_backward"
    target, output, axis = _loss_categorical_inputs(target, output, axis, where)
    dloss = _loss_dloss(dloss, output.shape[0], output.dtype, where)
    backend = _backend(output)
    doutput = np.empty_like(output)
    if from_logits:
        probs = np.empty_like(output)
        backend.softmax_forward(probs, output)
        backend.softmax_xent_backward(doutput, dloss, probs, target)
    else:
        backend.categorical_xent_backward(doutput, dloss, output, target, _LOSS_EPSILON)
    return _loss_axis_rows(doutput, axis)


def _loss_sparse_inputs(target, output, axis, where):
    """Validated one-hot targets and output as (samples, classes) arrays, and the axis."""
    output = _prepare(output, "output", where)
    _require_ndim(output, 2, "output", where)
    _require_nonempty(output, "output", where)
    axis = _act_axis(axis, 2, output.shape, where)
    output = _loss_axis_rows(output, axis)
    labels = _loss_labels(target, output.shape[0], output.shape[1], where, name="target")
    return labels, output, axis


@_dispatch
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Sparse categorical cross-entropy, as ``keras.ops.sparse_categorical_crossentropy``.

    Same as :func:`categorical_crossentropy` with ``one_hot(target)``.

    Args:
        target: (N,) or (N, 1) integer class indices.
        output: (N, C) predicted probabilities, or logits when ``from_logits``.
        from_logits: whether ``output`` holds logits.
        axis: the class axis of ``output`` (default: the last).

    Returns:
        The per-sample loss, shape (N,).
    """
    where = "sparse_categorical_crossentropy"
    labels, output, _ = _loss_sparse_inputs(target, output, axis, where)
    backend = _backend(output)
    loss = np.empty(output.shape[0], dtype=output.dtype)
    if from_logits:
        backend.sparse_softmax_xent_forward(loss, np.empty_like(output), output, labels)
    else:
        one_hot = np.zeros_like(output)
        one_hot[np.arange(output.shape[0]), labels] = 1
        backend.categorical_xent_forward(loss, output, one_hot, _LOSS_EPSILON)
    return loss


@_dispatch
def sparse_categorical_crossentropy_backward(dloss, target, output, from_logits=False,
                                             axis=-1):
    """Gradient of :func:`sparse_categorical_crossentropy` with respect to ``output``.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        target: the class indices of the forward pass.
        output: the ``output`` of the forward pass (probabilities or logits).
        from_logits: as in the forward pass.
        axis: as in the forward pass.

    Returns:
        doutput, of output's shape.
    """
    where = "sparse_categorical_crossentropy_backward"
    labels, output, axis = _loss_sparse_inputs(target, output, axis, where)
    dloss = _loss_dloss(dloss, output.shape[0], output.dtype, where)
    backend = _backend(output)
    doutput = np.empty_like(output)
    if from_logits:
        probs = np.empty_like(output)
        backend.softmax_forward(probs, output)
        backend.sparse_softmax_xent_backward(doutput, dloss, probs, labels)
    else:
        one_hot = np.zeros_like(output)
        one_hot[np.arange(output.shape[0]), labels] = 1
        backend.categorical_xent_backward(doutput, dloss, output, one_hot, _LOSS_EPSILON)
    return _loss_axis_rows(doutput, axis)


# ---------------------------------------------------------------- optimizer updates (optim.c)


def _optim_scalar(value, name, where, low=None, high=None, high_open=False):
    """A finite real scalar argument as a float, optionally inside [low, high] (or
    [low, high) when ``high_open``); TypeError/ValueError naming the argument otherwise."""
    if type(value) is not float:  # the common case skips the slow ABC checks
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
    owners = [_memory_owner(a) for _, a in updated]
    # arrays that own distinct memory cannot overlap: the pairwise checks are only needed
    # when a view is involved
    separate = (all(o is not None for o in owners) and
                len({id(o) for o in owners}) == len(owners))
    if not separate:
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
    grad_owner = _memory_owner(grad)
    grad_separate = separate and grad_owner is not None and \
        all(grad_owner is not o for o in owners)
    if not grad_separate and any(np.may_share_memory(grad, a) for _, a in updated):
        grad = grad.copy()
    return var, grad, flat


def _memory_owner(array):
    """The ndarray that owns ``array``'s memory (itself or its base), or None when the
    memory belongs to something else (a buffer, a memory map)."""
    owner = array if array.base is None else array.base
    return owner if isinstance(owner, np.ndarray) and owner.base is None else None


@_dispatch
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


@_dispatch
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


@_dispatch
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
    step = _optim_step(step, where)
    if m is None or v is None:
        raise ValueError(f"{where}: arguments 'm' and 'v' are required, received None")
    var, grad, s = _optim_arrays(where, variable, gradient, {"m": m, "v": v, "vhat": vhat})
    _backend(variable).adam_update(var, s["m"], s["v"], s["vhat"], grad, lr, b1, b2, eps,
                                   step, wd)


def _optim_step(step, where):
    """The 1-based step number of an update as an int (TypeError/ValueError naming it)."""
    if isinstance(step, np.ndarray) and step.ndim == 0 and step.dtype.kind in "iu":
        step = step.item()
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral):
        raise TypeError(f"{where}: argument 'step' must be an integer, received {step!r}")
    if step < 1:
        raise ValueError(f"{where}: argument 'step' must be >= 1 (the first step is 1), "
                         f"received {step!r}")
    return int(step)


def adagrad_update(variable, gradient, accumulator, learning_rate=0.001, epsilon=1e-7):
    """One Adagrad step (Keras 3 ``Adagrad``), updating in place:
    ``accumulator += gradient**2``, then
    ``variable -= learning_rate * gradient / sqrt(accumulator + epsilon)``.

    Args:
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (cast to its dtype).
        accumulator: the sum of squared gradients (variable's dtype and shape), in place.
        learning_rate: finite float.
        epsilon: float >= 0.

    Returns:
        None.
    """
    where = "adagrad_update"
    lr = _optim_scalar(learning_rate, "learning_rate", where)
    eps = _optim_scalar(epsilon, "epsilon", where, 0.0)
    if accumulator is None:
        raise ValueError(f"{where}: argument 'accumulator' is required, received None")
    var, grad, s = _optim_arrays(where, variable, gradient, {"accumulator": accumulator})
    _backend(variable).adagrad_update(var, s["accumulator"], grad, lr, eps)


def adamax_update(variable, gradient, m, u, step, learning_rate=0.001, beta_1=0.9,
                  beta_2=0.999, epsilon=1e-7):
    """One Adamax step (Keras 3 ``Adamax``), updating in place:
    ``m += (gradient - m) * (1 - beta_1)``, ``u = max(beta_2 * u, |gradient|)``,
    ``variable -= learning_rate / (1 - beta_1**step) * m / (u + epsilon)``.

    Args:
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (cast to its dtype).
        m: the first moment (variable's dtype and shape), in place.
        u: the exponentially weighted infinity norm (variable's dtype and shape), in place.
        step: the 1-based number of this step (Keras' ``iterations + 1``).
        learning_rate: finite float.
        beta_1: decay of the first moment, in [0, 1).
        beta_2: decay of the infinity norm, in [0, 1].
        epsilon: float >= 0.

    Returns:
        None.
    """
    where = "adamax_update"
    lr = _optim_scalar(learning_rate, "learning_rate", where)
    b1 = _optim_scalar(beta_1, "beta_1", where, 0.0, 1.0, high_open=True)
    b2 = _optim_scalar(beta_2, "beta_2", where, 0.0, 1.0)
    eps = _optim_scalar(epsilon, "epsilon", where, 0.0)
    step = _optim_step(step, where)
    if m is None or u is None:
        raise ValueError(f"{where}: arguments 'm' and 'u' are required, received None")
    var, grad, s = _optim_arrays(where, variable, gradient, {"m": m, "u": u})
    _backend(variable).adamax_update(var, s["m"], s["u"], grad, lr, b1, b2, eps, step)



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


@_dispatch
def bias_add(x, bias):
    """Add a bias vector along the last axis: ``x + bias``.

    Args:
        x: array of rank >= 1, shape ``(..., channels)``.
        bias: vector of length ``channels`` (cast to x's dtype).

    Returns:
        Array of x's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.bias_add(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]))
        array([[1., 2., 3.],
               [1., 2., 3.]])
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


@_dispatch
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


@_dispatch
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

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.sum(np.arange(6.0).reshape(2, 3), axis=0)
        array([3., 5., 7.])
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


@_dispatch
def add(x1, x2):
    """Elementwise ``x1 + x2`` of two arrays of the same shape (no broadcasting).

    Args:
        x1: array-like.
        x2: array-like of x1's shape (cast to x1's compute dtype).

    Returns:
        Array of x1's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.add(np.ones(2), np.ones(2))
        array([2., 2.])
    """
    x1 = _tops_array(x1, "x1", "add")
    x2 = _tops_array(x2, "x2", "add", dtype=x1.dtype)
    _tops_same_shape(x1, x2, "add")
    y = np.empty_like(x1)
    _backend(x1).add(y.reshape(-1), x1.reshape(-1), x2.reshape(-1))
    return y


@_dispatch
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


@_dispatch
def scale(x, alpha):
    """``alpha * x`` (alpha is cast once to x's dtype).

    Args:
        x: array-like.
        alpha: finite real scalar.

    Returns:
        Array of x's shape and compute dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.scale(np.ones(2), 3.0)
        array([3., 3.])
    """
    x = _tops_array(x, "x", "scale")
    a = _optim_scalar(alpha, "alpha", "scale")
    y = np.empty_like(x)
    _backend(x).scale(y.reshape(-1), x.reshape(-1), a)
    return y


@_dispatch
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


# activations whose saturation summary_statistics can count (the C md_act codes)
_SATURATING_CODES = {"linear": 0, None: 0, "relu": 1, "sigmoid": 2, "tanh": 3}


def summary_statistics(x, activation=None):
    """Mean, standard deviation and saturated fraction of all values of ``x``, in one
    pass (minidl extension; the training diagnostics of
    :class:`minidl.callbacks.LayerStatistics` use it).

    Args:
        x: non-empty real array of any shape (float64 stays float64, everything else is
            read as float32); the statistics are accumulated in double.
        activation: ``None``/``'linear'``, ``'relu'``, ``'sigmoid'`` or ``'tanh'``: the
            activation whose *output* ``x`` is. The saturated fraction counts the values
            at which that activation's derivative is below 1% of its maximum (sigmoid:
            ``y (1 - y) < 0.0025``; tanh: ``1 - y**2 < 0.01``; relu: ``y <= 0``).

    Returns:
        ``(mean, std, saturated_fraction)`` as Python floats: the population standard
        deviation (ddof 0), and ``None`` for the fraction when ``activation`` is linear.
        Bit-identical for every thread count.
    """
    where = "summary_statistics"
    if activation not in _SATURATING_CODES:
        valid = ", ".join(repr(name) for name in _SATURATING_CODES)
        raise ValueError(f"{where}: argument 'activation' must be one of {valid}. "
                         f"Received: activation={activation!r}")
    flat = _prepare(x, "x", where).reshape(-1)
    if flat.size == 0:
        raise ValueError(f"{where}: argument 'x' must not be empty. Received: shape "
                         f"{np.shape(x)}")
    code = _SATURATING_CODES[activation]
    mean, variance, saturated = _backend(flat).summary_stats(flat, code)
    return mean, variance ** 0.5, (saturated if code else None)



# ---------------------------------------------------------------- image ops (image.c)

_FILL_MODES = ("nearest", "constant", "reflect", "wrap")


def _images_4d(images, where):
    """``images`` as a C-contiguous NHWC float array plus whether it was one HWC image."""
    x = _prepare(images, "images", where)
    _require_ndim(x, (3, 4), "images", where)
    _require_nonempty(x, "images", where)
    single = x.ndim == 3
    return (x[np.newaxis] if single else x), single


def _image_size_pair(value, name, where):
    """A (height, width) pair of positive ints, or a ValueError naming the argument."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(f"{where}: argument '{name}' must be a tuple of 2 positive ints "
                         f"(height, width), received {value!r}")
    return _positive_tuple(value, 2, name, where)


@_dispatch
def affine_warp(images, transforms, fill_mode="nearest", fill_value=0.0, output_size=None):
    """Warp images with affine transforms, sampling bilinearly.

    Output pixel ``(r, c)`` of image ``i`` samples the input at row
    ``t[0, 0] * r + t[0, 1] * c + t[0, 2]`` and column ``t[1, 0] * r + t[1, 1] * c +
    t[1, 2]``, with ``t = transforms[i]``: the transform maps output pixel coordinates
    (row, column; pixel centres at integers) to input coordinates. Each of the four
    bilinear neighbours that lies outside the image is resolved by ``fill_mode``:

    * ``'nearest'``: the nearest edge pixel (``a a | a b c d | d d``);
    * ``'constant'``: ``fill_value`` (``k k | a b c d | k k``; scipy ``'grid-constant'``);
    * ``'reflect'``: mirrored with the edge pixel repeated (``b a | a b c d | d c``;
      scipy ``'reflect'``);
    * ``'wrap'``: periodic (``c d | a b c d | a b``; scipy ``'grid-wrap'``).

    Any transform is safe: a non-finite source coordinate counts as outside the image
    (``fill_value`` in ``'constant'`` mode) and as the nearest edge in the other modes
    (``+inf`` the last pixel, ``-inf`` and NaN the first).

    Args:
        images: NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        transforms: ``(2, 3)`` (the same transform for every image) or ``(N, 2, 3)``;
            used in float64.
        fill_mode: ``'nearest'``, ``'constant'``, ``'reflect'`` or ``'wrap'``.
        fill_value: the value outside the image for ``fill_mode='constant'``.
        output_size: ``(out_h, out_w)`` of the warped images; default: the input's.

    Returns:
        The warped images, ``(N, out_h, out_w, C)`` (or ``(out_h, out_w, C)`` for one
        image). float64 input gives float64; any other dtype (e.g. uint8) is computed
        and returned in float32, unrounded.
    """
    where = "affine_warp"
    x, single = _images_4d(images, where)
    n, h, w, c = x.shape
    t = _prepare(transforms, "transforms", where, dtype=np.float64)
    if t.shape == (2, 3):
        t = np.broadcast_to(t.reshape(1, 6), (n, 6))
    elif t.shape == (n, 2, 3):
        t = t.reshape(n, 6)
    else:
        raise ValueError(f"{where}: argument 'transforms' must have shape (2, 3) or "
                         f"({n}, 2, 3), received shape {t.shape}")
    t = np.ascontiguousarray(t)
    if not isinstance(fill_mode, str) or fill_mode.lower() not in _FILL_MODES:
        raise ValueError(f"{where}: argument 'fill_mode' must be one of {_FILL_MODES}, "
                         f"received {fill_mode!r}")
    if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
        raise TypeError(f"{where}: argument 'fill_value' must be a real number, "
                        f"received {fill_value!r}")
    if output_size is None:
        out_h, out_w = h, w
    else:
        out_h, out_w = _image_size_pair(output_size, "output_size", where)
    y = np.empty((n, out_h, out_w, c), dtype=x.dtype)
    _backend(x).affine_warp(y, x, t, fill_mode.lower(), float(fill_value))
    return y[0] if single else y


@_dispatch
def flip_left_right(images, flags=None):
    """Mirror images left-right (along the width axis).

    Args:
        images: NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        flags: which images flip: a boolean (or integer, nonzero = flip) array of shape
            ``(N,)``, a single boolean for all, or None (every image flips). Images that
            do not flip are copied.

    Returns:
        The flipped images, same shape; float64 input gives float64, any other dtype is
        returned in float32.
    """
    where = "flip_left_right"
    x, single = _images_4d(images, where)
    n = x.shape[0]
    flag_array = None
    if flags is not None:
        f = np.asarray(flags)
        if f.dtype.kind not in "biu":
            raise TypeError(f"{where}: argument 'flags' must be a boolean array, "
                            f"received dtype {f.dtype}")
        if f.shape not in ((), (n,)):
            raise ValueError(f"{where}: argument 'flags' must have shape ({n},) or be a "
                             f"single boolean, received shape {f.shape}")
        flag_array = np.ascontiguousarray(np.broadcast_to(f != 0, (n,)), dtype=np.uint8)
    y = np.empty_like(x)
    _backend(x).flip_horizontal(y, x, flag_array)
    return y[0] if single else y


@_dispatch
def resize(images, size, interpolation="bilinear"):
    """Resize images (``keras.ops.image.resize`` without antialiasing or cropping).

    Bilinear with half-pixel centres: output pixel ``d`` samples the input at
    ``(d + 0.5) * in / out - 0.5``, clamped to the image. This matches TensorFlow 2's
    ``tf.image.resize(method='bilinear', antialias=False)`` and PyTorch's
    ``F.interpolate(mode='bilinear', align_corners=False)`` (when downsampling, no
    antialiasing filter is applied).

    Args:
        images: NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        size: ``(height, width)`` of the output, positive ints.
        interpolation: only ``'bilinear'`` is supported.

    Returns:
        The resized images ``(N, height, width, C)`` (or ``(height, width, C)``);
        float64 input gives float64, any other dtype (e.g. uint8) float32, unrounded.
    """
    where = "resize"
    if not isinstance(interpolation, str) or interpolation.lower() != "bilinear":
        raise ValueError(f"{where}: argument 'interpolation' must be 'bilinear' (the only "
                         f"supported method), received {interpolation!r}")
    x, single = _images_4d(images, where)
    out_h, out_w = _image_size_pair(size, "size", where)
    y = np.empty((x.shape[0], out_h, out_w, x.shape[3]), dtype=x.dtype)
    _backend(x).resize_bilinear(y, x)
    return y[0] if single else y
