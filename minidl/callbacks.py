"""Keras 3 callbacks: hooks that ``fit``, ``evaluate`` and ``predict`` call as they run.

A training loop calls, in this order (as ``keras.Model.fit`` does)::

    callbacks.on_train_begin()
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        for batch in range(steps):
            callbacks.on_train_batch_begin(batch)
            logs = train_step(...)
            callbacks.on_train_batch_end(batch, logs)
            if model.stop_training: break
        epoch_logs = {...metrics..., ...val_ metrics (on_test_* hooks while validating)...}
        callbacks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training: break
    callbacks.on_train_end(epoch_logs)

Epochs and batches are 0-based in the hooks; messages and checkpoint names count from 1.
Every callback of a ``CallbackList`` receives the *same* ``logs`` dict, so a value a callback
adds (``LearningRateScheduler`` adds ``logs["learning_rate"]``) is seen by the callbacks
after it, ``History`` (appended last) included.

The model a callback drives needs only: ``stop_training`` (bool attribute),
``get_weights()`` / ``set_weights(list)``, ``save(path)``, ``save_weights(path)``,
``optimizer.learning_rate`` (a float, readable and settable) and a settable ``history``.
"""
import collections.abc
import csv
import inspect
import numbers
import os
import warnings

import numpy as np

from minidl import distribute, ops

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "HistoryDict",
    "LambdaCallback",
    "LayerStatistics",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]

# Every hook a callback may implement (LambdaCallback accepts exactly these).
_HOOKS = (
    "on_batch_begin", "on_batch_end",
    "on_epoch_begin", "on_epoch_end",
    "on_train_begin", "on_train_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)

_MODES = ("auto", "min", "max")

# In mode "auto", a monitored name containing one of these is maximised (accuracy, AUC,
# precision, ...); every other name (losses, errors, divergences, counts of false
# results) is minimised.
_MAXIMISED_MARKERS = (
    "acc", "auc", "precision", "recall", "f1", "fbeta", "fmeasure", "iou", "r2_score",
    "sensitivity", "specificity", "true_positives", "true_negatives", "cosine_similarity",
)


def _say(*args, **kwargs):
    """``print`` on rank 0 only: under data parallelism every rank runs the same
    callbacks with the same logs, and one copy of each message is enough."""
    if distribute.is_root():
        print(*args, **kwargs)


# ---------------------------------------------------------------- argument checks


def _check_str(value, name, where):
    """``value`` if it is a str, else TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: argument '{name}' must be a str. "
                        f"Received: {name}={value!r}")
    return value


def _check_count(value, name, where):
    """``value`` as an int if it is a non-negative integer, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{where}: argument '{name}' must be a non-negative integer. "
                         f"Received: {name}={value!r}")
    return int(value)


def _check_real(value, name, where, allow_none=False):
    """``value`` as a float if it is a real number (or None when allowed), else ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        expected = "a real number or None" if allow_none else "a real number"
        raise ValueError(f"{where}: argument '{name}' must be {expected}. "
                         f"Received: {name}={value!r}")
    return float(value)


def _check_mode(mode, where):
    """``mode`` if it is 'auto', 'min' or 'max'; otherwise warn and use 'auto' (as Keras)."""
    if mode not in _MODES:
        warnings.warn(f"{where}: mode {mode!r} is unknown (expected one of {list(_MODES)}), "
                      f"falling back to 'auto'.", stacklevel=3)
        return "auto"
    return mode


def _check_path(value, name, where):
    """A str/os.PathLike as a str, else TypeError."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{where}: argument '{name}' must be a str or os.PathLike. "
                        f"Received: {name}={value!r}")
    return os.fspath(value)


def _scalar(value):
    """A logged value as a Python float, or None when it is not a single number."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(())) if array.size == 1 else None


# ---------------------------------------------------------------- monitored quantities


def _declared_direction(metric_name, model):
    """'max'/'min' when the model has a metric of that name declaring its direction.

    Keras metrics carry ``_direction`` ('up' or 'down'); containers of metrics expose
    their members as ``.metrics``.
    """
    try:
        pending = list(getattr(model, "metrics", None) or [])
    except Exception:  # a model whose metrics are not built yet
        return None
    while pending:
        metric = pending.pop()
        members = getattr(metric, "metrics", None)
        if isinstance(members, (list, tuple)):
            pending.extend(members)
        if getattr(metric, "name", None) == metric_name:
            direction = getattr(metric, "_direction", None)
            if direction in ("up", "down"):
                return "max" if direction == "up" else "min"
    return None


def _infer_mode(monitor, model):
    """The direction ('min' or 'max') in which ``monitor`` improves, for mode 'auto'.

    Losses are minimised; a metric of the model that declares a direction uses it;
    otherwise names containing 'acc', 'auc', 'precision', 'recall', ... are maximised and
    everything else is minimised.
    """
    name = monitor[len("val_"):] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):
        return "min"
    declared = _declared_direction(name, model)
    if declared is not None:
        return declared
    lowered = name.lower()
    return "max" if any(marker in lowered for marker in _MAXIMISED_MARKERS) else "min"


def _missing_key_message(where, monitor, logs):
    """The warning text for a monitored quantity absent from the logs."""
    available = ",".join(logs.keys()) if logs else ""
    return (f"{where} conditioned on metric `{monitor}` which is not available. "
            f"Available metrics are: {available}")


# ---------------------------------------------------------------- base classes


class Callback:
    """Base class of callbacks: override the hooks you need; each does nothing by default.

    Attributes:
        model: the model being trained (set by ``set_model``).
        params: dict of training parameters, e.g. ``{"epochs": 10, "steps": 100,
            "verbose": 1}`` (set by ``set_params``).

    Example:
        >>> import numpy as np
        >>> from minidl import callbacks, layers, models
        >>> class CountBatches(callbacks.Callback):
        ...     def on_train_begin(self, logs=None):
        ...         self.batches = 0
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         self.batches += 1
        >>> counter = CountBatches()
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> _ = model.fit(np.ones((10, 2)), np.ones((10, 1)), batch_size=4, epochs=2,
        ...               verbose=0, callbacks=[counter])
        >>> counter.batches  # 3 batches per epoch
        6
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        """Store the training parameters.

        Args:
            params (dict): the training parameters, with keys such as ``'epochs'``,
                ``'steps'``, ``'verbose'``.
        """
        self.params = params

    def set_model(self, model):
        """Attach the model that the hooks act on.

        Args:
            model (Model): the model being trained.
        """
        self._model = model

    @property
    def model(self):
        """The model set by ``set_model`` (None before)."""
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Backwards-compatible alias of ``on_train_batch_begin`` (called by it).

        Args:
            batch (int): 0-based batch index within the epoch.
            logs (dict or None): currently empty.
        """

    def on_batch_end(self, batch, logs=None):
        """Backwards-compatible alias of ``on_train_batch_end`` (called by it).

        Args:
            batch (int): 0-based batch index within the epoch.
            logs (dict or None): the metric results aggregated so far in the epoch.
        """

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of a training epoch.

        Args:
            epoch (int): 0-based epoch index.
            logs (dict or None): currently empty.
        """

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of a training epoch.

        Args:
            epoch (int): 0-based epoch index.
            logs (dict or None): the epoch's metric results, validation ones prefixed
                ``val_``, e.g. ``{"loss": 0.2, "accuracy": 0.7, "val_loss": 0.3}``.
        """

    def on_train_batch_begin(self, batch, logs=None):
        """Called before a training batch; calls ``on_batch_begin``.

        Args:
            batch (int): 0-based batch index within the epoch.
            logs (dict or None): currently empty.
        """
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch; calls ``on_batch_end``.

        Args:
            batch (int): 0-based batch index within the epoch.
            logs (dict or None): the metric results aggregated so far in the epoch.
        """
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before a batch of ``evaluate`` (or of validation inside ``fit``).

        Args:
            batch (int): 0-based batch index.
            logs (dict or None): currently empty.
        """

    def on_test_batch_end(self, batch, logs=None):
        """Called after a batch of ``evaluate`` (or of validation inside ``fit``).

        Args:
            batch (int): 0-based batch index.
            logs (dict or None): the metric results aggregated so far.
        """

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a batch of ``predict``.

        Args:
            batch (int): 0-based batch index.
            logs (dict or None): currently empty.
        """

    def on_predict_batch_end(self, batch, logs=None):
        """Called after a batch of ``predict``.

        Args:
            batch (int): 0-based batch index.
            logs (dict or None): the batch's outputs.
        """

    def on_train_begin(self, logs=None):
        """Called once at the start of ``fit``.

        Args:
            logs (dict or None): currently empty.
        """

    def on_train_end(self, logs=None):
        """Called once at the end of ``fit``.

        Args:
            logs (dict or None): the logs of the last epoch.
        """

    def on_test_begin(self, logs=None):
        """Called at the start of ``evaluate`` (or of validation inside ``fit``).

        Args:
            logs (dict or None): currently empty.
        """

    def on_test_end(self, logs=None):
        """Called at the end of ``evaluate`` (or of validation inside ``fit``).

        Args:
            logs (dict or None): the evaluation's metric results.
        """

    def on_predict_begin(self, logs=None):
        """Called at the start of ``predict``.

        Args:
            logs (dict or None): currently empty.
        """

    def on_predict_end(self, logs=None):
        """Called at the end of ``predict``.

        Args:
            logs (dict or None): currently empty.
        """


def _flatten_callbacks(callbacks):
    """A flat list of the callbacks in a callback or a (nested) list/tuple of them."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError("CallbackList: argument 'callbacks' must be a list of Callback "
                        f"instances. Received: callbacks of type {type(callbacks).__name__}")
    flat = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten_callbacks(item))
        elif isinstance(item, Callback):
            flat.append(item)
        else:
            raise TypeError("CallbackList: every callback must be an instance of "
                            "minidl.callbacks.Callback. "
                            f"Received: {item!r} of type {type(item).__name__}")
    return flat


class CallbackList(Callback):
    """Calls every hook of a list of callbacks, in list order.

    Args:
        callbacks (Callback or list of Callback or None): the callbacks (nested lists
            and tuples are flattened; None: none).
        add_history (bool): append a ``History`` if the list has none; it becomes
            ``model.history``.
        model (Model or None): the model, passed to every callback's ``set_model``.
        params (dict or None): training parameters passed to every callback's
            ``set_params``.
        **extra_params: more training parameters (as Keras passes ``epochs=``, ``steps=``,
            ``verbose=``), merged into ``params``.

    Example:
        >>> from minidl import callbacks
        >>> seen = []
        >>> log = callbacks.LambdaCallback(
        ...     on_epoch_end=lambda epoch, logs: seen.append((epoch, logs["loss"])))
        >>> hooks = callbacks.CallbackList([log])
        >>> hooks.on_epoch_end(0, {"loss": 0.5})
        >>> seen
        [(0, 0.5)]
    """

    def __init__(self, callbacks=None, add_history=False, model=None, params=None,
                 **extra_params):
        super().__init__()
        self.callbacks = _flatten_callbacks(callbacks)
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if model is not None:
            self.set_model(model)
        if params is not None and not isinstance(params, dict):
            raise TypeError("CallbackList: argument 'params' must be a dict or None. "
                            f"Received: params of type {type(params).__name__}")
        merged = dict(params or {}, **extra_params)
        if merged:
            self.set_params(merged)

    def append(self, callback):
        """Add a callback at the end of the list.

        Args:
            callback (Callback or list of Callback): a ``Callback`` instance (a list of
                them is flattened, as in the constructor).
        """
        self.callbacks.extend(_flatten_callbacks([callback]))

    def set_params(self, params):
        """Give every callback the training parameters.

        Args:
            params (dict): the training parameters, with keys such as ``'epochs'``,
                ``'steps'``, ``'verbose'``.
        """
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model):
        """Give every callback the model (and set ``model.history`` to the History).

        Args:
            model (Model): the model being trained.
        """
        super().set_model(model)
        if self._history is not None and model is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _dispatch(self, hook, *args, logs=None):
        """Call ``hook`` on every callback with one shared logs dict.

        Arguments are passed positionally, so plain functions given to ``LambdaCallback``
        may name their parameters freely.
        """
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs)

    def on_batch_begin(self, batch, logs=None):
        """Call ``on_batch_begin`` on every callback."""
        self._dispatch("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        """Call ``on_batch_end`` on every callback."""
        self._dispatch("on_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        """Call ``on_epoch_begin`` on every callback."""
        self._dispatch("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        """Call ``on_epoch_end`` on every callback."""
        self._dispatch("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        """Call ``on_train_batch_begin`` on every callback."""
        self._dispatch("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Call ``on_train_batch_end`` on every callback."""
        self._dispatch("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Call ``on_test_batch_begin`` on every callback."""
        self._dispatch("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        """Call ``on_test_batch_end`` on every callback."""
        self._dispatch("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        """Call ``on_predict_batch_begin`` on every callback."""
        self._dispatch("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        """Call ``on_predict_batch_end`` on every callback."""
        self._dispatch("on_predict_batch_end", batch, logs=logs)

    def on_train_begin(self, logs=None):
        """Call ``on_train_begin`` on every callback."""
        self._dispatch("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        """Call ``on_train_end`` on every callback."""
        self._dispatch("on_train_end", logs=logs)

    def on_test_begin(self, logs=None):
        """Call ``on_test_begin`` on every callback."""
        self._dispatch("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        """Call ``on_test_end`` on every callback."""
        self._dispatch("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        """Call ``on_predict_begin`` on every callback."""
        self._dispatch("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        """Call ``on_predict_end`` on every callback."""
        self._dispatch("on_predict_end", logs=logs)


# ---------------------------------------------------------------- History


class HistoryDict(dict):
    """The ``History.history`` dict: each logged key (Keras 3's names) with its per-epoch
    values, which also answers the Keras 2 names of the accuracy metric.

    Keras 2.2 logged ``metrics=['accuracy']`` as ``acc`` / ``val_acc``; Keras 3 (and
    minidl) log the name as spelled. Code written for Keras 2 that reads
    ``history['acc']`` gets the values stored under ``accuracy``, with one
    ``DeprecationWarning`` per alias naming the stored key. Only the stored key exists:
    iterating, ``len``, ``in``, ``keys()`` and JSON or CSV output see each series once.

    Args:
        *args: as for ``dict`` (a mapping or an iterable of key-value pairs).
        **kwargs: as for ``dict`` (keys and their values).

    Example:
        >>> import numpy as np
        >>> from minidl import layers, models
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
        >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)
        >>> type(history.history).__name__, "accuracy" in history.history
        ('HistoryDict', True)
    """

    _KERAS2_ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._warned = set()

    def __missing__(self, key):
        return self._alias(key)

    def get(self, key, default=None):
        """``self[key]`` (Keras 2 aliases included), or ``default`` when it is absent.

        Args:
            key (str): the logged key, or its Keras 2 alias (``'acc'``, ``'val_acc'``).
            default (object): the value returned when neither ``key`` nor the key it
                aliases is stored.

        Returns:
            The list of per-epoch values, or ``default``.
        """
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        try:
            return self._alias(key)
        except KeyError:
            return default

    def _alias(self, key):
        """The series stored under the Keras 3 name of ``key`` (warning once per key);
        KeyError when ``key`` is no alias of a stored key. Called by the two public
        lookups, so stacklevel 3 is the user's line."""
        stored = self._KERAS2_ALIASES.get(key)
        if stored is None or not dict.__contains__(self, stored):
            raise KeyError(key)
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"History: {key!r} is the Keras 2 name of the metric logged as "
                          f"{stored!r}; read history[{stored!r}] instead.",
                          DeprecationWarning, stacklevel=3)
        return dict.__getitem__(self, stored)


class History(Callback):
    """Records every epoch's logs; ``fit`` returns it and sets it as ``model.history``.

    Attributes:
        history: a :class:`HistoryDict` mapping each logged key to the list of its
            per-epoch values (``history['acc']`` also works, as in Keras 2, for a metric
            logged as ``accuracy``).
        epoch: list of the 0-based indices of the recorded epochs.

    Example:
        >>> import numpy as np
        >>> from minidl import layers, models
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0)
        >>> sorted(history.history), len(history.history["loss"]), history.epoch
        (['loss'], 3, [0, 1, 2])
    """

    def __init__(self):
        super().__init__()
        self.history = HistoryDict()
        self.epoch = []

    def on_train_begin(self, logs=None):
        """Start a new list of epoch indices (``history`` keeps accumulating, as Keras)."""
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch's values and set ``model.history`` to this object."""
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        # Set after each epoch, so that model.history is the latest state even if
        # training is interrupted.
        if self.model is not None:
            self.model.history = self


class LayerStatistics(Callback):
    """Measures what the blogs explain batch normalization with: per layer, every
    ``every`` training batches, the gradient norm of its kernel, the mean and standard
    deviation of its output, and how many of its units are saturated (minidl extension).

    Recorded for each layer of the model, after the step's backward pass (the optimizer
    has already applied the gradient):

    * ``kernel_gradient_norm``: the L2 norm of the loss gradient with respect to the
      layer's ``kernel`` (layers with one: Conv2D, Dense), else ``None``;
    * ``output_mean``, ``output_std``: the mean and (population) standard deviation over
      every value of the layer's output for the batch, in training mode;
    * ``saturated_fraction``: for a layer whose own activation is sigmoid, tanh or relu,
      the fraction of its output values at which the activation's derivative is below 1%
      of its maximum (sigmoid ``y (1 - y) < 0.0025``, tanh ``1 - y**2 < 0.01``, relu
      ``y <= 0``), else ``None``.

    One pass over each output in the C core (:func:`minidl.ops.summary_statistics`).
    Without this callback the training step does no extra work; with ``every=1`` it
    costs 2.5-3.7% of a CIFAR CNN step and 4.7-6.1% of a LeNet-5 step (one thread,
    ``python -m benchmarks.layer_statistics``), ``every`` times less with ``every > 1``.

    Args:
        every (int): record one batch in ``every``, counting training batches over the whole
            ``fit`` from its first (``every=1``: every batch).

    Attributes:
        steps: the 0-based index (over the whole fit) of each recorded batch.
        epochs: the 0-based epoch of each recorded batch.
        layers: one dict per layer, in model order: ``name``, ``class_name``,
            ``activation`` (or None), and the four lists above, one entry per recorded
            batch.

    Example::

        stats = minidl.callbacks.LayerStatistics(every=10)
        model.fit(x, y, epochs=2, callbacks=[stats])
        first_conv = stats.layers[0]
        first_conv["kernel_gradient_norm"][-1], first_conv["saturated_fraction"][-1]

    Example:
        >>> import numpy as np
        >>> from minidl import callbacks, layers, models
        >>> stats = callbacks.LayerStatistics(every=1)
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(4, activation="sigmoid"),
        ...                            layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> _ = model.fit(np.ones((8, 3)), np.ones((8, 1)), batch_size=4, epochs=1, verbose=0,
        ...               callbacks=[stats])
        >>> sorted(stats.as_dict())
        ['epochs', 'every', 'layers', 'steps']
    """

    _SATURATING = ("relu", "sigmoid", "tanh")

    def __init__(self, every=1):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"LayerStatistics: argument 'every' must be a positive integer. "
                             f"Received: every={every!r}")
        self.every = int(every)
        self.steps, self.epochs, self.layers = [], [], []
        self._step = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        """Start a new record (one entry per layer of the model)."""
        model = self.model
        if not hasattr(model, "_recorded_outputs") or getattr(model, "device", "cpu") != "cpu":
            raise ValueError("LayerStatistics: needs a minidl Sequential model computing on "
                             f"the CPU. Received: {type(model).__name__} on device "
                             f"{getattr(model, 'device', None)!r}")
        self.steps, self.epochs, self._step = [], [], 0
        self.layers = [self._new_layer_record(layer) for layer in model.layers]

    def _new_layer_record(self, layer):
        activation = getattr(layer, "activation", None)
        return {"name": layer.name, "class_name": type(layer).__name__,
                "activation": activation if isinstance(activation, str) else None,
                "kernel_gradient_norm": [], "output_mean": [], "output_std": [],
                "saturated_fraction": []}

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch for the batches recorded in it."""
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        """Ask the model for this step's layer outputs when the batch is due."""
        if self._step % self.every == 0:
            self.model._recorded_outputs = []

    def on_train_batch_end(self, batch, logs=None):
        """Reduce the recorded outputs and the kernels' gradients to the statistics."""
        recorded = self.model._recorded_outputs
        self.model._recorded_outputs = None
        if recorded is not None:
            self._record(recorded)
        self._step += 1

    def on_train_end(self, logs=None):
        """Never leave the model recording (an interrupted fit included)."""
        self.model._recorded_outputs = None

    def _record(self, recorded):
        self.steps.append(self._step)
        self.epochs.append(self._epoch)
        seen = {}  # outputs that are views of the previous one (Flatten) are read once
        for entry, (layer, output) in zip(self.layers, recorded):
            activation = entry["activation"] if entry["activation"] in self._SATURATING \
                else None
            key = (output.__array_interface__["data"][0], output.size, output.dtype.str,
                   activation)
            if key not in seen:
                seen[key] = ops.summary_statistics(output, activation)
            mean, std, saturated = seen[key]
            entry["output_mean"].append(mean)
            entry["output_std"].append(std)
            entry["saturated_fraction"].append(saturated)
            kernel = getattr(layer, "kernel", None)
            gradient = getattr(kernel, "grad", None)
            entry["kernel_gradient_norm"].append(
                None if gradient is None else _l2_norm(gradient))

    def as_dict(self):
        """The record as plain, JSON-serialisable data."""
        return {"every": self.every, "steps": list(self.steps), "epochs": list(self.epochs),
                "layers": [dict(entry) for entry in self.layers]}


def _l2_norm(array):
    """The L2 norm of every value of an array: sqrt(n (variance + mean**2)), from the
    one-pass statistics."""
    mean, std, _ = ops.summary_statistics(array)
    return float(np.sqrt(np.size(array) * (std * std + mean * mean)))


# ---------------------------------------------------------------- monitored quantities


class _MonitorCallback(Callback):
    """Base of the callbacks that watch one logged quantity (``EarlyStopping``,
    ``ModelCheckpoint``, ``ReduceLROnPlateau``): the direction in which it improves.

    Subclasses set ``monitor`` and ``mode`` (and ``min_delta``, 0 by default).
    """

    min_delta = 0.0

    def _set_monitor_op(self):
        """Fix the direction of improvement from ``mode`` (and the model, in 'auto'):
        ``monitor_op`` becomes ``np.less`` (minimise) or ``np.greater`` (maximise)."""
        mode = self.mode if self.mode != "auto" else _infer_mode(self.monitor, self.model)
        self.monitor_op = np.less if mode == "min" else np.greater

    def _is_improvement(self, value, reference):
        """Whether ``value`` beats ``reference`` by more than ``min_delta`` (None: always)."""
        if reference is None:
            return True
        if self.monitor_op is np.less:
            return bool(value + self.min_delta < reference)
        return bool(value - self.min_delta > reference)


# ---------------------------------------------------------------- EarlyStopping


class EarlyStopping(_MonitorCallback):
    """Stop training when a monitored quantity has stopped improving.

    At each epoch end, the monitored value improves when it beats the best so far by
    more than ``min_delta`` (lower in mode 'min', higher in mode 'max'). After
    ``patience`` epochs in a row without improvement, ``model.stop_training`` is set.

    Args:
        monitor (str): the logs key to watch. Defaults to ``"val_loss"``.
        min_delta (float): the smallest change that counts as an improvement (its
            absolute value is used).
        patience (int): epochs without improvement after which training stops.
        verbose (int): 0 (silent) or 1 (print a message when stopping and restoring).
        mode (str): ``"min"``, ``"max"`` or ``"auto"`` (losses and errors are minimised;
            names containing 'acc', 'auc', 'precision', 'recall', ... are maximised, and a
            model metric declaring ``_direction`` is followed).
        baseline (float or None): if given, the wait counter is reset only by values that
            also beat it, so training stops after ``patience`` epochs that fail to reach it.
        restore_best_weights (bool): at the end of training, set the weights of the best epoch
            back into the model (whether training stopped early or ran all its epochs).
        start_from_epoch (int): epochs of warm-up before monitoring starts.

    Attributes:
        stopped_epoch: the 0-based epoch at which training was stopped (0 if it was not).
        best: the best monitored value so far; best_epoch: its 0-based epoch.
        wait: epochs since the last improvement.

    Example:
        >>> import numpy as np
        >>> import minidl
        >>> from minidl import callbacks, layers
        >>> model = minidl.Sequential([minidl.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> stop = callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=10.0)
        >>> history = model.fit(np.ones((8, 2)), np.zeros((8, 1)), epochs=10, verbose=0,
        ...                     callbacks=[stop])
        >>> len(history.history["loss"])  # no epoch improves by 10: stops after the 2nd
        2
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        where = "EarlyStopping"
        self.monitor = _check_str(monitor, "monitor", where)
        self.min_delta = abs(_check_real(min_delta, "min_delta", where))
        self.patience = _check_count(patience, "patience", where)
        self.verbose = verbose
        self.mode = _check_mode(mode, where)
        self.baseline = _check_real(baseline, "baseline", where, allow_none=True)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _check_count(start_from_epoch, "start_from_epoch", where)
        # np.less or np.greater, chosen at the first epoch end (when the model's metrics
        # are known), as Keras does.
        self.monitor_op = None
        self._reset()

    def _reset(self):
        """Forget the state of a previous ``fit`` so the callback can be reused."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def get_monitor_value(self, logs):
        """The monitored value from ``logs``, or None with a warning when it is missing.

        Args:
            logs (dict or None): the epoch's logs.

        Returns:
            The value as a float, or None (also, without a warning, when the logged value
            is not a single number).
        """
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(_missing_key_message("Early stopping", self.monitor, logs),
                          stacklevel=3)
            return None
        return _scalar(value)

    def _snapshot_weights(self):
        """A copy of the model's weights (copied so later training cannot alter it)."""
        return [np.array(w, copy=True) for w in self.model.get_weights()]

    def on_train_begin(self, logs=None):
        """Reset the state so an instance can serve several ``fit`` calls."""
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        """Update the best value and the wait counter; stop training past patience."""
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first monitored epoch is the best one seen so far.
            self.best_weights = self._snapshot_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot_weights()
            # Only an improvement that also beats the baseline restarts the wait.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Report the stop and restore the best weights when asked to."""
        if self.stopped_epoch > 0 and self.verbose > 0:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _say("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


# ---------------------------------------------------------------- ModelCheckpoint

_FULL_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
_WEIGHTS_SUFFIXES = (".weights.npz", ".h5", ".hdf5")


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or its weights) every epoch or every ``save_freq`` batches.

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (1-based), ``batch``
    (1-based, when saving per batch) and the logs, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``.

    Args:
        filepath (str or os.PathLike): where to save. Full models end in ``.keras`` (or
            ``.h5``/``.hdf5``, Keras 2's HDF5 layout); with ``save_weights_only=True`` it ends in
            ``.weights.npz`` or in ``.h5``/``.hdf5`` (``.weights.h5`` included: HDF5).
            Missing directories are made.
        monitor (str): the logs key compared when ``save_best_only=True``.
        verbose (int): 0 (silent) or 1 (print a message at each save).
        save_best_only (bool): save only when ``monitor`` improves on the best value so far (a
            missing monitor value warns and saves anyway, as in Keras 3).
        save_weights_only (bool): call ``model.save_weights(path)`` instead of
            ``model.save(path)``.
        mode (str): ``"auto"``, ``"min"`` or ``"max"``, as for ``EarlyStopping``.
        save_freq (str or int): ``"epoch"`` or a positive integer: save every that many
            batches.
        initial_value_threshold (float or None): the initial "best" value: with
            ``save_best_only`` the first save needs a value beating it.

    Attributes:
        best: the best monitored value so far (None before the first one).

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import callbacks, layers, models
        >>> folder = tempfile.mkdtemp()
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> checkpoint = callbacks.ModelCheckpoint(os.path.join(folder, "epoch{epoch}.keras"),
        ...                                        monitor="loss")
        >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0,
        ...               callbacks=[checkpoint])
        >>> sorted(os.listdir(folder))
        ['epoch1.keras', 'epoch2.keras']
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        where = "ModelCheckpoint"
        self.filepath = _check_path(filepath, "filepath", where)
        self.monitor = _check_str(monitor, "monitor", where)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _check_mode(mode, where)
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, numbers.Integral)
                                     or save_freq <= 0):
            raise ValueError(f"{where}: argument 'save_freq' must be 'epoch' or a positive "
                             f"integer (a number of batches). Received: save_freq={save_freq!r}")
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self.best = _check_real(initial_value_threshold, "initial_value_threshold", where,
                                allow_none=True)
        self._check_suffix()
        self.monitor_op = None
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0

    def _check_suffix(self):
        """Keras's file-name rule: ``.keras`` (or Keras 2's ``.h5``) models, weights in
        ``.weights.npz`` or HDF5; a ``.weights.*`` name is never a full model."""
        weights_name = ".weights." in self.filepath
        if self.save_weights_only:
            if not self.filepath.endswith(_WEIGHTS_SUFFIXES):
                raise ValueError(
                    "ModelCheckpoint: with save_weights_only=True the filepath must end in "
                    "'.weights.npz', '.h5' or '.hdf5'. Received: "
                    f"filepath={self.filepath!r}")
        elif weights_name or not self.filepath.endswith(_FULL_MODEL_SUFFIXES):
            hint = (" (this is a weights file name: pass save_weights_only=True)"
                    if weights_name else "")
            raise ValueError(
                "ModelCheckpoint: the filepath must end in '.keras' (or '.h5'/'.hdf5') to "
                "save full models, or in '.weights.npz' / '.h5' together with "
                f"save_weights_only=True{hint}. Received: filepath={self.filepath!r}")

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch, for names of per-batch checkpoints."""
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Save every ``save_freq`` batches (when ``save_freq`` is an integer)."""
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        """Save at the end of every epoch (when ``save_freq="epoch"``)."""
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        """Count batches across epochs and say whether ``save_freq`` has been reached."""
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch started: batches restart at 0
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _get_file_path(self, epoch, batch, logs):
        """``filepath`` with its fields filled in."""
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as exc:
            raise KeyError(f"ModelCheckpoint: failed to format the filepath "
                           f"{self.filepath!r}: no value for {exc}. Available fields: "
                           f"{sorted(fields)}") from None

    def _should_save(self, epoch, logs, filepath):
        """Whether to save now, updating ``best`` (prints the verbose messages)."""
        if not self.save_best_only:
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        raw = logs.get(self.monitor)
        if raw is None:
            warnings.warn(f"ModelCheckpoint: can save best model only with {self.monitor} "
                          "available; saving anyway.", stacklevel=4)
            return True
        current = _scalar(raw)
        if current is None:
            warnings.warn("ModelCheckpoint: can save best model only when `monitor` is a "
                          f"scalar value. Received: {raw!r}. Falling back to "
                          "save_best_only=False.", stacklevel=4)
            return True
        best_text = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_text} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_text}")
        return False

    def _save_model(self, epoch, batch, logs):
        """Save the model or its weights if due."""
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError("ModelCheckpoint: please specify a non-directory filepath; "
                                    f"this one is an existing directory: {filepath!r}")
        directory = os.path.dirname(filepath)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)


# ---------------------------------------------------------------- learning-rate callbacks


def _read_learning_rate(model, where):
    """``model.optimizer.learning_rate`` as a float, or ValueError when it has none."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{where}: the model's optimizer must have a 'learning_rate' "
                         f"attribute. Received: optimizer={optimizer!r}")
    return float(np.asarray(optimizer.learning_rate))


def _takes_two_arguments(function):
    """Whether ``function`` accepts (epoch, lr); None when its signature is unknown."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(0, 0.0)
    except TypeError:
        return False
    return True


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch start from a schedule function.

    Args:
        schedule (callable): ``schedule(epoch, lr) -> float`` (epoch 0-based, ``lr`` the current
            rate), or the older ``schedule(epoch) -> float``.
        verbose (int): 0 (silent) or 1 (print the new rate each epoch).

    Raises (at epoch start):
        ValueError: the schedule returns something that is not a float (an int included,
            as in Keras), or the optimizer has no ``learning_rate``.

    Example:
        >>> import numpy as np
        >>> import minidl
        >>> from minidl import callbacks, layers
        >>> model = minidl.Sequential([minidl.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> schedule = callbacks.LearningRateScheduler(lambda epoch, rate: 0.1 / (epoch + 1))
        >>> history = model.fit(np.ones((8, 2)), np.zeros((8, 1)), epochs=3, verbose=0,
        ...                     callbacks=[schedule])
        >>> [round(rate, 4) for rate in history.history["learning_rate"]]
        [0.1, 0.05, 0.0333]
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError("LearningRateScheduler: argument 'schedule' must be callable. "
                            f"Received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def _next_rate(self, epoch, current):
        """Call the schedule with one or two arguments, as its signature allows."""
        two = _takes_two_arguments(self.schedule)
        if two is None:  # unknown signature (a builtin): try the new API, then the old
            try:
                return self.schedule(epoch, current)
            except TypeError:
                return self.schedule(epoch)
        return self.schedule(epoch, current) if two else self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        """Compute and set the learning rate of this epoch."""
        where = "LearningRateScheduler"
        rate = self._next_rate(epoch, _read_learning_rate(self.model, where))
        if isinstance(rate, bool) or not isinstance(rate, (float, np.floating)):
            raise ValueError(f"{where}: the output of the `schedule` function should be a "
                             f"float. Received: {rate!r} of type {type(rate).__name__}")
        self.model.optimizer.learning_rate = float(rate)
        if self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(rate)}.")

    def on_epoch_end(self, epoch, logs=None):
        """Log the learning rate as ``logs['learning_rate']``."""
        if logs is not None:
            logs["learning_rate"] = _read_learning_rate(self.model, "LearningRateScheduler")


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` when a monitored quantity stops improving.

    After ``patience`` epochs without an improvement larger than ``min_delta``, the rate
    becomes ``max(lr * factor, min_lr)``; then ``cooldown`` epochs pass before waiting
    starts again.

    Args:
        monitor (str): the logs key to watch. Defaults to ``"val_loss"``.
        factor (float): the multiplier, in [0, 1).
        patience (int): epochs without improvement before the rate is reduced.
        verbose (int): 0 (silent) or 1 (print each reduction).
        mode (str): ``"auto"``, ``"min"`` or ``"max"``, as for ``EarlyStopping``.
        min_delta (float): the smallest change that counts as an improvement.
        cooldown (int): epochs to wait after a reduction before resuming normal operation.
        min_lr (float): the lower bound of the learning rate.

    Raises:
        ValueError: ``factor >= 1`` or negative.

    Example:
        >>> import numpy as np
        >>> from minidl import callbacks, layers, models
        >>> model = models.Sequential([layers.Input((1,)), layers.Dense(1, use_bias=False)])
        >>> model.compile(optimizer="sgd", loss="mse")  # learning rate 0.01
        >>> reduce = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
        >>> x, y = np.zeros((4, 1)), np.ones((4, 1))  # a loss that cannot fall
        >>> _ = model.fit(x, y, epochs=4, verbose=0, callbacks=[reduce])
        >>> float(model.optimizer.learning_rate)  # halved after epochs 2, 3 and 4
        0.00125
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        where = "ReduceLROnPlateau"
        self.monitor = _check_str(monitor, "monitor", where)
        factor = _check_real(factor, "factor", where)
        if factor >= 1.0:
            raise ValueError(f"{where} does not support a factor >= 1.0. "
                             f"Received: factor={factor}")
        if factor < 0.0:
            raise ValueError(f"{where}: argument 'factor' must be in [0, 1). "
                             f"Received: factor={factor}")
        self.factor = factor
        self.patience = _check_count(patience, "patience", where)
        self.verbose = verbose
        self.mode = _check_mode(mode, where)
        self.min_delta = _check_real(min_delta, "min_delta", where)
        self.cooldown = _check_count(cooldown, "cooldown", where)
        self.min_lr = _check_real(min_lr, "min_lr", where)
        self._reset()

    def _reset(self):
        """Reset the counters and the best value (at construction and train start)."""
        self._set_monitor_op()
        self.best = np.inf if self.monitor_op is np.less else -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _is_improvement(self, value, reference):
        """Whether ``value`` beats ``reference`` by more than ``min_delta``.

        As Keras's ReduceLROnPlateau, ``min_delta`` shifts the reference (``value <
        reference - min_delta``), not the value as in ``EarlyStopping``, and is used with
        its sign.
        """
        if self.monitor_op is np.less:
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def in_cooldown(self):
        """Whether the cooldown after a reduction is still running.

        Returns:
            bool.
        """
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        """Reset the state (the model's metrics may now decide mode 'auto')."""
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        """Log the learning rate and reduce it after ``patience`` epochs of plateau."""
        where = "ReduceLROnPlateau"
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _read_learning_rate(self.model, where)
        raw = logs.get(self.monitor)
        if raw is None:
            warnings.warn(_missing_key_message("Learning rate reduction", self.monitor, logs),
                          stacklevel=2)
            return
        current = _scalar(raw)
        if current is None:
            warnings.warn(f"{where}: the monitored value must be a single number. "
                          f"Received: {self.monitor}={raw!r}", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old_rate = _read_learning_rate(self.model, where)
        # Compare in float32, as the optimizer stores it, so a rate already at min_lr
        # is not "reduced" again forever.
        if old_rate > np.float32(self.min_lr):
            new_rate = max(old_rate * self.factor, self.min_lr)
            self.model.optimizer.learning_rate = new_rate
            if self.verbose > 0:
                _say(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                      f"{new_rate}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0


# ---------------------------------------------------------------- CSVLogger


def _csv_cell(value):
    """A logged value as a CSV cell: numbers as they print, sequences as ``[a, b]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, collections.abc.Iterable):
        return f"[{', '.join(map(str, value))}]"
    return value


class CSVLogger(Callback):
    """Stream each epoch's logs to a CSV file.

    The columns are ``epoch`` (0-based) then the first epoch's keys, sorted. As in Keras 3,
    when the first epoch has no ``val_`` keys (validation that runs every few epochs),
    ``val_<key>`` columns are added for every key; missing values are written ``NA``.
    The file is flushed after each row.

    Args:
        filename (str or os.PathLike): the CSV file.
        separator (str): the column separator (a single character).
        append (bool): append to an existing file (no second header when it is not empty)
            instead of overwriting it.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import callbacks, layers, models
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0,
        ...               callbacks=[callbacks.CSVLogger(path)])
        >>> open(path).read().splitlines()[0]
        'epoch,loss,val_loss'
        >>> len(open(path).read().splitlines())  # the header and one row per epoch
        3
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = _check_path(filename, "filename", "CSVLogger")
        self.sep = _check_str(separator, "separator", "CSVLogger")
        if len(self.sep) != 1:
            raise ValueError("CSVLogger: argument 'separator' must be a single character. "
                             f"Received: separator={separator!r}")
        self.append = bool(append)
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def _open(self):
        """Open the file (closing a previous one) and forget the columns."""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, "r", encoding="utf-8", newline="") as existing:
                self.append_header = not existing.readline()
        else:
            self.append_header = True
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        # newline="": the csv module writes its own line endings ("\r\n", as Keras)
        self.csv_file = open(self.filename, "a" if self.append else "w",
                             encoding="utf-8", newline="")
        self.writer = None
        self.keys = None

    def on_train_begin(self, logs=None):
        """Open the file (rank 0 only, under data parallelism)."""
        if distribute.is_root():
            self._open()

    def on_epoch_end(self, epoch, logs=None):
        """Write one row (and the header before the first); other ranks than 0 write
        nothing (they log the same values)."""
        if not distribute.is_root():
            return
        logs = logs or {}
        if self.csv_file is None or self.csv_file.closed:
            self._open()
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend("val_" + key for key in list(self.keys))
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep, lineterminator="\r\n")
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        """Close the file."""
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


# ---------------------------------------------------------------- TerminateOnNaN


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    Args:
        raise_error (bool): if True, raise RuntimeError at once (other callbacks'
            ``on_train_end`` is then not called); if False (default), print a message and set
            ``model.stop_training = True``.

    Example:
        >>> import numpy as np
        >>> from minidl import callbacks, layers, models
        >>> model = models.Sequential([layers.Input((1,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> stop = callbacks.TerminateOnNaN()
        >>> history = model.fit(np.array([[np.inf]]), np.ones((1, 1)), epochs=5, verbose=0,
        ...                     callbacks=[stop])
        Batch 0: Invalid loss, terminating training
        >>> len(history.history["loss"])  # stopped after the first epoch
        1
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        """Check ``logs['loss']`` after each training batch."""
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = _scalar(loss)
        if value is None or np.isfinite(value):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. "
                               f"Loss value: {value}. Terminating training immediately.")
        _say(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


# ---------------------------------------------------------------- LambdaCallback


class LambdaCallback(Callback):
    """A callback built from plain functions, one per hook.

    Epoch hooks are called as ``f(epoch, logs)``, batch hooks as ``f(batch, logs)``,
    begin/end-of-run hooks as ``f(logs)``.

    Args:
        on_epoch_begin, on_epoch_end (callable or None): the function for the hook of
            that name, called as ``f(epoch, logs)`` (None: do nothing).
        on_train_begin, on_train_end (callable or None): the function for the hook of
            that name, called as ``f(logs)`` (None: do nothing).
        on_train_batch_begin, on_train_batch_end (callable or None): the function for the
            hook of that name, called as ``f(batch, logs)`` (None: do nothing).
        **kwargs: functions for the other hooks (``on_test_begin``, ``on_batch_end``,
            ``on_predict_batch_end``, ...).

    Raises:
        TypeError: a keyword is not a hook name, or a value is not callable.

    Example:
        >>> import numpy as np
        >>> from minidl import callbacks, layers, models
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> ends = []
        >>> log = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(epoch))
        >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0, callbacks=[log])
        >>> ends
        [0, 1, 2]
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, function in hooks.items():
            if name not in _HOOKS:
                raise TypeError(f"LambdaCallback: unexpected keyword argument {name!r}; "
                                f"valid hooks are {list(_HOOKS)}")
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"LambdaCallback: argument '{name}' must be callable or "
                                f"None. Received: {name}={function!r}")
            # An instance attribute shadows the method of the same name.
            setattr(self, name, function)
