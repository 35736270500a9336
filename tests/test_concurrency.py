"""Threads: concurrent predict on one model, and weights read while another thread fits.

What is shared: the weights (read-only during predict) and the compiled kernels, which
release the GIL and use per-thread scratch memory. Layer caches are per call and only
used by backward. Training steps, get/set_weights and saving hold the model's lock.
"""
import threading

import numpy as np

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
