"""MathJax shipped with the built site, so that formulas render offline.

The MathJax 3 files come from the ``django-static-mathjax`` package (a maintained
packaging of MathJax's release files, installed by the ``docs`` extra). After the
build, the CommonHTML component ``tex-chtml.js`` and what it loads on demand (its fonts,
the TeX extensions, the accessibility and menu modules) are copied into
``_static/mathjax/``; ``conf.py`` points ``mathjax_path`` there. Nothing is fetched from
a CDN when a page is opened.
"""
import importlib.util
import shutil
from pathlib import Path

#: The component the pages load, relative to _static.
MATHJAX_PATH = "mathjax/tex-chtml.js"

# what tex-chtml.js may load at run time, beside itself (the speech engine is left out:
# it is large and only used by the screen-reader extensions, which fall back without it)
_RUNTIME_PARTS = ("input", "output", "a11y", "ui", "adaptors")


def mathjax_release():
    """The ``es5`` directory of the installed MathJax release files."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the documentation needs MathJax from the 'django-static-mathjax' "
                           "package (pip install '.[docs]')")
    es5 = Path(spec.submodule_search_locations[0]) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise RuntimeError(f"no MathJax release files in {es5}")
    return es5


def copy_mathjax(app, exception):
    """Copy the MathJax files into the built site (HTML builders only)."""
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_release()
    target = Path(app.outdir) / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "tex-chtml.js", target / "tex-chtml.js")
    for part in _RUNTIME_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
    license_file = source.parent / "LICENSE"
    if license_file.is_file():
        shutil.copy2(license_file, target / "LICENSE")


def setup(app):
    """Register the copy step."""
    mathjax_release()  # fail at the start of the build, not at the end
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
