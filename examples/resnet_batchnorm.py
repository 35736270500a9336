"""ResNet-20 on CIFAR-10 with and without batch normalization, in the Functional API.

The network of He et al. (2016), section 4.2, for CIFAR-10: a 3x3 convolution of 16
filters, three stages of three residual blocks (two 3x3 convolutions each; 16, 32 and 64
filters; the first block of the second and third stages halves the size with stride 2
and projects its shortcut with a 1x1 convolution of stride 2, Keras's CIFAR ResNet
example's "option B"), global average pooling and a softmax Dense: 20 weighted layers,
about 0.27 M parameters. Variants:
    bn      convolution -> BatchNormalization -> ReLU, the paper's ordering
    no_bn   the same network without its batch normalizations (convolutions with biases)

One recipe for both: images standardized per channel; every epoch a random horizontal
flip and a random 32x32 crop of the image padded by 4 zeros (the paper's augmentation);
batches of 128; SGD with momentum 0.9 and learning rate 0.05 (warmed up linearly over the
first epoch, then a cosine to 0), L2 weight decay 1e-4 on the kernels through
``kernel_regularizer``; He-normal initialization. The test set is the validation data.
A run whose loss stops being finite (diverges) ends there (``TerminateOnNaN``).

``--quick`` trains one epoch of each variant on 5000 images: a smoke run.

Run (data from MINIDL_DATA_DIR, or downloaded):
    python examples/resnet_batchnorm.py [--epochs 10] [--seeds 0] [--variants bn,no_bn]
        [--out docs/results/resnet20/minidl] [--quick]
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl import callbacks, layers, models, optimizers, regularizers  # noqa: E402

from cifar10_speedrun import augment, load  # noqa: E402
from experiment_utils import EpochTimer, parse_args, save_run  # noqa: E402
from speedrun_common import Recipe, RecipeRate  # noqa: E402

VARIANTS = {"bn": "with BN (conv -> BN -> ReLU)", "no_bn": "without BN"}
BATCH_SIZE = 128
BLOCKS_PER_STAGE = 3
WEIGHT_DECAY = 1e-4
SCHEDULE = Recipe(batch_size=BATCH_SIZE, start_rate=0.005, peak_rate=0.05, target=0.0,
                  epochs=10)


def convolution(x, filters, strides, batch_norm, activation=True, kernel_size=3):
    """Conv2D (He-normal, L2-decayed) -> [BatchNormalization] -> [ReLU]."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                      use_bias=not batch_norm, kernel_initializer="he_normal",
                      kernel_regularizer=regularizers.l2(WEIGHT_DECAY))(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x) if activation else x


def residual_block(x, filters, strides, batch_norm):
    """Two 3x3 convolutions added to the shortcut (projected when the shape changes)."""
    y = convolution(x, filters, strides, batch_norm)
    y = convolution(y, filters, 1, batch_norm, activation=False)
    if strides != 1:
        x = convolution(x, filters, strides, batch_norm, activation=False, kernel_size=1)
    return layers.Activation("relu")(layers.Add()([x, y]))


def build_model(variant):
    """ResNet-20 for one of ``VARIANTS`` (uncompiled)."""
    batch_norm = variant == "bn"
    inputs = minidl.Input((32, 32, 3))
    x = convolution(inputs, 16, 1, batch_norm)
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(BLOCKS_PER_STAGE):
            x = residual_block(x, filters, 2 if stage and not block else 1, batch_norm)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    return models.Model(inputs, outputs, name=f"resnet20_{variant}")


def run(variant, data, epochs, seed):
    """Train one variant; returns (history, timer)."""
    (x_train, y_train), (x_test, y_test) = data
    minidl.utils.set_random_seed(seed)
    model = build_model(variant)
    steps = math.ceil(len(x_train) / BATCH_SIZE)
    model.compile(optimizer=optimizers.SGD(RecipeRate(SCHEDULE, steps, steps * epochs),
                                           momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer, history = EpochTimer(), None
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):  # a new augmented copy of the training set every epoch
        epoch_history = model.fit(augment(x_train, rng), y_train, batch_size=BATCH_SIZE,
                                  epochs=epoch + 1, initial_epoch=epoch, shuffle=True,
                                  validation_data=(x_test, y_test),
                                  callbacks=[timer, callbacks.TerminateOnNaN()], verbose=2)
        if history is None:
            history = epoch_history
        else:
            for key, values in epoch_history.history.items():
                history.history[key] += values
        if not np.isfinite(history.history["loss"][-1]):
            print("the loss is not finite: training diverged, stopped")
            break
    return history, timer


def main():
    """Train the chosen variants with every seed, write one JSON file per run."""
    args = parse_args(__doc__.splitlines()[0], SCHEDULE.epochs, "docs/results/resnet20/minidl",
                      variants=VARIANTS, default_variants=tuple(VARIANTS), default_seeds=(0,))
    data = load(args.quick)
    print(f"minidl {minidl.__version__}, {minidl.get_num_threads()} threads; "
          f"{len(data[0][0])} training and {len(data[1][0])} test images; "
          f"{build_model('bn').count_params()} parameters with BN")
    for seed in args.seeds:
        for variant in args.variants:
            print(f"--- ResNet-20 {VARIANTS[variant]}, seed {seed}")
            history, timer = run(variant, data, args.epochs, seed)
            save_run(args.out, "resnet20", variant, VARIANTS[variant], seed, history, timer,
                     {"batch_size": BATCH_SIZE, "quick": args.quick})
            print(f"{VARIANTS[variant]}: test accuracy "
                  f"{history.history['val_accuracy'][-1]:.3f} after "
                  f"{len(history.history['loss'])} of {args.epochs} epochs")


if __name__ == "__main__":
    main()
