"""Batch normalization folded into the layer before it, for inference.

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
"""
import numpy as np

from minidl import backend, ops
from minidl.layers.convolutional import Conv2D
from minidl.layers.core import Dense
from minidl.layers.normalization import BatchNormalization


def _foldable(layer, following):
    """True when ``following`` is a batch norm over the last axis right after ``layer``,
    a Conv2D or Dense layer without activation."""
    return (type(layer) in (Conv2D, Dense) and layer.activation == "linear"
            and isinstance(following, BatchNormalization)
            and following.axis in (-1, len(following.build_input_shape or ()) - 1))


def folded_weights(layer, batch_norm):
    """``(kernel, bias)`` of ``layer`` followed by ``batch_norm`` as one layer, on the
    device of the layer's kernel (folded on the host: a few small vectors)."""
    mean = batch_norm.moving_mean.numpy().astype(np.float64)
    var = batch_norm.moving_variance.numpy().astype(np.float64)
    gamma = np.ones_like(mean) if batch_norm.gamma is None else \
        batch_norm.gamma.numpy().astype(np.float64)
    beta = np.zeros_like(mean) if batch_norm.beta is None else \
        batch_norm.beta.numpy().astype(np.float64)
    scale = gamma / np.sqrt(var + batch_norm.epsilon)
    kernel = layer.kernel.numpy().astype(np.float64) * scale
    bias = np.zeros_like(mean) if layer.bias is None else layer.bias.numpy().astype(np.float64)
    dtype = layer.kernel.value.dtype
    place = backend.backend_of(layer.kernel.value).asarray
    return place(kernel.astype(dtype), dtype), place(((bias - mean) * scale + beta).astype(dtype),
                                                     dtype)


def _folded_step(layer, kernel, bias):
    """The forward pass of ``layer`` with the folded kernel and bias."""
    if isinstance(layer, Conv2D):
        return lambda x: ops.conv(layer._convert_input(x), kernel, layer.strides,
                                  layer.padding, bias=bias)
    return lambda x: ops.bias_add(ops.matmul(layer._convert_input(x), kernel), bias)


def inference_plan(layers):
    """The inference forward of a stack of layers as a list of functions of the input,
    with every foldable (layer, BatchNormalization) pair made one."""
    plan, i = [], 0
    while i < len(layers):
        layer = layers[i]
        following = layers[i + 1] if i + 1 < len(layers) else None
        if following is not None and _foldable(layer, following):
            plan.append(_folded_step(layer, *folded_weights(layer, following)))
            i += 2
            continue
        plan.append(lambda x, layer=layer: layer(x, training=False))
        i += 1
    return plan
