"""Bounds before bytes: every reader (model and weights files, data set files and
archives, downloads) checks declared sizes against the real ones and against its
documented limits before it reads or inflates anything, and a hostile file or server
gets the documented error naming the file, fast and in bounded memory.

Memory is measured with ``tracemalloc`` (NumPy reports its buffers to it): each hostile
input below would make an unbounded reader allocate hundreds of megabytes."""
import contextlib
import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import minidl
from minidl import layers, models, saving, utils
from minidl.datasets import CorruptDatasetError, DatasetUnavailableError, _download, _idx
from minidl.datasets import cifar10, mnist
from minidl.saving import CorruptFileError

from dataset_files import (STEMS, idx_bytes, make_cifar, make_idx_split, write_cifar_folder,
                           write_idx_folder)
from hostile_files import (MiB, bomb_member, gzip_then_zeros, npy_header, zip_archive,
                           zip_member, zip_members)
from http_loopback import LoopbackHandler, drip, endless, loopback, stall, steady  # noqa: F401

PEAK_LIMIT = 32 * MiB  # far below what any of the hostile inputs would need


@contextlib.contextmanager
def bounded_memory(limit=PEAK_LIMIT):
    """Fail when the block allocates more than ``limit`` bytes at its peak."""
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < limit, f"peak allocation {peak / MiB:.1f} MiB"


# ---------------------------------------------------------------------------------------------
# Model and weights files.

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small trained model: its .keras members and the model itself."""
    utils.set_random_seed(0)
    model = models.Sequential([minidl.Input((6,)), layers.Dense(4),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.random.default_rng(0).random((8, 6)), np.arange(8) % 3, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "m.keras"
    model.save(path)
    return zip_members(path.read_bytes()), model


def _keras_file(tmp_path, members, replaced=None):
    """A .keras file of honest stored members, some replaced by given entries."""
    entries = [zip_member(name, data) for name, data in members.items()
               if name not in (replaced or {})]
    path = tmp_path / "hostile.keras"
    path.write_bytes(zip_archive(entries + list((replaced or {}).values())))
    return path


def _npz(arrays_bytes):
    """An NPZ (zip of .npy members) from raw .npy member bytes."""
    return zip_archive([zip_member(f"arr_{i:05d}.npy", data)
                        for i, data in enumerate(arrays_bytes)])


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_config_bomb_is_refused_before_inflating(saved, tmp_path):
    members, _ = saved
    path = _keras_file(tmp_path, members,
                       {"config.json": bomb_member("config.json", b"{", 1024)})
    assert path.stat().st_size < 2 * MiB  # 1 GiB of config in about a megabyte
    with bounded_memory(), pytest.raises(CorruptFileError) as error:
        models.load_model(path)
    assert str(path) in str(error.value) and "config.json" in str(error.value)
    assert f"more than the {saving.MAX_CONFIG_BYTES}" in str(error.value)


@pytest.mark.parametrize("case", ["deflate ratio", "stored sizes differ", "bzip2", "lzma",
                                  "larger than the file"])
def test_declared_member_sizes_are_checked(saved, tmp_path, case):
    members, _ = saved
    weights = members["model.weights.npz"]
    name, method, data, size, crc = zip_member("model.weights.npz", weights,
                                               zipfile.ZIP_DEFLATED)
    entry = {"deflate ratio": (name, method, data, len(data) * 2000, crc),
             "stored sizes differ": (name, zipfile.ZIP_STORED, weights, 1 << 30, crc),
             "bzip2": (name, zipfile.ZIP_BZIP2, data, size, crc),
             "lzma": (name, zipfile.ZIP_LZMA, data, size, crc),
             "larger than the file": (name, zipfile.ZIP_STORED, weights, size, crc,
                                      1 << 31)}[case]
    path = _keras_file(tmp_path, members, {"model.weights.npz": entry})
    with bounded_memory(), pytest.raises(CorruptFileError, match="model.weights.npz"):
        models.load_model(path)


@pytest.mark.parametrize("case, error, message", [
    ("huge shape", CorruptFileError, r"declares shape \(268435456,\) of float32 "
                                     r"\(1073741824 bytes\) but holds 96"),
    ("other shape", ValueError, r"array 0 has shape \(4, 6\) but the model needs \(6, 4\)"),
    ("short payload", CorruptFileError, r"declares shape \(6, 4\) of float32 \(96 bytes\) "
                                        r"but holds 40"),
    ("long payload", CorruptFileError, r"but holds 1096"),
    ("strings", CorruptFileError, "has dtype <U4"),
    ("objects", CorruptFileError, "has dtype object"),
    ("complex", CorruptFileError, "has dtype complex128"),
    ("float128", CorruptFileError, "has dtype float128"),
    ("version 3", CorruptFileError, r"\.npy version \(3, 0\)"),
])
def test_npy_headers_are_checked_before_the_data(saved, tmp_path, case, error, message):
    members, model = saved
    arrays = [_npy(w) for w in model.get_weights()]
    header = npy_header((6, 4))
    arrays[0] = {"huge shape": npy_header((1 << 28,)) + bytes(96),
                 "other shape": npy_header((4, 6)) + bytes(96),
                 "short payload": header + bytes(40),
                 "long payload": header + bytes(1096),
                 "strings": npy_header((6, 4), "<U4") + bytes(6 * 4 * 16),
                 "objects": npy_header((6, 4), "|O") + bytes(6 * 4 * 8),
                 "complex": npy_header((6, 4), "<c16") + bytes(6 * 4 * 16),
                 "float128": npy_header((6, 4), "<f16") + bytes(6 * 4 * 16),
                 "version 3": b"\x93NUMPY\x03" + header[7:] + bytes(96)}[case]
    npz = _npz(arrays)
    path = _keras_file(tmp_path, members,
                       {"model.weights.npz": zip_member("model.weights.npz", npz)})
    with bounded_memory(), pytest.raises(error, match=message) as raised:
        models.load_model(path)
    assert isinstance(raised.value, CorruptFileError)  # the file contradicts its config
    assert str(path) in str(raised.value)
    weights_file = tmp_path / "w.weights.npz"
    weights_file.write_bytes(npz)
    with bounded_memory(), pytest.raises(error, match=message):
        model.load_weights(weights_file)


def _edited_config(members, edit):
    config = json.loads(members["config.json"])
    edit(config)
    return json.dumps(config).encode()


def _set(path, value):
    def edit(config):
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


CONFIG_CASES = {
    "deeply nested (recursion)": lambda m: b"[" * 100000 + b"]" * 100000,
    "nested past the depth limit": lambda m: b"[" * 100 + b"]" * 100,
    "not a dict": lambda m: b'"Sequential"',
    "config is a list": lambda m: _edited_config(m, _set(["config"], [1, 2])),
    "layers are ints": lambda m: _edited_config(m, _set(["config", "layers"], [1, 2])),
    "layers is a dict": lambda m: _edited_config(m, _set(["config", "layers"], {"a": 1})),
    "layer config is a list": lambda m: _edited_config(
        m, _set(["config", "layers", 1, "config"], [1])),
    "units is a dict": lambda m: _edited_config(
        m, _set(["config", "layers", 1, "config", "units"], {"a": [1]})),
    "units is huge": lambda m: _edited_config(
        m, _set(["config", "layers", 1, "config", "units"], 1e999)),
    "name is a list": lambda m: _edited_config(m, _set(["config", "name"], ["x"])),
    "input shape overflows": lambda m: _edited_config(
        m, _set(["config", "layers", 0, "config", "batch_shape"], [None, 2 ** 40, 2 ** 40])),
    "compile config is a string": lambda m: _edited_config(m, _set(["compile_config"], "a")),
    "optimizer is a list": lambda m: _edited_config(
        m, _set(["compile_config", "optimizer"], [1])),
    "unknown schedule": lambda m: _edited_config(
        m, _set(["compile_config", "optimizer", "config", "learning_rate"], {"x": 1})),
    "loss is a number": lambda m: _edited_config(m, _set(["compile_config", "loss"], 3)),
    "metrics is a dict": lambda m: _edited_config(
        m, _set(["compile_config", "metrics"], {"a": 1})),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_hostile_config_raises_corrupt_file_error(saved, tmp_path, case):
    members, _ = saved
    config = CONFIG_CASES[case](members)
    path = _keras_file(tmp_path, dict(members, **{"config.json": config}))
    with pytest.raises(CorruptFileError) as error:
        models.load_model(path)
    assert str(path) in str(error.value) and "load_model" in str(error.value)


def _optimizer_state(model, edit):
    state = model.optimizer.get_state()
    arrays = [np.asarray(state["iterations"], np.int64)] + list(state["slots"])
    edit(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"arr_{i:05d}": a for i, a in enumerate(arrays)})
    return buffer.getvalue()


OPTIMIZER_CASES = {
    "iterations is a vector": lambda a: a.__setitem__(0, np.array([1, 2])),
    "iterations is a float": lambda a: a.__setitem__(0, np.array(2.5)),
    "iterations is negative": lambda a: a.__setitem__(0, np.array(-3)),
    "a slot overflows float32": lambda a: a.__setitem__(3, np.full(a[3].shape, 1e300)),
    "a slot holds strings": lambda a: a.__setitem__(-1, np.full(a[-1].shape, "ab")),
    "a slot has another shape": lambda a: a.__setitem__(2, np.zeros((5, 5), np.float32)),
    "a slot is missing": lambda a: a.pop(),
    "an extra slot": lambda a: a.append(np.zeros(3, np.float32)),
}


@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
def test_hostile_optimizer_state_raises_corrupt_file_error(saved, tmp_path, case):
    members, model = saved
    state = _optimizer_state(model, OPTIMIZER_CASES[case])
    path = _keras_file(tmp_path, dict(members, **{"optimizer.npz": state}))
    with pytest.raises(CorruptFileError) as error:
        models.load_model(path)
    assert str(path) in str(error.value)
    assert models.load_model(path, compile=False).predict(np.ones((1, 6)), verbose=0).shape \
        == (1, 3)  # the weights themselves are fine


def _call_with_deadline(function, seconds=20):
    """Run ``function`` in a thread; fail if it has not returned within ``seconds`` (a
    reader blocked on a FIFO would hang the whole test run otherwise)."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the reader blocked"
    return outcome


def _special_file(tmp_path, kind, name):
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev zero":
        os.symlink("/dev/zero", path)
    else:
        path.mkdir()
    return path


SPECIAL = pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"),
                             reason="needs FIFOs and /dev/zero")


@SPECIAL
@pytest.mark.parametrize("kind", ["fifo", "dev zero", "directory"])
def test_model_readers_refuse_special_files(saved, tmp_path, kind):
    _, model = saved
    for name, read in (("x.keras", models.load_model),
                       ("x.weights.npz", model.load_weights),
                       ("y.keras", model.load_weights)):
        path = _special_file(tmp_path, kind, name)
        outcome = _call_with_deadline(lambda: read(path))
        assert isinstance(outcome.get("error"), CorruptFileError), outcome
        assert str(path) in str(outcome["error"])


# ---------------------------------------------------------------------------------------------
# Data set files.

def _mnist_folder(tmp_path, rng, stem=None, payload=None, gz=True):
    folder = tmp_path / "data" / "mnist"
    write_idx_folder(folder, make_idx_split(rng), gz=gz)
    if stem is not None:
        for name in (stem, stem + ".gz"):
            if (folder / name).exists():
                (folder / name).unlink()
        (folder / (stem + ".gz")).write_bytes(payload)
    return folder


def test_gzip_bomb_stops_at_the_announced_size(tmp_path, rng):
    good = idx_bytes(rng.integers(0, 256, (7, 28, 28)), 2051)
    bomb = gzip_then_zeros(good, 1024)  # 1 GiB of zeros after a valid file
    _mnist_folder(tmp_path, rng, STEMS[0], bomb)
    start = time.perf_counter()
    with bounded_memory(), pytest.raises(CorruptDatasetError,
                                         match="train-images-idx3-ubyte.gz: payload has "
                                               "trailing bytes"):
        mnist.load_data(path=tmp_path / "data")
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("dims, message", [
    ((2 ** 32 - 1,) * 3, "announce 79228162458924105385300197375 bytes"),  # no int64 wrap
    ((2 ** 31, 2 ** 31, 4), "announce 18446744073709551616 bytes"),  # wraps to 0 in int64
    ((400000, 28, 28), "announce 313600000 bytes, more than the 268435456"),
])
def test_idx_dimensions_beyond_the_limit_are_refused_before_reading(tmp_path, rng, dims,
                                                                    message):
    header = np.array([2051, *dims], dtype=">u4").tobytes()
    _mnist_folder(tmp_path, rng, STEMS[0], gzip_then_zeros(header, 64))
    with bounded_memory(), pytest.raises(CorruptDatasetError, match=message):
        mnist.load_data(path=tmp_path / "data")


def test_short_file_announcing_a_large_payload_costs_only_its_size(tmp_path, rng):
    header = np.array([2051, 250000, 28, 28], dtype=">u4").tobytes()  # 196 MB announced
    _mnist_folder(tmp_path, rng, STEMS[0], gzip.compress(header + bytes(100)))
    with bounded_memory(), pytest.raises(CorruptDatasetError, match="payload truncated: 100"):
        mnist.load_data(path=tmp_path / "data")


def test_oversized_and_sparse_files_are_refused_by_size(tmp_path, rng):
    folder = _mnist_folder(tmp_path, rng, gz=False)
    with open(folder / STEMS[1], "r+b") as sparse:  # labels: a sparse file past the limit
        sparse.truncate(_idx.MAX_FILE_BYTES + 1)
    with bounded_memory(), pytest.raises(CorruptDatasetError,
                                         match=f"{STEMS[1]}: {_idx.MAX_FILE_BYTES + 1} bytes, "
                                               f"more than the {_idx.MAX_FILE_BYTES}"):
        mnist.load_data(path=tmp_path / "data")
    files, _ = make_cifar(rng)
    cifar = tmp_path / "c" / "cifar-10-batches-bin"
    write_cifar_folder(cifar, files)
    with open(cifar / "data_batch_3.bin", "r+b") as sparse:
        sparse.truncate(cifar10.MAX_BATCH_BYTES + cifar10.RECORD_BYTES)
    with bounded_memory(), pytest.raises(CorruptDatasetError, match="data_batch_3.bin: "):
        cifar10.load_data(path=tmp_path / "c")


@SPECIAL
@pytest.mark.parametrize("kind", ["fifo", "dev zero"])
def test_dataset_readers_refuse_special_files(tmp_path, rng, kind):
    folder = _mnist_folder(tmp_path, rng, gz=False)
    os.remove(folder / STEMS[2])
    path = _special_file(folder, kind, STEMS[2])
    outcome = _call_with_deadline(lambda: mnist.load_data(path=tmp_path / "data"))
    assert isinstance(outcome.get("error"), CorruptDatasetError), outcome
    assert str(path) in str(outcome["error"])
    files, _ = make_cifar(rng)
    cifar = tmp_path / "c" / "cifar-10-batches-bin"
    write_cifar_folder(cifar, files)
    os.remove(cifar / "test_batch.bin")
    path = _special_file(cifar, kind, "test_batch.bin")
    outcome = _call_with_deadline(lambda: cifar10.load_data(path=tmp_path / "c"))
    assert isinstance(outcome.get("error"), CorruptDatasetError), outcome
    assert str(path) in str(outcome["error"])


def _tar_header(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)


def test_cifar_archive_member_larger_than_a_batch_is_refused_unread(tmp_path):
    header = _tar_header("cifar-10-batches-bin/data_batch_1.bin", 1 << 33)  # 8 GiB declared
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(gzip_then_zeros(header, 1))
    with bounded_memory(), pytest.raises(CorruptDatasetError, match="data_batch_1.bin: 8589934592 "
                                                                    "bytes, more than"):
        cifar10.load_data(path=tmp_path)


def test_cifar_archive_bomb_stops_at_the_archive_limit(tmp_path):
    limit_mib = cifar10.MAX_ARCHIVE_BYTES // MiB + 1
    header = _tar_header("readme.html", limit_mib * MiB)  # an unread member, all zeros
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(gzip_then_zeros(header, limit_mib + 8))
    start = time.perf_counter()
    with bounded_memory(), pytest.raises(CorruptDatasetError, match="unpacks to more than"):
        cifar10.load_data(path=tmp_path)
    assert time.perf_counter() - start < 20


def test_cifar_archive_with_too_many_members(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for i in range(cifar10.MAX_ARCHIVE_MEMBERS + 1):
            tar.addfile(tarfile.TarInfo(f"junk{i}"), io.BytesIO(b""))
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(buffer.getvalue())
    with pytest.raises(CorruptDatasetError, match=f"more than {cifar10.MAX_ARCHIVE_MEMBERS} "
                                                  f"members"):
        cifar10.load_data(path=tmp_path)


# ---------------------------------------------------------------------------------------------
# Downloads from hostile loopback servers.

@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIDL_DATA_DIR", raising=False)
    monkeypatch.setenv("MINIDL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _remote(base, path, payload):
    return _download.RemoteFile("file.bin", (base + path,), hashlib.sha256(payload).hexdigest(),
                                len(payload))


def _fetch_fails(remote, folder, match, within):
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match=match):
        _download.fetch(remote, str(folder), "hint")
    elapsed = time.perf_counter() - start
    assert elapsed < within, f"took {elapsed:.1f} s"


def test_dripping_server_is_too_slow(loopback, cache, monkeypatch, capsys):
    monkeypatch.setattr(_download, "_RATE_WINDOW_S", 1.0)
    monkeypatch.setattr(_download, "_MIN_RATE_BYTES_S", 100.0)
    LoopbackHandler.behaviours["/drip"] = drip(1000, 0.5)  # 2 bytes/s: never times out
    _fetch_fails(_remote(loopback, "drip", bytes(1000)), cache,
                 r"too slow: \d+ bytes in 1\.\d s, below the minimum of 100 bytes/s", 10)


def test_server_past_the_deadline(loopback, cache, monkeypatch, capsys):
    monkeypatch.setattr(_download, "_DEADLINE_S", 1.0)
    LoopbackHandler.behaviours["/steady"] = steady(1 << 20, 4096, 0.05)  # ~80 KiB/s: 13 s
    _fetch_fails(_remote(loopback, "steady", bytes(1 << 20)), cache,
                 "did not finish within its deadline of 1 s", 10)


@pytest.mark.parametrize("announce", [None, 1 << 40])
def test_endless_server_never_grows_the_part_file_past_the_size(loopback, cache, announce,
                                                                capsys):
    LoopbackHandler.behaviours["/endless"] = endless(announce)
    message = "announces 1099511627776 bytes" if announce else "sent more than the 5000 bytes"
    _fetch_fails(_remote(loopback, "endless", bytes(5000)), cache, message, 10)
    assert not (cache / "file.bin.part").exists() or \
        (cache / "file.bin.part").stat().st_size <= 5000
    assert not (cache / "file.bin").exists()


def test_stalled_server_times_out(loopback, cache, monkeypatch, capsys):
    monkeypatch.setattr(_download, "_TIMEOUT_S", 0.5)
    LoopbackHandler.behaviours["/stall"] = stall(5)
    _fetch_fails(_remote(loopback, "stall", bytes(1000)), cache, "timed out", 4)


@SPECIAL
def test_cached_special_file_is_replaced_not_read(loopback, cache, capsys):
    payload = os.urandom(3000)
    LoopbackHandler.files["/file.bin"] = payload
    cache.mkdir()
    os.symlink("/dev/zero", cache / "file.bin")
    outcome = _call_with_deadline(
        lambda: _download.fetch(_remote(loopback, "file.bin", payload), str(cache), "hint"))
    assert outcome.get("value") == str(cache / "file.bin"), outcome
    assert (cache / "file.bin").read_bytes() == payload
