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


def relu(x):
    """max(x, 0) elementwise."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, 0.0)


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise, one value at a time with np.exp (stable form)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    for i, v in enumerate(flat_x):
        if v >= 0:
            flat_out[i] = 1.0 / (1.0 + np.exp(-v))
        else:
            e = np.exp(v)
            flat_out[i] = e / (1.0 + e)
    return out


def tanh(x):
    """tanh elementwise through exponentials: sign(x) (1 - e) / (1 + e), e = exp(-2|x|)
    (with expm1 so that small |x| keep full precision)."""
    x = np.asarray(x, dtype=np.float64)
    d = np.expm1(-2.0 * np.abs(x))  # e - 1
    return np.sign(x) * (-d) / (2.0 + d)


def softmax(x, axis=-1):
    """Softmax along ``axis``, one 1-D slice at a time (max subtracted, np.exp)."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    rows_x = x.reshape(-1, x.shape[-1])
    rows_out = np.empty(rows_x.shape)
    for r in range(rows_x.shape[0]):
        m = max(rows_x[r])
        e = [np.exp(v - m) for v in rows_x[r]]
        s = sum(e)
        rows_out[r] = [v / s for v in e]
    return np.moveaxis(rows_out.reshape(x.shape), -1, axis)


def activation_backward(dy, y, name):
    """dy * act'(x) written with the forward output y."""
    dy = np.asarray(dy, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if name == "linear":
        return dy.copy()
    if name == "relu":
        return np.where(y > 0, dy, 0.0)
    if name == "sigmoid":
        return dy * y * (1.0 - y)
    if name == "tanh":
        return dy * (1.0 - y * y)
    raise ValueError(name)


def softmax_backward(dy, y, axis=-1):
    """The softmax Jacobian-vector product, built from the full Jacobian of each slice."""
    dy = np.moveaxis(np.asarray(dy, dtype=np.float64), axis, -1)
    y = np.moveaxis(np.asarray(y, dtype=np.float64), axis, -1)
    rows_dy, rows_y = dy.reshape(-1, y.shape[-1]), y.reshape(-1, y.shape[-1])
    rows_dx = np.empty(rows_y.shape)
    for r in range(rows_y.shape[0]):
        jac = np.diag(rows_y[r]) - np.outer(rows_y[r], rows_y[r])
        rows_dx[r] = jac.T @ rows_dy[r]
    return np.moveaxis(rows_dx.reshape(y.shape), -1, axis)


# ---------------------------------------------------------------- losses


def log_softmax_row(z):
    """log(softmax(z)) of one row via the log-sum-exp (a list of floats)."""
    m = max(z)
    lse = m + np.log(sum(np.exp(v - m) for v in z))
    return [v - lse for v in z]


def softmax_cross_entropy(logits, targets):
    """(loss (N,), probs (N, C)) of softmax + cross-entropy, row by row."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    loss = np.zeros(logits.shape[0])
    for r in range(logits.shape[0]):
        logp = log_softmax_row(list(logits[r]))
        loss[r] = -sum(t * lp for t, lp in zip(targets[r], logp) if t != 0)
    return loss, softmax(logits)


def sparse_softmax_cross_entropy(logits, labels):
    """(loss, probs) of softmax + cross-entropy against class indices."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    loss = np.zeros(logits.shape[0])
    for r in range(logits.shape[0]):
        loss[r] = -log_softmax_row(list(logits[r]))[int(labels[r])]
    return loss, softmax(logits)


def softmax_cross_entropy_backward(dloss, logits, targets):
    """dlogits from the logits, row by row: dloss * (softmax * sum(t) - t)."""
    probs = softmax(np.asarray(logits, dtype=np.float64))
    targets = np.asarray(targets, dtype=np.float64)
    dlogits = np.zeros_like(probs)
    for r in range(probs.shape[0]):
        dlogits[r] = dloss[r] * (probs[r] * targets[r].sum() - targets[r])
    return dlogits


def one_hot(labels, classes):
    """(N, classes) float64 one-hot rows of integer labels."""
    labels = np.asarray(labels).reshape(-1)
    out = np.zeros((labels.size, classes))
    for r, c in enumerate(labels):
        out[r, int(c)] = 1.0
    return out


def categorical_crossentropy(target, output, eps=1e-7):
    """Keras 3 categorical cross-entropy from probabilities: renormalise each row, clip
    to [eps, 1 - eps], loss = -sum t log p."""
    target = np.asarray(target, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    loss = np.zeros(output.shape[0])
    for r in range(output.shape[0]):
        total = sum(output[r])
        for j in range(output.shape[1]):
            p = min(max(output[r, j] / total, eps), 1.0 - eps)
            loss[r] -= target[r, j] * np.log(p)
    return loss


def categorical_crossentropy_backward(dloss, target, output, eps=1e-7):
    """doutput of categorical_crossentropy by the chain rule through an explicit Jacobian
    of the renormalisation (the clip passes no gradient outside [eps, 1 - eps])."""
    target = np.asarray(target, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    grad = np.zeros_like(output)
    for r in range(output.shape[0]):
        total = output[r].sum()
        q = output[r] / total
        inside = (q >= eps) & (q <= 1.0 - eps)
        dq = np.where(inside, -target[r] / q, 0.0)          # d loss / d q
        jac = np.eye(q.size) / total - np.outer(output[r], np.ones(q.size)) / total ** 2
        grad[r] = dloss[r] * (jac.T @ dq)                   # jac[j, k] = d q_j / d p_k
    return grad


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


def summary_statistics(x, activation=None):
    """Mean, population std and the fraction of values where the derivative of the
    activation (x taken as its output) is below 1% of its maximum, all in float64."""
    x = np.asarray(x, dtype=np.float64).ravel()
    derivative = {"sigmoid": lambda y: y * (1 - y) / 0.25,
                  "tanh": lambda y: 1 - y * y,
                  "relu": lambda y: (y > 0).astype(np.float64)}.get(activation)
    saturated = None if derivative is None else float(np.mean(derivative(x) < 0.01))
    return float(x.mean()), float(x.std()), saturated
