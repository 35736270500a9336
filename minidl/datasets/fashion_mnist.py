"""Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images of clothing,
10 classes (0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
7 Sneaker, 8 Bag, 9 Ankle boot)."""
from minidl.datasets import _idx

# The official Zalando S3 bucket (plain HTTP only; the checksum protects the bytes), then the
# copy Keras downloads from.
_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)
# SHA-256 and sizes of the canonical archives, as published in tensorflow-datasets'
# url_checksums/fashion_mnist.txt.
_ARCHIVES = {
    _idx.TRAIN_IMAGES: ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                        26421880),
    _idx.TRAIN_LABELS: ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                        29515),
    _idx.TEST_IMAGES: ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                       4422102),
    _idx.TEST_LABELS: ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                       5148),
}


def load_data(path=None):
    """Load Fashion-MNIST as Keras's ``keras.datasets.fashion_mnist.load_data`` does.

    Where the data comes from, in this order:

    1. ``path`` (a folder), else the ``MINIDL_DATA_DIR`` environment variable: the folder is
       used as it is, with no network. The files ``train-images-idx3-ubyte.gz``,
       ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
       ``t10k-labels-idx1-ubyte.gz`` (or the same without ``.gz``, unpacked) are looked up in
       ``<folder>/fashion_mnist/`` then ``<folder>/fashion-mnist/``. Local files are **not**
       checksum-verified, only validated structurally (IDX magic numbers, dimensions, sizes,
       label range).
    2. Otherwise the cache ``~/.minidl/datasets/fashion_mnist/``
       (``$MINIDL_CACHE_DIR/fashion_mnist/``), downloading the canonical archives into it
       first if needed; downloads and cached archives are verified against the canonical
       SHA-256 checksums.

    Args:
        path (str or os.PathLike or None): Folder that already holds the data set files,
            or ``None``.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``x`` uint8 arrays of shape
        ``(N, 28, 28)``, ``y`` uint8 arrays of shape ``(N,)`` with classes 0..9; N is 60,000
        for training and 10,000 for test.

    Raises:
        DatasetUnavailableError: (an ``OSError``) the files are missing from the given folder,
            or no folder is given and the download failed (offline); the message says which
            files to place in which folder.
        CorruptDatasetError: (a ``ValueError``) a file is truncated, corrupt or has the wrong
            format; ``ChecksumMismatchError`` for a download with the wrong SHA-256.

    Example:
        >>> import os, shutil, tempfile
        >>> import numpy as np
        >>> from minidl.datasets import fashion_mnist
        >>> def write_idx(path, array):  # unpacked IDX: magic 0x08 0x0N, N big-endian sizes, bytes
        ...     header = bytes([0, 0, 8, array.ndim])
        ...     header += b"".join(n.to_bytes(4, "big") for n in array.shape)
        ...     with open(path, "wb") as file:
        ...         _ = file.write(header + array.astype(np.uint8).tobytes())
        >>> folder = tempfile.mkdtemp()
        >>> os.mkdir(os.path.join(folder, "fashion_mnist"))  # looked up under the data folder
        >>> for split, n in (("train", 3), ("t10k", 2)):  # 3 training and 2 test images
        ...     prefix = os.path.join(folder, "fashion_mnist", split)
        ...     write_idx(prefix + "-images-idx3-ubyte", np.full((n, 28, 28), 255))
        ...     write_idx(prefix + "-labels-idx1-ubyte", np.full(n, 9))  # 9: ankle boot
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=folder)
        >>> x_train.shape, x_train.dtype, int(x_train.max()), y_train, x_test.shape
        ((3, 28, 28), dtype('uint8'), 255, array([9, 9, 9], dtype=uint8), (2, 28, 28))
        >>> shutil.rmtree(folder)
    """
    # _MIRRORS and _ARCHIVES are read at each call (tests patch them)
    return _idx.load_idx_dataset(path, "Fashion-MNIST", ("fashion_mnist", "fashion-mnist"),
                                 "fashion_mnist", _MIRRORS, _ARCHIVES,
                                 "minidl.datasets.fashion_mnist.load_data")
