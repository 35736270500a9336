"""minidl.io_utils: atomic file replacement that survives errors, Ctrl-C and crashes."""
import os
import signal
import stat
import subprocess
import sys
import pathlib

import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl.io_utils import atomic_write, atomic_write_bytes, atomic_write_text

OLD = b"previous content \x00\xff" * 100


def _entries(directory):
    return sorted(os.listdir(directory))


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(OLD)
    return path


def test_writes_a_new_binary_file(tmp_path):
    path = tmp_path / "w.bin"
    with atomic_write(path) as handle:
        handle.write(b"abc")
        handle.write(b"\x00def")
    assert path.read_bytes() == b"abc\x00def"
    assert _entries(tmp_path) == ["w.bin"]


def test_replaces_an_existing_file(old_file):
    with atomic_write(str(old_file), "wb") as handle:
        handle.write(b"new")
    assert old_file.read_bytes() == b"new"
    assert _entries(old_file.parent) == ["model.keras"]


def test_text_mode_and_helpers(tmp_path):
    path = tmp_path / "t.txt"
    atomic_write_text(path, "héllo\nworld\n")
    assert path.read_text(encoding="utf-8") == "héllo\nworld\n"
    with atomic_write(path, "w") as handle:
        handle.write("second")
    assert path.read_text(encoding="utf-8") == "second"
    atomic_write_bytes(path, bytearray(b"\x01\x02"))
    assert path.read_bytes() == b"\x01\x02"
    assert _entries(tmp_path) == ["t.txt"]


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()],
                         ids=["exception", "ctrl-c"])
def test_interrupted_write_keeps_the_old_file(old_file, error):
    with pytest.raises(type(error)):
        with atomic_write(old_file) as handle:
            handle.write(b"half of the new data")
            handle.flush()
            raise error
    assert old_file.read_bytes() == OLD
    assert _entries(old_file.parent) == ["model.keras"]


def test_interrupted_write_of_a_new_file_leaves_nothing(tmp_path):
    path = tmp_path / "new.npz"
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as handle:
            handle.write(b"partial")
            raise KeyboardInterrupt
    assert _entries(tmp_path) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failure_while_committing_keeps_the_old_file(old_file, monkeypatch, failing):
    def broken(*args, **kwargs):
        raise OSError(f"simulated {failing} failure")

    monkeypatch.setattr(os, failing, broken)
    with pytest.raises(OSError, match="simulated"):
        with atomic_write(old_file) as handle:
            handle.write(b"new")
    monkeypatch.undo()
    assert old_file.read_bytes() == OLD
    assert _entries(old_file.parent) == ["model.keras"]


def test_block_may_close_the_file_itself(tmp_path):
    path = tmp_path / "closed.bin"
    with atomic_write(path) as handle:
        handle.write(b"done")
        handle.close()
    assert path.read_bytes() == b"done"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permissions_like_open(tmp_path, old_file):
    umask = os.umask(0)
    os.umask(umask)
    fresh = tmp_path / "fresh.bin"
    atomic_write_bytes(fresh, b"x")
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~umask
    os.chmod(old_file, 0o640)
    atomic_write_bytes(old_file, b"y")
    assert stat.S_IMODE(os.stat(old_file).st_mode) == 0o640


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_process_killed_mid_write_keeps_the_old_file(old_file):
    code = (
        "import os, signal, sys\n"
        "from minidl.io_utils import atomic_write\n"
        "with atomic_write(sys.argv[1]) as f:\n"
        "    f.write(b'partial new content')\n"
        "    f.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = os.path.dirname(minidl.__path__[0])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code, str(old_file)], env=env,
                            cwd=str(old_file.parent), capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert old_file.read_bytes() == OLD
    # Only a hidden temporary file can be left behind after a hard kill.
    leftovers = [name for name in _entries(old_file.parent) if name != "model.keras"]
    assert all(name.startswith(".minidl-") and name.endswith(".tmp")
               for name in leftovers)


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=4096))
def test_bytes_round_trip(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("rt") / "blob.bin"
    atomic_write_bytes(pathlib.Path(path), data)
    assert path.read_bytes() == data


def test_missing_parent_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="parent directory of 'path' does not exist"):
        with atomic_write(tmp_path / "nope" / "f.bin"):
            pass
    with pytest.raises(FileNotFoundError, match="create it first"):
        atomic_write_text(tmp_path / "nope" / "f.txt", "x")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="atomic_write: argument 'mode'.*Received: mode='a'"):
        with atomic_write(tmp_path / "f", "a"):
            pass
    with pytest.raises(ValueError, match="argument 'mode'"):
        with atomic_write(tmp_path / "f", "r+b"):
            pass
    with pytest.raises(TypeError, match="argument 'path' must be a str or os.PathLike"):
        with atomic_write(42):
            pass
    with pytest.raises(IsADirectoryError, match="existing directory"):
        atomic_write_bytes(tmp_path, b"x")
    with pytest.raises(TypeError, match="atomic_write_bytes: argument 'data' must be bytes"):
        atomic_write_bytes(tmp_path / "f", "text")
    with pytest.raises(TypeError, match="atomic_write_text: argument 'text' must be a str"):
        atomic_write_text(tmp_path / "f", b"bytes")
    assert _entries(tmp_path) == []
