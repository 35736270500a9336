"""Sphinx configuration of minidl's documentation.

Build (from the repository root, with the extension built or minidl installed)::

    pip install ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

Which minidl is documented: the source tree when it holds a compiled ``minidl._C`` for
this interpreter (an in-place build, ``python setup.py build_ext --inplace``), otherwise
the installed package (CI installs it into its venv). autodoc imports ``minidl._C``
either way, so a build without the compiled core fails loudly.

Offline builds: intersphinx reads the small inventories shipped in ``docs/_inventories``
(the Python and NumPy names our docs refer to) and never touches the network. Set
``MINIDL_DOCS_ONLINE=1`` to fetch the full inventories of docs.python.org and
numpy.org first (the local files remain the fallback).
"""
import importlib.machinery
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))


def _source_tree_is_built():
    """True when minidl/ in this checkout holds a _C extension this Python can load."""
    package = REPO / "minidl"
    return any((package / f"_C{suffix}").exists()
               for suffix in importlib.machinery.EXTENSION_SUFFIXES)


if _source_tree_is_built():
    sys.path.insert(0, str(REPO))

try:
    import minidl  # noqa: E402
    import minidl._C  # noqa: E402,F401
except ImportError as exc:  # a clear message instead of dozens of autodoc warnings
    raise RuntimeError(
        "minidl's documentation needs the compiled core (minidl._C): run "
        "'python setup.py build_ext --inplace' in the repository root or "
        f"'pip install .' first ({exc})") from exc

# ---------------------------------------------------------------- project
project = "minidl"
author = "the minidl authors"
copyright = "minidl authors, MIT licence"  # noqa: A001 -- Sphinx's name
release = minidl.__version__
version = ".".join(release.split(".")[:2])

# ---------------------------------------------------------------- extensions
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "minidl_autodoc_checks",  # docs/_ext: a public name without a docstring fails the build
    "minidl_generated",  # docs/_ext: benchmark tables and README commands, at build time
    "minidl_results",  # docs/_ext: the reproductions' tables, from their summary.json
    "minidl_mathjax",  # docs/_ext: MathJax copied into the site, formulas render offline
]

# MathJax from the site itself (docs/_ext/minidl_mathjax.py), never from a CDN
mathjax_path = "mathjax/tex-chtml.js"

exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
templates_path = []
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
language = "en"
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# ---------------------------------------------------------------- autodoc
# undoc-members: a member without a docstring is still documented, so that the check in
# docs/_ext/minidl_autodoc_checks.py sees it and fails the build.
autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autoclass_content = "class"  # Args live in the class docstring (Google style, as Keras)
autodoc_docstring_signature = True  # Cython's embedded signatures (embedsignature=True)
autodoc_inherit_docstrings = True  # an override without a docstring shows its parent's
autodoc_typehints = "none"  # minidl has no annotations; Args sections carry the types
autodoc_preserve_defaults = True  # show "epsilon=1e-3" as written, not 0.001

# Modules whose every exported name (__all__, else every public function and class
# defined there) must appear in the API reference; docs/_ext/minidl_autodoc_checks.py
# fails the build otherwise.
minidl_required_exports = [
    "minidl.ops", "minidl.layers", "minidl.models", "minidl.optimizers",
    "minidl.optimizers.schedules", "minidl.losses", "minidl.metrics", "minidl.callbacks",
    "minidl.initializers", "minidl.utils", "minidl.datasets", "minidl.datasets.mnist",
    "minidl.datasets.fashion_mnist", "minidl.datasets.cifar10",
    "minidl.preprocessing.image", "minidl.activations", "minidl.backend", "minidl._C",
    "minidl.memory", "minidl.distribute", "minidl.regularizers", "minidl.constraints",
    "minidl.autodiff",
]

# ---------------------------------------------------------------- napoleon
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True
# Keras's reference sections: "Call arguments" listed like Args
napoleon_custom_sections = [("Call arguments", "params_style")]

# ---------------------------------------------------------------- intersphinx
# No network here: the default is the small local inventories in docs/_inventories,
# written by docs/_inventories/make_inventories.py. A local inventory never fails or
# warns. MINIDL_DOCS_ONLINE=1 tries the full remote inventory first, the local one after.
_ONLINE = os.environ.get("MINIDL_DOCS_ONLINE", "").strip().lower() in ("1", "true", "yes")


def _inventory(name):
    local = str(DOCS / "_inventories" / f"{name}.inv")
    return (None, local) if _ONLINE else (local,)


intersphinx_mapping = {
    "python": ("https://docs.python.org/3", _inventory("python")),
    "numpy": ("https://numpy.org/doc/stable", _inventory("numpy")),
}
intersphinx_timeout = 10

# ---------------------------------------------------------------- doctest
# The same examples run under pytest (docs/conftest.py); `sphinx-build -b doctest` also
# works. Every example starts from a fixed seed and prints only values that are the same
# on every machine (shapes, booleans, rounded numbers).
# The same fresh state per page as docs/conftest.py gives each page under pytest.
doctest_global_setup = """
import os as _os, tempfile as _tempfile
import minidl as _minidl
_minidl.backend.clear_session()
_minidl.backend.set_floatx("float32")
_minidl.utils.set_random_seed(0)
_minidl.set_num_threads(2)
_os.chdir(_tempfile.mkdtemp(prefix="minidl-doctest-"))
"""
# The pages' ``.. doctest::`` blocks run here and under pytest; the ``>>>`` examples of
# the docstrings (shown in the API reference) run in tests/test_docstring_examples.py.
doctest_test_doctest_blocks = ""

# ---------------------------------------------------------------- html
html_theme = "furo"
html_title = f"minidl {release}"
html_static_path = []
html_theme_options = {
    "source_repository": "",
    "navigation_with_keys": True,
}
html_last_updated_fmt = None

# ---------------------------------------------------------------- the reference's members
# Training internals that models call, not users: hidden from the reference (the
# developer guide documents them for authors of custom layers).
_INTERNAL_MEMBERS = {"backward", "backward_pre_activation"}


def _skip_internal_members(app, what, name, obj, skip, options):
    """autodoc-skip-member: hide the training internals of classes."""
    if what == "class" and name in _INTERNAL_MEMBERS:
        return True
    return None


def setup(app):
    """Hook the member filter into autodoc."""
    app.connect("autodoc-skip-member", _skip_internal_members)
