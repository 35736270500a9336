# Source: TensorFlow tutorial "Basic text classification" (tensorflow.org/tutorials/
# keras/text_classification): the Embedding + GlobalAveragePooling1D model on vectorized
# reviews. Changed: the imports and the data (synthetic token ids instead of the IMDB
# folder and its TextVectorization).
import numpy as np

import minidl as tf_keras
from minidl import layers

max_features = 1000
embedding_dim = 16
rng = np.random.default_rng(17)
train_ds_x = rng.integers(0, max_features, (64, 50))
train_ds_y = rng.integers(0, 2, 64).astype("float32")

model = tf_keras.Sequential([
    layers.Embedding(max_features, embedding_dim),
    layers.Dropout(0.2),
    layers.GlobalAveragePooling1D(),
    layers.Dropout(0.2),
    layers.Dense(1, activation="sigmoid")])
model.compile(loss=tf_keras.losses.BinaryCrossentropy(), optimizer="adam",
              metrics=[tf_keras.metrics.BinaryAccuracy(threshold=0.5)])
history = model.fit(train_ds_x, train_ds_y, validation_split=0.2, epochs=2)
print(history.history)
