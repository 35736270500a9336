"""What the time-to-accuracy examples share: the recipe's learning-rate schedule, the
training loops of both frameworks, the command line and the report.

A speedrun trains one network with one recipe in minidl or in PyTorch, for several seeds,
and reports per seed the seconds of training (the clock runs from the first training step
to the end of the last, per-epoch augmentation included; the data loading is timed apart)
and the test accuracy measured afterwards (not timed). Both frameworks draw their batches
and augmentations from the same NumPy functions, so only the training differs.
"""
import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import minidl
from experiment_utils import write_json
from minidl import optimizers


@dataclass(frozen=True)
class Recipe:
    """One training recipe: batches of ``batch_size``, Adam whose learning rate rises
    linearly from ``start_rate`` to ``peak_rate`` over the first epoch and then follows a
    cosine to 0 at the end of the last, and the test accuracy to reach."""
    batch_size: int
    start_rate: float
    peak_rate: float
    target: float
    epochs: int

    def rate_at(self, step, steps_per_epoch, total_steps):
        """The learning rate at a step (one function drives both frameworks)."""
        if step < steps_per_epoch:
            return self.start_rate + (self.peak_rate - self.start_rate) * step / steps_per_epoch
        progress = (step - steps_per_epoch) / max(1, total_steps - steps_per_epoch)
        return self.peak_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


class RecipeRate(optimizers.schedules.LearningRateSchedule):
    """``Recipe.rate_at`` as a minidl schedule."""

    def __init__(self, recipe, steps_per_epoch, total_steps):
        self.recipe, self.steps_per_epoch, self.total_steps = recipe, steps_per_epoch, total_steps

    def __call__(self, step):
        return self.recipe.rate_at(int(step), self.steps_per_epoch, self.total_steps)

    def get_config(self):
        return {"steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps}


def parse(description, recipe, argv=None):
    """The command line every speedrun takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--framework", choices=("minidl", "torch"), default="minidl")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=recipe.epochs)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true",
                        help="PyTorch only: run the network in channels_last memory format")
    parser.add_argument("--out", help="write the runs as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="one seed, one epoch on a tenth of the data (a smoke run)")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.quick:
        args.seeds, args.epochs = args.seeds[:1], 1
    return args


def epoch_batches(augment, images, seed, epoch):
    """The training images of one epoch: ``augment(images, rng)`` with a generator drawn
    from (seed, epoch), or the images themselves."""
    if augment is None:
        return images
    return augment(images, np.random.default_rng([seed, epoch]))


def train_minidl(model, data, recipe, epochs, seed, augment=None):
    """Compile ``model`` with the recipe's Adam and sparse cross-entropy, train it and
    return (seconds of training, test accuracy)."""
    (x_train, y_train), (x_test, y_test) = data
    steps = math.ceil(len(x_train) / recipe.batch_size)
    model.compile(optimizer=optimizers.Adam(RecipeRate(recipe, steps, steps * epochs),
                                            epsilon=1e-8),
                  loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    if augment is None:
        model.fit(x_train, y_train, batch_size=recipe.batch_size, epochs=epochs, shuffle=True,
                  verbose=0)
    else:
        for epoch in range(epochs):
            model.fit(epoch_batches(augment, x_train, seed, epoch), y_train,
                      batch_size=recipe.batch_size, epochs=1, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(x_test, batch_size=1000, verbose=0).argmax(axis=1)
    return seconds, float(np.mean(predicted == y_test))


def train_torch(net, data, recipe, epochs, seed, augment=None, channels_last=False):
    """Train the PyTorch ``net`` with the same recipe (NCHW tensors, or channels_last) and
    return (seconds of training, test accuracy)."""
    import torch
    from torch import nn
    (x_train, y_train), (x_test, y_test) = data
    rng = np.random.default_rng(seed)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory_format)

    def tensor(images):
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(
            memory_format=memory_format)

    steps = math.ceil(len(x_train) / recipe.batch_size)
    optimizer = torch.optim.Adam(net.parameters(), lr=1.0, eps=1e-8)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: recipe.rate_at(step, steps, steps * epochs))
    labels = torch.from_numpy(y_train)
    loss_fn = nn.CrossEntropyLoss()
    images = tensor(x_train) if augment is None else None
    start = time.perf_counter()
    net.train()
    for epoch in range(epochs):
        if augment is not None:
            images = tensor(epoch_batches(augment, x_train, seed, epoch))
        order = torch.from_numpy(rng.permutation(len(images)))
        for first in range(0, len(images), recipe.batch_size):
            index = order[first:first + recipe.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(images[index]), labels[index]).backward()
            optimizer.step()
            schedule.step()
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        predicted = net(tensor(x_test)).argmax(dim=1).numpy()
    return seconds, float(np.mean(predicted == y_test))


@dataclass
class Speedrun:
    """One speedrun: its name, recipe, data loader, the two networks and the augmentation.

    ``load(quick)`` returns ``((x_train, y_train), (x_test, y_test))`` (NHWC float32
    images, int64 labels); ``minidl_model()`` an uncompiled ``Sequential``;
    ``torch_model()`` the same ``nn.Sequential``; ``augment(images, rng)``, if given, one
    epoch's augmented copy of the training images.
    """
    script: str
    description: str
    recipe: Recipe
    load: Callable
    minidl_model: Callable
    torch_model: Callable
    augment: Optional[Callable] = None

    def run(self, args, data, seed):
        """(seconds, test accuracy) of one seed in the framework ``args`` names."""
        if args.framework == "torch":
            import torch
            torch.manual_seed(seed)
            return train_torch(self.torch_model(), data, self.recipe, args.epochs, seed,
                               self.augment, args.channels_last)
        minidl.utils.set_random_seed(seed)
        return train_minidl(self.minidl_model(), data, self.recipe, args.epochs, seed,
                            self.augment)

    def main(self, argv=None):
        """Run every seed, print each run and the summary, optionally write JSON."""
        args = parse(self.description, self.recipe, argv)
        if args.framework == "torch":
            import torch
            torch.set_num_threads(args.threads)
        else:
            minidl.set_num_threads(args.threads)
        start = time.perf_counter()
        data = self.load(args.quick)
        load_seconds = time.perf_counter() - start
        layout = " (channels_last)" if args.channels_last and args.framework == "torch" else ""
        print(f"{args.framework}{layout}, {args.threads} threads: data loaded in "
              f"{load_seconds:.1f} s (not timed); {args.epochs} epochs of batches of "
              f"{self.recipe.batch_size}")
        runs = []
        for seed in args.seeds:
            seconds, accuracy = self.run(args, data, seed)
            runs.append({"seed": seed, "seconds": seconds, "test_accuracy": accuracy})
            print(f"seed {seed}: {seconds:.1f} s, test accuracy {100 * accuracy:.2f}%",
                  flush=True)
        self.report(args, runs, load_seconds, argv)
        return 0

    def report(self, args, runs, load_seconds, argv):
        """Print the summary over seeds; write the JSON record if ``--out`` is given."""
        times = [r["seconds"] for r in runs]
        accuracies = [r["test_accuracy"] for r in runs]
        reached = sum(a >= self.recipe.target for a in accuracies)
        spread = statistics.stdev(times) if len(times) > 1 else 0.0
        print(f"mean {statistics.mean(times):.1f} s (sd {spread:.1f}), mean accuracy "
              f"{100 * statistics.mean(accuracies):.2f}%, {reached}/{len(runs)} seeds reach "
              f"{100 * self.recipe.target:.0f}%")
        if not args.out:
            return
        arguments = sys.argv[1:] if argv is None else argv
        record = {"task": self.description, "framework": args.framework,
                  "layout": "channels_last" if args.channels_last else None,
                  "threads": args.threads, "epochs": args.epochs,
                  "batch_size": self.recipe.batch_size, "target": self.recipe.target,
                  "load_seconds": load_seconds, "runs": runs,
                  "load_average": list(os.getloadavg()),
                  "command": f"python examples/{self.script} " + " ".join(arguments)}
        write_json(args.out, record)
