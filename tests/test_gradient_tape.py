"""GradientTape and custom training steps, against central differences in float64 and
against minidl's own training step."""
import numpy as np
import pytest

import minidl
from minidl import layers, losses
from tests.gradcheck import numerical_gradient



def _numeric_weight_gradient(loss_of, variable, eps=1e-6):
    """d loss / d variable by central differences (the variable is put back)."""
    original = variable.value.copy()

    def at(value):
        variable.value[...] = value
        return np.asarray(loss_of(), dtype=np.float64)
    try:
        return numerical_gradient(at, original, np.array(1.0), eps)
    finally:
        variable.value[...] = original


def _small_cnn():
    return minidl.Sequential([
        layers.Conv2D(3, 3, activation="tanh", input_shape=(6, 6, 2)),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dense(4, activation="sigmoid"),
        layers.Dense(2)])


def test_model_gradients_match_central_differences(float64):
    model = _small_cnn()
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 6, 6, 2)), rng.normal(size=(5, 2))
    loss = losses.MeanSquaredError()
    with minidl.GradientTape() as tape:
        value = loss(y, model(x, training=False))
    grads = tape.gradient(value, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
        numeric = _numeric_weight_gradient(lambda: loss(y, model(x, training=False)),
                                           variable)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8,
                                   err_msg=variable.name)


def test_training_mode_gradients_equal_the_models_own_step(float64):
    """In training mode (batch statistics) the tape's gradients are those that fit's own
    step computes."""
    model = _small_cnn()
    model.compile(optimizer=minidl.optimizers.SGD(0.0), loss="mse")
    model.use_step_plan = False
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4, 6, 6, 2)), rng.normal(size=(4, 2))
    moving = [v.value.copy() for v in model.non_trainable_weights] if model.built else None
    with minidl.GradientTape() as tape:
        value = model.loss(y, model(x, training=True))
    grads = tape.gradient(value, model.trainable_variables)
    for v, m in zip(model.non_trainable_weights, moving or []):
        v.value[...] = m
    model.train_on_batch(x, y)
    for variable, grad in zip(model.trainable_variables, grads):
        np.testing.assert_allclose(grad, variable.grad, rtol=1e-10, atol=1e-12)


def test_chained_models_and_watched_input(float64):
    """A generator feeding a discriminator (a GAN's generator step) and the gradient of
    the input image (an adversarial example)."""
    generator = minidl.Sequential([layers.Dense(6, activation="tanh", input_shape=(3,)),
                                   layers.Dense(4)])
    discriminator = minidl.Sequential([layers.Dense(3, activation="relu", input_shape=(4,)),
                                       layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(3)
    z, labels = rng.normal(size=(5, 3)), np.ones((5, 1))
    loss = losses.BinaryCrossentropy()

    def value():
        return loss(labels, discriminator(generator(z)))
    with minidl.GradientTape(persistent=True) as tape:
        tape.watch(z)
        total = loss(labels, discriminator(generator(z)))
    for variable, grad in zip(generator.trainable_variables,
                              tape.gradient(total, generator.trainable_variables)):
        np.testing.assert_allclose(grad, _numeric_weight_gradient(value, variable),
                                   rtol=1e-5, atol=1e-9)
    numeric = numerical_gradient(lambda a: loss(labels, discriminator(generator(a))), z,
                                 np.array(1.0))
    np.testing.assert_allclose(tape.gradient(total, z), numeric, rtol=1e-5, atol=1e-9)


def test_a_model_called_twice_sums_both_calls(float64):
    model = minidl.Sequential([layers.Dense(3, activation="tanh", input_shape=(4,)),
                               layers.Dense(2)])
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))

    def value():
        return np.sum(np.square(model(a))) + 3.0 * np.mean(model(b))
    with minidl.GradientTape() as tape:
        total = (model(a) ** 2).sum() + 3.0 * model(b).mean()
    assert float(total) == pytest.approx(value())
    for variable, grad in zip(model.trainable_variables,
                              tape.gradient(total, model.trainable_variables)):
        np.testing.assert_allclose(grad, _numeric_weight_gradient(value, variable),
                                   rtol=1e-6, atol=1e-9)


RULES = {
    "add, subtract, multiply, divide": lambda t, c: (t + c) * (t - 2.0) / (c + 3.0),
    "power, sqrt, exp, log": lambda t, c: np.sqrt(t ** 2 + 1.0) + np.exp(-t) * np.log(c + 2),
    "tanh, absolute, square": lambda t, c: np.tanh(t) * np.abs(t) + np.square(t - c),
    "maximum, minimum, clip": lambda t, c: np.maximum(t, c) - np.minimum(t, 0.3)
    + np.clip(t, -0.5, 0.5),
    "sum, mean with axes": lambda t, c: t.sum(axis=0) * np.mean(t * c, axis=1, keepdims=True),
    "reshape, indexing, where": lambda t, c: t.reshape(-1)[::2] * np.where(
        np.asarray(c).reshape(-1)[::2] > 0, t.reshape(-1)[1::2], 2.0),
    "matmul": lambda t, c: t @ np.asarray(c).T,
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_numpy_rules_match_central_differences(name):
    rng = np.random.default_rng(5)
    x, constant = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    function = RULES[name]
    with minidl.GradientTape() as tape:
        tape.watch(x)
        out = function(minidl.Tensor(x), constant)
    dy = rng.normal(size=out.shape)
    numeric = numerical_gradient(lambda a: function(a, constant), x, dy)
    np.testing.assert_allclose(tape.gradient(out, x, output_gradients=dy), numeric,
                               rtol=1e-6, atol=1e-8)


def test_a_function_without_a_rule_raises_only_when_its_gradient_is_needed():
    x = np.linspace(-1, 1, 6)
    with minidl.GradientTape(persistent=True) as tape:
        tape.watch(x)
        t = minidl.Tensor(x)
        through_sin = np.sin(t).sum() + (t * 2).sum()
        beside = (t * 2).sum()
        unused = np.sin(t)  # computed, never differentiated
    assert isinstance(unused, minidl.Tensor)
    with pytest.raises(NotImplementedError, match="numpy.sin"):
        tape.gradient(through_sin, x)
    np.testing.assert_allclose(tape.gradient(beside, x), np.full(6, 2.0))


def test_the_tape_refuses_misuse():
    model = minidl.Sequential([layers.Dense(1, input_shape=(2,))])
    x = np.ones((3, 2))
    with minidl.GradientTape() as tape:
        loss = model(x).mean()
    tape.gradient(loss, model.trainable_variables)
    with pytest.raises(RuntimeError, match="only be called once"):
        tape.gradient(loss, model.trainable_variables)
    with minidl.GradientTape() as tape:
        plain = float(np.mean(model.predict(x, verbose=0)))
    with pytest.raises(ValueError, match="target was not computed"):
        tape.gradient(plain, model.trainable_variables)
    other = minidl.Sequential([layers.Dense(1, input_shape=(2,))])
    other.build()
    with minidl.GradientTape() as tape:
        loss = model(x).mean()
    assert tape.gradient(loss, other.trainable_variables) == [None, None]
    zeros = minidl.GradientTape()
    with zeros:
        loss = model(x).mean()
    assert all(np.all(g == 0) for g in
               zeros.gradient(loss, other.trainable_variables, unconnected_gradients="zero"))


def test_outside_a_tape_models_return_arrays():
    model = minidl.Sequential([layers.Dense(1, input_shape=(2,))])
    assert isinstance(model(np.ones((1, 2))), np.ndarray)
    with minidl.GradientTape() as tape:
        with tape.stop_recording():
            assert isinstance(model(np.ones((1, 2))), np.ndarray)
        assert isinstance(model(np.ones((1, 2))), minidl.Tensor)


def test_loss_functions_and_numpy_losses_are_differentiated(float64):
    """The module's loss functions use their class's gradient; a Keras-style loss that
    only implements call with NumPy is differentiated through its operations."""
    class MeanCubedError(losses.Loss):
        def call(self, y_true, y_pred):
            return (np.abs(y_pred - y_true) ** 3).mean(axis=-1)

    model = minidl.Sequential([layers.Dense(2, activation="tanh", input_shape=(3,))])
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    for loss_of in (lambda p: np.mean(losses.mean_squared_error(y, p)),
                    lambda p: MeanCubedError()(y, p),
                    lambda p: losses.categorical_crossentropy(
                        np.eye(2)[[0, 1, 1, 0]], p, from_logits=True).sum()):
        with minidl.GradientTape() as tape:
            value = loss_of(model(x))
        kernel = model.trainable_variables[0]
        grad = tape.gradient(value, kernel)
        numeric = _numeric_weight_gradient(lambda: loss_of(model(x)), kernel)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_compute_loss_adds_the_penalties_and_their_gradients(float64):
    model = minidl.Sequential([layers.Dense(2, kernel_regularizer=minidl.regularizers.l2(0.1),
                                            input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))

    def value():
        return model.compute_loss(x, y, model(x))
    with minidl.GradientTape() as tape:
        total = model.compute_loss(x, y, model(x, training=True))
    assert float(total) == pytest.approx(value())
    assert float(total) > float(losses.MeanSquaredError()(y, model(x)))
    kernel = model.trainable_variables[0]
    np.testing.assert_allclose(tape.gradient(total, kernel),
                               _numeric_weight_gradient(value, kernel), rtol=1e-6)


class _KerasStepModel(minidl.Model):
    """The standard step written as Keras's guide writes it."""

    def train_step(self, data):
        x, y = data
        with minidl.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _functional(cls):
    minidl.utils.set_random_seed(0)
    inputs = minidl.Input((5,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    hidden = layers.BatchNormalization()(hidden)
    outputs = layers.Dense(3, activation="softmax")(hidden)
    model = cls(inputs, outputs)
    model.compile(optimizer=minidl.optimizers.SGD(0.1), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_a_custom_train_step_trains_as_fit_does():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]
    standard, custom = _functional(minidl.Model), _functional(_KerasStepModel)
    for a, b in zip(standard.weights, custom.weights):
        np.testing.assert_array_equal(a.value, b.value)
    h1 = standard.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    h2 = custom.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(standard.weights, custom.weights):
        np.testing.assert_allclose(a.value, b.value, rtol=1e-4, atol=1e-5)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=1e-4)


def test_custom_steps_run_in_evaluate_and_predict_and_metrics_reset():
    calls = []

    class Stepped(minidl.Model):
        def test_step(self, data):
            x, y = data
            calls.append("test")
            return {"n": len(x)}

        def predict_step(self, data):
            calls.append("predict")
            return self(data, training=False) * 0 + 7

    inputs = minidl.Input((2,))
    model = Stepped(inputs, layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((10, 2)), np.zeros((10, 1))
    assert model.evaluate(x, y, batch_size=4, return_dict=True, verbose=0) == {"n": 2.0}
    np.testing.assert_array_equal(model.predict(x, batch_size=4, verbose=0), 7.0)
    assert calls == ["test"] * 3 + ["predict"] * 3


def test_fit_resets_the_metrics_at_each_epoch():
    model = _functional(_KerasStepModel)
    x, y = np.ones((10, 5)), np.eye(3)[np.arange(10) % 3]
    model.fit(x, y, epochs=2, batch_size=5, verbose=0)
    tracker = model.metrics[0]
    assert tracker.name == "loss" and tracker.count == 10  # the last epoch's samples


def test_a_failing_custom_step_leaves_the_moving_statistics():
    class Failing(minidl.Model):
        def train_step(self, data):
            self(data[0], training=True)  # updates the moving statistics
            raise ArithmeticError("the user's step failed")

    inputs = minidl.Input((3,))
    model = Failing(inputs, layers.BatchNormalization()(inputs))
    model.compile(optimizer="sgd")
    before = [v.value.copy() for v in model.weights]
    with pytest.raises(ArithmeticError):
        model.fit(np.random.default_rng(0).normal(size=(8, 3)), np.zeros((8, 3)), verbose=0)
    for v, b in zip(model.weights, before):
        np.testing.assert_array_equal(v.value, b)


def test_a_source_of_another_type_is_refused_before_any_work():
    model = minidl.Sequential([layers.Dense(1, input_shape=(2,))])
    with minidl.GradientTape(persistent=True) as tape:
        loss = model(np.ones((3, 2))).mean()
    with pytest.raises(TypeError, match="a source must be a Variable"):
        tape.gradient(loss, [model.trainable_variables[0], "bias"])
    assert len(tape.gradient(loss, model.trainable_variables)) == 2
