"""Random image augmentation layers, as Keras's: RandomFlip, RandomRotation, RandomZoom
and RandomTranslation. Active in training only (inference passes the images through);
each image of a batch gets its own draw, from the layer's own generator when it has a
``seed``, else from minidl's global one (``utils.set_random_seed``). The images are
warped by the C core's bilinear ``ops.affine_warp`` (flips by ``ops.flip_left_right``).

They sit at a model's input, where no input gradient is needed; a flip also passes
gradients back (flipped the same way), and the others, in training, only as the first
layer.
"""
import math
import numbers

import numpy as np

from minidl import ops, random_state
from minidl.layers.base import Layer

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _factor_range(value, name, where, symmetric=True):
    """A Keras factor: a number f (the range [-f, f], or [0, f] when not symmetric) or a
    (lower, upper) pair."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        low, high = (-float(value), float(value)) if symmetric else (0.0, float(value))
    else:
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: argument '{name}' must be a number or a (lower, "
                             f"upper) pair. Received: {value!r}") from None
    if low > high or not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{where}: argument '{name}' must have lower <= upper, both "
                         f"finite. Received: {value!r}")
    return low, high


class _RandomImageLayer(Layer):
    """Shared parts: the generator, the fill arguments, the training switch, backward."""

    def __init__(self, seed=None, fill_mode="reflect", fill_value=0.0, interpolation="bilinear",
                 **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        if fill_mode not in _FILL_MODES:
            raise ValueError(f"{where}: argument 'fill_mode' must be one of {_FILL_MODES}. "
                             f"Received: {fill_mode!r}")
        if interpolation != "bilinear":
            raise NotImplementedError(f"{where}: only interpolation='bilinear' is "
                                      f"implemented. Received: {interpolation!r}")
        self.seed, self.fill_mode, self.fill_value = seed, fill_mode, float(fill_value)
        self.interpolation = interpolation
        self._generator = random_state.generator_for(seed) if seed is not None else None
        self.input_gradient = True  # a model turns this off for its first layer

    def _rng(self):
        return self._generator or random_state.global_generator()

    def build(self, input_shape):
        """Check that the inputs are NHWC images (no weights)."""
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}': the inputs must be "
                             f"NHWC images (rank 4). Received: shape {tuple(input_shape)}")
        super().build(input_shape)

    def call(self, inputs, training=False):
        """The augmented images when training, else the images."""
        if not training:
            self._cache = {"identity": True}
            return inputs
        self._cache = {"identity": False}
        transforms = self._transforms(inputs.shape)
        return ops.affine_warp(inputs, transforms, fill_mode=self.fill_mode,
                               fill_value=self.fill_value)

    def backward(self, dy):
        """dy through an identity call; None as the first layer; otherwise the gradient
        of a random warp is not implemented."""
        if self._need_cache("identity"):
            return dy
        if not self.input_gradient:
            return None
        raise NotImplementedError(f"{type(self).__name__} '{self.name}': the gradient "
                                  f"through a random warp is not implemented; put the "
                                  f"layer first in the model")

    @staticmethod
    def _about_centre(matrix, height, width):
        """(n, 2, 3) transforms that apply the (n, 2, 2) ``matrix`` to (row, col) offsets
        from the image centre: output pixel -> input pixel, as ``ops.affine_warp`` takes."""
        centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
        offset = centre - np.einsum("nij,j->ni", matrix, centre)
        return np.concatenate([matrix, offset[:, :, None]], axis=2)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(seed=self.seed, fill_mode=self.fill_mode, fill_value=self.fill_value,
                      interpolation=self.interpolation)
        return config


class RandomFlip(_RandomImageLayer):
    """Flips each image with probability 1/2 per direction (``keras.layers.RandomFlip``).

    Args:
        mode (str): ``'horizontal'``, ``'vertical'`` or ``'horizontal_and_vertical'``.
        seed (int or None): the seed of the layer's own generator (None: minidl's global
            generator).
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)`` (NHWC images). Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): augment only when True (``fit``); the identity otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> flip = layers.RandomFlip("horizontal", seed=2)
        >>> flip(np.arange(4.0).reshape(1, 1, 4, 1), training=True).ravel()
        array([3., 2., 1., 0.], dtype=float32)
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip: argument 'mode' must be 'horizontal', 'vertical' "
                             f"or 'horizontal_and_vertical'. Received: {mode!r}")
        self.mode = mode

    def call(self, inputs, training=False):
        """Each image flipped left-right and/or up-down by its own coin."""
        if not training:
            self._cache = {"identity": True}
            return inputs
        n = inputs.shape[0]
        rng = self._rng()
        horizontal = rng.random(n) < 0.5 if self.mode != "vertical" else np.zeros(n, bool)
        vertical = rng.random(n) < 0.5 if self.mode != "horizontal" else np.zeros(n, bool)
        self._cache = {"identity": False, "horizontal": horizontal, "vertical": vertical}
        return self._flip(inputs, horizontal, vertical)

    def _flip(self, x, horizontal, vertical):
        y = ops.flip_left_right(x, horizontal)
        if vertical.any():  # an up-down flip: the exact warp of rows onto integer rows
            height = x.shape[1]
            transforms = np.zeros((x.shape[0], 2, 3))
            transforms[:, 0, 0] = np.where(vertical, -1.0, 1.0)
            transforms[:, 0, 2] = np.where(vertical, height - 1.0, 0.0)
            transforms[:, 1, 1] = 1.0
            y = ops.affine_warp(y, transforms, fill_mode="nearest")
        return y

    def backward(self, dy):
        """dy flipped back the same way."""
        if self._need_cache("identity"):
            return dy
        return self._flip(dy, self._cache["horizontal"], self._cache["vertical"])

    def get_config(self):
        """Adds ``mode``."""
        config = super().get_config()
        config["mode"] = self.mode
        return config


class RandomRotation(_RandomImageLayer):
    """Rotates each image by a random angle about its centre
    (``keras.layers.RandomRotation``): ``factor`` is a fraction of a full turn, positive
    counter-clockwise.

    Args:
        factor (float or tuple of 2 floats): f (angles in [-f, f] turns) or (lower, upper).
        fill_mode (str): ``'reflect'`` (Keras's default), ``'wrap'``, ``'constant'`` or
            ``'nearest'``.
        interpolation (str): only ``'bilinear'``.
        seed (int or None): the seed of the layer's own generator (None: minidl's global
            generator).
        fill_value (float): the value outside the image with ``fill_mode='constant'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)`` (NHWC images). Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): augment only when True (``fit``); the identity otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> images = np.ones((2, 8, 8, 3), np.float32)
        >>> layer = layers.RandomRotation(0.1, seed=0)
        >>> layer(images, training=True).shape
        (2, 8, 8, 3)
        >>> bool(np.array_equal(layer(images), images))  # inference: unchanged
        True
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(seed=seed, fill_mode=fill_mode, fill_value=fill_value,
                         interpolation=interpolation, **kwargs)
        self.factor = factor
        self._range = _factor_range(factor, "factor", "RandomRotation")

    def _transforms(self, shape):
        n, height, width = shape[0], shape[1], shape[2]
        angles = self._rng().uniform(*self._range, size=n) * 2 * np.pi
        cos, sin = np.cos(angles), np.sin(angles)
        # output offset (dr, dc) samples the input at (cos dr + sin dc, -sin dr + cos dc)
        matrix = np.stack([np.stack([cos, sin], 1), np.stack([-sin, cos], 1)], 1)
        return self._about_centre(matrix, height, width)

    def get_config(self):
        """Adds ``factor``."""
        config = super().get_config()
        config["factor"] = self.factor
        return config


class RandomZoom(_RandomImageLayer):
    """Zooms each image by a random factor about its centre (``keras.layers.RandomZoom``):
    the image is sampled at ``1 + z`` times its scale, z drawn from the factor's range, so
    positive values zoom out and negative values zoom in.

    Args:
        height_factor (float or tuple of 2 floats): f ([-f, f]) or (lower, upper) for the
            vertical zoom.
        width_factor (float or tuple of 2 floats or None): the same for the horizontal zoom;
            None zooms both axes by the vertical draw (the aspect ratio is kept).
        fill_mode (str): as :class:`RandomRotation`.
        interpolation (str): only ``'bilinear'``.
        seed (int or None): the seed of the layer's own generator (None: minidl's global
            generator).
        fill_value (float): the value outside the image with ``fill_mode='constant'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)`` (NHWC images). Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): augment only when True (``fit``); the identity otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> images = np.ones((2, 8, 8, 3), np.float32)
        >>> layers.RandomZoom(0.2, seed=0)(images, training=True).shape
        (2, 8, 8, 3)
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, fill_mode=fill_mode, fill_value=fill_value,
                         interpolation=interpolation, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _factor_range(height_factor, "height_factor", "RandomZoom")
        self._width = None if width_factor is None else \
            _factor_range(width_factor, "width_factor", "RandomZoom")

    def _transforms(self, shape):
        n = shape[0]
        rng = self._rng()
        zoom_h = 1.0 + rng.uniform(*self._height, size=n)
        zoom_w = zoom_h if self._width is None else 1.0 + rng.uniform(*self._width, size=n)
        matrix = np.zeros((n, 2, 2))
        matrix[:, 0, 0], matrix[:, 1, 1] = zoom_h, zoom_w
        return self._about_centre(matrix, shape[1], shape[2])

    def get_config(self):
        """Adds the factors."""
        config = super().get_config()
        config.update(height_factor=self.height_factor, width_factor=self.width_factor)
        return config


class RandomTranslation(_RandomImageLayer):
    """Shifts each image by a random fraction of its size
    (``keras.layers.RandomTranslation``): positive moves the content down / right.

    Args:
        height_factor (float or tuple of 2 floats): f ([-f, f]) or (lower, upper), fractions
            of the height.
        width_factor (float or tuple of 2 floats): the same for the width.
        fill_mode (str): as :class:`RandomRotation`.
        interpolation (str): only ``'bilinear'``.
        seed (int or None): the seed of the layer's own generator (None: minidl's global
            generator).
        fill_value (float): the value outside the image with ``fill_mode='constant'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)`` (NHWC images). Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): augment only when True (``fit``); the identity otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> images = np.ones((2, 8, 8, 3), np.float32)
        >>> layers.RandomTranslation(0.2, 0.2, seed=0)(images, training=True).shape
        (2, 8, 8, 3)
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, fill_mode=fill_mode, fill_value=fill_value,
                         interpolation=interpolation, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _factor_range(height_factor, "height_factor", "RandomTranslation")
        self._width = _factor_range(width_factor, "width_factor", "RandomTranslation")

    def _transforms(self, shape):
        n, height, width = shape[0], shape[1], shape[2]
        rng = self._rng()
        transforms = np.zeros((n, 2, 3))
        transforms[:, 0, 0] = transforms[:, 1, 1] = 1.0
        transforms[:, 0, 2] = -rng.uniform(*self._height, size=n) * height
        transforms[:, 1, 2] = -rng.uniform(*self._width, size=n) * width
        return transforms

    def get_config(self):
        """Adds the factors."""
        config = super().get_config()
        config.update(height_factor=self.height_factor, width_factor=self.width_factor)
        return config
