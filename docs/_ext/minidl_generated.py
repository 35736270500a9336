"""Tables written at build time from the benchmarks' JSON files, and the README commands.

On ``builder-inited`` this extension reads

* the benchmark results (``benchmarks/results.json``, else the newest
  ``docs/performance/*.json``, written by ``python -m benchmarks.run --json ...``) and
  writes ``docs/_generated/performance.rst``;
* the two commands of README.md (between its ``example-command`` and ``test-command``
  markers, as ``.ci/run`` reads them) and writes ``docs/_generated/readme_*.rst``.

``performance.rst`` includes these files, so rerunning the benchmarks and rebuilding
updates the page (the reproductions' tables come from ``minidl_results.py``). A missing
file gives a sentence saying so, never an error. Files are rewritten only when their text changes (Sphinx re-reads the including
page exactly when a table changed). ``docs/_generated`` is git-ignored.

The renderer is deliberately tolerant: it tabulates what the JSON holds and skips what
it does not.
"""
import datetime
import json
import os
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- rst helpers


def _cell(value):
    """A table cell: floats to 4 decimals, None to an em dash, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return " ".join(_cell(v) for v in value)
    return str(value).replace("|", "/").replace("\n", " ")


def list_table(header, rows, title=None, widths=None):
    """An rst ``list-table`` (every cell converted with ``_cell``)."""
    lines = [f".. list-table:: {title or ''}".rstrip(), "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(str(w) for w in widths))
    lines.append("")
    for row in [header] + rows:
        first = True
        for value in row:
            text = value if row is header else _cell(value)
            lines.append(("   * - " if first else "     - ") + (str(text) or " "))
            first = False
    lines.append("")
    return lines


def _write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        logger.info("minidl_generated: skipping %s (%s)", path, exc)
        return None


def _mtime(path):
    stamp = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- benchmarks


def benchmark_file(repo):
    """The benchmark JSON to show: benchmarks/results.json, else the newest
    docs/performance/*.json; None when neither exists."""
    preferred = repo / "benchmarks" / "results.json"
    if preferred.is_file():
        return preferred
    candidates = sorted((repo / "docs" / "performance").glob("*.json"),
                        key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


_ROW_KEYS = ("rows", "results", "cases", "benchmarks")
_MACHINE_KEYS = ("machine", "environment", "system", "platform", "host")
_PREFERRED_COLUMNS = ("name", "description", "minidl", "reference", "unit", "reference_name",
                      "ratio", "ratio_min", "ratio_max", "target", "met", "minidl_s",
                      "reference_s")


def _benchmark_rows(data):
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    for key in _ROW_KEYS:
        if isinstance(data.get(key), list):
            return [r for r in data[key] if isinstance(r, dict)]
    return []


def _scalar(value):
    return value is None or isinstance(value, (str, int, float, bool)) or (
        isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float))
                                                 for v in value))


def render_performance(repo):
    """The rst of the benchmark results (machine, command, one table per group)."""
    path = benchmark_file(repo)
    if path is None:
        return (".. note::\n\n   No benchmark results yet: neither "
                "``benchmarks/results.json`` nor ``docs/performance/*.json`` exists. Run "
                "the command above and rebuild the documentation.\n")
    data = _load_json(path)
    if data is None:
        return f".. note::\n\n   ``{path.relative_to(repo)}`` could not be read as JSON.\n"
    lines = [f"Read from ``{path.relative_to(repo)}`` (written {_mtime(path)}).", ""]
    if isinstance(data, dict):
        for key in ("command", "argv"):
            if data.get(key):
                command = data[key] if isinstance(data[key], str) else " ".join(data[key])
                lines += ["Command::", "", f"   {command}", ""]
                break
        for key in _MACHINE_KEYS:
            machine = data.get(key)
            if isinstance(machine, dict) and machine:
                lines += list_table(["machine", ""], [[k, v] for k, v in machine.items()
                                                      if _scalar(v)], widths=[30, 70])
                break
            if isinstance(machine, str):
                lines += [f"Machine: {machine}", ""]
                break
        settings = {k: v for k, v in data.items() if _scalar(v) and k not in
                    ("command", "argv") + _MACHINE_KEYS}
        if settings:
            lines += list_table(["setting", "value"], [[k, v] for k, v in settings.items()],
                                widths=[30, 70])
    rows = _benchmark_rows(data)
    if not rows:
        lines += ["The file holds no benchmark rows.", ""]
        return "\n".join(lines) + "\n"
    groups = {}
    for row in rows:
        groups.setdefault(str(row.get("group", "results")), []).append(row)
    for group, group_rows in groups.items():
        present = [k for k in _PREFERRED_COLUMNS if any(k in r for r in group_rows)]
        extra = sorted({k for r in group_rows for k, v in r.items()
                        if k not in present and k != "group" and _scalar(v)})
        columns = present + extra
        lines += list_table(columns, [[r.get(c) for c in columns] for r in group_rows],
                            title=group)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- README commands


def readme_command(repo, marker):
    """The command between ``<!-- marker -->`` and ``<!-- /marker -->`` in README.md
    (the same extraction as .ci/run, so the page and CI cannot drift apart)."""
    try:
        text = (repo / "README.md").read_text()
    except OSError:
        return None
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start not in text or end not in text:
        return None
    block = text.split(start, 1)[1].split(end, 1)[0]
    lines = [line for line in block.splitlines()
             if line.strip() and not line.startswith("```")]
    return "\n".join(lines) or None


def render_readme_command(repo, marker):
    """A console code block with the README's command, or a note when it is missing."""
    command = readme_command(repo, marker)
    if command is None:
        return (f".. note::\n\n   README.md has no ``{marker}`` block; see the "
                f"repository's README.\n")
    body = "\n".join("   " + line for line in command.splitlines())
    return f".. code-block:: console\n\n{body}\n"


# ---------------------------------------------------------------- hook


def generate(app):
    """Write every generated include file (called on builder-inited)."""
    docs = Path(app.srcdir)
    repo = docs.parent
    out = docs / "_generated"
    _write_if_changed(out / "performance.rst", render_performance(repo))
    for marker in ("example-command", "test-command"):
        _write_if_changed(out / f"readme_{marker.replace('-', '_')}.rst",
                          render_readme_command(repo, marker))


def setup(app):
    """Hook the generator to builder-inited."""
    app.connect("builder-inited", generate)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
