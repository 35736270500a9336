"""Summarise the seed runs of an experiment: per-epoch mean and spread of every metric for
each framework and variant, the targets, and the plots (seeds as a band; gradient norms
and saturation against layer depth).

Reads ``<folder>/<framework>/<variant>_seed<k>.json`` (written by the experiment scripts
and their PyTorch cross-checks) and ``*.layers.json`` (``--layer-stats``), writes
``<folder>/summary.json`` and the PNG plots beside it. The docs' results page renders
``summary.json``.

Run (after the experiments):
    python examples/summarize_results.py docs/results/cifar10 docs/results/lenet5 \
        docs/results/resnet20
"""
import argparse
import glob
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from experiment_utils import write_json  # noqa: E402

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
FRAMEWORKS = ("minidl", "pytorch")
# What the blogs report (validation accuracy after epoch 1 and epoch 10), for the tables.
BLOG_NUMBERS = {
    "lenet5": {"no_bn_blog": {"1": 0.93, "10": 0.98}, "bn_blog": {"1": 0.95, "10": 0.985}},
    "cifar10": {},  # the Keras blog shows plots only: "smoother and clearly better" with BN
}


def load_runs(folder):
    """{framework: {variant: [run records sorted by seed]}}"""
    runs = {}
    for framework in FRAMEWORKS:
        for path in sorted(glob.glob(os.path.join(folder, framework, "*_seed*.json"))):
            if path.endswith(".layers.json"):
                continue
            with open(path) as f:
                record = json.load(f)
            runs.setdefault(framework, {}).setdefault(record["variant"], []).append(record)
    for variants in runs.values():
        for records in variants.values():
            records.sort(key=lambda r: r["seed"])
    return runs


def series_stats(records, key):
    """Per-epoch mean, std (ddof 1 when there are several seeds), min and max of
    ``history[key]`` over the seeds (runs of unequal length are cut to the shortest)."""
    values = [r["history"][key] for r in records if key in r["history"]]
    if not values:
        return None
    length = min(len(v) for v in values)
    matrix = np.array([v[:length] for v in values], dtype=np.float64)
    std = matrix.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(length)
    return {"mean": matrix.mean(axis=0).tolist(), "std": std.tolist(),
            "min": matrix.min(axis=0).tolist(), "max": matrix.max(axis=0).tolist(),
            "seeds": len(values)}


def best_val_accuracy(records):
    """Mean and std over the seeds of each run's best validation accuracy."""
    best = [max(r["history"]["val_accuracy"]) for r in records]
    return {"mean": float(np.mean(best)),
            "std": float(np.std(best, ddof=1)) if len(best) > 1 else 0.0, "values": best}


def summarise_variant(records):
    """Everything the tables need about one framework's runs of one variant."""
    seconds = [s for r in records for s in r["seconds_per_epoch"]]
    return {"label": records[0]["label"], "seeds": [r["seed"] for r in records],
            "metrics": {key: series_stats(records, key) for key in METRICS},
            "best_val_accuracy": best_val_accuracy(records),
            "seconds_per_epoch_median": float(np.median(seconds)),
            "threads": sorted({r["threads"] for r in records}),
            "version": records[0]["version"],
            "machine": records[0].get("machine"),
            "dates": sorted({r.get("machine", {}).get("date", "")[:10] for r in records})}


def check_targets(experiment, summary):
    """The issue's targets, measured on the seed means (None when a side is missing)."""
    results = []

    def both(variant):
        sides = [summary.get(f, {}).get(variant) for f in FRAMEWORKS]
        return sides if all(sides) else None

    if experiment == "lenet5":
        for variant in ("no_bn_blog", "bn_blog", "no_bn_fixed", "bn_fixed"):
            sides = both(variant)
            if sides:
                ours, theirs = (s["metrics"]["val_accuracy"]["mean"][-1] for s in sides)
                results.append({"target": f"{variant}: final validation accuracy within "
                                          f"0.5 pt of PyTorch", "minidl": ours,
                                "pytorch": theirs, "difference_pt": 100 * (ours - theirs),
                                "met": abs(ours - theirs) <= 0.005})
    if experiment == "cifar10":
        sides = both("no_bn")
        if sides:
            highest = [max(s["metrics"]["val_accuracy"]["max"]) for s in sides]
            results.append({"target": "no_bn: at chance like PyTorch (every validation "
                                      "accuracy of every seed below 0.15)",
                            "minidl": highest[0], "pytorch": highest[1],
                            "met": all(h < 0.15 for h in highest)})
        sides = both("bn")
        if sides:
            ours, theirs = (np.array(s["metrics"]["accuracy"]["mean"]) for s in sides)
            gap = 100 * np.abs(ours - theirs[:len(ours)])
            results.append({"target": "bn: training accuracy within 2 pt of PyTorch at "
                                      "every epoch", "largest_difference_pt": float(gap.max()),
                            "met": bool(gap.max() <= 2.0)})
            ours_best, theirs_best = (s["best_val_accuracy"]["mean"] for s in sides)
            results.append({"target": "bn: best validation accuracy within 3 pt of PyTorch",
                            "minidl": ours_best, "pytorch": theirs_best,
                            "difference_pt": 100 * (ours_best - theirs_best),
                            "met": abs(ours_best - theirs_best) <= 0.03})
    return results


def load_layer_stats(folder, framework="minidl"):
    """{variant: [layer-statistics records sorted by seed]}"""
    stats = {}
    for path in sorted(glob.glob(os.path.join(folder, framework, "*.layers.json"))):
        with open(path) as f:
            record = json.load(f)
        stats.setdefault(record["variant"], []).append(record)
    return stats


# The order in which the variants are shown: each "without BN" before its "with BN".
VARIANT_ORDER = ("no_bn", "bn", "bn_before", "no_bn_blog", "bn_blog", "no_bn_fixed",
                 "bn_fixed")


def ordered(variants):
    """The variant names in display order (unknown names last, alphabetically)."""
    return sorted(variants, key=lambda v: (VARIANT_ORDER.index(v) if v in VARIANT_ORDER
                                           else len(VARIANT_ORDER), v))


def _has_values(series):
    return any(v is not None for v in series)


def kernel_layers(record):
    """The layers with a kernel, in depth order, each with the activation that acts on
    its output: its own, or, for a linear layer, the first separate activation layer
    before the next kernel (``Conv2D -> BatchNormalization -> Activation('sigmoid')``),
    so that the saturation of BN-before-the-activation models is attributed to the
    convolution it follows."""
    layers = []
    for layer in record["layers"]:
        if _has_values(layer["kernel_gradient_norm"]):
            layers.append(dict(layer))
        elif layers and layer["class_name"] == "Activation" and \
                layers[-1]["activation"] in (None, "linear") and \
                _has_values(layer["saturated_fraction"]):
            layers[-1]["activation"] = f"linear, then {layer['name']}: {layer['activation']}"
            layers[-1]["saturated_fraction"] = layer["saturated_fraction"]
    return layers


def summarise_layers(stats):
    """Per variant and kernel layer: the gradient norm and saturated fraction at the
    first, middle and last recorded batch, and over the whole run (median), seed 0."""
    out = {}
    for variant in ordered(stats):
        record = stats[variant][0]
        rows = []
        for depth, layer in enumerate(kernel_layers(record), start=1):
            norms = np.array(layer["kernel_gradient_norm"], dtype=np.float64)
            saturated = [np.nan if v is None else v for v in layer["saturated_fraction"]]
            saturated = np.array(saturated, dtype=np.float64)
            picks = [0, len(norms) // 2, len(norms) - 1]
            rows.append({"depth": depth, "name": layer["name"],
                         "class_name": layer["class_name"], "activation": layer["activation"],
                         "gradient_norm": [float(norms[i]) for i in picks],
                         "gradient_norm_median": float(np.median(norms)),
                         "saturated_fraction": [float(saturated[i]) for i in picks],
                         "output_std": [float(layer["output_std"][i]) for i in picks]})
        out[variant] = {"seed": record["seed"], "every": record["every"],
                        "recorded_steps": [record["steps"][i] for i in (
                            0, len(record["steps"]) // 2, len(record["steps"]) - 1)],
                        "layers": rows}
    return out


def plot_seeds(path, experiment, summary):
    """Training and validation accuracy per epoch: the seed mean as a line, the seeds'
    range as a band; minidl solid, PyTorch dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    variants = ordered(summary.get("minidl", {}) or summary.get("pytorch", {}))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key, title in zip(axes, ("accuracy", "val_accuracy"),
                              ("training accuracy", "validation accuracy")):
        for colour, variant in zip(colours, variants):
            for framework, style in (("minidl", "-"), ("pytorch", "--")):
                entry = summary.get(framework, {}).get(variant)
                stats = entry and entry["metrics"][key]
                if not stats:
                    continue
                epochs = np.arange(1, len(stats["mean"]) + 1)
                ax.plot(epochs, stats["mean"], style, color=colour, marker="o", markersize=3,
                        label=f"{entry['label']} ({framework})")
                ax.fill_between(epochs, stats["min"], stats["max"], color=colour,
                                alpha=0.15 if framework == "minidl" else 0.08)
        ax.set_title(f"{title} (mean of {len(entry['seeds']) if entry else 0} seeds, band: "
                     f"min-max)")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle({"cifar10": "CIFAR-10 sigmoid CNN (Keras blog): minidl vs PyTorch",
                  "lenet5": "LeNet-5 on MNIST (PyTorch blog): minidl vs PyTorch",
                  "resnet20": "ResNet-20 on CIFAR-10 with and without BN (minidl)"
                  }.get(experiment, experiment))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def plot_gradients(path, experiment, stats):
    """Per variant: the kernel gradient norm against layer depth, one line per recorded
    batch coloured by training progress (log scale), and the saturated fraction."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    variants = ordered(stats)
    fig, axes = plt.subplots(2, len(variants), figsize=(4.2 * len(variants), 7.6),
                             squeeze=False, sharey="row")
    for column, variant in enumerate(variants):
        record = stats[variant][0]
        layers = kernel_layers(record)
        depth = np.arange(1, len(layers) + 1)
        norms = np.array([layer["kernel_gradient_norm"] for layer in layers], dtype=float)
        saturated = np.array([[np.nan if v is None else v for v in layer["saturated_fraction"]]
                              for layer in layers], dtype=float)
        colour_map = plt.get_cmap("viridis")
        count = norms.shape[1]
        for j in range(count):
            colour = colour_map(j / max(count - 1, 1))
            axes[0, column].plot(depth, norms[:, j], color=colour, alpha=0.6, linewidth=0.8)
            # markers: a saturated layer between two unsaturated ones still shows
            axes[1, column].plot(depth, saturated[:, j], color=colour, alpha=0.6,
                                 linewidth=0.8, marker=".", markersize=3)
        axes[0, column].set_yscale("log")
        axes[0, column].set_title(f"{variant} (seed {record['seed']})", fontsize=9)
        names = [f"{i}\n{layer['class_name']}" for i, layer in enumerate(layers, start=1)]
        for row in (0, 1):
            axes[row, column].set_xticks(depth)
            axes[row, column].set_xticklabels(names, fontsize=7)
            axes[row, column].grid(alpha=0.3)
        axes[1, column].set_ylim(-0.02, 1.02)
    axes[0, 0].set_ylabel("kernel gradient L2 norm (log)")
    axes[1, 0].set_ylabel("saturated fraction of the layer's units")
    bar = fig.colorbar(plt.cm.ScalarMappable(cmap="viridis"), ax=axes.ravel().tolist(),
                       shrink=0.6)
    bar.set_label("training progress (first to last recorded batch)")
    fig.suptitle(f"{experiment}: gradient norm and saturation against layer depth, "
                 f"over training")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def summarise(folder, plots=True):
    """Write ``summary.json`` (and the plots) for one experiment folder."""
    runs = load_runs(folder)
    if not runs:
        print(f"{folder}: no run files")
        return None
    experiment = next(iter(next(iter(runs.values())).values()))[0]["experiment"]
    summary = {framework: {variant: summarise_variant(variants[variant])
                           for variant in ordered(variants)}
               for framework, variants in runs.items()}
    layer_stats = load_layer_stats(folder)
    record = {"experiment": experiment, "frameworks": summary,
              "targets": check_targets(experiment, summary),
              "blog": BLOG_NUMBERS.get(experiment, {}),
              "layers": summarise_layers(layer_stats)}
    write_json(os.path.join(folder, "summary.json"), record)
    print(f"wrote {os.path.join(folder, 'summary.json')}")
    for target in record["targets"]:
        print(f"  {'met ' if target['met'] else 'MISSED'}  {target['target']}: " +
              ", ".join(f"{k} {v:.4f}" for k, v in target.items()
                        if isinstance(v, float)))
    if plots:
        plot_seeds(os.path.join(folder, f"{experiment}_seeds.png"), experiment, summary)
        if layer_stats:
            plot_gradients(os.path.join(folder, f"{experiment}_gradients.png"), experiment,
                           layer_stats)
    return record


def main():
    """Summarise every folder given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="experiment result folders")
    parser.add_argument("--no-plots", action="store_true", help="write summary.json only")
    args = parser.parse_args()
    for folder in args.folders:
        summarise(folder, plots=not args.no_plots)


if __name__ == "__main__":
    main()
