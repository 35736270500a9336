"""Depthwise convolution (csrc/depthwise.c), DepthwiseConv2D and SeparableConv2D against
a float64 NumPy reference, central differences and PyTorch (grouped convolution)."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, ops
from gradcheck import assert_gradient


def reference(x, kernel, strides=(1, 1), padding="valid", bias=None):
    """The depthwise convolution in float64 loops over the kernel taps, padding as Keras
    (the odd pixel bottom/right)."""
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    kh, kw, _, m = kernel.shape
    sh, sw = strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, oh, ow, c, m))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            out += patch[..., None] * kernel[i, j]
    out = out.reshape(n, oh, ow, c * m)
    return out if bias is None else out + bias


CASES = [((2, 7, 6, 3), (3, 3), 1, (1, 1), "valid"), ((2, 7, 6, 3), (3, 3), 2, (1, 1), "same"),
         ((1, 9, 8, 4), (3, 2), 1, (2, 2), "same"), ((3, 5, 5, 2), (5, 5), 3, (2, 1), "same"),
         ((1, 6, 7, 5), (2, 2), 1, (2, 2), "valid")]


@pytest.mark.parametrize("shape,window,multiplier,strides,padding", CASES)
def test_forward_matches_the_reference(shape, window, multiplier, strides, padding, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    kernel = rng.standard_normal(window + (shape[3], multiplier)).astype(dtype)
    bias = rng.standard_normal(shape[3] * multiplier).astype(dtype)
    y = ops.depthwise_conv(x, kernel, strides, padding, bias=bias)
    assert y.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(y, reference(x, kernel, strides, padding, bias), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("shape,window,multiplier,strides,padding", CASES)
def test_gradients_match_central_differences(shape, window, multiplier, strides, padding):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    kernel = rng.standard_normal(window + (shape[3], multiplier))
    dy = rng.standard_normal(ops.depthwise_conv(x, kernel, strides, padding).shape)
    dx, dkernel, dbias = ops.depthwise_conv_backward(dy, x, kernel, strides, padding,
                                                     use_bias=True)
    assert_gradient(lambda v: ops.depthwise_conv(v, kernel, strides, padding), x, dy, dx)
    assert_gradient(lambda k: ops.depthwise_conv(x, k, strides, padding), kernel, dy, dkernel)
    np.testing.assert_allclose(dbias, dy.sum(axis=(0, 1, 2)), rtol=1e-12)


def test_results_do_not_depend_on_the_thread_count(threads):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 16, 16, 8)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 8, 2)).astype(np.float32)
    dy = rng.standard_normal((8, 8, 8, 16)).astype(np.float32)
    results = []
    for n in (1, 2):
        minidl.set_num_threads(n)
        y = ops.depthwise_conv(x, kernel, 2, "same")
        results.append((y,) + ops.depthwise_conv_backward(dy, x, kernel, 2, "same",
                                                          use_bias=True))
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes()


def test_matches_pytorch_grouped_convolution():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 9, 4))
    kernel = rng.standard_normal((3, 3, 4, 2))
    # PyTorch: groups = channels, weight (C * M, 1, kh, kw) with output channel c * M + m
    weight = torch.from_numpy(kernel.transpose(2, 3, 0, 1).reshape(8, 1, 3, 3).copy())
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_()
    yt = torch.nn.functional.conv2d(xt, weight, stride=2, padding=1, groups=4)
    y = ops.depthwise_conv(x, kernel, 2, "same")
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-10)
    dy = rng.standard_normal(y.shape)
    yt.backward(torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()))
    dx, _, _ = ops.depthwise_conv_backward(dy, x, kernel, 2, "same")
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10)


def test_bad_arguments_raise_before_any_work():
    x, kernel = np.ones((1, 5, 5, 3)), np.ones((3, 3, 3, 1))
    with pytest.raises(ValueError, match="depthwise_conv.*3 channels.*expects 2"):
        ops.depthwise_conv(x, np.ones((3, 3, 2, 1)))
    with pytest.raises(ValueError, match="depthwise_conv: argument 'bias' must have shape"):
        ops.depthwise_conv(x, kernel, bias=np.ones(4))
    with pytest.raises(ValueError, match="depthwise_conv_backward: argument 'dy'"):
        ops.depthwise_conv_backward(np.ones((1, 5, 5, 3)), x, kernel)
    with pytest.raises(ValueError, match="depth_multiplier"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="SeparableConv2D: argument 'filters'"):
        layers.SeparableConv2D(0, 3)


def test_separable_layer_is_depthwise_then_pointwise_and_its_gradients_are_right():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 6, 3))
    layer = layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2,
                                   bias_initializer="random_normal", dtype="float64")
    y = layer(x)
    depthwise = reference(x, layer.kernel.value, padding="same")
    want = depthwise @ layer.pointwise_kernel.value[0, 0] + layer.bias.value
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    assert layer.count_params() == 3 * 3 * 3 * 2 + 6 * 4 + 4
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    assert_gradient(lambda v: layer(v), x, dy, dx)
    for variable in (layer.kernel, layer.pointwise_kernel):
        grad, saved = variable.grad.copy(), variable.value.copy()

        def with_value(v, variable=variable):
            variable.value[...] = v
            return layer(x)
        assert_gradient(with_value, saved, dy, grad)
        variable.value[...] = saved


def test_depthwise_layer_gradients_and_activation():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 5, 3))
    layer = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                                   activation="tanh", dtype="float64")
    y = layer(x)
    np.testing.assert_allclose(y, np.tanh(reference(x, layer.kernel.value, (2, 2), "same")),
                               rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    assert_gradient(lambda v: layer(v), x, dy, layer.backward(dy))
    assert layer.depthwise_kernel is layer.kernel


def test_both_layers_train_and_round_trip_through_save(tmp_path):
    rng = np.random.default_rng(6)
    x, y = rng.random((32, 8, 8, 3)).astype(np.float32), rng.integers(0, 2, 32)
    model = models.Sequential([
        minidl.Input((8, 8, 3)),
        layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu",
                               depthwise_regularizer="l2"),
        layers.SeparableConv2D(8, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "separable.keras")
    model.save(path)
    loaded = models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = loaded.layers[1].get_config()
    assert config["filters"] == 8 and config["depth_multiplier"] == 1
