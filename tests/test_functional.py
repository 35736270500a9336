"""The Functional API and Model subclassing: gradients of whole graphs (shared layers,
every merge layer, several inputs and outputs) against central differences of the
model's own predictions in float64; training equal to Sequential's on a chain; the data
paths (lists of arrays, validation_split, predict with several outputs); errors."""
import numpy as np
import pytest

import minidl
from minidl import Input, Model, layers, models, optimizers

F64 = "float64"


@pytest.fixture
def rng():
    return np.random.default_rng(20261204)


def _weight_gradients_by_training(model, x, y, lr=1e-3):
    """The gradient of the loss at the current weights, read off one SGD step."""
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss=model.loss or "mse")
    model.train_on_batch(x, y)
    after = model.get_weights()
    model.set_weights(before)
    return [(b - a) / lr for b, a in zip(before, after)]


def _numeric_weight_gradients(model, loss_of_predictions, x, eps=1e-6):
    """Central differences of loss_of_predictions(model.predict_on_batch(x)) for every
    scalar of every weight."""
    weights = [w.copy() for w in model.get_weights()]
    grads = []
    for k, w in enumerate(weights):
        grad = np.zeros_like(w)
        for i in range(w.size):
            for sign in (1, -1):
                trial = [v.copy() for v in weights]
                trial[k].reshape(-1)[i] += sign * eps
                model.set_weights(trial)
                grad.reshape(-1)[i] += sign * loss_of_predictions(model.predict_on_batch(x))
            grad.reshape(-1)[i] /= 2 * eps
        grads.append(grad)
    model.set_weights(weights)
    return grads


def _mse(y):
    return lambda pred: float(np.mean(np.mean((np.asarray(pred) - y) ** 2, axis=-1)))


def _dag_model():
    """Two inputs, a Dense shared by both, and every merge layer."""
    a, b = Input((4,), dtype=F64), Input((4,), dtype=F64)
    shared = layers.Dense(3, activation="tanh", dtype=F64)
    ha, hb = shared(a), shared(b)
    merged = [layers.Add(dtype=F64)([ha, hb]), layers.Subtract(dtype=F64)([ha, hb]),
              layers.Multiply(dtype=F64)([ha, hb, ha]), layers.Average(dtype=F64)([ha, hb]),
              layers.Maximum(dtype=F64)([ha, hb]), layers.Minimum(dtype=F64)([ha, hb])]
    joined = layers.Concatenate(dtype=F64)(merged + [a])
    out = layers.Dense(2, activation="sigmoid", dtype=F64)(joined)
    return Model([a, b], out)


def test_gradients_of_a_graph_with_a_shared_layer_and_every_merge(rng):
    model = _dag_model()
    x = [rng.standard_normal((5, 4)), rng.standard_normal((5, 4))]
    y = rng.random((5, 2))
    model.compile(optimizer="sgd", loss="mse")
    analytic = _weight_gradients_by_training(model, x, y)
    numeric = _numeric_weight_gradients(model, _mse(y), x)
    for got, want in zip(analytic, numeric):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_gradients_of_a_residual_convolution_block(rng):
    inputs = Input((5, 5, 2), dtype=F64)
    h = layers.Conv2D(2, 3, padding="same", activation="relu", dtype=F64)(inputs)
    h = layers.Conv2D(2, 3, padding="same", dtype=F64)(h)
    h = layers.add([h, inputs], dtype=F64)
    h = layers.Concatenate(axis=3, dtype=F64)([h, inputs])
    out = layers.Dense(1, dtype=F64)(layers.Flatten(dtype=F64)(h))
    model = Model(inputs, out)
    x, y = rng.standard_normal((3, 5, 5, 2)), rng.standard_normal((3, 1))
    model.compile(optimizer="sgd", loss="mse")
    for got, want in zip(_weight_gradients_by_training(model, x, y),
                         _numeric_weight_gradients(model, _mse(y), x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_gradients_of_two_weighted_outputs(rng):
    inputs = Input((3,), dtype=F64)
    h = layers.Dense(4, activation="tanh", dtype=F64)(inputs)
    first = layers.Dense(2, dtype=F64, name="first")(h)
    second = layers.Dense(1, activation="sigmoid", dtype=F64, name="second")(h)
    model = Model(inputs, [first, second])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e-3), loss=["mse", "mae"],
                  loss_weights={"first": 0.3, "second": 2.0})
    x = rng.standard_normal((6, 3))
    y = [rng.standard_normal((6, 2)), rng.random((6, 1))]

    def loss(pred):
        return 0.3 * _mse(y[0])(pred[0]) + 2.0 * float(np.mean(np.abs(pred[1] - y[1])))

    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    analytic = [(b - a) / 1e-3 for b, a in zip(before, model.get_weights())]
    model.set_weights(before)
    for got, want in zip(analytic, _numeric_weight_gradients(model, loss, x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    preds = model.predict(x, batch_size=4, verbose=0)
    assert [p.shape for p in preds] == [(6, 2), (6, 1)]


def _chain(seed, functional):
    minidl.utils.set_random_seed(seed)
    stack = [layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")]
    if not functional:
        return models.Sequential([Input((5,))] + stack)
    inputs = Input((5,))
    return Model(inputs, stack[1](stack[0](inputs)))


def test_a_functional_chain_trains_exactly_as_sequential(rng):
    x, y = rng.standard_normal((64, 5)).astype("float32"), rng.integers(0, 3, 64)
    histories, weights = [], []
    for functional in (False, True):
        model = _chain(7, functional)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        minidl.utils.set_random_seed(1)
        histories.append(model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                                   validation_split=0.25).history)
        weights.append(model.get_weights())
    assert histories[0] == histories[1]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


class _TwoTowers(Model):
    """A subclassed model: layers in __init__, the graph in call()."""

    def __init__(self):
        super().__init__()
        self.left = layers.Dense(4, activation="tanh")
        self.right = layers.Dense(4, activation="relu")
        self.head = layers.Dense(2, activation="softmax")

    def call(self, inputs, training=False):
        return self.head(layers.concatenate([self.left(inputs), self.right(inputs)]))


def test_a_subclassed_model_equals_its_functional_twin(rng):
    x, y = rng.standard_normal((32, 6)).astype("float32"), rng.integers(0, 2, 32)
    sub = _TwoTowers()
    sub.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    sub.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert [layer.name for layer in sub.layers][-1] == sub.head.name
    inputs = Input((6,))
    twin_layers = [layers.Dense(4, activation="tanh"), layers.Dense(4, activation="relu"),
                   layers.Dense(2, activation="softmax")]
    out = twin_layers[2](layers.concatenate([twin_layers[0](inputs), twin_layers[1](inputs)]))
    twin = Model(inputs, out)
    twin.set_weights(sub.get_weights())
    np.testing.assert_array_equal(twin.predict(x, verbose=0), sub.predict(x, verbose=0))
    with pytest.raises(NotImplementedError, match="save_weights"):
        sub.save("subclassed.keras")


def test_save_and_load_a_graph_with_shared_layers_and_two_outputs(rng, tmp_path):
    a, b = Input((4,), name="a"), Input((4,), name="b")
    shared = layers.Dense(3, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    joined = layers.concatenate([layers.add([ha, hb]), layers.maximum([ha, hb])])
    model = Model([a, b], [layers.Dense(2, name="first")(joined),
                           layers.Dense(1, name="second")(ha)])
    model.compile(optimizer="adam", loss={"first": "mse", "second": "mae"},
                  loss_weights=[1.0, 0.5])
    x = [rng.random((16, 4)), rng.random((16, 4))]
    y = [rng.random((16, 2)), rng.random((16, 1))]
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "graph.keras")
    loaded = models.load_model(tmp_path / "graph.keras")
    assert type(loaded) is Model and [l.name for l in loaded.layers] == \
        [l.name for l in model.layers]
    for got, want in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(got, want)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, want)  # optimizer state restored too


def test_inputs_given_as_a_dict_by_input_name(rng):
    a, b = Input((2,), name="left"), Input((3,), name="right")
    model = Model([a, b], layers.Dense(1)(layers.concatenate([a, b])))
    xa, xb = rng.random((4, 2)), rng.random((4, 3))
    np.testing.assert_array_equal(model.predict({"right": xb, "left": xa}, verbose=0),
                                  model.predict([xa, xb], verbose=0))


def test_symbolic_shapes_and_summary(capsys):
    a = Input((8, 8, 3))
    h = layers.Conv2D(4, 3)(a)
    assert h.shape == (None, 6, 6, 4)
    c = layers.Concatenate()([h, h])
    assert c.shape == (None, 6, 6, 8)
    model = Model(a, layers.Flatten()(c))
    assert model.output_shape == (None, 288) and model.input_shape == (None, 8, 8, 3)
    model.summary()
    text = capsys.readouterr().out
    assert "Connected to" in text and "conv2d" in text


def test_errors_name_the_problem(rng):
    a = Input((4,))
    h = layers.Dense(3)(a)
    with pytest.raises(ValueError, match="must come from minidl.Input"):
        Model(h, layers.Dense(1)(h))
    with pytest.raises(ValueError, match="not in 'inputs'"):
        Model(Input((4,)), layers.Dense(1)(h))
    with pytest.raises(ValueError, match="same shape"):
        layers.Add()([h, a])
    with pytest.raises(ValueError, match="list of at least 2"):
        layers.Add()([h])
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(h)
    model = Model(a, h)
    with pytest.raises(ValueError, match="expects 1 input"):
        model.predict([rng.random((2, 4)), rng.random((2, 4))], verbose=0)
    with pytest.raises(TypeError, match="add"):
        model.add(layers.Dense(2))


def test_sequential_still_takes_input_first():
    model = models.Sequential([Input((3,)), layers.Dense(2)])
    assert model.built and model.predict(np.ones((1, 3)), verbose=0).shape == (1, 2)


def test_a_functional_model_called_on_a_tensor_is_inlined_and_trains():
    """Keras's transfer-learning pattern ``outputs = base(inputs)``: the inner model's
    layers join the outer graph (shared, not copied), train with it, and the outer model
    computes the composition."""
    inner_in = minidl.Input((4,))
    inner = models.Model(inner_in, layers.Dense(3, activation="relu",
                                                kernel_initializer="ones")(inner_in))
    x = minidl.Input((4,))
    outer = models.Model(x, layers.Dense(1)(inner(x)))
    assert outer.count_params() == 4 * 3 + 3 + 3 + 1
    assert outer.layers[0] is inner.layers[-1]
    before = inner.layers[-1].kernel.value.copy()
    outer.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    outer.fit(data, np.ones((8, 1)), epochs=2, verbose=0)
    assert not np.array_equal(before, inner.layers[-1].kernel.value)
    np.testing.assert_allclose(outer.predict(data, verbose=0),
                               outer.layers[-1](inner.predict(data, verbose=0)), rtol=1e-6)
