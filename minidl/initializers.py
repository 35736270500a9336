"""Weight initializers, as ``keras.initializers``.

Every initializer is a callable object: ``initializer(shape, dtype=None)`` returns a new
NumPy array of that shape (``dtype`` defaults to ``minidl.backend.floatx()``). Random
initializers draw from minidl's global generator at call time (so
``minidl.utils.set_random_seed`` makes a run repeatable), or, when built with an explicit
``seed``, from a generator seeded afresh on every call (the same values each call).

Fans follow Keras: a dense kernel ``(in, out)`` has ``fan_in = in`` and ``fan_out = out``;
a convolution kernel ``(kh, kw, in, out)`` (HWIO) multiplies both by the receptive field
``kh * kw``.
"""
import math
import numbers

import numpy as np

from minidl import _registry, backend, random_state

# Keras truncates normals at two standard deviations; the standard deviation of a unit
# normal truncated to [-2, 2] is this constant, so dividing by it restores the variance.
_TRUNCATION_STDDEV_CORRECTION = 0.87962566103423978


def compute_fans(shape):
    """Keras fans of a weight shape.

    Args:
        shape (tuple of ints): the weight's shape: () and (n,) give fans (1, 1) and
            (n, n); (in, out) a dense kernel; (..., in, out) a convolution kernel whose
            leading axes form the receptive field.

    Returns:
        ``(fan_in, fan_out)`` as ints.

    Example:
        >>> from minidl import initializers
        >>> initializers.compute_fans((3, 3, 16, 32))  # a 3x3 convolution: 9 * 16 in, 9 * 32 out
        (144, 288)
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _check_shape(shape, where):
    """``shape`` as a tuple of non-negative ints, or a ValueError naming the caller."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                               and d >= 0 for d in dims):
        raise ValueError(f"{where}: argument 'shape' must be a tuple of non-negative ints. "
                         f"Received: shape={shape!r}")
    return tuple(int(d) for d in dims)


def _check_dtype(dtype, where):
    """The float dtype to return (floatx by default); TypeError for non-float dtypes."""
    resolved = np.dtype(dtype or backend.floatx())
    if resolved.kind != "f":
        raise TypeError(f"{where}: argument 'dtype' must be a float dtype. "
                        f"Received: dtype={dtype!r}")
    return resolved


def _check_real(value, name, where, positive=False):
    """A finite real number as a float (strictly positive when ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value) or (positive and value <= 0):
        wanted = "a positive finite number" if positive else "a finite number"
        raise ValueError(f"{where}: argument '{name}' must be {wanted}. "
                         f"Received: {name}={value!r}")
    return float(value)


def _truncated_normal(generator, shape, stddev):
    """Normal(0, stddev) samples with every value redrawn until it lies within 2 stddev.

    The rejection loop runs over rounds, not elements: each round redraws only the
    rejected values (about 4.6% of the previous round).
    """
    values = generator.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = generator.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values * stddev


class Initializer:
    """Base class of initializers: ``initializer(shape, dtype=None)`` -> ndarray.

    Subclasses implement ``__call__`` and ``get_config``; ``from_config`` rebuilds an
    equal initializer from that config.

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> class Constant(initializers.Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return np.full(shape, 0.5, dtype=dtype or "float32")
        >>> Constant()((2,))
        array([0.5, 0.5], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        """Return a new array.

        Args:
            shape (int or tuple of ints): the array's shape (non-negative ints).
            dtype (str or numpy.dtype or None): a float dtype (default
                ``minidl.backend.floatx()``).

        Returns:
            A NumPy array.
        """
        raise NotImplementedError(f"{type(self).__name__}: initializers must implement "
                                  f"__call__(shape, dtype=None)")

    def get_config(self):
        """The constructor arguments as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Build an initializer from the dict returned by ``get_config``."""
        return cls(**config)

    def clone(self):
        """A new initializer with the same configuration."""
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """Fills with a constant value.

    Args:
        value (float or array-like): a number, or a numeric array broadcastable to the
            requested shape.

    Example:
        >>> from minidl import initializers
        >>> initializers.Constant(0.5)((2,), dtype="float32")
        array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, value=0.0):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"Constant: argument 'value' must be a number or a numeric "
                             f"array. Received: value={value!r}")
        self.value = value

    def __call__(self, shape, dtype=None):
        """Return an array of ``shape`` filled with ``value``."""
        shape = _check_shape(shape, type(self).__name__)
        dtype = _check_dtype(dtype, type(self).__name__)
        try:
            filled = np.broadcast_to(np.asarray(self.value, dtype=dtype), shape)
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: value of shape "
                             f"{np.shape(self.value)} cannot fill shape {shape}") from exc
        return np.array(filled, dtype=dtype, order="C")

    def get_config(self):
        value = self.value
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        return {"value": value}


class Zeros(Constant):
    """Fills with zeros.

    Example:
        >>> from minidl import initializers
        >>> initializers.Zeros()((3,))
        array([0., 0., 0.], dtype=float32)
    """

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    """Fills with ones.

    Example:
        >>> from minidl import initializers
        >>> initializers.Ones()((2, 2))
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed and picks the generator.

    Args:
        seed (int or None): None draws from minidl's global generator at each call; a
            non-negative int seeds a fresh generator on each call, so every call returns
            the same values.

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> a, b = initializers.RandomNormal(seed=3), initializers.RandomNormal(seed=3)
        >>> bool(np.array_equal(a((4,)), b((4,))))  # a seed gives repeatable draws
        True
    """

    def __init__(self, seed=None):
        self.seed = random_state.check_seed(seed, type(self).__name__)

    def _generator(self):
        return random_state.generator_for(self.seed)

    def __call__(self, shape, dtype=None):
        """Return a new random array of ``shape``."""
        where = type(self).__name__
        shape = _check_shape(shape, where)
        dtype = _check_dtype(dtype, where)
        # Draw in float64 and round once, so float32 and float64 weights agree.
        return np.ascontiguousarray(self._sample(self._generator(), shape), dtype=dtype)

    def _sample(self, generator, shape):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal distribution.

    Args:
        mean (float): mean of the values.
        stddev (float): standard deviation of the values (positive).
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> from minidl import initializers
        >>> w = initializers.RandomNormal(mean=1.0, stddev=0.1, seed=0)((1000,))
        >>> round(float(w.mean()), 1), round(float(w.std()), 2)
        (1.0, 0.1)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _check_real(mean, "mean", "RandomNormal")
        self.stddev = _check_real(stddev, "stddev", "RandomNormal", positive=True)

    def _sample(self, generator, shape):
        return generator.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomInitializer):
    """Normal distribution truncated to two standard deviations around the mean.

    Args:
        mean (float): mean of the values.
        stddev (float): standard deviation of the normal before truncation (positive).
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> w = initializers.TruncatedNormal(stddev=0.1, seed=0)((1000,))
        >>> bool(np.abs(w).max() <= 0.2)  # redrawn beyond two standard deviations
        True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _check_real(mean, "mean", "TruncatedNormal")
        self.stddev = _check_real(stddev, "stddev", "TruncatedNormal", positive=True)

    def _sample(self, generator, shape):
        return self.mean + _truncated_normal(generator, shape, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(RandomInitializer):
    """Uniform distribution on ``[minval, maxval)``.

    Args:
        minval (float): lower bound.
        maxval (float): upper bound (greater than minval).
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> from minidl import initializers
        >>> w = initializers.RandomUniform(-0.5, 0.5, seed=0)((1000,))
        >>> bool(w.min() >= -0.5 and w.max() < 0.5)
        True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = _check_real(minval, "minval", "RandomUniform")
        self.maxval = _check_real(maxval, "maxval", "RandomUniform")
        if self.maxval <= self.minval:
            raise ValueError(f"RandomUniform: argument 'maxval' must be greater than "
                             f"'minval'. Received: minval={minval!r}, maxval={maxval!r}")

    def _sample(self, generator, shape):
        return generator.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Scales the variance of the values to the weight's fans.

    With ``n`` the fan chosen by ``mode`` (``fan_avg`` = (fan_in + fan_out) / 2) the
    variance is ``scale / n``: ``uniform`` draws from ``[-sqrt(3 * scale / n), +...]``,
    ``truncated_normal`` from a normal truncated at two standard deviations with
    ``stddev = sqrt(scale / n) / 0.8796...`` (restoring the variance the truncation
    removes), ``untruncated_normal`` from a plain normal of stddev ``sqrt(scale / n)``.

    Args:
        scale (float): positive scaling factor.
        mode (str): 'fan_in', 'fan_out' or 'fan_avg'.
        distribution (str): 'truncated_normal', 'untruncated_normal' or 'uniform' (any
            case; 'normal' is Keras's alias of 'truncated_normal').
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> init = initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform",
        ...                                     seed=0)
        >>> w = init((400, 10))
        >>> bool(np.abs(w).max() <= np.sqrt(3 * 2.0 / 400))
        True
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        where = type(self).__name__
        super().__init__(seed)
        self.scale = _check_real(scale, "scale", where, positive=True)
        if mode not in _MODES:
            raise ValueError(f"{where}: argument 'mode' must be one of {_MODES}. "
                             f"Received: mode={mode!r}")
        if isinstance(distribution, str):
            distribution = distribution.lower()
            if distribution == "normal":  # Keras's alias
                distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"{where}: argument 'distribution' must be one of "
                             f"{_DISTRIBUTIONS}. Received: distribution={distribution!r}")
        self.mode = mode
        self.distribution = distribution

    def _variance(self, shape):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out,
               "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, fan)

    def _sample(self, generator, shape):
        variance = self._variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return generator.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return generator.normal(0.0, math.sqrt(variance), shape)
        return _truncated_normal(generator, shape,
                                 math.sqrt(variance) / _TRUNCATION_STDDEV_CORRECTION)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset whose only argument is the seed."""

    _PRESET = {}

    def __init__(self, seed=None):
        super().__init__(seed=seed, **self._PRESET)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    The default kernel initializer of Dense and Conv2D.

    Args:
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> kernel = initializers.GlorotUniform(seed=0)((100, 100), dtype="float32")
        >>> bool(np.abs(kernel).max() <= np.sqrt(6 / (100 + 100)))  # limit sqrt(6/(in+out))
        True
    """

    _PRESET = {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal, ``stddev = sqrt(2 / (fan_in + fan_out))``
    before the truncation correction.

    Args:
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> w = initializers.GlorotNormal(seed=0)((400, 300))
        >>> round(float(w.std()), 2), round(float(np.sqrt(2 / 700)), 2)
        (0.05, 0.05)
    """

    _PRESET = {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}


class HeUniform(_FixedVarianceScaling):
    """He uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / fan_in)``.

    Args:
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> kernel = initializers.HeUniform(seed=0)((50, 10), dtype="float64")
        >>> bool(np.abs(kernel).max() <= np.sqrt(6 / 50))  # limit sqrt(6/fan_in)
        True
    """

    _PRESET = {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal, ``stddev = sqrt(2 / fan_in)`` before the truncation
    correction.

    Args:
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> w = initializers.HeNormal(seed=0)((400, 300))
        >>> round(float(w.std()), 2), round(float(np.sqrt(2 / 400)), 2)
        (0.07, 0.07)
    """

    _PRESET = {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: ``U(-limit, limit)``, ``limit = sqrt(3 / fan_in)``.

    Args:
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> w = initializers.LecunUniform(seed=0)((400, 300))
        >>> bool(np.abs(w).max() <= np.sqrt(3 / 400))
        True
    """

    _PRESET = {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"}


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal, ``stddev = sqrt(1 / fan_in)`` before the
    truncation correction.

    Args:
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> w = initializers.LecunNormal(seed=0)((400, 300))
        >>> round(float(w.std()), 2), round(float(np.sqrt(1 / 400)), 2)
        (0.05, 0.05)
    """

    _PRESET = {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``: the Q of the QR factorisation of a
    standard normal matrix, signs fixed by R's diagonal (``keras.initializers.Orthogonal``;
    the recurrent kernels' default). A shape of more than two axes is flattened to
    ``(product of the others, last)``.

    Args:
        gain (float): the factor applied to the orthogonal matrix (positive).
        seed (int or None): None or a non-negative int (see ``RandomInitializer``).

    Example:
        >>> import numpy as np
        >>> from minidl import initializers
        >>> q = initializers.Orthogonal(seed=0)((4, 4))
        >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-6))
        True
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = _check_real(gain, "gain", "Orthogonal", positive=True)

    def _sample(self, generator, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape must have at least 2 axes. Received: "
                             f"shape {tuple(shape)}")
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        normal = generator.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(normal)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_CLASSES = (Constant, Zeros, Ones, RandomNormal, TruncatedNormal, RandomUniform,
            VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
            LecunNormal, Orthogonal)

# snake_case names and class names, plus Keras's short aliases.
_REGISTRY = {cls.__name__: cls for cls in _CLASSES}
_REGISTRY.update({backend.to_snake_case(cls.__name__): cls for cls in _CLASSES})
_REGISTRY.update({"zero": Zeros, "one": Ones, "normal": RandomNormal,
                  "uniform": RandomUniform})

# Lower-case aliases ('glorot_uniform', 'zeros', ...): these names exist in minidl's own
# namespace as in keras.initializers.
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
orthogonal = Orthogonal


def _valid_names():
    return ", ".join(sorted(n for n in _REGISTRY if n == backend.to_snake_case(n)))


def serialize(initializer):
    """An initializer as a dict ``{"class_name", "config"}``.

    Args:
        initializer (Initializer): an ``Initializer`` instance (TypeError for anything
            else).

    Returns:
        A JSON-friendly dict that ``deserialize``/``get`` turn back into an equal
        initializer.

    Example:
        >>> from minidl import initializers
        >>> initializers.serialize(initializers.HeNormal())["class_name"]
        'HeNormal'
    """
    return _registry.serialize(initializer, Initializer, "minidl.initializers", "initializer",
                               "an Initializer instance")


def deserialize(config):
    """Build an initializer from ``serialize``'s dict.

    Args:
        config (dict): a dict with ``class_name`` (class or snake_case name) and
            ``config`` (the constructor arguments; missing or None for the defaults).

    Returns:
        An ``Initializer``.

    Example:
        >>> from minidl import initializers
        >>> type(initializers.deserialize({"class_name": "Ones", "config": {}})).__name__
        'Ones'
    """
    return _registry.deserialize(config, _lookup, "initializers")


def _lookup(name):
    cls = _registry.find(_REGISTRY, name)
    if cls is None:
        raise ValueError(f"Unknown initializer: {name!r}. Valid names: {_valid_names()}")
    return cls


def get(identifier):
    """Resolve an initializer identifier, as ``keras.initializers.get``.

    Args:
        identifier (str or dict or Initializer or type or callable or None): None
            (returns None), a name ('glorot_uniform', 'he_normal', 'zeros', ... or a class
            name such as 'HeUniform'), a ``serialize`` dict, an ``Initializer`` class or
            instance, or any callable ``f(shape, dtype=None)`` (returned as is).

    Returns:
        An initializer (or None).

    Example:
        >>> from minidl import initializers
        >>> type(initializers.get("he_uniform")).__name__
        'HeUniform'
    """
    if identifier is None:
        return None
    resolved = _registry.resolve(identifier, Initializer, _lookup, deserialize)
    if resolved is not None:
        return resolved
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}. "
                     f"Expected None, a name ({_valid_names()}), a dict or a callable.")
