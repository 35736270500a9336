# Source: keras.io guide "Customizing what happens in fit()" (fchollet): a Model subclass
# whose train_step computes the loss and applies the gradients itself. Changed: the
# imports (the guide's TensorFlow GradientTape stays: minidl has no autodiff) and the data.
import numpy as np

import minidl as keras


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with keras.backend.GradientTape() as tape:  # noqa: the guide's tf.GradientTape
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return {"loss": loss}


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
x = np.random.random((100, 32))
y = np.random.random((100, 1))
model.fit(x, y, epochs=1)
