# Source: the comparison in batch-normalization study notebooks of BatchNormalization
# before and after the activation in a small convnet (the question the seeds' blog posts
# discuss). Changed: the imports and the data (synthetic), 1 epoch each.
import numpy as np

import minidl as keras
from minidl import layers

rng = np.random.default_rng(14)
x = rng.random((64, 16, 16, 3)).astype("float32")
y = rng.integers(0, 10, 64)


def block(order, filters):
    conv = layers.Conv2D(filters, 3, padding="same", use_bias=order == "after")
    if order == "before":
        return [conv, layers.BatchNormalization(), layers.Activation("relu")]
    return [conv, layers.Activation("relu"), layers.BatchNormalization()]


for order in ("before", "after"):
    model = keras.Sequential([keras.Input((16, 16, 3))] + block(order, 16) +
                             [layers.MaxPooling2D()] + block(order, 32) +
                             [layers.GlobalAveragePooling2D(),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, verbose=0)
    print(order, history.history["val_loss"][-1])
