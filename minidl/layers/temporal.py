"""The 1-D (temporal) layers: Conv1D, MaxPooling1D, AveragePooling1D,
GlobalAveragePooling1D and GlobalMaxPooling1D, computed as their 2-D counterparts on a
``(batch, 1, steps, channels)`` view of the ``(batch, steps, channels)`` input -- the
same C kernels, and no copy (the views are reshapes of contiguous arrays)."""
import numpy as np

from minidl import ops
from minidl.layers.base import Layer, positive_int
from minidl.layers.convolutional import Conv2D
from minidl.layers.pooling import (AveragePooling2D, GlobalAveragePooling2D,
                                   GlobalMaxPooling2D, MaxPooling2D)
from minidl.layers.reshaping import Cropping2D, UpSampling2D, ZeroPadding2D


def _as_image(x):
    """``(batch, steps, channels)`` as ``(batch, 1, steps, channels)``."""
    return x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])


def _as_sequence(x):
    """``(batch, 1, steps, channels)`` as ``(batch, steps, channels)``."""
    return x.reshape(x.shape[0], x.shape[2], x.shape[3])


def _length(value, where, name, default=None):
    """An int or a one-element list/tuple of a positive int (Keras accepts both)."""
    if value is None:
        return default
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return positive_int(value, where, name)


def _check_rank3(layer, input_shape):
    if len(input_shape) != 3:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': the input must have rank 3 "
                         f"(batch, steps, channels). Received: shape {tuple(input_shape)}")


def _image_shape(input_shape):
    return (input_shape[0], 1, input_shape[1], input_shape[2])


class Conv1D(Conv2D):
    """1-D convolution over ``(batch, steps, channels)`` sequences (``keras.layers.Conv1D``).

    Args:
        filters (int): number of output channels.
        kernel_size (int or tuple of 1 int): the window length.
        strides (int or tuple of 1 int): the step.
        padding (str): ``'valid'``, ``'same'`` or ``'causal'`` (``kernel_size - 1`` zeros
            before the first step: output ``t`` depends on inputs up to ``t`` only).
        data_format (str or None): None or ``'channels_last'``.
        dilation_rate (int or tuple of 1 int): only 1.
        groups (int): only 1.
        activation (str or callable or None): as :class:`Conv2D` (relu, sigmoid and
            tanh fused).
        use_bias (bool): whether to add a bias.
        kernel_initializer (str or Initializer or dict or callable): initializer of the
            ``(kernel_size, channels, filters)`` kernel.
        bias_initializer (str or Initializer or dict or callable): initializer of the bias.
        kernel_regularizer, bias_regularizer (str or Regularizer or dict or None):
            ``minidl.regularizers`` penalties added to the training loss.
        activity_regularizer (None): only None (not implemented).
        kernel_constraint, bias_constraint (str or Constraint or dict or None):
            ``minidl.constraints`` applied after each optimizer update.
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, new_steps,
    filters)``; the kernel has Keras's shape ``(kernel_size, channels, filters)``.
    ``new_steps = ceil(steps / stride)`` with 'same' or 'causal',
    ``(steps - kernel_size) // stride + 1`` with 'valid'.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> conv = layers.Conv1D(4, 3, padding="same", activation="relu")
        >>> conv(np.ones((2, 10, 3))).shape, conv.kernel.shape
        ((2, 10, 4), (3, 3, 4))
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        causal = isinstance(padding, str) and padding.lower() == "causal"
        if groups != 1:
            raise NotImplementedError(f"Conv1D: only groups=1 is implemented. "
                                      f"Received: groups={groups!r}")
        length = _length(kernel_size, "Conv1D", "kernel_size")
        step = _length(strides, "Conv1D", "strides")
        dilation = _length(dilation_rate, "Conv1D", "dilation_rate")
        super().__init__(filters, (1, length), (1, step), "valid" if causal else padding,
                         data_format, (1, dilation), activation, use_bias, kernel_initializer,
                         bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        # causal: kernel_size - 1 zeros before the first step, then a 'valid' convolution,
        # so that output t sees inputs up to t only (WaveNet's; Keras's 'causal')
        self.causal = causal

    def _causal_padded(self, x):
        """x with ``kernel_size - 1`` zero steps in front (causal padding), else x."""
        if not self.causal or self.kernel_size[1] == 1:
            return x
        zeros = np.zeros((x.shape[0], self.kernel_size[1] - 1, x.shape[2]), dtype=x.dtype)
        return np.concatenate([zeros, x], axis=1)

    def build(self, input_shape):
        """Create the kernel ``(kernel_size, channels, filters)`` and the bias."""
        _check_rank3(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"Conv1D '{self.name}': the channel axis must be known. "
                             f"Received: shape {tuple(input_shape)}")
        self.compute_output_shape(input_shape)
        self._add_kernel_and_bias((self.kernel_size[1], input_shape[-1], self.filters),
                                  (self.filters,))
        Layer.build(self, input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, new_steps, filters)``."""
        _check_rank3(self, input_shape)
        if self.causal and input_shape[1] is not None:
            input_shape = (input_shape[0], input_shape[1] + self.kernel_size[1] - 1,
                           input_shape[2])
        image = super().compute_output_shape(_image_shape(input_shape))
        return (image[0], image[2], image[3])

    def _image_kernel(self):
        kernel = self.kernel.value
        return kernel.reshape((1,) + tuple(kernel.shape))

    def _convolve(self, inputs, activation):
        """The 2-D convolution of the ``(batch, 1, steps, channels)`` view."""
        inputs = self._causal_padded(inputs)
        return _as_sequence(ops.conv(_as_image(inputs), self._image_kernel(), self.strides,
                                     self.padding,
                                     bias=self.bias.value if self.use_bias else None,
                                     activation=activation))

    def backward_pre_activation(self, dz):
        """Kernel/bias gradients into ``.grad``; returns the input gradient."""
        x = self._causal_padded(self._need_cache("x"))
        dx, dkernel, dbias = ops.conv_backward(
            _as_image(dz), _as_image(x), self._image_kernel(), self.strides, self.padding,
            use_bias=self.use_bias, input_gradient=self.input_gradient)
        self.kernel.grad = dkernel.reshape(self.kernel.value.shape)
        if self.use_bias:
            self.bias.grad = dbias
        if dx is None:
            return None
        dx = _as_sequence(dx)
        return np.ascontiguousarray(dx[:, self.kernel_size[1] - 1:]) if self.causal else dx

    def get_config(self):
        """Constructor arguments (lengths as Keras writes them)."""
        config = super().get_config()
        config.update(kernel_size=[self.kernel_size[1]], strides=[self.strides[1]])
        if self.causal:
            config["padding"] = "causal"
        return config


class _On2D:
    """The 1-D face of a 2-D layer without weights: rank-3 shapes, and the 2-D layer's
    call and backward on the ``(batch, 1, steps, channels)`` view."""

    def build(self, input_shape):
        """Check the rank and geometry (no weights)."""
        self.compute_output_shape(input_shape)
        Layer.build(self, input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, new_steps, channels)``."""
        _check_rank3(self, input_shape)
        image = super().compute_output_shape(_image_shape(input_shape))
        return (image[0], image[2], image[3])

    def call(self, inputs, training=False):
        """The 2-D pooling of the ``(batch, 1, steps, channels)`` view."""
        return _as_sequence(super().call(_as_image(inputs), training))

    def backward(self, dy):
        """The 2-D layer's gradient on the view."""
        return _as_sequence(super().backward(_as_image(dy)))


class _Pooling1D(_On2D):
    """The 1-D face of a 2-D pooling layer: ``pool_size``/``strides`` as lengths."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        where = type(self).__name__
        length = _length(pool_size, where, "pool_size")
        step = _length(strides, where, "strides", default=length)
        super().__init__((1, length), (1, step), padding, data_format, **kwargs)

    def get_config(self):
        """Constructor arguments (lengths as Keras writes them)."""
        config = super().get_config()
        config.update(pool_size=[self.pool_size[1]], strides=[self.strides[1]])
        return config


def _pair_1d(value, where, argument):
    """An int (both ends) or a pair of ints >= 0 as ``(start, end)``."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) \
        else tuple(value) if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in pair):
        raise ValueError(f"{where}: argument '{argument}' must be an int or a pair of ints "
                         f">= 0. Received: {value!r}")
    return pair


class ZeroPadding1D(_On2D, ZeroPadding2D):
    """Adds zero steps at the start and end of each sequence
    (``keras.layers.ZeroPadding1D``).

    Args:
        padding (int or tuple of 2 ints): the steps added at both ends, or ``(start,
            end)``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, start + steps +
    end, channels)``.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.ZeroPadding1D((1, 2))(np.ones((1, 3, 1)))[0, :, 0]
        array([0., 1., 1., 1., 0., 0.], dtype=float32)
    """

    def __init__(self, padding=1, **kwargs):
        self.padding_1d = _pair_1d(padding, "ZeroPadding1D", "padding")
        super().__init__(((0, 0), self.padding_1d), **kwargs)

    def get_config(self):
        """Constructor arguments (Keras's form)."""
        config = super().get_config()
        config["padding"] = list(self.padding_1d)
        return config


class Cropping1D(_On2D, Cropping2D):
    """Removes steps at the start and end of each sequence (``keras.layers.Cropping1D``).

    Args:
        cropping (int or tuple of 2 ints): the steps removed at both ends, or ``(start,
            end)``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, steps - start -
    end, channels)``.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Cropping1D((1, 2))(np.arange(5.0).reshape(1, 5, 1))[0, :, 0]
        array([1., 2.], dtype=float32)
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        self.cropping_1d = _pair_1d(cropping, "Cropping1D", "cropping")
        super().__init__(((0, 0), self.cropping_1d), **kwargs)

    def get_config(self):
        """Constructor arguments (Keras's form)."""
        config = super().get_config()
        config["cropping"] = list(self.cropping_1d)
        return config


class UpSampling1D(_On2D, UpSampling2D):
    """Repeats each step ``size`` times (``keras.layers.UpSampling1D``).

    Args:
        size (int): the repetition factor (default 2).
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, steps * size,
    channels)``.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.UpSampling1D(2)(np.array([[[1.0], [2.0]]]))[0, :, 0]
        array([1., 1., 2., 2.], dtype=float32)
    """

    def __init__(self, size=2, **kwargs):
        self.size_1d = positive_int(size, "UpSampling1D", "size")
        super().__init__((1, self.size_1d), **kwargs)

    def get_config(self):
        """Constructor arguments (Keras's form)."""
        config = super().get_config()
        config["size"] = self.size_1d
        config.pop("interpolation", None)  # Keras's UpSampling1D has none
        return config


class MaxPooling1D(_Pooling1D, MaxPooling2D):
    """Max pooling over steps (``keras.layers.MaxPooling1D``).

    Args:
        pool_size (int or tuple of 1 int): the window length (default 2).
        strides (int or tuple of 1 int or None): the step (None: ``pool_size``).
        padding (str): ``'valid'`` (default) or ``'same'``; padded cells are ignored.
        data_format (str or None): None or ``'channels_last'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, new_steps,
    channels)``: ``new_steps = ceil(steps / strides)`` with 'same',
    ``(steps - pool_size) // strides + 1`` with 'valid'.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.MaxPooling1D(2)(np.array([[[1.0], [3.0], [2.0], [0.0]]]))[0, :, 0]
        array([3., 2.], dtype=float32)
    """


class AveragePooling1D(_Pooling1D, AveragePooling2D):
    """Average pooling over steps (``keras.layers.AveragePooling1D``).

    Args:
        pool_size (int or tuple of 1 int): the window length (default 2).
        strides (int or tuple of 1 int or None): the step (None: ``pool_size``).
        padding (str): ``'valid'`` (default) or ``'same'``; padded cells are ignored.
        data_format (str or None): None or ``'channels_last'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, new_steps,
    channels)``: ``new_steps = ceil(steps / strides)`` with 'same',
    ``(steps - pool_size) // strides + 1`` with 'valid'.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.AveragePooling1D(2)(np.array([[[1.0], [3.0], [2.0], [0.0]]]))[0, :, 0]
        array([2., 1.], dtype=float32)
    """


class _GlobalPooling1D:
    """The 1-D face of a 2-D global pooling layer: one value per sequence and channel."""

    def compute_output_shape(self, input_shape):
        """``(batch, channels)`` or, with ``keepdims``, ``(batch, 1, channels)``."""
        _check_rank3(self, input_shape)
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else \
            (input_shape[0], input_shape[2])

    def call(self, inputs, training=False):
        """The 2-D global pooling of the image view."""
        y = super().call(_as_image(inputs), training)
        return y.reshape(y.shape[0], 1, y.shape[-1]) if self.keepdims else y

    def backward(self, dy):
        """The 2-D global pooling's gradient on the image view."""
        return _as_sequence(super().backward(dy.reshape(dy.shape[0], dy.shape[-1])))


class GlobalAveragePooling1D(_GlobalPooling1D, GlobalAveragePooling2D):
    """The mean of each channel over the steps (``keras.layers.GlobalAveragePooling1D``).

    Args:
        data_format (str or None): None or ``'channels_last'``.
        keepdims (bool): keep the steps axis with length 1 (``(batch, 1, channels)``).
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, channels)``, or
    ``(batch, 1, channels)`` with ``keepdims``.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.
        mask (numpy.ndarray or None): ``(batch, steps)`` booleans, True at the steps to
            keep: the mean is over those only (None: over every step).

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.GlobalAveragePooling1D()(np.array([[[1.0, 10.0], [3.0, 30.0]]]))
        array([[ 2., 20.]], dtype=float32)

    With a mask (``Embedding(mask_zero=True)`` before it) the mean is over the kept steps
    only, as Keras's.
    """

    _consumes_mask = True

    def compute_mask(self, inputs, mask=None):
        """None: the steps are averaged away."""
        return None

    def call(self, inputs, training=False, mask=None):
        """The mean over the steps (the kept ones, with a mask)."""
        if mask is None:
            y = super().call(inputs, training)
            self._cache = dict(self._cache, weights=None)
            return y
        kept = np.asarray(mask, dtype=inputs.dtype)
        weights = kept / np.maximum(kept.sum(axis=1, keepdims=True), 1)  # (batch, steps)
        self._cache = {"weights": weights}
        y = ops.sum(ops.multiply(inputs, np.ascontiguousarray(
            np.broadcast_to(weights[:, :, None], inputs.shape))), axis=1)
        return y.reshape(y.shape[0], 1, y.shape[-1]) if self.keepdims else y

    def backward(self, dy):
        """The output's gradient spread over the (kept) steps."""
        weights = self._need_cache("weights")
        if weights is None:
            return super().backward(dy)
        dy = dy.reshape(dy.shape[0], 1, dy.shape[-1])
        return np.ascontiguousarray(dy * weights[:, :, None])


class GlobalMaxPooling1D(_GlobalPooling1D, GlobalMaxPooling2D):
    """The maximum of each channel over the steps (``keras.layers.GlobalMaxPooling1D``).

    Args:
        data_format (str or None): None or ``'channels_last'``.
        keepdims (bool): keep the steps axis with length 1 (``(batch, 1, channels)``).
        **kwargs: Layer arguments.

    Input shape: ``(batch, steps, channels)``. Output shape: ``(batch, channels)``, or
    ``(batch, 1, channels)`` with ``keepdims``.

    Call arguments:
        inputs (numpy.ndarray): the sequences, ``(batch, steps, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.GlobalMaxPooling1D()(np.array([[[1.0, 30.0], [3.0, 10.0]]]))
        array([[ 3., 30.]], dtype=float32)
    """


# Keras aliases
Convolution1D = Conv1D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
