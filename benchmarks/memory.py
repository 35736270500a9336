"""Peak resident memory of a short training run, measured in a fresh process.

    python -m benchmarks.memory {minidl,torch} {lenet,cifar} [--batch-norm]
        [--steps 50] [--threads 2]

prints ``{"maxrss_kib": ...}``: the ``ru_maxrss`` of a worker process that imports only
the framework being measured (plus NumPy for the data) and runs the steps.

Why a worker of a worker: Linux carries a process's peak RSS across ``fork`` + ``exec``
(the forked copy of the parent counts), so a child of the benchmark runner, which holds
PyTorch and every benchmark's data, would report the runner's size. This launcher is a
small process; the worker it spawns starts from that small size, and the launcher reads
the worker's ``ru_maxrss`` from ``os.wait4`` after it exits.
"""
import argparse
import json
import os
import sys

MODELS = ("cifar", "lenet")  # benchmarks.models.MODELS, named here so that the launcher
# stays small: it imports no NumPy



def train(framework, model, batch_norm, steps, threads):
    """Run ``steps`` training steps of the seed network at its batch size."""
    from benchmarks import models
    batch_size = models.MODELS[model][1]
    x, y, labels = models.batch(model, batch_size)
    if framework == "minidl":
        import minidl
        minidl.set_num_threads(threads)
        step = models.minidl_step(models.minidl_model(model, batch_norm), x, y)
    else:
        import torch
        torch.set_num_threads(threads)
        net, optimizer = models.torch_model(torch, model, batch_norm)
        step = models.torch_step(torch, net, optimizer, x, labels)
    for _ in range(steps):
        step()


def worker_maxrss_kib(argv):
    """Run ``python -m benchmarks.memory --worker ARGV`` and return its ru_maxrss (KiB
    on Linux)."""
    command = [sys.executable, "-m", "benchmarks.memory", "--worker"] + list(argv)
    pid = os.posix_spawn(sys.executable, command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"benchmarks.memory: the worker {command} exited with {code}")
    return usage.ru_maxrss


def main(argv=None):
    """Parse the command line; as the launcher print the worker's peak RSS, as the
    worker (``--worker``) train."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=("minidl", "torch"))
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        train(args.framework, args.model, args.batch_norm, args.steps, args.threads)
        return
    argv = [a for a in argv if a != "--worker"]
    print(json.dumps({"maxrss_kib": worker_maxrss_kib(argv)}))


if __name__ == "__main__":
    main()
