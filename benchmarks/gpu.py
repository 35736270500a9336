"""GPU benchmarks: minidl's CUDA backend side by side with PyTorch CUDA, in one run.

Two tables:

* kernels -- SGEMM, convolution forward / backward (NHWC; PyTorch channels_last with
  cuDNN), pooling, batch normalization (training forward + backward), fused softmax +
  cross-entropy, and an Adam update; the median time of each, GFLOP/s where it means
  something;
* training steps -- both seed models (the Keras blog's sigmoid CIFAR-10 CNN and LeNet-5,
  each with and without batch normalization) trained with ``fit`` on synthetic data on
  the GPU, in images per second, against the same networks in PyTorch (SGD step,
  channels_last).

Usage::

    python benchmarks/gpu.py [--quick] [--repeat N] [--json results.json]

Without a usable GPU it prints why (``minidl.cuda.reason()``) and exits with status 2.
PyTorch is optional: without it (or without its CUDA build) its columns are NaN. The
``slower`` column is minidl's time over PyTorch's (above 1: minidl is slower).
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np

import minidl
import minidl.cuda
from minidl import layers, models, ops, optimizers
from minidl.cuda import DeviceArray


def _torch():
    """PyTorch with CUDA, or (None, why not)."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return None, "PyTorch has no CUDA device"
    torch.backends.cudnn.benchmark = True
    return torch, None


def _median_ms(fn, sync, repeat, warmup=3):
    """Median wall time of fn() in milliseconds, the device drained around each run."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


# ---------------------------------------------------------------- kernel cases


def kernel_cases(quick):
    """(name, flops or None, minidl setup -> fn, torch setup -> fn)."""
    rng = np.random.default_rng(0)
    n = 1024 if quick else 4096
    batch = 32 if quick else 128
    cases = []

    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    cases.append((f"sgemm {n}x{n}x{n}", 2.0 * n ** 3,
                  lambda: (lambda da=DeviceArray.from_numpy(a), db=DeviceArray.from_numpy(b):
                           ops.matmul(da, db)),
                  lambda torch: (lambda ta=torch.tensor(a, device="cuda"),
                                 tb=torch.tensor(b, device="cuda"): ta @ tb)))

    x = rng.standard_normal((batch, 32, 32, 64), np.float32)
    w = rng.standard_normal((3, 3, 64, 64), np.float32) * 0.05
    dy = rng.standard_normal((batch, 32, 32, 64), np.float32)
    conv_flops = 2.0 * batch * 32 * 32 * 64 * 64 * 9

    def torch_conv(torch):
        tx = torch.tensor(x, device="cuda").permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last)
        tw = torch.tensor(w, device="cuda").permute(3, 2, 0, 1).contiguous(
            memory_format=torch.channels_last)
        return tx, tw

    cases.append((f"conv3x3 fwd {batch}x32x32x64->64", conv_flops,
                  lambda: (lambda dx=DeviceArray.from_numpy(x), dw=DeviceArray.from_numpy(w):
                           ops.conv(dx, dw, 1, "same")),
                  lambda torch: (lambda tx_tw=torch_conv(torch):
                                 torch.nn.functional.conv2d(tx_tw[0], tx_tw[1], padding=1))))

    def torch_conv_backward(torch):
        tx, tw = torch_conv(torch)
        tx.requires_grad_(True)
        tw.requires_grad_(True)
        tdy = torch.tensor(dy, device="cuda").permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last)

        def run():
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, padding=1).backward(tdy)
        return run

    cases.append((f"conv3x3 bwd (input+weight) {batch}x32x32x64", 2 * conv_flops,
                  lambda: (lambda dx=DeviceArray.from_numpy(x), dw=DeviceArray.from_numpy(w),
                           ddy=DeviceArray.from_numpy(dy):
                           ops.conv_backward(ddy, dx, dw, 1, "same", use_bias=True)),
                  torch_conv_backward))

    cases.append((f"maxpool 2x2 fwd {batch}x32x32x64", None,
                  lambda: (lambda dx=DeviceArray.from_numpy(x):
                           ops.max_pool_with_argmax(dx, 2)),
                  lambda torch: (lambda tx=torch_conv(torch)[0]:
                                 torch.nn.functional.max_pool2d(tx, 2))))

    def minidl_bn():
        dx, ddy = DeviceArray.from_numpy(x), DeviceArray.from_numpy(dy)
        gamma, beta = DeviceArray.from_numpy(np.ones(64)), DeviceArray.from_numpy(np.zeros(64))
        mm, mv = minidl.cuda.zeros((64,)), DeviceArray.from_numpy(np.ones(64))

        def run():
            _, mean, var = ops.batch_norm_train(dx, gamma, beta, mm, mv)
            ops.batch_norm_train_backward(ddy, dx, mean, var, gamma)
        return run

    def torch_bn(torch):
        tx = torch_conv(torch)[0].requires_grad_(True)
        bn = torch.nn.BatchNorm2d(64, eps=1e-3, momentum=0.01).cuda()
        tdy = torch.tensor(dy, device="cuda").permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last)

        def run():
            tx.grad = None
            bn(tx).backward(tdy)
        return run

    cases.append((f"batchnorm train fwd+bwd {batch}x32x32x64", None, minidl_bn, torch_bn))

    logits = rng.standard_normal((batch * 8, 1000), np.float32)
    labels = rng.integers(0, 1000, batch * 8)

    def minidl_xent():
        dl, dlab = DeviceArray.from_numpy(logits), DeviceArray.from_numpy(labels)
        dloss = DeviceArray.from_numpy(np.full(len(labels), 1.0 / len(labels)))

        def run():
            _, probs = ops.sparse_softmax_cross_entropy(dl, dlab)
            ops.sparse_softmax_cross_entropy_backward(dloss, probs, dlab)
        return run

    def torch_xent(torch):
        tl = torch.tensor(logits, device="cuda", requires_grad=True)
        tlab = torch.tensor(labels, device="cuda")

        def run():
            tl.grad = None
            torch.nn.functional.cross_entropy(tl, tlab).backward()
        return run

    cases.append((f"softmax+xent fwd+bwd {batch * 8}x1000", None, minidl_xent, torch_xent))

    size = 1 << (20 if quick else 24)
    params = rng.standard_normal(size, np.float32)

    def minidl_adam():
        var, grad = DeviceArray.from_numpy(params), DeviceArray.from_numpy(params * 0.1)
        m, v = minidl.cuda.zeros((size,)), minidl.cuda.zeros((size,))
        return lambda: ops.adam_update(var, grad, m, v, 1)

    def torch_adam(torch):
        p = torch.nn.Parameter(torch.tensor(params, device="cuda"))
        p.grad = p.detach() * 0.1
        opt = torch.optim.Adam([p], lr=1e-3, eps=1e-7, foreach=False)
        return opt.step

    cases.append((f"adam update {size} params", None, minidl_adam, torch_adam))
    return cases


# ---------------------------------------------------------------- training steps


def seed_models():
    """(name, input shape, minidl factory, torch factory) of both seed models +/- BN."""
    def cifar(batch_norm):
        def block(filters, first=False):
            kw = {"input_shape": (32, 32, 3)} if first else {}
            out = [layers.Conv2D(filters, 3, padding="same", **kw)]
            return out + ([layers.BatchNormalization()] if batch_norm else []) + \
                [layers.Activation("sigmoid")]
        return models.Sequential(block(32, True) + block(32) + [layers.MaxPooling2D()] +
                                 block(64) + block(64) +
                                 [layers.MaxPooling2D(), layers.Flatten(),
                                  layers.Dense(128, activation="sigmoid"),
                                  layers.Dense(10, activation="softmax")])

    def lenet(batch_norm):
        stack = [minidl.Input((32, 32, 1)), layers.Conv2D(6, 5, activation="tanh")]
        stack += [layers.BatchNormalization()] if batch_norm else []
        stack += [layers.AveragePooling2D(2), layers.Conv2D(16, 5, activation="tanh")]
        stack += [layers.BatchNormalization()] if batch_norm else []
        stack += [layers.AveragePooling2D(2), layers.Flatten(),
                  layers.Dense(120, activation="tanh"), layers.Dense(84, activation="tanh"),
                  layers.Dense(10, activation="softmax")]
        return models.Sequential(stack)

    def torch_cifar(torch, batch_norm):
        nn = torch.nn

        def block(cin, cout):
            out = [nn.Conv2d(cin, cout, 3, padding=1)]
            return out + ([nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)] if batch_norm
                          else []) + [nn.Sigmoid()]
        return nn.Sequential(*block(3, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64),
                             *block(64, 64), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(64 * 8 * 8, 128), nn.Sigmoid(), nn.Linear(128, 10))

    def torch_lenet(torch, batch_norm):
        nn = torch.nn
        bn = (lambda c: [nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)]) if batch_norm \
            else (lambda c: [])
        return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), *bn(6), nn.AvgPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.Tanh(), *bn(16), nn.AvgPool2d(2),
                             nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
                             nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))

    out = []
    for batch_norm in (False, True):
        suffix = " + BN" if batch_norm else ""
        out.append((f"Keras-blog CIFAR-10 CNN{suffix}", (32, 32, 3),
                    lambda bn=batch_norm: cifar(bn), lambda t, bn=batch_norm: torch_cifar(t, bn)))
        out.append((f"LeNet-5{suffix}", (32, 32, 1), lambda bn=batch_norm: lenet(bn),
                    lambda t, bn=batch_norm: torch_lenet(t, bn)))
    return out


def minidl_images_per_second(factory, shape, batch, steps):
    rng = np.random.default_rng(0)
    x = rng.random((batch * steps,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch * steps)
    model = factory()
    model.compile(optimizer=optimizers.SGD(0.01), loss="sparse_categorical_crossentropy",
                  device="cuda")
    model.fit(x[:batch * 2], y[:batch * 2], batch_size=batch, epochs=1, verbose=0)  # warm-up
    minidl.cuda.synchronize()
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    minidl.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def torch_images_per_second(torch, factory, shape, batch, steps):
    net = factory(torch).cuda().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    xs = [torch.tensor(rng.random((batch,) + shape).astype(np.float32)).permute(0, 3, 1, 2)
          for _ in range(steps)]
    ys = [torch.tensor(rng.integers(0, 10, batch)) for _ in range(steps)]

    def step(xb, yb):  # batches are copied in per step, as minidl's fit does
        xb = xb.cuda(non_blocking=False).contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(xb), yb.cuda()).backward()
        opt.step()

    for xb, yb in zip(xs[:2], ys[:2]):
        step(xb, yb)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for xb, yb in zip(xs, ys):
        step(xb, yb)
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few repeats")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per kernel")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    if not minidl.cuda.is_available():
        print(f"benchmarks/gpu.py: no GPU to benchmark: {minidl.cuda.reason()}",
              file=sys.stderr)
        sys.exit(2)
    repeat = args.repeat or (5 if args.quick else 20)
    torch, why_not = _torch()
    print(f"minidl {minidl.__version__} on {minidl.cuda.device_name()}; "
          f"PyTorch: {torch.__version__ + ' ' + torch.cuda.get_device_name() if torch else why_not}")
    results = {"device": minidl.cuda.device_name(), "kernels": [], "training": []}

    print(f"\n{'kernel':44s} {'minidl ms':>10s} {'GFLOP/s':>8s} {'torch ms':>10s} "
          f"{'GFLOP/s':>8s} {'slower':>6s}")
    for name, flops, minidl_setup, torch_setup in kernel_cases(args.quick):
        ours = _median_ms(minidl_setup(), minidl.cuda.synchronize, repeat)
        theirs = _median_ms(torch_setup(torch), torch.cuda.synchronize, repeat) if torch \
            else float("nan")

        def rate(ms):
            return f"{flops / ms / 1e6:8.0f}" if flops and ms == ms else f"{'':8s}"
        print(f"{name:44s} {ours:10.3f} {rate(ours)} {theirs:10.3f} {rate(theirs)} "
              f"{ours / theirs if torch else float('nan'):6.2f}")
        results["kernels"].append({"case": name, "minidl_ms": ours, "torch_ms": theirs,
                                   "flops": flops})

    batch, steps = (32, 10) if args.quick else (128, 50)
    print(f"\n{'training step (batch ' + str(batch) + ')':44s} {'minidl img/s':>13s} "
          f"{'torch img/s':>12s} {'slower':>6s}")
    for name, shape, factory, torch_factory in seed_models():
        ours = minidl_images_per_second(factory, shape, batch, steps)
        theirs = torch_images_per_second(torch, torch_factory, shape, batch, steps) \
            if torch else float("nan")
        print(f"{name:44s} {ours:13.0f} {theirs:12.0f} {theirs / ours:6.2f}")
        results["training"].append({"model": name, "batch": batch, "minidl_images_s": ours,
                                    "torch_images_s": theirs})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
