# Source: TensorFlow tutorial "Basic regression: Predict fuel efficiency"
# (tensorflow.org/tutorials/keras/regression): a Normalization layer adapted to the
# training features, a one-feature linear model with its own Normalization(axis=None),
# and a DNN, trained with validation_split and evaluated. Changed: the imports
# (tensorflow -> minidl) and the data (a synthetic Auto-MPG-like table as NumPy arrays
# instead of the pandas DataFrame read from the UCI URL), 20 epochs instead of 100.
import numpy as np

import minidl as tf
from minidl.keras import layers

np.set_printoptions(precision=3, suppress=True)
rng = np.random.default_rng(0)
n = 392
cylinders = rng.choice([4, 6, 8], size=n)
displacement = cylinders * 40 + rng.normal(scale=20, size=n)
horsepower = displacement * 0.5 + rng.normal(scale=10, size=n)
weight = 1500 + displacement * 6 + rng.normal(scale=150, size=n)
acceleration = 20 - horsepower / 20 + rng.normal(scale=1, size=n)
model_year = rng.integers(70, 83, size=n)
mpg = 45 - weight / 150 + (model_year - 70) * 0.7 + rng.normal(scale=2, size=n)
features = np.stack([cylinders, displacement, horsepower, weight, acceleration,
                     model_year], axis=1).astype("float32")
labels = mpg.astype("float32")
train_features, test_features = features[:314], features[314:]
train_labels, test_labels = labels[:314], labels[314:]

normalizer = tf.keras.layers.Normalization(axis=-1)
normalizer.adapt(np.array(train_features))
print(normalizer.mean.numpy())

horsepower = np.array(train_features[:, 2])
horsepower_normalizer = layers.Normalization(input_shape=[1, ], axis=None)
horsepower_normalizer.adapt(horsepower)
horsepower_model = tf.keras.Sequential([
    horsepower_normalizer,
    layers.Dense(units=1)
])
horsepower_model.summary()
horsepower_model.compile(
    optimizer=tf.keras.optimizers.Adam(learning_rate=0.1),
    loss='mean_absolute_error')
history = horsepower_model.fit(
    train_features[:, 2],
    train_labels,
    epochs=20,
    verbose=0,
    validation_split=0.2)
test_results = {}
test_results['horsepower_model'] = horsepower_model.evaluate(
    test_features[:, 2], test_labels, verbose=0)


def build_and_compile_model(norm):
    model = tf.keras.Sequential([
        norm,
        layers.Dense(64, activation='relu'),
        layers.Dense(64, activation='relu'),
        layers.Dense(1)
    ])
    model.compile(loss='mean_absolute_error',
                  optimizer=tf.keras.optimizers.Adam(0.001))
    return model


dnn_model = build_and_compile_model(normalizer)
dnn_model.summary()
history = dnn_model.fit(
    train_features,
    train_labels,
    validation_split=0.2,
    verbose=0, epochs=20)
test_results['dnn_model'] = dnn_model.evaluate(test_features, test_labels, verbose=0)
print(test_results)
test_predictions = dnn_model.predict(test_features).flatten()
