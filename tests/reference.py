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


def _pool_windows(in_h, in_w, pool, strides, padding):
    """Yield (oh, ow, rows, cols) for every output cell: the window's real rows and cols
    as ranges, with the padded part already cut away."""
    out_h, pad_top = axis_geometry(in_h, pool[0], strides[0], padding)
    out_w, pad_left = axis_geometry(in_w, pool[1], strides[1], padding)
    for oh in range(out_h):
        top = oh * strides[0] - pad_top
        rows = range(max(top, 0), min(top + pool[0], in_h))
        for ow in range(out_w):
            left = ow * strides[1] - pad_left
            cols = range(max(left, 0), min(left + pool[1], in_w))
            yield oh, ow, rows, cols


def pool_output_shape(shape, pool, strides, padding):
    """NHWC output shape of a 2-D pooling."""
    out_h, _ = axis_geometry(shape[1], pool[0], strides[0], padding)
    out_w, _ = axis_geometry(shape[2], pool[1], strides[1], padding)
    return (shape[0], out_h, out_w, shape[3])


def max_pool(x, pool, strides, padding):
    """Max pooling of NHWC x: (y, argmax), argmax = h * W + w of the first maximum
    in row-major window order, per image and channel."""
    x = np.asarray(x, dtype=np.float64)
    n, in_h, in_w, channels = x.shape
    out_shape = pool_output_shape(x.shape, pool, strides, padding)
    y = np.zeros(out_shape)
    argmax = np.zeros(out_shape, dtype=np.int64)
    for b in range(n):
        for oh, ow, rows, cols in _pool_windows(in_h, in_w, pool, strides, padding):
            for c in range(channels):
                best, best_index = None, None
                for h in rows:
                    for w in cols:
                        if best is None or x[b, h, w, c] > best:
                            best, best_index = x[b, h, w, c], h * in_w + w
                y[b, oh, ow, c] = best
                argmax[b, oh, ow, c] = best_index
    return y, argmax


def max_pool_backward(dy, x, pool, strides, padding):
    """Gradient of max_pool with respect to x: each dy goes to its window's maximum."""
    x = np.asarray(x, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    _, argmax = max_pool(x, pool, strides, padding)
    n, in_h, in_w, channels = x.shape
    dx = np.zeros(x.shape)
    for b in range(n):
        for oh, ow, _, _ in _pool_windows(in_h, in_w, pool, strides, padding):
            for c in range(channels):
                h, w = divmod(int(argmax[b, oh, ow, c]), in_w)
                dx[b, h, w, c] += dy[b, oh, ow, c]
    return dx


def average_pool(x, pool, strides, padding):
    """Average pooling of NHWC x over the real (unpadded) cells of each window."""
    x = np.asarray(x, dtype=np.float64)
    n, in_h, in_w, channels = x.shape
    y = np.zeros(pool_output_shape(x.shape, pool, strides, padding))
    for b in range(n):
        for oh, ow, rows, cols in _pool_windows(in_h, in_w, pool, strides, padding):
            for c in range(channels):
                total = 0.0
                for h in rows:
                    for w in cols:
                        total += x[b, h, w, c]
                y[b, oh, ow, c] = total / (len(rows) * len(cols))
    return y


def average_pool_backward(dy, input_shape, pool, strides, padding):
    """Gradient of average_pool: each real cell of a window gets dy / (real cells)."""
    dy = np.asarray(dy, dtype=np.float64)
    n, in_h, in_w, channels = input_shape
    dx = np.zeros(input_shape)
    for b in range(n):
        for oh, ow, rows, cols in _pool_windows(in_h, in_w, pool, strides, padding):
            share = dy[b, oh, ow, :] / (len(rows) * len(cols))
            for h in rows:
                for w in cols:
                    dx[b, h, w, :] += share
    return dx


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
