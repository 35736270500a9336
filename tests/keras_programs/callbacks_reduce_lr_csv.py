# Source: keras.io API documentation examples of ReduceLROnPlateau, CSVLogger and
# ModelCheckpoint(save_best_only=True), assembled as a training script. Changed: the
# imports, the data (synthetic) and a temporary folder.
import os
import tempfile

import numpy as np

import minidl as keras
from minidl.callbacks import CSVLogger, ModelCheckpoint, ReduceLROnPlateau

rng = np.random.default_rng(15)
X_train = rng.random((80, 10)).astype("float32")
Y_train = (X_train.sum(axis=1) > 5).astype("float32")
folder = tempfile.mkdtemp()

model = keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(10,)),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=1, min_lr=0.0001)
csv_logger = CSVLogger(os.path.join(folder, "training.log"))
checkpoint = ModelCheckpoint(os.path.join(folder, "best.keras"), monitor="val_loss",
                             save_best_only=True)
model.fit(X_train, Y_train, validation_split=0.25, epochs=3,
          callbacks=[reduce_lr, csv_logger, checkpoint])
with open(os.path.join(folder, "training.log")) as log:
    print(log.read())
best = keras.models.load_model(os.path.join(folder, "best.keras"))
print(best.evaluate(X_train, Y_train, verbose=0))
