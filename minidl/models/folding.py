"""Batch normalization folded into the layer before it, and a 2x2 average pooling done in
the convolution before it, for inference.

At inference a BatchNormalization layer is a per-channel affine map,
``y = gamma * (z - mean) / sqrt(var + epsilon) + beta``. When it directly follows a
convolution or a dense layer without activation (``z = x @ W + b``), the two are one
linear layer with

    s = gamma / sqrt(var + epsilon),   W' = W * s,   b' = (b - mean) * s + beta

(``s`` scales each output channel: the last axis of the HWIO kernel or of the dense
kernel), computed in float64 and rounded once to the layer's dtype, so the folded model
equals the unfolded one to float32 round-off. A BatchNormalization after an activation
(as in the seed CIFAR-10 network) cannot be folded backwards; it stays one fused
scale-and-shift pass. The folded weights are made anew for every ``predict`` (or
``evaluate``, or inference call), from the weights as they are then: a model never holds
stale folded copies, and its own weights are never changed.

A 2x2, stride-2 'valid' AveragePooling2D right after a CPU Conv2D (or a convolution with
its BatchNormalization folded in) runs in the convolution's call
(``ops.conv(..., pool="average")``): the same bits as the two layers, without writing
the unpooled output (LeNet-5's first convolution keeps its rows in the core's cache).
"""
import numpy as np

from minidl import backend, ops
from minidl.layers.convolutional import _FUSED, Conv2D
from minidl.layers.core import Dense, Flatten
from minidl.layers.normalization import BatchNormalization
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D


def _normalizes_last_axis(layer):
    """True when ``layer`` is a batch norm over the last axis of its input."""
    return isinstance(layer, BatchNormalization) and \
        layer.axis in (-1, len(layer.build_input_shape or ()) - 1)


def _foldable(layer, following):
    """True when ``following`` is a batch norm over the last axis right after ``layer``,
    a Conv2D or Dense layer without activation."""
    return (type(layer) in (Conv2D, Dense) and layer.activation == "linear"
            and _normalizes_last_axis(following))


def _affine(batch_norm):
    """``(scale, shift)`` in float64 of an inference BatchNormalization:
    ``y = scale * x + shift`` per channel."""
    mean = batch_norm.moving_mean.numpy().astype(np.float64)
    var = batch_norm.moving_variance.numpy().astype(np.float64)
    gamma = np.ones_like(mean) if batch_norm.gamma is None else \
        batch_norm.gamma.numpy().astype(np.float64)
    beta = np.zeros_like(mean) if batch_norm.beta is None else \
        batch_norm.beta.numpy().astype(np.float64)
    scale = gamma / np.sqrt(var + batch_norm.epsilon)
    return scale, beta - mean * scale


def _placed(layer, kernel, bias):
    """Float64 ``kernel`` and ``bias`` rounded once to the layer's dtype, on the device of
    its kernel."""
    dtype = layer.kernel.value.dtype
    place = backend.backend_of(layer.kernel.value).asarray
    return place(kernel.astype(dtype), dtype), place(bias.astype(dtype), dtype)


def _weights64(layer):
    """The layer's kernel and bias (zeros without one) in float64."""
    kernel = layer.kernel.numpy().astype(np.float64)
    bias = np.zeros(kernel.shape[-1]) if layer.bias is None else \
        layer.bias.numpy().astype(np.float64)
    return kernel, bias


def folded_weights(layer, batch_norm):
    """``(kernel, bias)`` of ``layer`` followed by ``batch_norm`` as one layer, on the
    device of the layer's kernel (folded on the host: a few small vectors)."""
    scale, shift = _affine(batch_norm)
    kernel, bias = _weights64(layer)
    return _placed(layer, kernel * scale, bias * scale + shift)


def absorbed_weights(layer, scale, shift):
    """``(kernel, bias)`` of ``layer`` (a 'valid' Conv2D or a Dense) reading ``scale * x +
    shift`` instead of ``x``, per input channel: the last axis of ``x`` (after a Flatten
    of C channels, feature ``i`` has channel ``i % C``).

    ``W'[..., i, :] = W[..., i, :] * scale[i]`` and ``b' = b + sum_i W[..., i, :] shift[i]``
    (a convolution without padding reads no zero that the shift would have moved)."""
    kernel, bias = _weights64(layer)
    repeat = kernel.shape[-2] // len(scale)  # 1, or the pixels of a flattened image
    scale, shift = np.tile(scale, repeat), np.tile(shift, repeat)
    windows = kernel.ndim - 2  # a convolution's window axes
    per_channel = (1,) * windows + (-1, 1)
    # an elementwise sum, not a BLAS product: NumPy's BLAS threads would stay awake
    # spinning after the call, taking the cores the next kernels need
    bias = bias + (kernel * shift.reshape(per_channel)).sum(axis=tuple(range(windows + 1)))
    kernel = kernel * scale.reshape(per_channel)
    return _placed(layer, kernel, bias)


def _absorber(layers, start, scale):
    """The index of the layer from ``start`` on that can absorb a per-channel affine map
    of its input (see :func:`absorbed_weights`), passing only layers that commute with it
    (average pooling; max pooling when no scale is negative; one Flatten), or None."""
    flattened = False
    for j in range(start, len(layers)):
        layer = layers[j]
        if type(layer) is AveragePooling2D or \
                (type(layer) is MaxPooling2D and (scale >= 0).all()):
            continue
        if type(layer) is Flatten and not flattened:
            flattened = True
            continue
        if type(layer) is Dense or (type(layer) is Conv2D and not flattened
                                    and layer.padding == "valid"):
            return j
        return None
    return None


def _pools_into(layer, following):
    """True when ``following`` is a 2x2, stride-2 'valid' average pooling that the CPU
    convolution of ``layer`` (a Conv2D with a fused activation) can apply in its own
    call (``ops.conv(..., pool="average")``: the same bits, without writing the
    unpooled output)."""
    return (type(layer) is Conv2D and layer.activation in _FUSED
            and type(following) is AveragePooling2D and following.pool_size == (2, 2)
            and following.strides == (2, 2) and following.padding == "valid"
            and backend.backend_of(layer.kernel.value).name == "cpu")


def _layer_step(layer, kernel, bias, activation, pool):
    """The forward pass of ``layer`` (Conv2D or Dense) with the given kernel and bias, its
    activation (fused into a convolution when it can be), and the fused average pooling
    when ``pool``."""
    def checked(x):  # the layer's own checks: errors name it
        x = layer._convert_input(x)
        layer._check_input(x)
        return x

    if isinstance(layer, Conv2D) and activation in _FUSED:
        return lambda x: ops.conv(checked(x), kernel, layer.strides, layer.padding,
                                  bias=bias, activation=activation,
                                  pool="average" if pool else None)
    if isinstance(layer, Conv2D):
        return lambda x: layer._activate(ops.conv(checked(x), kernel, layer.strides,
                                                  layer.padding, bias=bias))
    return lambda x: layer._activate(ops.bias_add(ops.matmul(checked(x), kernel), bias))


def _moved_forward(layers):
    """The batch norms that cannot fold into the layer before them (an activation comes
    first, as in the seed networks) but can move into a later layer: ``({index of each
    moved batch norm}, {id(absorbing layer): (scale, shift)})``."""
    moved, absorbed = set(), {}
    for i, layer in enumerate(layers):
        if type(layer) is not BatchNormalization or not _normalizes_last_axis(layer) or \
                (i > 0 and _foldable(layers[i - 1], layer)):
            continue
        scale, shift = _affine(layer)
        target = _absorber(layers, i + 1, scale)
        if target is not None and id(layers[target]) not in absorbed:
            moved.add(i)
            absorbed[id(layers[target])] = (scale, shift)
    return moved, absorbed


def inference_plan(layers):
    """The inference forward of a stack of layers as a list of functions of the input:
    every foldable (layer, BatchNormalization) pair made one, a BatchNormalization that
    cannot fold backwards moved into the next layer that absorbs it, and a 2x2 average
    pooling after a CPU convolution done in the convolution's call."""
    moved, absorbed = _moved_forward(layers)
    layers = [layer for i, layer in enumerate(layers) if i not in moved]
    plan, i = [], 0
    while i < len(layers):
        layer = layers[i]
        following = layers[i + 1] if i + 1 < len(layers) else None
        if id(layer) in absorbed:
            kernel, bias = absorbed_weights(layer, *absorbed[id(layer)])
            activation, i = layer.activation, i + 1
        elif following is not None and _foldable(layer, following):
            (kernel, bias), activation, i = folded_weights(layer, following), "linear", i + 2
        elif following is not None and _pools_into(layer, following):
            kernel = layer.kernel.value
            bias = layer.bias.value if layer.use_bias else None
            activation, i = layer.activation, i + 1
        else:
            plan.append(lambda x, layer=layer: layer(x, training=False))
            i += 1
            continue
        pool = i < len(layers) and _pools_into(layer, layers[i])
        plan.append(_layer_step(layer, kernel, bias, activation, pool))
        i += 1 if pool else 0
    return plan
