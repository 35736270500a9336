"""sample_weight and class_weight, Keras's semantics: each sample's loss (and its gradient)
times its weight, the loss still averaged over the batch size; the metrics weighted; a
class weight is the weight of every sample of that class. Against a float64 NumPy
reference of one SGD step, and against each other."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, optimizers


def _model(lr=0.5):
    minidl.utils.set_random_seed(3)
    model = models.Sequential([minidl.Input((4,)), layers.Dense(3, activation="softmax",
                                                                dtype="float64")])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def data(rng):
    return rng.normal(size=(6, 4)), np.array([0, 1, 2, 1, 0, 2]), \
        np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0])


def test_one_weighted_step_equals_the_numpy_gradient(data):
    x, y, w = data
    model = _model()
    kernel, bias = (v.copy() for v in model.get_weights())
    logits = x @ kernel + bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = float(np.mean(w * -np.log(p[np.arange(6), y])))
    d = (p - np.eye(3)[y]) * w[:, None] / 6  # d(mean of w * loss)/d logits
    logs = model.train_on_batch(x, y, sample_weight=w, return_dict=True)
    assert logs["loss"] == pytest.approx(loss, rel=1e-12)
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - 0.5 * x.T @ d, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new_bias, bias - 0.5 * d.sum(0), rtol=1e-12, atol=1e-14)


def test_class_weight_is_the_weight_of_every_sample_of_the_class(data):
    x, y, _ = data
    by_class, by_sample = _model(), _model()
    h1 = by_class.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0,
                      class_weight={0: 2.0, 1: 0.5, 2: 1.0})
    h2 = by_sample.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0,
                       sample_weight=np.array([2.0, 0.5, 1.0])[y])
    assert h1.history == h2.history
    for a, b in zip(by_class.get_weights(), by_sample.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_with_one_hot_targets_and_categorical_loss(data):
    x, y, w = data
    sparse = _model()
    dense = _model()
    dense.compile(optimizer=optimizers.SGD(learning_rate=0.5),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    sparse.train_on_batch(x, y, class_weight={0: 1.0, 1: 2.0, 2: 3.0})
    dense.train_on_batch(x, np.eye(3)[y], class_weight={0: 1.0, 1: 2.0, 2: 3.0})
    for a, b in zip(sparse.get_weights(), dense.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_evaluate_weights_the_loss_and_the_metrics(data):
    x, y, w = data
    model = _model()
    p = model.predict(x, verbose=0)
    right = (p.argmax(1) == y).astype(float)
    loss, accuracy = model.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0)
    assert loss == pytest.approx(np.mean(w * -np.log(p[np.arange(6), y])), rel=1e-12)
    assert accuracy == pytest.approx(np.sum(w * right) / np.sum(w), rel=1e-12)
    unweighted = model.evaluate(x, y, batch_size=4, verbose=0)[0]
    zero_weight = model.evaluate(x, y, sample_weight=np.ones(6), batch_size=4, verbose=0)[0]
    assert unweighted == pytest.approx(zero_weight, rel=1e-12)


def test_zero_weights_leave_the_samples_out_and_validation_weights_count(data):
    x, y, _ = data
    mask = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    weighted, model = _model(), _model()
    history = weighted.fit(x, y, sample_weight=mask, batch_size=6, epochs=1, verbose=0,
                           validation_data=(x, y, mask))
    model.fit(x[:3], y[:3], batch_size=6, epochs=1, verbose=0)
    # half the samples weigh 0: the same direction, half the step (the mean is over 6)
    half = _model(lr=0.25)
    half.fit(x[:3], y[:3], batch_size=6, epochs=1, verbose=0)
    for a, b in zip(weighted.get_weights(), half.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert "val_loss" in history.history


@pytest.mark.parametrize("kwargs,match", [
    ({"sample_weight": np.ones(5)}, "one finite weight"),
    ({"sample_weight": np.array([1, 1, 1, 1, 1, -1.0])}, "one finite weight"),
    ({"sample_weight": np.array(["a"] * 6)}, "one finite weight"),
    ({"class_weight": {0: 1.0, 1: 1.0}}, r"no weight for classes \[2\]"),
    ({"class_weight": [1.0, 2.0, 3.0]}, "must be a dict"),
])
def test_bad_weights_are_refused_at_the_call(data, kwargs, match):
    x, y, _ = data
    model = _model()
    before = [v.copy() for v in model.get_weights()]
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, verbose=0, **kwargs)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
