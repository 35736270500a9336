"""minidl.distribute: two ranks under ``mpiexec -n 2`` against one process on the same
global batches (tests/distributed_scenarios.py runs both), the synchronized batch-norm
arithmetic in float64, and the single-process behaviour without MPI.

Tolerances: the ranks sum their float32 gradients in another order than one process
does (two partial sums, then the Allreduce), so results agree to float32 round-off, not
bit for bit: ``rtol=1e-4`` (atol 1e-6) without batch normalization. Synchronized batch
norm also combines the per-rank moments in float64 instead of the C kernel's one pass,
and batch norm after a sigmoid divides by the small standard deviation of sigmoid
outputs (about 0.05 here), which magnifies those last-bit differences some twenty-fold:
``rtol=1e-3, atol=5e-5`` there. The float64 check of the same arithmetic below agrees to
1e-10.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import distribute, ops
from minidl.distribute import batchnorm as sync_batchnorm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import distributed_scenarios as scenarios  # noqa: E402


def _mpiexec():
    """The mpiexec beside this Python (the mpich wheel's), else on PATH; None without
    mpi4py or an MPI."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.access(local, os.X_OK) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="mpi4py or an MPI (mpiexec) is not "
                               "installed: pip install 'minidl[mpi]'")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Every scenario run once by ``mpiexec -n 2`` and once in this process."""
    out = tmp_path_factory.mktemp("two-ranks")
    env = dict(os.environ, MINIDL_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable,
                           os.path.join(HERE, "distributed_scenarios.py"), str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ranks = [(dict(np.load(out / f"rank{r}.npz")), json.loads((out / f"rank{r}.json")
                                                             .read_text())) for r in (0, 1)]
    single = scenarios.run_all(str(tmp_path_factory.mktemp("one-process")))
    return {"ranks": ranks, "single": single, "out": out}


def _arrays(result, prefix):
    arrays, _ = result
    keys = [k for k in arrays if k.startswith(prefix + "/")]
    return [arrays[k] for k in sorted(keys, key=lambda k: int(k.split("/")[1]))]


@needs_mpi
@pytest.mark.parametrize("key", list(scenarios.TRAINING))
def test_two_ranks_end_with_identical_weights(two_ranks, key):
    """Different initial seeds per rank, the same weights after the broadcast and every
    step (the updates are identical on every rank)."""
    first, second = (_arrays(r, key) for r in two_ranks["ranks"])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert two_ranks["ranks"][0][1][key] == two_ranks["ranks"][1][1][key]  # same logs


@needs_mpi
@pytest.mark.parametrize("key", [k for k, v in scenarios.TRAINING.items()
                                 if not v[1] or v[2]])
def test_two_ranks_train_as_one_process_on_the_global_batch(two_ranks, key):
    """LeNet-5 and the CIFAR CNN, plain and with synchronized BN, global batches of 64
    and 63 (an uneven split): the weights and the logged loss of one process."""
    batch_norm = scenarios.TRAINING[key][1]
    tolerance = dict(rtol=1e-3, atol=5e-5) if batch_norm else dict(rtol=1e-4, atol=1e-6)
    distributed = _arrays(two_ranks["ranks"][0], key)
    single = _arrays(two_ranks["single"], key)
    assert len(distributed) == len(single)
    for got, want in zip(distributed, single):
        np.testing.assert_allclose(got, want, **tolerance)
    np.testing.assert_allclose(two_ranks["ranks"][0][1][key]["loss"],
                               two_ranks["single"][1][key]["loss"], rtol=1e-5)


@needs_mpi
def test_without_sync_batchnorm_each_rank_normalises_its_slice(two_ranks):
    """Not the one-process result (each rank's own statistics), but the same on both
    ranks, the moving statistics averaged."""
    distributed = _arrays(two_ranks["ranks"][0], "lenet_bn_local")
    single = _arrays(two_ranks["single"], "lenet_bn_local")
    assert not all(np.allclose(a, b, rtol=1e-4) for a, b in zip(distributed, single))


@needs_mpi
def test_a_rank_with_an_empty_slice_joins_every_step(two_ranks):
    """Global batches of one row on two ranks: rank 1 never has a row, and the result is
    the one-process result."""
    for got, want in zip(_arrays(two_ranks["ranks"][1], "tiny"),
                         _arrays(two_ranks["single"], "tiny")):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@needs_mpi
def test_early_stopping_stops_every_rank_and_only_rank_0_writes(two_ranks):
    assert [info["epochs_run"] for _, info in two_ranks["ranks"]] == [2, 2]
    written = sorted(p.name for p in two_ranks["out"].iterdir()
                     if not p.name.startswith("rank"))
    assert written == ["ckpt-rank0.keras", "log-rank0.csv", "model-rank0.keras",
                       "weights-rank0.weights.npz"]


@needs_mpi
def test_evaluate_and_predict_equal_one_process(two_ranks):
    for _, info in two_ranks["ranks"]:
        for key, value in two_ranks["single"][1]["evaluate"].items():
            assert info["evaluate"][key] == pytest.approx(value, rel=1e-6)
    for arrays, _ in two_ranks["ranks"]:
        np.testing.assert_allclose(arrays["predict"], two_ranks["single"][0]["predict"],
                                   rtol=1e-6, atol=1e-7)


@needs_mpi
def test_each_rank_takes_its_share_of_the_cores(two_ranks):
    for _, info in two_ranks["ranks"]:
        assert info["size"] == 2 and info["threads"] == 1  # MINIDL_NUM_THREADS wins


# ---------------------------------------------------------------- no MPI needed


class _OtherHalf:
    """Stands for the second rank of two: its statistics and sums, given."""

    def __init__(self, stats, sums):
        self.stats, self.sums = stats, sums

    def gather_small(self, mine):
        return np.stack([mine, self.stats])

    def reduce_totals(self, mine):
        return np.asarray(mine) + self.sums


def test_synchronized_batch_norm_is_the_global_batch_norm_in_float64(rng):
    """The rows of one rank, normalised with the other rank's statistics combined, give
    the rows of one batch norm over both (forward, input gradient, gamma and beta)."""
    x = rng.normal(2.0, 3.0, (10, 3, 3, 4))
    dy = rng.normal(size=x.shape)
    gamma, beta = rng.random(4) + 0.5, rng.normal(size=4)
    layer = minidl.layers.BatchNormalization(dtype="float64", momentum=0.9)
    layer.build(x.shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    mine, other = x[:6], x[6:]
    rows = other.reshape(-1, 4)
    stats = np.concatenate([[rows.shape[0]], rows.mean(0), rows.var(0) * rows.shape[0]])
    y_all, mean, var = ops.batch_norm_train(x, gamma, beta, None, None,
                                            epsilon=layer.epsilon)
    x_hat_other = (rows - mean) / np.sqrt(var + layer.epsilon)
    dy_other = dy[6:].reshape(-1, 4)
    sums = np.concatenate([dy_other.sum(0), (dy_other * x_hat_other).sum(0)])
    y, cache = sync_batchnorm.forward(layer, mine, _OtherHalf(stats, sums))
    np.testing.assert_allclose(y, y_all[:6], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.moving_mean.value, 0.1 * mean, rtol=1e-10)
    np.testing.assert_allclose(layer.moving_variance.value, 0.9 + 0.1 * var, rtol=1e-10)
    dx_all, dgamma_all, dbeta_all = ops.batch_norm_train_backward(
        dy, x, mean, var, gamma, epsilon=layer.epsilon)
    dx, dgamma, dbeta = sync_batchnorm.backward(layer, dy[:6], cache,
                                                _OtherHalf(stats, sums))
    np.testing.assert_allclose(dx, dx_all[:6], rtol=1e-9, atol=1e-12)
    x_hat = (mine.reshape(-1, 4) - mean) / np.sqrt(var + layer.epsilon)
    np.testing.assert_allclose(dgamma + (dy_other * x_hat_other).sum(0), dgamma_all,
                               rtol=1e-10)
    np.testing.assert_allclose(dbeta + dy_other.sum(0), dbeta_all, rtol=1e-10)
    assert x_hat.shape == (54, 4)


def test_gradient_buckets_follow_the_backward_order_and_give_every_gradient(rng):
    """Buckets cut in backward order at the size limit; layer_done sends the buckets it
    completes, finish the rest; every gradient comes back (one rank: the sum is itself)."""
    from minidl import layers, models
    model = models.Sequential([minidl.Input((40,)), layers.Dense(300), layers.Dense(200),
                               layers.Dense(3)])
    variables = [v for layer in reversed(model.layers) for v in layer.trainable_weights]
    reduction = distribute.GradientReduction(variables, bucket_bytes=40_000)
    # floats: 600 + 3 + 60000 | 200 + 12000 | 300 (the last layer first)
    assert [[v.path for v in b] for b in reduction.buckets] == [
        [variables[0].path, variables[1].path, variables[2].path],
        [variables[3].path, variables[4].path], [variables[5].path]]
    grads = {id(v): rng.normal(size=v.shape).astype(np.float32) for v in variables}
    reduction.begin()
    for layer in reversed(model.layers[1:]):
        for v in layer.trainable_weights:
            v.grad = grads[id(v)]
        reduction.layer_done(layer)
    assert reduction._sent == [True, False, False]  # the buckets of the first layer wait
    model.layers[0].kernel.grad = grads[id(model.layers[0].kernel)]  # bias: no gradient
    model.layers[0].bias.grad = None
    reduction.finish()
    for v in variables:
        want = np.zeros(v.shape, np.float32) if v is model.layers[0].bias else grads[id(v)]
        np.testing.assert_array_equal(v.grad, want)


def test_combined_moments_equal_those_of_the_union(rng):
    groups = [rng.normal(i, 1 + i, (n, 3)) for i, n in enumerate((5, 0, 9, 1))]
    union = np.concatenate(groups)
    total, mean, m2 = sync_batchnorm.combined_moments(
        [len(g) for g in groups], [g.mean(0) if len(g) else np.zeros(3) for g in groups],
        [g.var(0) * len(g) if len(g) else np.zeros(3) for g in groups])
    assert total == len(union)
    np.testing.assert_allclose(mean, union.mean(0), rtol=1e-13)
    np.testing.assert_allclose(m2 / total, union.var(0), rtol=1e-12)


def test_one_process_without_mpi_is_a_distribution_of_one():
    assert distribute.size() >= 1 and distribute.rank() == 0 and distribute.is_root()
    np.testing.assert_array_equal(distribute.allreduce(np.arange(3)), np.arange(3))
    assert distribute.allreduce(np.arange(3.0), "mean").tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="'op'"):
        distribute.allreduce(np.ones(2), "prod")
    with pytest.raises(TypeError, match="DataParallel"):
        distribute.set_distribution("data")
    distribute.set_distribution(distribute.DataParallel())
    try:
        assert distribute.active() is None  # one rank: nothing to distribute
        assert distribute.DataParallel.local_range(7) == (0, 7)
    finally:
        distribute.set_distribution(None)


from test_examples import EXAMPLES, data_dir  # noqa: E402,F401 -- the data fixture


@needs_mpi
def test_the_distributed_cifar10_example_runs_on_two_ranks(data_dir):  # noqa: F811
    env = dict(os.environ, MINIDL_DATA_DIR=data_dir, MINIDL_NUM_THREADS="1")
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable,
                           os.path.join(EXAMPLES, "distributed_cifar10.py"), "--epochs", "1",
                           "--steps", "6", "--validation", "64"],
                          capture_output=True, text=True, timeout=600, env=env, cwd=EXAMPLES)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "2 rank(s)" in proc.stdout and "synchronized" in proc.stdout
    assert proc.stdout.count("validation accuracy") == 1  # rank 0 alone reports
