"""``image_dataset_from_directory``: a folder of class sub-folders as batches of images
and labels (``keras.utils.image_dataset_from_directory``), through Pillow."""
import os

import numpy as np

from minidl.utils.image_utils import image_channels, img_to_array, load_img

_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_LABEL_MODES = ("int", "categorical", "binary", None)


class ImageDataset:
    """Batches ``(images, labels)`` (or images alone, with ``label_mode=None``) read from
    files; a ``Sequence`` that ``fit``, ``evaluate`` and ``predict`` take directly.

    Each batch is read when asked for; the file order was shuffled once, at creation
    (Keras reshuffles a ``tf.data`` dataset every epoch; ``fit``'s own ``shuffle`` does
    not reorder a ``Sequence``).

    ``image_dataset_from_directory`` builds it; the arguments are that function's, resolved.

    Args:
        paths (list of str): the image files, in batch order.
        labels (numpy.ndarray or None): the int class index of each file (None with
            ``label_mode=None``).
        class_names (list of str): the class folders' names, in label order.
        label_mode (str or None): ``'int'``, ``'categorical'`` (one-hot float32),
            ``'binary'`` (float32 of shape ``(batch, 1)``) or None (images only).
        color_mode (str): ``'rgb'``, ``'rgba'`` or ``'grayscale'``.
        batch_size (int): images per batch (the last batch may be smaller).
        image_size (tuple of 2 ints): ``(height, width)`` every image is resized to.
        interpolation (str): the resize filter (see ``load_img``).
        crop_to_aspect_ratio (bool): crop to the target ratio before resizing.

    Attributes:
        class_names: the class folders' names, in label order.
        file_paths: the image files, in batch order.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import utils
        >>> root = tempfile.mkdtemp()
        >>> for name in ("a", "b"):
        ...     os.mkdir(os.path.join(root, name))
        ...     for i in range(3):
        ...         path = os.path.join(root, name, f"{i}.png")
        ...         utils.save_img(path, np.zeros((4, 4, 3)), scale=False)
        >>> data = utils.image_dataset_from_directory(root, image_size=(4, 4), batch_size=4, seed=0)
        >>> len(data), [len(batch[0]) for batch in data]  # 6 files in batches of 4
        (2, [4, 2])
    """

    def __init__(self, paths, labels, class_names, label_mode, color_mode, batch_size,
                 image_size, interpolation, crop_to_aspect_ratio):
        self.file_paths, self._labels = list(paths), labels
        self.class_names, self._label_mode = class_names, label_mode
        self._color_mode, self._batch_size = color_mode, batch_size
        self._image_size, self._interpolation = image_size, interpolation
        self._crop = crop_to_aspect_ratio

    def __len__(self):
        return -(-len(self.file_paths) // self._batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"ImageDataset: batch {index} is out of range for "
                             f"{len(self)} batches")
        index %= len(self)
        chosen = slice(index * self._batch_size, (index + 1) * self._batch_size)
        images = np.stack([img_to_array(load_img(path, self._color_mode, self._image_size,
                                                 self._interpolation, self._crop))
                           for path in self.file_paths[chosen]])
        if self._label_mode is None:
            return images
        labels = self._labels[chosen]
        if self._label_mode == "categorical":
            labels = np.eye(len(self.class_names), dtype=np.float32)[labels]
        elif self._label_mode == "binary":
            labels = labels.astype(np.float32).reshape(-1, 1)
        return images, labels

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def cache(self, filename=""):
        """Returns the dataset itself (tf.data's hint; the files are read per batch).

        Args:
            filename (str): ignored (tf.data's cache file).
        """
        return self

    def prefetch(self, buffer_size=None):
        """Returns the dataset itself (tf.data's hint; nothing is read ahead).

        Args:
            buffer_size (int or None): ignored.
        """
        return self


def class_folders(directory, class_names, where, argument="class_names"):
    """The class sub-folders of ``directory``: ``class_names`` (checked to exist), or all
    of them, sorted."""
    if not os.path.isdir(directory):
        raise ValueError(f"{where}: argument 'directory' must be a folder. Received: "
                         f"{directory!r}")
    found = sorted(name for name in os.listdir(directory)
                   if os.path.isdir(os.path.join(directory, name)))
    if class_names is None:
        return found
    missing = [name for name in class_names if name not in found]
    if missing:
        raise ValueError(f"{where}: argument '{argument}' names folders that do not exist "
                         f"in {directory!r}. Received: {missing}")
    return list(class_names)


def image_files(folder):
    """The image files below ``folder`` (recursively), in sorted order."""
    files = []
    for root, _, names in sorted(os.walk(folder)):
        files += [os.path.join(root, n) for n in sorted(names)
                  if n.lower().endswith(_EXTENSIONS)]
    return files


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False, **kwargs):
    """Batches of images from a folder of class sub-folders, labelled by folder.

    Args:
        directory (str or os.PathLike): the folder; with ``labels='inferred'`` each
            sub-folder is a class.
        labels (str or None): ``'inferred'``, or None (images only).
        label_mode (str or None): ``'int'``, ``'categorical'`` (one-hot), ``'binary'`` or
            None.
        class_names (list of str or None): the sub-folders to use, in label order
            (default: all, sorted).
        color_mode (str): ``'rgb'``, ``'rgba'`` or ``'grayscale'``.
        batch_size (int): images per batch.
        image_size (tuple of 2 ints): ``(height, width)`` every image is resized to.
        shuffle (bool): shuffle the files once, with ``seed``.
        seed (int or None): the shuffle's (and the split's) seed; None uses a fixed seed
            (1337), so the order is the same on every call.
        validation_split (float or None): the fraction kept for validation, in (0, 1),
            with ``subset``.
        subset (str or None): ``'training'``, ``'validation'`` or ``'both'`` (a pair).
        interpolation (str): the resize filter (see ``load_img``).
        follow_links (bool): accepted (folders are walked as they are).
        crop_to_aspect_ratio (bool): crop to the target ratio before resizing.
        **kwargs: no further keyword is accepted: any other argument raises a
            ``TypeError``.

    Returns:
        An :class:`ImageDataset` (a pair with ``subset='both'``).

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import utils
        >>> root = tempfile.mkdtemp()
        >>> for name in ("cats", "dogs"):
        ...     os.mkdir(os.path.join(root, name))
        ...     utils.save_img(os.path.join(root, name, "a.png"), np.zeros((8, 8, 3)), scale=False)
        >>> data = utils.image_dataset_from_directory(root, image_size=(4, 4), batch_size=2)
        >>> data.class_names
        ['cats', 'dogs']
        >>> images, labels = data[0]
        >>> images.shape, sorted(labels.tolist())
        ((2, 4, 4, 3), [0, 1])
    """
    where = "image_dataset_from_directory"
    if kwargs:
        raise TypeError(f"{where}: unexpected keyword argument(s) {sorted(kwargs)}")
    image_channels(color_mode, interpolation, where)  # before any file is read
    if labels not in ("inferred", None):
        raise NotImplementedError(f"{where}: only labels='inferred' or None are implemented "
                                  f"(not a list of labels). Received: {labels!r}")
    if label_mode not in _LABEL_MODES:
        raise ValueError(f"{where}: argument 'label_mode' must be one of {_LABEL_MODES}. "
                         f"Received: {label_mode!r}")
    names = class_folders(directory, class_names, where)
    if not labels:
        names = []
    paths, label_list = [], []
    for index, name in enumerate(names):
        files = image_files(os.path.join(directory, name))
        paths += files
        label_list += [index] * len(files)
    if not labels:
        paths = image_files(directory)
        label_mode = None
    if not paths:
        raise ValueError(f"{where}: no image files ({', '.join(_EXTENSIONS)}) in "
                         f"{directory!r}")
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f"{where}: label_mode='binary' needs exactly 2 classes. Received: "
                         f"{len(names)} ({names})")
    order = np.arange(len(paths))
    if shuffle:
        np.random.default_rng(seed if seed is not None else 1337).shuffle(order)
    paths = [paths[i] for i in order]
    label_array = np.asarray(label_list, dtype=np.int64)[order] if label_list else None

    def dataset(part):
        return ImageDataset([paths[i] for i in part],
                            None if label_array is None else label_array[part], names,
                            label_mode, color_mode, batch_size, tuple(image_size),
                            interpolation, crop_to_aspect_ratio)

    if validation_split is None:
        if subset is not None:
            raise ValueError(f"{where}: argument 'subset' needs a validation_split")
        return dataset(np.arange(len(paths)))
    if not 0 < validation_split < 1 or subset not in ("training", "validation", "both"):
        raise ValueError(f"{where}: validation_split must be in (0, 1) and subset "
                         f"'training', 'validation' or 'both'. Received: "
                         f"{validation_split!r}, {subset!r}")
    cut = len(paths) - int(validation_split * len(paths))
    training, validation = dataset(np.arange(cut)), dataset(np.arange(cut, len(paths)))
    return {"training": training, "validation": validation,
            "both": (training, validation)}[subset]
