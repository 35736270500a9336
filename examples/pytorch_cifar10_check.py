"""Cross-check of the CIFAR-10 experiment in PyTorch (optional: needs ``pip install torch``).

Trains the blog's sigmoid CNN with PyTorch under the same settings as
``cifar10_batchnorm.py`` (normalize(X, axis=1), Glorot/He-uniform kernels and zero
biases, RMSprop(lr=1e-3, rho=0.9, eps=1e-7), batch 32, 781 steps per epoch, BN momentum
0.01 = Keras's 0.99), without augmentation, and prints the validation accuracy per
epoch. It shows that a result of the minidl run (the sigmoid network without BN stays at
chance for the first epochs) comes from the setup, not from minidl.

Run:  python examples/pytorch_cifar10_check.py [--bn] [--epochs 3]
"""
import argparse

import numpy as np
import torch
import torch.nn as nn

from minidl.datasets import cifar10
from minidl.utils import normalize


def build(batch_norm):
    """The blog's network in PyTorch (NCHW), initialised as the Keras version."""
    layers = []

    def conv(cin, cout, he):
        c = nn.Conv2d(cin, cout, 3, padding=1)
        if he:
            nn.init.kaiming_uniform_(c.weight, nonlinearity="relu")  # Keras he_uniform
        else:
            nn.init.xavier_uniform_(c.weight)
        nn.init.zeros_(c.bias)
        layers.append(c)
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout, momentum=0.01, eps=1e-3))
        layers.append(nn.Sigmoid())

    conv(3, 32, False)
    conv(32, 32, True)
    layers.append(nn.MaxPool2d(2))
    conv(32, 64, True)
    conv(64, 64, True)
    layers.append(nn.MaxPool2d(2))
    dense1, dense2 = nn.Linear(4096, 128), nn.Linear(128, 10)
    for d in (dense1, dense2):
        nn.init.xavier_uniform_(d.weight)
        nn.init.zeros_(d.bias)
    return nn.Sequential(*layers, nn.Flatten(), dense1, nn.Sigmoid(), dense2)


def main():
    """Train and print the validation accuracy per epoch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bn", action="store_true", help="with batch normalization")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    (x, y), (xt, yt) = cifar10.load_data()
    to_nchw = lambda a: torch.tensor(normalize(a.astype(np.float32), axis=1)).permute(0, 3, 1, 2)
    x, xt = to_nchw(x).contiguous(), to_nchw(xt).contiguous()
    y, yt = torch.tensor(y[:, 0]).long(), torch.tensor(yt[:, 0]).long()
    model = build(args.bn)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    for epoch in range(1, args.epochs + 1):
        model.train()
        order, total = torch.randperm(len(x)), 0.0
        for step in range(len(x) // 64):
            idx = order[step * 32:(step + 1) * 32]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item()
        model.eval()
        with torch.no_grad():
            accuracy = (model(xt).argmax(1) == yt).float().mean().item()
        print(f"{'with' if args.bn else 'without'} BN, epoch {epoch}: train loss "
              f"{total / (len(x) // 64):.4f}, val accuracy {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
