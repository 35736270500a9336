"""Run minidl's benchmarks against PyTorch (CPU) and NumPy and print one table.

    python -m benchmarks.run [--threads 2] [--cases gemm,conv,...] [--repeats 7]
        [--min-time 0.1] [--quick] [--json out.json] [--batch-sizes 16,32,64]
        [--no-torch] [--list]

Both sides of a comparison run in this process with the same thread count: minidl via
``minidl.set_num_threads``, PyTorch via ``torch.set_num_threads`` and NumPy's OpenBLAS via
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``, which OpenBLAS reads only when it is
loaded; so the runner sets them and, if NumPy is already imported, re-executes itself.
PyTorch is optional: without it the torch columns stay empty.
"""
import argparse
import datetime
import fnmatch
import json
import os
import platform
import statistics
import subprocess
import sys
import time

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "MINIDL_NUM_THREADS")
GROUPS = ("gemm", "conv", "bn", "pool", "step", "infer", "aug", "memory", "sweep")


def pin_threads(threads, argv):
    """Set the thread variables to ``threads``; re-exec this runner (same arguments)
    when a BLAS may already have been loaded with other counts."""
    wanted = {name: str(threads) for name in THREAD_VARIABLES}
    if all(os.environ.get(name) == value for name, value in wanted.items()):
        return
    os.environ.update(wanted)
    if "numpy" in sys.modules or "torch" in sys.modules:
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks.run"] + list(argv))


def parse_args(argv):
    """The command line (parsed before NumPy is imported, see :func:`pin_threads`)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="minidl vs PyTorch (CPU) and NumPy: interleaved timings, one table.")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for every framework (default 2)")
    parser.add_argument("--cases", default=None,
                        help=f"comma-separated groups ({', '.join(GROUPS)}) or case-name "
                             f"patterns (fnmatch, e.g. 'conv_cifar*_fwd_bwd'); default: "
                             f"every group but sweep")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed samples per side (default 7; 3 with --quick)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds per sample at least (default 0.1; 0.005 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="few, short samples (a smoke run, not for publishing)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    parser.add_argument("--batch-sizes", default=None,
                        help="comma-separated batch sizes: adds the training-step sweep "
                             "(for benchmarks.plot)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.batch_sizes is not None:
        try:
            args.batch_sizes = tuple(int(v) for v in args.batch_sizes.split(","))
        except ValueError:
            parser.error(f"--batch-sizes must be comma-separated integers, received "
                         f"{args.batch_sizes!r}")
        if not args.batch_sizes or min(args.batch_sizes) < 1:
            parser.error("--batch-sizes must be positive")
    return args


def select(cases, spec, sweep):
    """The cases named by ``spec`` (groups or fnmatch patterns), in table order."""
    if spec is None:
        return [c for c in cases if c.group != "sweep" or sweep]
    patterns = [p.strip() for p in spec.split(",") if p.strip()]
    chosen = [c for c in cases if any(c.group == p or fnmatch.fnmatchcase(c.name, p)
                                      for p in patterns)]
    if sweep:
        chosen += [c for c in cases if c.group == "sweep" and c not in chosen]
    if not chosen:
        raise SystemExit(f"benchmarks.run: --cases {spec!r} matches no case; see --list")
    return chosen


def load_torch(threads, disabled):
    """PyTorch with ``threads`` intra-op threads, or None (not installed or disabled)."""
    if disabled:
        return None
    try:
        import torch
    except ImportError:
        print("benchmarks.run: PyTorch is not installed (pip install torch): the torch "
              "columns stay empty", file=sys.stderr)
        return None
    torch.set_num_threads(threads)
    return torch


def core_round_trip():
    """Nanoseconds for two threads to hand a flag back and forth (the median of 5 runs of
    ``minidl._C.core_round_trip_ns``), or None in a serial build: on a VM whose two vCPUs
    are at times on different core complexes, this tells which placement a run had
    (~110 ns close, ~400 ns apart here), which moves every 2-thread figure."""
    import minidl
    runs = [minidl._C.core_round_trip_ns() for _ in range(5)]
    return None if None in runs else round(statistics.median(runs), 1)


def machine_info(threads, torch):
    """CPU, cores, SIMD flags, versions, thread settings and the date, for the JSON."""
    import minidl
    import numpy
    cpu, flags, ids = platform.processor() or "unknown", set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    cpu = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                elif key in ("cpu family", "model", "stepping", "cpu MHz") and key not in ids:
                    ids[key] = value.strip()  # the first core's
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "cpu": cpu, "cpu_family": ids.get("cpu family"), "cpu_model": ids.get("model"),
        "cpu_stepping": ids.get("stepping"), "cpu_mhz": ids.get("cpu MHz"),
        "logical_cores": os.cpu_count(), "usable_cores": usable,
        "avx2": "avx2" in flags, "fma": "fma" in flags, "avx512f": "avx512f" in flags,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "core_round_trip_ns": core_round_trip(),
        "platform": platform.platform(), "python": platform.python_version(),
        "minidl": minidl.__version__, "minidl_commit": _git_commit(),
        "minidl_openmp": minidl._C.has_openmp(), "numpy": numpy.__version__,
        "numpy_blas": _numpy_blas(numpy), "torch": torch.__version__ if torch else None,
        "threads": threads, "thread_env": {v: os.environ.get(v) for v in THREAD_VARIABLES},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def add_percent_of_peak(row, peak_gflops, sgemm_gflops=None):
    """Fill ``row.percent_of_peak`` (and the reference's) where the row's FLOPs are
    known: kernels reported in GFLOP/s, and the seed models' steps and inference (their
    multiply-add FLOPs per image, ``benchmarks.peak.model_flops``); and
    ``row.percent_of_sgemm``, minidl's rate over the measured SGEMM rate."""
    from benchmarks import peak
    if row.unit == "GFLOP/s":
        per_unit = 1.0
    elif row.group in ("step", "infer") and row.unit == "img/s":
        model = row.name.split("_")[1]
        per_unit = peak.model_flops(model, row.name.endswith("_bn"), row.group == "step") / 1e9
    else:
        return
    row.percent_of_peak = 100.0 * row.minidl * per_unit / peak_gflops
    if sgemm_gflops:
        row.percent_of_sgemm = 100.0 * row.minidl * per_unit / sgemm_gflops
    if row.reference is not None:
        row.reference_percent_of_peak = 100.0 * row.reference * per_unit / peak_gflops


def _git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=os.path.dirname(os.path.abspath(__file__)))
        return out.stdout.strip() or None
    except OSError:
        return None


def _numpy_blas(numpy):
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode; the name is informative only
        return None


def _number(value):
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def format_table(rows):
    """The results as a Markdown table (the README and docs paste it as is)."""
    header = ["case", "unit", "minidl", "reference", "ref", "ratio", "% peak", "% sgemm",
              "target", "met?"]
    lines = []
    for r in rows:
        target = f"{r.target[0]} {r.target[1]:g}" if r.target else ""
        met = {True: "yes", False: "NO", None: ""}[r.met]
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        share = f"{r.percent_of_peak:.0f}%" if r.percent_of_peak is not None else ""
        sgemm = f"{r.percent_of_sgemm:.0f}%" if r.percent_of_sgemm is not None else ""
        lines.append([r.name, r.unit, _number(r.minidl), _number(r.reference),
                      r.reference_name or "-", ratio, share, sgemm, target, met])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]

    def fmt(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(header), sep] + [fmt(line) for line in lines])


def main(argv=None):
    """Parse arguments, pin threads, run the selected cases, print (and save) results."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    pin_threads(args.threads, argv)
    import minidl
    from benchmarks import cases as cases_module
    from benchmarks.timing import Settings

    sizes = args.batch_sizes or cases_module.DEFAULT_BATCH_SIZES
    chosen = select(cases_module.all_cases(sizes), args.cases, args.batch_sizes is not None)
    if args.list:
        for case in chosen:
            print(f"{case.name:32s} {case.group:7s} {case.description}")
        return 0
    minidl.set_num_threads(args.threads)
    torch = load_torch(args.threads, args.no_torch)
    settings = Settings(repeats=args.repeats or (3 if args.quick else 7),
                        warmup=1 if args.quick else 2,
                        min_time=args.min_time if args.min_time is not None
                        else (0.005 if args.quick else 0.1))
    ctx = cases_module.Context(threads=args.threads, quick=args.quick, torch=torch)
    info = machine_info(args.threads, torch)
    from benchmarks import peak
    info["peak"] = peak.measure(args.threads, quick=args.quick)
    print(f"measured ceiling: FMA {info['peak']['fma_gflops']} GFLOP/s, SGEMM "
          f"{info['peak']['sgemm_gflops']} GFLOP/s (threads: value); core round trip "
          f"{info['core_round_trip_ns']} ns", file=sys.stderr)
    print(f"minidl {info['minidl']} vs torch {info['torch'] or '(none)'} / numpy "
          f"{info['numpy']} ({info['numpy_blas']}), {args.threads} threads, {info['cpu']}, "
          f"{settings.repeats} interleaved samples of >= {settings.min_time:g} s per side",
          file=sys.stderr)
    rows, start = [], time.perf_counter()
    for i, case in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {case.name} ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
        rows.append(case.measure(ctx, settings))
        add_percent_of_peak(rows[-1], info["peak"]["fma_gflops"][str(args.threads)],
                            info["peak"]["sgemm_gflops"].get(str(args.threads)))
    print(format_table(rows))
    print("ratio: minidl speed / reference speed, the median of interleaved pairs "
          "(memory rows: minidl MiB / torch MiB; aug: flow images/s / CIFAR step images/s)")
    if args.json:
        info["load_average_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
        info["core_round_trip_ns_after"] = core_round_trip()
        record = {"command": " ".join(["python -m benchmarks.run"] + list(argv)),
                  "machine": info, "settings": vars(settings), "quick": args.quick,
                  "results": [vars(row) for row in rows]}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
