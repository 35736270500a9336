# Source: the LeNet-5 reconstructions in Keras tutorials (e.g. "LeNet-5 with Keras" blog
# posts): padded 28x28 inputs, tanh convolutions, average pooling, dense 120-84-10, SGD.
# Changed: the imports and the data (synthetic MNIST-shaped arrays), 1 epoch.
import numpy as np

import minidl as keras
from minidl.layers import AveragePooling2D, Conv2D, Dense, Flatten
from minidl.models import Sequential

rng = np.random.default_rng(13)
x_train = rng.random((64, 28, 28, 1)).astype("float32")
y_train = keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
x_train = np.pad(x_train, ((0, 0), (2, 2), (2, 2), (0, 0)), "constant")

model = Sequential()
model.add(Conv2D(6, kernel_size=(5, 5), strides=(1, 1), activation="tanh",
                 input_shape=(32, 32, 1), padding="valid"))
model.add(AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid"))
model.add(Conv2D(16, kernel_size=(5, 5), strides=(1, 1), activation="tanh", padding="valid"))
model.add(AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding="valid"))
model.add(Flatten())
model.add(Dense(120, activation="tanh"))
model.add(Dense(84, activation="tanh"))
model.add(Dense(10, activation="softmax"))
model.compile(loss=keras.losses.categorical_crossentropy, optimizer="SGD",
              metrics=["accuracy"])
hist = model.fit(x=x_train, y=y_train, epochs=1, batch_size=16, validation_split=0.25,
                 verbose=1)
print(hist.history["loss"])
