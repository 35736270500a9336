"""Build minidl's compiled core.

The C sources in ``csrc/`` and the Cython bindings in ``minidl/_C.pyx`` become one
extension, ``minidl._C``. Environment switches:

* ``MINIDL_NO_OPENMP=1``: build the serial version even where OpenMP exists.
* ``MINIDL_SANITIZE=1``: build with ``-fsanitize=address,undefined`` for debugging.
"""
import os
import sys
import tempfile
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
BASE_FLAGS = ["-std=c11", "-O3", "-fno-math-errno", "-fno-trapping-math"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]


def env_flag(name):
    """True when the environment variable is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class BuildExtWithOpenMP(build_ext):
    """build_ext that probes the compiler for OpenMP and falls back to a serial build."""

    def build_extensions(self):
        use_openmp = not env_flag("MINIDL_NO_OPENMP") and self._compiler_has_openmp()
        if env_flag("MINIDL_NO_OPENMP"):
            print("minidl: MINIDL_NO_OPENMP=1, building the serial core", file=sys.stderr)
        elif not use_openmp:
            print("minidl: WARNING: the C compiler has no OpenMP; building the serial core "
                  "(every kernel runs on one thread)", file=sys.stderr)
        for ext in self.extensions:
            if use_openmp:
                ext.extra_compile_args.append("-fopenmp")
                ext.extra_link_args.append("-fopenmp")
            else:  # the omp pragmas are ignored on purpose in the serial build
                ext.extra_compile_args.append("-Wno-unknown-pragmas")
        super().build_extensions()

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
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        depends=glob("csrc/*.h") + glob("minidl/*.pxi") + glob("minidl/*.pxd"),
    )


setup(
    ext_modules=cythonize(
        [core_extension()],
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
