"""Tests of minidl.datasets: parsers, local lookup, corrupt files and (fake) downloads.

No test touches the network: downloads go through a monkeypatched ``_open_url`` or a
loopback ``http.server`` on 127.0.0.1. The real shared data is loaded only when
``MINIDL_DATA_DIR`` is set in the environment.
"""
import gzip
import hashlib
import io
import os
import socket
import struct
import tarfile
import time
import urllib.error

import numpy as np
import pytest

from dataset_files import (CIFAR_FILES, STEMS, idx_bytes, idx_files,
                           make_cifar, make_idx_split, write_cifar_folder, write_idx_folder)
from http_loopback import LoopbackHandler, loopback  # noqa: F401 (a fixture)
from minidl.datasets import (ChecksumMismatchError, CorruptDatasetError,
                             DatasetUnavailableError, _download, cifar10, fashion_mnist, mnist)

REAL_DATA_DIR = os.environ.get("MINIDL_DATA_DIR")


def _no_network(url, headers, timeout):
    raise AssertionError(f"a test tried to reach the network: {url}")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No data folder, a private cache, and any network access fails the test."""
    monkeypatch.delenv("MINIDL_DATA_DIR", raising=False)
    monkeypatch.setenv("MINIDL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_download, "_open_url", _no_network)


# ---------------------------------------------------------------------------------------------
# Small data set files: writers in dataset_files.py.

def assert_same(loaded, expected):
    for got, want in zip(loaded[0] + loaded[1], expected[0] + expected[1]):
        assert got.dtype == np.uint8
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def cifar_archive(files, extra_members=()):
    """A ``cifar-10-binary.tar.gz`` holding ``cifar-10-batches-bin/<file>``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in extra_members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
        folder = tarfile.TarInfo("cifar-10-batches-bin")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, payload in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Local files: round trips and lookup.

@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_mnist_round_trip(tmp_path, rng, gz):
    data = make_idx_split(rng)
    write_idx_folder(tmp_path / "mnist", data, gz=gz)
    loaded = mnist.load_data(path=tmp_path)
    assert_same(loaded, data)
    assert loaded[0][0].flags.writeable  # Keras returns modifiable arrays


def test_mnist_known_pixels(tmp_path):
    """A hand-written IDX file: a single image whose pixel (r, c) is r * 28 + c mod 256."""
    pixels = bytes((r * 28 + c) % 256 for r in range(28) for c in range(28))
    images = struct.pack(">IIII", 2051, 1, 28, 28) + pixels
    labels = struct.pack(">II", 2049, 1) + bytes([7])
    for stem, payload in zip(STEMS, (images, labels, images, labels)):
        (tmp_path / stem).write_bytes(payload)
    (x_train, y_train), _ = mnist.load_data(path=tmp_path)
    assert x_train.shape == (1, 28, 28) and y_train.tolist() == [7]
    assert x_train[0, 0, 5] == 5 and x_train[0, 3, 2] == (3 * 28 + 2) % 256
    assert x_train[0, 27, 27] == (27 * 28 + 27) % 256


def test_mnist_lookup_in_root_and_dotted_names(tmp_path, rng):
    data = make_idx_split(rng)
    for stem, raw in idx_files(data).items():  # unpacked, with the "train-images.idx3" naming
        (tmp_path / stem.replace("-idx", ".idx")).write_bytes(raw)
    assert_same(mnist.load_data(path=str(tmp_path)), data)


@pytest.mark.parametrize("subfolder", ["fashion_mnist", "fashion-mnist"])
def test_fashion_mnist_round_trip(tmp_path, rng, subfolder):
    data = make_idx_split(rng, n_train=4, n_test=5)
    write_idx_folder(tmp_path / subfolder, data)
    write_idx_folder(tmp_path / "mnist", make_idx_split(rng))  # must not be picked up
    assert_same(fashion_mnist.load_data(path=tmp_path), data)


def test_path_argument_beats_environment(tmp_path, rng, monkeypatch):
    from_env, from_arg = make_idx_split(rng), make_idx_split(rng)
    write_idx_folder(tmp_path / "env" / "mnist", from_env)
    write_idx_folder(tmp_path / "arg" / "mnist", from_arg)
    monkeypatch.setenv("MINIDL_DATA_DIR", str(tmp_path / "env"))
    assert_same(mnist.load_data(path=tmp_path / "arg"), from_arg)
    assert_same(mnist.load_data(), from_env)


def test_local_folder_never_downloads(tmp_path, rng, monkeypatch):
    """A data folder that lacks the files is an error, not a reason to download."""
    monkeypatch.setenv("MINIDL_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match=r"t10k-labels-idx1-ubyte\.gz"):
        mnist.load_data()
    with pytest.raises(DatasetUnavailableError, match="fashion_mnist"):
        fashion_mnist.load_data()
    with pytest.raises(DatasetUnavailableError, match="test_batch.bin"):
        cifar10.load_data()


def test_bad_path_arguments(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"must name a folder.*Received: .*mnist\.npz"):
        mnist.load_data(path=tmp_path / "mnist.npz")
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        cifar10.load_data(path=tmp_path / "missing")


def test_cifar_nhwc_from_hand_built_planar_record(tmp_path):
    """One record whose R plane is i mod 256, G plane 255 - that, B plane 7, at i = r*32+c."""
    red = np.arange(1024) % 256
    record = bytes([3]) + bytes(red.tolist()) + bytes((255 - red).tolist()) + bytes([7] * 1024)
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar_folder(folder, {name: record for name in CIFAR_FILES})
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=tmp_path)
    assert x_train.shape == (5, 32, 32, 3) and y_train.shape == (5, 1)
    assert x_test.shape == (1, 32, 32, 3) and y_test.tolist() == [[3]]
    assert x_train.flags.c_contiguous
    for r, c in [(0, 0), (0, 31), (1, 0), (17, 5), (31, 31)]:
        i = r * 32 + c
        assert x_test[0, r, c].tolist() == [i % 256, 255 - i % 256, 7]


@pytest.mark.parametrize("layout", ["cifar10/cifar-10-batches-bin", "cifar-10-batches-bin"])
def test_cifar_round_trip_folders(tmp_path, rng, layout):
    files, expected = make_cifar(rng)
    write_cifar_folder(tmp_path / layout, files)
    assert_same(cifar10.load_data(path=tmp_path), expected)


@pytest.mark.parametrize("where", ["cifar10", ""])
def test_cifar_round_trip_archive_read_in_place(tmp_path, rng, where):
    files, expected = make_cifar(rng, per_file=3)
    folder = tmp_path / where
    folder.mkdir(exist_ok=True)
    (folder / "cifar-10-binary.tar.gz").write_bytes(cifar_archive(files))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert_same(cifar10.load_data(path=tmp_path), expected)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # the data folder is not written


# ---------------------------------------------------------------------------------------------
# Corrupt, truncated and wrong files.

def _corrupt_mnist_file(tmp_path, rng, stem, payload):
    write_idx_folder(tmp_path, make_idx_split(rng), gz=False)
    (tmp_path / stem).write_bytes(payload)


@pytest.mark.parametrize("case, message", [
    ("wrong_magic", r"wrong IDX magic number 2049, expected 2051"),
    ("short_payload", r"payload truncated: 100 bytes.*need 5488"),
    ("trailing_bytes", r"payload has trailing bytes beyond the 5488"),
    ("short_header", r"truncated IDX header"),
    ("tiny", r"too short for an IDX header"),
    ("wrong_dims", r"images are \(27, 28\), expected \(28, 28\)"),
])
def test_mnist_corrupt_images(tmp_path, rng, case, message):
    good = idx_bytes(rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), 2051)
    payload = {
        "wrong_magic": struct.pack(">I", 2049) + good[4:],
        "short_payload": good[:16 + 100],
        "trailing_bytes": good + b"\0",
        "short_header": good[:10],
        "tiny": good[:3],
        "wrong_dims": idx_bytes(np.zeros((7, 27, 28), np.uint8), 2051),
    }[case]
    _corrupt_mnist_file(tmp_path, rng, STEMS[0], payload)
    with pytest.raises(CorruptDatasetError, match=f"train-images-idx3-ubyte: {message}"):
        mnist.load_data(path=tmp_path)


def test_mnist_count_mismatch_and_bad_label(tmp_path, rng):
    _corrupt_mnist_file(tmp_path, rng, STEMS[1], idx_bytes(np.zeros(6, np.uint8), 2049))
    with pytest.raises(CorruptDatasetError, match="holds 7 images but .* holds 6 labels"):
        mnist.load_data(path=tmp_path)
    _corrupt_mnist_file(tmp_path, rng, STEMS[3], idx_bytes(np.full(3, 10, np.uint8), 2049))
    with pytest.raises(CorruptDatasetError, match=r"t10k-labels-idx1-ubyte: label 10 out of"):
        mnist.load_data(path=tmp_path)


@pytest.mark.parametrize("case", ["truncated_gzip", "bad_gzip"])
def test_mnist_corrupt_gzip(tmp_path, rng, case):
    data = make_idx_split(rng)
    write_idx_folder(tmp_path, data)
    compressed = gzip.compress(idx_files(data)[STEMS[2]])
    broken = (compressed[:len(compressed) // 2] if case == "truncated_gzip"
              else compressed[:10] + b"garbage-not-deflate" * 5)
    (tmp_path / (STEMS[2] + ".gz")).write_bytes(broken)
    with pytest.raises(CorruptDatasetError,
                       match=r"t10k-images-idx3-ubyte\.gz: corrupt or truncated gzip"):
        mnist.load_data(path=tmp_path)


def test_cifar_corrupt_batches(tmp_path, rng):
    files, _ = make_cifar(rng)
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar_folder(folder, {**files, "data_batch_3.bin": files["data_batch_3.bin"][:-1]})
    with pytest.raises(CorruptDatasetError, match=r"data_batch_3\.bin: size 6145 bytes is not"):
        cifar10.load_data(path=tmp_path)
    write_cifar_folder(folder, {**files, "test_batch.bin": b""})
    with pytest.raises(CorruptDatasetError, match=r"test_batch\.bin: size 0 bytes"):
        cifar10.load_data(path=tmp_path)
    bad_label = bytearray(files["data_batch_1.bin"])
    bad_label[3073] = 10  # the second record's label byte
    write_cifar_folder(folder, {**files, "data_batch_1.bin": bytes(bad_label)})
    with pytest.raises(CorruptDatasetError, match=r"data_batch_1\.bin: record 1 has label 10"):
        cifar10.load_data(path=tmp_path)


def _member(name, kind=tarfile.REGTYPE, size=1):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info


@pytest.mark.parametrize("member, message", [
    (_member("/tmp/evil.bin"), "unsafe member path '/tmp/evil.bin'"),
    (_member("cifar-10-batches-bin/../../evil.bin"), "unsafe member path"),
    (_member("cifar-10-batches-bin/link", tarfile.SYMTYPE), "is a link or special file"),
])
def test_cifar_archive_rejects_unsafe_members(tmp_path, rng, member, message):
    files, _ = make_cifar(rng)
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(cifar_archive(files, [member]))
    with pytest.raises(CorruptDatasetError, match=message):
        cifar10.load_data(path=tmp_path)
    assert not (tmp_path / "evil.bin").exists() and not (tmp_path.parent / "evil.bin").exists()


def test_cifar_archive_truncated_or_incomplete(tmp_path, rng):
    files, _ = make_cifar(rng, per_file=20)
    archive = cifar_archive(files)
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(archive[:len(archive) // 2])
    with pytest.raises(CorruptDatasetError, match="corrupt or truncated archive"):
        cifar10.load_data(path=tmp_path)
    del files["data_batch_4.bin"]
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(cifar_archive(files))
    with pytest.raises(CorruptDatasetError, match=r"lacks data_batch_4\.bin"):
        cifar10.load_data(path=tmp_path)


# ---------------------------------------------------------------------------------------------
# Downloads through a fake opener.

class FakeResponse:
    """Enough of ``http.client.HTTPResponse`` for the downloader."""

    def __init__(self, body, status, headers, fail_after=None, short_by=0):
        self._stream = io.BytesIO(body)
        self.status = status
        self.headers = headers
        self._fail_after = fail_after
        self._short_by = short_by
        self._sent = 0

    def read(self, count):
        if self._fail_after is not None and self._sent >= self._fail_after:
            raise ConnectionResetError("connection reset by peer")
        limit = count if self._fail_after is None else min(count, self._fail_after - self._sent)
        block = self._stream.read(limit)
        if self._short_by and self._stream.tell() == len(self._stream.getvalue()):
            block = block[:len(block) - self._short_by]  # the server closes early
            self._short_by = 0
        self._sent += len(block)
        return block

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeServer:
    """A monkeypatchable ``_open_url``: serves ``files`` by URL and records the requests."""

    def __init__(self, files, ranges=True, fail_after=None, short_by=0):
        self.files = files
        self.ranges = ranges
        self.fail_after = fail_after
        self.short_by = short_by
        self.requests = []

    def __call__(self, url, headers, timeout):
        self.requests.append((url, dict(headers)))
        if url not in self.files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        body, status, start = self.files[url], 200, 0
        if "Range" in headers and self.ranges:
            start, status = int(headers["Range"][len("bytes="):].rstrip("-")), 206
        headers_out = {"Content-Length": str(len(body) - start)}
        if status == 206:
            headers_out["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        fail_after, self.fail_after = self.fail_after, None  # fail the first response only
        short_by, self.short_by = self.short_by, 0
        return FakeResponse(body[start:], status, headers_out, fail_after, short_by)


def _remote(payload, urls=("http://mirror.test/file.bin",), size=True):
    return _download.RemoteFile("file.bin", tuple(urls), hashlib.sha256(payload).hexdigest(),
                                len(payload) if size else None)


def test_fetch_verifies_caches_and_shows_progress(tmp_path, monkeypatch, capsys):
    payload = os.urandom(3000)
    server = FakeServer({"http://mirror.test/file.bin": payload})
    monkeypatch.setattr(_download, "_open_url", server)
    path = _download.fetch(_remote(payload), str(tmp_path), "hint")
    assert open(path, "rb").read() == payload
    assert sorted(os.listdir(tmp_path)) == ["file.bin"]  # no .part left behind
    err = capsys.readouterr().err
    assert "file.bin" in err and "100.0%" in err and "2.9 KiB / 2.9 KiB" in err and "/s" in err
    # A second call uses the verified cache: no request.
    assert _download.fetch(_remote(payload), str(tmp_path), "hint") == path
    assert len(server.requests) == 1


def test_fetch_bad_checksum_deletes_and_raises(tmp_path, monkeypatch):
    payload = os.urandom(2000)
    monkeypatch.setattr(_download, "_open_url",
                        FakeServer({"http://mirror.test/file.bin": payload[:-1] + b"!"}))
    with pytest.raises(ChecksumMismatchError, match="file.bin .* failed its checksum"):
        _download.fetch(_remote(payload), str(tmp_path), "hint")
    assert os.listdir(tmp_path) == []


def test_fetch_replaces_a_corrupt_cached_file(tmp_path, monkeypatch):
    payload = os.urandom(500)
    (tmp_path / "file.bin").write_bytes(b"stale")
    server = FakeServer({"http://mirror.test/file.bin": payload})
    monkeypatch.setattr(_download, "_open_url", server)
    path = _download.fetch(_remote(payload), str(tmp_path), "hint")
    assert open(path, "rb").read() == payload


@pytest.mark.parametrize("failure", ["reset", "short"])
def test_interrupted_download_keeps_part_then_resumes(tmp_path, monkeypatch, failure):
    payload = os.urandom(5000)
    url = "http://mirror.test/file.bin"
    server = FakeServer({url: payload}, **({"fail_after": 1800} if failure == "reset"
                                             else {"short_by": 1000}))
    monkeypatch.setattr(_download, "_open_url", server)
    with pytest.raises(DatasetUnavailableError, match="Could not download file.bin"):
        _download.fetch(_remote(payload), str(tmp_path), "hint")
    kept = 1800 if failure == "reset" else 4000
    assert os.listdir(tmp_path) == ["file.bin.part"]  # never a partial file under the final name
    assert (tmp_path / "file.bin.part").stat().st_size == kept
    path = _download.fetch(_remote(payload), str(tmp_path), "hint")
    assert server.requests[-1] == (url, {"Range": f"bytes={kept}-"})
    assert open(path, "rb").read() == payload
    assert os.listdir(tmp_path) == ["file.bin"]


def test_resume_restarts_when_server_ignores_range(tmp_path, monkeypatch):
    payload = os.urandom(4000)
    (tmp_path / "file.bin.part").write_bytes(b"junk that is not a prefix")
    server = FakeServer({"http://mirror.test/file.bin": payload}, ranges=False)
    monkeypatch.setattr(_download, "_open_url", server)
    path = _download.fetch(_remote(payload), str(tmp_path), "hint")
    assert "Range" in server.requests[0][1]  # asked to resume, got the whole file (200)
    assert open(path, "rb").read() == payload


def test_stale_part_failing_checksum_is_downloaded_again(tmp_path, monkeypatch):
    payload = os.urandom(4000)
    (tmp_path / "file.bin.part").write_bytes(b"not the start of the file")
    server = FakeServer({"http://mirror.test/file.bin": payload})
    monkeypatch.setattr(_download, "_open_url", server)
    path = _download.fetch(_remote(payload), str(tmp_path), "hint")
    assert [h for _, h in server.requests] == [{"Range": "bytes=25-"}, {}]
    assert open(path, "rb").read() == payload


def test_mirror_fallback(tmp_path, monkeypatch):
    payload = os.urandom(100)
    urls = ("http://dead.test/file.bin", "http://mirror.test/file.bin")
    server = FakeServer({urls[1]: payload})
    monkeypatch.setattr(_download, "_open_url", server)
    _download.fetch(_remote(payload, urls), str(tmp_path), "hint")
    assert [u for u, _ in server.requests] == list(urls)


def _patch_mnist_remote(monkeypatch, module, data, base="http://mirror.test/"):
    """Point ``module``'s download at fake archives of ``data``; returns the served files."""
    served, archives = {}, {}
    for stem, raw in idx_files(data).items():
        compressed = gzip.compress(raw)
        served[f"{base}{stem}.gz"] = compressed
        archives[stem] = (hashlib.sha256(compressed).hexdigest(), len(compressed))
    monkeypatch.setattr(module, "_MIRRORS", (base,))
    monkeypatch.setattr(module, "_ARCHIVES", archives)
    return served


@pytest.mark.parametrize("module, subfolder", [(mnist, "mnist"),
                                               (fashion_mnist, "fashion_mnist")])
def test_mnist_download_into_cache(tmp_path, rng, monkeypatch, capsys, module, subfolder):
    data = make_idx_split(rng)
    server = FakeServer(_patch_mnist_remote(monkeypatch, module, data))
    monkeypatch.setattr(_download, "_open_url", server)
    assert_same(module.load_data(), data)
    cache = tmp_path / "cache" / subfolder
    assert sorted(os.listdir(cache)) == sorted(s + ".gz" for s in STEMS)
    assert "100.0%" in capsys.readouterr().err
    monkeypatch.setattr(_download, "_open_url", _no_network)
    assert_same(module.load_data(), data)  # from the cache, no network


@pytest.mark.parametrize("error", [urllib.error.URLError(socket.gaierror(-3, "no DNS")),
                                   TimeoutError("timed out")], ids=["urlerror", "timeout"])
def test_offline_error_says_where_to_put_files(monkeypatch, error):
    def offline(url, headers, timeout):
        raise error

    monkeypatch.setattr(_download, "_open_url", offline)
    with pytest.raises(DatasetUnavailableError) as info:
        mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, OSError)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                 "<DATA_DIR>/mnist/", "MINIDL_DATA_DIR", "storage.googleapis.com"):
        assert name in message
    with pytest.raises(DatasetUnavailableError,
                       match=r"cifar-10-binary\.tar\.gz.*cifar-10-batches-bin.*"
                             r"<DATA_DIR>/cifar10/.*MINIDL_DATA_DIR"):
        cifar10.load_data()
    with pytest.raises(DatasetUnavailableError, match="<DATA_DIR>/fashion_mnist/"):
        fashion_mnist.load_data()


def test_cifar_download_extract_and_reuse(tmp_path, rng, monkeypatch):
    files, expected = make_cifar(rng)
    archive = cifar_archive(files)
    url = "http://mirror.test/cifar-10-binary.tar.gz"
    monkeypatch.setattr(cifar10, "_URLS", (url,))
    monkeypatch.setattr(cifar10, "_SHA256", hashlib.sha256(archive).hexdigest())
    monkeypatch.setattr(cifar10, "_SIZE", len(archive))
    monkeypatch.setattr(_download, "_open_url", FakeServer({url: archive}))
    assert_same(cifar10.load_data(), expected)
    cache = tmp_path / "cache" / "cifar10"
    assert sorted(os.listdir(cache)) == ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]
    assert sorted(os.listdir(cache / "cifar-10-batches-bin")) == sorted(CIFAR_FILES)
    monkeypatch.setattr(_download, "_open_url", _no_network)
    assert_same(cifar10.load_data(), expected)  # from the extracted files


def test_cifar_download_bad_checksum(tmp_path, rng, monkeypatch):
    files, _ = make_cifar(rng)
    url = "http://mirror.test/cifar-10-binary.tar.gz"
    monkeypatch.setattr(cifar10, "_URLS", (url,))
    monkeypatch.setattr(cifar10, "_SIZE", None)
    monkeypatch.setattr(_download, "_open_url", FakeServer({url: cifar_archive(files)}))
    with pytest.raises(ChecksumMismatchError, match="cifar-10-binary.tar.gz"):
        cifar10.load_data()
    assert os.listdir(tmp_path / "cache" / "cifar10") == []


# ---------------------------------------------------------------------------------------------
# Downloads through the real urllib opener, from a loopback HTTP server.

def test_loopback_download_and_resume(tmp_path, rng, monkeypatch, loopback):
    data = make_idx_split(rng)
    served = _patch_mnist_remote(monkeypatch, mnist, data, base=loopback)
    LoopbackHandler.files = {url[len(loopback) - 1:]: body for url, body in served.items()}
    # A partial download of the first archive is resumed with a Range request.
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    first = f"{loopback}{STEMS[0]}.gz"
    (cache / f"{STEMS[0]}.gz.part").write_bytes(served[first][:1000])
    assert_same(mnist.load_data(), data)
    assert (f"/{STEMS[0]}.gz", "bytes=1000-") in LoopbackHandler.requests
    assert sorted(os.listdir(cache)) == sorted(s + ".gz" for s in STEMS)


# ---------------------------------------------------------------------------------------------
# The real data, when MINIDL_DATA_DIR names it.

real_data = pytest.mark.skipif(not REAL_DATA_DIR, reason="MINIDL_DATA_DIR is not set")


@real_data
def test_real_mnist():
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=REAL_DATA_DIR)
    print(f"mnist.load_data: {time.perf_counter() - start:.2f} s")
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert np.bincount(y_train, minlength=10).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y_test, minlength=10).sum() == 10000



@real_data
def test_real_mnist_polarity():
    """The shared copy has canonical polarity: white strokes on a black background."""
    (x_train, _), (x_test, _) = mnist.load_data(path=REAL_DATA_DIR)
    for images in (x_train, x_test):
        assert np.median(images[:1000]) == 0
        assert (images[:, 0, :] == 0).mean() > 0.95  # the top row is background
    assert 25 < x_train.mean() < 40


@real_data
def test_real_cifar10():
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=REAL_DATA_DIR)
    print(f"cifar10.load_data: {time.perf_counter() - start:.2f} s")
    assert x_train.shape == (50000, 32, 32, 3) and y_train.shape == (50000, 1)
    assert x_test.shape == (10000, 32, 32, 3) and y_test.shape == (10000, 1)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert np.bincount(y_train[:, 0], minlength=10).tolist() == [5000] * 10
    assert np.bincount(y_test[:, 0], minlength=10).tolist() == [1000] * 10
    # Channels last and RGB: neighbouring pixels are alike (planes mixed up would not be),
    # and airplanes and ships are bluer than they are red.
    pixels = x_train[:2000].astype(np.float32)
    assert np.abs(np.diff(pixels, axis=2)).mean() < 25
    for sky_or_sea in (0, 8):
        mean_rgb = x_train[y_train[:, 0] == sky_or_sea].mean(axis=(0, 1, 2))
        assert mean_rgb[2] > mean_rgb[0]
