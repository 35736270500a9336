"""Core layers: InputLayer/Input, Dense, Activation, Flatten, Dropout."""
import warnings

import numpy as np

from minidl import activations, constraints, initializers, ops, random_state, regularizers
from minidl.layers import symbolic
from minidl.layers.base import Layer, PerThread, _shape_tuple, checked_size, positive_int
from minidl.ops._checks import bounded_number


class InputLayer(Layer):
    """The input of a model: fixes the shape of one sample (``minidl.Input`` makes one).

    Args:
        shape (int or tuple of ints or None): shape of one sample, without the batch
            axis (None entries are free sizes); required unless a keyword below gives it.
        batch_size (int or None): a fixed batch size (None: any).
        name (str or None): the layer's name (default: made unique from
            ``input_layer``).
        dtype (str or numpy.dtype or None): ``'float32'`` (default), ``'float64'``, or
            an integer dtype for indices (``'int32'``: an Embedding's input).
        **kwargs: ``batch_shape`` (Keras 3) or ``batch_input_shape`` (Keras 2), the full
            shape with the batch axis first, instead of ``shape`` and ``batch_size``;
            ``input_shape``, Keras 2's name for ``shape``; other Layer arguments.

    Input shape: ``(batch,) + shape``, the declared shape (the batch axis is
    ``batch_size``, None: any). Output shape: the same.

    Call arguments:
        inputs (numpy.ndarray): the data, returned unchanged.
        training (bool): unused.

    Example:
        >>> from minidl import layers, models
        >>> model = models.Sequential([layers.InputLayer(shape=(3,)), layers.Dense(2)])
        >>> model.input_shape, model.output_shape
        ((None, 3), (None, 2))
    """

    def __init__(self, shape=None, batch_size=None, name=None, dtype=None, **kwargs):
        if shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        for key in ("batch_shape", "batch_input_shape"):  # Keras 3's name, then Keras 2's
            if key in kwargs:
                batch_shape = _shape_tuple(kwargs.pop(key), "InputLayer", key)
                shape, batch_size = batch_shape[1:], batch_shape[0]
        if shape is None:
            raise ValueError("InputLayer: argument 'shape' is required")
        super().__init__(name=name, dtype=dtype, input_shape=shape, batch_size=batch_size,
                         **kwargs)
        self.shape = self.input_shape_arg

    @staticmethod
    def _check_dtype(dtype):
        """A float dtype, or an integer one (word indices for an Embedding)."""
        if dtype is not None and np.dtype(dtype).kind in "iu":
            return np.dtype(dtype).name
        return Layer._check_dtype(dtype)

    def call(self, inputs, training=False):
        """The identity."""
        return inputs

    def backward(self, dy):
        """The identity."""
        return dy

    def get_config(self):
        """Shape, batch size, name and dtype."""
        return {"batch_shape": list(self.shape), "name": self.name, "dtype": self.dtype}


def Input(shape=None, batch_size=None, name=None, dtype=None, batch_shape=None):
    """The input of a model, as ``keras.Input``.

    Args:
        shape (int or tuple of ints or None): shape of one sample, e.g. ``(32, 32, 3)``
            (None entries are free sizes); required unless ``batch_shape`` is given.
        batch_size (int or None): a fixed batch size (None: any).
        name (str or None): the input layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default), ``'float64'`` or an
            integer dtype (``'int32'``: the indices an Embedding reads).
        batch_shape (tuple of ints or None): alternatively the full shape including the
            batch axis (it replaces ``shape`` and ``batch_size``).

    Returns:
        A symbolic tensor (``KerasTensor``) to call layers on and to give to
        :class:`minidl.models.Model`, or to put first in ``Sequential([...])``.

    Example:
        >>> import minidl
        >>> from minidl import layers, models
        >>> inputs = minidl.Input((4,))
        >>> outputs = layers.Dense(2)(inputs)
        >>> models.Model(inputs, outputs).output_shape
        (None, 2)
    """
    kwargs = {"batch_shape": batch_shape} if batch_shape is not None else {}
    layer = InputLayer(shape=shape, batch_size=batch_size, name=name, dtype=dtype, **kwargs)
    return symbolic.input_tensor(layer)


class _WithActivation(Layer):
    """A layer whose output goes through a named activation (fused where the C core can)."""

    # the pre-activation output of the current thread's last call (for the fused loss)
    _logits = PerThread()

    def _init_activation(self, activation):
        self.activation = activations.get(activation)

    def _init_weight_options(self, kernel_regularizer, bias_regularizer, activity_regularizer,
                             kernel_constraint, bias_constraint):
        """Keras's regularizer and constraint arguments of the kernel and the bias."""
        if activity_regularizer is not None:
            raise NotImplementedError(f"{type(self).__name__}: argument "
                                      f"'activity_regularizer' is not implemented (only None). "
                                      f"Received: {activity_regularizer!r}")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _add_kernel_and_bias(self, kernel_shape, bias_shape):
        """Create the kernel and (with ``use_bias``) the bias, with their initializers,
        regularizers and constraints."""
        self.kernel = self.add_weight(kernel_shape, self.kernel_initializer, "kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(bias_shape, self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def _weight_options_config(self):
        """The serialized regularizers and constraints (None where unset)."""
        def serialized(module, value):
            return None if value is None else module.serialize(value)
        return {"kernel_regularizer": serialized(regularizers, self.kernel_regularizer),
                "bias_regularizer": serialized(regularizers, self.bias_regularizer),
                "kernel_constraint": serialized(constraints, self.kernel_constraint),
                "bias_constraint": serialized(constraints, self.bias_constraint)}

    def _activate(self, z):
        """The activation of z; z is kept as the layer's logits for the fused loss."""
        self._logits = z
        if self.activation == "linear":
            return z
        return ops.activation(z, self.activation)

    @property
    def logits(self):
        """The pre-activation output of the last call."""
        return self._logits

    def _activation_backward(self, dy):
        if self.activation == "linear":
            return dy
        return ops.activation_backward(dy, self._need_cache("y"), self.activation,
                                       x=self._logits)

    def backward(self, dy):
        """Gradient through the activation, then through the layer's own op."""
        return self.backward_pre_activation(self._activation_backward(dy))

    def backward_pre_activation(self, dz):
        """Gradient from dz, the gradient of the output *before* the activation (the
        model's fused softmax + cross-entropy path starts here)."""
        raise NotImplementedError


class Dense(_WithActivation):
    """Densely connected layer: ``activation(inputs @ kernel + bias)``.

    Args:
        units (int): positive, the output size.
        activation (str or callable or None): activation name or ``minidl.activations``
            function (None: linear).
        use_bias (bool): whether to add a bias.
        kernel_initializer (str or Initializer or dict or callable): initializer of the
            ``(in, units)`` kernel.
        bias_initializer (str or Initializer or dict or callable): initializer of the bias.
        kernel_regularizer, bias_regularizer (str or Regularizer or dict or None):
            ``minidl.regularizers`` penalties added to the training loss (``'l2'``,
            ``regularizers.l2(1e-4)``, ...).
        activity_regularizer (None): only None (not implemented).
        kernel_constraint, bias_constraint (str or Constraint or dict or None):
            ``minidl.constraints`` applied after each optimizer update.
        **kwargs: Layer arguments (name, trainable, dtype, input_shape).

    Input shape: ``(batch, ..., in)``. Output shape: ``(batch, ..., units)``.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused (the same computation in training and inference).

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> dense = layers.Dense(3, activation="relu")
        >>> dense(np.ones((2, 5))).shape
        (2, 3)
        >>> [w.shape for w in dense.weights]
        [(5, 3), (3,)]
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._init_weight_options(kernel_regularizer, bias_regularizer, activity_regularizer,
                                  kernel_constraint, bias_constraint)
        self.units = positive_int(units, "Dense", "units")
        self._init_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def build(self, input_shape):
        """Create the kernel ``(input_shape[-1], units)`` and the bias ``(units,)``."""
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': the input must have rank >= 2 with a "
                             f"known last axis. Received: shape {tuple(input_shape)}")
        self._add_kernel_and_bias((input_shape[-1], self.units), (self.units,))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``input_shape[:-1] + (units,)``."""
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, inputs, training=False):
        """``activation(inputs @ kernel + bias)``."""
        z = ops.matmul(inputs, self.kernel.value)
        if self.use_bias:
            z = ops.bias_add(z, self.bias.value)
        y = self._activate(z)
        self._cache = {"x": inputs, "y": y}
        return y

    def backward_pre_activation(self, dz):
        """Kernel/bias gradients into ``.grad``; returns the input gradient."""
        x = self._need_cache("x")
        dx, self.kernel.grad = ops.matmul_backward(dz, x, self.kernel.value)
        if self.use_bias:
            self.bias.grad = ops.bias_add_backward(dz)
        return dx

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(units=self.units, activation=self.activation, use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer),
                      **self._weight_options_config())
        return config


class Activation(_WithActivation):
    """Applies an activation function: ``Activation('relu')``.

    Args:
        activation (str or callable or None): a name of ``minidl.activations.ALL``
            (``'linear'``, ``'relu'``, ``'sigmoid'``, ``'tanh'``, ``'softmax'``,
            ``'elu'``, ``'selu'``, ``'softplus'``, ``'leaky_relu'``), one of the
            ``minidl.activations`` functions, or None (linear).
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layer = layers.Activation("relu")
        >>> layer(np.array([[-1.0, 0.5]]))
        array([[0. , 0.5]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._init_activation(activation)

    def call(self, inputs, training=False):
        """The activation of the inputs."""
        y = self._activate(inputs)
        self._cache = {"y": y}
        return y

    def backward_pre_activation(self, dz):
        """The identity (the activation is the whole layer)."""
        return dz

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config["activation"] = self.activation
        return config


class Flatten(Layer):
    """Flattens each sample, in NHWC (row-major) order: ``(N, H, W, C) -> (N, H*W*C)``.

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): the shape of one sample, for a
            model's first layer.
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: ``(batch, d1, ..., dk)``. Output shape: ``(batch, d1 * ... * dk)`` (None
    if a size is unknown).

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Flatten()(np.zeros((2, 3, 4, 5))).shape
        (2, 60)
    """

    def compute_output_shape(self, input_shape):
        """``(batch, product of the other axes)``."""
        rest = tuple(input_shape[1:])
        if any(d is None for d in rest):
            return (input_shape[0], None)
        return (input_shape[0], checked_size(rest, f"Flatten '{self.name}'",
                                             "the flattened input shape"))

    def call(self, inputs, training=False):
        """The reshaped inputs (no copy)."""
        self._cache = {"shape": inputs.shape}
        return inputs.reshape(inputs.shape[0], -1)

    def backward(self, dy):
        """dy reshaped back to the input's shape."""
        return dy.reshape(self._need_cache("shape"))


class Dropout(Layer):
    """Randomly zeroes a fraction ``rate`` of the inputs during training, scaling the rest
    by ``1 / (1 - rate)``; the identity at inference.

    Args:
        rate (float): the fraction dropped, in [0, 1).
        noise_shape (int or tuple of ints or None): the shape of the mask, broadcast
            against the input (None in it takes the input's size); None: the input's
            shape.
        seed (int or None): the seed of this layer's own generator (None: minidl's
            global generator).
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): drop only when True (``fit``); the identity otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> drop = layers.Dropout(0.5, seed=0)
        >>> x = np.ones((1000,), dtype="float32").reshape(1, 1000)
        >>> y = drop(x, training=True)
        >>> sorted(set(y.ravel().tolist()))  # dropped, or kept and scaled by 1 / (1 - 0.5)
        [0.0, 2.0]
        >>> bool((drop(x) == x).all())  # inference: unchanged
        True
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: argument 'rate' must be a float in [0, 1). "
                             f"Received: {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else \
            _shape_tuple(noise_shape, "Dropout", "noise_shape")
        self.seed = seed
        self._generator = random_state.generator_for(seed) if seed is not None else None

    def build(self, input_shape):
        """Check that ``noise_shape`` broadcasts against inputs of ``input_shape``."""
        noise = self.noise_shape
        if noise is not None and (len(noise) != len(input_shape) or any(
                n is not None and d is not None and n not in (1, d)
                for n, d in zip(noise, input_shape))):
            raise ValueError(f"Dropout '{self.name}': argument 'noise_shape' {noise} does not "
                             f"broadcast against inputs of shape {tuple(input_shape)} (each "
                             f"entry must be None, 1 or the input's size)")
        super().build(input_shape)

    def call(self, inputs, training=False):
        """Masked and rescaled inputs when training, else the inputs."""
        if not training or self.rate == 0:
            self._cache = {"mask": None}
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(d if n is None else n for n, d in zip(self.noise_shape, inputs.shape))
        generator = self._generator or random_state.global_generator()
        keep = generator.random(shape) >= self.rate
        mask = np.broadcast_to(keep.astype(inputs.dtype) / inputs.dtype.type(1.0 - self.rate),
                               inputs.shape)
        self._cache = {"mask": mask}
        return ops.multiply(inputs, mask)

    def backward(self, dy):
        """dy times the mask of the last training call."""
        mask = self._need_cache("mask")
        return dy if mask is None else ops.multiply(dy, mask)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config.update(rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return config


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps (channels): the mask is one value per sample and
    channel, broadcast over the other axes."""

    _RANK = 4  # the input's rank

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__}: only data_format='channels_last' is "
                             f"supported. Received: {data_format!r}")
        kwargs.pop("noise_shape", None)  # fixed by the layer
        super().__init__(rate, noise_shape=(None,) + (1,) * (self._RANK - 2) + (None,),
                         seed=seed, **kwargs)

    def build(self, input_shape):
        """Check the rank (the mask is per sample and channel)."""
        if len(input_shape) != self._RANK:
            raise ValueError(f"{type(self).__name__} '{self.name}': the input must have rank "
                             f"{self._RANK}. Received: shape {tuple(input_shape)}")
        super().build(input_shape)

    def get_config(self):
        """Constructor arguments (the mask shape is implied)."""
        config = super().get_config()
        config.pop("noise_shape", None)
        return config


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps: each (image, channel) is kept or zeroed as one,
    which suits convolutional features whose neighbouring pixels are correlated.

    Args:
        rate (float): the fraction of feature maps dropped, in [0, 1).
        data_format (str or None): None or ``'channels_last'``.
        seed (int or None): the seed of this layer's own generator (None: minidl's
            global generator).
        **kwargs: Layer arguments (a ``noise_shape`` is ignored: the layer fixes it).

    Input shape: ``(batch, H, W, C)``; the mask has shape ``(batch, 1, 1, C)``.
    Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the feature maps.
        training (bool): drop only when True (``fit``); the identity otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.ones((1, 2, 2, 4), np.float32)
        >>> y = layers.SpatialDropout2D(0.5, seed=1)(x, training=True)
        >>> sorted(set(y[0, 0, 0].tolist()))  # whole channels are 0, the others scaled by 2
        [0.0, 2.0]
        >>> bool((y[0, :, :, 0] == y[0, 0, 0, 0]).all())
        True
    """


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of sequences: each (sequence, channel) is kept or zeroed
    at every step (``keras.layers.SpatialDropout1D``).

    Args:
        rate (float): the fraction of channels dropped, in [0, 1).
        seed (int or None): the seed of this layer's own generator (None: minidl's
            global generator).
        **kwargs: Layer arguments (a ``noise_shape`` is ignored: the layer fixes it).

    Input shape: ``(batch, steps, channels)``; the mask has shape
    ``(batch, 1, channels)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the sequences.
        training (bool): drop only when True (``fit``); the identity otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> y = layers.SpatialDropout1D(0.5, seed=1)(np.ones((1, 3, 4)), training=True)
        >>> bool((y == y[:, :1]).all())  # the same mask at every step
        True
    """

    _RANK = 3

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)


class ReLU(Layer):
    """The rectifier as a layer (``keras.layers.ReLU`` with its defaults; other
    ``max_value``, ``negative_slope`` or ``threshold`` raise NotImplementedError).

    Args:
        max_value (float or None): only None (no upper bound).
        negative_slope (float): only 0.0.
        threshold (float): only 0.0.
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.ReLU()(np.array([[-1.0, 2.0]]))
        array([[0., 2.]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None or negative_slope != 0.0 or threshold != 0.0:
            raise NotImplementedError("ReLU: max_value, negative_slope and threshold other "
                                      "than their defaults are not implemented")

    def call(self, inputs, training=False):
        """``max(inputs, 0)``."""
        y = ops.relu(inputs)
        self._cache = {"y": y}
        return y

    def backward(self, dy):
        """dy where the output is positive."""
        return ops.relu_backward(dy, self._need_cache("y"))


class LeakyReLU(Layer):
    """The leaky rectifier as a layer (``keras.layers.LeakyReLU``): ``x`` where positive,
    else ``negative_slope * x``.

    Args:
        negative_slope (float): the slope below zero, >= 0 (Keras's default 0.3).
            Keras 2's name for it, ``alpha``, is accepted with a DeprecationWarning.
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.LeakyReLU(negative_slope=0.5)(np.array([[-1.0, 2.0]]))
        array([[-0.5,  2. ]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            warnings.warn("LeakyReLU: argument 'alpha' is deprecated (Keras 2); use "
                          "'negative_slope'", DeprecationWarning, stacklevel=2)
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = bounded_number(negative_slope, "negative_slope", "LeakyReLU", 0.0)

    def call(self, inputs, training=False):
        """``leaky_relu(inputs, negative_slope)``."""
        y = ops.leaky_relu(inputs, self.negative_slope)
        self._cache = {"y": y}
        return y

    def backward(self, dy):
        """dy where the output is positive, else ``negative_slope * dy``."""
        return ops.leaky_relu_backward(dy, self._need_cache("y"), self.negative_slope)

    def get_config(self):
        """Adds ``negative_slope``."""
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class ELU(Layer):
    """The exponential linear unit as a layer (``keras.layers.ELU``): ``x`` where
    positive, else ``alpha * (exp(x) - 1)``.

    Args:
        alpha (float): the scale of the negative part (default 1.0); minidl requires
            alpha > 0 (the gradient is computed from the output).
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.ELU(alpha=2.0)(np.array([[-1.0, 2.0]])).round(4)
        array([[-1.2642,  2.    ]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = bounded_number(alpha, "alpha", "ELU", 0.0)
        if self.alpha == 0:
            raise NotImplementedError("ELU: alpha=0 is not implemented (the gradient is "
                                      "computed from the output); use ReLU")

    def call(self, inputs, training=False):
        """``elu(inputs, alpha)``."""
        y = ops.elu(inputs, self.alpha)
        self._cache = {"y": y}
        return y

    def backward(self, dy):
        """dy where the output is >= 0, else ``dy * (output + alpha)``."""
        return ops.elu_backward(dy, self._need_cache("y"), self.alpha)

    def get_config(self):
        """Adds ``alpha``."""
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class Softmax(Layer):
    """Softmax as a layer (``keras.layers.Softmax``).

    Args:
        axis (int): the axis normalised (default -1).
        **kwargs: Layer arguments.

    Input shape: any, ``(batch, ...)``, with ``axis`` among its axes. Output shape: the
    input's.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Softmax()(np.array([[0.0, 0.0]]))
        array([[0.5, 0.5]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Softmax: argument 'axis' must be an int. Received: "
                             f"axis={axis!r}")
        self.axis = int(axis)

    def call(self, inputs, training=False):
        """The softmax along ``axis``."""
        y = ops.softmax(inputs, axis=self.axis)
        self._cache = {"y": y}
        return y

    def backward(self, dy):
        """The softmax's Jacobian applied to dy."""
        return ops.softmax_backward(dy, self._need_cache("y"), axis=self.axis)

    def get_config(self):
        """Adds ``axis``."""
        config = super().get_config()
        config["axis"] = self.axis
        return config
