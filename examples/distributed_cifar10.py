"""The seed CIFAR-10 experiment trained data-parallel on MPI (minidl.distribute).

The Keras blog's sigmoid CNN with BatchNormalization after each sigmoid convolution
(examples/cifar10_batchnorm.py's ``bn`` variant, its data, augmentation and recipe), with
the blog's batch of 32 as the GLOBAL batch, split across the ranks, and batch
normalization synchronized across them (``--local-bn``: each rank's own statistics).
Every rank draws the same augmented stream and takes its slice of each batch; only rank 0
prints.

Run (data from MINIDL_DATA_DIR, or downloaded):
    mpiexec -n 2 python examples/distributed_cifar10.py [--epochs 10] [--quick]
        [--steps N] [--validation N] [--local-bn] [--variant bn|no_bn|bn_before]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minidl  # noqa: E402
from minidl import distribute  # noqa: E402
from minidl.utils import set_random_seed  # noqa: E402

from cifar10_batchnorm import (BATCH_SIZE, STEPS_PER_EPOCH, augmented_batches,  # noqa: E402
                               build_model, load)


def parse(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--variant", default="bn", choices=("bn", "no_bn", "bn_before"))
    parser.add_argument("--local-bn", action="store_true",
                        help="normalise with each rank's own slice (no synchronization)")
    parser.add_argument("--steps", type=int, default=STEPS_PER_EPOCH,
                        help="steps per epoch (default: the blog's 781)")
    parser.add_argument("--validation", type=int, default=None,
                        help="test images used for validation (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="one epoch of 200 steps, validated on 2000 test images")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.steps, args.validation = 1, 200, 2000
    return args


def main(argv=None):
    """Train on every rank; rank 0 reports."""
    args = parse(argv)
    rank, size = distribute.initialize()
    distribute.set_distribution(distribute.DataParallel(sync_batchnorm=not args.local_bn))
    (x_train, y_train), (x_test, y_test) = load()
    if args.validation:
        x_test, y_test = x_test[:args.validation], y_test[:args.validation]
    set_random_seed(args.seed + rank)  # different on every rank: the broadcast aligns them
    model = build_model(args.variant)
    if rank == 0:
        print(f"minidl {minidl.__version__}: {size} rank(s) x {minidl.get_num_threads()} "
              f"thread(s); global batch {BATCH_SIZE}, {BATCH_SIZE // size}-"
              f"{-(-BATCH_SIZE // size)} per rank; batch norm "
              f"{'per rank' if args.local_bn else 'synchronized'}")
    start = time.perf_counter()
    history = model.fit(augmented_batches(x_train, y_train, args.seed),
                        steps_per_epoch=args.steps, epochs=args.epochs,
                        validation_data=(x_test, y_test), verbose=2)
    if rank == 0:
        print(f"{args.epochs} epoch(s) of {args.steps} steps in "
              f"{time.perf_counter() - start:.1f} s; validation accuracy "
              f"{history.history['val_accuracy'][-1]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
