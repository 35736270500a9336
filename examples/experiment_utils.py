"""Shared plumbing of the experiment scripts: command line, timing, history files, plots.

Each experiment script takes ``--epochs``, ``--out DIR`` and ``--quick`` (a slice of the
data, under a minute). Results are written to ``DIR`` as one JSON history per variant
and PNG plots with all variants on the same axes.
"""
import argparse
import json
import os
import time

import minidl


def parse_args(description, default_epochs, default_out):
    """The common command line of the experiment scripts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {default_epochs}; 1 with --quick)")
    parser.add_argument("--out", default=default_out,
                        help=f"folder for histories and plots (default {default_out})")
    parser.add_argument("--quick", action="store_true",
                        help="train on a slice of the data for a smoke run (< 1 minute)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = 1 if args.quick else default_epochs
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    return args


class EpochTimer(minidl.callbacks.Callback):
    """Records the wall-clock seconds of every epoch (training and validation)."""

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


class BatchLossLogger(minidl.callbacks.Callback):
    """Records the loss of every training batch (the running mean Keras reports is
    turned back into per-batch values)."""

    def __init__(self):
        super().__init__()
        self.losses = []
        self._previous_mean = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        """A new epoch restarts the running mean."""
        self._previous_mean = 0.0

    def on_train_batch_end(self, batch, logs=None):
        """Recover this batch's loss from the running mean over ``batch + 1`` batches
        (exact when the batches have equal sizes)."""
        mean = logs["loss"]
        self.losses.append(mean * (batch + 1) - self._previous_mean * batch)
        self._previous_mean = mean


def save_history(path, variant, history, seconds, extra=None):
    """Write one variant's per-epoch history (and epoch times) as JSON."""
    record = {"variant": variant, "history": history.history,
              "seconds_per_epoch": seconds, "minidl_version": minidl.__version__,
              "threads": minidl.get_num_threads()}
    record.update(extra or {})
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {path}")


def plot_histories(path, title, histories, keys):
    """One figure per key pair, every variant on the same axes (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'minidl[plot]'): no plot written")
        return
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4.2))
    for ax, key in zip(axes, keys):
        for name, history in histories.items():
            values = history[key]
            epochs = range(1, len(values) + 1)
            ax.plot(epochs, values, marker="o", label=f"{name} train")
            if "val_" + key in history:
                ax.plot(epochs, history["val_" + key], marker="s", linestyle="--",
                        label=f"{name} validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
