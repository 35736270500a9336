"""The random augmentation layers against NumPy references of Keras's transforms."""
import numpy as np
import pytest

import minidl
from minidl import layers, models


def _images(n=3, h=5, w=5, c=2):
    return np.random.default_rng(0).random((n, h, w, c)).astype(np.float32)


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_random_flip_flips_each_image_by_its_own_coin(mode):
    x = _images(8)
    got = layers.RandomFlip(mode, seed=3)(x, training=True)
    rng = np.random.default_rng(3)  # the layer's draws, in its order
    horizontal = rng.random(8) < 0.5 if mode != "vertical" else np.zeros(8, bool)
    vertical = rng.random(8) < 0.5 if mode != "horizontal" else np.zeros(8, bool)
    want = x.copy()
    want[horizontal] = want[horizontal][:, :, ::-1]
    want[vertical] = want[vertical][:, ::-1]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(layers.RandomFlip(mode)(x), x)  # inference: identity


def test_random_flip_passes_gradients_back_flipped():
    layer = layers.RandomFlip("horizontal_and_vertical", seed=5)
    x = _images(6)
    layer(x, training=True)
    dy = np.random.default_rng(1).random(x.shape).astype(np.float32)
    # the flip is its own transpose: <flip(x), dy> = <x, backward(dy)>
    lhs = np.sum(layer._flip(x, layer._cache["horizontal"], layer._cache["vertical"]) * dy)
    assert lhs == pytest.approx(np.sum(x * layer.backward(dy)), rel=1e-6)


def test_a_quarter_turn_is_numpys_rot90():
    x = _images(2, 6, 6, 1)
    got = layers.RandomRotation((0.25, 0.25))(x, training=True)
    np.testing.assert_allclose(got, np.rot90(x, 1, axes=(1, 2)), atol=1e-5)


def test_zoom_and_translation_follow_keras_directions():
    x = _images(2, 8, 8, 1)
    np.testing.assert_allclose(layers.RandomZoom((0.0, 0.0))(x, training=True), x, atol=1e-6)
    # zooming out by 2 samples the input at twice the offset from the centre
    zoomed = layers.RandomZoom((1.0, 1.0), fill_mode="constant")(x, training=True)
    np.testing.assert_allclose(zoomed[:, 3:5, 3:5], _bilinear_zoom(x, 2.0)[:, 3:5, 3:5],
                               atol=1e-5)
    shifted = layers.RandomTranslation((0.25, 0.25), (0.0, 0.0))(x, training=True)
    np.testing.assert_allclose(shifted[:, 2:], x[:, :-2], atol=1e-6)  # 2 rows down


def _bilinear_zoom(x, zoom):
    """float64 reference: each output pixel samples the input at zoom x its offset from
    the centre (bilinear, inside the image only)."""
    n, h, w, c = x.shape
    out = np.zeros_like(x, dtype=np.float64)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    for r in range(h):
        for q in range(w):
            sr, sc = (r - cy) * zoom + cy, (q - cx) * zoom + cx
            r0, c0 = int(np.floor(sr)), int(np.floor(sc))
            if 0 <= r0 < h - 1 and 0 <= c0 < w - 1:
                fr, fc = sr - r0, sc - c0
                out[:, r, q] = ((1 - fr) * (1 - fc) * x[:, r0, c0] + (1 - fr) * fc * x[:, r0, c0 + 1]
                                + fr * (1 - fc) * x[:, r0 + 1, c0] + fr * fc * x[:, r0 + 1, c0 + 1])
    return out


def test_augmentation_first_in_a_model_trains_and_predicts_deterministically():
    rng = np.random.default_rng(2)
    x, y = rng.random((16, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 16)
    model = models.Sequential([minidl.Input((8, 8, 1)), layers.RandomFlip("horizontal"),
                               layers.RandomRotation(0.1), layers.RandomZoom(0.1),
                               layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    clone = models.Sequential.from_config(model.get_config())
    assert clone.layers[1].get_config()["factor"] == 0.1


def test_a_random_warp_inside_a_model_names_what_is_missing():
    rng = np.random.default_rng(3)
    x, y = rng.random((4, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 4)
    model = models.Sequential([minidl.Input((8, 8, 1)), layers.Conv2D(2, 3),
                               layers.RandomRotation(0.1), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match="put the layer first"):
        model.train_on_batch(x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="factor"):
        layers.RandomRotation((0.3, 0.1))
    with pytest.raises(ValueError, match="fill_mode"):
        layers.RandomZoom(0.1, fill_mode="mirror")
    with pytest.raises(NotImplementedError, match="interpolation"):
        layers.RandomZoom(0.1, interpolation="nearest")
