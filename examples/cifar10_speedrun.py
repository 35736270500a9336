"""Time to 75% CIFAR-10 test accuracy: the Keras blog's sigmoid CNN with batch normalization,
minidl beside PyTorch.

The seed network with BN (examples/keras_blog_cifar10.py, unchanged: four 3x3 sigmoid
convolutions of 32, 32, 64 and 64 filters, each followed by BatchNormalization, max pooling
after the second and the fourth, Dense 128 sigmoid, Dense 10 softmax; Keras's initializers
and BN defaults, which the PyTorch copy is given too) and one recipe for both frameworks:
images standardized per channel with the training set's mean and deviation (once, not
timed); every epoch a new augmented copy of the training set (a random horizontal flip and
a random 32x32 crop of the image padded by 4 zero pixels, drawn by NumPy from the seed and
the epoch, inside the timed region); batches of 128 reshuffled every epoch; Adam whose
learning rate rises linearly from 1e-4 to 3e-3 over the first epoch and then follows a
cosine to 0 at the end of the last; float32 on 2 threads. The blog itself trains with
RMSprop, batches of 32 and Keras's shear/zoom/flip generator; the recipe here is the
speedrun's own, the architecture is the blog's.

Run (data from MINIDL_DATA_DIR, or downloaded):
    python examples/cifar10_speedrun.py [--framework minidl|torch] [--channels-last]
        [--seeds 0,1,2,3,4] [--epochs 14] [--threads 2] [--out results.json] [--quick]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl import layers, models  # noqa: E402
from minidl.datasets import cifar10  # noqa: E402
from speedrun_common import Recipe, Speedrun  # noqa: E402

RECIPE = Recipe(batch_size=128, start_rate=1e-4, peak_rate=3e-3, target=0.75, epochs=14)
PAD = 4


def load(quick):
    """CIFAR-10 as float32 NHWC standardized per channel, and int64 labels."""
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    if quick:
        x_train, y_train, x_test, y_test = x_train[:5000], y_train[:5000], x_test[:1000], \
            y_test[:1000]
    mean = x_train.mean(axis=(0, 1, 2), dtype=np.float64)
    deviation = x_train.std(axis=(0, 1, 2), dtype=np.float64)

    def prepare(images):
        return ((images - mean) / deviation).astype(np.float32)
    return ((prepare(x_train), y_train.reshape(-1).astype(np.int64)),
            (prepare(x_test), y_test.reshape(-1).astype(np.int64)))


def augment(images, rng):
    """One epoch's copy of ``images``: each flipped left-right with probability 1/2 and
    cropped back to its size at a random offset after padding by ``PAD`` zeros."""
    n, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(1, 2))
    rows = rng.integers(0, 2 * PAD + 1, n)
    columns = rng.integers(0, 2 * PAD + 1, n)
    crops = windows[np.arange(n), rows, columns]  # (n, channels, height, width)
    flip = rng.random(n) < 0.5
    crops[flip] = crops[flip, :, :, ::-1]
    return np.ascontiguousarray(crops.transpose(0, 2, 3, 1))


def minidl_model():
    """The blog's CNN with a BatchNormalization after each sigmoid convolution."""
    model = models.Sequential([minidl.Input((32, 32, 3))])
    for index, filters in enumerate((32, 32, 64, 64)):
        initializer = "glorot_uniform" if index == 0 else "he_uniform"
        model.add(layers.Conv2D(filters, 3, activation="sigmoid", padding="same",
                                kernel_initializer=initializer))
        model.add(layers.BatchNormalization())
        if index % 2:
            model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dense(128, activation="sigmoid", kernel_initializer="he_uniform"))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def torch_model():
    """The same network in PyTorch, with Keras's initializers (Glorot uniform for the first
    convolution and the last Dense, He uniform elsewhere, zero biases) and BN defaults
    (epsilon 1e-3, momentum 0.99 as PyTorch's 0.01)."""
    import torch
    from torch import nn
    stack, channels = [], 3
    for index, filters in enumerate((32, 32, 64, 64)):
        stack += [nn.Conv2d(channels, filters, 3, padding=1), nn.Sigmoid(),
                  nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01)]
        if index % 2:
            stack.append(nn.MaxPool2d(2))
        channels = filters
    # Keras flattens NHWC; the order of the flattened features only permutes the
    # Dense weights' rows, which changes nothing for a freshly initialized network.
    stack += [nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.Sigmoid(), nn.Linear(128, 10)]
    net = nn.Sequential(*stack)
    weighted = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for index, module in enumerate(weighted):
            if index in (0, len(weighted) - 1):
                nn.init.xavier_uniform_(module.weight)
            else:
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return net


SPEEDRUN = Speedrun("cifar10_speedrun.py",
                    "The seed CIFAR-10 CNN with BN to 75% CIFAR-10 test accuracy", RECIPE, load,
                    minidl_model, torch_model, augment)

if __name__ == "__main__":
    sys.exit(SPEEDRUN.main())
