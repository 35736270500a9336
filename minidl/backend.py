"""Framework-wide settings and the ``keras.backend`` basics that Keras 2 programs use:
the float dtype of new weights, the image layout, the fuzz factor, the name registry,
and reading or setting values (``get_value``, ``set_value``, ``eval``, ``int_shape``)."""
import collections
import re

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_NAME_COUNTS = collections.defaultdict(int)


def floatx():
    """The default float dtype of new weights and activations (``'float32'``)."""
    return _FLOATX


def set_floatx(value):
    """Set the default float dtype: ``'float32'`` or ``'float64'``."""
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: argument 'value' must be 'float32' or 'float64', "
                         f"received {value!r}")
    _FLOATX = value


def to_snake_case(name):
    """``'BatchNormalization'`` -> ``'batch_normalization'``, ``'Conv2D'`` -> ``'conv2d'``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix):
    """A fresh name as Keras makes them: ``dense``, ``dense_1``, ``dense_2``, ..."""
    count = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session():
    """Reset the layer-name counters (as ``keras.backend.clear_session``)."""
    _NAME_COUNTS.clear()


def backend():
    """The name of the engine computing (``'minidl'``), as ``keras.backend.backend``."""
    return "minidl"


def image_data_format():
    """``'channels_last'``: minidl's images are NHWC, as Keras's default."""
    return "channels_last"


def set_image_data_format(data_format):
    """Accepts ``'channels_last'`` only (minidl computes in NHWC); ``'channels_first'``
    raises NotImplementedError rather than being ignored."""
    if data_format == "channels_last":
        return
    if data_format == "channels_first":
        raise NotImplementedError("set_image_data_format: minidl computes in "
                                  "channels_last (NHWC) only; transpose NCHW data with "
                                  "numpy.transpose(x, (0, 2, 3, 1))")
    raise ValueError(f"set_image_data_format: argument 'data_format' must be "
                     f"'channels_last' or 'channels_first'. Received: {data_format!r}")


def epsilon():
    """The fuzz factor of the losses and of the optimizers' defaults (``1e-7``)."""
    return _EPSILON


def set_epsilon(value):
    """Accepts the current value only: minidl's kernels are built with ``1e-7``, so
    another value raises NotImplementedError rather than being ignored."""
    if value != _EPSILON:
        raise NotImplementedError(f"set_epsilon: minidl's losses use a fixed epsilon of "
                                  f"{_EPSILON}; pass epsilon= to the optimizer or layer "
                                  f"instead. Received: {value!r}")


def get_value(x):
    """The value of a variable, a learning rate or an array, as NumPy (or a float).

    Args:
        x: a ``Variable`` (weights), an optimizer's ``learning_rate``/``lr``, an array or
            a number.
    """
    if hasattr(x, "numpy") and callable(x.numpy):
        return x.numpy()
    if isinstance(x, float):
        return float(x)
    return np.asarray(x)


def batch_get_value(xs):
    """``[get_value(x) for x in xs]``."""
    return [get_value(x) for x in xs]


def set_value(x, value):
    """Set a variable, or an optimizer's learning rate, to ``value``.

    Args:
        x: a ``Variable`` (assigned, shape checked) or the value of an optimizer's
            ``learning_rate``/``lr`` (Keras 2's ``set_value(model.optimizer.lr, 0.01)``).
        value: the new value.
    """
    optimizer = getattr(x, "optimizer", None)
    if optimizer is not None:
        optimizer.learning_rate = value
        return
    if not hasattr(x, "assign"):
        raise TypeError(f"set_value: argument 'x' must be a Variable or an optimizer's "
                        f"learning rate. Received: {type(x).__name__} (a NumPy array or a "
                        f"number is a copy: setting it would change nothing)")
    x.assign(value)


eval = get_value  # noqa: A001 -- keras.backend.eval


def int_shape(x):
    """The shape of an array, a Variable or a symbolic tensor, as a tuple (None for a
    free batch axis)."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def count_params(x):
    """The number of scalars in a Variable or an array."""
    return int(np.prod(int_shape(x), dtype=np.int64))
