"""minidl.optimizers against float64 NumPy references written from the Keras 3 update
formulas, over several steps; schedules, learning-rate setting, state round trips,
clipping, weight decay, get/serialize and bad arguments."""
import math

import numpy as np
import pytest

import minidl
from minidl import optimizers
from minidl.optimizers import schedules
from minidl.variables import Variable

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 6
F64 = dict(rtol=1e-12, atol=1e-13)
F32 = dict(rtol=3e-5, atol=3e-6)


# ---------------------------------------------------------------- references (Keras 3)


def ref_sgd(w, g, state, lr, momentum, nesterov):
    if momentum == 0:
        return w - lr * g
    v = state.setdefault("m", np.zeros_like(w))
    v = momentum * v - lr * g
    state["m"] = v
    return w + (momentum * v - lr * g if nesterov else v)


def ref_rmsprop(w, g, state, lr, rho, momentum, epsilon, centered):
    v = rho * state.get("v", np.zeros_like(w)) + (1 - rho) * g * g
    state["v"] = v
    if centered:
        a = rho * state.get("a", np.zeros_like(w)) + (1 - rho) * g
        state["a"] = a
        denominator = v - a * a + epsilon
    else:
        denominator = v + epsilon
    increment = lr * g / np.sqrt(denominator)
    if momentum > 0:
        m = momentum * state.get("m", np.zeros_like(w)) + increment
        state["m"] = m
        return w - m
    return w - increment


def ref_adam(w, g, state, lr, t, beta_1, beta_2, epsilon, amsgrad, weight_decay=0.0):
    w = w - w * weight_decay * lr
    m = state.get("m", np.zeros_like(w))
    v = state.get("v", np.zeros_like(w))
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    state["m"], state["v"] = m, v
    if amsgrad:
        v = np.maximum(state.get("vhat", np.zeros_like(w)), v)
        state["vhat"] = v
    alpha = lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    return w - alpha * m / (np.sqrt(v) + epsilon)


def _problem(rng, dtype=np.float64, shapes=SHAPES, steps=STEPS):
    variables = [Variable(rng.standard_normal(s), name=f"w{i}", dtype=dtype)
                 for i, s in enumerate(shapes)]
    for v in variables:
        v.path = f"layer/{v.name}"
    grads = [[rng.standard_normal(s) * (0.5 + k) for s in shapes] for k in range(steps)]
    return variables, grads


def _run_and_compare(optimizer, reference, rng, dtype=np.float64, lr_at=None):
    """Apply STEPS steps with the optimizer and with ``reference(w, g, state, lr, t)``."""
    variables, grads = _problem(rng, dtype)
    expected = [v.value.astype(np.float64) for v in variables]
    states = [{} for _ in variables]
    for step, step_grads in enumerate(grads):
        lr = lr_at(step) if lr_at else optimizer.learning_rate
        optimizer.apply_gradients(zip([g.astype(dtype) for g in step_grads], variables))
        for i, g in enumerate(step_grads):
            expected[i] = reference(expected[i], g.astype(dtype).astype(np.float64),
                                    states[i], lr, step + 1)
    assert optimizer.iterations == STEPS
    for v, want in zip(variables, expected):
        assert v.value.dtype == dtype
        np.testing.assert_allclose(v.value, want, **(F64 if dtype == np.float64 else F32))
    return variables


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True),
                                               (0.5, True)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd(rng, momentum, nesterov, dtype):
    opt = optimizers.SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov)
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_sgd(w, g, s, lr, momentum, nesterov),
                     rng, dtype)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.8])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rmsprop(rng, centered, momentum, dtype):
    opt = optimizers.RMSprop(learning_rate=0.01, rho=0.85, momentum=momentum, epsilon=1e-6,
                             centered=centered)
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_rmsprop(w, g, s, lr, 0.85, momentum,
                                                             1e-6, centered), rng, dtype)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam(rng, amsgrad, dtype):
    opt = optimizers.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-6,
                          amsgrad=amsgrad)
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_adam(w, g, s, lr, t, 0.8, 0.95, 1e-6,
                                                          amsgrad), rng, dtype)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw(rng, amsgrad):
    opt = optimizers.AdamW(learning_rate=0.02, weight_decay=0.1, amsgrad=amsgrad)
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_adam(w, g, s, lr, t, 0.9, 0.999, 1e-7,
                                                          amsgrad, weight_decay=0.1), rng)


def test_defaults_match_keras():
    sgd = optimizers.SGD()
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov, sgd.name) == (0.01, 0.0, False, "SGD")
    rms = optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered, rms.name) == \
        (0.001, 0.9, 0.0, 1e-7, False, "rmsprop")
    adam = optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad,
            adam.name) == (0.001, 0.9, 0.999, 1e-7, False, "adam")
    adamw = optimizers.AdamW()
    assert (adamw.weight_decay, adamw.name) == (0.004, "adamw")
    assert optimizers.Adam(name="opt").name == "opt"
    assert optimizers.SGD(name=None).name == "SGD"


def test_default_adam_against_reference(rng):
    _run_and_compare(optimizers.Adam(), lambda w, g, s, lr, t: ref_adam(
        w, g, s, lr, t, 0.9, 0.999, 1e-7, False), rng)


# ---------------------------------------------------------------- learning rate


def test_schedule_is_evaluated_at_iterations(rng):
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=schedule, momentum=0.9)
    assert opt.learning_rate == pytest.approx(0.1)
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_sgd(w, g, s, lr, 0.9, False), rng,
                     lr_at=lambda step: 0.1 * 0.5 ** (step / 2))
    assert opt.learning_rate == pytest.approx(0.1 * 0.5 ** (STEPS / 2))


def test_adam_with_piecewise_schedule(rng):
    schedule = schedules.PiecewiseConstantDecay([1, 3], [0.1, 0.01, 0.001])
    opt = optimizers.Adam(learning_rate=schedule)
    lr_of = {0: 0.1, 1: 0.1, 2: 0.01, 3: 0.01, 4: 0.001, 5: 0.001}
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_adam(w, g, s, lr, t, 0.9, 0.999, 1e-7,
                                                          False), rng, lr_at=lr_of.get)


def test_learning_rate_is_settable(rng):
    opt = optimizers.SGD(learning_rate=0.1)
    v = Variable(np.ones(3), dtype="float64")
    opt.apply([np.ones(3)], [v])
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and isinstance(opt.learning_rate, float)
    assert float(opt.lr) == 0.5
    opt.apply([np.ones(3)], [v])
    np.testing.assert_allclose(v.value, 1 - 0.1 - 0.5, **F64)
    opt.lr = 0.25
    assert opt.learning_rate == 0.25
    with pytest.raises(ValueError, match="SGD.*'learning_rate'"):
        opt.learning_rate = "fast"


def test_schedule_learning_rate_not_settable_to_number():
    opt = optimizers.Adam(schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(TypeError, match="LearningRateSchedule.*not settable"):
        opt.learning_rate = 0.01
    opt.learning_rate = schedules.PiecewiseConstantDecay([5], [0.3, 0.2])
    assert opt.learning_rate == 0.3


def test_callable_learning_rate(rng):
    opt = optimizers.SGD(learning_rate=lambda: 0.2)
    assert opt.learning_rate == 0.2
    v = Variable(np.zeros(2), dtype="float64")
    opt.apply([np.ones(2)], [v])
    np.testing.assert_allclose(v.value, [-0.2, -0.2], **F64)


def test_schedules_against_formulas():
    exp = schedules.ExponentialDecay(0.5, 10, 0.8)
    stair = schedules.ExponentialDecay(0.5, 10, 0.8, staircase=True)
    inv = schedules.InverseTimeDecay(0.5, 10, 2.0)
    inv_stair = schedules.InverseTimeDecay(0.5, 10, 2.0, staircase=True)
    poly = schedules.PolynomialDecay(0.5, 10, end_learning_rate=0.1, power=2.0)
    poly_cycle = schedules.PolynomialDecay(0.5, 10, end_learning_rate=0.1, cycle=True)
    cos = schedules.CosineDecay(0.5, 10, alpha=0.1)
    warm = schedules.CosineDecay(0.0, 10, warmup_target=0.4, warmup_steps=5)
    for step in [0, 1, 7, 10, 13, 25]:
        assert exp(step) == pytest.approx(0.5 * 0.8 ** (step / 10))
        assert stair(step) == pytest.approx(0.5 * 0.8 ** (step // 10))
        assert inv(step) == pytest.approx(0.5 / (1 + 2.0 * step / 10))
        assert inv_stair(step) == pytest.approx(0.5 / (1 + 2.0 * (step // 10)))
        assert poly(step) == pytest.approx(0.4 * (1 - min(step, 10) / 10) ** 2 + 0.1)
        period = 10 * max(1, math.ceil(step / 10))
        assert poly_cycle(step) == pytest.approx(0.4 * (1 - step / period) + 0.1)
        s = min(step, 10)
        assert cos(step) == pytest.approx(0.5 * (0.9 * 0.5 * (1 + math.cos(math.pi * s / 10))
                                                 + 0.1))
        if step < 5:
            assert warm(step) == pytest.approx(0.4 * step / 5)
        else:
            s = min(step - 5, 10)
            assert warm(step) == pytest.approx(0.4 * 0.5 * (1 + math.cos(math.pi * s / 10)))


def test_piecewise_constant_boundaries():
    pw = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pw(s) for s in (0, 10, 11, 20, 21, 100)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    assert pw(np.int64(15)) == 0.5


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialDecay(0.1, 100, 0.96, staircase=True),
    schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
    schedules.InverseTimeDecay(0.1, 5, 0.5),
    schedules.PolynomialDecay(0.1, 50, cycle=True),
    schedules.CosineDecay(0.1, 40, warmup_target=0.2, warmup_steps=4),
])
def test_schedule_config_round_trip(schedule):
    again = type(schedule).from_config(schedule.get_config())
    assert again.get_config() == schedule.get_config()
    restored = schedules.deserialize(schedules.serialize(schedule))
    assert [restored(s) for s in range(0, 60, 7)] == [schedule(s) for s in range(0, 60, 7)]


def test_schedule_base_and_bad_arguments():
    with pytest.raises(NotImplementedError, match="must override __call__"):
        schedules.LearningRateSchedule()(1)
    with pytest.raises(ValueError, match="ExponentialDecay.*'decay_steps'.*> 0"):
        schedules.ExponentialDecay(0.1, 0, 0.9)
    with pytest.raises(ValueError, match="PiecewiseConstantDecay.*plus 1"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match="'step'"):
        schedules.ExponentialDecay(0.1, 10, 0.9)("3")
    with pytest.raises(ValueError, match="unknown learning rate schedule 'Nope'"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


# ---------------------------------------------------------------- slots and state


def test_slots_created_lazily(rng):
    opt = optimizers.Adam(amsgrad=True)
    assert opt.get_state() == {"iterations": 0, "slots": []}
    variables, grads = _problem(rng, np.float32)
    opt.apply(grads[0][:1], variables[:1])
    state = opt.get_state()
    assert len(state["slots"]) == 3
    assert all(s.shape == variables[0].shape and s.dtype == np.float32 for s in state["slots"])
    opt.apply(grads[1], variables)
    assert len(opt.get_state()["slots"]) == 3 * len(variables)
    assert optimizers.SGD().get_state()["slots"] == []


def test_slot_order_is_first_seen_then_slot_name(rng):
    opt = optimizers.RMSprop(momentum=0.5, centered=True)
    variables, grads = _problem(rng)
    opt.build([variables[2], variables[0], variables[1]])
    opt.apply(grads[0], variables)
    slots = opt.get_state()["slots"]
    assert all(np.array_equal(a, b) for a, b in zip(opt.variables, slots))
    # per variable: average_gradient, momentum, velocity (slot name order)
    assert [s.shape for s in slots] == [variables[i].shape for i in (2, 2, 2, 0, 0, 0, 1, 1, 1)]
    g = grads[0][2]
    np.testing.assert_allclose(slots[0], 0.1 * g, **F64)            # average gradient
    np.testing.assert_allclose(slots[2], 0.1 * g * g, **F64)        # velocity


@pytest.mark.parametrize("make", [
    lambda: optimizers.SGD(0.05),
    lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: optimizers.RMSprop(momentum=0.5, centered=True),
    lambda: optimizers.Adam(amsgrad=True),
    lambda: optimizers.AdamW(learning_rate=schedules.ExponentialDecay(0.01, 2, 0.5)),
])
def test_state_round_trip_resumes_identically(rng, make):
    variables, grads = _problem(rng)
    first = make()
    for step_grads in grads[:3]:
        first.apply(step_grads, variables)
    saved_values = [v.numpy() for v in variables]
    saved_state = first.get_state()
    for step_grads in grads[3:]:
        first.apply(step_grads, variables)
    finished = [v.numpy() for v in variables]

    resumed = [Variable(value, name=v.name, dtype="float64")
               for v, value in zip(variables, saved_values)]
    second = make()
    second.set_state(saved_state, resumed)
    assert second.iterations == 3
    for step_grads in grads[3:]:
        second.apply(step_grads, resumed)
    for got, want in zip(resumed, finished):
        assert np.array_equal(got.value, want)
    # the saved state is a copy, untouched by the later steps
    assert saved_state["iterations"] == 3


def test_set_state_checks(rng):
    variables, grads = _problem(rng)
    opt = optimizers.Adam()
    opt.apply(grads[0], variables)
    state = opt.get_state()
    with pytest.raises(ValueError, match=r"Adam.set_state: the state holds 6 slot arrays but "
                                         r"2 variables"):
        optimizers.Adam().set_state(state, variables[:2])
    bad = dict(state, slots=[np.zeros((9, 9))] + state["slots"][1:])
    with pytest.raises(ValueError, match=r"slot 'momentum' of variable 'layer/w0' has "
                                         r"shape \(3, 4\)"):
        optimizers.Adam().set_state(bad, variables)
    with pytest.raises(ValueError, match="must be a dict with 'iterations'"):
        optimizers.Adam().set_state([1, 2], variables)
    with pytest.raises(ValueError, match="'iterations' must be a non-negative int"):
        optimizers.Adam().set_state({"iterations": -1, "slots": []}, variables)
    fresh = optimizers.Adam()
    fresh.set_state({"iterations": 0, "slots": []}, variables)
    assert fresh.iterations == 0 and not fresh.built


def test_iterations_and_none_gradients(rng):
    variables, grads = _problem(rng)
    opt = optimizers.SGD(0.1)
    before = variables[1].numpy()
    assert opt.apply_gradients([(grads[0][0], variables[0]), (None, variables[1])]) == 1
    assert np.array_equal(variables[1].value, before)
    opt.apply([None, None], variables[:2])
    assert opt.iterations == 1  # nothing applied, no step counted
    opt.apply(grads[1][:1])  # default: the variables seen so far
    assert opt.iterations == 2
    built = optimizers.SGD(0.1)
    built.build(variables)
    assert built.variables == []  # plain SGD keeps no state
    built.apply(grads[2])
    assert built.iterations == 1


# ---------------------------------------------------------------- clipping and decay


def test_clipvalue(rng):
    opt = optimizers.SGD(1.0, clipvalue=0.5)
    v = Variable(np.zeros(4), dtype="float64")
    opt.apply([np.array([-2.0, -0.25, 0.3, 7.0])], [v])
    np.testing.assert_allclose(v.value, [0.5, 0.25, -0.3, -0.5], **F64)


def test_clipnorm_and_global_clipnorm(rng):
    g1, g2 = rng.standard_normal(5) * 3, rng.standard_normal((2, 2)) * 0.01
    opt = optimizers.SGD(1.0, clipnorm=1.0)
    a, b = Variable(np.zeros(5), dtype="float64"), Variable(np.zeros((2, 2)), dtype="float64")
    opt.apply([g1, g2], [a, b])
    np.testing.assert_allclose(a.value, -g1 / np.linalg.norm(g1), **F64)
    np.testing.assert_allclose(b.value, -g2, **F64)  # within the norm: unchanged
    opt = optimizers.SGD(1.0, global_clipnorm=0.5)
    a, b = Variable(np.zeros(5), dtype="float64"), Variable(np.zeros((2, 2)), dtype="float64")
    opt.apply([g1, g2], [a, b])
    total = math.sqrt(np.sum(g1 ** 2) + np.sum(g2 ** 2))
    np.testing.assert_allclose(a.value, -g1 * 0.5 / total, **F64)
    np.testing.assert_allclose(b.value, -g2 * 0.5 / total, **F64)


def test_weight_decay_on_sgd_and_exclusion(rng):
    opt = optimizers.SGD(0.1, weight_decay=0.2)
    kernel = Variable(rng.standard_normal(3), name="kernel", dtype="float64")
    bias = Variable(rng.standard_normal(3), name="bias", dtype="float64")
    opt.exclude_from_weight_decay(var_names=["bias"])
    g = rng.standard_normal(3)
    want_kernel = kernel.numpy() * (1 - 0.2 * 0.1) - 0.1 * g
    want_bias = bias.numpy() - 0.1 * g
    opt.apply([g, g], [kernel, bias])
    np.testing.assert_allclose(kernel.value, want_kernel, **F64)
    np.testing.assert_allclose(bias.value, want_bias, **F64)


def test_adamw_exclusion_by_variable(rng):
    opt = optimizers.AdamW(learning_rate=0.01, weight_decay=0.5)
    v = Variable(rng.standard_normal(4), dtype="float64")
    opt.exclude_from_weight_decay(var_list=[v])
    g = rng.standard_normal(4)
    want = ref_adam(v.numpy(), g, {}, 0.01, 1, 0.9, 0.999, 1e-7, False)
    opt.apply([g], [v])
    np.testing.assert_allclose(v.value, want, **F64)


# ---------------------------------------------------------------- config, get, errors


@pytest.mark.parametrize("opt", [
    optimizers.SGD(0.3, momentum=0.5, nesterov=True, clipnorm=2.0),
    optimizers.RMSprop(0.002, rho=0.8, momentum=0.1, epsilon=1e-5, centered=True),
    optimizers.Adam(0.004, beta_1=0.7, beta_2=0.9, amsgrad=True, global_clipnorm=1.0),
    optimizers.AdamW(0.01, weight_decay=0.02, name="aw"),
    optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.5)),
])
def test_config_round_trip(opt):
    again = type(opt).from_config(opt.get_config())
    assert again.get_config() == opt.get_config()
    restored = optimizers.get(optimizers.serialize(opt))
    assert type(restored) is type(opt) and restored.get_config() == opt.get_config()


@pytest.mark.parametrize("identifier,cls", [
    ("sgd", optimizers.SGD), ("SGD", optimizers.SGD), ("rmsprop", optimizers.RMSprop),
    ("RMSprop", optimizers.RMSprop), ("adam", optimizers.Adam), ("Adam", optimizers.Adam),
    ("ADAM", optimizers.Adam), ("adamw", optimizers.AdamW), ("AdamW", optimizers.AdamW),
    (optimizers.Adam, optimizers.Adam),
])
def test_get(identifier, cls):
    assert type(optimizers.get(identifier)) is cls


def test_get_instance_and_unknown():
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 'lamb'"
                                         ".*sgd, rmsprop, adam, adamw, adagrad, adamax"):
        optimizers.get("lamb")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get(3)


def test_bad_arguments(rng):
    with pytest.raises(ValueError, match=r"SGD: argument 'momentum' must be in \[0.0, 1.0\]"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match=r"Adam: argument 'beta_1' must be in \[0.0, 1.0\)"):
        optimizers.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="RMSprop: argument 'rho'"):
        optimizers.RMSprop(rho=-0.1)
    with pytest.raises(ValueError, match="only one of 'clipnorm', 'clipvalue'"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="'clipnorm' must be positive"):
        optimizers.SGD(clipnorm=0)
    with pytest.raises(ValueError, match="not recognized: 'beta1'"):
        optimizers.Adam(beta1=0.1)
    with pytest.raises(ValueError, match="'use_ema' is not supported"):
        optimizers.Adam(use_ema=True)
    with pytest.raises(ValueError, match="AdamW: argument 'weight_decay' must be a float"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="Adam: argument 'learning_rate' must be a finite"):
        optimizers.Adam(learning_rate=float("nan"))
    variables, grads = _problem(rng)
    opt = optimizers.Adam()
    with pytest.raises(ValueError, match=r"Adam: the gradient of variable 'layer/w0' must have "
                                         r"the variable's shape \(3, 4\).*\(4, 3\)"):
        opt.apply([np.zeros((4, 3))], variables[:1])
    with pytest.raises(ValueError, match="one gradient per variable"):
        opt.apply(grads[0][:2], variables)
    with pytest.raises(TypeError, match="expected minidl Variables"):
        opt.apply([np.zeros(3)], [np.zeros(3)])
    with pytest.raises(ValueError, match=r"expected \(gradient, variable\) pairs"):
        opt.apply_gradients([np.zeros(3)])
    assert opt.iterations == 0


# ---------------------------------------------------------------- Keras 2 spellings


def test_keras2_lr_argument_warns_and_sets_the_learning_rate(rng):
    with pytest.warns(DeprecationWarning, match="'lr'"):
        opt = optimizers.SGD(lr=0.2, momentum=0.5)
    assert opt.learning_rate == 0.2
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_sgd(w, g, s, lr, 0.5, False), rng)


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_keras2_decay_is_time_based(rng, name):
    """Keras 2: the learning rate of step t (from 0) is lr / (1 + decay * t)."""
    lr, decay = 0.05, 0.3
    references = {
        "sgd": lambda w, g, s, lr_t, t: ref_sgd(w, g, s, lr_t, 0.0, False),
        "rmsprop": lambda w, g, s, lr_t, t: ref_rmsprop(w, g, s, lr_t, 0.9, 0.0, 1e-7, False),
        "adam": lambda w, g, s, lr_t, t: ref_adam(w, g, s, lr_t, t, 0.9, 0.999, 1e-7, False),
    }
    with pytest.warns(DeprecationWarning) as caught:
        opt = getattr(optimizers, name)(lr=lr, decay=decay)
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["decay", "lr"]
    _run_and_compare(opt, references[name], rng, lr_at=lambda step: lr / (1 + decay * step))
    assert opt.learning_rate == pytest.approx(lr / (1 + decay * STEPS), rel=1e-15)


def test_keras2_decay_survives_the_config_and_is_checked():
    with pytest.warns(DeprecationWarning):
        opt = optimizers.rmsprop(lr=1e-4, decay=1e-6)
    config = optimizers.serialize(opt)
    assert config["config"]["decay"] == 1e-6 and config["config"]["learning_rate"] == 1e-4
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a saved decay is not the user's old spelling
        restored = optimizers.deserialize(config)
    assert isinstance(restored, optimizers.RMSprop) and restored.decay == 1e-6
    assert "decay" not in optimizers.SGD().get_config()
    with pytest.raises(ValueError, match="SGD.*'decay'"):
        optimizers.SGD(decay=-0.1)


def test_keras2_np_utils_path():
    from minidl.utils.np_utils import to_categorical
    np.testing.assert_array_equal(to_categorical([2, 0], 3), [[0, 0, 1], [1, 0, 0]])


# ---------------------------------------------------------------- Adagrad and Adamax


def ref_adagrad(w, g, state, lr, initial, epsilon):
    acc = state.get("acc", np.full_like(w, initial)) + g * g
    state["acc"] = acc
    return w - lr * g / np.sqrt(acc + epsilon)


def ref_adamax(w, g, state, lr, t, beta_1, beta_2, epsilon):
    m = state.get("m", np.zeros_like(w))
    u = state.get("u", np.zeros_like(w))
    m = m + (g - m) * (1 - beta_1)
    u = np.maximum(beta_2 * u, np.abs(g))
    state["m"], state["u"] = m, u
    return w - lr / (1 - beta_1 ** t) * m / (u + epsilon)


@pytest.mark.parametrize("initial,epsilon", [(0.1, 1e-7), (0.0, 1e-3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adagrad(rng, initial, epsilon, dtype):
    opt = optimizers.Adagrad(learning_rate=0.05, initial_accumulator_value=initial,
                             epsilon=epsilon)
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_adagrad(w, g, s, lr, initial, epsilon),
                     rng, dtype)


@pytest.mark.parametrize("beta_2", [0.999, 0.5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adamax(rng, beta_2, dtype):
    opt = optimizers.Adamax(learning_rate=0.02, beta_1=0.8, beta_2=beta_2, epsilon=1e-6)
    _run_and_compare(opt, lambda w, g, s, lr, t: ref_adamax(w, g, s, lr, t, 0.8, beta_2, 1e-6),
                     rng, dtype)


def test_adagrad_and_adamax_by_name_config_and_state():
    for name, cls in (("adagrad", optimizers.Adagrad), ("Adamax", optimizers.Adamax)):
        opt = optimizers.get(name)
        assert isinstance(opt, cls)
        twin = optimizers.deserialize(optimizers.serialize(opt))
        assert twin.get_config() == opt.get_config()
    w = Variable(np.ones(3), dtype="float64")
    opt = optimizers.Adagrad(initial_accumulator_value=0.25)
    opt.apply([np.ones(3)], [w])
    np.testing.assert_allclose(opt.get_state()["slots"][0], 1.25)
    with pytest.raises(ValueError, match="Adamax: argument 'beta_1'"):
        optimizers.Adamax(beta_1=1.0)
    with pytest.raises(ValueError, match="adagrad_update: argument 'accumulator'"):
        minidl.ops.adagrad_update(np.ones(2), np.ones(2), None)
