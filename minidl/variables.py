"""``Variable``: a named, owned array that layers train and optimizers update."""
import numpy as np

from minidl import backend
from minidl.cuda import DeviceArray  # importing it never touches a GPU


class Variable:
    """A weight of a layer: a C-contiguous array updated in place -- a NumPy array, or a
    ``minidl.cuda.DeviceArray`` once its model lives on the GPU (``to_device``).

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

    @property
    def device(self):
        """``'cuda'`` when the value is a DeviceArray on the GPU, else ``'cpu'``."""
        return "cuda" if isinstance(self._value, DeviceArray) else "cpu"

    def to_device(self, device):
        """Move the value to ``'cpu'`` (NumPy) or ``'cuda'`` (a float32 DeviceArray; the
        GPU computes in float32). Drops the last gradient."""
        if device == self.device:
            return
        if device == "cuda":
            if self._value.dtype != np.float32:
                raise TypeError(f"Variable '{self.path}': only float32 weights can live on "
                                f"the GPU, this one is {self._value.dtype}")
            self._value = DeviceArray.from_numpy(self._value, np.float32)
        elif device == "cpu":
            self._value = self._value.to_numpy()
        else:
            raise ValueError(f"Variable '{self.path}': device must be 'cpu' or 'cuda', "
                             f"received {device!r}")
        self.grad = None

    def numpy(self):
        """A copy of the value, as a NumPy array (copied from the GPU when it lives there)."""
        if isinstance(self._value, DeviceArray):
            return self._value.to_numpy()
        return self._value.copy()

    def assign(self, value):
        """Overwrite the value in place; the shape must match exactly."""
        array = value.to_numpy() if isinstance(value, DeviceArray) else np.asarray(value)
        if array.shape != self._value.shape:
            raise ValueError(f"Variable '{self.path}': cannot assign a value of shape "
                             f"{array.shape} to a variable of shape {self._value.shape}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Variable '{self.path}': cannot assign a value of dtype "
                            f"{array.dtype}")
        self._value[...] = array

    def __array__(self, dtype=None, copy=None):
        value = self._value.to_numpy() if isinstance(self._value, DeviceArray) else self._value
        return value if dtype is None else value.astype(dtype)

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
