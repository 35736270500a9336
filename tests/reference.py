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


# ---------------------------------------------------------------- tensor ops


# ---------------------------------------------------------------- image ops

