"""conv2d forward and both backward passes against the float64 reference."""
import itertools

import numpy as np
import pytest

import minidl
from minidl import ops

import reference
from conftest import ISA_LIB, TOL
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


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("in_channels", [1, 6])  # the one-channel path and the general one
def test_conv_fused_activation_float32_equals_separate_activation(activation, in_channels,
                                                                  rng):
    # LeNet-sized float32: the fused epilogue runs the same (SIMD) formulas as the
    # activation op, so the two agree bit for bit, and both match float64 to float32 error
    x = rng.standard_normal((4, 14, 14, in_channels)).astype(np.float32)
    kern = (0.3 * rng.standard_normal((5, 5, in_channels, 16))).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    fused = ops.conv(x, kern, bias=bias, activation=activation)
    separate = getattr(ops, activation)(ops.conv(x, kern, bias=bias))
    np.testing.assert_array_equal(fused, separate)
    x64, kern64, bias64 = (a.astype(np.float64) for a in (x, kern, bias))
    z = reference.conv2d(x64, kern64, (1, 1), "valid", bias64)
    want = {"relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}
    # float32 sums err relative to the sum of |terms|; each activation is 1-Lipschitz
    magnitude = reference.conv2d(np.abs(x64), np.abs(kern64), (1, 1), "valid", np.abs(bias64))
    assert np.all(np.abs(fused - want[activation]) <= 2e-6 * magnitude + 1e-6)


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


# ---------------------------------------------------------------- every instruction-set path
# (the `isa` fixture of conftest.py caps the level through md_force_isa)
_LIB = ISA_LIB


# (N, H, W, C_in, kernel, C_out, stride, padding), chosen to reach every kernel shape:
# few input channels (row taps, padded copy or not), many (per-tap pointers), 1..8 output
# columns (dot-product kernel), 1..5 vectors of columns, strided backward gathers, an even
# kernel with the odd padding pixel at the bottom/right, a 1x1 kernel, and one channel
# (pixels as vector lanes, several segments per output row).
ISA_CASES = [(2, 7, 6, 3, 3, 5, 1, "same"), (1, 9, 8, 33, 3, 7, 1, "same"),
             (2, 6, 7, 40, 3, 65, 2, "same"), (1, 8, 9, 16, 2, 20, 1, "same"),
             (2, 10, 10, 6, 5, 16, 1, "valid"), (1, 12, 11, 1, 5, 6, 1, "valid"),
             (1, 5, 7, 64, 3, 64, 1, "same"), (3, 6, 5, 32, 1, 8, 2, "valid"),
             (1, 7, 9, 2, 3, 34, 2, "same"), (2, 5, 6, 48, 3, 2, 1, "valid"),
             # one input (or, backward, output) channel: pixels as vector lanes
             (2, 6, 9, 4, 3, 1, 1, "same"), (1, 9, 10, 1, 3, 9, 2, "same"),
             (2, 7, 20, 1, 3, 12, 1, "same"), (3, 11, 37, 1, 4, 8, 1, "same")]


@pytest.mark.parametrize("case", ISA_CASES, ids=lambda c: "x".join(map(str, c)))
def test_conv_every_isa_matches_reference(case, isa, dtype, rng):
    n, h, w, ci, k, co, stride, padding = case
    x = rng.standard_normal((n, h, w, ci)).astype(dtype)
    kern = rng.standard_normal((k, k, ci, co)).astype(dtype)
    bias = rng.standard_normal(co).astype(dtype)
    z = reference.conv2d(x, kern, (stride, stride), padding, bias)
    _close(ops.conv(x, kern, stride, padding, bias=bias), z, dtype)
    _close(ops.conv(x, kern, stride, padding, bias=bias, activation="relu"), np.maximum(z, 0),
           dtype)
    dy = rng.standard_normal(z.shape).astype(dtype)
    dx, dw, db = ops.conv_backward(dy, x, kern, stride, padding, use_bias=True)
    rdx, rdw, rdb = reference.conv2d_backward(dy, x, kern, (stride, stride), padding)
    _close(dx, rdx, dtype)
    _close(dw, rdw, dtype)
    _close(db, rdb, dtype)


@pytest.mark.parametrize("ci,co", [(3, 32), (32, 48), (6, 5)])
def test_conv_every_isa_threads_agree(ci, co, isa, threads, rng):
    # big enough for OpenMP and several weight-gradient chunks on every path
    x = rng.standard_normal((4, 20, 20, ci)).astype(np.float32)
    kern = rng.standard_normal((3, 3, ci, co)).astype(np.float32)
    dy = rng.standard_normal((4, 20, 20, co)).astype(np.float32)
    runs = []
    for nt in (1, 2, 2):
        minidl.set_num_threads(nt)
        y = ops.conv(x, kern, 1, "same", bias=dy[0, 0, 0], activation="sigmoid")
        runs.append((y,) + ops.conv_backward(dy, x, kern, 1, "same", use_bias=True))
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a, b)
    z = reference.conv2d(x[:1], kern, (1, 1), "same", dy[0, 0, 0])
    # the fused sigmoid passes on at most 1/4 of its input's error: the convolution's
    # float32 rounding, which grows with sum |x| |w| (up to ~180 here, pre-activations up
    # to ~75); the 32 -> 48 case runs as Winograd F(4x4, 3x3), whose error is documented
    # and tested (test_winograd.py) as <= 8e-7 of that magnitude, the direct path's 2.6e-7
    magnitude = reference.conv2d(np.abs(x[:1]), np.abs(kern), (1, 1), "same",
                                 np.abs(dy[0, 0, 0])).max()
    np.testing.assert_allclose(runs[0][0][:1], 1 / (1 + np.exp(-z)), rtol=0,
                               atol=1e-5 + 0.25 * 2e-6 * magnitude)


def test_conv_isa_paths_agree_with_each_other(rng):
    # the same problem on every available level: equal to float32 rounding
    x = rng.standard_normal((2, 11, 9, 5)).astype(np.float32)
    kern = rng.standard_normal((3, 3, 5, 17)).astype(np.float32)
    outs = []
    try:
        for level in range(_LIB.md_cpu_isa() + 1):
            _LIB.md_force_isa(level)
            outs.append(ops.conv(x, kern, 1, "same"))
    finally:
        _LIB.md_force_isa(-1)
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], rtol=1e-5, atol=1e-5)


def _on_simd_levels_and_threads(compute):
    """compute() on every SIMD level this CPU has (the portable level alone when it has
    none), with 1 then 2 threads at each: [level 1 x 1 thread, level 1 x 2, level 2 x 1,
    ...]."""
    levels = range(1, _LIB.md_cpu_isa() + 1) if _LIB.md_cpu_isa() >= 1 else [0]
    threads_before = minidl.get_num_threads()
    runs = []
    try:
        for level in levels:
            _LIB.md_force_isa(level)
            for nt in (1, 2):
                minidl.set_num_threads(nt)
                runs.append(compute())
    finally:
        _LIB.md_force_isa(-1)
        minidl.set_num_threads(threads_before)
    return runs


# ---------------------------------------------------------------- one input channel, direct
# (conv_one_channel.h: float32 on AVX2/AVX-512, lanes along the NHWC output rows)
@pytest.mark.parametrize("out_channels", [1, 3, 5, 6, 7, 12, 16])
@pytest.mark.parametrize("stride,padding", [(1, "valid"), (1, "same"), (2, "same"), (3, "valid")])
@pytest.mark.parametrize("window", [(5, 4), (3, 3), (4, 3)])  # 5 and 3 rows: vector pairs
def test_one_channel_forward_widths_threads_and_reference(out_channels, stride, padding,
                                                          window, rng):
    # every weight period (16 / gcd(N, lanes)), both vector widths and 1 or 2 threads give
    # the same bits (one thread sums each value over the taps in one order, in the same
    # IEEE operations at both widths); rows not a multiple of the 4-row tile, a width
    # that ends mid-vector, images taller than one work item, and a last source row read
    # through the padded copy
    x = rng.standard_normal((3, 37, 29, 1)).astype(np.float32)
    kern = (0.4 * rng.standard_normal(window + (1, out_channels))).astype(np.float32)
    bias = rng.standard_normal(out_channels).astype(np.float32)
    strides = (stride, 1)
    x64, kern64, bias64 = (a.astype(np.float64) for a in (x, kern, bias))
    z = reference.conv2d(x64, kern64, strides, padding, bias64)
    magnitude = reference.conv2d(np.abs(x64), np.abs(kern64), strides, padding,
                                 np.abs(bias64))
    want = {"linear": z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)),
            "tanh": np.tanh(z)}
    for activation, expected in want.items():
        runs = _on_simd_levels_and_threads(
            lambda: ops.conv(x, kern, strides, padding, bias=bias, activation=activation))
        for run in runs[1:]:
            np.testing.assert_array_equal(run, runs[0])
        assert np.all(np.abs(runs[0] - expected) <= 2e-6 * magnitude + 1e-6), activation


@pytest.mark.parametrize("out_channels", [1, 3, 5, 6, 12, 16])
@pytest.mark.parametrize("stride,padding", [(1, "valid"), (1, "same"), (2, "same")])
@pytest.mark.parametrize("window", [(4, 5), (5, 5), (3, 3)])  # square: all rows at once
def test_one_channel_weight_gradient_widths_threads_and_reference(out_channels, stride,
                                                                  padding, window, rng):
    # the one-channel weight gradient (weight periods 1 and 3 take the lanes-along-rows
    # path, 5 the pixel-lane one): 37 images (3 per chunk, the last chunk short); 1 or 2
    # threads give the same bits at each width (the widths group the sums differently),
    # every width is within float32 error of float64; a NaN in the input reaches exactly
    # the weights whose windows read it
    x = rng.standard_normal((37, 13, 11, 1)).astype(np.float32)
    kern = rng.standard_normal(window + (1, out_channels)).astype(np.float32)
    strides = (stride, 1)
    dy = rng.standard_normal(ops.conv(x, kern, strides, padding).shape).astype(np.float32)
    runs = _on_simd_levels_and_threads(
        lambda: ops.conv_backward(dy, x, kern, strides, padding, use_bias=True)[1:])
    for one, two in zip(runs[::2], runs[1::2]):
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])
    x64, kern64, dy64 = (a.astype(np.float64) for a in (x, kern, dy))
    _, rdw, rdb = reference.conv2d_backward(dy64, x64, kern64, strides, padding)
    magnitude = reference.conv2d_backward(np.abs(dy64), np.abs(x64), kern64, strides,
                                          padding)[1]
    for dw, db in runs[::2]:
        assert np.all(np.abs(dw - rdw) <= 2e-6 * magnitude + 1e-6)
        np.testing.assert_allclose(db, rdb, rtol=1e-5, atol=1e-4)
    if padding == "valid" and out_channels != 5:
        # (the pixel-lane path of N = 5 multiplies the lanes outside a window by zero, so
        # a NaN there spreads to other taps; a NaN input makes the loss NaN anyway)
        x[5, 0, 0, 0] = np.nan  # the top-left pixel: only tap (0, 0) of a window reads it
        dw = ops.conv_backward(dy, x, kern, strides, padding, use_bias=False,
                               input_gradient=False)[1]
        assert np.isnan(dw[0, 0]).all() and np.isfinite(dw.reshape(-1)[out_channels:]).all()


@pytest.mark.parametrize("in_channels", [1, 3])
def test_conv_pooled_in_its_call_keeps_the_unpooled_output(in_channels, dtype, isa, rng):
    # pool=2 with 'unpooled': the convolution's output and its 2x2 average pooling, the
    # bits of the two separate calls (the one-channel path pools its rows from cache)
    from minidl import _C
    x = rng.standard_normal((3, 13, 11, in_channels)).astype(dtype)
    w = rng.standard_normal((3, 3, in_channels, 5)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    tanh = _C.ACTIVATION_CODES["tanh"]
    full = np.empty((3, 11, 9, 5), dtype)
    _C.conv2d_forward(full, x, w, bias, activation=tanh)
    pooled = np.empty((3, 5, 4, 5), dtype)
    _C.avgpool2d_forward(pooled, full, (2, 2), (2, 2), "valid")
    got, kept = np.empty_like(pooled), np.full_like(full, np.nan)
    _C.conv2d_forward(got, x, w, bias, activation=tanh, pool=2, unpooled=kept)
    np.testing.assert_array_equal(kept, full)
    np.testing.assert_array_equal(got, pooled)
    z = reference.conv2d(x.astype(np.float64), w.astype(np.float64), (1, 1), "valid",
                         bias.astype(np.float64))
    np.testing.assert_allclose(kept, np.tanh(z), **TOL[dtype])


def test_conv_unpooled_argument_is_checked():
    from minidl import _C
    x, w = np.ones((1, 6, 6, 1), np.float32), np.ones((3, 3, 1, 2), np.float32)
    y, full = np.empty((1, 2, 2, 2), np.float32), np.empty((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="'unpooled' needs pool=2"):
        _C.conv2d_forward(np.empty((1, 4, 4, 2), np.float32), x, w, unpooled=full)
    with pytest.raises(ValueError, match="unpooled"):
        _C.conv2d_forward(y, x, w, pool=2, unpooled=np.empty((1, 4, 3, 2), np.float32))
    x = np.ones((1, 4, 6, 2), np.float32)  # a 1x1 kernel: the unpooled output has x's shape
    with pytest.raises(ValueError, match="must not be y or x"):
        _C.conv2d_forward(np.empty((1, 2, 3, 2), np.float32), x,
                          np.ones((1, 1, 2, 2), np.float32), pool=2, unpooled=x)
