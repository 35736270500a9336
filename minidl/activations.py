"""Activation functions by name, as ``keras.activations``: ``relu``, ``sigmoid``, ``tanh``,
``softmax``, ``linear``, ``elu``, ``selu``, ``softplus`` and ``leaky_relu``, each a
function of an array computed by the C core (the last four on the CPU only)."""
from minidl import ops

ALL = ("linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus",
       "leaky_relu")


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


def elu(x):
    """``x`` where positive, else ``exp(x) - 1`` (Keras's ``elu`` with alpha 1)."""
    return ops.activation(x, "elu")


def selu(x):
    """``scale * elu(x, alpha)`` with Keras's self-normalizing constants
    (scale 1.0507..., alpha 1.6733...)."""
    return ops.activation(x, "selu")


def softplus(x):
    """``log(1 + exp(x))``, stable for any ``|x|``."""
    return ops.activation(x, "softplus")


def leaky_relu(x):
    """``x`` where positive, else ``0.2 * x`` (Keras 3's default negative slope)."""
    return ops.activation(x, "leaky_relu")


def get(identifier):
    """The canonical name of an activation: None and ``'linear'`` give ``'linear'``.

    Args:
        identifier: None, one of the names in ``ALL`` or one of this module's functions.

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
