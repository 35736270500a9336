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
        height (int): output height.
        width (int): output width.
        interpolation (str): only ``'bilinear'``.
        crop_to_aspect_ratio (bool): only False.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)`` (NHWC). Output shape: ``(batch, height, width, C)``.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Resizing(4, 6)(np.zeros((1, 8, 12, 3))).shape
        (1, 4, 6, 3)
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 **kwargs):
        super().__init__(**kwargs)
        for argument, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Resizing: argument '{argument}' must be a positive "
                                 f"integer. Received: {value!r}")
        if interpolation != "bilinear":
            raise ValueError(f"Resizing: only interpolation='bilinear' is supported. "
                             f"Received: {interpolation!r}")
        if crop_to_aspect_ratio:
            raise ValueError("Resizing: crop_to_aspect_ratio=True is not supported")
        self.height, self.width = height, width
        self.interpolation = interpolation

    def build(self, input_shape):
        """Check the rank (no weights)."""
        if len(input_shape) != 4:
            raise ValueError(f"Resizing '{self.name}': the input must have rank 4. "
                             f"Received: shape {tuple(input_shape)}")
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
        dy = ops.convert_to_numpy(dy)  # on the host: no kernel
        rows = _interpolation_matrix(self.height, h, dy.dtype)
        cols = _interpolation_matrix(self.width, w, dy.dtype)
        return np.einsum("oh,nopc,pw->nhwc", rows, dy, cols, optimize=True)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(height=self.height, width=self.width, interpolation=self.interpolation)
        return config


class Rescaling(Layer):
    """``inputs * scale + offset`` (``keras.layers.Rescaling``), e.g. ``1 / 255`` to bring
    pixels to [0, 1].

    Args:
        scale (float or array-like): a number, or a vector broadcast along the last
            axis (one value per channel).
        offset (float or array-like): a number, or a vector broadcast along the last
            axis (one value per channel).
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ..., C)`` (with vector factors, C is their length).
    Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Rescaling(1 / 255, offset=-0.5)(np.array([[0.0, 255.0]]))
        array([[-0.5,  0.5]], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = self._checked(scale, "scale")
        self.offset = self._checked(offset, "offset")

    @staticmethod
    def _checked(value, argument):
        array = np.asarray(value, dtype=np.float64)
        if array.ndim > 1 or not np.all(np.isfinite(array)):
            raise ValueError(f"Rescaling: argument '{argument}' must be a finite number or "
                             f"a vector of them. Received: {argument}={value!r}")
        return float(array) if array.ndim == 0 else array

    def build(self, input_shape):
        """Check that vector factors match the last axis."""
        for argument in ("scale", "offset"):
            value = getattr(self, argument)
            if not isinstance(value, float) and value.shape != (input_shape[-1],):
                raise ValueError(f"Rescaling '{self.name}': argument '{argument}' has "
                                 f"{value.shape[0]} values but the inputs have "
                                 f"{input_shape[-1]} channels")
        super().build(input_shape)

    def _vector(self, value, channels, dtype):
        return np.full(channels, value, dtype=dtype) if isinstance(value, float) else \
            value.astype(dtype)

    def call(self, inputs, training=False):
        """The rescaled inputs, in one pass per factor (C core)."""
        channels = inputs.shape[-1]
        scaled = ops.scale(inputs, self.scale) if isinstance(self.scale, float) else \
            ops.multiply(inputs, np.broadcast_to(self._vector(self.scale, channels,
                                                              inputs.dtype), inputs.shape))
        return ops.bias_add(scaled, self._vector(self.offset, channels, inputs.dtype))

    def backward(self, dy):
        """dy times the scale."""
        if isinstance(self.scale, float):
            return ops.scale(dy, self.scale)
        return ops.multiply(dy, np.broadcast_to(self.scale.astype(dy.dtype), dy.shape))

    def get_config(self):
        """Adds ``scale`` and ``offset``."""
        config = super().get_config()
        for argument in ("scale", "offset"):
            value = getattr(self, argument)
            config[argument] = value if isinstance(value, float) else value.tolist()
        return config
