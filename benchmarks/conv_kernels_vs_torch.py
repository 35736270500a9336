"""minidl's SGEMM and conv2d kernels against NumPy/OpenBLAS and PyTorch's CPU kernels.

Both libraries run in this process with the same thread count. Each measurement is the
median of repeated runs after a warm-up, with minidl and the competitor interleaved
run by run (the machine may be shared and noisy; interleaving exposes both to the same
load). PyTorch is timed with NCHW and channels_last tensors and the faster of the two
is reported, so the ratio is against PyTorch's best layout.

Usage:  python benchmarks/conv_kernels_vs_torch.py [--threads 2] [--reps 30] [--only lenet1]
            [--stat median|min] [--clock wall|cpu]
Ratio = torch_ms / minidl_ms (>= 1.0: minidl is at least as fast). Per layer: forward,
backward input, backward weight (+ bias), their total, and for the first layer of each seed
model (which needs no input gradient in training) forward + backward weight.
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

# name: (batch, h, w, in_c, k, out_c, padding)
LAYERS = {
    "cifar1": (32, 32, 32, 3, 3, 32, "same"),
    "cifar2": (32, 32, 32, 32, 3, 32, "same"),
    "cifar3": (32, 16, 16, 32, 3, 64, "same"),
    "cifar4": (32, 16, 16, 64, 3, 64, "same"),
    "lenet1": (64, 32, 32, 1, 5, 6, "valid"),
    "lenet2": (64, 14, 14, 6, 5, 16, "valid"),
}


STAT = statistics.median
CLOCK = time.perf_counter


# the first conv layer of each seed model: training computes no input gradient there
FIRST_LAYERS = ("cifar1", "lenet1")


def interleaved(fns, reps, warmup=3):
    """Median (or --stat) seconds of each callable, runs interleaved."""
    for _ in range(warmup):
        for f in fns:
            f()
    times = [[] for _ in fns]
    for _ in range(reps):
        for i, f in enumerate(fns):
            t0 = CLOCK()
            f()
            times[i].append(CLOCK() - t0)
    return [STAT(t) for t in times]


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
    t = interleaved(fns, reps)
    flops = 2.0 * n ** 3
    print(f"SGEMM {n}^3: minidl {t[0] * 1e3:.2f} ms ({flops / t[0] / 1e9:.0f} GFLOP/s), "
          f"numpy {t[1] * 1e3:.2f} ms, ratio numpy/minidl {t[1] / t[0]:.2f}"
          + (f"; torch {t[2] * 1e3:.2f} ms" if len(t) > 2 else ""))


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
            t = interleaved([md[op], tfns["nchw"][op], tfns["nhwc"][op]], reps)
            res[op] = (t[0], min(t[1], t[2]), "nchw" if t[1] <= t[2] else "nhwc")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--only", nargs="*", default=None, help="layer names, or 'gemm'")
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="statistic of the repeated runs (min resists a busy machine)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: process CPU time (for --threads 1 on a shared machine)")
    args = ap.parse_args()
    global STAT, CLOCK
    STAT = min if args.stat == "min" else statistics.median
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    minidl.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, {args.stat} of {args.reps} interleaved runs ({args.clock} clock); "
          f"torch {torch.__version__ if torch else 'missing'}")
    names = args.only if args.only else ["gemm"] + list(LAYERS)
    if "gemm" in names:
        bench_gemm(max(5, args.reps // 3))
    if torch is None:
        return
    print(f"{'layer':8s} {'op':7s} {'minidl ms':>10s} {'torch ms':>9s} {'ratio':>6s}  torch layout")
    for name in names:
        if name == "gemm":
            continue
        res = bench_conv(name, args.reps)
        tot_m = tot_t = 0.0
        for op, (tm, tt, lay) in res.items():
            tot_m += tm
            tot_t += tt
            print(f"{name:8s} {op:7s} {tm * 1e3:10.3f} {tt * 1e3:9.3f} {tt / tm:6.2f}  {lay}")
        print(f"{name:8s} {'total':7s} {tot_m * 1e3:10.3f} {tot_t * 1e3:9.3f} {tot_t / tot_m:6.2f}")
        if name in FIRST_LAYERS:  # a model's first layer needs no input gradient
            fm = res["fwd"][0] + res["bwd_w"][0]
            ft = res["fwd"][1] + res["bwd_w"][1]
            print(f"{name:8s} {'fwd+bw':7s} {fm * 1e3:10.3f} {ft * 1e3:9.3f} {ft / fm:6.2f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
