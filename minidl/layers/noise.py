"""Regularization noise layers, active in training only: GaussianNoise (additive) and
GaussianDropout (multiplicative), as ``keras.layers``."""
import numpy as np

from minidl import ops, random_state
from minidl.layers.base import Layer, dropout_rate
from minidl.ops._checks import bounded_number


class _Noise(Layer):
    """A training-only noise with its own seeded generator (the model restores it after
    a failed step, as Dropout's)."""

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._generator = random_state.generator_for(seed) if seed is not None else None

    def _normal(self, shape, dtype, scale):
        generator = self._generator or random_state.global_generator()
        return (generator.standard_normal(shape) * scale).astype(dtype)

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config


class GaussianNoise(_Noise):
    """Adds zero-mean Gaussian noise in training (``keras.layers.GaussianNoise``); the
    identity at inference.

    Args:
        stddev (float): the noise's standard deviation (>= 0).
        seed (int or None): the seed of this layer's own generator (None: minidl's
            global generator).
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the input.
        training (bool): add the noise when True.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> noisy = layers.GaussianNoise(0.1, seed=0)
        >>> x = np.zeros((1000, 10))
        >>> round(float(noisy(x, training=True).std()), 1), float(noisy(x).std())
        (0.1, 0.0)
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = bounded_number(stddev, "stddev", "GaussianNoise", 0.0)

    def call(self, inputs, training=False):
        """The input, plus noise in training."""
        if not training or self.stddev == 0:
            return inputs
        return ops.add(inputs, self._normal(inputs.shape, inputs.dtype, self.stddev))

    def backward(self, dy):
        """The output's gradient (the noise is a constant)."""
        return dy

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config["stddev"] = self.stddev
        return config


class GaussianDropout(_Noise):
    """Multiplies the input by ``1 + N(0, rate / (1 - rate))`` noise in training
    (``keras.layers.GaussianDropout``); the identity at inference.

    Args:
        rate (float): the drop probability the noise stands for, in [0, 1).
        seed (int or None): the seed of this layer's own generator (None: minidl's
            global generator).
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the input.
        training (bool): apply the noise when True.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> noisy = layers.GaussianDropout(0.5, seed=0)
        >>> y = noisy(np.ones((1000, 10)), training=True)
        >>> round(float(y.mean()), 1), round(float(y.std()), 1)
        (1.0, 1.0)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = dropout_rate(rate, "GaussianDropout", "rate")

    def call(self, inputs, training=False):
        """The input times the noise in training; keeps the noise for the backward."""
        if not training or self.rate == 0:
            self._cache = {"noise": None}
            return inputs
        noise = self._normal(inputs.shape, inputs.dtype,
                             np.sqrt(self.rate / (1.0 - self.rate))) + inputs.dtype.type(1)
        self._cache = {"noise": noise}
        return ops.multiply(inputs, noise)

    def backward(self, dy):
        """The output's gradient times the noise."""
        noise = self._need_cache("noise")
        return dy if noise is None else ops.multiply(dy, noise)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config["rate"] = self.rate
        return config
