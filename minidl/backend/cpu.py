"""The CPU backend: NumPy arrays and the C core (``minidl._C``).

Computes in float64 when the primary input is float64 and in float32 otherwise; any
NumPy layout is accepted and copied to C order where a kernel needs it.
"""
import numpy as np

from minidl import _C


class _Kernels:
    """``minidl._C``'s kernels, plus ``clip`` (one NumPy call: no C kernel would be
    faster), under the names the CUDA kernels share."""

    def __init__(self):
        # copied once: an attribute lookup per call, as on the module itself
        self.__dict__.update({name: getattr(_C, name) for name in dir(_C)
                              if not name.startswith("__")})

    @staticmethod
    def clip(y, x, low, high):
        """``y = min(max(x, low), high)`` (NaN stays NaN)."""
        np.clip(x, low, high, out=y)


class CPUBackend:
    """Arrays are ``numpy.ndarray``; the kernels are ``minidl._C``'s, under the names the
    CUDA backend shares."""

    name = "cpu"
    array_type = np.ndarray
    kernels = _Kernels()

    @staticmethod
    def compute_dtype(array):
        """float64 stays float64; everything else is computed in float32."""
        return np.dtype(np.float64) if array.dtype == np.float64 else np.dtype(np.float32)

    def prepare(self, x, name, where, dtype=None, exact=False):
        """``x`` as a C-contiguous array of ``dtype`` (default: its compute dtype), or a
        TypeError naming the argument and the op.

        Args:
            x: array-like input.
            name: the argument's name, for the error message.
            where: the op's name, for the error message.
            dtype: force this dtype (the primary input's).
            exact: accepted for the CUDA backend's signature (the CPU always computes
                in ``dtype``).
        """
        array = self.numeric_array(x, name, where)
        target = dtype if dtype is not None else self.compute_dtype(array)
        # asarray keeps 0-d arrays 0-d (ascontiguousarray would make them 1-d)
        return np.asarray(array, dtype=target, order="C")

    @staticmethod
    def numeric_array(x, name, where):
        """``x`` as a NumPy array of real numbers, in its own dtype (TypeError naming the
        argument and the op otherwise)."""
        if isinstance(x, np.ndarray):
            array = x
        else:
            try:
                array = np.asarray(x)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{where}: argument '{name}' must be a numeric array. "
                                f"Received: {type(x).__name__}") from exc
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{where}: argument '{name}' must be a real numeric array. "
                            f"Received: dtype {array.dtype}")
        return array

    @staticmethod
    def empty(shape, dtype=np.float32):
        """A new array with undefined contents."""
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def zeros(shape, dtype=np.float32):
        """A new array of zeros."""
        return np.zeros(shape, dtype=dtype)

    @staticmethod
    def asarray(x, dtype=None):
        """``x`` (a NumPy array or array-like) as an array of this backend."""
        return np.asarray(x, dtype=dtype)

    @staticmethod
    def to_numpy(x):
        """``x`` as a NumPy array (itself when it already is one)."""
        return np.asarray(x)

    @staticmethod
    def transpose(x, axes):
        """A C-contiguous copy of ``x`` with its axes permuted (``x`` itself when the
        permutation is the identity)."""
        if tuple(axes) == tuple(range(x.ndim)):
            return x
        return np.ascontiguousarray(np.transpose(x, axes))

    @staticmethod
    def shares_memory(a, b):
        """Whether two arrays may overlap."""
        return np.may_share_memory(a, b)

    def check_in_place(self, array, name, where, dtype=None, shape=None):
        """An array that a kernel updates in place: a writable, C-contiguous float32 or
        float64 ndarray (of ``dtype`` and ``shape`` when given). Never copies: a copy would
        be updated instead of the caller's array."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{where}: argument '{name}' must be a NumPy array (it is "
                            f"updated in place). Received: {type(array).__name__}")
        if dtype is None and array.dtype not in (np.float32, np.float64):
            raise TypeError(f"{where}: argument '{name}' must be a float32 or float64 array "
                            f"(it is updated in place). Received: dtype {array.dtype}")
        if dtype is not None and array.dtype != dtype:
            raise TypeError(f"{where}: argument '{name}' must have dtype "
                            f"{np.dtype(dtype).name} (it is updated in place). "
                            f"Received: dtype {array.dtype}")
        if shape is not None and array.shape != tuple(shape):
            raise ValueError(f"{where}: argument '{name}' must have shape {tuple(shape)}. "
                             f"Received: shape {array.shape}")
        if not array.flags.writeable:
            raise ValueError(f"{where}: argument '{name}' must be writable (it is updated "
                             f"in place). Received: a read-only array")
        if not array.flags.c_contiguous:
            raise ValueError(f"{where}: argument '{name}' must be C-contiguous (it is "
                             f"updated in place). Received: strides {array.strides} for "
                             f"shape {array.shape}")
        return array

    @staticmethod
    def memory_owners(arrays):
        """The arrays that own each array's memory, or None when one of them belongs to
        something else (a buffer, a memory map): distinct owners cannot overlap, so the
        pairwise overlap checks can be skipped."""
        owners = []
        for array in arrays:
            owner = array if array.base is None else array.base
            if not isinstance(owner, np.ndarray) or owner.base is not None:
                return None
            owners.append(owner)
        return owners

    def require(self, kernel, where):
        """The kernel (every CPU op has one)."""
        return getattr(self.kernels, kernel)


CPU = CPUBackend()
