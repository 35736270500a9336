"""The Winograd F(2x2, 3x3) path of stride-1 3x3 convolutions (csrc/winograd_impl.h):
the forward pass and the input gradient against a float64 NumPy reference and against
the direct implicit GEMM (the switch minidl._C.set_conv_winograd), bit-identical for any
thread count, and only where it applies."""
import numpy as np
import pytest

import minidl
from minidl import _C, ops
import reference

ACT = _C.ACTIVATION_CODES


@pytest.fixture
def direct():
    """Run a block with the Winograd path off (restored after)."""
    class Direct:
        def __enter__(self):
            _C.set_conv_winograd(False)

        def __exit__(self, *exc):
            _C.set_conv_winograd(True)
    yield Direct()
    _C.set_conv_winograd(True)


def _scale(x, w, padding):
    """sum |x| |w| over each output's window: what the rounding error is relative to."""
    return reference.conv2d(np.abs(x), np.abs(w), (1, 1), padding)


# shapes that qualify (>= 16 channels on both sides): odd sizes, not multiples of the
# 2x2 tile or of a vector, 'same' and 'valid', one image and several
SHAPES = [((1, 5, 5, 16), 16, "same"), ((3, 7, 9, 17), 33, "valid"),
          ((2, 8, 6, 33), 19, "same"), ((2, 3, 3, 16), 20, "valid")]


@pytest.mark.parametrize("shape,filters,padding", SHAPES)
@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
def test_forward_matches_float64(rng, shape, filters, padding, activation):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((3, 3, shape[3], filters)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)
    want = reference.conv2d(x, w, (1, 1), padding, bias)
    y = np.empty(want.shape, np.float32)
    _C.conv2d_forward(y, x, w, bias, 1, 1, padding, ACT[activation])
    z = np.asarray(want)
    expected = {"linear": z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)),
                "tanh": np.tanh(z)}[activation]
    # F(2x2, 3x3) in float32: measured error <= 1.1e-7 of sum |x||w| (the direct path's
    # is <= 1.9e-7); the bound leaves a margin for other data
    tolerance = 1e-6 * (_scale(x, w, padding) + np.abs(bias))
    assert np.all(np.abs(y - expected) <= tolerance)


@pytest.mark.parametrize("shape,filters,padding", SHAPES)
def test_input_gradient_matches_float64(rng, shape, filters, padding):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((3, 3, shape[3], filters)).astype(np.float32)
    out_shape = reference.conv2d(x, w, (1, 1), padding).shape
    dy = rng.standard_normal(out_shape).astype(np.float32)
    want = reference.conv2d_backward(dy, x, w, (1, 1), padding)[0]
    dx = np.empty(shape, np.float32)
    _C.conv2d_backward_input(dx, dy, w, 1, 1, padding)
    scale = reference.conv2d_backward(np.abs(dy), x, np.abs(w), (1, 1), padding)[0]
    assert np.all(np.abs(dx - want) <= 1e-6 * scale)


def test_float64_is_exact_to_float64_rounding(rng):
    x = rng.standard_normal((2, 6, 7, 16))
    w = rng.standard_normal((3, 3, 16, 16))
    want = reference.conv2d(x, w, (1, 1), "same")
    y = np.empty(want.shape)
    _C.conv2d_forward(y, x, w, None, 1, 1, "same")
    assert np.all(np.abs(y - want) <= 1e-14 * _scale(x, w, "same"))


def test_the_switch_chooses_the_path_where_it_applies(rng, direct):
    def both(channels, kernel):
        x = rng.standard_normal((2, 8, 8, channels)).astype(np.float32)
        w = rng.standard_normal((kernel, kernel, channels, channels)).astype(np.float32)
        y_wino = np.empty((2, 8, 8, channels), np.float32)
        y_direct = np.empty_like(y_wino)
        _C.conv2d_forward(y_wino, x, w, None, 1, 1, "same")
        with direct:
            _C.conv2d_forward(y_direct, x, w, None, 1, 1, "same")
        return y_wino, y_direct
    assert _C.conv_winograd()
    wino, plain = both(16, 3)  # qualifies: another summation order, so other bits
    assert not np.array_equal(wino, plain)
    np.testing.assert_allclose(wino, plain, rtol=1e-4, atol=1e-4)
    for channels, kernel in ((8, 3), (16, 5)):  # too few channels / not 3x3: direct
        wino, plain = both(channels, kernel)
        np.testing.assert_array_equal(wino, plain)


def test_any_thread_count_gives_the_same_bits(rng):
    x = rng.standard_normal((8, 16, 16, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 48)).astype(np.float32)
    dy = rng.standard_normal((8, 16, 16, 48)).astype(np.float32)
    runs = []
    try:
        for threads in (1, 2, 3, 1):
            minidl.set_num_threads(threads)
            runs.append((ops.conv(x, w, 1, "same"),
                         ops.conv_backward(dy, x, w, 1, "same", use_bias=True)[0]))
    finally:
        minidl.set_num_threads(2)
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a, b)


def test_a_model_trains_the_same_either_way(rng, direct):
    """A CNN with 16-channel 3x3 convolutions trained with and without the Winograd path
    reaches the same weights to float32 rounding."""
    from minidl import layers, models, utils
    x = rng.random((32, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    results = []
    for use_winograd in (True, False):
        _C.set_conv_winograd(use_winograd)
        utils.set_random_seed(0)
        model = models.Sequential([minidl.Input((8, 8, 3)),
                                   layers.Conv2D(16, 3, padding="same", activation="relu"),
                                   layers.Conv2D(16, 3, padding="same", activation="relu"),
                                   layers.Flatten(), layers.Dense(4, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        results.append(model.get_weights())
    _C.set_conv_winograd(True)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
