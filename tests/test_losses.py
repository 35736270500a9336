"""minidl.losses against float64 NumPy formulas (Keras semantics), gradients against
central differences, the fused softmax path against the unfused one, get() and errors."""
import numpy as np
import pytest

import minidl
from gradcheck import numerical_gradient
from minidl import losses

EPS = 1e-7
F64 = dict(rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- NumPy references


def ref_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ref_cce(t, p):
    p = p / p.sum(axis=-1, keepdims=True)
    return -np.sum(t * np.log(np.clip(p, EPS, 1 - EPS)), axis=-1)


def ref_cce_logits(t, z):
    log_softmax = z - z.max(axis=-1, keepdims=True)
    log_softmax = log_softmax - np.log(np.exp(log_softmax).sum(axis=-1, keepdims=True))
    return -np.sum(t * log_softmax, axis=-1)


def ref_bce(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), axis=-1)


def ref_bce_logits(t, z):
    s = 1 / (1 + np.exp(-z))
    return np.mean(-(t * np.log(s) + (1 - t) * np.log(1 - s)), axis=-1)


def _probs(rng, n, c):
    """Positive, unnormalised 'probabilities' well inside the clip."""
    return rng.uniform(0.1, 1.0, (n, c))


def _one_hot(rng, n, c):
    return np.eye(c)[rng.integers(0, c, n)]


def _check_gradient(loss, y_true, y_pred, **kwargs):
    """The analytic gradient of the reduced loss against central differences."""
    analytic = loss.gradient(y_true, y_pred, **kwargs)
    assert analytic.shape == np.shape(y_pred)
    numeric = numerical_gradient(lambda p: loss(y_true, p, **kwargs), y_pred, 1.0)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("n,c", [(1, 2), (5, 3), (17, 10)])
def test_categorical_crossentropy_values(rng, n, c):
    t, p, z = _one_hot(rng, n, c), _probs(rng, n, c), rng.standard_normal((n, c)) * 3
    np.testing.assert_allclose(losses.categorical_crossentropy(t, p), ref_cce(t, p), **F64)
    np.testing.assert_allclose(losses.categorical_crossentropy(t, z, from_logits=True),
                               ref_cce_logits(t, z), **F64)
    loss = losses.CategoricalCrossentropy()
    np.testing.assert_allclose(loss.compute(t, p), ref_cce(t, p), **F64)
    value = loss(t, p)
    assert isinstance(value, float)
    assert value == pytest.approx(ref_cce(t, p).mean(), rel=1e-12)
    soft = rng.dirichlet(np.ones(c), n)  # probability targets, not one-hot
    assert losses.CategoricalCrossentropy(from_logits=True)(soft, z) == \
        pytest.approx(ref_cce_logits(soft, z).mean(), rel=1e-12)


def test_categorical_clip(rng):
    t = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    p = np.array([[0.0, 0.5, 0.5], [1e-12, 1.0, 0.0]])
    np.testing.assert_allclose(losses.categorical_crossentropy(t, p), ref_cce(t, p), **F64)
    assert losses.categorical_crossentropy(t, p)[0] == pytest.approx(-np.log(EPS))


def test_label_smoothing(rng):
    t, p = _one_hot(rng, 6, 4), _probs(rng, 6, 4)
    smooth = t * 0.8 + 0.2 / 4
    np.testing.assert_allclose(losses.CategoricalCrossentropy(label_smoothing=0.2).compute(t, p),
                               ref_cce(smooth, p), **F64)
    tb, pb = rng.integers(0, 2, (6, 3)).astype(float), rng.uniform(0.05, 0.95, (6, 3))
    np.testing.assert_allclose(losses.BinaryCrossentropy(label_smoothing=0.2).compute(tb, pb),
                               ref_bce(tb * 0.8 + 0.1, pb), **F64)


@pytest.mark.parametrize("shape_labels", ["flat", "column"])
def test_sparse_categorical_crossentropy_values(rng, shape_labels):
    n, c = 9, 5
    labels = rng.integers(0, c, n)
    y = labels[:, None] if shape_labels == "column" else labels
    p, z = _probs(rng, n, c), rng.standard_normal((n, c)) * 3
    t = np.eye(c)[labels]
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(y, p), ref_cce(t, p), **F64)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(y, z, from_logits=True),
                               ref_cce_logits(t, z), **F64)
    assert losses.SparseCategoricalCrossentropy()(y, p) == pytest.approx(ref_cce(t, p).mean())
    # whole-number float labels are class indices too
    assert losses.SparseCategoricalCrossentropy()(y.astype(float), p) == \
        pytest.approx(ref_cce(t, p).mean())


def test_binary_crossentropy_values(rng):
    t = rng.integers(0, 2, (7, 3)).astype(float)
    p = rng.uniform(0.0, 1.0, (7, 3))
    p[0, 0], p[1, 1] = 0.0, 1.0  # clipped
    np.testing.assert_allclose(losses.binary_crossentropy(t, p), ref_bce(t, p), **F64)
    z = rng.standard_normal((7, 3)) * 4
    np.testing.assert_allclose(losses.binary_crossentropy(t, z, from_logits=True),
                               ref_bce_logits(t, z), **F64)
    # the stable formula stays finite where the naive one overflows
    big = np.array([[800.0, -800.0]])
    np.testing.assert_allclose(losses.binary_crossentropy([[0.0, 1.0]], big, from_logits=True),
                               [800.0], rtol=1e-12)
    # (N,) targets against (N, 1) outputs, as Keras squeezes them
    loss = losses.BinaryCrossentropy()
    assert loss(t[:, 0], p[:, :1]) == pytest.approx(ref_bce(t[:, :1], p[:, :1]).mean())
    assert loss(t[:, :1], p[:, 0]) == pytest.approx(ref_bce(t[:, :1], p[:, :1]).mean())


def test_mean_squared_and_absolute_error(rng):
    t, p = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    np.testing.assert_allclose(losses.mean_squared_error(t, p), np.mean((t - p) ** 2, -1), **F64)
    np.testing.assert_allclose(losses.mse(t, p), np.mean((t - p) ** 2, -1), **F64)
    np.testing.assert_allclose(losses.mean_absolute_error(t, p), np.mean(np.abs(t - p), -1),
                               **F64)
    assert losses.MeanSquaredError()(t, p) == pytest.approx(np.mean((t - p) ** 2))
    # 1-D regression targets and outputs: one value per sample
    assert losses.MeanSquaredError().compute(t[:, 0], p[:, 0]).shape == (6,)
    assert losses.MeanSquaredError()(t[:, 0], p[:, :1]) == pytest.approx(
        np.mean((t[:, 0] - p[:, 0]) ** 2))


def test_float32_inputs_stay_float32(rng):
    t, p = _one_hot(rng, 4, 3).astype(np.float32), _probs(rng, 4, 3).astype(np.float32)
    for loss in (losses.CategoricalCrossentropy(), losses.BinaryCrossentropy(),
                 losses.MeanSquaredError()):
        assert loss.compute(t, p).dtype == np.float32
        assert loss.gradient(t, p).dtype == np.float32
        np.testing.assert_allclose(loss(t, p), loss(t.astype(float), p.astype(float)),
                                   rtol=1e-5)


def test_rank3_inputs(rng):
    t = np.eye(4)[rng.integers(0, 4, (3, 5))]
    p = rng.uniform(0.1, 1, (3, 5, 4))
    loss = losses.CategoricalCrossentropy()
    np.testing.assert_allclose(loss.compute(t, p), ref_cce(t, p), **F64)
    assert loss(t, p) == pytest.approx(ref_cce(t, p).mean())
    _check_gradient(loss, t, p)
    sparse = losses.SparseCategoricalCrossentropy()
    np.testing.assert_allclose(sparse.compute(t.argmax(-1), p), ref_cce(t, p), **F64)
    _check_gradient(sparse, t.argmax(-1), p)


def test_class_axis_zero(rng):
    t, p = _one_hot(rng, 6, 3), _probs(rng, 6, 3)
    loss = losses.CategoricalCrossentropy(axis=0)
    # C-contiguous copies: gradcheck perturbs x through a flat view of its copy
    np.testing.assert_allclose(loss.compute(t.T, p.T), ref_cce(t, p), **F64)
    _check_gradient(loss, np.ascontiguousarray(t.T), np.ascontiguousarray(p.T))


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("make", [
    lambda: losses.CategoricalCrossentropy(),
    lambda: losses.CategoricalCrossentropy(from_logits=True),
    lambda: losses.CategoricalCrossentropy(label_smoothing=0.1),
])
def test_categorical_gradients(rng, make):
    t = _one_hot(rng, 5, 4)
    pred = rng.standard_normal((5, 4)) if make().from_logits else _probs(rng, 5, 4)
    _check_gradient(make(), t, pred)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_gradients(rng, from_logits):
    labels = rng.integers(0, 4, (6, 1))
    pred = rng.standard_normal((6, 4)) if from_logits else _probs(rng, 6, 4)
    _check_gradient(losses.SparseCategoricalCrossentropy(from_logits=from_logits), labels, pred)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_gradients(rng, from_logits):
    t = rng.uniform(0, 1, (5, 3))  # soft targets too
    pred = rng.standard_normal((5, 3)) * 2 if from_logits else rng.uniform(0.05, 0.95, (5, 3))
    _check_gradient(losses.BinaryCrossentropy(from_logits=from_logits), t, pred)
    _check_gradient(losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=0.3),
                    t, pred)
    _check_gradient(losses.BinaryCrossentropy(from_logits=from_logits), t[:, 0], pred[:, :1])


def test_binary_gradient_zero_outside_clip():
    grad = losses.BinaryCrossentropy().gradient([[1.0, 0.0]], [[0.0, 0.5]])
    assert grad[0, 0] == 0.0 and grad[0, 1] == pytest.approx(1 / 0.5 / 2)


def test_regression_gradients(rng):
    t, p = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    _check_gradient(losses.MeanSquaredError(), t, p)
    _check_gradient(losses.MeanAbsoluteError(), t, p)  # random: no |error| near 0
    _check_gradient(losses.MeanSquaredError(), t[:, 0], p[:, 0])


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean",
                                       "mean_with_sample_weight"])
def test_reductions_and_sample_weights(rng, reduction):
    t, p = _one_hot(rng, 6, 3), _probs(rng, 6, 3)
    w = rng.uniform(0.5, 2.0, 6)
    loss = losses.CategoricalCrossentropy(reduction=reduction)
    per_sample = ref_cce(t, p)
    want = {"sum_over_batch_size": np.sum(per_sample * w) / 6, "mean": np.sum(per_sample * w) / 6,
            "sum": np.sum(per_sample * w),
            "mean_with_sample_weight": np.sum(per_sample * w) / np.sum(w)}[reduction]
    assert loss(t, p, sample_weight=w) == pytest.approx(want, rel=1e-12)
    assert loss(t, p, sample_weight=w[:, None]) == pytest.approx(want, rel=1e-12)
    _check_gradient(loss, t, p, sample_weight=w)
    _check_gradient(losses.MeanSquaredError(reduction=reduction), t, p, sample_weight=w)


def test_reduction_none(rng):
    t, p = _one_hot(rng, 4, 3), _probs(rng, 4, 3)
    loss = losses.CategoricalCrossentropy(reduction=None)
    np.testing.assert_allclose(loss(t, p), ref_cce(t, p), **F64)
    summed = losses.CategoricalCrossentropy(reduction="sum")
    np.testing.assert_allclose(loss.gradient(t, p), summed.gradient(t, p), **F64)


# ---------------------------------------------------------------- fused softmax


def test_fused_flags():
    assert losses.CategoricalCrossentropy().supports_fused_softmax
    assert losses.SparseCategoricalCrossentropy().supports_fused_softmax
    assert not losses.CategoricalCrossentropy(from_logits=True).supports_fused_softmax
    assert not losses.BinaryCrossentropy().supports_fused_softmax
    assert not losses.MeanSquaredError().supports_fused_softmax


def _through_softmax(grad_probs, probs):
    """d/dlogits from d/dprobs: the softmax Jacobian-vector product."""
    return probs * (grad_probs - np.sum(grad_probs * probs, axis=-1, keepdims=True))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_fused_equals_unfused_categorical(rng, label_smoothing):
    logits = rng.standard_normal((8, 5)) * 2
    t = _one_hot(rng, 8, 5)
    w = rng.uniform(0.5, 1.5, 8)
    loss = losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    probs = ref_softmax(logits)
    fused_loss, fused_grad = loss.fused_softmax(t, logits, sample_weight=w)
    np.testing.assert_allclose(fused_loss, loss.compute(t, probs), rtol=1e-9, atol=1e-12)
    unfused = _through_softmax(loss.gradient(t, probs, sample_weight=w), probs)
    np.testing.assert_allclose(fused_grad, unfused, rtol=1e-8, atol=1e-12)
    numeric = numerical_gradient(lambda z: loss(t, ref_softmax(z), sample_weight=w), logits, 1.0)
    np.testing.assert_allclose(fused_grad, numeric, rtol=1e-6, atol=1e-9)


def test_fused_equals_unfused_sparse(rng):
    logits = rng.standard_normal((7, 4)) * 2
    labels = rng.integers(0, 4, 7)
    loss = losses.SparseCategoricalCrossentropy()
    probs = ref_softmax(logits)
    fused_loss, fused_grad = loss.fused_softmax(labels, logits)
    np.testing.assert_allclose(fused_loss, loss.compute(labels, probs), rtol=1e-9, atol=1e-12)
    unfused = _through_softmax(loss.gradient(labels, probs), probs)
    np.testing.assert_allclose(fused_grad, unfused, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fused_grad, (probs - np.eye(4)[labels]) / 7, rtol=1e-10,
                               atol=1e-14)


def test_fused_is_stable_for_large_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 2000.0, 0.0]], dtype=np.float32)
    loss, grad = losses.SparseCategoricalCrossentropy().fused_softmax([2, 1], logits)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert loss[0] == pytest.approx(2000.0) and loss[1] == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- get, config, errors


@pytest.mark.parametrize("identifier,cls", [
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("mean_squared_error", losses.MeanSquaredError), ("mse", losses.MeanSquaredError),
    ("MSE", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("CategoricalCrossentropy", losses.CategoricalCrossentropy),
    ("BinaryCrossentropy", losses.BinaryCrossentropy),
    (losses.categorical_crossentropy, losses.CategoricalCrossentropy),
    (losses.mse, losses.MeanSquaredError),
    (losses.SparseCategoricalCrossentropy, losses.SparseCategoricalCrossentropy),
])
def test_get(identifier, cls):
    assert type(losses.get(identifier)) is cls


def test_get_other_identifiers(rng):
    assert losses.get(None) is None
    loss = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(loss) is loss
    rebuilt = losses.get({"class_name": "CategoricalCrossentropy",
                          "config": {"from_logits": True, "label_smoothing": 0.1}})
    assert rebuilt.from_logits and rebuilt.label_smoothing == 0.1

    def my_loss(y_true, y_pred):
        return np.sum(np.abs(np.asarray(y_true) - np.asarray(y_pred)), axis=-1)
    wrapped = losses.get(my_loss)
    assert isinstance(wrapped, losses.Loss) and wrapped.name == "my_loss"
    t, p = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    assert wrapped(t, p) == pytest.approx(np.mean(np.sum(np.abs(t - p), -1)))
    with pytest.raises(NotImplementedError, match="'my_loss': cannot differentiate.*asarray"):
        wrapped.gradient(t, p)  # np.asarray leaves the recorded operations
    with pytest.raises(ValueError, match="Unknown loss: 'hinge'.*categorical_crossentropy"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        losses.get(5)


@pytest.mark.parametrize("loss", [
    losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2, reduction="sum"),
    losses.SparseCategoricalCrossentropy(name="sce"),
    losses.BinaryCrossentropy(label_smoothing=0.1),
    losses.MeanSquaredError(reduction="none"), losses.MeanAbsoluteError(),
])
def test_config_round_trip(loss):
    assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()
    assert losses.deserialize(losses.serialize(loss)).get_config() == loss.get_config()


def test_names_match_keras():
    assert losses.CategoricalCrossentropy().name == "categorical_crossentropy"
    assert losses.SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    assert losses.BinaryCrossentropy().name == "binary_crossentropy"
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.CategoricalCrossentropy().reduction == "sum_over_batch_size"


def test_shape_errors(rng):
    p = _probs(rng, 4, 3)
    with pytest.raises(ValueError, match=r"CategoricalCrossentropy: 'y_true' must be one-hot.*"
                                         r"y_true.shape=\(4, 5\), y_pred.shape=\(4, 3\)"):
        losses.CategoricalCrossentropy()(np.zeros((4, 5)), p)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.CategoricalCrossentropy()(np.array([0, 1, 2, 0]), p)
    with pytest.raises(ValueError, match=r"same batch size.*y_true.shape=\(5, 3\).*"
                                         r"y_pred.shape=\(4, 3\)"):
        losses.CategoricalCrossentropy()(np.zeros((5, 3)), p)
    with pytest.raises(ValueError, match="same batch size"):
        losses.SparseCategoricalCrossentropy()(np.zeros(5, int), p)
    with pytest.raises(ValueError, match="same batch size"):
        losses.MeanSquaredError()(np.zeros((5, 3)), p)
    with pytest.raises(ValueError, match=r"MeanSquaredError: 'y_true' and 'y_pred' must have "
                                         r"the same shape"):
        losses.MeanSquaredError()(np.zeros((4, 2)), p)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\). Received: 3"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 1, 3, 0]), p)
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\). Received: -1"):
        losses.SparseCategoricalCrossentropy().fused_softmax(np.array([0, -1, 2, 0]), p)
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy: 'y_true' must hold "
                                         "one class index per sample"):
        losses.SparseCategoricalCrossentropy()(np.zeros((4, 3), int), p)
    with pytest.raises(ValueError, match="'sample_weight' must have one weight per sample"):
        losses.MeanSquaredError()(p, p, sample_weight=np.ones(3))
    with pytest.raises(TypeError, match="'y_pred' must be a real numeric array"):
        losses.MeanSquaredError()(p, np.array([["a"]]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="CategoricalCrossentropy: argument 'reduction'.*"
                                         "Received: reduction='avg'"):
        losses.CategoricalCrossentropy(reduction="avg")
    with pytest.raises(ValueError, match="'label_smoothing' must be a number in"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="only axis=-1"):
        losses.BinaryCrossentropy(axis=0)
    with pytest.raises(ValueError, match="argument 'axis'"):
        losses.CategoricalCrossentropy(axis=3)(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(TypeError, match="losses.serialize"):
        losses.serialize("mse")


def test_a_keras_style_subclass_implementing_call_evaluates():
    """Keras 3 subclasses implement ``call``; minidl's ``compute`` delegates to it (the
    value against NumPy; training needs ``_gradient``: no automatic differentiation)."""
    class MeanCubedError(losses.Loss):
        def call(self, y_true, y_pred):
            return (np.abs(y_pred - y_true) ** 3).mean(axis=-1)
    y_true, y_pred = np.zeros((3, 2)), np.arange(6.0).reshape(3, 2)
    loss = MeanCubedError()
    assert loss(y_true, y_pred) == pytest.approx(np.mean(np.abs(y_pred) ** 3))
    np.testing.assert_allclose(loss.compute(y_true, y_pred), (y_pred ** 3).mean(axis=-1))
    with pytest.raises(NotImplementedError, match="compute"):
        losses.Loss()(y_true, y_pred)


def test_losses_written_with_numpy_or_the_backend_are_differentiated():
    """A plain function (wrapped), a Keras-style subclass with only ``call``, and the
    Keras 2 backend spellings: their gradients against central differences, and a model
    trains on one."""
    from minidl import backend as K

    def rmse(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))

    class LogCosh(losses.Loss):
        def call(self, y_true, y_pred):
            error = y_pred - y_true
            return np.mean(error + np.log1p(np.exp(-2 * error)) - np.log(2.0), axis=-1)

    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    weights = rng.uniform(size=5)
    for loss in (losses.get(rmse), LogCosh()):
        analytic = loss.gradient(t, p, sample_weight=weights)
        numeric = numerical_gradient(lambda a: loss(t, a, sample_weight=weights), p,
                                     np.array(1.0))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(1)])
    model.compile(optimizer=minidl.optimizers.Adam(0.05), loss=rmse)
    x = rng.normal(size=(64, 3))
    history = model.fit(x, x @ np.array([[1.0], [2.0], [-1.0]]), epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
