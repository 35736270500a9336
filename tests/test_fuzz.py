"""Fuzzing the file readers: model files and data set files that are truncated,
bit-flipped, or well-formed containers with hostile contents must give a clear
ValueError/OSError every time — never a crash, never garbage, never code execution."""
import gzip
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import minidl
from minidl import layers, models, utils
from minidl.datasets import CorruptDatasetError, cifar10, mnist

from dataset_files import make_cifar, make_idx_split, write_cifar_folder, write_idx_folder


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    utils.set_random_seed(0)
    model = models.Sequential([minidl.Input((6,)), layers.Dense(4, activation="relu"),
                               layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    model.fit(np.random.default_rng(0).random((16, 6)), np.arange(16) % 3, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("model") / "m.keras"
    model.save(path)
    return path.read_bytes()


def _load_bytes(tmp_path, data, name="fuzzed.keras"):
    path = tmp_path / name
    path.write_bytes(data)
    return models.load_model(path)


def test_truncated_and_bit_flipped_model_files_raise(saved_model, tmp_path):
    rng = np.random.default_rng(1)
    cases = [saved_model[:int(n)] for n in rng.integers(0, len(saved_model), 60)]
    for _ in range(140):
        data = bytearray(saved_model)
        for position in rng.integers(0, len(data), rng.integers(1, 4)):
            data[position] ^= 1 << int(rng.integers(0, 8))
        cases.append(bytes(data))
    loaded = 0
    for data in cases:
        try:
            _load_bytes(tmp_path, data)
            loaded += 1  # a flip in an unread byte (e.g. a zip comment) is harmless
        except (ValueError, OSError):
            pass
    assert loaded < len(cases) // 4


def _archive(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def _members(saved_model):
    with zipfile.ZipFile(io.BytesIO(saved_model)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


class _Boom:
    """Unpickling this would run code: the loader must never unpickle."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/minidl_pwned",))


def _hostile_variants(saved_model):
    good = _members(saved_model)
    config = json.loads(good["config.json"])
    variants = {
        "not json": dict(good, **{"config.json": b"\x00\xff not json"}),
        "json list": dict(good, **{"config.json": b"[1, 2, 3]"}),
        "wrong class": dict(good, **{"config.json": json.dumps(
            dict(config, class_name="Functional")).encode()}),
        "missing weights": {"config.json": good["config.json"]},
        "weights not npz": dict(good, **{"model.weights.npz": b"PK\x03\x04garbage"}),
    }
    bad_layer = json.loads(good["config.json"])
    bad_layer["config"]["layers"][1]["config"]["units"] = -3
    variants["negative units"] = dict(good, **{"config.json": json.dumps(bad_layer).encode()})
    unknown = json.loads(good["config.json"])
    unknown["config"]["layers"][1]["class_name"] = "os.system"
    variants["unknown layer class"] = dict(good, **{"config.json": json.dumps(unknown).encode()})
    extra_kw = json.loads(good["config.json"])
    extra_kw["config"]["layers"][1]["config"]["evil"] = 1
    variants["unknown argument"] = dict(good, **{"config.json": json.dumps(extra_kw).encode()})
    buffer = io.BytesIO()
    np.savez(buffer, arr_00000=np.array([_Boom()], dtype=object))
    variants["pickled weights"] = dict(good, **{"model.weights.npz": buffer.getvalue()})
    buffer = io.BytesIO()
    np.savez(buffer, arr_00000=np.zeros((2, 2)))
    variants["wrong weight count"] = dict(good, **{"model.weights.npz": buffer.getvalue()})
    variants["raw pickle"] = {"config.json": pickle.dumps(_Boom()),
                              "model.weights.npz": good["model.weights.npz"]}
    return variants


@pytest.mark.parametrize("case", ["not json", "json list", "wrong class", "missing weights",
                                  "weights not npz", "negative units", "unknown layer class",
                                  "unknown argument", "pickled weights", "wrong weight count",
                                  "raw pickle"])
def test_hostile_model_contents_raise_clearly(saved_model, tmp_path, case):
    if os.path.exists("/tmp/minidl_pwned"):
        os.remove("/tmp/minidl_pwned")
    data = _archive(_hostile_variants(saved_model)[case])
    with pytest.raises(ValueError, match="load_model"):
        _load_bytes(tmp_path, data)
    assert not os.path.exists("/tmp/minidl_pwned")


def test_a_file_of_the_wrong_type_raises(tmp_path):
    with pytest.raises(ValueError, match="not a valid .keras archive"):
        _load_bytes(tmp_path, b"just some text\n" * 10)
    with pytest.raises(FileNotFoundError):
        models.load_model(tmp_path / "missing.keras")


def _fuzz_file(path, rng, rounds, check):
    original = path.read_bytes()
    outcomes = {"error": 0, "ok": 0}
    for i in range(rounds):
        data = bytearray(original)
        if i % 2:
            data = data[:int(rng.integers(0, len(data)))]
        else:
            for position in rng.integers(0, len(data), 3):
                data[position] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(data))
        try:
            check()
            outcomes["ok"] += 1
        except (CorruptDatasetError, ValueError, OSError):
            outcomes["error"] += 1
    path.write_bytes(original)
    return outcomes


def test_fuzzed_mnist_files_raise_or_load_consistently(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "mnist"
    write_idx_folder(str(folder), make_idx_split(rng, n_train=20, n_test=5))

    def check():
        (x, y), (xt, yt) = mnist.load_data(path=str(tmp_path))
        assert x.shape == (20, 28, 28) and y.shape == (20,) and x.dtype == np.uint8
        assert y.max() < 10

    for name in sorted(os.listdir(folder)):
        outcomes = _fuzz_file(folder / name, rng, 30, check)
        assert outcomes["error"] >= 15  # every truncation and every gzip CRC failure


def test_fuzzed_cifar_files_raise_or_load_consistently(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    files, _ = make_cifar(rng, per_file=3)
    write_cifar_folder(str(folder), files)

    def check():
        (x, y), _ = cifar10.load_data(path=str(tmp_path))
        assert x.shape == (15, 32, 32, 3) and y.shape == (15, 1) and y.max() < 10

    outcomes = _fuzz_file(folder / "data_batch_2.bin", rng, 40, check)
    assert outcomes["error"] >= 20  # every truncation (sizes must be whole records)


def test_gzip_that_is_not_an_idx_file(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(str(folder), make_idx_split(np.random.default_rng(4)))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"{\"json\": true}"))
    with pytest.raises(CorruptDatasetError, match="train-images"):
        mnist.load_data(path=str(tmp_path))


# Headroom of the memory-capped run: each bomb inflates to 1 GiB, and the largest bounded
# read (the CIFAR-10 archive limit, about 200 MB) fits.
FUZZ_HEADROOM_MIB = 512
MODEL_ERRORS = {"CorruptFileError", "ValueError"}  # ValueError: a file for another model
DATASET_ERRORS = {"CorruptDatasetError"}


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_fuzzed_and_bomb_files_under_a_memory_limit(tmp_path):
    """load_model, load_weights and the data set loaders, fed mutated files and bombs in
    a child process whose address space is capped: an unbounded read fails (MemoryError
    or a killed child), and every outcome is a load or the documented error."""
    tests = os.path.dirname(__file__)
    env = dict(os.environ, MINIDL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([tests, os.path.dirname(minidl.__path__[0]),
                                           os.environ.get("PYTHONPATH", "")]))
    child = subprocess.run([sys.executable, os.path.join(tests, "fuzz_child.py"),
                            str(tmp_path), str(FUZZ_HEADROOM_MIB), "7"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    results = json.loads(child.stdout)
    unexpected = {case: outcome for case, outcome in results.items()
                  if outcome != "ok" and outcome not in
                  (MODEL_ERRORS if case.startswith("load_") else DATASET_ERRORS)}
    assert not unexpected, unexpected
    # load_weights never reads a .keras file's config or optimizer state
    unread = {"load_weights config bomb", "load_weights optimizer bomb"}
    bombs = [case for case in results if ("bomb" in case or "1 GiB" in case)
             and case not in unread]
    assert len(bombs) >= 18 and all(results[case] != "ok" for case in bombs), \
        {case: results[case] for case in bombs}
    assert sum(outcome != "ok" for outcome in results.values()) > len(results) // 2
