"""Loss functions, as ``keras.losses``, with their gradients.

Functions (``categorical_crossentropy``, ``sparse_categorical_crossentropy``,
``binary_crossentropy``, ``mean_squared_error``/``mse``, ``mean_absolute_error``/``mae``)
return the per-sample loss, as Keras's do. ``Loss`` objects reduce it over the batch
(Keras's default reduction ``'sum_over_batch_size'``: the mean) and also give the gradient
of that reduced loss with respect to ``y_pred``, which the model back-propagates.

Inputs are ``(batch, ..., features)`` arrays; a loss averaged over the last axis (binary
cross-entropy, MSE, MAE) also accepts ``y_true`` of shape ``(batch,)`` against ``y_pred``
of shape ``(batch, 1)`` (and the reverse), as Keras squeezes them to the same rank. Losses
are computed in float64 for float64 predictions and in float32 otherwise.
"""
import numbers

import numpy as np

from minidl import _registry, autodiff, backend, ops
from minidl.backend.cpu import CPU
from minidl.ops._checks import axis_back_order, axis_last_order

# keras.config.epsilon(): the clip of probabilities.
EPSILON = 1e-7

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none")


# ---------------------------------------------------------------- input checks


def _as_array(x, name, where):
    """``x`` as a real numeric ndarray (TypeError otherwise); a device array is copied to
    the host (the losses and metrics without device kernels compute there). Also used
    by metrics."""
    return CPU.numeric_array(x if backend.on_host(x) else backend.to_numpy(x), name, where)


def _as_float(x, name, where):
    """``x`` as a float array (float64 stays float64, other numbers become float32)."""
    array = _as_array(x, name, where)
    return array.astype(np.float64 if array.dtype == np.float64 else np.float32, copy=False)


def _check_batch(y_true, y_pred, where):
    """ValueError unless y_true and y_pred have the same (non-zero rank) batch size."""
    if y_pred.ndim == 0 or y_true.ndim == 0:
        raise ValueError(f"{where}: 'y_true' and 'y_pred' must have a batch axis. Received: "
                         f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{where}: 'y_true' and 'y_pred' must have the same batch size. "
                         f"Received: y_true.shape={y_true.shape} ({y_true.shape[0]} samples), "
                         f"y_pred.shape={y_pred.shape} ({y_pred.shape[0]} samples)")


def _class_axis_last(y_pred, axis, where):
    """``y_pred`` with the class ``axis`` moved last, and that axis as a non-negative int."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or \
            not -y_pred.ndim <= axis < y_pred.ndim:
        raise ValueError(f"{where}: argument 'axis' must be an int in [{-y_pred.ndim}, "
                         f"{y_pred.ndim}) for y_pred of shape {y_pred.shape}. "
                         f"Received: axis={axis!r}")
    axis = int(axis) % y_pred.ndim
    return ops.transpose(y_pred, axis_last_order(y_pred.ndim, axis)), axis


def _predictions(y_pred, where):
    """``y_pred`` as a C-contiguous float array on its device (float64 stays float64 on
    the CPU, everything else is float32)."""
    return backend.backend_of(y_pred).prepare(y_pred, "y_pred", where)


def _rows(array):
    """A (rows, classes) view of a C-contiguous (..., classes) array."""
    return array.reshape(-1, array.shape[-1])


def _dense_targets(y_true, y_pred, where):
    """One-hot or probability targets of exactly y_pred's shape, in y_pred's dtype."""
    y_true = _as_float(y_true, "y_true", where).astype(y_pred.dtype, copy=False)
    _check_batch(y_true, y_pred, where)
    if y_true.shape != y_pred.shape:
        hint = ""
        if y_true.ndim == y_pred.ndim - 1 or y_true.shape[-1:] == (1,):
            hint = (" For integer class labels use 'sparse_categorical_crossentropy' "
                    "(or minidl.utils.to_categorical).")
        raise ValueError(f"{where}: 'y_true' must be one-hot (or probability) targets of "
                         f"the shape of 'y_pred'. Received: y_true.shape={y_true.shape}, "
                         f"y_pred.shape={y_pred.shape}.{hint}")
    return y_true


def _sparse_labels(y_true, y_pred, where):
    """Integer labels of shape y_pred.shape[:-1] (a trailing axis of 1 is dropped).

    The label values (integers, in range) are checked by ``minidl.ops``.
    """
    try:
        labels = np.asarray(y_true)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: argument 'y_true' must be an array of class indices. "
                        f"Received: {type(y_true).__name__}") from exc
    _check_batch(labels, y_pred, where)
    if labels.shape == y_pred.shape[:-1] + (1,):
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"{where}: 'y_true' must hold one class index per sample, of "
                         f"shape {y_pred.shape[:-1]} or {y_pred.shape[:-1] + (1,)}. "
                         f"Received: y_true.shape={labels.shape}, "
                         f"y_pred.shape={y_pred.shape}")
    return labels


def _same_rank_pair(y_true, y_pred, where):
    """(y_true, y_pred) of one shape (batch, ..., features) for the last-axis means.

    A (batch,) array beside a (batch, 1) array is expanded to (batch, 1), as Keras
    squeezes or expands them to the same rank; a (batch,) pair becomes (batch, 1).
    """
    y_pred = _as_float(y_pred, "y_pred", where)
    y_true = _as_float(y_true, "y_true", where).astype(y_pred.dtype, copy=False)
    _check_batch(y_true, y_pred, where)
    return _match_rank(y_true, y_pred, where), y_pred


def _match_rank(y_true, y_pred, where):
    """``y_true`` with a trailing axis of 1 added or dropped to match ``y_pred``'s shape
    (as Keras squeezes or expands them); ValueError when the shapes still differ. Also
    used by metrics."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape + (1,))
    elif y_pred.ndim == y_true.ndim - 1 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{where}: 'y_true' and 'y_pred' must have the same shape. "
                         f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    return y_true


def _broadcast_weights(weights, shape, where):
    """Per-sample weights (an array) broadcast to ``shape``, leading axes aligned as in
    Keras: a trailing axis of 1 is dropped, a prefix of ``shape`` is expanded. Also used
    by metrics."""
    if weights.ndim == len(shape) + 1 and weights.shape[-1:] == (1,):
        weights = weights.reshape(weights.shape[:-1])
    if 0 < weights.ndim < len(shape) and weights.shape == shape[:weights.ndim]:
        weights = weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim))
    try:
        return np.broadcast_to(weights, shape)
    except ValueError as exc:
        raise ValueError(f"{where}: argument 'sample_weight' must have one weight per "
                         f"sample, shape {shape[:1]} or {shape}. Received: "
                         f"sample_weight.shape={weights.shape}") from exc


def _check_label_smoothing(value, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: argument 'label_smoothing' must be a number in [0, 1]. "
                         f"Received: label_smoothing={value!r}")
    return float(value)


# ---------------------------------------------------------------- per-sample math


def _categorical(y_true, y_pred, label_smoothing, axis, where):
    """(y_pred with the class axis last, matching targets (smoothed), the class axis)."""
    y_pred = _predictions(y_pred, where)
    if y_pred.ndim < 2:
        raise ValueError(f"{where}: 'y_pred' must have shape (batch, ..., classes). "
                         f"Received: y_pred.shape={y_pred.shape}")
    moved, axis = _class_axis_last(y_pred, axis, where)
    target = np.ascontiguousarray(np.moveaxis(_dense_targets(y_true, y_pred, where), axis, -1))
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / moved.shape[-1]
    return moved, target, axis


def _categorical_loss(y_pred_rows, target_rows, from_logits):
    if from_logits:
        return ops.softmax_cross_entropy(y_pred_rows, target_rows)[0]
    return ops.categorical_crossentropy(target_rows, y_pred_rows)


def _binary_elementwise(y_true, y_pred, from_logits):
    """Elementwise binary cross-entropy (Keras formulas)."""
    if from_logits:
        # max(x, 0) - x * t + log(1 + exp(-|x|)): never overflows
        return (np.maximum(y_pred, 0) - y_pred * y_true +
                np.log1p(np.exp(-np.abs(y_pred))))
    p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))


def _binary_elementwise_gradient(y_true, y_pred, from_logits):
    """d(elementwise binary cross-entropy)/d(y_pred)."""
    if from_logits:
        return ops.sigmoid(y_pred) - y_true
    inside = (y_pred >= EPSILON) & (y_pred <= 1.0 - EPSILON)  # the clip passes no gradient
    p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return np.where(inside, (1.0 - y_true) / (1.0 - p) - y_true / p, 0.0)


# ---------------------------------------------------------------- functions


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Categorical cross-entropy per sample (``keras.losses.categorical_crossentropy``).

    Without logits each distribution is renormalised to sum 1 and clipped to
    ``[1e-7, 1 - 1e-7]`` before the log, as Keras does.

    Args:
        y_true (array-like): one-hot (or probability) targets, shape of y_pred.
        y_pred (array-like): predicted probabilities (or logits), shape
            (batch, ..., classes).
        from_logits (bool): whether y_pred holds logits.
        label_smoothing (float): in [0, 1]; targets become ``t * (1 - s) + s / classes``.
        axis (int): the class axis.

    Returns:
        The loss per sample, shape ``y_pred.shape`` without the class axis.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> y_true, y_pred = np.array([[0.0, 1.0]]), np.array([[0.25, 0.75]])
        >>> losses.categorical_crossentropy(y_true, y_pred).round(4)
        array([0.2877])
    """
    if autodiff.is_tensor(y_pred):
        return _recorded(categorical_crossentropy, y_true, y_pred, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
    where = "categorical_crossentropy"
    label_smoothing = _check_label_smoothing(label_smoothing, where)
    moved, target, _ = _categorical(y_true, y_pred, label_smoothing, axis, where)
    loss = _categorical_loss(_rows(moved), _rows(target), from_logits)
    return loss.reshape(moved.shape[:-1])


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Cross-entropy against integer labels (``keras.losses.sparse_categorical_crossentropy``).

    Args:
        y_true (array-like): integer class indices, shape (batch, ...) or (batch, ..., 1).
        y_pred (array-like): predicted probabilities (or logits), shape
            (batch, ..., classes).
        from_logits (bool): whether y_pred holds logits.
        axis (int): the class axis.

    Returns:
        The loss per sample, shape ``y_pred.shape`` without the class axis.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> losses.sparse_categorical_crossentropy(np.array([1]), np.array([[0.25, 0.75]])).round(4)
        array([0.2877])
    """
    if autodiff.is_tensor(y_pred):
        if axis != -1:
            raise NotImplementedError("sparse_categorical_crossentropy under a GradientTape: "
                                      f"only axis=-1 is implemented. Received: axis={axis}")
        return _recorded(sparse_categorical_crossentropy, y_true, y_pred,
                         from_logits=from_logits)
    where = "sparse_categorical_crossentropy"
    y_pred = _as_float(y_pred, "y_pred", where)
    moved, _ = _class_axis_last(y_pred, axis, where)
    labels = _sparse_labels(y_true, moved, where)
    loss = ops.sparse_categorical_crossentropy(labels.reshape(-1), _rows(moved),
                                               from_logits=from_logits)
    return loss.reshape(moved.shape[:-1])


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over the last axis (``keras.losses.binary_crossentropy``).

    Probabilities are clipped to ``[1e-7, 1 - 1e-7]``; logits use the stable
    ``max(x, 0) - x * t + log(1 + exp(-|x|))``.

    Args:
        y_true (array-like): targets in [0, 1], shape of y_pred (or (batch,) against
            (batch, 1)).
        y_pred (array-like): predicted probabilities (or logits).
        from_logits (bool): whether y_pred holds logits.
        label_smoothing (float): in [0, 1]; targets become ``t * (1 - s) + 0.5 * s``.
        axis (int): the axis to average over (only -1, the last, as Keras's default).

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]`` (``(batch,)`` for 1-D inputs).

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> losses.binary_crossentropy(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]])).round(4)
        array([0.1054, 0.2231])
    """
    if autodiff.is_tensor(y_pred):
        return _recorded(binary_crossentropy, y_true, y_pred, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
    where = "binary_crossentropy"
    _check_last_axis(axis, where)
    label_smoothing = _check_label_smoothing(label_smoothing, where)
    y_true, y_pred = _binary_pair(y_true, y_pred, label_smoothing, where)
    return np.mean(_binary_elementwise(y_true, y_pred, from_logits), axis=-1)


def mean_squared_error(y_true, y_pred):
    """Mean of the squared errors over the last axis (``keras.losses.mean_squared_error``).

    Args:
        y_true (array-like): targets, shape of y_pred (or (batch,) against (batch, 1)).
        y_pred (array-like): predictions.

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]`` (``(batch,)`` for 1-D inputs).

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> losses.mean_squared_error(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]))
        array([2.5])
        >>> losses.MSE is losses.mean_squared_error
        True
    """
    if autodiff.is_tensor(y_pred):
        return _recorded(mean_squared_error, y_true, y_pred)
    y_true, y_pred = _feature_pair(y_true, y_pred, "mean_squared_error")
    return np.mean(np.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Mean of the absolute errors over the last axis (``keras.losses.mean_absolute_error``).

    Args:
        y_true (array-like): targets, shape of y_pred (or (batch,) against (batch, 1)).
        y_pred (array-like): predictions.

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]`` (``(batch,)`` for 1-D inputs).

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> losses.mean_absolute_error(np.array([[1.0, 2.0]]), np.array([[1.5, 1.0]]))
        array([0.75])
        >>> losses.MAE is losses.mean_absolute_error
        True
    """
    if autodiff.is_tensor(y_pred):
        return _recorded(mean_absolute_error, y_true, y_pred)
    y_true, y_pred = _feature_pair(y_true, y_pred, "mean_absolute_error")
    return np.mean(np.abs(y_pred - y_true), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


def _check_last_axis(axis, where):
    if axis not in (-1,):
        raise ValueError(f"{where}: only axis=-1 (the last axis) is supported. "
                         f"Received: axis={axis!r}")


def _feature_pair(y_true, y_pred, where):
    """Same-shape pair with a feature axis: 1-D inputs become (batch, 1)."""
    y_true, y_pred = _same_rank_pair(y_true, y_pred, where)
    if y_pred.ndim == 1:
        y_true, y_pred = y_true[:, None], y_pred[:, None]
    return y_true, y_pred


def _binary_pair(y_true, y_pred, label_smoothing, where):
    y_true, y_pred = _feature_pair(y_true, y_pred, where)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return y_true, y_pred


# ---------------------------------------------------------------- Loss classes


class Loss:
    """Base class of losses: a per-sample loss, its reduction and its gradient.

    Subclasses implement ``compute(y_true, y_pred)`` (per-sample losses; Keras's name
    for it, ``call``, works too) and may implement ``_gradient(y_true, y_pred, dloss)``
    (the gradient with respect to y_pred given the gradient ``dloss`` with respect to
    each per-sample loss). Without it, a ``call`` written with NumPy operations on
    ``y_pred`` is differentiated by recording them (:mod:`minidl.autodiff`); an operation
    without a gradient rule raises ``NotImplementedError`` naming it when training.

    Args:
        name (str or None): the loss's name (None: the class name in snake case).
        reduction (str or None): 'sum_over_batch_size' (the mean, default; 'mean' is an
            alias), 'sum', 'mean_with_sample_weight' (divide by the sum of the weights) or
            'none' (None is read as 'none').
        dtype (str or numpy.dtype or None): accepted for Keras compatibility (computation
            follows y_pred's dtype).

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> class MeanCubedError(losses.Loss):
        ...     def call(self, y_true, y_pred):
        ...         return (np.abs(y_pred - y_true) ** 3).mean(axis=-1)
        >>> float(MeanCubedError()(np.zeros((2, 1)), np.array([[1.0], [2.0]])))
        4.5
    """

    supports_fused_softmax = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction is None:
            reduction = "none"
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: argument 'reduction' must be one of "
                             f"{_REDUCTIONS}. Received: reduction={reduction!r}")
        self.name = name if name is not None else backend.to_snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss.

        Args:
            y_true (array-like): the targets.
            y_pred (array-like): the predictions.
            sample_weight (array-like or None): weights, one per sample (or of the
                per-sample loss's shape).

        Returns:
            A Python float (an array of per-sample losses for reduction 'none').
        """
        if autodiff.is_tensor(y_pred):  # under a GradientTape: recorded
            return autodiff.loss_call(self, y_true, y_pred, sample_weight)
        losses = self.compute(y_true, y_pred)
        return self._reduce(losses, sample_weight)

    def compute(self, y_true, y_pred):
        """The loss of each sample, shape (batch,) for (batch, features) inputs.

        Args:
            y_true (array-like): the targets.
            y_pred (array-like): the predictions (a device array of the backend in use is
                accepted too).

        Returns:
            An ndarray of per-sample losses.
        """
        if type(self).call is not Loss.call:  # a Keras-style subclass
            return self._one_per_sample(self.call(y_true, y_pred), y_true, y_pred)
        raise NotImplementedError(f"{type(self).__name__}: losses must implement "
                                  f"compute(y_true, y_pred) (or Keras's call)")

    def call(self, y_true, y_pred):
        """Keras's name for :meth:`compute` (subclasses may implement either).

        Args:
            y_true (array-like): the targets.
            y_pred (array-like): the predictions.

        Returns:
            The per-sample losses, as ``compute``.
        """
        return self.compute(y_true, y_pred)

    def gradient(self, y_true, y_pred, sample_weight=None):
        """d(reduced loss)/d(y_pred) (for 'none': of the sum of the per-sample losses).

        Args:
            y_true (array-like): the targets.
            y_pred (array-like): the predictions (a device array of the backend in use is
                accepted too).
            sample_weight (array-like or None): as in ``__call__``.

        Returns:
            An array of y_pred's shape.
        """
        return self._gradient_times(y_true, y_pred, sample_weight, None)

    def _gradient_times(self, y_true, y_pred, sample_weight, upstream):
        """``gradient`` times the upstream gradient of the reduced loss (None: 1)."""
        y_pred_array = _predictions(y_pred, type(self).__name__)
        per_sample_shape = self._per_sample_shape(y_true, y_pred_array)
        dloss = self._dloss(per_sample_shape, sample_weight, y_pred_array.dtype)
        if upstream is not None:
            dloss = dloss * np.asarray(upstream, dtype=dloss.dtype)
        return self._gradient(y_true, y_pred_array, dloss)

    def _one_per_sample(self, losses, y_true, y_pred):
        """A user function's losses as an array; a scalar (a function that already
        reduced, which Keras 2 allowed) repeated once per sample."""
        losses = np.asarray(losses)
        if losses.ndim:
            return losses
        shape = self._per_sample_shape(y_true, _predictions(y_pred, type(self).__name__))
        return np.full(shape, losses, dtype=losses.dtype)

    def _has_gradient(self):
        """Whether the loss has its own gradient (else a tape records its NumPy code)."""
        return type(self)._gradient is not Loss._gradient

    def _call_on(self, y_true, y_pred):
        """The per-sample losses of a Keras-style ``call`` on a tensor (recorded)."""
        return self.call(y_true, y_pred)

    def _per_sample_shape(self, y_true, y_pred):
        """Shape of ``compute``'s result (without computing it)."""
        return y_pred.shape[:-1] if y_pred.ndim > 1 else y_pred.shape

    def _gradient(self, y_true, y_pred, dloss):
        """By default: ``call``'s NumPy operations recorded and differentiated."""
        if type(self).call is Loss.call:
            raise NotImplementedError(f"{type(self).__name__}: this loss has no gradient "
                                      f"(implement _gradient, or call with NumPy operations)")
        return self._traced_gradient(lambda p: self._call_on(y_true, p), y_pred, dloss)

    def _traced_gradient(self, per_sample, y_pred, dloss):
        """d(sum(dloss * per_sample(y_pred))) / d y_pred by recording ``per_sample``."""
        losses, gradient = autodiff.trace(per_sample, np.asarray(y_pred))
        if np.ndim(losses) == 0:  # a function that already reduced (Keras 2 allowed it)
            dloss = np.asarray(np.sum(dloss), dtype=np.asarray(y_pred).dtype)
        elif np.shape(losses) != np.shape(dloss):
            raise ValueError(f"Loss '{self.name}': its function returns shape "
                             f"{np.shape(losses)}, not one loss per sample {np.shape(dloss)}")
        try:
            return gradient(dloss)
        except NotImplementedError as error:
            raise NotImplementedError(f"Loss '{self.name}': cannot differentiate it: "
                                      f"{error}") from None

    # ------------------------------------------------------------ reduction

    def _weights(self, shape, sample_weight):
        """Sample weights broadcast to the per-sample loss shape (None -> None)."""
        if sample_weight is None:
            return None
        where = type(self).__name__
        return _broadcast_weights(_as_float(sample_weight, "sample_weight", where), shape,
                                  where)

    def _reduce(self, losses, sample_weight):
        weights = self._weights(losses.shape, sample_weight)
        weighted = losses if weights is None else losses * weights
        if self.reduction == "none":
            return weighted
        total = np.sum(weighted, dtype=np.float64)  # a tensor under a tape stays one
        total = total if autodiff.is_tensor(total) else float(total)
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and weights is not None:
            divisor = float(np.sum(weights, dtype=np.float64))
        else:
            divisor = float(losses.size)
        return total / divisor if divisor else 0.0

    def _dloss(self, shape, sample_weight, dtype):
        """d(reduced loss)/d(per-sample losses), of the per-sample shape."""
        weights = self._weights(shape, sample_weight)
        dloss = np.ones(shape, dtype=dtype) if weights is None else \
            np.array(weights, dtype=dtype)
        if self.reduction in ("sum", "none"):
            return dloss
        if self.reduction == "mean_with_sample_weight" and weights is not None:
            divisor = float(np.sum(weights, dtype=np.float64))
        else:
            divisor = float(dloss.size)
        return dloss / divisor if divisor else np.zeros_like(dloss)

    # ------------------------------------------------------------ config

    def get_config(self):
        """The constructor arguments."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """Build a loss from ``get_config``'s dict."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class _CrossentropyBase(Loss):
    """Shared arguments of the cross-entropy losses."""

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)

    @property
    def supports_fused_softmax(self):
        """Whether ``fused_softmax`` applies (probabilities from a softmax layer)."""
        return not self.from_logits

    def get_config(self):
        config = super().get_config()
        config["from_logits"] = self.from_logits
        return config


class CategoricalCrossentropy(_CrossentropyBase):
    """Cross-entropy between one-hot (or probability) targets and predictions.

    Args:
        from_logits (bool): whether y_pred holds logits (else probabilities, renormalised
            and clipped to [1e-7, 1 - 1e-7] as Keras does).
        label_smoothing (float): in [0, 1]; targets become ``t * (1 - s) + s / classes``.
        axis (int): the class axis.
        reduction (str or None): see ``Loss``.
        name (str or None): defaults to ``"categorical_crossentropy"``.
        dtype (str or numpy.dtype or None): see ``Loss``.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> loss = losses.CategoricalCrossentropy()
        >>> round(float(loss(np.array([[0.0, 1.0]]), np.array([[0.25, 0.75]]))), 4)
        0.2877
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy",
                 dtype=None):
        super().__init__(from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)
        self.label_smoothing = _check_label_smoothing(label_smoothing, type(self).__name__)
        self.axis = axis

    def _inputs(self, y_true, y_pred):
        return _categorical(y_true, y_pred, self.label_smoothing, self.axis,
                            type(self).__name__)

    def compute(self, y_true, y_pred):
        moved, target, _ = self._inputs(y_true, y_pred)
        loss = _categorical_loss(_rows(moved), _rows(target), self.from_logits)
        return loss.reshape(moved.shape[:-1])

    def _per_sample_shape(self, y_true, y_pred):
        moved, _ = _class_axis_last(y_pred, self.axis, type(self).__name__)
        return moved.shape[:-1]

    def _gradient(self, y_true, y_pred, dloss):
        moved, target, axis = self._inputs(y_true, y_pred)
        rows, target_rows = _rows(moved), _rows(target)
        flat_dloss = dloss.reshape(-1)
        if self.from_logits:
            _, probs = ops.softmax_cross_entropy(rows, target_rows)
            grad = ops.softmax_cross_entropy_backward(flat_dloss, probs, target_rows)
        else:
            grad = ops.categorical_crossentropy_backward(flat_dloss, target_rows, rows)
        return ops.transpose(grad.reshape(moved.shape), axis_back_order(moved.ndim, axis))

    def fused_softmax(self, y_true, logits, sample_weight=None):
        """Loss and gradient of ``softmax(logits)`` as y_pred, from the logits.

        Numerically stable (log-sum-exp), and equal to computing ``softmax`` then this
        loss wherever the probabilities stay inside the clip.

        Args:
            y_true (array-like): the one-hot (or probability) targets.
            logits (array-like): the inputs of the softmax, shape (batch, ..., classes) (a
                device array of the backend in use is accepted too).
            sample_weight (array-like or None): as in ``__call__``.

        Returns:
            ``(per-sample loss, d(reduced loss)/d(logits))``.
        """
        moved, target, axis = _categorical(y_true, logits, self.label_smoothing, self.axis,
                                           type(self).__name__)
        rows, target_rows = _rows(moved), _rows(target)
        loss, probs = ops.softmax_cross_entropy(rows, target_rows)
        loss = loss.reshape(moved.shape[:-1])
        dloss = self._dloss(loss.shape, sample_weight, loss.dtype)
        grad = ops.softmax_cross_entropy_backward(dloss.reshape(-1), probs, target_rows)
        return loss, ops.transpose(grad.reshape(moved.shape), axis_back_order(moved.ndim, axis))

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing, axis=self.axis)
        return config


class SparseCategoricalCrossentropy(_CrossentropyBase):
    """Cross-entropy between integer labels and predicted distributions.

    Args:
        from_logits (bool): whether y_pred holds logits (else probabilities, renormalised
            and clipped as in ``CategoricalCrossentropy``).
        reduction (str or None): see ``Loss``.
        name (str or None): defaults to ``"sparse_categorical_crossentropy"``.
        dtype (str or numpy.dtype or None): see ``Loss``.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> loss = losses.SparseCategoricalCrossentropy()
        >>> round(float(loss(np.array([1]), np.array([[0.25, 0.75]]))), 4)
        0.2877
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)

    def _inputs(self, y_true, y_pred):
        y_pred = _predictions(y_pred, type(self).__name__)
        if y_pred.ndim < 2:
            raise ValueError(f"{type(self).__name__}: 'y_pred' must have shape "
                             f"(batch, ..., classes). Received: y_pred.shape={y_pred.shape}")
        labels = _sparse_labels(y_true, y_pred, type(self).__name__)
        return labels.reshape(-1), _rows(y_pred)

    def compute(self, y_true, y_pred):
        labels, rows = self._inputs(y_true, y_pred)
        loss = ops.sparse_categorical_crossentropy(labels, rows, from_logits=self.from_logits)
        return loss.reshape(np.shape(y_pred)[:-1])

    def _gradient(self, y_true, y_pred, dloss):
        labels, rows = self._inputs(y_true, y_pred)
        grad = ops.sparse_categorical_crossentropy_backward(dloss.reshape(-1), labels, rows,
                                                            from_logits=self.from_logits)
        return grad.reshape(y_pred.shape)

    def fused_softmax(self, y_true, logits, sample_weight=None):
        """Loss and gradient of ``softmax(logits)`` as y_pred, from the logits.

        Args:
            y_true (array-like): the integer class indices, shape (batch, ...) or
                (batch, ..., 1).
            logits (array-like): the inputs of the softmax, shape (batch, ..., classes) (a
                device array of the backend in use is accepted too).
            sample_weight (array-like or None): as in ``__call__``.

        Returns:
            ``(per-sample loss, d(reduced loss)/d(logits))``.
        """
        logits = _predictions(logits, type(self).__name__)
        labels, rows = self._inputs(y_true, logits)
        loss, probs = ops.sparse_softmax_cross_entropy(rows, labels)
        loss = loss.reshape(logits.shape[:-1])
        dloss = self._dloss(loss.shape, sample_weight, loss.dtype)
        grad = ops.sparse_softmax_cross_entropy_backward(dloss.reshape(-1), probs, labels)
        return loss, grad.reshape(logits.shape)


class BinaryCrossentropy(_CrossentropyBase):
    """Binary cross-entropy averaged over the last axis.

    Args:
        from_logits (bool): whether y_pred holds logits (else probabilities clipped to
            [1e-7, 1 - 1e-7]).
        label_smoothing (float): in [0, 1]; targets become ``t * (1 - s) + 0.5 * s``.
        axis (int): the axis to average over (only -1).
        reduction (str or None): see ``Loss``.
        name (str or None): defaults to ``"binary_crossentropy"``.
        dtype (str or numpy.dtype or None): see ``Loss``.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> loss = losses.BinaryCrossentropy()
        >>> round(float(loss(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]]))), 4)
        0.1643
    """

    supports_fused_softmax = False

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)
        self.label_smoothing = _check_label_smoothing(label_smoothing, type(self).__name__)
        _check_last_axis(axis, type(self).__name__)
        self.axis = axis

    def _pair(self, y_true, y_pred):
        return _binary_pair(y_true, y_pred, self.label_smoothing, type(self).__name__)

    def compute(self, y_true, y_pred):
        y_true, y_pred = self._pair(y_true, y_pred)
        return np.mean(_binary_elementwise(y_true, y_pred, self.from_logits), axis=-1)

    def _gradient(self, y_true, y_pred, dloss):
        y_true, moved = self._pair(y_true, y_pred)
        grad = _binary_elementwise_gradient(y_true, moved, self.from_logits)
        grad = grad * (dloss[..., None] / moved.shape[-1])
        return grad.astype(y_pred.dtype, copy=False).reshape(y_pred.shape)

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing, axis=self.axis)
        return config


class _FeatureMeanLoss(Loss):
    """A loss averaged over the last axis of same-shape y_true / y_pred."""

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _pair(self, y_true, y_pred):
        return _feature_pair(y_true, y_pred, type(self).__name__)

    def _elementwise_gradient(self, y_true, y_pred):
        raise NotImplementedError

    def _gradient(self, y_true, y_pred, dloss):
        y_true, moved = self._pair(y_true, y_pred)
        grad = self._elementwise_gradient(y_true, moved) * (dloss[..., None] / moved.shape[-1])
        return grad.astype(y_pred.dtype, copy=False).reshape(y_pred.shape)


class MeanSquaredError(_FeatureMeanLoss):
    """Mean of the squared errors over the last axis.

    Args:
        reduction (str or None): see ``Loss``.
        name (str or None): defaults to ``"mean_squared_error"``.
        dtype (str or numpy.dtype or None): see ``Loss``.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> float(losses.MeanSquaredError()(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]])))
        2.0
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def compute(self, y_true, y_pred):
        y_true, y_pred = self._pair(y_true, y_pred)
        return np.mean(np.square(y_pred - y_true), axis=-1)

    def _elementwise_gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true)


class MeanAbsoluteError(_FeatureMeanLoss):
    """Mean of the absolute errors over the last axis (gradient ``sign(y_pred - y_true)``).

    Args:
        reduction (str or None): see ``Loss``.
        name (str or None): defaults to ``"mean_absolute_error"``.
        dtype (str or numpy.dtype or None): see ``Loss``.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> float(losses.MeanAbsoluteError()(np.array([[1.0, 2.0]]), np.array([[1.5, 1.0]])))
        0.75
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error",
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)

    def compute(self, y_true, y_pred):
        y_true, y_pred = self._pair(y_true, y_pred)
        return np.mean(np.abs(y_pred - y_true), axis=-1)

    def _elementwise_gradient(self, y_true, y_pred):
        return np.sign(y_pred - y_true)


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a plain function ``fn(y_true, y_pred, **kwargs)`` returning
    per-sample losses (as ``keras.losses.LossFunctionWrapper``).

    Its gradient is taken by recording the function's NumPy operations on ``y_pred``
    (:mod:`minidl.autodiff`; the ``minidl.backend`` functions ``K.mean``, ``K.square``,
    ... are NumPy's): a function written with them trains; one that leaves them raises
    ``NotImplementedError`` naming the operation when training.

    Args:
        fn (callable): the function.
        reduction (str or None): see ``Loss``.
        name (str or None): defaults to the function's name.
        dtype (str or numpy.dtype or None): see ``Loss``.
        **kwargs: passed to ``fn`` on every call.

    Example:
        >>> import numpy as np
        >>> from minidl import losses
        >>> def quartic(y_true, y_pred):
        ...     return ((y_true - y_pred) ** 4).mean(axis=-1)
        >>> loss = losses.LossFunctionWrapper(quartic)
        >>> float(loss(np.zeros((2, 1)), np.array([[1.0], [2.0]])))
        8.5
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: argument 'fn' must be callable. "
                            f"Received: {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def compute(self, y_true, y_pred):
        return self._one_per_sample(self.fn(y_true, y_pred, **self._fn_kwargs), y_true,
                                    y_pred)

    def _gradient(self, y_true, y_pred, dloss):
        return self._traced_gradient(lambda p: self._call_on(y_true, p), y_pred, dloss)

    def _has_gradient(self):
        return False

    def _call_on(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(fn=self.fn, **self._fn_kwargs)
        return config


_CLASSES = (CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
            MeanSquaredError, MeanAbsoluteError)
_NAMES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_NAMES.update({cls.__name__: cls for cls in _CLASSES})
# the module's functions resolve to the classes that know their gradients
_FUNCTIONS = {categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              binary_crossentropy: BinaryCrossentropy,
              mean_squared_error: MeanSquaredError,
              mean_absolute_error: MeanAbsoluteError}


def _recorded(function, y_true, y_pred, **options):
    """A loss function called on a tensor under a GradientTape: its per-sample losses,
    recorded with the gradient of its class."""
    return _FUNCTIONS[function](reduction="none", **options)(y_true, y_pred)


def _lookup(name):
    cls = _registry.find(_NAMES, name)
    if cls is None:
        valid = ", ".join(n for n in _NAMES if n.islower())
        raise ValueError(f"Unknown loss: {name!r}. Valid names: {valid} (or the class names).")
    return cls


def serialize(loss):
    """A built-in ``Loss`` as a dict ``{"class_name", "config"}``.

    Args:
        loss (Loss): a ``Loss`` instance.

    Returns:
        A dict that ``deserialize`` turns back into an equal loss.

    Example:
        >>> from minidl import losses
        >>> losses.serialize(losses.MeanSquaredError())["class_name"]
        'MeanSquaredError'
    """
    return _registry.serialize(loss, Loss, "minidl.losses", "loss", "a Loss")


def deserialize(config):
    """Build a loss from ``serialize``'s dict.

    Args:
        config (dict): a dict with ``class_name`` and ``config``.

    Returns:
        A ``Loss``.

    Example:
        >>> from minidl import losses
        >>> type(losses.deserialize({"class_name": "MeanAbsoluteError", "config": {}})).__name__
        'MeanAbsoluteError'
    """
    return _registry.deserialize(config, _lookup, "losses")


def get(identifier):
    """Resolve a loss identifier, as ``keras.losses.get`` (returning a ``Loss``).

    Args:
        identifier (str or dict or Loss or type or callable or None): None (returns None),
            a name ('categorical_crossentropy', 'sparse_categorical_crossentropy',
            'binary_crossentropy', 'mean_squared_error'/'mse',
            'mean_absolute_error'/'mae', or a class name), a ``serialize`` dict, a
            ``Loss`` class or instance, one of this module's loss functions, or a plain
            callable ``fn(y_true, y_pred)`` (wrapped; it cannot be differentiated).

    Returns:
        A ``Loss`` (or None).

    Example:
        >>> from minidl import losses
        >>> type(losses.get("categorical_crossentropy")).__name__
        'CategoricalCrossentropy'
    """
    if identifier is None:
        return None
    resolved = _registry.resolve(identifier, Loss, _lookup, deserialize)
    if resolved is not None:
        return resolved
    if callable(identifier):
        known = _FUNCTIONS.get(identifier)
        return known() if known is not None else LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Expected None, "
                     f"a name, a dict, a Loss or a callable.")
