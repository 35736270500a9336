"""Merge layers, as ``keras.layers``: Add, Subtract, Multiply, Average, Maximum, Minimum
and Concatenate, with their functional forms (``add([a, b])``, ``concatenate(...)``).

A merge layer takes a list of inputs of the same shape (Concatenate: the same shape
except along ``axis``) and its ``backward`` returns the list of input gradients.
"""
import numpy as np

from minidl import ops
from minidl.layers.base import Layer


class _Merge(Layer):
    """Base of the merge layers: a list of at least two inputs, checked and converted,
    then merged by ``_merge``; ``backward`` splits the gradient with ``_split``."""

    _MIN_INPUTS = 2

    def _check_shapes(self, shapes):
        """Raise ValueError unless the list of input shapes can be merged."""
        if not isinstance(shapes, (list, tuple)) or len(shapes) < self._MIN_INPUTS or \
                not all(isinstance(s, tuple) for s in shapes):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on "
                             f"a list of at least {self._MIN_INPUTS} inputs. Received: "
                             f"{shapes!r}")
        first = shapes[0]
        for shape in shapes[1:]:
            if len(shape) != len(first) or any(a is not None and b is not None and a != b
                                               for a, b in zip(first[1:], shape[1:])):
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) requires "
                                 f"inputs of the same shape. Received shapes "
                                 f"{[tuple(s) for s in shapes]}")

    def build(self, input_shape):
        """Check the list of input shapes (no weights)."""
        self._check_shapes([tuple(s) for s in input_shape])
        super().build(input_shape[0])
        self.build_input_shape = [tuple(s) for s in input_shape]

    def compute_output_shape(self, input_shape):
        """The common shape (None where every input has None)."""
        shapes = [tuple(s) for s in input_shape]
        return tuple(next((s[i] for s in shapes if s[i] is not None), None)
                     for i in range(len(shapes[0])))

    def __call__(self, inputs, training=False, mask=None):
        """Merge a list of arrays (or record the call on symbolic inputs)."""
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on "
                             f"a list of inputs. Received: {type(inputs).__name__}")
        return super().__call__(list(inputs), training=training, mask=mask)

    def compute_mask(self, inputs, mask=None):
        """The inputs' masks combined (a step is kept where every input keeps it), as
        Keras's merge layers."""
        masks = [m for m in (mask or []) if m is not None]
        if not masks:
            return None
        combined = masks[0]
        for m in masks[1:]:
            combined = combined & m
        return combined

    _several_inputs = True

    def _check_inputs(self, arrays):
        """The shapes fit the merge and the batch sizes agree."""
        self._check_shapes([a.shape for a in arrays])
        if any(len(a) != len(arrays[0]) for a in arrays):
            raise ValueError(f"Layer '{self.name}': the inputs have different batch sizes "
                             f"{[len(a) for a in arrays]}")

    def call(self, inputs, training=False):
        """The merged output; keeps what ``backward`` needs."""
        self._cache = {"count": len(inputs)}
        return self._merge(inputs)

    def backward(self, dy):
        """The list of gradients with respect to each input of the last call."""
        return self._split(dy, self._need_cache("count"))

    def _split(self, dy, count):
        raise NotImplementedError


class Add(_Merge):
    """Elementwise sum of its inputs (``keras.layers.Add``).

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): as :class:`Layer` (the shape of one
            sample of a model's first layer).
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: a list of at least 2 arrays of the same shape, ``(batch, ...)``.
    Output shape: that shape.

    Call arguments:
        inputs (list of numpy.ndarray): the arrays to add.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> import minidl
        >>> from minidl import layers
        >>> layers.Add()([np.ones((1, 2)), np.full((1, 2), 2.0)])
        array([[3., 3.]], dtype=float32)
        >>> a, b = minidl.Input((2,)), minidl.Input((2,))
        >>> layers.add([a, b]).shape
        (None, 2)
    """

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out

    def _split(self, dy, count):
        return [dy] * count


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (``keras.layers.Subtract``, exactly two inputs).

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): as :class:`Layer` (the shape of one
            sample of a model's first layer).
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: a list of exactly 2 arrays of the same shape, ``(batch, ...)``.
    Output shape: that shape.

    Call arguments:
        inputs (list of numpy.ndarray): ``[a, b]``, giving ``a - b``.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Subtract()([np.array([[5.0, 2.0]]), np.array([[3.0, 4.0]])])
        array([[ 2., -2.]], dtype=float32)
    """

    def _check_shapes(self, shapes):
        super()._check_shapes(shapes)
        if len(shapes) != 2:
            raise ValueError(f"Layer '{self.name}' (Subtract) takes exactly 2 inputs. "
                             f"Received: {len(shapes)} inputs")

    def _merge(self, inputs):
        return ops.add(inputs[0], ops.scale(inputs[1], -1.0))

    def _split(self, dy, count):
        return [dy, ops.scale(dy, -1.0)]


class Multiply(_Merge):
    """Elementwise product of its inputs (``keras.layers.Multiply``).

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): as :class:`Layer` (the shape of one
            sample of a model's first layer).
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: a list of at least 2 arrays of the same shape, ``(batch, ...)``.
    Output shape: that shape.

    Call arguments:
        inputs (list of numpy.ndarray): the arrays to multiply.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Multiply()([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])])
        array([[3., 8.]], dtype=float32)
    """

    def call(self, inputs, training=False):
        """The product; keeps the inputs for the backward pass."""
        self._cache = {"inputs": list(inputs)}
        return self._merge(inputs)

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.multiply(out, x)
        return out

    def backward(self, dy):
        """d/dx_i = dy times the product of the other inputs."""
        inputs = self._need_cache("inputs")
        grads = []
        for i in range(len(inputs)):
            grad = dy
            for j, x in enumerate(inputs):
                if j != i:
                    grad = ops.multiply(grad, x)
            grads.append(grad)
        return grads


class Average(_Merge):
    """Elementwise mean of its inputs (``keras.layers.Average``).

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): as :class:`Layer` (the shape of one
            sample of a model's first layer).
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: a list of at least 2 arrays of the same shape, ``(batch, ...)``.
    Output shape: that shape.

    Call arguments:
        inputs (list of numpy.ndarray): the arrays to average.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Average()([np.array([[1.0, 2.0]]), np.array([[3.0, 6.0]])])
        array([[2., 4.]], dtype=float32)
    """

    def _merge(self, inputs):
        return ops.scale(Add._merge(self, inputs), 1.0 / len(inputs))

    def _split(self, dy, count):
        return [ops.scale(dy, 1.0 / count)] * count


class _Extremum(_Merge):
    """Elementwise maximum or minimum; the gradient goes to the first input holding the
    extreme value (ties: the earliest input, as a max/min reduction picks it)."""

    _pick = None

    def call(self, inputs, training=False):
        """The extreme values; keeps which input won at each element (on the host: no
        kernel)."""
        stacked = np.stack([ops.convert_to_numpy(x) for x in inputs])
        winner = type(self)._pick(stacked, axis=0)
        self._cache = {"winner": winner, "count": len(inputs)}
        return np.take_along_axis(stacked, winner[None], axis=0)[0]

    def backward(self, dy):
        """dy where an input won, zero elsewhere."""
        winner, count = self._need_cache("winner"), self._need_cache("count")
        dy = ops.convert_to_numpy(dy)
        return [np.where(winner == i, dy, 0).astype(dy.dtype) for i in range(count)]


class Maximum(_Extremum):
    """Elementwise maximum of its inputs (``keras.layers.Maximum``).

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): as :class:`Layer` (the shape of one
            sample of a model's first layer).
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: a list of at least 2 arrays of the same shape, ``(batch, ...)``.
    Output shape: that shape.

    Call arguments:
        inputs (list of numpy.ndarray): the arrays to compare.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Maximum()([np.array([[1.0, 7.0]]), np.array([[3.0, 6.0]])])
        array([[3., 7.]], dtype=float32)
    """

    _pick = staticmethod(np.argmax)


class Minimum(_Extremum):
    """Elementwise minimum of its inputs (``keras.layers.Minimum``).

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): as :class:`Layer` (the shape of one
            sample of a model's first layer).
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: a list of at least 2 arrays of the same shape, ``(batch, ...)``.
    Output shape: that shape.

    Call arguments:
        inputs (list of numpy.ndarray): the arrays to compare.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Minimum()([np.array([[1.0, 7.0]]), np.array([[3.0, 6.0]])])
        array([[1., 6.]], dtype=float32)
    """

    _pick = staticmethod(np.argmin)


class Concatenate(_Merge):
    """Concatenation along ``axis`` (``keras.layers.Concatenate``).

    Args:
        axis (int): the axis to join along (default -1, the channels); not the batch
            axis.
        **kwargs: Layer arguments (``name``, ``dtype``, ``trainable``, ...).

    Input shape: a list of at least 2 arrays of the same rank and the same shape except
    along ``axis``. Output shape: that shape, with the sizes along ``axis`` summed.

    Call arguments:
        inputs (list of numpy.ndarray): the arrays to join.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Concatenate()([np.zeros((2, 3)), np.ones((2, 1))]).shape
        (2, 4)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"Concatenate: argument 'axis' must be a non-zero int (not the "
                             f"batch axis). Received: axis={axis!r}")
        self.axis = int(axis)

    def _normalized_axis(self, ndim):
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= axis < ndim:
            raise ValueError(f"Layer '{self.name}' (Concatenate): axis {self.axis} is out of "
                             f"range for inputs of rank {ndim}")
        return axis

    def _check_shapes(self, shapes):
        if not isinstance(shapes, (list, tuple)) or len(shapes) < 2:
            super()._check_shapes(shapes)
        axis = self._normalized_axis(len(shapes[0]))
        trimmed = [tuple(s[:axis]) + tuple(s[axis + 1:]) for s in shapes]
        if any(len(s) != len(shapes[0]) for s in shapes):
            raise ValueError(f"Layer '{self.name}' (Concatenate) requires inputs of the same "
                             f"rank. Received shapes {[tuple(s) for s in shapes]}")
        super()._check_shapes(trimmed)

    def compute_output_shape(self, input_shape):
        """The inputs' shape with the concatenated axis summed (None if any is None)."""
        shapes = [tuple(s) for s in input_shape]
        axis = self._normalized_axis(len(shapes[0]))
        out = list(super().compute_output_shape(
            [s[:axis] + (1,) + s[axis + 1:] for s in shapes]))
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def call(self, inputs, training=False):
        """The concatenation (on the host: no kernel); keeps the split points."""
        axis = self._normalized_axis(inputs[0].ndim)
        self._cache = {"sizes": [x.shape[axis] for x in inputs]}
        return np.concatenate([ops.convert_to_numpy(x) for x in inputs], axis=axis)

    def backward(self, dy):
        """dy cut back into the inputs' pieces."""
        sizes = self._need_cache("sizes")
        dy = ops.convert_to_numpy(dy)
        axis = self._normalized_axis(dy.ndim)
        return [np.ascontiguousarray(part)
                for part in np.split(dy, np.cumsum(sizes)[:-1], axis=axis)]

    def get_config(self):
        """Adds ``axis``."""
        config = super().get_config()
        config["axis"] = self.axis
        return config


def _functional(cls, doc, result):
    """The functional form of a merge layer; ``result``: its value on the docstring
    example's two inputs, [[1, 2]] and [[3, 4]]."""
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = (
        f"{doc} (functional form of :class:`{cls.__name__}`): "
        f"``{merge.__name__}([a, b], **layer_kwargs)``.\n\n"
        f"    Args:\n"
        f"        inputs (list of array-like or list of KerasTensor): the inputs, of the\n"
        f"            same shape: arrays (the result is computed at once) or symbolic\n"
        f"            tensors (the call is recorded for a functional model).\n"
        f"        **kwargs: arguments of the layer (``name``, ``dtype``, ...).\n\n"
        f"    Example:\n"
        f"        >>> import numpy as np\n"
        f"        >>> from minidl import layers\n"
        f"        >>> layers.{merge.__name__}([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])])\n"
        f"        array([[{result}]], dtype=float32)\n")
    return merge


add = _functional(Add, "The sum of a list of inputs", "4., 6.")
subtract = _functional(Subtract, "The difference of two inputs", "-2., -2.")
multiply = _functional(Multiply, "The product of a list of inputs", "3., 8.")
average = _functional(Average, "The mean of a list of inputs", "2., 3.")
maximum = _functional(Maximum, "The elementwise maximum of a list of inputs", "3., 4.")
minimum = _functional(Minimum, "The elementwise minimum of a list of inputs", "1., 2.")


def concatenate(inputs, axis=-1, **kwargs):
    """The concatenation of a list of inputs along ``axis`` (functional form of
    :class:`Concatenate`).

    Args:
        inputs (list of array-like or list of KerasTensor): the inputs, of the same shape
            except along ``axis``: arrays (the result is computed at once) or symbolic
            tensors (the call is recorded for a functional model).
        axis (int): the axis to join along (default -1); not the batch axis.
        **kwargs: arguments of the layer (``name``, ``dtype``, ...).

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.concatenate([np.zeros((2, 3)), np.ones((2, 1))]).shape
        (2, 4)
    """
    return Concatenate(axis=axis, **kwargs)(inputs)
