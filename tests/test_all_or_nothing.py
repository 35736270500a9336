"""All or nothing: set_weights (model and layer), load_weights, load_model and the
restore of an optimizer's state check everything (count, shapes, dtypes, values that
fit) before they change anything. A fault at any position -- the first, a middle or the
last array -- raises and leaves the model and the optimizer bit-identical."""
import io

import numpy as np
import pytest

import minidl
from minidl import layers, models, optimizers, utils
from minidl.saving import CorruptFileError


def _model():
    utils.set_random_seed(3)
    model = models.Sequential([minidl.Input((5,)), layers.Dense(4),
                               layers.BatchNormalization(), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.default_rng(1).random((16, 5)), np.zeros((16, 2)), epochs=1,
              batch_size=8, verbose=0)
    return model


def _snapshot(model):
    """The exact bytes of every weight, the optimizer's iteration count and slots."""
    state = model.optimizer.get_state()
    return ([w.tobytes() for w in model.get_weights()], state["iterations"],
            [s.tobytes() for s in state["slots"]])


def _faulty(weights, position, fault):
    """A copy of ``weights`` (float64) with one array replaced by a faulty one."""
    arrays = [w.astype(np.float64) + 0.5 for w in weights]  # every array would change
    target = arrays[position]
    arrays[position] = {
        "strings": np.full(target.shape, "x"),
        "objects": np.full(target.shape, None, dtype=object),
        "complex": target.astype(np.complex64),
        "shape": np.zeros(target.shape + (1,)),
        "overflow": np.full(target.shape, 1e300),
        "ragged": [[1.0], [2.0, 3.0]],
    }[fault]
    return arrays


FAULTS = ["strings", "objects", "complex", "shape", "overflow", "ragged"]
POSITIONS = {"first": 0, "middle": 3, "last": -1}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("where", list(POSITIONS))
def test_model_set_weights_is_all_or_nothing(fault, where):
    model = _model()
    before = _snapshot(model)
    bad = _faulty(model.get_weights(), POSITIONS[where], fault)
    with pytest.raises((ValueError, TypeError), match="Sequential"):
        model.set_weights(bad)
    assert _snapshot(model) == before


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("where", ["first", "last"])
def test_layer_set_weights_is_all_or_nothing(fault, where):
    model = _model()
    layer = model.layers[1]  # BatchNormalization: gamma, beta, moving mean and variance
    before = [w.tobytes() for w in layer.get_weights()]
    bad = _faulty(layer.get_weights(), {"first": 0, "last": -1}[where], fault)
    with pytest.raises((ValueError, TypeError), match=f"Layer '{layer.name}'"):
        layer.set_weights(bad)
    assert [w.tobytes() for w in layer.get_weights()] == before


def test_set_weights_with_a_good_list_assigns_every_array():
    model = _model()
    new = [w.astype(np.float64) + 0.25 for w in model.get_weights()]
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want.astype(np.float32))


def test_set_weights_rejects_a_count_or_a_non_list():
    model = _model()
    before = _snapshot(model)
    for bad in (model.get_weights()[:-1], model.get_weights() + [np.zeros(2)], 3, "abc"):
        with pytest.raises((ValueError, TypeError), match="set_weights expects a list"):
            model.set_weights(bad)
    assert _snapshot(model) == before


def _npz(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **{f"arr_{i:05d}": np.asarray(a) for i, a in enumerate(arrays)})
    return buffer.getvalue()


@pytest.mark.parametrize("fault", ["strings", "complex", "shape", "overflow"])
@pytest.mark.parametrize("where", list(POSITIONS))
def test_load_weights_is_all_or_nothing(tmp_path, fault, where):
    model = _model()
    before = _snapshot(model)
    path = tmp_path / "w.weights.npz"
    path.write_bytes(_npz(_faulty(model.get_weights(), POSITIONS[where], fault)))
    with pytest.raises(ValueError, match="load_weights") as error:
        model.load_weights(path)
    if fault != "shape":  # another shape is another model; the rest is a corrupt file
        assert isinstance(error.value, CorruptFileError) and str(path) in str(error.value)
    assert _snapshot(model) == before


@pytest.mark.parametrize("where", list(POSITIONS))
def test_load_weights_of_a_damaged_array_is_all_or_nothing(tmp_path, where):
    model = _model()
    before = _snapshot(model)
    arrays = [w + 1 for w in model.get_weights()]
    raw = bytearray(_npz(arrays))
    path = tmp_path / "w.weights.npz"
    path.write_bytes(bytes(raw))
    clone = models.Sequential.from_config(model.get_config())
    clone.load_weights(path)  # the intact file loads
    # flip the last data byte of the chosen array: its CRC no longer matches
    index = range(len(arrays))[POSITIONS[where]]
    magic = raw.index(b"\x93NUMPY", raw.index(f"arr_{index:05d}.npy".encode()))
    header = 10 + int.from_bytes(raw[magic + 8:magic + 10], "little")
    raw[magic + header + arrays[index].nbytes - 1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="load_weights"):
        model.load_weights(path)
    assert _snapshot(model) == before


@pytest.mark.parametrize("fault", ["strings", "shape", "overflow", "count"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_optimizer_set_state_is_all_or_nothing(fault, where):
    model = _model()
    before = _snapshot(model)
    state = model.optimizer.get_state()
    slots = [s.astype(np.float64) + 1 for s in state["slots"]]
    position = {"first": 0, "middle": len(slots) // 2, "last": -1}[where]
    if fault == "count":
        del slots[position]
    else:
        slots[position] = {"strings": np.full(slots[position].shape, "x"),
                           "shape": np.zeros((7, 7)),
                           "overflow": np.full(slots[position].shape, 1e300)}[fault]
    with pytest.raises((ValueError, TypeError), match="Adam.set_state"):
        model.optimizer.set_state({"iterations": 99, "slots": slots}, model.trainable_weights)
    assert _snapshot(model) == before
    assert model.optimizer.iterations == before[1]


def test_optimizer_set_state_rejects_non_lists_and_keeps_the_state():
    model = _model()
    before = _snapshot(model)
    for state in ({"iterations": 5, "slots": 3}, {"iterations": 5, "slots": "abc"},
                  {"iterations": 5.5, "slots": []}, {"iterations": True, "slots": []}):
        with pytest.raises(ValueError, match="Adam.set_state"):
            model.optimizer.set_state(state, model.trainable_weights)
    assert _snapshot(model) == before


def test_a_valid_state_round_trips_exactly():
    model = _model()
    state = model.optimizer.get_state()
    fresh = optimizers.Adam()
    fresh.set_state(state, model.trainable_weights)
    again = fresh.get_state()
    assert again["iterations"] == state["iterations"]
    assert all(np.array_equal(a, b) for a, b in zip(again["slots"], state["slots"]))
