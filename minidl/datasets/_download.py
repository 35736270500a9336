"""Shared plumbing of the data set loaders: errors, local folders, the cache and downloads.

Only the standard library is used (``urllib``, ``hashlib``). Downloads go to a ``<name>.part``
file next to the cache entry, are checked against the canonical archive's SHA-256 and only
then renamed into place with ``os.replace``, so the cache never holds a partial or unverified
file under its final name. An interrupted download keeps its ``.part`` file and the next
attempt resumes it with an HTTP ``Range`` request when the server supports one.

Tests replace the module-level :func:`_open_url` (or serve files from a loopback
``http.server``), so no test touches the network.
"""
import hashlib
import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from minidl._version import __version__
from minidl.io_utils import open_regular_file

DATA_DIR_ENV = "MINIDL_DATA_DIR"
CACHE_DIR_ENV = "MINIDL_CACHE_DIR"

_CHUNK_BYTES = 1 << 20
# Limits of a download (docs/guide/datasets.rst lists them). Each read waits at most
# _TIMEOUT_S; the bytes received in every _RATE_WINDOW_S must average _MIN_RATE_BYTES_S;
# a file (all mirrors and retries together) must arrive within _DEADLINE_S; a server never
# makes the .part file grow past the file's known size (or _MAX_UNKNOWN_BYTES).
_TIMEOUT_S = 30.0
_RATE_WINDOW_S = 30.0
_MIN_RATE_BYTES_S = 1024.0
_DEADLINE_S = 3600.0
_MAX_UNKNOWN_BYTES = 1 << 30


class TransferAbortedError(ConnectionError):
    """A download stopped by minidl: too slow, past its deadline, or longer than the file."""


class _OversizedTransfer(TransferAbortedError):
    """A server sent (or announced) more bytes than the file has."""


# Errors that mean "this URL did not deliver the file": try the next mirror, keep the .part.
_TRANSFER_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError, socket.timeout)


class DatasetUnavailableError(OSError):
    """The data set is neither in the given local folder nor downloadable (offline).

    Example:
        >>> import tempfile
        >>> from minidl.datasets import DatasetUnavailableError, mnist
        >>> try:
        ...     mnist.load_data(path=tempfile.mkdtemp())  # an empty folder: nothing to read
        ... except DatasetUnavailableError as error:
        ...     print(type(error).__name__, isinstance(error, OSError))
        DatasetUnavailableError True
    """


class CorruptDatasetError(ValueError):
    """A data set file is truncated, corrupt or not in the expected format.

    Example:
        >>> import os, tempfile
        >>> from minidl.datasets import CorruptDatasetError, cifar10
        >>> folder = os.path.join(tempfile.mkdtemp(), "cifar-10-batches-bin")
        >>> os.mkdir(folder)
        >>> for name in ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]:
        ...     _ = open(os.path.join(folder, name), "wb").write(b"too short")
        >>> try:
        ...     cifar10.load_data(path=os.path.dirname(folder))
        ... except CorruptDatasetError as error:
        ...     print(type(error).__name__, isinstance(error, ValueError))
        CorruptDatasetError True
    """


class ChecksumMismatchError(CorruptDatasetError):
    """A downloaded archive's SHA-256 differs from the canonical archive's.

    Example:
        >>> from minidl.datasets import ChecksumMismatchError, CorruptDatasetError
        >>> # a download whose bytes are not the canonical archive's
        >>> issubclass(ChecksumMismatchError, CorruptDatasetError)
        True
    """


@dataclass(frozen=True)
class RemoteFile:
    """One canonical archive: its file name, the URLs to try in order and its checksum.

    Attributes:
        name: File name in the cache folder, e.g. ``"train-images-idx3-ubyte.gz"``.
        urls: Full URLs, tried in order (mirrors).
        sha256: Hex SHA-256 of the canonical archive.
        size: Size in bytes of the canonical archive, or ``None`` if unknown (used for the
            progress bar when the server sends no ``Content-Length``).
    """

    name: str
    urls: tuple
    sha256: str
    size: int = None


def resolve_data_dir(path):
    """The local data folder to read from, or ``None`` to use the cache and downloads.

    Args:
        path: The ``path=`` argument of a ``load_data`` function (str, ``os.PathLike`` or
            ``None``). It wins over the ``MINIDL_DATA_DIR`` environment variable.

    Returns:
        The folder as an absolute ``str``, or ``None`` when neither is set.

    Raises:
        DatasetUnavailableError: The folder does not exist.
        ValueError: ``path`` names a file (for example Keras's ``"mnist.npz"``) instead of a
            folder.
        TypeError: ``path`` is neither None, a str, bytes nor ``os.PathLike``.
    """
    origin = "path"
    if path is not None and not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"load_data: argument 'path' must be a folder name (str or "
                        f"os.PathLike) or None. Received: path={path!r}")
    if path is None:
        path, origin = os.environ.get(DATA_DIR_ENV) or None, DATA_DIR_ENV
        if path is None:
            return None
    folder = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.isfile(folder):
        raise ValueError(f"load_data: argument '{origin}' must name a folder that holds the "
                         f"data set files, not a file. Received: {path!r}")
    if not os.path.isdir(folder):
        raise DatasetUnavailableError(f"load_data: the data folder given by '{origin}' does "
                                      f"not exist. Received: {path!r}")
    return folder


def cache_dir():
    """The download cache root: ``$MINIDL_CACHE_DIR`` or ``~/.minidl/datasets``.

    Returns:
        The folder as a ``str`` (it may not exist yet).
    """
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(os.path.expanduser("~"), ".minidl", "datasets")


def read_file(path, max_bytes):
    """The bytes of a data set file, refusing what cannot be one before reading it.

    Args:
        path: The file.
        max_bytes: The most bytes the file may hold.

    Returns:
        The contents (``bytes``).

    Raises:
        CorruptDatasetError: ``path`` is not a regular file (a device such as
            ``/dev/zero``, a FIFO, a directory) or is larger than ``max_bytes`` (sparse
            files included: the size is checked, not the blocks).
    """
    stream, size = open_regular_file(path, CorruptDatasetError, path)
    with stream:
        check_size(path, size, max_bytes)
        data = stream.read(max_bytes + 1)  # the file may grow while it is read
    check_size(path, len(data), max_bytes)
    return data


def names_a_file(path):
    """Whether something other than a folder is at ``path``: a device or a FIFO counts,
    so that reading it fails with a clear error instead of the file being reported
    missing."""
    return os.path.exists(path) and not os.path.isdir(path)


def check_size(path, size, max_bytes):
    """Raise CorruptDatasetError when ``size`` exceeds ``max_bytes``."""
    if size > max_bytes:
        raise CorruptDatasetError(f"{path}: {size} bytes, more than the {max_bytes} a file "
                                  f"of this data set can hold")


def sha256_of_file(path):
    """Hex SHA-256 of a regular file, read in 1 MiB blocks (no more than its size).

    Args:
        path: The file.

    Returns:
        The lowercase hex digest.

    Raises:
        CorruptDatasetError: ``path`` is not a regular file.
    """
    digest = hashlib.sha256()
    stream, size = open_regular_file(path, CorruptDatasetError, path)
    with stream:
        while size > 0:
            block = stream.read(min(_CHUNK_BYTES, size))
            if not block:
                break
            digest.update(block)
            size -= len(block)
    return digest.hexdigest()


def _is_verified(path, remote):
    """Whether ``path`` is a regular file with the size and SHA-256 of ``remote``."""
    if not os.path.isfile(path):
        return False
    if remote.size is not None and os.path.getsize(path) != remote.size:
        return False
    return sha256_of_file(path) == remote.sha256


def _open_url(url, headers, timeout):
    """Open ``url`` for reading; the single place that touches the network.

    Tests monkeypatch this function. A replacement must return an object with ``read(n)``,
    ``headers`` (``.get``), ``status`` and context-manager support, like
    ``http.client.HTTPResponse``, or raise ``urllib.error.URLError``/``HTTPError``.

    Args:
        url: The URL.
        headers: Extra request headers (``dict``), e.g. ``{"Range": "bytes=100-"}``.
        timeout: Socket timeout in seconds.

    Returns:
        The response.
    """
    request = urllib.request.Request(
        url, headers={"User-Agent": f"minidl/{__version__} (Python urllib)", **headers})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https URLs)


def _format_bytes(count):
    """Human-readable size: ``"9.5 MiB"``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024.0 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024.0
    return f"{value:.1f} GiB"  # pragma: no cover (the loop always returns)


class _ProgressBar:
    """A one-line progress report on stderr: bytes, percent and transfer rate."""

    _WIDTH = 30

    def __init__(self, name, total, already_done):
        self._name = name
        self._total = total
        self._done = already_done
        self._received = 0  # bytes of this session only, for the rate
        self._start = time.monotonic()
        self._last_draw = 0.0
        stream = sys.stderr  # looked up per download so that tests can capture it
        self._stream = stream
        # Redraw often on a terminal, rarely in a log file.
        self._interval = 0.1 if getattr(stream, "isatty", lambda: False)() else 2.0

    def update(self, count):
        """Account for ``count`` more bytes and redraw at most every interval."""
        self._done += count
        self._received += count
        now = time.monotonic()
        if now - self._last_draw >= self._interval:
            self._last_draw = now
            self._draw(end="")

    def close(self):
        """Draw the final state and end the line."""
        self._draw(end="\n")

    def _draw(self, end):
        elapsed = max(time.monotonic() - self._start, 1e-6)
        rate = f"{_format_bytes(self._received / elapsed)}/s"
        if self._total:
            fraction = min(self._done / self._total, 1.0)
            filled = int(round(fraction * self._WIDTH))
            bar = "#" * filled + "." * (self._WIDTH - filled)
            text = (f"{self._name}: [{bar}] {_format_bytes(self._done)} / "
                    f"{_format_bytes(self._total)} {100.0 * fraction:5.1f}% {rate}")
        else:
            text = f"{self._name}: {_format_bytes(self._done)} {rate}"
        self._stream.write(f"\r{text}{end}")
        self._stream.flush()


def _range_start(content_range):
    """First byte of a ``Content-Range: bytes a-b/n`` header, or ``None``."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    first = content_range[6:].split("-", 1)[0].strip()
    return int(first) if first.isdigit() else None


class _TransferClock:
    """The time limits of one file's download: an overall deadline, and a minimum rate
    that the bytes of each response must keep over every window of ``_RATE_WINDOW_S``."""

    def __init__(self, name):
        self._name = name
        self._deadline = time.monotonic() + _DEADLINE_S

    def socket_timeout(self):
        """The socket timeout for the next request: never past the deadline."""
        self.check_deadline()
        return max(0.001, min(_TIMEOUT_S, _RATE_WINDOW_S, self._deadline - time.monotonic()))

    def check_deadline(self):
        """Raise TransferAbortedError once the deadline has passed."""
        if time.monotonic() > self._deadline:
            raise TransferAbortedError(f"{self._name}: the download did not finish within "
                                       f"its deadline of {_DEADLINE_S:.0f} s")

    def start_response(self):
        """Begin a new rate window (a new response)."""
        self._window_start, self._window_bytes = time.monotonic(), 0

    def received(self, count):
        """Account for ``count`` bytes; raise when the transfer is too slow or too late."""
        self._window_bytes += count
        elapsed = time.monotonic() - self._window_start
        if elapsed >= _RATE_WINDOW_S:
            if self._window_bytes < _MIN_RATE_BYTES_S * elapsed:
                raise TransferAbortedError(
                    f"{self._name}: the server is too slow: {self._window_bytes} bytes in "
                    f"{elapsed:.1f} s, below the minimum of {_MIN_RATE_BYTES_S:.0f} bytes/s")
            self.start_response()
        self.check_deadline()


def _size_limit(remote, offset, length):
    """The most bytes ``part`` may reach: the file's known size, else the server's
    announced length, else _MAX_UNKNOWN_BYTES; an announcement beyond the known size is
    refused before a byte is read."""
    announced = offset + int(length) if length and length.isdigit() else None
    if remote.size is not None:
        if announced is not None and announced > remote.size:
            raise _OversizedTransfer(f"{remote.name}: the server announces {announced} "
                                       f"bytes, but the file has {remote.size}")
        return remote.size, announced
    return (announced if announced is not None else _MAX_UNKNOWN_BYTES), announced


def _copy_response(response, out, written, limit, clock, progress, name):
    """Copy the response body to ``out`` until it ends; never past ``limit`` bytes in all.

    Returns:
        The number of bytes the file holds afterwards.
    """
    read = getattr(response, "read1", None) or response.read  # read1: return what arrived
    while True:
        block = read(min(_CHUNK_BYTES, limit - written + 1))
        if not block:
            return written
        if written + len(block) > limit:
            raise _OversizedTransfer(f"{name}: the server sent more than the "
                                       f"{limit} bytes of the file")
        out.write(block)
        written += len(block)
        progress.update(len(block))
        clock.received(len(block))


def _download_to_part(url, part, remote, clock):
    """Download ``url`` into ``part``, resuming an existing partial file when possible.

    Returns:
        True when the download resumed an existing partial file.

    Raises:
        One of ``_TRANSFER_ERRORS`` when the transfer fails; ``part`` keeps what arrived
        (except after a server sent more than the file: then it is deleted).
    """
    offset = os.path.getsize(part) if os.path.isfile(part) else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = _open_url(url, headers, clock.socket_timeout())
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the partial file does not fit this server's copy
            os.remove(part)
            return _download_to_part(url, part, remote, clock)
        raise
    with response:
        status = getattr(response, "status", None) or response.getcode()
        resumed = bool(offset) and status == 206 and (
            _range_start(response.headers.get("Content-Range")) == offset)
        if not resumed:
            offset = 0  # the server ignored the Range request: start again from byte 0
        limit, expected = _size_limit(remote, offset, response.headers.get("Content-Length"))
        progress = _ProgressBar(remote.name, expected or remote.size, offset)
        clock.start_response()
        try:
            with open(part, "ab" if resumed else "wb") as out:
                written = _copy_response(response, out, offset, limit, clock, progress,
                                         remote.name)
        except _OversizedTransfer:
            os.remove(part)  # not a prefix of the file: useless for a resume
            raise
        finally:
            progress.close()
    if expected is not None and written < expected:
        raise ConnectionError(f"the connection closed after {written} of {expected} bytes")
    return resumed


def _verified_download(url, part, remote, clock):
    """Download into ``part`` and check its SHA-256; a resumed download that fails the
    check is retried once from byte 0 (the old partial file may have been stale).

    Raises:
        ChecksumMismatchError: The complete file has the wrong checksum (``part`` deleted).
    """
    if os.path.lexists(part) and (not os.path.isfile(part) or (
            remote.size is not None and os.path.getsize(part) > remote.size)):
        os.remove(part)  # not a file, or longer than the canonical file: not a prefix of it
    for _ in range(2):
        if remote.size is not None and os.path.exists(part) and (
                os.path.getsize(part) == remote.size):
            resumed = True  # already complete from an earlier run: only verify it
        else:
            resumed = _download_to_part(url, part, remote, clock)
        digest = sha256_of_file(part)
        if digest == remote.sha256:
            return
        os.remove(part)
        if not resumed:
            break
    raise ChecksumMismatchError(
        f"Downloaded file {remote.name} from {url} failed its checksum: SHA-256 "
        f"{digest}, expected {remote.sha256}. The partial file was deleted; try again, "
        f"or place a verified copy in the data folder (see MINIDL_DATA_DIR).")


def fetch(remote, folder, hint):
    """Return a checksum-verified local copy of ``remote``, downloading it if needed.

    A cached copy is verified again; a cached copy with the wrong size or checksum (or
    that is not a regular file) is replaced. The download of the file, over all mirrors,
    is bounded in time (``_DEADLINE_S``), rate (``_MIN_RATE_BYTES_S`` over every
    ``_RATE_WINDOW_S``) and size (``remote.size``).

    Args:
        remote: The :class:`RemoteFile`.
        folder: Cache folder that holds (or will hold) ``remote.name``.
        hint: Sentence(s) telling the user which files to place where, appended to
            the error raised when no URL can be reached.

    Returns:
        Path of the verified file in ``folder``.

    Raises:
        DatasetUnavailableError: No URL delivered the file (offline, HTTP errors, a server
            too slow, past the deadline or sending more than the file).
        ChecksumMismatchError: A complete download had the wrong SHA-256.
    """
    target = os.path.join(folder, remote.name)
    if os.path.lexists(target):
        if _is_verified(target, remote):
            return target
        sys.stderr.write(f"minidl.datasets: cached {target} failed its checksum; "
                         f"downloading it again\n")
        os.remove(target)
    os.makedirs(folder, exist_ok=True)
    part = target + ".part"
    failures = []
    clock = _TransferClock(remote.name)
    for url in remote.urls:
        sys.stderr.write(f"Downloading {url}\n")
        try:
            _verified_download(url, part, remote, clock)
        except _TRANSFER_ERRORS as error:
            failures.append(f"{url}: {getattr(error, 'reason', None) or error}")
            continue
        os.replace(part, target)
        return target
    tried = "; ".join(failures)
    raise DatasetUnavailableError(
        f"Could not download {remote.name} (tried {tried}). {hint}")


def offline_hint(title, file_names, subfolder, function):
    """The "where to put the files" advice of a data set's errors.

    Args:
        title: Data set name for the message, e.g. ``"MNIST"``.
        file_names: The files (``str`` list) the user must provide.
        subfolder: Sub-folder of the data folder where they go, e.g. ``"mnist"``.
        function: The loader to name, e.g. ``"minidl.datasets.mnist.load_data"``.

    Returns:
        The advice text.
    """
    names = ", ".join(file_names)
    return (f"To use {title} without a network, place the files {names} in the folder "
            f"<DATA_DIR>/{subfolder}/ and call {function}(path='<DATA_DIR>') or set the "
            f"environment variable {DATA_DIR_ENV}=<DATA_DIR>. (Copies of the canonical "
            f"archives placed in {os.path.join(cache_dir(), subfolder)} also work.)")
