"""Interleaved A/B timing of two built checkouts of minidl on one seed-model workload.

    python -m benchmarks.ab OLD_CHECKOUT NEW_CHECKOUT [--what step_lenet] [--rounds 5]
        [--threads 2]

Each round runs the workload once in a fresh process per checkout (A, then B), each
process importing that checkout's own minidl; the report is the median seconds of each
side and the median, smallest and largest per-round ratio A/B (> 1: B is faster). The
processes alternate, so a slow phase of a shared machine hits both sides of a round.
What is measured (``--what``): ``step_<model>[_bn]`` (the median of 60 timed
``train_on_batch`` calls of the seed model's batch) or ``predict_<model>[_bn]`` (the
best of 15 ``predict`` calls on 1024 images in batches of 256); model: lenet or cifar.
A checkout is a directory holding a built ``minidl`` (``setup.py build_ext --inplace``)
and this ``benchmarks`` package, e.g. a ``git worktree`` of an earlier commit.
"""
import argparse
import os
import statistics
import subprocess
import sys

WORKLOADS = [f"{kind}_{model}{bn}" for kind in ("step", "predict")
             for model in ("lenet", "cifar") for bn in ("", "_bn")]

# run in each checkout's own directory, so that its minidl and benchmarks are imported
_MEASURE = r"""
import sys, time
import minidl
from benchmarks import models
minidl.set_num_threads(int(sys.argv[1]))
what = sys.argv[2]
model = "cifar" if "cifar" in what else "lenet"
net = models.minidl_model(model, what.endswith("_bn"))

def timings(fn, count):
    fn()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return sorted(out)

if what.startswith("predict"):
    x = models.batch(model, 1024)[0]
    print(timings(lambda: net.predict(x, batch_size=256, verbose=0), 15)[0])
else:
    x, y, _ = models.batch(model, models.MODELS[model][1])
    print(timings(lambda: net.train_on_batch(x, y), 60)[30])
"""


def measure(checkout, what, threads):
    """Seconds of one measurement of ``what`` in a fresh process of ``checkout``."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout))
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(threads), what],
                          cwd=checkout, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{checkout}: the measurement failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def main(argv=None):
    """Parse the command line, run the rounds, print the medians and the ratio."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="checkout A (the baseline)")
    parser.add_argument("new", help="checkout B")
    parser.add_argument("--what", default="step_lenet", choices=WORKLOADS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        parser.error("--rounds and --threads must be at least 1")
    old, new = [], []
    for _ in range(args.rounds):
        old.append(measure(args.old, args.what, args.threads))
        new.append(measure(args.new, args.what, args.threads))
    ratios = [a / b for a, b in zip(old, new)]
    print(f"{args.what}, {args.threads} threads, {args.rounds} rounds: "
          f"A {1e3 * statistics.median(old):.3f} ms, B {1e3 * statistics.median(new):.3f} ms, "
          f"A/B {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
