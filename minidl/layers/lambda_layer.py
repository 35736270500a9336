"""Lambda: a Python function of the input as a layer (``keras.layers.Lambda``), its
gradient taken by recording the function's NumPy operations (:mod:`minidl.autodiff`)."""
import numpy as np

from minidl import autodiff
from minidl.layers.base import Layer


class Lambda(Layer):
    """Wraps a function of one array as a layer (``keras.layers.Lambda``).

    The function runs on a :class:`minidl.Tensor` of the input, so NumPy arithmetic,
    reductions and the functions of ``minidl.autodiff.DIFFERENTIABLE`` are recorded and
    the layer trains like any other: its backward pass sends the output's gradient back
    through them. A function that leaves those (``np.asarray``, a function without a
    gradient rule) still computes; its backward pass raises ``NotImplementedError`` naming
    the reason.

    Args:
        function (callable): ``function(x, **arguments)``, of one array or of a list.
        output_shape (tuple of ints or callable or None): the output shape without the
            batch axis, or a function of the input shape; None: found by calling the
            function on zeros of the input shape.
        mask (None): only None (masking is not implemented).
        arguments (dict or None): keyword arguments passed to the function.
        **kwargs: Layer arguments.

    Input shape: any, or a list of arrays (the function then takes the list, as Keras's
    does for ``Lambda(f)([a, b])``). Output shape: the function's.

    Call arguments:
        inputs (numpy.ndarray): the input.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> scale = layers.Lambda(lambda x: x / 255.0)
        >>> scale(np.array([[255.0, 51.0]]))
        array([[1. , 0.2]], dtype=float32)
        >>> scale.backward(np.ones((1, 2))).round(5)
        array([[0.00392, 0.00392]], dtype=float32)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        if not callable(function):
            raise TypeError(f"Lambda: argument 'function' must be callable. Received: "
                            f"{type(function).__name__}")
        if mask is not None:
            raise NotImplementedError("Lambda: argument 'mask' is not implemented (only None)")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: argument 'arguments' must be a dict or None. "
                            f"Received: {type(arguments).__name__}")
        super().__init__(**kwargs)
        self.function, self.arguments = function, dict(arguments or {})
        self.output_shape_arg = output_shape

    def _apply(self, x):
        return self.function(x, **self.arguments)

    def compute_output_shape(self, input_shape):
        """The given ``output_shape`` (a tuple or a function), else the shape of the
        function's output on zeros of ``input_shape`` (None sizes taken as 1)."""
        several = isinstance(input_shape, list)
        shapes = [tuple(s) for s in input_shape] if several else [tuple(input_shape)]
        if callable(self.output_shape_arg):
            return tuple(self.output_shape_arg(shapes if several else shapes[0]))
        if self.output_shape_arg is not None:
            return (shapes[0][0],) + tuple(self.output_shape_arg)
        probes = [np.zeros(tuple(1 if d is None else d for d in s), dtype=self.dtype)
                  for s in shapes]
        out = np.shape(autodiff.value_of(self._apply(probes if several else probes[0])))
        return (shapes[0][0],) + tuple(out[1:])

    _several_inputs = True  # Lambda(f)([a, b]) passes the list to f

    def call(self, inputs, training=False):
        """The function's value; keeps its recorded operations for the backward pass."""
        y, gradient = autodiff.trace(self._apply, inputs)
        self._cache = {"gradient": gradient}
        return np.ascontiguousarray(y)

    def backward(self, dy):
        """The gradient through the function's recorded operations."""
        try:
            return self._need_cache("gradient")(np.asarray(dy))
        except NotImplementedError as error:
            raise NotImplementedError(f"Lambda '{self.name}': cannot differentiate its "
                                      f"function: {error}") from None

    def get_config(self):
        """Refused: a Python function cannot be saved (Keras stores its bytecode, which
        only the same Python can load and which runs code when loaded)."""
        raise NotImplementedError(f"Lambda '{self.name}': a layer holding a Python function "
                                  f"cannot be saved; save the weights (save_weights) and "
                                  f"rebuild the model in code")
