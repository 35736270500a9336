"""The package's structure, read from its source: the import graph of ``minidl`` has no
circle (imports inside functions count too), layers and models reach the compiled
kernels only through ``minidl.ops``, and device types stay inside the backends."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "minidl"


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    """{module name: path} of every Python module of the package."""
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path, modules):
    """The minidl modules a file imports anywhere (module level or inside functions);
    compiled extensions (``minidl._C``) are modules without imports of their own."""
    modules = set(modules) | {_module_name(pyx) for pyx in PACKAGE.rglob("*.pyx")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.startswith("minidl"):
            for alias in node.names:  # 'from minidl import ops' imports the module ops
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return found


def _graph():
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_planted_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_minidl():
    graph = _graph()
    assert "minidl.ops.nn" in graph and "minidl.backend.cuda" in graph
    assert _cycles(graph) == []


@pytest.mark.parametrize("package", ["layers", "models", "optimizers", "losses",
                                     "metrics", "callbacks"])
def test_only_the_ops_and_backends_reach_the_kernels(package):
    graph = _graph()
    kernels = {"minidl._C", "minidl._cuda", "minidl.cuda._array", "minidl.cuda._runtime"}
    for name, imported in graph.items():
        if name == f"minidl.{package}" or name.startswith(f"minidl.{package}."):
            assert not imported & kernels, (name, imported & kernels)


def test_device_array_types_are_known_only_to_the_backends():
    for name, path in _modules().items():
        if name.startswith(("minidl.backend", "minidl.cuda")):
            continue
        tree = ast.parse(path.read_text())
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | \
            {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        assert "DeviceArray" not in names, name
