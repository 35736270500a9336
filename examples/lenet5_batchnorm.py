"""The PyTorch blog experiment: LeNet-5 on MNIST with and without batch norm, written
with minidl's Keras-style API.

Same everything as the blog: MNIST scaled to [0, 1] and resized to 32x32 bilinearly;
Conv2D(6, 5) -> tanh -> [BN] -> AveragePooling2D(2) -> Conv2D(16, 5) -> tanh -> [BN] ->
AveragePooling2D(2) -> Flatten -> Dense 120 tanh -> Dense 84 tanh -> Dense 10 softmax;
Glorot-uniform kernels and biases 0.01; Adam(1e-3), batch 64, unshuffled batches, ten
epochs; training and validation accuracy every epoch and the loss every batch. The blog
runs PyTorch's defaults, which this script sets explicitly where Keras's differ: BN
momentum 0.1 in PyTorch's convention (``momentum=0.9`` in Keras's) and epsilon 1e-5,
Adam epsilon 1e-8.

The blog's quirk: it feeds its softmax output to a loss that applies softmax again
(PyTorch's CrossEntropyLoss). minidl reproduces that with sparse cross-entropy
``from_logits=True`` on the softmax output (the loss cannot fall below about 1.46), and
also runs the corrected loss (``from_logits=False``).

Variants (``--variants``): no_bn_blog, bn_blog, no_bn_fixed, bn_fixed (all by default).

Run (data from MINIDL_DATA_DIR, or downloaded):
    python examples/lenet5_batchnorm.py [--epochs 10] [--seeds 0,1,2]
        [--out docs/results/lenet5/minidl] [--quick]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl import ops  # noqa: E402
from minidl.callbacks import LayerStatistics  # noqa: E402
from minidl.datasets import mnist  # noqa: E402
from minidl.initializers import Constant, GlorotUniform  # noqa: E402
from minidl.layers import (AveragePooling2D, BatchNormalization, Conv2D, Dense,  # noqa: E402
                           Flatten, Input)
from minidl.losses import SparseCategoricalCrossentropy  # noqa: E402
from minidl.models import Sequential  # noqa: E402
from minidl.optimizers import Adam  # noqa: E402
from minidl.utils import set_random_seed  # noqa: E402

from experiment_utils import BatchLogger, EpochTimer, parse_args, save_run  # noqa: E402

BATCH_SIZE = 64
QUICK_TRAIN, QUICK_TEST = 2048, 512
VARIANTS = {"no_bn_blog": "without BN, blog loss (softmax twice)",
            "bn_blog": "with BN, blog loss (softmax twice)",
            "no_bn_fixed": "without BN, corrected loss",
            "bn_fixed": "with BN, corrected loss"}
# PyTorch's defaults, which the blog uses: BatchNorm2d(momentum=0.1, eps=1e-5) and
# Adam(eps=1e-8); Keras's momentum counts the other way (0.9 = PyTorch's 0.1).
BN_MOMENTUM, BN_EPSILON, ADAM_EPSILON = 0.9, 1e-5, 1e-8


def build_model(batch_norm, blog_quirk):
    """LeNet-5; ``blog_quirk`` makes the loss apply softmax to the softmax output."""
    def init():
        return {"kernel_initializer": GlorotUniform(), "bias_initializer": Constant(0.01)}

    model = Sequential([Input((32, 32, 1))])
    for filters in (6, 16):
        model.add(Conv2D(filters, 5, activation="tanh", **init()))
        if batch_norm:
            model.add(BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON))
        model.add(AveragePooling2D(2))
    model.add(Flatten())
    model.add(Dense(120, activation="tanh", **init()))
    model.add(Dense(84, activation="tanh", **init()))
    model.add(Dense(10, activation="softmax", **init()))
    model.compile(optimizer=Adam(learning_rate=1e-3, epsilon=ADAM_EPSILON),
                  loss=SparseCategoricalCrossentropy(from_logits=blog_quirk),
                  metrics=["accuracy"])
    return model


def prepare(images):
    """uint8 (N, 28, 28) -> float32 (N, 32, 32, 1) in [0, 1], resized bilinearly."""
    x = images.astype(np.float32)[..., None] / 255.0
    return ops.resize(x, (32, 32))


def load(quick):
    """MNIST as in the blog (a slice of it with ``quick``)."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if quick:
        x_train, y_train = x_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
        x_test, y_test = x_test[:QUICK_TEST], y_test[:QUICK_TEST]
    return (prepare(x_train), y_train), (prepare(x_test), y_test)


def run(variant, data, epochs, seed, layer_stats_every, verbose):
    """Train one variant with one seed; returns (history, timer, batch logger, stats)."""
    (x_train, y_train), (x_test, y_test) = data
    set_random_seed(seed)
    model = build_model(variant.startswith("bn"), variant.endswith("blog"))
    timer, batches = EpochTimer(), BatchLogger()
    stats = LayerStatistics(every=layer_stats_every) if layer_stats_every else None
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs, shuffle=False,
                        validation_data=(x_test, y_test),
                        callbacks=[timer, batches] + ([stats] if stats else []),
                        verbose=verbose)
    return history, timer, batches, stats


def main():
    """Train the variants with every seed, write one JSON file per run."""
    args = parse_args(__doc__.splitlines()[0], 10, "docs/results/lenet5/minidl",
                      variants=VARIANTS, default_variants=tuple(VARIANTS))
    data = load(args.quick)
    print(f"minidl {minidl.__version__}, {minidl.get_num_threads()} threads; "
          f"{len(data[0][0])} training and {len(data[1][0])} test images")
    for seed in args.seeds:
        for variant in args.variants:
            print(f"--- {VARIANTS[variant]}, seed {seed}")
            history, timer, batches, stats = run(variant, data, args.epochs, seed,
                                                 args.layer_stats, verbose=2)
            save_run(args.out, "lenet5", variant, VARIANTS[variant], seed, history, timer,
                     {"batch_size": BATCH_SIZE, "quick": args.quick,
                      "batch_losses": batches.values("loss")}, stats)


if __name__ == "__main__":
    main()
