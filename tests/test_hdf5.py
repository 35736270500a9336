"""``.h5`` files in Keras 2's layout: minidl's own round trips (models, weights,
ModelCheckpoint), files written here with h5py exactly as Keras 2 writes them (a model
config with Keras's extra arguments, a training config, Keras's optimizer weights), and
damaged or hostile files."""
import json

import numpy as np
import pytest

import minidl
from minidl import callbacks, layers, models, utils
from minidl.saving import CorruptFileError

h5py = pytest.importorskip("h5py", reason="the .h5 format needs h5py (the 'h5' extra)")


def _model(seed=0):
    minidl.backend.clear_session()  # the layer names of the files below
    utils.set_random_seed(seed)
    model = models.Sequential([minidl.Input((4,)), layers.Dense(8, activation="relu"),
                               layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((32, 4)).astype(np.float32), rng.integers(0, 3, 32)


def test_a_model_saved_as_h5_predicts_and_trains_on_identically(tmp_path):
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "model.h5"
    model.save(path)
    assert path.read_bytes().startswith(b"\x89HDF")
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for m in (model, loaded):
        m.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)  # the optimizer state came back too
    with h5py.File(path, "r") as h5:
        assert [n.decode() for n in h5["model_weights"].attrs["layer_names"]] == \
            ["dense", "batch_normalization", "dense_1"]
        assert "dense/kernel:0" in [n.decode() for n in
                                    h5["model_weights/dense"].attrs["weight_names"]]


@pytest.mark.parametrize("name", ["w.h5", "w.hdf5", "w.weights.h5"])
def test_weights_round_trip_through_hdf5(tmp_path, name):
    model, other = _model(0), _model(1)
    model.save_weights(tmp_path / name)
    assert (tmp_path / name).read_bytes().startswith(b"\x89HDF")
    other.load_weights(tmp_path / name)
    for got, want in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_an_npz_file_named_weights_h5_by_an_earlier_minidl_still_loads(tmp_path):
    model, other = _model(0), _model(1)
    model.save_weights(tmp_path / "old.weights.npz")  # what .weights.h5 used to hold
    (tmp_path / "old.weights.h5").write_bytes((tmp_path / "old.weights.npz").read_bytes())
    other.load_weights(tmp_path / "old.weights.h5")
    for got, want in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def _keras2_file(path, weights):
    """What Keras 2.x (TensorFlow 2.x) writes for model.save('m.h5') of
    Sequential([InputLayer((4,)), Dense(5, relu), BatchNormalization(), Dense(2, softmax)])
    compiled with Adam: its config keys, its weight names, its optimizer weights."""
    dense = {"units": 5, "activation": "relu", "use_bias": True,
             "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
             "bias_initializer": {"class_name": "Zeros", "config": {}},
             "kernel_regularizer": None, "bias_regularizer": None,
             "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4],
                                                "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "dense_input"}},
        {"class_name": "Dense", "config": dict(dense, name="dense", trainable=True,
                                               dtype="float32")},
        {"class_name": "BatchNormalization", "config": {
            "name": "batch_normalization", "trainable": True, "dtype": "float32",
            "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
            "beta_initializer": {"class_name": "Zeros", "config": {}},
            "gamma_initializer": {"class_name": "Ones", "config": {}},
            "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
            "moving_variance_initializer": {"class_name": "Ones", "config": {}},
            "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
            "gamma_constraint": None}},
        {"class_name": "Dense", "config": dict(dense, name="dense_1", trainable=True,
                                               dtype="float32", units=2,
                                               activation="softmax")}]}}
    training = {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                "optimizer_config": {"class_name": "Adam", "config": {
                    "name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9,
                    "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}}
    names = {"dense": ["kernel", "bias"],
             "batch_normalization": ["gamma", "beta", "moving_mean", "moving_variance"],
             "dense_1": ["kernel", "bias"]}
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = "2.4.0"
        h5.attrs["backend"] = "tensorflow"
        h5.attrs["model_config"] = json.dumps(config).encode()
        h5.attrs["training_config"] = json.dumps(training).encode()
        group = h5.create_group("model_weights")
        group.attrs["layer_names"] = [b"dense_input", b"dense", b"batch_normalization",
                                      b"dense_1"]
        group.create_group("dense_input").attrs["weight_names"] = np.array([], dtype="S1")
        arrays = iter(weights)
        for layer, weight_names in names.items():
            layer_group = group.create_group(layer)
            full = [f"{layer}/{w}:0" for w in weight_names]
            layer_group.attrs["weight_names"] = [n.encode() for n in full]
            for n in full:
                layer_group.create_dataset(n, data=next(arrays))
        optimizer = h5.create_group("optimizer_weights")
        optimizer.attrs["weight_names"] = [b"Adam/iter:0", b"Adam/dense/kernel/m:0"]
        optimizer.create_dataset("Adam/iter:0", data=np.int64(7))
        optimizer.create_dataset("Adam/dense/kernel/m:0", data=np.zeros((4, 5), np.float32))


def test_a_model_file_written_by_keras2_loads(tmp_path):
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal((4, 5)), rng.standard_normal(5),
               rng.random(5) + 0.5, rng.standard_normal(5), rng.standard_normal(5),
               rng.random(5) + 0.5, rng.standard_normal((5, 2)), rng.standard_normal(2)]
    weights = [w.astype(np.float32) for w in weights]
    _keras2_file(tmp_path / "keras2.h5", weights)
    model = models.load_model(tmp_path / "keras2.h5")
    assert [type(layer).__name__ for layer in model.layers] == \
        ["Dense", "BatchNormalization", "Dense"]
    assert isinstance(model.optimizer, minidl.optimizers.Adam) and \
        model.optimizer.iterations == 0  # Keras's optimizer weights are not minidl's
    x = rng.random((6, 4)).astype(np.float32)
    k1, b1, gamma, beta, mean, var, k2, b2 = [w.astype(np.float64) for w in weights]
    h = np.maximum(x @ k1 + b1, 0)
    h = gamma * (h - mean) / np.sqrt(var + 1e-3) + beta
    logits = h @ k2 + b2
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.fit(x, np.array([0, 1, 0, 1, 1, 0]), epochs=1, verbose=0)  # compiled as saved
    other = _model_like_keras2()
    other.load_weights(tmp_path / "keras2.h5")  # weights of a whole-model file
    for got, want in zip(other.get_weights(), weights):
        np.testing.assert_array_equal(got, want)


def _model_like_keras2():
    return models.Sequential([minidl.Input((4,)), layers.Dense(5, activation="relu"),
                              layers.BatchNormalization(),
                              layers.Dense(2, activation="softmax")])


def test_a_keras_argument_minidl_lacks_is_named_when_it_is_used(tmp_path):
    config = {"class_name": "Dense", "config": {"units": 2, "kernel_regularizer": None}}
    assert layers.deserialize(config).units == 2
    config["config"]["kernel_regularizer"] = {"class_name": "L2", "config": {"l2": 0.01}}
    assert layers.deserialize(config).kernel_regularizer.l2 == 0.01  # Keras 2's config
    batch_norm = {"class_name": "BatchNormalization",
                  "config": {"gamma_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}}}
    with pytest.raises(TypeError, match="gamma_regularizer"):
        layers.deserialize(batch_norm)


def test_model_checkpoint_writes_keras2_h5_files(tmp_path):
    model = _model()
    x, y = _data()
    best = callbacks.ModelCheckpoint(tmp_path / "best.h5", monitor="loss", save_best_only=True)
    weights = callbacks.ModelCheckpoint(tmp_path / "w-{epoch}.hdf5", save_weights_only=True)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[best, weights])
    assert (tmp_path / "best.h5").read_bytes().startswith(b"\x89HDF")
    np.testing.assert_array_equal(models.load_model(tmp_path / "best.h5").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    other = _model(5)
    other.load_weights(tmp_path / "w-2.hdf5")
    for got, want in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_damaged_and_hostile_h5_files(tmp_path):
    model = _model()
    model.save(tmp_path / "good.h5")
    good = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(good[:len(good) // 2])
    with pytest.raises(CorruptFileError, match="cut.h5"):
        models.load_model(tmp_path / "cut.h5")
    with h5py.File(tmp_path / "huge.h5", "w") as h5:  # a config larger than the limit
        h5.attrs["model_config"] = "x" * (5 << 20)
    with pytest.raises(CorruptFileError, match="model_config of"):
        models.load_model(tmp_path / "huge.h5")
    bad = tmp_path / "strings.h5"
    bad.write_bytes(good)
    first = model.layers[0].name
    with h5py.File(bad, "a") as h5:
        del h5[f"model_weights/{first}/{first}/bias:0"]
        h5[f"model_weights/{first}"].create_dataset(f"{first}/bias:0",
                                                    data=np.array([b"x"] * 8))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(CorruptFileError, match="dtype"):
        model.load_weights(bad)
    for got, want in zip(model.get_weights(), before):  # nothing was assigned
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="holds weights for 3 layers but the model has 2"):
        models.Sequential([minidl.Input((4,)), layers.Dense(8), layers.Dense(3)]) \
            .load_weights(tmp_path / "good.h5")


def test_a_failed_h5_save_leaves_the_previous_file(tmp_path, monkeypatch):
    model = _model()
    path = tmp_path / "model.h5"
    model.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(h5py.Group, "create_dataset", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]
