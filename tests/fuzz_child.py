"""The body of test_fuzz.py's memory-capped run, executed in a child process:

    python fuzz_child.py WORK_DIR HEADROOM_MIB SEED

It caps its own address space (``RLIMIT_AS``) at what it uses after the imports plus
HEADROOM_MIB, then feeds ``load_model``, ``load_weights`` and the MNIST and CIFAR-10
loaders bit-flipped and truncated files and bombs that inflate to a gigabyte. Each
outcome (``ok`` or the exception's class) is printed as one JSON object; an unbounded
read shows up as a MemoryError (or kills the child), a crash as a signal."""
import io
import json
import os
import resource
import sys
import tarfile

import numpy as np

import minidl
from minidl import layers, models, utils
from minidl.datasets import cifar10, mnist

from dataset_files import (STEMS, idx_bytes, make_cifar, make_idx_split, write_cifar_folder,
                           write_idx_folder)
from hostile_files import (MiB, bomb_member, gzip_then_zeros, npy_header, zip_archive,
                           zip_member, zip_members)

BOMB_MIB = 1024


def _cap_memory(headroom_mib):
    with open("/proc/self/status") as status:
        used_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = used_kib * 1024 + headroom_mib * MiB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _mutations(data, rng, count):
    """Truncations and 1-3 bit flips of ``data``."""
    for i in range(count):
        if i % 3 == 0:
            yield data[:int(rng.integers(0, len(data)))]
            continue
        mutated = bytearray(data)
        for position in rng.integers(0, len(mutated), int(rng.integers(1, 4))):
            mutated[position] ^= 1 << int(rng.integers(0, 8))
        yield bytes(mutated)


def _outcome(function):
    try:
        function()
        return "ok"
    except MemoryError:
        return "MemoryError"
    except Exception as exc:  # every class is reported to the parent test
        return type(exc).__name__


def _model_cases(work, rng):
    utils.set_random_seed(0)
    model = models.Sequential([minidl.Input((6,)), layers.Dense(4, activation="relu"),
                               layers.BatchNormalization(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(rng.random((16, 6)), np.arange(16) % 3, epochs=1, verbose=0)
    model.save(os.path.join(work, "good.keras"))
    model.save_weights(os.path.join(work, "good.weights.npz"))
    with open(os.path.join(work, "good.keras"), "rb") as f:
        good = f.read()
    members = zip_members(good)
    honest = {name: zip_member(name, data) for name, data in members.items()}
    weights = members["model.weights.npz"]
    first_array = [npy_header((1 << 28,)) + bytes(96)] + \
        [zip_members(weights)[f"arr_{i:05d}.npy"] for i in range(1, 8)]
    bombs = {
        "config bomb": dict(honest, **{"config.json": bomb_member("config.json", b"{",
                                                                  BOMB_MIB)}),
        "weights bomb": dict(honest, **{"model.weights.npz": bomb_member(
            "model.weights.npz", b"PK", BOMB_MIB)}),
        "optimizer bomb": dict(honest, **{"optimizer.npz": bomb_member(
            "optimizer.npz", b"PK", BOMB_MIB)}),
        "nested npz bomb": dict(honest, **{"model.weights.npz": zip_member(
            "model.weights.npz", zip_archive([bomb_member("arr_00000.npy", npy_header(
                (6, 4)), BOMB_MIB)]))}),
        "npy header of 1 GiB": dict(honest, **{"model.weights.npz": zip_member(
            "model.weights.npz", zip_archive([zip_member(f"arr_{i:05d}.npy", data)
                                              for i, data in enumerate(first_array)]))}),
    }
    cases = {f"bit flip {i}": data for i, data in enumerate(_mutations(good, rng, 150))}
    cases.update({name: zip_archive(list(entries.values())) for name, entries in bombs.items()})
    results = {}
    for name, data in cases.items():
        path = os.path.join(work, "case.keras")
        with open(path, "wb") as f:
            f.write(data)
        results[f"load_model {name}"] = _outcome(lambda: models.load_model(path))
        results[f"load_weights {name}"] = _outcome(lambda: model.load_weights(path))
    weights_path = os.path.join(work, "case.weights.npz")
    with open(os.path.join(work, "good.weights.npz"), "rb") as f:
        good_weights = f.read()
    for i, data in enumerate(_mutations(good_weights, rng, 60)):
        with open(weights_path, "wb") as f:
            f.write(data)
        results[f"load_weights npz {i}"] = _outcome(lambda: model.load_weights(weights_path))
    return results


def _mnist_cases(work, rng):
    folder = os.path.join(work, "mnist_data", "mnist")
    write_idx_folder(folder, make_idx_split(rng))
    results = {}
    for stem in STEMS:
        path = os.path.join(folder, stem + ".gz")
        with open(path, "rb") as f:
            original = f.read()
        variants = dict(enumerate(_mutations(original, rng, 20)))
        magic = 2051 if "images" in stem else 2049
        dims = (7, 28, 28) if "images" in stem else (7,)
        header = idx_bytes(np.zeros(dims, np.uint8), magic)
        variants["bomb"] = gzip_then_zeros(header, BOMB_MIB)
        variants["overflowing dims bomb"] = gzip_then_zeros(
            np.array([magic, *(2 ** 32 - 1,) * len(dims)], ">u4").tobytes(), 1)
        for i, data in variants.items():
            with open(path, "wb") as f:
                f.write(data)
            results[f"mnist {stem} {i}"] = _outcome(
                lambda: mnist.load_data(path=os.path.join(work, "mnist_data")))
        with open(path, "wb") as f:
            f.write(original)
    return results


def _cifar_cases(work, rng):
    files, _ = make_cifar(rng, per_file=1)
    folder = os.path.join(work, "cifar_data", "cifar-10-batches-bin")
    write_cifar_folder(folder, files)
    results = {}
    path = os.path.join(folder, "data_batch_2.bin")
    for i, data in enumerate(_mutations(files["data_batch_2.bin"], rng, 20)):
        with open(path, "wb") as f:
            f.write(data)
        results[f"cifar folder {i}"] = _outcome(
            lambda: cifar10.load_data(path=os.path.join(work, "cifar_data")))
    archive_folder = os.path.join(work, "cifar_archive")
    os.makedirs(archive_folder)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    member = tarfile.TarInfo("cifar-10-batches-bin/readme.html")
    member.size = BOMB_MIB * MiB
    variants = dict(enumerate(_mutations(buffer.getvalue(), rng, 30)))
    variants["member bomb"] = gzip_then_zeros(member.tobuf(format=tarfile.GNU_FORMAT),
                                              BOMB_MIB + 1)
    long_name = tarfile.TarInfo("././@LongLink")  # a GNU long name tarfile reads whole
    long_name.type, long_name.size = tarfile.GNUTYPE_LONGNAME, BOMB_MIB * MiB
    variants["long name bomb"] = gzip_then_zeros(long_name.tobuf(format=tarfile.GNU_FORMAT),
                                                 BOMB_MIB)
    archive = os.path.join(archive_folder, "cifar-10-binary.tar.gz")
    for i, data in variants.items():
        with open(archive, "wb") as f:
            f.write(data)
        results[f"cifar archive {i}"] = _outcome(lambda: cifar10.load_data(path=archive_folder))
    return results


def main():
    work, headroom_mib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(seed)
    _cap_memory(headroom_mib)
    results = {}
    for cases in (_model_cases, _mnist_cases, _cifar_cases):
        results.update(cases(work, rng))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
