"""minidl: a minimal, fast deep-learning framework.

A C11/OpenMP compute core (``minidl._C``) behind backend-neutral functional ops
(``minidl.ops``) and a Keras-style API: ``minidl.models.Sequential``, ``minidl.layers``,
``minidl.optimizers``, ``minidl.losses``, ``minidl.metrics``, ``minidl.callbacks``,
``minidl.initializers``, ``minidl.utils``, ``minidl.datasets`` and
``minidl.preprocessing.image``. The optional GPU backend is ``minidl.cuda``
(``minidl.set_device("cuda")`` or ``compile(device="cuda")``).
"""
from minidl import ops
from minidl._threads import _init_threads, get_num_threads, max_num_threads, set_num_threads
from minidl._version import __version__

_init_threads()

from minidl import (activations, backend, callbacks, constraints, cuda,  # noqa: E402
                    datasets, initializers, layers, losses, metrics, models, optimizers,
                    preprocessing, regularizers, utils)
from minidl.autodiff import GradientTape, Tensor  # noqa: E402
from minidl.cuda import get_device, set_device  # noqa: E402
from minidl.layers import Input  # noqa: E402
from minidl.models import Model, Sequential  # noqa: E402
from minidl import keras  # noqa: E402  (tf.keras's path: minidl.keras.layers, ...)

__all__ = ["GradientTape", "Input", "Model", "Sequential", "Tensor", "__version__", "activations", "backend", "callbacks",
           "constraints", "cuda",
           "datasets", "get_device", "get_num_threads", "initializers", "keras", "layers", "losses",
           "max_num_threads", "metrics", "models", "ops", "optimizers", "preprocessing",
           "regularizers", "set_device",
           "set_num_threads", "utils"]
