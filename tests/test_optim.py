"""Optimizer updates (csrc/optim.c through minidl.ops) against float64 NumPy references
written from the Keras 3 formulas."""
import numpy as np
import pytest

import minidl
from minidl import ops
import reference as ref
from conftest import TOL

STEPS = 5
SHAPES = [(1,), (7,), (3, 5), (2, 3, 4, 5)]


def _grads(rng, shape, dtype, steps=STEPS):
    """A gradient per step: signed, away from zero, of varying scale."""
    return [(rng.standard_normal(shape) * (0.5 + k)).astype(dtype) for k in range(steps)]


def _close(got, want, dtype, name):
    # float32 updates compound over the steps: allow a little more than one rounding
    tol = dict(rtol=3e-5, atol=3e-6) if dtype == np.float32 else TOL[np.float64]
    np.testing.assert_allclose(got, want, err_msg=name, **tol)


# ---------------------------------------------------------------- SGD


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.0, True), (0.9, False),
                                               (0.9, True), (0.5, True)])
def test_sgd_matches_keras_formula(rng, dtype, shape, momentum, nesterov):
    var = rng.standard_normal(shape).astype(dtype)
    vel = np.zeros(shape, dtype) if momentum else None
    want_var, want_vel = var.astype(np.float64), (np.zeros(shape) if momentum else None)
    for g in _grads(rng, shape, dtype):
        ops.sgd_update(var, g, vel, learning_rate=0.05, momentum=momentum, nesterov=nesterov)
        want_var, want_vel = ref.sgd_update(want_var, want_vel, g, 0.05, momentum, nesterov)
        assert var.dtype == dtype
    _close(var, want_var, dtype, "variable")
    if momentum:
        _close(vel, want_vel, dtype, "velocity")


def test_sgd_velocity_ignored_without_momentum(rng, dtype):
    var = rng.standard_normal(10).astype(dtype)
    vel = np.full(10, 7.0, dtype)
    g = rng.standard_normal(10).astype(dtype)
    want, _ = ref.sgd_update(var, None, g, 0.1, 0.0, False)
    ops.sgd_update(var, g, vel, learning_rate=0.1)
    _close(var, want, dtype, "variable")
    assert np.all(vel == 7.0)


# ---------------------------------------------------------------- RMSprop


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_matches_keras_formula(rng, dtype, shape, centered, momentum):
    var = rng.standard_normal(shape).astype(dtype)
    vel = np.zeros(shape, dtype)
    avg = np.zeros(shape, dtype) if centered else None
    mom = np.zeros(shape, dtype) if momentum else None
    want = (var.astype(np.float64), np.zeros(shape), np.zeros(shape) if centered else None,
            np.zeros(shape) if momentum else None)
    for g in _grads(rng, shape, dtype):
        ops.rmsprop_update(var, g, vel, learning_rate=0.01, rho=0.8, momentum=momentum,
                           epsilon=1e-7, centered=centered, average_gradient=avg,
                           momentum_buffer=mom)
        want = ref.rmsprop_update(want[0], want[1], want[2], want[3], g, 0.01, 0.8, momentum,
                                  1e-7, centered)
    _close(var, want[0], dtype, "variable")
    _close(vel, want[1], dtype, "velocity")
    if centered:
        _close(avg, want[2], dtype, "average_gradient")
    if momentum:
        _close(mom, want[3], dtype, "momentum_buffer")


# ---------------------------------------------------------------- Adam / AdamW


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.004])
@pytest.mark.parametrize("first_step", [1, 100])
def test_adam_matches_keras_formula(rng, dtype, shape, amsgrad, weight_decay, first_step):
    var = rng.standard_normal(shape).astype(dtype)
    m = np.zeros(shape, dtype)
    v = np.zeros(shape, dtype)
    vhat = np.zeros(shape, dtype) if amsgrad else None
    want = (var.astype(np.float64), np.zeros(shape), np.zeros(shape),
            np.zeros(shape) if amsgrad else None)
    # shrinking gradients make vhat differ from v (amsgrad matters)
    grads = [g / (1 + 3 * k) for k, g in enumerate(_grads(rng, shape, dtype))]
    for k, g in enumerate(grads):
        g = g.astype(dtype)
        step = first_step + k
        ops.adam_update(var, g, m, v, step, learning_rate=0.01, beta_1=0.8, beta_2=0.95,
                        epsilon=1e-7, vhat=vhat, weight_decay=weight_decay)
        want = ref.adam_update(*want, g, step, 0.01, 0.8, 0.95, 1e-7, weight_decay)
    _close(var, want[0], dtype, "variable")
    _close(m, want[1], dtype, "m")
    _close(v, want[2], dtype, "v")
    if amsgrad:
        _close(vhat, want[3], dtype, "vhat")
        assert var.size == 1 or np.any(vhat > v)


def test_adam_defaults_match_keras_formula(rng, dtype):
    var = rng.standard_normal(20).astype(dtype)
    m, v = np.zeros(20, dtype), np.zeros(20, dtype)
    g = rng.standard_normal(20).astype(dtype)
    want = ref.adam_update(var, m, v, None, g, 1, 0.001, 0.9, 0.999, 1e-7, 0.0)
    ops.adam_update(var, g, m, v, 1)
    _close(var, want[0], dtype, "variable")


# ---------------------------------------------------------------- inputs and layouts


def test_gradient_any_dtype_and_layout(rng, dtype):
    var = rng.standard_normal((4, 6)).astype(dtype)
    base = var.copy()
    g_int = rng.integers(-3, 4, size=(4, 6))
    g_strided = rng.standard_normal((6, 4)).T  # float64, not contiguous
    g_readonly = rng.standard_normal((4, 6)).astype(np.float32)
    g_readonly.flags.writeable = False
    want = var.astype(np.float64)
    for g in (g_int, g_strided, g_readonly):
        ops.sgd_update(var, g, learning_rate=0.1)
        want, _ = ref.sgd_update(want, None, np.asarray(g).astype(dtype), 0.1, 0.0, False)
    _close(var, want, dtype, "variable")
    assert not np.array_equal(var, base)


def test_gradient_aliasing_variable(rng, dtype):
    var = rng.standard_normal(50).astype(dtype)
    want, _ = ref.sgd_update(var, None, var, 0.25, 0.0, False)
    ops.sgd_update(var, var, learning_rate=0.25)
    _close(var, want, dtype, "variable")
    # a gradient that overlaps the variable with an offset is copied first
    buf = rng.standard_normal(51).astype(dtype)
    var, g = buf[:50], buf[1:]
    want, _ = ref.sgd_update(var, None, g.copy(), 0.5, 0.0, False)
    ops.sgd_update(var, g, learning_rate=0.5)
    _close(var, want, dtype, "variable")


def test_scalar_and_empty_variables(dtype):
    var = np.array(2.0, dtype)
    m, v = np.zeros((), dtype), np.zeros((), dtype)
    ops.adam_update(var, 0.5, m, v, 1, learning_rate=0.1)
    want = ref.adam_update(np.array(2.0), 0.0, 0.0, None, 0.5, 1, 0.1, 0.9, 0.999, 1e-7, 0.0)
    _close(var, want[0], dtype, "variable")
    empty = np.zeros((0, 3), dtype)
    ops.sgd_update(empty, np.zeros((0, 3)), np.zeros((0, 3), dtype), momentum=0.9)
    ops.rmsprop_update(empty, np.zeros((0, 3)), np.zeros((0, 3), dtype))
    ops.adam_update(empty, np.zeros((0, 3)), np.zeros((0, 3), dtype), np.zeros((0, 3), dtype), 3)


# ---------------------------------------------------------------- threads and determinism


def _run_all(rng_seed, dtype, n):
    """Run every optimizer variant 2 steps on n values; return all the arrays."""
    rng = np.random.default_rng(rng_seed)
    var0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(2)]
    outs = []
    for momentum, nesterov in [(0.0, False), (0.9, False), (0.9, True)]:
        var, vel = var0.copy(), np.zeros(n, dtype)
        for g in grads:
            ops.sgd_update(var, g, vel, learning_rate=0.1, momentum=momentum, nesterov=nesterov)
        outs += [var, vel]
    for centered in (False, True):
        var, vel, avg, mom = var0.copy(), *(np.zeros(n, dtype) for _ in range(3))
        for g in grads:
            ops.rmsprop_update(var, g, vel, momentum=0.9, centered=centered,
                               average_gradient=avg, momentum_buffer=mom)
        outs += [var, vel, avg, mom]
    for amsgrad, wd in [(False, 0.0), (True, 0.01)]:
        var, m, v, vhat = var0.copy(), *(np.zeros(n, dtype) for _ in range(3))
        for step, g in enumerate(grads, 1):
            ops.adam_update(var, g, m, v, step, vhat=vhat if amsgrad else None,
                            weight_decay=wd)
        outs += [var, m, v, vhat]
    return outs


def test_threads_bit_identical_and_reference(rng, dtype, threads):
    n = 40000 + 13  # crosses the OpenMP threshold, odd tail
    minidl.set_num_threads(1)
    one = _run_all(5, dtype, n)
    minidl.set_num_threads(2)
    two = _run_all(5, dtype, n)
    again = _run_all(5, dtype, n)
    for a, b, c in zip(one, two, again):
        assert np.array_equal(a, b) and np.array_equal(b, c)
    # the large run is also right: spot-check Adam with amsgrad + weight decay
    r = np.random.default_rng(5)
    var0 = r.standard_normal(n).astype(dtype)
    grads = [r.standard_normal(n).astype(dtype) for _ in range(2)]
    want = (var0.astype(np.float64), np.zeros(n), np.zeros(n), np.zeros(n))
    for step, g in enumerate(grads, 1):
        want = ref.adam_update(*want, g, step, 0.001, 0.9, 0.999, 1e-7, 0.01)
    _close(two[-4], want[0], dtype, "variable")


# ---------------------------------------------------------------- bad arguments


def test_bad_variable(dtype):
    g = np.zeros(4)
    with pytest.raises(TypeError, match="sgd_update.*'variable'.*NumPy array"):
        ops.sgd_update([1.0, 2.0, 3.0, 4.0], g)
    with pytest.raises(TypeError, match="sgd_update.*'variable'.*float32 or float64"):
        ops.sgd_update(np.zeros(4, np.int32), g)
    ro = np.zeros(4, dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="sgd_update.*'variable'.*writable"):
        ops.sgd_update(ro, g)
    strided = np.zeros(8, dtype)[::2]
    with pytest.raises(ValueError, match="sgd_update.*'variable'.*C-contiguous"):
        ops.sgd_update(strided, g)
    assert np.all(strided == 0) and np.all(ro == 0)


def test_bad_state_arrays(dtype):
    var = np.zeros((2, 3), dtype)
    g = np.ones((2, 3))
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(TypeError, match="sgd_update.*'velocity'.*dtype"):
        ops.sgd_update(var, g, np.zeros((2, 3), other), momentum=0.9)
    with pytest.raises(ValueError, match="sgd_update.*'velocity'.*shape"):
        ops.sgd_update(var, g, np.zeros((3, 2), dtype), momentum=0.9)
    with pytest.raises(ValueError, match="sgd_update.*'velocity'.*C-contiguous"):
        ops.sgd_update(var, g, np.zeros((3, 2), dtype).T, momentum=0.9)
    with pytest.raises(ValueError, match="sgd_update.*'velocity'.*required"):
        ops.sgd_update(var, g, None, momentum=0.9)
    with pytest.raises(ValueError, match="rmsprop_update.*'average_gradient'.*required"):
        ops.rmsprop_update(var, g, np.zeros_like(var), centered=True)
    with pytest.raises(ValueError, match="rmsprop_update.*'momentum_buffer'.*required"):
        ops.rmsprop_update(var, g, np.zeros_like(var), momentum=0.5)
    with pytest.raises(ValueError, match="rmsprop_update.*'velocity'.*required"):
        ops.rmsprop_update(var, g, None)
    m = np.zeros_like(var)
    with pytest.raises(ValueError, match="adam_update.*'m' and 'v'.*share memory"):
        ops.adam_update(var, g, m, m, 1)
    with pytest.raises(ValueError, match="adam_update.*'variable' and 'vhat'.*share memory"):
        ops.adam_update(var, g, m, np.zeros_like(var), 1, vhat=var)
    with pytest.raises(TypeError, match="adam_update.*'v'.*NumPy array"):
        ops.adam_update(var, g, m, [[0.0] * 3] * 2, 1)
    assert np.all(var == 0)


def test_bad_gradient(dtype):
    var = np.zeros(5, dtype)
    with pytest.raises(ValueError, match="sgd_update.*'gradient'.*shape.*\\(5,\\).*\\(4,\\)"):
        ops.sgd_update(var, np.zeros(4))
    with pytest.raises(TypeError, match="sgd_update.*'gradient'"):
        ops.sgd_update(var, np.zeros(5, np.complex64))
    with pytest.raises(TypeError, match="adam_update.*'gradient'"):
        ops.adam_update(var, np.array(["a"] * 5), np.zeros_like(var), np.zeros_like(var), 1)


@pytest.mark.parametrize("call,error,pattern", [
    (lambda a: ops.sgd_update(*a[:2], learning_rate=np.nan), ValueError,
     "sgd_update.*'learning_rate'.*finite"),
    (lambda a: ops.sgd_update(*a[:2], learning_rate="0.1"), TypeError,
     "sgd_update.*'learning_rate'.*real number"),
    (lambda a: ops.sgd_update(*a, momentum=1.5), ValueError, "sgd_update.*'momentum'"),
    (lambda a: ops.sgd_update(*a, momentum=-0.1), ValueError, "sgd_update.*'momentum'"),
    (lambda a: ops.rmsprop_update(*a, rho=2.0), ValueError, "rmsprop_update.*'rho'"),
    (lambda a: ops.rmsprop_update(*a, epsilon=np.inf), ValueError,
     "rmsprop_update.*'epsilon'"),
    (lambda a: ops.rmsprop_update(*a, momentum=-1.0), ValueError,
     "rmsprop_update.*'momentum'"),
    (lambda a: ops.adam_update(*a, a[2].copy(), 0), ValueError, "adam_update.*'step'.*>= 1"),
    (lambda a: ops.adam_update(*a, a[2].copy(), 1.5), TypeError, "adam_update.*'step'"),
    (lambda a: ops.adam_update(*a, a[2].copy(), True), TypeError, "adam_update.*'step'"),
    (lambda a: ops.adam_update(*a, a[2].copy(), 1, beta_1=1.0), ValueError,
     "adam_update.*'beta_1'"),
    (lambda a: ops.adam_update(*a, a[2].copy(), 1, beta_2=-0.5), ValueError,
     "adam_update.*'beta_2'"),
    (lambda a: ops.adam_update(*a, a[2].copy(), 1, weight_decay=-0.1), ValueError,
     "adam_update.*'weight_decay'"),
    (lambda a: ops.adam_update(*a, a[2].copy(), 1, epsilon=None), TypeError,
     "adam_update.*'epsilon'"),
])
def test_bad_scalars(dtype, call, error, pattern):
    var = np.ones(3, dtype)
    args = (var, np.ones(3), np.zeros(3, dtype))
    with pytest.raises(error, match=pattern):
        call(args)
    assert np.all(var == 1)


def test_c_layer_rejects_bad_arguments(dtype):
    """The _C wrappers and the C kernels check on their own (bypassing minidl.ops)."""
    C = minidl._C
    var, g = np.zeros(4, dtype), np.ones(4, dtype)
    with pytest.raises(ValueError, match="sgd_update.*invalid argument"):
        C.sgd_update(var, None, g, np.nan, 0.0, False)
    with pytest.raises(ValueError, match="sgd_update.*invalid argument"):
        C.sgd_update(var, None, g, 0.1, 0.9, False)  # momentum needs a velocity
    with pytest.raises(ValueError, match="sgd_update.*'grad'.*shape"):
        C.sgd_update(var, None, np.ones(3, dtype), 0.1, 0.0, False)
    with pytest.raises(ValueError, match="rmsprop_update.*invalid argument"):
        C.rmsprop_update(var, np.zeros_like(var), None, None, g, 0.1, 0.9, 0.0, 1e-7, True)
    with pytest.raises(ValueError, match="adam_update.*'vhat'.*shape"):
        C.adam_update(var, var.copy(), var.copy(), np.zeros(5, dtype), g, 0.1, 0.9, 0.9,
                      1e-7, 1, 0.0)
    for b1, b2, step, wd in [(1.0, 0.9, 1, 0.0), (0.9, 1.5, 1, 0.0), (0.9, 0.9, 0, 0.0),
                             (0.9, 0.9, 1, -1.0)]:
        with pytest.raises(ValueError, match="adam_update.*invalid argument"):
            C.adam_update(var, var.copy(), var.copy(), None, g, 0.1, b1, b2, 1e-7, step, wd)
    assert np.all(var == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_and_rmsprop_give_the_same_bits_at_every_simd_level(dtype):
    from conftest import ISA_LIB
    rng = np.random.default_rng(11)
    n = 3 * 4096 + 17  # several blocks and a ragged tail
    grads = _grads(rng, (n,), dtype, 3)
    results = []
    try:
        for level in range(ISA_LIB.md_cpu_isa() + 1):
            ISA_LIB.md_force_isa(level)
            w = np.random.default_rng(12).standard_normal(n).astype(dtype)  # same at each
            m, v, h, r, a, mb = (np.zeros(n, dtype) for _ in range(6))
            w2 = w.copy()
            for step, g in enumerate(grads, 1):
                ops.adam_update(w, g, m, v, step, 0.01, vhat=h, weight_decay=0.1)
                ops.rmsprop_update(w2, g, r, 0.01, momentum=0.5, centered=True,
                                   average_gradient=a, momentum_buffer=mb)
            results.append((w, m, v, h, w2, r, a, mb))
    finally:
        ISA_LIB.md_force_isa(-1)
    for other in results[1:]:
        for x, y in zip(results[0], other):
            np.testing.assert_array_equal(x, y)


def test_a_multi_tensor_update_rechecks_what_could_have_changed():
    """The checks of the last call are reused only for the very same, still writable
    arrays (ops.optim._many); anything else is checked again."""
    rng = np.random.default_rng(12)
    w = [rng.standard_normal(4).astype(np.float32), rng.standard_normal(3).astype(np.float32)]
    m, v = [np.zeros_like(a) for a in w], [np.zeros_like(a) for a in w]
    grads = [np.ones(4, np.float32), np.ones(3, np.float32)]
    expected = [a.copy() for a in w]
    for step in (1, 2):  # the second call reuses the first call's checks
        ops.adam_update_many(w, grads, m, v, step, learning_rate=0.1)
        for a in expected:  # Adam's first steps with a gradient of ones move by lr each
            a -= np.float32(0.1)
        for a, b in zip(w, expected):
            np.testing.assert_allclose(a, b, rtol=1e-5)
    w[1].flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        ops.adam_update_many(w, grads, m, v, 3, learning_rate=0.1)
    w[1].flags.writeable = True
    wrong = [np.ones(4, np.float32), np.ones(5, np.float32)]
    with pytest.raises(ValueError, match="shape"):
        ops.adam_update_many(w, wrong, m, v, 3, learning_rate=0.1)
    converted = [np.ones(4), np.ones(3)]  # float64 gradients: cast each call, not kept
    ops.adam_update_many(w, converted, m, v, 3, learning_rate=0.1)
    converted[0][:] = 0.0
    before = w[0].copy()
    ops.adam_update_many(w, converted, m, v, 4, learning_rate=0.1)
    assert not np.allclose(w[0], before - 0.1)  # the zeroed gradient was read again


def test_a_recorded_update_reads_the_scalars_of_each_run():
    """Multi-tensor updates recorded into a step program: each run reads the learning
    rate (and Adam's step) written into the scalars array since, as a float64 reference
    does with the same values."""
    from minidl import _C
    rng = np.random.default_rng(13)
    shapes = (5, 3)
    w = [rng.standard_normal(n) for n in shapes]
    g = [rng.standard_normal(n) for n in shapes]
    adam, rms, sgd = ([a.copy() for a in w] for _ in range(3))
    m, v, vel, vel_rms, avg, mom = ([np.zeros(n) for n in shapes] for _ in range(6))
    program = _C.Program()
    adam_scalars, rms_scalars, sgd_scalars = np.zeros(5), np.zeros(4), np.zeros(2)
    _C.adam_update_many(adam, m, v, [None, None], g, 0.0, 0.9, 0.999, 1e-7, 1, [0.0, 0.1],
                        program=program, scalars=adam_scalars)
    _C.rmsprop_update_many(rms, vel_rms, avg, mom, g, 0.0, 0.9, 0.5, 1e-7, True,
                           program=program, scalars=rms_scalars)
    _C.sgd_update_many(sgd, vel, g, 0.0, 0.9, True, program=program, scalars=sgd_scalars)
    assert len(program) == 6
    for a, b in zip(adam, w):  # nothing ran yet
        np.testing.assert_array_equal(a, b)
    want_adam = [(a, np.zeros(n), np.zeros(n)) for a, n in zip(w, shapes)]
    want_rms = [(a, np.zeros(n), np.zeros(n), np.zeros(n)) for a, n in zip(w, shapes)]
    want_sgd = [(a, np.zeros(n)) for a, n in zip(w, shapes)]
    for step, lr in ((1, 0.1), (2, 0.05), (3, 0.02)):
        adam_scalars[:] = (lr, 0.9, 0.999, 1e-7, step)
        rms_scalars[:] = (lr, 0.9, 0.5, 1e-7)
        sgd_scalars[:] = (lr, 0.9)
        program.run()
        for i, decay in enumerate((0.0, 0.1)):
            want_adam[i] = ref.adam_update(*want_adam[i], None, g[i], step, lr, 0.9, 0.999,
                                           1e-7, decay)[:3]
            want_rms[i] = ref.rmsprop_update(*want_rms[i][:2], want_rms[i][2], want_rms[i][3],
                                             g[i], lr, 0.9, 0.5, 1e-7, True)
            want_sgd[i] = ref.sgd_update(*want_sgd[i], g[i], lr, 0.9, True)
            np.testing.assert_allclose(adam[i], want_adam[i][0], rtol=1e-12)
            np.testing.assert_allclose(rms[i], want_rms[i][0], rtol=1e-12)
            np.testing.assert_allclose(sgd[i], want_sgd[i][0], rtol=1e-12)


def test_a_multi_tensor_update_checks_every_variable_before_it_writes():
    from minidl import _C
    w = [np.ones(3), np.ones(2)]
    with pytest.raises(ValueError, match="variable's 2 values"):  # the second is wrong
        _C.sgd_update_many(w, [None, None], [np.ones(3), np.ones(4)], 0.5, 0.0, False)
    np.testing.assert_array_equal(w[0], 1.0)
    with pytest.raises(ValueError, match="needs 'scalars', a float64 array of at least 5"):
        _C.adam_update_many(w, [np.zeros(3), np.zeros(2)], [np.zeros(3), np.zeros(2)],
                            [None, None], [np.ones(3), np.ones(2)], 0.1, 0.9, 0.999, 1e-7, 1,
                            [0.0, 0.0], program=_C.Program(), scalars=np.zeros(4))
