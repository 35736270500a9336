"""The compute backends, and the ``keras.backend`` basics that Keras 2 programs use.

Backends: one object per device -- :data:`minidl.backend.cpu.CPU` (NumPy + the C core)
and :data:`minidl.backend.cuda.CUDA` (``DeviceArray`` + the CUDA kernels, registered
once a GPU is ready). Each has ``prepare`` (check and convert an op's argument),
``empty``, ``zeros``, ``asarray``, ``to_numpy``, ``transpose``, ``check_in_place`` and
``kernels``, the compiled module whose functions share their names and argument order
across devices. ``minidl.ops`` picks one per call with :func:`backend_of`; nothing
above ``ops`` needs to know which.

Keras basics: the float dtype of new weights, the image layout, the fuzz factor, the
name registry, reading or setting values (``get_value``, ``set_value``, ``eval``,
``int_shape``), and the array functions custom losses and ``Lambda`` layers use
(``sum``, ``mean``, ``square``, ``sqrt``, ``abs``, ``exp``, ``log``, ``maximum``,
``minimum``, ``clip``, ``pow``, ``dot``, ``cast``, ``equal``: :mod:`minidl.backend.math`).
"""
import collections
import re

import numpy as np

from minidl.backend import cuda as _cuda_backend
from minidl.backend.cpu import CPU
from minidl.backend.math import (abs, cast, clip, dot, equal, exp, log, maximum,  # noqa: A004
                                 mean, minimum, pow, sqrt, square, sum)
from minidl.cuda import _runtime

__all__ = ["abs", "backend", "backend_of", "batch_get_value", "cast", "clear_session",
           "clip", "count_params", "device_of", "dot", "equal", "epsilon", "eval", "exp",
           "floatx", "get", "get_value", "image_data_format", "int_shape", "log",
           "maximum", "mean", "minimum", "on_host", "pow", "set_epsilon", "set_floatx",
           "set_image_data_format", "set_value", "sqrt", "square", "sum", "to_numpy",
           "to_snake_case", "unique_name"]

# device backends whose arrays may reach an op: registered when a GPU backend is ready,
# so that a CPU-only process pays one truth test per op
_DEVICE_BACKENDS = []


def _register(backend):
    if backend not in _DEVICE_BACKENDS:
        _DEVICE_BACKENDS.append(backend)


_runtime.on_ready(lambda: _register(_cuda_backend.CUDA))


def backend_of(*arrays):
    """The backend that computes on these arrays: the device backend of the first
    argument that is a device array, else the CPU backend (host data of the same call is
    then copied to that device).

    Args:
        *arrays: the arguments of one op: NumPy arrays, array-likes or device arrays.

    Example:
        >>> import numpy as np
        >>> from minidl import backend
        >>> backend.backend_of(np.zeros(2)).name
        'cpu'
    """
    if not _DEVICE_BACKENDS:  # a CPU-only process: nothing to look for
        return CPU
    for device in _DEVICE_BACKENDS:
        device_type = device.array_type
        for array in arrays:
            if isinstance(array, device_type):
                return device
    return CPU


def on_host(array):
    """Whether ``array`` is host data (NumPy or array-like), not a device array: ops
    check the values of host data up front and leave device values to the kernels.

    Args:
        array (array or array-like): the data to look at.

    Example:
        >>> import numpy as np
        >>> from minidl import backend
        >>> backend.on_host(np.zeros(2))
        True
    """
    return not _DEVICE_BACKENDS or backend_of(array) is CPU


def get(device):
    """The backend of a device name: ``'cpu'`` or ``'cuda'`` (RuntimeError with the
    reason when no GPU can be used).

    Args:
        device (str): ``'cpu'`` or ``'cuda'`` (ValueError for another name).

    Example:
        >>> from minidl import backend
        >>> backend.get("cpu").name
        'cpu'
    """
    if device == "cpu":
        return CPU
    if device == "cuda":
        _runtime.backend()  # raises with the reason when there is no GPU
        return _cuda_backend.CUDA
    raise ValueError(f"backend.get: argument 'device' must be 'cpu' or 'cuda'. "
                     f"Received: {device!r}")


def device_of(array):
    """The device name of an array: ``'cuda'`` for a device array, else ``'cpu'``.

    Args:
        array (array or array-like): the array.

    Example:
        >>> import numpy as np
        >>> from minidl import backend
        >>> backend.device_of(np.zeros(3))
        'cpu'
    """
    return backend_of(array).name


def to_numpy(array):
    """A NumPy copy (or view) of an array of any backend.

    Args:
        array (array or array-like): a NumPy array, a device array or array-like data.

    Example:
        >>> from minidl import backend
        >>> backend.to_numpy([1.0, 2.0])
        array([1., 2.])
    """
    return backend_of(array).to_numpy(array)

_FLOATX = "float32"
_EPSILON = 1e-7
_NAME_COUNTS = collections.defaultdict(int)


def floatx():
    """The default float dtype of new weights and activations (``'float32'``).

    Example:
        >>> from minidl import backend
        >>> backend.floatx()
        'float32'
    """
    return _FLOATX


def set_floatx(value):
    """Set the default float dtype: ``'float32'`` or ``'float64'``.

    Args:
        value (str): ``'float32'`` or ``'float64'`` (ValueError for another).

    Example:
        >>> from minidl import backend, layers
        >>> backend.set_floatx("float64")
        >>> layers.Dense(1).dtype
        'float64'
        >>> backend.set_floatx("float32")
    """
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: argument 'value' must be 'float32' or 'float64'. "
                         f"Received: {value!r}")
    _FLOATX = value


def to_snake_case(name):
    """``'BatchNormalization'`` -> ``'batch_normalization'``, ``'Conv2D'`` -> ``'conv2d'``.

    Args:
        name (str): a CamelCase name (a class name).

    Example:
        >>> from minidl import backend
        >>> backend.to_snake_case("BatchNormalization")
        'batch_normalization'
    """
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix):
    """A fresh name as Keras makes them: ``dense``, ``dense_1``, ``dense_2``, ...

    Args:
        prefix (str): the base name; its first use returns it unchanged, later ones add
            ``_1``, ``_2``, ... (until :func:`clear_session`).

    Example:
        >>> from minidl import backend
        >>> backend.clear_session()
        >>> backend.unique_name("block"), backend.unique_name("block")
        ('block', 'block_1')
    """
    count = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session():
    """Reset the layer-name counters (as ``keras.backend.clear_session``).

    Example:
        >>> from minidl import backend, layers
        >>> backend.clear_session()
        >>> layers.Dense(1).name
        'dense'
    """
    _NAME_COUNTS.clear()


def backend():
    """The name of the engine computing (``'minidl'``), as ``keras.backend.backend``.

    Example:
        >>> from minidl import backend
        >>> backend.backend()
        'minidl'
    """
    return "minidl"


def image_data_format():
    """``'channels_last'``: minidl's images are NHWC, as Keras's default.

    Example:
        >>> from minidl import backend
        >>> backend.image_data_format()
        'channels_last'
    """
    return "channels_last"


def set_image_data_format(data_format):
    """Accepts ``'channels_last'`` only (minidl computes in NHWC); ``'channels_first'``
    raises NotImplementedError rather than being ignored.

    Args:
        data_format (str): ``'channels_last'`` (``'channels_first'`` raises
            NotImplementedError, another value ValueError).

    Example:
        >>> from minidl import backend
        >>> backend.set_image_data_format("channels_last")
        >>> backend.image_data_format()
        'channels_last'
    """
    if data_format == "channels_last":
        return
    if data_format == "channels_first":
        raise NotImplementedError("set_image_data_format: minidl computes in "
                                  "channels_last (NHWC) only; transpose NCHW data with "
                                  "numpy.transpose(x, (0, 2, 3, 1))")
    raise ValueError(f"set_image_data_format: argument 'data_format' must be "
                     f"'channels_last' or 'channels_first'. Received: {data_format!r}")


def epsilon():
    """The fuzz factor of the losses and of the optimizers' defaults (``1e-7``).

    Example:
        >>> from minidl import backend
        >>> backend.epsilon()
        1e-07
    """
    return _EPSILON


def set_epsilon(value):
    """Accepts the current value only: minidl's kernels are built with ``1e-7``, so
    another value raises NotImplementedError rather than being ignored.

    Args:
        value (float): ``1e-7``, the current value.

    Example:
        >>> from minidl import backend
        >>> backend.set_epsilon(1e-7)  # the one value minidl's losses use; others raise
        >>> backend.epsilon()
        1e-07
    """
    if value != _EPSILON:
        raise NotImplementedError(f"set_epsilon: minidl's losses use a fixed epsilon of "
                                  f"{_EPSILON}; pass epsilon= to the optimizer or layer "
                                  f"instead. Received: {value!r}")


def get_value(x):
    """The value of a variable, a learning rate or an array, as NumPy (or a float).

    Args:
        x (Variable or float or array-like): a ``Variable`` (weights), an optimizer's
            ``learning_rate``/``lr``, an array (a device array is copied to NumPy) or a
            number.

    Example:
        >>> import numpy as np
        >>> from minidl import backend, variables
        >>> backend.eval(variables.Variable(np.array([1.0, 2.0], np.float32)))
        array([1., 2.], dtype=float32)
    """
    if hasattr(x, "numpy") and callable(x.numpy):
        return x.numpy()
    if isinstance(x, float):
        return float(x)
    return np.asarray(x)


def batch_get_value(xs):
    """``[get_value(x) for x in xs]``.

    Args:
        xs (list): the values to read, each as :func:`get_value` takes it (a layer's
            ``weights``, for example).

    Example:
        >>> from minidl import backend, layers
        >>> dense = layers.Dense(2)
        >>> dense.build((None, 3))
        >>> [w.shape for w in backend.batch_get_value(dense.weights)]
        [(3, 2), (2,)]
    """
    return [get_value(x) for x in xs]


def set_value(x, value):
    """Set a variable, or an optimizer's learning rate, to ``value``.

    Args:
        x (Variable or float): a ``Variable`` (assigned, shape checked) or the value of an
            optimizer's ``learning_rate``/``lr`` (Keras 2's
            ``set_value(model.optimizer.lr, 0.01)``).
        value (array-like or float): the new value: the variable's new array, or the
            optimizer's new learning rate.

    Example:
        >>> import numpy as np
        >>> from minidl import backend, variables
        >>> w = variables.Variable(np.zeros(2, np.float32))
        >>> backend.set_value(w, [3.0, 4.0])
        >>> backend.get_value(w)
        array([3., 4.], dtype=float32)
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
    free batch axis).

    Args:
        x (array-like or Variable or KerasTensor): anything with a ``shape``, or data
            ``numpy.shape`` reads (lists, numbers).

    Example:
        >>> import numpy as np
        >>> from minidl import backend
        >>> backend.int_shape(np.zeros((2, 3)))
        (2, 3)
    """
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def count_params(x):
    """The number of scalars in a Variable or an array.

    Args:
        x (Variable or array-like): the weight or array.

    Example:
        >>> from minidl import backend, layers
        >>> dense = layers.Dense(2)
        >>> dense.build((None, 3))
        >>> backend.count_params(dense.kernel)
        6
    """
    return int(np.prod(int_shape(x), dtype=np.int64))
