"""minidl.memory.MemoryArena: NumPy buffers reused from step to step, never while alive."""
import contextlib
import gc
import threading

import numpy as np
import pytest

import minidl
from minidl import layers, models, optimizers
from minidl.memory import MemoryArena

BIG = 64 * 1024  # floats: above the arena's caching threshold


def test_freed_buffer_is_reused_and_live_one_is_not():
    arena = MemoryArena()
    with arena:
        a = np.empty(BIG, np.float32)
        address = a.ctypes.data
        del a
        b = np.empty(BIG, np.float32)   # the freed buffer comes back
        c = np.empty(BIG, np.float32)   # b is alive: a fresh one
    assert b.ctypes.data == address
    assert c.ctypes.data != address
    assert arena.stats()["hits"] == 1
    assert b.ctypes.data % 64 == 0 and c.ctypes.data % 64 == 0


def test_arrays_from_the_arena_behave(rng):
    with MemoryArena():
        zeros = np.zeros((300, 301))                 # calloc
        data = rng.standard_normal(BIG)
        copy = data.copy()
        grown = np.arange(10.0)
        grown.resize(BIG, refcheck=False)             # realloc to a cached size class
        small = np.ones(3, np.int8)                   # below the caching threshold
        empty = np.empty((0, 5))
    assert not zeros.any()
    np.testing.assert_array_equal(copy, data)
    np.testing.assert_array_equal(grown[:10], np.arange(10.0))
    assert not grown[10:].any()
    assert small.sum() == 3 and empty.shape == (0, 5)


def test_recycled_buffer_is_not_zeroed_by_empty_but_zeroed_by_zeros():
    with MemoryArena():
        a = np.full(BIG, 7.0, np.float32)
        del a
        z = np.zeros(BIG, np.float32)
    assert not z.any()


def test_limit_zero_keeps_nothing():
    arena = MemoryArena(limit_bytes=0)
    with arena:
        for _ in range(3):
            np.empty(BIG, np.float32)
    stats = arena.stats()
    assert stats["hits"] == 0 and stats["cached_bytes"] == 0


def test_arrays_outlive_the_arena_and_the_handler_is_restored():
    arena = MemoryArena()
    with arena:
        kept = np.full(BIG, 3.0)
    del arena
    gc.collect()
    outside = np.empty(BIG)  # the default allocator again
    assert np.all(kept == 3.0)
    del kept, outside


def test_reentrant_and_per_thread():
    arena = MemoryArena()
    errors = []

    def work():
        try:
            for _ in range(200):
                with arena:
                    with arena:
                        a = np.ones(BIG, np.float32)
                    assert a.sum() == BIG
        except Exception as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert arena.stats()["hits"] > 0


def _lenet(seed):
    minidl.utils.set_random_seed(seed)
    model = models.Sequential([
        layers.Conv2D(6, 5, activation="tanh", input_shape=(16, 16, 1)),
        layers.BatchNormalization(), layers.AveragePooling2D(2), layers.Flatten(),
        layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(), loss="categorical_crossentropy")
    return model


def test_training_through_the_arena_equals_training_without_it(rng):
    x = rng.random((32, 16, 16, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    with_arena, without = _lenet(3), _lenet(3)
    without._memory = contextlib.nullcontext()
    # through the layers: a planned step allocates its buffers once, not per step
    with_arena.use_step_plan = without.use_step_plan = False
    for _ in range(4):
        loss_a = with_arena.train_on_batch(x, y)
        loss_b = without.train_on_batch(x, y)
        assert loss_a == loss_b
    for wa, wb in zip(with_arena.get_weights(), without.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert with_arena._memory.stats()["hits"] > 0  # later steps reused buffers


def test_bad_limit():
    with pytest.raises(OverflowError):
        MemoryArena(limit_bytes=-1)
