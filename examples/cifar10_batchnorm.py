"""The Keras blog experiment: a sigmoid CNN on CIFAR-10, with and without batch norm.

Same everything as the blog: Conv2D 32, 32 -> MaxPooling2D -> Conv2D 64, 64 ->
MaxPooling2D -> Flatten -> Dense 128 -> Dense 10 softmax; 3x3 'same' convolutions with
he_uniform kernels (the first with the default initializer); sigmoid activations, with a
BatchNormalization after each convolution in the BN variant. Data: normalize(X, axis=1)
and to_categorical; augmentation ImageDataGenerator(shear_range=0.2, zoom_range=0.2,
horizontal_flip=True) with flow(batch_size=32) and steps_per_epoch = 50000 // 64 = 781;
RMSprop, categorical cross-entropy, accuracy, the test set as validation data.

Run (data from MINIDL_DATA_DIR, or downloaded):
    python examples/cifar10_batchnorm.py [--epochs 10] [--out docs/results] [--quick]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl.datasets import cifar10  # noqa: E402
from minidl.layers import (Activation, BatchNormalization, Conv2D, Dense, Flatten,  # noqa: E402
                           MaxPooling2D)
from minidl.models import Sequential  # noqa: E402
from minidl.preprocessing.image import ImageDataGenerator  # noqa: E402
from minidl.utils import normalize, set_random_seed, to_categorical  # noqa: E402

from experiment_utils import EpochTimer, parse_args, plot_histories, save_history  # noqa: E402

BATCH_SIZE = 32
QUICK_TRAIN, QUICK_TEST = 2048, 512


def build_model(batch_norm):
    """The blog's CNN; ``batch_norm`` adds BatchNormalization before each sigmoid."""
    model = Sequential()

    def conv(filters, **kwargs):
        model.add(Conv2D(filters, (3, 3), padding="same", **kwargs))
        if batch_norm:
            model.add(BatchNormalization())
        model.add(Activation("sigmoid"))

    conv(32, input_shape=(32, 32, 3))
    conv(32, kernel_initializer="he_uniform")
    model.add(MaxPooling2D(pool_size=(2, 2)))
    conv(64, kernel_initializer="he_uniform")
    conv(64, kernel_initializer="he_uniform")
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="sigmoid"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def load(quick):
    """CIFAR-10 preprocessed as in the blog (L2-normalised along axis 1, one-hot)."""
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    if quick:
        x_train, y_train = x_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
        x_test, y_test = x_test[:QUICK_TEST], y_test[:QUICK_TEST]
    x_train = normalize(x_train.astype(np.float32), axis=1)
    x_test = normalize(x_test.astype(np.float32), axis=1)
    return (x_train, to_categorical(y_train, 10)), (x_test, to_categorical(y_test, 10))


def run_variant(batch_norm, data, epochs, seed, verbose):
    """Train one variant; returns (history, seconds per epoch)."""
    (x_train, y_train), (x_test, y_test) = data
    set_random_seed(seed)
    model = build_model(batch_norm)
    datagen = ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    timer = EpochTimer()
    history = model.fit(datagen.flow(x_train, y_train, batch_size=BATCH_SIZE, seed=seed),
                        steps_per_epoch=len(x_train) // 64, epochs=epochs,
                        validation_data=(x_test, y_test), callbacks=[timer], verbose=verbose)
    return history, timer.seconds


def main():
    """Train both variants, write their histories and the comparison plots."""
    args = parse_args(__doc__.splitlines()[0], 10, "docs/results/cifar10")
    data = load(args.quick)
    print(f"minidl {minidl.__version__}, {minidl.get_num_threads()} threads; "
          f"{len(data[0][0])} training and {len(data[1][0])} test images")
    histories = {}
    for batch_norm in (False, True):
        name = "with BN" if batch_norm else "without BN"
        print(f"--- {name}")
        history, seconds = run_variant(batch_norm, data, args.epochs, args.seed,
                                       verbose=2 if args.quick else 1)
        histories[name] = history.history
        tag = "bn" if batch_norm else "no_bn"
        save_history(os.path.join(args.out, f"history_{tag}.json"), name, history, seconds,
                     {"quick": args.quick, "steps_per_epoch": len(data[0][0]) // 64})
    plot_histories(os.path.join(args.out, "cifar10_batchnorm.png"),
                   "CIFAR-10, sigmoid CNN: with vs without batch normalization", histories,
                   ("loss", "accuracy"))
    for name, history in histories.items():
        print(f"{name}: final val_accuracy {history['val_accuracy'][-1]:.4f}")


if __name__ == "__main__":
    main()
