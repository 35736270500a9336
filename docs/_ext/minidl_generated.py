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


def _benchmark_rows(data):
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    for key in _ROW_KEYS:
        if isinstance(data.get(key), list):
            return [r for r in data[key] if isinstance(r, dict)]
    return []


def _number(value):
    """A figure for reading: three significant digits, thousands grouped."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return _cell(value)
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _ratio(row):
    """``1.23x (0.98-1.51)``: the median ratio and its smallest and largest pair."""
    ratio = row.get("ratio")
    if not isinstance(ratio, (int, float)):
        return "—"
    spread = ""
    if isinstance(row.get("ratio_min"), (int, float)) and \
            isinstance(row.get("ratio_max"), (int, float)):
        spread = f" ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"
    return f"{ratio:.2f}x{spread}"


def _target(target):
    """The aim of a row: ``>= 1.5`` from ``[">=", 1.5]``, a bare number as ``1.5x``."""
    if target is None:
        return "—"
    if isinstance(target, (list, tuple)):
        return " ".join(str(part) for part in target)
    return f"{target}x"


def _machine_sentence(machine):
    """One sentence from the run's own machine record (CPU, cores, date, load)."""
    if isinstance(machine, str):
        return f"Machine: {machine}."
    if not isinstance(machine, dict):
        return "The file does not say which machine it was measured on."
    parts = [str(machine.get("cpu", "an unnamed CPU")) +
             (f" (family {machine['cpu_family']}, model {machine['cpu_model']}, "
              f"{float(machine['cpu_mhz']):.0f} MHz)" if machine.get("cpu_family") else "")]
    if machine.get("usable_cores"):
        parts.append(f"{machine['usable_cores']} usable cores")
    if machine.get("threads"):
        parts.append(f"{machine['threads']} threads")
    load = machine.get("load_average")
    if isinstance(load, list) and load:
        after = machine.get("load_average_after")
        parts.append(f"load average {load[0]:.2f} at the start" +
                     (f" and {after[0]:.2f} at the end" if after else ""))
    trip = machine.get("core_round_trip_ns")
    if trip:
        after = machine.get("core_round_trip_ns_after")
        parts.append(f"a round trip between the two threads' cores of {trip:.0f} ns at the "
                     f"start" + (f" and {after:.0f} ns at the end" if after else ""))
    versions = [f"{name} {machine[key]}" for name, key in
                (("minidl", "minidl"), ("commit", "minidl_commit"), ("NumPy", "numpy"),
                 ("BLAS", "numpy_blas"), ("PyTorch", "torch")) if machine.get(key)]
    date = str(machine.get("date", "an unrecorded date"))
    return (f"Measured on {', '.join(parts)}, on {date}, with {', '.join(versions)} "
            f"(platform {machine.get('platform', 'unrecorded')}).")


def _peak_sentences(machine):
    """The run's own measured ceiling, and how the % of peak column reads."""
    peak = machine.get("peak") if isinstance(machine, dict) else None
    if not isinstance(peak, dict):
        return ["This run predates the measured ceiling: no % of peak column.", ""]
    fma, sgemm = peak.get("fma_gflops", {}), peak.get("sgemm_gflops", {})
    threads = str(machine.get("threads"))
    parts = [f"{n} thread{'s' if n != '1' else ''}: FMA {_number(fma[n])}, SGEMM "
             f"{_number(sgemm.get(n))} GFLOP/s" for n in sorted(fma)]
    return [f"Measured ceiling of this machine in the same run ({'; '.join(parts)}). "
            f"**% of peak** is the achieved GFLOP/s over the FMA ceiling at {threads} "
            f"threads: minidl's, then the reference's (steps and inference count the "
            f"convolutions' and dense layers' multiply-adds only); **% of SGEMM** is "
            f"minidl's over its own SGEMM 1024 at {threads} threads, the rate a large, "
            f"well-shaped matrix product reaches on this machine.", ""]


def _shares(row):
    """``63% / 41%``: minidl's and the reference's share of the ceiling, if known."""
    ours, theirs = row.get("percent_of_peak"), row.get("reference_percent_of_peak")
    if not isinstance(ours, (int, float)):
        return ""
    return f"{ours:.0f}%" + (f" / {theirs:.0f}%" if isinstance(theirs, (int, float)) else "")


def _percent(value):
    """``63%``, or nothing where the value is unknown."""
    return f"{value:.0f}%" if isinstance(value, (int, float)) else ""


def render_performance(repo):
    """The rst of the benchmark results: the machine and date from the file itself, the
    command, a link to the full JSON, and per group a table of the columns that matter
    (case, minidl, reference, unit, ratio with its spread, target, met)."""
    path = benchmark_file(repo)
    if path is None:
        return (".. note::\n\n   No benchmark results yet: neither "
                "``benchmarks/results.json`` nor ``docs/performance/*.json`` exists. Run "
                "the command above and rebuild the documentation.\n")
    data = _load_json(path)
    if data is None:
        return f".. note::\n\n   ``{path.relative_to(repo)}`` could not be read as JSON.\n"
    record = data if isinstance(data, dict) else {}
    relative = path.relative_to(repo)
    lines = [_machine_sentence(record.get("machine")), ""]
    command = record.get("command")
    if command:
        lines += ["Command::", "", f"   {command}", ""]
    else:
        lines += [f"``{relative}`` does not record its command line (it predates that "
                  f"field).", ""]
    from_docs = Path(os.path.relpath(path, repo / "docs")).as_posix()
    lines += [f"Every figure, with seconds per call and the best samples: "
              f":download:`{relative.name} </{from_docs}>`.", ""]
    rows = _benchmark_rows(data)
    if not rows:
        return "\n".join(lines + ["The file holds no benchmark rows.", ""]) + "\n"
    groups = {}
    for row in rows:
        groups.setdefault(str(row.get("group", "results")), []).append(row)
    lines += _peak_sentences(record.get("machine"))
    header = ["case", "minidl", "reference", "unit", "ratio (spread)", "% of peak",
              "% of SGEMM", "target", "met"]
    for group, group_rows in groups.items():
        table = [[row.get("description") or row.get("name"), _number(row.get("minidl")),
                  f"{_number(row.get('reference'))} {row.get('reference_name') or ''}".strip(),
                  row.get("unit"), _ratio(row), _shares(row),
                  _percent(row.get("percent_of_sgemm")), _target(row.get("target")),
                  row.get("met")] for row in group_rows]
        lines += list_table(header, table, title=group, widths=[28, 9, 15, 8, 13, 9, 8, 6, 4])
    return "\n".join(lines) + "\n"


def render_distributed(repo):
    """The rst of ``docs/performance/distributed.json`` (benchmarks/distributed.py): the
    measured steps, then the modelled scaling per network."""
    path = repo / "docs" / "performance" / "distributed.json"
    data = _load_json(path) if path.is_file() else None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        return (".. note::\n\n   No distributed benchmark yet: run ``python -m "
                "benchmarks.distributed --json docs/performance/distributed.json``.\n")
    load = data.get("load_average") or [None]
    lines = ["Command::", "", f"   {data.get('command', '(not recorded)')}", "",
             f"Load average {_number(load[0])} at the start; the networks of the model: " +
             "; ".join(f"{name}: latency {1e6 * alpha:.0f} µs, bandwidth "
                       f"{bandwidth / 1e9:.1f} GB/s" for name, (alpha, bandwidth)
                       in data.get("networks", {}).items()) + ".", ""]
    rows = [[r.get("model"), r.get("global_batch"), _number(r.get("gradient_bytes", 0) / 1e6),
             _number(r.get("one_process_2_threads_step_ms")),
             _number(r.get("two_ranks_step_ms")), f"{r.get('two_ranks_vs_one_process', 0):.2f}x",
             _number(r.get("two_ranks_exposed_allreduce_ms")),
             _number(r.get("overlap_window_ms"))] for r in data["results"]]
    lines += list_table(["model", "global batch", "gradients (MB)", "1 process, 2 threads (ms)",
                         "2 ranks x 1 thread (ms)", "speed ratio",
                         "allreduce left on the step (ms)", "overlap window (ms)"], rows,
                        title="Measured on this machine")
    for r in data["results"]:
        for network, table in (r.get("tables") or {}).items():
            lines += list_table(
                ["ranks", "allreduce (ms)", "left when overlapped (ms)", "weak scaling",
                 "weak, overlapped", "strong speed-up", "strong, overlapped"],
                [[t["ranks"], _number(t["allreduce_ms"]), _number(t["exposed_ms"]),
                  f"{100 * t['weak_efficiency']:.0f}%",
                  f"{100 * t['weak_efficiency_overlapped']:.0f}%",
                  f"{t['strong_speedup']:.1f}x", f"{t['strong_speedup_overlapped']:.1f}x"]
                 for t in table],
                title=f"Model: {r.get('model')} on {network}")
    return "\n".join(lines) + "\n"


def render_speedrun(repo):
    """The rst of ``docs/results/speedrun/*.json`` (examples/mnist_speedrun.py and
    examples/cifar10_speedrun.py): per task a table of each framework's runs, their times
    and accuracies and their summary."""
    files = sorted((repo / "docs" / "results" / "speedrun").glob("*.json"))
    records = [r for r in (_load_json(p) for p in files) if isinstance(r, dict)]
    if not records:
        return (".. note::\n\n   No speedrun results yet: run ``python "
                "examples/mnist_speedrun.py --out docs/results/speedrun/mnist_minidl.json``.\n")
    tasks = {}
    for record in records:
        # the first MNIST records predate the task and target fields
        task = record.get("task", "LeNet-5 with BN to 99% MNIST test accuracy")
        tasks.setdefault(task, []).append(record)
    lines = []
    for task, task_records in tasks.items():
        rows = [_speedrun_row(record) for record in task_records]
        rows = [row for row in rows if row]
        lines += list_table(
            ["framework", "threads", "epochs", "mean time", "sd", "mean accuracy", "range",
             "seeds at target", "data loading (not timed)", "command"], rows,
            title=f"{task}, {max(len(r.get('runs') or []) for r in task_records)} seeds")
    return "\n".join(lines) + "\n"


def _speedrun_row(record):
    """One framework's row of a speedrun table (None without runs)."""
    import statistics
    runs = record.get("runs") or []
    times = [r["seconds"] for r in runs]
    accuracies = [r["test_accuracy"] for r in runs]
    if not times:
        return None
    target = record.get("target", 0.99)
    reached = sum(a >= target for a in accuracies)
    framework = record.get("framework")
    if record.get("layout"):
        framework = f"{framework} ({record['layout']})"
    return [framework, record.get("threads"), record.get("epochs"),
            f"{statistics.mean(times):.1f} s",
            f"{statistics.stdev(times):.1f} s" if len(times) > 1 else "—",
            f"{100 * statistics.mean(accuracies):.2f}%",
            f"{100 * min(accuracies):.2f}-{100 * max(accuracies):.2f}%",
            f"{reached}/{len(runs)} at {100 * target:g}%", f"{record.get('load_seconds', 0):.1f} s",
            f"``{record.get('command', '')}``"]


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
    _write_if_changed(out / "distributed.rst", render_distributed(repo))
    _write_if_changed(out / "speedrun.rst", render_speedrun(repo))
    for marker in ("example-command", "test-command"):
        _write_if_changed(out / f"readme_{marker.replace('-', '_')}.rst",
                          render_readme_command(repo, marker))


def setup(app):
    """Hook the generator to builder-inited."""
    app.connect("builder-inited", generate)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
