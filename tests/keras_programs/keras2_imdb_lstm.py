# Source: the Keras 2 example "imdb_lstm.py" (keras-team/keras, examples/): an LSTM
# sentiment classifier over padded word-index sequences. Changed: the imports (keras ->
# minidl) and the data (random word indices whose label depends on which words occur,
# 160 reviews instead of imdb.load_data), one epoch.
import numpy as np

from minidl.preprocessing import sequence
from minidl.models import Sequential
from minidl.layers import Dense, Embedding
from minidl.layers import LSTM

max_features = 20000
maxlen = 80  # cut texts after this number of words (among top max_features most common words)
batch_size = 32

print('Loading data...')
rng = np.random.default_rng(0)
lengths = rng.integers(20, 120, size=160)
x_all = [list(rng.integers(1, 200, size=n)) for n in lengths]
y_all = np.array([int(np.mean(np.array(s) < 100) > 0.5) for s in x_all])
x_train, y_train, x_test, y_test = x_all[:128], y_all[:128], x_all[128:], y_all[128:]
print(len(x_train), 'train sequences')
print(len(x_test), 'test sequences')

print('Pad sequences (samples x time)')
x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
x_test = sequence.pad_sequences(x_test, maxlen=maxlen)
print('x_train shape:', x_train.shape)
print('x_test shape:', x_test.shape)

print('Build model...')
model = Sequential()
model.add(Embedding(max_features, 128))
model.add(LSTM(128, dropout=0.2, recurrent_dropout=0.2))
model.add(Dense(1, activation='sigmoid'))

model.compile(loss='binary_crossentropy',
              optimizer='adam',
              metrics=['accuracy'])

print('Train...')
model.fit(x_train, y_train,
          batch_size=batch_size,
          epochs=1,
          validation_data=(x_test, y_test))
score, acc = model.evaluate(x_test, y_test,
                            batch_size=batch_size)
print('Test score:', score)
print('Test accuracy:', acc)
