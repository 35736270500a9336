"""minidl.utils: to_categorical, normalize, set_random_seed and Progbar."""
import io
import re
import sys

import numpy as np
import pytest

from minidl import initializers, random_state, utils
from minidl.utils import Progbar, normalize, set_random_seed, to_categorical

# ---------------------------------------------------------------- to_categorical


def _one_hot_reference(labels, classes):
    out = np.zeros((len(labels), classes))
    for i, label in enumerate(labels):
        out[i, label] = 1.0
    return out


def test_to_categorical(rng):
    labels = rng.integers(0, 5, 20)
    got = to_categorical(labels)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _one_hot_reference(labels, labels.max() + 1))
    np.testing.assert_array_equal(to_categorical(labels[:, None], num_classes=7),
                                  _one_hot_reference(labels, 7))
    np.testing.assert_array_equal(to_categorical([2.0, 0.0], 3), [[0, 0, 1], [1, 0, 0]])
    grid = rng.integers(0, 3, (4, 5))
    assert to_categorical(grid, 3).shape == (4, 5, 3)
    np.testing.assert_array_equal(to_categorical(grid, 3).argmax(-1), grid)
    assert to_categorical(np.array([], dtype=int), num_classes=2).shape == (0, 2)


def test_to_categorical_errors():
    with pytest.raises(ValueError, match=r"to_categorical: class indices must be in \[0, 3\)"
                                         r"\. Received: 3"):
        to_categorical([0, 3, 1], num_classes=3)
    with pytest.raises(ValueError, match="Received: -1"):
        to_categorical([0, -1])
    with pytest.raises(ValueError, match="integer class indices"):
        to_categorical([0.5, 1.0])
    with pytest.raises(TypeError, match="to_categorical"):
        to_categorical(["a", "b"])
    with pytest.raises(ValueError, match="'num_classes' must be a positive int"):
        to_categorical([0, 1], num_classes=0)


# ---------------------------------------------------------------- normalize


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_normalize(rng, order, axis):
    x = rng.standard_normal((4, 6, 3))
    x[1, 2, :] = 0.0
    x[:, 3, 1] = 0.0
    norms = np.sum(np.abs(x) ** order, axis=axis, keepdims=True) ** (1.0 / order)
    want = x / np.where(norms == 0, 1.0, norms)
    got = normalize(x, axis=axis, order=order)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert got.dtype == np.float64


def test_normalize_dtypes_and_errors():
    x32 = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    got = normalize(x32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    assert normalize(np.array([[1, 1]])).dtype == np.float32
    np.testing.assert_allclose(normalize([3.0, 4.0], order=1), [3 / 7, 4 / 7])
    with pytest.raises(ValueError, match="normalize: argument 'order' must be a number >= 1"):
        normalize(x32, order=0)
    with pytest.raises(ValueError, match="normalize: argument 'axis'"):
        normalize(x32, axis=2)
    with pytest.raises(TypeError, match="normalize: argument 'x'"):
        normalize(np.array(["a"]))


# ---------------------------------------------------------------- seeds


def test_set_random_seed_repeats_draws():
    init = initializers.GlorotNormal()
    set_random_seed(7)
    first = (init((3, 4)), random_state.global_generator().random(3), np.random.rand(2))
    set_random_seed(7)
    second = (init((3, 4)), random_state.global_generator().random(3), np.random.rand(2))
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    set_random_seed(8)
    assert not np.array_equal(first[0], init((3, 4)))
    with pytest.raises(ValueError, match="set_random_seed: argument 'seed'"):
        set_random_seed(-1)


# ---------------------------------------------------------------- Progbar


class _Terminal(io.StringIO):
    """A captured stdout that claims to be a terminal."""

    def isatty(self):
        return True


def _use_terminal(monkeypatch):
    """Replace stdout by a fake terminal (inside the test body: pytest's capture resets
    sys.stdout after fixtures are set up)."""
    out = _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    return out


def test_progbar_not_a_tty_prints_only_the_final_line(capsys):
    bar = Progbar(4, interval=0.0)
    for step, loss in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        bar.update(step, [("loss", loss)])
    out = capsys.readouterr().out
    assert "\r" not in out and out.count("\n") == 1
    assert re.fullmatch(r"4/4 \[={30}\] - \d+s \d+(us|ms|s)/step - loss: 2\.5000\n", out)


def test_progbar_averages_and_stateful_metrics(capsys):
    bar = Progbar(10, width=10, stateful_metrics=["acc"])
    bar.update(2, [("loss", 1.0), ("acc", 0.2)])    # covers 2 steps
    bar.update(10, {"loss": 4.0, "acc": 0.75})  # covers 8 steps (a dict works too)
    out = capsys.readouterr().out
    # running average weighted by the steps each value covers: (1*2 + 4*8) / 10
    assert "loss: 3.4000" in out and "acc: 0.7500" in out
    assert out.startswith("10/10 [==========]")


def test_progbar_small_values_use_scientific_notation(capsys):
    bar = Progbar(1)
    bar.update(1, [("loss", 2e-5)])
    assert "loss: 2.0000e-05" in capsys.readouterr().out


def test_progbar_verbose_2_and_0(capsys):
    bar = Progbar(3, verbose=2)
    bar.add(1, [("loss", 0.5)])
    bar.add(2, [("loss", 1.25)])
    out = capsys.readouterr().out
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - loss: 1\.0000\n", out)
    silent = Progbar(3, verbose=0)
    silent.add(3, [("loss", 1.0)])
    assert capsys.readouterr().out == ""


def test_progbar_terminal_redraws_in_place(monkeypatch):
    terminal = _use_terminal(monkeypatch)
    bar = Progbar(20, width=20, interval=0.0)
    bar.update(5, [("loss", 0.5)])
    first = terminal.getvalue()
    assert re.fullmatch(r"\r 5/20 \[====>\.{15}\] - ETA: \d+s - loss: 0\.5000", first)
    bar.update(20, [("loss", 1.0)])
    out = terminal.getvalue()
    assert out.count("\r") == 2 and out.endswith("\n")
    final = out.split("\r")[-1]
    assert re.match(r"20/20 \[={20}\] - \d+s \d+(us|ms|s)/step - loss: 0\.8750 *\n", final)


def test_progbar_interval_throttles_redraws(monkeypatch):
    terminal = _use_terminal(monkeypatch)
    bar = Progbar(100, interval=3600.0)
    for step in range(1, 100):
        bar.update(step)
    assert terminal.getvalue().count("\r") == 1  # only the first update is drawn
    bar.update(100)
    assert terminal.getvalue().count("\r") == 2  # the final one always is


def test_progbar_unknown_target(monkeypatch):
    terminal = _use_terminal(monkeypatch)
    bar = Progbar(None, interval=0.0)
    bar.update(3, [("loss", 1.0)])
    assert re.fullmatch(r"\r      3/Unknown - \d+s \d+(us|ms|s)/step - loss: 1\.0000",
                        terminal.getvalue())
    bar.update(5, finalize=True)
    assert terminal.getvalue().endswith("\n")


def test_progbar_bad_arguments():
    with pytest.raises(ValueError, match="Progbar: argument 'target'"):
        Progbar(-1)
    with pytest.raises(ValueError, match="Progbar: argument 'verbose' must be 0, 1 or 2"):
        Progbar(10, verbose=3)
    with pytest.raises(ValueError, match="Progbar: argument 'width'"):
        Progbar(10, width=0)


def _padded_row(sequence, maxlen, padding, truncating, value):
    """One row of pad_sequences, built with Python lists (the reference)."""
    kept = list(sequence)
    if len(kept) > maxlen:
        kept = kept[len(kept) - maxlen:] if truncating == "pre" else kept[:maxlen]
    fill = [value] * (maxlen - len(kept))
    return fill + kept if padding == "pre" else kept + fill


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_pad_sequences_matches_a_list_reference(padding, truncating):
    from minidl.preprocessing.sequence import pad_sequences as keras2_spelling
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(1, 9, size=n)) for n in (0, 1, 3, 6, 9)]
    for maxlen in (None, 0, 4, 12):
        got = utils.pad_sequences(sequences, maxlen=maxlen, padding=padding,
                                  truncating=truncating, value=-1)
        length = 9 if maxlen is None else maxlen
        expected = [_padded_row(s, length, padding, truncating, -1) for s in sequences]
        assert got.dtype == np.int32 and got.shape == (5, length)
        assert got.tolist() == expected
    assert keras2_spelling is utils.pad_sequences


def test_pad_sequences_refuses_bad_arguments():
    with pytest.raises(ValueError, match="'padding'"):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="'maxlen'"):
        utils.pad_sequences([[1]], maxlen=-1)
    with pytest.raises(ValueError, match="sequence 1"):
        utils.pad_sequences([[1], 5])
    with pytest.raises(TypeError, match="'sequences'"):
        utils.pad_sequences("abc")
