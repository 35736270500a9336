# Source: TensorFlow tutorial "Data augmentation" (tensorflow.org/tutorials/images/
# data_augmentation), option 1: the preprocessing layers inside the model. Changed: the
# imports and the data (synthetic 32x32 images instead of tf_flowers).
import numpy as np

import minidl as tf_keras
from minidl import layers

IMG_SIZE = 32
rng = np.random.default_rng(3)
images = rng.integers(0, 256, (48, IMG_SIZE, IMG_SIZE, 3)).astype("float32")
labels = rng.integers(0, 5, 48)
num_classes = 5

resize_and_rescale = tf_keras.Sequential([
    layers.Resizing(IMG_SIZE, IMG_SIZE),
    layers.Rescaling(1. / 255),
])
data_augmentation = tf_keras.Sequential([
    layers.RandomFlip("horizontal_and_vertical"),
    layers.RandomRotation(0.2),
])
model = tf_keras.Sequential([
    tf_keras.Input((IMG_SIZE, IMG_SIZE, 3)),
    resize_and_rescale,
    data_augmentation,
    layers.Conv2D(16, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(num_classes),
])
model.compile(optimizer="adam",
              loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
history = model.fit(images, labels, validation_split=0.25, epochs=2, batch_size=16)
loss, acc = model.evaluate(images, labels)
print("Accuracy", acc)
