"""minidl's SGEMM and conv2d kernels against NumPy/OpenBLAS and PyTorch's CPU kernels.

Both libraries run in this process with the same thread count. Each measurement repeats
the call after a warm-up, minidl and the competitor interleaved round by round (the
machine may be shared and noisy; interleaving exposes both to the same load). PyTorch is
timed with NCHW and channels_last tensors and the layout with the lower median is used,
so the ratio is against PyTorch's best layout.

Reported per op: the median and the minimum (ms) of each library, ratio = competitor /
minidl of the medians (>= 1.0: minidl is at least as fast), and "paired" = the median over
rounds of the per-round ratio, which a burst of load on a shared machine (hitting both
calls of a round) disturbs least. Per layer: forward, backward input, backward weight
(+ bias), their total, and for the first layer of each seed model -- which needs no input
gradient in training -- forward + backward weight.

Usage:  python benchmarks/conv_kernels_vs_torch.py [--threads 2] [--reps 40]
            [--only gemm cifar1 ...] [--clock wall|cpu]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import minidl  # noqa: E402
from minidl import _C  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None

# name: (batch, h, w, in_c, k, out_c, padding) -- every conv layer of the two seed models
LAYERS = {
    "cifar1": (32, 32, 32, 3, 3, 32, "same"),
    "cifar2": (32, 32, 32, 32, 3, 32, "same"),
    "cifar3": (32, 16, 16, 32, 3, 64, "same"),
    "cifar4": (32, 16, 16, 64, 3, 64, "same"),
    "lenet1": (64, 32, 32, 1, 5, 6, "valid"),
    "lenet2": (64, 14, 14, 6, 5, 16, "valid"),
}
# the first conv layer of each seed model: training computes no input gradient there
FIRST_LAYERS = ("cifar1", "lenet1")
CLOCK = time.perf_counter


def rounds(fns, reps, warmup=3):
    """Seconds of each callable per round, the callables interleaved round by round."""
    for _ in range(warmup):
        for f in fns:
            f()
    times = [[] for _ in fns]
    for _ in range(reps):
        for i, f in enumerate(fns):
            t0 = CLOCK()
            f()
            times[i].append(CLOCK() - t0)
    return times


class Result:
    """minidl's and the competitor's per-round times of one op."""

    def __init__(self, mine, theirs, note=""):
        self.mine, self.theirs, self.note = mine, theirs, note
        self.med = (statistics.median(mine), statistics.median(theirs))
        self.min = (min(mine), min(theirs))
        self.paired = statistics.median(t / m for m, t in zip(mine, theirs))

    @staticmethod
    def add(results, note=""):
        """The per-round sum of several ops (a layer's total)."""
        mine = [sum(v) for v in zip(*(r.mine for r in results))]
        theirs = [sum(v) for v in zip(*(r.theirs for r in results))]
        return Result(mine, theirs, note)

    def row(self, name, op):
        (mm, tm), (mn, tn) = self.med, self.min
        return (f"{name:8s} {op:7s} {mm * 1e3:9.3f} {tm * 1e3:9.3f} {tm / mm:6.2f} "
                f"{self.paired:6.2f}   {mn * 1e3:9.3f} {tn * 1e3:9.3f} {tn / mn:6.2f}  {self.note}")


HEADER = (f"{'layer':8s} {'op':7s} {'md med':>9s} {'ref med':>9s} {'ratio':>6s} {'paired':>6s}"
          f"   {'md min':>9s} {'ref min':>9s} {'ratio':>6s}  (ms; ratio = ref / minidl)")


def bench_gemm(reps, n=1024):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    c = np.empty((n, n), np.float32)
    cn = np.empty((n, n), np.float32)
    fns = [lambda: _C.gemm(False, False, a, b, c), lambda: np.matmul(a, b, out=cn)]
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tc = torch.empty((n, n))
        fns.append(lambda: torch.mm(ta, tb, out=tc))
    t = rounds(fns, reps)
    res = Result(t[0], t[1], "vs NumPy/OpenBLAS")
    print(res.row(f"sgemm{n}", "matmul"))
    if len(t) > 2:
        print(Result(t[0], t[2], "vs torch.mm").row(f"sgemm{n}", "matmul"))
    gf = 2.0 * n ** 3 / res.med[0] / 1e9
    print(f"  minidl SGEMM {n}^3: {gf:.0f} GFLOP/s (median)")


def bench_conv(name, reps):
    n, h, w, ci, k, co, pad = LAYERS[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, h, w, ci)).astype(np.float32)
    kern = (rng.standard_normal((k, k, ci, co)) * 0.1).astype(np.float32)
    bias = rng.standard_normal(co).astype(np.float32)
    p = (k - 1) // 2 if pad == "same" else 0
    oh, ow = (h, w) if pad == "same" else (h - k + 1, w - k + 1)
    dy = rng.standard_normal((n, oh, ow, co)).astype(np.float32)
    y = np.empty_like(dy)
    dx = np.empty_like(x)
    dw = np.empty_like(kern)
    db = np.empty(co, np.float32)

    md = {
        "fwd": lambda: _C.conv2d_forward(y, x, kern, bias, 1, 1, pad),
        "bwd_in": lambda: _C.conv2d_backward_input(dx, dy, kern, 1, 1, pad),
        "bwd_w": lambda: _C.conv2d_backward_weight(dw, db, dy, x, 1, 1, pad),
    }
    # torch: weight OIHW; inputs NCHW, either contiguous or channels_last
    tw = torch.from_numpy(kern.transpose(3, 2, 0, 1).copy())
    tb = torch.from_numpy(bias)
    tx_nchw = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    tdy_nchw = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy())
    layouts = {
        "nchw": (tx_nchw, tdy_nchw, tw),
        "nhwc": (tx_nchw.contiguous(memory_format=torch.channels_last),
                 tdy_nchw.contiguous(memory_format=torch.channels_last),
                 tw.contiguous(memory_format=torch.channels_last)),
    }
    cb = torch.ops.aten.convolution_backward

    def torch_fns(tx, tdy, tww):
        return {
            "fwd": lambda: F.conv2d(tx, tww, tb, 1, p),
            "bwd_in": lambda: cb(tdy, tx, tww, [co], [1, 1], [p, p], [1, 1], False, [0, 0], 1,
                                 [True, False, False]),
            "bwd_w": lambda: cb(tdy, tx, tww, [co], [1, 1], [p, p], [1, 1], False, [0, 0], 1,
                                [False, True, True]),
        }

    tfns = {lay: torch_fns(*arrs) for lay, arrs in layouts.items()}
    res = {}
    with torch.no_grad():
        for op in ("fwd", "bwd_in", "bwd_w"):
            t = rounds([md[op], tfns["nchw"][op], tfns["nhwc"][op]], reps)
            best = 1 if statistics.median(t[1]) <= statistics.median(t[2]) else 2
            res[op] = Result(t[0], t[best], "torch " + ("nchw" if best == 1 else "nhwc"))
    return res


def main():
    global CLOCK
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--only", nargs="*", default=None, help="layer names, or 'gemm'")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: process CPU time (meaningful with --threads 1 on a busy machine)")
    args = ap.parse_args()
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    minidl.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, {args.reps} interleaved rounds ({args.clock} clock); "
          f"torch {torch.__version__ if torch else 'missing'}; "
          f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    names = args.only if args.only else ["gemm"] + list(LAYERS)
    print(HEADER)
    if "gemm" in names:
        bench_gemm(max(5, args.reps // 2))
    if torch is None:
        return
    for name in names:
        if name == "gemm":
            continue
        res = bench_conv(name, args.reps)
        for op, r in res.items():
            print(r.row(name, op))
        print(Result.add(list(res.values())).row(name, "total"))
        if name in FIRST_LAYERS:  # a model's first layer needs no input gradient
            print(Result.add([res["fwd"], res["bwd_w"]]).row(name, "fwd+bw"))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
