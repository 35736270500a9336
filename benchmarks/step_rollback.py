"""The cost of an all-or-nothing optimizer step: the undo copies of each variable and its
slots that ``Optimizer._update_all`` takes before updating it.

Times ``train_on_batch`` of an Adam-trained MLP (784-256-256-10, batch 128: many weights,
little arithmetic, the worst case) and of the seed models, with the copies and with an
update loop that takes none, in interleaved samples, and prints the medians.

Run from the repository root:
    python -m benchmarks.step_rollback [--threads 1] [--steps 10] [--repeats 15]
"""
import os
import sys


def _update_without_copies(optimizer, pairs, slots, learning_rate):
    """The update loop as it was before the undo copies (for comparison only)."""
    for (grad, variable), variable_slots in zip(pairs, slots):
        optimizer._update(variable, grad, variable_slots, learning_rate)
    optimizer._iterations += 1


def _mlp():
    import numpy as np
    import minidl
    from minidl import layers
    model = minidl.Sequential([minidl.Input((784,)), layers.Dense(256, activation="relu"),
                               layers.Dense(256, activation="relu"),
                               layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    return model, rng.random((128, 784), dtype=np.float32), labels


def main(argv=None):
    """Measure and print the table."""
    from benchmarks.timing import step_arguments
    args = step_arguments(__doc__.splitlines()[0], 1, 10, 15, argv)
    import minidl
    from minidl.optimizers.base import Optimizer
    from benchmarks.models import MODELS, batch, minidl_model
    from benchmarks.timing import Settings, compare

    minidl.set_num_threads(args.threads)
    settings = Settings(repeats=args.repeats, warmup=1, min_time=0.0)
    with_copies = Optimizer._update_all
    cases = [("MLP", *_mlp())]
    for name in MODELS:
        x, y, _ = batch(name, MODELS[name][1])
        cases.append((f"{name} + BN", minidl_model(name, True), x, y))
    print(f"All-or-nothing optimizer step (Adam), {args.threads} thread(s), {args.steps} "
          f"steps per sample, median of {args.repeats} interleaved pairs; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'model':<14} {'with copies':>12} {'without':>10} {'cost':>7}")
    for label, model, x, y in cases:
        model.compile(optimizer="adam", loss="categorical_crossentropy")

        def steps(update):
            def run():
                Optimizer._update_all = update
                try:
                    for _ in range(args.steps):
                        model.train_on_batch(x, y)
                finally:
                    Optimizer._update_all = with_copies
            return run

        result = compare(steps(with_copies), steps(_update_without_copies), settings)
        cost = sorted(1 / r - 1 for r in result.ratios)[len(result.ratios) // 2]
        print(f"{label:<14} {result.median_a / args.steps * 1e3:9.2f} ms "
              f"{result.median_b / args.steps * 1e3:7.2f} ms {100 * cost:6.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
