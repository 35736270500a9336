"""The CUDA backend: ``DeviceArray`` and the lazily loaded ``minidl._cuda`` kernels.

Computes in float32: host inputs of a call are checked as the CPU backend checks them
and copied to the GPU; device inputs of another dtype are converted there. Checks that
need the values of device arrays (labels in range, a variance not below ``-epsilon``)
are recorded by the kernels and raised by ``minidl.cuda.synchronize()`` or the next
copy to the host, so that no op waits for the GPU.
"""
import numpy as np

from minidl.backend.cpu import CPU
from minidl.cuda import _runtime
from minidl.cuda._array import DeviceArray, zeros

_F32 = np.dtype(np.float32)


class CUDABackend:
    """Arrays are :class:`~minidl.cuda.DeviceArray`; the kernels are ``minidl._cuda``'s
    (or a stand-in with its API, see ``minidl.cuda._runtime.install_backend``)."""

    name = "cuda"
    array_type = DeviceArray

    @property
    def kernels(self):
        """The initialised kernel module (RuntimeError with the reason when none)."""
        return _runtime.backend()

    @staticmethod
    def compute_dtype(array):
        """float32, whatever the input (the GPU kernels compute in float32)."""
        return _F32

    def prepare(self, x, name, where, dtype=None, exact=False):
        """``x`` on the GPU: float data as float32 (whatever float ``dtype`` asks, unless
        ``exact``), other dtypes (int64 labels) as asked. A device array of the right
        dtype is returned as is; host data is checked as on the CPU and copied."""
        target = _F32 if dtype is None else np.dtype(dtype)
        if target.kind == "f" and not exact:
            target = _F32
        if isinstance(x, DeviceArray):
            if x.dtype == target:
                return x
            if x.dtype.kind not in "biuf":
                raise TypeError(f"{where}: argument '{name}' must be a real numeric array. "
                                f"Received: dtype {x.dtype}")
            return x.astype(target)
        return DeviceArray.from_numpy(CPU.prepare(x, name, where, dtype=target), target)

    @staticmethod
    def empty(shape, dtype=_F32):
        """A new device array with undefined contents."""
        return DeviceArray(shape, dtype)

    @staticmethod
    def zeros(shape, dtype=_F32):
        """A new device array of zeros."""
        return zeros(shape, dtype)

    @staticmethod
    def asarray(x, dtype=None):
        """``x`` on the GPU (float data as float32 unless ``dtype`` says otherwise)."""
        if isinstance(x, DeviceArray):
            return x if dtype is None or x.dtype == dtype else x.astype(dtype)
        return DeviceArray.from_numpy(x, dtype)

    @staticmethod
    def to_numpy(x):
        """A host copy of a device array (waits for the GPU)."""
        return x.to_numpy() if isinstance(x, DeviceArray) else np.asarray(x)

    @staticmethod
    def transpose(x, axes):
        """A transposed copy on the GPU (``x`` itself for the identity)."""
        if tuple(axes) == tuple(range(x.ndim)):
            return x
        return x.transpose(axes)

    @staticmethod
    def shares_memory(a, b):
        """Whether two device arrays' bytes overlap."""
        return isinstance(a, DeviceArray) and a.shares_memory(b)

    @staticmethod
    def check_in_place(array, name, where, dtype=None, shape=None):
        """An array updated in place must be a float32 DeviceArray (of ``shape``)."""
        if not isinstance(array, DeviceArray):
            raise TypeError(f"{where}: argument '{name}' must be a float32 DeviceArray (it "
                            f"is updated in place on the GPU). Received: "
                            f"{type(array).__name__}")
        if array.dtype != _F32:
            raise TypeError(f"{where}: argument '{name}' must have dtype float32 (it is "
                            f"updated in place). Received: dtype {array.dtype}")
        if shape is not None and array.shape != tuple(shape):
            raise ValueError(f"{where}: argument '{name}' must have shape {tuple(shape)}. "
                             f"Received: shape {array.shape}")
        return array

    @staticmethod
    def memory_owners(arrays):
        """None: device arrays are checked for overlap pair by pair (a cheap test)."""
        return None

    def require(self, kernel, where):
        """The kernel, or NotImplementedError when the GPU backend has none."""
        found = getattr(self.kernels, kernel, None)
        if found is None:
            raise NotImplementedError(f"{where}: not implemented on the GPU (the CUDA "
                                      f"backend has no '{kernel}' kernel); compute it on the "
                                      f"CPU")
        return found


CUDA = CUDABackend()
