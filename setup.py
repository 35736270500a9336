"""Build minidl's compiled core and, where the CUDA toolkit is found, its CUDA backend.

The C sources in ``csrc/`` and the Cython bindings in ``minidl/_C.pyx`` become one
extension, ``minidl._C``. The CUDA sources in ``csrc/cuda/*.cu`` are compiled by nvcc
into object files that are linked, with static cudart, into a second extension,
``minidl._cuda`` (Cython bindings in ``minidl/_cuda.pyx``). Environment switches:

* ``MINIDL_NO_OPENMP=1``: build the serial version even where OpenMP exists.
* ``MINIDL_SANITIZE=1``: build with ``-fsanitize=address,undefined`` for debugging.
* ``MINIDL_CUDA=auto`` (default): build ``minidl._cuda`` when nvcc is found (in
  ``$CUDA_HOME/bin``, then on ``PATH``), else print one line and skip it;
  ``MINIDL_CUDA=1``: require it (error when nvcc is missing); ``MINIDL_CUDA=0``: never.
  Once nvcc is found, a compile error in a ``.cu`` file fails the build.
* ``MINIDL_CUDA_ARCH``: the GPU architectures, e.g. ``"80;90"`` (default ``90``): SASS
  for each and PTX for the newest, so newer GPUs can JIT-compile it.
* ``MINIDL_CUDA_WERROR=1``: treat nvcc and host-compiler warnings as errors (CI).
* ``MINIDL_CUDA_JOBS``: parallel nvcc processes (default: ``build_ext -j``, else 1).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

HERE = os.path.dirname(os.path.abspath(__file__))
BASE_FLAGS = ["-std=c11", "-O3", "-fno-math-errno", "-fno-trapping-math"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]


def env_flag(name):
    """True when the environment variable is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


CUDA_EXTENSION = "minidl._cuda"
CUDA_SOURCES = sorted(glob("csrc/cuda/*.cu"))
CUDA_DEPENDS = sorted(glob("csrc/cuda/*.cuh") + glob("csrc/cuda/*.h")) + ["csrc/minidl.h"]
# --fmad=false: nvcc would otherwise contract a * b + c into one fused multiply-add where the
# C core rounds twice; explicit fmaf() calls (the GEMM's inner loop) are kept either way.
NVCC_FLAGS = ["-O3", "-std=c++17", "--fmad=false", "-Xcompiler",
              "-fPIC,-fvisibility=hidden,-Wall,-Wextra", "-Icsrc", "-Icsrc/cuda"]


def cuda_mode():
    """'0', '1' or 'auto' from MINIDL_CUDA (error for anything else)."""
    raw = os.environ.get("MINIDL_CUDA", "auto").strip().lower()
    modes = {"0": "0", "off": "0", "false": "0", "no": "0", "1": "1", "on": "1",
             "true": "1", "yes": "1", "auto": "auto", "": "auto"}
    if raw not in modes:
        sys.exit(f"minidl: MINIDL_CUDA must be 0, 1 or auto, not {raw!r}")
    return modes[raw]


def find_nvcc():
    """nvcc in $CUDA_HOME/bin (or $CUDA_PATH/bin), else on PATH; None when absent."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        root = os.environ.get(var)
        if root:
            candidate = os.path.join(root, "bin", "nvcc")
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return shutil.which("nvcc")


def cuda_library_dir(nvcc):
    """The folder holding libcudart_static.a for this nvcc (asked from nvcc itself, as
    nvcc may be a wrapper script outside the toolkit)."""
    roots = []
    if os.environ.get("CUDA_HOME"):
        roots.append(os.environ["CUDA_HOME"])
    try:
        dry = subprocess.run([nvcc, "--dryrun", "-E", "-x", "cu", os.devnull],
                             capture_output=True, text=True, timeout=60)
        found = re.search(r"^#\$ TOP=(.*)$", dry.stdout + dry.stderr, re.MULTILINE)
        if found:
            roots.append(found.group(1).strip())
    except (OSError, subprocess.SubprocessError):
        pass
    roots.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    for root in roots:
        for sub in ("lib64", "lib", os.path.join("targets", "x86_64-linux", "lib"),
                    os.path.join("targets", "sbsa-linux", "lib")):
            folder = os.path.join(root, sub)
            if os.path.isfile(os.path.join(folder, "libcudart_static.a")):
                return os.path.normpath(folder)
    sys.exit(f"minidl: found {nvcc} but no libcudart_static.a beside it; set CUDA_HOME to "
             f"the toolkit's root (or MINIDL_CUDA=0 to build without CUDA)")


def cuda_arch_flags():
    """-gencode flags for MINIDL_CUDA_ARCH ("90" by default; "80;90", "8.6,9.0", "90a"):
    SASS for every architecture and PTX for the newest."""
    raw = os.environ.get("MINIDL_CUDA_ARCH", "90")
    archs = [a.replace(".", "") for a in re.split(r"[;, ]+", raw.strip()) if a]
    if not archs or not all(re.fullmatch(r"\d{2,3}[af]?", a) for a in archs):
        sys.exit(f"minidl: MINIDL_CUDA_ARCH must list compute capabilities such as "
                 f"\"80;90\", not {raw!r}")
    archs = sorted(set(archs), key=lambda a: (int(re.match(r"\d+", a).group()), a))
    flags = []
    for arch in archs:
        flags += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
    flags += ["-gencode", f"arch=compute_{archs[-1]},code=compute_{archs[-1]}"]
    return flags


def _parallel_compile(compiler, workers):
    """``compiler.compile`` with the sources of one extension compiled ``workers`` at a
    time (distutils compiles them one after another); the same objects, the same flags."""
    def compile_sources(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                        extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)

        def compile_one(obj):
            source, extension = build[obj]
            compiler._compile(obj, source, extension, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(compile_one, [obj for obj in objects if obj in build]))
        return objects
    return compile_sources


class BuildExtWithOpenMP(build_ext):
    """build_ext that probes the compiler for OpenMP and falls back to a serial build,
    and compiles the CUDA sources with nvcc before the CUDA extension is linked."""

    def build_extensions(self):
        use_openmp = not env_flag("MINIDL_NO_OPENMP") and self._compiler_has_openmp()
        if env_flag("MINIDL_NO_OPENMP"):
            print("minidl: MINIDL_NO_OPENMP=1, building the serial core", file=sys.stderr)
        elif not use_openmp:
            print("minidl: WARNING: the C compiler has no OpenMP; building the serial core "
                  "(every kernel runs on one thread)", file=sys.stderr)
        self.compiler.compile = _parallel_compile(self.compiler, self._workers())
        for ext in self.extensions:
            if ext.name == CUDA_EXTENSION:
                self._compile_cuda(ext)
                continue
            if use_openmp:
                ext.extra_compile_args.append("-fopenmp")
                ext.extra_link_args.append("-fopenmp")
            else:  # the omp pragmas are ignored on purpose in the serial build
                ext.extra_compile_args.append("-Wno-unknown-pragmas")
        super().build_extensions()

    def run(self):
        super().run()
        if not any(ext.name == CUDA_EXTENSION for ext in self.extensions):
            self._remove_stale_cuda()

    def _remove_stale_cuda(self):
        """A build without the CUDA backend must not ship (or import) the one a previous
        build left in build/ or, in place, in the source tree."""
        path = self.get_ext_fullpath(CUDA_EXTENSION)
        if os.path.exists(path):
            os.remove(path)
            print(f"minidl: removed the CUDA extension of an earlier build: {path}",
                  file=sys.stderr)

    def _compile_cuda(self, ext):
        """nvcc -c every .cu file (when its object is out of date) into build_temp and
        link the objects into ``ext``. A compile error stops the build."""
        nvcc = _NVCC
        out_dir = os.path.join(self.build_temp, "cuda")
        os.makedirs(out_dir, exist_ok=True)
        flags = NVCC_FLAGS + cuda_arch_flags()
        if env_flag("MINIDL_CUDA_WERROR"):
            flags += ["-Werror", "all-warnings", "-Xcompiler", "-Werror"]
        newest_header = max(os.path.getmtime(p) for p in CUDA_DEPENDS)
        jobs = []
        objects = []
        for source in CUDA_SOURCES:
            obj = os.path.join(out_dir, os.path.splitext(os.path.basename(source))[0] + ".o")
            objects.append(obj)
            stale = (self.force or not os.path.exists(obj) or
                     os.path.getmtime(obj) < max(os.path.getmtime(source), newest_header))
            if stale:
                jobs.append([nvcc, "-c", source, "-o", obj] + flags)
        workers = int(os.environ.get("MINIDL_CUDA_JOBS", "0") or 0) or self._workers()
        if jobs:
            print(f"minidl: compiling {len(jobs)} CUDA source(s) with {nvcc}", file=sys.stderr)
            with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
                results = list(pool.map(self._run_nvcc, jobs))
            failed = [r for r in results if r is not None]
            if failed:
                raise CompileError("minidl: nvcc failed:\n" + "\n".join(failed))
        ext.extra_objects = list(ext.extra_objects or []) + objects

    @staticmethod
    def _run_nvcc(command):
        """Run one nvcc command; None on success, else the command and its output."""
        print("  " + " ".join(command), file=sys.stderr)
        proc = subprocess.run(command, capture_output=True, text=True)
        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0:
            return f"$ {' '.join(command)}\n{output}"
        if output:
            print(output, file=sys.stderr)
        return None

    def _workers(self):
        """Compiler processes at once: ``build_ext --parallel N``, else one per core."""
        return max(1, int(self.parallel or os.cpu_count() or 1))

    def _compiler_has_openmp(self):
        """Compile and link a tiny OpenMP program with the configured compiler."""
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "probe.c")
            with open(source, "w") as f:
                f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
            try:
                objects = self.compiler.compile([source], output_dir=tmp,
                                                extra_postargs=["-fopenmp"])
                self.compiler.link_executable(objects, "probe", output_dir=tmp,
                                              extra_postargs=["-fopenmp"])
            except Exception:  # any compiler or linker failure means "no OpenMP"
                return False
        return True


def core_extension():
    """The minidl._C extension: Cython wrappers plus every C kernel."""
    sources = ["minidl/_C.pyx"] + sorted(glob("csrc/*.c"))
    compile_args = list(BASE_FLAGS)
    link_args = []
    if env_flag("MINIDL_SANITIZE"):
        compile_args = ["-std=c11", "-O1"] + SANITIZE_FLAGS
        link_args += SANITIZE_FLAGS
    return Extension(
        "minidl._C",
        sources=sources,
        include_dirs=[os.path.join(HERE, "csrc"), numpy.get_include()],
        # NPY_1_22: the data-allocator API (PyDataMem_SetHandler) of _C_memory.pxi
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("NPY_TARGET_VERSION", "NPY_1_22_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        depends=glob("csrc/*.h") + glob("minidl/*.pxi") + glob("minidl/*.pxd"),
    )


def cuda_extension():
    """The minidl._cuda extension (Cython bindings, csrc/runtime.c for the geometry
    checks -- compiled through csrc/cuda/host_runtime.c, without OpenMP -- and the nvcc
    objects), or None when MINIDL_CUDA and the toolkit say no."""
    mode = cuda_mode()
    if mode == "0":
        print("minidl: MINIDL_CUDA=0, building without the CUDA backend", file=sys.stderr)
        return None
    nvcc = find_nvcc()
    if nvcc is None:
        if mode == "1":
            sys.exit("minidl: MINIDL_CUDA=1 but nvcc was not found (looked in $CUDA_HOME/bin "
                     "and on PATH)")
        print("minidl: nvcc not found (CUDA_HOME, PATH); building without the CUDA backend",
              file=sys.stderr)
        return None
    ext = Extension(
        CUDA_EXTENSION,
        # csrc/runtime.c through its own file: an object path of its own (not _C's
        # OpenMP-compiled csrc/runtime.o, which a parallel build could link here)
        sources=["minidl/_cuda.pyx", "csrc/cuda/host_runtime.c"],
        include_dirs=[os.path.join(HERE, "csrc"), os.path.join(HERE, "csrc", "cuda")],
        extra_compile_args=BASE_FLAGS + ["-fvisibility=hidden"],
        library_dirs=[cuda_library_dir(nvcc)],
        libraries=["cudart_static", "dl", "rt", "pthread", "stdc++"],
        depends=CUDA_SOURCES + CUDA_DEPENDS + ["minidl/_cminidl.pxd", "csrc/runtime.c",
                                               "csrc/md_internal.h"],
    )
    global _NVCC
    _NVCC = nvcc
    return ext


_NVCC = None  # the nvcc that cuda_extension() found
_cuda_ext = cuda_extension()

setup(
    ext_modules=cythonize(
        [core_extension()] + ([_cuda_ext] if _cuda_ext is not None else []),
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "embedsignature": True,
            "binding": True,
        },
    ),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
