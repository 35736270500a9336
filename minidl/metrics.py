"""Metrics, as ``keras.metrics``: running means over every sample seen since the last
``reset_state``.

A metric accumulates a weighted total and a weight count (in float64) over batches, so
``result()`` is the mean over all samples, not the mean of batch means.
"""
import numbers

import numpy as np

from minidl import _registry, backend
from minidl import losses as losses_module
from minidl.losses import _as_array, _broadcast_weights, _match_rank


def _check_batch(y_true, y_pred, where):
    if y_true.ndim == 0 or y_pred.ndim == 0 or y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{where}: 'y_true' and 'y_pred' must have the same batch size. "
                         f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")


def _same_rank(y_true, y_pred, where):
    """Squeeze or expand a trailing axis of 1 so both have the same shape (as Keras)."""
    _check_batch(y_true, y_pred, where)
    return _match_rank(y_true, y_pred, where), y_pred


# ---------------------------------------------------------------- per-sample functions


def accuracy(y_true, y_pred):
    """How often predictions equal labels exactly, per element.

    Args:
        y_true (array-like): the labels.
        y_pred (array-like): the predictions, of y_true's shape.

    Returns:
        float32 array of 1.0 (equal) and 0.0, of the common shape.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> metrics.accuracy(np.array([1, 2, 3]), np.array([1, 2, 0]))
        array([1., 1., 0.], dtype=float32)
    """
    y_true, y_pred = _same_rank(_as_array(y_true, "y_true", "accuracy"),
                                _as_array(y_pred, "y_pred", "accuracy"), "accuracy")
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of binary predictions ``y_pred > threshold`` equal to the labels, per sample
    (averaged over the last axis).

    Args:
        y_true (array-like): 0/1 labels, shape of y_pred (or (batch,) against (batch, 1)).
        y_pred (array-like): predicted probabilities (or scores compared with
            ``threshold``).
        threshold (float): the decision threshold.

    Returns:
        float32 array of shape ``y_pred.shape[:-1]`` (``(batch,)`` for 1-D inputs).

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> metrics.binary_accuracy(np.array([[1.0], [0.0]]), np.array([[0.7], [0.6]]))
        array([1., 0.], dtype=float32)
    """
    where = "binary_accuracy"
    y_true, y_pred = _same_rank(_as_array(y_true, "y_true", where),
                                _as_array(y_pred, "y_pred", where), where)
    if y_pred.ndim == 1:
        y_true, y_pred = y_true[:, None], y_pred[:, None]
    predicted = (y_pred > threshold).astype(np.float32)
    return np.mean(y_true == predicted, axis=-1, dtype=np.float32)


def categorical_accuracy(y_true, y_pred):
    """Whether the arg-max of the prediction matches the arg-max of the one-hot label.

    Args:
        y_true (array-like): one-hot labels, shape of y_pred.
        y_pred (array-like): predictions, shape (batch, ..., classes).

    Returns:
        float32 array of shape ``y_pred.shape[:-1]``.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> y_pred = np.array([[0.2, 0.8], [0.3, 0.7]])
        >>> metrics.categorical_accuracy(np.array([[0.0, 1.0], [1.0, 0.0]]), y_pred)
        array([1., 0.], dtype=float32)
    """
    where = "categorical_accuracy"
    y_true = _as_array(y_true, "y_true", where)
    y_pred = _as_array(y_pred, "y_pred", where)
    _check_batch(y_true, y_pred, where)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{where}: 'y_true' must be one-hot labels of the shape of "
                         f"'y_pred'. Received: y_true.shape={y_true.shape}, "
                         f"y_pred.shape={y_pred.shape}")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """Whether the arg-max of the prediction equals the integer label.

    Args:
        y_true (array-like): class indices, shape (batch, ...) or (batch, ..., 1).
        y_pred (array-like): predictions, shape (batch, ..., classes).

    Returns:
        float32 array of shape ``y_pred.shape[:-1]``.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> y_pred = np.array([[0.2, 0.8], [0.3, 0.7]])
        >>> metrics.sparse_categorical_accuracy(np.array([1, 0]), y_pred)
        array([1., 0.], dtype=float32)
    """
    where = "sparse_categorical_accuracy"
    y_true = _as_array(y_true, "y_true", where)
    y_pred = _as_array(y_pred, "y_pred", where)
    _check_batch(y_true, y_pred, where)
    if y_true.shape == y_pred.shape[:-1] + (1,):
        y_true = y_true.reshape(y_true.shape[:-1])
    if y_pred.ndim < 2 or y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"{where}: 'y_true' must hold one class index per sample, of shape "
                         f"{y_pred.shape[:-1]}. Received: y_true.shape={y_true.shape}, "
                         f"y_pred.shape={y_pred.shape}")
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


# ---------------------------------------------------------------- Metric classes


class Metric:
    """Base class of metrics: ``update_state`` accumulates, ``result`` reports.

    Args:
        name (str or None): the metric's name (as shown in logs and ``History``; None:
            the class name in snake case).
        dtype (str or numpy.dtype or None): accepted for Keras compatibility (results are
            Python floats).

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> class Total(metrics.Metric):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.total = 0.0
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.total += float(np.sum(y_pred))
        ...     def result(self):
        ...         return self.total
        ...     def reset_state(self):
        ...         self.total = 0.0
        >>> m = Total(name="total")
        >>> m.update_state(None, np.array([1.0, 2.0]))
        >>> m.result()
        3.0
    """

    def __init__(self, name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{type(self).__name__}: argument 'name' must be a string. "
                             f"Received: name={name!r}")
        self.name = name if name is not None else backend.to_snake_case(type(self).__name__)
        self.dtype = dtype

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulate one batch.

        Args:
            y_true (array-like): the targets.
            y_pred (array-like): the predictions (a device array of the backend in use is
                accepted too).
            sample_weight (array-like or None): per-sample weights.
        """
        raise NotImplementedError(f"{type(self).__name__}: metrics must implement "
                                  f"update_state")

    def result(self):
        """The metric's current value, as a Python float."""
        raise NotImplementedError(f"{type(self).__name__}: metrics must implement result")

    def reset_state(self):
        """Forget every accumulated batch."""
        raise NotImplementedError(f"{type(self).__name__}: metrics must implement "
                                  f"reset_state")

    def __call__(self, *args, **kwargs):
        """``update_state(*args, **kwargs)`` then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        """The constructor arguments."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """Build a metric from ``get_config``'s dict."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """The (weighted) mean of the values seen: ``sum(values * w) / sum(w)``.

    Args:
        name (str): defaults to ``"mean"``.
        dtype (str or numpy.dtype or None): see ``Metric``.

    Example:
        >>> from minidl import metrics
        >>> mean = metrics.Mean()
        >>> mean.update_state([1.0, 3.0])
        >>> float(mean.result())
        2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        """Add values (a number or an array, each element one value).

        Args:
            values (float or array-like): the values.
            sample_weight (array-like or None): weights, broadcast to the values (a (batch,) weight
                applies to every value of its sample).
        """
        if type(values) is float and type(sample_weight) is int and sample_weight >= 0:
            # one number with its count (the loss of a batch, every step): the sums below
            self.total += values * sample_weight
            self.count += float(sample_weight)
            return
        where = type(self).__name__
        values = _as_array(values, "values", where).astype(np.float64)
        if sample_weight is None:
            self.total += float(np.sum(values))
            self.count += float(values.size)
            return
        weights = _broadcast_weights(
            _as_array(sample_weight, "sample_weight", where).astype(np.float64), values.shape,
            where)
        self.total += float(np.sum(values * weights))
        self.count += float(np.sum(weights))

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values).

    Args:
        fn (callable): a function returning per-sample values.
        name (str or None): defaults to the function's name.
        dtype (str or numpy.dtype or None): see ``Metric``.
        **kwargs: passed to ``fn`` on every update.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> def max_error(y_true, y_pred):
        ...     return np.abs(y_true - y_pred).max(axis=-1)
        >>> m = metrics.MeanMetricWrapper(max_error, name="max_error")
        >>> m.update_state(np.zeros((2, 2)), np.array([[1.0, 3.0], [2.0, 0.0]]))
        >>> float(m.result())
        2.5
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: argument 'fn' must be callable. "
                            f"Received: {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", "metric"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulate ``fn(y_true, y_pred)`` for one batch.

        Args:
            y_true (array-like): the targets.
            y_pred (array-like): the predictions (a device array of the backend in use is
                accepted too by the built-in functions).
            sample_weight (array-like or None): per-sample weights.
        """
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        if cls is MeanMetricWrapper:
            raise NotImplementedError("MeanMetricWrapper.from_config: the function is not "
                                      "serialized; rebuild it with MeanMetricWrapper(fn).")
        return cls(**config)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly.

    Args:
        name (str): defaults to ``"accuracy"``.
        dtype (str or numpy.dtype or None): see ``Metric``.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.Accuracy()
        >>> m.update_state(np.array([1, 2, 3]), np.array([1, 2, 0]))
        >>> round(float(m.result()), 4)
        0.6667
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the binary labels.

    Args:
        name (str): defaults to ``"binary_accuracy"``.
        dtype (str or numpy.dtype or None): see ``Metric``.
        threshold (float): the decision threshold.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.BinaryAccuracy()
        >>> m.update_state(np.array([[1.0], [0.0]]), np.array([[0.7], [0.6]]))
        >>> float(m.result())
        0.5
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise ValueError(f"BinaryAccuracy: argument 'threshold' must be a number. "
                             f"Received: threshold={threshold!r}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=float(threshold))
        self.threshold = float(threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of the prediction matches that of the one-hot label.

    Args:
        name (str): defaults to ``"categorical_accuracy"``.
        dtype (str or numpy.dtype or None): see ``Metric``.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.CategoricalAccuracy()
        >>> m.update_state(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.2, 0.8], [0.3, 0.7]]))
        >>> float(m.result())
        0.5
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of the prediction equals the integer label.

    Args:
        name (str): defaults to ``"sparse_categorical_accuracy"``.
        dtype (str or numpy.dtype or None): see ``Metric``.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> accuracy = metrics.SparseCategoricalAccuracy()
        >>> accuracy.update_state(np.array([1, 0]), np.array([[0.2, 0.8], [0.3, 0.7]]))
        >>> float(accuracy.result())
        0.5
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    """The running mean of ``mean((y_true - y_pred)**2, axis=-1)``.

    Args:
        name (str): defaults to ``"mean_squared_error"``.
        dtype (str or numpy.dtype or None): see ``Metric``.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.MeanSquaredError()
        >>> m.update_state(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]))
        >>> float(m.result())
        2.5
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses_module.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The running mean of ``mean(|y_true - y_pred|, axis=-1)``.

    Args:
        name (str): defaults to ``"mean_absolute_error"``.
        dtype (str or numpy.dtype or None): see ``Metric``.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.MeanAbsoluteError()
        >>> m.update_state(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]))
        >>> float(m.result())
        1.5
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses_module.mean_absolute_error, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    """The running mean of the binary cross-entropy (``keras.metrics.BinaryCrossentropy``).

    Args:
        name (str): defaults to ``"binary_crossentropy"``.
        dtype (str or numpy.dtype or None): see ``Metric``.
        from_logits (bool): whether ``y_pred`` holds logits.
        label_smoothing (float): as the loss's, in [0, 1].

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.BinaryCrossentropy()
        >>> m.update_state(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]]))
        >>> round(float(m.result()), 4)
        0.1643
    """

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):
        super().__init__(losses_module.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=bool(from_logits), label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of the categorical cross-entropy
    (``keras.metrics.CategoricalCrossentropy``).

    Args:
        name (str): defaults to ``"categorical_crossentropy"``.
        dtype (str or numpy.dtype or None): see ``Metric``.
        from_logits (bool): whether ``y_pred`` holds logits.
        label_smoothing (float): as the loss's, in [0, 1].
        axis (int): the class axis.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.CategoricalCrossentropy()
        >>> m.update_state(np.array([[0.0, 1.0]]), np.array([[0.25, 0.75]]))
        >>> round(float(m.result()), 4)
        0.2877
    """

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0, axis=-1):
        super().__init__(losses_module.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=bool(from_logits), label_smoothing=label_smoothing,
                         axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of the sparse categorical cross-entropy
    (``keras.metrics.SparseCategoricalCrossentropy``).

    Args:
        name (str): defaults to ``"sparse_categorical_crossentropy"``.
        dtype (str or numpy.dtype or None): see ``Metric``.
        from_logits (bool): whether ``y_pred`` holds logits.
        axis (int): the class axis.

    Example:
        >>> import numpy as np
        >>> from minidl import metrics
        >>> m = metrics.SparseCategoricalCrossentropy()
        >>> m.update_state(np.array([1]), np.array([[0.25, 0.75]]))
        >>> round(float(m.result()), 4)
        0.2877
    """

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 axis=-1):
        super().__init__(losses_module.sparse_categorical_crossentropy, name=name,
                         dtype=dtype, from_logits=bool(from_logits), axis=axis)


# ---------------------------------------------------------------- get

_CLASSES = (Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
_NAMES = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({backend.to_snake_case(cls.__name__): cls for cls in _CLASSES})
_NAMES.update({"mse": MeanSquaredError, "mae": MeanAbsoluteError})
# loss names used as metrics: the running mean of the per-sample loss
_LOSS_FUNCTIONS = {
    "categorical_crossentropy": losses_module.categorical_crossentropy,
    "sparse_categorical_crossentropy": losses_module.sparse_categorical_crossentropy,
    "binary_crossentropy": losses_module.binary_crossentropy,
}
_AUTO = ("accuracy", "acc", "crossentropy", "ce")


def _loss_kind(loss):
    """'binary', 'sparse', 'categorical' or None, from a loss identifier."""
    if loss is None:
        return None
    if isinstance(loss, losses_module.BinaryCrossentropy):
        return "binary"
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        return "sparse"
    if isinstance(loss, losses_module.CategoricalCrossentropy):
        return "categorical"
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", "")
    name = backend.to_snake_case(name) if name and name[0].isupper() else name.lower()
    return {"binary_crossentropy": "binary", "sparse_categorical_crossentropy": "sparse",
            "categorical_crossentropy": "categorical"}.get(name)


def _pick_kind(loss, output_shape, target_shape):
    """Keras's choice of accuracy/crossentropy flavour for 'accuracy' and 'crossentropy'.

    Binary when the loss is binary cross-entropy or the output has one unit; sparse when
    the loss is sparse categorical cross-entropy or the targets are class indices
    (lower rank than the output, or a last axis of 1 against several units);
    categorical otherwise.
    """
    kind = _loss_kind(loss)
    out_last = output_shape[-1] if output_shape else None
    if kind == "binary" or out_last == 1:
        return "binary"
    if kind == "sparse":
        return "sparse"
    if target_shape is not None and output_shape is not None:
        target_shape, output_shape = tuple(target_shape), tuple(output_shape)
        if len(target_shape) < len(output_shape) or \
                (target_shape[-1:] == (1,) and (out_last or 0) > 1):
            return "sparse"
    return "categorical"


def get(identifier, loss=None, output_shape=None, target_shape=None):
    """Resolve a metric identifier, as Keras's ``compile(metrics=[...])`` does.

    ``'accuracy'``/``'acc'`` (and ``'crossentropy'``/``'ce'``) pick the binary, sparse or
    categorical flavour from the loss and the shapes (see ``_pick_kind``); the returned
    metric's ``name`` is the string exactly as given.

    Args:
        identifier (str or Metric or type or dict or callable or None): a name
            ('accuracy', 'acc', 'categorical_accuracy', 'sparse_categorical_accuracy',
            'binary_accuracy', 'mse', 'mae', a loss name, a class name, ...), a ``Metric``
            class or instance, a ``{"class_name", "config"}`` dict, or a callable
            ``fn(y_true, y_pred)`` returning per-sample values (wrapped in
            ``MeanMetricWrapper``); None returns None.
        loss (str or Loss or callable or None): the model's loss identifier (string,
            ``Loss`` or function), or None.
        output_shape (tuple or None): the model's output shape (the last entry is the
            number of units).
        target_shape (tuple or None): the shape of the targets, when known.

    Returns:
        A ``Metric`` (None for None).

    Example:
        >>> from minidl import metrics
        >>> type(metrics.get("mae")).__name__
        'MeanAbsoluteError'
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _AUTO:
            kind = _pick_kind(loss, output_shape, target_shape)
            if key in ("accuracy", "acc"):
                cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
                       "categorical": CategoricalAccuracy}[kind]
                return cls(name=identifier)
            fn = _LOSS_FUNCTIONS[{"binary": "binary_crossentropy",
                                  "sparse": "sparse_categorical_crossentropy",
                                  "categorical": "categorical_crossentropy"}[kind]]
            return MeanMetricWrapper(fn, name=identifier)
        cls = _registry.find(_NAMES, identifier)
        if cls is not None:
            return cls(name=identifier)
        if key in _LOSS_FUNCTIONS:
            return MeanMetricWrapper(_LOSS_FUNCTIONS[key], name=identifier)
        valid = sorted(set(n for n in _NAMES if n.islower()) | set(_LOSS_FUNCTIONS) |
                       set(_AUTO))
        raise ValueError(f"Unknown metric: {identifier!r}. Valid names: {', '.join(valid)}")
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}. Expected a "
                     f"name, a Metric, a dict or a callable.")


def serialize(metric):
    """A built-in metric as a dict ``{"class_name", "config"}``.

    Args:
        metric (Metric): a ``Metric`` instance.

    Returns:
        A dict that ``deserialize`` turns back into an equal metric.

    Example:
        >>> from minidl import metrics
        >>> metrics.serialize(metrics.Accuracy())["class_name"]
        'Accuracy'
    """
    return _registry.serialize(metric, Metric, "minidl.metrics", "metric", "a Metric")


def deserialize(config):
    """Build a metric from ``serialize``'s dict.

    Args:
        config (dict): a dict with ``class_name`` and ``config``.

    Returns:
        A ``Metric``.

    Example:
        >>> from minidl import metrics
        >>> metrics.deserialize({"class_name": "MeanSquaredError", "config": {}}).name
        'mean_squared_error'
    """
    name = config.get("class_name") if isinstance(config, dict) else None
    cls = _registry.find(_NAMES, name, fold_case=False)
    if cls is None:
        raise ValueError(f"metrics.deserialize: unknown metric class {name!r}; expected one "
                         f"of {sorted(c.__name__ for c in _CLASSES)}. Received: {config!r}")
    return _registry.from_config(cls, config)
