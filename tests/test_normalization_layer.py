"""keras.layers.Normalization: adapt against NumPy's float64 moments, the output and
its gradient, the inverse, and a model that trains, saves and loads with it."""
import numpy as np
import pytest

import minidl
from minidl import layers
from tests.gradcheck import numerical_gradient


@pytest.mark.parametrize("axis, shape", [(-1, (50, 3)), (None, (40, 2)), (1, (30, 4, 5)),
                                         (-1, (20, 3, 2))])
def test_adapt_and_output_match_numpy(axis, shape):
    rng = np.random.default_rng(0)
    data = rng.normal(loc=5.0, scale=[2.0] * shape[-1], size=shape)
    data[:, ..., 0] = 7.0  # a constant feature: variance 0, divided by 1e-7
    norm = layers.Normalization(axis=axis)
    norm.adapt(data)
    reduced = tuple(a for a in range(data.ndim) if axis is None or a != axis % data.ndim)
    mean, variance = data.mean(axis=reduced), data.var(axis=reduced)
    np.testing.assert_allclose(norm.mean.value, mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(norm.variance.value, variance, rtol=1e-6, atol=1e-9)
    assert float(norm.count.value) == np.prod([data.shape[a] for a in reduced])
    shape_b = [1 if a in reduced else data.shape[a] for a in range(data.ndim)]
    expected = (data - mean.reshape(shape_b)) / np.maximum(np.sqrt(variance), 1e-7
                                                           ).reshape(shape_b)
    np.testing.assert_allclose(norm(data), expected, rtol=2e-5, atol=2e-5)


def test_adapt_on_batches_equals_adapt_on_the_whole():
    rng = np.random.default_rng(1)
    data = rng.normal(loc=1e4, size=(103, 3))  # a large mean: the merge must not cancel
    whole, batched = layers.Normalization(), layers.Normalization()
    whole.adapt(data)
    batched.adapt((data[i:i + 10], None) for i in range(0, 103, 10))
    np.testing.assert_allclose(batched.mean.value, whole.mean.value, rtol=1e-12)
    np.testing.assert_allclose(batched.variance.value, whole.variance.value, rtol=1e-6)


def test_gradient_and_inverse():
    saved = minidl.backend.floatx()
    minidl.backend.set_floatx("float64")
    try:
        mean, variance = np.array([1.0, -2.0]), np.array([4.0, 0.25])
        norm = layers.Normalization(mean=mean, variance=variance)
        inverse = layers.Normalization(mean=mean, variance=variance, invert=True)
        x = np.random.default_rng(2).normal(size=(5, 2))
        np.testing.assert_allclose(inverse(norm(x)), x, rtol=1e-12)
        for layer in (norm, inverse):
            dy = np.random.default_rng(3).normal(size=x.shape)
            layer(x)
            np.testing.assert_allclose(layer.backward(dy),
                                       numerical_gradient(lambda a: layer(a), x, dy),
                                       rtol=1e-7)
    finally:
        minidl.backend.set_floatx(saved)
    with pytest.raises(ValueError, match="both 'mean' and 'variance'"):
        layers.Normalization(mean=1.0)
    with pytest.raises(NotImplementedError, match="'axis'"):
        layers.Normalization(axis=(1, 2))


def test_the_regression_tutorial_model_trains_and_keeps_its_statistics(tmp_path):
    """TensorFlow's regression tutorial's shape: a Normalization adapted to the training
    features, then Dense layers; fit leaves the statistics as adapted."""
    minidl.utils.set_random_seed(0)
    rng = np.random.default_rng(4)
    x = rng.normal(loc=[100.0, -3.0, 0.01], scale=[30.0, 2.0, 0.005], size=(256, 3))
    y = (x - [100.0, -3.0, 0.01]) / [30.0, 2.0, 0.005] @ np.array([[1.0], [-2.0], [0.5]])
    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(x)
    adapted = normalizer.mean.value.copy()
    model = minidl.Sequential([normalizer, layers.Dense(16, activation="relu"),
                               layers.Dense(1)])
    model.compile(optimizer=minidl.optimizers.Adam(0.05), loss="mean_absolute_error")
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    np.testing.assert_array_equal(normalizer.mean.value, adapted)
    model.save(tmp_path / "regression.keras")
    loaded = minidl.models.load_model(tmp_path / "regression.keras")
    np.testing.assert_array_equal(loaded.predict(x[:8], verbose=0), model.predict(x[:8], verbose=0))
