"""``minidl.cuda``: the optional GPU backend -- device arrays, the device setting, status.

``minidl.ops`` runs an op on the GPU (the backend ``minidl.backend.cuda.CUDA``) when one
of its array arguments is a :class:`DeviceArray`; everything else stays on the CPU core. A model compiled with
``device="cuda"`` (or after ``set_device("cuda")`` / ``MINIDL_DEVICE=cuda``) keeps its
weights, optimizer state and activations on the GPU; ``fit`` copies only the batches in
and the metrics out.

The backend is the compiled extension ``minidl._cuda``, built only where the CUDA toolkit
(nvcc) was found at build time; :func:`is_available` says whether a GPU can be used and
:func:`reason` why not::

    import minidl.cuda
    if minidl.cuda.is_available():
        x = minidl.cuda.DeviceArray.from_numpy(images)        # float32 on the GPU
        y = minidl.ops.conv(x, kernel, padding="same")        # runs on the GPU
        print(y.to_numpy().shape)
    else:
        print(minidl.cuda.reason())
"""
import os
import warnings

import numpy as np

from minidl.cuda import _runtime
from minidl.cuda._array import DeviceArray, HostConversionError, empty, zeros, zeros_like

DEVICES = ("cpu", "cuda")
ENV_VAR = "MINIDL_DEVICE"

_device = None  # set by set_device; None: not chosen yet (MINIDL_DEVICE, then 'cpu')


def is_available():
    """True when minidl was built with its CUDA backend and a CUDA device can be used
    (the first call loads the backend and initialises device 0; ``CUDA_VISIBLE_DEVICES``
    picks which GPU that is)."""
    return _runtime.available()


def reason():
    """Why CUDA cannot be used -- the extension was not built (no nvcc at build time, or
    ``MINIDL_CUDA=0``), no NVIDIA driver, a driver too old for the toolkit, or no device
    -- or None when it can."""
    return _runtime.reason()


def _check_device(device, where):
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise ValueError(f"{where}: device must be 'cpu' or 'cuda'. Received: {device!r}")
    return device.lower()


def set_device(device):
    """Choose where new models live: ``'cpu'`` or ``'cuda'`` (read by ``compile``).

    Args:
        device: ``'cpu'`` or ``'cuda'``. ``'cuda'`` raises RuntimeError (with
            :func:`reason`) when no GPU can be used.

    Example:
        >>> import minidl
        >>> minidl.set_device("cpu")
        >>> minidl.get_device()
        'cpu'
    """
    global _device
    device = _check_device(device, "set_device")
    if device == "cuda" and not is_available():
        raise RuntimeError(f"set_device('cuda'): CUDA is not available: {reason()}")
    _device = device


def get_device():
    """The device new models use: what ``set_device`` chose, else ``MINIDL_DEVICE``
    (``'cpu'`` or ``'cuda'``; ``'cuda'`` without a usable GPU warns and gives ``'cpu'``),
    else ``'cpu'``.

    Example:
        >>> import minidl
        >>> minidl.get_device()
        'cpu'
    """
    global _device
    if _device is None:
        raw = os.environ.get(ENV_VAR, "").strip().lower() or "cpu"
        if raw not in DEVICES:
            raise ValueError(f"{ENV_VAR} must be 'cpu' or 'cuda'. Received: {raw!r}")
        if raw == "cuda" and not is_available():
            warnings.warn(f"{ENV_VAR}=cuda but CUDA is not available ({reason()}); using the "
                          f"CPU", RuntimeWarning, stacklevel=2)
            raw = "cpu"
        _device = raw
    return _device


def synchronize():
    """Wait for every queued GPU operation; raise ValueError if a kernel has flagged
    invalid input data since the last check (out-of-range labels or argmax values, a
    negative variance) -- errors the CPU ops raise at once but a GPU op can only record."""
    _runtime.backend().synchronize()
    _runtime.raise_data_errors()


def from_numpy(array, dtype=None):
    """Copy a host array to the GPU (see :meth:`DeviceArray.from_numpy`)."""
    return DeviceArray.from_numpy(array, dtype)


def to_numpy(array):
    """A host copy of a DeviceArray; NumPy input is returned as ``numpy.asarray``."""
    return array.to_numpy() if isinstance(array, DeviceArray) else np.asarray(array)


def memory_info():
    """The caching pool's statistics (``in_use``, ``cached``, ``peak_in_use`` bytes;
    ``device_mallocs``, ``reuses`` counts) and the device's ``free`` / ``total`` bytes."""
    cuda = _runtime.backend()
    info = dict(cuda.pool_stats())
    info["free"], info["total"] = cuda.mem_get_info()
    return info


def empty_cache():
    """Return the pool's cached (unused) blocks to the driver."""
    _runtime.backend().pool_release()


def device_name():
    """The GPU's name and compute capability, e.g. ``'NVIDIA H100 80GB HBM3 (9.0)'``."""
    props = _runtime.backend().device_properties(0)
    major, minor = props["compute_capability"]
    return f"{props['name']} ({major}.{minor})"


__all__ = ["DEVICES", "DeviceArray", "HostConversionError", "device_name", "empty",
           "empty_cache", "from_numpy", "get_device", "is_available", "memory_info", "reason",
           "set_device", "synchronize", "to_numpy", "zeros", "zeros_like"]
