"""A ``Sequential`` model used as a layer of another ``Sequential`` model, as Keras allows
(``keras.Sequential([augmentation, Conv2D(...), ...])`` with ``augmentation`` itself a
``Sequential``).

The outer model holds a :class:`NestedModel` that runs the inner model's layers (their
``call`` forward, their ``backward`` in reverse) and exposes their weights, so the inner
model shares its weights with the outer one; ``outer.layers`` shows the inner model
itself. Saved configs carry the inner model under ``class_name: "Sequential"``, as
Keras's do.
"""
from minidl.layers import register as register_layer
from minidl.layers.base import Layer
from minidl.models.sequential import Sequential, register_model_as_layer


class NestedModel(Layer):
    """The layer that stands for a ``Sequential`` model inside another.

    Args:
        model (Sequential): the inner model (a plain ``Sequential``: functional and
            subclassed models raise TypeError).

    Example:
        >>> from minidl import layers, models
        >>> block = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="relu")])
        >>> model = models.Sequential([layers.Input((4,)), block, layers.Dense(1)])
        >>> type(model.layers[0]).__name__, model.output_shape
        ('Sequential', (None, 1))
    """

    # what serialize() writes as the class name: the inner model's, as Keras does
    _keras_class_name = "Sequential"

    def __init__(self, model):
        if not isinstance(model, Sequential) or type(model)._forward is not \
                Sequential._forward:
            raise TypeError(f"NestedModel: only a Sequential model can be a layer of another "
                            f"model (functional models: call them on tensors is not "
                            f"implemented). Received: {type(model).__name__}")
        super().__init__(name=model.name, trainable=model.trainable)
        self.model = model
        self._input_gradient = True
        if model.built:
            self.build(model._build_input_shape)

    @property
    def weights(self):
        """The inner model's weights (shared with it)."""
        return self.model.weights

    @property
    def trainable_weights(self):
        """The inner model's trainable weights."""
        return self.model.trainable_weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        """The inner model's other weights."""
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    @property
    def input_gradient(self):
        """Whether the outer model needs the gradient of this layer's input; the inner
        layers follow it (with the inner model's own rule after its first weights)."""
        return self._input_gradient

    @input_gradient.setter
    def input_gradient(self, value):
        self._input_gradient = bool(value)
        inner = self.model._layers
        for i, layer in enumerate(inner):
            if hasattr(layer, "input_gradient"):
                layer.input_gradient = self._input_gradient or \
                    any(earlier.weights for earlier in inner[:i])

    def build(self, input_shape):
        """Build the inner model for ``input_shape``."""
        self.model.build(tuple(input_shape))
        self.input_gradient = self._input_gradient
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """The inner model's output shape."""
        shape = tuple(input_shape)
        for layer in self.model._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def call(self, inputs, training=False):
        """The inner layers, in order."""
        x = inputs
        for layer in self.model._layers:
            x = layer(x, training=training)
        return x

    def backward(self, dy):
        """The inner layers' backward, in reverse (None once no gradient is needed)."""
        for layer in reversed(self.model._layers):
            dy = layer.backward(dy)
            if dy is None:
                return None
        return dy

    def get_config(self):
        """The inner model's config."""
        return self.model.get_config()

    @classmethod
    def from_config(cls, config):
        """The layer of a saved inner ``Sequential`` config."""
        return cls(Sequential.from_config(config))


register_layer("Sequential", NestedModel)
register_model_as_layer(NestedModel)
