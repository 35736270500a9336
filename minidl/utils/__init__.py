"""Utilities, as ``keras.utils``: label encoding, normalisation, seeding, progress bars,
image files (``load_img``, ``img_to_array``, ``image_dataset_from_directory``)."""
from minidl.utils import np_utils
from minidl.utils.image_dataset import ImageDataset, image_dataset_from_directory
from minidl.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from minidl.utils.numerical_utils import normalize, to_categorical
from minidl.utils.progbar import Progbar
from minidl.utils.rng_utils import set_random_seed
from minidl.utils.sequence_utils import pad_sequences

__all__ = ["ImageDataset", "Progbar", "array_to_img", "image_dataset_from_directory",
           "img_to_array", "load_img", "normalize", "np_utils", "pad_sequences", "save_img",
           "set_random_seed",
           "to_categorical"]
