"""minidl's global random generator, used by initializers, Dropout, shuffling in ``fit``
and data augmentation. ``minidl.utils.set_random_seed`` reseeds it."""
import random

import numpy as np

_GENERATOR = np.random.default_rng()


def global_generator():
    """The generator that every random choice in minidl draws from (unless seeded)."""
    return _GENERATOR


def set_seed(seed):
    """Reseed minidl's generator, Python's ``random`` and NumPy's legacy global state."""
    global _GENERATOR
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: argument 'seed' must be a non-negative integer, "
                         f"received {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _GENERATOR = np.random.default_rng(seed)


def generator_for(seed):
    """A dedicated generator for an explicit seed, else the global one."""
    return np.random.default_rng(seed) if seed is not None else _GENERATOR
