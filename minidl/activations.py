"""Activation functions by name, as ``keras.activations``: ``relu``, ``sigmoid``, ``tanh``,
``softmax``, ``linear``, ``elu``, ``selu``, ``softplus``, ``leaky_relu``, ``gelu`` and
``silu`` (also named ``swish``), each a function of an array computed by the C core (the
last six on the CPU only)."""
from minidl import ops

ALL = ("linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus",
       "leaky_relu", "gelu", "silu")
# other names of the same functions (Keras's): the canonical name is the value
_ALIASES = {"swish": "silu"}


def relu(x):
    """``max(x, 0)``.

    Args:
        x (array): input of any shape (NumPy or array-like on the CPU, a DeviceArray on
            the GPU).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.relu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([0., 0., 2.])
    """
    return ops.relu(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, stable for large ``|x|``.

    Args:
        x (array): input of any shape (NumPy or array-like on the CPU, a DeviceArray on
            the GPU).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.sigmoid(np.array([-1.0, 0.0, 2.0])).round(4)
        array([0.2689, 0.5   , 0.8808])
    """
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent.

    Args:
        x (array): input of any shape (NumPy or array-like on the CPU, a DeviceArray on
            the GPU).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.tanh(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.7616,  0.    ,  0.964 ])
    """
    return ops.tanh(x)


def softmax(x, axis=-1):
    """Softmax along ``axis`` (max-subtracted).

    Args:
        x (array): input of rank >= 1 (NumPy or array-like on the CPU, a DeviceArray on
            the GPU).
        axis (int): the axis to normalise (default: the last).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.softmax(np.array([[0.0, np.log(3.0)]])).round(4)
        array([[0.25, 0.75]])
    """
    return ops.softmax(x, axis=axis)


def linear(x):
    """The identity.

    Args:
        x (array): input of any shape, returned as it is (not copied).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.linear(np.array([-1.0, 2.0]))
        array([-1.,  2.])
    """
    return x


def elu(x):
    """``x`` where positive, else ``exp(x) - 1`` (Keras's ``elu`` with alpha 1).

    Args:
        x (array): input of any shape (NumPy or array-like; this activation runs on the
            CPU only).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.elu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.6321,  0.    ,  2.    ])
    """
    return ops.activation(x, "elu")


def selu(x):
    """``scale * elu(x, alpha)`` with Keras's self-normalizing constants
    (scale 1.0507..., alpha 1.6733...).

    Args:
        x (array): input of any shape (NumPy or array-like; this activation runs on the
            CPU only).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.selu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-1.1113,  0.    ,  2.1014])
    """
    return ops.activation(x, "selu")


def softplus(x):
    """``log(1 + exp(x))``, stable for any ``|x|``.

    Args:
        x (array): input of any shape (NumPy or array-like; this activation runs on the
            CPU only).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.softplus(np.array([-1.0, 0.0, 2.0])).round(4)
        array([0.3133, 0.6931, 2.1269])
    """
    return ops.activation(x, "softplus")


def leaky_relu(x):
    """``x`` where positive, else ``0.2 * x`` (Keras 3's default negative slope).

    Args:
        x (array): input of any shape (NumPy or array-like; this activation runs on the
            CPU only).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.leaky_relu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.2,  0. ,  2. ])
    """
    return ops.activation(x, "leaky_relu")


def gelu(x, approximate=False):
    """Gaussian error linear unit ``x * Phi(x)`` (exact, Keras's default).

    Args:
        x (array): input of any shape (NumPy or array-like; CPU only).
        approximate (bool): only False (the tanh approximation is not implemented).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.gelu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.1587,  0.    ,  1.9545])
    """
    return ops.gelu(x, approximate=approximate)


def silu(x):
    """``x * sigmoid(x)`` (also ``swish``).

    Args:
        x (array): input of any shape (NumPy or array-like; CPU only).

    Example:
        >>> import numpy as np
        >>> from minidl import activations
        >>> activations.silu(np.array([-1.0, 0.0, 2.0])).round(4)
        array([-0.2689,  0.    ,  1.7616])
        >>> activations.swish is activations.silu
        True
    """
    return ops.silu(x)


swish = silu


def get(identifier):
    """The canonical name of an activation: None and ``'linear'`` give ``'linear'``.

    Args:
        identifier (str or callable or None): None, one of the names in ``ALL`` or
            ``'swish'`` (in any case) or one of this module's functions.

    Raises:
        ValueError: for any other value, listing the valid names.

    Example:
        >>> from minidl import activations
        >>> activations.get(None), activations.get("ReLU"), activations.get(activations.tanh)
        ('linear', 'relu', 'tanh')
    """
    if identifier is None:
        return "linear"
    if callable(identifier) and getattr(identifier, "__module__", None) == __name__:
        return identifier.__name__
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier.lower(), identifier.lower())
        if name in ALL:
            return name
    raise ValueError(f"Unknown activation: {identifier!r}. Valid names are {', '.join(ALL)} "
                     f"(or None).")


def serialize(name):
    """The config value of an activation (its name).

    Args:
        name (str or callable or None): anything :func:`get` accepts.

    Raises:
        ValueError: for an unknown activation, as :func:`get`.

    Example:
        >>> from minidl import activations
        >>> activations.serialize(activations.sigmoid)
        'sigmoid'
    """
    return get(name)
