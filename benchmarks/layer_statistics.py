"""The cost of ``minidl.callbacks.LayerStatistics`` on a training step.

Times ``fit`` over the same batches with the callback recording every batch
(``every=1``: each layer's output statistics and each kernel's gradient norm after every
step) and without any callback, in interleaved samples, for both seed models with and
without batch normalization, and prints the median of the per-pair overheads. On a busy
machine the pairs scatter by more than the overhead itself, so it also prints the time
spent inside the callback's hooks, timed in the run, as a share of the step without it.

Run from the repository root:
    python -m benchmarks.layer_statistics [--threads 2] [--steps 20] [--repeats 9]
"""
import os
import sys


def time_hooks(callback):
    """Wrap the callback's per-batch hooks with a timer; returns the one-element list
    that accumulates their seconds."""
    import time
    seconds = [0.0]
    for hook in ("on_train_batch_begin", "on_train_batch_end"):
        method = getattr(callback, hook)

        def timed(*args, _method=method, **kwargs):
            start = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                seconds[0] += time.perf_counter() - start
        setattr(callback, hook, timed)
    return seconds


def main(argv=None):
    """Measure and print the overhead table."""
    from benchmarks.timing import step_arguments
    args = step_arguments(__doc__.splitlines()[0], 2, 20, 9, argv)
    import numpy as np
    import minidl
    from benchmarks.models import MODELS, batch, minidl_model
    from benchmarks.timing import Settings, compare

    minidl.set_num_threads(args.threads)
    settings = Settings(repeats=args.repeats, warmup=1, min_time=0.0)
    print(f"LayerStatistics(every=1) overhead, {args.threads} threads, {args.steps} steps "
          f"per sample, median of {args.repeats} interleaved pairs; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'model':<12} {'step without':>13} {'step with':>10} {'overhead':>9} "
          f"{'in hooks':>11} {'share':>7}")
    for name in MODELS:
        batch_size = MODELS[name][1]
        x, y, _ = batch(name, batch_size * args.steps)
        for batch_norm in (False, True):
            model = minidl_model(name, batch_norm)

            def train(callbacks):
                return lambda: model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0,
                                         shuffle=False, callbacks=callbacks)

            stats = minidl.callbacks.LayerStatistics(every=1)
            hook_seconds = time_hooks(stats)
            result = compare(train(None), train([stats]), settings)
            overheads = [r - 1 for r in result.ratios]  # ratio = time_with / time_without
            in_hooks = hook_seconds[0] / (args.steps * (args.repeats + settings.warmup))
            label = f"{name}{' + BN' if batch_norm else ''}"
            print(f"{label:<12} {result.median_a / args.steps * 1e3:10.2f} ms "
                  f"{result.median_b / args.steps * 1e3:7.2f} ms "
                  f"{100 * float(np.median(overheads)):8.1f}% {in_hooks * 1e3:8.3f} ms "
                  f"{100 * in_hooks / (result.median_a / args.steps):6.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
