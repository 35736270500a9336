"""minidl.callbacks.LayerStatistics (per-layer gradient norms and activation statistics)
and the Keras 2 metric names of History, checked against independent computations."""
import json
import warnings

import numpy as np
import pytest

import minidl
from minidl import callbacks, layers, optimizers
from minidl.models import Sequential


def _dense_model(seed=0):
    minidl.utils.set_random_seed(seed)
    model = Sequential([minidl.Input((5,)),
                        layers.Dense(4, activation="tanh", dtype="float64"),
                        layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _numpy_dense_step(weights, x, y):
    """Forward and backward of Dense(tanh) -> Dense(softmax) + mean categorical
    cross-entropy in float64, by hand: outputs and kernel gradients."""
    k1, b1, k2, b2 = weights
    h = np.tanh(x @ k1 + b1)
    logits = h @ k2 + b2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dlogits = (p - y) / len(x)
    dk2 = h.T @ dlogits
    dh = dlogits @ k2.T * (1 - h * h)
    dk1 = x.T @ dh
    return (h, p), (dk1, dk2)


def test_dense_statistics_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, (16, 5))
    y = np.eye(3)[rng.integers(0, 3, 16)]
    model = _dense_model()
    before = model.get_weights()
    stats = callbacks.LayerStatistics(every=1)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[stats])
    (h, p), (dk1, dk2) = _numpy_dense_step(before, x, y)
    assert stats.steps == [0] and stats.epochs == [0]
    first, second = stats.layers
    assert first["activation"] == "tanh" and second["activation"] == "softmax"
    assert first["kernel_gradient_norm"][0] == pytest.approx(np.linalg.norm(dk1), rel=1e-10)
    assert second["kernel_gradient_norm"][0] == pytest.approx(np.linalg.norm(dk2), rel=1e-10)
    assert first["output_mean"][0] == pytest.approx(h.mean(), rel=1e-10)
    assert first["output_std"][0] == pytest.approx(h.std(), rel=1e-10)
    assert first["saturated_fraction"][0] == pytest.approx(np.mean(1 - h * h < 0.01))
    assert second["output_mean"][0] == pytest.approx(p.mean(), rel=1e-10)
    assert second["saturated_fraction"][0] is None  # softmax is not a saturation count
    json.dumps(stats.as_dict())


def _conv_bn_model():
    minidl.utils.set_random_seed(3)
    model = Sequential([minidl.Input((6, 6, 1)),
                        layers.Conv2D(2, 3, activation="sigmoid", padding="same",
                                      dtype="float64"),
                        layers.BatchNormalization(dtype="float64"),
                        layers.MaxPooling2D(2, dtype="float64"),
                        layers.Flatten(dtype="float64"),
                        layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e-3),
                  loss="categorical_crossentropy")
    return model


def test_conv_gradient_norm_matches_finite_differences():
    """The recorded kernel gradient norm equals the norm of the central-difference
    gradient of the training-mode loss with respect to the kernel."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, (4, 6, 6, 1))
    y = np.eye(3)[rng.integers(0, 3, 4)]
    model = _conv_bn_model()
    weights = model.get_weights()
    loss = minidl.losses.get("categorical_crossentropy")

    def loss_at(kernel):
        probe = _conv_bn_model()
        probe.set_weights([kernel] + weights[1:])
        return float(np.mean(loss.compute(y, probe(x, training=True))))

    kernel, eps = weights[0], 1e-6
    numeric = np.zeros_like(kernel)
    for index in np.ndindex(kernel.shape):
        up, down = kernel.copy(), kernel.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (loss_at(up) - loss_at(down)) / (2 * eps)
    stats = callbacks.LayerStatistics(every=1)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[stats])
    conv = stats.layers[0]
    assert conv["kernel_gradient_norm"][0] == pytest.approx(np.linalg.norm(numeric), rel=1e-5)
    # BN's training output is standardised per channel: mean 0 over the batch, std
    # sqrt(var / (var + epsilon)) per channel, just below 1
    bn = stats.layers[1]
    assert bn["kernel_gradient_norm"][0] is None
    assert bn["output_mean"][0] == pytest.approx(0.0, abs=1e-9)
    assert 0.9 < bn["output_std"][0] < 1.0
    # Flatten is a view of the pooled output: the same statistics
    assert stats.layers[3]["output_std"] == stats.layers[2]["output_std"]


def test_every_and_steps_over_epochs():
    x = np.random.default_rng(0).normal(size=(40, 5))
    y = np.eye(3)[np.arange(40) % 3]
    model = _dense_model()
    stats = callbacks.LayerStatistics(every=3)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[stats])  # 5 steps/epoch
    assert stats.steps == [0, 3, 6, 9]
    assert stats.epochs == [0, 0, 1, 1]
    assert all(len(layer["output_mean"]) == 4 for layer in stats.layers)
    assert model._recorded_outputs is None  # nothing is recorded after fit


def test_layer_statistics_arguments():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="every"):
            callbacks.LayerStatistics(every=bad)


# ---------------------------------------------------------------- History: Keras 2 names


def test_history_answers_keras2_accuracy_names():
    model = _dense_model()
    x = np.random.default_rng(0).normal(size=(24, 5))
    y = np.eye(3)[np.arange(24) % 3]
    history = model.fit(x, y, batch_size=8, epochs=2, validation_data=(x, y), verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert history.history["acc"] is history.history["accuracy"]
        assert history.history["acc"] == history.history["accuracy"]
        assert history.history["val_acc"] is history.history["val_accuracy"]
        assert history.history.get("acc") is history.history["accuracy"]
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 2  # one per alias, however often it is read
    assert "'accuracy'" in str(deprecations[0].message)
    assert deprecations[0].filename == __file__  # points at the reading line
    keys = sorted(history.history)
    assert keys == ["accuracy", "loss", "val_accuracy", "val_loss"]  # stored once
    assert "acc" not in history.history and len(history.history) == 4
    assert sorted(json.loads(json.dumps(history.history))) == keys
    with pytest.raises(KeyError):
        history.history["val_auc"]
    assert history.history.get("val_auc", "absent") == "absent"


def test_history_with_metric_spelled_acc_needs_no_alias():
    model = _dense_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["acc"])
    x = np.random.default_rng(0).normal(size=(8, 5))
    history = model.fit(x, np.eye(3)[np.arange(8) % 3], epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(history.history["acc"]) == 1
    with pytest.raises(KeyError):
        history.history["accuracy"]
