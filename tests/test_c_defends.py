"""The compiled layer defends itself: calling minidl._C directly (bypassing every
Python check in minidl.ops) with random, inconsistent arguments raises an exception —
it never crashes and never writes outside its buffers (run in a child process so that
a crash would fail the test instead of killing the suite)."""
import os
import subprocess
import sys

import minidl

FUZZ = r"""
import inspect, sys
import numpy as np
from minidl import _C

SKIP = {"set_num_threads", "get_num_threads", "has_openmp", "cpu_has_avx2_fma",
        "force_portable", "set_conv_winograd"}
rng = np.random.default_rng(int(sys.argv[1]))

def value_for(name, dtype):
    if name == "padding":
        return str(rng.choice(["valid", "same", "bogus"]))
    if name == "fill_mode":
        return str(rng.choice(["nearest", "constant", "reflect", "wrap", "bogus"]))
    if name.startswith("stride") or name in ("activation", "trans_a", "trans_b", "centered",
                                             "nesterov", "step", "pool_size", "strides"):
        if name in ("pool_size", "strides"):
            return tuple(int(v) for v in rng.integers(-1, 4, 2))
        return int(rng.integers(-1, 4))
    if rng.random() < 0.1:
        return None
    shape = tuple(int(d) for d in rng.integers(0, 5, rng.integers(1, 5)))
    if name in ("argmax", "labels"):
        return rng.integers(-3, 40, shape).astype(np.int64)
    if name == "flags":
        return rng.integers(0, 2, shape).astype(np.uint8)
    if name == "transforms":
        return rng.normal(size=shape)
    if rng.random() < 0.3:
        return float(rng.normal())
    return rng.normal(size=shape).astype(dtype)

calls = raised = 0
functions = {n: getattr(_C, n) for n in dir(_C)
             if not n.startswith("_") and n not in SKIP and callable(getattr(_C, n))}
for i in range(int(sys.argv[2])):
    name = sorted(functions)[i % len(functions)]
    fn = functions[name]
    dtype = np.float32 if rng.random() < 0.7 else np.float64
    params = [p for p in inspect.signature(fn).parameters.values()]
    args = [value_for(p.name, dtype) for p in params if p.default is inspect.Parameter.empty]
    calls += 1
    try:
        fn(*args)
    except (ValueError, TypeError, MemoryError, RuntimeError, IndexError, OverflowError):
        raised += 1
print(calls, raised)
"""


def test_random_direct_calls_never_crash():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(minidl.__path__[0]))
    for seed in (0, 1):
        out = subprocess.run([sys.executable, "-c", FUZZ, str(seed), "3000"],
                             capture_output=True, text=True, env=env, timeout=300,
                             cwd=os.path.dirname(minidl.__path__[0]))
        assert out.returncode == 0, f"child died ({out.returncode}): {out.stderr[-3000:]}"
        calls, raised = (int(v) for v in out.stdout.split())
        assert calls == 3000 and raised > 0
