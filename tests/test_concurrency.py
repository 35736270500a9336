"""Threads: concurrent predict on one model, weights read while another thread fits,
predict/evaluate/save beside fit without changing what fit computes (bit for bit), and a
second trainer refused.

What is shared: the weights (read-only during predict) and the compiled kernels, which
release the GIL and use per-thread scratch memory. Layer caches are per thread and only
used by backward; evaluate counts its metrics on copies. Training steps, get/set_weights
and saving hold the model's lock; one thread at a time may train.
"""
import threading

import numpy as np
import pytest

import minidl
from minidl import layers, models, utils


def _model():
    utils.set_random_seed(0)
    model = models.Sequential([
        minidl.Input((12, 12, 3)), layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
        layers.Dense(5, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_concurrent_predict_matches_sequential_predict():
    model = _model()
    rng = np.random.default_rng(1)
    inputs = [rng.random((64, 12, 12, 3)).astype(np.float32) for _ in range(6)]
    expected = [model.predict(x, verbose=0) for x in inputs]
    results = [None] * len(inputs)
    errors = []

    def work(i):
        try:
            for _ in range(5):
                results[i] = model.predict(inputs[i], batch_size=16, verbose=0)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_get_weights_during_fit_is_a_consistent_snapshot():
    """Each snapshot taken while another thread trains equals the weights after some
    whole number of steps: replaying the same steps reproduces one of them exactly."""
    model = _model()
    rng = np.random.default_rng(2)
    x = rng.random((64, 12, 12, 3)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    initial = model.get_weights()
    snapshots, done = [], threading.Event()

    def reader():
        while not done.is_set():
            snapshots.append((model.optimizer.iterations, model.get_weights()))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    finally:
        done.set()
        thread.join()
    replay = _model()
    replay.set_weights(initial)
    states = {0: replay.get_weights()}
    for step in range(1, 13):
        i = (step - 1) % 4
        replay.train_on_batch(x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)])
        states[step] = replay.get_weights()
    for _, weights in snapshots:
        assert any(all(np.array_equal(a, b) for a, b in zip(weights, state))
                   for state in states.values())


def _fit_history_and_weights(model, x, y, callbacks=None):
    utils.set_random_seed(5)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks,
                        validation_data=(x[:16], y[:16]))
    return history.history, model.get_weights()


def test_predict_evaluate_and_save_beside_fit_change_nothing_it_computes(tmp_path):
    """The same fit alone and with three threads calling predict, evaluate and save in
    loops all along: the same history and the same weights, bit for bit."""
    rng = np.random.default_rng(4)
    x = rng.random((96, 12, 12, 3)).astype(np.float32)
    y = rng.integers(0, 5, 96)
    alone = _fit_history_and_weights(_model_with_accuracy(), x, y)

    model = _model_with_accuracy()
    stop, calls, errors = threading.Event(), {"predict": 0, "evaluate": 0, "save": 0}, []

    def hammer(name, call):
        try:
            while not stop.is_set():
                call()
                calls[name] += 1
        except Exception as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=hammer, args=args) for args in (
        ("predict", lambda: model.predict(x[:40], batch_size=8, verbose=0)),
        ("evaluate", lambda: model.evaluate(x[16:48], y[16:48], batch_size=8, verbose=0)),
        ("save", lambda: model.save(tmp_path / "beside.keras")))]
    for worker in workers:
        worker.start()
    try:
        beside = _fit_history_and_weights(model, x, y)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert not errors, errors
    assert min(calls.values()) > 0, calls  # each ran while fit did
    assert beside[0] == alone[0]
    for got, want in zip(beside[1], alone[1]):
        np.testing.assert_array_equal(got, want)


def _model_with_accuracy():
    model = _model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_a_second_trainer_is_refused_while_fit_runs():
    model = _model()
    rng = np.random.default_rng(6)
    x, y = rng.random((32, 12, 12, 3)).astype(np.float32), rng.integers(0, 5, 32)
    inside, release = threading.Event(), threading.Event()

    class Pause(minidl.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            inside.set()
            release.wait(10)

    trainer = threading.Thread(target=lambda: model.fit(x, y, epochs=1, batch_size=16,
                                                        verbose=0, callbacks=[Pause()]))
    trainer.start()
    try:
        assert inside.wait(10)
        before = model.get_weights()
        for attempt in (lambda: model.fit(x, y, verbose=0),
                        lambda: model.train_on_batch(x, y),
                        lambda: model.compile(optimizer="sgd", loss="mse")):
            with pytest.raises(RuntimeError, match="training in another thread"):
                attempt()
        for got, want in zip(model.get_weights(), before):
            np.testing.assert_array_equal(got, want)
        assert model.loss.name == "sparse_categorical_crossentropy"
    finally:
        release.set()
        trainer.join()
    model.train_on_batch(x, y)  # free again once fit has returned
