"""Activation functions by name, as ``keras.activations``: ``relu``, ``sigmoid``, ``tanh``,
``softmax`` and ``linear``, each a function of an array computed by the C core."""
from minidl import ops

ALL = ("linear", "relu", "sigmoid", "tanh", "softmax")


def relu(x):
    """``max(x, 0)``."""
    return ops.relu(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, stable for large ``|x|``."""
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def softmax(x, axis=-1):
    """Softmax along ``axis`` (max-subtracted)."""
    return ops.softmax(x, axis=axis)


def linear(x):
    """The identity."""
    return x


def get(identifier):
    """The canonical name of an activation: None and ``'linear'`` give ``'linear'``.

    Args:
        identifier: None, one of ``'linear'``, ``'relu'``, ``'sigmoid'``, ``'tanh'``,
            ``'softmax'`` or one of this module's functions.

    Raises:
        ValueError: for any other value, listing the valid names.
    """
    if identifier is None:
        return "linear"
    if callable(identifier) and getattr(identifier, "__module__", None) == __name__:
        return identifier.__name__
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return identifier.lower()
    raise ValueError(f"Unknown activation: {identifier!r}. Valid names are {', '.join(ALL)} "
                     f"(or None).")


def serialize(name):
    """The config value of an activation (its name)."""
    return get(name)
