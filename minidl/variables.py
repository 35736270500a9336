"""``Variable``: a named, owned array that layers train and optimizers update."""
import numpy as np

from minidl import backend


class Variable:
    """A weight of a layer: a C-contiguous array updated in place -- a NumPy array, or a
    ``minidl.cuda.DeviceArray`` once its model lives on the GPU (``to_device``).

    Args:
        value: initial value (copied, converted to ``dtype``).
        name: the weight's name, e.g. ``"kernel"``; ``path`` adds the layer's name.
        trainable: whether optimizers update it (``gamma``) or not (``moving_mean``).
        dtype: defaults to ``minidl.backend.floatx()``.

    The gradient of the last backward pass is kept in ``grad`` (None before one).

    Example:
        >>> import numpy as np
        >>> from minidl import variables
        >>> w = variables.Variable(np.zeros((2, 3)), name="kernel")
        >>> w.shape, w.dtype, w.trainable
        ((2, 3), dtype('float32'), True)
        >>> w.assign(np.ones((2, 3)))
        >>> float(w.numpy().sum())
        6.0
    """

    def __init__(self, value, name="variable", trainable=True, dtype=None):
        self.name = name
        self.path = name
        self.trainable = bool(trainable)
        self._value = np.array(value, dtype=dtype or backend.floatx(), order="C", copy=True)
        self.grad = None
        # a minidl.regularizers penalty on the value, and a minidl.constraints map applied
        # after each optimizer update (set by the layer that owns the weight)
        self.regularizer = None
        self.constraint = None

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
        """The device of the value: ``'cuda'`` for a DeviceArray on the GPU, else
        ``'cpu'``."""
        return backend.device_of(self._value)

    def to_device(self, device):
        """Move the value to ``'cpu'`` (NumPy) or ``'cuda'`` (a float32 DeviceArray; the
        GPU computes in float32). Drops the last gradient."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"Variable '{self.path}': argument 'device' must be 'cpu' or "
                             f"'cuda'. Received: {device!r}")
        if device == self.device:
            return
        if device == "cuda" and self._value.dtype != np.float32:
            raise TypeError(f"Variable '{self.path}': only float32 weights can live on the "
                            f"GPU. Received: dtype {self._value.dtype}")
        self._value = backend.get(device).asarray(backend.to_numpy(self._value),
                                                  self._value.dtype)
        self.grad = None

    def numpy(self):
        """A copy of the value, as a NumPy array (copied from the GPU when it lives there)."""
        return np.array(backend.to_numpy(self._value), copy=True)

    def assign(self, value):
        """Overwrite the value in place; the shape must match exactly and the value must
        be real numbers that fit the variable's dtype (see ``checked_value``)."""
        self._value[...] = self.checked_value(value)

    def checked_value(self, value, owner=None):
        """``value`` as an array of this variable's shape and dtype, ready to assign;
        nothing is changed (see :func:`checked_array`).

        Args:
            value: an array-like (or a DeviceArray).
            owner: prefix of error messages (default: the variable's path).
        """
        return checked_array(value, self._value.shape, self._value.dtype,
                             owner or f"Variable '{self.path}'", f"weight '{self.path}'")

    def __array__(self, dtype=None, copy=None):
        value = backend.to_numpy(self._value)
        return value if dtype is None else value.astype(dtype)

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"trainable={self.trainable}>")


def checked_array(value, shape, dtype, where, label):
    """``value`` converted to a new array of ``shape`` and ``dtype``, or a clear error.

    Args:
        value: an array-like (or a DeviceArray).
        shape: the shape it must have.
        dtype: the dtype it is converted to.
        where: prefix of error messages, e.g. ``"Sequential 'model'"``.
        label: what the value is, e.g. ``"weight 'dense/kernel'"``.

    Raises:
        ValueError: the shape differs, or a finite value overflows ``dtype`` (a float64
            1e300 converted to float32 would become inf).
        TypeError: the values are not real numbers (strings, objects, complex, ragged).

    Example:
        >>> import numpy as np
        >>> from minidl import variables
        >>> variables.checked_array([1, 2], (2,), np.float32, "example", "weight")
        array([1., 2.], dtype=float32)
    """
    try:
        array = np.asarray(backend.to_numpy(value))
    except (TypeError, ValueError) as exc:  # ragged lists, objects NumPy cannot hold
        raise TypeError(f"{where}: {label} must be an array of real numbers. "
                        f"Received: {type(value).__name__} ({exc})") from None
    if array.shape != tuple(shape):
        raise ValueError(f"{where}: {label} has shape {tuple(shape)}. Received: an array of "
                         f"shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {label} must hold real numbers. Received: an array of "
                        f"dtype {array.dtype}")
    with np.errstate(over="ignore"):
        cast = array.astype(dtype, copy=True)
    # only a narrowing float cast can turn a finite value into inf (ints always fit)
    if array.dtype.kind == "f" and array.dtype.itemsize > cast.dtype.itemsize and \
            np.count_nonzero(np.isfinite(cast)) != np.count_nonzero(np.isfinite(array)):
        raise ValueError(f"{where}: {label} holds finite values beyond the range of "
                         f"{cast.dtype} (+-{np.finfo(cast.dtype).max}); they would become inf")
    return cast


def assign_all(variables, weights, owner):
    """Assign a list of arrays to a list of variables, all or nothing: the count, every
    shape and every dtype are checked, and every value converted, before any variable
    changes, so a bad list (at any position) leaves all weights bit-identical.

    Args:
        variables: the Variables, in order.
        weights: the arrays, in the same order.
        owner: e.g. ``"Layer 'dense'"``, for error messages.

    Example:
        >>> import numpy as np
        >>> from minidl import variables
        >>> a, b = variables.Variable(np.zeros(2)), variables.Variable(np.zeros(3))
        >>> variables.assign_all([a, b], [np.ones(2), np.full(3, 2.0)], "example")
        >>> b.numpy()
        array([2., 2., 2.], dtype=float32)
    """
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__iter__"):
        raise TypeError(f"{owner}: set_weights expects a list of {len(variables)} arrays. "
                        f"Received: {type(weights).__name__}")
    weights = list(weights)
    if len(weights) != len(variables):
        raise ValueError(f"{owner}: set_weights expects a list of {len(variables)} arrays. "
                         f"Received: {len(weights)}")
    values = [variable.checked_value(value, owner)
              for variable, value in zip(variables, weights)]
    for variable, value in zip(variables, values):
        variable._value[...] = value
