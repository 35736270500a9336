"""Image ops (csrc/image.c): affine_warp, flip_left_right, resize."""
import numpy as np
import pytest

import minidl
from minidl import ops

import reference as ref
from conftest import TOL

FILL_MODES = ["nearest", "constant", "reflect", "wrap"]
SCIPY_MODES = {"nearest": "nearest", "constant": "grid-constant", "reflect": "reflect",
               "wrap": "grid-wrap"}


def random_transforms(rng, n, h, w, out_h, out_w, shift_scale=0.3):
    """(n, 2, 3) maps from output to input pixel coordinates: rotation, shear and zoom
    about the centres, then a shift (a fraction shift_scale of the image size)."""
    t = np.empty((n, 2, 3))
    for i in range(n):
        theta = rng.uniform(-np.pi, np.pi)
        shear = rng.uniform(-0.5, 0.5)
        zoom = rng.uniform(0.6, 1.6, size=2)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        a = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(zoom)
        shift = rng.uniform(-shift_scale, shift_scale, size=2) * np.array([h, w])
        centre_in = np.array([(h - 1) / 2, (w - 1) / 2])
        centre_out = np.array([(out_h - 1) / 2, (out_w - 1) / 2])
        t[i, :, :2] = a
        t[i, :, 2] = centre_in + shift - a @ centre_out
    return t


def translation(dy, dx):
    return np.array([[1.0, 0.0, dy], [0.0, 1.0, dx]])


# ---------------------------------------------------------------- affine_warp: exact cases


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_identity_is_exact(rng, dtype, fill_mode):
    x = rng.standard_normal((3, 7, 9, 5)).astype(dtype)
    y = ops.affine_warp(x, translation(0, 0), fill_mode=fill_mode, fill_value=2.5)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, x)
    single = ops.affine_warp(x[1], translation(0, 0), fill_mode=fill_mode)
    assert single.shape == x[1].shape
    np.testing.assert_array_equal(single, x[1])


@pytest.mark.parametrize("shift", [(2, -3), (-4, 1), (0, 5), (6, 8), (-7, -9), (13, 0)])
def test_integer_translation_is_exact(rng, dtype, shift):
    dy, dx = shift
    n, h, w, c = 2, 7, 9, 3
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    rows = np.arange(h) + dy
    cols = np.arange(w) + dx
    # constant: the shifted image, fill_value where the source is outside
    y = ops.affine_warp(x, translation(dy, dx), fill_mode="constant", fill_value=-3.0)
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
    expected = np.full_like(x, -3.0)
    expected[:, inside] = x[:, np.clip(rows, 0, h - 1)][:, :, np.clip(cols, 0, w - 1)][:, inside]
    np.testing.assert_array_equal(y, expected)
    # wrap: np.roll
    y = ops.affine_warp(x, translation(dy, dx), fill_mode="wrap")
    np.testing.assert_array_equal(y, np.roll(x, (-dy, -dx), axis=(1, 2)))
    # nearest: clipped indices
    y = ops.affine_warp(x, translation(dy, dx), fill_mode="nearest")
    np.testing.assert_array_equal(y, x[:, np.clip(rows, 0, h - 1)][:, :, np.clip(cols, 0, w - 1)])
    # reflect: numpy 'symmetric' padding (d c b a | a b c d | d c b a)
    pad = 2 * max(h, w)
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    y = ops.affine_warp(x, translation(dy, dx), fill_mode="reflect")
    np.testing.assert_array_equal(y, padded[:, pad + dy:pad + dy + h, pad + dx:pad + dx + w])


def test_far_outside_constant_is_fill_value(dtype):
    x = np.ones((2, 5, 6, 3), dtype=dtype)
    for shift in [(-5.0, 0.0), (0.0, 6.0), (1e9, 0.0), (0.0, -1e300), (3e18, 3e18)]:
        y = ops.affine_warp(x, translation(*shift), fill_mode="constant", fill_value=0.5)
        np.testing.assert_array_equal(y, np.full_like(x, 0.5))


def test_half_pixel_shift_values():
    # one row [0, 1, 2, 3] shifted by +0.5 column: mean of the two neighbours
    x = np.arange(4, dtype=np.float64).reshape(1, 1, 4, 1)
    t = translation(0, 0.5)
    got = {m: ops.affine_warp(x, t, fill_mode=m, fill_value=10.0)[0, 0, :, 0]
           for m in FILL_MODES}
    np.testing.assert_allclose(got["nearest"], [0.5, 1.5, 2.5, 3.0])
    np.testing.assert_allclose(got["constant"], [0.5, 1.5, 2.5, 6.5])
    np.testing.assert_allclose(got["reflect"], [0.5, 1.5, 2.5, 3.0])
    np.testing.assert_allclose(got["wrap"], [0.5, 1.5, 2.5, 1.5])


# ---------------------------------------------------------------- affine_warp vs reference


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("shape,out_size", [
    ((1, 7, 9, 1), None),
    ((3, 8, 5, 3), (6, 11)),
    ((2, 6, 6, 6), None),
    ((1, 5, 7, 16), (9, 4)),
    ((2, 4, 3, 33), (5, 5)),
    ((1, 1, 6, 3), (3, 4)),
    ((2, 5, 1, 2), (4, 3)),
])
def test_affine_warp_matches_reference(rng, dtype, fill_mode, shape, out_size):
    n, h, w, c = shape
    out_h, out_w = out_size or (h, w)
    x = rng.standard_normal(shape).astype(dtype)
    t = random_transforms(rng, n, h, w, out_h, out_w)
    y = ops.affine_warp(x, t, fill_mode=fill_mode, fill_value=0.75, output_size=out_size)
    assert y.shape == (n, out_h, out_w, c) and y.dtype == dtype
    expected = ref.affine_warp(x, t, fill_mode, 0.75, out_h, out_w)
    np.testing.assert_allclose(y, expected, **TOL[dtype])


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("scale", [3.0, 1e3, 1e9, 1e17, 1e300])
def test_affine_warp_far_outside(rng, dtype, fill_mode, scale):
    n, h, w, c = 3, 5, 7, 3
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    t = random_transforms(rng, n, h, w, h, w)
    t[:, :, 2] += rng.uniform(-1, 1, size=(n, 2)) * scale * np.array([h, w])
    t[1, :, :2] *= min(scale, 1e6)  # a huge zoom too
    y = ops.affine_warp(x, t, fill_mode=fill_mode, fill_value=-1.5)
    expected = ref.affine_warp(x, t, fill_mode, -1.5, h, w)
    assert np.isfinite(y).all()
    if scale < 1e15:
        np.testing.assert_allclose(y, expected, **TOL[dtype])
    else:  # coordinates are integers there: every sample is an exact pixel or fill value
        np.testing.assert_array_equal(y, expected.astype(dtype))


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_affine_warp_matches_scipy(rng, fill_mode):
    ndimage = pytest.importorskip("scipy.ndimage")
    n, h, w, c = 2, 9, 8, 3
    out_h, out_w = 10, 7
    x = rng.standard_normal((n, h, w, c))
    t = random_transforms(rng, n, h, w, out_h, out_w, shift_scale=1.5)
    y = ops.affine_warp(x, t, fill_mode=fill_mode, fill_value=0.25, output_size=(out_h, out_w))
    r, cc = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    for i in range(n):
        ti = t[i].ravel()
        coords = np.stack([ti[0] * r + ti[1] * cc + ti[2], ti[3] * r + ti[4] * cc + ti[5]])
        for ch in range(c):
            expected = ndimage.map_coordinates(x[i, :, :, ch], coords, order=1,
                                               mode=SCIPY_MODES[fill_mode], cval=0.25,
                                               prefilter=False)
            np.testing.assert_allclose(y[i, :, :, ch], expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_affine_warp_non_finite_transforms(rng, dtype, fill_mode):
    n, h, w, c = 6, 5, 6, 2
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    t = np.tile(translation(0.25, -0.5), (n, 1, 1))
    t[0, 0, 2] = np.nan
    t[1, 1, 1] = np.inf
    t[2, 0, 0] = -np.inf
    t[3] = np.nan
    t[4, :, 2] = [np.inf, -np.inf]
    t[5, 0, 1] = 1e308  # overflows to inf inside the coordinate computation
    y = ops.affine_warp(x, t, fill_mode=fill_mode, fill_value=4.0)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, ref.affine_warp(x, t, fill_mode, 4.0, h, w), **TOL[dtype])
    if fill_mode == "constant":
        np.testing.assert_array_equal(y[0], 4.0)
        np.testing.assert_array_equal(y[3], 4.0)


def test_affine_warp_threads_and_repeats_bit_identical(rng, threads):
    n, h, w, c = 4, 48, 64, 3  # 36864 values > 32768
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    t = random_transforms(rng, n, h, w, h, w)
    for mode in FILL_MODES:
        minidl.set_num_threads(1)
        one = ops.affine_warp(x, t, fill_mode=mode, fill_value=0.5)
        minidl.set_num_threads(2)
        two = ops.affine_warp(x, t, fill_mode=mode, fill_value=0.5)
        again = ops.affine_warp(x, t, fill_mode=mode, fill_value=0.5)
        np.testing.assert_array_equal(one, two)
        np.testing.assert_array_equal(two, again)
    # the big case is right too (checked on two images against the reference)
    np.testing.assert_allclose(two[[0, 3]], ref.affine_warp(x[[0, 3]], t[[0, 3]], "wrap", 0.5,
                                                            h, w), **TOL[np.float32])


def test_affine_warp_shared_transform_and_dtypes(rng):
    x = rng.integers(0, 256, size=(3, 6, 5, 3)).astype(np.uint8)
    t = random_transforms(rng, 1, 6, 5, 6, 5)[0]
    y = ops.affine_warp(x, t, fill_mode="reflect")
    assert y.dtype == np.float32
    expected = ref.affine_warp(x, np.tile(t, (3, 1, 1)), "reflect", 0.0, 6, 5)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-4)
    assert ops.affine_warp(x.astype(np.float64), t).dtype == np.float64
    assert ops.affine_warp(x.astype(np.float16), t).dtype == np.float32
    # (1, 2, 3) transforms for one HWC image
    single = ops.affine_warp(x[0].astype(np.float64), t[None], fill_mode="reflect")
    np.testing.assert_allclose(single, expected[0], **TOL[np.float64])


def test_affine_warp_non_contiguous_read_only(rng, dtype):
    base = rng.standard_normal((2, 10, 14, 6)).astype(dtype)
    x = base[:, ::2, 1::2, ::2]  # (2, 5, 7, 3), non-contiguous
    x.setflags(write=False)
    t_base = np.zeros((2, 2, 6))
    t_base[:, :, ::2] = random_transforms(rng, 2, 5, 7, 5, 7)
    t = t_base[:, :, ::2]
    t.setflags(write=False)
    y = ops.affine_warp(x, t, fill_mode="constant", fill_value=1.0)
    np.testing.assert_allclose(y, ref.affine_warp(x, t, "constant", 1.0, 5, 7), **TOL[dtype])


# ---------------------------------------------------------------- flip_left_right


def test_flip_left_right(rng, dtype):
    x = rng.standard_normal((4, 5, 7, 3)).astype(dtype)
    np.testing.assert_array_equal(ops.flip_left_right(x), ref.flip_left_right(x))
    np.testing.assert_array_equal(ops.flip_left_right(x), x[:, :, ::-1])
    flags = np.array([True, False, False, True])
    y = ops.flip_left_right(x, flags)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, ref.flip_left_right(x, flags))
    np.testing.assert_array_equal(y[1], x[1])
    np.testing.assert_array_equal(ops.flip_left_right(x, [0, 1, 2, 0]),
                                  ref.flip_left_right(x, [0, 1, 1, 0]))
    np.testing.assert_array_equal(ops.flip_left_right(x, False), x)
    np.testing.assert_array_equal(ops.flip_left_right(x[2]), x[2, :, ::-1])
    np.testing.assert_array_equal(ops.flip_left_right(x[2], [False]), x[2])


def test_flip_left_right_threads_non_contiguous(rng, threads):
    x = rng.standard_normal((5, 33, 32, 9))[:, :, :, 1:8]  # 36960 values, non-contiguous
    x.setflags(write=False)
    flags = rng.random(5) < 0.5
    minidl.set_num_threads(1)
    one = ops.flip_left_right(x, flags)
    minidl.set_num_threads(2)
    two = ops.flip_left_right(x, flags)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(two, ref.flip_left_right(x, flags))


def test_flip_horizontal_rejects_aliasing():
    x = np.zeros((1, 2, 3, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="flip_horizontal"):
        minidl._C.flip_horizontal(x, x)
    with pytest.raises(ValueError, match="flags"):
        minidl._C.flip_horizontal(np.zeros_like(x), x, np.ones(2, dtype=np.uint8))


# ---------------------------------------------------------------- resize


@pytest.mark.parametrize("shape,size", [
    ((1, 4, 6, 1), (8, 12)),     # up x2
    ((2, 9, 7, 3), (13, 10)),    # up, odd
    ((3, 12, 10, 6), (5, 3)),    # down, odd
    ((1, 7, 7, 16), (7, 7)),     # same size
    ((2, 5, 8, 33), (11, 3)),    # up one axis, down the other
    ((1, 1, 1, 3), (4, 5)),      # single pixel
    ((2, 6, 5, 2), (1, 1)),      # down to one pixel
])
def test_resize_matches_reference(rng, dtype, shape, size):
    x = rng.standard_normal(shape).astype(dtype)
    y = ops.resize(x, size)
    assert y.shape == (shape[0],) + size + (shape[3],) and y.dtype == dtype
    np.testing.assert_allclose(y, ref.resize_bilinear(x, *size), **TOL[dtype])
    np.testing.assert_allclose(ops.resize(x[0], size), ref.resize_bilinear(x[:1], *size)[0],
                               **TOL[dtype])


def test_resize_known_values_and_identity(rng):
    x = np.array([0.0, 1.0]).reshape(1, 1, 2, 1)
    np.testing.assert_allclose(ops.resize(x, (1, 4))[0, 0, :, 0], [0.0, 0.25, 0.75, 1.0])
    x = np.array([0.0, 1.0, 2.0, 3.0]).reshape(1, 4, 1, 1)
    np.testing.assert_allclose(ops.resize(x, (2, 1))[0, :, 0, 0], [0.5, 2.5])
    img = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(ops.resize(img, (5, 6)), img)
    u8 = rng.integers(0, 256, size=(1, 3, 4, 3)).astype(np.uint8)
    y = ops.resize(u8, (6, 8))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref.resize_bilinear(u8, 6, 8), rtol=1e-6, atol=1e-4)


def test_resize_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 28, 28, 3)).astype(np.float32)
    y = ops.resize(x, (32, 32))
    nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    expected = torch.nn.functional.interpolate(nchw, size=(32, 32), mode="bilinear",
                                               align_corners=False).numpy()
    np.testing.assert_allclose(y, expected.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_resize_threads_non_contiguous(rng, threads):
    x = rng.standard_normal((3, 28, 30, 8))[:, :, ::-1, 1:4]  # non-contiguous
    x.setflags(write=False)
    minidl.set_num_threads(1)
    one = ops.resize(x, (64, 60))  # 34560 values
    minidl.set_num_threads(2)
    two = ops.resize(x, (64, 60))
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(two, ops.resize(x, (64, 60)))
    np.testing.assert_allclose(two, ref.resize_bilinear(x, 64, 60), **TOL[np.float64])


# ---------------------------------------------------------------- bad arguments


def test_affine_warp_bad_arguments():
    x = np.zeros((2, 4, 5, 3), dtype=np.float32)
    t = translation(0, 0)
    with pytest.raises(ValueError, match="affine_warp.*'images'.*rank 3 or 4"):
        ops.affine_warp(x[0, 0], t)
    with pytest.raises(ValueError, match="affine_warp.*'images'.*empty"):
        ops.affine_warp(x[:0], t)
    with pytest.raises(TypeError, match="affine_warp.*'images'"):
        ops.affine_warp(x.astype(np.complex64), t)
    with pytest.raises(TypeError, match="affine_warp.*'images'"):
        ops.affine_warp("image", t)
    with pytest.raises(ValueError, match=r"affine_warp.*'transforms'.*\(2, 3\) or \(2, 2, 3\)"):
        ops.affine_warp(x, np.eye(3))
    with pytest.raises(ValueError, match="affine_warp.*'transforms'"):
        ops.affine_warp(x, np.zeros((3, 2, 3)))
    with pytest.raises(TypeError, match="affine_warp.*'transforms'"):
        ops.affine_warp(x, np.zeros((2, 3), dtype=complex))
    with pytest.raises(ValueError, match="affine_warp.*'fill_mode'.*'nearest', 'constant'"):
        ops.affine_warp(x, t, fill_mode="mirror")
    with pytest.raises(ValueError, match="affine_warp.*'fill_mode'"):
        ops.affine_warp(x, t, fill_mode=None)
    with pytest.raises(TypeError, match="affine_warp.*'fill_value'"):
        ops.affine_warp(x, t, fill_value="zero")
    for size in [(0, 3), (3,), (2.0, 3), "ab", 5]:
        with pytest.raises(ValueError, match="affine_warp.*'output_size'"):
            ops.affine_warp(x, t, output_size=size)
    with pytest.raises(ValueError, match="affine_warp"):
        minidl._C.affine_warp(np.zeros((2, 4, 5, 2), np.float32), x,
                              np.zeros((2, 6)), "nearest", 0.0)
    with pytest.raises(ValueError, match="affine_warp.*'fill_mode'"):
        minidl._C.affine_warp(np.zeros_like(x), x, np.zeros((2, 6)), "mirror", 0.0)


def test_flip_and_resize_bad_arguments():
    x = np.zeros((2, 4, 5, 3))
    with pytest.raises(ValueError, match="flip_left_right.*'images'"):
        ops.flip_left_right(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"flip_left_right.*'flags'.*\(2,\)"):
        ops.flip_left_right(x, [True, False, True])
    with pytest.raises(TypeError, match="flip_left_right.*'flags'"):
        ops.flip_left_right(x, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="resize.*'interpolation'.*only supported"):
        ops.resize(x, (3, 3), interpolation="nearest")
    with pytest.raises(ValueError, match="resize.*'images'"):
        ops.resize(np.zeros((1, 2, 3, 4, 5)), (3, 3))
    with pytest.raises(ValueError, match="resize.*'images'.*empty"):
        ops.resize(np.zeros((1, 0, 3, 4)), (3, 3))
    for size in [(0, 3), (3, 3, 3), -1, 4, (3, None)]:
        with pytest.raises(ValueError, match="resize.*'size'"):
            ops.resize(x, size)
