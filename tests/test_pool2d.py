"""Max and average pooling (csrc/pool2d.c through minidl.ops) against tests/reference.py."""
import numpy as np
import pytest

import minidl
from minidl import ops
import reference as ref
from conftest import ISA_LEVELS, ISA_LIB, TOL
from gradcheck import assert_gradient

# (input shape NHWC, pool_size, strides, padding)
CONFIGS = [
    ((1, 5, 5, 1), 2, None, "valid"),
    ((2, 7, 5, 3), 3, 1, "same"),
    ((2, 7, 5, 3), 3, 1, "valid"),
    ((1, 6, 6, 6), 2, 2, "same"),
    ((3, 9, 7, 16), 3, 2, "same"),
    ((3, 9, 7, 16), 3, 2, "valid"),
    ((2, 8, 9, 33), (2, 3), (1, 2), "same"),
    ((1, 4, 4, 6), 1, 1, "valid"),
    ((2, 5, 6, 3), 2, 3, "same"),
    ((2, 5, 6, 3), 2, 3, "valid"),
    ((1, 7, 7, 33), 3, 3, "valid"),
    ((2, 3, 3, 2), 3, 1, "same"),      # pool as large as the input
    ((1, 2, 2, 3), 3, 1, "same"),      # pool larger than the input ('same' allows it)
    ((2, 10, 3, 1), (3, 1), (2, 1), "SAME"),
    ((2, 6, 8, 6), 2, 2, "valid"),      # the 2x2 fast paths, every cell in one window
    ((2, 7, 9, 5), 2, 2, "valid"),      # ... with a last row and column in none
    ((2, 6, 8, 6), 2, (1, 2), "valid"),  # ... overlapping rows (forward fast path only)
]
CONFIG_IDS = [f"{s}-p{p}-s{st}-{pad}" for s, p, st, pad in CONFIGS]

# small geometries for central differences, overlapping windows included
GRAD_CONFIGS = [
    ((1, 5, 5, 2), 3, 1, "same"),
    ((2, 4, 5, 3), 2, 2, "valid"),
    ((1, 5, 4, 1), 3, 2, "same"),
    ((1, 6, 5, 2), (2, 3), (1, 2), "valid"),
    ((2, 3, 4, 1), 2, 1, "same"),
]


def pair(v, default=None):
    """An int or 2-tuple (or None -> default) as a 2-tuple, for the references."""
    if v is None:
        return pair(default)
    return (v, v) if isinstance(v, int) else tuple(v)


def distinct_values(shape, rng, step=0.01):
    """A float64 array of distinct values (a shuffled, centred ramp): no max-pool ties,
    and every gap (step) far above the finite-difference epsilon."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * step).reshape(shape)


# ---------------------------------------------------------------- forward vs reference


@pytest.mark.parametrize("shape,pool,strides,padding", CONFIGS, ids=CONFIG_IDS)
def test_max_pool_matches_reference(shape, pool, strides, padding, dtype, rng):
    x = distinct_values(shape, rng).astype(dtype)
    p, s, pad = pair(pool), pair(strides, pool), padding.lower()
    want_y, want_argmax = ref.max_pool(x, p, s, pad)
    y, argmax = ops.max_pool_with_argmax(x, pool, strides, padding)
    assert y.dtype == dtype and argmax.dtype == np.int64
    np.testing.assert_array_equal(y, want_y.astype(dtype))
    np.testing.assert_array_equal(argmax, want_argmax)
    np.testing.assert_array_equal(ops.max_pool(x, pool, strides, padding), y)


@pytest.mark.parametrize("shape,pool,strides,padding", CONFIGS, ids=CONFIG_IDS)
def test_average_pool_matches_reference(shape, pool, strides, padding, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    want = ref.average_pool(x, pair(pool), pair(strides, pool), padding.lower())
    y = ops.average_pool(x, pool, strides, padding)
    assert y.dtype == dtype and y.shape == want.shape
    np.testing.assert_allclose(y, want, **TOL[dtype])


# ---------------------------------------------------------------- backward vs reference


@pytest.mark.parametrize("shape,pool,strides,padding", CONFIGS, ids=CONFIG_IDS)
def test_max_pool_backward_matches_reference(shape, pool, strides, padding, dtype, rng):
    x = distinct_values(shape, rng).astype(dtype)
    y, argmax = ops.max_pool_with_argmax(x, pool, strides, padding)
    dy = rng.standard_normal(y.shape).astype(dtype)
    want = ref.max_pool_backward(dy, x, pair(pool), pair(strides, pool), padding.lower())
    dx = ops.max_pool_backward(dy, argmax, shape, pool, strides, padding)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, want, **TOL[dtype])


@pytest.mark.parametrize("shape,pool,strides,padding", CONFIGS, ids=CONFIG_IDS)
def test_average_pool_backward_matches_reference(shape, pool, strides, padding, dtype, rng):
    out_shape = ref.pool_output_shape(shape, pair(pool), pair(strides, pool), padding.lower())
    dy = rng.standard_normal(out_shape).astype(dtype)
    want = ref.average_pool_backward(dy, shape, pair(pool), pair(strides, pool),
                                     padding.lower())
    dx = ops.average_pool_backward(dy, shape, pool, strides, padding)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, want, **TOL[dtype])


# ---------------------------------------------------------------- gradient checks (float64)


@pytest.mark.parametrize("shape,pool,strides,padding", GRAD_CONFIGS)
def test_max_pool_gradient(shape, pool, strides, padding, rng):
    x = distinct_values(shape, rng)
    y, argmax = ops.max_pool_with_argmax(x, pool, strides, padding)
    dy = rng.standard_normal(y.shape)
    dx = ops.max_pool_backward(dy, argmax, shape, pool, strides, padding)
    assert_gradient(lambda v: ops.max_pool(v, pool, strides, padding), x, dy, dx)


@pytest.mark.parametrize("shape,pool,strides,padding", GRAD_CONFIGS)
def test_average_pool_gradient(shape, pool, strides, padding, rng):
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(ops.average_pool(x, pool, strides, padding).shape)
    dx = ops.average_pool_backward(dy, shape, pool, strides, padding)
    assert_gradient(lambda v: ops.average_pool(v, pool, strides, padding), x, dy, dx)


def test_overlapping_windows_accumulate(dtype):
    # one big value in the middle of a 3x3 image is the max of all four 2x2 windows
    x = np.zeros((1, 3, 3, 1), dtype=dtype)
    x[0, 1, 1, 0] = 5.0
    y, argmax = ops.max_pool_with_argmax(x, 2, 1)
    np.testing.assert_array_equal(y[..., 0], [[[5, 5], [5, 5]]])
    np.testing.assert_array_equal(argmax, np.full((1, 2, 2, 1), 4))
    dx = ops.max_pool_backward(np.ones_like(y), argmax, x.shape, 2, 1)
    assert dx[0, 1, 1, 0] == 4 and dx.sum() == 4
    dx = ops.average_pool_backward(np.ones_like(y), x.shape, 2, 1)
    np.testing.assert_allclose(dx[0, :, :, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5],
                                                [0.25, 0.5, 0.25]])


# ---------------------------------------------------------------- Keras/TensorFlow semantics


def test_same_padding_known_values(dtype):
    # tf.nn.max_pool2d / avg_pool2d(ksize=2, strides=2, padding='SAME') on 1..9 (3x3):
    # the padded row/column goes bottom/right and is ignored.
    x = np.arange(1, 10, dtype=dtype).reshape(1, 3, 3, 1)
    np.testing.assert_array_equal(ops.max_pool(x, 2, 2, "same")[0, :, :, 0], [[5, 6], [8, 9]])
    np.testing.assert_array_equal(ops.average_pool(x, 2, 2, "same")[0, :, :, 0],
                                  [[3, 4.5], [7.5, 9]])
    _, argmax = ops.max_pool_with_argmax(x, 2, 2, "same")
    np.testing.assert_array_equal(argmax[0, :, :, 0], [[4, 5], [7, 8]])


def test_padded_cells_are_ignored(dtype):
    x = -np.ones((2, 5, 4, 3), dtype=dtype) - np.arange(3, dtype=dtype)
    y = ops.max_pool(x, 3, 1, "same")      # never 0 (a padded cell)
    np.testing.assert_array_equal(y, np.broadcast_to(x[:1, :1, :1, :], y.shape))
    a = ops.average_pool(x, 3, 2, "same")  # divided by real cells only
    np.testing.assert_allclose(a, np.broadcast_to(x[:1, :1, :1, :], a.shape), **TOL[dtype])


def test_ties_pick_first_in_row_major_order(dtype):
    x = np.zeros((1, 4, 4, 2), dtype=dtype)
    _, argmax = ops.max_pool_with_argmax(x, 2, 2)
    np.testing.assert_array_equal(argmax[0, :, :, 0], [[0, 2], [8, 10]])
    x[0, 1, 0, 1] = x[0, 0, 1, 1] = 7    # two maxima in window (0, 0) of channel 1
    _, argmax = ops.max_pool_with_argmax(x, 2, 2)
    assert argmax[0, 0, 0, 1] == 1 and argmax[0, 0, 0, 0] == 0
    _, argmax = ops.max_pool_with_argmax(x, 3, 1, "same")
    assert argmax[0, 0, 0, 1] == 1 and argmax[0, 1, 1, 1] == 1


def test_nan_propagates_through_max_pool():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    x[0, 1, 0, 0] = np.nan
    y, argmax = ops.max_pool_with_argmax(x, 2, 2)
    assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 4
    assert np.isnan(ops.max_pool(x, 2, 2)[0, 0, 0, 0])
    assert not np.isnan(y[0, 1, 1, 0])


def test_strides_default_and_tuple_forms(rng):
    x = distinct_values((2, 6, 6, 3), rng)
    base = ops.max_pool(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(ops.max_pool(x, 2), base)
    np.testing.assert_array_equal(ops.max_pool(x, [2, 2], 2), base)
    np.testing.assert_array_equal(ops.average_pool(x, 2), ops.average_pool(x, (2, 2), (2, 2)))


def test_dtypes_follow_ops_rules():
    x = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    assert ops.max_pool(x, 2).dtype == np.float32
    assert ops.average_pool(x.astype(np.float16), 2).dtype == np.float32
    assert ops.average_pool(x.astype(np.float64), 2).dtype == np.float64
    assert ops.max_pool(x.tolist(), 2).dtype == np.float32
    y, argmax = ops.max_pool_with_argmax(x.astype(np.float64), 2)
    dx = ops.max_pool_backward(y.astype(np.float32), argmax.astype(np.int32), x.shape, 2)
    assert dx.dtype == np.float32


# ---------------------------------------------------------------- threads and determinism


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_threads_bit_identical_and_correct(padding, dtype, rng, threads):
    shape = (3, 20, 21, 33)                  # 41580 elements: above the OpenMP threshold
    x = distinct_values(shape, rng).astype(dtype)
    pool, strides = 3, 2
    results = []
    for n in (1, 2, 2):
        minidl.set_num_threads(n)
        y, argmax = ops.max_pool_with_argmax(x, pool, strides, padding)
        dy = np.linspace(-1, 1, y.size).reshape(y.shape).astype(dtype)
        results.append([y, argmax, ops.max_pool_backward(dy, argmax, shape, pool, strides,
                                                        padding),
                        ops.average_pool(x, pool, strides, padding),
                        ops.average_pool_backward(dy, shape, pool, strides, padding)])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()
    y, argmax, dx_max, y_avg, dx_avg = results[-1]
    want_y, want_argmax = ref.max_pool(x, (pool, pool), (strides, strides), padding)
    np.testing.assert_array_equal(argmax, want_argmax)
    np.testing.assert_array_equal(y, want_y.astype(dtype))
    np.testing.assert_allclose(y_avg, ref.average_pool(x, (pool, pool), (strides, strides),
                                                       padding), **TOL[dtype])
    dy = np.linspace(-1, 1, y.size).reshape(y.shape).astype(dtype)
    np.testing.assert_allclose(dx_max, ref.max_pool_backward(dy, x, (pool, pool),
                                                             (strides, strides), padding),
                               **TOL[dtype])
    np.testing.assert_allclose(dx_avg, ref.average_pool_backward(dy, shape, (pool, pool),
                                                                 (strides, strides), padding),
                               **TOL[dtype])


# ---------------------------------------------------------------- array layouts


def test_non_contiguous_and_read_only_inputs(dtype, rng):
    big = distinct_values((2, 9, 14, 6), rng).astype(dtype)
    x = big[:, ::2, 1::2, :]                 # non-contiguous view, shape (2, 5, 7, 6)
    assert not x.flags.c_contiguous
    xc = np.ascontiguousarray(x)
    frozen = xc.copy()
    frozen.setflags(write=False)
    for arg in (x, frozen):
        np.testing.assert_array_equal(ops.max_pool(arg, 2, 1, "same"),
                                      ops.max_pool(xc, 2, 1, "same"))
        np.testing.assert_array_equal(ops.average_pool(arg, 3, 2), ops.average_pool(xc, 3, 2))
    y, argmax = ops.max_pool_with_argmax(xc, 2, 1, "same")
    dy_big = rng.standard_normal((2, 5, 14, 6)).astype(dtype)
    dy = dy_big[:, :, ::2, :]
    assert not dy.flags.c_contiguous
    dy_ro = np.ascontiguousarray(dy)
    argmax_ro = argmax.copy()
    dy_ro.setflags(write=False)
    argmax_ro.setflags(write=False)
    want = ref.max_pool_backward(dy, xc, (2, 2), (1, 1), "same")
    for g, a in ((dy, argmax), (dy_ro, argmax_ro), (dy, np.asfortranarray(argmax))):
        np.testing.assert_allclose(ops.max_pool_backward(g, a, x.shape, 2, 1, "same"), want,
                                   **TOL[dtype])
        np.testing.assert_allclose(ops.average_pool_backward(g, x.shape, 2, 1, "same"),
                                   ref.average_pool_backward(dy, x.shape, (2, 2), (1, 1),
                                                             "same"), **TOL[dtype])
    assert np.array_equal(x, xc) and np.array_equal(dy, dy_ro)   # inputs untouched


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("op", [ops.max_pool, ops.max_pool_with_argmax, ops.average_pool])
def test_forward_bad_arguments(op):
    name = op.__name__
    x = np.zeros((2, 5, 5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=f"{name}.*'inputs'.*rank 4"):
        op(np.zeros((5, 5, 3)), 2)
    with pytest.raises(ValueError, match=f"{name}.*'inputs'.*empty"):
        op(np.zeros((0, 5, 5, 3)), 2)
    with pytest.raises(TypeError, match=f"{name}.*'inputs'"):
        op(x.astype(np.complex64), 2)
    with pytest.raises(TypeError, match=f"{name}.*'inputs'"):
        op(np.array([["a"]]), 2)
    with pytest.raises(ValueError, match=f"{name}.*'pool_size'.*larger"):
        op(x, (6, 2))
    with pytest.raises(ValueError, match=f"{name}.*'pool_size'.*larger"):
        op(x, (2, 6), 1, "valid")
    with pytest.raises(ValueError, match=f"{name}.*'pool_size'.*positive"):
        op(x, 0)
    with pytest.raises(ValueError, match=f"{name}.*'pool_size'"):
        op(x, (2, 2, 2))
    with pytest.raises(ValueError, match=f"{name}.*'pool_size'"):
        op(x, 2.5)
    with pytest.raises(ValueError, match=f"{name}.*'strides'.*positive"):
        op(x, 2, (1, -1))
    with pytest.raises(ValueError, match=f"{name}.*'strides'"):
        op(x, 2, "2")
    with pytest.raises(ValueError, match=f"{name}.*'padding'"):
        op(x, 2, 2, "full")
    with pytest.raises(ValueError, match=f"{name}.*'padding'"):
        op(x, 2, 2, None)


def test_backward_bad_arguments():
    x = np.zeros((2, 5, 5, 3))
    y, argmax = ops.max_pool_with_argmax(x, 2)      # y: (2, 2, 2, 3)
    for name, call in (
        ("max_pool_backward", lambda dy, shape, *a: ops.max_pool_backward(
            dy, argmax if dy.shape == argmax.shape else np.zeros(dy.shape, np.int64),
            shape, *a)),
        ("average_pool_backward", ops.average_pool_backward),
    ):
        with pytest.raises(ValueError, match=rf"{name}.*'dy'.*\(2, 2, 2, 3\).*\(2, 3, 3, 3\)"):
            call(np.zeros((2, 3, 3, 3)), x.shape, 2)
        with pytest.raises(ValueError, match=f"{name}.*'dy'.*rank 4"):
            call(np.zeros((2, 2, 3)), x.shape, 2)
        with pytest.raises(ValueError, match=f"{name}.*'dy'"):
            call(y, (3, 5, 5, 3), 2)               # batch differs from input_shape
        with pytest.raises(ValueError, match=f"{name}.*'dy'"):
            call(y, x.shape, 2, 1)                 # strides differ from the forward pass
        with pytest.raises(ValueError, match=f"{name}.*'input_shape'"):
            call(y, (2, 5, 5), 2)
        with pytest.raises(ValueError, match=f"{name}.*'input_shape'"):
            call(y, 5, 2)
        with pytest.raises(ValueError, match=f"{name}.*'input_shape'"):
            call(y, (2, 0, 5, 3), 2)
        with pytest.raises(ValueError, match=f"{name}.*'pool_size'.*larger"):
            call(y, (2, 1, 5, 3), 2)
        with pytest.raises(ValueError, match=f"{name}.*'padding'"):
            call(y, x.shape, 2, None, "bogus")
        with pytest.raises(TypeError, match=f"{name}.*'dy'"):
            call(y.astype(np.complex128), x.shape, 2)


def test_max_pool_backward_bad_argmax(dtype):
    name = "max_pool_backward"
    x = np.zeros((2, 5, 5, 3), dtype=dtype)
    y, argmax = ops.max_pool_with_argmax(x, 2)
    with pytest.raises(ValueError, match=f"{name}.*'argmax'.*shape"):
        ops.max_pool_backward(y, argmax[:, :1], x.shape, 2)
    with pytest.raises(TypeError, match=f"{name}.*'argmax'.*integer"):
        ops.max_pool_backward(y, argmax.astype(np.float64), x.shape, 2)
    for bad in (-1, 25, 2**40, -2**62):
        corrupt = argmax.copy()
        corrupt[1, 1, 0, 2] = bad
        with pytest.raises(ValueError, match=r"argmax.*outside \[0, 25\)"):
            ops.max_pool_backward(y, corrupt, x.shape, 2)
    huge = argmax.astype(np.uint64)
    huge[0, 0, 0, 0] = np.uint64(2**64 - 1)
    with pytest.raises(ValueError, match="argmax"):
        ops.max_pool_backward(y, huge, x.shape, 2)


def test_c_wrappers_check_shapes():
    x = np.zeros((2, 5, 5, 3))
    y = np.zeros((2, 2, 2, 3))
    with pytest.raises(ValueError, match="maxpool2d_forward.*'y'"):
        minidl._C.maxpool2d_forward(np.zeros((2, 3, 2, 3)), None, x, (2, 2), (2, 2), "valid")
    with pytest.raises(ValueError, match="maxpool2d_forward.*'argmax'"):
        minidl._C.maxpool2d_forward(y, np.zeros((1, 2, 2, 3), np.int64), x, (2, 2), (2, 2),
                                    "valid")
    with pytest.raises(ValueError, match="avgpool2d_forward"):
        minidl._C.avgpool2d_forward(y, x, (6, 2), (2, 2), "valid")
    with pytest.raises(ValueError, match="avgpool2d_backward.*'dy'"):
        minidl._C.avgpool2d_backward(x.copy(), np.zeros((2, 2, 3, 3)), (2, 2), (2, 2), "same")
    with pytest.raises(ValueError, match="maxpool2d_backward.*'padding'"):
        minidl._C.maxpool2d_backward(x.copy(), y, np.zeros(y.shape, np.int64), (2, 2), (2, 2),
                                     "full")
    with pytest.raises(ValueError, match="maxpool2d_backward"):
        minidl._C.maxpool2d_backward(x.copy(), y, np.zeros(y.shape, np.int64), (2, 2, 1),
                                     (2, 2), "valid")
    with pytest.raises((TypeError, ValueError)):   # mixed dtypes never reach C
        minidl._C.avgpool2d_forward(y.astype(np.float32), x, (2, 2), (2, 2), "valid")


@pytest.mark.parametrize("shape,pool,strides", [((2, 8, 8, 19), 2, 2), ((1, 9, 7, 16), 3, 2),
                                                ((2, 6, 6, 8), (2, 3), (3, 3))])
def test_max_pool_every_isa_agrees_with_the_portable_path_ties_and_nan(shape, pool, strides,
                                                                      isa, rng):
    # few distinct values: many ties (first in row-major order wins); a few NaNs (taken
    # over numbers); 8-channel vector slices plus a scalar tail of channels
    x = rng.integers(0, 3, shape).astype(np.float32)
    x[rng.random(shape) < 0.03] = np.nan
    y, argmax = ops.max_pool_with_argmax(x, pool, strides)
    ISA_LIB.md_force_isa(0)
    try:
        y0, argmax0 = ops.max_pool_with_argmax(x, pool, strides)
    finally:
        ISA_LIB.md_force_isa(ISA_LEVELS[isa])
    np.testing.assert_array_equal(argmax, argmax0)
    np.testing.assert_array_equal(y, y0)  # NaN positions equal too
    # windows without a NaN: the float64 reference, argmax included
    finite = np.where(np.isnan(x), -np.inf, x).astype(np.float64)
    want, want_argmax = ref.max_pool(finite, pair(pool), pair(strides), "valid")
    clean = ~np.isnan(y)
    np.testing.assert_array_equal(y[clean], want[clean])
    np.testing.assert_array_equal(argmax[clean], want_argmax[clean])


@pytest.mark.parametrize("channels", [1, 2, 3, 5, 6, 7, 12, 15, 16])
@pytest.mark.parametrize("height,width", [(28, 28), (9, 11), (2, 2), (6, 34)])
def test_average_pool_2x2_every_isa_same_bits_and_reference(channels, height, width, isa, rng):
    # the 2x2, stride-2 fast paths (AVX-512 lanes compressed / expanded for few channels,
    # the template's loop otherwise): the same bits on every level, within float32
    # rounding of the float64 mean; the backward is exactly dy / 4 in each window's cells
    # and zero in a last odd row or column
    x = rng.standard_normal((3, height, width, channels)).astype(np.float32)
    y = ops.average_pool(x, 2, 2)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = ops.average_pool_backward(dy, x.shape, 2, 2)
    ISA_LIB.md_force_isa(0)
    try:
        y0 = ops.average_pool(x, 2, 2)
        dx0 = ops.average_pool_backward(dy, x.shape, 2, 2)
    finally:
        ISA_LIB.md_force_isa(ISA_LEVELS[isa])
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(dx, dx0)
    want = ref.average_pool(x.astype(np.float64), (2, 2), (2, 2), "valid")
    np.testing.assert_allclose(y, want, rtol=0, atol=4e-7 * np.abs(x).max())
    want_dx = ref.average_pool_backward(dy.astype(np.float64), x.shape, (2, 2), (2, 2),
                                        "valid")
    np.testing.assert_array_equal(dx, want_dx.astype(np.float32))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("shape,pool,strides,padding", [((3, 28, 28, 6), 2, 2, "valid"),
                                                        ((2, 7, 9, 5), 3, 2, "same")])
def test_backward_with_the_activation_before_it(name, kind, shape, pool, strides, padding,
                                                rng):
    """y (the pooling's input) is an activation's output: dx comes out times its
    derivative, the bits of the backward then activation_backward; y may not be dx."""
    code = minidl._C.ACTIVATION_CODES[name]
    y = ops.activation(rng.normal(size=shape).astype(np.float32), name)
    out, argmax = ops.max_pool_with_argmax(y, pool, strides, padding)
    dy = rng.normal(size=out.shape).astype(np.float32)
    fused, plain = np.empty_like(y), np.empty_like(y)
    geometry = (pair(pool), pair(strides), padding)
    if kind == "avg":
        backward = minidl._C.avgpool2d_backward
        call = lambda dx, **k: backward(dx, dy, *geometry, **k)
    else:
        backward = minidl._C.maxpool2d_backward
        call = lambda dx, **k: backward(dx, dy, argmax, *geometry, **k)
    call(fused, y=y, activation=code)
    call(plain)
    np.testing.assert_array_equal(fused, ops.activation_backward(plain, y, name))
    with pytest.raises(ValueError, match="'y' must not be 'dx'"):
        call(y, y=y, activation=code)
    with pytest.raises(ValueError, match="'y' is needed"):
        call(fused, activation=code)
    with pytest.raises(ValueError, match="'activation'"):
        call(fused, y=y, activation=7)


def _scatter_then_derivative(dy, argmax, shape, y=None):
    """NumPy, in dy's dtype: dx = 0, dx[n, argmax, c] += dy (the scatter's own values, so
    0 + (-0.0) = +0.0), then times sigmoid's derivative from y."""
    n, h, w, c = shape
    dx = np.zeros((n, h * w, c), dy.dtype)
    cells = argmax.reshape(n, -1, c)
    for i in range(n):
        for ch in range(c):
            np.add.at(dx[i, :, ch], cells[i, :, ch], dy.reshape(n, -1, c)[i, :, ch])
    dx = dx.reshape(shape)
    return dx if y is None else dx * (y * (dy.dtype.type(1) - y))


@pytest.mark.parametrize("shape,pool", [((3, 8, 12, 20), 2), ((2, 9, 6, 3), 3)])
def test_max_pool_backward_of_tiling_windows_writes_the_scatters_values(shape, pool, isa,
                                                                        dtype, rng):
    # windows that tile the input take a one-pass path (each dx cell written once): the
    # scatter's values bit for bit, -0.0 gradients and NaN away from the maxima included
    y = ops.activation(rng.normal(size=shape), "sigmoid").astype(dtype)
    out, argmax = ops.max_pool_with_argmax(y, pool)
    dy = rng.normal(size=out.shape).astype(dtype)
    dy.reshape(-1)[::7] = -0.0
    not_max = np.ones(y.size, bool)
    flat = argmax.reshape(shape[0], -1, shape[3])
    for i in range(shape[0]):
        for ch in range(shape[3]):
            not_max.reshape(shape[0], -1, shape[3])[i, flat[i, :, ch], ch] = False
    y.reshape(-1)[np.flatnonzero(not_max)[::5]] = np.nan
    geometry = ((pool, pool), (pool, pool), "valid")
    dx = np.empty_like(y)
    minidl._C.maxpool2d_backward(dx, dy, argmax, *geometry)
    want = _scatter_then_derivative(dy, argmax, shape)
    np.testing.assert_array_equal(np.signbit(dx), np.signbit(want))
    np.testing.assert_array_equal(dx, want)
    minidl._C.maxpool2d_backward(dx, dy, argmax, *geometry, y=y,
                                 activation=minidl._C.ACTIVATION_CODES["sigmoid"])
    np.testing.assert_array_equal(dx, _scatter_then_derivative(dy, argmax, shape, y))


def test_max_pool_backward_scatters_an_argmax_outside_its_window(rng):
    # the one-pass path finds every argmax in its own window or falls back to the scatter
    x = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
    out, argmax = ops.max_pool_with_argmax(x, 2)
    argmax[1, 0, 1, 2] = 15  # another window's cell: its gradient adds there
    dy = rng.normal(size=out.shape).astype(np.float32)
    dx = np.empty_like(x)
    minidl._C.maxpool2d_backward(dx, dy, argmax, (2, 2), (2, 2), "valid")
    np.testing.assert_array_equal(dx, _scatter_then_derivative(dy, argmax, x.shape))
