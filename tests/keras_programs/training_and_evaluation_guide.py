# Source: keras.io guide "Training & evaluation with the built-in methods" (fchollet):
# the uncompiled MNIST model, class weights, sample weights, EarlyStopping and a
# LearningRateScheduler. Changed: the imports and the data (synthetic), fewer epochs.
import numpy as np

import minidl as keras
from minidl import layers


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return model


rng = np.random.default_rng(11)
x_train = rng.random((120, 784)).astype("float32")
y_train = rng.integers(0, 10, 120)
x_val, y_val = x_train[:20], y_train[:20]

class_weight = {i: 1.0 for i in range(10)}
class_weight[5] = 2.0
model = get_compiled_model()
model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)

sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0
model = get_compiled_model()
model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1)

callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1),
    keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
]
model = get_compiled_model()
history = model.fit(x_train, y_train, epochs=3, batch_size=64, callbacks=callbacks,
                    validation_data=(x_val, y_val))
print(model.evaluate(x_val, y_val, batch_size=64))
