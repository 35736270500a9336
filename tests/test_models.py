"""Sequential: building, summary, compile/fit/evaluate/predict, saving, resuming."""
import os
import signal
import warnings

import numpy as np
import pytest

import minidl
from minidl import callbacks, layers, models, optimizers, utils


def cifar_blog_model(batch_norm=False):
    """The Keras-blog CIFAR-10 CNN (sigmoid), optionally with BN after each conv."""
    def conv_block(filters, first=False):
        kwargs = {"input_shape": (32, 32, 3)} if first else {"kernel_initializer": "he_uniform"}
        block = [layers.Conv2D(filters, (3, 3), padding="same", **kwargs)]
        if batch_norm:
            block.append(layers.BatchNormalization())
        block.append(layers.Activation("sigmoid"))
        return block

    stack = conv_block(32, first=True) + conv_block(32) + [layers.MaxPooling2D()] + \
        conv_block(64) + conv_block(64) + [layers.MaxPooling2D(), layers.Flatten(),
                                          layers.Dense(128, activation="sigmoid"),
                                          layers.Dense(10, activation="softmax")]
    return models.Sequential(stack)


def lenet5():
    """LeNet-5 on 32x32 grey images."""
    return models.Sequential([
        minidl.Input((32, 32, 1)),
        layers.Conv2D(6, 5, activation="tanh"), layers.AveragePooling2D(2),
        layers.Conv2D(16, 5, activation="tanh"), layers.AveragePooling2D(2),
        layers.Flatten(), layers.Dense(120, activation="tanh"),
        layers.Dense(84, activation="tanh"), layers.Dense(10, activation="softmax")])


def _summary_text(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def test_summary_param_counts_of_the_seed_models():
    text = _summary_text(cifar_blog_model())
    assert "Total params: 591,274" in text and "Non-trainable params: 0" in text
    text = _summary_text(cifar_blog_model(batch_norm=True))
    assert "Total params: 592,042" in text
    assert "Trainable params: 591,658" in text and "Non-trainable params: 384" in text
    text = _summary_text(lenet5())
    assert "Total params: 61,706" in text
    assert "conv2d" in text and "(Conv2D)" in text and "(None, 28, 28, 6)" in text


def test_batchnorm_parameters_article_summary():
    model = models.Sequential([minidl.Input((320, 320, 3)), layers.BatchNormalization()])
    text = _summary_text(model)
    assert "Trainable params: 6 " in text and "Non-trainable params: 6 " in text
    model.layers[0].trainable = False
    text = _summary_text(model)
    assert "Trainable params: 0 " in text and "Non-trainable params: 12 " in text


def blobs(seed, n=400, classes=3, features=6):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.5, (classes, features))
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.normal(size=(n, features))
    return x.astype(np.float32), y


def small_model(seed=0):
    utils.set_random_seed(seed)
    model = models.Sequential([minidl.Input((6,)), layers.Dense(16, activation="relu"),
                               layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    return model


def test_model_learns_a_separable_problem():
    x, y = blobs(0)
    model = small_model()
    history = model.fit(x, y, batch_size=32, epochs=15, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert len(history.history["loss"]) == 15
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.95
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    assert np.mean(predicted == y) == pytest.approx(acc)


def test_same_seed_gives_the_same_history():
    x, y = blobs(1)
    runs = []
    for _ in range(2):
        model = small_model(seed=5)
        runs.append(model.fit(x, y, epochs=3, verbose=0).history)
    assert runs[0] == runs[1]


def test_metric_names_follow_the_spelling():
    x, y = blobs(2, n=64)
    model = small_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_train_on_batch_with_unit_learning_rate_moves_weights_by_the_gradient():
    """One SGD(1.0) step moves every weight by minus the finite-difference gradient of
    the mean cross-entropy computed independently in NumPy."""
    minidl.backend.set_floatx("float64")
    try:
        utils.set_random_seed(3)
        model = models.Sequential([
            minidl.Input((5,)), layers.Dense(4, activation="tanh"),
            layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
        model.compile(optimizer=optimizers.SGD(learning_rate=1.0),
                      loss="categorical_crossentropy")
    finally:
        minidl.backend.set_floatx("float32")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 5))
    t = np.eye(3)[rng.integers(0, 3, 8)]
    variables = model.trainable_weights

    def loss_of_weights():
        p = model(x, training=True)
        return -np.mean(np.sum(t * np.log(p), axis=1))

    numeric = []
    for variable in variables:
        grad = np.zeros(variable.shape)
        flat, flat_grad = variable.value.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + 1e-6
            plus = loss_of_weights()
            flat[i] = saved - 1e-6
            minus = loss_of_weights()
            flat[i] = saved
            flat_grad[i] = (plus - minus) / 2e-6
        numeric.append(grad)
    before = [v.numpy() for v in variables]
    moving_before = model.layers[1].moving_mean.numpy()
    model.train_on_batch(x, t)
    for b, v, g in zip(before, variables, numeric):
        np.testing.assert_allclose(v.value - b, -g, rtol=1e-6, atol=1e-8)
    batch_mean = np.tanh(x @ before[0] + before[1]).mean(axis=0)
    np.testing.assert_allclose(model.layers[1].moving_mean.value,
                               moving_before * 0.99 + batch_mean * 0.01, rtol=1e-10)


def test_save_load_predict_is_bit_identical_and_training_resumes(tmp_path):
    x, y = blobs(6, n=96)
    model = small_model(seed=2)
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = models.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.optimizer.iterations == model.optimizer.iterations
    utils.set_random_seed(11)
    model.fit(x, y, epochs=2, verbose=0)
    utils.set_random_seed(11)
    restored.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_round_trip_and_shape_checks(tmp_path):
    model = small_model()
    other = small_model(seed=9)
    model.save_weights(tmp_path / "w.weights.npz")
    other.load_weights(tmp_path / "w.weights.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="set_weights expects a list of 8 arrays. Received: 7"):
        model.set_weights(model.get_weights()[:-1])
    weights = model.get_weights()
    weights[0] = np.zeros((7, 16))
    with pytest.raises(ValueError, match=r"has shape \(6, 16\). Received: an array of shape \(7, 16\)"):
        model.set_weights(weights)
    with pytest.raises(ValueError, match=r"must end in \.keras or \.h5 or \.hdf5"):
        model.save(tmp_path / "model.npz")


def test_fit_accepts_a_generator_and_fit_generator_warns():
    x, y = blobs(7, n=128)

    def batches():
        while True:
            for i in range(0, 128, 32):
                yield x[i:i + 32], y[i:i + 32]

    model = small_model()
    history = model.fit(batches(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit_generator(batches(), steps_per_epoch=4, epochs=1, verbose=0)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_ctrl_c_returns_the_history_so_far():
    x, y = blobs(8, n=256)
    model = small_model()
    interrupt = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: os.kill(os.getpid(), signal.SIGINT)
        if batch == 2 else None)
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[interrupt])
    assert len(history.history["loss"]) == 1
    assert model.predict(x[:4], verbose=0).shape == (4, 3)  # still usable


def test_progress_output(capsys):
    x, y = blobs(9, n=64)
    model = small_model()
    model.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert out.count("loss:") >= 2 and "acc:" in out


def test_bad_model_usage():
    model = models.Sequential([layers.Dense(3)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="not built yet"):
        model.count_params()
    model = small_model()
    with pytest.raises(ValueError, match="same number of samples.*10.*9"):
        model.fit(np.zeros((10, 6)), np.zeros(9), verbose=0)
    with pytest.raises(ValueError, match="non-empty|at least one sample"):
        model.predict(np.zeros((0, 6)), verbose=0)
    with pytest.raises(ValueError, match="unique names"):
        models.Sequential([layers.Dense(2, name="a"), layers.Dense(2, name="a")])
    with pytest.raises(ValueError, match=r"expected shape \(None, 6\). Received: shape \(2, 5\)"):
        model.predict(np.zeros((2, 5)), verbose=0)


def test_fit_on_image_data_generator_flow():
    rng = np.random.default_rng(12)
    x = rng.random((40, 8, 8, 3)).astype(np.float32)
    y = utils.to_categorical(rng.integers(0, 2, 40), 2)
    utils.set_random_seed(1)
    model = models.Sequential([
        minidl.Input((8, 8, 3)), layers.Conv2D(4, 3, padding="same"),
        layers.BatchNormalization(), layers.Activation("sigmoid"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    datagen = minidl.preprocessing.image.ImageDataGenerator(
        shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    flow = datagen.flow(x, y, batch_size=8, seed=3)
    history = model.fit(flow, steps_per_epoch=3, epochs=2, verbose=0, validation_data=(x, y))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.optimizer.iterations == 6


def test_architecture_api_json_clone_and_shapes(capsys):
    """Keras's model_from_json, clone_model, input/output_shape and an unbuilt summary."""
    unbuilt = models.Sequential([layers.Dense(3), layers.Dense(2)])
    unbuilt.summary()
    assert "0 (unbuilt)" in capsys.readouterr().out
    with pytest.raises(AttributeError, match="input shape"):
        unbuilt.input_shape
    model = models.Sequential([minidl.Input((4,)), layers.Dense(3, activation="tanh"),
                               layers.Dense(2)])
    assert model.input_shape == (None, 4) and model.output_shape == (None, 2)
    text = model.to_json(indent=1)
    twin = models.model_from_json(text)
    assert [type(l).__name__ for l in twin.layers] == ["Dense", "Dense"] and twin.built
    assert not all(np.array_equal(a, b) for a, b in zip(twin.get_weights(),
                                                         model.get_weights()))
    twin.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    clone = models.clone_model(model)
    assert clone is not model and clone.to_json() == model.to_json()
    with pytest.raises(ValueError, match="model_from_json"):
        models.model_from_json('{"class_name": "Nope", "config": {}}')
