"""SimpleRNN, LSTM and GRU against a float64 NumPy reference written from Keras's
equations, central differences for every gradient, PyTorch's recurrent modules where
installed, and in trained and saved models."""
import numpy as np
import pytest

import minidl
from minidl import layers, ops
from tests.gradcheck import numerical_gradient


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference(layer, x):
    """Keras's recurrences in float64, step by step (the output sequence in processing
    order)."""
    w, u = layer.kernel.value.astype(np.float64), layer.recurrent_kernel.value.astype(np.float64)
    n = layer.units
    bias = layer.bias.value.astype(np.float64) if layer.use_bias else None
    h = np.zeros((x.shape[0], n))
    c = np.zeros_like(h)
    outputs = []
    steps = x[:, ::-1] if layer.go_backwards else x
    for t in range(x.shape[1]):
        xt = steps[:, t].astype(np.float64)
        if isinstance(layer, layers.LSTM):
            z = xt @ w + h @ u + (0 if bias is None else bias)
            i, f, g, o = (z[:, k * n:(k + 1) * n] for k in range(4))
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        elif isinstance(layer, layers.GRU):
            xz = xt @ w + (0 if bias is None else bias[0])
            hz = h @ u + (0 if bias is None else bias[1])
            update = _sigmoid(xz[:, :n] + hz[:, :n])
            reset = _sigmoid(xz[:, n:2 * n] + hz[:, n:2 * n])
            candidate = np.tanh(xz[:, 2 * n:] + reset * hz[:, 2 * n:])
            h = update * h + (1 - update) * candidate
        else:
            h = np.tanh(xt @ w + h @ u + (0 if bias is None else bias))
        outputs.append(h)
    return np.stack(outputs, axis=1) if layer.return_sequences else h


CASES = [(cls, options) for cls in (layers.SimpleRNN, layers.LSTM, layers.GRU)
         for options in ({}, {"return_sequences": True}, {"go_backwards": True},
                         {"return_sequences": True, "go_backwards": True, "use_bias": False})]


def _ids(case):
    cls, options = case
    return cls.__name__ + "".join(f"-{k}" for k in options)



@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_forward_matches_the_float64_reference(case):
    cls, options = case
    minidl.utils.set_random_seed(1)
    layer = cls(5, **options)
    x = np.random.default_rng(2).normal(size=(3, 7, 4)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, reference(layer, x), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_gradients_match_central_differences(case, float64):
    cls, options = case
    layer = cls(3, bias_initializer="random_normal", **options)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3))
    y = layer(x)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, numerical_gradient(lambda a: layer(a), x, dy),
                               rtol=1e-6, atol=1e-9)
    for variable in layer.trainable_weights:
        analytic, original = variable.grad.copy(), variable.value.copy()

        def at(value, variable=variable):
            variable.value[...] = value
            return layer(x)
        numeric = numerical_gradient(at, original, dy)
        variable.value[...] = original
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9,
                                   err_msg=variable.name)


def test_cell_kernels_match_their_formulas_in_both_dtypes():
    rng = np.random.default_rng(4)
    for dtype in (np.float32, np.float64):
        z, c_prev = rng.normal(size=(3, 8)).astype(dtype), rng.normal(size=(3, 2)).astype(dtype)
        gates, c, h = ops.lstm_cell(z, c_prev)
        i, f, g, o = _sigmoid(z[:, :2]), _sigmoid(z[:, 2:4]), np.tanh(z[:, 4:6]), \
            _sigmoid(z[:, 6:])
        tol = dict(rtol=3e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13)
        np.testing.assert_allclose(gates, np.hstack([i, f, g, o]), **tol)
        np.testing.assert_allclose(c, f * c_prev + i * g, **tol)
        np.testing.assert_allclose(h, o * np.tanh(f * c_prev + i * g), **tol)
        assert gates.dtype == c.dtype == h.dtype == dtype


def test_bad_input_is_refused_with_the_layer_and_argument_named():
    with pytest.raises(NotImplementedError, match="'stateful'"):
        layers.LSTM(4, stateful=True)
    with pytest.raises(NotImplementedError, match="'layer.return_state'"):
        layers.Bidirectional(layers.GRU(4, return_state=True))
    with pytest.raises(ValueError, match="'initial_state' must hold 2"):
        layers.LSTM(4)(np.ones((2, 3, 1)), initial_state=[np.zeros((2, 4))])
    with pytest.raises(NotImplementedError, match="'reset_after'"):
        layers.GRU(4, reset_after=False)
    with pytest.raises(NotImplementedError, match="'activation'"):
        layers.LSTM(4, activation="relu")
    with pytest.raises(ValueError, match="units"):
        layers.SimpleRNN(0)
    with pytest.raises(ValueError, match="rank 3"):
        layers.LSTM(4)(np.ones((2, 3)))
    with pytest.raises(ValueError, match="gate arrays"):
        ops.lstm_cell(np.ones((2, 7)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="must not share memory"):
        z = np.ones((2, 8))
        minidl._C.lstm_cell_forward(z, np.ones((2, 2)), np.ones((2, 2)), z, np.ones((2, 2)))


def test_a_sequence_model_trains_saves_and_loads(tmp_path):
    """Embedding -> LSTM -> GRU -> Dense learns whether a sequence holds more 1s than 2s
    (the order matters to nothing, the state must count), and its .keras file predicts
    the same."""
    minidl.utils.set_random_seed(0)
    rng = np.random.default_rng(5)
    x = rng.integers(1, 3, size=(512, 9))
    y = (np.sum(x == 1, axis=1) > np.sum(x == 2, axis=1)).astype(np.float32)
    model = minidl.Sequential([layers.Embedding(3, 8), layers.LSTM(16, return_sequences=True),
                               layers.GRU(8), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    path = tmp_path / "counter.keras"
    model.save(path)
    loaded = minidl.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x[:16], verbose=0),
                                  model.predict(x[:16], verbose=0))


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 6, 4))
    for cls, module in ((layers.SimpleRNN, torch.nn.RNN), (layers.LSTM, torch.nn.LSTM),
                        (layers.GRU, torch.nn.GRU)):
        minidl.utils.set_random_seed(7)
        ours = cls(5, return_sequences=True, dtype="float64")
        ours.build((None, 6, 4))
        theirs = module(4, 5, batch_first=True).double()
        n = 5
        w, u = ours.kernel.value.T, ours.recurrent_kernel.value.T
        bias_in = ours.bias.value[0] if cls is layers.GRU else ours.bias.value
        bias_rec = ours.bias.value[1] if cls is layers.GRU else np.zeros_like(bias_in)
        if cls is layers.GRU:  # PyTorch orders the gates (r, z, n), Keras (z, r, n)
            order = np.r_[n:2 * n, 0:n, 2 * n:3 * n]
            w, u, bias_in, bias_rec = w[order], u[order], bias_in[order], bias_rec[order]
        with torch.no_grad():
            for name, value in (("weight_ih_l0", w), ("weight_hh_l0", u),
                                ("bias_ih_l0", bias_in), ("bias_hh_l0", bias_rec)):
                getattr(theirs, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        expected = theirs(torch.from_numpy(x))[0].detach().numpy()
        np.testing.assert_allclose(ours(x), expected, rtol=1e-10, atol=1e-12,
                                   err_msg=cls.__name__)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("sequences", [False, True])
def test_bidirectional_matches_both_references_and_central_differences(merge_mode, sequences,
                                                                       float64):
    both = layers.Bidirectional(layers.GRU(3, return_sequences=sequences,
                                           bias_initializer="random_normal"),
                                merge_mode=merge_mode)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 4, 3))
    y = both(x)
    forward, backward = reference(both.forward_layer, x), reference(both.backward_layer, x)
    if sequences:
        backward = backward[:, ::-1]
    merged = {"concat": lambda a, b: np.concatenate([a, b], axis=-1), "sum": np.add,
              "mul": np.multiply, "ave": lambda a, b: (a + b) / 2}[merge_mode]
    np.testing.assert_allclose(y, merged(forward, backward), rtol=1e-12, atol=1e-12)
    assert len(both.weights) == 6 and y.shape == both.compute_output_shape(x.shape)
    dy = rng.normal(size=y.shape)
    dx = both.backward(dy)
    np.testing.assert_allclose(dx, numerical_gradient(lambda a: both(a), x, dy),
                               rtol=1e-6, atol=1e-9)
    kernel = both.backward_layer.kernel
    analytic, original = kernel.grad.copy(), kernel.value.copy()

    def at(value):
        kernel.value[...] = value
        return both(x)
    numeric = numerical_gradient(at, original, dy)
    kernel.value[...] = original
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_bidirectional_model_saves_and_loads(tmp_path):
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([layers.Input((6, 2)),
                               layers.Bidirectional(layers.LSTM(4)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(9).normal(size=(16, 6, 2))
    model.fit(x, x.sum(axis=(1, 2))[:, None], epochs=2, verbose=0)
    model.save(tmp_path / "both.keras")
    loaded = minidl.models.load_model(tmp_path / "both.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(TypeError, match="'layer'"):
        layers.Bidirectional(layers.Dense(3))


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_dropout_masks_are_one_per_sequence_and_differentiated(cls, float64):
    """In training, the input and state masks are drawn once per sequence; the gradients
    of that masked computation match central differences with the masks held fixed."""
    layer = cls(3, dropout=0.5, recurrent_dropout=0.4, seed=3, return_sequences=True)
    rng = np.random.default_rng(10)
    x = rng.normal(size=(4, 5, 3))
    assert np.array_equal(layer(x), layer(x, training=False))  # inference: no dropout
    y = layer(x, training=True)
    input_mask, recurrent_mask = layer._cache["masks"]
    assert input_mask.shape == (4, 3) and recurrent_mask.shape == (4, 3)
    assert set(np.unique(input_mask)) <= {0.0, 2.0}
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    saved = layer._dropout_mask  # the forward again with the same masks
    layer._dropout_mask = lambda batch, width, rate, training, dtype: \
        input_mask if width == 3 and rate == 0.5 else recurrent_mask
    try:
        np.testing.assert_allclose(layer(x, training=True), y, rtol=1e-12)
        numeric = numerical_gradient(lambda a: layer(a, training=True), x, dy)
    finally:
        layer._dropout_mask = saved
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-9)
    assert not np.array_equal(y, layer(x))
    with pytest.raises(ValueError, match="'dropout'"):
        cls(3, dropout=1.0)


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_initial_states_and_returned_states_and_their_gradients(cls, float64):
    """``initial_state`` starts the recurrence (the reference starts there too);
    ``return_state`` returns the final states; gradients reach the input and the initial
    states from the output and from the final states, against central differences."""
    layer = cls(3, return_sequences=True, return_state=True,
                bias_initializer="random_normal")
    n_states = 2 if cls is layers.LSTM else 1
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4, 3))
    initial = [rng.normal(size=(2, 3)) for _ in range(n_states)]
    outputs = layer(x, initial_state=initial)
    assert len(outputs) == 1 + n_states
    sequence, finals = outputs[0], outputs[1:]
    np.testing.assert_array_equal(finals[0], sequence[:, -1])
    grads = [rng.normal(size=o.shape) for o in outputs]

    def total(a, states):
        return sum(float(np.sum(o * g)) for o, g in zip(layer(a, initial_state=states), grads))
    layer(x, initial_state=initial)
    dx, *dstates = layer.backward(grads)
    numeric_x = numerical_gradient(lambda a: np.array(total(a, initial)), x, np.array(1.0))
    np.testing.assert_allclose(dx, numeric_x, rtol=1e-6, atol=1e-9)
    for i, d in enumerate(dstates):
        def at(value, i=i):
            states = list(initial)
            states[i] = value
            return np.array(total(x, states))
        np.testing.assert_allclose(d, numerical_gradient(at, initial[i], np.array(1.0)),
                                   rtol=1e-6, atol=1e-9)


def test_an_encoder_decoder_trains_saves_and_loads(tmp_path):
    """Keras's lstm_seq2seq shape: the encoder's final states start the decoder."""
    minidl.utils.set_random_seed(0)
    encoder_inputs = minidl.Input((None, 4))
    _, state_h, state_c = layers.LSTM(8, return_state=True)(encoder_inputs)
    decoder_inputs = minidl.Input((None, 5))
    decoder_outputs, _, _ = layers.LSTM(8, return_sequences=True, return_state=True)(
        decoder_inputs, initial_state=[state_h, state_c])
    outputs = layers.Dense(5, activation="softmax")(decoder_outputs)
    model = minidl.Model([encoder_inputs, decoder_inputs], outputs)
    model.compile(optimizer=minidl.optimizers.Adam(0.02), loss="categorical_crossentropy")
    rng = np.random.default_rng(12)
    source = rng.integers(0, 4, size=(64, 3))
    x_enc = np.eye(4)[source]
    x_dec = np.concatenate([np.zeros((64, 1, 5)), np.eye(5)[source[:, :2]]], axis=1)
    y = np.eye(5)[source]  # reproduce the source sequence
    history = model.fit([x_enc, x_dec], y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    model.save(tmp_path / "seq2seq.keras")
    loaded = minidl.models.load_model(tmp_path / "seq2seq.keras")
    np.testing.assert_array_equal(loaded.predict([x_enc[:4], x_dec[:4]], verbose=0),
                                  model.predict([x_enc[:4], x_dec[:4]], verbose=0))
