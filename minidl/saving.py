"""Saving and loading models and weights: no pickle anywhere, atomic writes.

A ``.keras`` file is a zip archive with:

* ``config.json``: the model config, the compile config and the minidl version;
* ``model.weights.npz``: every weight, in ``model.weights`` order;
* ``optimizer.npz``: the optimizer's iteration count and slot variables.

Weights files (``save_weights``) are NPZ archives. Every write goes to a temporary file
that replaces the target only once complete, so a crash or Ctrl-C while saving leaves
the previous file intact. Loading reads only these members, with ``allow_pickle=False``:
a corrupt or hostile file gives a clear error and never runs code.
"""
import io
import json
import os
import zipfile

import numpy as np

from minidl import _version, losses, optimizers
from minidl.io_utils import atomic_write

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.weights.npz"
OPTIMIZER_NAME = "optimizer.npz"
_WEIGHTS_SUFFIXES = (".weights.npz", ".weights.h5")


class CorruptFileError(ValueError):
    """A model or weights file that cannot be read (truncated, corrupt, wrong type)."""


def _check_target(filepath, suffixes, where, overwrite):
    path = os.fspath(filepath)
    if not path.endswith(suffixes):
        raise ValueError(f"{where}: the file name must end in {' or '.join(suffixes)}, "
                         f"received {path!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{where}: {path!r} exists and overwrite=False")
    return path


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **{f"arr_{i:05d}": np.asarray(a) for i, a in enumerate(arrays)})
    return buffer.getvalue()


def _read_npz(data, where):
    """The arrays of an NPZ archive in order, refusing pickled objects."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            names = sorted(archive.files)
            if names != [f"arr_{i:05d}" for i in range(len(names))]:
                raise CorruptFileError(f"{where}: unexpected array names in the archive")
            return [archive[name] for name in names]
    except CorruptFileError:
        raise
    except Exception as exc:  # zipfile/np.load raise many types on corrupt data
        raise CorruptFileError(f"{where}: the weights archive is corrupt or not an NPZ "
                               f"file ({type(exc).__name__}: {exc})") from None


def _compile_config(model):
    if model.optimizer is None:
        return None
    return {"optimizer": optimizers.serialize(model.optimizer),
            "loss": losses.serialize(model.loss) if model.loss is not None else None,
            "metrics": [m if isinstance(m, str) else getattr(m, "name", str(m))
                        for m in model._metric_specs]}


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to a ``.keras`` zip file (config, weights, optimizer state)."""
    path = _check_target(filepath, (".keras",), "save", overwrite)
    if not model.built:
        raise ValueError(f"save: the model '{model.name}' is not built yet")
    config = {"class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": _compile_config(model),
              "minidl_version": _version.__version__}
    optimizer_arrays = []
    if model.optimizer is not None:
        state = model.optimizer.get_state()
        optimizer_arrays = [np.asarray(state["iterations"], dtype=np.int64)] + \
            list(state["slots"])
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(CONFIG_NAME, json.dumps(config, indent=1))
            archive.writestr(WEIGHTS_NAME, _npz_bytes(model.get_weights()))
            archive.writestr(OPTIMIZER_NAME, _npz_bytes(optimizer_arrays))


def _read_archive(path, where):
    try:
        with zipfile.ZipFile(path, "r") as archive:
            names = set(archive.namelist())
            missing = {CONFIG_NAME, WEIGHTS_NAME} - names
            if missing:
                raise CorruptFileError(f"{where}: {path!r} is not a minidl model file "
                                       f"(missing {sorted(missing)})")
            members = {name: archive.read(name) for name in
                       (CONFIG_NAME, WEIGHTS_NAME, OPTIMIZER_NAME) if name in names}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorruptFileError(f"{where}: {path!r} is not a valid .keras archive "
                               f"({type(exc).__name__}: {exc})") from None
    try:
        config = json.loads(members[CONFIG_NAME].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{where}: the config in {path!r} is not valid JSON "
                               f"({exc})") from None
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        raise CorruptFileError(f"{where}: {path!r} does not hold a Sequential model config")
    return config, members


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model saved with ``model.save``; its ``predict`` is bit-identical and its
    training resumes where it stopped (optimizer state included).

    Args:
        filepath: path of a ``.keras`` file.
        custom_objects: optional dict of custom layer classes by name.
        compile: whether to restore the optimizer, loss and metrics.
    """
    from minidl.models.sequential import Sequential
    path = os.fspath(filepath)
    config, members = _read_archive(path, "load_model")
    try:
        model = Sequential.from_config(config["config"], custom_objects=custom_objects)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"load_model: the model config in {path!r} is invalid "
                               f"({type(exc).__name__}: {exc})") from None
    _assign_weights(model, _read_npz(members[WEIGHTS_NAME], "load_model"), "load_model")
    compile_config = config.get("compile_config")
    if compile and compile_config:
        model.compile(optimizer=optimizers.deserialize(compile_config["optimizer"]),
                      loss=losses.get(compile_config["loss"]) if compile_config["loss"]
                      else None, metrics=compile_config.get("metrics") or None)
        arrays = _read_npz(members.get(OPTIMIZER_NAME, _npz_bytes([])), "load_model")
        if arrays:
            state = {"iterations": int(arrays[0]), "slots": arrays[1:]}
            model.optimizer.set_state(state, model.trainable_weights)
    return model


def _assign_weights(model, arrays, where):
    variables = model.weights
    if len(arrays) != len(variables):
        raise ValueError(f"{where}: the file holds {len(arrays)} weight arrays but the "
                         f"model has {len(variables)} weights")
    model.set_weights(arrays)


def save_weights(model, filepath, overwrite=True):
    """Write the model's weights to an NPZ file (``.weights.npz`` or ``.weights.h5``)."""
    path = _check_target(filepath, _WEIGHTS_SUFFIXES, "save_weights", overwrite)
    with atomic_write(path, "wb") as f:
        f.write(_npz_bytes(model.get_weights()))


def load_weights(model, filepath):
    """Load weights from a weights file or from a ``.keras`` model file."""
    path = os.fspath(filepath)
    if path.endswith(".keras"):
        _, members = _read_archive(path, "load_weights")
        data = members[WEIGHTS_NAME]
    else:
        with open(path, "rb") as f:
            data = f.read()
    if not model.built:
        raise ValueError("load_weights: build the model before loading weights into it")
    _assign_weights(model, _read_npz(data, "load_weights"), "load_weights")
