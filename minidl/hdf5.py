"""``.h5`` / ``.hdf5`` files in the layout Keras 2 used, through h5py (the ``h5`` extra).

Whole models (``model.save("m.h5")``, ``load_model``)::

    /                          attrs: keras_version, backend, model_config (JSON),
                                      training_config (JSON, when compiled)
    /model_weights             attrs: layer_names, keras_version, backend
    /model_weights/<layer>     attrs: weight_names ("<layer>/<weight>:0", ...)
    /model_weights/<layer>/<layer>/<weight>:0     one dataset per weight
    /optimizer_weights         attrs: weight_names; minidl's optimizer state (iterations
                               and slots) when minidl wrote the file

Weights files (``save_weights("w.h5")``, ``load_weights``) hold the ``model_weights`` part
at their root. Weights are matched to the model's layers that have weights, in order, as
Keras 2's ``load_weights`` does; a model config written by Keras 2 loads through
``minidl.layers.deserialize`` (Keras arguments minidl lacks are accepted at their
defaults). Writes are atomic (``minidl.io_utils.atomic_write``); reads check sizes
before the bytes behind them: every dataset must have the shape of the weight it fills
and a real dtype before it is read, and a config attribute (stored uncompressed, so
bounded by the file's size) must be at most ``saving.MAX_CONFIG_BYTES`` long before it is
parsed, so a file can make the loader read no more than its model and its own size. A corrupt
file raises ``CorruptFileError`` naming it; nothing is assigned before everything is read.
"""
import json

import numpy as np

from minidl import _version
from minidl.io_utils import atomic_write, open_regular_file

HDF5_SUFFIXES = (".h5", ".hdf5")
#: the first bytes of every HDF5 file
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _h5py(where):
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{where}: .h5 files need h5py (pip install 'minidl[h5]' or "
                          f"pip install h5py); or use the .keras format") from None
    return h5py


def _weight_name(variable):
    return f"{variable.path}:0"


def _layers_with_weights(model):
    return [layer for layer in model.layers if layer.weights]


def _write_weights(group, model):
    """The Keras 2 ``model_weights`` layout under ``group``."""
    layers = _layers_with_weights(model)
    group.attrs["layer_names"] = np.array([layer.name.encode() for layer in layers])
    group.attrs["backend"] = "minidl"
    group.attrs["keras_version"] = _version.__version__
    for layer in layers:
        layer_group = group.create_group(layer.name)
        names = [_weight_name(v) for v in layer.weights]
        layer_group.attrs["weight_names"] = np.array([n.encode() for n in names])
        for name, variable in zip(names, layer.weights):
            layer_group.create_dataset(name, data=variable.numpy())


def save_weights(model, path):
    """Write the model's weights to ``path`` (HDF5, Keras 2 layout), atomically.

    Example:
        >>> import os, tempfile
        >>> from minidl import hdf5, layers, models
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "weights.h5")
        >>> hdf5.save_weights(model, path)
        >>> hdf5.is_hdf5(path, ValueError, "example")
        True
    """
    h5py = _h5py("save_weights")
    with atomic_write(path, "wb") as f, h5py.File(f, "w") as h5:
        _write_weights(h5, model)


def save_model(model, path, config, compile_config):
    """Write a whole model: its config, weights and (minidl's) optimizer state.

    Args:
        model: the model.
        path: the target file.
        config: ``{"class_name", "config"}`` of the model.
        compile_config: the compile arguments and the optimizer, or None.

    Example:
        >>> import os, tempfile
        >>> from minidl import layers, models
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.h5")
        >>> model.save(path)  # the .h5 suffix takes this path
        >>> models.load_model(path).output_shape
        (None, 2)
    """
    h5py = _h5py("save")
    with atomic_write(path, "wb") as f, h5py.File(f, "w") as h5:
        h5.attrs["keras_version"] = _version.__version__
        h5.attrs["backend"] = "minidl"
        h5.attrs["model_config"] = json.dumps(config)
        if compile_config is not None:
            h5.attrs["training_config"] = json.dumps(compile_config)
        _write_weights(h5.create_group("model_weights"), model)
        if model.optimizer is not None:
            state = model.optimizer.get_state()
            arrays = [np.asarray(state["iterations"], dtype=np.int64)] + list(state["slots"])
            group = h5.create_group("optimizer_weights")
            names = [f"minidl/{i:05d}" for i in range(len(arrays))]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, array in zip(names, arrays):
                group.create_dataset(name, data=array)


class Reader:
    """An open HDF5 model or weights file, read with every size checked first.

    Args:
        path: the file.
        where: the calling function, for messages.
        error: the exception class for a corrupt file (``CorruptFileError``).
        max_config_bytes: the largest config attribute read.

    Example:
        >>> import os, tempfile
        >>> from minidl import hdf5, layers, models
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.h5")
        >>> model.save(path)
        >>> reader = hdf5.Reader(path, "example", ValueError, 1 << 20)
        >>> type(reader).__name__
        'Reader'
    """

    def __init__(self, path, where, error, max_config_bytes):
        self.path, self.where, self.error = path, where, error
        self.max_config_bytes = max_config_bytes
        h5py = _h5py(where)
        self._stream, _ = open_regular_file(path, error, where)
        try:
            self.h5 = h5py.File(self._stream, "r")
        except (OSError, ValueError) as exc:
            self._stream.close()
            raise error(f"{where}: {path!r} is not a readable HDF5 file ({exc})") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.h5.close()
        self._stream.close()
        return False

    def corrupt(self, what):
        """A CorruptFileError naming the file."""
        return self.error(f"{self.where}: {self.path!r} {what}")

    def json_attribute(self, name):
        """A JSON attribute of the root, decoded after its size is checked (None when
        absent)."""
        if name not in self.h5.attrs:
            return None
        try:
            # An attribute is stored uncompressed, so the file's own size bounds what
            # reading it costs; its length is checked before the JSON is parsed.
            value = self.h5.attrs[name]
            text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
            if len(text) > self.max_config_bytes:
                raise self.corrupt(f"holds a {name} of {len(text)} characters (more than "
                                   f"{self.max_config_bytes})")
            return json.loads(text)
        except (OSError, ValueError, TypeError, RecursionError, UnicodeDecodeError) as exc:
            if isinstance(exc, self.error):
                raise
            raise self.corrupt(f"holds an unreadable {name} ({exc})") from None

    def weights_group(self):
        """The group holding ``layer_names`` (the root of a weights file)."""
        if "layer_names" in self.h5.attrs:
            return self.h5
        group = self.h5.get("model_weights")
        if group is None or "layer_names" not in group.attrs:
            raise self.corrupt("holds no Keras weights (no 'layer_names')")
        return group

    def _names(self, group, attribute, limit):
        try:
            names = group.attrs[attribute]
            if len(names) > limit:
                raise self.corrupt(f"lists {len(names)} {attribute}, more than the "
                                   f"model's {limit}")
            return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
            if isinstance(exc, self.error):
                raise
            raise self.corrupt(f"holds an unreadable {attribute} ({exc})") from None

    def _dataset(self, group, name, shape, what):
        """One dataset read after its shape and dtype are checked."""
        dataset = group.get(name)
        if dataset is None or not hasattr(dataset, "shape"):
            raise self.corrupt(f"has no dataset {name!r} for {what}")
        if tuple(dataset.shape) != tuple(shape):
            raise ValueError(f"{self.where}: {what} has shape {tuple(shape)} but "
                             f"{self.path!r} holds {tuple(dataset.shape)} (saved from "
                             f"another model?)")
        if dataset.dtype.kind not in "biuf" or dataset.dtype.itemsize > 8:
            raise self.corrupt(f"holds {name!r} of dtype {dataset.dtype}")
        try:
            return dataset[()]
        except (OSError, ValueError) as exc:
            raise self.corrupt(f"has an unreadable dataset {name!r} ({exc})") from None

    def weights(self, model):
        """The arrays for ``model.weights``, in order (Keras 2 matching: the file's
        layers with weights against the model's, in order)."""
        group = self.weights_group()
        layers = _layers_with_weights(model)
        names = [n for n in self._names(group, "layer_names", 4 * len(layers) + 16)
                 if n in group and self._names(group[n], "weight_names", 64)]
        if len(names) != len(layers):
            raise ValueError(f"{self.where}: {self.path!r} holds weights for {len(names)} "
                             f"layers but the model has {len(layers)} layers with weights")
        arrays = []
        for file_layer, layer in zip(names, layers):
            layer_group = group[file_layer]
            weight_names = self._names(layer_group, "weight_names", len(layer.weights))
            if len(weight_names) != len(layer.weights):
                raise ValueError(f"{self.where}: layer '{file_layer}' of {self.path!r} has "
                                 f"{len(weight_names)} weights but layer '{layer.name}' "
                                 f"has {len(layer.weights)}")
            for name, variable in zip(weight_names, layer.weights):
                arrays.append(self._dataset(layer_group, name, variable.shape,
                                            f"weight '{variable.path}'"))
        return arrays

    def optimizer_state(self, shapes):
        """minidl's optimizer arrays (iterations first), or None when the file has none
        minidl wrote (a Keras 2 file: the optimizer starts afresh)."""
        group = self.h5.get("optimizer_weights")
        if group is None or "weight_names" not in group.attrs:
            return None
        names = self._names(group, "weight_names", len(shapes))
        if not all(n.startswith("minidl/") for n in names):
            return None
        if len(names) not in (1, len(shapes)):
            raise self.corrupt(f"holds {len(names)} optimizer arrays where "
                               f"{len(shapes)} are expected")
        return [self._dataset(group, name, shape, f"optimizer array {i}")
                for i, (name, shape) in enumerate(zip(names, shapes))]


def is_hdf5(path, error, where):
    """True when the regular file at ``path`` starts with the HDF5 signature (a FIFO or a
    device is refused with ``error`` before anything is read).

    Example:
        >>> import os, tempfile
        >>> from minidl import hdf5
        >>> path = os.path.join(tempfile.mkdtemp(), "not.h5")
        >>> _ = open(path, "wb").write(b"plain text")
        >>> hdf5.is_hdf5(path, ValueError, "example")
        False
    """
    stream, _ = open_regular_file(path, error, where)
    with stream:
        return stream.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
