"""The Keras blog experiment: a sigmoid CNN on CIFAR-10, with and without batch norm.

The blog's network, exactly: Conv2D(32, 3, activation='sigmoid', padding='same') ->
Conv2D(32) -> MaxPooling2D -> Conv2D(64) -> Conv2D(64) -> MaxPooling2D -> Flatten ->
Dense(128, activation='sigmoid', kernel_initializer='he_uniform') -> Dense(10, softmax);
he_uniform kernels on every convolution but the first. The BN variant adds
``BatchNormalization()`` (its defaults) *after* each sigmoid convolution, as the blog
does. Data: normalize(X, axis=1) and to_categorical; augmentation
ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True) with
flow(batch_size=32) and steps_per_epoch = 50000 // 64 = 781; RMSprop, categorical
cross-entropy, accuracy, the test set as validation data.

Variants (``--variants``, comma-separated):
    no_bn      the blog's model without batch normalization
    bn         the blog's model with BN after each sigmoid convolution (default pair)
    bn_before  BN between each convolution and its sigmoid (the other common placement)

``--quick`` trains one blog "epoch" (781 steps of 32 augmented images) of no_bn and bn on
the full data, about a minute on 2 cores: enough to see BN leave chance and no-BN stay
there, not the blog's ten-epoch result.

Run (data from MINIDL_DATA_DIR, or downloaded):
    python examples/cifar10_batchnorm.py [--epochs 10] [--seeds 0,1,2]
        [--variants no_bn,bn,bn_before] [--out docs/results/cifar10/minidl] [--quick]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl.callbacks import LayerStatistics  # noqa: E402
from minidl.datasets import cifar10  # noqa: E402
from minidl.layers import (Activation, BatchNormalization, Conv2D, Dense, Flatten,  # noqa: E402
                           MaxPooling2D)
from minidl.models import Sequential  # noqa: E402
from minidl.preprocessing.image import ImageDataGenerator  # noqa: E402
from minidl.utils import normalize, set_random_seed, to_categorical  # noqa: E402

from experiment_utils import (BatchLogger, EpochTimer, parse_args,  # noqa: E402
                              plot_quick_run, save_run)

BATCH_SIZE = 32
STEPS_PER_EPOCH = 50000 // 64  # the blog's steps_per_epoch = len(X_train) // 64
VARIANTS = {"no_bn": "without BN", "bn": "with BN (blog: after the sigmoid)",
            "bn_before": "with BN before the sigmoid"}
DEFAULT_VARIANTS = ("no_bn", "bn")
# the kernel initializer of each convolution (the first one keeps Keras's default)
CONVOLUTIONS = ((32, "glorot_uniform"), (32, "he_uniform"), (64, "he_uniform"),
                (64, "he_uniform"))


def build_model(variant):
    """The blog's CNN for one of ``VARIANTS``, compiled as the blog does."""
    model = Sequential()
    for index, (filters, initializer) in enumerate(CONVOLUTIONS):
        shape = {"input_shape": (32, 32, 3)} if index == 0 else {}
        if variant == "bn_before":
            model.add(Conv2D(filters, (3, 3), padding="same", kernel_initializer=initializer,
                             **shape))
            model.add(BatchNormalization())
            model.add(Activation("sigmoid"))
        else:
            model.add(Conv2D(filters, (3, 3), activation="sigmoid", padding="same",
                             kernel_initializer=initializer, **shape))
            if variant == "bn":
                model.add(BatchNormalization())
        if index % 2 == 1:
            model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="sigmoid", kernel_initializer="he_uniform"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def load():
    """CIFAR-10 preprocessed as in the blog (L2-normalised along axis 1, one-hot)."""
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    x_train = normalize(x_train.astype(np.float32), axis=1)
    x_test = normalize(x_test.astype(np.float32), axis=1)
    return (x_train, to_categorical(y_train, 10)), (x_test, to_categorical(y_test, 10))


def augmented_batches(x_train, y_train, seed):
    """The blog's augmentation stream (the PyTorch cross-check draws the same one)."""
    datagen = ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    datagen.fit(x_train)
    return datagen.flow(x_train, y_train, batch_size=BATCH_SIZE, seed=seed)


def run(variant, data, epochs, seed, layer_stats_every, verbose):
    """Train one variant with one seed; returns (history, timer, batch logger, stats)."""
    (x_train, y_train), (x_test, y_test) = data
    set_random_seed(seed)
    model = build_model(variant)
    timer, batches = EpochTimer(), BatchLogger()
    stats = LayerStatistics(every=layer_stats_every) if layer_stats_every else None
    callbacks = [timer, batches] + ([stats] if stats else [])
    history = model.fit(augmented_batches(x_train, y_train, seed),
                        steps_per_epoch=min(STEPS_PER_EPOCH, len(x_train) // BATCH_SIZE),
                        epochs=epochs, validation_data=(x_test, y_test),
                        callbacks=callbacks, verbose=verbose)
    return history, timer, batches, stats


def main():
    """Train the chosen variants with every seed, write one JSON file per run."""
    args = parse_args(__doc__.splitlines()[0], 10, "docs/results/cifar10/minidl",
                      variants=VARIANTS, default_variants=DEFAULT_VARIANTS)
    data = load()
    print(f"minidl {minidl.__version__}, {minidl.get_num_threads()} threads; "
          f"{len(data[0][0])} training and {len(data[1][0])} test images")
    if args.quick:
        print("Short run: one blog 'epoch' (781 steps of 32 augmented images) per variant, "
              "to show the first-epoch effect of BN; the published results train 10 epochs.")
    results = {}
    for seed in args.seeds:
        for variant in args.variants:
            print(f"--- {VARIANTS[variant]}, seed {seed}")
            history, timer, batches, stats = run(variant, data, args.epochs, seed,
                                                 args.layer_stats, verbose=2)
            results[variant] = (history.history, batches)
            save_run(args.out, "cifar10", variant, VARIANTS[variant], seed, history, timer,
                     {"steps_per_epoch": STEPS_PER_EPOCH, "batch_size": BATCH_SIZE,
                      "batch_accuracy": batches.values("accuracy")},
                     stats)
    if args.quick:
        plot_quick_run(os.path.join(args.out, "cifar10_quick.png"),
                       "CIFAR-10 sigmoid CNN, one blog epoch: running training accuracy",
                       {VARIANTS[v]: batches for v, (_, batches) in results.items()})
        for variant, (history, _) in results.items():
            print(f"{VARIANTS[variant]}: training accuracy {history['accuracy'][-1]:.3f}, "
                  f"validation accuracy {history['val_accuracy'][-1]:.3f} after one blog "
                  f"epoch (chance: 0.100)")


if __name__ == "__main__":
    main()
