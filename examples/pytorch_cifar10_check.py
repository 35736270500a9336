"""The Keras blog experiment in PyTorch, on the same data with the same recipe
(optional: needs ``pip install torch``).

The blog's sigmoid CNN (``cifar10_batchnorm.py``) built with ``torch.nn``, initialised
as Keras does (Glorot-uniform first convolution and output layer, He-uniform elsewhere,
zero biases), BN with Keras's momentum 0.99 (PyTorch's 0.01) and epsilon 1e-3 placed as
the variant says, Keras's RMSprop formula (lr 1e-3, rho 0.9, epsilon 1e-7 inside the
square root; ``--optimizer torch`` uses ``torch.optim.RMSprop`` with the same values,
epsilon outside the root as in Keras 2), cross-entropy on the softmax. It trains on the
very batches the minidl run of the same seed sees: minidl's ImageDataGenerator stream
(the blog's shear, zoom and flip) with that seed, 781 batches of 32 per epoch, the test
set as validation data. Only the initial weights differ (each framework's own random
numbers). Writes the minidl scripts' run files, with ``"framework": "pytorch"``.

Run:
    python examples/pytorch_cifar10_check.py [--epochs 10] [--seeds 0,1,2]
        [--variants no_bn,bn,bn_before] [--threads N] [--out docs/results/cifar10/pytorch]
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from cifar10_batchnorm import (BATCH_SIZE, CONVOLUTIONS, DEFAULT_VARIANTS,  # noqa: E402
                               STEPS_PER_EPOCH, VARIANTS, augmented_batches, load)
from experiment_utils import parse_args, save_run  # noqa: E402
from pytorch_training import KerasRMSprop, cross_entropy, fit  # noqa: E402


def build(variant):
    """The blog's network in PyTorch for one of ``VARIANTS``, initialised as Keras."""
    layers, channels = [], 3
    for index, (filters, initializer) in enumerate(CONVOLUTIONS):
        conv = nn.Conv2d(channels, filters, 3, padding=1)
        if initializer == "he_uniform":
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")  # sqrt(6 / fan_in)
        else:
            nn.init.xavier_uniform_(conv.weight)
        nn.init.zeros_(conv.bias)
        bn = nn.BatchNorm2d(filters, momentum=0.01, eps=1e-3)
        layers += {"no_bn": [conv, nn.Sigmoid()], "bn": [conv, nn.Sigmoid(), bn],
                   "bn_before": [conv, bn, nn.Sigmoid()]}[variant]
        if index % 2 == 1:
            layers.append(nn.MaxPool2d(2))
        channels = filters
    hidden, output = nn.Linear(64 * 8 * 8, 128), nn.Linear(128, 10)
    nn.init.kaiming_uniform_(hidden.weight, nonlinearity="relu")
    nn.init.xavier_uniform_(output.weight)
    for dense in (hidden, output):
        nn.init.zeros_(dense.bias)
    # the softmax is in the loss (cross_entropy on the logits)
    return nn.Sequential(*layers, nn.Flatten(), hidden, nn.Sigmoid(), output)


def main():
    """Train the chosen variants with every seed, write one run file per run."""
    extra = {"--optimizer": dict(choices=("keras", "torch"), default="keras",
                                 help="keras: Keras's RMSprop (as minidl); torch: "
                                      "torch.optim.RMSprop (epsilon outside the root)"),
             "--threads": dict(type=int, default=None, help="torch.set_num_threads")}
    args = parse_args(__doc__.splitlines()[0], 10, "docs/results/cifar10/pytorch",
                      variants=VARIANTS, default_variants=DEFAULT_VARIANTS, extra=extra)
    if args.threads:
        torch.set_num_threads(args.threads)
    (x_train, y_train), test = load()
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{len(x_train)} training and {len(test[0])} test images")
    steps = min(STEPS_PER_EPOCH, len(x_train) // BATCH_SIZE)
    for seed in args.seeds:
        for variant in args.variants:
            print(f"--- {VARIANTS[variant]}, seed {seed}")
            torch.manual_seed(seed)
            minidl.utils.set_random_seed(seed)
            model = build(variant)
            if args.optimizer == "keras":
                optimizer = KerasRMSprop(model.parameters(), lr=1e-3, rho=0.9, eps=1e-7)
            else:
                optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9,
                                                eps=1e-7)
            stream = augmented_batches(x_train, y_train, seed)
            history, timer, batches = fit(
                model, cross_entropy, optimizer,
                lambda: (next(stream) for _ in range(steps)), args.epochs, test)
            save_run(args.out, "cifar10", variant, VARIANTS[variant], seed, history, timer,
                     {"steps_per_epoch": STEPS_PER_EPOCH, "batch_size": BATCH_SIZE,
                      "optimizer": args.optimizer,
                      "batch_accuracy": batches.values("accuracy")},
                     framework="pytorch", version=torch.__version__)


if __name__ == "__main__":
    main()
