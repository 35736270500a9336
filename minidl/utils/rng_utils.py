"""Seeding, as ``keras.utils.set_random_seed``."""
from minidl import random_state


def set_random_seed(seed):
    """Seed every random choice minidl makes (and Python's ``random`` and NumPy's legacy
    global state), so that a run is repeatable.

    Args:
        seed: a non-negative int.
    """
    random_state.set_seed(seed)
