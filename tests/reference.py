"""Naive float64 NumPy reference kernels, written for clarity rather than speed.

The compiled kernels are tested against these. Layout conventions are minidl's:
NHWC images, HWIO convolution kernels, channels on the last axis.
"""
import numpy as np


def same_padding(length, window, stride):
    """Keras/TensorFlow 'same' padding of one axis: (output length, padding before)."""
    out = -(-length // stride)
    total = max((out - 1) * stride + window - length, 0)
    return out, total // 2


def axis_geometry(length, window, stride, padding):
    """(output length, padding before) of one spatial axis for 'valid' or 'same'."""
    if padding == "same":
        return same_padding(length, window, stride)
    return (length - window) // stride + 1, 0


# ---------------------------------------------------------------- gemm


# ---------------------------------------------------------------- conv2d


# ---------------------------------------------------------------- pooling


# ---------------------------------------------------------------- batch normalization


# ---------------------------------------------------------------- activations


# ---------------------------------------------------------------- losses


# ---------------------------------------------------------------- optimizers


def sgd_update(var, velocity, grad, lr, momentum, nesterov):
    """Keras 3 SGD step in float64. Returns (new var, new velocity or None)."""
    var = np.array(var, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if momentum == 0:
        return var - grad * lr, None
    m = -grad * lr + np.asarray(velocity, dtype=np.float64) * momentum
    if nesterov:
        var = var + (-grad * lr + m * momentum)
    else:
        var = var + m
    return var, m


def rmsprop_update(var, velocity, average_grad, momentum_buf, grad, lr, rho, momentum, epsilon,
                   centered):
    """Keras 3 RMSprop step in float64 (epsilon inside the square root).

    Returns (var, velocity, average_grad or None, momentum_buf or None).
    """
    var = np.array(var, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    velocity = rho * np.asarray(velocity, dtype=np.float64) + (1 - rho) * grad ** 2
    if centered:
        average_grad = rho * np.asarray(average_grad, dtype=np.float64) + (1 - rho) * grad
        denominator = velocity - average_grad ** 2 + epsilon
    else:
        average_grad = None
        denominator = velocity + epsilon
    increment = lr * grad / np.sqrt(denominator)
    if momentum > 0:
        momentum_buf = momentum * np.asarray(momentum_buf, dtype=np.float64) + increment
        var = var - momentum_buf
    else:
        momentum_buf = None
        var = var - increment
    return var, velocity, average_grad, momentum_buf


def adam_update(var, m, v, vhat, grad, step, lr, beta_1, beta_2, epsilon, weight_decay):
    """Keras 3 Adam / AdamW step in float64 (step is 1-based).

    Returns (var, m, v, vhat or None).
    """
    var = np.array(var, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if weight_decay:
        var = var - var * weight_decay * lr
    alpha = lr * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    m = np.asarray(m, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    m = m + (grad - m) * (1 - beta_1)
    v = v + (grad ** 2 - v) * (1 - beta_2)
    if vhat is not None:
        vhat = np.maximum(np.asarray(vhat, dtype=np.float64), v)
        denominator = np.sqrt(vhat) + epsilon
    else:
        denominator = np.sqrt(v) + epsilon
    var = var - m * alpha / denominator
    return var, m, v, vhat



# ---------------------------------------------------------------- tensor ops


def bias_add(x, bias):
    """x + bias along the last axis, in float64."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        for c in range(x.shape[-1]):
            out[index + (c,)] = x[index + (c,)] + bias[c]
    return out


def reduce_sum(x, axis=None, keepdims=False):
    """Correctly rounded float64 sum (math.fsum) over the given axes (keras.ops.sum)."""
    import math

    x = np.asarray(x, dtype=np.float64)
    if axis is None:
        axes = tuple(range(x.ndim))
    elif np.ndim(axis) == 0:
        axes = (int(axis) % x.ndim,)
    else:
        axes = tuple(sorted(int(a) % x.ndim for a in axis))
    kept = [a for a in range(x.ndim) if a not in axes]
    kept_shape = tuple(x.shape[a] for a in kept)
    out = np.zeros(kept_shape)
    moved = np.moveaxis(x, kept, list(range(len(kept)))) if kept else x
    for index in np.ndindex(kept_shape):
        out[index] = math.fsum(moved[index].reshape(-1).tolist())
    if keepdims:
        out = out.reshape(tuple(1 if a in axes else n for a, n in enumerate(x.shape)))
    return out



# ---------------------------------------------------------------- image ops

