"""minidl: a minimal, fast deep-learning framework.

A C11/OpenMP compute core (``minidl._C``) behind backend-neutral functional ops
(``minidl.ops``) and a Keras-style API.
"""
from minidl import _C, ops
from minidl._threads import _init_threads, get_num_threads, set_num_threads
from minidl._version import __version__

_init_threads()

__all__ = ["__version__", "get_num_threads", "ops", "set_num_threads"]
