"""GroupNormalization against a float64 NumPy reference of Keras's definition and
central-difference gradients."""
import numpy as np
import pytest

import minidl
from minidl import layers, models
from gradcheck import assert_gradient


def reference(x, groups, gamma, beta, epsilon):
    """Keras's group normalization in float64: statistics per sample and group of
    contiguous channels over every position, then gamma/beta per channel."""
    x = np.asarray(x, np.float64)
    n, channels = x.shape[0], x.shape[-1]
    groups = channels if groups == -1 else groups
    grouped = x.reshape(n, -1, groups, channels // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    var = grouped.var(axis=(1, 3), keepdims=True)
    normalized = ((grouped - mean) / np.sqrt(var + epsilon)).reshape(x.shape)
    return normalized * gamma + beta


@pytest.mark.parametrize("shape,groups", [((2, 5, 4, 6), 3), ((3, 4, 4, 8), 1),
                                          ((2, 3, 3, 4), -1), ((4, 7, 6), 2),
                                          ((2, 6, 5, 32), 32)])
def test_forward_matches_the_reference(shape, groups):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    layer = layers.GroupNormalization(groups=groups, epsilon=1e-3,
                                      gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    y = layer(x.astype(np.float32))
    want = reference(x.astype(np.float32), groups, layer.gamma.value, layer.beta.value, 1e-3)
    assert y.shape == shape and y.dtype == np.float32
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    # independent of the other samples of the batch (unlike batch norm)
    np.testing.assert_allclose(layer(x[:1].astype(np.float32)), y[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("groups,center,scale", [(2, True, True), (-1, False, True),
                                                 (1, True, False)])
def test_gradients_match_central_differences(groups, center, scale):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 3, 4))
    layer = layers.GroupNormalization(groups=groups, center=center, scale=scale,
                                      gamma_initializer="random_normal", dtype="float64")
    dy = rng.standard_normal(x.shape)
    layer(x)
    dx = layer.backward(dy)
    assert_gradient(lambda v: layer(v), x, dy, dx, rtol=1e-5)
    if scale:
        gamma = layer.gamma.value.copy()
        grad = layer.gamma.grad.copy()

        def with_gamma(g):
            layer.gamma.value[...] = g
            return layer(x)
        assert_gradient(with_gamma, gamma, dy, grad, rtol=1e-5)
        layer.gamma.value[...] = gamma
    if center:
        np.testing.assert_allclose(layer.beta.grad, dy.sum(axis=(0, 1, 2)), rtol=1e-10)


def test_bad_arguments_are_refused_before_any_work():
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(NotImplementedError, match="axis"):
        layers.GroupNormalization(axis=1)
    with pytest.raises(ValueError, match=r"GroupNormalization.*must divide.*\(None, 4, 4, 6\)"):
        layers.GroupNormalization(groups=4)(np.zeros((2, 4, 4, 6), np.float32))


def test_trains_in_a_model_and_round_trips_through_save(tmp_path):
    rng = np.random.default_rng(2)
    x, y = rng.random((24, 8, 8, 3)).astype(np.float32), rng.integers(0, 3, 24)
    model = models.Sequential([minidl.Input((8, 8, 3)), layers.Conv2D(8, 3),
                               layers.GroupNormalization(groups=4), layers.Activation("relu"),
                               layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "gn.keras")
    model.save(path)
    loaded = models.load_model(path)
    assert loaded.layers[1].groups == 4
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
