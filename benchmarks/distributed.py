"""Data-parallel training on MPI, measured here and modelled for larger clusters.

Measured, for both seed models: the training step of one process on 2 threads against
two ranks on 1 thread each (``mpiexec -n 2``, the same global batch), the Allreduce time
per step and its share of the step. Modelled: a ring Allreduce of ``n`` bytes over ``p``
ranks costs ``2(p-1) alpha + 2(p-1)/p * n / B`` (latency alpha per message, bandwidth B);
with each rank's compute time per step measured here (1 thread), the tables give the
weak-scaling efficiency (a fixed batch per rank: compute / (compute + allreduce)) and the
strong-scaling speed-up (a fixed global batch split p ways) for p = 2 ... 64 on 10 GbE
and 100 GbE, with the alpha and B stated below (assumptions, not measurements).

Run from the repository root (mpi4py and an MPI installed: the 'mpi' extra):
    python -m benchmarks.distributed [--steps 20] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

#: (latency alpha in seconds, bandwidth B in bytes/s) of the modelled networks: TCP over
#: 10 GbE (about 50 us per message, 1.1 GB/s of the 1.25 GB/s line rate) and RDMA over
#: 100 GbE (about 2 us, 11 GB/s).
NETWORKS = {"10 GbE": (50e-6, 1.1e9), "100 GbE": (2e-6, 11e9)}
RANKS = (2, 4, 8, 16, 32, 64)
#: global batch per model: the seed recipes' batch sizes, doubled so that two ranks get
#: the seed batch each
GLOBAL_BATCH = {"lenet": 128, "cifar": 64}


def ring_allreduce_seconds(ranks, nbytes, alpha, bandwidth):
    """The ring Allreduce time of ``nbytes`` over ``ranks`` processes."""
    return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def scaling_tables(compute_seconds, nbytes):
    """Weak-scaling efficiency and strong-scaling speed-up per network and rank count.

    Args:
        compute_seconds: one rank's compute time per step at the seed batch (1 thread).
        nbytes: the gradient bytes reduced per step.
    """
    tables = {}
    for network, (alpha, bandwidth) in NETWORKS.items():
        rows = []
        for p in RANKS:
            reduce = ring_allreduce_seconds(p, nbytes, alpha, bandwidth)
            weak = compute_seconds / (compute_seconds + reduce)
            strong = 2 * compute_seconds / (2 * compute_seconds / p + reduce)
            rows.append({"ranks": p, "allreduce_ms": 1e3 * reduce,
                         "weak_efficiency": weak, "strong_speedup": strong,
                         "strong_efficiency": strong / p})
        tables[network] = rows
    return tables


def _time_fit(name, batch_norm, steps, threads):
    """(seconds per step, allreduce seconds per step, gradient bytes) of ``steps`` steps
    of the seed model ``name`` at its global batch, in this process (or rank)."""
    import numpy as np
    import minidl
    from minidl import distribute
    from benchmarks.models import batch, minidl_model
    minidl.set_num_threads(threads)
    model = minidl_model(name, batch_norm=batch_norm)
    x, y, _ = batch(name, GLOBAL_BATCH[name] * steps)
    spent = [0.0]
    reduce = distribute.DataParallel.reduce_gradients

    def timed_reduce(variables):
        start = time.perf_counter()
        reduce(variables)
        spent[0] += time.perf_counter() - start
    distribute.DataParallel.reduce_gradients = staticmethod(timed_reduce)
    fit = dict(batch_size=GLOBAL_BATCH[name], epochs=1, verbose=0, shuffle=False)
    model.fit(x[:GLOBAL_BATCH[name] * 2], y[:GLOBAL_BATCH[name] * 2], **fit)  # warm-up
    spent[0] = 0.0
    start = time.perf_counter()
    model.fit(x, y, **fit)
    seconds = (time.perf_counter() - start) / steps
    nbytes = 4 * sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    return seconds, spent[0] / steps, nbytes


def worker(argv):
    """One rank of ``mpiexec -n 2``: time the steps and print rank 0's figures."""
    from minidl import distribute
    name, batch_norm, steps = argv[0], argv[1] == "bn", int(argv[2])
    distribute.initialize(num_threads=1)
    distribute.set_distribution(distribute.DataParallel(sync_batchnorm=True))
    seconds, reduce, nbytes = _time_fit(name, batch_norm, steps, threads=1)
    if distribute.is_root():
        print(json.dumps({"step_s": seconds, "allreduce_s": reduce, "bytes": nbytes}))


def measure(name, batch_norm, steps):
    """The figures of one seed model (its BN synchronized across the ranks)."""
    one_process, _, nbytes = _time_fit(name, batch_norm, steps, threads=2)
    one_thread, _, _ = _time_fit(name, batch_norm, steps, threads=1)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    env = dict(os.environ, MINIDL_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "benchmarks.distributed",
                           "--worker", name, "bn" if batch_norm else "plain", str(steps)],
                          capture_output=True, text=True,
                          env=env, timeout=1800, check=True)
    ranks = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"model": name + (" + BN" if batch_norm else ""),
            "global_batch": GLOBAL_BATCH[name], "gradient_bytes": nbytes,
            "one_process_2_threads_step_ms": 1e3 * one_process,
            "one_thread_step_ms": 1e3 * one_thread,
            "two_ranks_step_ms": 1e3 * ranks["step_s"],
            "two_ranks_allreduce_ms": 1e3 * ranks["allreduce_s"],
            "allreduce_share": ranks["allreduce_s"] / ranks["step_s"],
            "two_ranks_vs_one_process": one_process / ranks["step_s"],
            # the model's compute per rank: half the global batch on one thread
            "tables": scaling_tables(one_thread / 2, nbytes)}


def main(argv=None):
    """Measure, model and print (and optionally write JSON)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    results = [measure(name, batch_norm, args.steps) for name in ("lenet", "cifar")
               for batch_norm in (False, True)]
    for r in results:
        print(f"{r['model']}: global batch {r['global_batch']}, gradients "
              f"{r['gradient_bytes'] / 1e6:.2f} MB; one process on 2 threads "
              f"{r['one_process_2_threads_step_ms']:.1f} ms/step, 2 ranks x 1 thread "
              f"{r['two_ranks_step_ms']:.1f} ms/step (ratio "
              f"{r['two_ranks_vs_one_process']:.2f}), allreduce "
              f"{r['two_ranks_allreduce_ms']:.2f} ms/step ({100 * r['allreduce_share']:.1f}%)")
        for network, rows in r["tables"].items():
            print(f"  model, {network}: " + ", ".join(
                f"p={row['ranks']}: weak {100 * row['weak_efficiency']:.0f}% / strong "
                f"{row['strong_speedup']:.1f}x" for row in rows))
    if args.json:
        record = {"command": "python -m benchmarks.distributed " + " ".join(argv),
                  "load_average": os.getloadavg(), "networks": NETWORKS,
                  "results": results}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
