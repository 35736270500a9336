"""Every CUDA op against its C op (forward and backward), DeviceArray semantics, and a
few steps of fit on both devices.

Each test runs twice, through the ``backend`` fixture:

* ``gpu``: minidl's real CUDA backend (``minidl._cuda``) on a GPU, compared with the C
  ops at float32 tolerance. Skipped, with ``minidl.cuda.reason()``, where no GPU can be
  used -- no CUDA toolkit at build time, no driver, no device.
* ``standin``: the CPU stand-in of ``tests/cuda_standin.py``, which has the backend's
  API but runs the C kernels; it tests everything on the device path except the .cu
  kernels and the Cython glue, and must give bit-identical results.
"""
import numpy as np
import pytest

import minidl
from minidl import layers, models, ops, optimizers, utils
from minidl.cuda import DeviceArray, _runtime

import cuda_standin

# ---------------------------------------------------------------- fixtures


@pytest.fixture(params=["gpu", "standin"])
def backend(request):
    """'gpu' (skipped without one) or 'standin' (installed for the test)."""
    if request.param == "gpu":
        if not minidl.cuda.is_available():
            pytest.skip(minidl.cuda.reason())
        yield "gpu"
        minidl.cuda.synchronize()
        return
    state = _runtime.install_backend(cuda_standin)
    try:
        yield "standin"
    finally:
        _runtime.restore_backend(state)


def dev(array):
    """A host array on the device."""
    return DeviceArray.from_numpy(np.asarray(array))


def host(x):
    """Device results back to NumPy (tuples element-wise, None stays None)."""
    if isinstance(x, tuple):
        return tuple(host(v) for v in x)
    return x.to_numpy() if isinstance(x, DeviceArray) else x


def same(got, want, backend, rtol=2e-5, atol=2e-5):
    """The device result equals the C op's: bit for bit on the stand-in, to float32
    round-off (relative to the result's scale) on a GPU."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            same(g, w, backend, rtol, atol)
        return
    if want is None:
        assert got is None
        return
    assert isinstance(got, DeviceArray), type(got)
    got = got.to_numpy()
    want = np.asarray(want)
    assert got.shape == want.shape
    if backend == "standin":
        np.testing.assert_array_equal(got, want)
    else:
        scale = max(1.0, float(np.nanmax(np.abs(want)))) if want.size else 1.0
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- DeviceArray


def test_device_array_round_trip_and_views(backend, rng):
    a = randn(rng, 4, 3, 2)
    d = dev(a)
    assert d.shape == (4, 3, 2) and d.dtype == np.float32 and d.ndim == 3 and d.size == 24
    np.testing.assert_array_equal(d.to_numpy(), a)
    np.testing.assert_array_equal(d.reshape(12, -1).to_numpy(), a.reshape(12, 2))
    np.testing.assert_array_equal(d[1].to_numpy(), a[1])
    np.testing.assert_array_equal(d[1:3].to_numpy(), a[1:3])
    np.testing.assert_array_equal(d.transpose(2, 0, 1).to_numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(d.astype(np.int64).to_numpy(), a.astype(np.int64))
    for dtype in (np.float64, np.int32, np.int64, np.uint8):
        src = (rng.random(5) * 100).astype(dtype)
        np.testing.assert_array_equal(DeviceArray.from_numpy(src, dtype).to_numpy(), src)
    assert dev(np.float64(2.5)).dtype == np.float32 and dev(np.array([True])).dtype == np.uint8
    c = d.copy()
    c[...] = 0
    assert not np.any(c.to_numpy()) and np.array_equal(d.to_numpy(), a)
    c[2] = np.ones((3, 2))
    np.testing.assert_array_equal(c.to_numpy()[2], np.ones((3, 2)))
    assert float(dev(np.array([3.0]))) == 3.0
    np.testing.assert_array_equal((d * 2.0).to_numpy(), a * np.float32(2.0))
    np.testing.assert_array_equal((d + d).to_numpy(), a + a)
    np.testing.assert_array_equal((a * d).to_numpy(), a * a)
    assert minidl.cuda.zeros((2, 3)).to_numpy().tolist() == [[0.0] * 3] * 2


def test_device_array_refuses_implicit_conversion_and_frees(backend):
    d = dev(np.ones(3))
    with pytest.raises(TypeError, match="to_numpy"):
        np.asarray(d)
    with pytest.raises(TypeError):
        np.add(np.ones(3), d)
    view = d.reshape(3, 1)
    d.free()
    assert d.freed and view.freed
    with pytest.raises(RuntimeError, match="freed"):
        d.to_numpy()
    with pytest.raises(RuntimeError, match="freed"):
        ops.relu(view)
    d.free()  # idempotent
    with dev(np.ones(2)) as e:
        assert not e.freed
    assert e.freed


def test_pool_reuses_memory(backend):
    if backend == "standin":
        pytest.skip("the stand-in allocates host memory without a pool")
    for _ in range(3):  # warm the pool with these sizes
        DeviceArray((1000,)).free()
    before = minidl.cuda.memory_info()["device_mallocs"]
    for _ in range(10):
        with DeviceArray((1000,)):
            pass
    assert minidl.cuda.memory_info()["device_mallocs"] == before


def test_dispatch_routes_only_device_calls(backend, rng):
    a, b = randn(rng, 3, 4), randn(rng, 4, 2)
    assert isinstance(ops.matmul(a, b), np.ndarray)      # host call: the C op
    assert isinstance(ops.matmul(dev(a), b), DeviceArray)  # any device argument: the GPU
    assert isinstance(ops.matmul(a, dev(b)), DeviceArray)
    assert isinstance(ops.conv(randn(rng, 1, 4, 4, 2), randn(rng, 3, 3, 2, 1),
                               bias=dev(np.zeros(1))), DeviceArray)


# ---------------------------------------------------------------- gemm


@pytest.mark.parametrize("m,k,n", [(7, 5, 3), (1, 1, 1), (33, 17, 65), (2, 2000, 9),
                                   (1536, 24, 1536)])
def test_matmul_and_backward(backend, rng, m, k, n):
    a, b = randn(rng, m, k), randn(rng, k, n)
    same(ops.matmul(dev(a), dev(b)), ops.matmul(a, b), backend)
    dy = randn(rng, m, n)
    same(ops.matmul_backward(dev(dy), dev(a), dev(b)), ops.matmul_backward(dy, a, b), backend)


def test_matmul_shapes(backend, rng):
    a, b, v = randn(rng, 2, 3, 4), randn(rng, 4, 5), randn(rng, 4)
    same(ops.matmul(dev(a), b), ops.matmul(a, b), backend)
    same(ops.matmul(dev(a), v), ops.matmul(a, v), backend)
    dy = randn(rng, 2, 3)
    same(ops.matmul_backward(dev(dy), a, dev(v)), ops.matmul_backward(dy, a, v), backend)


# ---------------------------------------------------------------- conv2d

CONV = [((1, 5, 5, 1), 1, 1, 1, "valid"), ((2, 7, 6, 3), 3, 6, 1, "same"),
        ((2, 7, 6, 3), 3, 6, 2, "valid"), ((1, 9, 8, 6), 5, 16, 2, "same"),
        ((3, 6, 7, 16), 3, 33, 1, "same"), ((2, 8, 5, 33), 3, 3, 2, "same"),
        ((4, 32, 32, 3), 3, 8, 1, "same")]


@pytest.mark.parametrize("shape,k,co,stride,padding", CONV)
def test_conv_forward_and_backward(backend, rng, shape, k, co, stride, padding):
    x, w, bias = randn(rng, *shape), randn(rng, k, k, shape[3], co), randn(rng, co)
    for act in (None, "relu", "sigmoid", "tanh"):
        same(ops.conv(dev(x), dev(w), stride, padding, bias=dev(bias), activation=act),
             ops.conv(x, w, stride, padding, bias=bias, activation=act), backend)
    same(ops.conv(dev(x), w, stride, padding), ops.conv(x, w, stride, padding), backend)
    dy = randn(rng, *ops.conv(x, w, stride, padding).shape)
    same(ops.conv_backward(dev(dy), dev(x), dev(w), stride, padding, use_bias=True),
         ops.conv_backward(dy, x, w, stride, padding, use_bias=True), backend, atol=5e-5)
    same(ops.conv_backward(dev(dy), dev(x), dev(w), stride, padding, input_gradient=False),
         ops.conv_backward(dy, x, w, stride, padding, input_gradient=False), backend,
         atol=5e-5)


# ---------------------------------------------------------------- pooling

POOL = [((1, 5, 5, 1), 2, None, "valid"), ((2, 7, 6, 3), 3, 2, "same"),
        ((2, 8, 8, 6), 2, 1, "valid"), ((3, 6, 7, 16), 3, 1, "same"), ((1, 9, 4, 33), 2, 2, "same")]


@pytest.mark.parametrize("shape,pool,stride,padding", POOL)
def test_pooling_forward_and_backward(backend, rng, shape, pool, stride, padding):
    x = randn(rng, *shape)
    x[0, 0, 0, 0] = x[0, 0, 1, 0]  # a tie: the first maximum wins on both devices
    y, argmax = ops.max_pool_with_argmax(dev(x), pool, stride, padding)
    ry, rargmax = ops.max_pool_with_argmax(x, pool, stride, padding)
    same(y, ry, backend)
    assert argmax.dtype == np.int64
    np.testing.assert_array_equal(argmax.to_numpy(), rargmax)
    same(ops.max_pool(dev(x), pool, stride, padding), ry, backend)
    dy = randn(rng, *ry.shape)
    same(ops.max_pool_backward(dev(dy), argmax, x.shape, pool, stride, padding),
         ops.max_pool_backward(dy, rargmax, x.shape, pool, stride, padding), backend)
    same(ops.max_pool_backward(dev(dy), rargmax, x.shape, pool, stride, padding),
         ops.max_pool_backward(dy, rargmax, x.shape, pool, stride, padding), backend)
    same(ops.average_pool(dev(x), pool, stride, padding),
         ops.average_pool(x, pool, stride, padding), backend)
    same(ops.average_pool_backward(dev(dy), x.shape, pool, stride, padding),
         ops.average_pool_backward(dy, x.shape, pool, stride, padding), backend)


def test_max_pool_backward_flags_a_bad_device_argmax(backend, rng):
    dy = dev(randn(rng, 1, 2, 2, 1))
    bad = DeviceArray.from_numpy(np.full((1, 2, 2, 1), 99, np.int64))
    with pytest.raises(ValueError):
        ops.max_pool_backward(dy, bad, (1, 4, 4, 1), 2)
        minidl.cuda.synchronize()


# ---------------------------------------------------------------- batch normalization

BN = [((6, 5), -1), ((2, 4, 3, 6), -1), ((2, 3, 4, 5), 1), ((300, 33), -1)]


@pytest.mark.parametrize("shape,axis", BN)
def test_batch_norm_train_and_backward(backend, rng, shape, axis):
    x = randn(rng, *shape) * 3 + 1
    c = shape[axis]
    gamma, beta = randn(rng, c), randn(rng, c)
    mm, mv = rng.random(c).astype(np.float32), rng.random(c).astype(np.float32) + 0.5
    dmm, dmv = dev(mm), dev(mv)
    got = ops.batch_norm_train(dev(x), dev(gamma), dev(beta), dmm, dmv, 0.9, 1e-3, axis)
    want = ops.batch_norm_train(x, gamma, beta, mm, mv, 0.9, 1e-3, axis)
    same(got, want, backend)
    same((dmm, dmv), (mm, mv), backend)
    same(ops.batch_norm_train(dev(x), None, None, None, None, axis=axis),
         ops.batch_norm_train(x, None, None, None, None, axis=axis), backend)
    dy = randn(rng, *shape)
    same(ops.batch_norm_train_backward(dev(dy), dev(x), got[1], got[2], dev(gamma), 1e-3, axis),
         ops.batch_norm_train_backward(dy, x, want[1], want[2], gamma, 1e-3, axis), backend)
    same(ops.moments(dev(x), tuple(a for a in range(len(shape)) if a != axis % len(shape))),
         ops.moments(x, tuple(a for a in range(len(shape)) if a != axis % len(shape))), backend)


@pytest.mark.parametrize("shape,axis", BN)
def test_batch_norm_inference_and_backward(backend, rng, shape, axis):
    x = randn(rng, *shape)
    c = shape[axis]
    mean, var, gamma, beta = randn(rng, c), rng.random(c).astype(np.float32), randn(rng, c), \
        randn(rng, c)
    same(ops.batch_normalization(dev(x), dev(mean), var, axis, dev(beta), gamma),
         ops.batch_normalization(x, mean, var, axis, beta, gamma), backend)
    dy = randn(rng, *shape)
    same(ops.batch_normalization_backward(dev(dy), dev(x), mean, dev(var), axis, dev(gamma)),
         ops.batch_normalization_backward(dy, x, mean, var, axis, gamma), backend)


def test_moving_statistics_must_live_on_the_device(backend, rng):
    x = dev(randn(rng, 4, 3))
    with pytest.raises(TypeError, match="moving_mean"):
        ops.batch_norm_train(x, None, None, np.zeros(3, np.float32), None)


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "linear"])
def test_activations(backend, rng, name):
    x = randn(rng, 5, 7) * 4
    y = ops.activation(x, name)
    same(ops.activation(dev(x), name), y, backend)
    dy = randn(rng, 5, 7)
    same(ops.activation_backward(dev(dy), dev(y), name), ops.activation_backward(dy, y, name),
         backend)
    if name != "linear":
        same(getattr(ops, name)(dev(x)), y, backend)
        same(getattr(ops, name + "_backward")(dev(dy), y), ops.activation_backward(dy, y, name),
             backend)


@pytest.mark.parametrize("shape,axis", [((4, 10), -1), ((3, 50, 2), 1), ((2, 1000), -1)])
def test_softmax(backend, rng, shape, axis):
    x = randn(rng, *shape) * 5
    y = ops.softmax(x, axis)
    same(ops.softmax(dev(x), axis), y, backend)
    dy = randn(rng, *shape)
    same(ops.softmax_backward(dev(dy), dev(y), axis), ops.softmax_backward(dy, y, axis),
         backend)


# ---------------------------------------------------------------- losses


@pytest.mark.parametrize("rows,cols", [(5, 10), (1, 3), (40, 100)])
def test_fused_softmax_cross_entropy(backend, rng, rows, cols):
    logits = randn(rng, rows, cols) * 3
    targets = rng.random((rows, cols)).astype(np.float32)
    targets /= targets.sum(axis=1, keepdims=True)
    loss, probs = ops.softmax_cross_entropy(logits, targets)
    same(ops.softmax_cross_entropy(dev(logits), dev(targets)), (loss, probs), backend)
    dloss = randn(rng, rows)
    same(ops.softmax_cross_entropy_backward(dev(dloss), dev(probs), targets),
         ops.softmax_cross_entropy_backward(dloss, probs, targets), backend)
    labels = rng.integers(0, cols, rows)
    loss, probs = ops.sparse_softmax_cross_entropy(logits, labels)
    same(ops.sparse_softmax_cross_entropy(dev(logits), labels), (loss, probs), backend)
    same(ops.sparse_softmax_cross_entropy(dev(logits), dev(labels)), (loss, probs), backend)
    same(ops.sparse_softmax_cross_entropy_backward(dev(dloss), dev(probs), labels),
         ops.sparse_softmax_cross_entropy_backward(dloss, probs, labels), backend)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("axis", [-1, 0])
def test_categorical_crossentropy(backend, rng, from_logits, axis):
    output = rng.random((6, 4)).astype(np.float32) + 0.01
    target = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)]
    if axis == 0:
        output, target = output.T.copy(), target.T.copy()
    same(ops.categorical_crossentropy(dev(target), dev(output), from_logits, axis),
         ops.categorical_crossentropy(target, output, from_logits, axis), backend)
    dloss = randn(rng, 6)
    same(ops.categorical_crossentropy_backward(dev(dloss), target, dev(output), from_logits,
                                               axis),
         ops.categorical_crossentropy_backward(dloss, target, output, from_logits, axis),
         backend)
    labels = rng.integers(0, 4, 6)
    same(ops.sparse_categorical_crossentropy(labels, dev(output), from_logits, axis),
         ops.sparse_categorical_crossentropy(labels, output, from_logits, axis), backend)
    same(ops.sparse_categorical_crossentropy_backward(dloss, labels, dev(output), from_logits,
                                                      axis),
         ops.sparse_categorical_crossentropy_backward(dloss, labels, output, from_logits, axis),
         backend)


def test_labels_out_of_range(backend, rng):
    logits = dev(randn(rng, 3, 4))
    with pytest.raises(ValueError, match="labels"):
        ops.sparse_softmax_cross_entropy(logits, np.array([0, 4, 1]))  # host: at once
    with pytest.raises(ValueError):
        ops.sparse_softmax_cross_entropy(logits, dev(np.array([0, 4, 1])))
        minidl.cuda.synchronize()  # device labels: at the next synchronisation


@pytest.mark.parametrize("bad", [-1, 4])
@pytest.mark.parametrize("backward", [False, True])
def test_device_labels_out_of_range_with_probabilities(backend, rng, bad, backward):
    """Probabilities (from_logits=False) with device labels: -1 is not the last class."""
    probs = dev(ops.softmax(randn(rng, 3, 4)))
    labels = dev(np.array([0, bad, 1]))
    with pytest.raises(ValueError, match="target"):
        if backward:
            ops.sparse_categorical_crossentropy_backward(dev(np.ones(3, np.float32)), labels,
                                                         probs)
        else:
            ops.sparse_categorical_crossentropy(labels, probs)
        minidl.cuda.synchronize()


def test_a_failed_call_is_not_reported_again_by_the_next(backend):
    """A CUDA error is raised by the call that caused it; the next, unrelated op runs."""
    if backend != "gpu":
        pytest.skip("the CUDA runtime's last-error state exists only on a GPU")
    from minidl import _cuda
    with pytest.raises(RuntimeError, match="mdc_memcpy_d2d"):
        _cuda.copy_d2d(16, 32, 4)  # no device memory there: cudaErrorInvalidValue
    x = dev(np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(ops.add(x, x).to_numpy(), 2 * np.arange(6))


# ---------------------------------------------------------------- optimizers


def _optimizer_states(rng, n, names):
    return {name: np.abs(randn(rng, n)) for name in names}


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_update(backend, rng, momentum, nesterov):
    var, vel = randn(rng, 3, 50), np.zeros((3, 50), np.float32)
    dvar, dvel = dev(var), dev(vel)
    for _ in range(3):
        g = randn(rng, 3, 50)
        ops.sgd_update(var, g, vel if momentum else None, 0.1, momentum, nesterov)
        ops.sgd_update(dvar, dev(g), dvel if momentum else None, 0.1, momentum, nesterov)
    same((dvar, dvel), (var, vel), backend, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (False, 0.5),
                                               (True, 0.5)])
def test_rmsprop_update(backend, rng, centered, momentum):
    var = randn(rng, 70)
    s = _optimizer_states(rng, 70, ("velocity", "average_gradient", "momentum_buffer"))
    d = {k: dev(v) for k, v in s.items()}
    dvar = dev(var)
    for _ in range(3):
        g = randn(rng, 70)
        ops.rmsprop_update(var, g, s["velocity"], 0.01, 0.9, momentum, 1e-7, centered,
                           s["average_gradient"] if centered else None,
                           s["momentum_buffer"] if momentum else None)
        ops.rmsprop_update(dvar, g, d["velocity"], 0.01, 0.9, momentum, 1e-7, centered,
                           d["average_gradient"] if centered else None,
                           d["momentum_buffer"] if momentum else None)
    same((dvar, d["velocity"]), (var, s["velocity"]), backend, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("amsgrad,weight_decay", [(False, 0.0), (True, 0.0), (False, 0.01),
                                                  (True, 0.01)])
def test_adam_update(backend, rng, amsgrad, weight_decay):
    var = randn(rng, 65)
    s = {"m": np.zeros(65, np.float32), "v": np.zeros(65, np.float32),
         "vhat": np.zeros(65, np.float32)}
    d = {k: dev(v) for k, v in s.items()}
    dvar = dev(var)
    for step in range(1, 4):
        g = randn(rng, 65)
        ops.adam_update(var, g, s["m"], s["v"], step, 1e-3, vhat=s["vhat"] if amsgrad else None,
                        weight_decay=weight_decay)
        ops.adam_update(dvar, dev(g), d["m"], d["v"], step, 1e-3,
                        vhat=d["vhat"] if amsgrad else None, weight_decay=weight_decay)
    same((dvar, d["m"], d["v"]), (var, s["m"], s["v"]), backend, rtol=1e-6, atol=1e-6)


def test_in_place_arguments_must_be_device_arrays(backend, rng):
    with pytest.raises(TypeError, match="variable"):
        ops.sgd_update(np.zeros(3, np.float32), dev(np.ones(3)))
    v = dev(np.zeros(4))
    with pytest.raises(ValueError, match="share memory"):
        ops.adam_update(v, np.ones(4), v, dev(np.zeros(4)), 1)


# ---------------------------------------------------------------- tensor ops


@pytest.mark.parametrize("shape,axis,keepdims", [((5, 4), None, False), ((3, 4, 5), 1, True),
                                                 ((3, 4, 5), (0, 2), False),
                                                 ((2, 600), -1, False), ((700, 3), 0, False)])
def test_sum(backend, rng, shape, axis, keepdims):
    x = randn(rng, *shape)
    same(ops.sum(dev(x), axis, keepdims), ops.sum(x, axis, keepdims), backend)


def test_bias_add_and_elementwise(backend, rng):
    x, b, z = randn(rng, 3, 4, 5), randn(rng, 5), randn(rng, 3, 4, 5)
    same(ops.bias_add(dev(x), b), ops.bias_add(x, b), backend)
    same(ops.bias_add_backward(dev(x)), ops.bias_add_backward(x), backend)
    same(ops.add(dev(x), z), ops.add(x, z), backend)
    same(ops.multiply(x, dev(z)), ops.multiply(x, z), backend)
    same(ops.scale(dev(x), 0.3), ops.scale(x, 0.3), backend)
    y, dy = z.copy(), dev(z)
    ops.axpy(y, -0.7, x)
    ops.axpy(dy, -0.7, dev(x))
    same(dy, y, backend)


# ---------------------------------------------------------------- image ops


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
def test_affine_warp(backend, rng, fill_mode):
    images = rng.random((3, 9, 8, 3)).astype(np.float32)
    angle = rng.uniform(-1, 1, 3)
    t = np.zeros((3, 2, 3))
    t[:, 0, 0], t[:, 0, 1], t[:, 0, 2] = np.cos(angle), -np.sin(angle), 2.3
    t[:, 1, 0], t[:, 1, 1], t[:, 1, 2] = np.sin(angle) * 1.3, np.cos(angle), -3.1
    same(ops.affine_warp(dev(images), t, fill_mode, 0.5),
         ops.affine_warp(images, t, fill_mode, 0.5), backend)
    same(ops.affine_warp(dev(images[0]), t[0], fill_mode, 0.0, (5, 11)),
         ops.affine_warp(images[0], t[0], fill_mode, 0.0, (5, 11)), backend)


def test_flip_and_resize(backend, rng):
    images = rng.random((4, 6, 5, 3)).astype(np.float32)
    flags = np.array([True, False, True, False])
    same(ops.flip_left_right(dev(images), flags), ops.flip_left_right(images, flags), backend)
    same(ops.flip_left_right(dev(images)), ops.flip_left_right(images), backend)
    for size in ((12, 7), (3, 2), (6, 5)):
        same(ops.resize(dev(images), size), ops.resize(images, size), backend)


# ---------------------------------------------------------------- determinism


def test_repeated_runs_are_bit_identical(backend, rng):
    x, w = randn(rng, 4, 16, 16, 8), randn(rng, 3, 3, 8, 16)
    dy = randn(rng, 4, 16, 16, 16)
    first = host(ops.conv_backward(dev(dy), dev(x), dev(w), 1, "same", use_bias=True))
    second = host(ops.conv_backward(dev(dy), dev(x), dev(w), 1, "same", use_bias=True))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    m1 = host(ops.moments(dev(x), (0, 1, 2)))
    m2 = host(ops.moments(dev(x), (0, 1, 2)))
    np.testing.assert_array_equal(m1[1], m2[1])


# ---------------------------------------------------------------- models


def _lenet(batch_norm):
    stack = [minidl.Input((16, 16, 1)), layers.Conv2D(6, 5, activation="tanh")]
    stack += [layers.BatchNormalization()] if batch_norm else []
    stack += [layers.AveragePooling2D(2), layers.Conv2D(8, 3, activation="relu", padding="same")]
    stack += [layers.BatchNormalization()] if batch_norm else []
    stack += [layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.25),
              layers.Dense(24, activation="tanh"), layers.Dense(10, activation="softmax")]
    return models.Sequential(stack)


def _blog_cnn(batch_norm):
    def block(filters, first=False):
        kw = {"input_shape": (16, 16, 3)} if first else {"kernel_initializer": "he_uniform"}
        out = [layers.Conv2D(filters, 3, padding="same", **kw)]
        return out + ([layers.BatchNormalization()] if batch_norm else []) + \
            [layers.Activation("sigmoid")]
    return models.Sequential(block(8, True) + block(8) + [layers.MaxPooling2D()] + block(16) +
                             [layers.MaxPooling2D(), layers.Flatten(),
                              layers.Dense(32, activation="sigmoid"),
                              layers.Dense(10, activation="softmax")])


def _train(factory, batch_norm, device, loss, optimizer, x, y):
    utils.set_random_seed(0)
    model = factory(batch_norm)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], device=device)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    return model, history.history


@pytest.mark.parametrize("factory,channels", [(_lenet, 1), (_blog_cnn, 3)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_fit_matches_the_cpu(backend, rng, factory, channels, batch_norm):
    x = rng.random((48, 16, 16, channels)).astype(np.float32)
    labels = rng.integers(0, 10, 48)
    sparse = factory is _lenet
    y = labels if sparse else utils.to_categorical(labels, 10)
    loss = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    # SGD: weight differences stay proportional to gradient differences (Adam's
    # normalisation would amplify round-off where gradients are ~epsilon)
    cpu, h_cpu = _train(factory, batch_norm, "cpu", loss, optimizers.SGD(0.05, 0.9), x, y)
    gpu, h_gpu = _train(factory, batch_norm, "cuda", loss, optimizers.SGD(0.05, 0.9), x, y)
    assert gpu.device == "cuda" and all(v.device == "cuda" for v in gpu.weights)
    tol = dict(rtol=1e-7, atol=0) if backend == "standin" else dict(rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(h_gpu["loss"], h_cpu["loss"], **tol)
    for wc, wg in zip(cpu.get_weights(), gpu.get_weights()):
        if backend == "standin":
            np.testing.assert_array_equal(wg, wc)
        else:
            np.testing.assert_allclose(wg, wc, rtol=2e-3, atol=2e-4)
    pred = gpu.predict(x[:5], verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (5, 10)
    # the CPU folds batch norm into the convolution before it at inference
    # (minidl.models.folding): equal to float32 round-off, no longer bit for bit
    fold_tol = dict(rtol=1e-5, atol=1e-7) if backend == "standin" else tol
    np.testing.assert_allclose(pred, cpu.predict(x[:5], verbose=0), **fold_tol)
    assert gpu.evaluate(x, y, verbose=0)[0] == pytest.approx(cpu.evaluate(x, y, verbose=0)[0],
                                                             rel=1e-6 if backend == "standin"
                                                             else 2e-3)


def test_device_model_optimizer_state_and_weights_round_trip(backend, rng, tmp_path):
    x = rng.random((32, 16, 16, 1)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    model = _lenet(True)
    model.compile(optimizer=optimizers.SGD(0.01, momentum=0.9, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", device="cuda")
    model.train_on_batch(x, y)
    assert all(isinstance(s, DeviceArray) for s in model.optimizer.variables)
    state = model.optimizer.get_state()
    assert all(isinstance(s, np.ndarray) for s in state["slots"])
    weights = model.get_weights()
    assert all(isinstance(w, np.ndarray) for w in weights)
    model.set_weights([w * 0 for w in weights])
    assert not any(np.any(w) for w in model.get_weights())
    model.set_weights(weights)
    model.save(tmp_path / "m.keras")
    clone = minidl.saving.load_model(tmp_path / "m.keras")
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cpu")
    assert all(v.device == "cpu" for v in model.weights)


class _ScaledTanh(layers.Layer):
    """A user layer written with minidl.ops only: the same code runs on both devices."""

    def call(self, inputs, training=False):
        y = ops.tanh(inputs)
        self._cache = {"y": y}
        return ops.scale(y, 1.5)

    def backward(self, dy):
        return ops.tanh_backward(ops.scale(dy, 1.5), self._cache["y"])


class _NumpyTanh(layers.Layer):
    """A user layer written in NumPy: it works on the CPU only."""

    def call(self, inputs, training=False):
        self._cache = {"y": np.tanh(inputs)}
        return self._cache["y"]

    def backward(self, dy):
        return np.asarray(dy) * (1 - self._cache["y"] ** 2)


def _user_model(user_layer):
    return models.Sequential([minidl.Input((6, 6, 2)), layers.Conv2D(3, 3), user_layer,
                              layers.BatchNormalization(), layers.Flatten(),
                              layers.Dense(3, activation="softmax")])


def test_a_user_layer_written_with_ops_trains_on_both_devices(backend, rng):
    x = rng.random((8, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    results = []
    for device in ("cpu", "cuda"):
        utils.set_random_seed(0)
        model = _user_model(_ScaledTanh())
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device=device)
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        assert all(v.device == device for v in model.weights)
        results.append(model.get_weights())
    for a, b in zip(*results):
        if backend == "standin":
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_numpy_layer_fails_on_the_gpu_and_leaves_the_model_as_it_was(backend, rng):
    x = rng.random((8, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    model = _user_model(_NumpyTanh())
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", device="cuda")
    model.build((None, 6, 6, 2))
    before = model.get_weights()
    with pytest.raises(TypeError):  # NumPy refuses device arrays (no implicit copies)
        model.train_on_batch(x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _functional_model():
    inputs = minidl.Input((6, 6, 2))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = layers.Cropping2D(1)(layers.ZeroPadding2D(1)(a))
    merged = layers.Concatenate()([a, layers.Maximum()([a, b])])
    x = layers.Permute((2, 1, 3))(layers.UpSampling2D(2)(merged))
    x = layers.LayerNormalization()(layers.Flatten()(x))
    return models.Model(inputs, layers.Dense(3, activation="softmax")(x))


def test_a_functional_model_with_host_computed_layers_matches_the_cpu(backend, rng):
    # Concatenate, Maximum, padding, cropping and up-sampling compute on a host copy;
    # Permute and LayerNormalization run on the device's kernels
    x = rng.random((8, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    results = []
    for device in ("cpu", "cuda"):
        utils.set_random_seed(0)
        model = _functional_model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", device=device)
        history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        assert all(v.device == device for v in model.weights)
        results.append((history.history["loss"], model.get_weights()))
    (loss_cpu, w_cpu), (loss_gpu, w_gpu) = results
    if backend == "standin":
        assert loss_gpu == loss_cpu
        for a, b in zip(w_cpu, w_gpu):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(loss_gpu, loss_cpu, rtol=1e-4)
