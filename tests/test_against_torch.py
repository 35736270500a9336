"""One SGD(learning_rate=1.0) step of both seed models against PyTorch with identical
weights: every weight must move by exactly PyTorch's gradient (float32 tolerance).
Skipped where PyTorch is not installed (it is not a test dependency)."""
import numpy as np
import pytest

import minidl
from minidl import layers, models, optimizers, utils

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _cifar(batch_norm):
    def block(filters, first=False):
        kw = {"input_shape": (32, 32, 3)} if first else {"kernel_initializer": "he_uniform"}
        out = [layers.Conv2D(filters, 3, padding="same", **kw)]
        if batch_norm:
            out.append(layers.BatchNormalization())
        return out + [layers.Activation("sigmoid")]
    return models.Sequential(block(32, True) + block(32) + [layers.MaxPooling2D()] +
                             block(64) + block(64) + [layers.MaxPooling2D(), layers.Flatten(),
                                                      layers.Dense(128, activation="sigmoid"),
                                                      layers.Dense(10, activation="softmax")])


def _lenet(batch_norm):
    stack = [minidl.Input((32, 32, 1)), layers.Conv2D(6, 5, activation="tanh")]
    stack += [layers.BatchNormalization()] if batch_norm else []
    stack += [layers.AveragePooling2D(2), layers.Conv2D(16, 5, activation="tanh")]
    stack += [layers.BatchNormalization()] if batch_norm else []
    stack += [layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(120, activation="tanh"),
              layers.Dense(84, activation="tanh"), layers.Dense(10, activation="softmax")]
    return models.Sequential(stack)


def _torch_forward(model, params, x):
    """The same network in PyTorch (NCHW inside, NHWC flatten order), on torch params."""
    h = torch.tensor(x).permute(0, 3, 1, 2)
    it = iter(params)
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            w, b = next(it), next(it)
            pad = (layer.kernel_size[0] - 1) // 2 if layer.padding == "same" else 0
            h = F.conv2d(h, w.permute(3, 2, 0, 1), b, padding=pad)
            h = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda v: v}[layer.activation](h)
        elif isinstance(layer, layers.BatchNormalization):
            gamma, beta, _, _ = next(it), next(it), next(it), next(it)
            mean = h.mean(dim=(0, 2, 3), keepdim=True)
            var = h.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
            h = (h - mean) / torch.sqrt(var + layer.epsilon) * gamma.view(1, -1, 1, 1) + \
                beta.view(1, -1, 1, 1)
        elif isinstance(layer, layers.Activation):
            h = torch.sigmoid(h)
        elif isinstance(layer, layers.MaxPooling2D):
            h = F.max_pool2d(h, 2)
        elif isinstance(layer, layers.AveragePooling2D):
            h = F.avg_pool2d(h, 2)
        elif isinstance(layer, layers.Flatten):
            h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)
        elif isinstance(layer, layers.Dense):
            w, b = next(it), next(it)
            h = h @ w + b
            if layer.activation == "tanh":
                h = torch.tanh(h)
            elif layer.activation == "sigmoid":
                h = torch.sigmoid(h)
    return h  # logits of the last (softmax) layer


def _torch_gradients(model, weights, x, y, dtype):
    params = [torch.tensor(w, dtype=dtype, requires_grad=True) for w in weights]
    logits = _torch_forward(model, params, x.astype(np.float64) if dtype == torch.float64 else x)
    loss = -(torch.tensor(y, dtype=dtype) * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss.backward()
    return loss.item(), [None if p.grad is None else p.grad.numpy().astype(np.float64)
                         for p in params]


@pytest.mark.parametrize("factory,shape,batch", [(_cifar, (32, 32, 3), 32),
                                                 (_lenet, (32, 32, 1), 64)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_one_sgd_step_matches_pytorch_gradients(factory, shape, batch, batch_norm):
    """The step equals the float64 gradient (PyTorch, float64) within the error of
    PyTorch's own float32 gradient (a factor 10 either way over random seeds): the
    sigmoid CNN's first layers get gradients ~1e-4 of the last layer's, summed with
    heavy cancellation, so float32 round-off there is large in any framework."""
    utils.set_random_seed(0)
    model = factory(batch_norm)
    model.compile(optimizer=optimizers.SGD(learning_rate=1.0), loss="categorical_crossentropy")
    rng = np.random.default_rng(1)
    x = rng.random((batch,) + shape).astype(np.float32)
    y = utils.to_categorical(rng.integers(0, 10, batch), 10)
    before = model.get_weights()
    loss32, grads32 = _torch_gradients(model, before, x, y, torch.float32)
    _, grads64 = _torch_gradients(model, before, x, y, torch.float64)
    minidl_loss = model.train_on_batch(x, y)
    assert minidl_loss == pytest.approx(loss32, rel=1e-5)
    largest = max(np.abs(g).max() for g in grads64 if g is not None)
    for variable, w0, g32, g64 in zip(model.weights, before, grads32, grads64):
        if not variable.trainable:
            continue
        step = -(variable.value.astype(np.float64) - w0)
        scale = max(np.abs(g64).max(), 1e-3 * largest)
        ours, theirs = np.abs(step - g64).max() / scale, np.abs(g32 - g64).max() / scale
        assert ours <= max(10 * theirs, 3e-5), (variable.path, ours, theirs)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            assert np.any(layer.moving_mean.value != 0)  # updated by the step
