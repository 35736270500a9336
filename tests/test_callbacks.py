"""minidl.callbacks against Keras 3 semantics, driven by a fake model and a fake fit loop.

The fake model implements exactly the interface the callbacks may rely on. Its weights
after epoch ``e`` are all ``e + 1``, so restored or saved weights name their epoch.
"""
import csv
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl import callbacks as cb
from minidl.io_utils import atomic_write_bytes


class FakeOptimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


class FakeModel:
    """stop_training, get/set_weights, save, save_weights, optimizer.learning_rate, history."""

    def __init__(self, learning_rate=0.01):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.history = None
        self._weights = [np.zeros(3), np.zeros((2, 2))]
        self.saves = []  # (method, path, weight marker)

    def get_weights(self):
        # Live arrays on purpose (the worst case): the callbacks must copy them.
        return list(self._weights)

    def set_weights(self, weights):
        for mine, new in zip(self._weights, weights):
            mine[...] = new

    def train_batch(self, epoch, batch, steps):
        for w in self._weights:
            w[...] = epoch + (batch + 1) / steps  # epoch + 1 at the epoch's end

    def marker(self):
        return float(self._weights[0][0])

    def _save(self, method, path):
        atomic_write_bytes(path, repr(self.marker()).encode())
        self.saves.append((method, str(path), self.marker()))

    def save(self, path):
        self._save("save", path)

    def save_weights(self, path):
        self._save("save_weights", path)


def fake_fit(model, callbacks, epoch_logs, steps=3, batch_losses=None, validate=False):
    """Keras's fit order of hooks; ``epoch_logs[e]`` are the logs of epoch e."""
    epochs = len(epoch_logs)
    hooks = cb.CallbackList(callbacks, add_history=True, model=model, epochs=epochs,
                            steps=steps, verbose=0)
    model.stop_training = False
    hooks.on_train_begin()
    logs = None
    for epoch in range(epochs):
        hooks.on_epoch_begin(epoch)
        for batch in range(steps):
            hooks.on_train_batch_begin(batch)
            model.train_batch(epoch, batch, steps)
            loss = batch_losses[epoch][batch] if batch_losses else 1.0
            hooks.on_train_batch_end(batch, {"loss": loss})
            if model.stop_training:
                break
        logs = dict(epoch_logs[epoch])
        if validate:
            hooks.on_test_begin()
            hooks.on_test_batch_begin(0)
            hooks.on_test_batch_end(0, {"loss": 0.0})
            hooks.on_test_end({"loss": 0.0})
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end(logs)
    return model.history


def losses(*values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


# ---------------------------------------------------------------- Callback, CallbackList, History


class Recorder(cb.Callback):
    def __init__(self, tag, calls):
        super().__init__()
        self.tag, self.calls = tag, calls

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            def record(*args, **kwargs):
                object.__getattribute__(self, "calls").append(
                    (object.__getattribute__(self, "tag"), name) + args[:-1])
                return attr(*args, **kwargs)
            return record
        return attr


def test_hooks_are_dispatched_in_order_to_every_callback():
    calls = []
    model = FakeModel()
    fake_fit(model, [Recorder("a", calls), Recorder("b", calls)], losses(1.0, 0.5),
             steps=2, validate=True)
    expected = [("train_begin",)]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        for batch in range(2):
            expected += [("train_batch_begin", batch), ("train_batch_end", batch)]
        expected += [("test_begin",), ("test_batch_begin", 0), ("test_batch_end", 0),
                     ("test_end",), ("epoch_end", epoch)]
    expected.append(("train_end",))
    want = [(tag, "on_" + step[0]) + step[1:] for step in expected for tag in "ab"]
    assert calls == want


def test_callback_list_predict_hooks_and_params():
    calls = []
    model = FakeModel()
    hooks = cb.CallbackList([Recorder("a", calls)], model=model, params={"epochs": 3},
                            verbose=1)
    assert hooks.callbacks[0].model is model
    assert hooks.callbacks[0].params == {"epochs": 3, "verbose": 1}
    hooks.on_predict_begin()
    hooks.on_predict_batch_begin(0)
    hooks.on_predict_batch_end(0, {"outputs": 1})
    hooks.on_predict_end()
    assert [c[1] for c in calls] == ["on_predict_begin", "on_predict_batch_begin",
                                     "on_predict_batch_end", "on_predict_end"]


def test_train_batch_hooks_call_the_legacy_aliases():
    seen = []

    class Legacy(cb.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, logs["loss"]))

    fake_fit(FakeModel(), [Legacy()], losses(1.0), steps=2)
    assert seen == [("begin", 0), ("end", 0, 1.0), ("begin", 1), ("end", 1, 1.0)]


def test_history_records_every_epoch_and_becomes_model_history():
    model = FakeModel()
    logs = [{"loss": 1.0 / (e + 1), "accuracy": e / 10} for e in range(4)]
    history = fake_fit(model, [], logs)
    assert isinstance(history, cb.History) and model.history is history
    assert history.epoch == [0, 1, 2, 3]
    assert history.history == {"loss": [1.0, 0.5, 1 / 3, 0.25],
                               "accuracy": [0.0, 0.1, 0.2, 0.3]}


def test_callback_list_keeps_a_given_history_and_shares_logs():
    model = FakeModel()
    own = cb.History()
    schedule = cb.LearningRateScheduler(lambda epoch, lr: lr / 2)
    hooks = cb.CallbackList([schedule, own], add_history=True, model=model)
    assert hooks.callbacks == [schedule, own] and model.history is own
    hooks.on_train_begin()
    hooks.on_epoch_begin(0)
    logs = {"loss": 1.0}
    hooks.on_epoch_end(0, logs)
    # The scheduler's addition is seen by the History after it (one shared dict).
    assert own.history == {"loss": [1.0], "learning_rate": [0.005]}
    assert logs["learning_rate"] == 0.005


def test_callback_list_flattens_and_rejects_non_callbacks():
    a, b, c = cb.History(), cb.TerminateOnNaN(), cb.TerminateOnNaN()
    assert cb.CallbackList([a, [b, (c,)]]).callbacks == [a, b, c]
    with pytest.raises(TypeError, match="must be an instance of minidl.callbacks.Callback"):
        cb.CallbackList([a, "not a callback"])
    with pytest.raises(TypeError, match="argument 'callbacks' must be a list"):
        cb.CallbackList(42)
    with pytest.raises(TypeError, match="argument 'params' must be a dict"):
        cb.CallbackList([], params=[1])


# ---------------------------------------------------------------- EarlyStopping


def reference_stop(values, mode, min_delta=0.0, patience=0, baseline=None, start=0):
    """Keras 3 EarlyStopping, restated with epoch indices instead of counters.

    Returns (stopped epoch or None, best epoch). The wait is the number of monitored
    epochs since the last epoch that beat both the best so far and the baseline.
    """
    sign = -1.0 if mode == "min" else 1.0  # compare sign * value, larger is better
    best = None
    best_epoch = start
    last_reset = start - 1
    for epoch, value in enumerate(values):
        if epoch < start:
            continue
        improved = best is None or sign * value - min_delta > sign * best
        if improved:
            best, best_epoch = value, epoch
            if baseline is None or sign * value - min_delta > sign * baseline:
                last_reset = epoch
            continue
        if epoch > 0 and epoch - last_reset >= patience:
            return epoch, best_epoch
    return None, best_epoch


def run_early_stopping(values, key="val_loss", **kwargs):
    model = FakeModel()
    stopper = cb.EarlyStopping(monitor=key, **kwargs)
    history = fake_fit(model, [stopper], losses(*values, key=key))
    return model, stopper, history


@pytest.mark.parametrize("values, kwargs, stop", [
    # patience 0: the first epoch that does not improve stops training.
    ([3.0, 2.0, 2.5, 1.0], dict(), 2),
    # patience 2: two epochs in a row without improvement.
    ([3.0, 2.0, 2.5, 1.5, 1.8, 1.9, 0.1], dict(patience=2), 5),
    # min_delta 0.5: improvements smaller than 0.5 do not count.
    ([3.0, 2.7, 2.4, 1.0], dict(min_delta=0.5, patience=1), 1),
    # negative min_delta is taken as its absolute value.
    ([3.0, 2.7, 2.4, 1.0], dict(min_delta=-0.5, patience=1), 1),
    # equal values are not improvements.
    ([1.0, 1.0, 1.0], dict(patience=1), 1),
    # never stops when it keeps improving.
    ([5.0, 4.0, 3.0, 2.0], dict(patience=0), None),
])
def test_early_stopping_hand_worked(values, kwargs, stop):
    model, stopper, history = run_early_stopping(values, **kwargs)
    epochs_run = len(values) if stop is None else stop + 1
    assert history.epoch == list(range(epochs_run))
    assert stopper.stopped_epoch == (stop or 0)
    assert model.stop_training == (stop is not None)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 6), min_size=1, max_size=12),
       mode=st.sampled_from(["min", "max"]), min_delta=st.sampled_from([0.0, 1.0]),
       patience=st.integers(0, 3), baseline=st.sampled_from([None, 2.0, 4.0]),
       start=st.integers(0, 3))
def test_early_stopping_matches_reference(values, mode, min_delta, patience, baseline, start):
    values = [float(v) for v in values]
    model, stopper, history = run_early_stopping(
        values, mode=mode, min_delta=min_delta, patience=patience, baseline=baseline,
        start_from_epoch=start, restore_best_weights=True)
    stop, best_epoch = reference_stop(values, mode, min_delta, patience, baseline, start)
    assert stopper.stopped_epoch == (stop or 0)
    assert len(history.epoch) == (len(values) if stop is None else stop + 1)
    if start < len(history.epoch):
        assert stopper.best_epoch == best_epoch
        # Keras 3 restores the best epoch's weights at train end, stopped or not.
        assert model.marker() == best_epoch + 1


@pytest.mark.parametrize("key, values, stop", [
    ("val_loss", [1.0, 0.5, 0.7], 2),                       # minimised
    ("val_accuracy", [0.5, 0.7, 0.6], 2),                   # maximised ('acc')
    ("val_auc", [0.5, 0.7, 0.6], 2),                        # maximised ('auc')
    ("precision", [0.5, 0.7, 0.6], 2),                      # maximised
    ("mean_absolute_error", [1.0, 0.5, 0.7], 2),            # minimised
    ("val_loss", [1.0, 1.5, 0.7], 1),
    ("val_accuracy", [0.7, 0.5, 0.9], 1),
])
def test_early_stopping_auto_mode(key, values, stop):
    _, stopper, _ = run_early_stopping(values, key=key, mode="auto")
    assert stopper.stopped_epoch == stop


def test_auto_mode_follows_a_metric_declared_direction():
    class Score:
        name = "my_score"
        _direction = "up"

    class Container:
        name = "compile_metrics"
        metrics = [Score()]

    model = FakeModel()
    model.metrics = [Container()]
    stopper = cb.EarlyStopping(monitor="val_my_score")
    fake_fit(model, [stopper], losses(1.0, 2.0, 1.5, key="val_my_score"))
    assert stopper.monitor_op is np.greater and stopper.stopped_epoch == 2


def test_restore_best_weights_on_stop_and_at_train_end(capsys):
    model, stopper, _ = run_early_stopping([1.0, 0.5, 0.7, 0.8, 0.9], patience=2,
                                           restore_best_weights=True, verbose=1)
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert model.marker() == 2.0  # the weights at the end of epoch 1 (0-based)
    np.testing.assert_array_equal(model._weights[1], np.full((2, 2), 2.0))
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out
    # No early stop: Keras 3 still restores the best weights when training ends.
    model, stopper, _ = run_early_stopping([1.0, 0.2, 0.7, 0.8], patience=5,
                                           restore_best_weights=True)
    assert stopper.stopped_epoch == 0 and model.marker() == 2.0
    # Without restore_best_weights the last weights stay.
    model, _, _ = run_early_stopping([1.0, 0.5, 0.7, 0.8], patience=2)
    assert model.marker() == 4.0


def test_early_stopping_start_from_epoch_and_baseline():
    # Worse values in the warm-up epochs do not count.
    _, stopper, history = run_early_stopping([1.0, 2.0, 3.0, 2.5, 2.0], start_from_epoch=2,
                                             patience=1)
    assert stopper.stopped_epoch == 0 and len(history.epoch) == 5
    # Improving values that never reach the baseline stop after `patience` epochs.
    _, stopper, _ = run_early_stopping([5.0, 4.0, 3.0, 2.0, 1.0], baseline=0.5, patience=2)
    assert stopper.stopped_epoch == 0  # improvements never check the patience
    _, stopper, _ = run_early_stopping([5.0, 6.0, 7.0, 1.0], baseline=0.5, patience=2)
    assert stopper.stopped_epoch == 1  # wait: 1 (no reset at 5.0), 2 at epoch 1


def test_early_stopping_is_reusable():
    model = FakeModel()
    stopper = cb.EarlyStopping(patience=0)
    fake_fit(model, [stopper], losses(1.0, 2.0))
    assert stopper.stopped_epoch == 1
    history = fake_fit(model, [stopper], losses(5.0, 4.0, 3.0))
    assert stopper.stopped_epoch == 0 and len(history.epoch) == 3


def test_early_stopping_missing_key_warns_and_continues():
    model = FakeModel()
    stopper = cb.EarlyStopping(monitor="val_loss")
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available "
                                         "metrics are: loss"):
        history = fake_fit(model, [stopper], [{"loss": 1.0}, {"loss": 2.0}, {"loss": 3.0}])
    assert len(history.epoch) == 3 and stopper.stopped_epoch == 0


def test_early_stopping_bad_arguments():
    with pytest.raises(ValueError, match="EarlyStopping: argument 'patience'.*Received: "
                                         "patience=-1"):
        cb.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="argument 'min_delta' must be a real number"):
        cb.EarlyStopping(min_delta="0.1")
    with pytest.raises(ValueError, match="argument 'baseline'"):
        cb.EarlyStopping(baseline="high")
    with pytest.raises(TypeError, match="argument 'monitor' must be a str"):
        cb.EarlyStopping(monitor=3)
    with pytest.warns(UserWarning, match="mode 'bigger' is unknown"):
        assert cb.EarlyStopping(mode="bigger").mode == "auto"


# ---------------------------------------------------------------- ModelCheckpoint


def test_checkpoint_file_names(tmp_path):
    values = [0.512, 0.4049, 0.456]
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    model = FakeModel()
    fake_fit(model, [cb.ModelCheckpoint(pattern)], losses(*values))
    expected = [str(tmp_path / f"ckpt-{e + 1:02d}-{v:.2f}.keras")
                for e, v in enumerate(values)]
    assert [path for _, path, _ in model.saves] == expected
    assert [method for method, _, _ in model.saves] == ["save"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ckpt-01-0.51.keras", "ckpt-02-0.40.keras", "ckpt-03-0.46.keras"])


@pytest.mark.parametrize("key, mode, values", [
    ("val_loss", "auto", [0.9, 0.7, 0.8, 0.6, 0.65]),
    ("val_accuracy", "auto", [0.5, 0.7, 0.6, 0.9, 0.8]),
    ("val_loss", "max", [0.5, 0.7, 0.6, 0.9, 0.8]),
])
def test_checkpoint_save_best_only(tmp_path, key, mode, values):
    path = tmp_path / "best.keras"
    model = FakeModel()
    fake_fit(model, [cb.ModelCheckpoint(path, monitor=key, mode=mode, save_best_only=True)],
             losses(*values, key=key))
    lower_is_better = key == "val_loss" and mode != "max"
    sign = 1.0 if lower_is_better else -1.0
    improving = [e for e, v in enumerate(values)
                 if all(sign * v < sign * u for u in values[:e])]
    assert [marker for _, _, marker in model.saves] == [e + 1.0 for e in improving]
    best_epoch = int(np.argmin([sign * v for v in values]))
    assert float(path.read_bytes()) == best_epoch + 1.0


def test_checkpoint_initial_value_threshold_and_verbose(tmp_path, capsys):
    model = FakeModel()
    checkpoint = cb.ModelCheckpoint(tmp_path / "b.keras", save_best_only=True, verbose=1,
                                    initial_value_threshold=0.3)
    fake_fit(model, [checkpoint], losses(0.5, 0.4, 0.2, 0.25))
    assert [marker for _, _, marker in model.saves] == [3.0]
    assert checkpoint.best == 0.2
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss did not improve from 0.30000" in out
    assert "Epoch 3: val_loss improved from 0.30000 to 0.20000, saving model to" in out


def test_checkpoint_weights_only_and_missing_directory(tmp_path):
    for suffix in (".weights.npz", ".weights.h5"):
        model = FakeModel()
        directory = tmp_path / "sub" / "dir"  # does not exist yet
        path = directory / f"w-{{epoch}}{suffix}"
        fake_fit(model, [cb.ModelCheckpoint(path, save_weights_only=True)], losses(1.0, 2.0))
        assert model.saves == [("save_weights", str(directory / f"w-1{suffix}"), 1.0),
                               ("save_weights", str(directory / f"w-2{suffix}"), 2.0)]


def test_checkpoint_every_n_batches(tmp_path):
    steps, epochs, every = 3, 3, 2
    model = FakeModel()
    pattern = str(tmp_path / "b-{epoch}-{batch}.keras")
    fake_fit(model, [cb.ModelCheckpoint(pattern, save_freq=every)], losses(*[1.0] * epochs),
             steps=steps)
    expected = []
    for count in range(1, steps * epochs + 1):
        if count % every == 0:
            epoch, batch = divmod(count - 1, steps)
            expected.append(str(tmp_path / f"b-{epoch + 1}-{batch + 1}.keras"))
    assert [path for _, path, _ in model.saves] == expected


def test_checkpoint_save_best_only_without_the_monitor_warns_and_saves(tmp_path):
    model = FakeModel()
    with pytest.warns(UserWarning, match="can save best model only with val_loss"):
        fake_fit(model, [cb.ModelCheckpoint(tmp_path / "m.keras", save_best_only=True)],
                 [{"loss": 1.0}])
    assert len(model.saves) == 1


def test_checkpoint_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="must end in '.keras'.*Received: filepath="):
        cb.ModelCheckpoint(tmp_path / "model.npz")
    with pytest.raises(ValueError, match="pass save_weights_only=True"):
        cb.ModelCheckpoint(tmp_path / "model.weights.h5")
    with pytest.raises(ValueError, match="must end in '.weights.npz', '.h5' or '.hdf5'"):
        cb.ModelCheckpoint(tmp_path / "model.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="'save_freq' must be 'epoch' or a positive integer"):
        cb.ModelCheckpoint(tmp_path / "m.keras", save_freq="batch")
    with pytest.raises(ValueError, match="Received: save_freq=0"):
        cb.ModelCheckpoint(tmp_path / "m.keras", save_freq=0)
    with pytest.raises(TypeError, match="argument 'filepath' must be a str or os.PathLike"):
        cb.ModelCheckpoint(None)
    checkpoint = cb.ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.keras"))
    with pytest.raises(KeyError, match="failed to format the filepath"):
        fake_fit(FakeModel(), [checkpoint], losses(1.0))
    (tmp_path / "taken.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        fake_fit(FakeModel(), [cb.ModelCheckpoint(tmp_path / "taken.keras")], losses(1.0))


# ---------------------------------------------------------------- learning-rate callbacks


def test_learning_rate_scheduler_two_argument_schedule():
    model = FakeModel(learning_rate=0.1)
    seen = []
    scheduler = cb.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch >= 2 else lr)
    history = fake_fit(model, [scheduler, cb.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))],
        losses(*[1.0] * 5))
    expected = [0.1, 0.1, 0.05, 0.025, 0.0125]
    np.testing.assert_allclose(seen, expected, rtol=1e-15)
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-15)
    assert model.optimizer.learning_rate == pytest.approx(0.0125)


def test_learning_rate_scheduler_one_argument_schedule_and_numpy_floats(capsys):
    model = FakeModel()
    history = fake_fit(model, [cb.LearningRateScheduler(
        lambda epoch: np.float32(1.0 / (epoch + 1)), verbose=1)], losses(1.0, 1.0, 1.0))
    assert history.history["learning_rate"] == [1.0, 0.5, float(np.float32(1 / 3))]
    assert isinstance(model.optimizer.learning_rate, float)
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.5." in capsys.readouterr().out


def test_learning_rate_scheduler_errors():
    with pytest.raises(ValueError, match="should be a float. Received: 1 of type int"):
        fake_fit(FakeModel(), [cb.LearningRateScheduler(lambda epoch, lr: 1)], losses(1.0))

    def broken(epoch, lr):
        raise TypeError("bug inside the schedule")

    # A TypeError raised by the schedule itself is not mistaken for the old API.
    with pytest.raises(TypeError, match="bug inside the schedule"):
        fake_fit(FakeModel(), [cb.LearningRateScheduler(broken)], losses(1.0))
    with pytest.raises(TypeError, match="argument 'schedule' must be callable"):
        cb.LearningRateScheduler(0.1)
    model = FakeModel()
    model.optimizer = object()
    with pytest.raises(ValueError, match="must have a 'learning_rate' attribute"):
        fake_fit(model, [cb.LearningRateScheduler(lambda e, lr: lr)], losses(1.0))


def reference_plateau(values, lr, factor, patience, cooldown, min_lr, min_delta, sign):
    """The learning rate logged at each epoch end and the final rate, from Keras's rule:
    a reduction needs `patience` non-improving epochs counted outside the cooldown, the
    cooldown lasting `cooldown` epochs of which the last one counts again."""
    best, wait, cool, logged = -math.inf, 0, 0, []
    for value in values:
        logged.append(lr)
        score = sign * value
        if cool > 0:
            cool -= 1
            wait = 0
        if score > best + min_delta:
            best, wait = score, 0
        elif cool == 0:
            wait += 1
            if wait >= patience and lr > np.float32(min_lr):
                lr, cool, wait = max(lr * factor, min_lr), cooldown, 0
    return logged, lr


@pytest.mark.parametrize("values, kwargs, logged, final", [
    # Hand-worked: reductions after 2 flat epochs (epochs 3 and 5), none once it improves.
    ([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8], dict(patience=2, factor=0.5),
     [0.01] * 4 + [0.005] * 2 + [0.0025], 0.0025),
    # cooldown 2: after the reduction at epoch 3, epochs 4 and 5 do not count.
    ([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9], dict(patience=2, factor=0.5, cooldown=2),
     [0.01] * 4 + [0.005] * 3 + [0.0025], 0.0025),
    # min_lr bounds the rate, which then stays there.
    ([1.0, 1.0, 1.0, 1.0, 1.0], dict(patience=1, factor=0.1, min_lr=0.004),
     [0.01, 0.01, 0.004, 0.004, 0.004], 0.004),
])
def test_reduce_lr_on_plateau_hand_worked(values, kwargs, logged, final):
    model = FakeModel(learning_rate=0.01)
    history = fake_fit(model, [cb.ReduceLROnPlateau(**kwargs)], losses(*values))
    np.testing.assert_allclose(history.history["learning_rate"], logged, rtol=1e-12)
    assert model.optimizer.learning_rate == pytest.approx(final, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(0, 5), min_size=1, max_size=12),
       patience=st.integers(0, 3), cooldown=st.integers(0, 3),
       key=st.sampled_from(["val_loss", "val_accuracy"]))
def test_reduce_lr_on_plateau_matches_reference(values, patience, cooldown, key):
    values = [float(v) for v in values]
    model = FakeModel(learning_rate=1.0)
    reducer = cb.ReduceLROnPlateau(monitor=key, factor=0.5, patience=patience,
                                   cooldown=cooldown, min_lr=0.1)
    history = fake_fit(model, [reducer], losses(*values, key=key))
    sign = -1.0 if key == "val_loss" else 1.0
    logged, final = reference_plateau(values, 1.0, 0.5, patience, cooldown, 0.1, 1e-4, sign)
    assert history.history["learning_rate"] == logged
    assert model.optimizer.learning_rate == final


def test_reduce_lr_on_plateau_verbose_warning_and_errors(capsys):
    model = FakeModel()
    fake_fit(model, [cb.ReduceLROnPlateau(patience=0, verbose=1, factor=0.5)],
             losses(1.0, 1.0))
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.005." in capsys.readouterr().out
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        fake_fit(FakeModel(), [cb.ReduceLROnPlateau()], [{"loss": 1.0}])
    with pytest.raises(ValueError, match="does not support a factor >= 1.0. Received: factor=1.5"):
        cb.ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ValueError, match="argument 'factor' must be in"):
        cb.ReduceLROnPlateau(factor=-0.1)
    with pytest.raises(ValueError, match="argument 'cooldown'"):
        cb.ReduceLROnPlateau(cooldown=1.5)


# ---------------------------------------------------------------- CSVLogger


def read_csv(path, separator=","):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=separator))


def test_csv_logger_contents(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"val_loss": 1.0 / (e + 2), "loss": 1.0 / (e + 1), "accuracy": e / 4,
             "val_accuracy": e / 5} for e in range(3)]
    fake_fit(FakeModel(), [cb.CSVLogger(path)], logs)
    rows = read_csv(path)
    columns = ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert rows[0] == ["epoch"] + columns
    assert len(rows) == 4
    for epoch, row in enumerate(rows[1:]):
        assert int(row[0]) == epoch
        assert [float(cell) for cell in row[1:]] == [logs[epoch][k] for k in columns]
    assert path.read_bytes().count(b"\r\n") == 4


def test_csv_logger_flushes_each_epoch_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    rows_seen = []
    logger = cb.CSVLogger(path, separator=";", append=True)
    peek = cb.LambdaCallback(on_epoch_end=lambda epoch, logs: rows_seen.append(
        len(read_csv(path, ";"))))
    fake_fit(FakeModel(), [logger, peek], losses(1.0, 2.0))
    assert rows_seen == [2, 3]  # header + one row per finished epoch, before train end
    fake_fit(FakeModel(), [logger], losses(3.0))
    rows = read_csv(path, ";")
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "0"]  # no second header
    assert [float(row[2]) for row in rows[1:]] == [1.0, 2.0, 3.0]


def test_csv_logger_adds_val_columns_and_formats_arrays(tmp_path):
    path = tmp_path / "log.csv"
    fake_fit(FakeModel(), [cb.CSVLogger(path)],
             [{"loss": 0.5, "vector": np.array([1, 2])}, {"loss": 0.25, "vector": [3, 4]}])
    rows = read_csv(path)
    # As Keras 3: no val_ key in the first epoch -> val_ columns, filled with NA.
    assert rows[0] == ["epoch", "loss", "vector", "val_loss", "val_vector"]
    assert rows[1] == ["0", "0.5", "[1, 2]", "NA", "NA"]
    assert rows[2] == ["1", "0.25", "[3, 4]", "NA", "NA"]


def test_csv_logger_overwrites_without_append_and_rejects_bad_separator(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old,content\n1,2\n")
    fake_fit(FakeModel(), [cb.CSVLogger(path)], losses(1.0))
    assert read_csv(path)[0] == ["epoch", "loss", "val_loss"] and len(read_csv(path)) == 2
    with pytest.raises(ValueError, match="'separator' must be a single character"):
        cb.CSVLogger(path, separator=", ")
    with pytest.raises(TypeError, match="argument 'filename'"):
        cb.CSVLogger(3)


# ---------------------------------------------------------------- TerminateOnNaN, LambdaCallback


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -np.inf, np.float32("nan")])
def test_terminate_on_nan(bad, capsys):
    model = FakeModel()
    history = fake_fit(model, [cb.TerminateOnNaN()], losses(1.0, 1.0, 1.0), steps=4,
                       batch_losses=[[1.0, 0.9, 0.8, 0.7], [0.6, bad, 0.5, 0.4],
                                     [0.3, 0.2, 0.1, 0.0]])
    assert model.stop_training is True
    assert history.epoch == [0, 1]
    assert model.marker() == pytest.approx(1.5)  # stopped after batch 1 of epoch 1
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_finite_losses_and_raise_error():
    model = FakeModel()
    history = fake_fit(model, [cb.TerminateOnNaN()], losses(1.0, 1.0),
                       batch_losses=[[1e30, 0.0, -1.0], [2.0, 3.0, 4.0]])
    assert model.stop_training is False and history.epoch == [0, 1]
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        fake_fit(FakeModel(), [cb.TerminateOnNaN(raise_error=True)], losses(1.0),
                 batch_losses=[[np.nan, 1.0, 1.0]])


def test_lambda_callback():
    calls = []
    callback = cb.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_end=lambda epoch, stats: calls.append(("epoch_end", epoch, stats["loss"])),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_test_begin=lambda logs: calls.append("test_begin"),
        on_train_end=lambda logs: calls.append("train_end"))
    fake_fit(FakeModel(), [callback], losses(1.0), steps=2, validate=True)
    assert calls == ["train_begin", ("batch_end", 0), ("batch_end", 1), "test_begin",
                     ("epoch_end", 0, 1.0), "train_end"]
    with pytest.raises(TypeError, match="unexpected keyword argument 'on_epoch_finish'"):
        cb.LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match="argument 'on_epoch_end' must be callable"):
        cb.LambdaCallback(on_epoch_end=3)


def test_evaluate_predict_and_fit_validation_call_their_hooks():
    """Keras 3: evaluate and predict call the callbacks they are given; fit's validation
    fires on_test_* on fit's callbacks; on_train_end gets the last epoch's logs."""
    import minidl
    from minidl import layers, models

    class Recorder(cb.Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __getattribute__(self, name):
            if name.startswith("on_"):
                return lambda *args: self.calls.append((name, args[-1] and sorted(args[-1])))
            return super().__getattribute__(name)

    model = models.Sequential([minidl.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = np.random.default_rng(0).random((8, 3)), np.array([0, 1] * 4)
    recorder = Recorder()
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[recorder])
    assert [c[0] for c in recorder.calls] == ["on_test_begin", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_end"]
    assert recorder.calls[-1][1] == ["accuracy", "loss"]
    recorder.calls.clear()
    model.predict(x, batch_size=8, verbose=0, callbacks=[recorder])
    assert [c[0] for c in recorder.calls] == ["on_predict_begin", "on_predict_batch_begin",
                                              "on_predict_batch_end", "on_predict_end"]
    assert recorder.calls[2][1] == ["outputs"]
    recorder.calls.clear()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y),
              callbacks=[recorder])
    names = [c[0] for c in recorder.calls]
    assert names.index("on_test_begin") < names.index("on_test_end") < \
        names.index("on_epoch_end")
    assert recorder.calls[-1] == ("on_train_end",
                                  ["accuracy", "loss", "val_accuracy", "val_loss"])
