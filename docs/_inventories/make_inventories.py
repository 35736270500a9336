"""Write the small intersphinx inventories that let the docs build offline.

The build machines have no internet, so ``conf.py`` points intersphinx at these local
files instead of https://docs.python.org/3/objects.inv and
https://numpy.org/doc/stable/objects.inv. They list only the names minidl's pages and
docstrings refer to, with their real URLs on those sites, so links still go to the
official documentation. Add a line below when a page needs a new name, then run::

    python docs/_inventories/make_inventories.py

(``MINIDL_DOCS_ONLINE=1 sphinx-build ...`` uses the full remote inventories instead.)
"""
import zlib
from pathlib import Path

# (name, domain:role, uri relative to the project's root; "$" stands for the name)
PYTHON = [
    ("int", "py:class", "library/functions.html#$"),
    ("float", "py:class", "library/functions.html#$"),
    ("str", "py:class", "library/stdtypes.html#$"),
    ("bool", "py:class", "library/functions.html#$"),
    ("dict", "py:class", "library/stdtypes.html#$"),
    ("list", "py:class", "library/stdtypes.html#$"),
    ("tuple", "py:class", "library/stdtypes.html#$"),
    ("callable", "py:function", "library/functions.html#$"),
    ("None", "py:data", "library/constants.html#$"),
    ("True", "py:data", "library/constants.html#$"),
    ("False", "py:data", "library/constants.html#$"),
    ("object", "py:class", "library/functions.html#$"),
    ("Exception", "py:exception", "library/exceptions.html#$"),
    ("ValueError", "py:exception", "library/exceptions.html#$"),
    ("TypeError", "py:exception", "library/exceptions.html#$"),
    ("OSError", "py:exception", "library/exceptions.html#$"),
    ("MemoryError", "py:exception", "library/exceptions.html#$"),
    ("RuntimeError", "py:exception", "library/exceptions.html#$"),
    ("KeyError", "py:exception", "library/exceptions.html#$"),
    ("FileExistsError", "py:exception", "library/exceptions.html#$"),
    ("FileNotFoundError", "py:exception", "library/exceptions.html#$"),
    ("KeyboardInterrupt", "py:exception", "library/exceptions.html#$"),
    ("NotImplementedError", "py:exception", "library/exceptions.html#$"),
    ("StopIteration", "py:exception", "library/exceptions.html#$"),
    ("os.PathLike", "py:class", "library/os.html#$"),
    ("os.environ", "py:data", "library/os.html#$"),
    ("os.replace", "py:function", "library/os.html#$"),
    ("random", "py:module", "library/random.html#module-random"),
    ("json", "py:module", "library/json.html#module-json"),
    ("zipfile", "py:module", "library/zipfile.html#module-zipfile"),
    ("pickle", "py:module", "library/pickle.html#module-pickle"),
    ("doctest", "py:module", "library/doctest.html#module-doctest"),
    ("threading.Lock", "py:class", "library/threading.html#$"),
    ("collections.abc.Sequence", "py:class", "library/collections.abc.html#$"),
    ("collections.abc.Iterator", "py:class", "library/collections.abc.html#$"),
]

NUMPY = [
    ("numpy", "py:module", "reference/index.html#module-numpy"),
    ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
    ("numpy.dtype", "py:class", "reference/generated/numpy.dtype.html#$"),
    ("numpy.float32", "py:attribute", "reference/arrays.scalars.html#$"),
    ("numpy.float64", "py:attribute", "reference/arrays.scalars.html#$"),
    ("numpy.uint8", "py:attribute", "reference/arrays.scalars.html#$"),
    ("numpy.int64", "py:attribute", "reference/arrays.scalars.html#$"),
    ("numpy.inf", "py:data", "reference/constants.html#$"),
    ("numpy.random.Generator", "py:class", "reference/random/generator.html#$"),
    ("numpy.random.default_rng", "py:function", "reference/random/generator.html#$"),
    ("numpy.load", "py:function", "reference/generated/numpy.load.html#$"),
    ("numpy.savez", "py:function", "reference/generated/numpy.savez.html#$"),
    ("numpy.einsum", "py:function", "reference/generated/numpy.einsum.html#$"),
    ("numpy.matmul", "py:function", "reference/generated/numpy.matmul.html#$"),
    ("numpy.var", "py:function", "reference/generated/numpy.var.html#$"),
    ("numpy.mean", "py:function", "reference/generated/numpy.mean.html#$"),
    ("numpy.allclose", "py:function", "reference/generated/numpy.allclose.html#$"),
    ("numpy.testing.assert_allclose", "py:function",
     "reference/generated/numpy.testing.assert_allclose.html#$"),
]


def write_inventory(path, project, version, entries):
    """Write a Sphinx v2 inventory (a 4-line header, then zlib-compressed lines)."""
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
              f"# The remainder of this file is compressed using zlib.\n").encode()
    body = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in entries).encode()
    Path(path).write_bytes(header + zlib.compress(body, 9))


def main():
    """Write python.inv and numpy.inv next to this script."""
    here = Path(__file__).resolve().parent
    write_inventory(here / "python.inv", "Python", "3", PYTHON)
    write_inventory(here / "numpy.inv", "NumPy", "stable", NUMPY)
    print(f"wrote {here / 'python.inv'} ({len(PYTHON)} names) and "
          f"{here / 'numpy.inv'} ({len(NUMPY)} names)")


if __name__ == "__main__":
    main()
