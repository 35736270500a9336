"""A stand-in for ``minidl._cuda`` that runs on the CPU, for testing minidl's device layer
(``minidl.cuda``: DeviceArray, the ops dispatch, ``minidl.cuda.ops``, device models)
on machines without a GPU.

It has ``minidl._cuda``'s API. "Device memory" is host memory owned by ``Buffer``
objects, addressed by real pointers (copies use ``ctypes.memmove``), and every kernel
wrapper checks its arguments as the Cython binding does (dtypes, shapes) and then runs
the CPU kernel of ``minidl._C`` on NumPy views of the buffers. So a test through the
stand-in exercises all of minidl's Python code on the device path, with results
bit-identical to the CPU ops; only the .cu kernels and the Cython glue are left to the
GPU tests (tests/test_cuda.py).
"""
import ctypes

import numpy as np

from minidl import _C

ACTIVATION_CODES = dict(_C.ACTIVATION_CODES)
DATA_ERRORS = {1: "a class label outside [0, classes)",
               2: "a max-pooling argmax outside the image",
               4: "a variance + epsilon below 0"}

_stats = {"in_use": 0, "cached": 0, "peak_in_use": 0, "device_mallocs": 0, "reuses": 0}
calls = []  # names of the kernels run, in order (tests check what ran on the "device")


class Buffer:
    """Host memory standing in for a device block."""

    def __init__(self, nbytes):
        self.host = np.zeros(max(int(nbytes), 1), dtype=np.uint8)
        self.nbytes = int(nbytes)
        self.ptr = self.host.ctypes.data
        _stats["in_use"] += self.nbytes
        _stats["device_mallocs"] += 1
        _stats["peak_in_use"] = max(_stats["peak_in_use"], _stats["in_use"])

    def free(self):
        if self.ptr:
            _stats["in_use"] -= self.nbytes
            self.ptr = 0

    def __del__(self):
        self.free()


def _view(a):
    """A writable NumPy view of a DeviceArray's elements."""
    if a is None:
        return None
    if a._buffer.ptr == 0:
        raise RuntimeError("stand-in: use of a freed DeviceArray")
    return np.ndarray(a.shape, dtype=a.dtype, buffer=a._buffer.host, offset=a._offset)


def _expect(where, name, a, dtype, shape=None):
    if a is None:
        raise TypeError(f"{where}: argument '{name}' must be a device array, received None")
    if a.dtype.name != dtype:
        raise TypeError(f"{where}: argument '{name}' must have dtype {dtype}, received "
                        f"{a.dtype.name}")
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ValueError(f"{where}: argument '{name}' must have shape {tuple(shape)}, "
                         f"received shape {tuple(a.shape)}")
    return tuple(a.shape)


def _f32(where, **arrays):
    """Views of float32 device arrays (None passes)."""
    out = []
    for name, a in arrays.items():
        if a is not None:
            _expect(where, name, a, "float32")
        out.append(_view(a))
    return out


# ---------------------------------------------------------------- runtime


def last_error():
    return ""


def runtime_version():
    return 13000


def driver_version():
    return 13000


def device_count():
    return 1


def init(device=0):
    return None


def device_properties(device=0):
    return {"name": "minidl CPU stand-in", "compute_capability": (9, 0),
            "multiprocessors": 1, "total_memory": 1 << 30}


def mem_get_info():
    return (1 << 30) - _stats["in_use"], 1 << 30


def pool_stats():
    return dict(_stats)


def pool_release():
    return None


def synchronize():
    return None


def take_data_errors():
    return 0


def copy_h2d(dst, src):
    src = np.ascontiguousarray(src)
    if src.nbytes:
        ctypes.memmove(dst, src.ctypes.data, src.nbytes)


def copy_d2h(dst, src):
    if dst.nbytes:
        ctypes.memmove(dst.ctypes.data, src, dst.nbytes)


def copy_d2d(dst, src, nbytes):
    if nbytes:
        ctypes.memmove(dst, src, nbytes)


def memset(dst, value, nbytes):
    if nbytes:
        ctypes.memset(dst, value, nbytes)


# ---------------------------------------------------------------- tensor ops


def convert(y, x):
    calls.append("convert")
    _view(y)[...] = _view(x).astype(y.dtype)


def permute(y, x, axes):
    calls.append("permute")
    _expect("permute", "y", y, x.dtype.name, tuple(x.shape[a] for a in axes))
    _view(y)[...] = np.transpose(_view(x), axes)


def fill(y, value):
    calls.append("fill")
    _view(y)[...] = value


def clip(y, x, lo, hi):
    calls.append("clip")
    yv, xv = _f32("clip", y=y, x=x)
    yv[...] = np.clip(xv, np.float32(lo), np.float32(hi))


def accumulate_sum(acc, x):
    calls.append("accumulate_sum")
    _expect("accumulate_sum", "acc", acc, "float64", (1,))
    _view(acc)[0] += np.sum(_f32("accumulate_sum", x=x)[0], dtype=np.float64)


def accumulate_matches(acc, pred, target=None, labels=None):
    calls.append("accumulate_matches")
    _expect("accumulate_matches", "acc", acc, "float64", (1,))
    p = np.argmax(_f32("accumulate_matches", pred=pred)[0], axis=-1)
    t = np.argmax(_view(target), axis=-1) if target is not None else _view(labels)
    _view(acc)[0] += float(np.count_nonzero(p == t))


def _wrap(name, spec):
    """A wrapper that checks float32 (or the given dtype) arguments and calls _C.<name>."""
    c_function = getattr(_C, name)

    def wrapper(*args):
        calls.append(name)
        views = []
        for arg, dtype in zip(args, spec + (None,) * (len(args) - len(spec))):
            if dtype is not None and arg is not None:
                _expect(name, "argument", arg, dtype)
                views.append(_view(arg))
            else:
                views.append(arg)
        return c_function(*views)

    wrapper.__name__ = name
    return wrapper


F, I, U, D = "float32", "int64", "uint8", "float64"
# dtype of each leading array argument (None: not an array) -- the _C signatures
_SPECS = {
    "gemm": (None, None, F, F, F),
    "conv2d_forward": (F, F, F, F),
    "conv2d_backward_input": (F, F, F),
    "conv2d_backward_weight": (F, F, F, F),
    "maxpool2d_forward": (F, I, F),
    "maxpool2d_backward": (F, F, I),
    "avgpool2d_forward": (F, F),
    "avgpool2d_backward": (F, F),
    "batchnorm_forward_train": (F, F, F, F, F, F, F, F),
    "batchnorm_forward_infer": (F, F, F, F, F, F),
    "batchnorm_backward_train": (F, F, F, F, F, F, F, F),
    "batchnorm_backward_infer": (F, F, F, F, F, F, F, F),
    "moments": (F, F, F),
    "activation_forward": (F, F),
    "activation_backward": (F, F, F),
    "softmax_forward": (F, F),
    "softmax_backward": (F, F, F),
    "softmax_xent_forward": (F, F, F, F),
    "softmax_xent_backward": (F, F, F, F),
    "sparse_softmax_xent_forward": (F, F, F, I),
    "sparse_softmax_xent_backward": (F, F, F, I),
    "categorical_xent_forward": (F, F, F),
    "categorical_xent_backward": (F, F, F, F),
    "sgd_update": (F, F, F),
    "rmsprop_update": (F, F, F, F, F),
    "adam_update": (F, F, F, F, F),
    "bias_add": (F, F, F),
    "reduce_sum": (F, F),
    "add": (F, F, F),
    "mul": (F, F, F),
    "scale": (F, F),
    "axpy": (F, None, F),
    "affine_warp": (F, F, D),
    "flip_horizontal": (F, F, U),
    "resize_bilinear": (F, F),
}
for _name, _spec in _SPECS.items():
    globals()[_name] = _wrap(_name, _spec)
