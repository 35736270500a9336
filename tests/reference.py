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


def _bn_columns(x):
    """x (..., channels) as a float64 (rows, channels) copy."""
    x = np.array(x, dtype=np.float64)
    return x.reshape(-1, x.shape[-1])


def batch_norm_stats_ref(x):
    """Per-channel mean and biased variance of x (..., channels), two plain passes."""
    x2 = _bn_columns(x)
    rows, channels = x2.shape
    mean = np.zeros(channels)
    var = np.zeros(channels)
    for c in range(channels):
        mean[c] = np.sum(x2[:, c]) / rows
        var[c] = np.sum((x2[:, c] - mean[c]) ** 2) / rows
    return mean, var


def batch_norm_infer_ref(x, mean, var, gamma=None, beta=None, epsilon=1e-3):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis of x."""
    x2 = _bn_columns(x)
    channels = x2.shape[1]
    gamma = np.ones(channels) if gamma is None else np.asarray(gamma, np.float64)
    beta = np.zeros(channels) if beta is None else np.asarray(beta, np.float64)
    y = np.zeros_like(x2)
    for c in range(channels):
        xhat = (x2[:, c] - float(mean[c])) / np.sqrt(float(var[c]) + epsilon)
        y[:, c] = xhat * gamma[c] + beta[c]
    return y.reshape(np.shape(x))


def batch_norm_train_ref(x, gamma=None, beta=None, moving_mean=None, moving_var=None,
                         momentum=0.99, epsilon=1e-3):
    """Training forward over the last axis: (y, mean, var, new moving_mean, new moving_var).

    The moving statistics follow Keras 3: moving * momentum + batch * (1 - momentum),
    with the biased batch variance; None stays None.
    """
    mean, var = batch_norm_stats_ref(x)
    y = batch_norm_infer_ref(x, mean, var, gamma, beta, epsilon)
    new_mean = None if moving_mean is None else (
        np.asarray(moving_mean, np.float64) * momentum + mean * (1.0 - momentum))
    new_var = None if moving_var is None else (
        np.asarray(moving_var, np.float64) * momentum + var * (1.0 - momentum))
    return y, mean, var, new_mean, new_var


def batch_norm_train_backward_ref(dy, x, gamma=None, epsilon=1e-3):
    """Training backward over the last axis by the chain rule through mean and variance.

    Returns (dx, dgamma, dbeta). Written step by step (xhat, dvar, dmean) rather than in
    the fused closed form that the C kernel uses.
    """
    x2 = _bn_columns(x)
    dy2 = _bn_columns(dy)
    rows, channels = x2.shape
    gamma = np.ones(channels) if gamma is None else np.asarray(gamma, np.float64)
    mean, var = batch_norm_stats_ref(x)
    dx = np.zeros_like(x2)
    dgamma = np.zeros(channels)
    dbeta = np.zeros(channels)
    for c in range(channels):
        xc = x2[:, c] - mean[c]
        std_inv = 1.0 / np.sqrt(var[c] + epsilon)
        xhat = xc * std_inv
        dgamma[c] = np.sum(dy2[:, c] * xhat)
        dbeta[c] = np.sum(dy2[:, c])
        dxhat = dy2[:, c] * gamma[c]
        dvar = np.sum(dxhat * xc) * -0.5 * std_inv ** 3
        dmean = -np.sum(dxhat) * std_inv + dvar * np.sum(-2.0 * xc) / rows
        dx[:, c] = dxhat * std_inv + dvar * 2.0 * xc / rows + dmean / rows
    return dx.reshape(np.shape(x)), dgamma, dbeta


def batch_norm_infer_backward_ref(dy, x, mean, var, gamma=None, epsilon=1e-3):
    """Inference backward over the last axis (statistics constant): (dx, dgamma, dbeta)."""
    x2 = _bn_columns(x)
    dy2 = _bn_columns(dy)
    channels = x2.shape[1]
    gamma = np.ones(channels) if gamma is None else np.asarray(gamma, np.float64)
    dx = np.zeros_like(x2)
    dgamma = np.zeros(channels)
    dbeta = np.zeros(channels)
    for c in range(channels):
        std_inv = 1.0 / np.sqrt(float(var[c]) + epsilon)
        dx[:, c] = dy2[:, c] * gamma[c] * std_inv
        dgamma[c] = np.sum(dy2[:, c] * (x2[:, c] - float(mean[c])) * std_inv)
        dbeta[c] = np.sum(dy2[:, c])
    return dx.reshape(np.shape(x)), dgamma, dbeta


# ---------------------------------------------------------------- activations


# ---------------------------------------------------------------- losses


# ---------------------------------------------------------------- optimizers


# ---------------------------------------------------------------- tensor ops


# ---------------------------------------------------------------- image ops

