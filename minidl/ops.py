"""Backend-neutral functional ops: the only layer that knows which backend holds an array.

Names and signatures follow ``keras.ops`` where Keras has the op. Every forward op has a
documented backward companion (``*_backward``) that returns the gradients of a scalar
loss with respect to the op's inputs, given the gradient ``dy`` of its output.

Dtypes: when the primary input is float64 the op runs in float64; every other input
(ints, bools, float16, float32, ...) is computed in float32. Secondary inputs are cast
to the primary input's dtype. Complex, object and non-numeric arrays raise ``TypeError``.
Arrays may be non-contiguous or read-only: they are copied when needed, never misread.
"""
import numbers

import numpy as np

from minidl import _C

# ---------------------------------------------------------------- shared helpers


def _backend(*arrays):
    """The compiled module that computes on these arrays (the CPU core for NumPy)."""
    return _C


def _compute_dtype(x):
    """float64 stays float64; everything else is computed in float32."""
    return np.float64 if np.asarray(x).dtype == np.float64 else np.float32


def _prepare(x, name, where, dtype=None):
    """``x`` as a C-contiguous float32/float64 array, or a TypeError naming the argument.

    Args:
        x: array-like input.
        name: the argument's name, for the error message.
        where: the op's name, for the error message.
        dtype: force this dtype (the primary input's); default: the compute dtype of x.
    """
    if isinstance(x, np.ndarray):
        array = x
    else:
        try:
            array = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: argument '{name}' must be a numeric array, "
                            f"received {type(x).__name__}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: argument '{name}' must be a real numeric array, "
                        f"received dtype {array.dtype}")
    target = dtype if dtype is not None else _compute_dtype(array)
    return np.ascontiguousarray(array, dtype=target)


def _require_ndim(array, ndims, name, where):
    """Raise ValueError unless array.ndim is one of ``ndims``."""
    if isinstance(ndims, int):
        ndims = (ndims,)
    if array.ndim not in ndims:
        wanted = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{where}: argument '{name}' must have rank {wanted}, "
                         f"received shape {array.shape} (rank {array.ndim})")


def _require_nonempty(array, name, where):
    """Raise ValueError for an array with a zero-length axis (an empty batch)."""
    if array.size == 0:
        raise ValueError(f"{where}: argument '{name}' must not be empty, "
                         f"received shape {array.shape}")


def _positive_tuple(value, n, name, where):
    """An int or a length-n sequence of positive ints as an n-tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        items = (int(value),) * n
    else:
        try:
            items = tuple(value)
        except TypeError:
            items = ()
        if len(items) != n or not all(isinstance(v, numbers.Integral) and
                                      not isinstance(v, bool) for v in items):
            raise ValueError(f"{where}: argument '{name}' must be an int or a tuple of "
                             f"{n} ints, received {value!r}")
        items = tuple(int(v) for v in items)
    if any(v <= 0 for v in items):
        raise ValueError(f"{where}: argument '{name}' must be positive, received {value!r}")
    return items


def _padding(padding, where):
    """Validate a padding string and return it in lower case."""
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{where}: argument 'padding' must be 'valid' or 'same', "
                         f"received {padding!r}")
    return padding.lower()


def _output_length(length, window, stride, padding):
    """Keras/TensorFlow output length of one spatial axis."""
    if padding == "same":
        return -(-length // stride)
    return (length - window) // stride + 1


# ---------------------------------------------------------------- matmul (gemm.c)


# ---------------------------------------------------------------- convolution (conv2d.c)


# ---------------------------------------------------------------- pooling (pool2d.c)


# ---------------------------------------------------------------- batch normalization (batchnorm.c)


# ---------------------------------------------------------------- activations (activations.c)


# ---------------------------------------------------------------- losses (loss.c)


# ---------------------------------------------------------------- optimizer updates (optim.c)


# ---------------------------------------------------------------- tensor ops (tensor_ops.c)


# ---------------------------------------------------------------- image ops (image.c)

_FILL_MODES = ("nearest", "constant", "reflect", "wrap")


def _images_4d(images, where):
    """``images`` as a C-contiguous NHWC float array plus whether it was one HWC image."""
    x = _prepare(images, "images", where)
    _require_ndim(x, (3, 4), "images", where)
    _require_nonempty(x, "images", where)
    single = x.ndim == 3
    return (x[np.newaxis] if single else x), single


def _image_size_pair(value, name, where):
    """A (height, width) pair of positive ints, or a ValueError naming the argument."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(f"{where}: argument '{name}' must be a tuple of 2 positive ints "
                         f"(height, width), received {value!r}")
    return _positive_tuple(value, 2, name, where)


def affine_warp(images, transforms, fill_mode="nearest", fill_value=0.0, output_size=None):
    """Warp images with affine transforms, sampling bilinearly.

    Output pixel ``(r, c)`` of image ``i`` samples the input at row
    ``t[0, 0] * r + t[0, 1] * c + t[0, 2]`` and column ``t[1, 0] * r + t[1, 1] * c +
    t[1, 2]``, with ``t = transforms[i]``: the transform maps output pixel coordinates
    (row, column; pixel centres at integers) to input coordinates. Each of the four
    bilinear neighbours that lies outside the image is resolved by ``fill_mode``:

    * ``'nearest'``: the nearest edge pixel (``a a | a b c d | d d``);
    * ``'constant'``: ``fill_value`` (``k k | a b c d | k k``; scipy ``'grid-constant'``);
    * ``'reflect'``: mirrored with the edge pixel repeated (``b a | a b c d | d c``;
      scipy ``'reflect'``);
    * ``'wrap'``: periodic (``c d | a b c d | a b``; scipy ``'grid-wrap'``).

    Any transform is safe: a non-finite source coordinate counts as outside the image
    (``fill_value`` in ``'constant'`` mode) and as the nearest edge in the other modes
    (``+inf`` the last pixel, ``-inf`` and NaN the first).

    Args:
        images: NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        transforms: ``(2, 3)`` (the same transform for every image) or ``(N, 2, 3)``;
            used in float64.
        fill_mode: ``'nearest'``, ``'constant'``, ``'reflect'`` or ``'wrap'``.
        fill_value: the value outside the image for ``fill_mode='constant'``.
        output_size: ``(out_h, out_w)`` of the warped images; default: the input's.

    Returns:
        The warped images, ``(N, out_h, out_w, C)`` (or ``(out_h, out_w, C)`` for one
        image). float64 input gives float64; any other dtype (e.g. uint8) is computed
        and returned in float32, unrounded.
    """
    where = "affine_warp"
    x, single = _images_4d(images, where)
    n, h, w, c = x.shape
    t = _prepare(transforms, "transforms", where, dtype=np.float64)
    if t.shape == (2, 3):
        t = np.broadcast_to(t.reshape(1, 6), (n, 6))
    elif t.shape == (n, 2, 3):
        t = t.reshape(n, 6)
    else:
        raise ValueError(f"{where}: argument 'transforms' must have shape (2, 3) or "
                         f"({n}, 2, 3), received shape {t.shape}")
    t = np.ascontiguousarray(t)
    if not isinstance(fill_mode, str) or fill_mode.lower() not in _FILL_MODES:
        raise ValueError(f"{where}: argument 'fill_mode' must be one of {_FILL_MODES}, "
                         f"received {fill_mode!r}")
    if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
        raise TypeError(f"{where}: argument 'fill_value' must be a real number, "
                        f"received {fill_value!r}")
    if output_size is None:
        out_h, out_w = h, w
    else:
        out_h, out_w = _image_size_pair(output_size, "output_size", where)
    y = np.empty((n, out_h, out_w, c), dtype=x.dtype)
    _backend(x).affine_warp(y, x, t, fill_mode.lower(), float(fill_value))
    return y[0] if single else y


def flip_left_right(images, flags=None):
    """Mirror images left-right (along the width axis).

    Args:
        images: NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        flags: which images flip: a boolean (or integer, nonzero = flip) array of shape
            ``(N,)``, a single boolean for all, or None (every image flips). Images that
            do not flip are copied.

    Returns:
        The flipped images, same shape; float64 input gives float64, any other dtype is
        returned in float32.
    """
    where = "flip_left_right"
    x, single = _images_4d(images, where)
    n = x.shape[0]
    flag_array = None
    if flags is not None:
        f = np.asarray(flags)
        if f.dtype.kind not in "biu":
            raise TypeError(f"{where}: argument 'flags' must be a boolean array, "
                            f"received dtype {f.dtype}")
        if f.shape not in ((), (n,)):
            raise ValueError(f"{where}: argument 'flags' must have shape ({n},) or be a "
                             f"single boolean, received shape {f.shape}")
        flag_array = np.ascontiguousarray(np.broadcast_to(f != 0, (n,)), dtype=np.uint8)
    y = np.empty_like(x)
    _backend(x).flip_horizontal(y, x, flag_array)
    return y[0] if single else y


def resize(images, size, interpolation="bilinear"):
    """Resize images (``keras.ops.image.resize`` without antialiasing or cropping).

    Bilinear with half-pixel centres: output pixel ``d`` samples the input at
    ``(d + 0.5) * in / out - 0.5``, clamped to the image. This matches TensorFlow 2's
    ``tf.image.resize(method='bilinear', antialias=False)`` and PyTorch's
    ``F.interpolate(mode='bilinear', align_corners=False)`` (when downsampling, no
    antialiasing filter is applied).

    Args:
        images: NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        size: ``(height, width)`` of the output, positive ints.
        interpolation: only ``'bilinear'`` is supported.

    Returns:
        The resized images ``(N, height, width, C)`` (or ``(height, width, C)``);
        float64 input gives float64, any other dtype (e.g. uint8) float32, unrounded.
    """
    where = "resize"
    if not isinstance(interpolation, str) or interpolation.lower() != "bilinear":
        raise ValueError(f"{where}: argument 'interpolation' must be 'bilinear' (the only "
                         f"supported method), received {interpolation!r}")
    x, single = _images_4d(images, where)
    out_h, out_w = _image_size_pair(size, "size", where)
    y = np.empty((x.shape[0], out_h, out_w, x.shape[3]), dtype=x.dtype)
    _backend(x).resize_bilinear(y, x)
    return y[0] if single else y
