"""CIFAR-10: 50,000 training and 10,000 test 32x32 colour images, 10 classes (0 airplane,
1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck).

The *binary version* of the data set is read (``cifar-10-binary.tar.gz``): each record is
one label byte followed by 3,072 pixel bytes, the 1,024 red, then green, then blue values of
the 32x32 image in row-major order. Nothing is ever unpickled.
"""
import gzip
import os
import posixpath
import shutil
import tarfile
import zlib

import numpy as np

from minidl.datasets import _download
from minidl.io_utils import open_regular_file

_URLS = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",)
# SHA-256 and size of the canonical archive, as published in tensorflow-datasets'
# url_checksums/cifar10.txt (the MD5 on the CIFAR page is c32a1d4ab5d03f1284b67883e8d87530).
_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
_SIZE = 170052171

ARCHIVE_NAME = "cifar-10-binary.tar.gz"
BATCHES_DIR = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
_META_FILE = "batches.meta.txt"
_SIDE, _CHANNELS, _NUM_CLASSES = 32, 3, 10
RECORD_BYTES = 1 + _CHANNELS * _SIDE * _SIDE  # 3073
# Limits of the readers (docs/guide/datasets.rst): every batch file of CIFAR-10 holds
# 10,000 records; the archive (about 184 MB unpacked) holds nine members.
MAX_BATCH_BYTES = 10000 * RECORD_BYTES
MAX_ARCHIVE_BYTES = 6 * MAX_BATCH_BYTES + (16 << 20)
MAX_ARCHIVE_MEMBERS = 64


def parse_batches(blobs):
    """Decode CIFAR-10 binary batch files into one NHWC image array and a label column.

    Args:
        blobs (list of (str, bytes) tuples): ``(source, data)`` pairs: a file name for
            messages and the file's bytes. Their records are concatenated in order.

    Returns:
        ``(x, y)``: ``x`` uint8 of shape ``(N, 32, 32, 3)`` (channels last, converted from
        the planar R, G, B layout), ``y`` uint8 of shape ``(N, 1)``.

    Raises:
        CorruptDatasetError: A file is empty, its size is not a multiple of the 3,073-byte
            record, or a label is outside 0..9.

    Example:
        >>> import numpy as np
        >>> from minidl.datasets import cifar10
        >>> planes = np.zeros((3, 32, 32), dtype=np.uint8)
        >>> planes[0] = 255  # an all-red image: the red plane comes first
        >>> record = bytes([7]) + planes.tobytes()  # label 7 (horse)
        >>> x, y = cifar10.parse_batches([("batch_a", record), ("batch_b", 2 * record)])
        >>> x.shape, y.shape, x[0, 0, 0]  # channels last
        ((3, 32, 32, 3), (3, 1), array([255,   0,   0], dtype=uint8))
    """
    counts = []
    for source, data in blobs:
        if len(data) == 0 or len(data) % RECORD_BYTES:
            raise _download.CorruptDatasetError(
                f"{source}: size {len(data)} bytes is not a positive multiple of the "
                f"{RECORD_BYTES}-byte CIFAR-10 record (truncated or not a CIFAR-10 batch)")
        counts.append(len(data) // RECORD_BYTES)
    images = np.empty((sum(counts), _SIDE, _SIDE, _CHANNELS), dtype=np.uint8)
    labels = np.empty((sum(counts), 1), dtype=np.uint8)
    start = 0
    for (source, data), count in zip(blobs, counts):
        records = np.frombuffer(data, dtype=np.uint8).reshape(count, RECORD_BYTES)
        batch_labels = records[:, 0]
        bad = np.flatnonzero(batch_labels >= _NUM_CLASSES)
        if bad.size:
            raise _download.CorruptDatasetError(
                f"{source}: record {int(bad[0])} has label {int(batch_labels[bad[0]])}, "
                f"outside 0..{_NUM_CLASSES - 1}")
        labels[start:start + count, 0] = batch_labels
        planar = records[:, 1:].reshape(count, _CHANNELS, _SIDE, _SIDE)
        images[start:start + count] = planar.transpose(0, 2, 3, 1)
        start += count
    return images, labels


def _check_member(member, archive):
    """Refuse archive members that could write outside the target folder."""
    name = member.name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in name.split("/"):
        raise _download.CorruptDatasetError(
            f"{archive}: unsafe member path {member.name!r} (absolute or containing '..'); "
            f"refusing to extract")
    if not (member.isfile() or member.isdir()):
        raise _download.CorruptDatasetError(
            f"{archive}: member {member.name!r} is a link or special file; refusing to extract")


class _BoundedStream:
    """A read-only stream that fails once more than ``limit`` bytes were read from it:
    tarfile reads (and for some headers keeps) whatever the archive announces, so the
    decompressed archive as a whole is bounded here."""

    def __init__(self, stream, limit, source):
        self._stream, self._limit, self._source = stream, limit, source
        self._count = 0

    def read(self, size=-1):
        """Up to ``size`` bytes; CorruptDatasetError past the limit."""
        allowed = self._limit - self._count + 1
        data = self._stream.read(allowed if size is None or size < 0 else min(size, allowed))
        self._count += len(data)
        if self._count > self._limit:
            raise _download.CorruptDatasetError(
                f"{self._source}: the archive unpacks to more than {self._limit} bytes, "
                f"more than the CIFAR-10 archive can hold")
        return data


def read_archive(archive):
    """Read the batch files out of ``cifar-10-binary.tar.gz`` in one streaming pass.

    Every member is validated (no absolute paths, no ``..``, no links or devices) before
    anything is read; files are matched by their base name and kept in memory. Reads are
    bounded: the archive file and its unpacked stream hold at most ``MAX_ARCHIVE_BYTES``,
    at most ``MAX_ARCHIVE_MEMBERS`` members, and a batch file at most ``MAX_BATCH_BYTES``
    (its declared size is checked before it is read).

    Args:
        archive (str or os.PathLike): Path of the ``.tar.gz`` archive.

    Returns:
        ``{file name: (source, bytes)}`` for the batch files and ``batches.meta.txt``.

    Raises:
        CorruptDatasetError: The archive is not a regular file, is corrupt, truncated,
            too large (a gzip bomb), holds an unsafe member, or lacks a batch file.

    Example:
        >>> import io, os, shutil, tarfile, tempfile
        >>> from minidl.datasets import cifar10
        >>> folder = tempfile.mkdtemp()
        >>> archive = os.path.join(folder, cifar10.ARCHIVE_NAME)
        >>> record = bytes([1]) + bytes(3072)  # one record: label 1 (automobile), black pixels
        >>> with tarfile.open(archive, "w:gz") as tar:
        ...     for name in cifar10.TRAIN_FILES + (cifar10.TEST_FILE,):
        ...         member = tarfile.TarInfo("cifar-10-batches-bin/" + name)
        ...         member.size = len(record)
        ...         tar.addfile(member, io.BytesIO(record))
        >>> blobs = cifar10.read_archive(archive)
        >>> sorted(blobs)
        ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin',
         'data_batch_5.bin', 'test_batch.bin']
        >>> source, data = blobs["test_batch.bin"]
        >>> source == archive + ":cifar-10-batches-bin/test_batch.bin", len(data)
        (True, 3073)
        >>> (x_train, _), (x_test, _) = cifar10.load_data(path=folder)  # load_data reads it too
        >>> x_train.shape, x_test.shape
        ((5, 32, 32, 3), (1, 32, 32, 3))
        >>> shutil.rmtree(folder)
    """
    wanted = set(TRAIN_FILES) | {TEST_FILE, _META_FILE}
    blobs = {}
    raw, size = open_regular_file(archive, _download.CorruptDatasetError, archive)
    try:
        with raw:
            _download.check_size(archive, size, MAX_ARCHIVE_BYTES)
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked, tarfile.open(
                    fileobj=_BoundedStream(unpacked, MAX_ARCHIVE_BYTES, archive),
                    mode="r|") as tar:
                for count, member in enumerate(tar, start=1):
                    if count > MAX_ARCHIVE_MEMBERS:
                        raise _download.CorruptDatasetError(
                            f"{archive}: more than {MAX_ARCHIVE_MEMBERS} members; not the "
                            f"CIFAR-10 archive")
                    _check_member(member, archive)
                    base = posixpath.basename(posixpath.normpath(member.name))
                    if member.isfile() and base in wanted and base not in blobs:
                        source = f"{archive}:{member.name}"
                        _download.check_size(source, member.size, MAX_BATCH_BYTES)
                        data = tar.extractfile(member).read()
                        if len(data) != member.size:
                            raise EOFError(f"member {member.name!r} is truncated")
                        blobs[base] = (source, data)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise _download.CorruptDatasetError(
            f"{archive}: corrupt or truncated archive ({error})") from error
    missing = [name for name in (*TRAIN_FILES, TEST_FILE) if name not in blobs]
    if missing:
        raise _download.CorruptDatasetError(
            f"{archive}: the archive lacks {', '.join(missing)}")
    return blobs


def _read_folder(folder):
    """``{file name: (path, bytes)}`` of the batch files in ``folder`` (each at most
    ``MAX_BATCH_BYTES``)."""
    blobs = {}
    for name in (*TRAIN_FILES, TEST_FILE):
        path = os.path.join(folder, name)
        blobs[name] = (path, _download.read_file(path, MAX_BATCH_BYTES))
    return blobs


def _has_batches(folder):
    return all(_download.names_a_file(os.path.join(folder, name))
               for name in (*TRAIN_FILES, TEST_FILE))


def _load_local(data_dir):
    """Batch files from a user's data folder (never written to, never checksum-verified)."""
    folders = [os.path.join(data_dir, "cifar10", BATCHES_DIR), os.path.join(data_dir, BATCHES_DIR)]
    for folder in folders:
        if _has_batches(folder):
            return _read_folder(folder)
    archives = [os.path.join(data_dir, "cifar10", ARCHIVE_NAME),
                os.path.join(data_dir, ARCHIVE_NAME)]
    for archive in archives:
        if _download.names_a_file(archive):
            return read_archive(archive)
    raise _download.DatasetUnavailableError(
        f"minidl.datasets.cifar10.load_data: the data folder {data_dir} lacks the CIFAR-10 "
        f"binary files {', '.join(TRAIN_FILES)}, {TEST_FILE}. Looked in: "
        f"{', '.join(folders)}; and for the archive {' or '.join(archives)}.")


def _extract_to(blobs, folder):
    """Write the batch files atomically: into a temporary sibling folder, then rename."""
    staging = f"{folder}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        for name, (_, data) in blobs.items():
            with open(os.path.join(staging, name), "wb") as out:  # names from a fixed list
                out.write(data)
        if os.path.isdir(folder):
            shutil.rmtree(folder)  # an incomplete earlier extraction
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load_cached():
    """Batch files from the cache, downloading and extracting the archive if needed."""
    folder = os.path.join(_download.cache_dir(), "cifar10")
    batches = os.path.join(folder, BATCHES_DIR)
    if _has_batches(batches):
        return _read_folder(batches)
    remote = _download.RemoteFile(ARCHIVE_NAME, _URLS, _SHA256, _SIZE)
    hint = (f"To use CIFAR-10 without a network, place {ARCHIVE_NAME}, or its unpacked folder "
            f"{BATCHES_DIR}/ holding {', '.join(TRAIN_FILES)} and {TEST_FILE}, in the folder "
            f"<DATA_DIR>/cifar10/ and call minidl.datasets.cifar10.load_data(path="
            f"'<DATA_DIR>') or set the environment variable {_download.DATA_DIR_ENV}="
            f"<DATA_DIR>. (The canonical archive placed in {folder} also works.)")
    archive = _download.fetch(remote, folder, hint)
    blobs = read_archive(archive)
    _extract_to(blobs, batches)
    return blobs


def load_data(path=None):
    """Load CIFAR-10 as Keras's ``keras.datasets.cifar10.load_data`` does (channels last).

    Where the data comes from, in this order:

    1. ``path`` (a folder), else the ``MINIDL_DATA_DIR`` environment variable: the folder is
       used as it is, with no network and no writes. It must hold
       ``cifar10/cifar-10-batches-bin/`` or ``cifar-10-batches-bin/`` with
       ``data_batch_1.bin`` ... ``data_batch_5.bin`` and ``test_batch.bin``, or the archive
       ``cifar10/cifar-10-binary.tar.gz`` / ``cifar-10-binary.tar.gz`` (read in memory, its
       members checked: absolute paths, ``..`` and links are refused). Local files are **not**
       checksum-verified (re-encoded copies such as the project's shared data are accepted),
       only validated structurally (record size, label range).
    2. Otherwise the cache ``~/.minidl/datasets/cifar10/`` (``$MINIDL_CACHE_DIR/cifar10/``):
       the canonical archive is downloaded and verified against its SHA-256 if needed, then
       extracted there once; later calls read the extracted batch files.

    Args:
        path (str or os.PathLike or None): Folder that already holds the data set files,
            or ``None``. (Keras's ``cifar10.load_data`` takes no argument; this one is an
            addition.)

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``x`` uint8 arrays of shape
        ``(N, 32, 32, 3)`` (NHWC, RGB), ``y`` uint8 arrays of shape ``(N, 1)`` with classes
        0..9; N is 50,000 for training and 10,000 for test.

    Raises:
        DatasetUnavailableError: (an ``OSError``) the files are missing from the given folder,
            or no folder is given and the download failed (offline); the message says which
            files to place in which folder.
        CorruptDatasetError: (a ``ValueError``) a file or the archive is truncated, corrupt,
            unsafe or has the wrong format; ``ChecksumMismatchError`` for a download with the
            wrong SHA-256.

    Example:
        >>> import os, shutil, tempfile
        >>> from minidl.datasets import cifar10
        >>> folder = tempfile.mkdtemp()
        >>> batches = os.path.join(folder, "cifar-10-batches-bin")
        >>> os.mkdir(batches)
        >>> record = bytes([3]) + bytes(3072)  # label 3 (cat), then the R, G, B planes of 32x32
        >>> for name in cifar10.TRAIN_FILES + (cifar10.TEST_FILE,):  # two records per file
        ...     with open(os.path.join(batches, name), "wb") as file:
        ...         _ = file.write(2 * record)
        >>> (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=folder)
        >>> x_train.shape, x_train.dtype, y_train.shape, x_test.shape, y_test.ravel()
        ((10, 32, 32, 3), dtype('uint8'), (10, 1), (2, 32, 32, 3), array([3, 3], dtype=uint8))
        >>> shutil.rmtree(folder)
    """
    data_dir = _download.resolve_data_dir(path)
    blobs = _load_local(data_dir) if data_dir is not None else _load_cached()
    train = parse_batches([blobs[name] for name in TRAIN_FILES])
    test = parse_batches([blobs[TEST_FILE]])
    return train, test
