"""Masking: marks the steps whose features all equal ``mask_value`` as padding
(``keras.layers.Masking``)."""
import numpy as np

from minidl import ops
from minidl.layers.base import Layer


class Masking(Layer):
    """Marks as padding every step whose features all equal ``mask_value``: those steps
    are zeroed and carry a mask that the recurrent layers and GlobalAveragePooling1D
    skip (``keras.layers.Masking``).

    Args:
        mask_value (float): the value that marks a padded step.
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, features)``. Output shape: the same.

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.array([[[0.0, 0.0], [1.0, 2.0]]])
        >>> masking = layers.Masking(0.0)
        >>> masking.compute_mask(x)
        array([[False,  True]])
    """

    supports_masking = True
    _makes_mask = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs, mask=None):
        """True at the steps with a feature other than ``mask_value``."""
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def call(self, inputs, training=False):
        """The inputs with the padded steps zeroed."""
        kept = np.ascontiguousarray(np.broadcast_to(
            self.compute_mask(inputs)[..., None], inputs.shape).astype(inputs.dtype))
        self._cache = {"kept": kept}
        return ops.multiply(inputs, kept)

    def backward(self, dy):
        """The gradient of the kept steps (zero at the padded ones)."""
        return ops.multiply(dy, self._need_cache("kept"))

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
