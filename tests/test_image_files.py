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


# ---------------------------------------------------------------- flow_from_directory


def test_flow_from_directory_reads_labelled_batches(tmp_path):
    """Keras's DirectoryIterator: classes sorted, one-hot labels, the pixels of the files
    (rescaled by the generator), every file once per epoch, attributes as Keras names
    them."""
    from minidl.preprocessing.image import ImageDataGenerator
    root = _folder(tmp_path, per_class=5)
    flow = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        root, target_size=(10, 10), batch_size=4, seed=0)
    assert flow.class_indices == {"cats": 0, "dogs": 1}
    assert flow.samples == 10 and flow.num_classes == 2 and len(flow) == 3
    assert flow.image_shape == (10, 10, 3)
    assert flow.filenames[0] == "cats/0.png" and list(flow.classes) == [0] * 5 + [1] * 5
    seen = []
    for i in range(len(flow)):
        images, labels = flow[i]
        assert images.dtype == np.float32 and labels.shape == (len(images), 2)
        for image, label in zip(images, labels):
            cls = int(label.argmax())
            # the file's own pixels, scaled: cats are dark, dogs bright
            assert (image.mean() < 0.4) == (cls == 0)
            seen.append(cls)
    assert sorted(seen) == [0] * 5 + [1] * 5
    index = flow.index_array[0]
    want = PIL.open(root / flow.filenames[index]).convert("RGB")
    np.testing.assert_allclose(flow[0][0][0], np.asarray(want, np.float32) / 255, rtol=1e-6)


@pytest.mark.parametrize("class_mode", ["binary", "sparse", "input", None])
def test_flow_from_directory_class_modes(tmp_path, class_mode):
    from minidl.preprocessing.image import ImageDataGenerator
    root = _folder(tmp_path, per_class=3)
    flow = ImageDataGenerator().flow_from_directory(
        root, target_size=(6, 6), color_mode="grayscale", class_mode=class_mode,
        batch_size=6, shuffle=False)
    batch = flow[0]
    images = batch if class_mode is None else batch[0]
    assert images.shape == (6, 6, 6, 1)
    if class_mode in ("binary", "sparse"):
        np.testing.assert_array_equal(batch[1], [0, 0, 0, 1, 1, 1])
        assert batch[1].dtype == np.float32
    elif class_mode == "input":
        np.testing.assert_array_equal(batch[1], images)


def test_flow_from_directory_validation_split_is_per_class(tmp_path):
    from minidl.preprocessing.image import ImageDataGenerator
    root = _folder(tmp_path, per_class=5)
    generator = ImageDataGenerator(validation_split=0.4)
    train = generator.flow_from_directory(root, target_size=(4, 4), subset="training")
    valid = generator.flow_from_directory(root, target_size=(4, 4), subset="validation")
    assert valid.filenames == ["cats/0.png", "cats/1.png", "dogs/0.png", "dogs/1.png"]
    assert train.samples == 6 and not set(train.filenames) & set(valid.filenames)


def test_flow_from_directory_trains_a_model_and_refuses_bad_arguments(tmp_path):
    from minidl.preprocessing.image import ImageDataGenerator
    root = _folder(tmp_path, per_class=6)
    generator = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True)
    flow = generator.flow_from_directory(root, target_size=(8, 8), batch_size=4,
                                         class_mode="binary", seed=1)
    model = models.Sequential([minidl.Input((8, 8, 3)), layers.Flatten(),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(flow, epochs=6, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for kwargs, message in [({"class_mode": "other"}, "class_mode"),
                            ({"color_mode": "cmyk"}, "color_mode"),
                            ({"classes": ["cats", "birds"]}, "'classes'.*birds"),
                            ({"subset": "test"}, "subset"),
                            ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=message):
            generator.flow_from_directory(root, **kwargs)
    with pytest.raises(ValueError, match="directory"):
        generator.flow_from_directory(tmp_path / "missing")
    with pytest.raises(NotImplementedError, match="save_to_dir"):
        generator.flow_from_directory(root, save_to_dir=str(tmp_path))


def test_reading_options_are_checked_before_any_file_is_read(tmp_path):
    """A bad color_mode or interpolation raises when the loader is made, not when its
    first batch reads a file."""
    from minidl.preprocessing.image import ImageDataGenerator
    root = _folder(tmp_path, per_class=2)
    for make in (lambda **kw: utils.image_dataset_from_directory(root, **kw),
                 lambda **kw: ImageDataGenerator().flow_from_directory(root, **kw)):
        with pytest.raises(ValueError, match="interpolation"):
            make(interpolation="cubic")
        with pytest.raises(ValueError, match="color_mode"):
            make(color_mode="cmyk")
