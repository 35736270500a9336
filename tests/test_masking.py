"""Keras's masking: Embedding(mask_zero=True) and Masking make a mask; the recurrent
layers skip the masked steps (checked against running each sequence without its
padding), Bidirectional and GlobalAveragePooling1D use it, gradients match central
differences, and predictions do not depend on the padding."""
import numpy as np
import pytest

import minidl
from minidl import layers
from tests.gradcheck import numerical_gradient

RECURRENT = [layers.SimpleRNN, layers.LSTM, layers.GRU]


def _mask(lengths, steps, padding):
    """True at the real steps of sequences of ``lengths`` padded to ``steps``."""
    index = np.arange(steps)[None, :]
    lengths = np.asarray(lengths)[:, None]
    return index >= steps - lengths if padding == "pre" else index < lengths


@pytest.mark.parametrize("cls", RECURRENT)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masked_steps_are_skipped(cls, padding, float64):
    layer = cls(4, return_sequences=True, bias_initializer="random_normal")
    rng = np.random.default_rng(0)
    lengths, steps = [5, 2, 0, 7], 7
    x = rng.normal(size=(4, steps, 3))
    mask = _mask(lengths, steps, padding)
    y = layer(x, mask=mask)
    last = layers.deserialize(layers.serialize(layer))  # the same weights, last output only
    last.return_sequences = False
    last.build((None, None, 3))
    last.set_weights(layer.get_weights())
    for row, length in enumerate(lengths):
        real = x[row:row + 1][:, mask[row]]
        expected = last(real) if length else np.zeros((1, 4))
        np.testing.assert_allclose(last(x[row:row + 1], mask=mask[row:row + 1]), expected,
                                   rtol=1e-12, atol=1e-14)
        for t in range(steps):  # a masked step outputs the state carried over
            previous = y[row, t - 1] if t else np.zeros(4)
            if not mask[row, t]:
                np.testing.assert_array_equal(y[row, t], previous)


@pytest.mark.parametrize("cls", RECURRENT)
def test_masked_gradients_match_central_differences(cls, float64):
    layer = cls(3, return_sequences=True, bias_initializer="random_normal")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 2))
    mask = _mask([5, 3, 1], 5, "post")
    y = layer(x, mask=mask)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, numerical_gradient(lambda a: layer(a, mask=mask), x, dy),
                               rtol=1e-6, atol=1e-9)
    kernel = layer.recurrent_kernel
    analytic, original = kernel.grad.copy(), kernel.value.copy()

    def at(value):
        kernel.value[...] = value
        return layer(x, mask=mask)
    numeric = numerical_gradient(at, original, dy)
    kernel.value[...] = original
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_bidirectional_and_average_pooling_with_a_mask(float64):
    both = layers.Bidirectional(layers.LSTM(3, return_sequences=True))
    pool = layers.GlobalAveragePooling1D()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 2))
    mask = _mask([4, 2], 4, "pre")
    y = both(x, mask=mask)
    assert np.all(y[1, :2] == 0)  # masked steps are zeros in both directions
    pooled = pool(y, mask=mask)
    np.testing.assert_allclose(pooled[1], y[1, 2:].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pooled[0], y[0].mean(axis=0), rtol=1e-12)
    dy = rng.normal(size=pooled.shape)
    dx = both.backward(pool.backward(dy))
    numeric = numerical_gradient(lambda a: pool(both(a, mask=mask), mask=mask), x, dy)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("functional", [False, True])
def test_padding_does_not_change_predictions(functional):
    minidl.utils.set_random_seed(0)
    stack = [layers.Embedding(20, 8, mask_zero=True), layers.Dropout(0.1),
             layers.Bidirectional(layers.GRU(6, return_sequences=True)), layers.LSTM(5),
             layers.Dense(1, activation="sigmoid")]
    if functional:
        inputs = minidl.Input((None,), dtype="int32")
        h = inputs
        for layer in stack:
            h = layer(h)
        model = minidl.Model(inputs, h)
    else:  # padded to any length: the time axis of the input is free
        model = minidl.Sequential([layers.Input((None,), dtype="int32")] + stack)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    sequences = [[3, 5, 7], [2, 9], [4, 4, 4, 1]]
    short = minidl.utils.pad_sequences(sequences, maxlen=4)
    long = minidl.utils.pad_sequences(sequences, maxlen=9)
    np.testing.assert_allclose(model.predict(short, verbose=0), model.predict(long, verbose=0),
                               rtol=1e-6, atol=1e-7)
    history = model.fit(long, np.array([1.0, 0.0, 1.0]), epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_allclose(model.predict(short, verbose=0), model.predict(long, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_masking_layer_and_layers_that_cannot_take_a_mask():
    x = np.array([[[0.0, 0.0], [1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]])
    masking = layers.Masking(0.0)
    np.testing.assert_array_equal(masking.compute_mask(x), [[False, True, False, True]])
    np.testing.assert_array_equal(masking(x), x)
    np.testing.assert_array_equal(masking.backward(np.ones_like(x)),
                                  [[[0, 0], [1, 1], [0, 0], [1, 1]]])
    model = minidl.Sequential([layers.Input((4, 2)), layers.Masking(),
                               layers.Conv1D(2, 2)])
    with pytest.raises(ValueError, match="does not support masking"):
        model.predict(x, verbose=0)
    assert layers.Embedding(5, 2, mask_zero=True).get_config()["mask_zero"] is True
