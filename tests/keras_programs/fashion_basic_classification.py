# Source: TensorFlow tutorial "Basic classification: Classify images of clothing"
# (tensorflow.org/tutorials/keras/classification). Changed: the imports (tensorflow.keras
# -> minidl) and the data (synthetic arrays of Fashion-MNIST's shapes).
import numpy as np

import minidl as keras

rng = np.random.default_rng(1)
train_images = rng.integers(0, 256, (64, 28, 28)).astype("uint8")
train_labels = rng.integers(0, 10, 64)
test_images, test_labels = train_images[:16], train_labels[:16]
class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]

train_images = train_images / 255.0
test_images = test_images / 255.0

model = keras.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10),
])
model.compile(optimizer="adam",
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(train_images, train_labels, epochs=2)
test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
print("\nTest accuracy:", test_acc)

probability_model = keras.Sequential([model, keras.layers.Softmax()])
predictions = probability_model.predict(test_images)
print(class_names[int(np.argmax(predictions[0]))])
assert np.allclose(predictions.sum(axis=1), 1.0, atol=1e-5)
