"""Conv1D, the 1-D poolings and Embedding against float64 NumPy references, central
differences and PyTorch, in trained and saved models."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, ops
from gradcheck import assert_gradient, numerical_gradient


def conv1d_reference(x, kernel, bias, stride, padding):
    """Cross-correlation over steps in float64 (Keras's 'same' split)."""
    n, steps, _ = x.shape
    k = kernel.shape[0]
    if padding == "same":
        out = -(-steps // stride)
        total = max((out - 1) * stride + k - steps, 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    else:
        out = (steps - k) // stride + 1
    y = np.zeros((n, out, kernel.shape[2]))
    for t in range(out):
        window = x[:, t * stride:t * stride + k, :]          # (n, k, in)
        y[:, t] = np.einsum("nki,kio->no", window, kernel)
    return y + bias


@pytest.mark.parametrize("steps,k,stride,padding", [(10, 3, 1, "same"), (11, 4, 2, "valid"),
                                                    (9, 5, 3, "same")])
def test_conv1d_forward_and_gradients(steps, k, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, steps, 3))
    layer = layers.Conv1D(4, k, strides=stride, padding=padding,
                          bias_initializer="random_normal", dtype="float64")
    y = layer(x)
    want = conv1d_reference(x, layer.kernel.value, layer.bias.value, stride, padding)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    assert layer.kernel.shape == (k, 3, 4)
    assert layer.compute_output_shape((None, steps, 3)) == (None,) + y.shape[1:]
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    assert_gradient(lambda v: layer(v), x, dy, dx)
    grad, saved = layer.kernel.grad.copy(), layer.kernel.value.copy()

    def with_kernel(value):
        layer.kernel.value[...] = value
        return layer(x)
    assert_gradient(with_kernel, saved, dy, grad)


def test_conv1d_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 12, 3))
    layer = layers.Conv1D(5, 3, strides=2, activation="relu", dtype="float64")
    y = layer(x)
    weight = torch.from_numpy(layer.kernel.value.transpose(2, 1, 0).copy())
    want = torch.relu(torch.nn.functional.conv1d(
        torch.from_numpy(x.transpose(0, 2, 1).copy()), weight, stride=2))
    np.testing.assert_allclose(y, want.numpy().transpose(0, 2, 1), rtol=1e-12, atol=1e-12)


def test_1d_poolings_against_numpy():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 8, 3))
    np.testing.assert_allclose(layers.MaxPooling1D(2)(x), x.reshape(2, 4, 2, 3).max(axis=2),
                               rtol=1e-6)
    np.testing.assert_allclose(layers.AveragePooling1D(2)(x),
                               x.reshape(2, 4, 2, 3).mean(axis=2), rtol=1e-6)
    np.testing.assert_allclose(layers.GlobalAveragePooling1D()(x), x.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(layers.GlobalMaxPooling1D()(x), x.max(axis=1), rtol=1e-6)
    assert layers.GlobalAveragePooling1D(keepdims=True)(x).shape == (2, 1, 3)
    assert layers.MaxPooling1D(3, strides=1, padding="same")(x).shape == (2, 8, 3)
    for layer in (layers.MaxPooling1D(2, dtype="float64"),
                  layers.AveragePooling1D(3, strides=2, dtype="float64"),
                  layers.GlobalAveragePooling1D(dtype="float64"),
                  layers.GlobalMaxPooling1D(dtype="float64")):
        y = layer(x)
        dy = rng.standard_normal(y.shape)
        assert_gradient(lambda v: layer(v), x, dy, layer.backward(dy), rtol=1e-6, atol=1e-7)


def test_embedding_lookup_and_gradient():
    rng = np.random.default_rng(3)
    table = rng.standard_normal((6, 3))
    indices = np.array([[1, 5, 1], [0, 0, 2]])
    y = ops.embedding(indices, table)
    np.testing.assert_array_equal(y, table[indices])
    dy = rng.standard_normal(y.shape)
    want = np.zeros_like(table)
    np.add.at(want, indices.reshape(-1), dy.reshape(-1, 3))
    np.testing.assert_allclose(ops.embedding_backward(dy, indices, table.shape), want,
                               rtol=1e-12)
    assert_gradient(lambda t: ops.embedding(indices, t), table, dy,
                    ops.embedding_backward(dy, indices, table.shape))


@pytest.mark.parametrize("indices,error,message", [
    (np.array([[0, 6]]), ValueError, r"embedding: every index must be in \[0, 6\).*6"),
    (np.array([[-1]]), ValueError, "must be in"),
    (np.array([[0.5]]), ValueError, "integers"),
])
def test_embedding_refuses_bad_indices(indices, error, message):
    with pytest.raises(error, match=message):
        ops.embedding(indices, np.zeros((6, 2)))


def test_embedding_layer_trains_and_saves(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 20, (48, 7))
    y = (x.sum(axis=1) % 2).astype(np.float32)
    model = models.Sequential([minidl.Input((7,)), layers.Embedding(20, 8),
                               layers.GlobalAveragePooling1D(),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "embed.keras")
    model.save(path)
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    embed = loaded.layers[0]  # built for 7 steps, any length fits (as in Keras)
    np.testing.assert_array_equal(embed(np.array([[3, 4]])), embed.embeddings.value[[[3, 4]]])
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 2)


def test_conv1d_model_trains_and_saves(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 20, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    inputs = minidl.Input((20, 2))
    h = layers.Conv1D(8, 3, padding="same", activation="relu")(inputs)
    h = layers.BatchNormalization()(h)
    h = layers.MaxPooling1D(2)(h)
    h = layers.GlobalAveragePooling1D()(h)
    model = models.Model(inputs, layers.Dense(2, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=6, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "conv1d.keras")
    model.save(path)
    np.testing.assert_array_equal(models.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


@pytest.mark.parametrize("strides", [1, 2])
def test_causal_conv1d_matches_a_left_padded_reference_and_its_gradient(strides):
    saved = minidl.backend.floatx()
    minidl.backend.set_floatx("float64")
    try:
        conv = layers.Conv1D(3, 4, strides=strides, padding="causal",
                             bias_initializer="random_normal")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(2, 7, 2))
        y = conv(x)
        w, b = conv.kernel.value, conv.bias.value
        padded = np.concatenate([np.zeros((2, 3, 2)), x], axis=1)
        expected = np.stack([np.einsum("bkc,kcf->bf", padded[:, t:t + 4], w) + b
                             for t in range(0, 7, strides)], axis=1)
        np.testing.assert_allclose(y, expected, rtol=1e-12)
        assert y.shape == conv.compute_output_shape(x.shape) == (2, -(-7 // strides), 3)
        dy = rng.normal(size=y.shape)
        np.testing.assert_allclose(conv.backward(dy),
                                   numerical_gradient(lambda a: conv(a), x, dy),
                                   rtol=1e-6, atol=1e-9)
        later = x.copy()
        later[:, 5:] += 1.0  # the future changes: the outputs before step 5 do not
        np.testing.assert_array_equal(conv(later)[:, :5 // strides], y[:, :5 // strides])
        assert layers.Conv1D.from_config(conv.get_config()).get_config()["padding"] == "causal"
    finally:
        minidl.backend.set_floatx(saved)
