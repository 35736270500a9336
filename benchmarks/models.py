"""The two seed networks in minidl's Keras-style API and as equivalent PyTorch modules.

* LeNet-5 (batch 64, Adam): 32x32x1 -> Conv 6@5x5 tanh -> [BN] -> AvgPool 2 -> Conv 16@5x5
  tanh -> [BN] -> AvgPool 2 -> Dense 120 tanh -> Dense 84 tanh -> Dense 10 softmax.
* The Keras blog's CIFAR-10 CNN (batch 32, RMSprop): Conv 32, 32 -> MaxPool -> Conv 64, 64
  -> MaxPool -> Dense 128 sigmoid -> Dense 10 softmax; 3x3 'same' sigmoid convolutions,
  each followed by [BN] (the blog's order: BN after the activation).

Both frameworks train with categorical cross-entropy on the softmax (PyTorch: the fused
``cross_entropy`` on logits, which is what minidl's fused softmax + loss does too).
PyTorch runs in its native NCHW layout, minidl in NHWC.
"""
import numpy as np

MODELS = {
    # name: (input shape HWC, batch size, optimizer)
    "lenet": ((32, 32, 1), 64, "adam"),
    "cifar": ((32, 32, 3), 32, "rmsprop"),
}


def minidl_model(name, batch_norm):
    """A compiled ``minidl.models.Sequential`` seed network.

    Args:
        name: ``'lenet'`` or ``'cifar'``.
        batch_norm: add BatchNormalization after every convolution.

    Returns:
        The model, compiled with its optimizer (Keras defaults) and categorical
        cross-entropy, no metrics.
    """
    from minidl import layers, models, optimizers
    shape, _, optimizer = MODELS[name]

    def norm():
        return [layers.BatchNormalization()] if batch_norm else []

    if name == "lenet":
        stack = ([layers.Conv2D(6, 5, activation="tanh", input_shape=shape)] + norm() +
                 [layers.AveragePooling2D(2), layers.Conv2D(16, 5, activation="tanh")] +
                 norm() +
                 [layers.AveragePooling2D(2), layers.Flatten(),
                  layers.Dense(120, activation="tanh"), layers.Dense(84, activation="tanh"),
                  layers.Dense(10, activation="softmax")])
    else:
        stack = []
        for i, filters in enumerate((32, 32, 64, 64)):
            kwargs = {"input_shape": shape} if i == 0 else {"kernel_initializer": "he_uniform"}
            stack += [layers.Conv2D(filters, 3, padding="same", activation="sigmoid",
                                    **kwargs)] + norm()
            if i % 2 == 1:
                stack.append(layers.MaxPooling2D(2))
        stack += [layers.Flatten(),
                  layers.Dense(128, activation="sigmoid", kernel_initializer="he_uniform"),
                  layers.Dense(10, activation="softmax")]
    model = models.Sequential(stack)
    opt = optimizers.Adam() if optimizer == "adam" else optimizers.RMSprop()
    model.compile(optimizer=opt, loss="categorical_crossentropy")
    return model


def torch_model(torch, name, batch_norm):
    """The same network as an ``nn.Sequential`` (NCHW) and its optimizer.

    BatchNorm2d uses Keras's epsilon (1e-3) and momentum (PyTorch's 0.01 = 1 - 0.99);
    Adam/RMSprop use Keras's defaults (learning rate 1e-3, epsilon 1e-7, rho 0.9).

    Returns:
        ``(model, optimizer)``.
    """
    nn = torch.nn

    def bn(channels):
        return [nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)] if batch_norm else []

    if name == "lenet":
        layers = ([nn.Conv2d(1, 6, 5), nn.Tanh()] + bn(6) + [nn.AvgPool2d(2)] +
                  [nn.Conv2d(6, 16, 5), nn.Tanh()] + bn(16) + [nn.AvgPool2d(2)] +
                  [nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                   nn.Linear(84, 10)])
        model = nn.Sequential(*layers)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    else:
        layers, in_c = [], 3
        for i, filters in enumerate((32, 32, 64, 64)):
            layers += [nn.Conv2d(in_c, filters, 3, padding=1), nn.Sigmoid()] + bn(filters)
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
            in_c = filters
        layers += [nn.Flatten(), nn.Linear(8 * 8 * 64, 128), nn.Sigmoid(), nn.Linear(128, 10)]
        model = nn.Sequential(*layers)
        optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return model, optimizer


def torch_param_count(model):
    """Parameters plus BatchNorm running statistics: what Keras's ``count_params`` counts
    (PyTorch's ``num_batches_tracked`` counter has no Keras twin and is left out)."""
    count = sum(p.numel() for p in model.parameters())
    return count + sum(b.numel() for n, b in model.named_buffers() if n.endswith(
        ("running_mean", "running_var")))


def batch(name, batch_size, seed=0):
    """Random images in [0, 1) (NHWC float32) and one-hot labels for a model."""
    rng = np.random.default_rng(seed)
    shape = MODELS[name][0]
    x = rng.random((batch_size,) + shape, dtype=np.float32)
    labels = rng.integers(0, 10, batch_size)
    return x, np.eye(10, dtype=np.float32)[labels], labels


def minidl_step(model, x, y):
    """One training step (forward, loss, backward, optimizer) via ``train_on_batch``."""
    return lambda: model.train_on_batch(x, y)


def torch_step(torch, model, optimizer, x, labels, channels_last=False):
    """One PyTorch training step on NCHW copies of the batch (made here, untimed), or
    with the model and the batch in the channels_last memory format."""
    F = torch.nn.functional
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    if channels_last:
        model.to(memory_format=torch.channels_last)
        xt = xt.contiguous(memory_format=torch.channels_last)
    yt = torch.from_numpy(labels)
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        optimizer.step()
        return loss
    return step
