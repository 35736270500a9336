"""Ready-made data sets with Keras's ``load_data()`` interface.

``minidl.datasets.mnist``, ``fashion_mnist`` and ``cifar10`` each have
``load_data(path=None)`` returning ``((x_train, y_train), (x_test, y_test))`` as uint8
NumPy arrays, like ``keras.datasets``.

Data comes from a local folder (``path=`` or the ``MINIDL_DATA_DIR`` environment variable,
used as it is, without network and without checksum verification), else from the download
cache ``~/.minidl/datasets`` (``MINIDL_CACHE_DIR``), downloading and SHA-256-verifying the
canonical archives when needed. Only the standard library and NumPy are used; nothing is
unpickled.
"""
from minidl.datasets import cifar10, fashion_mnist, mnist
from minidl.datasets._download import (ChecksumMismatchError, CorruptDatasetError,
                                       DatasetUnavailableError)

__all__ = ["ChecksumMismatchError", "CorruptDatasetError", "DatasetUnavailableError",
           "cifar10", "fashion_mnist", "mnist"]
