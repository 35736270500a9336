"""PReLU: a leaky ReLU whose negative slope is learned (``keras.layers.PReLU``)."""
import numpy as np

from minidl import constraints, initializers, ops, regularizers
from minidl.layers.base import Layer


class PReLU(Layer):
    """Parametric ReLU: ``x`` where positive, else ``alpha * x``, with a trainable
    ``alpha`` per input position (He et al. 2015; ``keras.layers.PReLU``).

    Args:
        alpha_initializer (str or Initializer or dict or callable): initializer of
            ``alpha`` (default zeros: the layer starts as a ReLU).
        alpha_regularizer (str or Regularizer or dict or None): a penalty on ``alpha``.
        alpha_constraint (str or Constraint or dict or None): a constraint on ``alpha``.
        shared_axes (int or list of ints or None): axes (1-based, the batch axis is 0)
            along which ``alpha`` is shared, e.g. ``[1, 2]`` for one slope per channel of
            images.
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's. Weights: ``alpha`` of
    the input's shape without the batch axis (1 along the shared axes).

    Call arguments:
        inputs (numpy.ndarray): the input.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> prelu = layers.PReLU(alpha_initializer="ones", shared_axes=[1])
        >>> prelu.build((None, 3, 2))
        >>> prelu.alpha.value[...] = 0.25
        >>> prelu(np.array([[[-4.0, 2.0], [1.0, -1.0], [0.0, 3.0]]]))[0]
        array([[-1.  ,  2.  ],
               [ 1.  , -0.25],
               [ 0.  ,  3.  ]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        axes = [] if shared_axes is None else \
            [shared_axes] if isinstance(shared_axes, int) else list(shared_axes)
        if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
            raise ValueError(f"PReLU: argument 'shared_axes' must hold axes >= 1 (the batch "
                             f"axis is 0). Received: {shared_axes!r}")
        self.shared_axes = axes
        self.alpha = None

    def build(self, input_shape):
        """Create ``alpha`` (1 along the shared axes)."""
        shape = list(input_shape[1:])
        for axis in self.shared_axes:
            if axis > len(shape):
                raise ValueError(f"PReLU '{self.name}': shared axis {axis} is beyond inputs of "
                                 f"shape {tuple(input_shape)}")
            shape[axis - 1] = 1
        if None in shape:
            raise ValueError(f"PReLU '{self.name}': every axis that is not shared must be "
                             f"known. Received: shape {tuple(input_shape)}")
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, "alpha",
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        super().build(input_shape)

    def _slopes(self, shape):
        """``alpha`` broadcast to a batch of ``shape`` (contiguous, for the C kernels)."""
        return np.ascontiguousarray(np.broadcast_to(self.alpha.value, shape))

    def call(self, inputs, training=False):
        """``relu(x) + alpha * min(x, 0)``."""
        positive = ops.relu(inputs)
        negative = ops.add(inputs, ops.scale(positive, -1.0))  # min(x, 0)
        self._cache = {"negative": negative, "positive": positive}
        return ops.add(positive, ops.multiply(self._slopes(inputs.shape), negative))

    def backward(self, dy):
        """``alpha``'s gradient into ``.grad``; the input's: ``dy`` where positive, else
        ``alpha * dy``."""
        negative, positive = self._need_cache("negative"), self._need_cache("positive")
        axes = (0,) + tuple(self.shared_axes)
        self.alpha.grad = np.sum(ops.multiply(dy, negative), axis=axes,
                                 keepdims=True)[0].astype(dy.dtype)
        slope = np.where(positive > 0, dy.dtype.type(1), self._slopes(dy.shape))
        return ops.multiply(dy, np.ascontiguousarray(slope, dtype=dy.dtype))

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(alpha_initializer=initializers.serialize(self.alpha_initializer),
                      alpha_regularizer=None if self.alpha_regularizer is None
                      else regularizers.serialize(self.alpha_regularizer),
                      alpha_constraint=None if self.alpha_constraint is None
                      else constraints.serialize(self.alpha_constraint),
                      shared_axes=self.shared_axes or None)
        return config
