"""GELU and SiLU (swish): the C kernels against float64 references written with
math.erf, their gradients against central differences, in layers and models, and against
PyTorch where installed."""
import math

import numpy as np
import pytest

import minidl
from minidl import activations, layers, ops
from tests.gradcheck import numerical_gradient

X = np.concatenate([np.linspace(-12, 12, 97), [-80.0, -1e-3, 0.0, 1e-3, 80.0]])


def _gelu(x):
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.ravel()]
                    ).reshape(x.shape)


def _silu(x):
    return np.array([v / (1 + math.exp(-v)) if v > -700 else 0.0 for v in x.ravel()]
                    ).reshape(x.shape)


@pytest.mark.parametrize("name, reference", [("gelu", _gelu), ("silu", _silu)])
@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 2e-6), (np.float64, 1e-14)])
def test_forward_matches_the_float64_reference(name, reference, dtype, tolerance):
    y = ops.activation(X.astype(dtype), name)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, reference(X.astype(dtype).astype(np.float64)),
                               rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_gradient_matches_central_differences(name):
    rng = np.random.default_rng(0)
    x = rng.normal(scale=3, size=(4, 5))
    dy = rng.normal(size=x.shape)
    dx = ops.activation_backward(dy, ops.activation(x, name), name, x=x)
    numeric = numerical_gradient(lambda a: ops.activation(a, name), x, dy)
    np.testing.assert_allclose(dx, numeric, rtol=1e-7, atol=1e-9)
    backward = {"gelu": ops.gelu_backward, "silu": ops.silu_backward}[name]
    np.testing.assert_array_equal(backward(dy, x), dx)


@pytest.mark.parametrize("activation", ["gelu", "swish", "silu"])
def test_layers_with_these_activations_train_with_correct_gradients(activation):
    saved = minidl.backend.floatx()
    minidl.backend.set_floatx("float64")
    try:
        minidl.utils.set_random_seed(0)
        dense = layers.Dense(3, activation=activation)
        act = layers.Activation(activation)
        rng = np.random.default_rng(1)
        x = rng.normal(size=(4, 2))
        y = act(dense(x))
        dy = rng.normal(size=y.shape)
        dx = dense.backward(act.backward(dy))
        numeric = numerical_gradient(lambda a: act(dense(a)), x, dy)
        np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-9)
    finally:
        minidl.backend.set_floatx(saved)
    assert dense.get_config()["activation"] == ("gelu" if activation == "gelu" else "silu")
    model = minidl.Sequential([layers.Input((2,)), layers.Dense(8, activation=activation),
                               layers.Dense(1)])
    model.compile(optimizer=minidl.optimizers.Adam(0.05), loss="mse")
    x = np.random.default_rng(2).normal(size=(64, 2))
    history = model.fit(x, x[:, :1] * x[:, 1:], epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_refusals_name_what_is_missing():
    with pytest.raises(NotImplementedError, match="approximate"):
        activations.gelu(np.ones(2), approximate=True)
    with pytest.raises(ValueError, match="pass x"):
        ops.activation_backward(np.ones(2), np.ones(2), "gelu")
    assert activations.swish is activations.silu and activations.get("Swish") == "silu"


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    for name, function in (("gelu", torch.nn.functional.gelu),
                           ("silu", torch.nn.functional.silu)):
        y = function(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        np.testing.assert_allclose(ops.activation(X, name), y.detach().numpy(), rtol=1e-13,
                                   atol=1e-15)
        np.testing.assert_allclose(ops.activation_backward(np.ones_like(X), None, name, x=X),
                                   grad.numpy(), rtol=1e-12, atol=1e-15)
