"""Saving and loading models and weights: no pickle anywhere, atomic writes, bounded reads.

A ``.keras`` file is a zip archive with:

* ``config.json``: the model config, the compile config and the minidl version;
* ``model.weights.npz``: every weight, in ``model.weights`` order;
* ``optimizer.npz``: the optimizer's iteration count and slot variables.

Weights files (``save_weights``) are NPZ archives. Every write goes to a temporary file
that replaces the target only once complete, so a crash or Ctrl-C while saving leaves
the previous file intact.

Loading reads only these members and never unpickles. Every size is checked before the
bytes behind it are read or inflated: ``config.json`` is at most ``MAX_CONFIG_BYTES``;
a zip member must be stored or deflated, with a declared size that its compressed size
can produce (at most ``MAX_DEFLATE_RATIO`` times larger); each ``.npy`` header must
declare exactly the shape the model expects, a real dtype of at most 8 bytes, and a
payload that is exactly the member's size. So a file can make the loader read no more
than the model it describes needs. Everything is validated before anything is assigned:
a failed load leaves the model as it was. A corrupt or hostile file raises
:class:`CorruptFileError` naming the file; a valid file for another model raises
``ValueError``.
"""
import io
import json
import math
import os
import zipfile
import zlib

import numpy as np

from minidl import _version, hdf5, losses, optimizers
from minidl.io_utils import atomic_write, open_regular_file

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.weights.npz"
OPTIMIZER_NAME = "optimizer.npz"
_MODEL_SUFFIXES = (".keras",) + hdf5.HDF5_SUFFIXES
_WEIGHTS_SUFFIXES = (".weights.npz",) + hdf5.HDF5_SUFFIXES

# Limits of the readers (docs/guide/saving.rst lists them).
MAX_CONFIG_BYTES = 4 << 20     # config.json, uncompressed
MAX_DEFLATE_RATIO = 1032       # deflate cannot expand 1 byte into more than ~1032
MAX_JSON_DEPTH = 64            # nesting of the config's lists and objects
_MAX_ITEMSIZE = 8              # float64 / int64: the widest dtype a weight is read from
# Bytes an array may add to its payload in an NPZ: zip headers and the .npy header.
_ARRAY_OVERHEAD = 16 << 10
_SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Errors that mean "the file's contents do not make a valid model", from any reader.
_CONTENT_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError,
                   OverflowError, RecursionError)


class CorruptFileError(ValueError):
    """A model or weights file that cannot be read (truncated, corrupt, wrong type,
    hostile sizes or contents). The message names the file.

    Example:
        >>> import os, tempfile
        >>> from minidl import models, saving
        >>> path = os.path.join(tempfile.mkdtemp(), "broken.keras")
        >>> _ = open(path, "wb").write(b"PK not a zip archive")
        >>> try:
        ...     models.load_model(path)
        ... except saving.CorruptFileError as error:
        ...     print(type(error).__name__)
        CorruptFileError
    """


def _check_target(filepath, suffixes, where, overwrite):
    path = os.fspath(filepath)
    if not path.endswith(suffixes):
        raise ValueError(f"{where}: the file name must end in {' or '.join(suffixes)}. "
                         f"Received: {path!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{where}: {path!r} exists and overwrite=False")
    return path


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **{f"arr_{i:05d}": np.asarray(a) for i, a in enumerate(arrays)})
    return buffer.getvalue()


def _compile_config(model):
    if model.optimizer is None:
        return None
    config = {"optimizer": optimizers.serialize(model.optimizer),
              "loss": losses.serialize(model.loss) if model.loss is not None else None,
              "metrics": [m if isinstance(m, str) else getattr(m, "name", str(m))
                          for m in model._metric_specs]}
    output_losses = getattr(model, "_output_losses", None)
    if output_losses is not None:  # a model with several outputs: a loss for each
        config["loss"] = [losses.serialize(loss) for loss in output_losses]
        config["loss_weights"] = list(model._loss_weights)
    return config


def _saved_loss(spec):
    """The loss of a compile config: None, one loss, or a list (several outputs)."""
    if not spec:
        return None
    if isinstance(spec, list):
        return [losses.get(item) for item in spec]
    return losses.get(spec)


def save_model(model, filepath, overwrite=True):
    """Write ``model`` to a ``.keras`` zip file (config, weights, optimizer state), or to
    an ``.h5``/``.hdf5`` file in Keras 2's layout (:mod:`minidl.hdf5`).

    Args:
        model (Sequential): the (built) model to save.
        filepath (str or os.PathLike): the file; its name ends in ``.keras``, ``.h5`` or
            ``.hdf5``.
        overwrite (bool): replace an existing file; False raises FileExistsError when it
            exists.

    Example:
        >>> import os, tempfile
        >>> from minidl import layers, models, saving
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
        >>> saving.save_model(model, path)
        >>> os.path.exists(path)
        True
    """
    path = _check_target(filepath, _MODEL_SUFFIXES, "save", overwrite)
    if not model.built:
        raise ValueError(f"save: the model '{model.name}' is not built yet")
    if path.endswith(hdf5.HDF5_SUFFIXES):
        model_config = {"class_name": type(model).__name__, "config": model.get_config()}
        hdf5.save_model(model, path, model_config, _compile_config(model))
        return
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


# ---------------------------------------------------------------- bounded zip reading

def _check_member(info, limit, container_bytes, where, source):
    """Refuse a zip member whose declared sizes are inconsistent or above ``limit``,
    before a byte of it is read."""
    name = f"{source}: member {info.filename!r}"
    if info.flag_bits & 0x1:
        raise CorruptFileError(f"{where}: {name} is encrypted")
    if info.compress_type not in _SUPPORTED_COMPRESSION:
        raise CorruptFileError(f"{where}: {name} uses compression method "
                               f"{info.compress_type}; only stored and deflated members "
                               f"are read")
    if info.compress_size > container_bytes:
        raise CorruptFileError(f"{where}: {name} declares {info.compress_size} compressed "
                               f"bytes but the file holds only {container_bytes}")
    if info.file_size > limit:
        raise CorruptFileError(f"{where}: {name} declares {info.file_size} bytes, more "
                               f"than the {limit} this reader accepts for it")
    stored = info.compress_type == zipfile.ZIP_STORED
    if (stored and info.file_size != info.compress_size) or \
            info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 1024:
        raise CorruptFileError(f"{where}: {name} declares {info.file_size} bytes from "
                               f"{info.compress_size} compressed bytes, which its "
                               f"compression cannot produce")


def _read_member(archive, info, where, source):
    """The bytes of a checked member (never more than its declared size)."""
    with archive.open(info) as member:
        data = member.read(info.file_size)
    if len(data) != info.file_size:
        raise CorruptFileError(f"{where}: {source}: member {info.filename!r} is truncated")
    return data


class _ArrayArchive:
    """The arrays of an NPZ archive, checked before their data is read: the member names
    and count (from the central directory), then every member's sizes and ``.npy`` header
    (a real dtype of at most 8 bytes, the shape the model expects, a payload of exactly
    the member's size), and only then the data.

    Args:
        fileobj (file object): a seekable binary file holding the NPZ.
        size (int): its size in bytes.
        where (str): the calling function, for messages.
        source (str): the file (and member) name, for messages.
    """

    def __init__(self, fileobj, size, where, source):
        self._where, self._source, self._size = where, source, size
        with _corrupt_on_error(where, source):
            self._zip = zipfile.ZipFile(fileobj)
        self._infos = self._zip.infolist()
        names = [info.filename for info in self._infos]
        if names != [f"arr_{i:05d}.npy" for i in range(len(names))]:
            self._zip.close()
            raise CorruptFileError(f"{where}: {source}: unexpected array names in the "
                                   f"archive")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()
        return False

    @property
    def count(self):
        """The number of arrays."""
        return len(self._infos)

    def read(self, shapes, what):
        """The arrays, after checking that they are ``len(shapes)`` arrays of ``shapes``.

        Args:
            shapes (list of tuple of ints): the shapes the model needs, in order.
            what (str): ``"weight"`` or ``"optimizer"``, for messages.

        Raises:
            ValueError: another count or shape (a file for another model).
            CorruptFileError: a member or header that is malformed or lies about sizes.
        """
        if self.count != len(shapes):
            raise ValueError(f"{self._where}: the file holds {self.count} {what} arrays but "
                             f"the model has {len(shapes)} {what}s")
        headers = [self._header(info) for info in self._infos]
        for i, (header, want) in enumerate(zip(headers, shapes)):
            if header[0] != tuple(want):
                raise ValueError(f"{self._where}: {self._source}: {what} array {i} has shape "
                                 f"{header[0]} but the model needs {tuple(want)}")
        return [self._data(info, header) for info, header in zip(self._infos, headers)]

    def _header(self, info):
        """(shape, dtype, fortran_order, header length) of one member, checked."""
        _check_member(info, self._size, self._size, self._where, self._source)
        label = f"{self._where}: {self._source}: array {info.filename!r}"
        with _corrupt_on_error(self._where, self._source), self._zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise CorruptFileError(f"{label} has .npy version {version}; only 1.0 and "
                                       f"2.0 are read")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(member)
            header_bytes = member.tell()
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.itemsize > _MAX_ITEMSIZE:
            raise CorruptFileError(f"{label} has dtype {dtype}; weights are read from real "
                                   f"numbers of at most {_MAX_ITEMSIZE} bytes")
        if any(d < 0 for d in shape):
            raise CorruptFileError(f"{label} declares the negative shape {shape}")
        payload = math.prod(shape) * dtype.itemsize
        if header_bytes + payload != info.file_size:
            raise CorruptFileError(f"{label} declares shape {shape} of {dtype} "
                                   f"({payload} bytes) but holds "
                                   f"{info.file_size - header_bytes} bytes of data")
        return tuple(shape), dtype, fortran, header_bytes

    def _data(self, info, header):
        """One array, read now (no more than its checked member size)."""
        shape, dtype, fortran, header_bytes = header
        with _corrupt_on_error(self._where, self._source):
            data = bytearray(_read_member(self._zip, info, self._where, self._source))
        flat = np.frombuffer(data, dtype=dtype, offset=header_bytes)
        return flat.reshape(shape, order="F" if fortran else "C")


class _corrupt_on_error:
    """Turn the many exceptions of zipfile, zlib and np.lib.format on malformed data into
    a CorruptFileError naming the file (a missing file stays FileNotFoundError)."""

    def __init__(self, where, source, problem="is corrupt or not in the expected format"):
        self._where, self._source, self._problem = where, source, problem

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if exc is None or isinstance(exc, (CorruptFileError, FileNotFoundError)) or \
                not isinstance(exc, (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError,
                                     OSError, ValueError, NotImplementedError, SyntaxError,
                                     zlib.error)):
            return False
        raise CorruptFileError(f"{self._where}: {self._source} {self._problem} "
                               f"({kind.__name__}: {exc})") from None


def _npz_limit(shapes):
    """The most bytes an NPZ of arrays of ``shapes`` may take (8-byte dtypes)."""
    return sum(_MAX_ITEMSIZE * math.prod(s) + _ARRAY_OVERHEAD for s in shapes) + \
        _ARRAY_OVERHEAD


def _json_depth(value):
    """The nesting depth of a parsed JSON value (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


class _ModelArchive:
    """A ``.keras`` file opened for bounded reading (see the module docstring).

    Args:
        path (str): the file.
        where (str): the calling function, for messages.
    """

    def __init__(self, path, where):
        self.path, self.where = path, where
        self._file, self._size = open_regular_file(path, CorruptFileError, where)
        try:
            with _corrupt_on_error(where, repr(path), "is not a valid .keras archive"):
                self._zip = zipfile.ZipFile(self._file)
        except BaseException:
            self._file.close()
            raise
        self.names = set(self._zip.namelist())
        missing = {CONFIG_NAME, WEIGHTS_NAME} - self.names
        if missing:
            self.close()
            raise CorruptFileError(f"{where}: {path!r} is not a minidl model file "
                                   f"(missing {sorted(missing)})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Close the archive and the file."""
        self._zip.close()
        self._file.close()

    def member(self, name, limit):
        """The bytes of member ``name`` once its declared sizes passed the checks."""
        info = self._zip.getinfo(name)
        _check_member(info, limit, self._size, self.where, repr(self.path))
        with _corrupt_on_error(self.where, repr(self.path)):
            return _read_member(self._zip, info, self.where, repr(self.path))

    def config(self):
        """The parsed ``config.json`` of a model (size and depth checked, its class one
        that ``register_model_class`` made known)."""
        text = self.member(CONFIG_NAME, MAX_CONFIG_BYTES)
        try:
            config = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CorruptFileError(f"{self.where}: the config in {self.path!r} is not valid "
                                   f"JSON ({type(exc).__name__}: {exc})") from None
        if _json_depth(config) > MAX_JSON_DEPTH:
            raise CorruptFileError(f"{self.where}: the config in {self.path!r} is nested "
                                   f"deeper than {MAX_JSON_DEPTH} levels")
        if not isinstance(config, dict) or \
                config.get("class_name") not in _MODEL_CLASSES or \
                not isinstance(config.get("config"), dict) or \
                not isinstance(config["config"].get("name", ""), (str, type(None))):
            raise CorruptFileError(f"{self.where}: {self.path!r} does not hold the config "
                                   f"of a model class minidl knows "
                                   f"({', '.join(sorted(_MODEL_CLASSES))})")
        return config

    def arrays(self, name, shapes_for_count, what):
        """The arrays of the NPZ member ``name``.

        Args:
            name (str): the member.
            shapes_for_count (callable): a function from the member's array count (None:
                before it is known) to the shapes the model needs (its answer to None
                bounds the member's size first).
            what (str): ``"weight"`` or ``"optimizer"``, for messages.
        """
        source = f"{self.path!r} (member {name})"
        limit = _npz_limit(shapes_for_count(None))
        data = self.member(name, limit)
        with _ArrayArchive(io.BytesIO(data), len(data), self.where, source) as archive:
            return archive.read(shapes_for_count(archive.count), what)


# class name -> model class; each model module registers its classes when imported, so
# that loading needs no import of the models package (which imports this module).
_MODEL_CLASSES = {}


def register_model_class(cls):
    """Make ``load_model`` rebuild models saved with ``class_name == cls.__name__``
    through ``cls.from_config`` (the models package registers its classes).

    Args:
        cls (type): a model class with ``get_config`` and ``from_config``.

    Returns:
        ``cls``, so that this can decorate a class.

    Example:
        >>> from minidl import models, saving
        >>> class MyModel(models.Sequential):
        ...     pass
        >>> saving.register_model_class(MyModel) is MyModel
        True
    """
    _MODEL_CLASSES[cls.__name__] = cls
    return cls


def model_from_json(json_string, custom_objects=None):
    """A new model (fresh weights) from ``model.to_json()``'s string, as
    ``keras.models.model_from_json``.

    Args:
        json_string (str): the JSON text.
        custom_objects (dict or None): ``{class name: layer class}`` for custom layers.

    Example:
        >>> from minidl import layers, models
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> models.model_from_json(model.to_json()).count_params()
        8
    """
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"model_from_json: the argument is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("class_name") not in _MODEL_CLASSES or \
            not isinstance(config.get("config"), dict):
        raise ValueError(f"model_from_json: expected the JSON of a model of a class minidl "
                         f"knows ({', '.join(sorted(_MODEL_CLASSES))})")
    return _MODEL_CLASSES[config["class_name"]].from_config(config["config"],
                                                           custom_objects=custom_objects)


def clone_model(model, custom_objects=None):
    """A new model with the same architecture and new, freshly initialised weights (as
    ``keras.models.clone_model``); copy weights with ``set_weights`` if wanted.

    Args:
        model (Sequential or Model): the model to clone (a ``Sequential`` or functional
            model; a subclassed model has no config to clone).
        custom_objects (dict or None): ``{class name: layer class}`` for custom layers.

    Example:
        >>> from minidl import layers, models
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> copy = models.clone_model(model)
        >>> copy.output_shape, copy.layers[0] is model.layers[0]  # same architecture, new weights
        ((None, 2), False)
    """
    return model_from_json(model.to_json(), custom_objects=custom_objects)


def _model_from_config(config, custom_objects, where, path):
    cls = _MODEL_CLASSES[config["class_name"]]
    try:
        return cls.from_config(config["config"], custom_objects=custom_objects)
    except _CONTENT_ERRORS as exc:
        raise CorruptFileError(f"{where}: the model config in {path!r} is invalid "
                               f"({type(exc).__name__}: {exc})") from None


def _optimizer_shapes(model):
    """``count -> shapes`` of the optimizer member: the iteration count, then each
    trainable variable's slots (an optimizer saved before its first step has none)."""
    slots = [v.shape for v in model.trainable_weights
             for _ in model.optimizer._slot_names()]

    def shapes_for_count(count):
        if count is not None and count <= 1:
            return [()] * count
        return [()] + slots
    return shapes_for_count


def _compile_from(model, compile_config, where, path):
    """Compile ``model`` with a saved compile config (a bad one makes the file corrupt)."""
    try:
        extra = {"loss_weights": compile_config["loss_weights"]} \
            if "loss_weights" in compile_config else {}
        model.compile(optimizer=optimizers.deserialize(compile_config["optimizer"]),
                      loss=_saved_loss(compile_config["loss"]),
                      metrics=compile_config.get("metrics") or None, **extra)
    except _CONTENT_ERRORS as exc:
        raise CorruptFileError(f"{where}: the compile config in {path!r} is invalid "
                               f"({type(exc).__name__}: {exc})") from None


def _restore_compile(model, compile_config, archive):
    """Compile ``model`` as saved and restore its optimizer's state (all checked first)."""
    where, path = archive.where, archive.path
    _compile_from(model, compile_config, where, path)
    if OPTIMIZER_NAME not in archive.names:
        return
    try:
        arrays = archive.arrays(OPTIMIZER_NAME, _optimizer_shapes(model), "optimizer")
        if arrays:
            model.optimizer.set_state({"iterations": arrays[0], "slots": arrays[1:]},
                                      model.trainable_weights)
    except CorruptFileError:
        raise
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"{where}: the optimizer state in {path!r} does not fit its "
                               f"optimizer ({exc})") from None


def _assign_loaded(model, arrays, where, path):
    """``model.set_weights(arrays)`` (all or nothing); values that do not fit the weights
    (an overflowing float64, say) make the file corrupt."""
    try:
        model.set_weights(arrays)
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"{where}: the weights in {path!r} cannot be assigned "
                               f"({exc})") from None


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model saved with ``model.save``; its ``predict`` is bit-identical and its
    training resumes where it stopped (optimizer state included).

    Args:
        filepath (str or os.PathLike): a ``.keras`` file, or an HDF5 file in Keras 2's
            layout (``.h5``/``.hdf5``, recognised by its signature).
        custom_objects (dict or None): ``{class name: layer class}`` for custom layers.
        compile (bool): whether to restore the optimizer (and its state), loss and
            metrics.

    Raises:
        CorruptFileError: the file is not a valid minidl model file (truncated, corrupt,
            hostile sizes, an invalid config or state); the message names the file.
        FileNotFoundError: there is no such file.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import layers, models
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
        >>> model.save(path)
        >>> loaded = models.load_model(path)
        >>> x = np.ones((1, 3))
        >>> bool(np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0)))
        True
    """
    path = os.fspath(filepath)
    if hdf5.is_hdf5(path, CorruptFileError, "load_model"):
        return _load_model_h5(path, custom_objects, compile)
    with _ModelArchive(path, "load_model") as archive:
        config = archive.config()
        model = _model_from_config(config, custom_objects, "load_model", path)
        shapes = [v.shape for v in model.weights]
        try:
            arrays = archive.arrays(WEIGHTS_NAME, lambda count: shapes, "weight")
        except CorruptFileError:
            raise
        except ValueError as exc:  # the file's weights do not fit the file's own config
            raise CorruptFileError(f"{exc} ({path!r} contradicts its own config)") from None
        _assign_loaded(model, arrays, "load_model", path)
        compile_config = config.get("compile_config")
        if compile and compile_config:
            _restore_compile(model, compile_config, archive)
    return model


def _load_model_h5(path, custom_objects, compile):
    """``load_model`` of an HDF5 file (Keras 2 layout; see :mod:`minidl.hdf5`)."""
    where = "load_model"
    with hdf5.Reader(path, where, CorruptFileError, MAX_CONFIG_BYTES) as reader:
        config = reader.json_attribute("model_config")
        if not isinstance(config, dict) or config.get("class_name") not in _MODEL_CLASSES \
                or not isinstance(config.get("config"), dict):
            raise reader.corrupt(f"holds no model config of a class minidl knows "
                                 f"({', '.join(sorted(_MODEL_CLASSES))})")
        model = _model_from_config(config, custom_objects, where, path)
        try:
            arrays = reader.weights(model)
        except ValueError as exc:
            if isinstance(exc, CorruptFileError):
                raise
            raise CorruptFileError(f"{exc} ({path!r} contradicts its own config)") from None
        training = reader.json_attribute("training_config")
        optimizer_arrays = None
        if compile and isinstance(training, dict):
            _compile_from(model, _keras2_compile_config(training), where, path)
            optimizer_arrays = reader.optimizer_state(_optimizer_shapes(model)(None))
    _assign_loaded(model, arrays, where, path)
    if optimizer_arrays:
        try:
            model.optimizer.set_state({"iterations": optimizer_arrays[0],
                                       "slots": optimizer_arrays[1:]}, model.trainable_weights)
        except (TypeError, ValueError) as exc:
            raise CorruptFileError(f"{where}: the optimizer state in {path!r} does not fit "
                                   f"its optimizer ({exc})") from None
    return model


def _keras2_compile_config(training):
    """Keras 2's ``training_config`` (optimizer_config, loss, metrics) in the form of
    minidl's compile config (minidl's own files already are)."""
    if "optimizer" in training:
        return training
    return {"optimizer": training.get("optimizer_config"), "loss": training.get("loss"),
            "metrics": training.get("metrics"),
            **({"loss_weights": training["loss_weights"]}
               if training.get("loss_weights") is not None else {})}


def save_weights(model, filepath, overwrite=True):
    """Write the model's weights to an NPZ file (``.weights.npz``) or to an HDF5 file
    (``.h5``, ``.hdf5``, ``.weights.h5``) in Keras 2's layout.

    Args:
        model (Sequential): the model whose weights are written.
        filepath (str or os.PathLike): the file; its name ends in ``.weights.npz``,
            ``.h5`` or ``.hdf5``.
        overwrite (bool): replace an existing file; False raises FileExistsError when it
            exists.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import layers, models, saving
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
        >>> saving.save_weights(model, path)
        >>> other = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> saving.load_weights(other, path)
        >>> bool(np.array_equal(other.layers[0].kernel.value, model.layers[0].kernel.value))
        True
    """
    path = _check_target(filepath, _WEIGHTS_SUFFIXES, "save_weights", overwrite)
    if path.endswith(hdf5.HDF5_SUFFIXES):
        hdf5.save_weights(model, path)
        return
    with atomic_write(path, "wb") as f:
        f.write(_npz_bytes(model.get_weights()))


def load_weights(model, filepath):
    """Load weights from a weights file or from a ``.keras`` model file, all or nothing:
    the count, every shape and dtype and every value are checked before any weight
    changes.

    Args:
        model (Sequential): the (built) model whose weights are set.
        filepath (str or os.PathLike): a ``.weights.npz`` file, an HDF5 file (Keras 2's
            layout, recognised by its signature) or a ``.keras`` model file.

    Raises:
        ValueError: the file holds another number of arrays or other shapes (it was
            saved from another model), or the model is not built.
        CorruptFileError: the file is corrupt or hostile; the message names it.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import layers, models, saving
        >>> model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
        >>> model.save_weights(path)
        >>> other = models.Sequential([layers.Input((3,)), layers.Dense(2)])
        >>> saving.load_weights(other, path)
        >>> bool(np.array_equal(other.layers[0].kernel.value, model.layers[0].kernel.value))
        True
    """
    path = os.fspath(filepath)
    if not model.built:
        raise ValueError("load_weights: build the model before loading weights into it")
    shapes = [v.shape for v in model.weights]
    if path.endswith(".keras"):
        with _ModelArchive(path, "load_weights") as archive:
            arrays = archive.arrays(WEIGHTS_NAME, lambda count: shapes, "weight")
    elif hdf5.is_hdf5(path, CorruptFileError, "load_weights"):
        with hdf5.Reader(path, "load_weights", CorruptFileError, MAX_CONFIG_BYTES) as reader:
            arrays = reader.weights(model)
    else:
        stream, size = open_regular_file(path, CorruptFileError, "load_weights")
        with stream, _ArrayArchive(stream, size, "load_weights", repr(path)) as archive:
            arrays = archive.read(shapes, "weight")
    _assign_loaded(model, arrays, "load_weights", path)
