"""Weight constraints, as ``keras.constraints``: applied to a weight after every
optimizer update (``Dense(64, kernel_constraint=constraints.MaxNorm(3))``).

A constraint maps the weight's value (a NumPy array) to the constrained value; the
optimizer assigns it back on the weight's device, inside the all-or-nothing step.
"""
import numpy as np

from minidl import _registry

_EPSILON = 1e-7  # Keras's backend epsilon, added to norms before dividing


class Constraint:
    """Base class: ``constraint(w)`` returns the constrained copy of ``w``.

    Example:
        >>> import numpy as np
        >>> from minidl import constraints
        >>> class Clip(constraints.Constraint):
        ...     def __call__(self, w):
        ...         return np.clip(w, -1.0, 1.0)
        >>> Clip()(np.array([-3.0, 0.5, 2.0]))
        array([-1. ,  0.5,  1. ])
    """

    def __call__(self, w):
        return w

    def get_config(self):
        """The constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Build a constraint from ``get_config``'s dict."""
        return cls(**config)


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=axis, keepdims=True))


class NonNeg(Constraint):
    """Negative weights become 0 (``keras.constraints.NonNeg``).

    Example:
        >>> import numpy as np
        >>> from minidl import constraints
        >>> constraints.NonNeg()(np.array([-1.0, 2.0]))
        array([0., 2.])
    """

    def __call__(self, w):
        return np.maximum(w, 0).astype(w.dtype)


class MaxNorm(Constraint):
    """Each slice along ``axis`` (a unit's incoming weights, for ``axis=0`` of a dense
    kernel) is rescaled to an L2 norm of at most ``max_value``
    (``keras.constraints.MaxNorm``).

    Args:
        max_value (float): the largest norm.
        axis (int or tuple of ints): the axis (or axes) the norm runs over.

    Example:
        >>> import numpy as np
        >>> from minidl import constraints
        >>> constraints.MaxNorm(1.0)(np.array([[3.0], [4.0]]))  # the column's norm 5 becomes 1
        array([[0.59999999],
               [0.79999998]])
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        wanted = np.clip(norms, 0, self.max_value)
        return (w * (wanted / (_EPSILON + norms))).astype(w.dtype)

    def get_config(self):
        """``{'max_value': ..., 'axis': ...}``."""
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm(Constraint):
    """Each slice along ``axis`` is scaled to unit L2 norm (``keras.constraints.UnitNorm``).

    Args:
        axis (int or tuple of ints): the axis (or axes) the norm runs over.

    Example:
        >>> import numpy as np
        >>> from minidl import constraints
        >>> constraints.UnitNorm()(np.array([[3.0], [4.0]]))
        array([[0.59999999],
               [0.79999998]])
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return (w / (_EPSILON + _norms(w, self.axis))).astype(w.dtype)

    def get_config(self):
        """``{'axis': ...}``."""
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Each slice's norm is moved towards ``[min_value, max_value]`` by ``rate``
    (``keras.constraints.MinMaxNorm``).

    Args:
        min_value, max_value (float): the bounds of the norm.
        rate (float): 1 enforces the bounds strictly; less moves part of the way.
        axis (int or tuple of ints): the axis (or axes) the norm runs over.

    Example:
        >>> import numpy as np
        >>> from minidl import constraints
        >>> constraints.MinMaxNorm(min_value=1.0, max_value=2.0)(np.array([[0.3], [0.4]]))
        array([[0.59999988],
               [0.79999984]])
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value = float(min_value), float(max_value)
        self.rate, self.axis = float(rate), axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        wanted = self.rate * np.clip(norms, self.min_value, self.max_value) + \
            (1 - self.rate) * norms
        return (w * (wanted / (_EPSILON + norms))).astype(w.dtype)

    def get_config(self):
        """The constructor arguments."""
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


# Keras's lower-case spellings
non_neg = NonNeg
max_norm = MaxNorm
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_REGISTRY = {"NonNeg": NonNeg, "MaxNorm": MaxNorm, "UnitNorm": UnitNorm,
             "MinMaxNorm": MinMaxNorm, "non_neg": NonNeg, "max_norm": MaxNorm,
             "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}


def _lookup(name):
    cls = _registry.find(_REGISTRY, name, fold_case=False)
    if cls is None:
        raise ValueError(f"Unknown constraint: {name!r}. Valid names: "
                         f"{', '.join(sorted(_REGISTRY))}")
    return cls


def serialize(constraint):
    """A constraint as ``{"module", "class_name", "config"}``.

    Args:
        constraint (Constraint): the constraint to serialize (TypeError for anything
            else).

    Example:
        >>> from minidl import constraints
        >>> constraints.serialize(constraints.MaxNorm(3.0))
        {'module': 'minidl.constraints', 'class_name': 'MaxNorm',
         'config': {'max_value': 3.0, 'axis': 0}}
    """
    return _registry.serialize(constraint, Constraint, "minidl.constraints", "constraint",
                               "a Constraint instance")


def deserialize(config):
    """Build a constraint from ``serialize``'s dict.

    Args:
        config (dict): a ``serialize`` dict: ``"class_name"`` (a registered name) and
            ``"config"`` (the constructor arguments; missing or None for the defaults).

    Example:
        >>> from minidl import constraints
        >>> config = {"class_name": "MaxNorm", "config": {"max_value": 3.0, "axis": 0}}
        >>> constraints.deserialize(config).max_value
        3.0
    """
    return _registry.deserialize(config, _lookup, "constraints")


def get(identifier):
    """Resolve a constraint identifier, as ``keras.constraints.get``: None, a name, a
    ``serialize`` dict, or a ``Constraint`` class or instance.

    Args:
        identifier (str or dict or Constraint or type or None): a registered name
            (``"max_norm"``, ``"MaxNorm"``, ...), a ``serialize`` dict, a ``Constraint``
            instance (returned as is) or subclass (built with its defaults), or None
            (returns None).

    Example:
        >>> from minidl import constraints
        >>> type(constraints.get("non_neg")).__name__
        'NonNeg'
    """
    return _registry.get_or_none(identifier, Constraint, _lookup, deserialize, "constraint")
