"""Crash-safe file writing: a file is either entirely the old one or entirely the new one.

``atomic_write`` writes to a temporary file beside the target and renames it over the
target only once everything has been written and synced to disk. A crash, an exception
or Ctrl-C in the middle of a write therefore leaves the previous file untouched (and no
temporary file behind, except after a hard kill, where a hidden ``.minidl-*.tmp`` file
may remain next to the target).

The temporary name is short and fixed-length (``.minidl-`` and 8 random hex digits), so
any file name the file system accepts can be written, up to its 255-byte limit.
"""
import contextlib
import os
import secrets
import stat

# Open modes that atomic_write accepts: text or binary, always truncating writes.
_WRITE_MODES = {"w": "w", "wt": "w", "tw": "w", "wb": "wb", "bw": "wb"}
_TEMP_ATTEMPTS = 100


def _check_target(path, where):
    """``path`` as a string after checking that it can be written atomically.

    Raises:
        TypeError: path is not a str/bytes/os.PathLike.
        FileNotFoundError: the parent directory does not exist.
        IsADirectoryError: path names an existing directory.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{where}: argument 'path' must be a str or os.PathLike. "
                        f"Received: path={path!r} of type {type(path).__name__}")
    path = os.fsdecode(os.fspath(path))
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"{where}: the parent directory of 'path' does not exist; "
                                f"create it first. Received: path={path!r} "
                                f"(missing directory {parent!r})")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{where}: argument 'path' names an existing directory, "
                                f"expected a file path. Received: path={path!r}")
    return path


def _create_temp_file(path):
    """Create a new, empty temporary file beside ``path``; return (fd, temp_path).

    The file is created with mode 0o666 filtered by the umask, as ``open(path, "w")``
    would do (``tempfile.mkstemp`` would make it 0o600), and takes the permission bits
    of ``path`` when that file already exists, so replacing a file keeps its mode.
    """
    directory = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_TEMP_ATTEMPTS):
        temp_path = os.path.join(directory, f".minidl-{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp_path, flags, 0o666)
        except FileExistsError:
            continue
        try:
            os.chmod(temp_path, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            pass  # a new file: keep the umask-filtered default mode
        except OSError:
            pass  # permissions we cannot copy (another owner): keep the default
        return fd, temp_path
    raise FileExistsError(f"atomic_write: could not create a unique temporary file "
                          f"next to {path!r} after {_TEMP_ATTEMPTS} attempts")


def _fsync_directory(directory):
    """Sync a directory entry to disk so the rename itself survives a power loss.

    Best effort: some platforms (Windows) and file systems cannot open or sync a directory.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path):
    """Sync an already written and closed file to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path):
    """Delete ``path`` if it exists, ignoring errors (used while an exception unwinds)."""
    try:
        os.unlink(path)
    except OSError:
        pass


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding="utf-8"):
    """Open ``path`` for writing so that it is replaced all at once or not at all.

    The yielded file object writes to a temporary file in the same directory. When the
    ``with`` block ends normally, the data is flushed, fsynced and the temporary file is
    renamed over ``path`` with ``os.replace`` (atomic on POSIX and Windows). When the
    block raises anything (``KeyboardInterrupt`` included), the temporary file is removed,
    ``path`` is left exactly as it was, and the exception propagates.

    Example:
        >>> import numpy as np, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "weights.npz")
        >>> with atomic_write(path, "wb") as f:
        ...     np.savez(f, np.zeros(3))
        >>> sorted(np.load(path).files)
        ['arr_0']

    Args:
        path: the file to write (str or os.PathLike). Its directory must exist. A symbolic
            link at ``path`` is replaced by a regular file (the link's target is untouched).
        mode: ``"wb"`` (binary, default) or ``"w"`` (text).
        encoding: text encoding for mode ``"w"``; ignored in binary mode.

    Yields:
        A writable file object.

    Raises:
        ValueError: ``mode`` is not a write mode.
        FileNotFoundError: the parent directory of ``path`` does not exist.
        IsADirectoryError: ``path`` is an existing directory.
    """
    if mode not in _WRITE_MODES:
        raise ValueError(f"atomic_write: argument 'mode' must be one of "
                         f"{sorted(_WRITE_MODES)}. Received: mode={mode!r}")
    path = _check_target(path, "atomic_write")
    binary = _WRITE_MODES[mode] == "wb"
    fd, temp_path = _create_temp_file(path)
    try:
        if binary:
            handle = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding=encoding)  # same newlines as open()
    except BaseException:
        os.close(fd)
        _remove_quietly(temp_path)
        raise
    try:
        with handle:
            yield handle
            if not handle.closed:  # the block may have closed it (close() flushes)
                handle.flush()
                os.fsync(handle.fileno())
            else:
                _fsync_file(temp_path)
        os.replace(temp_path, path)
    except BaseException:
        # Anything (an error in the block, Ctrl-C, a full disk while syncing): drop the
        # temporary file, keep the old one, re-raise.
        _remove_quietly(temp_path)
        raise
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def atomic_write_bytes(path, data):
    """Replace the file ``path`` with ``data`` atomically (see ``atomic_write``).

    Args:
        path: the file to write (str or os.PathLike); its directory must exist.
        data: a bytes-like object.

    Raises:
        TypeError: ``data`` is not bytes-like.

    Example:
        >>> import os, tempfile
        >>> from minidl import io_utils
        >>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
        >>> io_utils.atomic_write_bytes(path, b"abc")
        >>> open(path, "rb").read()
        b'abc'
    """
    try:
        view = memoryview(data)
    except TypeError as exc:
        raise TypeError(f"atomic_write_bytes: argument 'data' must be bytes-like. "
                        f"Received: data of type {type(data).__name__}") from exc
    with atomic_write(path, "wb") as handle:
        handle.write(view)


def atomic_write_text(path, text, encoding="utf-8"):
    """Replace the file ``path`` with ``text`` atomically (see ``atomic_write``).

    Args:
        path: the file to write (str or os.PathLike); its directory must exist.
        text: a str.
        encoding: the text encoding (default UTF-8).

    Raises:
        TypeError: ``text`` is not a str.

    Example:
        >>> import os, tempfile
        >>> from minidl import io_utils
        >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> io_utils.atomic_write_text(path, "written whole or not at all")
        >>> open(path).read()
        'written whole or not at all'
    """
    if not isinstance(text, str):
        raise TypeError(f"atomic_write_text: argument 'text' must be a str. "
                        f"Received: text of type {type(text).__name__}")
    with atomic_write(path, "w", encoding=encoding) as handle:
        handle.write(text)


def open_regular_file(path, error, where):
    """Open ``path`` for binary reading, refusing anything but a regular file.

    A FIFO would block the open (or the first read) forever and a device such as
    ``/dev/zero`` never ends, so both are refused before a byte is read: the file is opened
    without blocking and checked with ``fstat``.

    Args:
        path: the file (str or os.PathLike); symbolic links are followed.
        error: the exception class to raise for a non-regular file (for example
            ``CorruptFileError``); it receives one message argument.
        where: prefix of the message, e.g. ``"load_model"``.

    Returns:
        ``(file object, size in bytes)``; the caller closes the file.

    Raises:
        FileNotFoundError: ``path`` does not exist (other OSError subclasses pass through).
        error: ``path`` is a directory, a device, a FIFO or a socket.

    Example:
        >>> import tempfile
        >>> from minidl import hdf5
        >>> try:
        ...     hdf5.open_regular_file(tempfile.mkdtemp(), ValueError, "load_model")
        ... except ValueError as error:
        ...     print("refused:", "regular file" in str(error))
        refused: True
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise error(f"{where}: {os.fspath(path)!r} is a directory, not a file") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{where}: {os.fspath(path)!r} is not a regular file (a folder, device, "
                        f"FIFO or socket); refusing to read it")
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise
