"""``Layer``: the base class of every minidl layer (Keras 3 conventions).

A layer owns its weights (``Variable`` objects) and, per thread, the cache of its last
forward pass.
``__call__`` builds it on first use; ``call(inputs, training)`` computes the output through
``minidl.ops``; ``backward(dy)`` returns the gradient with respect to the input of the last
call and stores each trainable weight's gradient in ``variable.grad``.
"""
import functools

import numpy as np

from minidl import autodiff, backend, constraints, initializers, regularizers
from minidl._per_thread import PerThread
from minidl.layers import symbolic
from minidl.ops._checks import bounded_number
from minidl.variables import Variable, assign_all


def _shape_tuple(shape, where, argument):
    """A shape given as int or sequence of ints/None, as a tuple (validated)."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: argument '{argument}' must be a tuple of positive ints. "
                         f"Received: {shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{where}: argument '{argument}' must contain positive sizes. "
                         f"Received: {shape!r}")
    checked_size(shape, where, argument)
    return shape


# The largest number of elements a shape may describe: sizes are int64 everywhere.
MAX_SIZE = 2 ** 63 - 1


def positive_int(value, where, name):
    """A positive integer argument (a Python or NumPy int) as an int; ValueError naming
    the layer and the argument otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: argument '{name}' must be a positive integer. "
                         f"Received: {value!r}")
    return int(value)


def dropout_rate(value, where, name):
    """A drop probability in [0, 1) as a float (TypeError for a non-number, ValueError
    naming the layer and the argument otherwise)."""
    rate = bounded_number(value, name, where, 0.0, 1.0)
    if rate == 1.0:
        raise ValueError(f"{where}: argument '{name}' must be in [0, 1). Received: 1.0")
    return rate


def checked_size(shape, where, argument):
    """The number of elements of ``shape`` (its None entries skipped), computed exactly;
    a ValueError naming the layer and the argument when it exceeds an int64.

    Args:
        shape (tuple of ints): the shape (None entries, unknown sizes, are skipped).
        where (str): the layer, for the message.
        argument (str): what the shape is, for the message.
    """
    size = 1
    for d in shape:
        if d is not None:
            size *= int(d)
    if size > MAX_SIZE:
        raise ValueError(f"{where}: {argument} {tuple(shape)} holds {size} elements, more "
                         f"than a 64-bit size can count (2**63 - 1)")
    return size


_NO_CACHE = {}


class Layer:
    """Base class of layers.

    Args:
        trainable (bool): whether the layer's trainable weights are updated by ``fit``.
        name (str or None): the layer's name (default: its snake_case class name, made
            unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default,
            ``minidl.backend.floatx()``) or ``'float64'``.
        input_shape (int or tuple of ints or None): the shape of one sample, for a
            model's first layer (an int ``n`` means ``(n,)``; None entries are free).
        batch_size (int or None): the batch size that goes with ``input_shape`` (None:
            any).
        **kwargs: Keras 2's ``batch_input_shape`` (the full shape, batch axis first,
            instead of ``input_shape`` and ``batch_size``) and ``input_dim`` (an int:
            ``input_shape=(input_dim,)``); any other keyword raises TypeError.

    Example:
        >>> import numpy as np
        >>> from minidl import layers, models
        >>> class Scale(layers.Layer):
        ...     def __init__(self, factor, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.factor = factor
        ...     def call(self, inputs, training=False):
        ...         return inputs * self.factor
        ...     def backward(self, dy):
        ...         return dy * self.factor
        ...     def get_config(self):
        ...         return {**super().get_config(), "factor": self.factor}
        >>> Scale(3.0)(np.array([[1.0, 2.0]]))
        array([[3., 6.]], dtype=float32)
        >>> model = models.Sequential([layers.Input((2,)), layers.Dense(1), Scale(0.5)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> len(model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0).history["loss"])
        2
    """

    # what the last forward call of the current thread kept for backward
    _cache = PerThread(_NO_CACHE)

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None,
                 batch_size=None, **kwargs):
        cls = type(self).__name__
        if "batch_input_shape" in kwargs:
            batch_shape = _shape_tuple(kwargs.pop("batch_input_shape"), cls, "batch_input_shape")
            input_shape, batch_size = batch_shape[1:], batch_shape[0]
        if "input_dim" in kwargs:
            input_shape = (kwargs.pop("input_dim"),)
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{cls}: argument 'name' must be a non-empty string. "
                             f"Received: {name!r}")
        self.name = name or backend.unique_name(backend.to_snake_case(cls))
        self._trainable = bool(trainable)
        self.dtype = self._check_dtype(dtype)
        self.built = False
        self._variables = []
        self.input_shape_arg = None
        if input_shape is not None:
            self.input_shape_arg = (batch_size,) + _shape_tuple(input_shape, cls, "input_shape")
        self.build_input_shape = None

    @staticmethod
    def _check_dtype(dtype):
        dtype = np.dtype(dtype or backend.floatx()).name
        if dtype not in ("float32", "float64"):
            raise ValueError(f"Layer: argument 'dtype' must be 'float32' or 'float64'. "
                             f"Received: {dtype!r}")
        return dtype

    # ---------------------------------------------------------------- weights
    def add_weight(self, shape, initializer="glorot_uniform", name="weight", trainable=True,
                   regularizer=None, constraint=None):
        """Create a weight, initialise it and track it (in creation order).

        Args:
            shape (tuple of ints): the weight's shape.
            initializer (str or Initializer or dict or callable): an initializer
                identifier (``minidl.initializers.get``).
            name (str): the weight's name (its path adds the layer's).
            trainable (bool): whether optimizers update it.
            regularizer (str or Regularizer or dict or None): a ``minidl.regularizers``
                identifier: its penalty joins the training loss.
            constraint (str or Constraint or dict or None): a ``minidl.constraints``
                identifier, applied after each update.
        """
        checked_size(tuple(shape), f"Layer '{self.name}'", f"the shape of weight '{name}'")
        init = initializers.get(initializer)
        value = init(tuple(shape), dtype=self.dtype)
        variable = Variable(value, name=name, trainable=trainable, dtype=self.dtype)
        variable.path = f"{self.name}/{name}"
        variable.regularizer = regularizers.get(regularizer)
        variable.constraint = constraints.get(constraint)
        self._variables.append(variable)
        return variable

    @property
    def trainable(self):
        """Whether ``fit`` updates this layer's trainable weights."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    @property
    def weights(self):
        """All weights, in creation order (Keras's ``get_weights`` order)."""
        return list(self._variables)

    @property
    def trainable_weights(self):
        """Weights updated by the optimizer (none when the layer is frozen)."""
        if not self._trainable:
            return []
        return [v for v in self._variables if v.trainable]

    @property
    def non_trainable_weights(self):
        """Weights not updated by the optimizer."""
        if not self._trainable:
            return list(self._variables)
        return [v for v in self._variables if not v.trainable]

    def count_params(self):
        """Number of scalars in all weights."""
        return int(sum(v.value.size for v in self.weights))

    def get_weights(self):
        """Copies of the weights' values, in ``weights`` order."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Set every weight from a list of arrays (count and shapes must match).

        Args:
            weights (list of array-like): one array per weight, in ``weights`` order
                (all are checked before any is assigned).
        """
        assign_all(self.weights, weights, f"Layer '{self.name}'")

    # ---------------------------------------------------------------- computation
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included).

        Args:
            input_shape (tuple of ints): the shape of the inputs, batch axis first (None
                where a size is unknown); a merge layer gets a list of such shapes.
        """
        self.build_input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape`` (batch axis included, may be None).

        Args:
            input_shape (tuple of ints): the shape of the inputs, batch axis first (None
                where a size is unknown); a merge layer gets a list of such shapes.
        """
        return tuple(input_shape)

    def __call__(self, inputs, training=False, mask=None):
        """Build on first use, check and convert the input, then ``call``; on symbolic
        inputs (``KerasTensor``), record the call for a functional model instead."""
        if symbolic.is_symbolic(inputs):
            return symbolic.call_symbolic(self, inputs)
        if autodiff.recording() is not None or autodiff.is_tensor(inputs):
            return autodiff.record_call(
                inputs, functools.partial(self._plain_call, training=training, mask=mask),
                self.backward, [self], self.trainable_weights)
        return self._plain_call(inputs, training, mask)

    # whether a list or tuple is several inputs (merge layers, Lambda, a recurrent layer
    # with initial states), each converted, rather than one input's data
    _several_inputs = False

    def _plain_call(self, inputs, training, mask=None):
        if self._several_inputs and isinstance(inputs, (list, tuple)):
            x = [self._convert_input(a) for a in inputs]
            self._check_inputs(x)
            if not self.built:
                self.build([(None,) + a.shape[1:] for a in x])
        else:
            x = self._convert_input(inputs)
            if not self.built:
                self.build((None,) + x.shape[1:])
            self._check_input(x)
        if self._consumes_mask:
            return self.call(x, training=training, mask=mask)
        return self.call(x, training=training)

    # ---------------------------------------------------------------- masking
    #: whether an input mask passes through the layer unchanged (Keras's attribute)
    supports_masking = False
    # whether ``call`` takes the mask (recurrent layers, pooling over steps)
    _consumes_mask = False

    def compute_mask(self, inputs, mask=None):
        """The mask of the output, from the input's (Keras's masking: the steps an
        ``Embedding(mask_zero=True)`` or a ``Masking`` layer marks as padding).

        Args:
            inputs (array): the call's input.
            mask (numpy.ndarray or None): the input's boolean mask ``(batch, steps)``.

        Returns:
            The output's mask: None without one; the input's for a layer that
            ``supports_masking``. A layer that can neither pass nor use a mask raises
            ValueError, as Keras does.
        """
        if mask is None or (isinstance(mask, list) and all(m is None for m in mask)):
            return None
        if self.supports_masking:
            return mask
        raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) does not support "
                         f"masking, but receives a mask (from Embedding(mask_zero=True) "
                         f"or a Masking layer before it)")

    def call(self, inputs, training=False):
        """The forward computation (subclasses).

        Args:
            inputs (array): the inputs as ``__call__`` prepared them: a C-contiguous
                array of the layer's dtype, a NumPy array or a CUDA array of the
                backend in use (a merge layer gets a list of them).
            training (bool): True in ``fit`` (dropout drops, batch normalization uses
                the batch statistics), False at inference.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement call()")

    def backward(self, dy):
        """Gradient with respect to the input of the last call; sets weight gradients.

        Args:
            dy (array): the gradient of the loss with respect to the output of the last
                call (same shape), a NumPy array or a CUDA array of the backend in use.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def _convert_input(self, inputs):
        """The inputs as a C-contiguous array of the layer's dtype, on their device (the
        GPU computes in float32)."""
        device = backend.backend_of(inputs)
        array = device.asarray(inputs)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Layer '{self.name}': inputs must be a real numeric array. "
                            f"Received: dtype {array.dtype}")
        if array.ndim == 0 or array.shape[0] == 0:
            raise ValueError(f"Layer '{self.name}': inputs must have a non-empty batch "
                             f"axis. Received: shape {array.shape}")
        return device.prepare(array, "inputs", f"Layer '{self.name}'", dtype=self.dtype)

    def _check_input(self, x):
        """Raise ValueError if x does not fit the shape the layer was built for."""
        expected = self.build_input_shape
        if expected is None:
            return
        ok = len(expected) == x.ndim and all(e is None or e == d
                                             for e, d in zip(expected[1:], x.shape[1:]))
        if not ok:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the "
                             f"layer: expected shape {expected}. Received: shape {x.shape}")

    def _check_inputs(self, arrays):
        """Raise ValueError if several inputs do not fit the layer or each other (the
        layers with ``_several_inputs`` say how)."""

    def _need_cache(self, key):
        if key not in self._cache:
            raise RuntimeError(f"Layer '{self.name}': backward() called before a forward "
                               f"call")
        return self._cache[key]

    # ---------------------------------------------------------------- config
    def get_config(self):
        """The layer's constructor arguments, JSON-serialisable."""
        config = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}
        if self.input_shape_arg is not None:
            config["batch_input_shape"] = list(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config):
        """A new layer from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
