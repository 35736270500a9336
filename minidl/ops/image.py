"""Image ops for data augmentation: affine warps, flips and bilinear resizing of NHWC
batches (``csrc/image.c`` and its CUDA twin)."""
import numbers

import numpy as np

from minidl.backend import backend_of, to_numpy
from minidl.backend.cpu import CPU
from minidl.ops._checks import require_ndim, require_nonempty, size_pair


_FILL_MODES = ("nearest", "constant", "reflect", "wrap")


def _images_4d(backend, images, where):
    """``images`` as a C-contiguous NHWC float array plus whether it was one HWC image."""
    x = backend.prepare(images, "images", where)
    require_ndim(x, (3, 4), "images", where)
    require_nonempty(x, "images", where)
    single = x.ndim == 3
    return (x.reshape((1,) + x.shape) if single else x), single


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
        images (array): NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        transforms (array): ``(2, 3)`` (the same transform for every image) or
            ``(N, 2, 3)``; used in float64.
        fill_mode (str): ``'nearest'``, ``'constant'``, ``'reflect'`` or ``'wrap'``.
        fill_value (float): the value outside the image for ``fill_mode='constant'``.
        output_size (tuple of 2 ints or None): ``(out_h, out_w)`` of the warped images;
            default: the input's.

    Returns:
        The warped images, ``(N, out_h, out_w, C)`` (or ``(out_h, out_w, C)`` for one
        image). float64 input gives float64; any other dtype (e.g. uint8) is computed
        and returned in float32, unrounded.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> image = np.arange(9.0).reshape(1, 3, 3, 1)
        >>> identity = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
        >>> bool(np.array_equal(ops.affine_warp(image, identity), image))
        True
        >>> # output pixel (r, c) reads input pixel (r, c + 1)
        >>> shift = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]])
        >>> ops.affine_warp(image, shift)[0, :, :, 0]
        array([[1., 2., 2.],
               [4., 5., 5.],
               [7., 8., 8.]])
    """
    backend = backend_of(images, transforms)
    where = "affine_warp"
    x, single = _images_4d(backend, images, where)
    n, h, w, c = x.shape
    # small: checked and shaped on the host, then placed with the images
    t = CPU.prepare(to_numpy(transforms), "transforms", where, dtype=np.float64)
    if t.shape == (2, 3):
        t = np.broadcast_to(t.reshape(1, 6), (n, 6))
    elif t.shape == (n, 2, 3):
        t = t.reshape(n, 6)
    else:
        raise ValueError(f"{where}: argument 'transforms' must have shape (2, 3) or "
                         f"({n}, 2, 3). Received: shape {t.shape}")
    t = backend.prepare(t, "transforms", where, dtype=np.float64, exact=True)
    if not isinstance(fill_mode, str) or fill_mode.lower() not in _FILL_MODES:
        raise ValueError(f"{where}: argument 'fill_mode' must be one of {_FILL_MODES}. "
                         f"Received: {fill_mode!r}")
    if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
        raise TypeError(f"{where}: argument 'fill_value' must be a real number. "
                        f"Received: {fill_value!r}")
    if output_size is None:
        out_h, out_w = h, w
    else:
        out_h, out_w = size_pair(output_size, "output_size", where)
    y = backend.empty((n, out_h, out_w, c), dtype=x.dtype)
    backend.kernels.affine_warp(y, x, t, fill_mode.lower(), float(fill_value))
    return y[0] if single else y


def flip_left_right(images, flags=None):
    """Mirror images left-right (along the width axis).

    Args:
        images (array): NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        flags (array or bool or None): which images flip: a boolean (or integer, nonzero =
            flip) array of shape ``(N,)``, a single boolean for all, or None (every image
            flips). Images that do not flip are copied.

    Returns:
        The flipped images, same shape; float64 input gives float64, any other dtype is
        returned in float32.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> images = np.arange(4.0).reshape(2, 1, 2, 1)
        >>> ops.flip_left_right(images, flags=np.array([True, False]))[:, 0, :, 0]
        array([[1., 0.],
               [2., 3.]])
    """
    backend = backend_of(images, flags)
    where = "flip_left_right"
    x, single = _images_4d(backend, images, where)
    n = x.shape[0]
    flag_array = None
    if flags is not None:
        f = to_numpy(flags)
        if f.dtype.kind not in "biu":
            raise TypeError(f"{where}: argument 'flags' must be a boolean array. "
                            f"Received: dtype {f.dtype}")
        if f.shape not in ((), (n,)):
            raise ValueError(f"{where}: argument 'flags' must have shape ({n},) or be a "
                             f"single boolean. Received: shape {f.shape}")
        flag_array = backend.prepare(np.broadcast_to(f != 0, (n,)), "flags", where,
                                     dtype=np.uint8)
    y = backend.empty(x.shape, x.dtype)
    backend.kernels.flip_horizontal(y, x, flag_array)
    return y[0] if single else y


def resize(images, size, interpolation="bilinear"):
    """Resize images (``keras.ops.image.resize`` without antialiasing or cropping).

    Bilinear with half-pixel centres: output pixel ``d`` samples the input at
    ``(d + 0.5) * in / out - 0.5``, clamped to the image. This matches TensorFlow 2's
    ``tf.image.resize(method='bilinear', antialias=False)`` and PyTorch's
    ``F.interpolate(mode='bilinear', align_corners=False)`` (when downsampling, no
    antialiasing filter is applied).

    Args:
        images (array): NHWC batch ``(N, H, W, C)``, or one ``(H, W, C)`` image.
        size (tuple of 2 ints): ``(height, width)`` of the output, positive ints.
        interpolation (str): only ``'bilinear'`` is supported.

    Returns:
        The resized images ``(N, height, width, C)`` (or ``(height, width, C)``);
        float64 input gives float64, any other dtype (e.g. uint8) float32, unrounded.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> ops.resize(np.arange(4.0).reshape(1, 2, 2, 1), (4, 4)).shape
        (1, 4, 4, 1)
    """
    backend = backend_of(images)
    where = "resize"
    if not isinstance(interpolation, str) or interpolation.lower() != "bilinear":
        raise ValueError(f"{where}: argument 'interpolation' must be 'bilinear' (the only "
                         f"supported method). Received: {interpolation!r}")
    x, single = _images_4d(backend, images, where)
    out_h, out_w = size_pair(size, "size", where)
    y = backend.empty((x.shape[0], out_h, out_w, x.shape[3]), dtype=x.dtype)
    backend.kernels.resize_bilinear(y, x)
    return y[0] if single else y
