# Source: F. Chollet, "Deep Learning with Python" (2nd ed.), chapter 2, "A first look at a
# neural network" (the two-layer MNIST classifier), without the plots. Changed: the
# imports and the data (synthetic MNIST-shaped arrays).
import numpy as np

from minidl import layers
import minidl as keras

rng = np.random.default_rng(16)
train_images = rng.integers(0, 256, (96, 28, 28)).astype("uint8")
train_labels = rng.integers(0, 10, 96)
test_images, test_labels = train_images[:32], train_labels[:32]

model = keras.Sequential([
    layers.Dense(512, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
train_images = train_images.reshape((96, 28 * 28)).astype("float32") / 255
test_images = test_images.reshape((32, 28 * 28)).astype("float32") / 255
model.fit(train_images, train_labels, epochs=2, batch_size=32)
test_digits = test_images[0:10]
predictions = model.predict(test_digits)
print(predictions[0].argmax(), predictions[0][7])
test_loss, test_acc = model.evaluate(test_images, test_labels)
print(f"test_acc: {test_acc}")
