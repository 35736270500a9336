"""The NumPy blog demo: min-max normalization, z-score standardization and batch
normalization of synthetic grey images, with minidl's BN op checked against NumPy.

Builds 32x32 grey images from a random normal distribution plus noise, then compares
min-max normalization and z-score standardization over the whole data with batch
normalization of a mini-batch of the first 10 images (minidl's BN op with gamma=1,
beta=0, checked against a NumPy standardization of the same batch). Prints the means
and variances and draws the histograms.

Run:  python examples/normalization_demo.py [--out docs/results/normalization] [--quick]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from minidl import ops  # noqa: E402

from experiment_utils import parse_demo_args  # noqa: E402

EPSILON = 1e-3  # Keras's default BatchNormalization epsilon


def make_images(rng, count=100, size=32):
    """Grey images: a per-image random normal level plus pixel noise."""
    levels = rng.normal(loc=120.0, scale=40.0, size=(count, 1, 1))
    noise = rng.normal(loc=0.0, scale=25.0, size=(count, size, size))
    return (levels + noise).astype(np.float32)


def batch_norm_first_ten(images):
    """minidl's training-mode BN over the first 10 images (one channel, gamma=1, beta=0)
    and the NumPy standardization it must equal."""
    batch = images[:10, :, :, None]
    y, mean, var = ops.batch_norm_train(batch, None, None, None, None, epsilon=EPSILON)
    reference = (batch - batch.mean()) / np.sqrt(batch.var() + EPSILON)
    return y[..., 0], float(mean[0]), float(var[0]), np.abs(y - reference).max()


def describe(name, values):
    """Print the mean and variance of a normalized array."""
    print(f"{name:32s} mean {values.mean():+.6f}  variance {values.var():.6f}")


def main():
    """Normalize three ways, check the BN op, print statistics, draw histograms."""
    args = parse_demo_args(__doc__.splitlines()[0], "docs/results/normalization")
    rng = np.random.default_rng(args.seed)
    images = make_images(rng)
    describe("raw images", images)
    min_max = (images - images.min()) / (images.max() - images.min())
    describe("min-max normalization", min_max)
    z_score = (images - images.mean()) / images.std()
    describe("z-score standardization", z_score)
    bn, batch_mean, batch_var, error = batch_norm_first_ten(images)
    describe("batch norm (first 10 images)", bn)
    print(f"batch statistics used by BN: mean {batch_mean:.4f}, biased variance "
          f"{batch_var:.4f}")
    print(f"max |minidl BN - NumPy standardization| = {error:.2e}")
    if error > 1e-4:
        raise SystemExit("minidl's batch norm disagrees with NumPy")
    plot(os.path.join(args.out, "normalization_histograms.png"),
         {"raw": images, "min-max": min_max, "z-score": z_score, "batch norm (10 images)": bn})


def plot(path, arrays):
    """Histograms of each normalization side by side (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'minidl[plot]'): no plot written")
        return
    fig, axes = plt.subplots(1, len(arrays), figsize=(4 * len(arrays), 3.4))
    for ax, (name, values) in zip(axes, arrays.items()):
        ax.hist(values.ravel(), bins=60, color="tab:blue", alpha=0.8)
        ax.set_title(f"{name}\nmean {values.mean():.3f}, var {values.var():.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
