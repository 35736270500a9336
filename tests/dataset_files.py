"""Writers of small data set files in the canonical formats (MNIST IDX, CIFAR-10
binary), written from the format specifications, not from minidl's parsers. Shared by
the data set tests and the example tests."""
import gzip
import os
import struct

import numpy as np

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)


def idx_bytes(array, magic):
    """An unsigned-byte IDX file: big-endian magic, big-endian dims, payload."""
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_idx_split(rng, n_train=7, n_test=3):
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    y_train = rng.integers(0, 10, n_train, dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    y_test = rng.integers(0, 10, n_test, dtype=np.uint8)
    return (x_train, y_train), (x_test, y_test)


def idx_files(data):
    """``{stem: raw IDX bytes}`` of a data set."""
    (x_train, y_train), (x_test, y_test) = data
    return {STEMS[0]: idx_bytes(x_train, 2051), STEMS[1]: idx_bytes(y_train, 2049),
            STEMS[2]: idx_bytes(x_test, 2051), STEMS[3]: idx_bytes(y_test, 2049)}


def write_idx_folder(folder, data, gz=True):
    os.makedirs(folder, exist_ok=True)
    for stem, raw in idx_files(data).items():
        name, payload = (stem + ".gz", gzip.compress(raw)) if gz else (stem, raw)
        with open(os.path.join(folder, name), "wb") as out:
            out.write(payload)


def cifar_records(labels, planes):
    """Binary CIFAR records: label byte, then the R, G and B planes of 1024 bytes each."""
    rows = [bytes([label]) + plane.astype(np.uint8).tobytes() for label, plane in
            zip(labels, planes)]
    return b"".join(rows)


def make_cifar(rng, per_file=2):
    """Six batch files of random records, and the NHWC arrays they must decode to."""
    files, xs, ys = {}, [], []
    for name in CIFAR_FILES:
        labels = rng.integers(0, 10, per_file)
        planes = rng.integers(0, 256, (per_file, 3, 1024))
        files[name] = cifar_records(labels, planes)
        # NHWC pixel (r, c, ch) is byte r * 32 + c of plane ch.
        xs.append(np.stack([planes[:, ch].reshape(per_file, 32, 32) for ch in range(3)],
                           axis=-1).astype(np.uint8))
        ys.append(labels.astype(np.uint8).reshape(-1, 1))
    expected = ((np.concatenate(xs[:5]), np.concatenate(ys[:5])), (xs[5], ys[5]))
    return files, expected


def write_cifar_folder(folder, files):
    os.makedirs(folder, exist_ok=True)
    for name, payload in files.items():
        with open(os.path.join(folder, name), "wb") as out:
            out.write(payload)
