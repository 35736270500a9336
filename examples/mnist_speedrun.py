"""Time to 99% MNIST test accuracy: LeNet-5 with batch normalization, minidl beside PyTorch.

The seed network (examples/lenet5_batchnorm.py, its BN variant with the corrected loss:
Conv2D(6, 5) -> tanh -> BN -> AveragePooling2D -> Conv2D(16, 5) -> tanh -> BN ->
AveragePooling2D -> Dense 120 tanh -> Dense 84 tanh -> Dense 10) and one recipe for both
frameworks: MNIST in [0, 1] resized to 32x32 (done once, not timed), batches of 128
reshuffled every epoch, Adam whose learning rate rises linearly from 1e-4 to 4e-3 over the
first epoch and then follows a cosine to 0 at the end of the last one, no augmentation,
float32 on 2 threads. The clock runs from the first training step to the end of the
last; the test accuracy is measured after it (not timed), and the data loading time is
reported apart.

Run (data from MINIDL_DATA_DIR, or downloaded):
    python examples/mnist_speedrun.py [--framework minidl|torch] [--seeds 0,1,2,3,4]
        [--epochs 4] [--threads 2] [--out results.json] [--quick]
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl import layers, models, ops, optimizers  # noqa: E402
from minidl.datasets import mnist  # noqa: E402

BATCH_SIZE = 128
PEAK_RATE, START_RATE = 4e-3, 1e-4
TARGET = 0.99


def parse(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("minidl", "torch"), default="minidl")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="write the runs as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="one seed, one epoch on 6000 images (a smoke run)")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.quick:
        args.seeds, args.epochs = args.seeds[:1], 1
    return args


def load(quick):
    """MNIST as float32 (N, 32, 32, 1) in [0, 1] and int labels; the seconds it took."""
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if quick:
        x_train, y_train, x_test, y_test = x_train[:6000], y_train[:6000], x_test[:2000], \
            y_test[:2000]

    def prepare(images):
        return ops.resize(images.astype(np.float32)[..., None] / 255.0, (32, 32))
    data = (prepare(x_train), y_train.astype(np.int64)), (prepare(x_test), y_test.astype(np.int64))
    return data, time.perf_counter() - start


def rate_at(step, steps_per_epoch, total_steps):
    """The recipe's learning rate at a step: linear warm-up over the first epoch, then a
    cosine to 0 (the same function drives both frameworks)."""
    if step < steps_per_epoch:
        return START_RATE + (PEAK_RATE - START_RATE) * step / steps_per_epoch
    progress = (step - steps_per_epoch) / max(1, total_steps - steps_per_epoch)
    return PEAK_RATE * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


class _RecipeRate(optimizers.schedules.LearningRateSchedule):
    """``rate_at`` as a minidl schedule."""

    def __init__(self, steps_per_epoch, total_steps):
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps

    def __call__(self, step):
        return rate_at(int(step), self.steps_per_epoch, self.total_steps)

    def get_config(self):
        return {"steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps}


def run_minidl(data, epochs, seed):
    """(seconds of training, test accuracy) of one minidl run."""
    (x_train, y_train), (x_test, y_test) = data
    minidl.utils.set_random_seed(seed)
    model = models.Sequential([minidl.Input((32, 32, 1))])
    for filters in (6, 16):
        model.add(layers.Conv2D(filters, 5, activation="tanh"))
        model.add(layers.BatchNormalization(momentum=0.9, epsilon=1e-5))
        model.add(layers.AveragePooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dense(120, activation="tanh"))
    model.add(layers.Dense(84, activation="tanh"))
    model.add(layers.Dense(10, activation="softmax"))
    steps = math.ceil(len(x_train) / BATCH_SIZE)
    model.compile(optimizer=optimizers.Adam(_RecipeRate(steps, steps * epochs), epsilon=1e-8),
                  loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(x_test, batch_size=1000, verbose=0).argmax(axis=1)
    return seconds, float(np.mean(predicted == y_test))


def run_torch(data, epochs, seed):
    """(seconds of training, test accuracy) of the same recipe in PyTorch (NCHW)."""
    import torch
    from torch import nn
    (x_train, y_train), (x_test, y_test) = data
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.BatchNorm2d(6), nn.AvgPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.BatchNorm2d(16), nn.AvgPool2d(2),
                        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
                        nn.Tanh(), nn.Linear(84, 10))
    steps = math.ceil(len(x_train) / BATCH_SIZE)
    optimizer = torch.optim.Adam(net.parameters(), lr=1.0, eps=1e-8)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: rate_at(step, steps, steps * epochs))
    images = torch.from_numpy(np.ascontiguousarray(x_train.transpose(0, 3, 1, 2)))
    labels = torch.from_numpy(y_train)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    net.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(images)))
        for first in range(0, len(images), BATCH_SIZE):
            index = order[first:first + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(images[index]), labels[index]).backward()
            optimizer.step()
            schedule.step()
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        test = torch.from_numpy(np.ascontiguousarray(x_test.transpose(0, 3, 1, 2)))
        predicted = net(test).argmax(dim=1).numpy()
    return seconds, float(np.mean(predicted == y_test))


def main(argv=None):
    """Run every seed, print each run and the summary, optionally write JSON."""
    args = parse(argv)
    if args.framework == "torch":
        import torch
        torch.set_num_threads(args.threads)
        runner = run_torch
    else:
        minidl.set_num_threads(args.threads)
        runner = run_minidl
    data, load_seconds = load(args.quick)
    print(f"{args.framework}, {args.threads} threads: data loaded and resized in "
          f"{load_seconds:.1f} s (not timed); {args.epochs} epochs of batches of {BATCH_SIZE}")
    runs = []
    for seed in args.seeds:
        seconds, accuracy = runner(data, args.epochs, seed)
        runs.append({"seed": seed, "seconds": seconds, "test_accuracy": accuracy})
        print(f"seed {seed}: {seconds:.1f} s, test accuracy {100 * accuracy:.2f}%", flush=True)
    times = [r["seconds"] for r in runs]
    accuracies = [r["test_accuracy"] for r in runs]
    reached = sum(a >= TARGET for a in accuracies)
    spread = statistics.stdev(times) if len(times) > 1 else 0.0
    print(f"mean {statistics.mean(times):.1f} s (sd {spread:.1f}), mean accuracy "
          f"{100 * statistics.mean(accuracies):.2f}%, {reached}/{len(runs)} seeds reach "
          f"{100 * TARGET:.0f}%")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"framework": args.framework, "threads": args.threads,
                       "epochs": args.epochs, "batch_size": BATCH_SIZE,
                       "load_seconds": load_seconds, "runs": runs,
                       "command": "python examples/mnist_speedrun.py " +
                       " ".join(sys.argv[1:] if argv is None else argv)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
