# Source: F. Chollet, "Deep Learning with Python" (2nd ed.), chapter 4, "Predicting house
# prices: a regression example" (build_model and K-fold validation). Changed: the imports
# and the data (synthetic 13-feature rows instead of keras.datasets.boston_housing).
import numpy as np

import minidl as keras
from minidl import layers

rng = np.random.default_rng(5)
train_data = rng.standard_normal((120, 13)).astype("float32") * 3 + 10
train_targets = (train_data[:, 0] * 0.5 + rng.standard_normal(120)).astype("float32")

mean = train_data.mean(axis=0)
train_data -= mean
std = train_data.std(axis=0)
train_data /= std


def build_model():
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(1),
    ])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


k = 3
num_val_samples = len(train_data) // k
all_scores = []
for i in range(k):
    val_data = train_data[i * num_val_samples: (i + 1) * num_val_samples]
    val_targets = train_targets[i * num_val_samples: (i + 1) * num_val_samples]
    partial_train_data = np.concatenate(
        [train_data[:i * num_val_samples], train_data[(i + 1) * num_val_samples:]], axis=0)
    partial_train_targets = np.concatenate(
        [train_targets[:i * num_val_samples], train_targets[(i + 1) * num_val_samples:]],
        axis=0)
    model = build_model()
    model.fit(partial_train_data, partial_train_targets, epochs=5, batch_size=16, verbose=0)
    val_mse, val_mae = model.evaluate(val_data, val_targets, verbose=0)
    all_scores.append(val_mae)
print(np.mean(all_scores))
