# The Keras blog's batch-norm experiment, written the way the blog's Keras 2 code reads:
# only the imports differ (keras -> minidl). It trains the sigmoid CNN without and then
# with a BatchNormalization after each sigmoid convolution on augmented CIFAR-10, with the
# blog's fit_generator, train_datagen.fit and history['acc'] / history['val_acc'], and
# plots both. (examples/cifar10_batchnorm.py is the same experiment with a command line,
# several seeds and result files.)
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

from minidl.datasets import cifar10
from minidl.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
from minidl.models import Sequential
from minidl.preprocessing.image import ImageDataGenerator
from minidl.utils import normalize, to_categorical

(X_train, y_train), (X_test, y_test) = cifar10.load_data()
X_train = normalize(X_train, axis=1)
X_test = normalize(X_test, axis=1)
y_train = to_categorical(y_train, 10)
y_test = to_categorical(y_test, 10)

model = Sequential()
model.add(Conv2D(32, (3, 3), activation='sigmoid', padding='same', input_shape=(32, 32, 3)))
model.add(Conv2D(32, (3, 3), activation='sigmoid', padding='same',
                 kernel_initializer='he_uniform'))
model.add(MaxPooling2D((2, 2)))
model.add(Conv2D(64, (3, 3), activation='sigmoid', padding='same',
                 kernel_initializer='he_uniform'))
model.add(Conv2D(64, (3, 3), activation='sigmoid', padding='same',
                 kernel_initializer='he_uniform'))
model.add(MaxPooling2D((2, 2)))
model.add(Flatten())
model.add(Dense(128, activation='sigmoid', kernel_initializer='he_uniform'))
model.add(Dense(10, activation='softmax'))
model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
model.summary()

train_datagen = ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
train_datagen.fit(X_train)
train_generator = train_datagen.flow(X_train, y_train, batch_size=32)

history = model.fit_generator(train_generator, steps_per_epoch=len(X_train) // 64, epochs=10,
                              validation_data=(X_test, y_test))

model_bn = Sequential()
model_bn.add(Conv2D(32, (3, 3), activation='sigmoid', padding='same',
                    input_shape=(32, 32, 3)))
model_bn.add(BatchNormalization())
model_bn.add(Conv2D(32, (3, 3), activation='sigmoid', padding='same',
                    kernel_initializer='he_uniform'))
model_bn.add(BatchNormalization())
model_bn.add(MaxPooling2D((2, 2)))
model_bn.add(Conv2D(64, (3, 3), activation='sigmoid', padding='same',
                    kernel_initializer='he_uniform'))
model_bn.add(BatchNormalization())
model_bn.add(Conv2D(64, (3, 3), activation='sigmoid', padding='same',
                    kernel_initializer='he_uniform'))
model_bn.add(BatchNormalization())
model_bn.add(MaxPooling2D((2, 2)))
model_bn.add(Flatten())
model_bn.add(Dense(128, activation='sigmoid', kernel_initializer='he_uniform'))
model_bn.add(Dense(10, activation='softmax'))
model_bn.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
model_bn.summary()

history_bn = model_bn.fit_generator(train_generator, steps_per_epoch=len(X_train) // 64,
                                    epochs=10, validation_data=(X_test, y_test))

plt.plot(history.history['acc'], label='train, without BN')
plt.plot(history.history['val_acc'], label='validation, without BN')
plt.plot(history_bn.history['acc'], label='train, with BN')
plt.plot(history_bn.history['val_acc'], label='validation, with BN')
plt.title('Model accuracy')
plt.ylabel('accuracy')
plt.xlabel('epoch')
plt.legend()
plt.savefig('keras_blog_cifar10.png')
