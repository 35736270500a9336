"""MaxPooling2D and AveragePooling2D over NHWC images."""

from minidl import ops
from minidl.layers.base import Layer
from minidl.layers.convolutional import _padding, _pair, spatial_output_shape


class _Pooling2D(Layer):
    """Shared arguments and shapes of the 2-D pooling layers.

    Args:
        pool_size (int or tuple of 2 ints): the window (default 2).
        strides (int or tuple of 2 ints or None): the steps (None: ``pool_size``).
        padding (str): ``'valid'`` (default) or ``'same'``; padded cells are ignored.
        data_format (str or None): None or ``'channels_last'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, H_out, W_out, C)`` with
    Keras's sizes (as Conv2D's, with the pool as the window).

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> layers.MaxPooling2D()(x)[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
        >>> layers.AveragePooling2D(pool_size=4)(x).shape
        (1, 1, 1, 1)
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{cls}: only data_format='channels_last' is supported. "
                             f"Received: {data_format!r}")
        self.pool_size = _pair(pool_size, cls, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, cls, "strides")
        self.padding = _padding(padding, cls)

    def build(self, input_shape):
        """Check the input rank and geometry (no weights)."""
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input must have rank "
                             f"4. Received: shape {tuple(input_shape)}")
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, out_h, out_w, channels)``."""
        return spatial_output_shape(input_shape, self.pool_size, self.strides, self.padding,
                                    input_shape[3], f"{type(self).__name__} '{self.name}'")

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=list(self.strides),
                      padding=self.padding)
        return config


class MaxPooling2D(_Pooling2D):
    """Max pooling; the gradient goes to the first maximum of each window.

    Args:
        pool_size (int or tuple of 2 ints): the window (default 2).
        strides (int or tuple of 2 ints or None): the steps (None: ``pool_size``).
        padding (str): ``'valid'`` (default) or ``'same'``; padded cells are ignored.
        data_format (str or None): None or ``'channels_last'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)`` (NHWC). Output shape: ``(batch, H_out, W_out, C)``:
    ``H_out = ceil(H / stride)`` with 'same', ``(H - pool) // stride + 1`` with 'valid'
    (``W_out`` likewise).

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> layers.MaxPooling2D(2)(x)[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
        >>> layers.MaxPooling2D(2, strides=1).compute_output_shape((None, 4, 4, 1))
        (None, 3, 3, 1)
    """

    def call(self, inputs, training=False):
        """The window maxima (their positions are kept for backward)."""
        y, argmax = ops.max_pool_with_argmax(inputs, self.pool_size, self.strides, self.padding)
        self._cache = {"shape": inputs.shape, "argmax": argmax}
        return y

    def backward(self, dy):
        """dy routed to each window's maximum."""
        return ops.max_pool_backward(dy, self._need_cache("argmax"),
                                     self._cache["shape"], self.pool_size, self.strides,
                                     self.padding)


class AveragePooling2D(_Pooling2D):
    """Average pooling (padded cells are not counted).

    Args:
        pool_size (int or tuple of 2 ints): the window (default 2).
        strides (int or tuple of 2 ints or None): the steps (None: ``pool_size``).
        padding (str): ``'valid'`` (default) or ``'same'``; padded cells are ignored.
        data_format (str or None): None or ``'channels_last'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)`` (NHWC). Output shape: ``(batch, H_out, W_out, C)``:
    ``H_out = ceil(H / stride)`` with 'same', ``(H - pool) // stride + 1`` with 'valid'
    (``W_out`` likewise).

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> layers.AveragePooling2D(2)(x)[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
    """

    def call(self, inputs, training=False):
        """The window means."""
        self._cache = {"shape": inputs.shape}
        return ops.average_pool(inputs, self.pool_size, self.strides, self.padding)

    def backward(self, dy):
        """dy spread evenly over each window's real cells."""
        return ops.average_pool_backward(dy, self._need_cache("shape"),
                                         self.pool_size, self.strides, self.padding)


class _GlobalPooling2D(Layer):
    """Shared arguments of the global pooling layers: one value per image and channel.

    Args:
        data_format (str or None): None or ``'channels_last'``.
        keepdims (bool): keep the spatial axes with length 1 (``(batch, 1, 1, C)``).
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, C)``, or
    ``(batch, 1, 1, C)`` with ``keepdims``.
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__}: only data_format='channels_last' is "
                             f"supported. Received: {data_format!r}")
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        """``(batch, C)`` or ``(batch, 1, 1, C)``."""
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input must have rank "
                             f"4. Received: shape {tuple(input_shape)}")
        return (input_shape[0], 1, 1, input_shape[3]) if self.keepdims else \
            (input_shape[0], input_shape[3])

    def build(self, input_shape):
        """Check the rank (no weights)."""
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def _window(self, shape):
        return (shape[1], shape[2])

    def _shaped(self, y):
        return y if self.keepdims else y.reshape(y.shape[0], y.shape[3])

    def get_config(self):
        """Adds ``keepdims``."""
        config = super().get_config()
        config["keepdims"] = self.keepdims
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the whole image (average pooling with an image-sized
    window, in the C core).

    Args:
        data_format (str or None): None or ``'channels_last'``.
        keepdims (bool): keep the spatial axes with length 1 (``(batch, 1, 1, C)``).
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, C)``, or
    ``(batch, 1, 1, C)`` with ``keepdims``.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
        >>> layers.GlobalAveragePooling2D()(x)
        array([[3., 4.]], dtype=float32)
    """

    def call(self, inputs, training=False):
        """The channel means."""
        self._cache = {"shape": inputs.shape}
        window = self._window(inputs.shape)
        return self._shaped(ops.average_pool(inputs, window, window, "valid"))

    def backward(self, dy):
        """dy spread evenly over each image."""
        shape = self._need_cache("shape")
        window = self._window(shape)
        dy = dy.reshape(shape[0], 1, 1, shape[3])
        return ops.average_pool_backward(dy, shape, window, window, "valid")


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The maximum of each channel over the whole image; the gradient goes to the first
    maximum.

    Args:
        data_format (str or None): None or ``'channels_last'``.
        keepdims (bool): keep the spatial axes with length 1 (``(batch, 1, 1, C)``).
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, C)``, or
    ``(batch, 1, 1, C)`` with ``keepdims``.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
        >>> layers.GlobalMaxPooling2D(keepdims=True)(x).shape
        (1, 1, 1, 2)
    """

    def call(self, inputs, training=False):
        """The channel maxima (their positions are kept for backward)."""
        window = self._window(inputs.shape)
        y, argmax = ops.max_pool_with_argmax(inputs, window, window, "valid")
        self._cache = {"shape": inputs.shape, "argmax": argmax}
        return self._shaped(y)

    def backward(self, dy):
        """dy routed to each channel's maximum."""
        shape = self._need_cache("shape")
        window = self._window(shape)
        dy = dy.reshape(shape[0], 1, 1, shape[3])
        return ops.max_pool_backward(dy, self._cache["argmax"], shape, window, window, "valid")


# Keras aliases
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
