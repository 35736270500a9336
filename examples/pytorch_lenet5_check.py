"""The PyTorch blog experiment in PyTorch itself, on the same data with the same recipe
(optional: needs ``pip install torch``).

The blog's LeNet-5 with ``torch.nn``: Conv2d(1, 6, 5) -> Tanh -> [BatchNorm2d] ->
AvgPool2d(2) -> Conv2d(6, 16, 5) -> Tanh -> [BatchNorm2d] -> AvgPool2d(2) -> Flatten ->
Linear(400, 120) -> Tanh -> Linear(120, 84) -> Tanh -> Linear(84, 10) -> Softmax, with
the blog's initialisation (Xavier-uniform weights, biases 0.01), PyTorch's defaults for
BatchNorm2d and Adam(lr=1e-3), batches of 64 in the stored order, ten epochs. The "blog
loss" variants apply ``CrossEntropyLoss`` to the softmax output, as the blog does; the
corrected ones to the logits. It trains on the arrays ``lenet5_batchnorm.py`` prepares
(MNIST / 255, resized to 32x32 bilinearly), so only the initial weights differ. Writes
the minidl scripts' run files, with ``"framework": "pytorch"``.

Run:
    python examples/pytorch_lenet5_check.py [--epochs 10] [--seeds 0,1,2] [--threads N]
        [--out docs/results/lenet5/pytorch]
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from experiment_utils import parse_args, save_run  # noqa: E402
from lenet5_batchnorm import BATCH_SIZE, VARIANTS, load  # noqa: E402
from pytorch_training import cross_entropy, fit  # noqa: E402


class LeNet5(nn.Module):
    """The blog's LeNet-5; ``forward`` returns the logits, ``probabilities`` the softmax
    output the blog's model ends with."""

    def __init__(self, batch_norm):
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.Tanh(), norm(6), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), norm(16), nn.AvgPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                module.bias.data.fill_(0.01)

    def forward(self, x):
        """The logits (the input of the blog's final softmax)."""
        return self.features(x)


def blog_loss(logits, target, reduction="mean"):
    """The blog's quirk: CrossEntropyLoss applied to the softmax output."""
    return F.cross_entropy(F.softmax(logits, dim=1), target, reduction=reduction)


def main():
    """Train the variants with every seed, write one run file per run."""
    extra = {"--threads": dict(type=int, default=None, help="torch.set_num_threads")}
    args = parse_args(__doc__.splitlines()[0], 10, "docs/results/lenet5/pytorch",
                      variants=VARIANTS, default_variants=tuple(VARIANTS), extra=extra)
    if args.threads:
        torch.set_num_threads(args.threads)
    (x_train, y_train), test = load(args.quick)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{len(x_train)} training and {len(test[0])} test images")

    def epoch_batches():  # unshuffled, as the blog
        for start in range(0, len(x_train), BATCH_SIZE):
            yield x_train[start:start + BATCH_SIZE], y_train[start:start + BATCH_SIZE]

    for seed in args.seeds:
        for variant in args.variants:
            print(f"--- {VARIANTS[variant]}, seed {seed}")
            torch.manual_seed(seed)
            model = LeNet5(variant.startswith("bn"))
            loss_fn = blog_loss if variant.endswith("blog") else cross_entropy
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            history, timer, batches = fit(model, loss_fn, optimizer, epoch_batches,
                                          args.epochs, test)
            save_run(args.out, "lenet5", variant, VARIANTS[variant], seed, history, timer,
                     {"batch_size": BATCH_SIZE, "quick": args.quick,
                      "batch_losses": batches.values("loss")},
                     framework="pytorch", version=torch.__version__)


if __name__ == "__main__":
    main()
