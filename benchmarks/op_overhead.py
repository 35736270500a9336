"""The per-call overhead of ``minidl.ops`` on tiny tensors: argument checks, backend
dispatch, output allocation and the Cython call, with almost no arithmetic.

Each op is called on arrays of a few elements; the script prints the median time per
call in microseconds over ``--repeats`` samples of ``--calls`` calls each. Compare two
trees (e.g. before and after a change to the op front end) by running it from each, in
alternation:

    python -m benchmarks.op_overhead [--calls 20000] [--repeats 7] [--json FILE]
"""
import argparse
import json
import statistics
import time

import numpy as np


def _cases():
    """(name, zero-argument callable) for the ops a training step calls most."""
    from minidl import ops
    rng = np.random.default_rng(0)
    f32 = np.float32
    v8 = rng.standard_normal(8).astype(f32)
    m44 = rng.standard_normal((4, 4)).astype(f32)
    img = rng.standard_normal((1, 4, 4, 2)).astype(f32)
    kernel = rng.standard_normal((3, 3, 2, 2)).astype(f32)
    gamma, beta = np.ones(2, f32), np.zeros(2, f32)
    moving_mean, moving_var = np.zeros(2, f32), np.ones(2, f32)
    variable, velocity = v8.copy(), np.zeros(8, f32)
    logits = rng.standard_normal((2, 4)).astype(f32)
    labels = np.array([1, 3])
    return [
        ("relu", lambda: ops.relu(v8)),
        ("add", lambda: ops.add(v8, v8)),
        ("scale", lambda: ops.scale(v8, 2.0)),
        ("matmul 4x4", lambda: ops.matmul(m44, m44)),
        ("bias_add", lambda: ops.bias_add(m44, m44[0])),
        ("conv 1x4x4x2", lambda: ops.conv(img, kernel, padding="same")),
        ("max_pool", lambda: ops.max_pool(img, 2)),
        ("batch_norm_train", lambda: ops.batch_norm_train(img, gamma, beta, moving_mean,
                                                           moving_var)),
        ("sparse_softmax_xent", lambda: ops.sparse_softmax_cross_entropy(logits, labels)),
        ("sgd_update", lambda: ops.sgd_update(variable, v8, velocity, 0.01, 0.9)),
    ]


def _median_us(function, calls, repeats):
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def main(argv=None):
    """Measure and print (optionally save as JSON) the per-call medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="also write the medians to this file")
    args = parser.parse_args(argv)
    import minidl
    minidl.set_num_threads(1)
    results = {}
    for name, function in _cases():
        function()  # warm up
        results[name] = _median_us(function, args.calls, args.repeats)
        print(f"{name:22s} {results[name]:8.2f} us/call")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
