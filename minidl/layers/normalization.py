"""BatchNormalization with Keras 3 semantics."""
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
        axis: the channel axis (default -1, the last).
        momentum: momentum of the moving statistics (Keras convention, default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: learn a shift ``beta``.
        scale: learn a scale ``gamma``.
        beta_initializer: initializer of beta (default zeros); likewise
            ``gamma_initializer`` (ones), ``moving_mean_initializer`` (zeros) and
            ``moving_variance_initializer`` (ones).
        **kwargs: Layer arguments.

    Input shape: any, e.g. ``(batch, features)`` or ``(batch, H, W, C)``.
    Output shape: the input's.

    Call arguments:
        inputs: the array.
        training: batch statistics (and moving-statistics updates) when True, the
            moving statistics when False (``predict``, ``evaluate``).

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


class LayerNormalization(Layer):
    """Normalizes each sample over its last axis (its features), in training and at
    inference alike: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean
    and the biased variance of that sample's features (``keras.layers.LayerNormalization``
    with ``axis=-1``). Unlike batch normalization it keeps no moving statistics and does
    not depend on the other samples of the batch.

    The statistics and the gradients run on the C batch-norm kernels, applied to the
    transposed ``(features, positions)`` view, where each sample position is a channel.

    Args:
        axis: the normalized axis; only -1 (the last).
        epsilon: added to the variance (default 1e-3).
        center: learn a shift ``beta`` per feature.
        scale: learn a scale ``gamma`` per feature.
        beta_initializer: initializer of beta (default zeros).
        gamma_initializer: initializer of gamma (default ones).
        **kwargs: Layer arguments.

    Input shape: ``(batch, ..., features)``. Output shape: the input's.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> ln = layers.LayerNormalization()
        >>> y = ln(np.array([[1.0, 2.0, 3.0, 6.0]]))
        >>> bool(abs(float(y.mean())) < 1e-6), round(float(y.std()), 3)
        (True, 1.0)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, [-1], (-1,)):
            raise NotImplementedError(f"LayerNormalization: only axis=-1 is implemented. "
                                      f"Received: axis={axis!r}")
        if not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"LayerNormalization: argument 'epsilon' must be positive. "
                             f"Received: epsilon={epsilon!r}")
        self.axis = -1
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma = self.beta = None

    def build(self, input_shape):
        """Create gamma and beta (one per feature)."""
        features = input_shape[-1]
        if len(input_shape) < 2 or features is None:
            raise ValueError(f"LayerNormalization '{self.name}': the last axis must be known. "
                             f"Received: shape {tuple(input_shape)}")
        if self.scale:
            self.gamma = self.add_weight((features,), self.gamma_initializer, "gamma")
        if self.center:
            self.beta = self.add_weight((features,), self.beta_initializer, "beta")
        super().build(input_shape)

    def call(self, inputs, training=False):
        """The normalized, scaled and shifted inputs."""
        features = inputs.shape[-1]
        # batch norm of the transposed (features, rows) array normalises each row
        columns = ops.transpose(inputs.reshape(-1, features))
        x_hat_t, mean, var = ops.batch_norm_train(columns, None, None, None, None,
                                                  epsilon=self.epsilon)
        x_hat = ops.transpose(x_hat_t)
        # then gamma and beta per feature: the affine map of batch norm's inference
        # kernel with mean 0 and variance 1
        y = ops.batch_normalization(x_hat, *self._unit_statistics(features), axis=-1,
                                    offset=self._value(self.beta),
                                    scale=self._value(self.gamma), epsilon=0.0)
        self._cache = {"columns": columns, "x_hat": x_hat, "mean": mean, "var": var,
                       "shape": inputs.shape}
        return y.reshape(inputs.shape)

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
        dy = dy.reshape(x_hat.shape)
        dx_hat, dgamma, dbeta = ops.batch_normalization_backward(
            dy, x_hat, *self._unit_statistics(x_hat.shape[-1]), axis=-1,
            scale=self._value(self.gamma), epsilon=0.0)
        if self.beta is not None:
            self.beta.grad = dbeta
        if self.gamma is not None:
            self.gamma.grad = dgamma
        dx_t, _, _ = ops.batch_norm_train_backward(ops.transpose(dx_hat), cache,
                                                   self._cache["mean"], self._cache["var"],
                                                   None, epsilon=self.epsilon)
        return ops.transpose(dx_t).reshape(shape)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(axis=self.axis, epsilon=self.epsilon, center=self.center,
                      scale=self.scale,
                      beta_initializer=initializers.serialize(self.beta_initializer),
                      gamma_initializer=initializers.serialize(self.gamma_initializer))
        return config
