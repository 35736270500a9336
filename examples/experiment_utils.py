"""Shared plumbing of the experiment scripts: command line, timing, run files, plots.

Each experiment script takes ``--epochs``, ``--seeds``, ``--variants``, ``--out DIR``,
``--layer-stats N`` and ``--quick``. Every (variant, seed) run is written to ``DIR`` as
one JSON file (``<variant>_seed<k>.json``: the per-epoch history, the seconds of every
epoch, the thread count, the machine) and, with ``--layer-stats``, a second file of
per-layer gradient and activation statistics (``<variant>_seed<k>.layers.json``). The
PyTorch cross-checks write the same format, so ``summarize_results.py`` can tabulate
both frameworks side by side.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import tempfile
import time

import numpy as np

from minidl.callbacks import Callback


def parse_args(description, default_epochs, default_out, variants, default_variants,
               default_seeds=(0, 1, 2), extra=None):
    """The common command line of the experiment scripts (``variants``: name -> label;
    ``extra``: more options, ``{"--name": argparse keyword arguments}``)."""
    parser = argparse.ArgumentParser(description=description)
    for option, kwargs in (extra or {}).items():
        parser.add_argument(option, **kwargs)
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {default_epochs}; 1 with --quick)")
    parser.add_argument("--out", default=default_out,
                        help=f"folder for the run files (default {default_out})")
    parser.add_argument("--quick", action="store_true",
                        help="a short run that shows the effect (about a minute)")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated random seeds (default "
                             f"{','.join(map(str, default_seeds))}; 0 with --quick)")
    parser.add_argument("--variants", default=",".join(default_variants),
                        help=f"comma-separated, of {', '.join(variants)} "
                             f"(default {','.join(default_variants)})")
    parser.add_argument("--layer-stats", type=int, default=0, metavar="N",
                        help="record per-layer gradient norms and activation statistics "
                             "every N batches (minidl.callbacks.LayerStatistics; 0: off)")
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = 1 if args.quick else default_epochs
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.layer_stats < 0:
        parser.error("--layer-stats must be >= 0")
    seeds = args.seeds if args.seeds is not None else ("0" if args.quick else
                                                       ",".join(map(str, default_seeds)))
    try:
        args.seeds = [int(s) for s in seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers. Received: {seeds!r}")
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in variants]
    if unknown or not args.variants:
        parser.error(f"--variants: unknown {unknown or args.variants}; choose from "
                     f"{', '.join(variants)}")
    os.makedirs(args.out, exist_ok=True)
    return args


def parse_demo_args(description, default_out):
    """The command line of the scripts that train nothing: ``--out``, ``--seed`` and
    ``--quick`` (accepted; they are quick anyway)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=default_out,
                        help=f"folder for the output files (default {default_out})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quick", action="store_true", help="accepted for uniformity")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def threads_in_use():
    """The thread count of the framework that trains (minidl, or PyTorch when loaded)."""
    import sys
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.get_num_threads()
    import minidl
    return minidl.get_num_threads()


class EpochTimer(Callback):
    """Records the wall-clock seconds of every epoch (training and validation); a minidl
    callback, also called by hand by the PyTorch cross-checks."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        """Start the clock."""
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        """Stop the clock."""
        self.seconds.append(time.perf_counter() - self._start)


class BatchLogger(Callback):
    """Records every training batch's loss and metrics, undoing the running means that
    minidl (like Keras) logs: the value of batch b is ``mean_b * (b + 1) - mean_{b-1} * b``
    (exact when the batches of an epoch have equal sizes)."""

    def __init__(self):
        super().__init__()
        self.per_batch = {}
        self._previous = {}

    def on_epoch_begin(self, epoch, logs=None):
        """A new epoch restarts the running means."""
        self._previous = {}

    def on_train_batch_end(self, batch, logs=None):
        """Store this batch's values."""
        self.add(batch, logs or {})

    def add(self, batch, running_means):
        """Record the running means logged after batch ``batch`` (0-based in its epoch)."""
        for key, mean in running_means.items():
            previous = self._previous.get(key, 0.0)
            self.per_batch.setdefault(key, []).append(mean * (batch + 1) - previous * batch)
            self._previous[key] = mean

    def values(self, key):
        """The per-batch values of ``key`` (a list; empty if never logged)."""
        return [float(v) for v in self.per_batch.get(key, [])]


def machine():
    """CPU model, cores, load average, versions and the date, for every run file."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
            "python": platform.python_version(), "numpy": np.__version__,
            "commit": commit,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_json(path, record):
    """Write ``record`` as JSON atomically (a temporary file, then a rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_run(folder, experiment, variant, label, seed, history, timer, extra=None,
             layer_stats=None, framework="minidl", version=None):
    """Write one run (and its layer statistics, if any) as JSON; return the path."""
    if version is None:
        import minidl
        version = minidl.__version__
    history = history.history if hasattr(history, "history") else history
    record = {"experiment": experiment, "framework": framework, "version": version,
              "variant": variant, "label": label, "seed": seed,
              "history": {key: [float(v) for v in values] for key, values in history.items()},
              "seconds_per_epoch": timer.seconds, "threads": threads_in_use(),
              "machine": machine()}
    record.update(extra or {})
    path = os.path.join(folder, f"{variant}_seed{seed}.json")
    write_json(path, record)
    if layer_stats is not None:
        stats = layer_stats.as_dict() if hasattr(layer_stats, "as_dict") else layer_stats
        write_json(os.path.join(folder, f"{variant}_seed{seed}.layers.json"),
                   dict(stats, experiment=experiment, framework=framework, variant=variant,
                        seed=seed))
    print(f"wrote {path}")
    return path


def plot_quick_run(path, title, loggers, key="accuracy", window=50):
    """The running training ``key`` per step of short runs, one line per variant (the
    mean of the last ``window`` batches), so that one epoch still shows a curve."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'minidl[plot]'): no plot written")
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, logger in loggers.items():
        values = np.asarray(logger.values(key))
        if values.size == 0:
            continue
        kernel = np.ones(min(window, values.size)) / min(window, values.size)
        smooth = np.convolve(values, kernel, mode="valid")
        ax.plot(np.arange(len(smooth)) + len(kernel), smooth, label=name)
    ax.axhline(0.1, color="grey", linestyle=":", label="chance")
    ax.set_xlabel("training step (batch of 32)")
    ax.set_ylabel(f"training {key} (mean of the last {window} batches)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
