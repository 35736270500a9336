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
    python examples/mnist_speedrun.py [--framework minidl|torch] [--channels-last]
        [--seeds 0,1,2,3,4] [--epochs 4] [--threads 2] [--out results.json] [--quick]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl import layers, models, ops  # noqa: E402
from minidl.datasets import mnist  # noqa: E402
from speedrun_common import Recipe, Speedrun  # noqa: E402

RECIPE = Recipe(batch_size=128, start_rate=1e-4, peak_rate=4e-3, target=0.99, epochs=4)


def load(quick):
    """MNIST as float32 (N, 32, 32, 1) in [0, 1] and int64 labels."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    if quick:
        x_train, y_train, x_test, y_test = x_train[:6000], y_train[:6000], x_test[:2000], \
            y_test[:2000]

    def prepare(images):
        return ops.resize(images.astype(np.float32)[..., None] / 255.0, (32, 32))
    return (prepare(x_train), y_train.astype(np.int64)), (prepare(x_test), y_test.astype(np.int64))


def minidl_model():
    """LeNet-5 with BN after each tanh convolution, as a minidl ``Sequential``."""
    model = models.Sequential([minidl.Input((32, 32, 1))])
    for filters in (6, 16):
        model.add(layers.Conv2D(filters, 5, activation="tanh"))
        model.add(layers.BatchNormalization(momentum=0.9, epsilon=1e-5))
        model.add(layers.AveragePooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dense(120, activation="tanh"))
    model.add(layers.Dense(84, activation="tanh"))
    model.add(layers.Dense(10, activation="softmax"))
    return model


def torch_model():
    """The same network in PyTorch (BatchNorm2d's defaults match the minidl layers')."""
    from torch import nn
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.BatchNorm2d(6), nn.AvgPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.Tanh(), nn.BatchNorm2d(16), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
                         nn.Tanh(), nn.Linear(84, 10))


SPEEDRUN = Speedrun("mnist_speedrun.py", "LeNet-5 with BN to 99% MNIST test accuracy", RECIPE,
                    load, minidl_model, torch_model)

if __name__ == "__main__":
    sys.exit(SPEEDRUN.main())
