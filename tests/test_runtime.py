"""The runtime: version, thread control, CPU paths, MINIDL_NUM_THREADS."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minidl
from minidl import _C


def test_version_and_threads_are_reported():
    assert isinstance(minidl.__version__, str) and minidl.__version__.count(".") >= 1
    assert minidl.get_num_threads() >= 1


def test_set_num_threads_round_trip(threads):
    minidl.set_num_threads(1)
    assert minidl.get_num_threads() == 1
    minidl.set_num_threads(2)
    assert minidl.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -3, 1.5, "2", True, None])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="set_num_threads: argument 'n'"):
        minidl.set_num_threads(bad)


def _run_python(code, **env):
    """Run code in a fresh interpreter, outside the source tree (so the installed
    minidl is imported, not the uncompiled sources)."""
    full_env = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=120, cwd=os.path.dirname(minidl.__path__[0]))


def test_env_var_sets_the_thread_count():
    out = _run_python("import minidl; print(minidl.get_num_threads())", MINIDL_NUM_THREADS="3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


def test_env_var_rejects_garbage_with_a_clear_error():
    out = _run_python("import minidl", MINIDL_NUM_THREADS="many")
    assert out.returncode != 0
    assert "MINIDL_NUM_THREADS must be a positive integer" in out.stderr


def test_portable_and_simd_paths_agree(rng):
    a = rng.standard_normal((70, 90)).astype(np.float32)
    b = rng.standard_normal((90, 50)).astype(np.float32)
    _C.force_portable(True)
    try:
        portable = minidl.ops.matmul(a, b)
    finally:
        _C.force_portable(False)
    simd = minidl.ops.matmul(a, b)
    np.testing.assert_allclose(simd, portable, rtol=1e-5, atol=1e-5)
    assert isinstance(_C.cpu_has_avx2_fma(), bool)
    assert isinstance(_C.has_openmp(), bool)
