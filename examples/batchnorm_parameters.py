"""The Keras BN-parameters article: what BatchNormalization's parameters are.

Applies BatchNormalization to an Input((320, 320, 3)) model and prints summary():
6 trainable (gamma, beta) and 6 non-trainable (moving mean and variance) parameters;
with trainable=False all 12 are non-trainable. Then shows the inference-mode formula:
BN folded into one affine transform y = a*x + b with a = gamma / sqrt(var + eps) and
b = beta - mean * a, checked against the layer's own output.

Run:  python examples/batchnorm_parameters.py   (--quick is accepted; it is quick anyway)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl.layers import BatchNormalization, Input  # noqa: E402
from minidl.models import Sequential  # noqa: E402

from experiment_utils import parse_demo_args  # noqa: E402


def folded_affine(layer):
    """(a, b) such that the layer's inference output is a * x + b per channel."""
    gamma, beta, mean, var = layer.get_weights()
    a = gamma / np.sqrt(var + layer.epsilon)
    return a, beta - mean * a


def main():
    """Print both summaries and check the folded affine transform."""
    args = parse_demo_args(__doc__.splitlines()[0], "docs/results/batchnorm_parameters")
    minidl.utils.set_random_seed(args.seed)
    model = Sequential([Input((320, 320, 3)), BatchNormalization()])
    model.summary()
    bn = model.layers[0]
    print("weights:", [f"{v.name} {v.shape} {'trainable' if v.trainable else 'non-trainable'}"
                       for v in bn.weights])

    bn.trainable = False
    model.summary()
    bn.trainable = True

    rng = np.random.default_rng(args.seed)
    x = rng.normal(2.0, 3.0, (4, 320, 320, 3)).astype(np.float32)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros_like(x), batch_size=4, epochs=5, verbose=0)  # moves the statistics
    a, b = folded_affine(bn)
    print(f"a = gamma / sqrt(moving_var + eps) = {np.round(a, 5)}")
    print(f"b = beta - moving_mean * a         = {np.round(b, 5)}")
    folded = a * x + b
    layer_output = model.predict(x, verbose=0)
    error = np.abs(folded - layer_output).max()
    print(f"max |a*x + b - BN(x, training=False)| = {error:.2e}")
    if error > 1e-4:
        raise SystemExit("the folded affine transform disagrees with the layer")


if __name__ == "__main__":
    main()
