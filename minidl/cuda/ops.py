"""The CUDA implementations of ``minidl.ops``: same names, signatures and checks.

``minidl.ops`` routes a call here when one of its array arguments is a
:class:`~minidl.cuda.DeviceArray` (its ``_dispatch`` decorator); call these directly
only to force the GPU. Differences from the CPU ops, all documented per op:

* the GPU computes in float32: host inputs (NumPy, lists) of the same call are copied to
  the GPU as float32 (labels as int64), device inputs of another dtype are converted on
  the GPU, and results are float32 DeviceArrays (float64 inputs are not computed in
  float64 here);
* arrays updated in place (optimizer variables and slots, moving statistics, ``axpy``'s
  ``y``) must be float32 DeviceArrays;
* checks that need the VALUES of device arrays (labels or argmax in range, a variance
  not below ``-epsilon``) cannot run before the kernel without waiting for the GPU: the
  kernels record them and ``minidl.cuda.synchronize()`` / ``DeviceArray.to_numpy()``
  raise the ValueError. Host arrays are still checked up front.

Argument checks reuse ``minidl.ops``'s helpers, so the messages are the same.
"""
import numbers

import numpy as np

from minidl import ops as _base
from minidl.cuda import _runtime
from minidl.cuda._array import DeviceArray

_F32 = np.dtype(np.float32)
_I64 = np.dtype(np.int64)


def _cuda():
    return _runtime.backend()


def _is_dev(x):
    return isinstance(x, DeviceArray)


def _dev(x, name, where, dtype=_F32):
    """``x`` on the GPU as ``dtype`` (float32 by default): a DeviceArray of that dtype as
    is, another device dtype converted on the GPU, host data checked as the CPU ops
    check it and copied."""
    if _is_dev(x):
        if x.dtype == dtype:
            return x
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{where}: argument '{name}' must be a real numeric array, "
                            f"received dtype {x.dtype}")
        return x.astype(dtype)
    host = _base._prepare(x, name, where, dtype=np.dtype(dtype).type)
    shape = x.shape if isinstance(x, np.ndarray) else np.shape(x)
    if host.shape != shape and host.size == int(np.prod(shape, dtype=np.int64)):
        host = host.reshape(shape)  # keep 0-d inputs 0-d
    return DeviceArray.from_numpy(host, dtype)


def _out(shape, dtype=_F32):
    return DeviceArray(tuple(int(d) for d in shape), dtype)


def _moveaxis_last(x, axis):
    """x with ``axis`` moved last, as a new C-contiguous device array (x itself when it
    already is last)."""
    if axis == x.ndim - 1:
        return x
    order = tuple(a for a in range(x.ndim) if a != axis) + (axis,)
    return x.transpose(order)


def _moveaxis_back(x, axis):
    """Undo ``_moveaxis_last``: the last axis of x goes back to ``axis``."""
    if axis == x.ndim - 1:
        return x
    order = tuple(range(axis)) + (x.ndim - 1,) + tuple(range(axis, x.ndim - 1))
    return x.transpose(order)


def _inplace(array, name, where, like=None):
    """An array updated in place: a float32 DeviceArray (of ``like``'s shape)."""
    if not _is_dev(array):
        raise TypeError(f"{where}: argument '{name}' must be a float32 DeviceArray (it is "
                        f"updated in place on the GPU), received {type(array).__name__}")
    if array.dtype != _F32:
        raise TypeError(f"{where}: argument '{name}' must have dtype float32 (it is updated "
                        f"in place), received dtype {array.dtype}")
    if like is not None and array.shape != like.shape:
        raise ValueError(f"{where}: argument '{name}' must have the shape of the variable "
                         f"{like.shape}, received shape {array.shape}")
    return array


# ---------------------------------------------------------------- matmul (gemm.cu)


def _matmul_operands(x1, x2, where):
    a = _dev(x1, "x1", where)
    b = _dev(x2, "x2", where)
    if a.ndim < 1 or b.ndim not in (1, 2):
        raise ValueError(f"{where}: x1 must have rank >= 1 and x2 rank 1 or 2, received "
                         f"shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"{where}: the last axis of x1 must match the first axis of x2, "
                         f"received shapes {a.shape} and {b.shape}")
    return a, b


def matmul(x1, x2):
    """GPU :func:`minidl.ops.matmul`: ``x1 @ x2`` with x1 ``(..., k)``, x2 ``(k, n)`` or
    ``(k,)``; a float32 DeviceArray of shape ``(..., n)`` (or ``(...)``)."""
    a, b = _matmul_operands(x1, x2, "matmul")
    a2 = a.reshape(-1, a.shape[-1])
    b2 = b.reshape(b.shape[0], -1)
    out = _out((a2.shape[0], b2.shape[1]))
    _cuda().gemm(False, False, a2, b2, out)
    return out.reshape(a.shape[:-1] + b.shape[1:])


def matmul_backward(dy, x1, x2):
    """GPU :func:`minidl.ops.matmul_backward`: ``(dy @ x2.T, x1.T @ dy)``."""
    where = "matmul_backward"
    a, b = _matmul_operands(x1, x2, where)
    g = _dev(dy, "dy", where)
    expected = a.shape[:-1] + b.shape[1:]
    if g.shape != expected:
        raise ValueError(f"{where}: argument 'dy' must have shape {expected}, "
                         f"received shape {g.shape}")
    a2 = a.reshape(-1, a.shape[-1])
    b2 = b.reshape(b.shape[0], -1)
    g2 = g.reshape(a2.shape[0], b2.shape[1])
    dx1, dx2 = _out(a2.shape), _out(b2.shape)
    cuda = _cuda()
    cuda.gemm(False, True, g2, b2, dx1)
    cuda.gemm(True, False, a2, g2, dx2)
    return dx1.reshape(a.shape), dx2.reshape(b.shape)


# ---------------------------------------------------------------- convolution (conv2d.cu)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, *,
         bias=None, activation=None):
    """GPU :func:`minidl.ops.conv`: NHWC inputs, HWIO kernel, optional fused bias and
    relu/sigmoid/tanh; returns ``(N, H_out, W_out, C_out)`` float32 on the GPU."""
    x = _dev(inputs, "inputs", "conv")
    w = _dev(kernel, "kernel", "conv")
    _base._require_ndim(x, 4, "inputs", "conv")
    _base._require_nonempty(x, "inputs", "conv")
    strides, padding, out_shape = _base._conv_geometry(x.shape, w.shape, strides, padding,
                                                       data_format, dilation_rate, "conv")
    if activation not in _base._ACTIVATION_CODES:
        raise ValueError(f"conv: argument 'activation' must be one of 'linear', 'relu', "
                         f"'sigmoid', 'tanh' or None, received {activation!r}")
    b = None
    if bias is not None:
        b = _dev(bias, "bias", "conv")
        if b.shape != (w.shape[3],):
            raise ValueError(f"conv: argument 'bias' must have shape ({w.shape[3]},), "
                             f"received shape {b.shape}")
    y = _out(out_shape)
    _cuda().conv2d_forward(y, x, w, b, strides[0], strides[1], padding,
                           _base._ACTIVATION_CODES[activation])
    return y


def conv_backward(dy, inputs, kernel, strides=1, padding="valid", data_format=None,
                  dilation_rate=1, *, use_bias=False, input_gradient=True):
    """GPU :func:`minidl.ops.conv_backward`: ``(dinputs, dkernel, dbias)``."""
    where = "conv_backward"
    x = _dev(inputs, "inputs", where)
    w = _dev(kernel, "kernel", where)
    g = _dev(dy, "dy", where)
    _base._require_ndim(x, 4, "inputs", where)
    _base._require_nonempty(x, "inputs", where)
    strides, padding, out_shape = _base._conv_geometry(x.shape, w.shape, strides, padding,
                                                       data_format, dilation_rate, where)
    if g.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape}, "
                         f"received shape {g.shape}")
    cuda = _cuda()
    dx = None
    if input_gradient:
        dx = _out(x.shape)
        cuda.conv2d_backward_input(dx, g, w, strides[0], strides[1], padding)
    dw = _out(w.shape)
    db = _out((w.shape[3],)) if use_bias else None
    cuda.conv2d_backward_weight(dw, db, g, x, strides[0], strides[1], padding)
    return dx, dw, db


# ---------------------------------------------------------------- pooling (pool2d.cu)


def _pool_input(inputs, where):
    x = _dev(inputs, "inputs", where)
    _base._require_ndim(x, 4, "inputs", where)
    _base._require_nonempty(x, "inputs", where)
    return x


def _pool_dy(dy, input_shape, pool_size, strides, padding, where):
    g = _dev(dy, "dy", where)
    _base._require_ndim(g, 4, "dy", where)
    shape = _base._pool_input_shape(input_shape, where)
    pool, stride, pad, out_shape = _base._pool_args(shape, pool_size, strides, padding, where)
    if g.shape != out_shape:
        raise ValueError(f"{where}: argument 'dy' must have shape {out_shape} (the output "
                         f"of pooling an input of shape {shape} with pool_size={pool}, "
                         f"strides={stride}, padding='{pad}'), received shape {g.shape}")
    return g, shape, pool, stride, pad


def _max_pool(inputs, pool_size, strides, padding, where, want_argmax):
    x = _pool_input(inputs, where)
    pool, stride, pad, out_shape = _base._pool_args(x.shape, pool_size, strides, padding,
                                                    where)
    y = _out(out_shape)
    argmax = _out(out_shape, _I64) if want_argmax else None
    _cuda().maxpool2d_forward(y, argmax, x, pool, stride, pad)
    return y, argmax


def max_pool(inputs, pool_size, strides=None, padding="valid"):
    """GPU :func:`minidl.ops.max_pool` (ties: the first maximum; padded cells ignored)."""
    return _max_pool(inputs, pool_size, strides, padding, "max_pool", False)[0]


def max_pool_with_argmax(inputs, pool_size, strides=None, padding="valid"):
    """GPU :func:`minidl.ops.max_pool_with_argmax`: ``(y, argmax)``, argmax int64 on
    the GPU (``h * width + w`` inside each image and channel)."""
    return _max_pool(inputs, pool_size, strides, padding, "max_pool_with_argmax", True)


def max_pool_backward(dy, argmax, input_shape, pool_size, strides=None, padding="valid"):
    """GPU :func:`minidl.ops.max_pool_backward`. A device argmax outside the image is
    reported by the next ``minidl.cuda.synchronize()`` (a host argmax at once)."""
    where = "max_pool_backward"
    g, shape, pool, stride, pad = _pool_dy(dy, input_shape, pool_size, strides, padding,
                                           where)
    if _is_dev(argmax):
        if argmax.dtype.kind not in "iu":
            raise TypeError(f"{where}: argument 'argmax' must be an integer array, "
                            f"received dtype {argmax.dtype}")
        index = argmax if argmax.dtype == _I64 else argmax.astype(_I64)
    else:
        host = np.asarray(argmax)
        if host.dtype.kind not in "iu":
            raise TypeError(f"{where}: argument 'argmax' must be an integer array, "
                            f"received dtype {host.dtype}")
        if host.size and (host.min() < 0 or host.max() >= shape[1] * shape[2]):
            raise ValueError(f"{where}: argument 'argmax' must hold indices in "
                             f"[0, {shape[1] * shape[2]}), received values outside")
        index = DeviceArray.from_numpy(host, _I64)
    if index.shape != g.shape:
        raise ValueError(f"{where}: argument 'argmax' must have the shape of 'dy' "
                         f"{g.shape}, received shape {index.shape}")
    dx = _out(shape)
    _cuda().maxpool2d_backward(dx, g, index, pool, stride, pad)
    return dx


def average_pool(inputs, pool_size, strides=None, padding="valid"):
    """GPU :func:`minidl.ops.average_pool` (padded cells not counted)."""
    where = "average_pool"
    x = _pool_input(inputs, where)
    pool, stride, pad, out_shape = _base._pool_args(x.shape, pool_size, strides, padding,
                                                    where)
    y = _out(out_shape)
    _cuda().avgpool2d_forward(y, x, pool, stride, pad)
    return y


def average_pool_backward(dy, input_shape, pool_size, strides=None, padding="valid"):
    """GPU :func:`minidl.ops.average_pool_backward`."""
    where = "average_pool_backward"
    g, shape, pool, stride, pad = _pool_dy(dy, input_shape, pool_size, strides, padding,
                                           where)
    dx = _out(shape)
    _cuda().avgpool2d_backward(dx, g, pool, stride, pad)
    return dx


# ---------------------------------------------------------------- batch normalization


def _bn_input(x, where, axis, name="x"):
    """x on the GPU with its channel axis moved last, as (rows, channels); plus the moved
    shape and the axis."""
    if not _is_dev(x) and np.ndim(x) == 0 and not isinstance(x, (str, bytes)):
        raise ValueError(f"{where}: argument '{name}' must have rank >= 1, "
                         f"received shape () (rank 0)")
    x = _dev(x, name, where)
    if x.ndim == 0:
        raise ValueError(f"{where}: argument '{name}' must have rank >= 1, "
                         f"received shape () (rank 0)")
    _base._require_nonempty(x, name, where)
    axis = _base._bn_axis(axis, x.ndim, where)
    moved = _moveaxis_last(x, axis)
    return moved.reshape(-1, moved.shape[-1]), moved.shape, axis


def _bn_like_input(dy, x2d, moved_shape, axis, where):
    g = _dev(dy, "dy", where)
    x_shape = moved_shape[:axis] + moved_shape[-1:] + moved_shape[axis:-1]
    if g.shape != x_shape:
        raise ValueError(f"{where}: argument 'dy' must have the shape of 'x' {x_shape}, "
                         f"received shape {g.shape}")
    return _moveaxis_last(g, axis).reshape(x2d.shape)


def _bn_output(y2d, moved_shape, axis):
    return _moveaxis_back(y2d.reshape(moved_shape), axis)


def _bn_vector(v, name, where, channels, optional=True, nonnegative_eps=None):
    """A per-channel vector on the GPU (shape (channels,) or broadcastable with that
    many values). ``nonnegative_eps``: check variance + eps >= 0 for host data (device
    data is checked by the kernel)."""
    if v is None:
        if optional:
            return None
        raise TypeError(f"{where}: argument '{name}' must be an array of shape "
                        f"({channels},), received None")
    if not _is_dev(v):
        host = _base._bn_vector(v, name, where, channels, np.float32, optional)
        if nonnegative_eps is not None:
            _base._bn_nonnegative_variance(host, nonnegative_eps, name, where)
        return DeviceArray.from_numpy(host, _F32)
    d = _dev(v, name, where)
    if d.size != channels or len([s for s in d.shape if s != 1]) > 1:
        raise ValueError(f"{where}: argument '{name}' must have shape ({channels},) (one "
                         f"value per channel), received shape {d.shape}")
    return d.reshape(channels)


def _bn_moving(v, name, where, channels):
    if v is None:
        return None
    if not _is_dev(v):
        raise TypeError(f"{where}: argument '{name}' must be a float32 DeviceArray (it is "
                        f"updated in place on the GPU), received {type(v).__name__}")
    if v.dtype != _F32:
        raise TypeError(f"{where}: argument '{name}' must have dtype float32 (it is updated "
                        f"in place), received dtype {v.dtype}")
    if v.shape != (channels,):
        raise ValueError(f"{where}: argument '{name}' must have shape ({channels},), "
                         f"received shape {v.shape}")
    return v


def moments(x, axes, keepdims=False, synchronized=False):
    """GPU :func:`minidl.ops.moments`: per-channel mean and biased variance (double
    accumulation, deterministic)."""
    where = "moments"
    d = _dev(x, "x", where)
    _base._require_nonempty(d, "x", where)
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
    if any(not -d.ndim <= a < d.ndim for a in axes):
        raise ValueError(f"{where}: argument 'axes' must be in [{-d.ndim}, {d.ndim}) for "
                         f"an input of shape {d.shape}, received {axes}")
    axes = tuple(int(a) % d.ndim for a in axes) if d.ndim else ()
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: argument 'axes' must not repeat an axis, received {axes}")
    kept = tuple(a for a in range(d.ndim) if a not in axes)
    order = axes + kept
    moved = d if order == tuple(range(d.ndim)) else d.transpose(order)
    channels = int(np.prod([d.shape[a] for a in kept], dtype=np.int64))
    x2d = moved.reshape(-1, channels)
    mean, variance = _out((channels,)), _out((channels,))
    _cuda().moments(mean, variance, x2d)
    if keepdims:
        shape = tuple(1 if a in axes else d.shape[a] for a in range(d.ndim))
    else:
        shape = tuple(d.shape[a] for a in kept)
    return mean.reshape(shape), variance.reshape(shape)


def batch_normalization(x, mean, variance, axis=-1, offset=None, scale=None, epsilon=1e-3):
    """GPU :func:`minidl.ops.batch_normalization` (inference forward)."""
    where = "batch_normalization"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    channels = x2d.shape[1]
    epsilon = _base._bn_number(epsilon, "epsilon", where, 0.0)
    mean = _bn_vector(mean, "mean", where, channels, optional=False)
    variance = _bn_vector(variance, "variance", where, channels, optional=False,
                          nonnegative_eps=epsilon)
    offset = _bn_vector(offset, "offset", where, channels)
    scale = _bn_vector(scale, "scale", where, channels)
    y = _out(x2d.shape)
    _cuda().batchnorm_forward_infer(y, x2d, mean, variance, scale, offset, epsilon)
    return _bn_output(y, moved_shape, axis)


def batch_normalization_backward(dy, x, mean, variance, axis=-1, scale=None, epsilon=1e-3):
    """GPU :func:`minidl.ops.batch_normalization_backward`: ``(dx, dscale, doffset)``."""
    where = "batch_normalization_backward"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    channels = x2d.shape[1]
    dy2d = _bn_like_input(dy, x2d, moved_shape, axis, where)
    epsilon = _base._bn_number(epsilon, "epsilon", where, 0.0)
    mean = _bn_vector(mean, "mean", where, channels, optional=False)
    variance = _bn_vector(variance, "variance", where, channels, optional=False,
                          nonnegative_eps=epsilon)
    scale = _bn_vector(scale, "scale", where, channels)
    dx, dscale, doffset = _out(x2d.shape), _out((channels,)), _out((channels,))
    _cuda().batchnorm_backward_infer(dx, dscale, doffset, dy2d, x2d, mean, variance, scale,
                                     epsilon)
    return _bn_output(dx, moved_shape, axis), dscale, doffset


def batch_norm_train(x, scale, offset, moving_mean, moving_variance, momentum=0.99,
                     epsilon=1e-3, axis=-1):
    """GPU :func:`minidl.ops.batch_norm_train`: ``(y, batch_mean, batch_variance)``; the
    moving statistics, when given, must be float32 DeviceArrays (updated in place)."""
    where = "batch_norm_train"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    channels = x2d.shape[1]
    momentum = _base._bn_number(momentum, "momentum", where, 0.0, 1.0)
    epsilon = _base._bn_number(epsilon, "epsilon", where, 0.0)
    scale = _bn_vector(scale, "scale", where, channels)
    offset = _bn_vector(offset, "offset", where, channels)
    moving_mean = _bn_moving(moving_mean, "moving_mean", where, channels)
    moving_variance = _bn_moving(moving_variance, "moving_variance", where, channels)
    if moving_mean is not None and moving_variance is not None and \
            moving_mean.shares_memory(moving_variance):
        raise ValueError(f"{where}: arguments 'moving_mean' and 'moving_variance' must not "
                         f"share memory")
    y = _out(x2d.shape)
    batch_mean, batch_variance = _out((channels,)), _out((channels,))
    _cuda().batchnorm_forward_train(y, batch_mean, batch_variance, moving_mean,
                                    moving_variance, x2d, scale, offset, epsilon, momentum)
    return _bn_output(y, moved_shape, axis), batch_mean, batch_variance


def batch_norm_train_backward(dy, x, batch_mean, batch_variance, scale=None, epsilon=1e-3,
                              axis=-1):
    """GPU :func:`minidl.ops.batch_norm_train_backward`: ``(dx, dscale, doffset)``."""
    where = "batch_norm_train_backward"
    x2d, moved_shape, axis = _bn_input(x, where, axis)
    channels = x2d.shape[1]
    dy2d = _bn_like_input(dy, x2d, moved_shape, axis, where)
    epsilon = _base._bn_number(epsilon, "epsilon", where, 0.0)
    batch_mean = _bn_vector(batch_mean, "batch_mean", where, channels, optional=False)
    batch_variance = _bn_vector(batch_variance, "batch_variance", where, channels,
                                optional=False, nonnegative_eps=epsilon)
    scale = _bn_vector(scale, "scale", where, channels)
    dx, dscale, doffset = _out(x2d.shape), _out((channels,)), _out((channels,))
    _cuda().batchnorm_backward_train(dx, dscale, doffset, dy2d, x2d, batch_mean,
                                     batch_variance, scale, epsilon)
    return _bn_output(dx, moved_shape, axis), dscale, doffset


# ---------------------------------------------------------------- activations


def _act_forward(x, name, where):
    x = _dev(x, "x", where)
    y = _out(x.shape)
    if x.size:
        cuda = _cuda()
        cuda.activation_forward(y.reshape(-1), x.reshape(-1), cuda.ACTIVATION_CODES[name])
    return y


def _act_backward(dy, y, name, where):
    y = _dev(y, "y", where)
    dy = _dev(dy, "dy", where)
    _base._act_same_shape(dy, y, "dy", "y", where)
    dx = _out(y.shape)
    if y.size:
        cuda = _cuda()
        cuda.activation_backward(dx.reshape(-1), dy.reshape(-1), y.reshape(-1),
                                 cuda.ACTIVATION_CODES[name])
    return dx


def _rows(array, axis):
    """(rows, cols) device array with ``axis`` moved last, and the moved shape."""
    moved = _moveaxis_last(array, axis)
    return moved.reshape(-1, moved.shape[-1]), moved.shape


def relu(x):
    """GPU :func:`minidl.ops.relu`."""
    return _act_forward(x, "relu", "relu")


def sigmoid(x):
    """GPU :func:`minidl.ops.sigmoid`."""
    return _act_forward(x, "sigmoid", "sigmoid")


def tanh(x):
    """GPU :func:`minidl.ops.tanh`."""
    return _act_forward(x, "tanh", "tanh")


def softmax(x, axis=-1):
    """GPU :func:`minidl.ops.softmax` (one warp per row, sums in double)."""
    where = "softmax"
    x = _dev(x, "x", where)
    axis = _base._act_axis(axis, x.ndim, x.shape, where)
    if x.size == 0:
        return _out(x.shape)
    flat, moved_shape = _rows(x, axis)
    y = _out(flat.shape)
    _cuda().softmax_forward(y, flat)
    return _moveaxis_back(y.reshape(moved_shape), axis)


def activation(x, name):
    """GPU :func:`minidl.ops.activation`."""
    name = _base._act_name(name, "activation")
    if name == "softmax":
        return softmax(x)
    return _act_forward(x, name, "activation")


def relu_backward(dy, y):
    """GPU :func:`minidl.ops.relu_backward`."""
    return _act_backward(dy, y, "relu", "relu_backward")


def sigmoid_backward(dy, y):
    """GPU :func:`minidl.ops.sigmoid_backward`."""
    return _act_backward(dy, y, "sigmoid", "sigmoid_backward")


def tanh_backward(dy, y):
    """GPU :func:`minidl.ops.tanh_backward`."""
    return _act_backward(dy, y, "tanh", "tanh_backward")


def softmax_backward(dy, y, axis=-1):
    """GPU :func:`minidl.ops.softmax_backward`."""
    where = "softmax_backward"
    y = _dev(y, "y", where)
    dy = _dev(dy, "dy", where)
    _base._act_same_shape(dy, y, "dy", "y", where)
    axis = _base._act_axis(axis, y.ndim, y.shape, where)
    if y.size == 0:
        return _out(y.shape)
    flat_y, moved_shape = _rows(y, axis)
    flat_dy, _ = _rows(dy, axis)
    dx = _out(flat_y.shape)
    _cuda().softmax_backward(dx, flat_dy, flat_y)
    return _moveaxis_back(dx.reshape(moved_shape), axis)


def activation_backward(dy, y, name):
    """GPU :func:`minidl.ops.activation_backward`."""
    name = _base._act_name(name, "activation_backward")
    if name == "softmax":
        return softmax_backward(dy, y)
    return _act_backward(dy, y, name, "activation_backward")


# ---------------------------------------------------------------- losses (loss.cu)


def _loss_matrix(x, name, where):
    array = _dev(x, name, where)
    _base._require_ndim(array, 2, name, where)
    _base._require_nonempty(array, name, where)
    return array


def _loss_dloss(dloss, rows, where):
    d = _dev(dloss, "dloss", where)
    if d.shape != (rows,):
        raise ValueError(f"{where}: argument 'dloss' must have shape ({rows},) (one value "
                         f"per sample), received shape {d.shape}")
    return d


def _loss_labels(labels, rows, cols, where, name="labels"):
    """int64 labels (rows,) on the GPU: host labels checked up front as on the CPU,
    device labels (integers, shape (rows,) or (rows, 1)) checked by the kernel."""
    if not _is_dev(labels):
        return DeviceArray.from_numpy(_base._loss_labels(labels, rows, cols, where, name), _I64)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: argument '{name}' must be an integer array, received "
                        f"dtype {labels.dtype}")
    if labels.shape not in ((rows,), (rows, 1)):
        raise ValueError(f"{where}: argument '{name}' must have shape ({rows},) or "
                         f"({rows}, 1), received shape {labels.shape}")
    flat = labels.reshape(rows)
    return flat if flat.dtype == _I64 else flat.astype(_I64)


def _axis_rows(array, axis):
    """(samples, classes) with the class axis (0 or 1) last."""
    return array.transpose(1, 0) if axis == 0 else array


def _one_hot(labels, rows, cols, where):
    """A float32 one-hot (rows, cols) on the GPU from int64 device labels (built on the
    host: labels are small). A label outside [0, cols) is a ValueError: NumPy's indexing
    would silently take -1 as the last class."""
    host = np.zeros((rows, cols), dtype=np.float32)
    index = labels.to_numpy()
    outside = (index < 0) | (index >= cols)
    if outside.any():
        raise ValueError(f"{where}: argument 'target' must hold class indices in "
                         f"[0, {cols}), received {int(index[outside][0])}")
    host[np.arange(rows), index] = 1
    return DeviceArray.from_numpy(host, _F32)


def softmax_cross_entropy(logits, targets):
    """GPU :func:`minidl.ops.softmax_cross_entropy`: ``(loss, probs)``."""
    where = "softmax_cross_entropy"
    logits = _loss_matrix(logits, "logits", where)
    targets = _dev(targets, "targets", where)
    _base._act_same_shape(logits, targets, "logits", "targets", where)
    loss, probs = _out((logits.shape[0],)), _out(logits.shape)
    _cuda().softmax_xent_forward(loss, probs, logits, targets)
    return loss, probs


def softmax_cross_entropy_backward(dloss, probs, targets):
    """GPU :func:`minidl.ops.softmax_cross_entropy_backward`."""
    where = "softmax_cross_entropy_backward"
    probs = _loss_matrix(probs, "probs", where)
    targets = _dev(targets, "targets", where)
    _base._act_same_shape(probs, targets, "probs", "targets", where)
    dloss = _loss_dloss(dloss, probs.shape[0], where)
    dlogits = _out(probs.shape)
    _cuda().softmax_xent_backward(dlogits, dloss, probs, targets)
    return dlogits


def sparse_softmax_cross_entropy(logits, labels):
    """GPU :func:`minidl.ops.sparse_softmax_cross_entropy`: ``(loss, probs)``; device
    labels out of range are reported by ``minidl.cuda.synchronize()``."""
    where = "sparse_softmax_cross_entropy"
    logits = _loss_matrix(logits, "logits", where)
    labels = _loss_labels(labels, logits.shape[0], logits.shape[1], where)
    loss, probs = _out((logits.shape[0],)), _out(logits.shape)
    _cuda().sparse_softmax_xent_forward(loss, probs, logits, labels)
    return loss, probs


def sparse_softmax_cross_entropy_backward(dloss, probs, labels):
    """GPU :func:`minidl.ops.sparse_softmax_cross_entropy_backward`."""
    where = "sparse_softmax_cross_entropy_backward"
    probs = _loss_matrix(probs, "probs", where)
    labels = _loss_labels(labels, probs.shape[0], probs.shape[1], where)
    dloss = _loss_dloss(dloss, probs.shape[0], where)
    dlogits = _out(probs.shape)
    _cuda().sparse_softmax_xent_backward(dlogits, dloss, probs, labels)
    return dlogits


def _loss_categorical_inputs(target, output, axis, where):
    output = _dev(output, "output", where)
    _base._require_ndim(output, 2, "output", where)
    target = _dev(target, "target", where)
    _base._act_same_shape(target, output, "target", "output", where)
    _base._require_nonempty(output, "output", where)
    axis = _base._act_axis(axis, 2, output.shape, where)
    return _axis_rows(target, axis), _axis_rows(output, axis), axis


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """GPU :func:`minidl.ops.categorical_crossentropy` (per-sample loss)."""
    where = "categorical_crossentropy"
    target, output, axis = _loss_categorical_inputs(target, output, axis, where)
    cuda = _cuda()
    loss = _out((output.shape[0],))
    if from_logits:
        cuda.softmax_xent_forward(loss, _out(output.shape), output, target)
    else:
        cuda.categorical_xent_forward(loss, output, target, _base._LOSS_EPSILON)
    return loss


def categorical_crossentropy_backward(dloss, target, output, from_logits=False, axis=-1):
    """GPU :func:`minidl.ops.categorical_crossentropy_backward`."""
    where = "categorical_crossentropy_backward"
    target, output, axis = _loss_categorical_inputs(target, output, axis, where)
    dloss = _loss_dloss(dloss, output.shape[0], where)
    cuda = _cuda()
    doutput = _out(output.shape)
    if from_logits:
        probs = _out(output.shape)
        cuda.softmax_forward(probs, output)
        cuda.softmax_xent_backward(doutput, dloss, probs, target)
    else:
        cuda.categorical_xent_backward(doutput, dloss, output, target, _base._LOSS_EPSILON)
    return _axis_rows(doutput, axis)


def _loss_sparse_inputs(target, output, axis, where):
    output = _dev(output, "output", where)
    _base._require_ndim(output, 2, "output", where)
    _base._require_nonempty(output, "output", where)
    axis = _base._act_axis(axis, 2, output.shape, where)
    output = _axis_rows(output, axis)
    labels = _loss_labels(target, output.shape[0], output.shape[1], where, name="target")
    return labels, output, axis


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """GPU :func:`minidl.ops.sparse_categorical_crossentropy` (per-sample loss)."""
    where = "sparse_categorical_crossentropy"
    labels, output, _ = _loss_sparse_inputs(target, output, axis, where)
    cuda = _cuda()
    loss = _out((output.shape[0],))
    if from_logits:
        cuda.sparse_softmax_xent_forward(loss, _out(output.shape), output, labels)
    else:
        one_hot = _one_hot(labels, output.shape[0], output.shape[1], where)
        cuda.categorical_xent_forward(loss, output, one_hot, _base._LOSS_EPSILON)
    return loss


def sparse_categorical_crossentropy_backward(dloss, target, output, from_logits=False,
                                             axis=-1):
    """GPU :func:`minidl.ops.sparse_categorical_crossentropy_backward`."""
    where = "sparse_categorical_crossentropy_backward"
    labels, output, axis = _loss_sparse_inputs(target, output, axis, where)
    dloss = _loss_dloss(dloss, output.shape[0], where)
    cuda = _cuda()
    doutput = _out(output.shape)
    if from_logits:
        probs = _out(output.shape)
        cuda.softmax_forward(probs, output)
        cuda.sparse_softmax_xent_backward(doutput, dloss, probs, labels)
    else:
        one_hot = _one_hot(labels, output.shape[0], output.shape[1], where)
        cuda.categorical_xent_backward(doutput, dloss, output, one_hot, _base._LOSS_EPSILON)
    return _axis_rows(doutput, axis)


# ---------------------------------------------------------------- optimizer updates


def _optim_arrays(where, variable, gradient, states):
    """The flat variable, gradient (on the GPU, copied when it overlaps an updated
    array) and states (None stays None); every updated array a float32 DeviceArray."""
    var = _inplace(variable, "variable", where)
    flat = {name: (None if array is None else _inplace(array, name, where, variable))
            for name, array in states.items()}
    updated = [("variable", variable)] + [(n, a) for n, a in states.items() if a is not None]
    for i, (name_a, a) in enumerate(updated):
        for name_b, b in updated[i + 1:]:
            if a.shares_memory(b):
                raise ValueError(f"{where}: arguments '{name_a}' and '{name_b}' must be "
                                 f"separate arrays, received arrays that share memory")
    grad_shape = gradient.shape if _is_dev(gradient) else np.shape(gradient)
    if tuple(grad_shape) != variable.shape:
        raise ValueError(f"{where}: argument 'gradient' must have the shape of the variable "
                         f"{variable.shape}, received shape {tuple(grad_shape)}")
    grad = _dev(gradient, "gradient", where)
    if any(grad.shares_memory(a) for _, a in updated):
        grad = grad.copy()
    return (var.reshape(-1), grad.reshape(-1),
            {n: (None if a is None else a.reshape(-1)) for n, a in flat.items()})


def sgd_update(variable, gradient, velocity=None, learning_rate=0.01, momentum=0.0,
               nesterov=False):
    """GPU :func:`minidl.ops.sgd_update` (variable and velocity float32 DeviceArrays)."""
    where = "sgd_update"
    lr = _base._optim_scalar(learning_rate, "learning_rate", where)
    mom = _base._optim_scalar(momentum, "momentum", where, 0.0, 1.0)
    if mom != 0.0 and velocity is None:
        raise ValueError(f"{where}: argument 'velocity' is required when momentum != 0, "
                         f"received None (momentum={momentum!r})")
    var, grad, s = _optim_arrays(where, variable, gradient, {"velocity": velocity})
    _cuda().sgd_update(var, s["velocity"], grad, lr, mom, bool(nesterov))


def rmsprop_update(variable, gradient, velocity, learning_rate=0.001, rho=0.9, momentum=0.0,
                   epsilon=1e-7, centered=False, average_gradient=None, momentum_buffer=None):
    """GPU :func:`minidl.ops.rmsprop_update` (all state float32 DeviceArrays)."""
    where = "rmsprop_update"
    lr = _base._optim_scalar(learning_rate, "learning_rate", where)
    rho_ = _base._optim_scalar(rho, "rho", where, 0.0, 1.0)
    mom = _base._optim_scalar(momentum, "momentum", where, 0.0)
    eps = _base._optim_scalar(epsilon, "epsilon", where, 0.0)
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
    _cuda().rmsprop_update(var, s["velocity"], s["average_gradient"], s["momentum_buffer"],
                           grad, lr, rho_, mom, eps, bool(centered))


def adam_update(variable, gradient, m, v, step, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                epsilon=1e-7, vhat=None, weight_decay=0.0):
    """GPU :func:`minidl.ops.adam_update` (all state float32 DeviceArrays)."""
    where = "adam_update"
    lr = _base._optim_scalar(learning_rate, "learning_rate", where)
    b1 = _base._optim_scalar(beta_1, "beta_1", where, 0.0, 1.0, high_open=True)
    b2 = _base._optim_scalar(beta_2, "beta_2", where, 0.0, 1.0, high_open=True)
    eps = _base._optim_scalar(epsilon, "epsilon", where, 0.0)
    wd = _base._optim_scalar(weight_decay, "weight_decay", where, 0.0)
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
    _cuda().adam_update(var, s["m"], s["v"], s["vhat"], grad, lr, b1, b2, eps, int(step), wd)


# ---------------------------------------------------------------- tensor ops


def _sum3(x, outer, reduce, inner):
    out = _out((outer, inner))
    _cuda().reduce_sum(out, x.reshape(outer, reduce, inner))
    return out


def bias_add(x, bias):
    """GPU :func:`minidl.ops.bias_add`."""
    where = "bias_add"
    x = _dev(x, "x", where)
    if x.ndim < 1:
        raise ValueError(f"{where}: argument 'x' must have rank >= 1, received shape "
                         f"{x.shape} (rank 0)")
    bias = _dev(bias, "bias", where)
    cols = x.shape[-1]
    if bias.shape != (cols,):
        raise ValueError(f"{where}: argument 'bias' must be a vector of length "
                         f"x.shape[-1] = {cols}, received shape {bias.shape}")
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    y = _out(x.shape)
    _cuda().bias_add(y.reshape(rows, cols), x.reshape(rows, cols), bias)
    return y


def bias_add_backward(dy):
    """GPU :func:`minidl.ops.bias_add_backward`: dy summed over all but the last axis."""
    where = "bias_add_backward"
    dy = _dev(dy, "dy", where)
    if dy.ndim < 1:
        raise ValueError(f"{where}: argument 'dy' must have rank >= 1, received shape "
                         f"{dy.shape} (rank 0)")
    cols = dy.shape[-1]
    rows = int(np.prod(dy.shape[:-1], dtype=np.int64))
    return _sum3(dy, 1, rows, cols).reshape(cols)


def sum(x, axis=None, keepdims=False):  # noqa: A001 -- keras.ops.sum
    """GPU :func:`minidl.ops.sum` (double accumulation, deterministic)."""
    where = "sum"
    x = _dev(x, "x", where)
    axes = _base._tops_axes(axis, x.ndim, where)
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

    def size(dims):
        return int(np.prod([x.shape[a] for a in dims], dtype=np.int64))

    outer, reduce, inner = size(kept), size(axes), size(inner_axes)
    if order != list(range(x.ndim)):
        x = x.transpose(order)
    return _sum3(x, outer, reduce, inner).reshape(out_shape)


def _same_shape_pair(x1, x2, where):
    a = _dev(x1, "x1", where)
    b = _dev(x2, "x2", where)
    if a.shape != b.shape:
        raise ValueError(f"{where}: arguments 'x1' and 'x2' must have the same shape "
                         f"(no broadcasting), received shapes {a.shape} and {b.shape}")
    return a, b


def add(x1, x2):
    """GPU :func:`minidl.ops.add` (same shapes, no broadcasting)."""
    a, b = _same_shape_pair(x1, x2, "add")
    y = _out(a.shape)
    _cuda().add(y.reshape(-1), a.reshape(-1), b.reshape(-1))
    return y


def multiply(x1, x2):
    """GPU :func:`minidl.ops.multiply` (same shapes, no broadcasting)."""
    a, b = _same_shape_pair(x1, x2, "multiply")
    y = _out(a.shape)
    _cuda().mul(y.reshape(-1), a.reshape(-1), b.reshape(-1))
    return y


def scale(x, alpha):
    """GPU :func:`minidl.ops.scale`: ``alpha * x``."""
    x = _dev(x, "x", "scale")
    a = _base._optim_scalar(alpha, "alpha", "scale")
    y = _out(x.shape)
    _cuda().scale(y.reshape(-1), x.reshape(-1), a)
    return y


def axpy(y, alpha, x):
    """GPU :func:`minidl.ops.axpy`: ``y += alpha * x`` in place (y a float32
    DeviceArray)."""
    where = "axpy"
    target = _inplace(y, "y", where)
    a = _base._optim_scalar(alpha, "alpha", where)
    x_shape = x.shape if _is_dev(x) else np.shape(x)
    if tuple(x_shape) != target.shape:
        raise ValueError(f"{where}: argument 'x' must have the shape of 'y' {target.shape}, "
                         f"received shape {tuple(x_shape)}")
    src = _dev(x, "x", where)
    if src.shares_memory(target) and (src.ptr != target.ptr):
        src = src.copy()  # a shifted overlap would race; x is y itself is fine
    _cuda().axpy(target.reshape(-1), a, src.reshape(-1))


def clip(x, lo, hi):
    """``min(max(x, lo), hi)`` on the GPU (NaN stays NaN), for the optimizers'
    ``clipvalue``; not part of ``minidl.ops``."""
    x = _dev(x, "x", "clip")
    y = _out(x.shape)
    if x.size:
        _cuda().clip(y.reshape(-1), x.reshape(-1), float(lo), float(hi))
    return y


# ---------------------------------------------------------------- image ops (image.cu)


def _images_4d(images, where):
    x = _dev(images, "images", where)
    _base._require_ndim(x, (3, 4), "images", where)
    _base._require_nonempty(x, "images", where)
    single = x.ndim == 3
    return (x.reshape((1,) + x.shape) if single else x), single


def affine_warp(images, transforms, fill_mode="nearest", fill_value=0.0, output_size=None):
    """GPU :func:`minidl.ops.affine_warp` (bilinear, four fill modes)."""
    where = "affine_warp"
    x, single = _images_4d(images, where)
    n, h, w, c = x.shape
    if _is_dev(transforms):
        t = transforms if transforms.dtype == np.float64 else transforms.astype(np.float64)
        t_shape = t.shape
        if t_shape == (2, 3):
            t = DeviceArray.from_numpy(np.broadcast_to(t.to_numpy().reshape(1, 6), (n, 6)),
                                       np.float64)
        elif t_shape == (n, 2, 3):
            t = t.reshape(n, 6)
        else:
            raise ValueError(f"{where}: argument 'transforms' must have shape (2, 3) or "
                             f"({n}, 2, 3), received shape {t_shape}")
    else:
        host = _base._prepare(transforms, "transforms", where, dtype=np.float64)
        if host.shape == (2, 3):
            host = np.broadcast_to(host.reshape(1, 6), (n, 6))
        elif host.shape == (n, 2, 3):
            host = host.reshape(n, 6)
        else:
            raise ValueError(f"{where}: argument 'transforms' must have shape (2, 3) or "
                             f"({n}, 2, 3), received shape {host.shape}")
        t = DeviceArray.from_numpy(host, np.float64)
    if not isinstance(fill_mode, str) or fill_mode.lower() not in _base._FILL_MODES:
        raise ValueError(f"{where}: argument 'fill_mode' must be one of {_base._FILL_MODES}, "
                         f"received {fill_mode!r}")
    if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
        raise TypeError(f"{where}: argument 'fill_value' must be a real number, "
                        f"received {fill_value!r}")
    if output_size is None:
        out_h, out_w = h, w
    else:
        out_h, out_w = _base._image_size_pair(output_size, "output_size", where)
    y = _out((n, out_h, out_w, c))
    _cuda().affine_warp(y, x, t, fill_mode.lower(), float(fill_value))
    return y.reshape(y.shape[1:]) if single else y


def flip_left_right(images, flags=None):
    """GPU :func:`minidl.ops.flip_left_right` (device flags: uint8, nonzero flips)."""
    where = "flip_left_right"
    x, single = _images_4d(images, where)
    n = x.shape[0]
    flag_array = None
    if flags is not None:
        if _is_dev(flags):
            if flags.dtype != np.uint8:
                flags = flags.to_numpy()
            elif flags.shape == (n,):
                flag_array = flags
        if flag_array is None:
            f = np.asarray(flags)
            if f.dtype.kind not in "biu":
                raise TypeError(f"{where}: argument 'flags' must be a boolean array, "
                                f"received dtype {f.dtype}")
            if f.shape not in ((), (n,)):
                raise ValueError(f"{where}: argument 'flags' must have shape ({n},) or be a "
                                 f"single boolean, received shape {f.shape}")
            flag_array = DeviceArray.from_numpy(
                np.ascontiguousarray(np.broadcast_to(f != 0, (n,)), dtype=np.uint8), np.uint8)
    y = _out(x.shape)
    _cuda().flip_horizontal(y, x, flag_array)
    return y.reshape(y.shape[1:]) if single else y


def resize(images, size, interpolation="bilinear"):
    """GPU :func:`minidl.ops.resize` (bilinear, half-pixel centres)."""
    where = "resize"
    if not isinstance(interpolation, str) or interpolation.lower() != "bilinear":
        raise ValueError(f"{where}: argument 'interpolation' must be 'bilinear' (the only "
                         f"supported method), received {interpolation!r}")
    x, single = _images_4d(images, where)
    out_h, out_w = _base._image_size_pair(size, "size", where)
    y = _out((x.shape[0], out_h, out_w, x.shape[3]))
    _cuda().resize_bilinear(y, x)
    return y.reshape(y.shape[1:]) if single else y
