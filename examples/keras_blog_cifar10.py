# The Keras blog's batch-norm experiment, written the way the blog's Keras 2 code reads:
# only the imports differ (keras -> minidl). It trains the sigmoid CNN without and with
# BatchNormalization on augmented CIFAR-10 and plots both validation accuracies.
# (examples/cifar10_batchnorm.py is the same experiment with a command line and files.)
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

from minidl.datasets import cifar10
from minidl.layers import Activation, BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
from minidl.models import Sequential
from minidl.preprocessing.image import ImageDataGenerator
from minidl.utils import normalize, to_categorical

(X_train, y_train), (X_test, y_test) = cifar10.load_data()
X_train = normalize(X_train, axis=1)
X_test = normalize(X_test, axis=1)
y_train = to_categorical(y_train, 10)
y_test = to_categorical(y_test, 10)


def create_model(batch_norm=False):
    model = Sequential()
    model.add(Conv2D(32, (3, 3), padding='same', input_shape=X_train.shape[1:]))
    if batch_norm:
        model.add(BatchNormalization())
    model.add(Activation('sigmoid'))
    model.add(Conv2D(32, (3, 3), padding='same', kernel_initializer='he_uniform'))
    if batch_norm:
        model.add(BatchNormalization())
    model.add(Activation('sigmoid'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Conv2D(64, (3, 3), padding='same', kernel_initializer='he_uniform'))
    if batch_norm:
        model.add(BatchNormalization())
    model.add(Activation('sigmoid'))
    model.add(Conv2D(64, (3, 3), padding='same', kernel_initializer='he_uniform'))
    if batch_norm:
        model.add(BatchNormalization())
    model.add(Activation('sigmoid'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(128))
    model.add(Activation('sigmoid'))
    model.add(Dense(10))
    model.add(Activation('softmax'))
    model.compile(loss='categorical_crossentropy', optimizer='rmsprop', metrics=['accuracy'])
    return model


datagen = ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)

histories = []
for batch_norm in [False, True]:
    model = create_model(batch_norm)
    model.summary()
    history = model.fit_generator(datagen.flow(X_train, y_train, batch_size=32),
                                  steps_per_epoch=len(X_train) // 64, epochs=10,
                                  validation_data=(X_test, y_test))
    histories.append(history)

plt.plot(histories[0].history['val_accuracy'], label='without BN')
plt.plot(histories[1].history['val_accuracy'], label='with BN')
plt.title('validation accuracy')
plt.xlabel('epoch')
plt.legend()
plt.savefig('keras_blog_cifar10.png')
