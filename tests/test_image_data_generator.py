"""minidl.preprocessing.image.ImageDataGenerator against Keras's formulas.

The references here are written from Keras's documented geometry (no scipy, no Keras):
3x3 matrices multiplied in Keras's order, moved to the image centre, and a naive float64
bilinear sampler with scipy's fill-mode rules for ``order=1``.
"""
import pickle

import numpy as np
import pytest

from minidl import ops, random_state
from minidl.preprocessing import image as image_module
from minidl.preprocessing.image import (ImageDataGenerator, NumpyArrayIterator,
                                        transform_matrices, transform_matrix_offset_center)

# ---------------------------------------------------------------- references


def keras_matrix(h, w, theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0):
    """Keras's apply_affine_transform matrix (3x3), built with only the parts present."""
    parts = []
    if theta != 0:
        t = np.deg2rad(theta)
        parts.append(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0],
                               [0, 0, 1]]))
    if tx != 0 or ty != 0:
        parts.append(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1.0]]))
    if shear != 0:
        s = np.deg2rad(shear)
        parts.append(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        parts.append(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1.0]]))
    m = np.eye(3)
    for part in parts:
        m = np.dot(m, part)
    o_x, o_y = h / 2 - 0.5, w / 2 - 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1.0]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1.0]])
    return offset @ m @ reset


def _fold(index, size, mode):
    """Map integer indices into [0, size) by the fill mode (None: constant, outside)."""
    if mode == "nearest":
        return np.clip(index, 0, size - 1)
    if mode == "reflect":  # d c b a | a b c d | d c b a
        k = np.mod(index, 2 * size)
        return np.where(k >= size, 2 * size - 1 - k, k)
    if mode == "wrap":  # periodic (scipy grid-wrap)
        return np.mod(index, size)
    return np.clip(index, 0, size - 1)  # constant: only used where the point is inside


def reference_warp(x, m, fill_mode="nearest", cval=0.0):
    """Naive float64 bilinear sampling of one image (H, W, C) at m @ (r, c, 1).

    'constant' follows scipy's 'constant' for order=1: cval wherever the source point is
    outside [0, H-1] x [0, W-1], bilinear inside.
    """
    x = np.asarray(x, dtype=np.float64)
    h, w, _ = x.shape
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                             indexing="ij")
    src_r = m[0, 0] * rows + m[0, 1] * cols + m[0, 2]
    src_c = m[1, 0] * rows + m[1, 1] * cols + m[1, 2]
    r0, c0 = np.floor(src_r), np.floor(src_c)
    fr, fc = (src_r - r0)[..., None], (src_c - c0)[..., None]
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    ra, rb = _fold(r0, h, fill_mode), _fold(r0 + 1, h, fill_mode)
    ca, cb = _fold(c0, w, fill_mode), _fold(c0 + 1, w, fill_mode)
    out = ((1 - fr) * ((1 - fc) * x[ra, ca] + fc * x[ra, cb])
           + fr * ((1 - fc) * x[rb, ca] + fc * x[rb, cb]))
    if fill_mode == "constant":
        outside = (src_r < 0) | (src_r > h - 1) | (src_c < 0) | (src_c > w - 1)
        out[outside] = cval
    return out


def keras_transform(x, p, fill_mode="nearest", cval=0.0):
    """Keras's apply_transform (affine warp, channel shift, flips) in float64."""
    m = keras_matrix(x.shape[0], x.shape[1], p.get("theta", 0), p.get("tx", 0),
                     p.get("ty", 0), p.get("shear", 0), p.get("zx", 1), p.get("zy", 1))
    y = reference_warp(x, m, fill_mode, cval)
    if p.get("channel_shift_intensity") is not None:
        y = np.clip(y + p["channel_shift_intensity"], y.min(), y.max())
    if p.get("flip_horizontal"):
        y = y[:, ::-1]
    if p.get("flip_vertical"):
        y = y[::-1]
    return y


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# ---------------------------------------------------------------- matrices


def test_transform_matrices_match_keras_construction(rng):
    h, w = 11, 16
    for _ in range(20):
        p = dict(theta=rng.uniform(-180, 180), tx=rng.uniform(-5, 5), ty=rng.uniform(-5, 5),
                 shear=rng.uniform(-60, 60), zx=rng.uniform(0.5, 1.5), zy=rng.uniform(0.5, 1.5))
        expected = keras_matrix(h, w, **p)
        got = transform_matrices(h, w, **p)
        assert got.shape == (1, 2, 3)
        np.testing.assert_allclose(got[0], expected[:2], rtol=0, atol=1e-12)
    # only some parts present, and batched parameters
    thetas = np.array([0.0, 30.0, 0.0])
    shears = np.array([0.0, 0.0, 20.0])
    got = transform_matrices(h, w, theta=thetas, shear=shears)
    for i in range(3):
        np.testing.assert_allclose(got[i], keras_matrix(h, w, theta=thetas[i],
                                                        shear=shears[i])[:2], atol=1e-12)
    np.testing.assert_allclose(transform_matrix_offset_center(np.eye(3), h, w), np.eye(3))


def test_flips_fold_into_the_matrix(rng):
    h, w = 9, 13
    base = keras_matrix(h, w, theta=25, tx=1.5, shear=10, zx=1.2, zy=0.9)
    flip_r = np.array([[-1, 0, h - 1], [0, 1, 0], [0, 0, 1.0]])
    flip_c = np.array([[1, 0, 0], [0, -1, w - 1], [0, 0, 1.0]])
    got = transform_matrices(h, w, theta=25, tx=1.5, shear=10, zx=1.2, zy=0.9,
                             flip_horizontal=[False, True, False, True],
                             flip_vertical=[False, False, True, True])
    for i, m in enumerate([base, base @ flip_c, base @ flip_r, base @ flip_c @ flip_r]):
        np.testing.assert_allclose(got[i], m[:2], atol=1e-12)


# ---------------------------------------------------------------- warps vs reference


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
@pytest.mark.parametrize("params", [
    dict(theta=33.0), dict(tx=2.25, ty=-3.5), dict(shear=27.0), dict(zx=0.7, zy=1.3),
    dict(theta=-70.0, tx=-1.5, ty=4.0, shear=-15.0, zx=1.25, zy=0.8),
], ids=["rotation", "shift", "shear", "zoom", "all"])
def test_apply_transform_matches_reference(rng, params, fill_mode):
    x = rng.uniform(0, 255, (10, 14, 3))
    gen = ImageDataGenerator(fill_mode=fill_mode, cval=-4.0, dtype="float64")
    got = gen.apply_transform(x, params)
    assert got.dtype == np.float64 and got.shape == x.shape
    np.testing.assert_allclose(got, keras_transform(x, params, fill_mode, -4.0),
                               rtol=0, atol=1e-9)
    # float32 batches from a uint8 image
    x8 = x.astype(np.uint8)
    got32 = ImageDataGenerator(fill_mode=fill_mode, cval=-4.0).apply_transform(x8, params)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, keras_transform(x8, params, fill_mode, -4.0),
                               rtol=1e-5, atol=2e-3)


def test_random_transform_matches_reference_with_everything(rng):
    x = rng.uniform(0, 255, (12, 9, 3))
    gen = ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=2,
                             shear_range=30, zoom_range=0.3, channel_shift_range=20,
                             horizontal_flip=True, vertical_flip=True, fill_mode="reflect",
                             dtype="float64")
    flips = set()
    for seed in range(12):
        p = gen.get_random_transform(x.shape, seed=seed)
        flips.add((p["flip_horizontal"], p["flip_vertical"]))
        expected = keras_transform(x, p, "reflect")
        np.testing.assert_allclose(gen.random_transform(x, seed=seed), expected, atol=1e-9)
    assert len(flips) == 4


def test_shear_range_is_in_degrees(rng):
    # a row ramp I(r, c) = r is reproduced exactly by bilinear sampling, so the output
    # is the source row: r - sin(shear) * (c - o_c) inside the image
    h, w = 21, 21
    ramp = np.repeat(np.arange(h, dtype=np.float64)[:, None, None], w, axis=1)
    gen = ImageDataGenerator(shear_range=45, fill_mode="nearest", dtype="float64")
    p = gen.get_random_transform(ramp.shape, seed=3)
    assert -45 <= p["shear"] <= 45 and abs(p["shear"]) > 5
    out = gen.apply_transform(ramp, {"shear": p["shear"]})[..., 0]
    centre = slice(h // 2 - 3, h // 2 + 4)  # rows whose sources stay inside the image
    slope = np.diff(out[centre, 5:-5], axis=1)
    np.testing.assert_allclose(slope, -np.sin(np.deg2rad(p["shear"])), atol=1e-12)
    full = gen.apply_transform(ramp, {"shear": 45.0})[..., 0]
    np.testing.assert_allclose(np.diff(full[8:13, 8:13], axis=1), -np.sqrt(0.5), atol=1e-12)


def test_flow_warps_each_batch_in_one_call(monkeypatch, rng):
    calls = []
    real = ops.affine_warp

    def counting(images, transforms, *args, **kwargs):
        calls.append((images.shape, np.shape(transforms)))
        return real(images, transforms, *args, **kwargs)

    monkeypatch.setattr(image_module.ops, "affine_warp", counting)
    x = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    it = ImageDataGenerator(rotation_range=10, horizontal_flip=True).flow(x, batch_size=4,
                                                                         seed=0)
    for _ in range(3):
        next(it)
    assert calls == [((4, 8, 8, 3), (4, 2, 3)), ((4, 8, 8, 3), (4, 2, 3)),
                     ((2, 8, 8, 3), (2, 2, 3))]


def test_flow_batch_equals_per_image_reference(rng):
    # the batch path (one warp call) matches Keras's per-image transform of each image
    x = rng.uniform(0, 255, (6, 10, 12, 3))
    gen = ImageDataGenerator(rotation_range=30, width_shift_range=0.1, height_shift_range=0.1,
                             shear_range=20, zoom_range=0.2, horizontal_flip=True,
                             vertical_flip=True, fill_mode="constant", cval=3.0,
                             dtype="float64")
    it = gen.flow(x, batch_size=6, shuffle=False, seed=11)
    params = gen._draw_transforms(6, x.shape[1:], np.random.default_rng(it.seed))
    batch = it[0]
    for i in range(6):
        p = {k: (None if v is None else v[i]) for k, v in params.items()}
        np.testing.assert_allclose(batch[i], keras_transform(x[i], p, "constant", 3.0),
                                   atol=1e-9)


# ---------------------------------------------------------------- parameter draws


def test_zoom_draws_zx_zy_independently():
    gen = ImageDataGenerator(zoom_range=(0.5, 1.5))
    draws = np.array([[p["zx"], p["zy"]] for p in
                      (gen.get_random_transform((8, 8, 1), seed=s) for s in range(400))])
    assert draws.min() >= 0.5 and draws.max() <= 1.5
    assert np.mean(draws[:, 0] != draws[:, 1]) == 1.0
    assert abs(np.corrcoef(draws.T)[0, 1]) < 0.15
    assert draws.min() < 0.55 and draws.max() > 1.45
    assert ImageDataGenerator(zoom_range=0.2).zoom_range == pytest.approx([0.8, 1.2])
    p = ImageDataGenerator(zoom_range=[1, 1]).get_random_transform((4, 4, 1), seed=0)
    assert p["zx"] == 1 and p["zy"] == 1


def test_shift_ranges_follow_keras_forms():
    shape = (20, 50, 3)  # tx: rows (height), ty: columns (width)
    draws = [ImageDataGenerator(height_shift_range=0.1, width_shift_range=0.2)
             .get_random_transform(shape, seed=s) for s in range(300)]
    tx = np.array([p["tx"] for p in draws])
    ty = np.array([p["ty"] for p in draws])
    assert np.abs(tx).max() <= 2.0 and np.abs(tx).max() > 1.8
    assert np.abs(ty).max() <= 10.0 and np.abs(ty).max() > 9.0
    # float >= 1: pixels, uniform
    tx = [ImageDataGenerator(height_shift_range=3.0).get_random_transform(shape, seed=s)["tx"]
          for s in range(200)]
    assert max(np.abs(tx)) <= 3.0 and len(set(tx)) == 200
    # int n: integer pixels in {-(n-1), ..., n-1}
    ty = {ImageDataGenerator(width_shift_range=3).get_random_transform(shape, seed=s)["ty"]
          for s in range(200)}
    assert ty == {-2.0, -1.0, 0.0, 1.0, 2.0}
    # a list: its elements with a random sign; fractions when all < 1
    ty = {ImageDataGenerator(width_shift_range=[4, 6]).get_random_transform(shape, seed=s)["ty"]
          for s in range(200)}
    assert ty == {-6.0, -4.0, 4.0, 6.0}
    tx = {ImageDataGenerator(height_shift_range=[0.25]).get_random_transform(shape, seed=s)["tx"]
          for s in range(100)}
    assert tx == {-5.0, 5.0}


def test_get_random_transform_keys_and_ranges():
    gen = ImageDataGenerator(rotation_range=20, shear_range=10, channel_shift_range=5,
                             brightness_range=(0.5, 1.5))
    p = gen.get_random_transform((8, 8, 3), seed=1)
    assert set(p) == {"theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal",
                      "flip_vertical", "channel_shift_intensity", "brightness"}
    assert -20 <= p["theta"] <= 20 and -10 <= p["shear"] <= 10
    assert -5 <= p["channel_shift_intensity"] <= 5 and 0.5 <= p["brightness"] <= 1.5
    assert p["flip_horizontal"] is False and p["tx"] == 0 and p["zx"] == 1
    assert p == gen.get_random_transform((8, 8, 3), seed=1)
    plain = ImageDataGenerator().get_random_transform((8, 8, 3))
    assert plain["channel_shift_intensity"] is None and plain["brightness"] is None


def test_global_seed_makes_draws_repeatable():
    gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2)
    random_state.set_seed(5)
    first = [gen.get_random_transform((8, 8, 3)) for _ in range(3)]
    random_state.set_seed(5)
    assert [gen.get_random_transform((8, 8, 3)) for _ in range(3)] == first


# ---------------------------------------------------------------- flips, shifts of values


def test_flips_in_flow_without_geometry(rng):
    x = rng.uniform(0, 1, (64, 5, 6, 3)).astype(np.float32)
    for kwargs, flip in [(dict(horizontal_flip=True), lambda a: a[:, ::-1]),
                         (dict(vertical_flip=True), lambda a: a[::-1])]:
        batch = ImageDataGenerator(**kwargs).flow(x, batch_size=64, shuffle=False, seed=2)[0]
        same = [np.array_equal(batch[i], x[i]) for i in range(64)]
        flipped = [np.array_equal(batch[i], flip(x[i])) for i in range(64)]
        assert all(s != f for s, f in zip(same, flipped))
        assert 16 < sum(flipped) < 48


def test_flip_with_geometry_matches_keras_order(rng):
    x = rng.uniform(0, 255, (9, 11, 3))
    gen = ImageDataGenerator(dtype="float64")
    p = dict(theta=15.0, zx=1.1, flip_horizontal=True, flip_vertical=True)
    np.testing.assert_allclose(gen.apply_transform(x, p), keras_transform(x, p), atol=1e-9)


def test_channel_shift_and_brightness(rng):
    x = rng.uniform(10, 200, (6, 7, 3))
    gen = ImageDataGenerator(dtype="float64")
    out = gen.apply_transform(x, {"channel_shift_intensity": 30.0})
    np.testing.assert_allclose(out, np.clip(x + 30.0, x.min(), x.max()))
    out = gen.apply_transform(x, {"brightness": 1.5})
    np.testing.assert_allclose(out, np.clip(x * 1.5, 0, 255))
    signed = x - 100.0  # outside [0, 255]: scaled by its own min and max, as Keras
    out = gen.apply_transform(signed, {"brightness": 0.5})
    low, high = signed.min(), signed.max()
    np.testing.assert_allclose(out, low + np.clip((signed - low) * 0.5, 0, high - low))


def test_apply_transform_identity_and_input_untouched(rng):
    x = rng.uniform(0, 1, (5, 6, 3)).astype(np.float32)
    before = x.copy()
    out = ImageDataGenerator().apply_transform(x, {})
    np.testing.assert_array_equal(out, x)
    out[0, 0, 0] = 99.0
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------- standardize, fit


def test_standardize_order_matches_keras(rng):
    x = rng.uniform(0, 255, (6, 5, 3)).astype(np.float32)
    mean = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3)
    std = np.array([0.5, 1.0, 2.0]).reshape(1, 1, 3)
    gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True,
                             featurewise_center=True, featurewise_std_normalization=True,
                             rescale=1 / 255.0, preprocessing_function=lambda a: a ** 2 + 7)
    gen.mean, gen.std = mean.astype(np.float32), std.astype(np.float32)
    ref = x.astype(np.float64) ** 2 + 7
    ref = ref / 255.0
    ref = ref - ref.mean()
    ref = ref / (ref.std() + 1e-6)
    ref = (ref - mean) / (std + 1e-6)
    np.testing.assert_allclose(gen.standardize(x.copy()), ref, rtol=1e-4, atol=1e-5)


def test_flow_standardizes_each_image(rng):
    x = rng.uniform(0, 255, (5, 4, 6, 3))
    gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True,
                             rescale=0.5,
                             preprocessing_function=lambda a: a + 1.0)
    batch = gen.flow(x, batch_size=5, shuffle=False)[0]
    ref = (x + 1.0) * 0.5
    ref = ref - ref.mean(axis=(1, 2, 3), keepdims=True)
    ref = ref / (ref.std(axis=(1, 2, 3), keepdims=True) + 1e-6)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch, ref, rtol=1e-4, atol=1e-5)


def test_fit_featurewise_statistics(rng):
    x = rng.integers(0, 256, (1100, 4, 5, 3), dtype=np.uint8)  # > one fit chunk
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                             rescale=1 / 255.0)
    gen.fit(x)
    data = x.astype(np.float64) / 255.0
    assert gen.mean.shape == (1, 1, 3) and gen.std.shape == (1, 1, 3)
    np.testing.assert_allclose(gen.mean.ravel(), data.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(gen.std.ravel(), data.std(axis=(0, 1, 2)), rtol=1e-6)
    batch = gen.flow(x, batch_size=1100, shuffle=False)[0]
    np.testing.assert_allclose(batch, (data - gen.mean) / (gen.std + 1e-6), rtol=1e-4,
                               atol=1e-4)
    # centre only: no std
    centre = ImageDataGenerator(featurewise_center=True)
    centre.fit(x)
    assert centre.std is None
    np.testing.assert_allclose(centre.mean.ravel(), x.mean(axis=(0, 1, 2)), rtol=1e-6)


def test_fit_with_augmentation(rng):
    x = rng.uniform(0, 1, (40, 6, 6, 3))
    # flips keep every channel's mean and std: augmenting changes nothing
    flips = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                               horizontal_flip=True, vertical_flip=True, dtype="float64")
    flips.fit(x, augment=True, rounds=3, seed=1)
    np.testing.assert_allclose(flips.mean.ravel(), x.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(flips.std.ravel(), x.std(axis=(0, 1, 2)), rtol=1e-12)
    # a channel shift does: the statistics are those of the augmented rounds
    shifts = ImageDataGenerator(featurewise_center=True, channel_shift_range=0.3,
                                dtype="float64")
    shifts.fit(x, augment=True, rounds=2, seed=4)
    draws = np.random.default_rng(4)  # the only draw per round: one shift per image
    low = x.min(axis=(1, 2, 3), keepdims=True)
    high = x.max(axis=(1, 2, 3), keepdims=True)
    rounds = [np.clip(x + draws.uniform(-0.3, 0.3, 40)[:, None, None, None], low, high)
              for _ in range(2)]
    np.testing.assert_allclose(shifts.mean.ravel(),
                               np.concatenate(rounds).mean(axis=(0, 1, 2)), rtol=1e-12)


def test_keras_warnings():
    with pytest.warns(UserWarning, match="overrides setting of `featurewise_center`"):
        ImageDataGenerator(featurewise_std_normalization=True)
    with pytest.warns(UserWarning, match="overrides setting of `samplewise_center`"):
        ImageDataGenerator(samplewise_std_normalization=True)
    gen = ImageDataGenerator(featurewise_center=True)
    with pytest.warns(UserWarning, match="hasn't been fit"):
        gen.standardize(np.ones((2, 2, 1), dtype=np.float32))


# ---------------------------------------------------------------- flow iteration


def indexed_images(n, h=3, w=4, c=1):
    """Images whose pixels all equal their index: a batch shows which samples it holds."""
    return np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None],
                           (n, h, w, c)).copy()


def test_flow_batches_cover_each_epoch_once():
    n, bs = 23, 5
    x = indexed_images(n)
    y = np.arange(n) * 10
    it = ImageDataGenerator().flow(x, y, batch_size=bs, seed=3)
    assert len(it) == 5
    epochs = []
    for _ in range(3):
        seen = []
        for step in range(len(it)):
            xb, yb = next(it)
            assert xb.dtype == np.float32
            assert len(xb) == (bs if step < 4 else 3)  # the last partial batch is kept
            ids = xb[:, 0, 0, 0].astype(int)
            np.testing.assert_array_equal(yb, ids * 10)  # labels follow their images
            seen.extend(ids)
        assert sorted(seen) == list(range(n))
        epochs.append(seen)
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2]  # reshuffled every epoch


def test_flow_getitem_and_on_epoch_end():
    x = indexed_images(10)
    it = ImageDataGenerator().flow(x, batch_size=4, seed=0)
    order = [it[i][:, 0, 0, 0].astype(int) for i in range(len(it))]
    assert [len(b) for b in order] == [4, 4, 2]
    assert sorted(np.concatenate(order)) == list(range(10))
    np.testing.assert_array_equal(it[-1], it[2])
    it.on_epoch_end()
    new_order = np.concatenate([it[i][:, 0, 0, 0] for i in range(len(it))]).astype(int)
    assert not np.array_equal(new_order, np.concatenate(order))
    ordered = ImageDataGenerator().flow(x, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(
        np.concatenate([ordered[i][:, 0, 0, 0] for i in range(3)]), np.arange(10))


def test_same_seed_same_batches(rng):
    x = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    y = np.arange(20)
    gen = ImageDataGenerator(rotation_range=20, zoom_range=0.2, horizontal_flip=True)
    a, b, c = (gen.flow(x, y, batch_size=6, seed=s) for s in (9, 9, 10))
    for _ in range(7):  # across an epoch boundary
        (xa, ya), (xb, yb), (xc, _) = next(a), next(b), next(c)
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(xa, xc)
    random_state.set_seed(1)
    first = next(gen.flow(x, y, batch_size=6))[0]
    random_state.set_seed(1)
    np.testing.assert_array_equal(next(gen.flow(x, y, batch_size=6))[0], first)


def test_flow_outputs_sample_weight_and_extra_inputs():
    x = indexed_images(7)
    y = np.arange(7)
    w = np.linspace(0.1, 0.7, 7)
    gen = ImageDataGenerator()
    xb = gen.flow(x, batch_size=3, shuffle=False)[0]
    assert isinstance(xb, np.ndarray) and xb.shape == (3, 3, 4, 1)
    xb, yb, wb = gen.flow(x, y, batch_size=3, shuffle=False, sample_weight=w)[2]
    np.testing.assert_array_equal(yb, [6])
    np.testing.assert_allclose(wb, [0.7])
    extra = np.arange(7) * 2
    (images, extra_b), yb = gen.flow((x, extra), y, batch_size=3, shuffle=False)[1]
    np.testing.assert_array_equal(extra_b, [6, 8, 10])
    np.testing.assert_array_equal(images[:, 0, 0, 0], [3, 4, 5])


def test_flow_subsets():
    x = indexed_images(10)
    y = np.array([0, 1] * 5)
    gen = ImageDataGenerator(validation_split=0.3)
    val = gen.flow(x, y, batch_size=10, shuffle=False, subset="validation")
    train = gen.flow(x, y, batch_size=10, shuffle=False, subset="training")
    np.testing.assert_array_equal(val[0][0][:, 0, 0, 0], [0, 1, 2])
    np.testing.assert_array_equal(train[0][1], y[3:])
    with pytest.raises(ValueError, match="different classes"):
        gen.flow(x, np.array([0] * 3 + [1] * 7), subset="training")
    gen.flow(x, np.array([0] * 3 + [1] * 7), subset="training", ignore_class_split=True)


def test_dtype_float64_and_pickle(rng):
    x = rng.uniform(0, 1, (4, 5, 5, 1))
    gen = ImageDataGenerator(rotation_range=10, dtype="float64")
    assert next(gen.flow(x, batch_size=2, seed=0)).dtype == np.float64
    clone = pickle.loads(pickle.dumps(gen))
    np.testing.assert_array_equal(clone.random_transform(x[0], seed=1),
                                  gen.random_transform(x[0], seed=1))


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(zca_whitening=True), NotImplementedError, "zca_whitening"),
    (dict(data_format="channels_first"), ValueError, "data_format"),
    (dict(fill_mode="mirror"), ValueError, r"fill_mode.*\['nearest', 'constant'"),
    (dict(zoom_range=(0.5, 1.0, 2.0)), ValueError, "zoom_range"),
    (dict(zoom_range="big"), ValueError, "zoom_range"),
    (dict(validation_split=1.5), ValueError, "validation_split"),
    (dict(brightness_range=0.5), ValueError, "brightness_range"),
    (dict(interpolation_order=3), ValueError, "interpolation_order"),
    (dict(rotation_range=-5), ValueError, "rotation_range"),
    (dict(width_shift_range=-0.1), ValueError, "width_shift_range"),
    (dict(height_shift_range=[[1, 2]]), ValueError, "height_shift_range"),
    (dict(shear_range="x"), ValueError, "shear_range"),
    (dict(horizontal_flip="yes"), TypeError, "horizontal_flip"),
    (dict(preprocessing_function=3), TypeError, "preprocessing_function"),
    (dict(dtype="int32"), ValueError, "dtype"),
])
def test_bad_generator_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ImageDataGenerator(**kwargs)


def test_bad_flow_and_fit_arguments(rng):
    gen = ImageDataGenerator(featurewise_center=True, validation_split=0.2)
    x = rng.uniform(0, 1, (6, 4, 4, 3))
    with pytest.raises(ValueError, match=r"len\(x\) = 6, len\(y\) = 5"):
        gen.flow(x, np.arange(5))
    with pytest.raises(ValueError, match=r"len\(sample_weight\) = 4"):
        gen.flow(x, np.arange(6), sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="rank 4"):
        gen.flow(x[0])
    with pytest.raises(ValueError, match="batch_size"):
        gen.flow(x, batch_size=0)
    with pytest.raises(ValueError, match="subset"):
        gen.flow(x, subset="test")
    with pytest.raises(ValueError, match="seed"):
        gen.flow(x, seed=-1)
    with pytest.raises(NotImplementedError, match="save_to_dir"):
        gen.flow(x, save_to_dir="/tmp")
    with pytest.raises(TypeError, match="image_data_generator"):
        NumpyArrayIterator(x, None, object())
    with pytest.raises(ValueError, match="rank 4"):
        gen.fit(x[0])
    with pytest.raises(ValueError, match="rounds"):
        gen.fit(x, augment=True, rounds=0)
    with pytest.raises(ValueError, match="has length 1"):
        gen.flow(x, batch_size=6)[1]
    with pytest.raises(ValueError, match="rank 3"):
        gen.apply_transform(x, {})
    with pytest.raises(ValueError, match="img_shape"):
        gen.get_random_transform((4, 4))
    with pytest.raises(ValueError, match=r"transform_parameters\['theta'\]"):
        gen.apply_transform(x[0], {"theta": "a lot"})
    with pytest.warns(UserWarning, match="channels"):
        gen.flow(rng.uniform(0, 1, (2, 4, 4, 7)))
