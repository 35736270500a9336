"""The examples in minidl's docstrings (the API reference shows them) run and print what
they say: every public module's ``>>>`` examples, through the standard doctest module."""
import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import minidl
from api_surface import documented_objects


def _modules():
    """Every importable module of the minidl package (compiled ones included)."""
    names = ["minidl"]
    for info in pkgutil.walk_packages(minidl.__path__, prefix="minidl."):
        if info.name.startswith("minidl._cuda") or ".cuda" in info.name:
            continue  # needs a GPU to run its examples
        names.append(info.name)
    return names


def _examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    cases = []
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples and test.name.startswith(name):
                cases.append(test)
    return {test.name: test for test in cases}


EXAMPLES = _examples()


def test_the_reference_has_examples():
    assert len(EXAMPLES) >= 10, sorted(EXAMPLES)


@pytest.mark.parametrize("qualified", sorted(documented_objects()))
def test_every_documented_name_has_an_example(qualified):
    """Every class and function the API reference documents shows a ``>>>`` example
    (which the test above runs)."""
    doc = documented_objects()[qualified].__doc__ or ""
    assert ">>>" in doc, f"{qualified}: no runnable example in its docstring"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example(name):
    minidl.backend.clear_session()
    minidl.utils.set_random_seed(0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    test = EXAMPLES[name]
    test.globs = dict(test.globs, np=np)
    result = runner.run(test, out=lambda text: print(text, end=""))
    assert result.failed == 0, f"{result.failed} example(s) of {name} failed (see above)"
