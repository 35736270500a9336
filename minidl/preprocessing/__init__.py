"""Data preprocessing, as ``keras.preprocessing``: ``minidl.preprocessing.image`` and
Keras 2's ``minidl.preprocessing.sequence``."""
from minidl.preprocessing import image, sequence
# Keras 2.x's tf.keras.preprocessing.image_dataset_from_directory: minidl.utils's
from minidl.utils import image_dataset as _image_dataset

image_dataset_from_directory = _image_dataset.image_dataset_from_directory

__all__ = ["image", "sequence"]
