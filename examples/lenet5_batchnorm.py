"""The PyTorch blog experiment: LeNet-5 on MNIST with and without batch norm, written
with minidl's Keras-style API.

Same everything as the blog: MNIST scaled to [0, 1] and resized to 32x32 bilinearly;
Conv2D(6, 5) -> tanh -> [BN] -> AveragePooling2D(2) -> Conv2D(16, 5) -> tanh -> [BN] ->
AveragePooling2D(2) -> Flatten -> Dense 120 tanh -> Dense 84 tanh -> Dense 10 softmax;
Glorot-uniform kernels and biases 0.01; Adam(1e-3), batch 64, unshuffled batches, ten
epochs; training and validation accuracy every epoch and the loss every batch.

The blog's quirk: it feeds its softmax output to a loss that applies softmax again
(PyTorch's CrossEntropyLoss). minidl reproduces that with sparse cross-entropy
``from_logits=True`` on the softmax output (the loss cannot fall below about 1.46), and
also runs the corrected loss (``from_logits=False``). Both are reported.

Run (data from MINIDL_DATA_DIR, or downloaded):
    python examples/lenet5_batchnorm.py [--epochs 10] [--out docs/results/lenet5] [--quick]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl import ops  # noqa: E402
from minidl.datasets import mnist  # noqa: E402
from minidl.initializers import Constant, GlorotUniform  # noqa: E402
from minidl.layers import (AveragePooling2D, BatchNormalization, Conv2D, Dense,  # noqa: E402
                           Flatten, Input)
from minidl.losses import SparseCategoricalCrossentropy  # noqa: E402
from minidl.models import Sequential  # noqa: E402
from minidl.optimizers import Adam  # noqa: E402
from minidl.utils import set_random_seed  # noqa: E402

from experiment_utils import (BatchLossLogger, EpochTimer, parse_args,  # noqa: E402
                              plot_histories, save_history)

BATCH_SIZE = 64
QUICK_TRAIN, QUICK_TEST = 2048, 512


def build_model(batch_norm, blog_quirk):
    """LeNet-5; ``blog_quirk`` makes the loss apply softmax to the softmax output."""
    def dense_init():
        return {"kernel_initializer": GlorotUniform(), "bias_initializer": Constant(0.01)}

    model = Sequential([Input((32, 32, 1))])
    for filters in (6, 16):
        model.add(Conv2D(filters, 5, activation="tanh", **dense_init()))
        if batch_norm:
            model.add(BatchNormalization())
        model.add(AveragePooling2D(2))
    model.add(Flatten())
    model.add(Dense(120, activation="tanh", **dense_init()))
    model.add(Dense(84, activation="tanh", **dense_init()))
    model.add(Dense(10, activation="softmax", **dense_init()))
    model.compile(optimizer=Adam(learning_rate=1e-3),
                  loss=SparseCategoricalCrossentropy(from_logits=blog_quirk),
                  metrics=["accuracy"])
    return model


def prepare(images):
    """uint8 (N, 28, 28) -> float32 (N, 32, 32, 1) in [0, 1], resized bilinearly."""
    x = images.astype(np.float32)[..., None] / 255.0
    return ops.resize(x, (32, 32))


def load(quick):
    """MNIST as in the blog; undoes a polarity inversion if the files carry one."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    notes = []
    if x_train.mean() > 127:  # digits should be bright strokes on a dark background
        x_train, x_test = 255 - x_train, 255 - x_test
        notes.append("the MNIST files were inverted (mean pixel > 127, background 255); "
                     "the script restored the canonical polarity (255 - x)")
        print("note: " + notes[-1])
    if quick:
        x_train, y_train = x_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
        x_test, y_test = x_test[:QUICK_TEST], y_test[:QUICK_TEST]
    return (prepare(x_train), y_train), (prepare(x_test), y_test), notes


def run_variant(batch_norm, blog_quirk, data, epochs, seed, verbose):
    """Train one variant; returns (history, per-batch losses, seconds per epoch)."""
    (x_train, y_train), (x_test, y_test) = data
    set_random_seed(seed)
    model = build_model(batch_norm, blog_quirk)
    timer, batches = EpochTimer(), BatchLossLogger()
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs, shuffle=False,
                        validation_data=(x_test, y_test), callbacks=[timer, batches],
                        verbose=verbose)
    return history, batches.losses, timer.seconds


def main():
    """Train the four variants (BN x loss), write histories and plots."""
    args = parse_args(__doc__.splitlines()[0], 10, "docs/results/lenet5")
    train, test, notes = load(args.quick)
    print(f"minidl {minidl.__version__}, {minidl.get_num_threads()} threads; "
          f"{len(train[0])} training and {len(test[0])} test images")
    for blog_quirk in (True, False):
        loss_name = "blog loss (softmax twice)" if blog_quirk else "corrected loss"
        histories = {}
        for batch_norm in (False, True):
            name = ("with BN" if batch_norm else "without BN")
            print(f"--- {name}, {loss_name}")
            history, batch_losses, seconds = run_variant(
                batch_norm, blog_quirk, (train, test), args.epochs, args.seed,
                verbose=2)
            histories[name] = history.history
            tag = f"{'bn' if batch_norm else 'no_bn'}_{'blog' if blog_quirk else 'fixed'}"
            save_history(os.path.join(args.out, f"history_{tag}.json"),
                         f"{name}, {loss_name}", history, seconds,
                         {"quick": args.quick, "batch_losses": batch_losses,
                          "data_notes": notes})
        suffix = "blog_loss" if blog_quirk else "corrected_loss"
        plot_histories(os.path.join(args.out, f"lenet5_{suffix}.png"),
                       f"LeNet-5 on MNIST, {loss_name}: with vs without batch normalization",
                       histories, ("loss", "accuracy"))


if __name__ == "__main__":
    main()
