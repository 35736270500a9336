# Source: the Keras 2 example "mnist_mlp.py" (keras-team/keras, examples/). Changed: the
# imports (keras -> minidl) and the data (synthetic MNIST-shaped rows), one epoch.
import numpy as np

import minidl as keras
from minidl.models import Sequential
from minidl.layers import Dense, Dropout
from minidl.optimizers import RMSprop

batch_size = 32
num_classes = 10
epochs = 1
rng = np.random.default_rng(9)
x_train = rng.integers(0, 256, (96, 784)).astype("float32")
y_train = rng.integers(0, 10, 96)
x_test, y_test = x_train[:32], y_train[:32]
x_train /= 255
x_test /= 255
print(x_train.shape[0], "train samples")

y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Dense(512, activation="relu", input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation="softmax"))
model.summary()
model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=1,
                    validation_data=(x_test, y_test))
score = model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy:", score[1])
