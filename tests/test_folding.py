"""Batch normalization folded into the convolution or dense layer before it, or moved into
the one after it, at inference, and average pooling done in the convolution's call
(minidl.models.folding): the same predictions as the unfolded layers to float32
round-off (the pooling bit for bit), the fold actually taken (no batch-norm or pooling
pass left) where it applies and not where it cannot be, the model's weights untouched,
and the formulas checked in float64."""
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
    _assert_no_batch_norm_pass(_trained(make(), x, y), x, monkeypatch, atol=1e-6)


def _assert_no_batch_norm_pass(model, x, monkeypatch, atol):
    """predict runs no batch-norm pass (every one folded or moved), equals the layers'
    forward to float32 round-off and leaves the weights as they were."""
    before = [w.copy() for w in model.get_weights()]
    want = _unfolded(model, x)
    calls = _counting(monkeypatch, "batch_normalization")
    got = model.predict(x, batch_size=16, verbose=0)
    assert calls == []
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=atol)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def _counting(monkeypatch, name):
    """Count the calls of ``ops.<name>`` from now on."""
    calls = []
    real = getattr(ops, name)
    monkeypatch.setattr(ops, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_batch_norm_after_an_activation_without_a_layer_to_move_into_stays(images,
                                                                        monkeypatch):
    """BN after the sigmoid, then a 'same' convolution (its zero padding would not be
    shifted): BN stays one scale-and-shift pass, the predictions bit for bit."""
    x, y = images
    model = _trained([minidl.Input((10, 10, 3)),
                      layers.Conv2D(4, 3, activation="sigmoid", padding="same"),
                      layers.BatchNormalization(), layers.Conv2D(3, 3, padding="same"),
                      layers.Flatten(), layers.Dense(4, activation="softmax")], x, y)
    calls = _counting(monkeypatch, "batch_normalization")
    np.testing.assert_array_equal(model.predict(x, batch_size=48, verbose=0),
                                  _unfolded(model, x))
    assert calls == [1, 1]  # once in predict, once in the unfolded reference


@pytest.mark.parametrize("make", [
    # LeNet-5 with BN after each tanh: through the average pools into conv2 and dense 1
    lambda: [minidl.Input((16, 16, 1)), layers.Conv2D(6, 3, activation="tanh"),
             layers.BatchNormalization(), layers.AveragePooling2D(2),
             layers.Conv2D(8, 3, activation="tanh"), layers.BatchNormalization(),
             layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(8, activation="tanh"),
             layers.Dense(4, activation="softmax")],
    # the seed CIFAR order: after the sigmoid, through the max pool and the flatten
    lambda: [minidl.Input((10, 10, 3)), layers.Conv2D(4, 3, activation="sigmoid"),
             layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Flatten(),
             layers.Dense(4, activation="softmax")],
    # into a strided 'valid' convolution with a non-fused activation, straight after
    lambda: [minidl.Input((10, 10, 3)), layers.Conv2D(4, 3, activation="relu"),
             layers.BatchNormalization(), layers.Conv2D(5, 3, strides=2, activation="elu"),
             layers.Flatten(), layers.Dense(4, activation="softmax")],
], ids=["lenet", "maxpool-flatten-dense", "strided-conv"])
def test_batch_norm_after_an_activation_moves_into_the_next_layer(images, make, monkeypatch):
    """s * x + t per channel commutes with average pooling, with max pooling when s >= 0
    (the trained gammas are) and with a flatten, and a 'valid' convolution or a dense
    layer absorbs it: W' = W * s per input channel, b' = b + sum W t."""
    x, y = images
    stack = make()
    if stack[0].shape[-1] == 1:
        x = x[:, :, :, :1].repeat(2, axis=1).repeat(2, axis=2)[:, :16, :16]
    model = _trained(stack, x, y)
    for layer in model.layers:  # statistics and scales far from the identity
        if isinstance(layer, layers.BatchNormalization):
            layer.gamma.assign(np.abs(layer.gamma.numpy()) * 1.7 + 0.2)
            layer.beta.assign(layer.beta.numpy() - 0.8)
            layer.moving_variance.assign(layer.moving_variance.numpy() * 3.0 + 0.1)
    _assert_no_batch_norm_pass(model, x, monkeypatch, atol=2e-6)


def test_a_negative_scale_does_not_pass_a_max_pool(images, monkeypatch):
    x, y = images
    model = _trained([minidl.Input((10, 10, 3)), layers.Conv2D(4, 3, activation="relu"),
                      layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Flatten(),
                      layers.Dense(4, activation="softmax")], x, y)
    model.layers[1].gamma.assign(np.array([1.0, -0.5, 2.0, 1.0], np.float32))
    calls = _counting(monkeypatch, "batch_normalization")
    np.testing.assert_array_equal(model.predict(x, batch_size=48, verbose=0),
                                  _unfolded(model, x))
    assert calls == [1, 1]


@pytest.mark.parametrize("in_channels,activation", [(1, "tanh"), (3, "relu"), (2, "linear")])
def test_average_pooling_runs_in_the_convolutions_call_with_the_same_bits(
        in_channels, activation, rng, monkeypatch):
    """Conv2D then a 2x2 average pooling: one conv call with pool='average' (the
    one-channel path and the general one), no pooling pass, the same bits; a 3x3 or
    'same' pooling is left alone."""
    stack = [minidl.Input((13, 15, in_channels)), layers.Conv2D(5, 3, activation=activation),
             layers.AveragePooling2D(2), layers.Conv2D(4, 2, activation="sigmoid"),
             layers.AveragePooling2D(2, padding="same"), layers.Flatten(), layers.Dense(3)]
    model = models.Sequential(stack)
    x = rng.normal(size=(7, 13, 15, in_channels)).astype(np.float32)
    want = _unfolded(model, x)
    pools = _counting(monkeypatch, "average_pool")
    np.testing.assert_array_equal(model.predict(x, batch_size=4, verbose=0), want)
    assert pools == [1, 1]  # the 'same' pooling only, once per batch


def test_the_absorbing_formula_in_float64(rng):
    conv = layers.Conv2D(5, 3, dtype="float64")
    dense = layers.Dense(3, dtype="float64")
    x = rng.normal(size=(2, 6, 6, 4))
    conv(x)
    dense(x.reshape(2, -1))
    scale, shift = rng.normal(size=4), rng.normal(size=4)
    kernel, bias = folding.absorbed_weights(conv, scale, shift)
    np.testing.assert_allclose(ops.conv(x, kernel, bias=bias),
                               conv(x * scale + shift, training=False), rtol=1e-12, atol=1e-12)
    kernel, bias = folding.absorbed_weights(dense, scale, shift)  # after a flatten
    np.testing.assert_allclose(ops.bias_add(ops.matmul(x.reshape(2, -1), kernel), bias),
                               dense((x * scale + shift).reshape(2, -1), training=False),
                               rtol=1e-12, atol=1e-12)


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
