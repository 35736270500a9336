"""conv2d forward and both backward passes against the float64 reference."""
import itertools

import numpy as np
import pytest

import minidl
from minidl import ops

import reference
from conftest import TOL
from gradcheck import assert_gradient

# (N, H, W, C_in, kernel, C_out): batch 1, odd sizes, channel counts not a multiple of 8
SHAPES = [(1, 5, 5, 1, 1, 1), (2, 7, 6, 3, 3, 6), (1, 9, 8, 6, 5, 16), (3, 6, 7, 16, 3, 33),
          (2, 8, 5, 33, 3, 3), (1, 4, 4, 3, 5, 2)]
CASES = [(s, stride, pad) for s, stride, pad in itertools.product(SHAPES, (1, 2), ("valid", "same"))
         if pad == "same" or s[4] <= min(s[1], s[2])]


def _case_arrays(rng, shape, dtype):
    n, h, w, ci, k, co = shape
    x = rng.standard_normal((n, h, w, ci)).astype(dtype)
    kern = rng.standard_normal((k, k, ci, co)).astype(dtype)
    bias = rng.standard_normal(co).astype(dtype)
    return x, kern, bias


def _close(got, want, dtype):
    scale = max(1.0, np.abs(want).max())
    np.testing.assert_allclose(got / scale, want / scale, **TOL[dtype])


@pytest.mark.parametrize("shape,stride,padding", CASES)
def test_conv_forward_matches_reference(shape, stride, padding, dtype, rng):
    x, kern, bias = _case_arrays(rng, shape, dtype)
    got = ops.conv(x, kern, stride, padding, bias=bias)
    want = reference.conv2d(x, kern, (stride, stride), padding, bias)
    assert got.shape == want.shape and got.dtype == dtype
    _close(got, want, dtype)


@pytest.mark.parametrize("shape,stride,padding", CASES)
def test_conv_backward_matches_reference(shape, stride, padding, dtype, rng):
    x, kern, _ = _case_arrays(rng, shape, dtype)
    y_shape = ops.conv(x, kern, stride, padding).shape
    dy = rng.standard_normal(y_shape).astype(dtype)
    dx, dw, db = ops.conv_backward(dy, x, kern, stride, padding, use_bias=True)
    rdx, rdw, rdb = reference.conv2d_backward(dy, x, kern, (stride, stride), padding)
    _close(dx, rdx, dtype)
    _close(dw, rdw, dtype)
    _close(db, rdb, dtype)


def test_conv_same_padding_puts_the_odd_pixel_bottom_right():
    # 4x4 input, 2x2 kernel, stride 1: total padding 1 goes entirely to the bottom/right
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    kern = np.zeros((2, 2, 1, 1))
    kern[0, 0, 0, 0] = 1.0  # picks the top-left pixel of each window
    y = ops.conv(x, kern, 1, "same")
    np.testing.assert_array_equal(y[0, :, :, 0], x[0, :, :, 0])


@pytest.mark.parametrize("stride,padding", [(1, "same"), (2, "same"), (2, "valid"), ((1, 2), "valid")])
def test_conv_gradients_against_finite_differences(stride, padding, rng):
    x = rng.standard_normal((2, 5, 6, 3))
    kern = rng.standard_normal((3, 3, 3, 4))
    bias = rng.standard_normal(4)
    y = ops.conv(x, kern, stride, padding, bias=bias)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = ops.conv_backward(dy, x, kern, stride, padding, use_bias=True)
    assert_gradient(lambda v: ops.conv(v, kern, stride, padding, bias=bias), x, dy, dx)
    assert_gradient(lambda v: ops.conv(x, v, stride, padding, bias=bias), kern, dy, dw)
    assert_gradient(lambda v: ops.conv(x, kern, stride, padding, bias=v), bias, dy, db)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_conv_fused_activation(activation, rng):
    x = rng.standard_normal((2, 6, 6, 3))
    kern = rng.standard_normal((3, 3, 3, 5))
    bias = rng.standard_normal(5)
    z = reference.conv2d(x, kern, (1, 1), "same", bias)
    want = {"relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}
    got = ops.conv(x, kern, 1, "same", bias=bias, activation=activation)
    np.testing.assert_allclose(got, want[activation], rtol=1e-12, atol=1e-12)


def test_conv_seed_layer_sizes_threads_agree_and_repeat(threads, rng):
    # large enough for both the OpenMP path and several weight-gradient chunks
    x = rng.standard_normal((8, 32, 32, 3)).astype(np.float32)
    kern = rng.standard_normal((3, 3, 3, 32)).astype(np.float32)
    dy = rng.standard_normal((8, 32, 32, 32)).astype(np.float32)
    runs = []
    for n in (1, 2, 2, 1):
        minidl.set_num_threads(n)
        y = ops.conv(x, kern, 1, "same")
        dx, dw, db = ops.conv_backward(dy, x, kern, 1, "same", use_bias=True)
        runs.append((y, dx, dw, db))
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a, b)
    want = reference.conv2d(x[:1], kern, (1, 1), "same")
    _close(runs[0][0][:1], want, np.float32)


def test_conv_non_contiguous_and_read_only_inputs(rng):
    x = rng.standard_normal((2, 9, 9, 6))[:, ::2, ::2, ::2]
    kern = rng.standard_normal((3, 3, 3, 2))
    kern.setflags(write=False)
    np.testing.assert_allclose(ops.conv(x, kern, 1, "same"),
                               reference.conv2d(x, kern, (1, 1), "same"), rtol=1e-12, atol=1e-12)


def test_conv_bad_arguments():
    x = np.ones((1, 4, 4, 3), np.float32)
    kern = np.ones((3, 3, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"conv: the input has 3 channels .* expects 4"):
        ops.conv(x, np.ones((3, 3, 4, 2)))
    with pytest.raises(ValueError, match=r"conv: the kernel \(5, 5\) is larger than the input"):
        ops.conv(x, np.ones((5, 5, 3, 2)))
    with pytest.raises(ValueError, match="conv: argument 'strides' must be positive"):
        ops.conv(x, kern, strides=0)
    with pytest.raises(ValueError, match="conv: argument 'padding'"):
        ops.conv(x, kern, padding="full")
    with pytest.raises(ValueError, match="conv: argument 'inputs' must have rank 4"):
        ops.conv(np.ones((4, 4, 3)), kern)
    with pytest.raises(ValueError, match="conv: argument 'inputs' must not be empty"):
        ops.conv(np.ones((0, 4, 4, 3)), kern)
    with pytest.raises(ValueError, match="conv: argument 'bias' must have shape"):
        ops.conv(x, kern, bias=np.ones(3))
    with pytest.raises(ValueError, match="conv: argument 'activation'"):
        ops.conv(x, kern, activation="gelu")
    with pytest.raises(ValueError, match="conv_backward: argument 'dy' must have shape"):
        ops.conv_backward(np.ones((1, 4, 4, 2)), x, kern, 1, "valid")
    with pytest.raises(ValueError, match="dilation_rate"):
        ops.conv(x, kern, dilation_rate=2)
