"""Bad input through the public API: every call ends in a ValueError/TypeError (or a
MemoryError for sizes that cannot exist) whose message names the place and the argument
— never a crash, a hang or a silent wrong result."""
import numpy as np
import pytest

import minidl
from minidl import callbacks, layers, losses, models, ops, optimizers, utils
from minidl.preprocessing.image import ImageDataGenerator


def _model(last=3):
    utils.set_random_seed(0)
    model = models.Sequential([minidl.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.Flatten(),
                               layers.Dense(last, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


X = np.zeros((4, 8, 8, 3), np.float32)
Y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]

BAD_CALLS = {
    # (callable, exception types, message regex)
    "conv wrong rank": (lambda: ops.conv(np.zeros((8, 8, 3)), np.zeros((3, 3, 3, 2))),
                        ValueError, "conv: argument 'inputs' must have rank 4"),
    "layer channel mismatch": (lambda: _model().predict(np.zeros((2, 8, 8, 2)), verbose=0),
                               ValueError, r"expected shape \(None, 8, 8, 3\). Received: shape"),
    "kernel larger than input": (lambda: ops.conv(X, np.zeros((9, 9, 3, 2))),
                                 ValueError, "larger than the input"),
    "pool larger than input": (lambda: ops.max_pool(X, 9), ValueError, "max_pool"),
    "layer pool too large": (lambda: models.Sequential([minidl.Input((4, 4, 1)),
                                                        layers.MaxPooling2D(5)]),
                             ValueError, "larger than the input"),
    "zero stride": (lambda: ops.conv(X, np.zeros((3, 3, 3, 2)), strides=0), ValueError, "strides"),
    "negative pool": (lambda: ops.average_pool(X, -2), ValueError, "pool_size"),
    "zero filters": (lambda: layers.Conv2D(0, 3), ValueError, "filters"),
    "zero units": (lambda: layers.Dense(0), ValueError, "units"),
    "unknown padding": (lambda: layers.Conv2D(2, 3, padding="full"), ValueError, "padding"),
    "unknown activation": (lambda: layers.Dense(2, activation="swishy"), ValueError, "activation"),
    "unknown loss": (lambda: _model().compile(loss="hinge_of_doom"), ValueError, "hinge_of_doom"),
    "unknown optimizer": (lambda: _model().compile(optimizer="adamax_pro", loss="mse"),
                          ValueError, "adamax_pro"),
    "unknown initializer": (lambda: layers.Dense(2, kernel_initializer="orthogonal_x"),
                            ValueError, "orthogonal_x"),
    "complex input": (lambda: _model().predict(X.astype(np.complex64), verbose=0),
                      TypeError, "complex"),
    "object input": (lambda: ops.relu(np.array([1, "a"], dtype=object)), TypeError, "object"),
    "string input": (lambda: _model().fit(np.array([["a"]] * 4), Y, verbose=0), TypeError, "x"),
    "empty batch": (lambda: _model().predict(X[:0], verbose=0), ValueError, "sample|empty"),
    "empty fit": (lambda: _model().fit(X[:0], Y[:0], verbose=0), ValueError, "sample|empty"),
    "x y lengths": (lambda: _model().fit(X, Y[:3], verbose=0), ValueError, "4.*3"),
    "sparse label range": (lambda: ops.sparse_softmax_cross_entropy(np.zeros((2, 3)), [0, 3]),
                           ValueError, "3"),
    "sparse label in fit": (lambda: (lambda m: (m.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy"),
        m.fit(X, np.array([0, 1, 7, 2]), verbose=0)))(_model()), ValueError, "7"),
    "one-hot width": (lambda: _model(last=4).fit(X, Y, verbose=0), ValueError,
                      r"\(4, 3\).*\(4, 4\)|\(4, 4\).*\(4, 3\)"),
    "set_weights count": (lambda: _model().set_weights([]), ValueError, "expects a list of 4"),
    "set_weights shape": (lambda: (lambda m: m.set_weights(
        [np.zeros((2, 2))] + m.get_weights()[1:]))(_model()), ValueError, "has shape"),
    "huge layer": (lambda: models.Sequential([minidl.Input((4,)), layers.Dense(2**62)]),
                   (ValueError, MemoryError), None),
    "huge conv output": (lambda: ops.conv(np.broadcast_to(np.float32(0), (2**20, 2**12, 2**12, 1)),
                                          np.zeros((1, 1, 1, 1), np.float32)),
                         (ValueError, MemoryError), None),
    "bad batch size": (lambda: _model().fit(X, Y, batch_size=0, verbose=0), ValueError,
                       "batch_size"),
    "bad augmentation": (lambda: ImageDataGenerator(zoom_range=(0.5, 1.2, 3)), ValueError,
                         "zoom_range"),
    "flow wrong rank": (lambda: ImageDataGenerator().flow(np.zeros((4, 8, 8))), ValueError,
                        "rank|ndim|4"),
    "optimizer bad momentum": (lambda: optimizers.SGD(momentum=-0.5), ValueError, "momentum"),
    "loss shape mismatch": (lambda: losses.MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 4))),
                            ValueError, r"\(2, 3\)"),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_call_raises_clearly(name):
    call, errors, pattern = BAD_CALLS[name]
    with pytest.raises(errors, match=pattern):
        call()


def test_non_contiguous_and_read_only_inputs_are_handled_correctly():
    model = _model()
    x = np.asfortranarray(np.random.default_rng(0).random((4, 8, 8, 3)).astype(np.float32))
    x.setflags(write=False)
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  model.predict(np.ascontiguousarray(x), verbose=0))
    wide = np.random.default_rng(1).random((4, 8, 16, 3)).astype(np.float32)[:, :, ::2]
    np.testing.assert_array_equal(model.predict(wide, verbose=0),
                                  model.predict(wide.copy(), verbose=0))


def test_int_and_float64_inputs_are_cast_like_keras():
    model = _model()
    ints = np.random.default_rng(2).integers(0, 3, (4, 8, 8, 3))
    np.testing.assert_array_equal(model.predict(ints, verbose=0),
                                  model.predict(ints.astype(np.float32), verbose=0))


def test_nan_inputs_propagate_and_terminate_on_nan_stops_training():
    model = _model()
    x = X.copy()
    x[0, 0, 0, 0] = np.nan
    assert np.isnan(model.predict(x, verbose=0)[0]).all()  # documented: NaN propagates
    history = model.fit(np.repeat(x, 4, axis=0), np.repeat(Y, 4, axis=0), batch_size=4,
                        epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
