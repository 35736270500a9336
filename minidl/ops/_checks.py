"""The argument checks that ops share: one message style (``op: argument 'name' must be
... Received: ...``), run once per call, before any work, on arguments that are Python
values or shapes -- never on the values of a device array (its kernels check those).
Also the axis permutations that move a channel or class axis last and back."""
import math
import numbers

import numpy as np


def require_ndim(array, ndims, name, where):
    """Raise ValueError unless array.ndim is one of ``ndims``."""
    if isinstance(ndims, int):
        ndims = (ndims,)
    if array.ndim not in ndims:
        wanted = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{where}: argument '{name}' must have rank {wanted}. "
                         f"Received: shape {array.shape} (rank {array.ndim})")


def require_nonempty(array, name, where):
    """Raise ValueError for an array with a zero-length axis (an empty batch)."""
    if array.size == 0:
        raise ValueError(f"{where}: argument '{name}' must not be empty. "
                         f"Received: shape {array.shape}")


def positive_tuple(value, n, name, where):
    """An int or a length-n sequence of positive ints as an n-tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        items = (int(value),) * n
    else:
        try:
            items = tuple(value)
        except TypeError:
            items = ()
        if len(items) != n or not all(isinstance(v, numbers.Integral) and
                                      not isinstance(v, bool) for v in items):
            raise ValueError(f"{where}: argument '{name}' must be an int or a tuple of "
                             f"{n} ints. Received: {value!r}")
        items = tuple(int(v) for v in items)
    if any(v <= 0 for v in items):
        raise ValueError(f"{where}: argument '{name}' must be positive. Received: {value!r}")
    return items


def padding_mode(padding, where):
    """Validate a padding string and return it in lower case."""
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{where}: argument 'padding' must be 'valid' or 'same'. "
                         f"Received: {padding!r}")
    return padding.lower()


def output_length(length, window, stride, padding):
    """Keras/TensorFlow output length of one spatial axis."""
    if padding == "same":
        return -(-length // stride)
    return (length - window) // stride + 1


def bounded_number(value, name, where, low, high=None):
    """A finite real number in [low, high] (high None: unbounded) as a float."""
    if type(value) is not float and (isinstance(value, bool) or  # float: skip the ABCs
                                      not isinstance(value, numbers.Real)):
        raise TypeError(f"{where}: argument '{name}' must be a real number. "
                        f"Received: {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        wanted = f"in [{low}, {high}]" if high is not None else f"a finite number >= {low}"
        raise ValueError(f"{where}: argument '{name}' must be {wanted}. Received: {value!r}")
    return value


def axis_index(axis, ndim, shape, where, name="axis"):
    """``axis`` in [-ndim, ndim) as a non-negative int, or a ValueError/TypeError."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{where}: argument '{name}' must be an int. Received: {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{where}: argument '{name}' must be in [{-ndim}, {ndim}) for an "
                         f"input of shape {shape}. Received: {axis}")
    return axis % ndim


def same_shape(a, b, name_a, name_b, where):
    """Raise ValueError unless two arrays have the same shape (naming both shapes)."""
    if a.shape != b.shape:
        raise ValueError(f"{where}: arguments '{name_a}' and '{name_b}' must have the same "
                         f"shape. Received: {name_a}.shape={a.shape} and "
                         f"{name_b}.shape={b.shape}")


def reduction_axes(axis, ndim, where):
    """Normalise keras.ops ``axis`` (None, an int or a sequence of ints; negative counts
    from the end) to a sorted tuple of distinct axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral) and not isinstance(axis, (bool, np.bool_)):
        items = (axis,)
    elif isinstance(axis, (tuple, list)):
        items = tuple(axis)
        if not all(isinstance(a, numbers.Integral) and not isinstance(a, (bool, np.bool_))
                   for a in items):
            raise TypeError(f"{where}: argument 'axis' must be None, an int or a tuple of "
                            f"ints. Received: {axis!r}")
    else:
        raise TypeError(f"{where}: argument 'axis' must be None, an int or a tuple of ints. "
                        f"Received: {axis!r}")
    axes = []
    for a in items:
        if not -ndim <= a < ndim:
            raise ValueError(f"{where}: argument 'axis' {axis!r} is out of range for an "
                             f"array of rank {ndim}")
        axes.append(int(a) % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: argument 'axis' must not repeat an axis. Received: {axis!r}")
    return tuple(sorted(axes))


def real_scalar(value, name, where, low=None, high=None, high_open=False):
    """A finite real scalar argument as a float, optionally inside [low, high] (or
    [low, high) when ``high_open``); TypeError/ValueError naming the argument otherwise."""
    if type(value) is not float:  # the common case skips the slow ABC checks
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            value = value.item()
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{where}: argument '{name}' must be a real number. "
                            f"Received: {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{where}: argument '{name}' must be finite. Received: {value!r}")
    too_low = low is not None and result < low
    too_high = high is not None and (result > high or (high_open and result == high))
    if too_low or too_high:
        interval = f"[{low}, {high}{')' if high_open else ']'}" if high is not None \
            else f">= {low}"
        raise ValueError(f"{where}: argument '{name}' must be in {interval}. "
                         f"Received: {value!r}")
    return result


def step_number(step, where):
    """The 1-based step number of an update as an int (TypeError/ValueError naming it)."""
    if isinstance(step, np.ndarray) and step.ndim == 0 and step.dtype.kind in "iu":
        step = step.item()
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral):
        raise TypeError(f"{where}: argument 'step' must be an integer. Received: {step!r}")
    if step < 1:
        raise ValueError(f"{where}: argument 'step' must be >= 1 (the first step is 1). "
                         f"Received: {step!r}")
    return int(step)


def channel_axis(axis, ndim, where):
    """A channel axis as a non-negative int, or a ValueError naming the op."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"{where}: argument 'axis' must be an int. Received: {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{where}: argument 'axis' must be in [{-ndim}, {ndim}) for an "
                         f"input of rank {ndim}. Received: {axis}")
    return int(axis) % ndim


def size_pair(value, name, where):
    """A (height, width) pair of positive ints, or a ValueError naming the argument."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(f"{where}: argument '{name}' must be a tuple of 2 positive ints "
                         f"(height, width). Received: {value!r}")
    return positive_tuple(value, 2, name, where)


def class_labels(labels, rows, cols, where, name="labels"):
    """Class labels as a contiguous int64 (rows,) array.

    Accepts integer arrays of shape (rows,) or (rows, 1), and float arrays holding whole
    numbers; raises TypeError for other dtypes and ValueError for a wrong shape or a
    label outside [0, cols).
    """
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: argument '{name}' must be an integer array. Received: "
                        f"{type(labels).__name__}") from exc
    kind = array.dtype.kind
    if kind == "f":
        finite = np.isfinite(array)
        if not (finite.all() and np.array_equal(array, np.floor(array))):
            raise TypeError(f"{where}: argument '{name}' must hold integer class indices. "
                            f"Received: dtype {array.dtype} with non-integer values")
    elif kind not in "iu":
        raise TypeError(f"{where}: argument '{name}' must be an integer array. Received: "
                        f"dtype {array.dtype}")
    if array.shape not in ((rows,), (rows, 1)):
        raise ValueError(f"{where}: argument '{name}' must have shape ({rows},) or "
                         f"({rows}, 1). Received: shape {array.shape}")
    flat = array.reshape(-1)
    bad = (flat < 0) | (flat >= cols)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{where}: argument '{name}' must hold class indices in "
                         f"[0, {cols}). Received: {flat[index].item()!r} at index {index}")
    return np.ascontiguousarray(flat, dtype=np.int64)


def axis_last_order(ndim, axis):
    """The permutation that moves ``axis`` last."""
    return tuple(a for a in range(ndim) if a != axis) + (axis,)


def axis_back_order(ndim, axis):
    """The permutation that undoes ``axis_last_order``."""
    return tuple(range(axis)) + (ndim - 1,) + tuple(range(axis, ndim - 1))
