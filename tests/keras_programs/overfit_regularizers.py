# Source: TensorFlow tutorial "Overfit and underfit" (tensorflow.org/tutorials/keras/
# overfit_and_underfit), the L2 and dropout models. Changed: the imports and the data
# (synthetic features instead of the Higgs dataset).
import numpy as np

import minidl as keras
from minidl import layers, regularizers

FEATURES = 28
rng = np.random.default_rng(2)
x = rng.standard_normal((256, FEATURES)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("float32")

lr_schedule = keras.optimizers.schedules.InverseTimeDecay(
    0.001, decay_steps=20, decay_rate=1, staircase=False)


def get_optimizer():
    return keras.optimizers.Adam(lr_schedule)


l2_model = keras.Sequential([
    layers.Dense(64, activation="elu",
                 kernel_regularizer=regularizers.l2(0.001), input_shape=(FEATURES,)),
    layers.Dense(64, activation="elu", kernel_regularizer=regularizers.l2(0.001)),
    layers.Dropout(0.5),
    layers.Dense(1),
])
l2_model.compile(optimizer=get_optimizer(),
                 loss=keras.losses.BinaryCrossentropy(from_logits=True),
                 metrics=[keras.metrics.BinaryCrossentropy(from_logits=True,
                                                           name="binary_crossentropy"),
                          "accuracy"])
history = l2_model.fit(x, y, batch_size=64, epochs=3, validation_split=0.25, verbose=0)
print(sorted(history.history))
assert l2_model.losses and sum(l2_model.losses) > 0
