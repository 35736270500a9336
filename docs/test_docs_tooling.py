"""Tests of the documentation's own tooling (docs/_ext, docs/_inventories).

They show that the strictness the site relies on is real: a public name without a
docstring fails a ``-W`` build, an exported name missing from the reference fails it,
and the generated results pages say "no results yet" instead of failing. Each Sphinx
build here is a tiny project in a temporary folder (a few seconds in all).
"""
import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import minidl_generated  # noqa: E402
import minidl_results  # noqa: E402

CONF = """
import sys
sys.path.insert(0, {ext!r})
sys.path.insert(0, {src!r})
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "minidl_autodoc_checks"]
autodoc_default_options = {{"members": True, "undoc-members": True}}
minidl_required_exports = {exports!r}
"""


def sphinx_project(tmp_path, module_source, page, exports=()):
    """A project with one module ``toy`` and one page; returns (returncode, output)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "toy.py").write_text(textwrap.dedent(module_source))
    (tmp_path / "conf.py").write_text(CONF.format(ext=str(DOCS / "_ext"), src=str(src),
                                                  exports=list(exports)))
    (tmp_path / "index.rst").write_text(textwrap.dedent(page))
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html",
         str(tmp_path), str(tmp_path / "_build")],
        capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


DOCUMENTED = '''
    """A toy module."""
    __all__ = ["Thing", "helper"]


    class Thing:
        """A thing."""

        def method(self):
            """Do it."""


    def helper(x):
        """Help with x."""
'''


def test_documented_module_builds_cleanly(tmp_path):
    code, output = sphinx_project(tmp_path, DOCUMENTED,
                                  "Toy\n===\n\n.. automodule:: toy\n", exports=["toy"])
    assert code == 0, output


@pytest.mark.parametrize("source, name", [
    (DOCUMENTED.replace('        """Help with x."""\n', "        return x\n"), "toy.helper"),
    (DOCUMENTED.replace('            """Do it."""\n', "            pass\n"),
     "toy.Thing.method"),
    (DOCUMENTED.replace('        """A thing."""\n', ""), "toy.Thing"),
], ids=["function", "method", "class"])
def test_missing_docstring_fails_the_build(tmp_path, source, name):
    code, output = sphinx_project(tmp_path, source, "Toy\n===\n\n.. automodule:: toy\n")
    assert code != 0
    assert f"{name} has no docstring" in output


def test_class_does_not_inherit_its_base_class_docstring(tmp_path):
    source = DOCUMENTED + '''

    class Sub(Thing):
        pass
'''
    source = source.replace('__all__ = ["Thing", "helper"]', '__all__ = ["Thing", "Sub", "helper"]')
    code, output = sphinx_project(tmp_path, source, "Toy\n===\n\n.. automodule:: toy\n")
    assert code != 0 and "toy.Sub has no docstring" in output


def test_exported_name_missing_from_the_reference_fails_the_build(tmp_path):
    page = "Toy\n===\n\n.. automodule:: toy\n   :no-members:\n\n.. autoclass:: toy.Thing\n"
    code, output = sphinx_project(tmp_path, DOCUMENTED, page, exports=["toy"])
    assert code != 0
    assert "toy.helper is exported by toy but missing from the API reference" in output


def test_cython_wrappers_show_their_typed_signature():
    import minidl_autodoc_checks as checks
    import minidl._C
    lines = minidl._C.batchnorm_forward_infer.__doc__.splitlines()
    # the embedded line: Cython's generic dispatcher signature for some fused functions
    # ("(signatures, args, kwargs, defaults, ...)"), the untyped Python one for others
    assert lines[0].startswith("batchnorm_forward_infer(")
    typed = checks._typed_signature_lines("minidl._C.batchnorm_forward_infer", lines)
    assert "``batchnorm_forward_infer(real[:, ::1] y" in typed[0]
    assert "const real[:, ::1] x" in typed[0] and "double epsilon=1e-3)``" in typed[0]
    checks._strip_embedded_signature("minidl._C.batchnorm_forward_infer", lines)
    assert lines[0].startswith("Inference forward")
    signature, _ = checks.process_signature(None, "function", "minidl._C.gemm",
                                            minidl._C.gemm, {}, None, None)
    assert signature == "(trans_a, trans_b, a, b, c, alpha=1.0, beta=0.0, program=None)"


# ---------------------------------------------------------------- generated pages


def test_results_page_says_so_when_there_are_no_results():
    assert "No results yet" in minidl_results.render_results(None, "lenet5")
    assert "No layer statistics yet" in minidl_results.render_layers(None, "lenet5")


def _write_run(folder, framework, variant, seed, val_accuracy, accuracy, seconds):
    """A run file as the experiment scripts write it."""
    path = folder / framework / f"{variant}_seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"experiment": "lenet5", "framework": framework, "version": "9.9",
              "variant": variant, "label": f"label of {variant}", "seed": seed,
              "history": {"loss": [0.5] * len(accuracy), "accuracy": accuracy,
                          "val_loss": [0.2] * len(accuracy), "val_accuracy": val_accuracy},
              "seconds_per_epoch": seconds, "threads": 1,
              "machine": {"cpu": "Test CPU", "cores": 2, "date": "2026-12-03T10:00:00+00:00"}}
    path.write_text(json.dumps(record))


def test_results_tables_come_from_the_seed_runs(tmp_path):
    """Run files -> summarize_results.py -> the rendered tables: seed means and
    standard deviations in percent, minidl beside PyTorch, the targets, the blog."""
    sys.path.insert(0, str(DOCS.parent / "examples"))
    import summarize_results
    folder = tmp_path / "lenet5"
    _write_run(folder, "minidl", "bn_blog", 0, [0.95, 0.980], [0.90, 0.97], [12.0, 11.0])
    _write_run(folder, "minidl", "bn_blog", 1, [0.96, 0.990], [0.92, 0.97], [13.0, 12.0])
    _write_run(folder, "pytorch", "bn_blog", 0, [0.95, 0.983], [0.91, 0.97], [20.0, 20.0])
    (folder / "minidl" / "broken.json.part").write_text("{")
    summary = summarize_results.summarise(str(folder), plots=False)
    target = summary["targets"][0]
    assert target["target"].startswith("bn_blog") and target["met"]  # 98.5 vs 98.3
    text = minidl_results.render_results(summary, "lenet5")
    assert "label of bn_blog" in text
    assert "95.5 ± 0.7" in text          # val accuracy after epoch 1: mean ± std of 2 seeds
    assert "98.5 ± 0.7" in text          # ... and after the last epoch
    assert "98.3" in text                # PyTorch, one seed: no spread
    assert "     - 12.0\n" in text  # the median seconds per epoch (minidl)
    assert "≈ 95.0" in text and "≈ 98.5" in text      # the blog's numbers
    assert "**met**" in text and "Test CPU" in text and "2026-12-03" in text


def test_performance_page_placeholder_and_table(tmp_path):
    assert "No benchmark results yet" in minidl_generated.render_performance(tmp_path)
    (tmp_path / "benchmarks").mkdir()
    data = {"command": "python -m benchmarks.run --json benchmarks/results.json",
            "machine": {"cpu": "Test CPU", "threads": 4, "date": "2026-11-21T23:12:33",
                        "peak": {"fma_gflops": {"1": 50.0, "4": 200.0},
                                 "sgemm_gflops": {"1": 45.0, "4": 170.0}}},
            "rows": [{"name": "gemm_512", "group": "gemm", "minidl": 80.0, "unit": "GFLOP/s",
                      "reference": 100.0, "reference_name": "numpy", "ratio": 0.8,
                      "ratio_min": 0.71, "ratio_max": 0.93, "minidl_s": 0.00002,
                      "target": [">=", 0.7], "met": True, "percent_of_peak": 40.0,
                      "reference_percent_of_peak": 50.0}]}
    (tmp_path / "benchmarks" / "results.json").write_text(json.dumps(data))
    text = minidl_generated.render_performance(tmp_path)
    assert "python -m benchmarks.run" in text and "Test CPU" in text
    assert "2026-11-21T23:12:33" in text  # the data's own date, not the file's
    assert "gemm_512" in text and "0.80x (0.71-0.93)" in text and ">= 0.7" in text
    assert "100 numpy" in text and "0.0000" not in text  # no seconds columns on screen
    assert "4 threads: FMA 200, SGEMM 170 GFLOP/s" in text and "40% / 50%" in text
    assert ":download:`results.json </../benchmarks/results.json>`" in text


def test_readme_commands_are_read_like_ci(tmp_path):
    (tmp_path / "README.md").write_text(
        "x\n<!-- test-command -->\n```\npython3 -m venv .venv && pytest\n```\n"
        "<!-- /test-command -->\n")
    assert minidl_generated.readme_command(tmp_path, "test-command") == \
        "python3 -m venv .venv && pytest"
    assert minidl_generated.readme_command(tmp_path, "example-command") is None
    assert "README.md has no" in minidl_generated.render_readme_command(tmp_path, "x")


# ---------------------------------------------------------------- offline intersphinx


@pytest.mark.parametrize("name, expected", [("python", "ValueError py:exception"),
                                            ("numpy", "numpy.ndarray py:class")])
def test_local_inventories_are_current_and_readable(name, expected):
    sys.path.insert(0, str(DOCS / "_inventories"))
    import make_inventories
    raw = (DOCS / "_inventories" / f"{name}.inv").read_bytes()
    header, _, body = raw.partition(b"zlib.\n")
    lines = zlib.decompress(body).decode()
    assert expected in lines
    entries = make_inventories.PYTHON if name == "python" else make_inventories.NUMPY
    assert len(lines.splitlines()) == len(entries), "rerun make_inventories.py"
    assert os.path.getsize(DOCS / "_inventories" / f"{name}.inv") < 4096


# ---------------------------------------------------------------- the offline rendering check

sys.path.insert(0, str(DOCS))
import check_rendered  # noqa: E402


def test_formulas_left_as_tex_are_found_and_typeset_ones_pass():
    raw = ('<p>a <span class="math notranslate">\\(\\gamma + 1\\)</span> and '
           '<div class="math">\\[x^2\\]</div></p>')
    typeset = ('<p>a <span class="math notranslate"><mjx-container><mjx-math>'
               '<mjx-mi></mjx-mi></mjx-math><mjx-assistive-mml><math><mi>γ</mi></math>'
               '</mjx-assistive-mml></mjx-container></span></p>')
    assert check_rendered.untypeset(raw) == ["\\(\\gamma + 1\\)", "\\[x^2\\]"]
    assert check_rendered.formulas(typeset) == ["γ"]
    assert check_rendered.untypeset(typeset) == []


def test_contents_boxes_and_pages_with_math_are_found(tmp_path):
    (tmp_path / "a.html").write_text('<div class="contents local topic">x</div>')
    (tmp_path / "b.html").write_text('<span class="math">\\(x\\)</span>')
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "c.html").write_text('<div class="contents">')
    assert check_rendered.contents_boxes(tmp_path) == [tmp_path / "a.html"]
    assert check_rendered.pages_with_math(tmp_path) == [tmp_path / "b.html"]
