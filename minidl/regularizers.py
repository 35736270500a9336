"""Weight regularizers, as ``keras.regularizers``: a penalty added to the training loss
and its gradient added to the weight's gradient.

``Dense(64, kernel_regularizer=regularizers.l2(1e-4))`` trains on
``loss + 1e-4 * sum(kernel ** 2)``; the reported loss includes the penalty, as in Keras.
The penalties are summed in double (``minidl.ops.sum``) and the gradient is added with
``minidl.ops.axpy``, on the weight's device.
"""
import numpy as np

from minidl import _registry, backend, ops


def _factor(value, name, where):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or \
            not np.isfinite(value) or value < 0:
        raise ValueError(f"{where}: argument '{name}' must be a finite number >= 0. "
                         f"Received: {value!r}")
    return float(value)


class Regularizer:
    """Base class: ``regularizer(weight)`` is the penalty (a float); ``gradient(weight)``
    its gradient, an array of the weight's shape.

    Example:
        >>> import numpy as np
        >>> from minidl import regularizers
        >>> class Sum(regularizers.Regularizer):
        ...     def __call__(self, weight):
        ...         return float(np.sum(weight))
        ...     def gradient(self, weight):
        ...         return np.ones_like(weight)
        >>> Sum()(np.array([1.0, 2.0]))
        3.0
    """

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def gradient(self, x):
        """d(penalty)/d(weight).

        Args:
            x (array): the weight's value, a NumPy array or a CUDA array of the backend
                in use.

        Returns:
            An array of ``x``'s shape, on ``x``'s device.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement gradient()")

    def get_config(self):
        """The constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Build a regularizer from ``get_config``'s dict."""
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)`` (``keras.regularizers.L1L2``).

    Args:
        l1 (float): the L1 factor (finite, >= 0).
        l2 (float): the L2 factor (finite, >= 0).

    Example:
        >>> import numpy as np
        >>> from minidl import regularizers
        >>> regularizers.L1L2(l1=0.5, l2=0.25)(np.array([1.0, -2.0]))
        2.75
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", type(self).__name__)
        self.l2 = _factor(l2, "l2", type(self).__name__)

    def __call__(self, x):
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(np.abs(backend.to_numpy(x)).sum(dtype=np.float64))
        if self.l2:
            penalty += self.l2 * float(ops.sum(ops.multiply(x, x)))
        return penalty

    def gradient(self, x):
        """``l1 * sign(x) + 2 * l2 * x`` (the sign at 0 is 0, as TensorFlow's)."""
        grad = ops.scale(x, 2.0 * self.l2)
        if self.l1:  # the sign on the host: elementwise and small next to the step
            ops.axpy(grad, self.l1, np.sign(backend.to_numpy(x)))
        return grad

    def get_config(self):
        """``{'l1': ..., 'l2': ...}``."""
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|x|)`` (``keras.regularizers.L1``).

    Args:
        l1 (float): the factor (finite, >= 0; Keras's default 0.01).

    Example:
        >>> import numpy as np
        >>> from minidl import regularizers
        >>> penalty = regularizers.L1(0.1)
        >>> round(float(penalty(np.array([1.0, -2.0]))), 4)
        0.3
        >>> penalty.gradient(np.array([1.0, -2.0]))
        array([ 0.1, -0.1])
    """

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        """``{'l1': ...}``."""
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x ** 2)`` (``keras.regularizers.L2``).

    Args:
        l2 (float): the factor (finite, >= 0; Keras's default 0.01).

    Example:
        >>> import numpy as np
        >>> from minidl import regularizers
        >>> regularizers.l2(0.1)(np.array([1.0, 2.0]))
        0.5
    """

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        """``{'l2': ...}``."""
        return {"l2": self.l2}


def l1_l2(l1=0.01, l2=0.01):
    """``L1L2(l1, l2)`` with Keras's defaults for the function (0.01 each).

    Args:
        l1 (float): the L1 factor (finite, >= 0).
        l2 (float): the L2 factor (finite, >= 0).

    Example:
        >>> import numpy as np
        >>> from minidl import regularizers
        >>> round(float(regularizers.l1_l2(l1=0.1, l2=0.1)(np.array([1.0, -2.0]))), 4)
        0.8
    """
    return L1L2(l1=l1, l2=l2)


# Keras's lower-case spellings
l1 = L1
l2 = L2

_REGISTRY = {"L1L2": L1L2, "L1": L1, "L2": L2, "l1_l2": l1_l2, "l1": L1, "l2": L2}


def _lookup(name):
    cls = _registry.find(_REGISTRY, name, fold_case=False)
    if cls is None:
        raise ValueError(f"Unknown regularizer: {name!r}. Valid names: l1, l2, l1_l2, L1, "
                         f"L2, L1L2")
    return cls


def serialize(regularizer):
    """A regularizer as ``{"module", "class_name", "config"}``.

    Args:
        regularizer (Regularizer): the regularizer to serialize (TypeError for anything
            else).

    Example:
        >>> from minidl import regularizers
        >>> regularizers.serialize(regularizers.L2(0.01))
        {'module': 'minidl.regularizers', 'class_name': 'L2', 'config': {'l2': 0.01}}
    """
    return _registry.serialize(regularizer, Regularizer, "minidl.regularizers", "regularizer",
                               "a Regularizer instance")


def deserialize(config):
    """Build a regularizer from ``serialize``'s dict.

    Args:
        config (dict): a ``serialize`` dict: ``"class_name"`` (a registered name) and
            ``"config"`` (the constructor arguments; missing or None for the defaults).

    Example:
        >>> from minidl import regularizers
        >>> regularizers.deserialize({"class_name": "L1", "config": {"l1": 0.5}}).l1
        0.5
    """
    return _registry.deserialize(config, _lookup, "regularizers")


def get(identifier):
    """Resolve a regularizer identifier, as ``keras.regularizers.get``.

    Args:
        identifier (str or dict or Regularizer or type or None): None (returns None), a
            name (``'l1'``, ``'l2'``, ``'l1_l2'``, ``'L1'``, ``'L2'``, ``'L1L2'``; case
            matters), a ``serialize`` dict, or a ``Regularizer`` class or instance.

    Returns:
        A ``Regularizer`` (or None).

    Example:
        >>> from minidl import regularizers
        >>> type(regularizers.get("l2")).__name__
        'L2'
    """
    return _registry.get_or_none(identifier, Regularizer, _lookup, deserialize, "regularizer")
