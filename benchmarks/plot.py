"""Plot training-step throughput against batch size, minidl vs PyTorch.

    python -m benchmarks.run --cases sweep --batch-sizes 16,32,64,128,256 --json out.json
    python -m benchmarks.plot out.json docs/benchmark_batch_sizes.png

One panel per seed network; minidl solid, PyTorch dashed, one colour per variant
(with/without batch norm). Needs matplotlib (``pip install 'minidl[plot]'``).
"""
import argparse
import importlib.util
import json
import sys

TITLES = {"lenet": "LeNet-5 (Adam)", "cifar": "CIFAR-10 CNN (RMSprop)"}


def sweep_series(results):
    """``{model: {(framework, batch_norm): [(batch_size, images/s), ...]}}`` from the
    runner's JSON results (rows of the ``sweep`` group)."""
    series = {}
    for row in results:
        if row["group"] != "sweep":
            continue
        meta = row["meta"]
        lines = series.setdefault(meta["model"], {})
        lines.setdefault(("minidl", meta["batch_norm"]), []).append(
            (meta["batch_size"], row["minidl"]))
        if row["reference"] is not None:
            lines.setdefault(("torch", meta["batch_norm"]), []).append(
                (meta["batch_size"], row["reference"]))
    return series


def plot(record, path):
    """Draw the sweep of a runner JSON record into ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    series = sweep_series(record["results"])
    if not series:
        raise SystemExit("benchmarks.plot: the JSON has no sweep rows; run benchmarks.run "
                         "with --batch-sizes")
    fig, axes = plt.subplots(1, len(series), figsize=(6 * len(series), 4.2), squeeze=False)
    for ax, (model, lines) in zip(axes[0], sorted(series.items())):
        for (framework, batch_norm), points in sorted(lines.items()):
            sizes, speeds = zip(*sorted(points))
            ax.plot(sizes, speeds, marker="o", color="C1" if batch_norm else "C0",
                    linestyle="-" if framework == "minidl" else "--",
                    label=f"{framework}, {'with' if batch_norm else 'without'} BN")
        ax.set_xscale("log", base=2)
        sizes = sorted({size for points in lines.values() for size, _ in points})
        ax.set_xticks(sizes, [str(size) for size in sizes])
        ax.minorticks_off()
        ax.set_xlabel("batch size")
        ax.set_ylabel("training images / s")
        ax.set_title(TITLES.get(model, model))
        ax.grid(alpha=0.3)
        ax.legend()
    machine = record.get("machine", {})
    fig.suptitle(f"training step throughput, {machine.get('threads')} threads, "
                 f"{machine.get('cpu', '')} (minidl {machine.get('minidl')}, "
                 f"torch {machine.get('torch')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    """Read the JSON, write the PNG."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plot",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("json", help="output of python -m benchmarks.run --json")
    parser.add_argument("png", help="image to write")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("matplotlib") is None:
        print("benchmarks.plot: matplotlib is not installed (pip install 'minidl[plot]')",
              file=sys.stderr)
        return 1
    with open(args.json) as f:
        plot(json.load(f), args.png)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
