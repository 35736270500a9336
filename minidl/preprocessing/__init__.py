"""Data preprocessing, as ``keras.preprocessing``: ``minidl.preprocessing.image``."""
from minidl.preprocessing import image

__all__ = ["image"]
