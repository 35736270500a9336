"""The array functions of Keras 2's backend (``K.sum``, ``K.square``, ...) that custom
losses, metrics and ``Lambda`` layers are written with: NumPy on host arrays, and
recorded on :class:`minidl.Tensor` values, so that what they compute can be
differentiated (:mod:`minidl.autodiff`)."""
import numpy as np


def sum(x, axis=None, keepdims=False):  # noqa: A001 -- keras.backend.sum
    """The sum over ``axis``.

    Args:
        x (array-like or Tensor): the values.
        axis (int or tuple of ints or None): the axes summed (None: all).
        keepdims (bool): keep the summed axes with length 1.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.sum(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=1)
        array([3., 7.])
    """
    return np.sum(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """The mean over ``axis``.

    Args:
        x (array-like or Tensor): the values.
        axis (int or tuple of ints or None): the axes averaged (None: all).
        keepdims (bool): keep the averaged axes with length 1.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.mean(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=-1)
        array([1.5, 3.5])
    """
    return np.mean(x, axis=axis, keepdims=keepdims)


def square(x):
    """``x ** 2`` elementwise.

    Args:
        x (array-like or Tensor): the values.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.square(np.array([-2.0, 3.0]))
        array([4., 9.])
    """
    return np.square(x)


def sqrt(x):
    """The square root of ``max(x, 0)`` (Keras 2 clips negatives to 0 first).

    Args:
        x (array-like or Tensor): the values.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.sqrt(np.array([4.0, -1.0]))
        array([2., 0.])
    """
    return np.sqrt(np.maximum(x, 0.0))


def abs(x):  # noqa: A001 -- keras.backend.abs
    """``|x|`` elementwise.

    Args:
        x (array-like or Tensor): the values.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.abs(np.array([-2.0, 3.0]))
        array([2., 3.])
    """
    return np.absolute(x)


def exp(x):
    """``e ** x`` elementwise.

    Args:
        x (array-like or Tensor): the values.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.exp(np.array([0.0]))
        array([1.])
    """
    return np.exp(x)


def log(x):
    """The natural logarithm elementwise.

    Args:
        x (array-like or Tensor): the values (> 0).

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.log(np.array([1.0]))
        array([0.])
    """
    return np.log(x)


def maximum(x, y):
    """The elementwise maximum of ``x`` and ``y`` (broadcast).

    Args:
        x (array-like or Tensor): the first values.
        y (array-like or Tensor or float): the second values.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.maximum(np.array([-1.0, 2.0]), 0.0)
        array([0., 2.])
    """
    return np.maximum(x, y)


def minimum(x, y):
    """The elementwise minimum of ``x`` and ``y`` (broadcast).

    Args:
        x (array-like or Tensor): the first values.
        y (array-like or Tensor or float): the second values.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.minimum(np.array([-1.0, 2.0]), 0.0)
        array([-1.,  0.])
    """
    return np.minimum(x, y)


def clip(x, min_value, max_value):
    """``x`` limited to ``[min_value, max_value]``.

    Args:
        x (array-like or Tensor): the values.
        min_value (float): the lower bound.
        max_value (float): the upper bound.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.clip(np.array([-2.0, 0.5, 2.0]), 0.0, 1.0)
        array([0. , 0.5, 1. ])
    """
    return np.clip(x, min_value, max_value)


def pow(x, a):  # noqa: A001 -- keras.backend.pow
    """``x ** a`` elementwise.

    Args:
        x (array-like or Tensor): the values.
        a (float or array-like): the exponent.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.pow(np.array([2.0, 3.0]), 3)
        array([ 8., 27.])
    """
    return np.power(x, a)


def dot(x, y):
    """The matrix product of two 2-D arrays.

    Args:
        x (array-like or Tensor): ``(n, k)``.
        y (array-like or Tensor): ``(k, m)``.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.dot(np.eye(2), np.array([[1.0], [2.0]]))
        array([[1.],
               [2.]])
    """
    return np.matmul(x, y)


def cast(x, dtype):
    """``x`` as an array of ``dtype`` (no gradient passes a cast: its result is a
    constant to a GradientTape).

    Args:
        x (array-like or Tensor): the values.
        dtype (str or numpy.dtype): the new dtype.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.cast(np.array([0.2, 0.7]) < 0.5, "float32")
        array([1., 0.], dtype=float32)
    """
    return np.asarray(x).astype(dtype)


def equal(x, y):
    """``x == y`` elementwise, as booleans.

    Args:
        x (array-like or Tensor): the first values.
        y (array-like or Tensor or float): the second values.

    Example:
        >>> import numpy as np
        >>> from minidl import backend as K
        >>> K.equal(np.array([1.0, 2.0]), 2.0)
        array([False,  True])
    """
    return np.equal(x, y)
