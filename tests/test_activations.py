"""Activations (csrc/activations.c) through minidl.ops, against tests/reference.py."""
import warnings

import numpy as np
import pytest

import minidl
from minidl import _C, ops

import reference as ref
from conftest import TOL
from gradcheck import assert_gradient

ELEMENTWISE = ["linear", "relu", "sigmoid", "tanh"]
FORWARD = {"relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh,
           "linear": lambda x: ops.activation(x, "linear")}
BACKWARD = {"relu": ops.relu_backward, "sigmoid": ops.sigmoid_backward,
            "tanh": ops.tanh_backward,
            "linear": lambda dy, y: ops.activation_backward(dy, y, "linear")}
REFERENCE = {"relu": ref.relu, "sigmoid": ref.sigmoid, "tanh": ref.tanh,
             "linear": lambda x: np.asarray(x, dtype=np.float64).copy()}
SHAPES = [(1,), (7,), (3, 5), (2, 3, 4, 5), (1, 1, 1, 33)]


def away_from_zero(rng, shape, low=0.1, high=3.0):
    """Random values with |x| in [low, high] (no ReLU kink nearby)."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# ---------------------------------------------------------------- forward values


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", SHAPES)
def test_elementwise_forward_matches_reference(name, shape, dtype, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = FORWARD[name](x)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, REFERENCE[name](x), **TOL[dtype])
    np.testing.assert_allclose(ops.activation(x, name), y, rtol=0, atol=0)


@pytest.mark.parametrize("shape,axis", [((1, 1), -1), ((4, 7), -1), ((4, 7), 0),
                                        ((2, 3, 33), 1), ((5,), 0), ((2, 6, 3), -3)])
def test_softmax_forward_matches_reference(shape, axis, dtype, rng):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    y = ops.softmax(x, axis=axis)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, ref.softmax(x, axis), **TOL[dtype])
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, **TOL[dtype])


def test_activation_softmax_uses_last_axis(dtype, rng):
    x = rng.standard_normal((3, 4)).astype(dtype)
    np.testing.assert_array_equal(ops.activation(x, "softmax"), ops.softmax(x))


def test_activation_none_is_linear(rng):
    x = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(ops.activation(x, None), x)


def test_scalar_and_empty_inputs(dtype):
    assert ops.relu(np.array(-2.0, dtype=dtype)).shape == ()
    assert ops.sigmoid(np.array(0.0, dtype=dtype)) == 0.5
    empty = np.zeros((0, 3), dtype=dtype)
    assert ops.tanh(empty).shape == (0, 3)
    assert ops.softmax(empty).shape == (0, 3)
    assert ops.relu_backward(empty, empty).shape == (0, 3)


def test_integer_input_computes_in_float32():
    y = ops.relu(np.array([-3, 0, 5], dtype=np.int64))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 5])


# ---------------------------------------------------------------- stability


def test_sigmoid_is_stable_at_large_magnitudes(dtype):
    x = np.array([-1e4, -800.0, -100.0, -20.0, 0.0, 20.0, 100.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ops.sigmoid(x)
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[4] == 0.5
    np.testing.assert_allclose(y, ref.sigmoid(x), **TOL[dtype])
    # the tiny tail keeps its relative precision instead of collapsing to 1 - 1
    np.testing.assert_allclose(y[3], np.exp(-20.0), rtol=1e-5)


def test_tanh_saturates(dtype):
    y = ops.tanh(np.array([-1e4, 1e4, 50.0], dtype=dtype))
    np.testing.assert_array_equal(y, [-1.0, 1.0, 1.0])


def test_softmax_is_stable_at_large_logits(dtype):
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4 - 1.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ops.softmax(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, ref.softmax(x), **TOL[dtype])
    np.testing.assert_allclose(y[2], 1.0 / 3.0, **TOL[dtype])


# ---------------------------------------------------------------- backward


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_elementwise_backward_gradcheck(name, shape, rng):
    x = away_from_zero(rng, shape)
    dy = rng.standard_normal(shape)
    dx = BACKWARD[name](dy, FORWARD[name](x))
    assert_gradient(FORWARD[name], x, dy, dx)
    dx_generic = ops.activation_backward(dy, ops.activation(x, name), name)
    np.testing.assert_array_equal(dx_generic, dx)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_backward_matches_reference(name, dtype, rng):
    x = away_from_zero(rng, (6, 7)).astype(dtype)
    dy = rng.standard_normal((6, 7)).astype(dtype)
    y = FORWARD[name](x)
    dx = BACKWARD[name](dy, y)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, ref.activation_backward(dy, y, name), **TOL[dtype])


@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1),
                                        ((1, 1), -1), ((6,), 0)])
def test_softmax_backward_gradcheck(shape, axis, rng):
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    dx = ops.softmax_backward(dy, ops.softmax(x, axis), axis=axis)
    assert_gradient(lambda v: ops.softmax(v, axis), x, dy, dx)


@pytest.mark.parametrize("shape,axis", [((4, 9), -1), ((3, 4, 5), 0)])
def test_softmax_backward_matches_reference(shape, axis, dtype, rng):
    y = ops.softmax(rng.standard_normal(shape).astype(dtype), axis)
    dy = rng.standard_normal(shape).astype(dtype)
    dx = ops.softmax_backward(dy, y, axis)
    np.testing.assert_allclose(dx, ref.softmax_backward(dy, y, axis), **TOL[dtype])
    if axis == -1:
        np.testing.assert_array_equal(ops.activation_backward(dy, y, "softmax"), dx)


def test_relu_backward_uses_output_sign():
    y = ops.relu(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(ops.relu_backward(np.ones(3), y), [0.0, 0.0, 1.0])


# ---------------------------------------------------------------- threads, determinism


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_one_and_two_threads_bit_identical(name, dtype, rng, threads):
    x = (rng.standard_normal((257, 160)) * 3).astype(dtype)  # 41120 values > threshold
    dy = rng.standard_normal(x.shape).astype(dtype)
    results = []
    for n in (1, 2, 1):
        minidl.set_num_threads(n)
        y = ops.activation(x, name)
        results.append((y, ops.activation_backward(dy, y, name)))
    for y, dx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])
    expected = ref.softmax(x) if name == "softmax" else REFERENCE[name](x)
    np.testing.assert_allclose(results[0][0], expected, **TOL[dtype])


# ---------------------------------------------------------------- layouts


def test_non_contiguous_and_read_only_inputs(dtype, rng):
    base = rng.standard_normal((6, 10)).astype(dtype)
    x = base[::2, 1::3]  # non-contiguous view
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(ops.sigmoid(x), ref.sigmoid(x), **TOL[dtype])
    np.testing.assert_allclose(ops.softmax(x.T, axis=0), ref.softmax(x.T, 0), **TOL[dtype])
    ro = base.copy()
    ro.setflags(write=False)
    np.testing.assert_allclose(ops.tanh(ro), ref.tanh(ro), **TOL[dtype])
    y = ops.softmax(ro)
    y.setflags(write=False)
    dy = ro[:, ::-1]
    np.testing.assert_allclose(ops.softmax_backward(dy, y), ref.softmax_backward(dy, y),
                               **TOL[dtype])


def test_in_place_aliasing_in_c(dtype, rng):
    x = rng.standard_normal(50).astype(dtype)
    for code, reference in [(_C.ACTIVATION_CODES["sigmoid"], ref.sigmoid),
                            (_C.ACTIVATION_CODES["relu"], ref.relu)]:
        buf = x.copy()
        _C.activation_forward(buf, buf, code)
        np.testing.assert_allclose(buf, reference(x), **TOL[dtype])
    y = ref.sigmoid(x).astype(dtype)
    dy = rng.standard_normal(50).astype(dtype)
    buf = dy.copy()
    _C.activation_backward(buf, buf, y, _C.ACTIVATION_CODES["sigmoid"])
    np.testing.assert_allclose(buf, dy * y * (1 - y), **TOL[dtype])
    m = rng.standard_normal((3, 8)).astype(dtype)
    buf = m.copy()
    _C.softmax_forward(buf, buf)
    np.testing.assert_allclose(buf, ref.softmax(m), **TOL[dtype])


# ---------------------------------------------------------------- bad arguments


def test_unknown_activation_name():
    with pytest.raises(ValueError, match=r"activation: argument 'name'.*'linear', 'relu', "
                                         r"'sigmoid', 'tanh', 'softmax'.*'hard_tanh'"):
        ops.activation(np.ones(3), "hard_tanh")
    with pytest.raises(ValueError, match="activation_backward: argument 'name'"):
        ops.activation_backward(np.ones(3), np.ones(3), "Relu")


def test_unknown_activation_code_in_c():
    x = np.ones(4)
    with pytest.raises(ValueError, match="activation_forward: invalid argument"):
        _C.activation_forward(np.empty(4), x, 99)
    with pytest.raises(ValueError, match="activation_backward: invalid argument"):
        _C.activation_backward(np.empty(4), x, x, -1)


def test_backward_shape_mismatch():
    with pytest.raises(ValueError, match=r"relu_backward: arguments 'dy' and 'y'.*\(3,\).*\(4,\)"):
        ops.relu_backward(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="softmax_backward: arguments 'dy' and 'y'"):
        ops.softmax_backward(np.ones((2, 3)), np.ones((3, 2)))


def test_softmax_bad_axis():
    with pytest.raises(ValueError, match=r"softmax: argument 'axis'.*\[-2, 2\).*Received: 2"):
        ops.softmax(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="softmax: argument 'axis'"):
        ops.softmax(np.array(1.0))
    with pytest.raises(TypeError, match="softmax: argument 'axis' must be an int"):
        ops.softmax(np.ones((2, 3)), axis=1.0)


def test_non_numeric_input():
    with pytest.raises(TypeError, match="sigmoid: argument 'x'"):
        ops.sigmoid(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="tanh: argument 'x'"):
        ops.tanh(np.ones(2, dtype=complex))


def test_c_wrappers_check_shapes():
    with pytest.raises(ValueError, match="activation_forward: argument 'y'"):
        _C.activation_forward(np.empty(3), np.ones(4), 0)
    with pytest.raises(ValueError, match="softmax_backward: argument 'y'"):
        _C.softmax_backward(np.empty((2, 3)), np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="softmax_forward"):
        _C.softmax_forward(np.empty((0, 3)), np.ones((0, 3)))


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_vector_and_portable_paths_match_the_reference(name, simd_path):
    """The AVX2 exp-based kernels (and the portable loops) against float64, over a range
    that covers the small-|x| series, the saturation and the underflow."""
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(0, 6, 20001), rng.uniform(-0.07, 0.07, 2001),
                        [0.0625, -0.0625, 88.0, -87.0, -88.0, -104.0, 1e30, -1e30]])
    x = x.astype(np.float32)
    y = ops.activation(x, name)
    want = getattr(ref, name)(x.astype(np.float64))
    np.testing.assert_allclose(y, want, rtol=2e-6, atol=1e-7)


# ---------------------------------------------------------------- the vector kernels


def _ulp_error(y, reference):
    """|y - reference| in units of the last place of float32 at the reference."""
    spacing = np.spacing(np.abs(reference).astype(np.float32))
    return np.abs(y.astype(np.float64) - reference) / spacing


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_float32_sigmoid_and_tanh_are_accurate_at_every_isa_level(name, isa, rng):
    """Within a few float32 ulps of the float64 formula over the whole range (the normal
    results; tiny sigmoid results flush to 0 below exp's range), NaN kept, +-inf
    saturating, and the value of an element independent of its position in the array
    (the ragged end goes through the same vector formula)."""
    x = np.concatenate([rng.standard_normal(4099) * 6, np.linspace(-90, 90, 2001),
                        [0.0, -0.0, 1e-30, -1e-30, 0.0624, 0.0626, 87.0, -87.0]]
                       ).astype(np.float32)
    y = FORWARD[name](x)
    reference = REFERENCE[name](x)
    normal = np.abs(reference) > 1e-37
    assert _ulp_error(y[normal], reference[normal]).max() < 8
    assert np.all(np.abs(y[~normal]) <= 1e-37)
    special = FORWARD[name](np.array([np.nan, np.inf, -np.inf], np.float32))
    assert np.isnan(special[0])
    np.testing.assert_array_equal(special[1:], [1.0, 0.0 if name == "sigmoid" else -1.0])
    for start, stop in [(0, 1), (3, 20), (5, 37), (17, 4099)]:
        np.testing.assert_array_equal(FORWARD[name](x[start:stop]), y[start:stop])


def test_float32_tanh_over_a_dense_sweep_of_floats(isa):
    """Every 97th float32 in [0, 12] (11 million): within 8 ulps of float64 tanh (the
    rational fit of act_simd.h measures 5.4 over every float in the release build, 5.7 in
    the sanitizer build, which rounds some multiply-adds separately), exactly 1 from 9.02
    on (where tanh rounds to 1), odd to the bit."""
    bits = np.arange(0, np.float32(12.0).view(np.uint32), 97, dtype=np.uint32)
    x = bits.view(np.float32)
    y = ops.tanh(x)
    reference = np.tanh(x.astype(np.float64))
    normal = reference > 1e-37
    assert _ulp_error(y[normal], reference[normal]).max() < 8
    assert np.all(y[x >= 9.02] == 1.0) and np.all(y <= 1.0)
    np.testing.assert_array_equal(ops.tanh(-x), -y)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_float32_sigmoid_and_tanh_give_the_same_bits_with_avx2_and_avx512(name, rng):
    from conftest import ISA_LIB
    if ISA_LIB.md_cpu_isa() < 2:
        pytest.skip("the CPU has no AVX-512")
    x = (rng.standard_normal(1003) * 5).astype(np.float32)
    results = []
    try:
        for level in (1, 2):
            ISA_LIB.md_force_isa(level)
            results.append(FORWARD[name](x))
    finally:
        ISA_LIB.md_force_isa(-1)
    np.testing.assert_array_equal(results[0], results[1])
