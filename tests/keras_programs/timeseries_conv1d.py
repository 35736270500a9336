# Source: keras.io code example "Timeseries classification from scratch" (hfawaz): the
# fully convolutional network of Conv1D, BatchNormalization and ReLU blocks. Changed: the
# imports and the data (synthetic series instead of FordA), 1 epoch.
import numpy as np

import minidl as keras

rng = np.random.default_rng(18)
x_train = rng.standard_normal((64, 100, 1)).astype("float32")
y_train = rng.integers(0, 2, 64)
num_classes = len(np.unique(y_train))


def make_model(input_shape):
    input_layer = keras.layers.Input(input_shape)
    conv1 = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)
    gap = keras.layers.GlobalAveragePooling1D()(conv1)
    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
    return keras.models.Model(inputs=input_layer, outputs=output_layer)


model = make_model(input_shape=x_train.shape[1:])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
              metrics=["sparse_categorical_accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=1, validation_split=0.2)
print(history.history)
