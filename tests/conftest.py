"""Shared fixtures for minidl's tests."""
import ctypes

import numpy as np
import pytest

import minidl

# Relative tolerances of the C kernels against the float64 NumPy references.
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture
def rng():
    """A fresh, seeded random generator per test."""
    return np.random.default_rng(20261121)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    """Both element types of every kernel."""
    return request.param


@pytest.fixture
def float64():
    """New layers' weights in float64 (for central-difference checks), seed 0; the
    float dtype is restored afterwards."""
    saved = minidl.backend.floatx()
    minidl.backend.set_floatx("float64")
    minidl.utils.set_random_seed(0)
    yield
    minidl.backend.set_floatx(saved)


@pytest.fixture
def threads():
    """Restore the thread count after a test that changes it."""
    before = minidl.get_num_threads()
    yield
    minidl.set_num_threads(before)


@pytest.fixture(params=[False, True], ids=["simd", "portable"])
def simd_path(request):
    """Run a test on the AVX2/FMA path and on the portable C path."""
    minidl._C.force_portable(request.param)
    yield request.param
    minidl._C.force_portable(False)


# The kernels exist for AVX-512, AVX2/FMA and portable C, chosen at run time. The library
# exports md_force_isa (an internal test hook: cap the level; -1 restores detection), which
# ctypes reaches in the already loaded extension.
ISA_LIB = ctypes.CDLL(minidl._C.__file__)
ISA_LEVELS = {"avx512": 2, "avx2": 1, "portable": 0}


@pytest.fixture(params=list(ISA_LEVELS))
def isa(request):
    """Run a test on one instruction-set level (skipped where the CPU lacks it)."""
    level = ISA_LEVELS[request.param]
    if ISA_LIB.md_cpu_isa() < level:
        pytest.skip(f"the CPU has no {request.param}")
    ISA_LIB.md_force_isa(level)
    assert ISA_LIB.md_isa_level() == level
    yield request.param
    ISA_LIB.md_force_isa(-1)
