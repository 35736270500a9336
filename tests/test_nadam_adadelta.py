"""Nadam and Adadelta (C kernels through minidl.ops and the optimizers) against float64
NumPy references written from Keras 3's update_step."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, ops, optimizers


def _nadam_reference(w, grads, lr, b1, b2, eps):
    w, m, v, product = w.astype(np.float64), 0.0, 0.0, 1.0
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        u_t, u_next = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        product *= u_t
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        w = w - lr * m_hat / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return w


def _adadelta_reference(w, grads, lr, rho, eps):
    w, a, d_acc = w.astype(np.float64), 0.0, 0.0
    for g in grads:
        g = g.astype(np.float64)
        a = rho * a + (1 - rho) * g * g
        delta = -np.sqrt(d_acc + eps) * g / np.sqrt(a + eps)
        d_acc = rho * d_acc + (1 - rho) * delta * delta
        w = w + lr * delta
    return w


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_the_ops_follow_keras(dtype, rtol):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(37).astype(dtype)
    grads = [(rng.standard_normal(37) * (k + 0.5)).astype(dtype) for k in range(6)]
    w, m, v = w0.copy(), np.zeros(37, dtype), np.zeros(37, dtype)
    for t, g in enumerate(grads, 1):
        ops.nadam_update(w, g, m, v, t, learning_rate=0.01, beta_1=0.9, beta_2=0.99)
    np.testing.assert_allclose(w, _nadam_reference(w0, grads, 0.01, 0.9, 0.99, 1e-7),
                               rtol=rtol, atol=rtol)
    w, a, d = w0.copy(), np.zeros(37, dtype), np.zeros(37, dtype)
    for g in grads:
        ops.adadelta_update(w, g, a, d, learning_rate=1.0, rho=0.9, epsilon=1e-6)
    np.testing.assert_allclose(w, _adadelta_reference(w0, grads, 1.0, 0.9, 1e-6),
                               rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name,factory", [("nadam", lambda: optimizers.Nadam(0.01)),
                                          ("adadelta", lambda: optimizers.Adadelta(1.0))])
def test_the_optimizers_train_save_and_resume(name, factory, tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.random((32, 5)).astype(np.float32), rng.integers(0, 3, 32)

    def model():
        minidl.utils.set_random_seed(0)
        net = models.Sequential([minidl.Input((5,)), layers.Dense(8, activation="tanh"),
                                 layers.Dense(3, activation="softmax")])
        return net

    whole = model()
    whole.compile(optimizer=factory(), loss="sparse_categorical_crossentropy")
    history = whole.fit(x, y, epochs=4, batch_size=8, verbose=0, shuffle=False)
    assert history.history["loss"][-1] < history.history["loss"][0]
    halves = model()
    halves.compile(optimizer=name if name == "nadam" else factory(),
                   loss="sparse_categorical_crossentropy")
    if name == "nadam":
        halves.optimizer.learning_rate = 0.01
    halves.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    halves.save(tmp_path / "half.keras")
    resumed = minidl.saving.load_model(tmp_path / "half.keras")
    resumed.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments():
    w = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="beta_1"):
        ops.nadam_update(w, w, w.copy(), w.copy(), 1, beta_1=1.0)
    with pytest.raises(ValueError, match="rho"):
        optimizers.Adadelta(rho=1.5)
    assert optimizers.get("adadelta").get_config()["rho"] == 0.95
