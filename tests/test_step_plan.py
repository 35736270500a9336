"""Planned training steps (minidl.models.step_plan) against the steps through the layers:
bit-identical losses, metrics and weights, and the fallback for what is not planned."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, optimizers, utils


def _lenet(batch_norm):
    stack = [minidl.Input((16, 16, 1)), layers.Conv2D(6, 5, activation="tanh")]
    stack += [layers.BatchNormalization()] if batch_norm else []
    stack += [layers.AveragePooling2D(2), layers.Conv2D(8, 3, activation="relu", padding="same")]
    stack += [layers.BatchNormalization()] if batch_norm else []
    stack += [layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(24, activation="tanh"),
              layers.Dense(10, activation="softmax")]
    return models.Sequential(stack)


def _blog_cnn(batch_norm):
    def block(filters):
        out = [layers.Conv2D(filters, 3, padding="same", activation="sigmoid")]
        return out + ([layers.BatchNormalization()] if batch_norm else [])
    return models.Sequential([minidl.Input((16, 16, 3))] + block(8) + block(8) +
                             [layers.MaxPooling2D(), layers.Conv2D(16, 3, strides=2)] +
                             [layers.Activation("relu"), layers.Flatten(),
                              layers.Dense(32, activation="sigmoid"), layers.Dense(16),
                              layers.BatchNormalization(),
                              layers.Dense(10, activation="softmax")])


def _pooling_cnn(batch_norm):
    """Convolutions of several channels, each followed by a 2x2 average pooling (recorded
    as one call) unless a batch norm stands between them."""
    norm = [layers.BatchNormalization()] if batch_norm else []
    return models.Sequential([minidl.Input((16, 16, 3)),
                              layers.Conv2D(8, 3, padding="same", activation="relu")] + norm +
                             [layers.AveragePooling2D(2), layers.Conv2D(8, 3)] +
                             [layers.AveragePooling2D(2), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])


def _seeded_model(factory, batch_norm, dtype=None):
    """The factory's model, built from seed 0 in ``dtype`` (default float32)."""
    utils.set_random_seed(0)
    if dtype:
        minidl.backend.set_floatx(dtype)
    try:
        return factory(batch_norm)
    finally:
        minidl.backend.set_floatx("float32")


def _train(factory, batch_norm, planned, loss, optimizer, x, y, dtype=None):
    model = _seeded_model(factory, batch_norm, dtype)
    model.use_step_plan = planned
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=True)
    return model, history.history


@pytest.mark.parametrize("factory,channels", [(_lenet, 1), (_blog_cnn, 3), (_pooling_cnn, 3)])
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_planned_step_is_bit_identical_to_the_layers(factory, channels, batch_norm, sparse):
    rng = np.random.default_rng(3)
    x = rng.random((40, 16, 16, channels)).astype(np.float32)  # 40: a short last batch
    labels = rng.integers(0, 10, 40)
    y = labels if sparse else utils.to_categorical(labels, 10)
    loss = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    runs = [_train(factory, batch_norm, planned, loss, optimizers.Adam(1e-3), x, y)
            for planned in (True, False)]
    (planned, h_planned), (layered, h_layered) = runs
    assert planned._cached_plan[1] is not None and layered._cached_plan is None
    assert h_planned == h_layered
    for a, b in zip(planned.get_weights(), layered.get_weights()):  # BN moving stats too
        np.testing.assert_array_equal(a, b)


def test_float64_models_are_planned_too():
    rng = np.random.default_rng(4)
    x = rng.random((16, 16, 16, 1))
    y = rng.integers(0, 10, 16)
    runs = [_train(_lenet, True, planned, "sparse_categorical_crossentropy",
                   optimizers.SGD(0.1, momentum=0.9), x, y, dtype="float64")
            for planned in (True, False)]
    assert runs[0][0]._cached_plan[1].dtype == np.float64
    for a, b in zip(runs[0][0].get_weights(), runs[1][0].get_weights()):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)


class _Scaled(layers.Layer):
    """A user layer: the plan does not know it."""

    def call(self, inputs, training=False):
        return minidl.ops.scale(inputs, 2.0)

    def backward(self, dy):
        return minidl.ops.scale(dy, 2.0)


@pytest.mark.parametrize("model_factory", [
    lambda: models.Sequential([minidl.Input((4,)), _Scaled(),
                               layers.Dense(3, activation="softmax")]),
    lambda: models.Sequential([minidl.Input((4,)), layers.Dropout(0.5),
                               layers.Dense(3, activation="softmax")]),
    lambda: models.Sequential([minidl.Input((4,)), layers.Dense(3, activation="sigmoid")]),
])
def test_what_is_not_planned_trains_through_the_layers(model_factory):
    rng = np.random.default_rng(5)
    x, y = rng.random((8, 4)).astype(np.float32), rng.integers(0, 3, 8)
    model = model_factory()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, verbose=0)
    assert model._cached_plan[1] is None
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_the_plan_follows_the_batch_shape_and_a_frozen_layer():
    rng = np.random.default_rng(6)
    model = _lenet(False)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = rng.random((8, 16, 16, 1)).astype(np.float32), rng.integers(0, 10, 8)
    model.train_on_batch(x, y)
    first = model._cached_plan[1]
    model.train_on_batch(x[:5], y[:5])
    assert model._cached_plan[1] is not first and model._cached_plan[1].input_shape[0] == 5
    model.layers[0].trainable = False  # frozen: not planned, and the kernel stays put
    kernel = model.layers[0].kernel.numpy()
    model.train_on_batch(x, y)
    assert model._cached_plan[1] is None
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), kernel)


def test_a_bad_batch_is_refused_before_any_change():
    model = _lenet(True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(7)
    model.train_on_batch(rng.random((8, 16, 16, 1)).astype(np.float32),
                         rng.integers(0, 10, 8))
    before = model.get_weights()
    with pytest.raises(ValueError, match="class indices"):
        model.train_on_batch(rng.random((8, 16, 16, 1)).astype(np.float32),
                             np.full(8, 12))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", [
    lambda: optimizers.Adam(1e-3), lambda: optimizers.Adam(1e-3, amsgrad=True),
    lambda: optimizers.AdamW(1e-3, weight_decay=0.01), lambda: optimizers.RMSprop(1e-3),
    lambda: optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
    lambda: optimizers.SGD(0.05), lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True)])
def test_the_multi_tensor_update_equals_one_update_per_variable(optimizer):
    rng = np.random.default_rng(8)
    x, y = rng.random((24, 16, 16, 1)).astype(np.float32), rng.integers(0, 10, 24)
    results = []
    for many in (True, False):
        utils.set_random_seed(0)
        model = _lenet(True)
        model.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy")
        if not many:
            model.optimizer._update_many = None  # one kernel call per variable
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        results.append(model.get_weights() + model.optimizer.get_state()["slots"])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_a_planned_step_runs_as_one_recorded_program():
    model = _lenet(True)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    rng = np.random.default_rng(9)
    x = rng.random((8, 16, 16, 1)).astype(np.float32)
    model.train_on_batch(x, utils.to_categorical(rng.integers(0, 10, 8), 10))
    plan = model._cached_plan[1]
    # forward: (conv, BN, pool) x 2, (gemm, bias, activation) for the tanh dense and (gemm,
    # bias) for the softmax one, whose probabilities the fused loss forward writes; the
    # fused loss forward and backward; backward: the softmax dense (gemm x 2, bias sum), the tanh dense (+ its
    # activation), pool, BN (with the derivative of the relu before it), the relu conv
    # (input, weight), pool, BN (+ derivative) and the first conv (no input gradient)
    forward, loss, backward = 3 * 2 + 3 + 2, 2, 3 + 4 + 1 + 1 + 2 + 1 + 1 + 1
    assert len(plan.program) == forward + loss + backward
    assert {id(v) for v, _ in plan.gradients} == {id(v) for v in model.trainable_weights}


@pytest.mark.parametrize("factory,channels", [(_lenet, 1), (_pooling_cnn, 3)])
def test_a_convolution_pools_in_its_own_call(factory, channels):
    # without batch norm, each convolution followed by a 2x2 average pooling is one call
    # (the one-channel path and the general one); the pooling's backward stays
    model = factory(False)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    rng = np.random.default_rng(9)
    x = rng.random((8, 16, 16, channels)).astype(np.float32)
    model.train_on_batch(x, utils.to_categorical(rng.integers(0, 10, 8), 10))
    plan = model._cached_plan[1]
    target, dloss = plan._loss(utils.to_categorical(rng.integers(0, 10, 8), 10),
                               plan.nodes[-1])
    names = [name for name, _ in plan.program.profile(x, target, dloss)]
    averages = sum(isinstance(layer, layers.AveragePooling2D) for layer in model.layers)
    assert names.count("avgpool2d_forward") == 0
    assert names.count("avgpool2d_backward") == averages


def test_a_replaced_weight_array_is_recorded_again():
    rng = np.random.default_rng(10)
    x, y = rng.random((16, 16, 16, 1)).astype(np.float32), rng.integers(0, 10, 16)
    runs = []
    for replace in (True, False):
        utils.set_random_seed(0)
        model = _lenet(False)
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)
        if replace:  # the program must not keep writing the old array
            kernel = model.layers[0].kernel
            kernel._value = kernel._value.copy()
        model.train_on_batch(x, y)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def _recorded_dense_step(program, x, w, z, y):
    from minidl import _C
    _C.gemm(False, False, x, w, z, program=program)
    _C.activation_forward(y.reshape(-1), z.reshape(-1), _C.ACTIVATION_CODES["tanh"],
                          program=program)


def test_a_program_computes_what_the_calls_compute():
    from minidl import _C
    rng = np.random.default_rng(11)
    w = rng.standard_normal((5, 3))
    z, y = np.empty((4, 3)), np.empty((4, 3))
    program = _C.Program()
    placeholder = np.empty((4, 5))
    _recorded_dense_step(program, placeholder, w, z, y)
    program.declare_inputs(placeholder)
    for _ in range(2):  # each run reads the array it is given
        x = rng.standard_normal((4, 5))
        program.run(x)
        np.testing.assert_allclose(y, np.tanh(x @ w), rtol=1e-12, atol=1e-12)
        expected = np.empty((4, 3))
        _C.gemm(False, False, x, w, z)
        _C.activation_forward(expected.reshape(-1), z.reshape(-1), _C.ACTIVATION_CODES["tanh"])
        np.testing.assert_array_equal(y, expected)


def test_a_program_refuses_bad_inputs_before_running():
    from minidl import _C
    w, z, y = np.ones((5, 3)), np.empty((4, 3)), np.zeros((4, 3))
    program, placeholder = _C.Program(), np.empty((4, 5))
    _recorded_dense_step(program, placeholder, w, z, y)
    with pytest.raises(ValueError, match="used by no recorded call"):
        _C.Program().declare_inputs(placeholder)
    enclosing = np.empty(25)  # holds a recorded array at an offset: it cannot stand in
    offset_program = _C.Program()
    _recorded_dense_step(offset_program, enclosing[5:].reshape(4, 5), w, z, y)
    with pytest.raises(ValueError, match="from an offset"):
        offset_program.declare_inputs(enclosing)
    program.declare_inputs(placeholder)
    for bad in (np.ones((4, 6)), np.ones((4, 5), np.float32), np.ones((5, 4)).T, [[1.0] * 5] * 4):
        with pytest.raises(ValueError, match="input 0 must be a C-contiguous float64"):
            program.run(bad)
    with pytest.raises(ValueError, match="expected 1 arrays"):
        program.run()
    np.testing.assert_array_equal(y, 0)  # nothing ran
    with pytest.raises(ValueError, match="record every call before declare_inputs"):
        _C.gemm(False, False, placeholder, w, z, program=program)
    assert len(program) == 2


def test_a_failing_call_names_itself():
    from minidl import _C
    loss, probs, logits = np.empty(2), np.empty((2, 3)), np.zeros((2, 3))
    program, labels = _C.Program(), np.zeros(2, np.int64)
    _C.softmax_forward(probs, logits, program=program)
    _C.sparse_softmax_xent_forward(loss, probs, logits, labels, program=program)
    program.declare_inputs(labels)
    program.run(np.array([0, 2]))
    np.testing.assert_allclose(loss, np.log(3.0))
    with pytest.raises(ValueError, match=r"call 1 \(sparse_softmax_xent_forward\)"):
        program.run(np.array([0, 3]))


_OPTIMIZERS = [
    lambda: optimizers.Adam(1e-3), lambda: optimizers.Adam(1e-3, amsgrad=True),
    lambda: optimizers.AdamW(optimizers.schedules.ExponentialDecay(1e-3, 2, 0.5),
                             weight_decay=0.01),
    lambda: optimizers.RMSprop(optimizers.schedules.ExponentialDecay(1e-3, 2, 0.5)),
    lambda: optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
    lambda: optimizers.SGD(0.05), lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True)]


def _fit_both_ways(optimizer, batch_norm=True, setup=None, dtype=None):
    """Fit the same model planned and through the layers (``setup(model)`` runs after
    compile) and assert equal weights, optimizer state and iterations; returns the
    planned model."""
    rng = np.random.default_rng(12)
    x = rng.random((24, 16, 16, 1)).astype(dtype or np.float32)
    y = rng.integers(0, 10, 24)
    results, models_ = [], []
    for planned in (True, False):
        model = _seeded_model(_lenet, batch_norm, dtype)
        model.use_step_plan = planned
        model.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy")
        if setup is not None:
            setup(model)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        state = model.optimizer.get_state()
        results.append((model.get_weights() + state["slots"], state["iterations"]))
        models_.append(model)
    (planned, planned_steps), (layered, layered_steps) = results
    assert planned_steps == layered_steps == 6
    for a, b in zip(planned, layered):
        np.testing.assert_array_equal(a, b)
    return models_[0]


@pytest.mark.parametrize("optimizer", _OPTIMIZERS)
def test_the_program_makes_the_optimizers_update_with_the_same_bits(optimizer):
    model = _fit_both_ways(optimizer)
    plan = model._cached_plan[1]
    assert plan.updated  # recorded from the second step on, once the slots exist


def test_a_float64_model_records_its_update_too():
    model = _fit_both_ways(lambda: optimizers.Adam(1e-3), dtype="float64")
    assert model._cached_plan[1].updated


def test_the_program_holds_one_update_call_per_variable():
    model = _lenet(True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(13)
    x, y = rng.random((8, 16, 16, 1)).astype(np.float32), rng.integers(0, 10, 8)
    model.train_on_batch(x, y)  # the first step makes the slots: applied from Python
    first = model._cached_plan[1]
    assert not first.updated and model.optimizer.iterations == 1
    calls = len(first.program)
    model.train_on_batch(x, y)
    plan = model._cached_plan[1]
    assert plan.updated and model.optimizer.iterations == 2
    assert len(plan.program) == calls + len(model.trainable_weights)
    target, dloss = plan._loss(y, plan.nodes[-1])
    names = [name for name, _ in plan.program.profile(x, target, dloss)]
    assert names[-len(model.trainable_weights):] == \
        ["adam_update_many"] * len(model.trainable_weights)


class _UserAdam(optimizers.Adam):
    """A user's optimizer class: it may change the update, so it is applied from Python."""


def _constrain_first_kernel(model):
    model.layers[0].kernel.constraint = lambda w: np.clip(w, -0.1, 0.1)


def _regularize_first_kernel(model):
    model.layers[0].kernel.regularizer = minidl.regularizers.L2(0.01)


@pytest.mark.parametrize("optimizer,setup", [
    (lambda: optimizers.Adam(1e-3, clipnorm=0.5), None),
    (lambda: optimizers.SGD(0.05, weight_decay=0.01), None),
    (lambda: _UserAdam(1e-3), None),
    (lambda: optimizers.Adagrad(0.05), None),
    (lambda: optimizers.Adam(1e-3), _constrain_first_kernel),
    (lambda: optimizers.Adam(1e-3), _regularize_first_kernel)])
def test_what_the_program_cannot_update_is_applied_from_python(optimizer, setup):
    model = _fit_both_ways(optimizer, setup=setup)
    plan = model._cached_plan[1]
    assert plan is not None and not plan.updated


def test_a_changed_configuration_or_state_is_recorded_again():
    def change_midway(model):
        fit = model.fit

        def fit_then_change(*args, **kwargs):  # 3 steps, a change, 3 more
            kwargs["epochs"] = 1
            fit(*args, **kwargs)
            state = model.optimizer.get_state()
            model.optimizer.clipnorm = 0.05  # now applied from Python
            model.optimizer.set_state(state, model.trainable_weights)  # new slot arrays
            return fit(*args, **kwargs)
        model.fit = fit_then_change
    model = _fit_both_ways(lambda: optimizers.Adam(1e-3), setup=change_midway)
    assert not model._cached_plan[1].updated
    model.optimizer.clipnorm = None
    rng = np.random.default_rng(14)
    x, y = rng.random((8, 16, 16, 1)).astype(np.float32), rng.integers(0, 10, 8)
    model.train_on_batch(x, y)
    assert model._cached_plan[1].updated  # the slots set_state made


def test_a_bad_learning_rate_stops_a_recorded_step_before_any_change():
    model = _lenet(True)
    rates = iter([1e-3, 1e-3, float("nan")])
    model.compile(optimizer=optimizers.SGD(lambda: next(rates), momentum=0.5),
                  loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(15)
    x, y = rng.random((8, 16, 16, 1)).astype(np.float32), rng.integers(0, 10, 8)
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    assert model._cached_plan[1].updated
    weights, state = model.get_weights(), model.optimizer.get_state()
    with pytest.raises(ValueError, match="sgd_update_many: argument 'learning_rate'"):
        model.train_on_batch(x, y)
    for a, b in zip(weights + state["slots"],  # BN moving statistics included
                    model.get_weights() + model.optimizer.get_state()["slots"]):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 2
