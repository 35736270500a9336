"""Label encoding and normalisation, as ``keras.utils.to_categorical`` / ``normalize``."""
import numbers

import numpy as np

from minidl import backend


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels (``keras.utils.to_categorical``).

    Args:
        x (array-like): class indices of any shape; a trailing axis of length 1 ((N, 1)
            labels) is dropped. Integers, or floats holding whole numbers.
        num_classes (int or None): the number of classes (positive); default
            ``max(x) + 1``.

    Returns:
        A float32 array of shape ``x.shape + (num_classes,)`` (trailing 1 dropped).

    Example:
        >>> from minidl import utils
        >>> utils.to_categorical([0, 2], 3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    where = "to_categorical"
    labels = np.asarray(x)
    if labels.dtype.kind == "f":
        if not (np.all(np.isfinite(labels)) and np.array_equal(labels, np.floor(labels))):
            raise ValueError(f"{where}: argument 'x' must hold integer class indices. "
                             f"Received: non-integer values of dtype {labels.dtype}")
    elif labels.dtype.kind not in "biu":
        raise TypeError(f"{where}: argument 'x' must be an array of integer class indices. "
                        f"Received: dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError(f"{where}: 'num_classes' is required for an empty 'x'. "
                             f"Received: x.shape={labels.shape}")
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or \
            num_classes < 1:
        raise ValueError(f"{where}: argument 'num_classes' must be a positive int or None. "
                         f"Received: num_classes={num_classes!r}")
    num_classes = int(num_classes)
    bad = (flat < 0) | (flat >= num_classes)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{where}: class indices must be in [0, {num_classes}). "
                         f"Received: {int(flat[index])} at flat index {index}")
    categorical = np.zeros((flat.size, num_classes), dtype=np.float32)
    categorical[np.arange(flat.size), flat] = 1.0
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scale each vector along ``axis`` to unit norm (``keras.utils.normalize``).

    Vectors of zero norm are returned unchanged (zeros).

    Args:
        x (array-like): a numeric array of rank >= 1.
        axis (int): the axis holding the vectors.
        order (int or float): the norm's order (2: Euclidean, 1: sum of absolute values,
            any ``p >= 1`` or ``numpy.inf``).

    Returns:
        An array of x's shape: x's dtype for float input, ``floatx()`` otherwise.

    Example:
        >>> import numpy as np
        >>> from minidl import utils
        >>> utils.normalize(np.array([[3.0, 4.0]]))
        array([[0.6, 0.8]])
    """
    where = "normalize"
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: argument 'x' must be a numeric array. "
                        f"Received: dtype {array.dtype}")
    if array.dtype.kind != "f":
        array = array.astype(backend.floatx())
    if array.ndim == 0:
        raise ValueError(f"{where}: argument 'x' must have rank >= 1. "
                         f"Received: shape {array.shape}")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or \
            not -array.ndim <= axis < array.ndim:
        raise ValueError(f"{where}: argument 'axis' must be an int in [{-array.ndim}, "
                         f"{array.ndim}). Received: axis={axis!r}")
    if isinstance(order, bool) or not isinstance(order, numbers.Real) or not order >= 1:
        raise ValueError(f"{where}: argument 'order' must be a number >= 1 (or numpy.inf). "
                         f"Received: order={order!r}")
    norm = np.linalg.norm(array, ord=order, axis=int(axis), keepdims=True)
    norm[norm == 0] = 1
    return (array / norm).astype(array.dtype, copy=False)
