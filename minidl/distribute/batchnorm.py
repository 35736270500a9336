"""Synchronized batch normalization: the batch statistics of the global batch, with every
rank holding one slice of it (``DataParallel(sync_batchnorm=True)``).

Forward: each rank's per-channel count, mean and M2 (the sum of squared deviations) are
gathered and combined in rank order in float64 (Chan's pairwise update), which gives
the global batch's mean and biased variance; the rank normalises its slice with them and
updates the moving statistics as one process would (Keras 3's momentum rule). Backward:
``dx = gamma / sigma * (dy - sum(dy) / N - x_hat * sum(dy * x_hat) / N)`` with both sums
over the global batch (one Allreduce), computed on the C kernels as the backward with the
statistics held constant plus the affine term in x_hat that comes from the statistics;
gamma's and beta's gradients are the rank's own sums, which the model's gradient
Allreduce adds up.
"""
import numpy as np

from minidl import ops


def _rows(x, axis):
    """x as (rows, channels) with the channel axis last (a copy only when it moves)."""
    moved = np.moveaxis(x, axis, -1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1]), moved.shape


def combined_moments(counts, means, m2s):
    """The count, mean and M2 of the union of groups given by theirs, combined in order."""
    total, mean, m2 = 0.0, np.zeros_like(means[0]), np.zeros_like(m2s[0])
    for n, group_mean, group_m2 in zip(counts, means, m2s):
        if n == 0:
            continue
        delta = group_mean - mean
        new_total = total + n
        mean = mean + delta * (n / new_total)
        m2 = m2 + group_m2 + delta * delta * (total * n / new_total)
        total = new_total
    return total, mean, m2


def forward(layer, inputs, distribution):
    """The training forward of ``layer`` (a BatchNormalization) with global statistics;
    returns ``(y, cache)``."""
    rows, _ = _rows(inputs, layer.axis)
    local_mean, local_var = (np.asarray(m, dtype=np.float64)
                             for m in ops.moments(rows, axes=0))
    n = rows.shape[0]
    stats = np.concatenate([[float(n)], local_mean, local_var * n])
    gathered = distribution.gather_small(stats)
    channels = local_mean.shape[0]
    total, mean, m2 = combined_moments(gathered[:, 0], gathered[:, 1:1 + channels],
                                       gathered[:, 1 + channels:])
    var = m2 / total
    dtype = inputs.dtype
    y = ops.batch_normalization(inputs, mean.astype(dtype), var.astype(dtype),
                                axis=layer.axis, offset=layer._value(layer.beta),
                                scale=layer._value(layer.gamma), epsilon=layer.epsilon)
    momentum = layer.momentum
    for variable, batch in ((layer.moving_mean, mean), (layer.moving_variance, var)):
        moving = variable.numpy().astype(np.float64)
        variable.assign((moving * momentum + batch * (1.0 - momentum)).astype(dtype))
    return y, {"x": inputs, "mean": mean, "var": var, "total": total, "training": True,
               "synchronized": True}


def backward(layer, dy, cache, distribution):
    """``(dx, dgamma, dbeta)`` of the synchronized forward, on the C kernels: the
    backward with the statistics held constant (``dy * gamma / sigma`` and the rank's
    sums of dy and dy * x_hat in one pass), then, once the sums are global, the
    per-channel affine term in x_hat that the statistics' own gradient adds
    (``ops.batch_normalization`` with it as scale and offset, and one addition)."""
    x, mean, var, total = cache["x"], cache["mean"], cache["var"], cache["total"]
    dtype = x.dtype
    gamma = layer._value(layer.gamma)
    mean_x, var_x = mean.astype(dtype), var.astype(dtype)
    dx_fixed, dgamma, dbeta = ops.batch_normalization_backward(
        dy, x, mean_x, var_x, axis=layer.axis, scale=gamma, epsilon=layer.epsilon)
    local = np.concatenate([np.asarray(dbeta, np.float64), np.asarray(dgamma, np.float64)])
    sums = distribution.reduce_totals(local)
    channels = mean.shape[0]
    scale = (1.0 if gamma is None else np.asarray(gamma, np.float64)) / \
        np.sqrt(var + layer.epsilon)
    offset = -scale * sums[:channels] / total
    slope = -scale * sums[channels:] / total
    correction = ops.batch_normalization(x, mean_x, var_x, axis=layer.axis,
                                         offset=offset.astype(dtype),
                                         scale=slope.astype(dtype), epsilon=layer.epsilon)
    return ops.add(dx_fixed, correction), dgamma, dbeta
