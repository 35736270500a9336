"""Seeding, as ``keras.utils.set_random_seed``."""
from minidl import random_state


def set_random_seed(seed):
    """Seed every random choice minidl makes (and Python's ``random`` and NumPy's legacy
    global state), so that a run is repeatable.

    Args:
        seed (int): a non-negative int.

    Example:
        >>> import numpy as np
        >>> from minidl import layers, utils
        >>> utils.set_random_seed(1)
        >>> a = layers.Dense(2)
        >>> a.build((None, 2))
        >>> utils.set_random_seed(1)
        >>> b = layers.Dense(2)
        >>> b.build((None, 2))
        >>> bool(np.array_equal(a.kernel.value, b.kernel.value))  # the same draws
        True
    """
    random_state.set_seed(seed)
