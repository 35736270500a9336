"""The machine's measured ceiling, and the FLOPs of the seed models, so that every figure
can also be read as a share of what this machine can do.

* ``measure(threads)``: the FMA ceiling (minidl's calibrated loop of independent FMA
  chains at the SIMD level in use, ``minidl._C.fma_peak``) and minidl's SGEMM on a
  1024-cube, at 1 thread and at ``threads``; the best of several timed runs.
* ``model_flops(model, batch_norm, training)``: the multiply-add FLOPs of one image
  through a seed model (convolutions and dense layers; the elementwise work of
  activations, pooling and batch norm is not counted), forward only or a training step
  (forward, input gradients except the first layer's, weight gradients).

Run alone: ``python -m benchmarks.peak [--threads 2]``.
"""
import argparse
import json
import time

import numpy as np

FMA_SECONDS = 0.2      # each timed FMA run lasts about this long
RUNS = 5


def _best_rate(run, work, runs=RUNS):
    """The best work / second over ``runs`` timed calls of ``run`` (after a warm-up)."""
    run()
    best = 0.0
    for _ in range(runs):
        start = time.perf_counter()
        run()
        best = max(best, work / (time.perf_counter() - start))
    return best


def fma_gflops(threads, seconds=FMA_SECONDS, runs=RUNS):
    """The FMA ceiling in GFLOP/s with ``threads`` threads (runs of about ``seconds``)."""
    import minidl
    iterations = 100_000
    start = time.perf_counter()
    minidl._C.fma_peak(iterations, threads)
    iterations = max(1, int(iterations * seconds / (time.perf_counter() - start)))
    flops = minidl._C.fma_peak(iterations, threads)
    return _best_rate(lambda: minidl._C.fma_peak(iterations, threads), flops, runs) / 1e9


def sgemm_gflops(threads, size=1024, runs=RUNS):
    """minidl's SGEMM on a ``size``-cube in GFLOP/s with ``threads`` threads."""
    import minidl
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    c = np.empty((size, size), np.float32)
    previous = minidl.get_num_threads()
    minidl.set_num_threads(threads)
    try:
        return _best_rate(lambda: minidl._C.gemm(False, False, a, b, c), 2.0 * size ** 3,
                          runs) / 1e9
    finally:
        minidl.set_num_threads(previous)


def measure(threads, quick=False):
    """``{'fma_gflops': {n: ...}, 'sgemm_gflops': {n: ...}}`` for 1 thread and
    ``threads`` threads (keys are strings, as in JSON); ``quick``: short, rough runs."""
    counts = sorted({1, int(threads)})
    seconds, size, runs = (0.01, 256, 2) if quick else (FMA_SECONDS, 1024, RUNS)
    return {"fma_gflops": {str(n): fma_gflops(n, seconds, runs) for n in counts},
            "sgemm_gflops": {str(n): sgemm_gflops(n, size, runs) for n in counts}}


def _layer_flops(layer):
    """(forward FLOPs per image, whether the layer has weights) of a built layer."""
    from minidl import layers
    if isinstance(layer, layers.Conv2D):
        _, h, w, c_out = layer.compute_output_shape(layer.build_input_shape)
        kh, kw, c_in, _ = layer.kernel.shape
        return 2.0 * h * w * kh * kw * c_in * c_out, True
    if isinstance(layer, layers.Dense):
        c_in, c_out = layer.kernel.shape
        return 2.0 * c_in * c_out, True
    return 0.0, False


def model_flops(model, batch_norm, training):
    """Multiply-add FLOPs per image of a seed model (see the module docstring)."""
    from benchmarks.models import minidl_model
    net = minidl_model(model, batch_norm)
    total, first = 0.0, True
    for layer in net.layers:
        forward, weighted = _layer_flops(layer)
        total += forward
        if training and weighted:
            total += forward * (1 if first else 2)  # weight gradient (+ input gradient)
        first = first and not weighted
    return total


def main(argv=None):
    """Print the ceiling (and the seed models' FLOPs) as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    result = measure(args.threads)
    result["model_mflop_per_image"] = {
        f"{model}{'_bn' if bn else ''}_{kind}": model_flops(model, bn, kind == "step") / 1e6
        for model in ("lenet", "cifar") for bn in (False, True) for kind in ("step", "infer")}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
