"""MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28, 10 classes."""
from minidl.datasets import _idx

# Mirrors of the canonical IDX archives, tried in order (the first is the one TensorFlow and
# tensorflow-datasets use, the second torchvision's, the last the original site).
_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# SHA-256 and sizes of the canonical archives, as published in tensorflow-datasets'
# url_checksums/mnist.txt (the archives' MD5s, as torchvision lists them, are
# f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d...).
_ARCHIVES = {
    _idx.TRAIN_IMAGES: ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                        9912422),
    _idx.TRAIN_LABELS: ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                        28881),
    _idx.TEST_IMAGES: ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                       1648877),
    _idx.TEST_LABELS: ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                       4542),
}


def load_data(path=None):
    """Load the MNIST data set as Keras's ``keras.datasets.mnist.load_data`` does.

    Where the data comes from, in this order:

    1. ``path`` (a folder), else the ``MINIDL_DATA_DIR`` environment variable: the folder is
       used as it is, with no network. The files ``train-images-idx3-ubyte.gz``,
       ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
       ``t10k-labels-idx1-ubyte.gz`` (or the same without ``.gz``, unpacked) are looked up in
       ``<folder>/mnist/`` then ``<folder>/``. Local files are **not** checksum-verified
       (re-encoded copies such as the project's shared data are accepted); they are only
       validated structurally (IDX magic numbers, dimensions, sizes, label range).
    2. Otherwise the cache ``~/.minidl/datasets/mnist/`` (``$MINIDL_CACHE_DIR/mnist/``),
       downloading the canonical archives into it first if needed. Downloads and cached
       archives are verified against the canonical SHA-256 checksums.

    Args:
        path (str or os.PathLike or None): Folder that already holds the data set files,
            or ``None``. Unlike Keras's ``path`` (a cache file name such as
            ``"mnist.npz"``), this names a folder.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``x`` uint8 arrays of shape
        ``(N, 28, 28)`` with pixel values 0..255, ``y`` uint8 arrays of shape ``(N,)`` with
        digits 0..9; N is 60,000 for training and 10,000 for test.

    Raises:
        DatasetUnavailableError: (an ``OSError``) the files are missing from the given folder,
            or no folder is given and the download failed (offline); the message says which
            files to place in which folder.
        CorruptDatasetError: (a ``ValueError``) a file is truncated, corrupt or has the wrong
            format; ``ChecksumMismatchError`` for a download with the wrong SHA-256.

    Example:
        >>> import gzip, os, shutil, tempfile
        >>> import numpy as np
        >>> from minidl.datasets import mnist
        >>> def write_idx(path, array):  # gzipped IDX: magic 0x08 0x0N, N big-endian sizes, bytes
        ...     header = bytes([0, 0, 8, array.ndim])
        ...     header += b"".join(n.to_bytes(4, "big") for n in array.shape)
        ...     with gzip.open(path, "wb") as file:
        ...         _ = file.write(header + array.astype(np.uint8).tobytes())
        >>> folder = tempfile.mkdtemp()  # a tiny stand-in: 5 training and 2 test images
        >>> for split, n in (("train", 5), ("t10k", 2)):
        ...     prefix = os.path.join(folder, split)
        ...     write_idx(prefix + "-images-idx3-ubyte.gz", np.zeros((n, 28, 28)))
        ...     write_idx(prefix + "-labels-idx1-ubyte.gz", np.arange(n))
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data(path=folder)
        >>> x_train.shape, x_train.dtype, y_train.shape, x_test.shape, y_test
        ((5, 28, 28), dtype('uint8'), (5,), (2, 28, 28), array([0, 1], dtype=uint8))
        >>> shutil.rmtree(folder)
    """
    # _MIRRORS and _ARCHIVES are read at each call (tests patch them)
    return _idx.load_idx_dataset(path, "MNIST", ("mnist", ""), "mnist", _MIRRORS, _ARCHIVES,
                                 "minidl.datasets.mnist.load_data")
