"""minidl's global random generator, used by initializers, Dropout, shuffling in ``fit``
and data augmentation. ``minidl.utils.set_random_seed`` reseeds it."""
import numbers
import random

import numpy as np

_GENERATOR = np.random.default_rng()


def global_generator():
    """The generator that every random choice in minidl draws from (unless seeded).

    Example:
        >>> from minidl import random_state
        >>> type(random_state.global_generator()).__name__
        'Generator'
    """
    return _GENERATOR


def set_seed(seed):
    """Reseed minidl's generator, Python's ``random`` and NumPy's legacy global state.

    Example:
        >>> from minidl import random_state
        >>> random_state.set_seed(7)
        >>> first = random_state.global_generator().random()
        >>> random_state.set_seed(7)
        >>> random_state.global_generator().random() == first
        True
    """
    global _GENERATOR
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: argument 'seed' must be a non-negative integer. "
                         f"Received: {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _GENERATOR = np.random.default_rng(seed)


def check_seed(seed, where, expected="a non-negative int"):
    """An explicit seed argument: None, or a non-negative integer (returned as an int).

    Args:
        seed: the argument.
        where: the caller's name, for the message.
        expected: how the caller's messages word "a non-negative integer".

    Raises:
        ValueError: ``seed`` is neither (a bool included).

    Example:
        >>> from minidl import random_state
        >>> random_state.check_seed(7, "example"), random_state.check_seed(None, "example")
        (7, None)
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or seed < 0):
        raise ValueError(f"{where}: argument 'seed' must be None or {expected}. "
                         f"Received: seed={seed!r}")
    return None if seed is None else int(seed)


def generator_for(seed):
    """A dedicated generator for an explicit seed, else the global one.

    Example:
        >>> from minidl import random_state
        >>> a, b = random_state.generator_for(3), random_state.generator_for(3)
        >>> a.random() == b.random()  # a seed gives its own, repeatable generator
        True
    """
    return np.random.default_rng(seed) if seed is not None else _GENERATOR
