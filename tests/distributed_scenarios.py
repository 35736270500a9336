"""The data-parallel scenarios of tests/test_distribute.py, run the same way in one
process (the reference) and on every rank of ``mpiexec -n 2 python
tests/distributed_scenarios.py OUT`` (which writes each rank's results to OUT).

Every training scenario starts from rank 0's initial weights: rank r initialises with
seed r, so only the broadcast makes the ranks agree.
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# for benchmarks.models only: appended, so that an installed minidl (CI's) wins over the
# unbuilt source tree
sys.path.append(ROOT)

import minidl  # noqa: E402
from minidl import callbacks, distribute, layers, models, optimizers, utils  # noqa: E402
from benchmarks.models import minidl_model  # noqa: E402

#: name -> (seed model, batch norm, sync_batchnorm, global batch, samples[, overlap])
TRAINING = {
    "lenet": ("lenet", False, False, 64, 192),
    "cifar_after_backward": ("cifar", False, False, 64, 128, False),
    "lenet_bn_sync_uneven": ("lenet", True, True, 63, 189),
    "cifar_bn_sync": ("cifar", True, True, 64, 128),
    "cifar_uneven": ("cifar", False, False, 63, 126),
    "lenet_bn_local": ("lenet", True, False, 64, 128),
}


def _images(name, samples, seed=5):
    rng = np.random.default_rng(seed)
    shape = (32, 32, 1) if name == "lenet" else (32, 32, 3)
    x = rng.random((samples,) + shape, dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, samples)]
    return x, y


def _seed_model(name, batch_norm, init_seed):
    minidl.backend.clear_session()
    utils.set_random_seed(init_seed)
    model = minidl_model(name, batch_norm)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train(key, init_seed):
    """(weights, history) of one epoch of a training scenario."""
    name, batch_norm, sync, batch, samples, *overlap = TRAINING[key]
    model = _seed_model(name, batch_norm, init_seed)
    distribute.set_distribution(
        distribute.DataParallel(sync_batchnorm=sync, overlap=overlap[0] if overlap else True)
        if distribute.size() > 1 else None)
    x, y = _images(name, samples)
    utils.set_random_seed(123)  # the shuffling
    history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    return model.get_weights(), history.history


def tiny_batches(init_seed):
    """Global batches of one row on two ranks: one rank's slice is always empty."""
    minidl.backend.clear_session()
    utils.set_random_seed(init_seed)
    model = models.Sequential([minidl.Input((3,)), layers.Dense(4, activation="tanh"),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    distribute.set_distribution(distribute.DataParallel() if distribute.size() > 1 else None)
    x = np.random.default_rng(7).random((5, 3)).astype(np.float32)
    model.fit(x, np.array([0, 1, 1, 0, 1]), batch_size=1, epochs=2, shuffle=False,
              verbose=0)
    return model.get_weights()


def early_stopping(out):
    """Epochs run with an EarlyStopping that stops at the second epoch, and the files the
    rank wrote (save, save_weights, ModelCheckpoint, CSVLogger)."""
    model = _seed_model("lenet", False, distribute.rank())
    distribute.set_distribution(distribute.DataParallel() if distribute.size() > 1 else None)
    x, y = _images("lenet", 64)
    tag = f"rank{distribute.rank()}"
    stop = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0, callbacks=[
        stop, callbacks.ModelCheckpoint(os.path.join(out, f"ckpt-{tag}.keras")),
        callbacks.CSVLogger(os.path.join(out, f"log-{tag}.csv"))])
    model.save(os.path.join(out, f"model-{tag}.keras"))
    model.save_weights(os.path.join(out, f"weights-{tag}.weights.npz"))
    return len(history.history["loss"])


def inference():
    """evaluate and predict of a fixed model on 50 and 37 samples."""
    model = _seed_model("lenet", True, 0)
    distribute.set_distribution(distribute.DataParallel() if distribute.size() > 1 else None)
    x, y = _images("lenet", 50, seed=9)
    results = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    return results, model.predict(x[:37], batch_size=8, verbose=0)


def run_all(out):
    """Every scenario; the results as (arrays dict, json dict)."""
    rank = distribute.rank()
    arrays, info = {}, {}
    for key in TRAINING:
        weights, history = train(key, rank)
        arrays.update({f"{key}/{i}": w for i, w in enumerate(weights)})
        info[key] = history
    arrays.update({f"tiny/{i}": w for i, w in enumerate(tiny_batches(rank))})
    info["epochs_run"] = early_stopping(out)
    info["evaluate"], arrays["predict"] = inference()
    distribute.set_distribution(None)
    return arrays, info


if __name__ == "__main__":
    target = sys.argv[1]
    distribute.initialize()
    arrays, info = run_all(target)
    np.savez(os.path.join(target, f"rank{distribute.rank()}.npz"), **arrays)
    with open(os.path.join(target, f"rank{distribute.rank()}.json"), "w") as f:
        json.dump(dict(info, size=distribute.size(),
                       threads=minidl.get_num_threads()), f)
