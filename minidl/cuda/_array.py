"""``DeviceArray``: an n-dimensional, C-contiguous array in GPU memory."""
import numbers

import numpy as np

from minidl.cuda import _runtime

# dtypes a DeviceArray can hold; the kernels compute in float32 (labels and argmax are
# int64, flip flags uint8, affine transforms float64).
SUPPORTED_DTYPES = ("float32", "float64", "int32", "int64", "uint8")


class HostConversionError(TypeError):
    """Raised when a DeviceArray would be converted to a NumPy array implicitly."""


def _dtype(dtype, where):
    dt = np.dtype(dtype)
    if dt.name not in SUPPORTED_DTYPES:
        raise TypeError(f"{where}: dtype must be one of {SUPPORTED_DTYPES}. Received: {dt}")
    return dt


def _shape(shape, where):
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{where}: shape must be an int or a tuple of ints. "
                        f"Received: {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{where}: shape must not be negative. Received: {shape}")
    return shape


def _default_dtype(host):
    """The device dtype of a host array: floats compute in float32, bools become uint8,
    int32/int64/uint8 keep their type, other integers become int64."""
    if host.dtype.kind == "f":
        return np.dtype(np.float32)
    if host.dtype.kind == "b":
        return np.dtype(np.uint8)
    if host.dtype.name in ("int32", "int64", "uint8"):
        return host.dtype
    if host.dtype.kind in "iu":
        return np.dtype(np.int64)
    raise TypeError(f"DeviceArray.from_numpy: cannot hold dtype {host.dtype} on the GPU")


class DeviceArray:
    """An n-dimensional, C-contiguous array in GPU memory.

    The memory comes from minidl's caching pool (a training loop that allocates the same
    shapes every step stops calling ``cudaMalloc`` after its first step) and goes back to
    the pool deterministically: when ``free()`` is called, when a ``with`` block using the
    array ends, or when the last reference to it (and to its views) disappears.

    ``minidl.ops`` runs an op on the GPU when one of its array arguments is a
    DeviceArray (NumPy arguments of the same call are copied to the GPU). There is no
    implicit conversion to NumPy (``numpy.asarray(d)`` raises): copy explicitly with
    ``to_numpy()``.

    Args:
        shape: the shape (an int or a tuple of ints).
        dtype: float32 (default), float64, int32, int64 or uint8.

    The new array's contents are undefined (use ``minidl.cuda.zeros`` for zeros).
    """

    __slots__ = ("_buffer", "_offset", "_shape", "_dtype", "__weakref__")
    # NumPy defers binary operators with a DeviceArray to it (ndarray * d -> d.__rmul__).
    __array_ufunc__ = None
    _minidl_device = "cuda"

    def __init__(self, shape, dtype=np.float32):
        self._shape = _shape(shape, "DeviceArray")
        self._dtype = _dtype(dtype, "DeviceArray")
        self._offset = 0
        nbytes = int(np.prod(self._shape, dtype=np.int64)) * self._dtype.itemsize
        self._buffer = _runtime.backend().Buffer(nbytes)

    @classmethod
    def _view(cls, buffer, offset, shape, dtype):
        view = cls.__new__(cls)
        view._buffer, view._offset, view._shape, view._dtype = buffer, offset, shape, dtype
        return view

    # ---------------------------------------------------------------- conversion
    @classmethod
    def from_numpy(cls, array, dtype=None):
        """Copy a host array (anything ``numpy.asarray`` accepts) to the GPU.

        Args:
            array: the data.
            dtype: the device dtype; default: float32 for floating arrays (the GPU's
                compute type), uint8 for booleans, int32/int64/uint8 kept, other
                integers int64.

        Returns:
            A new DeviceArray of the same shape.
        """
        host = np.asarray(array)
        dt = _default_dtype(host) if dtype is None else _dtype(dtype, "DeviceArray.from_numpy")
        host = np.ascontiguousarray(host, dtype=dt).reshape(host.shape)
        out = cls(host.shape, dt)
        if host.size:
            _runtime.backend().copy_h2d(out.ptr, host.reshape(-1).view(np.uint8))
        return out

    def to_numpy(self):
        """A host copy (waits for the GPU; raises ValueError when a kernel has flagged
        invalid input data since the last check, see ``minidl.cuda.synchronize``)."""
        out = np.empty(self._shape, dtype=self._dtype)
        if out.size:
            _runtime.backend().copy_d2h(out.reshape(-1).view(np.uint8), self.ptr)
        _runtime.raise_data_errors()
        return out

    def numpy(self):
        """Same as ``to_numpy()``."""
        return self.to_numpy()

    def __array__(self, dtype=None, copy=None):
        raise HostConversionError(
            "DeviceArray: implicit conversion to a NumPy array is not allowed (it would copy "
            "from the GPU behind your back); call .to_numpy() explicitly")

    # ---------------------------------------------------------------- properties
    @property
    def shape(self):
        """The shape, a tuple of ints."""
        return self._shape

    @property
    def dtype(self):
        """The NumPy dtype of the elements."""
        return self._dtype

    @property
    def ndim(self):
        """The number of axes."""
        return len(self._shape)

    @property
    def size(self):
        """The number of elements."""
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def itemsize(self):
        """Bytes per element."""
        return self._dtype.itemsize

    @property
    def nbytes(self):
        """Bytes of the elements."""
        return self.size * self._dtype.itemsize

    @property
    def device(self):
        """``'cuda'``."""
        return "cuda"

    @property
    def freed(self):
        """Whether the memory has been returned to the pool."""
        return self._buffer.ptr == 0

    @property
    def ptr(self):
        """The device address of the first element (RuntimeError once freed)."""
        base = self._buffer.ptr
        if base == 0:
            raise RuntimeError("DeviceArray: its memory has been freed")
        return base + self._offset

    def shares_memory(self, other):
        """Whether two device arrays' bytes overlap."""
        if not isinstance(other, DeviceArray) or other._buffer is not self._buffer:
            return False
        a0, b0 = self._offset, other._offset
        return a0 < b0 + other.nbytes and b0 < a0 + self.nbytes and \
            self.nbytes > 0 and other.nbytes > 0

    # ---------------------------------------------------------------- lifetime
    def free(self):
        """Return the memory to the pool now. Every view of the same memory becomes
        unusable; calling it again does nothing."""
        self._buffer.free()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()
        return False

    # ---------------------------------------------------------------- views and copies
    def reshape(self, *shape):
        """A view with another shape (one axis may be -1)."""
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        shape = tuple(int(d) for d in shape)
        if shape.count(-1) > 1:
            raise ValueError(f"DeviceArray.reshape: only one axis may be -1. Received: {shape}")
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
            if known == 0 or self.size % known:
                raise ValueError(f"DeviceArray.reshape: cannot reshape an array of shape "
                                 f"{self._shape} into {shape}")
            shape = tuple(self.size // known if d == -1 else d for d in shape)
        if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) != self.size:
            raise ValueError(f"DeviceArray.reshape: cannot reshape an array of shape "
                             f"{self._shape} into {shape}")
        return DeviceArray._view(self._buffer, self._offset, shape, self._dtype)

    def ravel(self):
        """A 1-D view."""
        return self.reshape(-1)

    def __getitem__(self, key):
        """Views along the first axis only: ``d[i]`` and ``d[start:stop]`` (step 1)."""
        if not self._shape:
            raise IndexError("DeviceArray: a 0-d array cannot be indexed")
        n = self._shape[0]
        row = int(np.prod(self._shape[1:], dtype=np.int64))
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            i = int(key) + (n if key < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"DeviceArray: index {key} is out of range for axis 0 of "
                                 f"size {n}")
            return DeviceArray._view(self._buffer, self._offset + i * row * self.itemsize,
                                     self._shape[1:], self._dtype)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                raise TypeError("DeviceArray: only slices with step 1 along the first axis "
                                "are supported")
            stop = max(start, stop)
            return DeviceArray._view(self._buffer, self._offset + start * row * self.itemsize,
                                     (stop - start,) + self._shape[1:], self._dtype)
        if key is Ellipsis:
            return self
        raise TypeError("DeviceArray: only d[i], d[start:stop] and d[...] are supported; "
                        "copy to the host with to_numpy() for other indexing")

    def __setitem__(self, key, value):
        """``d[...] = value`` (and ``d[i]``, ``d[a:b]``): copy a device array, a host array
        (broadcast to the target's shape) or a scalar into the selected elements."""
        target = self[key]
        cuda = _runtime.backend()
        if isinstance(value, DeviceArray):
            if value.shape != target.shape:
                raise ValueError(f"DeviceArray: cannot assign an array of shape {value.shape} "
                                 f"to a selection of shape {target.shape}")
            if value.dtype != target.dtype:
                value = value.astype(target.dtype)
            if target.nbytes:
                cuda.copy_d2d(target.ptr, value.ptr, target.nbytes)
            return
        host = np.asarray(value)
        if host.dtype.kind not in "biuf":
            raise TypeError(f"DeviceArray: cannot assign a value of dtype {host.dtype}")
        host = np.ascontiguousarray(np.broadcast_to(host, target.shape), dtype=target.dtype)
        if target.nbytes:
            cuda.copy_h2d(target.ptr, host.reshape(-1).view(np.uint8))

    def copy(self):
        """A new array with the same contents."""
        out = DeviceArray(self._shape, self._dtype)
        if self.nbytes:
            _runtime.backend().copy_d2d(out.ptr, self.ptr, self.nbytes)
        return out

    def astype(self, dtype):
        """A copy converted on the GPU to another supported dtype."""
        dt = _dtype(dtype, "DeviceArray.astype")
        if dt == self._dtype:
            return self.copy()
        out = DeviceArray(self._shape, dt)
        if self.size:
            _runtime.backend().convert(out, self)
        return out

    def transpose(self, *axes):
        """A transposed copy (``numpy.transpose`` semantics; no axes reverses them)."""
        if len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        axes = tuple(int(a) % max(self.ndim, 1) for a in axes)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"DeviceArray.transpose: axes {axes} are not a permutation of "
                             f"the {self.ndim} axes")
        if axes == tuple(range(self.ndim)):
            return self.copy()
        out = DeviceArray(tuple(self._shape[a] for a in axes), self._dtype)
        if self.size:
            _runtime.backend().permute(out, self, axes)
        return out

    @property
    def T(self):  # noqa: N802 -- numpy's name
        """The transposed copy with the axes reversed."""
        return self.transpose()

    def fill(self, value):
        """Set every element to ``value`` (in place)."""
        self[...] = value

    # ---------------------------------------------------------------- Python protocol
    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d DeviceArray")
        return self._shape[0]

    def _scalar(self):
        if self.size != 1:
            raise TypeError(f"DeviceArray: only an array of one element converts to a Python "
                            f"scalar. Received: shape {self._shape}")
        return self.to_numpy().reshape(()).item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __bool__(self):
        return bool(self._scalar())

    def __repr__(self):
        state = "freed" if self.freed else "cuda"
        return f"DeviceArray(shape={self._shape}, dtype={self._dtype.name}, device='{state}')"

    # ---------------------------------------------------------------- arithmetic
    # Elementwise float32 arithmetic with an array of the same shape (device or host) or
    # a Python number, straight on the kernels (minidl.ops builds on this module, not
    # the other way round).
    def _float32(self):
        return self if self._dtype == np.float32 else self.astype(np.float32)

    def _scaled(self, alpha):
        out = DeviceArray(self._shape, np.float32)
        if self.size:
            _runtime.backend().scale(out.reshape(-1), self._float32().reshape(-1),
                                     float(alpha))
        return out

    def _elementwise(self, other, kernel, reverse=False):
        if not isinstance(other, DeviceArray):
            other = DeviceArray.from_numpy(np.asarray(other), np.float32)
        if other.shape != self._shape:
            raise ValueError(f"DeviceArray: operands must have the same shape (no "
                             f"broadcasting). Received: shapes {self._shape} and "
                             f"{other.shape}")
        a, b = (other, self) if reverse else (self, other)
        out = DeviceArray(self._shape, np.float32)
        if self.size:
            getattr(_runtime.backend(), kernel)(out.reshape(-1), a._float32().reshape(-1),
                                                b._float32().reshape(-1))
        return out

    def _constant(self, value):
        constant = DeviceArray(self._shape, np.float32)
        constant.fill(value)
        return constant

    def _binary(self, other, kernel, reverse=False):
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            if kernel == "mul":
                return self._scaled(other)
            return self._elementwise(self._constant(other), kernel, reverse)
        if isinstance(other, (DeviceArray, np.ndarray)):
            return self._elementwise(other, kernel, reverse)
        return NotImplemented

    def __add__(self, other):
        return self._binary(other, "add")

    def __radd__(self, other):
        return self._binary(other, "add", reverse=True)

    def __mul__(self, other):
        return self._binary(other, "mul")

    def __rmul__(self, other):
        return self._binary(other, "mul", reverse=True)

    def __neg__(self):
        return self._scaled(-1.0)

    def __sub__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return self._binary(-float(other), "add")
        if isinstance(other, np.ndarray):
            other = DeviceArray.from_numpy(other, np.float32)
        if isinstance(other, DeviceArray):
            return self._elementwise(other._scaled(-1.0), "add")
        return NotImplemented

    def __rsub__(self, other):
        return (-self).__add__(other)

    def __truediv__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return self._scaled(1.0 / float(other))
        return NotImplemented


def empty(shape, dtype=np.float32):
    """A new DeviceArray with undefined contents."""
    return DeviceArray(shape, dtype)


def zeros(shape, dtype=np.float32):
    """A new DeviceArray of zeros."""
    out = DeviceArray(shape, dtype)
    if out.nbytes:
        _runtime.backend().memset(out.ptr, 0, out.nbytes)
    return out


def zeros_like(array):
    """Zeros with the shape and dtype of ``array`` (a DeviceArray or a host array; the
    result is on the GPU)."""
    dtype = array.dtype if isinstance(array, DeviceArray) else _default_dtype(np.asarray(array))
    return zeros(np.shape(array) if not isinstance(array, DeviceArray) else array.shape, dtype)
