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


# ---------------------------------------------------------------- tensor ops


# ---------------------------------------------------------------- image ops

def _fill_index(k, length, fill_mode):
    """Map an integer pixel index k (any size) into [0, length) by a fill mode;
    None means outside the image ('constant')."""
    if 0 <= k < length:
        return k
    if fill_mode == "nearest":
        return 0 if k < 0 else length - 1
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a
        m = k % (2 * length)
        return m if m < length else 2 * length - 1 - m
    if fill_mode == "wrap":  # a b c d | a b c d
        return k % length
    return None  # constant


def _sample_axis(s, length, fill_mode):
    """Bilinear taps of one axis at coordinate s: [(index or None, weight), (..)],
    or None when the sample is entirely outside ('constant'). Non-finite coordinates
    count as outside for 'constant' and as the nearest edge otherwise (NaN: first)."""
    if not np.isfinite(s):
        if fill_mode == "constant":
            return None
        k = length - 1 if s > 0 else 0
        return [(k, 1.0), (_fill_index(k + 1, length, fill_mode), 0.0)]
    k = int(np.floor(s))  # an exact Python int, however large s is
    f = s - float(np.floor(s))
    taps = [(_fill_index(k, length, fill_mode), 1.0 - f),
            (_fill_index(k + 1, length, fill_mode), f)]
    if fill_mode == "constant" and taps[0][0] is None and taps[1][0] is None:
        return None
    return taps


def affine_warp(images, transforms, fill_mode, fill_value, out_h, out_w):
    """Bilinear affine warp of NHWC images: output (r, c) of image i samples the input
    at (t0*r + t1*c + t2, t3*r + t4*c + t5), t = transforms[i] (6 values)."""
    x = np.asarray(images, dtype=np.float64)
    n, h, w, ch = x.shape
    t = np.asarray(transforms, dtype=np.float64).reshape(n, 6)
    y = np.empty((n, out_h, out_w, ch))
    with np.errstate(invalid="ignore", over="ignore"):
        for i in range(n):
            t0, t1, t2, t3, t4, t5 = (np.float64(v) for v in t[i])
            for r in range(out_h):
                for c in range(out_w):
                    sr = float(t0 * r + t1 * c + t2)
                    sc = float(t3 * r + t4 * c + t5)
                    rows = _sample_axis(sr, h, fill_mode)
                    cols = _sample_axis(sc, w, fill_mode)
                    if rows is None or cols is None:
                        y[i, r, c] = fill_value
                        continue
                    value = np.zeros(ch)
                    for ri, rw in rows:
                        line = np.zeros(ch)
                        for ci, cw in cols:
                            pixel = (np.full(ch, float(fill_value)) if ri is None or ci is None
                                     else x[i, ri, ci])
                            line = line + cw * pixel
                        value = value + rw * line
                    y[i, r, c] = value
    return y


def flip_left_right(images, flags=None):
    """Mirror NHWC images along the width where flags (None: all) is true."""
    x = np.asarray(images, dtype=np.float64)
    y = x.copy()
    for i in range(x.shape[0]):
        if flags is None or flags[i]:
            for c in range(x.shape[2]):
                y[i, :, c] = x[i, :, x.shape[2] - 1 - c]
    return y


def _resize_taps(d, in_len, out_len):
    """Half-pixel-centre source taps of output index d: (i0, i1, weight of i1)."""
    s = (d + 0.5) * (in_len / out_len) - 0.5
    s = min(max(s, 0.0), in_len - 1.0)
    i0 = int(np.floor(s))
    i1 = min(i0 + 1, in_len - 1)
    return i0, i1, s - i0


def resize_bilinear(images, out_h, out_w):
    """Bilinear resize of NHWC images, half-pixel centres, no antialiasing."""
    x = np.asarray(images, dtype=np.float64)
    n, h, w, ch = x.shape
    y = np.empty((n, out_h, out_w, ch))
    for r in range(out_h):
        r0, r1, fr = _resize_taps(r, h, out_h)
        for c in range(out_w):
            c0, c1, fc = _resize_taps(c, w, out_w)
            y[:, r, c] = ((1 - fr) * ((1 - fc) * x[:, r0, c0] + fc * x[:, r0, c1])
                          + fr * ((1 - fc) * x[:, r1, c0] + fc * x[:, r1, c1]))
    return y
