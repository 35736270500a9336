"""The Winograd path of 3x3 stride-1 convolutions (forward, input gradient and weight
gradient) against the float64 reference, against the direct (implicit-GEMM) path, across
thread counts and instruction-set levels, and its switch.

Tolerance: Winograd F(4x4, 3x3) rounds in its transforms as well as in the channel sums,
and a tile's transforms mix all the 6x6 input pixels under it, so an output's error
scales with the magnitude of its neighbourhood rather than with its own sum of |terms|.
The bound is therefore taken relative to the largest magnitude (sum of |x| |w| and |bias|)
of the output: measured in float32 on N(0, 1) and on sigmoid-range inputs with he_uniform
weights, at most 8e-7 of it (the direct path: 2.6e-7); the tests allow 4e-6; float64
the same bound scaled by 2^-29 (its unit roundoff over float32's). The weight gradient
(the transposed algorithm, summed over every tile) is held to the same bound relative to
its largest sum of |x| |dy|: measured at most 3.7e-7 of it (the direct path: 8e-8)."""
import contextlib

import numpy as np
import pytest

import minidl
from minidl import _C, ops

import reference

REL = {np.float32: 4e-6, np.float64: 4e-6 * 2.0 ** -29}

# (N, H, W, C_in, C_out): odd sizes that are not multiples of the 4x4 tile, channel counts
# that are not multiples of a vector, batch 1 and 3; all with enough tiles for the path
SHAPES = [(1, 29, 27, 17, 33), (3, 19, 17, 33, 17), (2, 22, 26, 16, 16)]


@contextlib.contextmanager
def winograd(on):
    before = _C.conv_winograd()
    _C.set_conv_winograd(on)
    try:
        yield
    finally:
        _C.set_conv_winograd(before)


def _arrays(rng, shape, dtype, realistic=False):
    n, h, w, ci, co = shape
    if realistic:  # sigmoid outputs, he_uniform weights
        x = 1 / (1 + np.exp(-rng.standard_normal((n, h, w, ci))))
        lim = np.sqrt(6 / (9 * ci))
        kern = rng.uniform(-lim, lim, (3, 3, ci, co))
    else:
        x = rng.standard_normal((n, h, w, ci))
        kern = rng.standard_normal((3, 3, ci, co))
    bias = rng.standard_normal(co)
    return x.astype(dtype), kern.astype(dtype), bias.astype(dtype)


def _assert_within(got, want, magnitude, dtype):
    """|got - want| <= REL * max(magnitude) (magnitude: the sums of |terms|)."""
    err = np.abs(got.astype(np.float64) - want).max()
    assert err <= REL[dtype] * magnitude.max(), err / magnitude.max()


def _direct(fn):
    """fn() on the implicit-GEMM path."""
    with winograd(False):
        return fn()


def _forward_magnitude(x, kern, padding, bias):
    return reference.conv2d(np.abs(x).astype(np.float64), np.abs(kern).astype(np.float64),
                            (1, 1), padding, np.abs(bias).astype(np.float64))


ACTIVATIONS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0),
               "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_winograd_forward_matches_reference(shape, padding, activation, dtype, rng):
    x, kern, bias = _arrays(rng, shape, dtype)
    def run():
        return ops.conv(x, kern, 1, padding, bias=bias, activation=activation)

    got = run()
    assert not np.array_equal(got, _direct(run))  # the Winograd path ran
    x64, k64, b64 = (a.astype(np.float64) for a in (x, kern, bias))
    z = reference.conv2d(x64, k64, (1, 1), padding, b64)
    # every activation is 1-Lipschitz: the bound on z carries over
    _assert_within(got, ACTIVATIONS[activation](z), _forward_magnitude(x, kern, padding, bias),
                   dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_winograd_backward_input_matches_reference(shape, padding, dtype, rng):
    x, kern, _ = _arrays(rng, shape, dtype)
    y_shape = ops.conv(x, kern, 1, padding).shape
    dy = rng.standard_normal(y_shape).astype(dtype)
    def run():
        return ops.conv_backward(dy, x, kern, 1, padding)[0]

    dx = run()
    assert not np.array_equal(dx, _direct(run))  # the Winograd path ran
    x64, k64, dy64 = (a.astype(np.float64) for a in (x, kern, dy))
    want = reference.conv2d_backward(dy64, x64, k64, (1, 1), padding)[0]
    magnitude = reference.conv2d_backward(np.abs(dy64), np.abs(x64), np.abs(k64), (1, 1),
                                          padding)[0]
    _assert_within(dx, want, magnitude, dtype)


def _weight_gradients(dy, x, kern, padding):
    """(dkernel, dbias) of ops.conv_backward, their float64 reference and the kernel
    gradient's magnitude (the sums of |x| |dy|)."""
    _, dw, db = ops.conv_backward(dy, x, kern, 1, padding, input_gradient=False,
                                  use_bias=True)
    x64, k64, dy64 = (a.astype(np.float64) for a in (x, kern, dy))
    want = reference.conv2d_backward(dy64, x64, k64, (1, 1), padding)
    magnitude = reference.conv2d_backward(np.abs(dy64), np.abs(x64), np.abs(k64), (1, 1),
                                          padding)[1]
    return dw, db, want[1], want[2], magnitude


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_winograd_weight_gradient_matches_reference(shape, padding, dtype, rng):
    x, kern, _ = _arrays(rng, shape, dtype)
    dy = rng.standard_normal(ops.conv(x, kern, 1, padding).shape).astype(dtype)
    dw, db, want_dw, want_db, magnitude = _weight_gradients(dy, x, kern, padding)
    direct_dw, direct_db = _direct(
        lambda: ops.conv_backward(dy, x, kern, 1, padding, input_gradient=False,
                                  use_bias=True)[1:])
    assert not np.array_equal(dw, direct_dw)  # the Winograd path ran
    _assert_within(dw, want_dw, magnitude, dtype)
    # the bias sums are the direct path's, chunk for chunk
    np.testing.assert_array_equal(db, direct_db)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(db, want_db, rtol=tol, atol=tol)


def test_winograd_weight_gradient_reads_nothing_past_the_output(rng):
    # a 15x15 output: the last tile of every row and column hangs over the edge; the
    # buffer behind dy holds NaN, so a read past the output would show
    x = rng.standard_normal((2, 15, 15, 16)).astype(np.float32)
    kern = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    size = 2 * 15 * 15 * 16
    room = np.full(size + 1024, np.nan, np.float32)
    dy = room[:size].reshape(2, 15, 15, 16)
    dy[...] = rng.standard_normal(dy.shape)
    dw, _, want, _, magnitude = _weight_gradients(dy, x, kern, "same")
    assert np.isfinite(dw).all()
    _assert_within(dw, want, magnitude, np.float32)


@pytest.mark.parametrize("realistic", [False, True], ids=["normal", "sigmoid-range"])
def test_winograd_agrees_with_the_direct_path(realistic, rng):
    # the seed CNN's conv4 shape (16x16, 64 -> 64 channels), a smaller batch
    x, kern, bias = _arrays(rng, (4, 16, 16, 64, 64), np.float32, realistic)
    dy = rng.standard_normal((4, 16, 16, 64)).astype(np.float32)
    outs = {}
    for on in (True, False):
        with winograd(on):
            outs[on] = (ops.conv(x, kern, 1, "same", bias=bias),
                        *ops.conv_backward(dy, x, kern, 1, "same")[:2])
    x64, k64, dy64 = (a.astype(np.float64) for a in (x, kern, dy))
    y_mag = _forward_magnitude(x, kern, "same", bias)
    dx_mag, dw_mag = reference.conv2d_backward(np.abs(dy64), np.abs(x64), np.abs(k64),
                                               (1, 1), "same")[:2]
    for (fast, direct), magnitude in zip(zip(outs[True], outs[False]),
                                         (y_mag, dx_mag, dw_mag)):
        assert not np.array_equal(fast, direct)  # the switch changes the path
        _assert_within(fast, direct.astype(np.float64), magnitude, np.float32)


@pytest.mark.parametrize("case", [
    (2, 9, 9, 8, 32, 3, 1),    # too few input channels
    (2, 9, 9, 32, 8, 3, 1),    # too few output channels
    (2, 9, 9, 32, 32, 3, 2),   # stride 2
    (2, 9, 9, 32, 32, 5, 1),   # 5x5 kernel
    (32, 6, 6, 32, 32, 3, 1),  # an image under 8x8
    (2, 16, 16, 32, 32, 3, 1),  # 32 tiles in all
], ids=["c8", "n8", "stride2", "k5", "small-image", "few-tiles"])
def test_winograd_leaves_other_convolutions_alone(case, rng):
    n, h, w, ci, co, k, stride = case
    x = rng.standard_normal((n, h, w, ci)).astype(np.float32)
    kern = rng.standard_normal((k, k, ci, co)).astype(np.float32)
    runs = []
    for on in (True, False):
        with winograd(on):
            y = ops.conv(x, kern, stride, "same")
            runs.append((y, *ops.conv_backward(np.ones_like(y), x, kern, stride, "same")[:2]))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_winograd_threads_agree_and_repeat(threads, rng):
    # the seed CNN's conv2 shape: many tile blocks, so both threads get some
    x, kern, bias = _arrays(rng, (8, 32, 32, 32, 32), np.float32)
    dy = rng.standard_normal((8, 32, 32, 32)).astype(np.float32)
    runs = []
    for nt in (1, 2, 2, 1):
        minidl.set_num_threads(nt)
        runs.append((ops.conv(x, kern, 1, "same", bias=bias, activation="sigmoid"),
                     *ops.conv_backward(dy, x, kern, 1, "same", use_bias=True)))
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_winograd_every_isa_matches_reference(padding, isa, dtype, rng):
    x, kern, bias = _arrays(rng, (3, 21, 18, 20, 40), dtype)
    got = ops.conv(x, kern, 1, padding, bias=bias, activation="relu")
    z = reference.conv2d(x.astype(np.float64), kern.astype(np.float64), (1, 1), padding,
                         bias.astype(np.float64))
    _assert_within(got, np.maximum(z, 0), _forward_magnitude(x, kern, padding, bias), dtype)
    dy = rng.standard_normal(got.shape).astype(dtype)
    dw, _, want, _, magnitude = _weight_gradients(dy, x, kern, padding)
    _assert_within(dw, want, magnitude, dtype)


def test_winograd_switch():
    assert _C.conv_winograd() is True  # on by default
    with winograd(False):
        assert _C.conv_winograd() is False
    assert _C.conv_winograd() is True
