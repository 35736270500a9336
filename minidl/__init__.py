"""minidl: a minimal, fast deep-learning framework.

A C11/OpenMP compute core (``minidl._C``) behind backend-neutral functional ops
(``minidl.ops``) and a Keras-style API: ``minidl.models.Sequential``, ``minidl.layers``,
``minidl.optimizers``, ``minidl.losses``, ``minidl.metrics``, ``minidl.callbacks``,
``minidl.initializers``, ``minidl.utils``, ``minidl.datasets`` and
``minidl.preprocessing.image``.
"""
from minidl import _C, ops
from minidl._threads import _init_threads, get_num_threads, set_num_threads
from minidl._version import __version__

_init_threads()

from minidl import (activations, backend, callbacks, datasets, initializers, layers,  # noqa: E402
                    losses, metrics, models, optimizers, preprocessing, utils)
from minidl.layers import Input  # noqa: E402
from minidl.models import Sequential  # noqa: E402

__all__ = ["Input", "Sequential", "__version__", "activations", "backend", "callbacks", "datasets",
           "get_num_threads", "initializers", "layers", "losses", "metrics", "models", "ops",
           "optimizers", "preprocessing", "set_num_threads", "utils"]
