"""Weight regularizers and constraints (minidl.regularizers, minidl.constraints) against
NumPy float64 references of Keras's formulas, in layers and in training."""
import numpy as np
import pytest

import minidl
from minidl import constraints, layers, models, optimizers, regularizers, utils


@pytest.mark.parametrize("regularizer,l1,l2", [
    (regularizers.l2(0.1), 0.0, 0.1), (regularizers.L1(0.05), 0.05, 0.0),
    (regularizers.l1_l2(0.02, 0.3), 0.02, 0.3), ("l2", 0.0, 0.01),
    ({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.2}}, 0.0, 0.2)])
def test_penalty_and_gradient_follow_keras(regularizer, l1, l2):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    w[0, 0] = 0.0  # the sign of 0 is 0
    reg = regularizers.get(regularizer)
    w64 = w.astype(np.float64)
    assert reg(w) == pytest.approx(l1 * np.abs(w64).sum() + l2 * (w64 ** 2).sum(), rel=1e-6)
    np.testing.assert_allclose(reg.gradient(w), l1 * np.sign(w64) + 2 * l2 * w64, rtol=1e-6)


def _dense_model(**options):
    utils.set_random_seed(0)
    model = models.Sequential([minidl.Input((6,)), layers.Dense(4, activation="tanh",
                                                                **options),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return model


def test_training_adds_the_penalty_to_the_loss_and_its_gradient_to_the_step():
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
    plain = _dense_model()
    regular = _dense_model(kernel_regularizer=regularizers.l2(0.05),
                           bias_regularizer=regularizers.l1(0.01))
    kernel0 = regular.layers[0].kernel.numpy().astype(np.float64)
    bias0 = regular.layers[0].bias.numpy().astype(np.float64)
    penalty = 0.05 * (kernel0 ** 2).sum() + 0.01 * np.abs(bias0).sum()
    assert regular.losses == pytest.approx([0.05 * (kernel0 ** 2).sum(),
                                            0.01 * np.abs(bias0).sum()], rel=1e-6)
    # evaluate reports the loss with the penalty too (Keras); same weights as plain's
    assert regular.evaluate(x, y, verbose=0) == pytest.approx(
        plain.evaluate(x, y, verbose=0) + penalty, rel=1e-5)
    loss_plain = plain.train_on_batch(x, y)
    loss_regular = regular.train_on_batch(x, y)
    assert loss_regular == pytest.approx(loss_plain + penalty, rel=1e-5)
    # SGD: the regularized step moves further by lr times the penalty's gradient
    np.testing.assert_allclose(regular.layers[0].kernel.numpy(),
                               plain.layers[0].kernel.numpy() - 0.1 * 2 * 0.05 * kernel0,
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(regular.layers[0].bias.numpy(),
                               plain.layers[0].bias.numpy() - 0.1 * 0.01 * np.sign(bias0),
                               rtol=1e-5, atol=1e-7)
    # the unregularized layer trained identically
    np.testing.assert_array_equal(regular.layers[1].kernel.numpy(),
                                  plain.layers[1].kernel.numpy())


def test_a_planned_step_with_a_regularized_convolution_equals_the_layers():
    rng = np.random.default_rng(2)
    x, y = rng.random((8, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 8)
    runs = []
    for planned in (True, False):
        utils.set_random_seed(0)
        model = models.Sequential([minidl.Input((8, 8, 1)),
                                   layers.Conv2D(4, 3, activation="relu",
                                                 kernel_regularizer="l2"),
                                   layers.Flatten(), layers.Dense(3, activation="softmax")])
        model.use_step_plan = planned
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_constraints_hold_after_every_update():
    rng = np.random.default_rng(3)
    x, y = rng.random((16, 6)).astype(np.float32), rng.integers(0, 3, 16)
    model = _dense_model(kernel_constraint=constraints.MaxNorm(0.5),
                         bias_constraint="non_neg")
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    kernel, bias = model.layers[0].kernel.numpy(), model.layers[0].bias.numpy()
    assert np.all(np.linalg.norm(kernel.astype(np.float64), axis=0) <= 0.5 + 1e-6)
    assert np.all(bias >= 0)


@pytest.mark.parametrize("constraint,reference", [
    (constraints.NonNeg(), lambda w: np.maximum(w, 0)),
    (constraints.UnitNorm(axis=0), lambda w: w / (1e-7 + np.linalg.norm(w, axis=0))),
    (constraints.MaxNorm(1.0, axis=0),
     lambda w: w * np.clip(np.linalg.norm(w, axis=0), 0, 1) / (1e-7 + np.linalg.norm(w, axis=0))),
    (constraints.MinMaxNorm(0.5, 1.0, rate=0.5, axis=0),
     lambda w: w * (0.5 * np.clip(np.linalg.norm(w, axis=0), 0.5, 1.0) +
                    0.5 * np.linalg.norm(w, axis=0)) / (1e-7 + np.linalg.norm(w, axis=0)))])
def test_constraints_follow_keras(constraint, reference):
    w = np.random.default_rng(4).standard_normal((5, 3)) * 2
    np.testing.assert_allclose(constraint(w.astype(np.float32)), reference(w), rtol=1e-5)


def test_config_round_trip_and_saving(tmp_path):
    model = _dense_model(kernel_regularizer=regularizers.l1_l2(0.01, 0.02),
                         kernel_constraint=constraints.MaxNorm(3, axis=0))
    config = model.layers[0].get_config()
    assert config["kernel_regularizer"]["class_name"] == "L1L2"
    clone = layers.Dense.from_config(config)
    assert clone.kernel_regularizer.get_config() == {"l1": 0.01, "l2": 0.02}
    assert clone.kernel_constraint.get_config() == {"max_value": 3.0, "axis": 0}
    model.save(tmp_path / "m.keras")
    loaded = minidl.saving.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].kernel.regularizer.get_config() == {"l1": 0.01, "l2": 0.02}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.get("l3")
    with pytest.raises(NotImplementedError, match="activity_regularizer"):
        layers.Dense(3, activity_regularizer="l2")
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("positive")
