"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches.

Two kinds of input are accepted, as in Keras: NumPy-like arrays ``x`` (and ``y``), which
are batched here, and objects that produce batches themselves: Python generators,
iterators such as ``ImageDataGenerator.flow(...)``, or Sequence-like objects with
``__len__`` and ``__getitem__``.
"""
import math

import numpy as np

from minidl import random_state


def is_batch_source(x):
    """True for generators, iterators and Sequence-like objects (not arrays)."""
    if x is None or isinstance(x, (np.ndarray, list, tuple)):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def check_arrays(x, y, where):
    """Validate x (and y) for array input: numeric, non-empty, same length."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{where}: x must be a real numeric array, received dtype {x.dtype}")
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{where}: x must hold at least one sample, received shape {x.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{where}: y must be a real numeric array, received dtype "
                            f"{y.dtype}")
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(f"{where}: x and y must have the same number of samples, "
                             f"received x with {len(x)} and y with "
                             f"{len(y) if y.ndim else 'no'} samples")
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
        raise ValueError(f"{where}: a batch must be x, (x, y) or (x, y, sample_weight), "
                         f"received a tuple of {len(batch)} items")
    return batch, None


class ArrayBatches:
    """Batches of in-memory arrays, reshuffled each epoch when ``shuffle``."""

    def __init__(self, x, y, batch_size, shuffle, steps=None):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.batches_per_pass = math.ceil(len(x) / batch_size)
        self.steps = steps if steps is not None else self.batches_per_pass

    def epoch(self):
        """Yield (x_batch, y_batch) for one epoch (``steps`` batches)."""
        done = 0
        while done < self.steps:
            n = len(self.x)
            order = random_state.global_generator().permutation(n) if self.shuffle else None
            for start in range(0, n, self.batch_size):
                if done == self.steps:
                    return
                stop = start + self.batch_size
                index = slice(start, stop) if order is None else order[start:stop]
                yield self.x[index], (None if self.y is None else self.y[index])
                done += 1


class SourceBatches:
    """Batches drawn from a generator, iterator or Sequence-like object."""

    def __init__(self, source, steps, where):
        self.source = source
        self.where = where
        length = len(source) if hasattr(source, "__len__") else None
        if steps is None and length is None:
            raise ValueError(f"{where}: steps_per_epoch (or steps) is required when the "
                             f"data is a generator without a length")
        self.steps = steps if steps is not None else length
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


def make_batches(x, y, batch_size, shuffle, steps, where):
    """ArrayBatches or SourceBatches for fit/evaluate/predict's arguments."""
    if is_batch_source(x):
        if y is not None:
            raise ValueError(f"{where}: y must be None when x is a generator or iterator "
                             f"(it yields the targets itself)")
        return SourceBatches(x, steps, where)
    x, y = check_arrays(x, y, where)
    if batch_size is None:
        batch_size = 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
            batch_size <= 0:
        raise ValueError(f"{where}: batch_size must be a positive integer, received "
                         f"{batch_size!r}")
    return ArrayBatches(x, y, int(batch_size), shuffle, steps)
