# Source: the Keras 2 example "cifar10_cnn.py" (keras-team/keras, examples/, 2017-2019):
# the convnet with RMSprop(lr=0.0001, decay=1e-6) trained through ImageDataGenerator.
# Changed: the imports (keras -> minidl) and the data (a small synthetic CIFAR-shaped set).
import numpy as np

import minidl as keras
from minidl.preprocessing.image import ImageDataGenerator
from minidl.models import Sequential
from minidl.layers import Dense, Dropout, Activation, Flatten
from minidl.layers import Conv2D, MaxPooling2D

batch_size = 16
num_classes = 10
epochs = 1
rng = np.random.default_rng(6)
x_train = rng.integers(0, 256, (48, 32, 32, 3)).astype("uint8")
y_train = rng.integers(0, 10, (48, 1))
x_test, y_test = x_train[:16], y_train[:16]

y_train = keras.utils.np_utils.to_categorical(y_train, num_classes)
y_test = keras.utils.np_utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Conv2D(32, (3, 3), padding="same", input_shape=x_train.shape[1:]))
model.add(Activation("relu"))
model.add(Conv2D(32, (3, 3)))
model.add(Activation("relu"))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(64))
model.add(Activation("relu"))
model.add(Dropout(0.5))
model.add(Dense(num_classes))
model.add(Activation("softmax"))

opt = keras.optimizers.rmsprop(lr=0.0001, decay=1e-6)
model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255

datagen = ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1,
                             horizontal_flip=True)
datagen.fit(x_train)
model.fit(datagen.flow(x_train, y_train, batch_size=batch_size), epochs=epochs,
          validation_data=(x_test, y_test))
scores = model.evaluate(x_test, y_test, verbose=1)
print("Test loss:", scores[0])
