"""``minidl.backend``: the keras.backend basics Keras 2 programs call (image layout,
epsilon, get/set_value on weights and on an optimizer's learning rate, int_shape)."""
import numpy as np
import pytest

import minidl
from minidl import backend as K
from minidl import layers, models, optimizers


def test_layout_and_fuzz_factor_are_reported_and_settings_that_would_be_ignored_refused():
    assert K.image_data_format() == "channels_last" and K.backend() == "minidl"
    K.set_image_data_format("channels_last")
    with pytest.raises(NotImplementedError, match="NHWC"):
        K.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="data_format"):
        K.set_image_data_format("nhwc")
    assert K.epsilon() == 1e-7
    K.set_epsilon(1e-7)
    with pytest.raises(NotImplementedError, match="epsilon"):
        K.set_epsilon(1e-8)


def test_get_and_set_value_of_weights():
    model = models.Sequential([minidl.Input((3,)), layers.Dense(2)])
    kernel = model.layers[0].kernel
    value = np.arange(6, dtype=np.float32).reshape(3, 2)
    K.set_value(kernel, value)
    np.testing.assert_array_equal(K.get_value(kernel), value)
    np.testing.assert_array_equal(K.eval(kernel), value)
    np.testing.assert_array_equal(model.predict(np.eye(3), verbose=0), value)
    assert K.int_shape(kernel) == (3, 2) and K.count_params(kernel) == 6
    assert K.int_shape(minidl.Input((4, 5))) == (None, 4, 5)
    with pytest.raises(TypeError, match="copy"):
        K.set_value(np.zeros(3), 1.0)


def test_keras2_learning_rate_schedule_through_set_value():
    """The Keras 2 idiom K.set_value(model.optimizer.lr, K.get_value(...) * 0.5)."""
    opt = optimizers.SGD(learning_rate=0.1)
    K.set_value(opt.lr, K.get_value(opt.lr) * 0.5)
    assert opt.learning_rate == 0.05 and isinstance(K.get_value(opt.learning_rate), float)
    v = minidl.variables.Variable(np.ones(2), dtype="float64")
    opt.apply([np.ones(2)], [v])
    np.testing.assert_allclose(v.value, 1 - 0.05, rtol=1e-15)
