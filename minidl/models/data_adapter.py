"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches.

Two kinds of input are accepted, as in Keras: NumPy-like arrays ``x`` (and ``y``), which
are batched here, and objects that produce batches themselves: Python generators,
iterators such as ``ImageDataGenerator.flow(...)``, or Sequence-like objects with
``__len__`` and ``__getitem__``.
"""
import math
import numbers

import numpy as np

from minidl import random_state


def is_batch_source(x):
    """True for generators, iterators and Sequence-like objects (not arrays)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def is_structure(data):
    """True for several arrays given together (a model with several inputs or
    outputs): a dict of arrays, or a list/tuple whose items are all NumPy arrays."""
    if isinstance(data, dict):
        return True
    return isinstance(data, (list, tuple)) and len(data) > 0 and \
        all(isinstance(a, np.ndarray) for a in data)


def take(data, index):
    """Rows ``index`` (a slice or an index array) of an array or of each array of a
    structure (None stays None)."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: value[index] for key, value in data.items()}
    if is_structure(data):
        return [value[index] for value in data]
    return data[index]


def num_samples(data):
    """The number of rows of an array or of a structure's arrays (already checked)."""
    if isinstance(data, dict):
        return len(next(iter(data.values())))
    return len(data[0]) if is_structure(data) else len(data)


class WeightedTargets:
    """Targets travelling with one weight per sample through batching, sharding and the
    loss (``sample_weight`` and ``class_weight`` of fit and evaluate).

    Args:
        targets (numpy.ndarray): the target array (rows = samples).
        weights (numpy.ndarray): float array of shape ``(samples,)``.
    """

    def __init__(self, targets, weights):
        self.targets, self.weights = targets, weights

    def __len__(self):
        return len(self.weights)

    def __getitem__(self, index):
        return WeightedTargets(self.targets[index], self.weights[index])


def sample_weights(y, sample_weight, class_weight, where):
    """The per-sample weights of ``sample_weight`` times ``class_weight[label]`` (labels
    from integer targets, or the argmax of one-hot rows), as float64, checked; None when
    neither is given.

    Args:
        y (numpy.ndarray): the (checked) target array.
        sample_weight (array-like or None): one finite weight >= 0 per sample.
        class_weight (dict or None): ``{class index: weight}`` (every class present in
            ``y`` must have one).
        where (str): the calling method, for messages.
    """
    if sample_weight is None and class_weight is None:
        return None
    if y is None or is_structure(y):
        raise ValueError(f"{where}: sample_weight and class_weight need one target array")
    rows = len(y)
    weights = np.ones(rows)
    if sample_weight is not None:
        given = np.asarray(sample_weight, dtype=np.float64) if np.asarray(
            sample_weight).dtype.kind in "biuf" else None
        if given is None or given.shape not in ((rows,), (rows, 1)) or \
                not np.all(np.isfinite(given)) or np.any(given < 0):
            raise ValueError(f"{where}: argument 'sample_weight' must hold one finite weight "
                             f">= 0 per sample ({rows}). Received: "
                             f"{np.shape(sample_weight)}")
        weights = weights * given.reshape(rows)
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise ValueError(f"{where}: argument 'class_weight' must be a dict "
                             f"{{class index: weight}}. Received: {type(class_weight).__name__}")
        labels = y.reshape(rows, -1).argmax(axis=1) if y.ndim > 1 and y.shape[-1] > 1 \
            else y.reshape(rows).astype(np.int64)
        missing = sorted(set(np.unique(labels).tolist()) - set(class_weight))
        if missing:
            raise ValueError(f"{where}: argument 'class_weight' has no weight for classes "
                             f"{missing}")
        table = {int(k): float(v) for k, v in class_weight.items()}
        weights = weights * np.array([table[int(label)] for label in labels])
    return weights


def _check_numeric(array, name, where):
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must be a real numeric array. Received: dtype "
                        f"{array.dtype}")
    return array


def _checked(data, name, where):
    """An array, or a structure of arrays, each numeric; their common number of rows."""
    if isinstance(data, WeightedTargets):
        targets, rows = _checked(data.targets, name, where)
        return WeightedTargets(targets, data.weights), rows
    if is_structure(data):
        items = data.items() if isinstance(data, dict) else enumerate(data)
        checked = {key: _check_numeric(value, f"{name}[{key!r}]", where)
                   for key, value in items}
        lengths = {key: (len(a) if a.ndim else None) for key, a in checked.items()}
        if len(set(lengths.values())) != 1 or None in lengths.values():
            raise ValueError(f"{where}: the arrays of {name} must have the same number of "
                             f"samples. Received: {lengths}")
        data = checked if isinstance(data, dict) else list(checked.values())
        return data, next(iter(lengths.values()))
    array = _check_numeric(data, name, where)
    return array, (len(array) if array.ndim else None)


def check_arrays(x, y, where):
    """Validate x (and y) for array input: numeric, non-empty, same length; each may
    be one array or several (a list or dict of arrays, for several inputs/outputs)."""
    x, n = _checked(x, "x", where)
    if not n:
        raise ValueError(f"{where}: x must hold at least one sample. Received: "
                         f"{'shape ' + str(x.shape) if isinstance(x, np.ndarray) else x}")
    if y is not None:
        y, ny = _checked(y, "y", where)
        if ny != n:
            raise ValueError(f"{where}: x and y must have the same number of samples. "
                             f"Received: x with {n} and y with "
                             f"{'no' if ny is None else ny} samples")
    return x, y


def split_batch(batch, where):
    """``(x, y)`` from what a batch source yields: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) == 3:
            if batch[2] is not None:
                raise ValueError(f"{where}: sample weights are not supported")
            return batch[0], batch[1]
        raise ValueError(f"{where}: a batch must be x, (x, y) or (x, y, sample_weight). "
                         f"Received: a tuple of {len(batch)} items")
    return batch, None


def _is_int(value):
    """An integer that is not a bool (NumPy integers included)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_positive_int(value, name, where, optional=True):
    """``value`` as an int >= 1 (or None when ``optional``), else a ValueError naming it."""
    if value is None and optional:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"{where}: argument '{name}' must be a positive integer"
                         f"{' or None' if optional else ''}. Received: {name}={value!r}")
    return int(value)


def check_verbose(verbose, where):
    """``verbose`` is ``"auto"``, 0, 1 or 2 (as Keras)."""
    if verbose == "auto" and isinstance(verbose, str):
        return verbose
    if isinstance(verbose, (bool, np.bool_)) or not _is_int(verbose) or \
            not 0 <= verbose <= 2:
        raise ValueError(f"{where}: argument 'verbose' must be 'auto', 0, 1 or 2. "
                         f"Received: verbose={verbose!r}")
    return int(verbose)


def check_targets(x, y, where):
    """Array inputs need targets (a batch source yields them itself)."""
    if y is None and x is not None and not is_batch_source(x):
        raise ValueError(f"{where}: argument 'y' is required when 'x' is an array (a "
                         f"generator may yield (x, y) batches instead). Received: y=None")


def check_fit_arguments(x, y, epochs, initial_epoch, steps_per_epoch, validation_split,
                        validation_data, validation_steps, validation_batch_size,
                        validation_freq, verbose, targets_required=True):
    """Every argument of ``fit`` that is used only later (after an epoch, say) is checked
    at the call, before any work, each error naming its argument (a model's own
    ``train_step`` may train without targets: ``targets_required=False``)."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if not _is_int(value) or value < 0:
            raise ValueError(f"fit: argument '{name}' must be a non-negative integer. "
                             f"Received: {name}={value!r}")
    check_positive_int(steps_per_epoch, "steps_per_epoch", "fit")
    check_positive_int(validation_steps, "validation_steps", "fit")
    check_positive_int(validation_batch_size, "validation_batch_size", "fit")
    check_positive_int(validation_freq, "validation_freq", "fit", optional=False)
    check_verbose(verbose, "fit")
    if isinstance(validation_split, (bool, np.bool_)) or \
            not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
        raise ValueError(f"fit: argument 'validation_split' must be a number in [0, 1). "
                         f"Received: validation_split={validation_split!r}")
    if targets_required:
        check_targets(x, y, "fit")
    if validation_data is not None and not is_batch_source(validation_data):
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(f"fit: argument 'validation_data' must be (x_val, y_val), "
                             f"(x_val, y_val, None) or a generator. Received: "
                             f"{type(validation_data).__name__}")
        check_targets(validation_data[0], validation_data[1], "fit: validation_data")
        check_arrays(validation_data[0], validation_data[1], "fit: validation_data")


class ArrayBatches:
    """Batches of in-memory arrays, reshuffled each epoch when ``shuffle``.

    ``steps`` batches make an epoch: with ``repeat`` (training) the data is passed over
    again (reshuffled) when it runs out; without (inference) ``steps`` only caps the
    number of batches, so no row is ever seen twice.
    """

    def __init__(self, x, y, batch_size, shuffle, steps=None, repeat=False):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.batches_per_pass = math.ceil(num_samples(x) / batch_size)
        self.steps = self.batches_per_pass if steps is None else \
            steps if repeat else min(steps, self.batches_per_pass)

    def epoch(self):
        """Yield (x_batch, y_batch) for one epoch (``steps`` batches)."""
        done = 0
        while done < self.steps:
            n = num_samples(self.x)
            order = random_state.global_generator().permutation(n) if self.shuffle else None
            for start in range(0, n, self.batch_size):
                if done == self.steps:
                    return
                stop = start + self.batch_size
                index = slice(start, stop) if order is None else order[start:stop]
                yield take(self.x, index), take(self.y, index)
                done += 1


class SourceBatches:
    """Batches drawn from a generator, iterator or Sequence-like object (a Sequence is
    indexed around again when ``steps`` exceeds its length only with ``repeat``)."""

    def __init__(self, source, steps, where, repeat=False):
        self.source = source
        self.where = where
        length = len(source) if hasattr(source, "__len__") else None
        if steps is None and length is None:
            raise ValueError(f"{where}: steps_per_epoch (or steps) is required when the "
                             f"data is a generator without a length")
        self.steps = length if steps is None else \
            steps if repeat or length is None else min(steps, length)
        self.iterator = source if hasattr(source, "__next__") else None

    def epoch(self):
        """Yield (x_batch, y_batch) for one epoch."""
        if self.iterator is None:  # Sequence-like: index it, then let it reshuffle
            for i in range(self.steps):
                yield split_batch(self.source[i % len(self.source)], self.where)
            if hasattr(self.source, "on_epoch_end"):
                self.source.on_epoch_end()
            return
        for _ in range(self.steps):
            try:
                batch = next(self.iterator)
            except StopIteration:
                return
            yield split_batch(batch, self.where)


def make_batches(x, y, batch_size, shuffle, steps, where, steps_name="steps",
                 repeat=False):
    """ArrayBatches or SourceBatches for fit/evaluate/predict's arguments.

    Args:
        x (array-like or list of numpy.ndarray or dict or iterator or Sequence): the
            inputs (arrays, or a batch source).
        y (array-like or list of numpy.ndarray or WeightedTargets or None): the targets
            (None with a batch source).
        batch_size (int or None): rows per batch for arrays (default 32).
        shuffle (bool): reshuffle arrays each epoch.
        steps (int or None): batches per epoch, or None for one pass.
        where (str): the calling method, for messages.
        steps_name (str): the argument that gave ``steps``, for messages.
        repeat (bool): pass over the data again when ``steps`` needs more batches than
            one pass holds (training); otherwise ``steps`` only caps the batches.
    """
    steps = check_positive_int(steps, steps_name, where)
    if is_batch_source(x):
        if y is not None:
            raise ValueError(f"{where}: y must be None when x is a generator or iterator "
                             f"(it yields the targets itself)")
        return SourceBatches(x, steps, where, repeat)
    x, y = check_arrays(x, y, where)
    if batch_size is None:
        batch_size = 32
    batch_size = check_positive_int(batch_size, "batch_size", where)
    return ArrayBatches(x, y, batch_size, shuffle, steps, repeat)
