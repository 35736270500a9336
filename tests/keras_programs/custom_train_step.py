# Source: keras.io guide "Customizing what happens in fit()" (fchollet): a Model subclass
# whose train_step computes the loss and applies the gradients itself, and whose
# test_step evaluates. Changed: the imports (tensorflow and keras -> minidl) and the data.
import numpy as np

import minidl as keras
import minidl as tf


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
x = np.random.random((100, 32))
y = np.random.random((100, 1))
before = model.evaluate(x, y, return_dict=True)
history = model.fit(x, y, epochs=3)
after = model.evaluate(x, y, return_dict=True)
print(after)
# the whole set's error before and after (the per-epoch means of a few batches are noisy)
assert after["mae"] < before["mae"]
