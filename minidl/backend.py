"""Framework-wide settings: the float dtype of new weights and the name registry."""
import collections
import re

_FLOATX = "float32"
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
