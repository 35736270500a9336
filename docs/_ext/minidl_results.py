"""Tables of the reproductions, written at build time from the experiments' summaries.

On ``builder-inited`` this extension reads ``docs/results/<experiment>/summary.json``
(written by ``examples/summarize_results.py`` from the per-seed run files of minidl and
PyTorch) and writes, into ``docs/_generated/``:

* ``results_<experiment>.rst``: where the numbers come from (machine, dates, threads,
  command), the targets, a summary per variant and framework (seed means and standard
  deviations) and, per variant, the per-epoch accuracies of both frameworks side by side;
* ``layers_<experiment>.rst``: the per-layer gradient norms and saturated fractions that
  ``minidl.callbacks.LayerStatistics`` recorded (the "Vanishing gradients, measured" page).

A missing summary gives a sentence saying so, never an error; files are rewritten only
when their text changes.
"""
import json
from pathlib import Path

EXPERIMENTS = ("cifar10", "lenet5", "resnet20")
FRAMEWORKS = (("minidl", "minidl"), ("pytorch", "PyTorch"))


def _load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def percent(stats, index=-1, spread=True):
    """An accuracy series entry as "43.1 ± 1.2" (percent, seed mean ± std)."""
    if not stats:
        return "—"
    try:
        mean, std = stats["mean"][index], stats["std"][index]
    except (IndexError, KeyError):
        return "—"
    text = f"{100 * mean:.1f}"
    return f"{text} ± {100 * std:.1f}" if spread and stats.get("seeds", 1) > 1 else text


def table(header, rows, widths=None, title=""):
    """An rst list-table."""
    lines = [f".. list-table:: {title}".rstrip(), "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(map(str, widths)))
    lines.append("")
    for row in [header] + rows:
        lines += [f"   * - {row[0]}"] + [f"     - {cell}" for cell in row[1:]]
    return lines + [""]


def provenance(summary):
    """Where the numbers come from: machine, dates, threads, versions, seeds."""
    lines = []
    for key, name in FRAMEWORKS:
        variants = summary["frameworks"].get(key) or {}
        if not variants:
            continue
        first = next(iter(variants.values()))
        machine = first.get("machine") or {}
        dates = sorted({d for v in variants.values() for d in v.get("dates", []) if d})
        threads = sorted({t for v in variants.values() for t in v.get("threads", [])})
        seeds = sorted({s for v in variants.values() for s in v.get("seeds", [])})
        lines.append(f"* **{name}** {first.get('version', '')}: seeds "
                     f"{', '.join(map(str, seeds))}; {', '.join(map(str, threads))} "
                     f"thread(s) per run; {machine.get('cpu', 'unknown CPU')} "
                     f"({machine.get('cores', '?')} cores); run on "
                     f"{' to '.join(dict.fromkeys([dates[0], dates[-1]])) if dates else '?'}.")
    return lines + [""]


def target_rows(summary):
    """The targets and whether the seed means meet them."""
    rows = []
    for target in summary.get("targets", []):
        ours = target.get("minidl")
        theirs = target.get("pytorch")
        difference = target.get("difference_pt", target.get("largest_difference_pt"))
        rows.append([target["target"],
                     "—" if ours is None else f"{100 * ours:.2f}",
                     "—" if theirs is None else f"{100 * theirs:.2f}",
                     "—" if difference is None else f"{difference:+.2f}",
                     "**met**" if target["met"] else "**missed**"])
    return rows


def summary_rows(summary):
    """One row per variant and framework: the headline numbers, seed mean ± std."""
    rows = []
    variants = list(summary["frameworks"].get("minidl") or {}) or \
        list(summary["frameworks"].get("pytorch") or {})
    blog = summary.get("blog", {})
    for variant in variants:
        for key, name in FRAMEWORKS:
            entry = (summary["frameworks"].get(key) or {}).get(variant)
            if not entry:
                continue
            metrics = entry["metrics"]
            best = entry["best_val_accuracy"]
            rows.append([entry["label"], name, percent(metrics["val_accuracy"], 0),
                         percent(metrics["val_accuracy"]), percent(metrics["accuracy"]),
                         f"{100 * best['mean']:.1f} ± {100 * best['std']:.1f}",
                         f"{entry['seconds_per_epoch_median']:.1f}"])
        if variant in blog:
            numbers = blog[variant]
            rows.append([variant.replace("_", " "), "blog (reported)",
                         f"≈ {100 * numbers['1']:.1f}", f"≈ {100 * numbers['10']:.1f}",
                         "—", "—", "—"])
    return rows


def epoch_table(summary, variant):
    """Per-epoch accuracies and validation loss of both frameworks for one variant."""
    sides = [(name, (summary["frameworks"].get(key) or {}).get(variant))
             for key, name in FRAMEWORKS]
    sides = [(name, entry) for name, entry in sides if entry]
    if not sides:
        return []
    epochs = max(len(entry["metrics"]["accuracy"]["mean"]) for _, entry in sides)
    header = ["epoch"]
    for name, _ in sides:
        header += [f"train acc, {name}", f"val acc, {name}", f"val loss, {name}"]
    rows = []
    for i in range(epochs):
        row = [str(i + 1)]
        for _, entry in sides:
            metrics = entry["metrics"]
            loss = metrics.get("val_loss")
            row += [percent(metrics["accuracy"], i), percent(metrics["val_accuracy"], i),
                    "—" if not loss or i >= len(loss["mean"]) else f"{loss['mean'][i]:.3f}"]
        rows.append(row)
    return table(header, rows, title=sides[0][1]["label"])


def render_results(summary, experiment):
    """The rst of one experiment's results."""
    if summary is None:
        return (f".. note::\n\n   No results yet: ``docs/results/{experiment}/summary.json`` "
                f"does not exist. Run the experiments and ``examples/summarize_results.py`` "
                f"(or ``examples/reproduce.py``), then rebuild.\n")
    lines = ["Every number below is the mean ± standard deviation over the seeds "
             "(accuracies in percent); each run is a separate process, two at a time on "
             "the two cores.", ""]
    lines += provenance(summary)
    if summary.get("targets"):
        lines += table(["target", "minidl", "PyTorch", "difference (pt)", ""],
                       target_rows(summary), widths=[50, 10, 10, 12, 8], title="Targets")
    lines += table(["variant", "framework", "val acc, epoch 1", "val acc, last epoch",
                    "train acc, last epoch", "best val acc", "s / epoch"],
                   summary_rows(summary), widths=[30, 12, 12, 12, 12, 12, 8],
                   title="Summary")
    lines += [".. rubric:: Per epoch, minidl beside PyTorch", ""]
    for variant in summary["frameworks"].get("minidl") or {}:
        lines += epoch_table(summary, variant)
    for name in (f"{experiment}_seeds.png",):
        lines += [f".. figure:: /results/{experiment}/{name}", "   :width: 100%", "",
                  "   Seed means (lines) and min–max over the seeds (bands); minidl solid, "
                  "PyTorch dashed.", ""]
    return "\n".join(lines) + "\n"


def render_layers(summary, experiment):
    """The rst of the per-layer statistics (gradient norms, saturation)."""
    layers = (summary or {}).get("layers")
    if not layers:
        return (f".. note::\n\n   No layer statistics yet for {experiment}: run the "
                f"experiment with ``--layer-stats N`` and summarise it.\n")
    lines = []
    for variant, record in layers.items():
        steps = record["recorded_steps"]
        header = ["depth", "layer", f"‖∇W‖ step {steps[0]}", f"‖∇W‖ step {steps[1]}",
                  f"‖∇W‖ step {steps[2]}", "‖∇W‖ median", f"saturated, step {steps[0]}",
                  f"saturated, step {steps[1]}", f"saturated, step {steps[2]}"]
        rows = []
        for layer in record["layers"]:
            saturated = ["—" if value != value else f"{100 * value:.1f}%"  # NaN: not counted
                         for value in layer["saturated_fraction"]]
            rows.append([str(layer["depth"]),
                         f"{layer['class_name']} ({layer['activation'] or 'linear'})",
                         *(f"{v:.2e}" for v in layer["gradient_norm"]),
                         f"{layer['gradient_norm_median']:.2e}", *saturated])
        lines += table(header, rows, title=f"{variant} (seed {record['seed']}, recorded "
                                             f"every {record['every']} batches)")
    lines += [f".. figure:: /results/{experiment}/{experiment}_gradients.png",
              "   :width: 100%", "",
              "   Kernel gradient norm (top, log scale) and saturated fraction (bottom) "
              "against layer depth; one line per recorded batch, coloured from the first "
              "(dark) to the last (light).", ""]
    return "\n".join(lines) + "\n"


def generate(app):
    """Write the generated include files (called on builder-inited)."""
    docs = Path(app.srcdir)
    out = docs / "_generated"
    for experiment in EXPERIMENTS:
        summary = _load(docs / "results" / experiment / "summary.json")
        _write_if_changed(out / f"results_{experiment}.rst", render_results(summary, experiment))
        _write_if_changed(out / f"layers_{experiment}.rst", render_layers(summary, experiment))


def setup(app):
    """Hook the generator to builder-inited."""
    app.connect("builder-inited", generate)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
