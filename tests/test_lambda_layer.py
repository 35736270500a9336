"""Lambda layers: their values, their gradients (recorded NumPy operations) against
central differences, inside trained models, and what they refuse."""
import numpy as np
import pytest

import minidl
from minidl import layers, ops
from tests.gradcheck import numerical_gradient



FUNCTIONS = {
    "scale and shift": lambda x: x / 255.0 - 0.5,
    "gated by a row statistic": lambda x: np.tanh(x) * x.mean(axis=-1, keepdims=True),
    "squared norm": lambda x: (x ** 2).sum(axis=-1, keepdims=True),
    "clip and exp": lambda x: np.exp(np.clip(x, -1.0, 1.0)),
    "slice": lambda x: x[:, 1:3] * 2.0,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_value_and_gradient_match_numpy_and_central_differences(name, float64):
    function = FUNCTIONS[name]
    layer = layers.Lambda(function)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    y = layer(x)
    np.testing.assert_allclose(y, function(x), rtol=1e-15)
    assert layer.compute_output_shape((None, 4)) == (None,) + y.shape[1:]
    dy = rng.normal(size=y.shape)
    np.testing.assert_allclose(layer.backward(dy),
                               numerical_gradient(lambda a: function(a), x, dy),
                               rtol=1e-6, atol=1e-9)


def test_a_model_with_a_lambda_trains_and_refuses_to_save(tmp_path):
    minidl.utils.set_random_seed(0)
    inputs = minidl.Input((3,))
    h = layers.Dense(8, activation="tanh")(inputs)
    h = layers.Lambda(lambda t, power: t ** power, arguments={"power": 2})(h)
    model = minidl.Model(inputs, layers.Dense(1)(h))
    model.compile(optimizer=minidl.optimizers.Adam(0.05), loss="mse")
    x = np.random.default_rng(1).normal(size=(64, 3))
    history = model.fit(x, np.abs(x[:, :1]), epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    path = tmp_path / "lambda.keras"
    with pytest.raises(NotImplementedError, match="Python function"):
        model.save(path)
    assert not path.exists()
    model.save_weights(tmp_path / "lambda.weights.h5")


def test_a_function_outside_the_recorded_operations_fails_in_backward_only():
    layer = layers.Lambda(lambda x: ops.relu(x))  # ops convert the tensor to an array
    y = layer(np.array([[-1.0, 2.0]]))
    np.testing.assert_array_equal(y, [[0.0, 2.0]])
    with pytest.raises(NotImplementedError, match="Lambda 'lambda.*not recorded"):
        layer.backward(np.ones((1, 2)))
    sine = layers.Lambda(np.sin)
    sine(np.ones((1, 2)))
    with pytest.raises(NotImplementedError, match="numpy.sin"):
        sine.backward(np.ones((1, 2)))
    with pytest.raises(TypeError, match="'function'"):
        layers.Lambda(3)


def test_a_lambda_on_a_list_of_inputs_as_the_siamese_distance(float64):
    """Keras 2's mnist_siamese distance, written with the backend functions: values and
    both inputs' gradients against central differences, and inside a two-input model."""
    from minidl import backend as K

    def euclidean_distance(vectors):
        x, y = vectors
        return K.sqrt(K.maximum(K.sum(K.square(x - y), axis=1, keepdims=True), K.epsilon()))

    distance = layers.Lambda(euclidean_distance)
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    y = distance([a, b])
    np.testing.assert_allclose(y, np.linalg.norm(a - b, axis=1, keepdims=True), rtol=1e-12)
    dy = rng.normal(size=y.shape)
    da, db = distance.backward(dy)
    np.testing.assert_allclose(da, numerical_gradient(lambda v: distance([v, b]), a, dy),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(db, numerical_gradient(lambda v: distance([a, v]), b, dy),
                               rtol=1e-6, atol=1e-9)
    left, right = minidl.Input((3,)), minidl.Input((3,))
    shared = layers.Dense(4)
    model = minidl.Model([left, right], distance([shared(left), shared(right)]))
    assert model.output_shape == (None, 1)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit([a, b], np.zeros((4, 1)), epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
