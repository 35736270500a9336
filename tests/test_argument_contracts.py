"""Error contracts of the public API outside ``ops``: a legal-looking argument never gives
a silently wrong answer, a bad one is rejected when it is passed -- naming the argument,
before any work or state change -- and a valid request is never refused."""
import os

import numpy as np
import pytest

import minidl
from minidl import _C, layers, models, utils
from minidl.datasets import mnist
from minidl.io_utils import atomic_write_bytes
from minidl.preprocessing.image import ImageDataGenerator


def _model():
    utils.set_random_seed(0)
    model = models.Sequential([minidl.Input((3,)), layers.Dense(4, activation="relu"),
                               layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((8, 3)).astype(np.float32), rng.random((8, 2)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# steps caps the batches drawn; arrays never repeat rows in inference.

def _reference_outputs(model, x):
    """The model's outputs computed layer by layer in float64 NumPy."""
    h = x.astype(np.float64)
    for layer in model.layers:
        kernel, bias = (w.astype(np.float64) for w in layer.get_weights())
        h = h @ kernel + bias
        if layer.activation == "relu":
            h = np.maximum(h, 0)
    return h


@pytest.mark.parametrize("steps, batch_size, rows", [(3, None, 8), (2, 3, 6), (5, 3, 8),
                                                     (1, 8, 8), (1, 5, 5)])
def test_predict_steps_caps_batches_and_never_repeats_rows(data, steps, batch_size, rows):
    x, _ = data
    model = _model()
    out = model.predict(x, steps=steps, batch_size=batch_size, verbose=0)
    assert out.shape == (rows, 2)
    np.testing.assert_allclose(out, _reference_outputs(model, x[:rows]), rtol=1e-5, atol=1e-6)


def test_evaluate_steps_caps_batches(data):
    x, y = data
    model = _model()
    loss = model.evaluate(x, y, steps=2, batch_size=3, verbose=0)
    want = np.mean((_reference_outputs(model, x[:6]) - y[:6]) ** 2)
    assert loss == pytest.approx(want, rel=1e-5)
    assert model.evaluate(x, y, steps=50, verbose=0) == \
        pytest.approx(np.mean((_reference_outputs(model, x) - y) ** 2), rel=1e-5)


class _Batches:
    """A Sequence-like source of 3 batches that counts the batches drawn."""

    def __init__(self, x):
        self.x, self.drawn = x, []

    def __len__(self):
        return 3

    def __getitem__(self, i):
        self.drawn.append(i)
        return self.x[2 * i:2 * i + 2]


def test_predict_on_a_sequence_never_wraps_around(data):
    x, _ = data
    model = _model()
    source = _Batches(x)
    assert model.predict(source, steps=10, verbose=0).shape == (6, 2)
    assert source.drawn == [0, 1, 2]


def test_fit_steps_per_epoch_beyond_one_pass_still_trains_every_step(data):
    x, y = data
    model = _model()
    history = model.fit(x, y, batch_size=4, steps_per_epoch=5, epochs=1, verbose=0)
    assert model.optimizer.iterations == 5 and len(history.history["loss"]) == 1


# ---------------------------------------------------------------------------------------------
# Bad arguments rejected at the call, naming the argument, before any training.

FIT_CASES = [
    ("steps_per_epoch", -1), ("steps_per_epoch", 0), ("steps_per_epoch", 2.5),
    ("steps_per_epoch", True), ("validation_steps", 0), ("validation_freq", 0),
    ("validation_freq", -2), ("validation_freq", 1.5), ("validation_batch_size", -4),
    ("batch_size", 0), ("epochs", -1), ("epochs", 2.0), ("initial_epoch", -1),
    ("initial_epoch", 0.5), ("validation_split", 1.0), ("validation_split", "0.2"),
    ("validation_split", -0.1), ("verbose", 3), ("verbose", "loud"),
]


@pytest.mark.parametrize("name, value", FIT_CASES)
def test_fit_rejects_bad_arguments_before_any_step(data, name, value):
    x, y = data
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=f"fit: argument '{name}'"):
        model.fit(x, y, validation_data=(x, y), **{name: value})
    assert model.optimizer.iterations == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("name, value", [("steps", -1), ("steps", 0), ("steps", 1.5),
                                         ("batch_size", 0), ("verbose", 5)])
def test_evaluate_and_predict_reject_bad_arguments(data, method, name, value):
    x, y = data
    model = _model()
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(ValueError, match=f"{method}: argument '{name}'"):
        getattr(model, method)(*args, **{name: value})


@pytest.mark.parametrize("call", ["fit", "fit split", "evaluate", "train_on_batch",
                                  "test_on_batch", "validation_data"])
def test_missing_targets_are_named(data, call):
    x, y = data
    model = _model()
    where = call.split()[0] if call != "validation_data" else "fit: validation_data"
    with pytest.raises(ValueError, match=f"{where}: argument 'y' is required"):
        {"fit": lambda: model.fit(x, None, verbose=0),
         "fit split": lambda: model.fit(x, None, validation_split=0.25, verbose=0),
         "evaluate": lambda: model.evaluate(x, verbose=0),
         "train_on_batch": lambda: model.train_on_batch(x),
         "test_on_batch": lambda: model.test_on_batch(x),
         "validation_data": lambda: model.fit(x, y, validation_data=(x, None), verbose=0),
         }[call]()
    assert model.optimizer.iterations == 0


def test_malformed_validation_data_is_rejected_at_the_call(data):
    x, y = data
    model = _model()
    with pytest.raises(ValueError, match="fit: argument 'validation_data'"):
        model.fit(x, y, validation_data=(x,), verbose=0)
    with pytest.raises(ValueError, match="x and y must have the same number of samples"):
        model.fit(x, y, validation_data=(x, y[:3]), verbose=0)
    assert model.optimizer.iterations == 0


# ---------------------------------------------------------------------------------------------
# Sizes that overflow int64 raise at build, naming the layer.

def test_flatten_size_overflow_raises_at_build():
    model = models.Sequential([layers.Flatten(), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"Flatten 'flatten.*': the flattened input shape "
                                         r"\(2147483648, 2147483648, 4\) holds "
                                         r"18446744073709551616 elements"):
        model.build((None, 2 ** 31, 2 ** 31, 4))


def test_input_shape_overflow_raises():
    with pytest.raises(ValueError, match=r"InputLayer: input_shape \(4294967296, 4294967296\)"):
        minidl.Input((2 ** 32, 2 ** 32))


def test_weight_shape_overflow_raises_at_build():
    dense = layers.Dense(2 ** 62)
    with pytest.raises(ValueError, match=r"the shape of weight 'kernel' \(8, 4611686018427387904\)"):
        dense.build((None, 8))


@pytest.mark.parametrize("noise_shape", [(None, 5), (None, 3, 1), (2, 0)])
def test_dropout_noise_shape_must_broadcast(noise_shape):
    with pytest.raises(ValueError, match="noise_shape"):
        layer = layers.Dropout(0.5, noise_shape=noise_shape)
        layer(np.ones((2, 3)), training=True)


def test_dropout_noise_shape_that_broadcasts_masks_whole_rows():
    layer = layers.Dropout(0.5, noise_shape=(None, 1), seed=1)
    out = layer(np.ones((64, 3)), training=True)
    assert all(len(set(row)) == 1 for row in out.tolist())  # one draw per row


# ---------------------------------------------------------------------------------------------
# ImageDataGenerator: ranges checked at construction.

@pytest.mark.parametrize("kwargs, name", [
    (dict(brightness_range=(2, 1)), "brightness_range"),
    (dict(brightness_range=(-1, 1)), "brightness_range"),
    (dict(zoom_range=(2, 1)), "zoom_range"),
    (dict(zoom_range=-0.5), "zoom_range"),
    (dict(zoom_range=float("nan")), "zoom_range"),
])
def test_image_data_generator_rejects_inverted_ranges(kwargs, name):
    with pytest.raises(ValueError, match=f"ImageDataGenerator: argument '{name}'"):
        ImageDataGenerator(**kwargs)


def test_image_data_generator_accepts_degenerate_ranges():
    generator = ImageDataGenerator(brightness_range=(1, 1), zoom_range=(0.5, 0.5))
    params = generator.get_random_transform((4, 4, 1), seed=0)
    assert params["brightness"] == 1 and params["zx"] == params["zy"] == 0.5


# ---------------------------------------------------------------------------------------------
# _C.gemm refuses an output that shares memory with an input.

@pytest.mark.parametrize("alias", ["c is a", "c is b", "c overlaps a"])
def test_gemm_refuses_aliased_output(rng, alias):
    buffer = rng.random((8, 4))
    a, b = buffer[:4], rng.random((4, 4))
    c = {"c is a": a, "c is b": b, "c overlaps a": buffer[3:7]}[alias]
    before = c.copy()
    name = "b" if alias == "c is b" else "a"
    with pytest.raises(ValueError, match=f"gemm: argument 'c' must not share memory with "
                                         f"argument '{name}'"):
        _C.gemm(False, False, a, b, c)
    np.testing.assert_array_equal(c, before)


def test_gemm_accepts_disjoint_parts_of_one_buffer(rng):
    buffer = rng.random((8, 4))
    b = rng.random((4, 4))
    want = buffer[:4] @ b
    _C.gemm(False, False, buffer[:4], b, buffer[4:])
    np.testing.assert_allclose(buffer[4:], want, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Other arguments named when wrong.

def test_dataset_path_of_the_wrong_type_is_named():
    with pytest.raises(TypeError, match="load_data: argument 'path'"):
        mnist.load_data(path=123)


# ---------------------------------------------------------------------------------------------
# A valid request is not refused: the longest file names the file system allows.

@pytest.mark.parametrize("length", [251, 255])
def test_saving_to_the_longest_file_names(tmp_path, data, length):
    if not hasattr(os, "pathconf") or os.pathconf(tmp_path, "PC_NAME_MAX") < length:
        pytest.skip("the file system allows shorter names")
    x, y = data
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    keras_path = tmp_path / ("m" * (length - len(".keras")) + ".keras")
    model.save(keras_path)
    restored = models.load_model(keras_path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    weights_path = tmp_path / ("w" * (length - len(".weights.npz")) + ".weights.npz")
    model.save_weights(weights_path)
    restored.load_weights(weights_path)
    blob = tmp_path / ("b" * length)
    atomic_write_bytes(blob, b"data")
    assert blob.read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [keras_path.name, weights_path.name, blob.name])  # no temporary file left


@pytest.mark.parametrize("shape_a,shape_b", [((2, 0), (0, 4)), ((0, 3), (3, 4)),
                                             ((2, 3), (3, 0)), ((3, 2, 0), (0, 5)),
                                             ((2, 0), (0,))])
def test_empty_matmuls_return_zeros_and_zero_gradients(shape_a, shape_b):
    """An empty product is a sum of nothing: zeros of the right shape, as NumPy says."""
    rng = np.random.default_rng(0)
    a = rng.random(shape_a).astype(np.float32)
    b = rng.random(shape_b).astype(np.float32)
    y = minidl.ops.matmul(a, b)
    assert y.shape == (a @ b).shape
    np.testing.assert_array_equal(y, a @ b)
    dy = rng.random(y.shape).astype(np.float32)
    rows, n = int(np.prod(shape_a[:-1])), (shape_b[1] if len(shape_b) == 2 else 1)
    a2, b2, dy2 = a.reshape(rows, shape_a[-1]), b.reshape(shape_b[0], n), dy.reshape(rows, n)
    da, db = minidl.ops.matmul_backward(dy, a, b)
    np.testing.assert_allclose(da, (dy2 @ b2.T).reshape(shape_a), rtol=1e-6)
    np.testing.assert_allclose(db, (a2.T @ dy2).reshape(shape_b), rtol=1e-6)
