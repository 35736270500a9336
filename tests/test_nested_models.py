"""A Sequential model as a layer of another (Keras's nested models): training, weights
shared with the inner model, summary, config and saving round trips."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, utils


def _models():
    utils.set_random_seed(0)
    augmentation = models.Sequential([layers.RandomFlip("horizontal"),
                                      layers.RandomRotation(0.05)], name="augmentation")
    head = models.Sequential([layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")], name="head")
    outer = models.Sequential([minidl.Input((8, 8, 1)), augmentation,
                               layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                               head])
    return outer, head


def _flat():
    """The same network without nesting."""
    return models.Sequential([minidl.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                              layers.Flatten(), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")])


def test_a_nested_model_trains_with_shared_weights():
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 16)
    outer, head = _models()
    assert [type(layer).__name__ for layer in outer.layers] == \
        ["Sequential", "Conv2D", "Flatten", "Sequential"]
    assert outer.layers[-1] is head and outer.get_layer("head") is head
    assert len(outer.weights) == 6 and outer.count_params() == \
        sum(w.size for w in outer.get_weights())
    before = head.get_weights()
    outer.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    outer.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, head.get_weights()))
    # the inner model is the trained one: it predicts from the outer model's features
    features = outer.layers[2](outer.layers[1](x))
    np.testing.assert_allclose(head.predict(features, verbose=0), outer.predict(x, verbose=0),
                               rtol=1e-6)


def test_a_nested_model_computes_what_the_flat_one_does():
    rng = np.random.default_rng(2)
    x, y = rng.random((16, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, 16)
    nested, _ = _models()
    flat = _flat()
    for model in (nested, flat):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    flat.set_weights(nested.get_weights())  # the same weights, in the same order
    # in inference the augmentation is the identity
    np.testing.assert_allclose(nested.predict(x, verbose=0), flat.predict(x, verbose=0),
                               rtol=1e-6)
    assert nested.evaluate(x, y, verbose=0) == pytest.approx(flat.evaluate(x, y, verbose=0),
                                                             rel=1e-6)


def test_summary_config_and_saving(tmp_path):
    outer, head = _models()
    lines = []
    outer.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "head (Sequential)" in text and "augmentation (Sequential)" in text
    total = sum(w.size for w in outer.get_weights())
    assert f"Total params: {total:,}" in text
    clone = models.Sequential.from_config(outer.get_config())
    assert [type(layer).__name__ for layer in clone.layers] == \
        ["Sequential", "Conv2D", "Flatten", "Sequential"]
    outer.save(tmp_path / "nested.keras")
    loaded = models.load_model(tmp_path / "nested.keras")
    x = np.random.default_rng(3).random((4, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), outer.predict(x, verbose=0))


def test_only_sequential_models_nest():
    inputs = minidl.Input((4,))
    functional = models.Model(inputs, layers.Dense(2)(inputs))
    with pytest.raises(TypeError, match="only a Sequential model"):
        models.Sequential([minidl.Input((4,)), functional])
