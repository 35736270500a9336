"""BatchNormalization with Keras 3 semantics, LayerNormalization and GroupNormalization."""
import numbers

import numpy as np

from minidl import distribute, initializers, ops
from minidl.distribute import batchnorm as sync_batchnorm
from minidl.layers.base import Layer


class BatchNormalization(Layer):
    """Normalizes each channel with the batch statistics in training and the moving
    statistics at inference: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    In training (``fit``) the layer uses the batch mean and the **biased** batch variance
    and updates ``moving = moving * momentum + batch * (1 - momentum)``. In
    ``evaluate``/``predict`` it uses the moving statistics. ``trainable = False`` freezes
    gamma and beta **and** runs the layer in inference mode, as in Keras 3.

    Args:
        axis (int): the channel axis (default -1, the last).
        momentum (float): momentum of the moving statistics, in [0, 1] (Keras
            convention, default 0.99).
        epsilon (float): added to the variance, > 0 (default 1e-3).
        center (bool): learn a shift ``beta``.
        scale (bool): learn a scale ``gamma``.
        beta_initializer (str or Initializer or dict or callable): initializer of beta
            (default zeros).
        gamma_initializer (str or Initializer or dict or callable): initializer of gamma
            (default ones).
        moving_mean_initializer (str or Initializer or dict or callable): initializer of the
            moving mean (default zeros).
        moving_variance_initializer (str or Initializer or dict or callable): initializer of
            the moving variance (default ones).
        **kwargs: Layer arguments.

    Input shape: any, e.g. ``(batch, features)`` or ``(batch, H, W, C)``.
    Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): batch statistics (and moving-statistics updates) when True, the
            moving statistics when False (``predict``, ``evaluate``); the moving
            statistics in both cases when ``trainable`` is False.

    How and why it works, checked against NumPy step by step: :doc:`/batchnorm`.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> bn = layers.BatchNormalization()
        >>> x = np.random.default_rng(0).normal(5.0, 3.0, (256, 4)).astype("float32")
        >>> y = bn(x, training=True)
        >>> bool(np.allclose(y.mean(axis=0), 0, atol=1e-5)), bool(np.allclose(y.std(axis=0), 1, atol=1e-3))
        (True, True)
        >>> [w.name for w in bn.weights]
        ['gamma', 'beta', 'moving_mean', 'moving_variance']
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"BatchNormalization: argument 'axis' must be an int. "
                             f"Received: {axis!r}")
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: argument 'momentum' must be in [0, 1]. "
                             f"Received: {momentum!r}")
        if not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"BatchNormalization: argument 'epsilon' must be positive. "
                             f"Received: {epsilon!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        """Create gamma, beta (trainable), moving_mean and moving_variance (not)."""
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} is not a "
                             f"feature axis of an input of shape {tuple(input_shape)}")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"BatchNormalization '{self.name}': the channel axis must be "
                             f"known. Received: shape {tuple(input_shape)}")
        shape = (channels,)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, "gamma")
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, "beta")
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, "moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               "moving_variance", trainable=False)
        super().build(input_shape)

    def _value(self, variable):
        return None if variable is None else variable.value

    def call(self, inputs, training=False):
        """Batch statistics when training (and trainable), else moving statistics."""
        gamma, beta = self._value(self.gamma), self._value(self.beta)
        synchronized = distribute.active()
        if training and self.trainable and synchronized is not None and \
                synchronized.sync_batchnorm:
            y, self._cache = sync_batchnorm.forward(self, inputs, synchronized)
        elif training and self.trainable:
            y, mean, var = ops.batch_norm_train(
                inputs, gamma, beta, self.moving_mean.value, self.moving_variance.value,
                momentum=self.momentum, epsilon=self.epsilon, axis=self.axis)
            self._cache = {"x": inputs, "mean": mean, "var": var, "training": True}
        else:
            y = ops.batch_normalization(inputs, self.moving_mean.value,
                                        self.moving_variance.value, axis=self.axis,
                                        offset=beta, scale=gamma, epsilon=self.epsilon)
            self._cache = {"x": inputs, "training": False}
        return y

    def backward(self, dy):
        """Input gradient; gamma/beta gradients into ``.grad``."""
        x = self._need_cache("x")
        gamma = self._value(self.gamma)
        if self._cache.get("synchronized"):
            dx, dgamma, dbeta = sync_batchnorm.backward(self, dy, self._cache,
                                                        distribute.active())
        elif self._cache["training"]:
            dx, dgamma, dbeta = ops.batch_norm_train_backward(
                dy, x, self._cache["mean"], self._cache["var"], gamma,
                epsilon=self.epsilon, axis=self.axis)
        else:
            dx, dgamma, dbeta = ops.batch_normalization_backward(
                dy, x, self.moving_mean.value, self.moving_variance.value, axis=self.axis,
                scale=gamma, epsilon=self.epsilon)
        if self.gamma is not None:
            self.gamma.grad = dgamma
        if self.beta is not None:
            self.beta.grad = dbeta
        return dx

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
            scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=initializers.serialize(
                self.moving_variance_initializer))
        return config


class _SampleNormalization(Layer):
    """What LayerNormalization and GroupNormalization share: per-sample statistics over
    a group of values, then ``gamma``/``beta`` per feature (the last axis).

    The statistics and the gradients run on the C batch-norm kernels applied to a
    "columns" view of the input (``_to_columns``: one column per normalized group, one
    row per value in it); the per-feature affine map is batch norm's inference kernel
    with mean 0 and variance 1."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        if axis not in (-1, [-1], (-1,)):
            raise NotImplementedError(f"{where}: only axis=-1 (the last, channels_last) is "
                                      f"implemented. Received: axis={axis!r}")
        self.axis = -1
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or \
                not epsilon > 0:
            raise ValueError(f"{where}: argument 'epsilon' must be positive. "
                             f"Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma = self.beta = None

    def build(self, input_shape):
        """Create gamma and beta (one per feature)."""
        features = input_shape[-1]
        if len(input_shape) < 2 or features is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the last axis must be "
                             f"known. Received: shape {tuple(input_shape)}")
        self._check_features(input_shape)
        if self.scale:
            self.gamma = self.add_weight((features,), self.gamma_initializer, "gamma")
        if self.center:
            self.beta = self.add_weight((features,), self.beta_initializer, "beta")
        super().build(input_shape)

    def _check_features(self, input_shape):
        """Refuse an input the grouping cannot split (subclasses)."""

    def call(self, inputs, training=False):
        """The normalized, scaled and shifted inputs."""
        features = inputs.shape[-1]
        columns = self._to_columns(inputs)
        x_hat_t, mean, var = ops.batch_norm_train(columns, None, None, None, None,
                                                  epsilon=self.epsilon)
        x_hat = self._from_columns(x_hat_t, inputs.shape)
        y = ops.batch_normalization(x_hat, *self._unit_statistics(features), axis=-1,
                                    offset=self._value(self.beta),
                                    scale=self._value(self.gamma), epsilon=0.0)
        self._cache = {"columns": columns, "x_hat": x_hat, "mean": mean, "var": var,
                       "shape": inputs.shape}
        return y

    @staticmethod
    def _unit_statistics(features):
        return np.zeros(features, np.float32), np.ones(features, np.float32)

    @staticmethod
    def _value(variable):
        return None if variable is None else variable.value

    def backward(self, dy):
        """Input gradient; gamma/beta gradients into ``.grad``."""
        cache = self._need_cache("columns")
        x_hat, shape = self._cache["x_hat"], self._cache["shape"]
        dx_hat, dgamma, dbeta = ops.batch_normalization_backward(
            dy.reshape(x_hat.shape), x_hat, *self._unit_statistics(x_hat.shape[-1]),
            axis=-1, scale=self._value(self.gamma), epsilon=0.0)
        if self.beta is not None:
            self.beta.grad = dbeta
        if self.gamma is not None:
            self.gamma.grad = dgamma
        dx_t, _, _ = ops.batch_norm_train_backward(self._to_columns(dx_hat), cache,
                                                   self._cache["mean"], self._cache["var"],
                                                   None, epsilon=self.epsilon)
        return self._from_columns(dx_t, shape)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(axis=self.axis, epsilon=self.epsilon, center=self.center,
                      scale=self.scale,
                      beta_initializer=initializers.serialize(self.beta_initializer),
                      gamma_initializer=initializers.serialize(self.gamma_initializer))
        return config


class LayerNormalization(_SampleNormalization):
    """Normalizes each sample over its last axis (its features), in training and at
    inference alike: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean
    and the biased variance of that sample's features (``keras.layers.LayerNormalization``
    with ``axis=-1``). Unlike batch normalization it keeps no moving statistics and does
    not depend on the other samples of the batch.

    The statistics and the gradients run on the C batch-norm kernels, applied to the
    transposed ``(features, positions)`` view, where each sample position is a channel.

    Args:
        axis (int or tuple of ints): the normalized axis; only -1 (the last; ``[-1]`` and
            ``(-1,)`` are accepted too).
        epsilon (float): added to the variance, > 0 (default 1e-3).
        center (bool): learn a shift ``beta`` per feature.
        scale (bool): learn a scale ``gamma`` per feature.
        beta_initializer (str or Initializer or dict or callable): initializer of beta
            (default zeros).
        gamma_initializer (str or Initializer or dict or callable): initializer of gamma
            (default ones).
        **kwargs: Layer arguments.

    Input shape: ``(batch, ..., features)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused (the same computation in training and inference).

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> ln = layers.LayerNormalization()
        >>> y = ln(np.array([[1.0, 2.0, 3.0, 6.0]]))
        >>> bool(abs(float(y.mean())) < 1e-6), round(float(y.std()), 3)
        (True, 1.0)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         **kwargs)

    @staticmethod
    def _to_columns(x):
        """(features, positions): each position of each sample is a column."""
        return ops.transpose(x.reshape(-1, x.shape[-1]))

    @staticmethod
    def _from_columns(columns, shape):
        return ops.transpose(columns).reshape(shape)


class GroupNormalization(_SampleNormalization):
    """Normalizes each sample over groups of its channels (``keras.layers.GroupNormalization``
    with ``axis=-1``): the channels (the last axis) are split into ``groups`` contiguous
    groups, and every value of a group -- all positions, all its channels -- is normalized
    with that sample's group mean and biased variance, in training and at inference alike;
    then ``gamma``/``beta`` per channel. ``groups=1`` normalizes each sample as a whole;
    ``groups=-1`` (one channel per group) is instance normalization. Like
    LayerNormalization it keeps no moving statistics and does not depend on the batch.

    Args:
        groups (int): the number of groups (default 32; -1: one per channel); must
            divide the channels.
        axis (int or tuple of ints): the channel axis; only -1 (the last,
            ``channels_last``; ``[-1]`` and ``(-1,)`` are accepted too).
        epsilon (float): added to the variance, > 0 (default 1e-3).
        center (bool): learn a shift ``beta`` per channel.
        scale (bool): learn a scale ``gamma`` per channel.
        beta_initializer (str or Initializer or dict or callable): initializer of beta
            (default zeros).
        gamma_initializer (str or Initializer or dict or callable): initializer of gamma
            (default ones).
        **kwargs: Layer arguments.

    Input shape: ``(batch, ..., channels)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused (the same computation in training and inference).

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> gn = layers.GroupNormalization(groups=2)
        >>> y = gn(np.array([[[1.0, 3.0, 10.0, 30.0], [3.0, 1.0, 30.0, 10.0]]]))
        >>> y[0, :, :2].round(3)
        array([[-1.,  1.],
               [ 1., -1.]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or \
                (groups < 1 and groups != -1):
            raise ValueError(f"GroupNormalization: argument 'groups' must be a positive "
                             f"integer or -1. Received: groups={groups!r}")
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         **kwargs)
        self.groups = int(groups)

    def _check_features(self, input_shape):
        channels = input_shape[-1]
        if self.groups != -1 and (self.groups > channels or channels % self.groups):
            raise ValueError(f"GroupNormalization '{self.name}': the number of groups "
                             f"({self.groups}) must divide the number of channels "
                             f"({channels}). Received: input shape {tuple(input_shape)}")

    def _group_count(self, channels):
        return channels if self.groups == -1 else self.groups

    def _to_columns(self, x):
        """(positions * channels of a group, samples * groups): one column per group of
        each sample."""
        n, channels = x.shape[0], x.shape[-1]
        groups = self._group_count(channels)
        grouped = x.reshape(n, -1, groups, channels // groups)  # (n, positions, g, c/g)
        moved = ops.transpose(grouped, (1, 3, 0, 2))            # (positions, c/g, n, g)
        return moved.reshape(-1, n * groups)

    def _from_columns(self, columns, shape):
        n, channels = shape[0], shape[-1]
        groups = self._group_count(channels)
        moved = columns.reshape(-1, channels // groups, n, groups)
        return ops.transpose(moved, (2, 0, 3, 1)).reshape(shape)

    def get_config(self):
        """Adds ``groups``."""
        config = super().get_config()
        config["groups"] = self.groups
        return config
