# Source: "Deep Learning with Python" (Chollet, 1st edition), notebook 6.3 "Advanced use
# of recurrent neural networks": a GRU with dropout and recurrent dropout forecasting the
# temperature from the Jena climate series, trained with fit_generator on a batch
# generator. Changed: the imports (keras -> minidl) and the data (a synthetic 14-channel
# series with a daily cycle instead of the Jena CSV, 2,000 rows), 2 epochs of 8 steps.
import numpy as np

from minidl.models import Sequential
from minidl import layers
from minidl.optimizers import RMSprop

steps = np.arange(2000)
rng = np.random.default_rng(2)
float_data = np.stack([np.sin(2 * np.pi * steps / 144 + k) for k in range(14)], axis=1)
float_data += 0.1 * rng.normal(size=float_data.shape)
mean = float_data[:1200].mean(axis=0)
float_data -= mean
std = float_data[:1200].std(axis=0)
float_data /= std


def generator(data, lookback, delay, min_index, max_index, shuffle=False, batch_size=128,
              step=6):
    if max_index is None:
        max_index = len(data) - delay - 1
    i = min_index + lookback
    while 1:
        if shuffle:
            rows = np.random.randint(min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)
        samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, row in enumerate(rows):
            indices = range(rows[j] - lookback, rows[j], step)
            samples[j] = data[indices]
            targets[j] = data[rows[j] + delay][1]
        yield samples, targets


lookback = 240
step = 6
delay = 36
batch_size = 32
train_gen = generator(float_data, lookback=lookback, delay=delay, min_index=0,
                      max_index=1200, shuffle=True, step=step, batch_size=batch_size)
val_gen = generator(float_data, lookback=lookback, delay=delay, min_index=1201,
                    max_index=1600, step=step, batch_size=batch_size)
val_steps = 4

model = Sequential()
model.add(layers.GRU(32, dropout=0.2, recurrent_dropout=0.2,
                     input_shape=(None, float_data.shape[-1])))
model.add(layers.Dense(1))
model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit_generator(train_gen, steps_per_epoch=8, epochs=2,
                              validation_data=val_gen, validation_steps=val_steps)
print(history.history)
