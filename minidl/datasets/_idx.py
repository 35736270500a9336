"""Reader of the IDX files of MNIST and Fashion-MNIST (gzip-compressed or not).

IDX layout: a big-endian 32-bit magic ``0x0000TTNN`` (``TT = 0x08`` for unsigned bytes,
``NN`` the number of dimensions: 2051 for images, 2049 for labels), ``NN`` big-endian 32-bit
sizes, then the uint8 payload in C order.
"""
import gzip
import io
import math
import os
import zlib

import numpy as np

from minidl.datasets import _download
from minidl.io_utils import open_regular_file

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
# Limits of the reader (docs/guide/datasets.rst): the canonical training images hold
# 47,040,000 bytes; no IDX file of MNIST or Fashion-MNIST may announce more than this
# payload, nor be a larger file (compressed or not).
MAX_PAYLOAD_BYTES = 256 << 20
MAX_FILE_BYTES = MAX_PAYLOAD_BYTES + (1 << 20)
_READ_BLOCK = 1 << 20

# The four files of a split, by their canonical stems (without ".gz").
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
STEMS = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


def _read_upto(stream, count):
    """Up to ``count`` bytes of ``stream`` (fewer only at its end), as a bytearray that
    grows with what arrives: a short file never costs the memory its header announces."""
    data = bytearray()
    while len(data) < count:
        block = stream.read(min(_READ_BLOCK, count - len(data)))
        if not block:
            break
        data += block
    return data


def _read_idx_stream(stream, source, expected_magic):
    """Parse an unsigned-byte IDX file from ``stream``: the header first, then exactly
    the payload it announces (checked against MAX_PAYLOAD_BYTES before it is read), then
    a check that nothing follows."""
    head = stream.read(4)
    if len(head) < 4:
        raise _download.CorruptDatasetError(
            f"{source}: too short for an IDX header ({len(head)} bytes)")
    magic = int.from_bytes(head, "big")
    if magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise _download.CorruptDatasetError(
            f"{source}: wrong IDX magic number {magic}, expected {expected_magic} "
            f"(unsigned-byte {kind} file)")
    ndim = magic & 0xFF
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise _download.CorruptDatasetError(
            f"{source}: truncated IDX header ({4 + len(raw_dims)} bytes, expected "
            f"{4 + 4 * ndim})")
    dims = tuple(int.from_bytes(raw_dims[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
    payload = math.prod(dims)  # a Python int: no overflow
    if payload > MAX_PAYLOAD_BYTES:
        raise _download.CorruptDatasetError(
            f"{source}: the header's dimensions {dims} announce {payload} bytes, more than "
            f"the {MAX_PAYLOAD_BYTES} an IDX file of this data set can hold")
    data = _read_upto(stream, payload)
    if len(data) < payload:
        raise _download.CorruptDatasetError(
            f"{source}: payload truncated: {len(data)} bytes, but the header's dimensions "
            f"{dims} need {payload}")
    if stream.read(1):  # one byte more is enough: a gzip bomb is never inflated further
        raise _download.CorruptDatasetError(
            f"{source}: payload has trailing bytes beyond the {payload} that the header's "
            f"dimensions {dims} need")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def parse_idx(data, source, expected_magic):
    """Parse an unsigned-byte IDX file after validating its header and size.

    Args:
        data: The (decompressed) file contents.
        source: File name used in error messages.
        expected_magic: ``IMAGES_MAGIC`` (2051) or ``LABELS_MAGIC`` (2049).

    Returns:
        A writable ``uint8`` array whose shape is the header's dimensions.

    Raises:
        CorruptDatasetError: Wrong magic number, truncated header, dimensions announcing
            more than ``MAX_PAYLOAD_BYTES``, or a payload whose size differs from the
            product of the header's dimensions.
    """
    return _read_idx_stream(io.BytesIO(data), source, expected_magic)


def read_idx(path, expected_magic):
    """Read an IDX file, gzip-compressed or not (detected by content), without ever
    holding or inflating more than its header announces (at most ``MAX_PAYLOAD_BYTES``).

    Args:
        path: The file.
        expected_magic: ``IMAGES_MAGIC`` or ``LABELS_MAGIC``.

    Returns:
        A writable ``uint8`` array whose shape is the header's dimensions.

    Raises:
        CorruptDatasetError: The file is not a regular file, is larger than an IDX file of
            the data set can be, is a corrupt, truncated or over-long gzip stream (a gzip
            bomb stops at the announced size), or fails ``parse_idx``'s checks.
    """
    raw, size = open_regular_file(path, _download.CorruptDatasetError, path)
    with raw:
        _download.check_size(path, size, MAX_FILE_BYTES)
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _read_idx_stream(raw, path, expected_magic)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_idx_stream(stream, path, expected_magic)
        except (OSError, EOFError, zlib.error) as error:
            raise _download.CorruptDatasetError(
                f"{path}: corrupt or truncated gzip file ({error})") from error


def _candidates(stem):
    """File names accepted for a stem: the archive, the unpacked file, and the dotted
    name some unpackers produce (``train-images.idx3-ubyte``)."""
    dotted = stem.replace("-idx", ".idx")
    return (stem + ".gz", stem, dotted)


def find_local_files(folders):
    """Locate the four IDX files in the first folder (in order) that holds each.

    Args:
        folders: Folders to search, in order.

    Returns:
        A tuple ``(found, missing)``: ``found`` maps each located stem to its path,
        ``missing`` lists the stems not found anywhere.
    """
    found, missing = {}, []
    for stem in STEMS:
        path = next((os.path.join(folder, name) for folder in folders
                     for name in _candidates(stem)
                     if _download.names_a_file(os.path.join(folder, name))), None)
        if path is None:
            missing.append(stem)
        else:
            found[stem] = path
    return found, missing


def _load_split(images_path, labels_path, num_classes):
    """Read and cross-check one split's images and labels."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise _download.CorruptDatasetError(
            f"{images_path}: images are {images.shape[1:]}, expected (28, 28)")
    if images.shape[0] != labels.shape[0]:
        raise _download.CorruptDatasetError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels")
    if labels.size and int(labels.max()) >= num_classes:
        raise _download.CorruptDatasetError(
            f"{labels_path}: label {int(labels.max())} out of range 0..{num_classes - 1}")
    return images, labels


def remote_files(mirrors, archives):
    """The canonical ``.gz`` archives of a data set as ``{stem: RemoteFile}``.

    Args:
        mirrors: Base URLs (ending in ``/``), tried in order.
        archives: ``{stem: (sha256, size)}`` of the four archives.

    Returns:
        ``{stem: RemoteFile}``, each archive named ``stem + ".gz"`` at every mirror.
    """
    return {stem: _download.RemoteFile(stem + ".gz", tuple(m + stem + ".gz" for m in mirrors),
                                       sha256, size)
            for stem, (sha256, size) in archives.items()}


def load_idx_dataset(path, title, local_subfolders, cache_subfolder, mirrors, archives,
                     function):
    """Shared ``load_data`` of MNIST and Fashion-MNIST.

    Args:
        path: The ``path=`` argument (data folder) or ``None``.
        title: Data set name for messages.
        local_subfolders: Sub-folders of the data folder to search, in order (``""`` is the
            data folder itself).
        cache_subfolder: Sub-folder of the cache for downloads.
        mirrors, archives: The canonical ``.gz`` archives, as for ``remote_files``.
        function: Qualified name of the loader, for messages.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``.
    """
    remote = remote_files(mirrors, archives)
    data_dir = _download.resolve_data_dir(path)
    names = [remote[stem].name for stem in STEMS]
    if data_dir is not None:
        folders = [os.path.join(data_dir, sub) if sub else data_dir
                   for sub in local_subfolders]
        files, missing = find_local_files(folders)
        if missing:
            raise _download.DatasetUnavailableError(
                f"{function}: the data folder {data_dir} lacks the {title} files "
                f"{', '.join(s + '.gz' for s in missing)} (or unpacked, without '.gz'). "
                f"Looked in: {', '.join(folders)}.")
    else:
        folder = os.path.join(_download.cache_dir(), cache_subfolder)
        hint = _download.offline_hint(title, names, local_subfolders[0], function)
        files = {stem: _download.fetch(remote[stem], folder, hint) for stem in STEMS}
    train = _load_split(files[TRAIN_IMAGES], files[TRAIN_LABELS], num_classes=10)
    test = _load_split(files[TEST_IMAGES], files[TEST_LABELS], num_classes=10)
    return train, test
