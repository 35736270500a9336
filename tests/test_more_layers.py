"""The 1-D padding, cropping and upsampling layers, SpatialDropout1D, GaussianNoise,
GaussianDropout, RepeatVector, Identity and TimeDistributed: against NumPy references,
central differences, and in a trained, saved and loaded sequence autoencoder."""
import numpy as np
import pytest

import minidl
from minidl import layers
from tests.gradcheck import numerical_gradient



SHAPING = [
    (lambda: layers.ZeroPadding1D((1, 2)), lambda x: np.pad(x, ((0, 0), (1, 2), (0, 0)))),
    (lambda: layers.ZeroPadding1D(3), lambda x: np.pad(x, ((0, 0), (3, 3), (0, 0)))),
    (lambda: layers.Cropping1D((2, 1)), lambda x: x[:, 2:-1]),
    (lambda: layers.UpSampling1D(3), lambda x: np.repeat(x, 3, axis=1)),
    (lambda: layers.RepeatVector(4), None),  # on (batch, features): see the test
    (lambda: layers.Identity(), lambda x: x),
]


@pytest.mark.parametrize("index", range(len(SHAPING)))
def test_shaping_layers_match_numpy_and_their_gradients(index, float64):
    make, reference = SHAPING[index]
    layer = make()
    rng = np.random.default_rng(index)
    x = rng.normal(size=(2, 6, 1 if isinstance(layer, layers.RepeatVector) else 3))
    if isinstance(layer, layers.RepeatVector):
        x = x[..., 0]
        expected = np.repeat(x[:, None, :], 4, axis=1)
    else:
        expected = reference(x)
    y = layer(x)
    np.testing.assert_array_equal(y, expected)
    assert y.shape == layer.compute_output_shape(x.shape)
    dy = rng.normal(size=y.shape)
    np.testing.assert_allclose(layer.backward(dy), numerical_gradient(lambda a: layer(a), x, dy),
                               rtol=1e-6, atol=1e-8)
    clone = type(layer).from_config(layer.get_config())
    np.testing.assert_array_equal(clone(x), y)


def test_spatial_dropout_1d_drops_whole_channels():
    layer = layers.SpatialDropout1D(0.5, seed=3)
    x = np.ones((8, 5, 6))
    assert np.array_equal(layer(x), x)  # inference: the identity
    y = layer(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0} and np.array_equal(y, np.repeat(y[:, :1], 5, 1))
    dy = np.random.default_rng(0).normal(size=x.shape)
    np.testing.assert_allclose(layer.backward(dy), dy * y)
    with pytest.raises(ValueError, match="rank 3"):
        layers.SpatialDropout1D(0.5)(np.ones((2, 3)), training=True)


def test_gaussian_noise_and_dropout_statistics_and_gradients():
    x = np.full((4000, 5), 3.0)
    noise = layers.GaussianNoise(0.2, seed=1)
    y = noise(x, training=True)
    assert abs(float((y - x).std()) - 0.2) < 0.01 and abs(float((y - x).mean())) < 0.01
    assert np.array_equal(noise(x), x)
    np.testing.assert_array_equal(noise.backward(np.ones_like(x)), np.ones_like(x))
    drop = layers.GaussianDropout(0.2, seed=2)
    y = drop(x, training=True)
    factors = y / x
    assert abs(float(factors.std()) - np.sqrt(0.2 / 0.8)) < 0.01
    assert abs(float(factors.mean()) - 1.0) < 0.01
    np.testing.assert_allclose(drop.backward(np.ones_like(x)), factors, rtol=1e-6)
    again = layers.GaussianNoise(0.2, seed=1)(x, training=True)
    np.testing.assert_array_equal(again, noise.__class__(0.2, seed=1)(x, training=True))
    with pytest.raises(ValueError, match="'rate'"):
        layers.GaussianDropout(1.0)


def test_time_distributed_is_the_layer_at_every_step(float64):
    dense = layers.Dense(2, activation="tanh")
    each = layers.TimeDistributed(dense)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4, 5))
    y = each(x)
    expected = np.stack([dense(x[:, t]) for t in range(4)], axis=1)
    np.testing.assert_allclose(y, expected, rtol=1e-14)
    each(x)  # the forward the backward reads
    dy = rng.normal(size=y.shape)
    dx = each.backward(dy)
    np.testing.assert_allclose(dx, numerical_gradient(lambda a: each(a), x, dy), rtol=1e-6,
                               atol=1e-9)
    assert each.weights == dense.weights


def test_an_lstm_autoencoder_trains_saves_and_loads(tmp_path):
    """The RepeatVector / TimeDistributed sequence autoencoder of Keras's blog post
    "Building Autoencoders in Keras", small: it learns to reproduce short sequences."""
    minidl.utils.set_random_seed(0)
    rng = np.random.default_rng(6)
    x = np.cumsum(rng.normal(scale=0.3, size=(128, 6, 2)), axis=1)
    inputs = minidl.Input((6, 2))
    encoded = layers.LSTM(16)(layers.GaussianNoise(0.01)(inputs))
    decoded = layers.LSTM(16, return_sequences=True)(layers.RepeatVector(6)(encoded))
    outputs = layers.TimeDistributed(layers.Dense(2))(decoded)
    model = minidl.Model(inputs, outputs)
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, x, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    model.save(tmp_path / "autoencoder.keras")
    loaded = minidl.models.load_model(tmp_path / "autoencoder.keras")
    np.testing.assert_array_equal(loaded.predict(x[:4], verbose=0),
                                  model.predict(x[:4], verbose=0))


@pytest.mark.parametrize("shared_axes", [None, [1, 2]])
def test_prelu_against_numpy_central_differences_and_torch(shared_axes, float64):
    prelu = layers.PReLU(alpha_initializer="random_normal", shared_axes=shared_axes)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 4, 5, 2))
    y = prelu(x)
    alpha = prelu.alpha.value
    np.testing.assert_allclose(y, np.where(x > 0, x, alpha * x), rtol=1e-15)
    assert alpha.shape == ((1, 1, 2) if shared_axes else (4, 5, 2))
    dy = rng.normal(size=y.shape)
    np.testing.assert_allclose(prelu.backward(dy),
                               numerical_gradient(lambda a: prelu(a), x, dy),
                               rtol=1e-7, atol=1e-9)
    analytic = prelu.alpha.grad.copy()

    def at(value):
        prelu.alpha.value[...] = value
        return prelu(x)
    numeric = numerical_gradient(at, alpha.copy(), dy)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)
    clone = layers.PReLU.from_config(prelu.get_config())
    assert clone.shared_axes == prelu.shared_axes
    with pytest.raises(ValueError, match="'shared_axes'"):
        layers.PReLU(shared_axes=[0])
