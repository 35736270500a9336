"""pytest runs the documentation's examples: every ``>>>`` line of every page.

    pytest --doctest-glob='*.rst' docs        # what .ci/docs runs
    pytest docs                               # the same: the hook below collects *.rst

Each page is one doctest (its examples share one namespace, top to bottom), so a page
reads like a session. Like ``conf.py``, this prefers the source tree when it holds a
compiled ``minidl._C`` (an in-place build) and the installed minidl otherwise.

Every page starts from the same state: seed 0, two threads, float32 weights and fresh
layer names, and the working directory is a temporary folder (pages that save files
write there).
"""
import fnmatch
import importlib.machinery
import os
import sys
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem, DoctestTextfile

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent

if any((REPO / "minidl" / f"_C{suffix}").exists()
       for suffix in importlib.machinery.EXTENSION_SUFFIXES):
    sys.path.insert(0, str(REPO))

import minidl  # noqa: E402

# Directories whose .rst files are not pages with examples.
_SKIP_DIRS = {"_build", "_generated", "results", "performance"}


def pytest_configure(config):
    """The doctest flags of the pages (``...`` in outputs, flexible whitespace)."""
    flags = config.getini("doctest_optionflags")
    for flag in ("ELLIPSIS", "NORMALIZE_WHITESPACE"):
        if flag not in flags:
            flags.append(flag)


def pytest_collect_file(file_path, parent):
    """Collect every page as a doctest, unless pytest's own doctest plugin already does
    (``--doctest-glob='*.rst'``, or the file named on the command line)."""
    if file_path.suffix != ".rst" or _SKIP_DIRS & set(file_path.relative_to(DOCS).parts):
        return None
    config = parent.config
    globs = config.getoption("doctestglob") or []
    if any(fnmatch.fnmatch(file_path.name, glob) for glob in globs) or \
            parent.session.isinitpath(file_path):
        return None
    return DoctestTextfile.from_parent(parent, path=file_path)


@pytest.fixture(autouse=True)
def _fresh_minidl_state(request, tmp_path, monkeypatch):
    """Seed, threads, floatx, layer names and a scratch working directory per page."""
    if not isinstance(request.node, DoctestItem):  # the tooling tests need no reset
        yield
        return
    threads = minidl.get_num_threads()
    minidl.backend.clear_session()
    minidl.backend.set_floatx("float32")
    minidl.utils.set_random_seed(0)
    minidl.set_num_threads(2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MINIDL_DEVICE", raising=False)
    yield
    minidl.set_num_threads(threads)
    minidl.backend.set_floatx("float32")


def pytest_ignore_collect(collection_path, config):
    """Do not descend into build output and generated files."""
    if collection_path.is_dir() and collection_path.name in _SKIP_DIRS:
        return True
    return None
