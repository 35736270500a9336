"""The benchmark cases: what is timed on each side, how much work it does, the target.

Every case is a :class:`Case` whose ``measure(ctx, settings)`` returns a :class:`Row`.
Inputs are built (and NCHW copies made for PyTorch) before the clock starts; each timed
call allocates its outputs, as a training step does, on both sides. PyTorch runs in its
native NCHW layout (``torch.float32``, default memory format), minidl in NHWC.
"""
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from benchmarks import models
from benchmarks.timing import compare

# (name, batch, input HWC, filters, kernel size, padding) of every convolution of the seeds
CONV_LAYERS = [
    ("lenet_conv1", 64, (32, 32, 1), 6, 5, "valid"),
    ("lenet_conv2", 64, (14, 14, 6), 16, 5, "valid"),
    ("cifar_conv1", 32, (32, 32, 3), 32, 3, "same"),
    ("cifar_conv2", 32, (32, 32, 32), 32, 3, "same"),
    ("cifar_conv3", 32, (16, 16, 32), 64, 3, "same"),
    ("cifar_conv4", 32, (16, 16, 64), 64, 3, "same"),
]
# activations (NHWC) that the seeds' batch norms and poolings see
ACTIVATIONS = [(32, 32, 32, 32), (32, 16, 16, 64), (64, 28, 28, 6), (64, 10, 10, 16)]
STEP_TARGETS = {"lenet": 3.0, "cifar": 1.5}
INFER_TARGET = 3.0
DEFAULT_BATCH_SIZES = (16, 32, 64, 128, 256)


@dataclass
class Context:
    """What every case may use: the thread count, quick mode and PyTorch (or None)."""

    threads: int
    quick: bool = False
    torch: object = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))


@dataclass
class Row:
    """One line of the results table (all figures of one case).

    ``minidl``/``reference`` are throughputs in ``unit`` (for memory rows: MiB), the
    ``*_s`` fields median (``*_best_s``: fastest) seconds per call, ``ratio`` the median per-pair ratio
    (minidl speed / reference speed; memory rows: minidl MiB / reference MiB) with its
    smallest and largest pair, ``target`` e.g. ``(">=", 2.0)`` and ``met`` whether the
    ratio meets it (None when there is no target or no reference).
    """

    name: str
    group: str
    description: str
    unit: str
    minidl: float
    minidl_s: Optional[float] = None
    reference: Optional[float] = None
    reference_s: Optional[float] = None
    reference_name: Optional[str] = None
    ratio: Optional[float] = None
    ratio_min: Optional[float] = None
    ratio_max: Optional[float] = None
    minidl_best_s: Optional[float] = None
    reference_best_s: Optional[float] = None
    target: Optional[tuple] = None
    met: Optional[bool] = None
    meta: dict = field(default_factory=dict)
    # the achieved GFLOP/s as a share of the machine's measured FMA ceiling (rows whose
    # FLOPs are known: kernels in GFLOP/s, training steps and inference)
    percent_of_peak: Optional[float] = None
    reference_percent_of_peak: Optional[float] = None
    # the same over minidl's measured SGEMM 1024 at the run's thread count: the rate a
    # well-shaped matrix product reaches here, the ceiling a training step can approach
    percent_of_sgemm: Optional[float] = None


@dataclass
class Case:
    """A named benchmark; ``measure(ctx, settings)`` runs it and returns a :class:`Row`."""

    name: str
    group: str
    description: str
    measure: Callable


def _met(ratio, target):
    if ratio is None or target is None:
        return None
    op, bound = target
    return ratio >= bound if op == ">=" else ratio <= bound


def timed(name, group, description, minidl_fn, reference_fn, reference_name, work, unit,
          scale, target=None, meta=None):
    """A function ``(ctx, settings) -> Row`` for a case timed against a reference.

    Args:
        minidl_fn, reference_fn: ``ctx -> callable`` factories (run untimed, so inputs
            are built outside the clock); ``reference_fn`` may return None (no torch).
        work: units of work per call (FLOPs, elements, images); throughput is
            ``work / seconds / scale`` in ``unit``.
        target: ``(">=", bound)`` on the speed ratio, or None.
    """
    def measure(ctx, settings):
        fn_a = minidl_fn(ctx)
        fn_b = reference_fn(ctx) if reference_fn is not None else None
        layouts = {}
        if isinstance(fn_b, dict):  # PyTorch in each layout: its faster one is the reference
            runs = {layout: compare(fn_a, fn, settings) for layout, fn in fn_b.items()}
            layouts = {f"torch_{layout}_s": run.median_b for layout, run in runs.items()}
            best = min(runs, key=lambda layout: runs[layout].median_b)
            layouts["torch_layout"] = best
            result = runs[best]
            fn_b = fn_b[best]
        else:
            result = compare(fn_a, fn_b, settings)
        row = Row(name, group, description, unit, work / result.median_a / scale,
                  minidl_s=result.median_a, minidl_best_s=min(result.seconds_a),
                  target=target, meta=dict(meta or {}, **layouts))
        if fn_b is not None:
            row.reference_name = reference_name + (f" {layouts['torch_layout']}"
                                                   if layouts else "")
            row.reference_s = result.median_b
            row.reference_best_s = min(result.seconds_b)
            row.reference = work / result.median_b / scale
            row.ratio = result.ratio
            row.ratio_min, row.ratio_max = min(result.ratios), max(result.ratios)
            row.met = _met(row.ratio, target)
        return row
    return Case(name, group, description, measure)


def _needs_torch(factory):
    """A reference factory that yields None (the column stays empty) without PyTorch."""
    return lambda ctx: factory(ctx) if ctx.torch is not None else None


def _nchw(torch, array, requires_grad=False):
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))
    return tensor.requires_grad_(requires_grad)


def _randn(ctx, shape):
    return ctx.rng.standard_normal(shape, dtype=np.float32)


# ---------------------------------------------------------------- SGEMM


def gemm_case(m, k, n, name, description, target=None):
    """C = A @ B, float32, minidl's packed GEMM against NumPy (OpenBLAS)."""
    def operands(ctx):
        return _randn(ctx, (m, k)), _randn(ctx, (k, n))

    def minidl_fn(ctx):
        from minidl import ops
        a, b = operands(ctx)
        return lambda: ops.matmul(a, b)

    def numpy_fn(ctx):
        a, b = operands(ctx)
        return lambda: a @ b
    return timed(name, "gemm", description, minidl_fn, numpy_fn, "numpy", 2.0 * m * k * n,
                 "GFLOP/s", 1e9, target)


def gemm_cases():
    """Square 256/512/1024 and the im2col GEMM of every seed convolution."""
    cases = [gemm_case(s, s, s, f"sgemm_{s}", f"SGEMM {s}x{s}x{s}",
                       (">=", 0.9) if s == 1024 else None) for s in (256, 512, 1024)]
    for layer, batch, (h, w, c), filters, k, padding in CONV_LAYERS:
        oh, ow = (h, w) if padding == "same" else (h - k + 1, w - k + 1)
        m, kk = batch * oh * ow, k * k * c
        cases.append(gemm_case(m, kk, filters, f"sgemm_im2col_{layer}",
                               f"SGEMM im2col of {layer}: M={m} K={kk} N={filters}"))
    return cases


# ---------------------------------------------------------------- convolution


def conv_cases():
    """Forward, backward-input, backward-weight and all three of every seed convolution."""
    cases = []
    for layer, batch, (h, w, c), filters, k, padding in CONV_LAYERS:
        oh, ow = (h, w) if padding == "same" else (h - k + 1, w - k + 1)
        flops = 2.0 * batch * oh * ow * k * k * c * filters  # one pass
        shape = f"{batch}x{h}x{w}x{c}->{filters} {k}x{k} {padding}"
        for kind, passes, target in (("fwd", 1, None), ("bwd_input", 1, None),
                                     ("bwd_weight", 1, None),
                                     ("fwd_bwd", 3, (">=", 1.0))):
            minidl_fn, torch_fn = _conv_functions(kind, batch, (h, w, c), filters, k,
                                                  padding, (oh, ow))
            cases.append(timed(f"conv_{layer}_{kind}", "conv", f"conv {kind} {shape}",
                               minidl_fn, _needs_torch(torch_fn), "torch", passes * flops,
                               "GFLOP/s", 1e9, target))
    return cases


def _conv_functions(kind, batch, hwc, filters, k, padding, out_hw):
    """(minidl factory, torch factory) of one convolution pass kind."""
    pad = (k - 1) // 2 if padding == "same" else 0  # Keras 'same' = symmetric for odd k

    def tensors(ctx):
        x = _randn(ctx, (batch,) + hwc)
        w = _randn(ctx, (k, k, hwc[2], filters))
        b = _randn(ctx, (filters,))
        dy = _randn(ctx, (batch,) + out_hw + (filters,))
        return x, w, b, dy

    def minidl_fn(ctx):
        import minidl
        from minidl import ops
        x, w, b, dy = tensors(ctx)
        if kind == "fwd":
            return lambda: ops.conv(x, w, 1, padding, bias=b)
        if kind == "bwd_input":
            # ops.conv_backward always computes the kernel gradient too; the input
            # gradient alone is the kernel ops calls, with the same arguments
            def bwd_input():
                dx = np.empty_like(x)
                minidl._C.conv2d_backward_input(dx, dy, w, 1, 1, padding)
                return dx
            return bwd_input
        if kind == "bwd_weight":
            return lambda: ops.conv_backward(dy, x, w, 1, padding, input_gradient=False)

        def fwd_bwd():
            ops.conv(x, w, 1, padding, bias=b)
            return ops.conv_backward(dy, x, w, 1, padding, use_bias=True)
        return fwd_bwd

    def torch_fn(ctx):
        torch = ctx.torch
        F = torch.nn.functional
        x, w, b, dy = tensors(ctx)
        xt, dyt = _nchw(torch, x), _nchw(torch, dy)
        wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
        bt = torch.from_numpy(b)
        if kind == "fwd":
            return lambda: _no_grad(torch, F.conv2d, xt, wt, bt, padding=pad)
        if kind == "bwd_input":
            return lambda: torch.nn.grad.conv2d_input(xt.shape, wt, dyt, padding=pad)
        if kind == "bwd_weight":
            return lambda: torch.nn.grad.conv2d_weight(xt, wt.shape, dyt, padding=pad)
        xr, wr, br = (t.clone().requires_grad_(True) for t in (xt, wt, bt))

        def fwd_bwd():
            y = F.conv2d(xr, wr, br, padding=pad)
            return torch.autograd.grad(y, (xr, wr, br), dyt)
        return fwd_bwd
    return minidl_fn, torch_fn


def _no_grad(torch, fn, *args, **kwargs):
    with torch.no_grad():
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- batch norm and pooling


def bn_cases():
    """Batch norm training forward+backward and inference forward on the seed shapes."""
    cases = []
    for shape in ACTIVATIONS:
        dims = "x".join(map(str, shape))
        for kind in ("train_fwd_bwd", "infer_fwd"):
            target = (">=", 2.0) if kind == "train_fwd_bwd" else None
            minidl_fn, torch_fn = _bn_functions(kind, shape)
            cases.append(timed(f"bn_{kind}_{dims}", "bn", f"batch norm {kind} {dims} NHWC",
                               minidl_fn, _needs_torch(torch_fn), "torch", float(np.prod(shape)),
                               "Melem/s", 1e6, target))
    return cases


def _bn_functions(kind, shape):
    channels = shape[-1]

    def tensors(ctx):
        x = _randn(ctx, shape)
        gamma = 1.0 + 0.1 * _randn(ctx, (channels,))
        beta = 0.1 * _randn(ctx, (channels,))
        mean, var = np.zeros(channels, np.float32), np.ones(channels, np.float32)
        return x, gamma, beta, mean, var, _randn(ctx, shape)

    def minidl_fn(ctx):
        from minidl import ops
        x, gamma, beta, mean, var, dy = tensors(ctx)
        if kind == "infer_fwd":
            return lambda: ops.batch_normalization(x, mean, var, offset=beta, scale=gamma)

        def train():
            y, m, v = ops.batch_norm_train(x, gamma, beta, mean, var, 0.99, 1e-3)
            return ops.batch_norm_train_backward(dy, x, m, v, gamma, 1e-3)
        return train

    def torch_fn(ctx):
        torch = ctx.torch
        F = torch.nn.functional
        x, gamma, beta, mean, var, dy = tensors(ctx)
        xt, dyt = _nchw(torch, x, kind != "infer_fwd"), _nchw(torch, dy)
        g, b = torch.from_numpy(gamma), torch.from_numpy(beta)
        rm, rv = torch.from_numpy(mean), torch.from_numpy(var)
        if kind == "infer_fwd":
            return lambda: _no_grad(torch, F.batch_norm, xt, rm, rv, g, b, False, 0.01, 1e-3)
        g.requires_grad_(True)
        b.requires_grad_(True)

        def train():
            y = F.batch_norm(xt, rm, rv, g, b, True, 0.01, 1e-3)
            return torch.autograd.grad(y, (xt, g, b), dyt)
        return train
    return minidl_fn, torch_fn


def pool_cases():
    """2x2 max and average pooling, forward+backward, on the seed shapes."""
    cases = []
    for shape in ACTIVATIONS:
        dims = "x".join(map(str, shape))
        for kind in ("max", "avg"):
            minidl_fn, torch_fn = _pool_functions(kind, shape)
            cases.append(timed(f"pool_{kind}_{dims}", "pool",
                               f"{kind} pool 2x2 fwd+bwd {dims} NHWC", minidl_fn,
                               _needs_torch(torch_fn), "torch", float(np.prod(shape)),
                               "Melem/s", 1e6))
    return cases


def _pool_functions(kind, shape):
    out_shape = (shape[0], shape[1] // 2, shape[2] // 2, shape[3])

    def minidl_fn(ctx):
        from minidl import ops
        x, dy = _randn(ctx, shape), _randn(ctx, out_shape)
        if kind == "max":
            def max_pool():
                _, argmax = ops.max_pool_with_argmax(x, 2)
                return ops.max_pool_backward(dy, argmax, x.shape, 2)
            return max_pool

        def avg_pool():
            ops.average_pool(x, 2)
            return ops.average_pool_backward(dy, x.shape, 2)
        return avg_pool

    def torch_fn(ctx):
        torch = ctx.torch
        pool = torch.nn.functional.max_pool2d if kind == "max" else \
            torch.nn.functional.avg_pool2d
        xt, dyt = _nchw(torch, _randn(ctx, shape), True), _nchw(torch, _randn(ctx, out_shape))
        return lambda: torch.autograd.grad(pool(xt, 2), xt, dyt)
    return minidl_fn, torch_fn


# ---------------------------------------------------------------- whole models


def _variant(model, batch_norm):
    return f"{model}_bn" if batch_norm else model


def _step_functions(model, batch_norm, batch_size):
    """(minidl factory, torch factory) of one training step of a seed model."""
    def minidl_fn(ctx):
        from minidl import utils
        utils.set_random_seed(0)
        net = models.minidl_model(model, batch_norm)
        x, y, _ = models.batch(model, batch_size)
        return models.minidl_step(net, x, y)

    def torch_fn(ctx):
        torch = ctx.torch
        torch.manual_seed(0)
        net, optimizer = models.torch_model(torch, model, batch_norm)
        theirs = models.torch_param_count(net)
        ours = models.minidl_model(model, batch_norm).count_params()
        if theirs != ours:  # the two networks must be the same network
            raise RuntimeError(f"benchmarks: the PyTorch {_variant(model, batch_norm)} has "
                               f"{theirs} parameters, minidl's {ours}")
        x, _, labels = models.batch(model, batch_size)
        # both layouts, each on its own copy of the same initial network
        steps = {"nchw": models.torch_step(torch, net, optimizer, x, labels)}
        torch.manual_seed(0)
        net_cl, optimizer_cl = models.torch_model(torch, model, batch_norm)
        steps["channels_last"] = models.torch_step(torch, net_cl, optimizer_cl, x, labels,
                                                   channels_last=True)
        return steps
    return minidl_fn, _needs_torch(torch_fn)


def step_cases():
    """A whole training step of both seeds, with and without batch norm."""
    cases = []
    for model, (_, batch_size, optimizer) in models.MODELS.items():
        for batch_norm in (False, True):
            minidl_fn, torch_fn = _step_functions(model, batch_norm, batch_size)
            name = _variant(model, batch_norm)
            cases.append(timed(f"step_{name}", "step",
                               f"train step {name}, batch {batch_size}, {optimizer}",
                               minidl_fn, torch_fn, "torch", batch_size, "img/s", 1.0,
                               (">=", STEP_TARGETS[model])))
    return cases


def sweep_cases(batch_sizes):
    """Training-step throughput of both seeds (with and without BN) per batch size."""
    cases = []
    for model in models.MODELS:
        for batch_norm in (False, True):
            for size in batch_sizes:
                minidl_fn, torch_fn = _step_functions(model, batch_norm, size)
                name = _variant(model, batch_norm)
                cases.append(timed(f"sweep_{name}_b{size}", "sweep",
                                   f"train step {name}, batch {size}", minidl_fn, torch_fn,
                                   "torch", size, "img/s", 1.0,
                                   meta={"model": model, "batch_norm": batch_norm,
                                         "batch_size": size}))
    return cases


def infer_cases(images=1024, batch_size=256):
    """Inference throughput: predict on ``images`` images in batches of ``batch_size``."""
    cases = []
    for model in models.MODELS:
        for batch_norm in (False, True):
            name = _variant(model, batch_norm)

            def minidl_fn(ctx, model=model, batch_norm=batch_norm):
                net = models.minidl_model(model, batch_norm)
                x = models.batch(model, images)[0]
                return lambda: net.predict(x, batch_size=batch_size, verbose=0)

            def torch_fn(ctx, model=model, batch_norm=batch_norm):
                torch = ctx.torch
                predictors = {}
                for layout, memory_format in (("nchw", torch.contiguous_format),
                                              ("channels_last", torch.channels_last)):
                    net = models.torch_model(torch, model, batch_norm)[0].eval()
                    net.to(memory_format=memory_format)
                    xt = _nchw(torch, models.batch(model, images)[0]).contiguous(
                        memory_format=memory_format)

                    def predict(net=net, xt=xt):
                        with torch.inference_mode():
                            return torch.cat([net(chunk) for chunk in xt.split(batch_size)])
                    predictors[layout] = predict
                return predictors
            cases.append(timed(f"infer_{name}", "infer",
                               f"predict {images} images, batch {batch_size}, {name}",
                               minidl_fn, _needs_torch(torch_fn), "torch", images, "img/s", 1.0,
                               (">=", INFER_TARGET)))
    return cases


def aug_case(batch_size=32):
    """ImageDataGenerator.flow batches against minidl's own CIFAR training step."""
    def augment(ctx):
        from minidl.preprocessing.image import ImageDataGenerator
        x, y, _ = models.batch("cifar", 1024)
        generator = ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
        iterator = generator.flow(x, y, batch_size=batch_size, seed=0)
        return lambda: next(iterator)

    step, _ = _step_functions("cifar", False, batch_size)
    return timed("aug_flow_cifar", "aug",
                 f"ImageDataGenerator(shear 0.2, zoom 0.2, flip).flow, batch {batch_size}; "
                 f"reference: minidl's CIFAR train step", augment, step, "minidl step",
                 batch_size, "img/s", 1.0, (">=", 5.0))


# ---------------------------------------------------------------- peak memory


def memory_case(model, batch_norm):
    """Peak resident memory of a short training run, each framework in a fresh process."""
    name = _variant(model, batch_norm)

    def measure(ctx, settings):
        steps = 5 if ctx.quick else 50
        mine = peak_rss_mib("minidl", model, batch_norm, steps, ctx.threads)
        row = Row(f"memory_{name}", "memory", f"peak RSS of {steps} training steps, {name}",
                  "MiB", mine, target=("<=", 1.0))
        if ctx.torch is not None:
            theirs = peak_rss_mib("torch", model, batch_norm, steps, ctx.threads)
            row.reference, row.reference_name = theirs, "torch"
            row.ratio = row.ratio_min = row.ratio_max = mine / theirs
            row.met = _met(row.ratio, row.target)
        return row
    return Case(f"memory_{name}", "memory", f"peak RSS, {name}", measure)


def peak_rss_mib(framework, model, batch_norm, steps, threads):
    """ru_maxrss (MiB) of a fresh ``python -m benchmarks.memory`` child process."""
    command = [sys.executable, "-m", "benchmarks.memory", framework, model,
               "--steps", str(steps), "--threads", str(threads)] + \
        (["--batch-norm"] if batch_norm else [])
    out = subprocess.run(command, capture_output=True, text=True, env=_child_env())
    if out.returncode != 0:
        raise RuntimeError(f"benchmarks: {' '.join(command)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])["maxrss_kib"] / 1024.0


def _child_env():
    """This environment, with the folders this process imported minidl and benchmarks
    from first on PYTHONPATH, so the child measures the same code."""
    import minidl
    folders = [os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))
               for module in (minidl, sys.modules["benchmarks"])]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(folders + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def memory_cases():
    """Both seeds, with and without batch norm."""
    return [memory_case(model, bn) for model in models.MODELS for bn in (False, True)]


def all_cases(batch_sizes=DEFAULT_BATCH_SIZES):
    """Every case, in table order."""
    return (gemm_cases() + conv_cases() + bn_cases() + pool_cases() + step_cases() +
            infer_cases() + [aug_case()] + memory_cases() + sweep_cases(batch_sizes))
