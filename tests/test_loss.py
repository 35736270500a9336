"""Losses (csrc/loss.c) through minidl.ops, against tests/reference.py."""
import warnings

import numpy as np
import pytest

import minidl
from minidl import _C, ops

import reference as ref
from conftest import TOL
from gradcheck import assert_gradient

SHAPES = [(1, 1), (1, 3), (5, 2), (4, 7), (3, 16), (2, 33)]
EPS = 1e-7


def random_targets(rng, n, c):
    """Random target distributions (rows sum to 1, some exact zeros)."""
    t = rng.uniform(0.0, 1.0, size=(n, c))
    t[rng.uniform(size=(n, c)) < 0.3] = 0.0
    t[:, 0] += 0.1
    return t / t.sum(axis=1, keepdims=True)


def random_probs(rng, n, c, scale=1.0):
    """Positive 'probabilities' whose rows do NOT sum to 1 (the renormalisation matters)."""
    return rng.uniform(0.2, 1.0, size=(n, c)) * scale


# ---------------------------------------------------------------- forward values


@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_cross_entropy_matches_reference(shape, dtype, rng):
    logits = (rng.standard_normal(shape) * 3).astype(dtype)
    targets = random_targets(rng, *shape).astype(dtype)
    loss, probs = ops.softmax_cross_entropy(logits, targets)
    want_loss, want_probs = ref.softmax_cross_entropy(logits, targets)
    assert loss.shape == (shape[0],) and loss.dtype == dtype and probs.dtype == dtype
    np.testing.assert_allclose(loss, want_loss, **TOL[dtype])
    np.testing.assert_allclose(probs, want_probs, **TOL[dtype])
    np.testing.assert_array_equal(
        ops.categorical_crossentropy(targets, logits, from_logits=True), loss)


@pytest.mark.parametrize("shape", SHAPES)
def test_sparse_softmax_cross_entropy_matches_reference(shape, dtype, rng):
    logits = (rng.standard_normal(shape) * 3).astype(dtype)
    labels = rng.integers(0, shape[1], size=shape[0])
    loss, probs = ops.sparse_softmax_cross_entropy(logits, labels)
    want_loss, want_probs = ref.sparse_softmax_cross_entropy(logits, labels)
    np.testing.assert_allclose(loss, want_loss, **TOL[dtype])
    np.testing.assert_allclose(probs, want_probs, **TOL[dtype])
    # one-hot dense targets give the same loss
    dense, _ = ops.softmax_cross_entropy(logits, ref.one_hot(labels, shape[1]))
    np.testing.assert_allclose(loss, dense, **TOL[dtype])
    np.testing.assert_array_equal(
        ops.sparse_categorical_crossentropy(labels, logits, from_logits=True), loss)


@pytest.mark.parametrize("shape", SHAPES)
def test_categorical_crossentropy_matches_reference(shape, dtype, rng):
    output = random_probs(rng, *shape).astype(dtype)
    target = random_targets(rng, *shape).astype(dtype)
    loss = ops.categorical_crossentropy(target, output)
    assert loss.shape == (shape[0],) and loss.dtype == dtype
    np.testing.assert_allclose(loss, ref.categorical_crossentropy(target, output), **TOL[dtype])


def test_sparse_categorical_crossentropy_matches_reference(dtype, rng):
    output = random_probs(rng, 6, 5).astype(dtype)
    labels = rng.integers(0, 5, size=6)
    loss = ops.sparse_categorical_crossentropy(labels, output)
    want = ref.categorical_crossentropy(ref.one_hot(labels, 5), output)
    np.testing.assert_allclose(loss, want, **TOL[dtype])


def test_categorical_axis_zero(dtype, rng):
    output = random_probs(rng, 4, 3).astype(dtype)
    target = random_targets(rng, 4, 3).astype(dtype)
    loss = ops.categorical_crossentropy(target.T, output.T, axis=0)
    np.testing.assert_allclose(loss, ref.categorical_crossentropy(target, output), **TOL[dtype])
    dloss = rng.standard_normal(4).astype(dtype)
    d0 = ops.categorical_crossentropy_backward(dloss, target.T, output.T, axis=0)
    d1 = ops.categorical_crossentropy_backward(dloss, target, output)
    np.testing.assert_array_equal(d0, d1.T)


# ---------------------------------------------------------------- stability


def test_softmax_cross_entropy_large_logits(dtype):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [1e4, 1e4, -1e4]], dtype=dtype)
    targets = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, probs = ops.softmax_cross_entropy(logits, targets)
        sparse_loss, _ = ops.sparse_softmax_cross_entropy(logits, [2, 0, 1])
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(probs))
    np.testing.assert_allclose(loss, [1e4, 1e4, np.log(2.0)], **TOL[dtype])
    np.testing.assert_allclose(sparse_loss, [2e4, 2e4, np.log(2.0)], **TOL[dtype])
    np.testing.assert_allclose(loss, ref.softmax_cross_entropy(logits, targets)[0], **TOL[dtype])
    dlogits = ops.softmax_cross_entropy_backward(np.ones(3, dtype), probs, targets)
    assert np.all(np.isfinite(dlogits))


def test_softmax_cross_entropy_ignores_minus_inf_with_zero_target(dtype):
    logits = np.array([[0.0, -np.inf, 1.0]], dtype=dtype)
    loss, probs = ops.softmax_cross_entropy(logits, np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(loss, [np.log1p(np.e)], **TOL[dtype])
    assert probs[0, 1] == 0.0


def test_categorical_tiny_and_zero_probabilities(dtype):
    output = np.array([[1e-30, 0.0, 1.0], [0.5, 0.5, 0.0], [1.0, 1e-12, 1e-12]], dtype=dtype)
    target = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = ops.categorical_crossentropy(target, output)
        grad = ops.categorical_crossentropy_backward(np.ones(3, dtype), target, output)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    # clipped from below to eps: -log(1e-7); from above to 1 - eps: -log(1 - 1e-7)
    np.testing.assert_allclose(loss, [-np.log(EPS), -np.log(EPS), -np.log(1.0 - EPS)],
                               rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(loss, ref.categorical_crossentropy(target, output),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


# ---------------------------------------------------------------- gradients (float64)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 5), (4, 2)])
def test_softmax_cross_entropy_gradcheck(shape, rng):
    logits = rng.standard_normal(shape) * 2
    targets = random_targets(rng, *shape) * rng.uniform(0.5, 2.0)  # rows need not sum to 1
    dloss = rng.standard_normal(shape[0])
    _, probs = ops.softmax_cross_entropy(logits, targets)
    dlogits = ops.softmax_cross_entropy_backward(dloss, probs, targets)
    assert_gradient(lambda z: ops.softmax_cross_entropy(z, targets)[0], logits, dloss, dlogits)
    np.testing.assert_allclose(dlogits, ref.softmax_cross_entropy_backward(dloss, logits, targets),
                               **TOL[np.float64])
    d_keras = ops.categorical_crossentropy_backward(dloss, targets, logits, from_logits=True)
    np.testing.assert_allclose(d_keras, dlogits, **TOL[np.float64])


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 5), (5, 3)])
def test_sparse_softmax_cross_entropy_gradcheck(shape, rng):
    logits = rng.standard_normal(shape) * 2
    labels = rng.integers(0, shape[1], size=(shape[0], 1))
    dloss = rng.standard_normal(shape[0])
    _, probs = ops.sparse_softmax_cross_entropy(logits, labels)
    dlogits = ops.sparse_softmax_cross_entropy_backward(dloss, probs, labels)
    assert_gradient(lambda z: ops.sparse_softmax_cross_entropy(z, labels)[0], logits, dloss,
                    dlogits)
    d_keras = ops.sparse_categorical_crossentropy_backward(dloss, labels, logits,
                                                           from_logits=True)
    np.testing.assert_allclose(d_keras, dlogits, **TOL[np.float64])


@pytest.mark.parametrize("shape", [(1, 2), (3, 5), (4, 3)])
def test_categorical_crossentropy_gradcheck(shape, rng):
    output = random_probs(rng, *shape)
    target = random_targets(rng, *shape)
    dloss = rng.standard_normal(shape[0])
    grad = ops.categorical_crossentropy_backward(dloss, target, output)
    assert_gradient(lambda p: ops.categorical_crossentropy(target, p), output, dloss, grad)
    np.testing.assert_allclose(grad, ref.categorical_crossentropy_backward(dloss, target, output),
                               **TOL[np.float64])


def test_sparse_categorical_crossentropy_gradcheck(rng):
    output = random_probs(rng, 4, 3)
    labels = rng.integers(0, 3, size=4)
    dloss = rng.standard_normal(4)
    grad = ops.sparse_categorical_crossentropy_backward(dloss, labels, output)
    assert_gradient(lambda p: ops.sparse_categorical_crossentropy(labels, p), output, dloss,
                    grad)


def test_categorical_clip_passes_no_gradient_in_c(rng):
    """With a wide clip (eps = 0.05) both clipped sides are crossed by ordinary entries;
    the C gradient must match central differences of the C forward away from the edges."""
    eps = 0.05
    output = np.array([[0.01, 0.5, 0.3, 0.19],     # q = 0.01 < eps (clipped low)
                       [10.0, 0.1, 0.1, 0.1],      # q0 > 1 - eps (clipped high)
                       [0.3, 0.3, 0.2, 0.2]])      # nothing clipped
    target = random_targets(rng, 3, 4) + 0.05
    dloss = rng.standard_normal(3)

    def forward(p):
        loss = np.empty(3)
        _C.categorical_xent_forward(loss, np.ascontiguousarray(p), target, eps)
        return loss

    grad = np.empty_like(output)
    _C.categorical_xent_backward(grad, dloss, output, target, eps)
    np.testing.assert_allclose(forward(output), ref.categorical_crossentropy(target, output, eps),
                               **TOL[np.float64])
    assert_gradient(forward, output, dloss, grad)
    np.testing.assert_allclose(grad, ref.categorical_crossentropy_backward(dloss, target, output,
                                                                           eps),
                               **TOL[np.float64])
    # the clipped entry gets only the renormalisation term (T_in / S), not -t/q
    s = output[0].sum()
    t_in = target[0, 1:].sum()
    np.testing.assert_allclose(grad[0, 0], dloss[0] * t_in / s, rtol=1e-12)


def test_categorical_clip_with_keras_epsilon(rng):
    """The default 1e-7 clip: gradcheck with a step small enough to stay clipped."""
    output = np.array([[1e-9, 0.6, 0.4], [1.0, 1e-9, 2e-9], [0.2, 0.3, 0.5]])
    target = np.array([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])
    dloss = rng.standard_normal(3)
    grad = ops.categorical_crossentropy_backward(dloss, target, output)
    assert_gradient(lambda p: ops.categorical_crossentropy(target, p), output, dloss, grad,
                    rtol=1e-4, atol=1e-4, eps=1e-11)
    np.testing.assert_allclose(grad, ref.categorical_crossentropy_backward(dloss, target, output),
                               **TOL[np.float64])


@pytest.mark.parametrize("kind", ["dense", "sparse", "categorical"])
def test_backward_matches_float64_in_float32(kind, rng):
    shape = (5, 6)
    dloss = rng.standard_normal(5)
    if kind == "dense":
        logits, t = rng.standard_normal(shape), random_targets(rng, *shape)
        run = lambda dt: ops.softmax_cross_entropy_backward(  # noqa: E731
            dloss.astype(dt), ops.softmax_cross_entropy(logits.astype(dt), t)[1], t)
    elif kind == "sparse":
        logits, labels = rng.standard_normal(shape), rng.integers(0, 6, 5)
        run = lambda dt: ops.sparse_softmax_cross_entropy_backward(  # noqa: E731
            dloss.astype(dt), ops.sparse_softmax_cross_entropy(logits.astype(dt), labels)[1],
            labels)
    else:
        output, t = random_probs(rng, *shape), random_targets(rng, *shape)
        run = lambda dt: ops.categorical_crossentropy_backward(  # noqa: E731
            dloss.astype(dt), t, output.astype(dt))
    g32, g64 = run(np.float32), run(np.float64)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- threads, determinism, layouts


@pytest.mark.parametrize("kind", ["dense", "sparse", "categorical"])
def test_one_and_two_threads_bit_identical(kind, dtype, rng, threads):
    n, c = 700, 50  # 35000 values, above the parallel threshold
    logits = (rng.standard_normal((n, c)) * 3).astype(dtype)
    targets = random_targets(rng, n, c).astype(dtype)
    labels = rng.integers(0, c, size=n)
    dloss = rng.standard_normal(n).astype(dtype)
    probs_in = random_probs(rng, n, c).astype(dtype)

    def run():
        if kind == "dense":
            loss, probs = ops.softmax_cross_entropy(logits, targets)
            return loss, ops.softmax_cross_entropy_backward(dloss, probs, targets)
        if kind == "sparse":
            loss, probs = ops.sparse_softmax_cross_entropy(logits, labels)
            return loss, ops.sparse_softmax_cross_entropy_backward(dloss, probs, labels)
        return (ops.categorical_crossentropy(targets, probs_in),
                ops.categorical_crossentropy_backward(dloss, targets, probs_in))

    results = []
    for nt in (1, 2, 2):
        minidl.set_num_threads(nt)
        results.append(run())
    for loss, grad in results[1:]:
        np.testing.assert_array_equal(loss, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])
    if kind == "categorical":  # spot-check the big case against the reference
        want = ref.categorical_crossentropy(targets[:20], probs_in[:20])
        np.testing.assert_allclose(results[0][0][:20], want, **TOL[dtype])


def test_non_contiguous_and_read_only_inputs(dtype, rng):
    logits = (rng.standard_normal((8, 10)) * 2).astype(dtype)[::2, 1::2]
    targets = np.asfortranarray(random_targets(rng, 4, 5).astype(dtype))
    assert not logits.flags.c_contiguous and not targets.flags.c_contiguous
    loss, probs = ops.softmax_cross_entropy(logits, targets)
    want_loss, want_probs = ref.softmax_cross_entropy(logits, targets)
    np.testing.assert_allclose(loss, want_loss, **TOL[dtype])
    ro = np.ascontiguousarray(logits)
    ro.setflags(write=False)
    labels = np.array([0, 4, 2, 1])
    labels.setflags(write=False)
    sloss, sprobs = ops.sparse_softmax_cross_entropy(ro, labels[::-1])
    np.testing.assert_allclose(sloss, ref.sparse_softmax_cross_entropy(ro, labels[::-1])[0],
                               **TOL[dtype])
    sprobs.setflags(write=False)
    dloss = np.ones(8, dtype=dtype)[::2]
    ops.sparse_softmax_cross_entropy_backward(dloss, sprobs, labels[::-1])
    out = random_probs(rng, 5, 4).astype(dtype).T  # (4, 5) non-contiguous
    np.testing.assert_allclose(ops.categorical_crossentropy(targets, out),
                               ref.categorical_crossentropy(targets, out), **TOL[dtype])


def test_repeated_runs_bit_identical(rng):
    logits = rng.standard_normal((40, 9)).astype(np.float32)
    labels = rng.integers(0, 9, 40)
    first = ops.sparse_softmax_cross_entropy(logits, labels)
    for _ in range(3):
        again = ops.sparse_softmax_cross_entropy(logits, labels)
        np.testing.assert_array_equal(again[0], first[0])
        np.testing.assert_array_equal(again[1], first[1])


# ---------------------------------------------------------------- labels


def test_labels_accept_whole_floats_and_column_shape(dtype, rng):
    logits = rng.standard_normal((4, 3)).astype(dtype)
    base, _ = ops.sparse_softmax_cross_entropy(logits, np.array([0, 2, 1, 2]))
    for labels in (np.array([0.0, 2.0, 1.0, 2.0]), np.array([[0], [2], [1], [2]]),
                   np.array([0, 2, 1, 2], dtype=np.uint8), [0, 2, 1, 2]):
        np.testing.assert_array_equal(ops.sparse_softmax_cross_entropy(logits, labels)[0], base)


@pytest.mark.parametrize("bad,shown", [([0, 3, 1], "3"), ([-1, 0, 0], "-1"),
                                       ([0.0, 1.0, 7.0], "7.0")])
def test_labels_out_of_range(bad, shown):
    logits = np.zeros((3, 3))
    pattern = (rf"sparse_softmax_cross_entropy: argument 'labels'.*\[0, 3\).*"
               rf"Received: {shown}")
    with pytest.raises(ValueError, match=pattern):
        ops.sparse_softmax_cross_entropy(logits, bad)
    with pytest.raises(ValueError, match="sparse_softmax_cross_entropy_backward: argument "
                                         "'labels'"):
        ops.sparse_softmax_cross_entropy_backward(np.ones(3), logits, bad)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: argument 'target'"):
        ops.sparse_categorical_crossentropy(bad, logits + 1.0)


@pytest.mark.parametrize("bad", [[0.5, 1.0, 2.0], [np.nan, 0, 1], [True, False, True],
                                 ["a", "b", "c"]])
def test_labels_wrong_type(bad):
    with pytest.raises(TypeError, match="sparse_softmax_cross_entropy: argument 'labels'"):
        ops.sparse_softmax_cross_entropy(np.zeros((3, 3)), bad)


def test_labels_wrong_shape():
    with pytest.raises(ValueError, match=r"argument 'labels' must have shape \(3,\) or "
                                         r"\(3, 1\). Received: shape \(2,\)"):
        ops.sparse_softmax_cross_entropy(np.zeros((3, 4)), [0, 1])
    with pytest.raises(ValueError, match="argument 'labels'"):
        ops.sparse_softmax_cross_entropy(np.zeros((3, 4)), np.zeros((3, 2), dtype=int))


def test_c_checks_every_label_before_writing():
    logits = np.zeros((4, 3))
    loss, probs = np.full(4, -5.0), np.full((4, 3), -5.0)
    with pytest.raises(ValueError, match="sparse_softmax_xent_forward: invalid argument"):
        _C.sparse_softmax_xent_forward(loss, probs, logits, np.array([0, 1, 2, 3]))
    assert np.all(loss == -5.0) and np.all(probs == -5.0)
    dlogits = np.full((4, 3), -5.0)
    with pytest.raises(ValueError, match="sparse_softmax_xent_backward: invalid argument"):
        _C.sparse_softmax_xent_backward(dlogits, np.ones(4), probs, np.array([0, 1, -1, 0]))
    assert np.all(dlogits == -5.0)


# ---------------------------------------------------------------- bad shapes and arguments


def test_categorical_shape_mismatch():
    with pytest.raises(ValueError, match=r"categorical_crossentropy: arguments 'target' and "
                                         r"'output'.*\(2, 4\).*\(2, 3\)"):
        ops.categorical_crossentropy(np.eye(4)[:2], np.ones((2, 3)))
    with pytest.raises(ValueError, match="categorical_crossentropy_backward: arguments"):
        ops.categorical_crossentropy_backward(np.ones(2), np.eye(4)[:2], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: arguments 'logits' and "
                                         r"'targets'.*\(2, 3\).*\(3, 2\)"):
        ops.softmax_cross_entropy(np.ones((2, 3)), np.ones((3, 2)))


def test_losses_require_rank_two_and_nonempty():
    with pytest.raises(ValueError, match="softmax_cross_entropy: argument 'logits' must have "
                                         "rank 2"):
        ops.softmax_cross_entropy(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="sparse_softmax_cross_entropy: argument 'logits' must "
                                         "have rank 2"):
        ops.sparse_softmax_cross_entropy(np.ones((2, 3, 4)), [0, 1])
    with pytest.raises(ValueError, match="categorical_crossentropy: argument 'output' must "
                                         "have rank 2"):
        ops.categorical_crossentropy(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="softmax_cross_entropy: argument 'logits' must not be "
                                         "empty"):
        ops.softmax_cross_entropy(np.ones((0, 3)), np.ones((0, 3)))
    with pytest.raises(ValueError, match="categorical_crossentropy: argument 'axis'"):
        ops.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 3)), axis=2)


def test_dloss_shape_checked():
    probs = np.full((3, 4), 0.25)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_backward: argument 'dloss' "
                                         r"must have shape \(3,\).*\(3, 1\)"):
        ops.softmax_cross_entropy_backward(np.ones((3, 1)), probs, probs)
    with pytest.raises(ValueError, match="categorical_crossentropy_backward: argument 'dloss'"):
        ops.categorical_crossentropy_backward(np.ones(4), probs, probs)
    with pytest.raises(ValueError, match="sparse_softmax_cross_entropy_backward: argument "
                                         "'dloss'"):
        ops.sparse_softmax_cross_entropy_backward(np.ones(2), probs, [0, 1, 2])


def test_non_numeric_targets():
    with pytest.raises(TypeError, match="softmax_cross_entropy: argument 'targets'"):
        ops.softmax_cross_entropy(np.ones((1, 2)), np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="categorical_crossentropy: argument 'output'"):
        ops.categorical_crossentropy(np.ones((1, 2)), np.array([[1j, 2]]))


def test_c_wrappers_check_shapes_and_eps():
    probs = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="softmax_xent_forward: argument 'loss'"):
        _C.softmax_xent_forward(np.empty(3), np.empty((2, 3)), probs, probs)
    with pytest.raises(ValueError, match="categorical_xent_backward: argument 'targets'"):
        _C.categorical_xent_backward(np.empty((2, 3)), np.ones(2), probs, np.ones((3, 2)), EPS)
    with pytest.raises(ValueError, match="categorical_xent_forward: invalid argument"):
        _C.categorical_xent_forward(np.empty(2), probs, probs, 0.7)
    with pytest.raises(ValueError, match="sparse_softmax_xent_forward: argument 'labels'"):
        _C.sparse_softmax_xent_forward(np.empty(2), np.empty((2, 3)), probs,
                                       np.zeros(3, dtype=np.int64))
