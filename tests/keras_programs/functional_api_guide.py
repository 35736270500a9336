# Source: keras.io guide "The Functional API" (fchollet): the MNIST MLP, then the
# multi-input ticket-classification model with several outputs. Changed: the imports,
# the data (synthetic), and one epoch.
import numpy as np

import minidl as keras
from minidl import layers

inputs = keras.Input(shape=(784,))
dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()

rng = np.random.default_rng(4)
x_train = rng.random((128, 784)).astype("float32")
y_train = rng.integers(0, 10, 128)
model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=1, validation_split=0.2)
test_scores = model.evaluate(x_train[:32], y_train[:32], verbose=2)
print("Test loss:", test_scores[0])

# a model with two inputs merged by Concatenate
title_input = keras.Input(shape=(16,), name="title")
body_input = keras.Input(shape=(32,), name="body")
title_features = layers.Dense(8, activation="relu")(title_input)
body_features = layers.Dense(8, activation="relu")(body_input)
merged = layers.concatenate([title_features, body_features])
priority = layers.Dense(1, name="priority")(merged)
ticket_model = keras.Model(inputs=[title_input, body_input], outputs=priority)
ticket_model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="mse")
ticket_model.fit([rng.random((40, 16)), rng.random((40, 32))], rng.random((40, 1)),
                 epochs=1, batch_size=8)
