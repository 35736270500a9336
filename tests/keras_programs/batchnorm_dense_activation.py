# Source: the pattern of the batch-normalization study notebooks that put
# BatchNormalization between a bias-free Dense layer and its activation (e.g. the Keras
# documentation's BatchNormalization example and "Batch Normalization in Keras" blog
# tutorials), trained with SGD + momentum. Changed: the imports and the data (synthetic).
import numpy as np

import minidl as keras
from minidl.layers import Activation, BatchNormalization, Dense

rng = np.random.default_rng(7)
x = rng.standard_normal((200, 20)).astype("float32")
y = keras.utils.to_categorical((x[:, :3].sum(axis=1) > 0).astype(int), 2)

model = keras.models.Sequential()
model.add(Dense(64, use_bias=False, input_shape=(20,)))
model.add(BatchNormalization())
model.add(Activation("relu"))
model.add(Dense(64, use_bias=False))
model.add(BatchNormalization(momentum=0.9))
model.add(Activation("relu"))
model.add(Dense(2, activation="softmax"))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
              loss="categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, batch_size=32, epochs=3, validation_split=0.2, verbose=0)
print(history.history["val_accuracy"])
