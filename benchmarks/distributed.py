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


def exposed_seconds(ranks, nbytes, last_bucket_bytes, window, alpha, bandwidth):
    """The Allreduce time left on the step when the buckets are reduced during the
    backward pass: the whole reduction less the ``window`` it can hide behind, and at
    least the last bucket's own reduction (sent when the backward pass ends)."""
    whole = ring_allreduce_seconds(ranks, nbytes, alpha, bandwidth)
    last = ring_allreduce_seconds(ranks, last_bucket_bytes, alpha, bandwidth)
    return max(last, whole - window)


def scaling_tables(compute_seconds, nbytes, last_bucket_bytes, window):
    """Weak-scaling efficiency and strong-scaling speed-up per network and rank count,
    with the Allreduce after the backward pass and overlapped with it.

    Args:
        compute_seconds: one rank's compute time per step (half the global batch, 1
            thread).
        nbytes: the gradient bytes reduced per step.
        last_bucket_bytes: the bytes of the bucket sent last (the first layers').
        window: the measured time from the first bucket sent to the end of the backward
            pass, per step (what an overlapped reduction hides behind).
    """
    tables = {}
    for network, (alpha, bandwidth) in NETWORKS.items():
        rows = []
        for p in RANKS:
            reduce = ring_allreduce_seconds(p, nbytes, alpha, bandwidth)
            # strong scaling: the window shrinks with the per-rank batch (linear model)
            hidden = exposed_seconds(p, nbytes, last_bucket_bytes, window, alpha, bandwidth)
            hidden_strong = exposed_seconds(p, nbytes, last_bucket_bytes, 2 * window / p,
                                            alpha, bandwidth)
            rows.append({
                "ranks": p, "allreduce_ms": 1e3 * reduce, "exposed_ms": 1e3 * hidden,
                "weak_efficiency": compute_seconds / (compute_seconds + reduce),
                "weak_efficiency_overlapped": compute_seconds / (compute_seconds + hidden),
                "strong_speedup": 2 * compute_seconds / (2 * compute_seconds / p + reduce),
                "strong_speedup_overlapped":
                    2 * compute_seconds / (2 * compute_seconds / p + hidden_strong)})
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
    fit = dict(batch_size=GLOBAL_BATCH[name], epochs=1, verbose=0, shuffle=False)
    model.fit(x[:GLOBAL_BATCH[name] * 2], y[:GLOBAL_BATCH[name] * 2], **fit)  # warm-up
    parallel = distribute.active()
    reduction = parallel.reduction(model) if parallel is not None else None
    if reduction is not None:
        reduction.exposed_seconds = reduction.window_seconds = 0.0
    start = time.perf_counter()
    model.fit(x, y, **fit)
    seconds = (time.perf_counter() - start) / steps
    nbytes = 4 * sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    if reduction is None:
        return seconds, 0.0, nbytes, 0.0, 0
    last = 4 * sum(v.value.size for v in reduction.buckets[-1])
    return (seconds, reduction.exposed_seconds / steps, nbytes,
            reduction.window_seconds / steps, last)


def worker(argv):
    """One rank of ``mpiexec -n 2``: time the steps and print rank 0's figures."""
    from minidl import distribute
    name, batch_norm, sync, steps = argv[0], argv[1] != "plain", argv[1] == "sync", \
        int(argv[2])
    distribute.initialize(num_threads=1)
    distribute.set_distribution(distribute.DataParallel(sync_batchnorm=sync))
    seconds, exposed, nbytes, window, last = _time_fit(name, batch_norm, steps, threads=1)
    if distribute.is_root():
        print(json.dumps({"step_s": seconds, "exposed_s": exposed, "bytes": nbytes,
                          "window_s": window, "last_bucket_bytes": last}))


def measure(name, batch_norm, sync, steps):
    """The figures of one seed model (its BN synchronized across the ranks or not)."""
    one_process, _, nbytes, _, _ = _time_fit(name, batch_norm, steps, threads=2)
    one_thread = _time_fit(name, batch_norm, steps, threads=1)[0]
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    env = dict(os.environ, MINIDL_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "benchmarks.distributed",
                           "--worker", name,
                           ("sync" if sync else "local") if batch_norm else "plain", str(steps)],
                          capture_output=True, text=True,
                          env=env, timeout=1800, check=True)
    ranks = json.loads(proc.stdout.strip().splitlines()[-1])
    label = (" + BN, synchronized" if sync else " + BN, per rank") if batch_norm else ""
    return {"model": name + label,
            "global_batch": GLOBAL_BATCH[name], "gradient_bytes": nbytes,
            "one_process_2_threads_step_ms": 1e3 * one_process,
            "one_thread_step_ms": 1e3 * one_thread,
            "two_ranks_step_ms": 1e3 * ranks["step_s"],
            "two_ranks_exposed_allreduce_ms": 1e3 * ranks["exposed_s"],
            "allreduce_share": ranks["exposed_s"] / ranks["step_s"],
            "overlap_window_ms": 1e3 * ranks["window_s"],
            "last_bucket_bytes": ranks["last_bucket_bytes"],
            "two_ranks_vs_one_process": one_process / ranks["step_s"],
            # the model's compute per rank: half the global batch on one thread
            "tables": scaling_tables(one_thread / 2, nbytes, ranks["last_bucket_bytes"],
                                     ranks["window_s"])}


def main(argv=None):
    """Measure, model and print (and optionally write JSON)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    cases = [("lenet", False, False), ("lenet", True, True), ("cifar", False, False),
             ("cifar", True, False), ("cifar", True, True)]
    results = [measure(name, batch_norm, sync, args.steps) for name, batch_norm, sync in cases]
    for r in results:
        print(f"{r['model']}: global batch {r['global_batch']}, gradients "
              f"{r['gradient_bytes'] / 1e6:.2f} MB; one process on 2 threads "
              f"{r['one_process_2_threads_step_ms']:.1f} ms/step, 2 ranks x 1 thread "
              f"{r['two_ranks_step_ms']:.1f} ms/step (ratio "
              f"{r['two_ranks_vs_one_process']:.2f}), allreduce left on the step "
              f"{r['two_ranks_exposed_allreduce_ms']:.2f} ms ({100 * r['allreduce_share']:.1f}%)"
              f", overlap window {r['overlap_window_ms']:.1f} ms")
        for network, rows in r["tables"].items():
            print(f"  model, {network}: " + ", ".join(
                f"p={row['ranks']}: weak {100 * row['weak_efficiency']:.0f}%"
                f"/{100 * row['weak_efficiency_overlapped']:.0f}%" for row in rows))
    if args.json:
        record = {"command": "python -m benchmarks.distributed " + " ".join(argv),
                  "load_average": os.getloadavg(), "networks": NETWORKS,
                  "results": results}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
