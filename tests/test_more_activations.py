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
