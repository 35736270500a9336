"""Keras 2's ``keras.preprocessing.sequence``: ``pad_sequences`` (the same function as
``minidl.utils.pad_sequences``)."""
from minidl.utils.sequence_utils import pad_sequences

__all__ = ["pad_sequences"]
