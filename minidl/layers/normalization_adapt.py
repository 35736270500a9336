"""Normalization: standardizes features with a mean and variance learned from data by
``adapt`` (``keras.layers.Normalization``), on the batch-normalization inference kernel."""
import numpy as np

from minidl import backend, ops
from minidl.layers.base import Layer


def _moments(batches, axes):
    """``(count, mean, variance)`` over ``axes`` of every batch, in float64: each batch's
    moments merged with Chan et al.'s pairwise update (no catastrophic cancellation)."""
    count, mean, m2 = 0, None, None
    for batch in batches:
        batch = np.asarray(batch, dtype=np.float64)
        n = int(np.prod([batch.shape[a] for a in axes])) if axes else 1
        if n == 0:
            continue
        batch_mean = batch.mean(axis=axes)
        batch_m2 = ((batch - batch.mean(axis=axes, keepdims=True)) ** 2).sum(axis=axes)
        if mean is None:
            count, mean, m2 = n, batch_mean, batch_m2
            continue
        delta, total = batch_mean - mean, count + n
        mean = mean + delta * (n / total)
        m2 = m2 + batch_m2 + delta ** 2 * (count * n / total)
        count = total
    if mean is None:
        raise ValueError("Normalization.adapt: the data holds no sample")
    return count, mean, m2 / count


class Normalization(Layer):
    """Standardizes features: ``(x - mean) / sqrt(variance)`` per feature along ``axis``,
    the statistics given or learned by :meth:`adapt` (``keras.layers.Normalization``).

    Args:
        axis (int or None): the feature axis kept (one mean per index on it; default the
            last); None: one mean and variance for every value.
        mean (float or array-like or None): the mean (then ``variance`` too), instead of
            ``adapt``.
        variance (float or array-like or None): the variance.
        invert (bool): apply the inverse, ``x * sqrt(variance) + mean``.
        **kwargs: Layer arguments.

    The denominator is ``max(sqrt(variance), 1e-7)``, as Keras's. The weights ``mean``,
    ``variance`` and ``count`` are not trained; ``fit`` never changes them.

    Input shape: any, with ``axis`` known. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the data.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> norm = layers.Normalization()
        >>> norm.adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
        >>> norm(np.array([[2.0, 40.0]]))
        array([[0., 2.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, int)):
            raise NotImplementedError(f"Normalization: argument 'axis' must be an int or "
                                      f"None (several axes are not implemented). Received: "
                                      f"{axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both 'mean' and 'variance', or neither")
        self.axis, self.invert = axis, bool(invert)
        self._given = None if mean is None else (np.asarray(mean, dtype=np.float64),
                                                 np.asarray(variance, dtype=np.float64))
        if self._given is not None and np.any(self._given[1] < 0):
            raise ValueError("Normalization: argument 'variance' must be >= 0")
        self.mean = self.variance = self.count = None

    def _channel_axis(self, rank):
        if self.axis is None:
            return None
        if not -rank <= self.axis < rank:
            raise ValueError(f"Normalization '{self.name}': axis {self.axis} is out of range "
                             f"for inputs of rank {rank}")
        return self.axis % rank

    def build(self, input_shape):
        """Create ``mean``, ``variance`` (one per feature) and ``count``."""
        axis = self._channel_axis(len(input_shape))
        size = () if axis is None else (input_shape[axis],)
        if None in size:
            raise ValueError(f"Normalization '{self.name}': the feature axis of "
                             f"{tuple(input_shape)} must be known")
        self.mean = self.add_weight(size, "zeros", "mean", trainable=False)
        self.variance = self.add_weight(size, "ones", "variance", trainable=False)
        self.count = self.add_weight((), "zeros", "count", trainable=False)
        if self._given is not None:
            self.mean.assign(np.broadcast_to(self._given[0], size))
            self.variance.assign(np.broadcast_to(self._given[1], size))
        super().build(input_shape)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the mean and variance of ``data`` (every axis but ``axis`` reduced).

        Args:
            data (array-like or iterator or Sequence): the samples, or a batch source
                (a generator, an ``ImageDataset``) yielding arrays or ``(x, y)`` batches.
            batch_size (int or None): unused (the statistics are exact for any batching).
            steps (int or None): the most batches to read from a batch source.
        """
        if not (hasattr(data, "shape") or isinstance(data, (list, tuple))):  # batches
            batches = (b[0] if isinstance(b, tuple) else b for b in data)
            if steps is not None:
                batches = (b for _, b in zip(range(steps), batches))
            batches = list(batches)
        else:
            batches = [np.asarray(data)]
        first = np.asarray(batches[0]) if batches else np.empty((0,))
        if not self.built:  # the declared input shape first, as Keras's build
            self.build(self.input_shape_arg or (None,) + first.shape[1:])
        axis = self._channel_axis(first.ndim)
        axes = tuple(a for a in range(first.ndim) if a != axis)
        count, mean, variance = _moments(batches, axes)
        self.mean.assign(mean.reshape(self.mean.shape))
        self.variance.assign(variance.reshape(self.variance.shape))
        self.count.assign(np.asarray(float(count)))

    def _statistics(self, x):
        """``x`` as (rows, features) and the kernel's mean and variance (the variance
        floored so that its square root is at least 1e-7, Keras's denominator)."""
        floor = backend.epsilon() ** 2
        mean = self.mean.value.reshape(-1).astype(x.dtype)
        variance = np.maximum(self.variance.value.reshape(-1), floor).astype(x.dtype)
        return mean, variance

    def _as_rows(self, x):
        return x.reshape(-1, 1) if self.axis is None else x

    def call(self, inputs, training=False):
        """The standardized inputs (or the inverse with ``invert``)."""
        mean, variance = self._statistics(inputs)
        rows = self._as_rows(inputs)
        axis = -1 if self.axis is None else self.axis
        self._cache = {"shape": inputs.shape}
        if self.invert:
            std = np.sqrt(variance)
            y = ops.batch_normalization(rows, -mean / std, np.ones_like(variance), axis,
                                        scale=std, epsilon=0.0)
        else:
            y = ops.batch_normalization(rows, mean, variance, axis, epsilon=0.0)
        return y.reshape(inputs.shape)

    def backward(self, dy):
        """``dy / sqrt(variance)`` (``dy * sqrt(variance)`` with ``invert``)."""
        shape = self._need_cache("shape")
        mean, variance = self._statistics(dy)
        factor = np.sqrt(variance) if self.invert else 1 / np.sqrt(variance)
        axis = -1 if self.axis is None else self.axis
        scaled = ops.batch_normalization(self._as_rows(dy), np.zeros_like(mean),
                                         np.ones_like(variance), axis, scale=factor,
                                         epsilon=0.0)
        return scaled.reshape(shape)

    def get_config(self):
        """Constructor arguments (the statistics are weights, saved with them)."""
        config = super().get_config()
        config.update(axis=self.axis, invert=self.invert)
        return config
