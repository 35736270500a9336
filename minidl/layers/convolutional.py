"""Conv2D: 2-D convolution over NHWC images with an HWIO kernel; Conv2DTranspose,
DepthwiseConv2D and SeparableConv2D."""
from minidl import constraints, initializers, ops, regularizers
from minidl.layers.base import _shape_tuple, positive_int
from minidl.layers.core import _WithActivation

# activations the C convolution applies in the same pass as the bias
_FUSED = ("linear", "relu", "sigmoid", "tanh")


def _pair(value, where, argument):
    """An int or a pair of positive ints as a pair."""
    pair = _shape_tuple((value, value) if isinstance(value, int) else value, where, argument)
    if len(pair) != 2 or None in pair:
        raise ValueError(f"{where}: argument '{argument}' must be an int or a pair of "
                         f"positive ints. Received: {value!r}")
    return pair


def spatial_output_shape(input_shape, window, strides, padding, channels, owner):
    """``(batch, out_h, out_w, channels)`` of a windowed op (Keras's output sizes);
    ValueError when a 'valid' window is larger than the input."""
    sizes = []
    for length, k, s in zip(input_shape[1:3], window, strides):
        if length is None:
            sizes.append(None)
        elif padding == "same":
            sizes.append(-(-length // s))
        elif k > length:
            raise ValueError(f"{owner}: the window {tuple(window)} is larger than the input "
                             f"{tuple(input_shape[1:3])} with padding='valid'")
        else:
            sizes.append((length - k) // s + 1)
    return (input_shape[0], sizes[0], sizes[1], channels)


def _check_images(layer, input_shape):
    """Refuse an input that is not ``(batch, height, width, channels)`` with known
    channels (the convolution layers' build)."""
    if len(input_shape) != 4 or input_shape[-1] is None:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': the input must have rank 4 "
                         f"(batch, height, width, channels). Received: shape "
                         f"{tuple(input_shape)}")


def _padding(value, where):
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"{where}: argument 'padding' must be 'valid' or 'same'. "
                         f"Received: {value!r}")
    return value.lower()


class Conv2D(_WithActivation):
    """2-D convolution layer (channels_last).

    Args:
        filters (int): number of output channels.
        kernel_size (int or tuple of 2 ints): the window ``(kh, kw)``.
        strides (int or tuple of 2 ints): the steps along height and width.
        padding (str): ``'valid'`` or ``'same'`` (Keras's split, the odd pixel
            bottom/right).
        data_format (str or None): None or ``'channels_last'``.
        dilation_rate (int or tuple of 2 ints): only 1.
        activation (str or callable or None): activation name or ``minidl.activations``
            function (None: linear); relu/sigmoid/tanh are fused into the convolution.
        use_bias (bool): whether to add a bias.
        kernel_initializer (str or Initializer or dict or callable): initializer of the
            ``(kh, kw, in, filters)`` kernel.
        bias_initializer (str or Initializer or dict or callable): initializer of the bias.
        kernel_regularizer, bias_regularizer (str or Regularizer or dict or None):
            ``minidl.regularizers`` penalties added to the training loss.
        activity_regularizer (None): only None (not implemented).
        kernel_constraint, bias_constraint (str or Constraint or dict or None):
            ``minidl.constraints`` applied after each optimizer update.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, channels)`` (NHWC). Output shape:
    ``(batch, H_out, W_out, filters)``: ``H_out = ceil(H / stride)`` with 'same',
    ``(H - kh) // stride + 1`` with 'valid'.

    Call arguments:
        inputs (numpy.ndarray): the images, ``(batch, H, W, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> conv = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
        >>> conv(np.ones((4, 28, 28, 1))).shape
        (4, 14, 14, 8)
        >>> conv.kernel.shape
        (3, 3, 1, 8)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._init_weight_options(kernel_regularizer, bias_regularizer, activity_regularizer,
                                  kernel_constraint, bias_constraint)
        self.filters = positive_int(filters, "Conv2D", "filters")
        _channels_last_only(data_format, dilation_rate, "Conv2D")
        self.kernel_size = _pair(kernel_size, "Conv2D", "kernel_size")
        self.strides = _pair(strides, "Conv2D", "strides")
        self.padding = _padding(padding, "Conv2D")
        self._init_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None
        self.input_gradient = True  # a model turns this off for its first layer

    def build(self, input_shape):
        """Create the kernel ``(kh, kw, channels, filters)`` and the bias."""
        _check_images(self, input_shape)
        self.compute_output_shape(input_shape)  # validates the geometry
        self._add_kernel_and_bias(self.kernel_size + (input_shape[-1], self.filters),
                                  (self.filters,))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, out_h, out_w, filters)`` (Keras's output sizes)."""
        return spatial_output_shape(input_shape, self.kernel_size, self.strides, self.padding,
                                    self.filters, f"Conv2D '{self.name}'")

    def call(self, inputs, training=False):
        """``activation(conv(inputs, kernel) + bias)`` in one pass where possible."""
        fused = self.activation if self.activation in _FUSED else None
        z = self._convolve(inputs, fused)
        if fused is not None:
            self._logits = None  # never needed: softmax is the only unfused activation
            y = z
        else:
            y = self._activate(z)
        self._cache = {"x": inputs, "y": y}
        return y

    def _convolve(self, inputs, activation):
        """``conv(inputs, kernel) + bias`` with the fused ``activation`` (or None)."""
        return ops.conv(inputs, self.kernel.value, self.strides, self.padding,
                        bias=self.bias.value if self.use_bias else None, activation=activation)

    def backward_pre_activation(self, dz):
        """Kernel/bias gradients into ``.grad``; returns the input gradient (None when
        ``input_gradient`` is off)."""
        dx, self.kernel.grad, dbias = self._gradient_op(
            dz, self._need_cache("x"), self.kernel.value, self.strides, self.padding,
            use_bias=self.use_bias, input_gradient=self.input_gradient)
        if self.use_bias:
            self.bias.grad = dbias
        return dx

    # the op whose gradients backward_pre_activation takes (the transposed layer's own)
    _gradient_op = staticmethod(ops.conv_backward)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size),
                      strides=list(self.strides), padding=self.padding,
                      activation=self.activation, use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer),
                      **self._weight_options_config())
        return config


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution (``keras.layers.Conv2DTranspose``): the input gradient
    of a convolution, used to upsample (decoders, segmentation heads).

    Args:
        filters (int): number of output channels.
        kernel_size (int or tuple of 2 ints): the window ``(kh, kw)``.
        strides (int or tuple of 2 ints): the upsampling factor.
        padding (str): ``'valid'`` (output ``(H - 1) * stride + k``) or ``'same'``
            (output ``H * stride``).
        activation (str or callable or None): as :class:`Conv2D` (applied after the bias,
            not fused).
        use_bias (bool): whether to add a bias.
        kernel_initializer (str or Initializer or dict or callable): initializer of the
            ``(kh, kw, filters, in_channels)`` kernel (Keras's layout).
        bias_initializer (str or Initializer or dict or callable): initializer of the bias.
        kernel_regularizer, bias_regularizer (str or Regularizer or dict or None):
            ``minidl.regularizers`` penalties added to the training loss.
        activity_regularizer (None): only None (not implemented).
        kernel_constraint, bias_constraint (str or Constraint or dict or None):
            ``minidl.constraints`` applied after each optimizer update.
        data_format (str or None): None or ``'channels_last'``.
        dilation_rate (int or tuple of 2 ints): only 1.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, channels)`` (NHWC). Output shape:
    ``(batch, H_out, W_out, filters)``: ``H_out = H * stride`` with 'same',
    ``(H - 1) * stride + kh`` with 'valid'.

    Call arguments:
        inputs (numpy.ndarray): the images, ``(batch, H, W, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> up = layers.Conv2DTranspose(4, 3, strides=2, padding="same")
        >>> up(np.ones((1, 5, 5, 8))).shape, up.kernel.shape
        ((1, 10, 10, 4), (3, 3, 4, 8))
    """

    def build(self, input_shape):
        """Create the kernel ``(kh, kw, filters, channels)`` and the bias."""
        _check_images(self, input_shape)
        self._add_kernel_and_bias(self.kernel_size + (self.filters, input_shape[-1]),
                                  (self.filters,))
        self.build_input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        """``(batch, out_h, out_w, filters)``."""
        sizes = []
        for length, k, s in zip(input_shape[1:3], self.kernel_size, self.strides):
            sizes.append(None if length is None else
                         length * s if self.padding == "same" else (length - 1) * s + k)
        return (input_shape[0], sizes[0], sizes[1], self.filters)

    def call(self, inputs, training=False):
        """``activation(conv_transpose(inputs, kernel) + bias)``."""
        z = ops.conv_transpose(inputs, self.kernel.value, self.strides, self.padding,
                               bias=self.bias.value if self.use_bias else None)
        y = self._activate(z)
        self._cache = {"x": inputs, "y": y}
        return y

    _gradient_op = staticmethod(ops.conv_transpose_backward)


def _channels_last_only(data_format, dilation_rate, where):
    """Refuse the data formats and dilations the kernels do not have."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: only data_format='channels_last' is supported. "
                         f"Received: {data_format!r}")
    if _pair(dilation_rate, where, "dilation_rate") != (1, 1):
        raise ValueError(f"{where}: only dilation_rate=1 is supported. "
                         f"Received: {dilation_rate!r}")


def _serialized(module, value):
    return None if value is None else module.serialize(value)


class DepthwiseConv2D(_WithActivation):
    """Depthwise 2-D convolution (``keras.layers.DepthwiseConv2D``, channels_last): each
    input channel is convolved with its own ``depth_multiplier`` filters, without mixing
    channels; output channel ``c * depth_multiplier + m`` is filter ``m`` of channel ``c``.

    Args:
        kernel_size (int or tuple of 2 ints): the window ``(kh, kw)``.
        strides (int or tuple of 2 ints): the steps along height and width.
        padding (str): ``'valid'`` or ``'same'``.
        depth_multiplier (int): filters per input channel.
        data_format (str or None): None or ``'channels_last'``.
        dilation_rate (int or tuple of 2 ints): only 1.
        activation (str or callable or None): activation name or ``minidl.activations``
            function (None: linear), applied after the bias.
        use_bias (bool): whether to add a bias (one per output channel).
        depthwise_initializer (str or Initializer or dict or callable): initializer of the
            ``(kh, kw, channels, depth_multiplier)`` kernel.
        bias_initializer (str or Initializer or dict or callable): initializer of the bias.
        depthwise_regularizer, bias_regularizer (str or Regularizer or dict or None):
            ``minidl.regularizers`` penalties added to the training loss.
        activity_regularizer (None): only None (not implemented).
        depthwise_constraint, bias_constraint (str or Constraint or dict or None):
            ``minidl.constraints`` applied after each optimizer update.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, channels)`` (NHWC). Output shape:
    ``(batch, H_out, W_out, channels * depth_multiplier)``: ``H_out = ceil(H / stride)``
    with 'same', ``(H - kh) // stride + 1`` with 'valid' (as :class:`Conv2D`).

    Call arguments:
        inputs (numpy.ndarray): the images, ``(batch, H, W, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layer = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")
        >>> layer(np.ones((1, 8, 8, 3))).shape, layer.kernel.shape
        ((1, 8, 8, 6), (3, 3, 3, 2))
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        self._init_weight_options(depthwise_regularizer, bias_regularizer,
                                  activity_regularizer, depthwise_constraint, bias_constraint)
        _channels_last_only(data_format, dilation_rate, where)
        self.kernel_size = _pair(kernel_size, where, "kernel_size")
        self.strides = _pair(strides, where, "strides")
        self.padding = _padding(padding, where)
        self.depth_multiplier = positive_int(depth_multiplier, where, "depth_multiplier")
        self._init_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None
        self.input_gradient = True  # a model turns this off for its first layer

    @property
    def depthwise_kernel(self):
        """The kernel (Keras 2's name for it)."""
        return self.kernel

    def build(self, input_shape):
        """Create the kernel ``(kh, kw, channels, depth_multiplier)`` and the bias."""
        _check_images(self, input_shape)
        self.compute_output_shape(input_shape)  # validates the geometry
        channels = input_shape[-1]
        self._add_kernel_and_bias(self.kernel_size + (channels, self.depth_multiplier),
                                  (channels * self.depth_multiplier,))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, out_h, out_w, channels * depth_multiplier)``."""
        channels = None if input_shape[-1] is None else input_shape[-1] * self.depth_multiplier
        return spatial_output_shape(input_shape, self.kernel_size, self.strides, self.padding,
                                    channels, f"{type(self).__name__} '{self.name}'")

    def call(self, inputs, training=False):
        """``activation(depthwise_conv(inputs, kernel) + bias)``."""
        z = ops.depthwise_conv(inputs, self.kernel.value, self.strides, self.padding,
                               bias=self.bias.value if self.use_bias else None)
        y = self._activate(z)
        self._cache = {"x": inputs, "y": y}
        return y

    def backward_pre_activation(self, dz):
        """Kernel/bias gradients into ``.grad``; returns the input gradient."""
        dx, self.kernel.grad, dbias = ops.depthwise_conv_backward(
            dz, self._need_cache("x"), self.kernel.value, self.strides, self.padding,
            use_bias=self.use_bias, input_gradient=self.input_gradient)
        if self.use_bias:
            self.bias.grad = dbias
        return dx

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(kernel_size=list(self.kernel_size), strides=list(self.strides),
                      padding=self.padding, depth_multiplier=self.depth_multiplier,
                      activation=self.activation, use_bias=self.use_bias,
                      depthwise_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer),
                      depthwise_regularizer=_serialized(regularizers, self.kernel_regularizer),
                      bias_regularizer=_serialized(regularizers, self.bias_regularizer),
                      depthwise_constraint=_serialized(constraints, self.kernel_constraint),
                      bias_constraint=_serialized(constraints, self.bias_constraint))
        return config


class SeparableConv2D(DepthwiseConv2D):
    """Depthwise separable 2-D convolution (``keras.layers.SeparableConv2D``): a depthwise
    convolution (each channel with its own ``depth_multiplier`` filters, no bias) followed
    by a pointwise 1x1 convolution to ``filters`` channels with the bias, then the
    activation -- far fewer weights than a full convolution of the same window.

    Args:
        filters (int): number of output channels.
        kernel_size (int or tuple of 2 ints): the window ``(kh, kw)`` of the depthwise
            step.
        strides (int or tuple of 2 ints): the steps of the depthwise step.
        padding (str): ``'valid'`` or ``'same'``, of the depthwise step.
        depth_multiplier (int): depthwise filters per input channel.
        data_format (str or None): None or ``'channels_last'``.
        dilation_rate (int or tuple of 2 ints): only 1.
        activation (str or callable or None): activation name or ``minidl.activations``
            function (None: linear), applied after the bias.
        use_bias (bool): whether to add a bias (one per output channel).
        depthwise_initializer (str or Initializer or dict or callable): initializer of the
            ``(kh, kw, channels, depth_multiplier)`` depthwise kernel.
        pointwise_initializer (str or Initializer or dict or callable): initializer of the
            ``(1, 1, channels * depth_multiplier, filters)`` pointwise kernel.
        bias_initializer (str or Initializer or dict or callable): initializer of the bias.
        depthwise_regularizer, pointwise_regularizer (str or Regularizer or dict or None):
            ``minidl.regularizers`` penalties of the two kernels, added to the training
            loss.
        bias_regularizer (str or Regularizer or dict or None): the same for the bias.
        activity_regularizer (None): only None (not implemented).
        depthwise_constraint, pointwise_constraint (str or Constraint or dict or None):
            ``minidl.constraints`` of the two kernels, applied after each optimizer
            update.
        bias_constraint (str or Constraint or dict or None): the same for the bias.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, channels)`` (NHWC). Output shape:
    ``(batch, H_out, W_out, filters)``: ``H_out = ceil(H / stride)`` with 'same',
    ``(H - kh) // stride + 1`` with 'valid' (the depthwise step sets the size, the
    pointwise step the channels).

    Call arguments:
        inputs (numpy.ndarray): the images, ``(batch, H, W, channels)``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layer = layers.SeparableConv2D(16, 3, padding="same", activation="relu")
        >>> layer(np.ones((1, 8, 8, 8))).shape
        (1, 8, 8, 16)
        >>> layer.count_params()  # 3*3*8 + 8*16 + 16, against 3*3*8*16 + 16 for Conv2D
        216
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 depth_multiplier=1, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        self.filters = positive_int(filters, type(self).__name__, "filters")
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.pointwise_kernel = None

    def build(self, input_shape):
        """Create the depthwise kernel, the pointwise kernel and the bias."""
        _check_images(self, input_shape)
        self.compute_output_shape(input_shape)
        channels = input_shape[-1]
        self.kernel = self.add_weight(self.kernel_size + (channels, self.depth_multiplier),
                                      self.kernel_initializer, "depthwise_kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.pointwise_kernel = self.add_weight(
            (1, 1, channels * self.depth_multiplier, self.filters), self.pointwise_initializer,
            "pointwise_kernel", regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.build_input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        """``(batch, out_h, out_w, filters)``."""
        return spatial_output_shape(input_shape, self.kernel_size, self.strides, self.padding,
                                    self.filters, f"SeparableConv2D '{self.name}'")

    def call(self, inputs, training=False):
        """``activation(pointwise(depthwise(inputs)) + bias)``."""
        depthwise = ops.depthwise_conv(inputs, self.kernel.value, self.strides, self.padding)
        z = ops.conv(depthwise, self.pointwise_kernel.value,
                     bias=self.bias.value if self.use_bias else None)
        y = self._activate(z)
        self._cache = {"x": inputs, "depthwise": depthwise, "y": y}
        return y

    def backward_pre_activation(self, dz):
        """The three weights' gradients into ``.grad``; returns the input gradient."""
        ddepthwise, self.pointwise_kernel.grad, dbias = ops.conv_backward(
            dz, self._need_cache("depthwise"), self.pointwise_kernel.value,
            use_bias=self.use_bias)
        if self.use_bias:
            self.bias.grad = dbias
        dx, self.kernel.grad, _ = ops.depthwise_conv_backward(
            ddepthwise, self._cache["x"], self.kernel.value, self.strides, self.padding,
            input_gradient=self.input_gradient)
        return dx

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(filters=self.filters,
                      pointwise_initializer=initializers.serialize(self.pointwise_initializer),
                      pointwise_regularizer=_serialized(regularizers, self.pointwise_regularizer),
                      pointwise_constraint=_serialized(constraints, self.pointwise_constraint))
        return config
