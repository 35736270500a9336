"""minidl.metrics against NumPy: running means over batches of different sizes, sample
weights, the Keras choice behind 'accuracy', names, get() and errors."""
import numpy as np
import pytest

from minidl import losses, metrics


def _batches(rng, sizes, classes):
    """(labels, probabilities) batches of the given sizes."""
    out = []
    for n in sizes:
        out.append((rng.integers(0, classes, n), rng.dirichlet(np.ones(classes), n)))
    return out


def test_sparse_and_categorical_accuracy_running_mean(rng):
    batches = _batches(rng, [7, 1, 12, 5], 4)
    sparse, categorical = metrics.SparseCategoricalAccuracy(), metrics.CategoricalAccuracy()
    hits = []
    for labels, probs in batches:
        sparse.update_state(labels, probs)
        categorical.update_state(np.eye(4)[labels], probs)
        hits.extend(labels == probs.argmax(axis=1))
    # the mean over all samples, not the mean of the four batch means
    assert sparse.result() == pytest.approx(np.mean(hits), rel=1e-12)
    assert categorical.result() == pytest.approx(np.mean(hits), rel=1e-12)
    assert isinstance(sparse.result(), float)
    sparse.reset_state()
    assert sparse.result() == 0.0
    labels, probs = batches[0]
    sparse.update_state(labels[:, None], probs)  # (N, 1) labels
    assert sparse.result() == pytest.approx(np.mean(labels == probs.argmax(1)))


def test_sample_weights(rng):
    labels, probs = _batches(rng, [10], 3)[0]
    w = rng.uniform(0, 2, 10)
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(labels, probs, sample_weight=w)
    hits = (labels == probs.argmax(1)).astype(float)
    assert metric.result() == pytest.approx(np.sum(hits * w) / np.sum(w), rel=1e-12)
    mean = metrics.Mean()
    mean.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 3.0])
    mean.update_state(5.0)
    assert mean.result() == pytest.approx((1 + 9 + 5) / 5)


def test_mean_of_a_number_and_its_count_is_the_weighted_sum(rng):
    # a batch's loss with its size (the fast path every training step takes) adds what
    # the array form adds: the value times the weight, and the weight
    values = rng.random(5) * 10
    counts = [3, 1, 7, 2, 5]
    fast, arrays = metrics.Mean(), metrics.Mean()
    for value, count in zip(values, counts):
        fast.update_state(float(value), sample_weight=count)
        arrays.update_state(np.array([value]), sample_weight=np.array([float(count)]))
    assert (fast.total, fast.count) == (arrays.total, arrays.count)
    np.testing.assert_allclose(fast.result(), np.average(values, weights=counts), rtol=1e-12)


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_accuracy(rng, threshold):
    metric = metrics.BinaryAccuracy(threshold=threshold)
    all_hits = []
    for n in (6, 3):
        t = rng.integers(0, 2, (n, 1)).astype(float)
        p = rng.uniform(0, 1, (n, 1))
        metric.update_state(t[:, 0], p)  # (N,) labels against (N, 1) outputs
        all_hits.extend((t[:, 0] == (p[:, 0] > threshold)))
    assert metric.result() == pytest.approx(np.mean(all_hits))
    multi = metrics.BinaryAccuracy()
    t = rng.integers(0, 2, (5, 3)).astype(float)
    p = rng.uniform(0, 1, (5, 3))
    multi.update_state(t, p)
    assert multi.result() == pytest.approx(np.mean(t == (p > 0.5)))


def test_accuracy_and_regression_metrics(rng):
    acc = metrics.Accuracy()
    acc.update_state([1, 2, 3, 4], [1, 0, 3, 0])
    assert acc.result() == 0.5
    t, p = rng.standard_normal((8, 2)), rng.standard_normal((8, 2))
    mse, mae = metrics.MeanSquaredError(), metrics.MeanAbsoluteError()
    mse.update_state(t[:3], p[:3])
    mse.update_state(t[3:], p[3:])
    mae.update_state(t, p)
    assert mse.result() == pytest.approx(np.mean((t - p) ** 2))
    assert mae.result() == pytest.approx(np.mean(np.abs(t - p)))


def test_call_updates_and_returns_result():
    metric = metrics.SparseCategoricalAccuracy()
    assert metric([0, 1], [[0.9, 0.1], [0.8, 0.2]]) == 0.5
    assert metric([1], [[0.1, 0.9]]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy", "ACC"])
@pytest.mark.parametrize("loss,output_shape,target_shape,cls", [
    ("binary_crossentropy", (None, 3), None, metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(from_logits=True), (None, 2), None, metrics.BinaryAccuracy),
    ("mse", (None, 1), None, metrics.BinaryAccuracy),
    ("sparse_categorical_crossentropy", (None, 10), None, metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(), (None, 10), None,
     metrics.SparseCategoricalAccuracy),
    ("SparseCategoricalCrossentropy", (None, 10), None, metrics.SparseCategoricalAccuracy),
    (losses.sparse_categorical_crossentropy, (None, 5), None,
     metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", (None, 10), None, metrics.CategoricalAccuracy),
    (None, (None, 10), None, metrics.CategoricalAccuracy),
    (lambda y, p: 0.0, (None, 10), (None,), metrics.SparseCategoricalAccuracy),
    (None, (None, 10), (None, 1), metrics.SparseCategoricalAccuracy),
    (None, (None, 10), (None, 10), metrics.CategoricalAccuracy),
])
def test_get_accuracy_picks_like_keras(identifier, loss, output_shape, target_shape, cls):
    metric = metrics.get(identifier, loss=loss, output_shape=output_shape,
                         target_shape=target_shape)
    assert type(metric) is cls
    assert metric.name == identifier


def test_get_crossentropy_metric(rng):
    metric = metrics.get("crossentropy", loss="sparse_categorical_crossentropy",
                         output_shape=(None, 3))
    labels, probs = _batches(rng, [6], 3)[0]
    metric.update_state(labels, probs)
    assert metric.name == "crossentropy"
    assert metric.result() == pytest.approx(
        np.mean(-np.log(probs[np.arange(6), labels])), rel=1e-6)


@pytest.mark.parametrize("identifier,cls", [
    ("categorical_accuracy", metrics.CategoricalAccuracy),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
    ("binary_accuracy", metrics.BinaryAccuracy), ("BinaryAccuracy", metrics.BinaryAccuracy),
    ("mse", metrics.MeanSquaredError), ("mean_absolute_error", metrics.MeanAbsoluteError),
    ("mae", metrics.MeanAbsoluteError),
])
def test_get_names(identifier, cls):
    metric = metrics.get(identifier)
    assert type(metric) is cls and metric.name == identifier


def test_get_other_identifiers(rng):
    assert metrics.get(None) is None
    metric = metrics.BinaryAccuracy(threshold=0.7, name="b")
    assert metrics.get(metric) is metric
    assert type(metrics.get(metrics.CategoricalAccuracy)) is metrics.CategoricalAccuracy
    rebuilt = metrics.get(metrics.serialize(metric))
    assert rebuilt.get_config() == metric.get_config() and rebuilt.threshold == 0.7

    def max_error(y_true, y_pred):
        return np.max(np.abs(np.asarray(y_true) - np.asarray(y_pred)), axis=-1)
    wrapped = metrics.get(max_error)
    assert wrapped.name == "max_error"
    t, p = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    wrapped.update_state(t, p)
    assert wrapped.result() == pytest.approx(np.mean(np.max(np.abs(t - p), -1)))
    bce = metrics.get("binary_crossentropy")
    tb, pb = rng.integers(0, 2, (5, 1)).astype(float), rng.uniform(0.1, 0.9, (5, 1))
    bce.update_state(tb, pb)
    assert bce.result() == pytest.approx(np.mean(-(tb * np.log(pb) + (1 - tb) * np.log(1 - pb))))
    with pytest.raises(ValueError, match=r"Unknown metric: 'f1'.*binary_accuracy"):
        metrics.get("f1")
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        metrics.get(3)


@pytest.mark.parametrize("metric", [
    metrics.Mean(name="m"), metrics.CategoricalAccuracy(), metrics.SparseCategoricalAccuracy(),
    metrics.BinaryAccuracy(threshold=0.2), metrics.Accuracy(), metrics.MeanSquaredError(),
])
def test_config_round_trip(metric):
    assert type(metric).from_config(metric.get_config()).get_config() == metric.get_config()


def test_default_names_match_keras():
    assert metrics.CategoricalAccuracy().name == "categorical_accuracy"
    assert metrics.SparseCategoricalAccuracy().name == "sparse_categorical_accuracy"
    assert metrics.BinaryAccuracy().name == "binary_accuracy"
    assert metrics.Mean().name == "mean"
    assert metrics.BinaryAccuracy().threshold == 0.5


def test_errors():
    with pytest.raises(ValueError, match=r"categorical_accuracy: 'y_true' must be one-hot.*"
                                         r"y_true.shape=\(2,\)"):
        metrics.CategoricalAccuracy().update_state([0, 1], [[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="same batch size"):
        metrics.SparseCategoricalAccuracy().update_state([0, 1, 1], [[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="sparse_categorical_accuracy: 'y_true' must hold one"):
        metrics.SparseCategoricalAccuracy().update_state([[0, 1], [1, 0]], [[0.5, 0.5],
                                                                           [0.1, 0.9]])
    with pytest.raises(ValueError, match="BinaryAccuracy: argument 'threshold'"):
        metrics.BinaryAccuracy(threshold="half")
    with pytest.raises(ValueError, match="Mean: argument 'sample_weight' must have one weight"):
        metrics.Mean().update_state([1.0, 2.0], sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="'values' must be a real numeric array"):
        metrics.Mean().update_state(["a"])
