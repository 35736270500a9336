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


def matmul(a, b):
    """Matrix product in float64, one dot product per output element."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[i, j] = np.dot(a[i, :], b[:, j])
    return out


# ---------------------------------------------------------------- conv2d


def _pad_for_windows(x, pad_top, pad_left, out_h, out_w, kh, kw, sh, sw):
    """Zero-pad an NHWC batch so that every window of the output fits."""
    need_h = (out_h - 1) * sh + kh
    need_w = (out_w - 1) * sw + kw
    bottom = max(need_h - pad_top - x.shape[1], 0)
    right = max(need_w - pad_left - x.shape[2], 0)
    return np.pad(x, ((0, 0), (pad_top, bottom), (pad_left, right), (0, 0)))


def conv2d(x, w, strides=(1, 1), padding="valid", bias=None):
    """Convolution of NHWC x with HWIO w, one window at a time."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    kh, kw, _, co = w.shape
    out_h, pad_top = axis_geometry(x.shape[1], kh, strides[0], padding)
    out_w, pad_left = axis_geometry(x.shape[2], kw, strides[1], padding)
    xp = _pad_for_windows(x, pad_top, pad_left, out_h, out_w, kh, kw, *strides)
    y = np.zeros((x.shape[0], out_h, out_w, co))
    for i in range(out_h):
        for j in range(out_w):
            window = xp[:, i * strides[0]:i * strides[0] + kh, j * strides[1]:j * strides[1] + kw, :]
            y[:, i, j, :] = np.tensordot(window, w, axes=([1, 2, 3], [0, 1, 2]))
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64)
    return y


def conv2d_backward(dy, x, w, strides=(1, 1), padding="valid"):
    """(dx, dw, dbias) of conv2d by scattering each window's gradient back."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    kh, kw = w.shape[:2]
    out_h, pad_top = axis_geometry(x.shape[1], kh, strides[0], padding)
    out_w, pad_left = axis_geometry(x.shape[2], kw, strides[1], padding)
    xp = _pad_for_windows(x, pad_top, pad_left, out_h, out_w, kh, kw, *strides)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(out_h):
        for j in range(out_w):
            rows = slice(i * strides[0], i * strides[0] + kh)
            cols = slice(j * strides[1], j * strides[1] + kw)
            g = dy[:, i, j, :]                                   # (N, co)
            dxp[:, rows, cols, :] += np.einsum("nc,hwic->nhwi", g, w)
            dw += np.einsum("nhwi,nc->hwic", xp[:, rows, cols, :], g)
    dx = dxp[:, pad_top:pad_top + x.shape[1], pad_left:pad_left + x.shape[2], :]
    return dx, dw, dy.sum(axis=(0, 1, 2))


# ---------------------------------------------------------------- pooling


# ---------------------------------------------------------------- batch normalization


# ---------------------------------------------------------------- activations


# ---------------------------------------------------------------- losses


# ---------------------------------------------------------------- optimizers


# ---------------------------------------------------------------- tensor ops


# ---------------------------------------------------------------- image ops

