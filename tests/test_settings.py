"""No setting can crash the process: thread counts from ``set_num_threads``, from
``MINIDL_NUM_THREADS`` and from the C API are validated and clamped to
``max_num_threads()`` (4 per available core, at least 8, at most 1024, never above
``OMP_THREAD_LIMIT``). Each huge count runs a parallel kernel in a child process, so
a crash in the OpenMP runtime fails the test instead of killing the test run."""
import ctypes
import os
import subprocess
import sys
import warnings

import pytest

import minidl
from minidl import _C

ROOT = os.path.dirname(minidl.__path__[0])

# A parallel kernel big enough to fork threads, checked against NumPy.
_KERNEL = ("import numpy as np\n"
           "a = np.random.default_rng(0).random((300, 300)).astype(np.float32)\n"
           "assert np.allclose(minidl.ops.matmul(a, a), a @ a, rtol=1e-4, atol=1e-3)\n")


def _child(code, **env):
    """Run ``code`` in a fresh interpreter; returns the completed process."""
    full_env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    full_env.pop("MINIDL_NUM_THREADS", None)
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=120, cwd=ROOT)


def _expected_cap(cores):
    return min(1024, max(8, 4 * cores))


def test_the_cap_follows_the_cores_this_process_may_use():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = os.environ.get("OMP_THREAD_LIMIT")
    expected = _expected_cap(cores)
    if limit and limit.isdigit():
        expected = min(expected, int(limit))
    if _C.has_openmp():
        assert minidl.max_num_threads() == expected
    else:
        assert minidl.max_num_threads() == 8  # a serial build counts one core


@pytest.mark.parametrize("count", [100000, 2 ** 31, 10 ** 30])
def test_huge_set_num_threads_is_clamped_and_kernels_run(count):
    out = _child("import warnings, minidl\n"
                 "with warnings.catch_warnings(record=True) as caught:\n"
                 "    warnings.simplefilter('always')\n"
                 f"    minidl.set_num_threads({count})\n"
                 "assert minidl.get_num_threads() == minidl.max_num_threads()\n"
                 "assert 'using' in str(caught[0].message), caught\n" + _KERNEL +
                 "print(minidl.get_num_threads())")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == minidl.max_num_threads()


@pytest.mark.parametrize("value", ["100000", "99999999999999999999999"])
def test_huge_env_var_is_clamped_with_a_warning(value):
    out = _child("import minidl\n" + _KERNEL + "print(minidl.get_num_threads())",
                 MINIDL_NUM_THREADS=value)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == minidl.max_num_threads()
    assert "MINIDL_NUM_THREADS" in out.stderr and "RuntimeWarning" in out.stderr


@pytest.mark.parametrize("value", ["0", "-4", "2.5", "many", "0x10"])
def test_bad_env_var_fails_the_import_with_a_clear_error(value):
    out = _child("import minidl", MINIDL_NUM_THREADS=value)
    assert out.returncode != 0
    assert f"MINIDL_NUM_THREADS must be a positive integer. Received: {value!r}" in out.stderr
    assert "Segmentation" not in out.stderr


def test_omp_thread_limit_lowers_the_cap():
    if not _C.has_openmp():
        pytest.skip("a serial build has no OpenMP thread limit")
    out = _child("import minidl, warnings\n"
                 "warnings.simplefilter('ignore')\n"
                 "minidl.set_num_threads(50)\n" + _KERNEL +
                 "print(minidl.max_num_threads(), minidl.get_num_threads())",
                 OMP_THREAD_LIMIT="3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "3"]


@pytest.mark.parametrize("bad", [0, -1, -10 ** 30, 1.5, float("inf"), float("nan"), "4",
                                 None, True, [2]])
def test_set_num_threads_rejects_non_positive_and_non_integers(bad, threads):
    before = minidl.get_num_threads()
    with pytest.raises(ValueError, match="set_num_threads: argument 'n' must be a positive "
                                         "integer"):
        minidl.set_num_threads(bad)
    assert minidl.get_num_threads() == before


def test_in_range_counts_are_kept_exactly(threads):
    for count in (1, 2, 3, minidl.max_num_threads()):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning below the cap
            minidl.set_num_threads(count)
        assert minidl.get_num_threads() == count


def test_the_c_api_clamps_by_itself(threads):
    lib = ctypes.CDLL(_C.__file__)
    lib.md_set_num_threads(100000)
    assert lib.md_get_num_threads() == lib.md_max_num_threads() == minidl.max_num_threads()
    lib.md_set_num_threads(-5)
    assert lib.md_get_num_threads() == 1
    _C.set_num_threads(10 ** 40)  # the Cython wrapper takes any int, too
    assert minidl.get_num_threads() == minidl.max_num_threads()
    with pytest.raises(TypeError):
        _C.set_num_threads(2.0)
