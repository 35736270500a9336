"""The CUDA backend without a GPU: build switches (MINIDL_CUDA, MINIDL_CUDA_ARCH), the .cu
files compiling warning-free, minidl.cuda's reasons and device setting, and the Cython
glue of minidl._cuda up to the point where a kernel would be launched."""
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from glob import glob

import numpy as np
import pytest

import minidl
import minidl.cuda
from minidl.cuda import _runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _nvcc():
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            candidate = os.path.join(os.environ[var], "bin", "nvcc")
            if os.access(candidate, os.X_OK):
                return candidate
    return shutil.which("nvcc")


# ---------------------------------------------------------------- build switches

_PROBE = textwrap.dedent("""
    import json, runpy, sys, setuptools
    captured = {}
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        g = runpy.run_path("setup.py")
        names = [e.name for e in captured["ext_modules"]]
        arch = g["cuda_arch_flags"]() if "minidl._cuda" in names else None
    except SystemExit as exc:
        print(json.dumps({"exit": str(exc)}))
        sys.exit(0)
    print(json.dumps({"ext": names, "arch": arch}))
""")


def _probe_setup(env_changes, path=None):
    """Run setup.py with setuptools.setup captured; return the extensions it declares
    (or the exit message) and what it printed on stderr."""
    import json
    # setup.py imports the build tools; an installed minidl (as in CI's venv) was built
    # in an isolated environment that had them, the test interpreter may not
    pytest.importorskip("Cython", reason="the build-switch probes run setup.py, which "
                        "needs Cython in the test interpreter")
    env = dict(os.environ)
    env.update(env_changes)
    if path is not None:
        env["PATH"] = path
        env.pop("CUDA_HOME", None)
        env.pop("CUDA_PATH", None)
    proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _path_without_nvcc():
    """PATH with every folder holding an nvcc removed (python stays reachable)."""
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and not os.path.exists(os.path.join(p, "nvcc")))


def test_minidl_cuda_0_builds_the_cpu_core_only():
    result, err = _probe_setup({"MINIDL_CUDA": "0"})
    assert result["ext"] == ["minidl._C"]
    assert "MINIDL_CUDA=0" in err


def test_auto_without_nvcc_skips_the_cuda_backend_with_one_line():
    result, err = _probe_setup({"MINIDL_CUDA": "auto"}, path=_path_without_nvcc())
    assert result["ext"] == ["minidl._C"]
    assert "nvcc not found" in err


def test_minidl_cuda_1_without_nvcc_is_an_error():
    result, _ = _probe_setup({"MINIDL_CUDA": "1"}, path=_path_without_nvcc())
    assert "MINIDL_CUDA=1" in result["exit"] and "nvcc" in result["exit"]


def test_bad_switch_values_are_errors():
    result, _ = _probe_setup({"MINIDL_CUDA": "maybe"})
    assert "MINIDL_CUDA" in result["exit"]


@pytest.mark.skipif(_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_with_nvcc_the_cuda_extension_is_built_for_the_requested_archs():
    result, _ = _probe_setup({"MINIDL_CUDA": "auto"})
    assert result["ext"] == ["minidl._C", "minidl._cuda"]
    assert result["arch"] == ["-gencode", "arch=compute_90,code=sm_90",
                              "-gencode", "arch=compute_90,code=compute_90"]
    result, _ = _probe_setup({"MINIDL_CUDA": "1", "MINIDL_CUDA_ARCH": "90;8.0"})
    assert result["arch"] == ["-gencode", "arch=compute_80,code=sm_80",
                              "-gencode", "arch=compute_90,code=sm_90",
                              "-gencode", "arch=compute_90,code=compute_90"]
    result, _ = _probe_setup({"MINIDL_CUDA": "1", "MINIDL_CUDA_ARCH": "sm_90"})
    assert "MINIDL_CUDA_ARCH" in result["exit"]


@pytest.mark.skipif(_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_every_cu_file_compiles_without_warnings():
    """nvcc -c of each .cu with every nvcc and host-compiler warning turned into an
    error (PTX only, to keep it quick; the build itself also emits SASS)."""
    nvcc = _nvcc()
    out = os.path.join(ROOT, "build", "cuda-warnings")
    os.makedirs(out, exist_ok=True)

    def compile_one(source):
        obj = os.path.join(out, os.path.basename(source) + ".o")
        cmd = [nvcc, "-c", source, "-o", obj, "-O3", "-std=c++17", "-Icsrc", "-Icsrc/cuda",
               "-Werror", "all-warnings", "-Xcompiler", "-fPIC,-Wall,-Wextra,-Werror",
               "-gencode", "arch=compute_90,code=compute_90"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        return source, proc.returncode, (proc.stdout + proc.stderr).strip()

    sources = sorted(glob(os.path.join(ROOT, "csrc", "cuda", "*.cu")))
    stems = {os.path.splitext(os.path.basename(s))[0] for s in sources}
    c_stems = {os.path.splitext(os.path.basename(s))[0] for s in glob(os.path.join(ROOT, "csrc", "*.c"))}
    assert c_stems <= stems, f"a .c file has no .cu twin: {sorted(c_stems - stems)}"
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(compile_one, sources))
    failures = [f"{s}:\n{o}" for s, rc, o in results if rc != 0 or o]
    assert not failures, "\n\n".join(failures)


_GEMM_PLAN_PROBE = textwrap.dedent("""
    #include <cstdio>
    #include "mdc_gemm.cuh"
    /* For m = k = e (n = 1): whether plan_gemm accepts it, and the largest row or depth
     * index the kernel then computes in int (a tile past the extent at most), in int64. */
    int main() {
        const long long extents[] = {mdc::kMaxGemmExtent, mdc::kMaxGemmExtent + 1,
                                     0x7fffffffLL};
        for (long long e : extents) {
            mdc::GemmPlan plan;
            const int st = mdc::plan_gemm(e, 1, e, false, &plan);
            long long worst = -1;
            if (st == MD_OK) {
                const long long bm = plan.large ? mdc::TileLarge::BM : mdc::TileSmall::BM;
                const long long bk = plan.large ? mdc::TileLarge::BK : mdc::TileSmall::BK;
                const long long rows = (long long)plan.grid.x * bm - 1;
                const long long depth = (long long)plan.splits * plan.kchunk + bk - 1;
                worst = rows > depth ? rows : depth;
            }
            printf("%lld %d %lld\\n", e, st == MD_OK, worst);
        }
        return 0;
    }
""")


@pytest.mark.skipif(_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_gemm_plans_never_index_past_int(tmp_path):
    """The GEMM kernels index rows, columns and depth in int: plan_gemm accepts only
    extents whose last tile stays below INT_MAX (host code, compiled by nvcc, no GPU)."""
    source, program = tmp_path / "gemm_plan.cu", tmp_path / "gemm_plan"
    source.write_text(_GEMM_PLAN_PROBE)
    subprocess.run([_nvcc(), "-std=c++17", "-Icsrc", "-Icsrc/cuda", "-o", str(program),
                    str(source)], cwd=ROOT, check=True, capture_output=True, timeout=600)
    rows = [line.split() for line in subprocess.run(
        [str(program)], check=True, capture_output=True, text=True).stdout.splitlines()]
    accepted = [(int(e), int(worst)) for e, ok, worst in rows if ok == "1"]
    assert [e for e, _ in accepted] == [int(rows[0][0])], rows  # only the limit itself
    assert all(worst <= 0x7fffffff for _, worst in accepted), rows


# ---------------------------------------------------------------- reasons


def test_reason_when_the_extension_was_not_built(tmp_path):
    """A copy of the installed package without minidl._cuda (what MINIDL_CUDA=0 or a
    machine without nvcc builds) imports, and says why there is no GPU."""
    shutil.copytree(os.path.dirname(minidl.__file__), tmp_path / "minidl",
                    ignore=shutil.ignore_patterns("_cuda.*", "__pycache__"))
    code = "import minidl.cuda as c; print(c.is_available()); print(c.reason())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    available, reason = proc.stdout.strip().splitlines()
    assert available == "False"
    assert "built without its CUDA backend" in reason and "MINIDL_CUDA" in reason


class _FakeRuntime:
    """The three functions of minidl._cuda that _explain_driver_failure calls."""

    def __init__(self, driver):
        self._driver = driver

    def runtime_version(self):
        return 13000

    def driver_version(self):
        return self._driver


@pytest.mark.parametrize("message,driver,expected", [
    ("cudaGetDeviceCount: no CUDA-capable device is detected (cudaErrorNoDevice)", 13000,
     "no CUDA device is visible"),
    ("cudaGetDeviceCount: CUDA driver version is insufficient for CUDA runtime version "
     "(cudaErrorInsufficientDriver)", 0, "no NVIDIA driver is installed"),
    ("cudaGetDeviceCount: CUDA driver version is insufficient for CUDA runtime version "
     "(cudaErrorInsufficientDriver)", 12040, "driver supports CUDA 12.4 but"),
])
def test_reason_texts_name_the_cause(message, driver, expected):
    text = _runtime._explain_driver_failure(_FakeRuntime(driver), message)
    assert expected in text and message in text


def test_is_available_and_reason_agree():
    if minidl.cuda.is_available():
        assert minidl.cuda.reason() is None
    else:
        assert isinstance(minidl.cuda.reason(), str) and minidl.cuda.reason()


@pytest.fixture
def no_gpu():
    """CUDA marked unavailable (whatever this machine has), the device setting reset."""
    state = _runtime.install_backend(None, "no GPU in this test")
    saved = minidl.cuda._device
    minidl.cuda._device = None
    yield
    minidl.cuda._device = saved
    _runtime.restore_backend(state)


def test_without_a_gpu_everything_says_why(no_gpu):
    assert minidl.cuda.is_available() is False
    with pytest.raises(RuntimeError, match="no GPU in this test"):
        minidl.cuda.DeviceArray((3,))
    with pytest.raises(RuntimeError, match="no GPU in this test"):
        minidl.set_device("cuda")
    model = minidl.Sequential([minidl.layers.Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match="no GPU in this test"):
        model.compile(loss="mse", device="cuda")
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        minidl.set_device("gpu")


def test_device_setting_and_environment(no_gpu, monkeypatch):
    monkeypatch.delenv("MINIDL_DEVICE", raising=False)
    assert minidl.get_device() == "cpu"
    minidl.cuda._device = None
    monkeypatch.setenv("MINIDL_DEVICE", "cuda")
    with pytest.warns(RuntimeWarning, match="not available"):
        assert minidl.get_device() == "cpu"
    minidl.cuda._device = None
    monkeypatch.setenv("MINIDL_DEVICE", "tpu")
    with pytest.raises(ValueError, match="MINIDL_DEVICE"):
        minidl.get_device()
    minidl.cuda._device = None
    monkeypatch.setenv("MINIDL_DEVICE", "cpu")
    minidl.set_device("cpu")
    model = minidl.Sequential([minidl.layers.Dense(2, input_shape=(3,))])
    model.compile(loss="mse")
    assert model.device == "cpu"


def test_cpu_calls_do_not_touch_the_backend(no_gpu):
    x = np.ones((2, 3), np.float32)
    assert isinstance(minidl.ops.matmul(x, x.T), np.ndarray)


# ---------------------------------------------------------------- the Cython glue


class _Fake:
    """Looks like a DeviceArray to minidl._cuda: shape, dtype and a distinct, bogus,
    non-NULL ptr (never dereferenced: the calls stop before any kernel)."""

    _next = 1

    def __init__(self, shape, dtype="float32"):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        _Fake._next += 1
        self.ptr = _Fake._next << 24


def test_a_built_cuda_extension_loads():
    """A built minidl._cuda imports: an undefined symbol (OpenMP's, when a parallel build
    linked _C's OpenMP-compiled runtime.o into it) only showed as 'CUDA unavailable'."""
    import importlib
    import importlib.util
    if importlib.util.find_spec("minidl._cuda") is None:
        pytest.skip("minidl._cuda was not built (no nvcc at build time)")
    importlib.import_module("minidl._cuda")


def _binding():
    try:
        from minidl import _cuda
    except ModuleNotFoundError as exc:  # not built; a built one that fails to load fails
        if exc.name != "minidl._cuda":
            raise
        pytest.skip("minidl._cuda was not built (no nvcc at build time)")
    if minidl.cuda.is_available():
        pytest.skip("a GPU is initialised here: the glue is tested for real by test_cuda.py")
    return _cuda


def F(*shape):
    return _Fake(shape)


def I64(*shape):
    return _Fake(shape, "int64")


def _glue_calls():
    """(name, args): one well-formed call of every kernel wrapper."""
    x4, w4 = F(2, 5, 5, 3), F(3, 3, 3, 4)
    return [
        ("gemm", (False, True, F(3, 4), F(5, 4), F(3, 5))),
        ("conv2d_forward", (F(2, 5, 5, 4), x4, w4, F(4), 1, 1, "same", 1)),
        ("conv2d_backward_input", (x4, F(2, 5, 5, 4), w4, 1, 1, "same")),
        ("conv2d_backward_weight", (w4, F(4), F(2, 3, 3, 4), x4, 1, 1, "valid")),
        ("maxpool2d_forward", (F(2, 2, 2, 3), I64(2, 2, 2, 3), x4, (2, 2), (2, 2), "valid")),
        ("maxpool2d_backward", (x4, F(2, 2, 2, 3), I64(2, 2, 2, 3), (2, 2), (2, 2), "valid")),
        ("avgpool2d_forward", (F(2, 3, 3, 3), x4, (2, 2), (2, 2), "same")),
        ("avgpool2d_backward", (x4, F(2, 3, 3, 3), (2, 2), (2, 2), "same")),
        ("batchnorm_forward_train", (F(6, 3), F(3), F(3), F(3), F(3), F(6, 3), F(3), F(3),
                                     1e-3, 0.99)),
        ("batchnorm_forward_infer", (F(6, 3), F(6, 3), F(3), F(3), None, None, 1e-3)),
        ("batchnorm_backward_train", (F(6, 3), F(3), F(3), F(6, 3), F(6, 3), F(3), F(3), None,
                                      1e-3)),
        ("batchnorm_backward_infer", (F(6, 3), None, None, F(6, 3), F(6, 3), F(3), F(3), F(3),
                                      1e-3)),
        ("moments", (F(3), F(3), F(6, 3))),
        ("activation_forward", (F(7), F(7), 2)),
        ("activation_backward", (F(7), F(7), F(7), 3)),
        ("softmax_forward", (F(2, 5), F(2, 5))),
        ("softmax_backward", (F(2, 5), F(2, 5), F(2, 5))),
        ("softmax_xent_forward", (F(2), F(2, 5), F(2, 5), F(2, 5))),
        ("softmax_xent_backward", (F(2, 5), F(2), F(2, 5), F(2, 5))),
        ("sparse_softmax_xent_forward", (F(2), F(2, 5), F(2, 5), I64(2))),
        ("sparse_softmax_xent_backward", (F(2, 5), F(2), F(2, 5), I64(2))),
        ("categorical_xent_forward", (F(2), F(2, 5), F(2, 5), 1e-7)),
        ("categorical_xent_backward", (F(2, 5), F(2), F(2, 5), F(2, 5), 1e-7)),
        ("sgd_update", (F(9), F(9), F(9), 0.1, 0.9, True)),
        ("rmsprop_update", (F(9), F(9), F(9), F(9), F(9), 0.1, 0.9, 0.5, 1e-7, True)),
        ("adam_update", (F(9), F(9), F(9), None, F(9), 0.1, 0.9, 0.999, 1e-7, 1, 0.0)),
        ("bias_add", (F(4, 3), F(4, 3), F(3))),
        ("reduce_sum", (F(2, 3), F(2, 5, 3))),
        ("add", (F(5), F(5), F(5))),
        ("mul", (F(5), F(5), F(5))),
        ("scale", (F(5), F(5), 2.0)),
        ("axpy", (F(5), 2.0, F(5))),
        ("clip", (F(5), F(5), -1.0, 1.0)),
        ("fill", (F(5), 1.0)),
        ("convert", (_Fake((5,), "int64"), F(5))),
        ("permute", (F(3, 2), F(2, 3), (1, 0))),
        ("accumulate_sum", (_Fake((1,), "float64"), F(5))),
        ("accumulate_matches", (_Fake((1,), "float64"), F(4, 3), None, I64(4))),
        ("affine_warp", (F(2, 4, 6, 3), x4, _Fake((2, 6), "float64"), "wrap", 0.0)),
        ("flip_horizontal", (F(2, 5, 5, 3), x4, _Fake((2,), "uint8"))),
        ("resize_bilinear", (F(2, 7, 2, 3), x4)),
    ]


@pytest.mark.parametrize("name,args", _glue_calls(), ids=[c[0] for c in _glue_calls()])
def test_every_wrapper_reaches_its_entry_point(name, args):
    """A well-formed call passes the wrapper's checks and the C entry point's checks and
    stops at the device: the backend is not initialised here."""
    cuda = _binding()
    with pytest.raises(RuntimeError, match="not initialised"):
        getattr(cuda, name)(*args)


@pytest.mark.parametrize("name,args,error", [
    ("gemm", (False, False, F(3, 4), F(5, 4), F(3, 4)), ValueError),
    ("conv2d_forward", (F(2, 5, 5, 4), F(2, 5, 5, 3), F(3, 3, 2, 4), None, 1, 1, "same", 0),
     ValueError),
    ("conv2d_forward", (F(2, 5, 5, 4), F(2, 5, 5, 3), F(3, 3, 3, 4), None, 1, 1, "full", 0),
     ValueError),
    ("maxpool2d_forward", (F(2, 2, 2, 3), _Fake((2, 2, 2, 3), "int32"), F(2, 5, 5, 3), (2, 2),
                           (2, 2), "valid"), TypeError),
    ("softmax_xent_forward", (F(3), F(2, 5), F(2, 5), F(2, 5)), ValueError),
    ("activation_forward", (F(7), _Fake((7,), "float64"), 2), TypeError),
    ("activation_forward", (F(7), F(7), 9), ValueError),
    ("resize_bilinear", (F(3, 7, 2, 3), F(2, 5, 5, 3)), ValueError),
    # ranks: a shape too short to index, or a 2-D array where the kernel walks one row
    ("gemm", (False, False, F(12), F(4, 5), F(3, 5)), ValueError),
    ("bias_add", (F(12), F(12), F(3)), ValueError),
    ("reduce_sum", (F(2, 3), F(2, 3)), ValueError),
    ("add", (F(2, 3), F(2, 3), F(2, 3)), ValueError),
    ("activation_forward", (F(2, 3), F(2, 3), 2), ValueError),
    ("softmax_forward", (F(5), F(5)), ValueError),
    ("moments", (F(3), F(3), F(6)), ValueError),
    ("batchnorm_forward_infer", (F(6), F(6), F(3), F(3), None, None, 1e-3), ValueError),
    ("sparse_softmax_xent_forward", (F(2), F(2), F(10), I64(2)), ValueError),
    ("accumulate_matches", (_Fake((1,), "float64"), F(4), None, I64(4)), ValueError),
    ("sgd_update", (F(3, 3), None, F(3, 3), 0.1, 0.0, False), ValueError),
    ("permute", (F(3, 2), F(2, 3), (0, 0)), ValueError),
    ("permute", (F(3, 2), F(2, 3), (1, 2)), ValueError),
    ("flip_horizontal", (F(2, 5, 5, 3), F(2, 5, 5, 3), _Fake((3,), "uint8")), ValueError),
])
def test_wrappers_reject_bad_arguments_before_the_device(name, args, error):
    cuda = _binding()
    with pytest.raises(error, match=name if error is ValueError else None):
        getattr(cuda, name)(*args)


class _Freed(_Fake):
    """A device array whose memory is gone: reading ptr raises."""

    @property
    def ptr(self):
        raise RuntimeError("DeviceArray: its memory has been freed")

    @ptr.setter
    def ptr(self, value):
        pass


def test_a_freed_array_raises_through_the_wrapper():
    cuda = _binding()
    with pytest.raises(RuntimeError, match="freed"):
        cuda.add(F(4), _Freed((4,)), F(4))
    with pytest.raises(RuntimeError, match="freed"):
        cuda.conv2d_forward(F(1, 3, 3, 1), F(1, 3, 3, 1), F(1, 1, 1, 1), _Freed((1,)))


def test_buffer_needs_an_initialised_backend():
    cuda = _binding()
    with pytest.raises(RuntimeError, match="not initialised"):
        cuda.Buffer(64)
    assert cuda.runtime_version() >= 11000
    assert set(cuda.pool_stats()) == {"in_use", "cached", "peak_in_use", "device_mallocs",
                                      "reuses"}
