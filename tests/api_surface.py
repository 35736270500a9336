"""The names the API reference must document: each module of ``minidl_required_exports``
(docs/conf.py) with its exports (``__all__``, else its own public functions and
classes). The docstring tests read it; the Sphinx check in docs/_ext reads the same list."""
import ast
import importlib
import inspect
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "docs" / "conf.py"


def documented_modules():
    """``minidl_required_exports`` from docs/conf.py."""
    for node in ast.parse(CONF.read_text()).body:
        if isinstance(node, ast.Assign) and \
                getattr(node.targets[0], "id", None) == "minidl_required_exports":
            return ast.literal_eval(node.value)
    raise AssertionError("docs/conf.py no longer defines minidl_required_exports")


def exports(module):
    """A module's exported names (no submodules)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and (inspect.isclass(v) or callable(v))
                 and getattr(v, "__module__", None) == module.__name__]
    return [n for n in names if not n.startswith("__")
            and not inspect.ismodule(getattr(module, n, None))]


def documented_objects():
    """``{qualified name: object}`` of every documented export (each object once)."""
    found, seen = {}, set()
    for module_name in documented_modules():
        module = importlib.import_module(module_name)
        for name in exports(module):
            obj = getattr(module, name)
            if id(obj) not in seen:
                seen.add(id(obj))
                found[f"{module_name}.{name}"] = obj
    return found
