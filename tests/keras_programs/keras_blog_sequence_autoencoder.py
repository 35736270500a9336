# Source: the Keras blog post "Building Autoencoders in Keras" (fchollet, 2016), its
# sequence-to-sequence autoencoder: an LSTM encodes the sequence into one vector, which
# RepeatVector feeds to every step of an LSTM decoder; the encoder is a model of its own.
# Changed: the imports (keras -> minidl); the post gives only the model, so the data
# (random walks of 3 features over 10 steps) and the compile/fit lines are this test's.
import numpy as np

from minidl.layers import Input, LSTM, RepeatVector
from minidl.models import Model

timesteps, input_dim, latent_dim = 10, 3, 8

inputs = Input(shape=(timesteps, input_dim))
encoded = LSTM(latent_dim)(inputs)

decoded = RepeatVector(timesteps)(encoded)
decoded = LSTM(input_dim, return_sequences=True)(decoded)

sequence_autoencoder = Model(inputs, decoded)
encoder = Model(inputs, encoded)

x = np.cumsum(np.random.default_rng(0).normal(scale=0.2, size=(256, timesteps, input_dim)),
              axis=1)
sequence_autoencoder.compile(optimizer='adam', loss='mse')
history = sequence_autoencoder.fit(x, x, epochs=3, batch_size=32, shuffle=True)
print(encoder.predict(x[:4]).shape)
assert history.history['loss'][-1] < history.history['loss'][0]
