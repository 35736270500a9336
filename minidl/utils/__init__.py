"""Utilities, as ``keras.utils``: label encoding, normalisation, seeding, progress bars."""
from minidl.utils import np_utils
from minidl.utils.numerical_utils import normalize, to_categorical
from minidl.utils.progbar import Progbar
from minidl.utils.rng_utils import set_random_seed

__all__ = ["Progbar", "normalize", "np_utils", "set_random_seed", "to_categorical"]
