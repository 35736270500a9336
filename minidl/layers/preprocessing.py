"""Resizing: bilinear image resizing as a layer."""
import numpy as np

from minidl import ops
from minidl.layers.base import Layer


def _interpolation_matrix(out_size, in_size, dtype):
    """The (out, in) matrix of 1-D bilinear resizing with half-pixel centres, the
    transpose of which carries gradients back."""
    src = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    src = np.clip(src, 0, in_size - 1)
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    frac = src - low
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, low), 1 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix.astype(dtype)


class Resizing(Layer):
    """Resizes NHWC images to ``(height, width)`` bilinearly (half-pixel centres, no
    antialiasing: TF2's and PyTorch's ``align_corners=False`` convention).

    Args:
        height: output height.
        width: output width.
        interpolation: only ``'bilinear'``.
        crop_to_aspect_ratio: only False.
        **kwargs: Layer arguments.
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 **kwargs):
        super().__init__(**kwargs)
        for argument, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Resizing: argument '{argument}' must be a positive "
                                 f"integer, received {value!r}")
        if interpolation != "bilinear":
            raise ValueError(f"Resizing: only interpolation='bilinear' is supported, "
                             f"received {interpolation!r}")
        if crop_to_aspect_ratio:
            raise ValueError("Resizing: crop_to_aspect_ratio=True is not supported")
        self.height, self.width = height, width
        self.interpolation = interpolation

    def build(self, input_shape):
        """Check the rank (no weights)."""
        if len(input_shape) != 4:
            raise ValueError(f"Resizing '{self.name}': the input must have rank 4, "
                             f"received shape {tuple(input_shape)}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, height, width, channels)``."""
        return (input_shape[0], self.height, self.width, input_shape[3])

    def call(self, inputs, training=False):
        """The resized images (C kernel)."""
        self._cache = {"shape": inputs.shape}
        return ops.resize(inputs, (self.height, self.width))

    def backward(self, dy):
        """Gradient of the resize: the transposed interpolation along each axis."""
        n, h, w, c = self._need_cache("shape")
        dy = np.asarray(dy)
        rows = _interpolation_matrix(self.height, h, dy.dtype)
        cols = _interpolation_matrix(self.width, w, dy.dtype)
        return np.einsum("oh,nopc,pw->nhwc", rows, dy, cols, optimize=True)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(height=self.height, width=self.width, interpolation=self.interpolation)
        return config
