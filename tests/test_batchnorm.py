"""Batch normalization and moments (csrc/batchnorm.c through minidl.ops) against the
float64 references in tests/reference.py, central differences and NumPy."""
import numpy as np
import pytest

import minidl
from minidl import _C, ops
import reference as ref
from conftest import TOL
from gradcheck import assert_gradient

SHAPES = [
    (2, 1), (5, 3), (7, 6), (4, 16), (3, 33), (1, 6),          # 2-D (N, C)
    (1, 3, 5, 3), (1, 4, 4, 6), (2, 5, 3, 1), (3, 4, 4, 16),   # NHWC, batch 1 included
    (2, 3, 3, 33),
]
AFFINE = [(True, True), (False, False), (True, False), (False, True)]  # (center, scale)


def make_inputs(rng, shape, dtype, center=True, scale=True):
    """x, gamma, beta (gamma/beta None when scale/center are off), rounded to dtype."""
    channels = shape[-1]
    x = (rng.normal(0.3, 1.7, shape)).astype(dtype)
    gamma = rng.uniform(0.5, 1.5, channels).astype(dtype) if scale else None
    beta = rng.normal(0.0, 1.0, channels).astype(dtype) if center else None
    return x, gamma, beta


def check(actual, expected, dtype):
    assert actual.dtype == dtype
    np.testing.assert_allclose(actual, expected, **TOL[dtype])


# ---------------------------------------------------------------- moments

MOMENT_AXES = [(0,), (0, 1, 2), (1, 2), (3,), (0, 3), (-1,), (2, 0), (0, 1, 2, 3), ()]


@pytest.mark.parametrize("axes", MOMENT_AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_moments_vs_numpy(rng, dtype, axes, keepdims):
    x = rng.normal(0.5, 2.0, (3, 4, 5, 6)).astype(dtype)
    mean, var = ops.moments(x, axes, keepdims=keepdims)
    x64 = x.astype(np.float64)
    check(mean, np.mean(x64, axis=axes, keepdims=keepdims), dtype)
    check(var, np.var(x64, axis=axes, keepdims=keepdims), dtype)


@pytest.mark.parametrize("shape,axes", [((7, 3), 0), ((7, 3), 1), ((7, 3), [0, 1]),
                                        ((5,), 0), ((2, 3, 4), (-1, 0)), ((), ())])
def test_moments_other_ranks(rng, dtype, shape, axes):
    x = rng.normal(size=shape).astype(dtype)
    mean, var = ops.moments(x, axes)
    check(mean, np.mean(x.astype(np.float64), axis=tuple(np.atleast_1d(axes))), dtype)
    check(var, np.var(x.astype(np.float64), axis=tuple(np.atleast_1d(axes))), dtype)


def test_moments_float32_accuracy_with_large_offset(rng):
    # a naive float32 sum of squares would lose most digits here
    x = (1000.0 + rng.normal(size=(64 * 28 * 28, 3))).astype(np.float32)
    mean, var = ops.moments(x, (0,))
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(0), rtol=1e-6)
    np.testing.assert_allclose(var, x.astype(np.float64).var(0), rtol=1e-5)


# ---------------------------------------------------------------- training forward


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_train_forward_vs_reference(rng, dtype, shape):
    x, gamma, beta = make_inputs(rng, shape, dtype)
    y, mean, var = ops.batch_norm_train(x, gamma, beta, None, None, epsilon=1e-3)
    y_ref, mean_ref, var_ref, _, _ = ref.batch_norm_train_ref(x, gamma, beta, epsilon=1e-3)
    assert y.shape == shape and mean.shape == var.shape == (shape[-1],)
    check(y, y_ref, dtype)
    check(mean, mean_ref, dtype)
    check(var, var_ref, dtype)


@pytest.mark.parametrize("center,scale", AFFINE)
@pytest.mark.parametrize("shape", [(5, 3), (1, 3, 5, 6), (2, 3, 3, 33)], ids=str)
def test_train_forward_center_scale_flags(rng, dtype, shape, center, scale):
    x, gamma, beta = make_inputs(rng, shape, dtype, center, scale)
    y, _, _ = ops.batch_norm_train(x, gamma, beta, None, None)
    check(y, ref.batch_norm_train_ref(x, gamma, beta)[0], dtype)


def test_train_forward_single_row_gives_offset(dtype):
    # N = 1 in 2-D: the variance is 0, every xhat is 0 and y = beta
    x = np.array([[1.5, -2.0, 3.0]], dtype=dtype)
    beta = np.array([0.25, -1.0, 2.0], dtype=dtype)
    y, mean, var = ops.batch_norm_train(x, None, beta, None, None)
    np.testing.assert_array_equal(y, beta[None, :])
    np.testing.assert_array_equal(mean, x[0])
    np.testing.assert_array_equal(var, np.zeros(3, dtype))


def test_train_forward_other_axis(rng, dtype):
    x, gamma, beta = make_inputs(rng, (2, 5, 4, 3), dtype)  # channels on axis 1 (NCHW)
    y, mean, var = ops.batch_norm_train(x, gamma[:1].repeat(5), beta[:1].repeat(5), None,
                                        None, axis=1)
    moved = np.moveaxis(x, 1, -1)
    y_ref, mean_ref, var_ref, _, _ = ref.batch_norm_train_ref(moved, gamma[:1].repeat(5),
                                                              beta[:1].repeat(5))
    check(y, np.moveaxis(y_ref, -1, 1), dtype)
    check(mean, mean_ref, dtype)
    check(var, var_ref, dtype)


def test_zero_epsilon_constant_channel_is_finite(dtype):
    x = np.zeros((4, 3, 3, 2), dtype=dtype)
    x[..., 0] = 2.5                                   # constant channel, var = 0
    x[..., 1] = np.arange(36, dtype=dtype).reshape(4, 3, 3)
    beta = np.array([0.5, -0.5], dtype=dtype)
    gamma = np.array([2.0, 3.0], dtype=dtype)
    y, mean, var = ops.batch_norm_train(x, gamma, beta, None, None, epsilon=0.0)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[..., 0], 0.5)
    assert var[0] == 0 and mean[0] == 2.5
    y_ref = ref.batch_norm_train_ref(x[..., 1:], gamma[1:], beta[1:], epsilon=0.0)[0]
    check(y[..., 1:], y_ref, dtype)
    dy = np.ones_like(x)
    dx, dgamma, dbeta = ops.batch_norm_train_backward(dy, x, mean, var, gamma, epsilon=0.0)
    assert np.all(np.isfinite(dx)) and np.all(dx[..., 0] == 0) and dgamma[0] == 0
    assert dbeta[0] == 36


# ---------------------------------------------------------------- moving statistics


@pytest.mark.parametrize("momentum", [0.99, 0.9, 0.0, 1.0])
@pytest.mark.parametrize("shape", [(6, 3), (2, 4, 5, 6)], ids=str)
def test_moving_statistics_after_k_steps(rng, dtype, shape, momentum):
    channels = shape[-1]
    moving_mean = rng.normal(size=channels).astype(dtype)
    moving_var = rng.uniform(0.5, 2.0, channels).astype(dtype)
    expect_mean = moving_mean.astype(np.float64)
    expect_var = moving_var.astype(np.float64)
    axes = tuple(range(len(shape) - 1))
    for _ in range(5):
        x = rng.normal(1.0, 3.0, shape).astype(dtype)
        _, mean, var = ops.batch_norm_train(x, None, None, moving_mean, moving_var,
                                            momentum=momentum)
        x64 = x.astype(np.float64)  # Keras 3 formula, computed independently in NumPy
        expect_mean = expect_mean * momentum + x64.mean(axis=axes) * (1 - momentum)
        expect_var = expect_var * momentum + x64.var(axis=axes) * (1 - momentum)
        check(mean, x64.mean(axis=axes), dtype)
        check(var, x64.var(axis=axes), dtype)
    check(moving_mean, expect_mean, dtype)
    check(moving_var, expect_var, dtype)


def test_moving_statistics_only_one_given(rng, dtype):
    x = rng.normal(size=(8, 4)).astype(dtype)
    moving_var = np.ones(4, dtype)
    ops.batch_norm_train(x, None, None, None, moving_var, momentum=0.5)
    check(moving_var, 0.5 + 0.5 * x.astype(np.float64).var(0), dtype)


# ---------------------------------------------------------------- inference forward


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_batch_normalization_vs_reference(rng, dtype, shape):
    x, gamma, beta = make_inputs(rng, shape, dtype)
    mean = rng.normal(size=shape[-1]).astype(dtype)
    var = rng.uniform(0.1, 3.0, shape[-1]).astype(dtype)
    y = ops.batch_normalization(x, mean, var, offset=beta, scale=gamma, epsilon=1e-3)
    check(y, ref.batch_norm_infer_ref(x, mean, var, gamma, beta, 1e-3), dtype)


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_batch_normalization_axes(rng, dtype, axis):
    x = rng.normal(size=(3, 4, 5)).astype(dtype)
    c = x.shape[axis]
    mean, var = rng.normal(size=c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    gamma, beta = rng.normal(size=c).astype(dtype), rng.normal(size=c).astype(dtype)
    y = ops.batch_normalization(x, mean, var, axis=axis, offset=beta, scale=gamma,
                                epsilon=0.01)
    y_ref = ref.batch_norm_infer_ref(np.moveaxis(x, axis, -1), mean, var, gamma, beta, 0.01)
    check(y, np.moveaxis(y_ref, -1, axis), dtype)
    # keepdims-shaped statistics (what moments(..., keepdims=True) returns) are accepted
    shape = [1] * 3
    shape[axis] = c
    y2 = ops.batch_normalization(x, mean.reshape(shape), var.reshape(shape), axis=axis,
                                 offset=beta, scale=gamma, epsilon=0.01)
    np.testing.assert_array_equal(y, y2)


def test_moments_then_batch_normalization_matches_train(rng, dtype):
    x = rng.normal(size=(2, 3, 4, 6)).astype(dtype)
    mean, var = ops.moments(x, (0, 1, 2))
    y = ops.batch_normalization(x, mean, var)
    y_train, _, _ = ops.batch_norm_train(x, None, None, None, None)
    np.testing.assert_allclose(y, y_train, **TOL[dtype])


# ---------------------------------------------------------------- backward vs reference


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_train_backward_vs_reference(rng, dtype, shape):
    x, gamma, _ = make_inputs(rng, shape, dtype)
    dy = rng.normal(size=shape).astype(dtype)
    _, mean, var = ops.batch_norm_train(x, gamma, None, None, None)
    dx, dgamma, dbeta = ops.batch_norm_train_backward(dy, x, mean, var, gamma)
    dx_ref, dgamma_ref, dbeta_ref = ref.batch_norm_train_backward_ref(dy, x, gamma)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, dx_ref, **tol)
    np.testing.assert_allclose(dgamma, dgamma_ref, **tol)
    check(dbeta, dbeta_ref, dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_infer_backward_vs_reference(rng, dtype, shape):
    x, gamma, _ = make_inputs(rng, shape, dtype)
    dy = rng.normal(size=shape).astype(dtype)
    mean = rng.normal(size=shape[-1]).astype(dtype)
    var = rng.uniform(0.1, 3.0, shape[-1]).astype(dtype)
    dx, dgamma, dbeta = ops.batch_normalization_backward(dy, x, mean, var, scale=gamma)
    dx_ref, dgamma_ref, dbeta_ref = ref.batch_norm_infer_backward_ref(dy, x, mean, var, gamma)
    check(dx, dx_ref, dtype)
    check(dgamma, dgamma_ref, dtype)
    check(dbeta, dbeta_ref, dtype)


# ---------------------------------------------------------------- gradient checks (float64)


@pytest.mark.parametrize("shape", [(5, 3), (1, 3, 2, 2), (2, 2, 3, 3)], ids=str)
@pytest.mark.parametrize("center,scale", [(True, True), (False, False)])
def test_train_gradients_central_differences(rng, shape, center, scale):
    x, gamma, beta = make_inputs(rng, shape, np.float64, center, scale)
    dy = rng.normal(size=shape)
    _, mean, var = ops.batch_norm_train(x, gamma, beta, None, None)
    dx, dgamma, dbeta = ops.batch_norm_train_backward(dy, x, mean, var, gamma)
    assert_gradient(lambda v: ops.batch_norm_train(v, gamma, beta, None, None)[0], x, dy, dx)
    g = gamma if gamma is not None else np.ones(shape[-1])
    b = beta if beta is not None else np.zeros(shape[-1])
    assert_gradient(lambda v: ops.batch_norm_train(x, v, b, None, None)[0], g, dy, dgamma)
    assert_gradient(lambda v: ops.batch_norm_train(x, g, v, None, None)[0], b, dy, dbeta)


@pytest.mark.parametrize("shape,axis", [((5, 3), -1), ((1, 3, 2, 2), -1), ((2, 3, 2, 2), 1)],
                         ids=str)
def test_infer_gradients_central_differences(rng, shape, axis):
    c = shape[axis]
    x = rng.normal(size=shape)
    dy = rng.normal(size=shape)
    mean, var = rng.normal(size=c), rng.uniform(0.5, 2.0, c)
    gamma, beta = rng.uniform(0.5, 1.5, c), rng.normal(size=c)

    def f(x_, g_, b_):
        return ops.batch_normalization(x_, mean, var, axis=axis, offset=b_, scale=g_)

    dx, dgamma, dbeta = ops.batch_normalization_backward(dy, x, mean, var, axis=axis,
                                                         scale=gamma)
    assert_gradient(lambda v: f(v, gamma, beta), x, dy, dx)
    assert_gradient(lambda v: f(x, v, beta), gamma, dy, dgamma)
    assert_gradient(lambda v: f(x, gamma, v), beta, dy, dbeta)


# ---------------------------------------------------------------- threads, repeats, layouts

BIG = [(64, 28, 28, 6), (300, 130), (32, 128)]


def run_all(x, dy, gamma, beta):
    """Every kernel once; returns all outputs."""
    mm, mv = np.zeros(x.shape[-1], x.dtype), np.ones(x.shape[-1], x.dtype)
    y, mean, var = ops.batch_norm_train(x, gamma, beta, mm, mv)
    dx, dg, db = ops.batch_norm_train_backward(dy, x, mean, var, gamma)
    yi = ops.batch_normalization(x, mm, mv, offset=beta, scale=gamma)
    dxi, dgi, dbi = ops.batch_normalization_backward(dy, x, mm, mv, scale=gamma)
    m2, v2 = ops.moments(x, tuple(range(x.ndim - 1)))
    return [y, mean, var, mm, mv, dx, dg, db, yi, dxi, dgi, dbi, m2, v2]


@pytest.mark.parametrize("shape", BIG, ids=str)
def test_threads_bit_identical_and_repeatable(rng, dtype, threads, shape):
    x, gamma, beta = make_inputs(rng, shape, dtype)
    dy = rng.normal(size=shape).astype(dtype)
    minidl.set_num_threads(1)
    one = run_all(x, dy, gamma, beta)
    minidl.set_num_threads(2)
    two = run_all(x, dy, gamma, beta)
    again = run_all(x, dy, gamma, beta)
    for a, b, c in zip(one, two, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)


def check_train_forward_backward(x, dy, gamma, beta, dx_tol):
    """Training forward and backward against the float64 references; returns the batch
    mean and variance. The parameter gradients are sums over every row, compared
    relative to their scale (sqrt of the row count)."""
    dtype = x.dtype.type
    y, mean, var = ops.batch_norm_train(x, gamma, beta, None, None)
    y_ref, mean_ref, var_ref, _, _ = ref.batch_norm_train_ref(x, gamma, beta)
    check(y, y_ref, dtype)
    check(mean, mean_ref, dtype)
    check(var, var_ref, dtype)
    dx, dgamma, dbeta = ops.batch_norm_train_backward(dy, x, mean, var, gamma)
    dx_ref, dgamma_ref, dbeta_ref = ref.batch_norm_train_backward_ref(dy, x, gamma)
    np.testing.assert_allclose(dx, dx_ref, **dx_tol)
    scale = np.sqrt(x.size // x.shape[-1])
    for got, want in ((dgamma, dgamma_ref), (dbeta, dbeta_ref)):
        np.testing.assert_allclose(got, want, rtol=dx_tol["rtol"], atol=dx_tol["atol"] * scale)
    return mean, var


def test_big_input_vs_reference(rng, dtype, threads):
    minidl.set_num_threads(2)
    x, gamma, beta = make_inputs(rng, (64, 28, 28, 6), dtype)
    dy = rng.normal(size=x.shape).astype(dtype)
    check_train_forward_backward(x, dy, gamma, beta, TOL[dtype])


def test_noncontiguous_and_readonly_inputs(rng, dtype):
    base = rng.normal(size=(3, 4, 5, 12)).astype(dtype)
    x = base[:, :, ::2, ::2]                       # non-contiguous, channels = 6
    gamma = rng.uniform(0.5, 1.5, 12).astype(dtype)[::2]
    beta = rng.normal(size=6).astype(dtype)
    dy = rng.normal(size=(3, 4, 5, 12)).astype(dtype)[:, :, ::2, 1::2]
    base.setflags(write=False)                     # x is a read-only strided view
    beta.setflags(write=False)
    x_ro = np.array(x)
    x_ro.setflags(write=False)
    for xx in (x, x_ro):
        y, mean, var = ops.batch_norm_train(xx, gamma, beta, None, None)
        check(y, ref.batch_norm_train_ref(x, gamma, beta)[0], dtype)
        dx, dgamma, dbeta = ops.batch_norm_train_backward(dy, xx, mean, var, gamma)
        dx_ref, dgamma_ref, dbeta_ref = ref.batch_norm_train_backward_ref(dy, x, gamma)
        tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dx, dx_ref, **tol)
        check(dbeta, dbeta_ref, dtype)
        yi = ops.batch_normalization(xx, mean, var, offset=beta, scale=gamma)
        check(yi, ref.batch_norm_infer_ref(x, mean, var, gamma, beta), dtype)
        m, v = ops.moments(xx, (0, 1, 2))
        check(m, np.mean(x.astype(np.float64), axis=(0, 1, 2)), dtype)
        check(v, np.var(x.astype(np.float64), axis=(0, 1, 2)), dtype)


def test_mixed_input_dtypes_follow_x(rng):
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y, mean, var = ops.batch_norm_train(x, np.ones(3), [0, 0, 0], None, None)
    assert y.dtype == mean.dtype == var.dtype == np.float32
    y, _, _ = ops.batch_norm_train(x.astype(np.int32), None, None, None, None)
    assert y.dtype == np.float32
    y, mean, _ = ops.batch_norm_train(x.astype(np.float64), None, None, None, None)
    assert y.dtype == mean.dtype == np.float64


def test_kernels_in_place_through_C(rng, dtype):
    # the C kernels allow y = x and dx = dy
    x = rng.normal(size=(40, 5)).astype(dtype)
    dy = rng.normal(size=(40, 5)).astype(dtype)
    y_ref, mean, var, _, _ = ref.batch_norm_train_ref(x)
    dx_ref = ref.batch_norm_train_backward_ref(dy, x)[0]
    xm, vm = mean.astype(dtype), var.astype(dtype)
    dx = dy.copy()
    _C.batchnorm_backward_train(dx, None, None, dx, x, xm, vm, None, 1e-3)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, dx_ref, **tol)
    y = x.copy()
    bm, bv = np.empty(5, dtype), np.empty(5, dtype)
    _C.batchnorm_forward_train(y, bm, bv, None, None, y, None, None, 1e-3, 0.99)
    check(y, y_ref, dtype)


# ---------------------------------------------------------------- bad arguments


def test_bad_arguments_batch_norm_train(rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    mm, mv = np.zeros(3, np.float32), np.ones(3, np.float32)
    op = "batch_norm_train"
    with pytest.raises(ValueError, match=f"{op}: argument 'momentum'"):
        ops.batch_norm_train(x, None, None, mm, mv, momentum=1.5)
    with pytest.raises(ValueError, match=f"{op}: argument 'momentum'"):
        ops.batch_norm_train(x, None, None, mm, mv, momentum=float("nan"))
    with pytest.raises(TypeError, match=f"{op}: argument 'momentum'"):
        ops.batch_norm_train(x, None, None, mm, mv, momentum="0.9")
    with pytest.raises(ValueError, match=f"{op}: argument 'epsilon'"):
        ops.batch_norm_train(x, None, None, mm, mv, epsilon=-1e-3)
    with pytest.raises(ValueError, match=f"{op}: argument 'scale'.*Received: shape \\(4,\\)"):
        ops.batch_norm_train(x, np.ones(4), None, mm, mv)
    with pytest.raises(ValueError, match=f"{op}: argument 'offset'"):
        ops.batch_norm_train(x, None, np.ones((3, 2)), mm, mv)
    with pytest.raises(TypeError, match=f"{op}: argument 'moving_mean'.*float32"):
        ops.batch_norm_train(x, None, None, np.zeros(3), mv)
    with pytest.raises(TypeError, match=f"{op}: argument 'moving_variance'"):
        ops.batch_norm_train(x, None, None, mm, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=f"{op}: argument 'moving_mean'.*shape"):
        ops.batch_norm_train(x, None, None, np.zeros(4, np.float32), mv)
    readonly = np.zeros(3, np.float32)
    readonly.setflags(write=False)
    with pytest.raises(ValueError, match=f"{op}: argument 'moving_mean'.*writable"):
        ops.batch_norm_train(x, None, None, readonly, mv)
    with pytest.raises(ValueError, match=f"{op}: argument 'moving_variance'.*contiguous"):
        ops.batch_norm_train(x, None, None, mm, np.ones(6, np.float32)[::2])
    with pytest.raises(ValueError, match=f"{op}: arguments 'moving_mean' and"):
        ops.batch_norm_train(x, None, None, mm, mm)
    with pytest.raises(ValueError, match=f"{op}: argument 'axis'"):
        ops.batch_norm_train(x, None, None, None, None, axis=2)
    with pytest.raises(ValueError, match=f"{op}: argument 'x' must not be empty"):
        ops.batch_norm_train(np.zeros((0, 3)), None, None, None, None)
    with pytest.raises(ValueError, match=f"{op}: argument 'x' must have rank"):
        ops.batch_norm_train(np.float32(1.0), None, None, None, None)
    with pytest.raises(TypeError, match=f"{op}: argument 'x'"):
        ops.batch_norm_train(x.astype(np.complex64), None, None, None, None)
    with pytest.raises(TypeError, match=f"{op}: argument 'x'"):
        ops.batch_norm_train("abc", None, None, None, None)
    np.testing.assert_array_equal(mm, 0)  # nothing was updated by the failed calls
    np.testing.assert_array_equal(mv, 1)


def test_bad_arguments_backward_and_inference(rng):
    x = rng.normal(size=(4, 3))
    mean, var = np.zeros(3), np.ones(3)
    op = "batch_norm_train_backward"
    with pytest.raises(ValueError, match=f"{op}: argument 'dy'.*\\(4, 3\\).*\\(3, 4\\)"):
        ops.batch_norm_train_backward(np.ones((3, 4)), x, mean, var)
    with pytest.raises(ValueError, match=f"{op}: argument 'batch_variance'"):
        ops.batch_norm_train_backward(np.ones((4, 3)), x, mean, -var)
    with pytest.raises(ValueError, match=f"{op}: argument 'batch_mean'"):
        ops.batch_norm_train_backward(np.ones((4, 3)), x, np.zeros(2), var)
    with pytest.raises(TypeError, match=f"{op}: argument 'batch_mean'"):
        ops.batch_norm_train_backward(np.ones((4, 3)), x, None, var)
    op = "batch_normalization"
    with pytest.raises(ValueError, match=f"{op}: argument 'mean'"):
        ops.batch_normalization(x, np.zeros(4), var)
    with pytest.raises(ValueError, match=f"{op}: argument 'variance'"):
        ops.batch_normalization(x, mean, var - 2)
    with pytest.raises(ValueError, match=f"{op}: argument 'epsilon'"):
        ops.batch_normalization(x, mean, var, epsilon=float("inf"))
    with pytest.raises(ValueError, match=f"{op}: argument 'axis'"):
        ops.batch_normalization(x, mean, var, axis=1.0)
    op = "batch_normalization_backward"
    with pytest.raises(ValueError, match=f"{op}: argument 'dy'"):
        ops.batch_normalization_backward(np.ones(12), x, mean, var)
    with pytest.raises(ValueError, match=f"{op}: argument 'scale'"):
        ops.batch_normalization_backward(np.ones((4, 3)), x, mean, var, scale=np.ones(2))
    op = "moments"
    with pytest.raises(ValueError, match=f"{op}: argument 'axes'"):
        ops.moments(x, (0, 2))
    with pytest.raises(ValueError, match=f"{op}: argument 'axes'"):
        ops.moments(x, (0, -2))
    with pytest.raises(ValueError, match=f"{op}: argument 'axes'"):
        ops.moments(x, "0")
    with pytest.raises(ValueError, match=f"{op}: argument 'x' must not be empty"):
        ops.moments(np.zeros((2, 0)), 0)


def test_bad_arguments_C_wrappers():
    x = np.ones((4, 3))
    y, m, v = np.empty((4, 3)), np.empty(3), np.empty(3)
    with pytest.raises(ValueError, match="batchnorm_forward_train: argument 'y'"):
        _C.batchnorm_forward_train(np.empty((3, 4)), m, v, None, None, x, None, None,
                                   1e-3, 0.9)
    with pytest.raises(ValueError, match="batchnorm_forward_train: argument 'gamma'"):
        _C.batchnorm_forward_train(y, m, v, None, None, x, np.ones(4), None, 1e-3, 0.9)
    # the C kernels check their own arguments too
    with pytest.raises(ValueError, match="batchnorm_forward_train: invalid argument"):
        _C.batchnorm_forward_train(y, m, v, None, None, x, None, None, 1e-3, 1.5)
    with pytest.raises(ValueError, match="batchnorm_forward_infer: invalid argument"):
        _C.batchnorm_forward_infer(y, x, m * 0, -np.ones(3), None, None, 1e-3)
    with pytest.raises(ValueError, match="batchnorm_backward_train: invalid argument"):
        _C.batchnorm_backward_train(y, None, None, x, x, m * 0, np.ones(3), None, -1.0)
    with pytest.raises(ValueError, match="moments: inconsistent or non-positive shape"):
        _C.moments(np.empty(0), np.empty(0), np.empty((4, 0)))
    with pytest.raises(ValueError):  # mixed dtypes never reach C
        _C.moments(np.empty(3, np.float32), v, x)


# ---------------------------------------------------------------- every instruction-set path
# (rows, channels): lane periods of lcm(channels, 8) with a partial last period (6, 3, 10),
# whole 8-lane periods over many reduction groups (16, 64), and a channel count whose
# period is the row itself and not a multiple of 8 (130)
ISA_SHAPES = [(64 * 28 * 28 + 3, 6), (1001, 3), (77, 10), (6400, 16), (8192, 64), (50, 130)]


@pytest.mark.parametrize("shape", ISA_SHAPES, ids=str)
def test_every_isa_matches_reference(rng, dtype, isa, shape):
    x, gamma, beta = make_inputs(rng, shape, dtype)
    dy = rng.normal(size=shape).astype(dtype)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    mean, var = check_train_forward_backward(x, dy, gamma, beta, tol)
    y_ref, mean_ref, var_ref, _, _ = ref.batch_norm_train_ref(x, gamma, beta)
    yi = ops.batch_normalization(x, mean_ref.astype(dtype), var_ref.astype(dtype),
                                 offset=beta, scale=gamma)
    check(yi, y_ref, dtype)
    dxi, _, _ = ops.batch_normalization_backward(dy, x, mean, var, scale=gamma)
    check(dxi, dy * gamma / np.sqrt(var.astype(np.float64) + 1e-3), dtype)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_backward_train_with_the_activation_before_it(name, rng):
    """batchnorm_backward_train(activation=...): x is the activation's output, and dx
    comes out times its derivative: the bits of the backward then activation_backward;
    dx may not be x then (the derivative is read from x after dx is written)."""
    code = _C.ACTIVATION_CODES[name]
    x = ops.activation(rng.normal(size=(300, 7)).astype(np.float32), name)
    dy = rng.normal(size=x.shape).astype(np.float32)
    y, mean, var = np.empty_like(x), np.empty(7, np.float32), np.empty(7, np.float32)
    gamma = rng.normal(size=7).astype(np.float32)
    _C.batchnorm_forward_train(y, mean, var, None, None, x, gamma, None, 1e-3, 0.99)
    fused, dg, db = np.empty_like(x), np.empty(7, np.float32), np.empty(7, np.float32)
    _C.batchnorm_backward_train(fused, dg, db, dy, x, mean, var, gamma, activation=code)
    plain, dg2, db2 = np.empty_like(x), np.empty(7, np.float32), np.empty(7, np.float32)
    _C.batchnorm_backward_train(plain, dg2, db2, dy, x, mean, var, gamma)
    np.testing.assert_array_equal(fused, ops.activation_backward(plain, x, name))
    np.testing.assert_array_equal(dg, dg2)
    np.testing.assert_array_equal(db, db2)
    with pytest.raises(ValueError, match="'dx' must not be 'x'"):
        _C.batchnorm_backward_train(x, None, None, dy, x, mean, var, gamma, activation=code)
    with pytest.raises(ValueError, match="'activation'"):
        _C.batchnorm_backward_train(fused, None, None, dy, x, mean, var, gamma, activation=9)
