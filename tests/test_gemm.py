"""The packed GEMM (minidl.ops.matmul and the raw _C.gemm) against NumPy float64."""


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import _C, ops

import reference
from conftest import ISA_LIB, TOL
from gradcheck import assert_gradient


def _relative_error(got, want):
    return np.abs(got - want).max() / max(1.0, np.abs(want).max())


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 300), n=st.integers(1, 300), k=st.integers(1, 300),
       seed=st.integers(0, 2**31 - 1))
def test_gemm_random_odd_shapes_against_numpy(m, n, k, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    got = ops.matmul(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got.dtype == np.float32
    assert _relative_error(got, want) < 1e-5


@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 13, 5), (37, 300, 129), (145, 17, 257),
                                   (6, 16, 256), (299, 33, 1)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_transposes_alpha_beta(shape, trans_a, trans_b, dtype, simd_path, rng):
    m, n, k = shape
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = 1.5 * reference.matmul(a.T if trans_a else a, b.T if trans_b else b) + 0.5 * c
    _C.gemm(trans_a, trans_b, a, b, c, 1.5, 0.5)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert _relative_error(c, want) < tol


def test_gemm_beta_zero_ignores_nan_in_c(rng):
    a = rng.standard_normal((9, 4))
    b = rng.standard_normal((4, 5))
    c = np.full((9, 5), np.nan)
    _C.gemm(False, False, a, b, c, 1.0, 0.0)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12)


def test_gemm_empty_depth_scales_c():
    c = np.ones((3, 2))
    _C.gemm(False, False, np.zeros((3, 0)), np.zeros((0, 2)), c, 1.0, 2.0)
    np.testing.assert_array_equal(c, 2.0)


@pytest.mark.parametrize("shape1,shape2", [((5, 7), (7, 3)), ((2, 3, 7), (7, 4)),
                                           ((7,), (7, 2)), ((4, 7), (7,))])
def test_matmul_shapes_and_values(shape1, shape2, dtype, rng):
    a = rng.standard_normal(shape1).astype(dtype)
    b = rng.standard_normal(shape2).astype(dtype)
    got = ops.matmul(a, b)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape and got.dtype == dtype
    np.testing.assert_allclose(got, want, **TOL[dtype])


def test_matmul_backward_against_finite_differences(rng):
    a = rng.standard_normal((2, 3, 5))
    b = rng.standard_normal((5, 4))
    dy = rng.standard_normal((2, 3, 4))
    da, db = ops.matmul_backward(dy, a, b)
    assert_gradient(lambda v: ops.matmul(v, b), a, dy, da)
    assert_gradient(lambda v: ops.matmul(a, v), b, dy, db)


def test_matmul_float64_stays_float64_and_ints_become_float32():
    assert ops.matmul(np.ones((2, 2)), np.ones((2, 2))).dtype == np.float64
    assert ops.matmul(np.ones((2, 2), np.int32), np.ones((2, 2))).dtype == np.float32


def test_matmul_non_contiguous_and_read_only(rng):
    a = rng.standard_normal((20, 30))[::2, ::3]
    b = np.asfortranarray(rng.standard_normal((10, 6)))
    b.setflags(write=False)
    np.testing.assert_allclose(ops.matmul(a, b), a @ b, rtol=1e-12)


def test_gemm_threads_agree_and_runs_repeat_bit_identically(threads, rng):
    a = rng.standard_normal((257, 190)).astype(np.float32)
    b = rng.standard_normal((190, 301)).astype(np.float32)
    results = []
    for n in (1, 2, 1, 2):
        minidl.set_num_threads(n)
        results.append(ops.matmul(a, b))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_matmul_bad_arguments():
    with pytest.raises(ValueError, match=r"matmul: .*last axis of x1.*\(3, 4\).*\(5, 2\)"):
        ops.matmul(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="rank"):
        ops.matmul(np.ones((3, 4)), np.ones((4, 2, 2)))
    with pytest.raises(TypeError, match="matmul: argument 'x1'.*complex"):
        ops.matmul(np.ones((2, 2), np.complex64), np.ones((2, 2)))
    with pytest.raises(TypeError, match="matmul: argument 'x2'.*object"):
        ops.matmul(np.ones((2, 2)), np.array([[1, "a"], [2, 3]], dtype=object))
    with pytest.raises(ValueError, match="gemm: argument 'c' must have shape"):
        _C.gemm(False, False, np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 5)))


# ---------------------------------------------------------------- every instruction-set path
# (the `isa` fixture of conftest.py caps the level through md_force_isa)
_LIB = ISA_LIB


@pytest.mark.parametrize("shape", [(1, 1, 1), (13, 37, 300), (145, 33, 257), (25, 65, 7),
                                   (12, 32, 256), (157, 290, 3)])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, True)])
def test_gemm_every_isa_odd_shapes(shape, trans_a, trans_b, isa, dtype, rng):
    m, n, k = shape
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = 0.5 * reference.matmul(a.T if trans_a else a, b.T if trans_b else b) + 2.0 * c
    _C.gemm(trans_a, trans_b, a, b, c, 0.5, 2.0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert _relative_error(c, want) < tol


def test_gemm_every_isa_threads_agree(isa, threads, rng):
    a = rng.standard_normal((301, 150)).astype(np.float32)
    b = rng.standard_normal((150, 77)).astype(np.float32)
    results = []
    for nt in (1, 2, 2):
        minidl.set_num_threads(nt)
        results.append(ops.matmul(a, b))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    assert _relative_error(results[0], a.astype(np.float64) @ b) < 1e-5
