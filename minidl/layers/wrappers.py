"""TimeDistributed: applies a layer to every step of a sequence
(``keras.layers.TimeDistributed``)."""
from minidl.layers.base import Layer


def _layer_class(name):
    """The Layer subclass of that class name (searched among every defined subclass, so
    that this module needs no registry import)."""
    stack = [Layer]
    while stack:
        cls = stack.pop()
        if cls.__name__ == name or getattr(cls, "_keras_class_name", None) == name:
            return cls
        stack.extend(cls.__subclasses__())
    raise ValueError(f"TimeDistributed: unknown layer class {name!r}")


class TimeDistributed(Layer):
    """Applies ``layer`` to every step of a sequence: the batch and time axes are merged
    into one, so the layer sees ``(batch * steps, ...)`` and shares its weights over the
    steps (``keras.layers.TimeDistributed``).

    Args:
        layer (Layer): the layer applied at each step.
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, ...)``. Output shape: ``(batch, steps) +`` the layer's
    output shape for one step.

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): passed to the layer.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> each = layers.TimeDistributed(layers.Dense(2))
        >>> each(np.ones((4, 5, 3))).shape, [w.shape for w in each.weights]
        ((4, 5, 2), [(3, 2), (2,)])
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: argument 'layer' must be a Layer. Received: "
                            f"{type(layer).__name__}")
        kwargs.setdefault("name", "time_distributed_" + layer.name)
        super().__init__(**kwargs)
        self.layer = layer

    @property
    def input_gradient(self):
        """Whether the model needs the input's gradient (the inner layer follows it)."""
        return getattr(self.layer, "input_gradient", True)

    @input_gradient.setter
    def input_gradient(self, value):
        if hasattr(self.layer, "input_gradient"):
            self.layer.input_gradient = value

    def _inner_layers(self):
        return [self.layer]

    @staticmethod
    def _step_shape(input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed: the input must have rank 3 or more "
                             f"(batch, steps, ...). Received: shape {tuple(input_shape)}")
        return (None,) + tuple(input_shape[2:])

    def build(self, input_shape):
        """Build the layer for one step's shape; this layer's weights are its."""
        if not self.layer.built:
            self.layer.build(self._step_shape(input_shape))
        self._variables = self.layer.weights
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, steps) +`` the layer's output for one step."""
        step = tuple(self.layer.compute_output_shape(self._step_shape(input_shape)))
        return tuple(input_shape[:2]) + step[1:]

    def call(self, inputs, training=False):
        """The layer on the ``(batch * steps, ...)`` merge of the input."""
        batch, steps = inputs.shape[:2]
        merged = inputs.reshape((batch * steps,) + inputs.shape[2:])
        y = self.layer(merged, training=training)
        return y.reshape((batch, steps) + y.shape[1:])

    def backward(self, dy):
        """The layer's backward on the merged gradient."""
        batch, steps = dy.shape[:2]
        dx = self.layer.backward(dy.reshape((batch * steps,) + dy.shape[2:]))
        return None if dx is None else dx.reshape((batch, steps) + dx.shape[1:])

    def get_config(self):
        """The wrapped layer's config."""
        config = super().get_config()
        config["layer"] = {"class_name": getattr(self.layer, "_keras_class_name",
                                                 type(self.layer).__name__),
                           "config": self.layer.get_config()}
        return config

    @classmethod
    def from_config(cls, config):
        """The layer of ``get_config``'s output."""
        config = dict(config)
        inner = config.pop("layer")
        return cls(_layer_class(inner["class_name"]).from_config(inner["config"]), **config)
