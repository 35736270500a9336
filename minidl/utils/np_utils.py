"""Keras 2's ``keras.utils.np_utils`` path, kept so that ``from keras.utils.np_utils import
to_categorical`` runs with only the package name changed: the same functions as
``minidl.utils``."""
from minidl.utils.numerical_utils import normalize, to_categorical

__all__ = ["normalize", "to_categorical"]
