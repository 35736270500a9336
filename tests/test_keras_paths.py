"""The paths and habits of TensorFlow programs: ``tf.keras.*`` through ``import minidl as
tf``, ``from minidl.keras.layers import ...``, 1-D data for an input of shape (1,), and a
Sequential model built from an adapted first layer."""
import numpy as np

import minidl
import minidl as tf
from minidl import layers


def test_tf_keras_names_are_minidls_own():
    from minidl.keras import layers as keras_layers
    from minidl.keras.layers import Dense
    from minidl.keras.optimizers import Adam
    assert tf.keras.layers.Dense is Dense is layers.Dense and keras_layers is minidl.layers
    assert tf.keras.Sequential is minidl.Sequential and tf.keras.optimizers.Adam is Adam
    assert tf.keras.GradientTape is minidl.GradientTape


def test_one_dimensional_data_feeds_an_input_of_shape_one():
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([layers.Input((1,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.linspace(-1, 1, 16)
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  model.predict(x[:, None], verbose=0))
    history = model.fit(x, 3 * x, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    inputs = minidl.Input((1,))
    functional = minidl.Model(inputs, layers.Dense(2)(inputs))
    assert functional.predict(x, verbose=0).shape == (16, 2)


def test_a_sequential_model_is_built_from_an_adapted_first_layer():
    normalizer = layers.Normalization()
    normalizer.adapt(np.random.default_rng(0).normal(size=(10, 3)))
    model = minidl.Sequential([normalizer, layers.Dense(4), layers.Dense(1)])
    assert model.built and model.output_shape == (None, 1)
    assert model.count_params() == 7 + 16 + 5
