"""Timing helpers: warm-up, calibrated samples, interleaved pairs and their medians.

The machine the suite runs on is shared and noisy, so the two sides of a comparison are
timed in alternating samples (minidl, reference, reference, minidl, ...) and the speed
ratio is the median of the per-pair ratios: a burst of load hits both sides of a pair
instead of one side of the whole comparison.
"""
import gc
import math
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Settings:
    """How hard to measure.

    Attributes:
        repeats: timed samples per side (the median is reported).
        warmup: untimed calls per side before calibration.
        min_time: seconds a sample lasts at least (short calls are batched).
    """

    repeats: int = 7
    warmup: int = 2
    min_time: float = 0.1


@dataclass
class Comparison:
    """Seconds per call of each sample of both sides, and the per-pair speed ratios."""

    seconds_a: list
    seconds_b: list = field(default_factory=list)
    ratios: list = field(default_factory=list)  # time_b / time_a: speed of a over b

    @property
    def median_a(self):
        """Median seconds per call of side a."""
        return statistics.median(self.seconds_a)

    @property
    def median_b(self):
        """Median seconds per call of side b (None when b was not measured)."""
        return statistics.median(self.seconds_b) if self.seconds_b else None

    @property
    def ratio(self):
        """Median of the per-pair speed ratios a/b (None without side b)."""
        return statistics.median(self.ratios) if self.ratios else None


def time_calls(fn, number):
    """Seconds per call of ``number`` back-to-back calls of ``fn`` (garbage collector off,
    as ``timeit`` does, so a collection triggered by one side is not billed to it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - start) / number
    finally:
        if enabled:
            gc.enable()


def calls_per_sample(fn, settings):
    """Warm ``fn`` up, then the number of calls that makes a sample last ``min_time``."""
    for _ in range(max(0, settings.warmup - 1)):
        fn()
    once = time_calls(fn, 1)  # the last warm-up call, timed
    return max(1, math.ceil(settings.min_time / max(once, 1e-9)))


def step_arguments(description, threads, steps, repeats, argv):
    """Parse ``--threads``, ``--steps`` (training steps per sample) and ``--repeats``
    (interleaved samples per side) of a training-step benchmark, and pin OpenMP's thread
    count before anything imports minidl.

    Args:
        description: the benchmark's one-line description.
        threads, steps, repeats: the defaults.
        argv: the command line (None: sys.argv).

    Returns:
        The parsed arguments.
    """
    import argparse
    import os
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--steps", type=int, default=steps, help="training steps per sample")
    parser.add_argument("--repeats", type=int, default=repeats,
                        help="interleaved samples per side")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    return args


def compare(fn_a, fn_b, settings):
    """Time ``fn_a`` against ``fn_b`` (or alone when ``fn_b`` is None), interleaved.

    Args:
        fn_a: callable taking no arguments (minidl's side).
        fn_b: callable taking no arguments (the reference), or None.
        settings: a :class:`Settings`.

    Returns:
        A :class:`Comparison`; sample ``i`` of both sides is taken back to back, in the
        order a, b for even ``i`` and b, a for odd ``i``.
    """
    number_a = calls_per_sample(fn_a, settings)
    number_b = calls_per_sample(fn_b, settings) if fn_b is not None else 0
    result = Comparison(seconds_a=[])
    for i in range(settings.repeats):
        if fn_b is None:
            result.seconds_a.append(time_calls(fn_a, number_a))
            continue
        if i % 2 == 0:
            a = time_calls(fn_a, number_a)
            b = time_calls(fn_b, number_b)
        else:
            b = time_calls(fn_b, number_b)
            a = time_calls(fn_a, number_a)
        result.seconds_a.append(a)
        result.seconds_b.append(b)
        result.ratios.append(b / a)
    return result
