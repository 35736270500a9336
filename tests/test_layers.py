"""Layers: shapes, weight counts, config round trips, backward vs finite differences."""
import numpy as np
import pytest

from minidl import layers

from gradcheck import assert_gradient


def _layer_cases():
    """(factory, input shape) pairs covering every layer and its options."""
    return [
        (lambda: layers.Dense(5, activation="tanh", dtype="float64"), (3, 7)),
        (lambda: layers.Dense(4, activation="softmax", dtype="float64"), (2, 6)),
        (lambda: layers.Dense(3, use_bias=False, activation="sigmoid", dtype="float64"), (2, 3, 4)),
        (lambda: layers.Conv2D(4, 3, padding="same", activation="relu", dtype="float64"), (2, 5, 6, 3)),
        (lambda: layers.Conv2D(3, (3, 2), strides=2, activation="tanh", dtype="float64"), (2, 7, 6, 2)),
        (lambda: layers.Conv2D(2, 1, activation="softmax", dtype="float64"), (1, 3, 3, 2)),
        (lambda: layers.BatchNormalization(dtype="float64"), (6, 5)),
        (lambda: layers.BatchNormalization(dtype="float64"), (3, 4, 5, 3)),
        (lambda: layers.BatchNormalization(center=False, scale=False, dtype="float64"), (8, 3)),
        (lambda: layers.MaxPooling2D(dtype="float64"), (2, 6, 6, 3)),
        (lambda: layers.MaxPooling2D(3, strides=2, padding="same", dtype="float64"), (1, 7, 5, 2)),
        (lambda: layers.AveragePooling2D(dtype="float64"), (2, 6, 4, 3)),
        (lambda: layers.AveragePooling2D(3, 1, padding="same", dtype="float64"), (1, 5, 5, 2)),
        (lambda: layers.Flatten(dtype="float64"), (2, 3, 4, 2)),
        (lambda: layers.Activation("tanh", dtype="float64"), (3, 4)),
        (lambda: layers.Resizing(7, 5, dtype="float64"), (2, 4, 3, 2)),
    ]


@pytest.mark.parametrize("case", range(len(_layer_cases())))
def test_backward_matches_finite_differences(case):
    factory, shape = _layer_cases()[case]
    layer = factory()
    rng = np.random.default_rng(case)
    # distinct, well separated values keep max pooling away from ties
    x = rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) + \
        rng.standard_normal(shape) * 1e-3
    y = layer(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    assert_gradient(lambda v: layer(v, training=True), x, dy, dx, rtol=1e-5, atol=1e-7)
    for variable in layer.trainable_weights:
        grad = variable.grad.copy()
        original = variable.value.copy()

        def with_weight(v, variable=variable):
            variable.value[...] = v
            return layer(x, training=True)

        assert_gradient(with_weight, original, dy, grad, rtol=1e-5, atol=1e-7)
        variable.value[...] = original


@pytest.mark.parametrize("layer,input_shape,output_shape,trainable,non_trainable", [
    (layers.Dense(10), (None, 20), (None, 10), 210, 0),
    (layers.Conv2D(32, 3, padding="same"), (None, 32, 32, 3), (None, 32, 32, 32), 896, 0),
    (layers.Conv2D(6, 5), (None, 32, 32, 1), (None, 28, 28, 6), 156, 0),
    (layers.Conv2D(8, 3, strides=2, use_bias=False), (None, 9, 9, 4), (None, 4, 4, 8), 288, 0),
    (layers.BatchNormalization(), (None, 320, 320, 3), (None, 320, 320, 3), 6, 6),
    (layers.BatchNormalization(center=False), (None, 7), (None, 7), 7, 14),
    (layers.MaxPooling2D(), (None, 32, 32, 32), (None, 16, 16, 32), 0, 0),
    (layers.AveragePooling2D(), (None, 28, 28, 6), (None, 14, 14, 6), 0, 0),
    (layers.Flatten(), (None, 8, 8, 64), (None, 4096), 0, 0),
    (layers.Dropout(0.5), (None, 12), (None, 12), 0, 0),
    (layers.Resizing(32, 32), (None, 28, 28, 1), (None, 32, 32, 1), 0, 0),
])
def test_shapes_and_weight_counts(layer, input_shape, output_shape, trainable, non_trainable):
    layer.build(input_shape)
    assert layer.compute_output_shape(input_shape) == output_shape
    assert sum(v.value.size for v in layer.trainable_weights) == trainable
    assert sum(v.value.size for v in layer.non_trainable_weights) == non_trainable
    x = np.zeros((2,) + input_shape[1:], np.float32)
    assert layer(x).shape == (2,) + output_shape[1:]


@pytest.mark.parametrize("layer", [
    layers.Dense(3, activation="relu", use_bias=False, kernel_initializer="he_uniform"),
    layers.Conv2D(4, (3, 5), strides=(2, 1), padding="same", activation="sigmoid"),
    layers.BatchNormalization(axis=-1, momentum=0.9, epsilon=1e-5, center=False),
    layers.MaxPooling2D(3, 2, "same"), layers.AveragePooling2D(2), layers.Flatten(),
    layers.Activation("softmax"), layers.Dropout(0.25, seed=3), layers.Resizing(8, 9),
])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = layers.deserialize(layers.serialize(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


def _moving_reference(batches, momentum):
    """Keras 3 moving statistics over the batches, in float64."""
    mean = np.zeros(batches[0].shape[-1])
    var = np.ones(batches[0].shape[-1])
    for b in batches:
        axes = tuple(range(b.ndim - 1))
        mean = mean * momentum + b.mean(axis=axes) * (1 - momentum)
        var = var * momentum + b.var(axis=axes) * (1 - momentum)
    return mean, var


def test_batchnorm_moving_statistics_follow_keras_formula():
    rng = np.random.default_rng(0)
    layer = layers.BatchNormalization(momentum=0.9, dtype="float64")
    batches = [rng.normal(3.0, 2.0, (8, 4, 4, 5)) for _ in range(6)]
    for b in batches:
        layer(b, training=True)
    mean, var = _moving_reference(batches, 0.9)
    np.testing.assert_allclose(layer.moving_mean.value, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.value, var, rtol=1e-12)


def test_batchnorm_training_and_inference_outputs():
    rng = np.random.default_rng(1)
    layer = layers.BatchNormalization(epsilon=1e-3, dtype="float64")
    x = rng.normal(5.0, 3.0, (16, 6))
    layer.build(x.shape)
    layer.gamma.assign(rng.uniform(0.5, 2, 6))
    layer.beta.assign(rng.normal(size=6))
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    train = layer(x, training=True)
    want_train = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) + beta
    np.testing.assert_allclose(train, want_train, rtol=1e-10)
    infer = layer(x, training=False)
    mm, mv = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    np.testing.assert_allclose(infer, gamma * (x - mm) / np.sqrt(mv + 1e-3) + beta, rtol=1e-10)
    assert not np.allclose(train, infer)


def test_batchnorm_not_trainable_freezes_and_runs_in_inference_mode():
    rng = np.random.default_rng(2)
    layer = layers.BatchNormalization(dtype="float64")
    x = rng.normal(2.0, 1.0, (10, 3))
    layer.build(x.shape)
    layer.trainable = False
    before = layer.get_weights()
    y = layer(x, training=True)
    after = layer.get_weights()
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)  # moving statistics untouched
    np.testing.assert_allclose(y, (x - 0.0) / np.sqrt(1.0 + 1e-3), rtol=1e-12)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    assert [v.name for v in layer.weights] == ["gamma", "beta", "moving_mean",
                                               "moving_variance"]


def test_dropout_scales_in_training_and_is_identity_at_inference():
    layer = layers.Dropout(0.25, seed=7)
    x = np.ones((400, 50), np.float32)
    y = layer(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="Dense: argument 'units'"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="Conv2D: argument 'filters'"):
        layers.Conv2D(-1, 3)
    with pytest.raises(ValueError, match="Conv2D: argument 'padding'"):
        layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="Conv2D: argument 'strides'"):
        layers.Conv2D(2, 3, strides=0)
    with pytest.raises(ValueError, match="Unknown activation: 'hard_tanh'"):
        layers.Dense(2, activation="hard_tanh")
    with pytest.raises(ValueError, match="Dropout: argument 'rate'"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="BatchNormalization: argument 'momentum'"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(TypeError, match="unexpected keyword"):
        layers.Dense(3, foo=1)
    conv = layers.Conv2D(4, 3)
    conv(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"Input 0 of layer 'conv2d.*expected shape \(None, 5, 5, 3\). Received: shape \(1, 5, 5, 2\)"):
        conv(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="larger than the input"):
        layers.Conv2D(2, 7).build((None, 5, 5, 1))
    with pytest.raises(ValueError, match="must have rank 4"):
        layers.MaxPooling2D().build((None, 5, 5))
    with pytest.raises(ValueError, match="set_weights expects a list of 2"):
        dense = layers.Dense(2)
        dense.build((None, 3))
        dense.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"weight '[a-z_0-9]*/kernel' has shape \(3, 2\)"):
        dense.set_weights([np.zeros((2, 3)), np.zeros(2)])
