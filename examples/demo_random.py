"""A tiny training demo on random data, written directly on ``minidl.ops``.

A two-layer network (dense -> batch norm -> relu -> dense -> softmax) learns to
separate random Gaussian blobs, with hand-written backward passes through the ops'
backward companions and in-place SGD-with-momentum updates. It stands in for the
Keras-style examples until those exist, and shows what minidl's layers do inside.

Run:  python examples/demo_random.py [--epochs 20] [--seed 0]
"""
import argparse
import time

import numpy as np

import minidl
from minidl import ops


def make_blobs(rng, classes=4, per_class=256, features=16):
    """Gaussian blobs around random centres: (x float32, labels int64)."""
    centres = rng.normal(0.0, 0.6, size=(classes, features))
    x = np.concatenate([c + rng.normal(size=(per_class, features)) for c in centres])
    y = np.repeat(np.arange(classes), per_class)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order]


class TinyNet:
    """dense(16 -> 32) -> batch norm -> relu -> dense(32 -> classes), trained with SGD."""

    def __init__(self, rng, features, hidden, classes):
        def glorot(fan_in, fan_out):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)

        self.params = {
            "w1": glorot(features, hidden), "gamma": np.ones(hidden, np.float32),
            "beta": np.zeros(hidden, np.float32), "w2": glorot(hidden, classes),
            "b2": np.zeros(classes, np.float32),
        }
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.moving_mean = np.zeros(hidden, np.float32)
        self.moving_var = np.ones(hidden, np.float32)

    def train_step(self, x, labels, learning_rate):
        """One forward/backward/update on a batch; returns the mean loss."""
        p = self.params
        h = ops.matmul(x, p["w1"])
        z, mean, var = ops.batch_norm_train(h, p["gamma"], p["beta"], self.moving_mean,
                                            self.moving_var, momentum=0.9)
        a = ops.relu(z)
        logits = ops.bias_add(ops.matmul(a, p["w2"]), p["b2"])
        loss, probs = ops.sparse_softmax_cross_entropy(logits, labels)

        dlogits = ops.sparse_softmax_cross_entropy_backward(
            np.full(len(labels), 1.0 / len(labels), np.float32), probs, labels)
        grads = {"b2": ops.bias_add_backward(dlogits)}
        da, grads["w2"] = ops.matmul_backward(dlogits, a, p["w2"])
        dz = ops.relu_backward(da, a)
        dh, grads["gamma"], grads["beta"] = ops.batch_norm_train_backward(
            dz, h, mean, var, p["gamma"])
        _, grads["w1"] = ops.matmul_backward(dh, x, p["w1"])
        for name, grad in grads.items():
            ops.sgd_update(p[name], grad, self.velocity[name], learning_rate=learning_rate,
                           momentum=0.9)
        return float(loss.mean())

    def predict(self, x):
        """Class scores in inference mode (moving statistics)."""
        p = self.params
        z = ops.batch_normalization(ops.matmul(x, p["w1"]), self.moving_mean, self.moving_var,
                                    offset=p["beta"], scale=p["gamma"])
        return ops.softmax(ops.bias_add(ops.matmul(ops.relu(z), p["w2"]), p["b2"]))


def main():
    """Train the tiny network and print loss and accuracy per epoch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x, y = make_blobs(rng)
    split = int(0.8 * len(y))
    net = TinyNet(rng, x.shape[1], 32, int(y.max()) + 1)
    print(f"minidl {minidl.__version__}, {minidl.get_num_threads()} thread(s)")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(split)
        losses = [net.train_step(x[idx], y[idx], 0.05)
                  for idx in np.array_split(order, split // 32)]
        accuracy = float((net.predict(x[split:]).argmax(axis=1) == y[split:]).mean())
        print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}  val_accuracy {accuracy:.3f}")
    print(f"done in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
