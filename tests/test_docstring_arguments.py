"""Every argument of the API reference is documented with its type.

For each name the reference must document (``minidl_required_exports`` in
``docs/conf.py``): a function's parameters, a class's constructor parameters and the
parameters of its public methods each have an entry ``name (type): description`` in the
docstring's ``Args:`` section (napoleon's Google style, rendered as "name (type) –").
Several names may share an entry (``kernel_regularizer, bias_regularizer (type): ...``);
``*args`` and ``**kwargs`` may be listed without a type. An entry for a name that the
signature does not have is stale, unless the signature takes ``**kwargs``. A method that
overrides one of a minidl base class and has no ``Args:`` section of its own is documented
by its base (Keras's reference lists ``call``/``build`` once, on ``Layer``).
"""
import inspect
import re

import pytest

from api_surface import documented_objects

_SECTION = re.compile(r"^(Args|Arguments|Parameters):\s*$")
_ENTRY = re.compile(r"^(?P<names>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)"
                    r"(?:\s+\((?P<type>.*\S)\))?\s*:(?:\s|$)")


def _overrides_minidl_base(cls, name):
    return any(name in vars(base) for base in cls.__mro__[1:]
               if base.__module__.startswith("minidl"))


def _callables():
    """``{qualified name: (callable for the signature, its docstring, is an override)}``."""
    found = {}
    for qualified, obj in documented_objects().items():
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        found[qualified] = (obj, obj.__doc__, False)
        if not inspect.isclass(obj):
            continue
        for member, value in vars(obj).items():
            if member.startswith("_") or not callable(value) or inspect.isclass(value):
                continue
            found[f"{qualified}.{member}"] = (
                getattr(obj, member), value.__doc__, _overrides_minidl_base(obj, member))
    return found


CALLABLES = _callables()


def args_entries(docstring):
    """``{argument name: type or None}`` from the ``Args:`` section (None: no section)."""
    lines = inspect.cleandoc(docstring or "").splitlines()
    starts = [i for i, line in enumerate(lines) if _SECTION.match(line)]
    if not starts:
        return None
    entries, indent = {}, None
    for line in lines[starts[0] + 1:]:
        if line.strip() and not line.startswith(" "):
            break  # the next section
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        match = _ENTRY.match(line.strip()) if depth == indent else None
        if match:
            for name in match["names"].split(","):
                entries[name.strip().lstrip("*")] = match["type"]
    return entries


def _parameters(obj):
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [p for p in signature.parameters.values() if p.name not in ("self", "cls")]


def test_the_check_sees_the_reference():
    assert len(CALLABLES) > 400


def test_the_parser_reads_google_entries():
    doc = """Summary.

    Args:
        filters (int): the number of output channels.
        kernel_regularizer, bias_regularizer (str or Regularizer or None): penalties,
            continued here: not an entry.
        shape (tuple of ints (batch, features)): nested parentheses.
        loose: no type.
        **kwargs: Layer arguments.

    Returns:
        x (float): not an argument.
    """
    assert args_entries(doc) == {
        "filters": "int", "kernel_regularizer": "str or Regularizer or None",
        "bias_regularizer": "str or Regularizer or None",
        "shape": "tuple of ints (batch, features)", "loose": None, "kwargs": None}
    assert args_entries("No sections.") is None


@pytest.mark.parametrize("qualified", sorted(CALLABLES))
def test_every_argument_has_a_typed_entry(qualified):
    obj, docstring, overrides = CALLABLES[qualified]
    parameters = _parameters(obj)
    if parameters is None:
        pytest.skip(f"{qualified}: Python cannot read its signature")
    entries = args_entries(docstring)
    if entries is None and (overrides or not parameters):
        return  # documented by the base class's method, or nothing to document
    assert entries is not None, f"{qualified}: no Args section for {parameters}"
    named = [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    missing = [p.name for p in named if p.name not in entries]
    untyped = [p.name for p in named if p.name in entries and not entries[p.name]]
    assert not missing, f"{qualified}: arguments without an Args entry: {missing}"
    assert not untyped, f"{qualified}: Args entries without a (type): {untyped}"
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in parameters)
    stale = set(entries) - {p.name for p in parameters}
    assert takes_kwargs or not stale, \
        f"{qualified}: Args entries for arguments it does not take: {sorted(stale)}"


def _layer_classes():
    """Every public layer class of ``minidl.layers`` (aliases once), but the base."""
    import minidl.layers as layers_module
    found = {}
    for name in layers_module.__all__:
        value = getattr(layers_module, name)
        if inspect.isclass(value) and issubclass(value, layers_module.Layer) and \
                value is not layers_module.Layer and value not in found.values():
            found[name] = value
    return found


LAYERS = _layer_classes()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_documents_its_shapes_and_call_arguments(name):
    """As Keras's reference pages: the input and output shapes, and a ``Call
    arguments:`` section whose entries are typed like ``Args:``'s."""
    doc = inspect.cleandoc(LAYERS[name].__doc__ or "")
    assert "Input shape" in doc, f"{name}: no 'Input shape' in its docstring"
    assert "Output shape" in doc, f"{name}: no 'Output shape' in its docstring"
    lines = doc.splitlines()
    assert "Call arguments:" in lines, f"{name}: no 'Call arguments:' section"
    section = "\n".join(lines[lines.index("Call arguments:"):]).replace(
        "Call arguments:", "Args:", 1)
    entries = args_entries(section)
    assert "inputs" in entries, f"{name}: the Call arguments do not list 'inputs'"
    untyped = [entry for entry, kind in entries.items() if not kind]
    assert not untyped, f"{name}: Call arguments without a (type): {untyped}"
