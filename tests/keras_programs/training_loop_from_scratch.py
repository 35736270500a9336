# Source: keras.io guide "Writing a training loop from scratch" (fchollet), its
# TensorFlow version: a functional MLP trained by a hand-written loop with
# tf.GradientTape, an optimizer's apply_gradients and accuracy metrics. Changed: the
# imports (tensorflow and keras -> minidl), the data (synthetic MNIST-shaped rows instead
# of keras.datasets.mnist) and the tf.data batching (NumPy slices), 2 epochs.
import time

import numpy as np

import minidl as keras
import minidl as tf
from minidl import layers

inputs = keras.Input(shape=(784,), name="digits")
x1 = layers.Dense(64, activation="relu")(inputs)
x2 = layers.Dense(64, activation="relu")(x1)
outputs = layers.Dense(10, name="predictions")(x2)
model = keras.Model(inputs=inputs, outputs=outputs)

optimizer = keras.optimizers.Adam(learning_rate=1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

rng = np.random.default_rng(3)
centers = rng.normal(size=(10, 784)).astype("float32")
y_train = rng.integers(0, 10, 512)
x_train = centers[y_train] + rng.normal(size=(512, 784)).astype("float32")
x_val, y_val = x_train[-128:], y_train[-128:]
x_train, y_train = x_train[:-128], y_train[:-128]
batch_size = 64
train_dataset = [(x_train[i:i + batch_size], y_train[i:i + batch_size])
                 for i in range(0, len(x_train), batch_size)]
val_dataset = [(x_val[i:i + batch_size], y_val[i:i + batch_size])
               for i in range(0, len(x_val), batch_size)]

epochs = 2
for epoch in range(epochs):
    print("\nStart of epoch %d" % (epoch,))
    start_time = time.time()
    for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
        with tf.GradientTape() as tape:
            logits = model(x_batch_train, training=True)
            loss_value = loss_fn(y_batch_train, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc_metric.update_state(y_batch_train, logits)
        if step % 2 == 0:
            print("Training loss (for one batch) at step %d: %.4f" % (step, float(loss_value)))
    train_acc = train_acc_metric.result()
    print("Training acc over epoch: %.4f" % (float(train_acc),))
    train_acc_metric.reset_state()
    for x_batch_val, y_batch_val in val_dataset:
        val_logits = model(x_batch_val, training=False)
        val_acc_metric.update_state(y_batch_val, val_logits)
    val_acc = val_acc_metric.result()
    val_acc_metric.reset_state()
    print("Validation acc: %.4f" % (float(val_acc),))
    print("Time taken: %.2fs" % (time.time() - start_time))
assert float(val_acc) > 0.9  # the clusters are easy: the loop really trains
