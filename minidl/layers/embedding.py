"""Embedding: integer indices to dense vectors (``keras.layers.Embedding``)."""
import numpy as np

from minidl import constraints, initializers, ops, regularizers
from minidl.layers.base import Layer, positive_int


class Embedding(Layer):
    """Turns integer indices into dense vectors: row ``i`` of a trainable
    ``(input_dim, output_dim)`` table for index ``i`` (``keras.layers.Embedding``).

    Args:
        input_dim (int): the vocabulary size (indices are in ``[0, input_dim)``).
        output_dim (int): the vector length.
        embeddings_initializer (str or Initializer or dict or callable): initializer of
            the table (default ``'uniform'``: uniform in [-0.05, 0.05]).
        embeddings_regularizer (str or Regularizer or dict or None): a
            ``minidl.regularizers`` penalty on the table.
        embeddings_constraint (str or Constraint or dict or None): a
            ``minidl.constraints`` constraint on the table.
        mask_zero (bool): index 0 is padding: the layer's output carries a mask (False at
            those steps) that the recurrent layers and GlobalAveragePooling1D skip, as
            Keras's masking.
        input_length (int or None): Keras 2's argument, accepted (the shape follows the
            input).
        **kwargs: Layer arguments.

    Input shape: integer indices of any shape ``(batch, ...)`` (integral floats are
    accepted). Output shape: ``(batch, ..., output_dim)``. The layer passes no gradient to
    its input (indices are not differentiable).

    Call arguments:
        inputs (numpy.ndarray): the integer indices, each in ``[0, input_dim)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> embed = layers.Embedding(10, 4)
        >>> embed(np.array([[1, 2, 1]])).shape, embed.embeddings.shape
        ((1, 3, 4), (10, 4))
        >>> bool(np.array_equal(embed(np.array([[3]]))[0, 0], embed.embeddings.value[3]))
        True
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 input_length=None, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, "Embedding", "input_dim")
        self.output_dim = positive_int(output_dim, "Embedding", "output_dim")
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.input_length = input_length
        self.embeddings = None

    def build(self, input_shape):
        """Create the ``(input_dim, output_dim)`` table."""
        self.embeddings = self.add_weight((self.input_dim, self.output_dim),
                                          self.embeddings_initializer, "embeddings",
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        super().build(input_shape)

    def _check_input(self, x):
        """Any shape of indices fits the table (as in Keras: no fixed sequence length)."""

    def compute_output_shape(self, input_shape):
        """The input's shape with ``output_dim`` appended."""
        return tuple(input_shape) + (self.output_dim,)

    def call(self, inputs, training=False):
        """The table's rows at the indices."""
        self._cache = {"indices": inputs}
        return ops.embedding(inputs, self.embeddings.value)

    def backward(self, dy):
        """The table's gradient into ``.grad``; no input gradient (None)."""
        self.embeddings.grad = ops.embedding_backward(dy, self._need_cache("indices"),
                                                      self.embeddings.value.shape)
        return None

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(input_dim=self.input_dim, output_dim=self.output_dim,
                      embeddings_initializer=initializers.serialize(
                          self.embeddings_initializer),
                      embeddings_regularizer=None if self.embeddings_regularizer is None
                      else regularizers.serialize(self.embeddings_regularizer),
                      embeddings_constraint=None if self.embeddings_constraint is None
                      else constraints.serialize(self.embeddings_constraint),
                      mask_zero=self.mask_zero)
        return config

    @property
    def _makes_mask(self):
        return self.mask_zero

    def compute_mask(self, inputs, mask=None):
        """With ``mask_zero``: True where the index is not 0 (index 0 is padding, as
        ``pad_sequences`` writes it), for the layers after it; else None."""
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0
