# Source: F. Chollet, "Deep Learning with Python" (2nd ed.), chapter 8, "Training a
# convnet from scratch on a small dataset" (cats vs dogs): image_dataset_from_directory,
# Rescaling, a Conv2D/MaxPooling2D stack and a sigmoid output. Changed: the imports and the
# data (a temporary folder of small synthetic PNGs), smaller images and filters, 2 epochs.
import os
import tempfile

import numpy as np
from PIL import Image

import minidl as keras
from minidl import layers
from minidl.utils import image_dataset_from_directory

base = tempfile.mkdtemp()
rng = np.random.default_rng(12)
for subset in ("train", "validation"):
    for category, level in (("cat", 60), ("dog", 190)):
        folder = os.path.join(base, subset, category)
        os.makedirs(folder)
        for i in range(12 if subset == "train" else 4):
            pixels = np.clip(rng.normal(level, 30, (40, 40, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(os.path.join(folder, f"{category}.{i}.jpg"))

train_dataset = image_dataset_from_directory(os.path.join(base, "train"),
                                             image_size=(32, 32), batch_size=8)
validation_dataset = image_dataset_from_directory(os.path.join(base, "validation"),
                                                  image_size=(32, 32), batch_size=8)

inputs = keras.Input(shape=(32, 32, 3))
x = layers.Rescaling(1. / 255)(inputs)
x = layers.Conv2D(filters=8, kernel_size=3, activation="relu")(x)
x = layers.MaxPooling2D(pool_size=2)(x)
x = layers.Conv2D(filters=16, kernel_size=3, activation="relu")(x)
x = layers.MaxPooling2D(pool_size=2)(x)
x = layers.Flatten()(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
history = model.fit(train_dataset, epochs=2, validation_data=validation_dataset)
print(history.history["val_accuracy"])
