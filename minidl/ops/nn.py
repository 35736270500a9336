"""Neural-network ops: convolution, pooling, batch normalization, activations and the
classification losses, each with its backward (``csrc/conv2d.c``, ``pool2d.c``,
``batchnorm.c``, ``activations.c``, ``loss.c`` and their CUDA twins)."""
import numbers

import numpy as np

from minidl.backend import backend_of, on_host, to_numpy
from minidl.ops._checks import (axis_back_order, axis_index, axis_last_order,
                                bounded_number, channel_axis, class_labels, output_length,
                                padding_mode, positive_tuple, require_ndim, require_nonempty,
                                same_shape)
from minidl.ops.math import bias_add, sum  # noqa: A004 -- keras.ops.sum


_ACTIVATION_CODES = {None: 0, "linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}


def _conv_geometry(x_shape, kernel_shape, strides, padding, data_format, dilation_rate, where):
    """Check a 2-D convolution's arguments; return (strides, padding, output shape)."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: only data_format='channels_last' (NHWC) is supported. "
                         f"Received: {data_format!r}")
    if positive_tuple(dilation_rate, 2, "dilation_rate", where) != (1, 1):
        raise ValueError(f"{where}: only dilation_rate=1 is supported. "
                         f"Received: {dilation_rate!r}")
    strides = positive_tuple(strides, 2, "strides", where)
    padding = padding_mode(padding, where)
    if len(x_shape) != 4 or len(kernel_shape) != 4:
        raise ValueError(f"{where}: inputs must be rank 4 (N, H, W, C) and kernel rank 4 "
                         f"(kh, kw, in, out). Received: shapes {tuple(x_shape)} and "
                         f"{tuple(kernel_shape)}")
    if any(int(v) <= 0 for v in kernel_shape):
        raise ValueError(f"{where}: every kernel dimension must be positive. Received: "
                         f"kernel shape {tuple(kernel_shape)}")
    if x_shape[3] != kernel_shape[2]:
        raise ValueError(f"{where}: the input has {x_shape[3]} channels but the kernel "
                         f"of shape {tuple(kernel_shape)} expects {kernel_shape[2]}")
    if padding == "valid" and (kernel_shape[0] > x_shape[1] or kernel_shape[1] > x_shape[2]):
        raise ValueError(f"{where}: the kernel ({kernel_shape[0]}, {kernel_shape[1]}) is "
                         f"larger than the input ({x_shape[1]}, {x_shape[2]}) with "
                         f"padding='valid'")
    out_h = output_length(x_shape[1], kernel_shape[0], strides[0], padding)
    out_w = output_length(x_shape[2], kernel_shape[1], strides[1], padding)
    return strides, padding, (x_shape[0], out_h, out_w, kernel_shape[3])


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, *,
         bias=None, activation=None, pool=None):
    """2-D convolution of NHWC inputs with an HWIO kernel (``keras.ops.conv``).

    Args:
        inputs (array): array of shape ``(N, H, W, C_in)``.
        kernel (array): array of shape ``(kh, kw, C_in, C_out)``.
        strides (int or tuple of 2 ints): the step along height and width (an int for
            both).
        padding (str): ``"valid"`` or ``"same"`` (Keras's split: the odd pixel goes
            bottom/right).
        data_format (str or None): ``None`` or ``"channels_last"``.
        dilation_rate (int or tuple of 2 ints): only 1 is supported.
        bias (array or None): optional ``(C_out,)`` bias, added in the same pass (minidl
            extension).
        activation (str or None): optional ``"relu"``, ``"sigmoid"`` or ``"tanh"`` applied
            in the same pass (minidl extension).
        pool (str or None): ``"average"`` to average-pool the result over 2x2 windows with
            stride 2 ('valid') in the same call, with the bits of ``average_pool`` after
            ``conv`` (minidl extension for inference, CPU only: a pooled output never
            leaves the core's cache).

    Returns:
        Array of shape ``(N, H_out, W_out, C_out)``, or ``(N, H_out // 2, W_out // 2,
        C_out)`` with ``pool="average"``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.conv(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4)), padding="same").shape
        (1, 5, 5, 4)
    """
    backend = backend_of(inputs, kernel, bias)
    x = backend.prepare(inputs, "inputs", "conv")
    w = backend.prepare(kernel, "kernel", "conv", dtype=x.dtype)
    require_ndim(x, 4, "inputs", "conv")
    require_nonempty(x, "inputs", "conv")
    strides, padding, out_shape = _conv_geometry(x.shape, w.shape, strides, padding,
                                                 data_format, dilation_rate, "conv")
    if activation not in _ACTIVATION_CODES:
        raise ValueError(f"conv: argument 'activation' must be one of 'linear', 'relu', "
                         f"'sigmoid', 'tanh' or None. Received: {activation!r}")
    b = None
    if bias is not None:
        b = backend.prepare(bias, "bias", "conv", dtype=x.dtype)
        if b.shape != (w.shape[3],):
            raise ValueError(f"conv: argument 'bias' must have shape ({w.shape[3]},). "
                             f"Received: shape {b.shape}")
    pooling = {}  # only the CPU kernel takes pool=
    if pool is not None:
        _check_conv_pool(pool, backend.name, out_shape)
        n, out_h, out_w, out_c = out_shape
        out_shape, pooling = (n, out_h // 2, out_w // 2, out_c), {"pool": 2}
    y = backend.empty(out_shape, dtype=x.dtype)
    backend.kernels.conv2d_forward(y, x, w, b, strides[0], strides[1], padding,
                                   _ACTIVATION_CODES[activation], **pooling)
    return y


def _check_conv_pool(pool, backend_name, out_shape):
    """Refuse a ``pool`` that ``conv`` cannot fuse, before any work."""
    if pool != "average":
        raise ValueError(f"conv: argument 'pool' must be 'average' or None. Received: "
                         f"{pool!r}")
    if backend_name != "cpu":
        raise NotImplementedError(f"conv: pool='average' is implemented on the CPU only "
                                  f"(inputs on {backend_name!r})")
    if out_shape[1] < 2 or out_shape[2] < 2:
        raise ValueError(f"conv: pool='average' needs an output of at least 2x2. Received: "
                         f"output shape {tuple(out_shape)}")


def conv_backward(dy, inputs, kernel, strides=1, padding="valid", data_format=None,
                  dilation_rate=1, *, use_bias=False, input_gradient=True):
    """Gradients of :func:`conv` (before any fused activation).

    Args:
        dy (array): gradient of the convolution's output, ``(N, H_out, W_out, C_out)``.
        inputs (array): the forward input ``(N, H, W, C_in)``.
        kernel (array): the forward kernel ``(kh, kw, C_in, C_out)``.
        strides (int or tuple of 2 ints): as given to :func:`conv`.
        padding (str): as given to :func:`conv`.
        data_format (str or None): as given to :func:`conv`.
        dilation_rate (int or tuple of 2 ints): as given to :func:`conv` (only 1).
        use_bias (bool): also return the bias gradient (the sum of dy over N, H, W).
        input_gradient (bool): compute the input gradient (False skips it, e.g. for a
            first layer).

    Returns:
        ``(dinputs, dkernel, dbias)``; ``dinputs`` is None when ``input_gradient`` is
        False and ``dbias`` is None unless ``use_bias``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x, kernel = np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1))
        >>> dy = np.ones((1, 2, 2, 1))
        >>> dx, dkernel, _ = ops.conv_backward(dy, x, kernel)  # no bias: its gradient is None
        >>> dx[0, :, :, 0], dkernel[:, :, 0, 0]
        (array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]]), array([[4., 4.],
               [4., 4.]]))
    """
    backend = backend_of(dy, inputs, kernel)
    where = "conv_backward"
    x = backend.prepare(inputs, "inputs", where)
    w = backend.prepare(kernel, "kernel", where, dtype=x.dtype)
    g = backend.prepare(dy, "dy", where, dtype=x.dtype)
    require_ndim(x, 4, "inputs", where)
    require_nonempty(x, "inputs", where)
    strides, padding, out_shape = _conv_geometry(x.shape, w.shape, strides, padding,
                                                 data_format, dilation_rate, where)
    if g.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape}. "
                         f"Received: shape {g.shape}")
    dx = None
    if input_gradient:
        dx = backend.empty(x.shape, dtype=x.dtype)
        backend.kernels.conv2d_backward_input(dx, g, w, strides[0], strides[1], padding)
    dw = backend.empty(w.shape, dtype=x.dtype)
    db = backend.empty((w.shape[3],), dtype=x.dtype) if use_bias else None
    backend.kernels.conv2d_backward_weight(dw, db, g, x, strides[0], strides[1], padding)
    return dx, dw, db


def _depthwise_arrays(backend, inputs, kernel, strides, padding, data_format, dilation_rate,
                      where):
    """Check a depthwise convolution's input and kernel; return (x, w, strides, padding,
    output shape): the output has channels * multiplier channels."""
    x = backend.prepare(inputs, "inputs", where)
    w = backend.prepare(kernel, "kernel", where, dtype=x.dtype)
    require_ndim(x, 4, "inputs", where)
    require_nonempty(x, "inputs", where)
    strides, padding, out_shape = _conv_geometry(x.shape, w.shape, strides, padding,
                                                 data_format, dilation_rate, where)
    return x, w, strides, padding, out_shape[:3] + (w.shape[2] * w.shape[3],)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1, *, bias=None):
    """Depthwise 2-D convolution (``keras.ops.depthwise_conv``): every input channel is
    convolved with its own ``multiplier`` filters; output channel ``c * multiplier + m``
    is filter ``m`` of channel ``c``.

    Args:
        inputs (array): array of shape ``(N, H, W, C)``.
        kernel (array): array of shape ``(kh, kw, C, multiplier)``.
        strides (int or tuple of 2 ints): the step along height and width (an int for
            both).
        padding (str): ``"valid"`` or ``"same"``.
        data_format (str or None): ``None`` or ``"channels_last"``.
        dilation_rate (int or tuple of 2 ints): only 1 is supported.
        bias (array or None): optional ``(C * multiplier,)`` bias, added in the same pass
            (minidl extension).

    Returns:
        Array of shape ``(N, H_out, W_out, C * multiplier)``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))], axis=-1)[None]  # 2 channels
        >>> ops.depthwise_conv(x, np.ones((3, 3, 2, 1)))[0, 0, 0]  # each channel's own sum
        array([ 9., 18.])
    """
    backend = backend_of(inputs, kernel, bias)
    where = "depthwise_conv"
    x, w, strides, padding, out_shape = _depthwise_arrays(
        backend, inputs, kernel, strides, padding, data_format, dilation_rate, where)
    b = None
    if bias is not None:
        b = backend.prepare(bias, "bias", where, dtype=x.dtype)
        if b.shape != (out_shape[3],):
            raise ValueError(f"{where}: argument 'bias' must have shape ({out_shape[3]},). "
                             f"Received: shape {b.shape}")
    y = backend.empty(out_shape, dtype=x.dtype)
    backend.require("depthwise_conv2d_forward", where)(y, x, w, b, strides[0], strides[1],
                                                       padding)
    return y


def depthwise_conv_backward(dy, inputs, kernel, strides=1, padding="valid", data_format=None,
                            dilation_rate=1, *, use_bias=False, input_gradient=True):
    """Gradients of :func:`depthwise_conv`.

    Args:
        dy (array): gradient of the output, ``(N, H_out, W_out, C * multiplier)``.
        inputs (array): the forward input ``(N, H, W, C)``.
        kernel (array): the forward kernel ``(kh, kw, C, multiplier)``.
        strides (int or tuple of 2 ints): as in the forward call.
        padding (str): as in the forward call.
        data_format (str or None): as in the forward call.
        dilation_rate (int or tuple of 2 ints): as in the forward call (only 1).
        use_bias (bool): also return the bias gradient.
        input_gradient (bool): compute the input gradient (False: None in its place).

    Returns:
        ``(dx, dkernel, dbias)``: dx of the inputs' shape (or None), dkernel of the
        kernel's, dbias ``(C * multiplier,)`` or None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x, kernel = np.ones((1, 3, 3, 2)), np.ones((2, 2, 2, 1))
        >>> dx, dkernel, dbias = ops.depthwise_conv_backward(np.ones((1, 2, 2, 2)), x, kernel,
        ...                                                  use_bias=True)
        >>> dx[0, :, :, 0], dkernel[:, :, 0, 0], dbias
        (array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]]), array([[4., 4.],
               [4., 4.]]), array([4., 4.]))
    """
    backend = backend_of(dy, inputs, kernel)
    where = "depthwise_conv_backward"
    x, w, strides, padding, out_shape = _depthwise_arrays(
        backend, inputs, kernel, strides, padding, data_format, dilation_rate, where)
    g = backend.prepare(dy, "dy", where, dtype=x.dtype)
    if g.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape}. "
                         f"Received: shape {g.shape}")
    dx = None
    if input_gradient:
        dx = backend.empty(x.shape, dtype=x.dtype)
        backend.require("depthwise_conv2d_backward_input", where)(dx, g, w, strides[0],
                                                                  strides[1], padding)
    dw = backend.empty(w.shape, dtype=x.dtype)
    db = backend.empty((out_shape[3],), dtype=x.dtype) if use_bias else None
    backend.require("depthwise_conv2d_backward_weight", where)(dw, db, g, x, strides[0],
                                                               strides[1], padding)
    return dx, dw, db


def _embedding_indices(indices, rows, where):
    """The indices as (their shape, a flat int64 array), each checked to be an integer in
    [0, rows): integral floats are accepted (layers receive float32 batches), anything
    else raises before any work."""
    array = np.asarray(to_numpy(indices))
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.trunc(array)):
            raise ValueError(f"{where}: argument 'indices' must hold integers. Received: "
                             f"non-integral values of dtype {array.dtype}")
    elif array.dtype.kind not in "iu":
        raise TypeError(f"{where}: argument 'indices' must hold integers. Received: dtype "
                        f"{array.dtype}")
    flat = np.ascontiguousarray(array.reshape(-1), dtype=np.int64)
    bad = np.flatnonzero((flat < 0) | (flat >= rows))
    if bad.size:
        raise ValueError(f"{where}: every index must be in [0, {rows}) (the table's rows). "
                         f"Received: {int(flat[bad[0]])} at flat position {int(bad[0])}")
    return array.shape, flat


def embedding(indices, table):
    """The rows of ``table`` at ``indices`` (an embedding lookup, ``keras.ops.take`` along
    axis 0).

    Args:
        indices (array): integer array of any shape (floats holding whole numbers are
            accepted), each in ``[0, rows)``.
        table (array): array of shape ``(rows, dim)``.

    Returns:
        Array of shape ``indices.shape + (dim,)``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.embedding(np.array([[2, 0]]), np.arange(6.0).reshape(3, 2))
        array([[[4., 5.],
                [0., 1.]]])
    """
    backend = backend_of(table)
    where = "embedding"
    w = backend.prepare(table, "table", where)
    require_ndim(w, 2, "table", where)
    shape, flat = _embedding_indices(indices, w.shape[0], where)
    y = backend.empty((flat.size, w.shape[1]), dtype=w.dtype)
    if flat.size and w.shape[1]:
        backend.require("embedding_forward", where)(y, w, flat)
    return y.reshape(shape + (w.shape[1],))


def embedding_backward(dy, indices, table_shape):
    """Gradient of :func:`embedding` with respect to the table: each row the sum of the
    ``dy`` rows of its index (repeated indices accumulate).

    Args:
        dy (array): gradient of the output, ``indices.shape + (dim,)``.
        indices (array): the forward call's indices.
        table_shape (tuple of 2 ints): ``(rows, dim)``.

    Returns:
        Array of ``table_shape``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.embedding_backward(np.ones((1, 3, 2)), np.array([[2, 0, 2]]), (3, 2))
        array([[1., 1.],
               [0., 0.],
               [2., 2.]])
    """
    backend = backend_of(dy)
    where = "embedding_backward"
    g = backend.prepare(dy, "dy", where)
    rows, dim = (int(v) for v in table_shape)
    shape, flat = _embedding_indices(indices, rows, where)
    if g.shape != shape + (dim,):
        raise ValueError(f"{where}: argument 'dy' must have shape {shape + (dim,)}. "
                         f"Received: shape {g.shape}")
    dtable = backend.empty((rows, dim), dtype=g.dtype)
    if flat.size and dim:
        backend.require("embedding_backward", where)(dtable, g.reshape(flat.size, dim), flat)
    else:
        dtable[...] = 0
    return dtable


def _transposed_length(length, window, stride, padding):
    """The output length of a transposed convolution: the input length of the
    convolution it transposes (Keras's choice when output_padding is None)."""
    if padding == "same":
        return length * stride
    return (length - 1) * stride + window


def _conv_transpose_shapes(backend, inputs, kernel, strides, padding, data_format, dilation_rate,
                           where):
    """Checked (x, kernel, strides, padding, output shape) of a transposed convolution."""
    x = backend.prepare(inputs, "inputs", where)
    w = backend.prepare(kernel, "kernel", where, dtype=x.dtype)
    require_ndim(x, 4, "inputs", where)
    require_ndim(w, 4, "kernel", where)
    require_nonempty(x, "inputs", where)
    if x.shape[3] != w.shape[3]:
        raise ValueError(f"{where}: the input has {x.shape[3]} channels but the kernel of "
                         f"shape {w.shape} (kh, kw, out, in) expects {w.shape[3]}")
    pair = positive_tuple(strides, 2, "strides", where)
    out_shape = (x.shape[0],
                 _transposed_length(x.shape[1], w.shape[0], pair[0], padding_mode(padding, where)),
                 _transposed_length(x.shape[2], w.shape[1], pair[1], padding_mode(padding, where)),
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
        inputs (array): array of shape ``(N, H, W, C_in)``.
        kernel (array): array of shape ``(kh, kw, C_out, C_in)`` (Keras's layout).
        strides (int or tuple of 2 ints): the step along height and width (an int for
            both).
        padding (str): ``"valid"`` (output ``(H - 1) * stride + kh``) or ``"same"`` (output
            ``H * stride``).
        data_format (str or None): ``None`` or ``"channels_last"``.
        dilation_rate (int or tuple of 2 ints): only 1.
        bias (array or None): optional vector of length ``C_out``.

    Returns:
        Array of shape ``(N, H_out, W_out, C_out)``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x = np.ones((1, 2, 2, 1))
        >>> ops.conv_transpose(x, np.ones((2, 2, 1, 1)), strides=2).shape
        (1, 4, 4, 1)
        >>> ops.conv_transpose(x, np.ones((2, 2, 1, 1)))[0, :, :, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    backend = backend_of(inputs, kernel, bias)
    where = "conv_transpose"
    x, w, strides, padding, out_shape = _conv_transpose_shapes(backend, 
        inputs, kernel, strides, padding, data_format, dilation_rate, where)
    y = backend.empty(out_shape, dtype=x.dtype)
    backend.kernels.conv2d_backward_input(y, x, w, strides[0], strides[1], padding)
    return y if bias is None else bias_add(y, bias)


def conv_transpose_backward(dy, inputs, kernel, strides=1, padding="valid",
                            data_format=None, dilation_rate=1, *, use_bias=False,
                            input_gradient=True):
    """Gradients of :func:`conv_transpose`.

    Args:
        dy (array): gradient of the output, ``(N, H_out, W_out, C_out)``.
        inputs (array): the forward input ``(N, H, W, C_in)``.
        kernel (array): the forward kernel ``(kh, kw, C_out, C_in)``.
        strides (int or tuple of 2 ints): as given to :func:`conv_transpose`.
        padding (str): as given to :func:`conv_transpose`.
        data_format (str or None): as given to :func:`conv_transpose`.
        dilation_rate (int or tuple of 2 ints): as given to :func:`conv_transpose`
            (only 1).
        use_bias (bool): also return the bias gradient (the sum of dy over N, H, W).
        input_gradient (bool): compute the input gradient.

    Returns:
        ``(dinputs, dkernel, dbias)`` (None where not asked for).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x, kernel = np.ones((1, 2, 2, 1)), np.ones((2, 2, 1, 1))
        >>> dx, dkernel, _ = ops.conv_transpose_backward(np.ones((1, 3, 3, 1)), x, kernel)
        >>> dx[0, :, :, 0], dkernel[:, :, 0, 0]
        (array([[4., 4.],
               [4., 4.]]), array([[4., 4.],
               [4., 4.]]))
    """
    backend = backend_of(dy, inputs, kernel)
    where = "conv_transpose_backward"
    x, w, strides, padding, out_shape = _conv_transpose_shapes(backend, 
        inputs, kernel, strides, padding, data_format, dilation_rate, where)
    g = backend.prepare(dy, "dy", where, dtype=x.dtype)
    if g.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape}. Received: "
                         f"shape {g.shape}")
    dx = None
    if input_gradient:  # the forward convolution of dy
        dx = backend.empty(x.shape, dtype=x.dtype)
        backend.kernels.conv2d_forward(dx, g, w, None, strides[0], strides[1], padding,
                               _ACTIVATION_CODES["linear"])
    dw = backend.empty(w.shape, dtype=x.dtype)
    backend.kernels.conv2d_backward_weight(dw, None, x, g, strides[0], strides[1], padding)
    db = sum(g, axis=(0, 1, 2)) if use_bias else None
    return dx, dw, db


def _pool_args(x_shape, pool_size, strides, padding, where):
    """Validate pooling arguments for an NHWC input shape.

    Returns:
        (pool, stride, padding, output_shape): two 2-tuples, the lower-case padding and
        the NHWC output shape.
    """
    pool = positive_tuple(pool_size, 2, "pool_size", where)
    stride = pool if strides is None else positive_tuple(strides, 2, "strides", where)
    pad = padding_mode(padding, where)
    height, width = x_shape[1], x_shape[2]
    if pad == "valid" and (pool[0] > height or pool[1] > width):
        raise ValueError(f"{where}: argument 'pool_size' {pool} is larger than the input's "
                         f"spatial size {(height, width)} with padding='valid'. Received: "
                         f"input shape {tuple(x_shape)}")
    out_shape = (x_shape[0], output_length(height, pool[0], stride[0], pad),
                 output_length(width, pool[1], stride[1], pad), x_shape[3])
    return pool, stride, pad, out_shape


def _pool_input(backend, inputs, where):
    """The rank-4, non-empty NHWC input of a pooling op as a contiguous float array."""
    x = backend.prepare(inputs, "inputs", where)
    require_ndim(x, 4, "inputs", where)
    require_nonempty(x, "inputs", where)
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
                         f"ints (batch, height, width, channels). Received: {input_shape!r}")
    return tuple(int(v) for v in shape)


def _pool_dy(backend, dy, input_shape, pool_size, strides, padding, where):
    """Validate dy and the geometry of a pooling backward op.

    Returns:
        (dy, input_shape, pool, stride, padding): dy as a contiguous float array.
    """
    dy = backend.prepare(dy, "dy", where)
    require_ndim(dy, 4, "dy", where)
    shape = _pool_input_shape(input_shape, where)
    pool, stride, pad, out_shape = _pool_args(shape, pool_size, strides, padding, where)
    if dy.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape} (the output "
                         f"of pooling an input of shape {shape} with pool_size={pool}, "
                         f"strides={stride}, padding='{pad}'). Received: shape {dy.shape}")
    return dy, shape, pool, stride, pad


def _max_pool(backend, inputs, pool_size, strides, padding, where, want_argmax):
    """Shared body of max_pool and max_pool_with_argmax: (y, argmax or None)."""
    x = _pool_input(backend, inputs, where)
    pool, stride, pad, out_shape = _pool_args(x.shape, pool_size, strides, padding, where)
    y = backend.empty(out_shape, dtype=x.dtype)
    argmax = backend.empty(out_shape, dtype=np.int64) if want_argmax else None
    backend.kernels.maxpool2d_forward(y, argmax, x, pool, stride, pad)
    return y, argmax


def max_pool(inputs, pool_size, strides=None, padding="valid"):
    """Max pooling over the spatial axes of an NHWC batch (Keras/TensorFlow semantics).

    Args:
        inputs (array): array of shape (batch, height, width, channels).
        pool_size (int or tuple of 2 ints): the window (pool_height, pool_width); an int
            for both.
        strides (int or tuple of 2 ints or None): (stride_height, stride_width), an int for
            both, or None (then equal to pool_size).
        padding (str): 'valid' or 'same'. With 'same' the output is ceil(size / stride) and
            the odd padded pixel goes bottom/right; padded cells are never picked.

    Returns:
        Array of shape (batch, out_height, out_width, channels), float32 or float64.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.max_pool(np.arange(16.0).reshape(1, 4, 4, 1), 2)[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    backend = backend_of(inputs)
    return _max_pool(backend, inputs, pool_size, strides, padding, "max_pool", False)[0]


def max_pool_with_argmax(inputs, pool_size, strides=None, padding="valid"):
    """Max pooling that also returns where each maximum came from.

    Ties pick the first maximum in row-major window order. Unlike
    ``tf.nn.max_pool_with_argmax``, the index is ``h * width + w`` within the cell's own
    image and channel (neither batch nor channel is folded in).

    Args:
        inputs (array): array of shape (batch, height, width, channels).
        pool_size (int or tuple of 2 ints): the window (pool_height, pool_width); an int
            for both.
        strides (int or tuple of 2 ints or None): (stride_height, stride_width), an int for
            both, or None (then equal to pool_size).
        padding (str): 'valid' or 'same'.

    Returns:
        (y, argmax): y of shape (batch, out_height, out_width, channels) and argmax, int64
        of the same shape, for ``max_pool_backward``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x = np.array([[[[1.0], [5.0]], [[3.0], [2.0]]]])  # one 2x2 image
        >>> y, argmax = ops.max_pool_with_argmax(x, 2)
        >>> y.ravel(), argmax.ravel()  # the maximum and its flat position h * width + w
        (array([5.]), array([1]))
    """
    backend = backend_of(inputs)
    return _max_pool(backend, inputs, pool_size, strides, padding, "max_pool_with_argmax", True)


def max_pool_backward(dy, argmax, input_shape, pool_size, strides=None, padding="valid"):
    """Gradient of ``max_pool`` with respect to its input.

    Each output gradient goes to the input cell its window picked (gradients add up where
    windows overlap, i.e. stride < pool_size).

    Args:
        dy (array): gradient of the loss with respect to the output, (batch, out_h, out_w,
            channels).
        argmax (array): the int64 indices returned by ``max_pool_with_argmax`` (same shape
            as dy).
        input_shape (tuple of 4 ints): the forward input's shape (batch, height, width,
            channels).
        pool_size (int or tuple of 2 ints): as in the forward pass.
        strides (int or tuple of 2 ints or None): as in the forward pass.
        padding (str): 'valid' or 'same', as in the forward pass.

    Returns:
        dx, the gradient with respect to the input, of shape ``input_shape``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x = np.array([[[[1.0], [5.0]], [[3.0], [2.0]]]])
        >>> y, argmax = ops.max_pool_with_argmax(x, 2)
        >>> ops.max_pool_backward(np.ones_like(y), argmax, x.shape, 2)[0, :, :, 0]
        array([[0., 1.],
               [0., 0.]])
    """
    backend = backend_of(dy, argmax)
    where = "max_pool_backward"
    dy, shape, pool, stride, pad = _pool_dy(backend, dy, input_shape, pool_size, strides, padding,
                                            where)
    if on_host(argmax):  # a device argmax is range-checked by the kernel
        argmax = np.asarray(argmax)
        if argmax.dtype.kind in "iu" and argmax.size and \
                (argmax.min() < 0 or argmax.max() >= shape[1] * shape[2]):
            raise ValueError(f"{where}: argument 'argmax' must hold indices in "
                             f"[0, {shape[1] * shape[2]}). Received: values outside "
                             f"[0, {shape[1] * shape[2]})")
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"{where}: argument 'argmax' must be an integer array. "
                        f"Received: dtype {argmax.dtype}")
    if argmax.shape != dy.shape:
        raise ValueError(f"{where}: argument 'argmax' must have the shape of 'dy' "
                         f"{dy.shape}. Received: shape {argmax.shape}")
    argmax = backend.prepare(argmax, "argmax", where, dtype=np.int64)
    dx = backend.empty(shape, dtype=dy.dtype)
    backend.kernels.maxpool2d_backward(dx, dy, argmax, pool, stride, pad)
    return dx


def average_pool(inputs, pool_size, strides=None, padding="valid"):
    """Average pooling over the spatial axes of an NHWC batch (Keras/TensorFlow semantics).

    Args:
        inputs (array): array of shape (batch, height, width, channels).
        pool_size (int or tuple of 2 ints): the window (pool_height, pool_width); an int
            for both.
        strides (int or tuple of 2 ints or None): (stride_height, stride_width), an int for
            both, or None (then equal to pool_size).
        padding (str): 'valid' or 'same'. With 'same' padded cells are left out of the mean
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
    backend = backend_of(inputs)
    where = "average_pool"
    x = _pool_input(backend, inputs, where)
    pool, stride, pad, out_shape = _pool_args(x.shape, pool_size, strides, padding, where)
    y = backend.empty(out_shape, dtype=x.dtype)
    backend.kernels.avgpool2d_forward(y, x, pool, stride, pad)
    return y


def average_pool_backward(dy, input_shape, pool_size, strides=None, padding="valid"):
    """Gradient of ``average_pool`` with respect to its input.

    Args:
        dy (array): gradient of the loss with respect to the output, (batch, out_h, out_w,
            channels).
        input_shape (tuple of 4 ints): the forward input's shape (batch, height, width,
            channels).
        pool_size (int or tuple of 2 ints): as in the forward pass.
        strides (int or tuple of 2 ints or None): as in the forward pass.
        padding (str): 'valid' or 'same', as in the forward pass.

    Returns:
        dx, the gradient with respect to the input, of shape ``input_shape``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.average_pool_backward(np.ones((1, 1, 1, 1)), (1, 2, 2, 1), 2)[0, :, :, 0]
        array([[0.25, 0.25],
               [0.25, 0.25]])
    """
    backend = backend_of(dy)
    where = "average_pool_backward"
    dy, shape, pool, stride, pad = _pool_dy(backend, dy, input_shape, pool_size, strides, padding,
                                            where)
    dx = backend.empty(shape, dtype=dy.dtype)
    backend.kernels.avgpool2d_backward(dx, dy, pool, stride, pad)
    return dx


def _bn_input(backend, x, where, axis, name="x"):
    """x with its channel axis moved last, as a C-contiguous (rows, channels) array.

    Returns (x2d, moved_shape, axis) where moved_shape is the shape after the move.
    """
    if np.ndim(x) == 0 and not isinstance(x, (str, bytes)):
        raise ValueError(f"{where}: argument '{name}' must have rank >= 1. "
                         f"Received: shape () (rank 0)")
    x = backend.prepare(x, name, where)
    require_nonempty(x, name, where)
    axis = channel_axis(axis, x.ndim, where)
    x2d, moved_shape = _rows(backend, x, axis)
    return x2d, moved_shape, axis


def _rows(backend, array, axis):
    """``array`` with ``axis`` moved last as a C-contiguous (rows, cols) array (a view
    when it is last already), and the moved shape, for ``_unrows``."""
    if axis == array.ndim - 1:
        return array.reshape(-1, array.shape[-1]), array.shape
    moved = backend.transpose(array, axis_last_order(array.ndim, axis))
    return moved.reshape(-1, moved.shape[-1]), moved.shape


def _unrows(backend, rows, moved_shape, axis):
    """Undo ``_rows``: reshape and move the last axis back to ``axis``."""
    if axis == len(moved_shape) - 1:
        return rows.reshape(moved_shape)
    return backend.transpose(rows.reshape(moved_shape), axis_back_order(len(moved_shape), axis))


def _bn_like_input(backend, dy, x2d, moved_shape, axis, where):
    """dy laid out like _bn_input's x2d, or a ValueError unless it has the shape of x."""
    dy = backend.prepare(dy, "dy", where, x2d.dtype)
    x_shape = moved_shape[:axis] + moved_shape[-1:] + moved_shape[axis:-1]
    if dy.shape != x_shape:
        raise ValueError(f"{where}: argument 'dy' must have the shape of 'x' {x_shape}. "
                         f"Received: shape {dy.shape}")
    return backend.transpose(dy, axis_last_order(dy.ndim, axis)).reshape(x2d.shape)


def _bn_vector(backend, v, name, where, channels, dtype, optional=True, epsilon=None):
    """A per-channel vector of ``channels`` values as a C-contiguous 1-D array.

    Shapes (channels,) and broadcastable ones such as (1, 1, 1, channels) are accepted.
    None passes through when ``optional``. With ``epsilon`` (a variance), host values
    must be >= -epsilon (device values are checked by the kernel).
    """
    if v is None:
        if optional:
            return None
        raise TypeError(f"{where}: argument '{name}' must be an array of shape "
                        f"({channels},). Received: None")
    original = v
    if not (type(v) is np.ndarray is backend.array_type and v.shape == (channels,) and
            v.dtype == dtype and v.flags.c_contiguous):  # the CPU's common case: no copy
        v = backend.prepare(v, name, where, dtype)
        if v.size != channels or len([n for n in v.shape if n != 1]) > 1:
            raise ValueError(f"{where}: argument '{name}' must have shape ({channels},) "
                             f"(one value per channel). Received: shape {v.shape}")
        v = v.reshape(channels)
    if epsilon is not None and on_host(original):
        _bn_nonnegative_variance(np.asarray(original, dtype=dtype), epsilon, name, where)
    return v


def _bn_nonnegative_variance(variance, epsilon, name, where):
    """ValueError when variance + epsilon < 0 for some channel (NaN passes)."""
    # in float64, as the kernel checks it; NaN compares False and passes
    if np.less(variance, -epsilon, signature=(np.float64, np.float64, np.bool_)).any():
        raise ValueError(f"{where}: argument '{name}' must be >= -epsilon "
                         f"({-epsilon}) in every channel. Received: minimum "
                         f"{float(np.nanmin(variance))}")


def _bn_moving(backend, v, name, where, channels, dtype):
    """Check a moving statistic that is updated in place (None: no update)."""
    if v is None:
        return None
    return backend.check_in_place(v, name, where, dtype=dtype, shape=(channels,))


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and biased variance of ``x`` over ``axes`` (``keras.ops.moments``).

    The statistics are accumulated in double precision with a fixed summation order
    (bit-identical for any thread count).

    Args:
        x (array): input array (non-empty).
        axes (int or tuple of ints): an int or a sequence of ints, the axes to reduce
            (negative counts from the end; ``()`` reduces nothing and gives variance 0).
        keepdims (bool): keep the reduced axes with length 1.
        synchronized (bool): accepted for Keras compatibility; minidl runs on one device, so
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
    backend = backend_of(x)
    where = "moments"
    x = backend.prepare(x, "x", where)
    require_nonempty(x, "x", where)
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = (axes,)
    try:
        axes = tuple(axes)
    except TypeError:
        axes = None
    if axes is None or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                               for a in axes):
        raise ValueError(f"{where}: argument 'axes' must be an int or a sequence of ints. "
                         f"Received: {axes!r}")
    if any(not -x.ndim <= a < x.ndim for a in axes):
        raise ValueError(f"{where}: argument 'axes' must be in [{-x.ndim}, {x.ndim}) for "
                         f"an input of shape {x.shape}. Received: {axes}")
    axes = tuple(int(a) % x.ndim for a in axes) if x.ndim else ()
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: argument 'axes' must not repeat an axis. Received: {axes}")
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    moved = backend.transpose(x, axes + kept)
    channels = int(np.prod([x.shape[a] for a in kept], dtype=np.int64))
    x2d = moved.reshape(-1, channels)
    mean = backend.empty(channels, dtype=x.dtype)
    variance = backend.empty(channels, dtype=x.dtype)
    backend.kernels.moments(mean, variance, x2d)
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
        x (array): input array, channels on ``axis``.
        mean (array): per-channel mean, shape ``(channels,)``.
        variance (array): per-channel variance, shape ``(channels,)``;
            ``variance + epsilon`` must not be negative.
        axis (int): the channel axis (default: last).
        offset (array or None): per-channel offset (beta), or None for 0.
        scale (array or None): per-channel scale (gamma), or None for 1.
        epsilon (float): a small number >= 0 added to the variance.

    Returns:
        The normalised array, same shape as ``x``, in x's compute dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
        >>> mean, variance = np.array([2.0, 20.0]), np.array([1.0, 100.0])
        >>> ops.batch_normalization(x, mean, variance, epsilon=0.0)
        array([[-1., -1.],
               [ 1.,  1.]])
    """
    backend = backend_of(x, mean, variance, offset, scale)
    where = "batch_normalization"
    x2d, moved_shape, axis = _bn_input(backend, x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    epsilon = bounded_number(epsilon, "epsilon", where, 0.0)
    mean = _bn_vector(backend, mean, "mean", where, channels, dtype, optional=False)
    variance = _bn_vector(backend, variance, "variance", where, channels, dtype, optional=False,
                      epsilon=epsilon)
    offset = _bn_vector(backend, offset, "offset", where, channels, dtype)
    scale = _bn_vector(backend, scale, "scale", where, channels, dtype)
    y = backend.empty(x2d.shape, x2d.dtype)
    backend.kernels.batchnorm_forward_infer(y, x2d, mean, variance, scale, offset, epsilon)
    return _unrows(backend, y, moved_shape, axis)


def batch_normalization_backward(dy, x, mean, variance, axis=-1, scale=None, epsilon=1e-3):
    """Gradients of :func:`batch_normalization` with the statistics held constant.

    ``dx = dy * scale / sqrt(variance + epsilon)``, ``dscale = sum(dy * xhat)``,
    ``doffset = sum(dy)`` with ``xhat = (x - mean) / sqrt(variance + epsilon)``, the
    sums over every axis but ``axis``. No gradients flow to ``mean`` or ``variance``.

    Args:
        dy (array): gradient of the loss with respect to the output, shape of ``x``.
        x (array): the forward input.
        mean (array): per-channel mean used by the forward pass, shape ``(channels,)``.
        variance (array): per-channel variance used by the forward pass.
        axis (int): the channel axis (default: last).
        scale (array or None): per-channel scale of the forward pass, or None for 1.
        epsilon (float): the forward pass's epsilon.

    Returns:
        ``(dx, dscale, doffset)``: dx with the shape of ``x``; dscale and doffset of
        shape ``(channels,)`` (computed even when the forward pass had no scale or
        offset), all in x's compute dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x = np.array([[1.0], [3.0]])
        >>> mean, variance, scale = np.array([2.0]), np.array([4.0]), np.array([3.0])
        >>> dx, dscale, doffset = ops.batch_normalization_backward(
        ...     np.ones((2, 1)), x, mean, variance, scale=scale, epsilon=0.0)
        >>> dx.ravel(), dscale, doffset  # dx = dy * scale / sqrt(var)
        (array([1.5, 1.5]), array([0.]), array([2.]))
    """
    backend = backend_of(dy, x, mean, variance, scale)
    where = "batch_normalization_backward"
    x2d, moved_shape, axis = _bn_input(backend, x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    dy2d = _bn_like_input(backend, dy, x2d, moved_shape, axis, where)
    epsilon = bounded_number(epsilon, "epsilon", where, 0.0)
    mean = _bn_vector(backend, mean, "mean", where, channels, dtype, optional=False)
    variance = _bn_vector(backend, variance, "variance", where, channels, dtype, optional=False,
                      epsilon=epsilon)
    scale = _bn_vector(backend, scale, "scale", where, channels, dtype)
    dx = backend.empty(x2d.shape, x2d.dtype)
    dscale = backend.empty(channels, dtype=dtype)
    doffset = backend.empty(channels, dtype=dtype)
    backend.kernels.batchnorm_backward_infer(dx, dscale, doffset, dy2d, x2d, mean, variance,
                                           scale, epsilon)
    return _unrows(backend, dx, moved_shape, axis), dscale, doffset


def batch_norm_train(x, scale, offset, moving_mean, moving_variance, momentum=0.99,
                     epsilon=1e-3, axis=-1):
    """Training forward of batch normalization, with the Keras 3 moving-statistics update.

    Normalises ``x`` with its own per-channel batch mean and biased batch variance
    (over every axis but ``axis``): ``y = (x - mean) * scale / sqrt(var + epsilon) +
    offset``. When given, the moving statistics are updated in place:
    ``moving = moving * momentum + batch_stat * (1 - momentum)`` (the biased variance
    is stored, as Keras 3 does).

    Args:
        x (array): input array, channels on ``axis`` (e.g. (N, C) or NHWC).
        scale (array or None): per-channel gamma of shape ``(channels,)``, or None
            (scale=False: 1).
        offset (array or None): per-channel beta of shape ``(channels,)``, or None
            (center=False: 0).
        moving_mean (array or None): None (no update), or a writable C-contiguous NumPy
            array of x's compute dtype and shape ``(channels,)`` (a float32 DeviceArray on
            the GPU), updated in place.
        moving_variance (array or None): like ``moving_mean``.
        momentum (float): a number in [0, 1].
        epsilon (float): a number >= 0 added to the variance.
        axis (int): the channel axis (default: last).

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
    backend = backend_of(x, scale, offset, moving_mean, moving_variance)
    where = "batch_norm_train"
    x2d, moved_shape, axis = _bn_input(backend, x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    momentum = bounded_number(momentum, "momentum", where, 0.0, 1.0)
    epsilon = bounded_number(epsilon, "epsilon", where, 0.0)
    scale = _bn_vector(backend, scale, "scale", where, channels, dtype)
    offset = _bn_vector(backend, offset, "offset", where, channels, dtype)
    moving_mean = _bn_moving(backend, moving_mean, "moving_mean", where, channels, dtype)
    moving_variance = _bn_moving(backend, moving_variance, "moving_variance", where, channels, dtype)
    if (moving_mean is not None and moving_variance is not None and
            backend.shares_memory(moving_mean, moving_variance)):
        raise ValueError(f"{where}: arguments 'moving_mean' and 'moving_variance' must not "
                         f"share memory")
    y = backend.empty(x2d.shape, x2d.dtype)
    batch_mean = backend.empty(channels, dtype=dtype)
    batch_variance = backend.empty(channels, dtype=dtype)
    backend.kernels.batchnorm_forward_train(y, batch_mean, batch_variance, moving_mean,
                                          moving_variance, x2d, scale, offset, epsilon,
                                          momentum)
    return _unrows(backend, y, moved_shape, axis), batch_mean, batch_variance


def batch_norm_train_backward(dy, x, batch_mean, batch_variance, scale=None, epsilon=1e-3,
                              axis=-1):
    """Gradients of :func:`batch_norm_train` (the batch statistics depend on ``x``).

    With ``xhat = (x - mean) * r``, ``r = 1 / sqrt(var + epsilon)`` and ``m`` values per
    channel: ``doffset = sum(dy)``, ``dscale = sum(dy * xhat)`` and
    ``dx = scale * r / m * (m * dy - doffset - xhat * dscale)``.

    Args:
        dy (array): gradient of the loss with respect to ``y``, shape of ``x``.
        x (array): the forward input.
        batch_mean (array): the batch mean returned by :func:`batch_norm_train`.
        batch_variance (array): the batch variance returned by :func:`batch_norm_train`.
        scale (array or None): the forward pass's gamma, or None (1).
        epsilon (float): the forward pass's epsilon.
        axis (int): the channel axis (default: last).

    Returns:
        ``(dx, dscale, doffset)``: dx with the shape of ``x``; dscale and doffset of
        shape ``(channels,)`` (computed even when the forward pass had no scale or
        offset), all in x's compute dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> x = np.array([[1.0], [3.0]])
        >>> y, mean, var = ops.batch_norm_train(x, None, None, None, None, epsilon=0.0)
        >>> dy = np.array([[1.0], [1.0]])
        >>> dx, _, _ = ops.batch_norm_train_backward(dy, x, mean, var, epsilon=0.0)
        >>> dx.ravel()  # a shift of every input leaves the normalized output unchanged
        array([0., 0.])
    """
    backend = backend_of(dy, x, batch_mean, batch_variance, scale)
    where = "batch_norm_train_backward"
    x2d, moved_shape, axis = _bn_input(backend, x, where, axis)
    dtype, channels = x2d.dtype, x2d.shape[1]
    dy2d = _bn_like_input(backend, dy, x2d, moved_shape, axis, where)
    epsilon = bounded_number(epsilon, "epsilon", where, 0.0)
    batch_mean = _bn_vector(backend, batch_mean, "batch_mean", where, channels, dtype, optional=False)
    batch_variance = _bn_vector(backend, batch_variance, "batch_variance", where, channels, dtype,
                                optional=False,
                      epsilon=epsilon)
    scale = _bn_vector(backend, scale, "scale", where, channels, dtype)
    dx = backend.empty(x2d.shape, x2d.dtype)
    dscale = backend.empty(channels, dtype=dtype)
    doffset = backend.empty(channels, dtype=dtype)
    backend.kernels.batchnorm_backward_train(dx, dscale, doffset, dy2d, x2d, batch_mean,
                                           batch_variance, scale, epsilon)
    return _unrows(backend, dx, moved_shape, axis), dscale, doffset


_ACTIVATION_NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu",
                     "softplus", "leaky_relu", "gelu", "silu")
# the activations whose derivative needs the forward's input, not its output
_INPUT_GRADIENT = ("gelu", "silu")


def _activation_code(backend, name, where):
    """The kernel code of an activation on this backend (NotImplementedError when the
    backend's kernels lack it: the GPU has relu, sigmoid and tanh)."""
    code = backend.kernels.ACTIVATION_CODES.get(name)
    if code is None:
        raise NotImplementedError(f"{where}: the '{name}' activation is not implemented on "
                                  f"the {backend.name} backend")
    return code


def _act_forward(x, name, where, parameter=None):
    """act(x) elementwise through the kernel (empty arrays pass through); ``parameter``:
    ELU's alpha or leaky ReLU's slope, already checked."""
    backend = backend_of(x)
    x = backend.prepare(x, "x", where)
    y = backend.empty(x.shape, x.dtype)
    if x.size:
        code = _activation_code(backend, name, where)
        if parameter is None:
            backend.kernels.activation_forward(y.reshape(-1), x.reshape(-1), code)
        else:
            backend.require("activation_forward_param", where)(y.reshape(-1), x.reshape(-1),
                                                               code, parameter)
    return y


def _act_backward(dy, y, name, where, parameter=None):
    """dy * act'(.) from the forward output y, elementwise through the kernel."""
    backend = backend_of(dy, y)
    y = backend.prepare(y, "y", where)
    dy = backend.prepare(dy, "dy", where, dtype=y.dtype)
    same_shape(dy, y, "dy", "y", where)
    dx = backend.empty(y.shape, y.dtype)
    if y.size:
        code = _activation_code(backend, name, where)
        if parameter is None:
            backend.kernels.activation_backward(dx.reshape(-1), dy.reshape(-1), y.reshape(-1),
                                                code)
        else:
            backend.require("activation_backward_param", where)(
                dx.reshape(-1), dy.reshape(-1), y.reshape(-1), code, parameter)
    return dx


def _elu_alpha(alpha, where):
    """ELU's alpha: a finite number > 0 (the gradient is read from the output)."""
    alpha = bounded_number(alpha, "alpha", where, 0.0)
    if alpha == 0:
        raise ValueError(f"{where}: argument 'alpha' must be > 0 (alpha 0 is relu). "
                         f"Received: alpha={alpha!r}")
    return alpha


def _act_backward_input(dy, x, name, where):
    """dy * act'(x) from the forward input x (gelu, silu), through the kernel."""
    backend = backend_of(dy, x)
    x = backend.prepare(x, "x", where)
    dy = backend.prepare(dy, "dy", where, dtype=x.dtype)
    same_shape(dy, x, "dy", "x", where)
    dx = backend.empty(x.shape, x.dtype)
    if x.size:
        backend.require("activation_backward_input", where)(
            dx.reshape(-1), dy.reshape(-1), x.reshape(-1), _activation_code(backend, name, where))
    return dx


def _approximate_refused(approximate, where):
    if approximate:
        raise NotImplementedError(f"{where}: argument 'approximate=True' (the tanh "
                                  f"approximation) is not implemented; minidl computes the "
                                  f"exact GELU (Keras's default)")


def gelu(x, approximate=False):
    """Gaussian error linear unit ``x * Phi(x)``, exact (with ``erf``), as
    ``keras.ops.gelu``'s default (Hendrycks and Gimpel 2016).

    Args:
        x (array): input array of any shape (CPU only).
        approximate (bool): only False (the tanh approximation is not implemented).

    Returns:
        An array of x's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.gelu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.1587,  0.    ,  1.9545])
    """
    _approximate_refused(approximate, "gelu")
    return _act_forward(x, "gelu", "gelu")


def gelu_backward(dy, x):
    """Gradient of :func:`gelu` from its INPUT: ``dy * (Phi(x) + x phi(x))``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        x (array): the forward pass's input.

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.gelu_backward(np.ones(3), np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.0833,  0.5   ,  1.0852])
    """
    return _act_backward_input(dy, x, "gelu", "gelu_backward")


def silu(x):
    """Sigmoid linear unit (swish) ``x * sigmoid(x)`` (``keras.ops.silu``).

    Args:
        x (array): input array of any shape (CPU only).

    Returns:
        An array of x's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.silu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.2689,  0.    ,  1.7616])
    """
    return _act_forward(x, "silu", "silu")


def silu_backward(dy, x):
    """Gradient of :func:`silu` from its INPUT: ``dy * s (1 + x (1 - s))``, ``s =
    sigmoid(x)``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        x (array): the forward pass's input.

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.silu_backward(np.ones(3), np.array([-1.0, 0.0, 2.0])).round(4)
        array([0.0723, 0.5   , 1.0908])
    """
    return _act_backward_input(dy, x, "silu", "silu_backward")


def elu(x, alpha=1.0):
    """Exponential linear unit, ``x`` where positive, else ``alpha * (exp(x) - 1)``
    (``keras.ops.elu``).

    Args:
        x (array): input array of any shape.
        alpha (float): the scale of the negative part, > 0.

    Returns:
        An array of x's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.elu(np.array([-1.0, 2.0]), alpha=2.0).round(4)
        array([-1.2642,  2.    ])
    """
    return _act_forward(x, "elu", "elu", _elu_alpha(alpha, "elu"))


def elu_backward(dy, y, alpha=1.0):
    """Gradient of :func:`elu` from its output: ``dy`` where ``y >= 0``, else
    ``dy * (y + alpha)``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        y (array): the forward output ``elu(x, alpha)``.
        alpha (float): the alpha of the forward pass.

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.elu_backward(np.ones(2), np.array([-0.5, 2.0]))
        array([0.5, 1. ])
    """
    where = "elu_backward"
    return _act_backward(dy, y, "elu", where, _elu_alpha(alpha, where))


def leaky_relu(x, negative_slope=0.2):
    """Leaky rectifier, ``x`` where positive, else ``negative_slope * x``
    (``keras.ops.leaky_relu``).

    Args:
        x (array): input array of any shape.
        negative_slope (float): the slope below zero, >= 0.

    Returns:
        An array of x's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.leaky_relu(np.array([-1.0, 2.0]), negative_slope=0.3)
        array([-0.3,  2. ])
    """
    where = "leaky_relu"
    slope = bounded_number(negative_slope, "negative_slope", where, 0.0)
    return _act_forward(x, "leaky_relu", where, slope)


def leaky_relu_backward(dy, y, negative_slope=0.2):
    """Gradient of :func:`leaky_relu` from its output: ``dy`` where ``y > 0``, else
    ``negative_slope * dy``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        y (array): the forward output ``leaky_relu(x, negative_slope)``.
        negative_slope (float): the slope of the forward pass.

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.leaky_relu_backward(np.ones(2), np.array([-0.3, 2.0]), negative_slope=0.3)
        array([0.3, 1. ])
    """
    where = "leaky_relu_backward"
    slope = bounded_number(negative_slope, "negative_slope", where, 0.0)
    return _act_backward(dy, y, "leaky_relu", where, slope)


def relu(x):
    """Rectified linear unit, ``max(x, 0)`` elementwise.

    Args:
        x (array): input array of any shape.

    Returns:
        An array of x's shape (float64 for float64 input, else float32).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.relu(np.array([-1.0, 2.0]))
        array([0., 2.])
    """
    return _act_forward(x, "relu", "relu")


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` elementwise, stable for any ``|x|``.

    Args:
        x (array): input array of any shape.

    Returns:
        An array of x's shape with values in [0, 1].

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.sigmoid(np.array([0.0]))
        array([0.5])
    """
    return _act_forward(x, "sigmoid", "sigmoid")


def tanh(x):
    """Hyperbolic tangent elementwise.

    Args:
        x (array): input array of any shape.

    Returns:
        An array of x's shape with values in [-1, 1].

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.tanh(np.array([0.0]))
        array([0.])
    """
    return _act_forward(x, "tanh", "tanh")


def softmax(x, axis=-1):
    """Softmax along one axis, ``exp(x - max) / sum(exp(x - max))``.

    Args:
        x (array): input array of rank >= 1.
        axis (int): the axis to normalise (default: the last).

    Returns:
        An array of x's shape whose slices along ``axis`` sum to 1.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.softmax(np.array([[0.0, 0.0]]))
        array([[0.5, 0.5]])
    """
    backend = backend_of(x)
    where = "softmax"
    x = backend.prepare(x, "x", where)
    axis = axis_index(axis, x.ndim, x.shape, where)
    if x.size == 0:
        return backend.empty(x.shape, x.dtype)
    flat, moved_shape = _rows(backend, x, axis)
    y = backend.empty(flat.shape, flat.dtype)
    backend.kernels.softmax_forward(y, flat)
    return _unrows(backend, y, moved_shape, axis)


def activation(x, name):
    """Apply an activation by its Keras name.

    Args:
        x (array): input array.
        name (str or None): 'linear', 'relu', 'sigmoid', 'tanh', 'softmax' (last axis),
            'elu', 'selu', 'softplus', 'leaky_relu', 'gelu' or 'silu' (the last six on the
            CPU only);
            None means 'linear', as in ``keras.activations.get(None)``.

    Returns:
        The activated array, of x's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.activation(np.array([-1.0, 0.0, 2.0]), "relu")
        array([0., 0., 2.])
        >>> ops.activation(np.array([[0.0, 0.0]]), "softmax")
        array([[0.5, 0.5]])
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
        raise ValueError(f"{where}: argument 'name' must be one of {valid}. "
                         f"Received: {name!r}")
    return name


def relu_backward(dy, y):
    """Gradient of :func:`relu`: ``dy * (y > 0)``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        y (array): the forward output ``relu(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.relu_backward(np.array([3.0, 3.0]), np.array([0.0, 2.0]))
        array([0., 3.])
    """
    return _act_backward(dy, y, "relu", "relu_backward")


def sigmoid_backward(dy, y):
    """Gradient of :func:`sigmoid`: ``dy * y * (1 - y)``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        y (array): the forward output ``sigmoid(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.sigmoid_backward(np.array([1.0]), ops.sigmoid(np.array([0.0])))  # sigmoid'(0) = 1/4
        array([0.25])
    """
    return _act_backward(dy, y, "sigmoid", "sigmoid_backward")


def tanh_backward(dy, y):
    """Gradient of :func:`tanh`: ``dy * (1 - y**2)``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        y (array): the forward output ``tanh(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.tanh_backward(np.array([1.0]), ops.tanh(np.array([0.0])))  # tanh'(0) = 1
        array([1.])
    """
    return _act_backward(dy, y, "tanh", "tanh_backward")


def softmax_backward(dy, y, axis=-1):
    """Gradient of :func:`softmax`: ``y * (dy - sum(dy * y, axis))``.

    Args:
        dy (array): gradient of the loss with respect to the output.
        y (array): the forward output ``softmax(x, axis)`` (same shape as dy).
        axis (int): the axis the forward pass normalised.

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> y = ops.softmax(np.array([[0.0, 0.0]]))
        >>> ops.softmax_backward(np.array([[1.0, 0.0]]), y)
        array([[ 0.25, -0.25]])
    """
    backend = backend_of(dy, y)
    where = "softmax_backward"
    y = backend.prepare(y, "y", where)
    dy = backend.prepare(dy, "dy", where, dtype=y.dtype)
    same_shape(dy, y, "dy", "y", where)
    axis = axis_index(axis, y.ndim, y.shape, where)
    if y.size == 0:
        return backend.empty(y.shape, y.dtype)
    flat_y, moved_shape = _rows(backend, y, axis)
    flat_dy, _ = _rows(backend, dy, axis)
    dx = backend.empty(flat_y.shape, flat_y.dtype)
    backend.kernels.softmax_backward(dx, flat_dy, flat_y)
    return _unrows(backend, dx, moved_shape, axis)


def activation_backward(dy, y, name, x=None):
    """Gradient of :func:`activation` from its output (from its input for 'gelu' and
    'silu', whose derivative the output does not determine).

    Args:
        dy (array): gradient of the loss with respect to the output.
        y (array): the forward output ``activation(x, name)``.
        name (str or None): the activation's name, as given to :func:`activation`.
        x (array or None): the forward input; required for 'gelu' and 'silu'.

    Returns:
        The gradient with respect to x.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> y = ops.activation(np.array([-1.0, 2.0]), "relu")
        >>> ops.activation_backward(np.array([5.0, 5.0]), y, "relu")
        array([0., 5.])
    """
    name = _act_name(name, "activation_backward")
    if name == "softmax":
        return softmax_backward(dy, y)
    if name in _INPUT_GRADIENT:
        if x is None:
            raise ValueError(f"activation_backward: the '{name}' gradient needs the forward "
                             f"input: pass x")
        return _act_backward_input(dy, x, name, "activation_backward")
    return _act_backward(dy, y, name, "activation_backward")


_LOSS_EPSILON = 1e-7


def _loss_matrix(backend, x, name, where, dtype=None):
    """A non-empty rank-2 (samples, classes) array for a loss."""
    array = backend.prepare(x, name, where, dtype)
    require_ndim(array, 2, name, where)
    require_nonempty(array, name, where)
    return array


def _loss_dloss(backend, dloss, rows, dtype, where):
    """The per-sample upstream gradient as a contiguous (rows,) array."""
    dloss = backend.prepare(dloss, "dloss", where, dtype=dtype)
    if dloss.shape != (rows,):
        raise ValueError(f"{where}: argument 'dloss' must have shape ({rows},) (one value "
                         f"per sample). Received: shape {dloss.shape}")
    return dloss


def _labels(backend, labels, rows, cols, where, name="labels"):
    """Class labels as a contiguous int64 (rows,) array of the backend: host labels
    checked up front (dtype, shape, range); device labels' dtype and shape checked here
    and their range by the kernel."""
    if on_host(labels):
        return backend.asarray(class_labels(labels, rows, cols, where, name))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: argument '{name}' must be an integer array. Received: "
                        f"dtype {labels.dtype}")
    if labels.shape not in ((rows,), (rows, 1)):
        raise ValueError(f"{where}: argument '{name}' must have shape ({rows},) or "
                         f"({rows}, 1). Received: shape {labels.shape}")
    return backend.prepare(labels.reshape(rows), name, where, dtype=np.int64)


def _one_hot(backend, labels, shape, dtype, where):
    """One-hot targets of ``shape`` from int64 labels, built on the host (labels are
    small); a label outside the classes is a ValueError, never a wrapped index."""
    index = backend.to_numpy(labels)
    outside = (index < 0) | (index >= shape[1])
    if outside.any():
        raise ValueError(f"{where}: argument 'target' must hold class indices in "
                         f"[0, {shape[1]}). Received: {int(index[outside][0])}")
    one_hot = np.zeros(shape, dtype=dtype)
    one_hot[np.arange(shape[0]), index] = 1
    return backend.prepare(one_hot, "target", where, dtype=dtype)


def _loss_axis_rows(backend, array, axis):
    """A (samples, classes) C-contiguous array with the class axis (0 or 1) last."""
    return backend.transpose(array, (1, 0)) if axis == 0 else array


def softmax_cross_entropy(logits, targets):
    """Fused softmax + cross-entropy against dense targets (probabilities or one-hot).

    The loss is computed from the log-sum-exp of the logits (never ``log(0)``), so very
    large logits are safe.

    Args:
        logits (array): (N, C) unnormalised scores.
        targets (array): (N, C) target distributions.

    Returns:
        ``(loss, probs)``: the per-sample loss (N,) ``-sum(targets * log_softmax(logits))``
        and ``softmax(logits)`` (N, C), which the backward pass takes.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> loss, probs = ops.softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([[0.0, 1.0]]))
        >>> loss.round(4), probs
        (array([0.6931]), array([[0.5, 0.5]]))
    """
    backend = backend_of(logits, targets)
    where = "softmax_cross_entropy"
    logits = _loss_matrix(backend, logits, "logits", where)
    targets = backend.prepare(targets, "targets", where, dtype=logits.dtype)
    same_shape(logits, targets, "logits", "targets", where)
    loss = backend.empty(logits.shape[0], dtype=logits.dtype)
    probs = backend.empty(logits.shape, logits.dtype)
    backend.kernels.softmax_xent_forward(loss, probs, logits, targets)
    return loss, probs


def softmax_cross_entropy_backward(dloss, probs, targets):
    """Gradient of :func:`softmax_cross_entropy` with respect to the logits.

    Args:
        dloss (array): (N,) gradient of the scalar objective with respect to each sample's
            loss.
        probs (array): (N, C) the probabilities returned by the forward pass.
        targets (array): (N, C) the targets of the forward pass.

    Returns:
        dlogits (N, C) ``= dloss[:, None] * (probs * sum(targets, -1) - targets)``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> loss, probs = ops.softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([[0.0, 1.0]]))
        >>> ops.softmax_cross_entropy_backward(np.array([1.0]), probs, np.array([[0.0, 1.0]]))
        array([[ 0.5, -0.5]])
    """
    backend = backend_of(dloss, probs, targets)
    where = "softmax_cross_entropy_backward"
    probs = _loss_matrix(backend, probs, "probs", where)
    targets = backend.prepare(targets, "targets", where, dtype=probs.dtype)
    same_shape(probs, targets, "probs", "targets", where)
    dloss = _loss_dloss(backend, dloss, probs.shape[0], probs.dtype, where)
    dlogits = backend.empty(probs.shape, probs.dtype)
    backend.kernels.softmax_xent_backward(dlogits, dloss, probs, targets)
    return dlogits


def sparse_softmax_cross_entropy(logits, labels):
    """Fused softmax + cross-entropy against integer class labels.

    Args:
        logits (array): (N, C) unnormalised scores.
        labels (array): (N,) or (N, 1) class indices in [0, C) (integers, or floats holding
            whole numbers).

    Returns:
        ``(loss, probs)``: the per-sample loss (N,) ``-log_softmax(logits)[i, labels[i]]``
        and ``softmax(logits)`` (N, C).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> loss, probs = ops.sparse_softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
        >>> loss.round(4), probs
        (array([0.6931]), array([[0.5, 0.5]]))
    """
    backend = backend_of(logits, labels)
    where = "sparse_softmax_cross_entropy"
    logits = _loss_matrix(backend, logits, "logits", where)
    labels = _labels(backend, labels, logits.shape[0], logits.shape[1], where)
    loss = backend.empty(logits.shape[0], dtype=logits.dtype)
    probs = backend.empty(logits.shape, logits.dtype)
    backend.kernels.sparse_softmax_xent_forward(loss, probs, logits, labels)
    return loss, probs


def sparse_softmax_cross_entropy_backward(dloss, probs, labels):
    """Gradient of :func:`sparse_softmax_cross_entropy` with respect to the logits.

    Args:
        dloss (array): (N,) gradient of the scalar objective with respect to each sample's
            loss.
        probs (array): (N, C) the probabilities returned by the forward pass.
        labels (array): the labels of the forward pass.

    Returns:
        dlogits (N, C) ``= dloss[:, None] * (probs - one_hot(labels))``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> loss, probs = ops.sparse_softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
        >>> ops.sparse_softmax_cross_entropy_backward(np.array([1.0]), probs, np.array([1]))
        array([[ 0.5, -0.5]])
    """
    backend = backend_of(dloss, probs, labels)
    where = "sparse_softmax_cross_entropy_backward"
    probs = _loss_matrix(backend, probs, "probs", where)
    labels = _labels(backend, labels, probs.shape[0], probs.shape[1], where)
    dloss = _loss_dloss(backend, dloss, probs.shape[0], probs.dtype, where)
    dlogits = backend.empty(probs.shape, probs.dtype)
    backend.kernels.sparse_softmax_xent_backward(dlogits, dloss, probs, labels)
    return dlogits


def _loss_categorical_inputs(backend, target, output, axis, where):
    """Validated (target, output) as (samples, classes) arrays and the class axis."""
    output = backend.prepare(output, "output", where)
    require_ndim(output, 2, "output", where)
    target = backend.prepare(target, "target", where, dtype=output.dtype)
    same_shape(target, output, "target", "output", where)
    require_nonempty(output, "output", where)
    axis = axis_index(axis, 2, output.shape, where)
    return _loss_axis_rows(backend, target, axis), _loss_axis_rows(backend, output, axis), axis


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical cross-entropy, as ``keras.ops.categorical_crossentropy``.

    With ``from_logits=False`` (Keras semantics) each row of ``output`` is renormalised
    to sum 1 and clipped to ``[1e-7, 1 - 1e-7]`` before the log; with ``from_logits=True``
    the fused, log-sum-exp based softmax + cross-entropy is used.

    Args:
        target (array): (N, C) target distributions (one-hot or probabilities).
        output (array): (N, C) predicted probabilities, or logits when ``from_logits``.
        from_logits (bool): whether ``output`` holds logits.
        axis (int): the class axis of the rank-2 inputs (default: the last).

    Returns:
        The per-sample loss, shape (N,) (the extent of the non-class axis).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.categorical_crossentropy(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])).round(4)
        array([0.6931])
    """
    backend = backend_of(target, output)
    where = "categorical_crossentropy"
    target, output, axis = _loss_categorical_inputs(backend, target, output, axis, where)
    loss = backend.empty(output.shape[0], dtype=output.dtype)
    if from_logits:
        backend.kernels.softmax_xent_forward(loss, backend.empty(output.shape, output.dtype), output, target)
    else:
        backend.kernels.categorical_xent_forward(loss, output, target, _LOSS_EPSILON)
    return loss


def categorical_crossentropy_backward(dloss, target, output, from_logits=False, axis=-1):
    """Gradient of :func:`categorical_crossentropy` with respect to ``output``.

    Without logits the gradient flows through the renormalisation; the clip passes none
    where the renormalised probability lies outside ``[1e-7, 1 - 1e-7]``.

    Args:
        dloss (array): (N,) gradient of the scalar objective with respect to each sample's
            loss.
        target (array): the targets of the forward pass.
        output (array): the ``output`` of the forward pass (probabilities or logits).
        from_logits (bool): as in the forward pass.
        axis (int): as in the forward pass.

    Returns:
        doutput, of output's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> dloss, target, output = np.array([1.0]), np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])
        >>> ops.categorical_crossentropy_backward(dloss, target, output)
        array([[ 1., -1.]])
    """
    backend = backend_of(dloss, target, output)
    where = "categorical_crossentropy_backward"
    target, output, axis = _loss_categorical_inputs(backend, target, output, axis, where)
    dloss = _loss_dloss(backend, dloss, output.shape[0], output.dtype, where)
    doutput = backend.empty(output.shape, output.dtype)
    if from_logits:
        probs = backend.empty(output.shape, output.dtype)
        backend.kernels.softmax_forward(probs, output)
        backend.kernels.softmax_xent_backward(doutput, dloss, probs, target)
    else:
        backend.kernels.categorical_xent_backward(doutput, dloss, output, target, _LOSS_EPSILON)
    return _loss_axis_rows(backend, doutput, axis)


def _loss_sparse_inputs(backend, target, output, axis, where):
    """Validated one-hot targets and output as (samples, classes) arrays, and the axis."""
    output = backend.prepare(output, "output", where)
    require_ndim(output, 2, "output", where)
    require_nonempty(output, "output", where)
    axis = axis_index(axis, 2, output.shape, where)
    output = _loss_axis_rows(backend, output, axis)
    labels = _labels(backend, target, output.shape[0], output.shape[1], where, name="target")
    return labels, output, axis


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Sparse categorical cross-entropy, as ``keras.ops.sparse_categorical_crossentropy``.

    Same as :func:`categorical_crossentropy` with ``one_hot(target)``.

    Args:
        target (array): (N,) or (N, 1) integer class indices (on the CPU, floats holding
            whole numbers are accepted too).
        output (array): (N, C) predicted probabilities, or logits when ``from_logits``.
        from_logits (bool): whether ``output`` holds logits.
        axis (int): the class axis of ``output`` (default: the last).

    Returns:
        The per-sample loss, shape (N,).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.sparse_categorical_crossentropy(np.array([1]), np.array([[0.5, 0.5]])).round(4)
        array([0.6931])
    """
    backend = backend_of(target, output)
    where = "sparse_categorical_crossentropy"
    labels, output, _ = _loss_sparse_inputs(backend, target, output, axis, where)
    loss = backend.empty(output.shape[0], dtype=output.dtype)
    if from_logits:
        backend.kernels.sparse_softmax_xent_forward(loss, backend.empty(output.shape, output.dtype), output, labels)
    else:
        one_hot = _one_hot(backend, labels, output.shape, output.dtype, where)
        backend.kernels.categorical_xent_forward(loss, output, one_hot, _LOSS_EPSILON)
    return loss


def sparse_categorical_crossentropy_backward(dloss, target, output, from_logits=False,
                                             axis=-1):
    """Gradient of :func:`sparse_categorical_crossentropy` with respect to ``output``.

    Args:
        dloss (array): (N,) gradient of the scalar objective with respect to each sample's
            loss.
        target (array): the class indices of the forward pass.
        output (array): the ``output`` of the forward pass (probabilities or logits).
        from_logits (bool): as in the forward pass.
        axis (int): as in the forward pass.

    Returns:
        doutput, of output's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> dloss, output = np.array([1.0]), np.array([[0.5, 0.5]])
        >>> ops.sparse_categorical_crossentropy_backward(dloss, np.array([1]), output)
        array([[ 1., -1.]])
    """
    backend = backend_of(dloss, target, output)
    where = "sparse_categorical_crossentropy_backward"
    labels, output, axis = _loss_sparse_inputs(backend, target, output, axis, where)
    dloss = _loss_dloss(backend, dloss, output.shape[0], output.dtype, where)
    doutput = backend.empty(output.shape, output.dtype)
    if from_logits:
        probs = backend.empty(output.shape, output.dtype)
        backend.kernels.softmax_forward(probs, output)
        backend.kernels.sparse_softmax_xent_backward(doutput, dloss, probs, labels)
    else:
        one_hot = _one_hot(backend, labels, output.shape, output.dtype, where)
        backend.kernels.categorical_xent_backward(doutput, dloss, output, one_hot, _LOSS_EPSILON)
    return _loss_axis_rows(backend, doutput, axis)
