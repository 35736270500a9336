"""Tensor ops (csrc/tensor_ops.c through minidl.ops): bias add, sum, elementwise ops."""
import numpy as np
import pytest

import minidl
from minidl import ops
import reference as ref
from conftest import ISA_LIB, TOL
from gradcheck import assert_gradient


def _data(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- bias add


@pytest.mark.parametrize("shape", [(1,), (5,), (1, 1), (3, 6), (2, 4, 4, 3), (1, 5, 33),
                                   (4, 16), (2, 3, 1)])
def test_bias_add(rng, dtype, shape):
    x = _data(rng, shape, dtype)
    bias = _data(rng, shape[-1], dtype)
    y = ops.bias_add(x, bias)
    assert y.shape == shape and y.dtype == dtype
    np.testing.assert_allclose(y, ref.bias_add(x, bias), **TOL[dtype])
    db = ops.bias_add_backward(x)
    assert db.shape == (shape[-1],) and db.dtype == dtype
    want = ref.reduce_sum(x, tuple(range(x.ndim - 1))) if x.ndim > 1 else x
    np.testing.assert_allclose(db, want, **TOL[dtype])


def test_bias_add_noncontiguous_readonly_and_cast(rng, dtype):
    x = _data(rng, (6, 5, 4), dtype).transpose(1, 0, 2)[:, ::2]
    x.flags.writeable = False
    bias = np.arange(4)  # int bias is cast to x's dtype
    y = ops.bias_add(x, bias)
    np.testing.assert_allclose(y, ref.bias_add(x, bias), **TOL[dtype])
    np.testing.assert_allclose(ops.bias_add_backward(x),
                               ref.reduce_sum(x, (0, 1)), **TOL[dtype])


def test_bias_add_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 4))
    bias = rng.standard_normal(4)
    dy = rng.standard_normal((3, 2, 4))
    assert_gradient(lambda b: ops.bias_add(x, b), bias, dy, ops.bias_add_backward(dy))


def test_bias_add_in_place_through_c(rng, dtype):
    x = _data(rng, (7, 9), dtype)
    bias = _data(rng, 9, dtype)
    want = ref.bias_add(x, bias)
    minidl._C.bias_add(x, x, bias)
    np.testing.assert_allclose(x, want, **TOL[dtype])


def test_bias_add_bad_arguments():
    with pytest.raises(ValueError, match="bias_add.*'bias'.*length.*3.*\\(4,\\)"):
        ops.bias_add(np.zeros((2, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="bias_add.*'bias'"):
        ops.bias_add(np.zeros((2, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="bias_add.*'x'.*rank"):
        ops.bias_add(np.float32(1.0), np.zeros(1))
    with pytest.raises(TypeError, match="bias_add.*'x'"):
        ops.bias_add(np.zeros((2, 3), complex), np.zeros(3))
    with pytest.raises(ValueError, match="bias_add_backward.*'dy'.*rank"):
        ops.bias_add_backward(np.float64(1.0))
    with pytest.raises(ValueError, match="bias_add.*'bias'.*shape"):
        minidl._C.bias_add(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(2))


# ---------------------------------------------------------------- sum

SUM_CASES = [
    ((7,), None), ((7,), 0), ((7,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), (0, 1)),
    ((2, 3, 4), 1), ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1, 0)), ((2, 3, 4), (1, 2)),
    ((2, 3, 4), (0, 1)), ((2, 3, 4, 5), (1, 3)), ((2, 3, 4, 5), (0, 2, 3)),
    ((2, 3, 4, 5), [2]), ((2, 3, 4, 5), ()), ((1, 1, 5), (0, 1)), ((600, 3), 0),
    ((3, 600), 1), ((2, 513, 3), 1), ((5, 300, 700), 1), ((), None), ((), ()),
]


@pytest.mark.parametrize("shape,axis", SUM_CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum(rng, dtype, shape, axis, keepdims):
    x = _data(rng, shape, dtype)
    got = ops.sum(x, axis=axis, keepdims=keepdims)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    want = np.sum(x.astype(np.float64), axis=np_axis, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == dtype
    np.testing.assert_allclose(got, want, **TOL[dtype])
    np.testing.assert_allclose(got, ref.reduce_sum(x, axis, keepdims), **TOL[dtype])


def test_sum_is_accumulated_in_double(threads):
    # float32 partial sums would lose the ones next to the large values
    x = np.ones(70000, np.float32)
    x[0] = 2.0 ** 25
    x[-1] = -(2.0 ** 25)
    for nt in (1, 2):
        minidl.set_num_threads(nt)
        assert ops.sum(x) == 69998.0


def test_sum_inputs(rng):
    assert ops.sum(np.arange(6).reshape(2, 3), axis=0).dtype == np.float32  # ints -> f32
    np.testing.assert_array_equal(ops.sum([[1, 2], [3, 4]], axis=1), [3, 7])
    x = rng.standard_normal((4, 6, 5))[:, ::2].transpose(2, 0, 1)  # non-contiguous
    x.flags.writeable = False
    np.testing.assert_allclose(ops.sum(x, axis=(0, 2)), ref.reduce_sum(x, (0, 2)),
                               **TOL[np.float64])
    empty = np.zeros((0, 3))
    np.testing.assert_array_equal(ops.sum(empty, axis=0), np.zeros(3))
    assert ops.sum(empty, axis=1).shape == (0,)
    assert ops.sum(empty) == 0.0


def test_sum_bad_axis():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="sum.*'axis'.*out of range"):
        ops.sum(x, axis=2)
    with pytest.raises(ValueError, match="sum.*'axis'.*out of range"):
        ops.sum(x, axis=(0, -3))
    with pytest.raises(ValueError, match="sum.*'axis'.*repeat"):
        ops.sum(x, axis=(1, -1))
    with pytest.raises(TypeError, match="sum.*'axis'"):
        ops.sum(x, axis=1.0)
    with pytest.raises(TypeError, match="sum.*'axis'"):
        ops.sum(x, axis=(0, "1"))
    with pytest.raises(TypeError, match="sum.*'x'"):
        ops.sum(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="reduce_sum.*'out'.*shape"):
        minidl._C.reduce_sum(np.zeros((2, 2)), np.zeros((2, 3, 4)))


# Shapes for the thread checks: every schedule of md_reduce_sum (chunks over a contiguous
# run, over narrow and wide columns, and one task per output block), above the threshold.
THREAD_SUM_CASES = [((70001,), None), ((300, 200), 0), ((3, 20000), 1), ((20000, 3), 0),
                    ((2, 700, 600), 1), ((40, 1000), 1), ((9000, 5), 1)]


@pytest.mark.parametrize("shape,axis", THREAD_SUM_CASES)
def test_sum_threads_bit_identical(dtype, threads, shape, axis):
    x = np.random.default_rng(11).standard_normal(shape).astype(dtype) + 0.25
    results = []
    for nt in (1, 2, 2, 3):
        minidl.set_num_threads(nt)
        results.append(ops.sum(x, axis=axis))
    for r in results[1:]:
        assert np.array_equal(r, results[0])
    np.testing.assert_allclose(results[0], ref.reduce_sum(x, axis), **TOL[dtype])


# ---------------------------------------------------------------- elementwise


@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 4)])
def test_add_multiply_scale(rng, dtype, shape):
    a, b = _data(rng, shape, dtype), _data(rng, shape, dtype)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    for got, want in [(ops.add(a, b), a64 + b64), (ops.multiply(a, b), a64 * b64),
                      (ops.scale(a, -2.5), -2.5 * a64)]:
        assert got.shape == shape and got.dtype == dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])


def test_axpy(rng, dtype):
    y = _data(rng, (4, 5), dtype)
    x = rng.standard_normal((5, 4)).T  # float64, non-contiguous: cast and copied
    want = y.astype(np.float64) + 0.5 * x.astype(dtype)
    ops.axpy(y, 0.5, x)
    np.testing.assert_allclose(y, want, **TOL[dtype])
    want = y.astype(np.float64) * 3
    ops.axpy(y, 2.0, y)  # x is y
    np.testing.assert_allclose(y, want, **TOL[dtype])
    buf = _data(rng, 9, dtype)
    want = buf[1:].astype(np.float64) + buf[:-1]  # overlapping x is copied first
    ops.axpy(buf[1:], 1.0, buf[:-1])
    np.testing.assert_allclose(buf[1:], want, **TOL[dtype])


def test_elementwise_mixed_inputs(rng):
    a = rng.standard_normal((3, 4))[:, ::-1]  # float64, non-contiguous
    b = np.arange(12).reshape(3, 4)
    b.flags.writeable = False
    np.testing.assert_allclose(ops.add(a, b), a + b, **TOL[np.float64])
    assert ops.add(b, a).dtype == np.float32  # the first operand sets the dtype
    np.testing.assert_allclose(ops.multiply(a, b), a * b, **TOL[np.float64])


def test_elementwise_in_place_through_c(rng, dtype):
    a, b = _data(rng, 33, dtype), _data(rng, 33, dtype)
    want = a.astype(np.float64) * b
    minidl._C.mul(a, a, b)
    np.testing.assert_allclose(a, want, **TOL[dtype])
    want = a.astype(np.float64) + b
    minidl._C.add(b, a, b)
    np.testing.assert_allclose(b, want, **TOL[dtype])
    want = 0.5 * b.astype(np.float64)
    minidl._C.scale(b, b, 0.5)
    np.testing.assert_allclose(b, want, **TOL[dtype])


def test_elementwise_threads_bit_identical(dtype, threads):
    rng = np.random.default_rng(2)
    a, b = _data(rng, (201, 203), dtype), _data(rng, (201, 203), dtype)
    bias = _data(rng, 203, dtype)
    runs = []
    for nt in (1, 2):
        minidl.set_num_threads(nt)
        y = a.copy()
        ops.axpy(y, 0.3, b)
        runs.append([ops.add(a, b), ops.multiply(a, b), ops.scale(a, 0.7), y,
                     ops.bias_add(a, bias), ops.bias_add_backward(a)])
    for r1, r2 in zip(*runs):
        assert np.array_equal(r1, r2)
    np.testing.assert_allclose(runs[1][4], ref.bias_add(a, bias), **TOL[dtype])


def test_elementwise_bad_arguments():
    with pytest.raises(ValueError, match="add: arguments 'x1' and 'x2' must have the same "
                                         "shape.*\\(2, 3\\).*\\(3,\\)"):
        ops.add(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="multiply.*same shape"):
        ops.multiply(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="multiply.*'x2'"):
        ops.multiply(np.zeros(2), np.array([1j, 2j]))
    with pytest.raises(ValueError, match="scale.*'alpha'.*finite"):
        ops.scale(np.zeros(2), np.inf)
    with pytest.raises(TypeError, match="scale.*'alpha'"):
        ops.scale(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="axpy.*'y'.*writable"):
        y = np.zeros(2)
        y.flags.writeable = False
        ops.axpy(y, 1.0, np.ones(2))
    with pytest.raises(TypeError, match="axpy.*'y'.*NumPy array"):
        ops.axpy([0.0, 0.0], 1.0, np.ones(2))
    with pytest.raises(ValueError, match="axpy.*'x'.*shape"):
        ops.axpy(np.zeros(2), 1.0, np.ones(3))
    with pytest.raises(ValueError, match="add.*'y'.*shape"):
        minidl._C.add(np.zeros(3), np.zeros(2), np.zeros(2))


# ---------------------------------------------------------------- summary_statistics

def _activation_outputs(rng, activation, n, dtype):
    """Values spread over an activation's output range, saturated ones included."""
    z = rng.normal(0.0, 4.0, n)
    y = {"sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z), "relu": np.maximum(z, 0)}.get(
        activation, z + 3.0)
    return y.astype(dtype)


@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("n", [1, 7, 255, 256, 4097, 16384 * 3 + 5, 16384 * 70 + 3])
def test_summary_statistics(rng, dtype, activation, n):
    x = _activation_outputs(rng, activation, n, dtype)
    mean, std, saturated = ops.summary_statistics(x.reshape(-1, 1) if n % 2 else x,
                                                  activation)
    ref_mean, ref_std, ref_saturated = ref.summary_statistics(x, activation)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert mean == pytest.approx(ref_mean, rel=tol, abs=tol)
    assert std == pytest.approx(ref_std, rel=tol, abs=tol)
    if activation in (None, "linear"):
        assert saturated is None
    else:
        assert saturated == pytest.approx(ref_saturated, abs=1.5 / n)
        assert 0 <= saturated <= 1


def test_summary_statistics_large_offset_does_not_cancel():
    """A tiny spread on a large common value (sums taken about a shift)."""
    x = (1e4 + np.arange(100000) % 7 * 1e-3).astype(np.float64)
    _, std, _ = ops.summary_statistics(x)
    assert std == pytest.approx(x.std(), rel=1e-9)


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh", "relu"])
def test_summary_statistics_bit_identical_across_isas_and_threads(rng, isa, threads,
                                                                  activation):
    x = _activation_outputs(rng, activation, 16384 * 5 + 77, np.float32)
    minidl.set_num_threads(1)
    one = ops.summary_statistics(x, activation)
    minidl.set_num_threads(2)
    assert ops.summary_statistics(x, activation) == one
    ISA_LIB.md_force_isa(0)
    assert ops.summary_statistics(x, activation) == one


def test_summary_statistics_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        ops.summary_statistics(np.ones(3), "softmax")
    with pytest.raises(ValueError, match="empty"):
        ops.summary_statistics(np.ones((0, 3)))
    with pytest.raises(TypeError):
        ops.summary_statistics(np.array(["a", "b"]))
    assert ops.summary_statistics(np.array([np.nan, 1.0]))[0] != ops.summary_statistics(
        np.array([np.nan, 1.0]))[0]  # NaN propagates into the mean
