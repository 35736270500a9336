"""elu, selu, softplus and leaky_relu (C kernels, float32 and float64) against float64
NumPy formulas of Keras's definitions and central-difference gradients."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, ops
from gradcheck import assert_gradient

SCALE, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
REFERENCE = {
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SCALE * np.where(x > 0, x, ALPHA * np.expm1(x)),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_forward_follows_keras(name, dtype, rtol):
    x = np.concatenate([np.linspace(-30, 30, 601), [-1e-8, 0.0, 1e-8, 80.0, -80.0]])
    got = ops.activation(x.astype(dtype), name)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, REFERENCE[name](x.astype(dtype).astype(np.float64)),
                               rtol=rtol, atol=rtol * 1e-3)
    assert np.isnan(ops.activation(np.array([np.nan], dtype), name)[0])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_backward_matches_central_differences(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 7)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # away from the kink at 0
    dy = rng.standard_normal(x.shape)
    y = ops.activation(x, name)
    analytic = ops.activation_backward(dy, y, name)
    assert_gradient(lambda v: ops.activation(v, name), x, dy, analytic, rtol=1e-6)


def test_a_dense_layer_trains_with_elu_and_the_functions_exist():
    rng = np.random.default_rng(1)
    x, y = rng.random((32, 5)).astype(np.float32), rng.integers(0, 2, 32)
    model = models.Sequential([minidl.Input((5,)), layers.Dense(8, activation="elu"),
                               layers.Dense(8, activation="selu"),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_allclose(minidl.activations.softplus(np.array([0.0])), [np.log(2)],
                               rtol=1e-12)
    assert minidl.activations.get(minidl.activations.leaky_relu) == "leaky_relu"


# ---------------------------------------------------------------- with a parameter

PARAMETERISED = {
    "elu": (ops.elu, ops.elu_backward, lambda x, a: np.where(x > 0, x, a * np.expm1(x))),
    "leaky_relu": (ops.leaky_relu, ops.leaky_relu_backward, lambda x, a: np.where(x > 0, x, a * x)),
}


@pytest.mark.parametrize("name", sorted(PARAMETERISED))
@pytest.mark.parametrize("parameter", [0.05, 0.3, 1.0, 2.5])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_parameterised_forward_follows_keras(name, parameter, dtype, rtol):
    forward, _, reference = PARAMETERISED[name]
    x = np.concatenate([np.linspace(-30, 30, 601), [-1e-8, 0.0, 1e-8, 80.0, -80.0]])
    got = forward(x.astype(dtype), parameter)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, reference(x.astype(dtype).astype(np.float64), parameter),
                               rtol=rtol, atol=rtol * 1e-3)
    assert np.isnan(forward(np.array([np.nan], dtype), parameter)[0])


@pytest.mark.parametrize("name", sorted(PARAMETERISED))
@pytest.mark.parametrize("parameter", [0.05, 0.3, 2.5])
def test_parameterised_backward_matches_central_differences(name, parameter):
    forward, backward, _ = PARAMETERISED[name]
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 6)) * 3
    x[np.abs(x) < 1e-3] = 0.5
    dy = rng.standard_normal(x.shape)
    analytic = backward(dy, forward(x, parameter), parameter)
    assert_gradient(lambda v: forward(v, parameter), x, dy, analytic, rtol=1e-6)


def test_the_default_parameters_are_the_fixed_activations():
    x = np.linspace(-4, 4, 97).astype(np.float32)
    np.testing.assert_array_equal(ops.elu(x), ops.activation(x, "elu"))
    np.testing.assert_array_equal(ops.leaky_relu(x), ops.activation(x, "leaky_relu"))
    dy = np.ones_like(x)
    np.testing.assert_array_equal(ops.elu_backward(dy, ops.elu(x)),
                                  ops.activation_backward(dy, ops.elu(x), "elu"))


@pytest.mark.parametrize("call,message", [
    (lambda: ops.elu(np.ones(2), alpha=0.0), "'alpha' must be > 0"),
    (lambda: ops.elu(np.ones(2), alpha=-1.0), "'alpha'"),
    (lambda: ops.leaky_relu(np.ones(2), negative_slope=-0.1), "'negative_slope'"),
    (lambda: ops.leaky_relu(np.ones(2), negative_slope=np.inf), "'negative_slope'"),
    (lambda: layers.LeakyReLU(negative_slope=-1), "LeakyReLU.*'negative_slope'"),
    (lambda: layers.ELU(alpha=-1), "ELU.*'alpha'"),
])
def test_bad_parameters_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_elu_alpha_zero_is_refused_as_not_implemented():
    with pytest.raises(NotImplementedError, match="ELU: alpha=0"):
        layers.ELU(alpha=0.0)


@pytest.mark.parametrize("layer,reference", [
    (lambda: layers.LeakyReLU(), lambda x: np.where(x > 0, x, 0.3 * x)),
    (lambda: layers.LeakyReLU(negative_slope=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (lambda: layers.ELU(), lambda x: np.where(x > 0, x, np.expm1(x))),
    (lambda: layers.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
])
def test_layers_forward_backward_and_config(layer, reference):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 5)) * 2
    instance = layer()
    y = instance(x.astype(np.float32))
    np.testing.assert_allclose(y, reference(x.astype(np.float32).astype(np.float64)),
                               rtol=2e-6, atol=1e-7)
    copy = type(instance).from_config(instance.get_config())
    np.testing.assert_array_equal(copy(x.astype(np.float32)), y)
    # the layer's backward against central differences, in float64
    instance = type(instance).from_config({**instance.get_config(), "dtype": "float64"})
    dy = rng.standard_normal(x.shape)
    instance(x)
    analytic = instance.backward(dy)
    assert_gradient(lambda v: instance(v), x, dy, analytic, rtol=1e-6)


def test_keras2_alpha_of_leaky_relu_is_accepted_with_a_warning():
    with pytest.warns(DeprecationWarning, match="alpha"):
        layer = layers.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2
    with pytest.warns(DeprecationWarning, match="alpha"):  # a Keras 2 config
        loaded = layers.deserialize({"class_name": "LeakyReLU",
                                     "config": {"alpha": 0.1, "name": "lr"}})
    assert loaded.negative_slope == 0.1 and loaded.get_config()["negative_slope"] == 0.1


def test_a_model_with_the_activation_layers_trains_and_saves(tmp_path):
    rng = np.random.default_rng(4)
    x, y = rng.random((32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    model = models.Sequential([minidl.Input((6,)), layers.Dense(8), layers.LeakyReLU(0.1),
                               layers.Dense(8), layers.ELU(0.7),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[1].negative_slope == pytest.approx(0.1)
    assert loaded.layers[3].alpha == pytest.approx(0.7)
