"""Batch normalization folded into the convolution or dense layer before it at inference
(minidl.models.folding): the same predictions as the unfolded layers to float32
round-off, the fold actually taken (no batch-norm pass left) where it applies and not
where it cannot be, the model's weights untouched, and the formula checked in float64."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, ops
from minidl.models import folding


def _trained(stack, x, y, seed=0):
    minidl.utils.set_random_seed(seed)
    model = models.Sequential(stack)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)  # moving statistics away from 0/1
    return model


def _unfolded(model, x):
    """The inference forward layer by layer (no fold)."""
    for layer in model.layers:
        x = layer(x, training=False)
    return x


@pytest.fixture
def images(rng):
    return rng.normal(1.0, 2.0, (48, 10, 10, 3)).astype(np.float32), rng.integers(0, 4, 48)


@pytest.mark.parametrize("make", [
    lambda: [minidl.Input((10, 10, 3)), layers.Conv2D(8, 3, padding="same"),
             layers.BatchNormalization(), layers.Activation("relu"), layers.Flatten(),
             layers.Dense(16), layers.BatchNormalization(), layers.Activation("tanh"),
             layers.Dense(4, activation="softmax")],
    lambda: [minidl.Input((10, 10, 3)), layers.Conv2D(6, 3, strides=2, use_bias=False),
             layers.BatchNormalization(center=False), layers.Activation("sigmoid"),
             layers.GlobalAveragePooling2D(), layers.Dense(4, activation="softmax")],
], ids=["conv-and-dense", "no-bias-no-beta"])
def test_folded_predictions_equal_the_unfolded_ones(images, make, monkeypatch):
    x, y = images
    model = _trained(make(), x, y)
    before = [w.copy() for w in model.get_weights()]
    want = _unfolded(model, x)
    calls = []
    real = ops.batch_normalization
    monkeypatch.setattr(ops, "batch_normalization",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    got = model.predict(x, batch_size=16, verbose=0)
    assert calls == []  # every batch norm folded: no normalization pass left
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_batch_norm_after_an_activation_is_not_folded(images, monkeypatch):
    """The seed CIFAR order: BN after the sigmoid stays a scale-and-shift pass."""
    x, y = images
    model = _trained([minidl.Input((10, 10, 3)),
                      layers.Conv2D(4, 3, activation="sigmoid", padding="same"),
                      layers.BatchNormalization(), layers.Flatten(),
                      layers.Dense(4, activation="softmax")], x, y)
    calls = []
    real = ops.batch_normalization
    monkeypatch.setattr(ops, "batch_normalization",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    np.testing.assert_array_equal(model.predict(x, batch_size=48, verbose=0),
                                  _unfolded(model, x))
    assert calls == [1, 1]  # once in predict, once in the unfolded reference


def test_the_folding_formula_in_float64(rng):
    conv = layers.Conv2D(5, 3, dtype="float64")
    bn = layers.BatchNormalization(dtype="float64", epsilon=1e-3)
    x = rng.normal(size=(2, 6, 6, 3))
    bn(conv(x))
    for variable in (bn.gamma, bn.beta, bn.moving_mean):
        variable.assign(rng.normal(size=5))
    bn.moving_variance.assign(rng.random(5) + 0.1)
    kernel, bias = folding.folded_weights(conv, bn)
    np.testing.assert_allclose(ops.conv(x, kernel, bias=bias),
                               bn(conv(x), training=False), rtol=1e-12, atol=1e-12)


def test_training_and_concurrent_inference_are_unaffected(images):
    """fit still runs the layers (batch statistics in training); predict after more
    training folds the new weights."""
    x, y = images
    model = _trained([minidl.Input((10, 10, 3)), layers.Conv2D(4, 3),
                      layers.BatchNormalization(), layers.Activation("relu"),
                      layers.Flatten(), layers.Dense(4, activation="softmax")], x, y)
    first = model.predict(x, verbose=0)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    second = model.predict(x, verbose=0)
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, _unfolded(model, x), rtol=2e-5, atol=1e-6)
