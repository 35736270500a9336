"""minidl.initializers against the Keras formulas: fans, limits, statistics over large
draws, truncation, seeds, dtypes, get/serialize and bad arguments."""
import math

import numpy as np
import pytest

from minidl import backend, initializers, random_state
from minidl.utils import set_random_seed

# The fraction of a unit normal within one stddev, among values within two.
_WITHIN_ONE_OF_TWO = math.erf(1 / math.sqrt(2)) / math.erf(2 / math.sqrt(2))  # 0.7152
_TRUNC = 0.87962566103423978


@pytest.fixture(autouse=True)
def _restore_floatx():
    before = backend.floatx()
    yield
    backend.set_floatx(before)


def _expected_fans(shape):
    """Keras fans written out: dense (in, out); conv (kh, kw, in, out) times kh * kw."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return shape[-2] * receptive, shape[-1] * receptive


@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (3, 3, 4, 8), (5, 2, 6), (2, 3, 3, 4, 8)])
def test_compute_fans(shape):
    assert initializers.compute_fans(shape) == _expected_fans(shape)


def _check_mean_std(values, mean, std, rel_std=0.03):
    n = values.size
    # six standard errors: a false failure is practically impossible
    assert abs(values.mean() - mean) < 6 * std / math.sqrt(n)
    assert values.std() == pytest.approx(std, rel=rel_std)


@pytest.mark.parametrize("cls,shape,limit", [
    (initializers.GlorotUniform, (400, 300), math.sqrt(6 / 700)),
    (initializers.GlorotUniform, (3, 3, 16, 32), math.sqrt(6 / (9 * 16 + 9 * 32))),
    (initializers.HeUniform, (500, 200), math.sqrt(6 / 500)),
    (initializers.HeUniform, (3, 3, 16, 32), math.sqrt(6 / (9 * 16))),
    (initializers.LecunUniform, (300, 400), math.sqrt(3 / 300)),
])
def test_uniform_variance_scaling_limits_and_moments(cls, shape, limit):
    values = cls(seed=1)(shape, dtype="float64")
    assert values.shape == shape
    assert np.all(np.abs(values) <= limit)
    assert values.max() > 0.99 * limit and values.min() < -0.99 * limit
    _check_mean_std(values, 0.0, limit / math.sqrt(3))


@pytest.mark.parametrize("cls,shape,variance", [
    (initializers.GlorotNormal, (400, 300), 2 / 700),
    (initializers.GlorotNormal, (3, 3, 16, 32), 2 / (9 * 16 + 9 * 32)),
    (initializers.HeNormal, (500, 200), 2 / 500),
    (initializers.HeNormal, (3, 3, 32, 64), 2 / (9 * 32)),
    (initializers.LecunNormal, (300, 400), 1 / 300),
])
def test_truncated_normal_variance_scaling(cls, shape, variance):
    values = cls(seed=2)(shape, dtype="float64")
    base_std = math.sqrt(variance) / _TRUNC  # the normal's stddev before truncation
    # truncated at two stddevs, redrawn (not clipped): nothing beyond, nothing piled up
    assert np.all(np.abs(values) <= 2 * base_std)
    assert values.max() > 1.9 * base_std
    assert np.mean(np.abs(values) > 1.99 * base_std) < 0.005
    # the correction restores the target variance
    _check_mean_std(values, 0.0, math.sqrt(variance))
    within_one = np.mean(np.abs(values) <= base_std)
    assert within_one == pytest.approx(_WITHIN_ONE_OF_TWO, abs=0.01)


def test_variance_scaling_modes_and_distributions():
    shape = (200, 600)
    fan_in, fan_out = 200, 600
    cases = [("fan_in", fan_in), ("fan_out", fan_out), ("fan_avg", (fan_in + fan_out) / 2)]
    for mode, fan in cases:
        init = initializers.VarianceScaling(scale=3.0, mode=mode, distribution="uniform",
                                            seed=3)
        values = init(shape, dtype="float64")
        limit = math.sqrt(3 * 3.0 / fan)
        assert np.all(np.abs(values) <= limit) and values.max() > 0.99 * limit
    plain = initializers.VarianceScaling(scale=2.0, distribution="untruncated_normal", seed=4)
    values = plain(shape, dtype="float64")
    _check_mean_std(values, 0.0, math.sqrt(2.0 / fan_in))
    assert np.abs(values).max() > 2.5 * math.sqrt(2.0 / fan_in)  # really untruncated
    # Keras's 'normal' alias means truncated_normal
    assert initializers.VarianceScaling(distribution="normal").distribution == \
        "truncated_normal"


def test_random_normal_uniform_truncated():
    values = initializers.RandomNormal(mean=1.5, stddev=0.2, seed=5)((300, 400), "float64")
    _check_mean_std(values, 1.5, 0.2)
    values = initializers.RandomUniform(minval=-0.3, maxval=0.7, seed=6)((300, 400), "float64")
    assert values.min() >= -0.3 and values.max() < 0.7
    _check_mean_std(values, 0.2, 1.0 / math.sqrt(12))
    values = initializers.TruncatedNormal(mean=-1.0, stddev=0.1, seed=7)((300, 400), "float64")
    assert np.all(np.abs(values + 1.0) <= 0.2)
    assert np.mean(np.abs(values + 1.0) <= 0.1) == pytest.approx(_WITHIN_ONE_OF_TWO, abs=0.01)


def test_defaults_match_keras():
    normal = initializers.RandomNormal()
    assert (normal.mean, normal.stddev, normal.seed) == (0.0, 0.05, None)
    uniform = initializers.RandomUniform()
    assert (uniform.minval, uniform.maxval) == (-0.05, 0.05)
    assert initializers.Constant().value == 0.0


def test_constant_zeros_ones():
    assert np.array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    assert np.array_equal(initializers.Ones()((4,)), np.ones(4))
    assert np.array_equal(initializers.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    row = initializers.Constant([1.0, 2.0, 3.0])((2, 3))
    assert np.array_equal(row, [[1, 2, 3], [1, 2, 3]])
    assert row.flags.c_contiguous and row.flags.writeable
    with pytest.raises(ValueError, match="Constant.*cannot fill shape"):
        initializers.Constant([1.0, 2.0])((3, 3))


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                                  "random_normal", "random_uniform", "truncated_normal",
                                  "lecun_normal", "zeros", "ones"])
def test_dtypes(name):
    init = initializers.get(name)
    assert init((3, 4)).dtype == np.float32
    assert init((3, 4), dtype="float64").dtype == np.float64
    assert init((3, 4)).flags.c_contiguous
    backend.set_floatx("float64")
    assert init((3, 4)).dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        init((3, 4), dtype="int32")


def test_float32_and_float64_draws_agree():
    a = initializers.HeNormal(seed=11)((5, 6), dtype="float32")
    b = initializers.HeNormal(seed=11)((5, 6), dtype="float64")
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_explicit_seed_repeats_every_call():
    init = initializers.GlorotUniform(seed=42)
    first = init((10, 10))
    assert np.array_equal(first, init((10, 10)))
    assert np.array_equal(first, initializers.GlorotUniform(seed=42)((10, 10)))
    assert not np.array_equal(first, initializers.GlorotUniform(seed=43)((10, 10)))


def test_unseeded_draws_from_global_generator():
    init = initializers.HeUniform()
    set_random_seed(123)
    first, second = init((6, 6)), init((6, 6))
    assert not np.array_equal(first, second)
    set_random_seed(123)
    assert np.array_equal(first, init((6, 6)))
    assert np.array_equal(second, init((6, 6)))
    # and it really is the global generator that is consumed
    set_random_seed(123)
    random_state.global_generator().uniform(size=1)
    assert not np.array_equal(first, init((6, 6)))


@pytest.mark.parametrize("identifier,cls", [
    ("glorot_uniform", initializers.GlorotUniform), ("GlorotUniform", initializers.GlorotUniform),
    ("he_normal", initializers.HeNormal), ("HeUniform", initializers.HeUniform),
    ("zeros", initializers.Zeros), ("Ones", initializers.Ones),
    ("random_normal", initializers.RandomNormal), ("RandomUniform", initializers.RandomUniform),
    ("uniform", initializers.RandomUniform), ("constant", initializers.Constant),
    ("variance_scaling", initializers.VarianceScaling),
])
def test_get_names(identifier, cls):
    assert type(initializers.get(identifier)) is cls


def test_get_other_identifiers():
    assert initializers.get(None) is None
    instance = initializers.HeNormal(seed=3)
    assert initializers.get(instance) is instance
    assert type(initializers.get(initializers.Zeros)) is initializers.Zeros

    def custom(shape, dtype=None):
        return np.full(shape, 7.0, dtype=dtype or "float32")
    assert initializers.get(custom) is custom
    rebuilt = initializers.get({"class_name": "RandomNormal",
                                "config": {"mean": 1.0, "stddev": 2.0, "seed": 9}})
    assert (rebuilt.mean, rebuilt.stddev, rebuilt.seed) == (1.0, 2.0, 9)
    with pytest.raises(ValueError, match=r"Unknown initializer: 'glorot'.*glorot_uniform"):
        initializers.get("glorot")
    with pytest.raises(ValueError, match="Could not interpret initializer"):
        initializers.get(3.5)


@pytest.mark.parametrize("init", [
    initializers.GlorotUniform(seed=1), initializers.HeNormal(), initializers.Zeros(),
    initializers.Constant(0.3), initializers.RandomNormal(0.5, 0.1, seed=2),
    initializers.RandomUniform(-1.0, 2.0), initializers.TruncatedNormal(stddev=0.3, seed=4),
    initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=5),
])
def test_config_round_trip(init):
    again = type(init).from_config(init.get_config())
    assert again.get_config() == init.get_config()
    restored = initializers.get(initializers.serialize(init))
    assert type(restored) is type(init) and restored.get_config() == init.get_config()
    if init.get_config().get("seed") is not None:
        assert np.array_equal(init((4, 5)), restored((4, 5)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="RandomUniform.*'maxval'.*Received"):
        initializers.RandomUniform(minval=1.0, maxval=0.5)
    with pytest.raises(ValueError, match="RandomNormal.*'stddev'.*Received: stddev=-1"):
        initializers.RandomNormal(stddev=-1)
    with pytest.raises(ValueError, match="VarianceScaling.*'mode'.*fan_sum"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="'distribution'"):
        initializers.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="'scale'"):
        initializers.VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="HeNormal.*'seed'.*Received: seed=-3"):
        initializers.HeNormal(seed=-3)
    with pytest.raises(ValueError, match="GlorotUniform.*'shape'.*Received"):
        initializers.GlorotUniform()((3, -1))
    with pytest.raises(ValueError, match="Constant.*'value'"):
        initializers.Constant("a")
    with pytest.raises(TypeError, match="initializers.serialize"):
        initializers.serialize("he_normal")
