"""``Variable``: a named, owned NumPy array that layers train and optimizers update."""
import numpy as np

from minidl import backend


class Variable:
    """A weight of a layer: a C-contiguous NumPy array updated in place.

    Args:
        value: initial value (copied, converted to ``dtype``).
        name: the weight's name, e.g. ``"kernel"``; ``path`` adds the layer's name.
        trainable: whether optimizers update it (``gamma``) or not (``moving_mean``).
        dtype: defaults to ``minidl.backend.floatx()``.

    The gradient of the last backward pass is kept in ``grad`` (None before one).
    """

    def __init__(self, value, name="variable", trainable=True, dtype=None):
        self.name = name
        self.path = name
        self.trainable = bool(trainable)
        self._value = np.array(value, dtype=dtype or backend.floatx(), order="C", copy=True)
        self.grad = None

    @property
    def value(self):
        """The underlying array (updated in place by optimizers and layers)."""
        return self._value

    @property
    def shape(self):
        """The shape of the value."""
        return self._value.shape

    @property
    def dtype(self):
        """The dtype of the value."""
        return self._value.dtype

    def numpy(self):
        """A copy of the value."""
        return self._value.copy()

    def assign(self, value):
        """Overwrite the value in place; the shape must match exactly."""
        array = np.asarray(value)
        if array.shape != self._value.shape:
            raise ValueError(f"Variable '{self.path}': cannot assign a value of shape "
                             f"{array.shape} to a variable of shape {self._value.shape}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Variable '{self.path}': cannot assign a value of dtype "
                            f"{array.dtype}")
        self._value[...] = array

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"trainable={self.trainable}>")


def assign_all(variables, weights, owner):
    """Assign a list of arrays to a list of variables, checking the count and every
    shape before changing anything (so a bad list leaves all weights as they were).

    Args:
        variables: the Variables, in order.
        weights: the arrays, in the same order.
        owner: e.g. ``"Layer 'dense'"``, for error messages.
    """
    weights = list(weights)
    if len(weights) != len(variables):
        raise ValueError(f"{owner}: set_weights expects a list of {len(variables)} arrays, "
                         f"received {len(weights)}")
    for variable, value in zip(variables, weights):
        if np.shape(value) != variable.shape:
            raise ValueError(f"{owner}: weight '{variable.name}' has shape {variable.shape}, "
                             f"received an array of shape {np.shape(value)}")
    for variable, value in zip(variables, weights):
        variable.assign(value)
