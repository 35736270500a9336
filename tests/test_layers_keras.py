"""The Keras layers beyond the seed models' (Reshape, Permute, UpSampling2D, ZeroPadding2D,
Cropping2D, global pooling, Conv2DTranspose, Rescaling, SpatialDropout2D, ReLU, Softmax):
forward against NumPy float64 references written from Keras's definitions, backward
against central differences, configs that round-trip, and bad arguments named."""
import numpy as np
import pytest

from minidl import layers, ops

from gradcheck import numerical_gradient

F64 = "float64"


@pytest.fixture
def rng():
    return np.random.default_rng(20261204)


def _conv_transpose_reference(x, w, stride, padding):
    """y[n, i*s + a, j*s + b, o] += x[n, i, j, c] * w[a, b, o, c], cropped for 'same' as
    the convolution it transposes pads (TensorFlow's split)."""
    n, h, wd, _ = x.shape
    kh, kw, cout, _ = w.shape
    full = np.zeros((n, (h - 1) * stride + kh, (wd - 1) * stride + kw, cout))
    for i in range(h):
        for j in range(wd):
            full[:, i * stride:i * stride + kh, j * stride:j * stride + kw] += \
                np.einsum("nc,aboc->nabo", x[:, i, j], w)
    if padding == "valid":
        return full
    out_h, out_w = h * stride, wd * stride
    top = max(kh - stride, 0) // 2
    left = max(kw - stride, 0) // 2
    padded = np.zeros((n, max(full.shape[1], top + out_h), max(full.shape[2], left + out_w),
                       cout))
    padded[:, :full.shape[1], :full.shape[2]] = full
    return padded[:, top:top + out_h, left:left + out_w]


def _reference_cases():
    """(id, layer factory, input shape, NumPy float64 forward)."""
    return [
        ("reshape", lambda: layers.Reshape((3, -1), dtype=F64), (2, 4, 3),
         lambda x: x.reshape(2, 3, 4)),
        ("permute", lambda: layers.Permute((2, 3, 1), dtype=F64), (2, 3, 4, 5),
         lambda x: np.transpose(x, (0, 2, 3, 1))),
        ("upsampling", lambda: layers.UpSampling2D((2, 3), dtype=F64), (2, 3, 2, 2),
         lambda x: x.repeat(2, axis=1).repeat(3, axis=2)),
        ("zero_padding", lambda: layers.ZeroPadding2D(((1, 0), (2, 1)), dtype=F64),
         (2, 3, 3, 2), lambda x: np.pad(x, ((0, 0), (1, 0), (2, 1), (0, 0)))),
        ("cropping", lambda: layers.Cropping2D(((1, 0), (0, 2)), dtype=F64), (2, 4, 5, 2),
         lambda x: x[:, 1:, :3]),
        ("global_average", lambda: layers.GlobalAveragePooling2D(dtype=F64), (2, 3, 4, 5),
         lambda x: x.mean(axis=(1, 2))),
        ("global_max", lambda: layers.GlobalMaxPooling2D(keepdims=True, dtype=F64),
         (2, 3, 4, 5), lambda x: x.max(axis=(1, 2), keepdims=True)),
        ("rescaling", lambda: layers.Rescaling(1 / 255, offset=-0.5, dtype=F64), (3, 4),
         lambda x: x / 255 - 0.5),
        ("rescaling_vector", lambda: layers.Rescaling([1.0, 2.0, 3.0], [0.0, 1.0, -1.0],
                                                      dtype=F64), (2, 2, 3),
         lambda x: x * np.array([1.0, 2.0, 3.0]) + np.array([0.0, 1.0, -1.0])),
        ("relu", lambda: layers.ReLU(dtype=F64), (3, 5), lambda x: np.maximum(x, 0)),
        ("softmax", lambda: layers.Softmax(axis=1, dtype=F64), (2, 4, 3),
         lambda x: np.exp(x - x.max(1, keepdims=True)) /
         np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)),
    ]


@pytest.mark.parametrize("name,factory,shape,reference", _reference_cases(),
                         ids=[c[0] for c in _reference_cases()])
def test_forward_backward_and_config(rng, name, factory, shape, reference):
    layer = factory()
    x = rng.standard_normal(shape)
    y = layer(x)
    np.testing.assert_allclose(y, reference(x), rtol=1e-12, atol=1e-12)
    assert tuple(layer.compute_output_shape((None,) + shape[1:]))[1:] == y.shape[1:]
    dy = rng.standard_normal(y.shape)
    layer(x, training=True)
    analytic = layer.backward(dy)
    numeric = numerical_gradient(lambda v: layer(v), x, dy)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    twin = layers.deserialize(layers.serialize(layer))
    np.testing.assert_array_equal(twin(x), y)


@pytest.mark.parametrize("stride,padding,kernel", [(1, "valid", 3), (2, "valid", 3),
                                                   (2, "same", 3), (2, "same", 4),
                                                   (3, "same", 2)])
def test_conv_transpose_forward_and_gradients(rng, stride, padding, kernel):
    layer = layers.Conv2DTranspose(2, kernel, strides=stride, padding=padding,
                                   bias_initializer="glorot_uniform", dtype=F64)
    x = rng.standard_normal((2, 3, 4, 3))
    y = layer(x, training=True)
    w, b = layer.kernel.value, layer.bias.value
    assert w.shape == (kernel, kernel, 2, 3)  # Keras's (kh, kw, filters, in)
    np.testing.assert_allclose(y, _conv_transpose_reference(x, w, stride, padding) + b,
                               rtol=1e-12, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == y.shape
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: layer(v), x, dy),
                               rtol=1e-6, atol=1e-8)

    def with_kernel(k):
        return ops.conv_transpose(x, k, stride, padding, bias=b)
    np.testing.assert_allclose(layer.kernel.grad, numerical_gradient(with_kernel, w, dy),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.bias.grad, dy.sum(axis=(0, 1, 2)), rtol=1e-12)


def test_conv_transpose_inverts_the_shape_of_its_convolution(rng):
    x = rng.standard_normal((1, 5, 5, 3)).astype("float32")
    down = layers.Conv2D(4, 3, strides=2, padding="same")
    up = layers.Conv2DTranspose(3, 3, strides=2, padding="same")
    assert up(down(x)).shape == (1, 6, 6, 3)  # 5 -> 3 -> 6, as in Keras


def test_spatial_dropout_drops_whole_feature_maps(rng):
    layer = layers.SpatialDropout2D(0.5, seed=3)
    x = np.ones((4, 5, 5, 6), np.float32)
    y = layer(x, training=True)
    per_map = y.reshape(4, 25, 6)
    assert np.all(per_map == per_map[:, :1])  # one decision per image and channel
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < np.count_nonzero(y) < y.size
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), y)
    np.testing.assert_array_equal(layer(x), x)  # inference: the identity


@pytest.mark.parametrize("make,error,match", [
    (lambda: layers.Reshape((2, -1, -1)), ValueError, "target_shape"),
    (lambda: layers.Reshape((0, 3)), ValueError, "target_shape"),
    (lambda: layers.Permute((1, 3)), ValueError, "dims"),
    (lambda: layers.UpSampling2D(interpolation="bilinear"), NotImplementedError, "Resizing"),
    (lambda: layers.ZeroPadding2D((1, -1)), ValueError, "padding"),
    (lambda: layers.Cropping2D("top"), ValueError, "cropping"),
    (lambda: layers.Rescaling(np.nan), ValueError, "scale"),
    (lambda: layers.ReLU(max_value=6), NotImplementedError, "max_value"),
    (lambda: layers.Softmax(axis="last"), ValueError, "axis"),
    (lambda: layers.GlobalAveragePooling2D(data_format="channels_first"), ValueError,
     "channels_last"),
])
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("layer,shape,match", [
    (lambda: layers.Reshape((5,)), (2, 4), "total size"),
    (lambda: layers.Cropping2D(2), (1, 4, 4, 1), "leaves nothing"),
    (lambda: layers.GlobalMaxPooling2D(), (2, 3), "rank 4"),
    (lambda: layers.Rescaling([1.0, 2.0]), (2, 3), "channels"),
])
def test_bad_input_shapes_are_named(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer()(np.ones(shape))


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5)])
def test_layer_normalization_against_numpy_and_central_differences(rng, shape):
    layer = layers.LayerNormalization(epsilon=1e-3, dtype=F64)
    x = rng.normal(2.0, 3.0, shape)
    layer.build((None,) + shape[1:])
    layer.gamma.assign(rng.random(shape[-1]) + 0.5)
    layer.beta.assign(rng.normal(size=shape[-1]))
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(layer(x, training=True), gamma * want + beta,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer(x), gamma * want + beta, rtol=1e-12, atol=1e-12)
    dy = rng.normal(size=shape)
    layer(x, training=True)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: layer(v), x, dy),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.gamma.grad, (dy * want).reshape(-1, shape[-1]).sum(0),
                               rtol=1e-10)
    np.testing.assert_allclose(layer.beta.grad, dy.reshape(-1, shape[-1]).sum(0), rtol=1e-10)
    twin = layers.deserialize(layers.serialize(layer))
    twin.build(layer.build_input_shape)
    twin.set_weights(layer.get_weights())
    np.testing.assert_array_equal(twin(x), layer(x))
    with pytest.raises(NotImplementedError, match="axis"):
        layers.LayerNormalization(axis=1)
