"""Image files (minidl.utils.load_img & co., image_dataset_from_directory) against the
pixels written with Pillow, and training from a folder of class sub-folders."""
import numpy as np
import pytest

PIL = pytest.importorskip("PIL.Image")

import minidl  # noqa: E402
from minidl import layers, models, utils  # noqa: E402


def _write(path, pixels):
    PIL.fromarray(pixels).save(path)


def test_load_img_and_back(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    _write(tmp_path / "a.png", pixels)
    array = utils.img_to_array(utils.load_img(tmp_path / "a.png"))
    assert array.dtype == np.float32 and array.shape == (6, 8, 3)
    np.testing.assert_array_equal(array, pixels)
    gray = utils.img_to_array(utils.load_img(tmp_path / "a.png", color_mode="grayscale"))
    assert gray.shape == (6, 8, 1)
    small = utils.load_img(tmp_path / "a.png", target_size=(3, 4))
    assert small.size == (4, 3)
    # nearest resizing by 2 keeps one pixel of each 2x2 block
    assert set(map(tuple, utils.img_to_array(small).reshape(-1, 3))) <= \
        set(map(tuple, pixels.reshape(-1, 3).astype(np.float32)))
    utils.save_img(tmp_path / "b.png", array, scale=False)
    np.testing.assert_array_equal(utils.img_to_array(utils.load_img(tmp_path / "b.png")),
                                  pixels)
    assert not list(tmp_path.glob("*.partial"))
    assert minidl.preprocessing.image.load_img is utils.load_img  # Keras 2's path


def _folder(tmp_path, per_class=5):
    rng = np.random.default_rng(1)
    for name, value in (("cats", 40), ("dogs", 200)):
        (tmp_path / name).mkdir()
        for i in range(per_class):
            pixels = np.clip(rng.normal(value, 10, (10, 10, 3)), 0, 255).astype(np.uint8)
            _write(tmp_path / name / f"{i}.png", pixels)
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    return tmp_path


def test_a_folder_of_classes_becomes_labelled_batches(tmp_path):
    root = _folder(tmp_path)
    data = utils.image_dataset_from_directory(root, image_size=(8, 8), batch_size=4, seed=3)
    assert data.class_names == ["cats", "dogs"] and len(data) == 3
    batches = list(data)
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert images.shape == (10, 8, 8, 3) and sorted(labels.tolist()) == [0] * 5 + [1] * 5
    # the label follows the folder: dark images are cats
    assert np.all((images.mean(axis=(1, 2, 3)) < 120) == (labels == 0))
    train, val = utils.image_dataset_from_directory(
        root, image_size=(8, 8), batch_size=4, seed=3, validation_split=0.2, subset="both",
        label_mode="categorical")
    assert len(train.file_paths) == 8 and len(val.file_paths) == 2
    assert not set(train.file_paths) & set(val.file_paths)
    assert train[0][1].shape == (4, 2)


def test_fit_takes_the_dataset(tmp_path):
    root = _folder(tmp_path, per_class=8)
    train = utils.image_dataset_from_directory(root, image_size=(8, 8), batch_size=4,
                                               seed=1).cache().prefetch(2)
    model = models.Sequential([minidl.Input((8, 8, 3)), layers.Rescaling(1 / 255),
                               layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.predict(train, verbose=0).shape == (16, 2)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        utils.image_dataset_from_directory(tmp_path / "missing")
    with pytest.raises(ValueError, match="no image files"):
        utils.image_dataset_from_directory(tmp_path)
    with pytest.raises(ValueError, match="color_mode"):
        utils.load_img(tmp_path / "x.png", color_mode="cmyk")
