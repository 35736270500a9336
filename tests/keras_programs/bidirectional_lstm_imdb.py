# Source: keras.io example "Bidirectional LSTM on IMDB" (fchollet): a functional model
# with an integer Input of any length, an Embedding and two stacked Bidirectional LSTMs.
# Changed: the imports (keras -> minidl) and the data (random word indices, 96 reviews
# instead of keras.datasets.imdb), one epoch, smaller batches.
import numpy as np

import minidl as keras
from minidl import layers

max_features = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

rng = np.random.default_rng(1)
x_train = [list(rng.integers(1, max_features, size=n)) for n in rng.integers(10, 40, 64)]
x_val = [list(rng.integers(1, max_features, size=n)) for n in rng.integers(10, 40, 32)]
y_train, y_val = rng.integers(0, 2, 64), rng.integers(0, 2, 32)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=1, validation_data=(x_val, y_val))
