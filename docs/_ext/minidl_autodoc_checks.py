"""A Sphinx extension that keeps minidl's API reference complete and honest.

1. **A public name without a docstring is a build failure.** Every object autodoc
   documents (modules, classes, exceptions, functions, methods, properties) must have
   a non-empty docstring; otherwise a warning of type ``minidl.missing-docstring`` is
   emitted, which ``sphinx-build -W`` turns into an error. Classes must carry their own
   docstring (Python would silently inherit the base class's); a method or property
   may inherit its parent's (an override of a documented method). ``conf.py`` turns on
   ``undoc-members`` so that undocumented members reach this check instead of being
   skipped silently. Module-level constants (data) are left out of the reference; the
   guide describes the ones users need.

2. **Every exported name is documented.** For the modules in ``minidl_required_exports``
   (conf value), each name in ``__all__`` (or, without ``__all__``, each public function
   and class defined in the module) must appear in the reference
   (``minidl.exports-missing`` warning otherwise).

3. **Cython signatures.** ``minidl._C`` is built with ``embedsignature=True``, so each
   wrapper's docstring starts with a signature line. For functions over the fused type
   ``real`` (float or double) Cython embeds the generic dispatcher's
   ``f(signatures, args, kwargs, defaults, _fused_sigindex={})``; newer builds of
   ``minidl._C`` replace that at import with the untyped Python signature. Either way
   the line does not show the C types, and Sphinx, which parses a signature as Python,
   would split ``real[:, ::1] y`` at its commas. So the embedded line is dropped, the
   header shows the Python signature (``inspect.signature``: names and defaults) and
   the docstring opens with the exact Cython signature, read from the ``.pxi`` source.

4. **Private bases.** ``Bases:`` lines show the nearest public base class instead of a
   private helper such as ``_WithActivation``.
"""
import inspect
import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

# What autodoc calls the objects whose docstrings are checked.
_CHECKED = {"module", "class", "exception", "function", "method", "property", "decorator",
            "classmethod", "staticmethod"}
_FUSED_DISPATCHER = re.compile(r"^\w+\(signatures, args, kwargs, defaults")


def _is_public(name):
    """True when no component of the dotted name starts with an underscore."""
    return not any(part.startswith("_") for part in name.split("."))


def _own_class_doc(obj):
    """A class's own docstring (not one inherited from a base class)."""
    doc = vars(obj).get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


# ---------------------------------------------------------------- Cython signatures

_pxi_signatures = None


def _cython_source_signatures():
    """``{name: "(real[:, ::1] y, ...)"}`` for every ``def`` in minidl's .pxi files."""
    global _pxi_signatures
    if _pxi_signatures is None:
        import minidl
        _pxi_signatures = {}
        package = Path(minidl.__file__).parent
        pattern = re.compile(r"^def (\w+)\((.*?)\):", re.S | re.M)
        for path in sorted(package.glob("_C*.pxi")) + sorted(package.glob("_C.pyx")):
            for match in pattern.finditer(path.read_text()):
                args = " ".join(match.group(2).split())
                _pxi_signatures[match.group(1)] = f"({args})"
    return _pxi_signatures


def _is_cython_function(obj):
    return type(obj).__name__ in ("cython_function_or_method", "fused_cython_function")


def _strip_embedded_signature(name, lines):
    """Drop a leading Cython-embedded signature line (and the blank line after it)."""
    short = name.rsplit(".", 1)[-1]
    if lines and (lines[0].startswith(short + "(") or _FUSED_DISPATCHER.match(lines[0])):
        del lines[0]
        while lines and not lines[0].strip():
            del lines[0]


def process_signature(app, what, name, obj, options, signature, return_annotation):
    """The Python signature (names and defaults) of every Cython function.

    Sphinx parses signatures as Python, which mangles C types such as ``real[:, ::1] y``
    (it splits at the commas inside the brackets), so the typed signature goes into the
    docstring (``_typed_signature_lines``) and the header shows ``inspect.signature``.
    """
    if what == "function" and _is_cython_function(obj):
        try:
            return str(inspect.signature(obj)), return_annotation
        except (TypeError, ValueError):
            return signature, return_annotation
    return None


def _typed_signature_lines(name, lines):
    """The C-typed signature as the docstring's first paragraph.

    From the ``.pxi`` source for every wrapper (the embedded line is the dispatcher's for
    fused functions); else the embedded line itself.
    """
    short = name.rsplit(".", 1)[-1]
    typed = _cython_source_signatures().get(short)
    if typed is None and lines and lines[0].startswith(short + "("):
        typed = lines[0][len(short):]
    if typed is None:
        return []
    note = " (``real`` is float or double, the same for every array)" \
        if "real" in typed.split() or "real[" in typed else ""
    return [f"Cython signature{note}: ``{short}{typed}``", ""]


# ---------------------------------------------------------------- docstring check


def process_docstring(app, what, name, obj, options, lines):
    """Clean Cython docstrings; warn about public objects without a docstring."""
    if _is_cython_function(obj):
        typed = _typed_signature_lines(name, lines)
        _strip_embedded_signature(name, lines)
        if any(line.strip() for line in lines):  # an empty docstring stays empty
            lines[:0] = typed
    if what not in _CHECKED or not _is_public(name):
        return
    if what in ("class", "exception", "module"):
        empty = not _own_class_doc(obj)
    else:
        empty = not any(line.strip() for line in lines)
    if empty:
        logger.warning("public %s %s has no docstring (every public name needs one)",
                       what, name, type="minidl", subtype="missing-docstring",
                       location=_location(obj))
    app.env.minidl_documented = getattr(app.env, "minidl_documented", set())
    app.env.minidl_documented.add(name)


def _location(obj):
    """``file:line`` of an object's definition, where Python knows it."""
    try:
        return f"{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}"
    except (TypeError, OSError):
        return None


def skip_member(app, what, name, obj, skip, options):
    """Leave module-level constants out of the reference; keep everything else as is."""
    if what == "module" and not (inspect.isclass(obj) or callable(obj)
                                 or inspect.ismodule(obj)):
        return True
    return None


def process_bases(app, name, obj, options, bases):
    """Show the nearest public base instead of a private one (``_Pooling2D`` ...)."""
    public = []
    for base in bases:
        for candidate in getattr(base, "__mro__", (base,)):
            if not getattr(candidate, "__name__", "_").startswith("_"):
                if candidate not in public:
                    public.append(candidate)
                break
    bases[:] = public


# ---------------------------------------------------------------- completeness


def _exports(module):
    """The names a module exports: ``__all__``, else its public functions and classes."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return [n for n in names if not inspect.ismodule(getattr(module, n, None))
                and not n.startswith("__")]
    return [n for n, v in vars(module).items()
            if not n.startswith("_") and (inspect.isroutine(v) or inspect.isclass(v)
                                          or _is_cython_function(v))
            and getattr(v, "__module__", None) == module.__name__]


def merge_documented(app, env, docnames, other):
    """Parallel builds: merge the sets of documented names."""
    env.minidl_documented = getattr(env, "minidl_documented", set()) | \
        getattr(other, "minidl_documented", set())


def purge_documented(app, env, docname):
    """Nothing per document to purge (names are only added); kept for parallel safety."""


def check_exports(app, env):
    """Warn about every exported name that the reference does not document."""
    import importlib
    documented = getattr(env, "minidl_documented", set())
    py_objects = set(env.get_domain("py").objects)
    for module_name in app.config.minidl_required_exports:
        module = importlib.import_module(module_name)
        for name in _exports(module):
            full = f"{module_name}.{name}"
            if full not in documented and full not in py_objects:
                logger.warning("%s is exported by %s but missing from the API reference",
                               full, module_name, type="minidl", subtype="exports-missing")


def setup(app):
    """Register the hooks and the ``minidl_required_exports`` setting."""
    app.add_config_value("minidl_required_exports", [], "env")
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("autodoc-process-signature", process_signature)
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-bases", process_bases)
    app.connect("env-merge-info", merge_documented)
    app.connect("env-purge-doc", purge_documented)
    app.connect("env-check-consistency", check_exports)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
