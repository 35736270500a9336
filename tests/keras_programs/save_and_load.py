# Source: TensorFlow tutorial "Save and load models" (tensorflow.org/tutorials/keras/
# save_and_load): checkpoints of the weights during training, the whole model in the
# .keras format and in HDF5. Changed: the imports, the data (synthetic), a temporary
# working folder.
import os
import tempfile

import numpy as np

import minidl as tf_keras

rng = np.random.default_rng(10)
train_images = rng.random((64, 784)).astype("float32")
train_labels = rng.integers(0, 10, 64)
test_images, test_labels = train_images[:16], train_labels[:16]


def create_model():
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(512, activation="relu", input_shape=(784,)),
        tf_keras.layers.Dropout(0.2),
        tf_keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[tf_keras.metrics.SparseCategoricalAccuracy()])
    return model


os.chdir(tempfile.mkdtemp())
checkpoint_path = "training_1/cp.weights.h5"
os.makedirs(os.path.dirname(checkpoint_path), exist_ok=True)
cp_callback = tf_keras.callbacks.ModelCheckpoint(filepath=checkpoint_path,
                                                 save_weights_only=True, verbose=1)
model = create_model()
model.fit(train_images, train_labels, epochs=2, validation_data=(test_images, test_labels),
          callbacks=[cp_callback])

model = create_model()
loss, acc = model.evaluate(test_images, test_labels, verbose=2)
model.load_weights(checkpoint_path)
loss, acc = model.evaluate(test_images, test_labels, verbose=2)
print("Restored model, accuracy: {:5.2f}%".format(100 * acc))

model.save("my_model.keras")
new_model = tf_keras.models.load_model("my_model.keras")
new_model.summary()
model.save("my_model.h5")
h5_model = tf_keras.models.load_model("my_model.h5")
assert np.allclose(h5_model.predict(test_images), new_model.predict(test_images),
                   atol=1e-6)
