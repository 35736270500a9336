"""Run every published seed experiment, minidl and PyTorch side by side, then summarise.

Each (experiment, framework, variant, seed) run is its own process with ``--threads``
threads (1 by default), ``--jobs`` of them at a time (2 by default: one per core of the
2-core machine the published results come from), so the frameworks run under the same
conditions. The run files go to ``docs/results/<experiment>/<framework>/``, the summaries
and plots beside them (``summarize_results.py``). Runs whose file exists are skipped,
so an interrupted reproduction resumes; ``--force`` reruns everything.

    MINIDL_DATA_DIR=../shared/datasets python examples/reproduce.py [--jobs 2]
        [--only cifar10,lenet5] [--frameworks minidl,pytorch] [--seeds 0,1,2]

PyTorch is optional (``pip install torch``); without it only the minidl runs happen.
"""
import argparse
import importlib.util
import itertools
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(os.path.dirname(HERE), "docs", "results")
SCRIPTS = {("cifar10", "minidl"): "cifar10_batchnorm.py",
           ("cifar10", "pytorch"): "pytorch_cifar10_check.py",
           ("lenet5", "minidl"): "lenet5_batchnorm.py",
           ("lenet5", "pytorch"): "pytorch_lenet5_check.py"}
VARIANTS = {"cifar10": ("no_bn", "bn", "bn_before"),
            "lenet5": ("no_bn_blog", "bn_blog", "no_bn_fixed", "bn_fixed")}
LAYER_STATS_EVERY = 25  # minidl runs record per-layer statistics every 25 batches


def command(experiment, framework, variant, seed, threads):
    """The command line of one run."""
    script = os.path.join(HERE, SCRIPTS[experiment, framework])
    out = os.path.join(RESULTS, experiment, framework)
    args = [sys.executable, script, "--variants", variant, "--seeds", str(seed), "--out", out]
    if framework == "pytorch":
        args += ["--threads", str(threads)]
    else:
        args += ["--layer-stats", str(LAYER_STATS_EVERY)]
    return args, os.path.join(out, f"{variant}_seed{seed}.json")


def run(args, threads, log):
    """Run one command with the thread count pinned; return (seconds, exit code)."""
    env = dict(os.environ, MINIDL_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MPLBACKEND="Agg")
    start = time.perf_counter()
    with open(log, "w") as f:
        code = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    return time.perf_counter() - start, code


def main():
    """Run what is missing, in parallel, then summarise each experiment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--only", default="cifar10,lenet5")
    parser.add_argument("--frameworks", default="minidl,pytorch")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--force", action="store_true", help="rerun existing runs")
    args = parser.parse_args()
    frameworks = args.frameworks.split(",")
    if "pytorch" in frameworks and importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: running the minidl side only")
        frameworks.remove("pytorch")
    experiments = args.only.split(",")
    unknown = [e for e in experiments if e not in VARIANTS]
    if unknown:
        parser.error(f"--only: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    todo = []
    for experiment in experiments:
        for seed, variant, framework in itertools.product(
                [int(s) for s in args.seeds.split(",")], VARIANTS[experiment], frameworks):
            cmd, target = command(experiment, framework, variant, seed, args.threads)
            if args.force or not os.path.exists(target):
                todo.append((f"{experiment}/{framework}/{variant}_seed{seed}", cmd))
    print(f"{len(todo)} runs to do, {args.jobs} at a time, {args.threads} thread(s) each")
    logs = os.path.join(os.path.dirname(HERE), "build", "reproduce-logs")  # git-ignored
    os.makedirs(logs, exist_ok=True)

    def one(item):
        name, cmd = item
        seconds, code = run(cmd, args.threads, os.path.join(logs, name.replace("/", "_") +
                                                             ".log"))
        print(f"{'done' if code == 0 else 'FAILED'} {name} in {seconds / 60:.1f} min",
              flush=True)
        return code

    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(pool.map(one, todo))
    for experiment in experiments:
        subprocess.run([sys.executable, os.path.join(HERE, "summarize_results.py"),
                        os.path.join(RESULTS, experiment)], check=False)
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
