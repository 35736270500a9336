"""Real-time image augmentation: ``keras.preprocessing.image.ImageDataGenerator``.

``ImageDataGenerator`` draws random affine transforms (rotation, shift, shear, zoom),
flips, channel and brightness shifts, and standardizes images, with the formulas and the
argument semantics of Keras's (legacy) ``ImageDataGenerator``. Images are
``channels_last`` (``(N, H, W, C)``; one image is ``(H, W, C)``).

Unlike Keras, which warps one image at a time with ``scipy.ndimage``, ``flow`` builds a
batch at once: it draws every image's parameters, turns them into ``(N, 2, 3)`` matrices
and warps the whole batch in a single ``minidl.ops.affine_warp`` call (the C kernel).

The geometry follows Keras's ``apply_affine_transform``: the transform is
``rotation @ shift @ shear @ zoom`` (3x3 homogeneous matrices, angles in degrees),
moved to the image centre ``(h / 2 - 0.5, w / 2 - 0.5)``, and maps OUTPUT pixel
coordinates ``(row, col)`` to INPUT coordinates, sampled bilinearly as
``scipy.ndimage.affine_transform(order=1)`` does. ``tx`` shifts along rows (from
``height_shift_range``), ``ty`` along columns (from ``width_shift_range``).

Fill modes: ``'nearest'``, ``'reflect'`` and ``'constant'`` give Keras's (scipy's)
values. ``'wrap'`` is periodic with period ``H`` and ``W`` (scipy ``'grid-wrap'``,
``c d | a b c d | a b``); Keras passes ``'wrap'`` to scipy, whose ``'wrap'`` repeats with
period ``H - 1`` (the first and last rows overlap), so pixels that sample outside the
image differ from Keras in that mode.
"""
import numbers
import os
import threading
import warnings

import numpy as np

from minidl import ops
from minidl.random_state import check_seed, generator_for, global_generator

__all__ = ["DirectoryIterator", "ImageDataGenerator", "NumpyArrayIterator", "transform_matrices",
           "transform_matrix_offset_center"]

# Keras 2 spellings (keras.preprocessing.image.load_img, ...): minidl.utils's functions,
# documented there
from minidl.utils import image_dataset as _image_dataset  # noqa: E402
from minidl.utils import image_utils as _image_utils  # noqa: E402

load_img, img_to_array = _image_utils.load_img, _image_utils.img_to_array
array_to_img, save_img = _image_utils.array_to_img, _image_utils.save_img

_FILL_MODES = ("nearest", "constant", "reflect", "wrap")
_SUBSETS = ("training", "validation")
# Keras adds this to every standard deviation before dividing by it
_STD_EPSILON = 1e-6
# fit() streams the data through the statistics in chunks of this many images
_FIT_CHUNK = 512


# ---------------------------------------------------------------- argument checks


def _is_real(value):
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _nonnegative_real(value, name, where):
    """``value`` as a finite float >= 0, or a ValueError naming the argument."""
    if not _is_real(value) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{where}: argument '{name}' must be a finite number >= 0. "
                         f"Received: {name}={value!r}")
    return float(value)


def _real(value, name, where):
    """``value`` as a finite float, or a ValueError naming the argument."""
    if not _is_real(value) or not np.isfinite(value):
        raise ValueError(f"{where}: argument '{name}' must be a finite number. "
                         f"Received: {name}={value!r}")
    return float(value)


def _boolean(value, name, where):
    """``value`` as a bool (Python or NumPy), or a TypeError naming the argument."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: argument '{name}' must be a boolean. "
                        f"Received: {name}={value!r}")
    return bool(value)


def _shift_spec(value, name, where):
    """Normalize ``width_shift_range``/``height_shift_range`` as Keras reads them.

    Returns:
        ``None`` (no shift), ``('uniform', r)`` for a float (uniform in ``[-r, r]``),
        ``('integers', n)`` for an int (``{0..n-1}`` times a random sign) or
        ``('choice', values)`` for a 1-D sequence (an element times a random sign).
    """
    message = (f"{where}: argument '{name}' must be a float (a fraction of the size if "
               f"< 1, else pixels), an int (pixels) or a non-empty 1-D sequence of "
               f"numbers, all >= 0. Received: {name}={value!r}")
    if _is_real(value):
        if not np.isfinite(value) or value < 0:
            raise ValueError(message)
        if value == 0:
            return None
        if isinstance(value, numbers.Integral):
            return ("integers", int(value))
        return ("uniform", float(value))
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
        raise ValueError(message)
    values = np.asarray(value)
    if (values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iuf"
            or not np.all(np.isfinite(values))):
        raise ValueError(message)
    return ("choice", values)


def _zoom_bounds(value, where):
    """``zoom_range`` as Keras's ``[lower, upper]``: a number z >= 0 gives
    ``[1 - z, 1 + z]``; a pair must have lower <= upper."""
    if _is_real(value) and np.isfinite(value) and value >= 0:
        return [1 - value, 1 + value]
    if (isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2
            and all(_is_real(v) and np.isfinite(v) for v in value) and value[0] <= value[1]):
        return [value[0], value[1]]
    raise ValueError(f"{where}: argument 'zoom_range' must be a float >= 0 or a tuple or "
                     f"list of two floats [lower, upper] with lower <= upper. "
                     f"Received: zoom_range={value!r}")


def _float_dtype(dtype, where):
    """A NumPy floating dtype (None: float32, Keras's floatx)."""
    if dtype is None:
        return np.dtype(np.float32)
    try:
        result = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"{where}: argument 'dtype' must be a floating dtype such as "
                         f"'float32'. Received: dtype={dtype!r}") from exc
    if result.kind != "f":
        raise ValueError(f"{where}: argument 'dtype' must be a floating dtype such as "
                         f"'float32'. Received: dtype={dtype!r}")
    return result


def _seed(seed, where):
    """``seed`` checked: None or an integer >= 0."""
    return check_seed(seed, where, expected="an integer >= 0")


def _batch_size(batch_size, where):
    """A batch size: an integer >= 1."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or \
            batch_size < 1:
        raise ValueError(f"{where}: argument 'batch_size' must be an integer >= 1. "
                         f"Received: batch_size={batch_size!r}")
    return int(batch_size)


def _image_batch(x, name, where):
    """``x`` as a rank-4 real NumPy array ``(N, H, W, C)`` with N >= 1 (no copy)."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: argument '{name}' must be a real numeric array. "
                        f"Received: dtype {array.dtype}")
    if array.ndim != 4:
        raise ValueError(f"{where}: argument '{name}' must have rank 4 "
                         f"(samples, height, width, channels). "
                         f"Received: an array of shape {array.shape}")
    if array.shape[0] == 0 or 0 in array.shape[1:]:
        raise ValueError(f"{where}: argument '{name}' must hold at least one non-empty "
                         f"image. Received: an array of shape {array.shape}")
    return array


def _warn_channels(shape, where):
    """Keras warns when the last axis does not look like 1, 3 or 4 channels."""
    if shape[-1] not in (1, 3, 4):
        warnings.warn(f"{where}: expected images with 1, 3 or 4 channels on the last axis "
                      f"(channels_last). Received: an array of shape {shape} "
                      f"({shape[-1]} channels).", stacklevel=3)


# ---------------------------------------------------------------- transform matrices


def transform_matrix_offset_center(matrix, x, y):
    """Move a 3x3 transform about the pixel-grid centre (Keras's helper).

    Args:
        matrix (array-like): ``(3, 3)`` homogeneous transform about the origin.
        x (int): number of rows (height).
        y (int): number of columns (width).

    Returns:
        ``offset @ matrix @ reset``, with ``offset`` the translation to
        ``(x / 2 - 0.5, y / 2 - 0.5)`` and ``reset`` its inverse.

    Example:
        >>> import numpy as np
        >>> from minidl.preprocessing.image import transform_matrix_offset_center
        >>> flip = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
        >>> transform_matrix_offset_center(flip, 4, 4)  # mirrors about the centre of a 4x4 image
        array([[ 1.,  0.,  0.],
               [ 0., -1.,  3.],
               [ 0.,  0.,  1.]])
    """
    o_x = float(x) / 2 - 0.5
    o_y = float(y) / 2 - 0.5
    offset = np.array([[1.0, 0.0, o_x], [0.0, 1.0, o_y], [0.0, 0.0, 1.0]])
    reset = np.array([[1.0, 0.0, -o_x], [0.0, 1.0, -o_y], [0.0, 0.0, 1.0]])
    return offset @ np.asarray(matrix, dtype=np.float64) @ reset


def transform_matrices(height, width, theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0,
                       flip_horizontal=False, flip_vertical=False):
    """The output-to-input matrices that ``ImageDataGenerator`` warps with.

    For each image: ``rotation @ shift @ shear @ zoom``, moved to the image centre
    (``transform_matrix_offset_center``), i.e. Keras's ``apply_affine_transform``,
    optionally followed by flips of the output (folded into the matrix).
    Parameters broadcast against each other (scalars or 1-D arrays of one length).

    Args:
        height (int): image height (rows).
        width (int): image width (columns).
        theta (float or array-like): rotation in degrees.
        tx (float or array-like): shift along rows, in pixels.
        ty (float or array-like): shift along columns, in pixels.
        shear (float or array-like): shear angle in degrees.
        zx (float or array-like): zoom along rows (the row coordinate is multiplied by
            ``zx``).
        zy (float or array-like): zoom along columns.
        flip_horizontal (bool or array-like): whether to flip each warped image
            left-right.
        flip_vertical (bool or array-like): whether to flip each warped image upside
            down.

    Returns:
        ``(N, 2, 3)`` float64 matrices for ``minidl.ops.affine_warp``: output pixel
        ``(r, c)`` samples the input at ``m @ (r, c, 1)``.

    Example:
        >>> from minidl.preprocessing.image import transform_matrices
        >>> transform_matrices(4, 4, flip_horizontal=True).round(3)
        array([[[ 1.,  0.,  0.],
                [ 0., -1.,  3.]]])
    """
    theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=np.float64))
          for v in (theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical)))
    cos_t, sin_t = np.cos(np.deg2rad(theta)), np.sin(np.deg2rad(theta))
    sin_s, cos_s = np.sin(np.deg2rad(shear)), np.cos(np.deg2rad(shear))
    m = np.empty(theta.shape + (2, 3))
    # linear part: rotation @ shear @ zoom (the shift does not touch it)
    m[:, 0, 0] = cos_t * zx
    m[:, 0, 1] = -(cos_t * sin_s + sin_t * cos_s) * zy
    m[:, 1, 0] = sin_t * zx
    m[:, 1, 1] = (cos_s * cos_t - sin_t * sin_s) * zy
    # translation: the rotated shift, then the move to the centre o: t + o - A @ o
    o_r, o_c = height / 2 - 0.5, width / 2 - 0.5
    m[:, 0, 2] = cos_t * tx - sin_t * ty + o_r - m[:, 0, 0] * o_r - m[:, 0, 1] * o_c
    m[:, 1, 2] = sin_t * tx + cos_t * ty + o_c - m[:, 1, 0] * o_r - m[:, 1, 1] * o_c
    # a flip of the output reads row (height - 1 - r) / column (width - 1 - c), i.e.
    # m @ [[-1, 0, h-1], [0, 1, 0], [0, 0, 1]] / m @ [[1, 0, 0], [0, -1, w-1], [0, 0, 1]]
    for axis, size, flip in ((0, height, flip_vertical), (1, width, flip_horizontal)):
        flip = flip != 0
        m[flip, :, 2] += m[flip, :, axis] * (size - 1)
        m[flip, :, axis] *= -1
    return m


# ---------------------------------------------------------------- the generator


class ImageDataGenerator:
    """Generate batches of image data with real-time data augmentation (Keras's API).

    Args:
        featurewise_center (bool): subtract the dataset's per-channel mean (from
            ``fit``).
        samplewise_center (bool): subtract each image's mean.
        featurewise_std_normalization (bool): divide by the dataset's per-channel
            standard deviation (from ``fit``); turns ``featurewise_center`` on, as in
            Keras.
        samplewise_std_normalization (bool): divide each image by its standard
            deviation; turns ``samplewise_center`` on.
        zca_whitening (bool): not supported (``True`` raises ``NotImplementedError``).
        zca_epsilon (float): accepted for compatibility; unused.
        rotation_range (float): rotations drawn uniformly in ``[-rotation_range,
            rotation_range]`` degrees.
        width_shift_range (float or int or list of float): a float (uniform in
            ``[-r, r]``; a fraction of the width if ``r < 1``, else pixels), an int ``n``
            (pixels from ``{-(n-1), ..., n-1}``) or a 1-D sequence (an element with a
            random sign; fractions if all ``< 1``); all values >= 0.
        height_shift_range (float or int or list of float): the same for the height.
        brightness_range (tuple of 2 floats or None): a pair ``(lo, hi)`` with
            ``0 <= lo <= hi``; each image's brightness factor is drawn in it (see
            ``apply_transform``).
        shear_range (float): shear angles drawn in ``[-shear_range, shear_range]``
            degrees.
        zoom_range (float or tuple of 2 floats): a float ``z`` (``[1 - z, 1 + z]``) or a
            pair ``[lo, hi]``; the row and column zooms are drawn independently.
        channel_shift_range (float): a value drawn in ``[-r, r]`` is added to every
            channel, clipped to the image's range.
        fill_mode (str): ``'nearest'`` (default), ``'constant'``, ``'reflect'`` or
            ``'wrap'`` (periodic, scipy ``'grid-wrap'``; see the module docstring).
        cval (float): the value outside the image for ``fill_mode='constant'``.
        horizontal_flip (bool): flip half of the images left-right.
        vertical_flip (bool): flip half of the images upside down.
        rescale (float or None): multiply the data by this number (after the
            augmentation); None or 0: no rescaling.
        preprocessing_function (callable or None): called on each augmented image
            ``(H, W, C)`` before the rest of ``standardize``; must return an image of
            the same shape.
        data_format (str or None): ``None`` or ``'channels_last'`` (the only supported
            layout).
        validation_split (float): fraction of the data held out for
            ``flow(subset=...)``: 0, or strictly between 0 and 1.
        interpolation_order (int): only ``1`` (bilinear) is supported.
        dtype (str or numpy.dtype or None): floating dtype of the batches (default
            float32).

    Example:
        >>> import numpy as np
        >>> from minidl.preprocessing.image import ImageDataGenerator
        >>> images = np.random.default_rng(0).random((10, 8, 8, 3)).astype("float32")
        >>> flow = ImageDataGenerator(horizontal_flip=True, rotation_range=10).flow(
        ...     images, np.arange(10), batch_size=4, seed=0)
        >>> x_batch, y_batch = next(flow)
        >>> x_batch.shape, y_batch.shape
        ((4, 8, 8, 3), (4,))
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None,
                 shear_range=0.0, zoom_range=0.0, channel_shift_range=0.0,
                 fill_mode="nearest", cval=0.0, horizontal_flip=False, vertical_flip=False,
                 rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        where = "ImageDataGenerator"
        if _boolean(zca_whitening, "zca_whitening", where):
            raise NotImplementedError(
                f"{where}: zca_whitening=True is not supported by minidl. Use "
                f"featurewise_center/featurewise_std_normalization, or whiten the data "
                f"before calling flow().")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{where}: argument 'data_format' must be None or "
                             f"'channels_last' (the only layout minidl supports). "
                             f"Received: data_format={data_format!r}")
        if not isinstance(fill_mode, str) or fill_mode not in _FILL_MODES:
            raise ValueError(f"{where}: argument 'fill_mode' must be one of "
                             f"{list(_FILL_MODES)}. Received: fill_mode={fill_mode!r}")
        if isinstance(interpolation_order, bool) or interpolation_order != 1:
            raise ValueError(f"{where}: argument 'interpolation_order' must be 1 (bilinear, "
                             f"the only order minidl supports). "
                             f"Received: interpolation_order={interpolation_order!r}")
        if rescale is not None:
            _real(rescale, "rescale", where)
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise TypeError(f"{where}: argument 'preprocessing_function' must be None or a "
                            f"callable. Received: {preprocessing_function!r}")
        if (not _is_real(validation_split) or not np.isfinite(validation_split)
                or (validation_split and not 0 < validation_split < 1)):
            raise ValueError(f"{where}: argument 'validation_split' must be 0 or strictly "
                             f"between 0 and 1. Received: validation_split="
                             f"{validation_split!r}")
        if brightness_range is not None and not (
                isinstance(brightness_range, (tuple, list)) and len(brightness_range) == 2
                and all(_is_real(v) and np.isfinite(v) and v >= 0 for v in brightness_range)
                and brightness_range[0] <= brightness_range[1]):
            raise ValueError(f"{where}: argument 'brightness_range' must be None or a tuple "
                             f"or list of two floats (lower, upper) with "
                             f"0 <= lower <= upper. "
                             f"Received: brightness_range={brightness_range!r}")

        self.featurewise_center = _boolean(featurewise_center, "featurewise_center", where)
        self.samplewise_center = _boolean(samplewise_center, "samplewise_center", where)
        self.featurewise_std_normalization = _boolean(
            featurewise_std_normalization, "featurewise_std_normalization", where)
        self.samplewise_std_normalization = _boolean(
            samplewise_std_normalization, "samplewise_std_normalization", where)
        self.zca_whitening = False
        self.zca_epsilon = zca_epsilon
        self.rotation_range = _nonnegative_real(rotation_range, "rotation_range", where)
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self._width_shift = _shift_spec(width_shift_range, "width_shift_range", where)
        self._height_shift = _shift_spec(height_shift_range, "height_shift_range", where)
        self.brightness_range = brightness_range
        self.shear_range = _nonnegative_real(shear_range, "shear_range", where)
        self.zoom_range = _zoom_bounds(zoom_range, where)
        self.channel_shift_range = _nonnegative_real(channel_shift_range,
                                                     "channel_shift_range", where)
        self.fill_mode = fill_mode
        self.cval = _real(cval, "cval", where)
        self.horizontal_flip = _boolean(horizontal_flip, "horizontal_flip", where)
        self.vertical_flip = _boolean(vertical_flip, "vertical_flip", where)
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.data_format = "channels_last"
        self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        self.interpolation_order = 1
        self.dtype = _float_dtype(dtype, where)
        self._validation_split = float(validation_split)
        self.mean = None
        self.std = None
        self._workspace = threading.local()

        # Keras: std normalization implies centering (with a warning)
        if self.featurewise_std_normalization and not self.featurewise_center:
            self.featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, "
                          "which overrides setting of `featurewise_center`.", stacklevel=2)
        if self.samplewise_std_normalization and not self.samplewise_center:
            self.samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, "
                          "which overrides setting of `samplewise_center`.", stacklevel=2)

    # ------------------------------------------------------------ random parameters

    def _draw_shift(self, spec, size, n, rng):
        """n shifts in pixels for a ``_shift_spec`` along an axis of ``size`` pixels."""
        if spec is None:
            return np.zeros(n)
        kind, value = spec
        if kind == "uniform":
            shift = rng.uniform(-value, value, n)
        else:
            magnitude = (rng.integers(0, value, n) if kind == "integers"
                         else rng.choice(value, n))
            shift = magnitude * rng.choice(np.array([-1.0, 1.0]), n)
        if np.max(value) < 1:  # fractions of the image size
            shift = shift * size
        return np.asarray(shift, dtype=np.float64)

    def _draw_transforms(self, n, img_shape, rng):
        """Parameters for n images as arrays (Keras's draws, vectorised over images)."""
        h, w = img_shape[0], img_shape[1]
        params = {}
        params["theta"] = (rng.uniform(-self.rotation_range, self.rotation_range, n)
                           if self.rotation_range else np.zeros(n))
        params["tx"] = self._draw_shift(self._height_shift, h, n, rng)
        params["ty"] = self._draw_shift(self._width_shift, w, n, rng)
        params["shear"] = (rng.uniform(-self.shear_range, self.shear_range, n)
                           if self.shear_range else np.zeros(n))
        low, high = self.zoom_range
        if low == 1 and high == 1:
            params["zx"], params["zy"] = np.ones(n), np.ones(n)
        else:
            zoom = rng.uniform(low, high, (n, 2))
            params["zx"], params["zy"] = zoom[:, 0], zoom[:, 1]
        params["flip_horizontal"] = (rng.random(n) < 0.5 if self.horizontal_flip
                                     else np.zeros(n, dtype=bool))
        params["flip_vertical"] = (rng.random(n) < 0.5 if self.vertical_flip
                                   else np.zeros(n, dtype=bool))
        params["channel_shift_intensity"] = (
            rng.uniform(-self.channel_shift_range, self.channel_shift_range, n)
            if self.channel_shift_range else None)
        params["brightness"] = (rng.uniform(self.brightness_range[0],
                                            self.brightness_range[1], n)
                                if self.brightness_range is not None else None)
        return params

    def get_random_transform(self, img_shape, seed=None):
        """Draw the parameters of a random transformation of one image.

        Args:
            img_shape (tuple of 3 ints): shape of the image, ``(height, width,
                channels)``.
            seed (int or None): an integer >= 0 for a repeatable draw; None draws from
                minidl's global generator (``minidl.utils.set_random_seed``).

        Returns:
            A dict with ``'theta'`` (degrees), ``'tx'`` (row shift, pixels), ``'ty'``
            (column shift, pixels), ``'shear'`` (degrees), ``'zx'``, ``'zy'``,
            ``'flip_horizontal'``, ``'flip_vertical'`` (bools),
            ``'channel_shift_intensity'`` and ``'brightness'`` (floats, or None when not
            configured).
        """
        where = "ImageDataGenerator.get_random_transform"
        shape = tuple(img_shape)
        if len(shape) != 3:
            raise ValueError(f"{where}: argument 'img_shape' must be (height, width, "
                             f"channels). Received: img_shape={img_shape!r}")
        rng = generator_for(_seed(seed, where))
        params = self._draw_transforms(1, shape, rng)
        result = {}
        for key, value in params.items():
            if value is None:
                result[key] = None
            elif value.dtype == bool:
                result[key] = bool(value[0])
            else:
                result[key] = float(value[0])
        return result

    # ------------------------------------------------------------ transforms

    def _apply_batch(self, images, params, dtype):
        """Transform a batch ``(N, H, W, C)`` with parameter arrays; returns ``dtype``."""
        n, h, w, _ = images.shape
        geometric = ((params["theta"] != 0) | (params["tx"] != 0) | (params["ty"] != 0)
                     | (params["shear"] != 0) | (params["zx"] != 1) | (params["zy"] != 1))
        flip_h = np.asarray(params["flip_horizontal"], dtype=bool)
        flip_v = np.asarray(params["flip_vertical"], dtype=bool)
        if geometric.any():
            # every image of the batch in one call, the flips folded into the matrices
            # (a separate flip pass would cost a second full-size output per batch)
            matrices = transform_matrices(h, w, params["theta"], params["tx"], params["ty"],
                                          params["shear"], params["zx"], params["zy"],
                                          flip_h, flip_v)
            batch = ops.affine_warp(self._warp_source(images, dtype), matrices,
                                    self.fill_mode, self.cval)
            if self.fill_mode == "constant":
                self._constant_outside(batch, matrices)
            batch = batch.astype(dtype, copy=False)
        else:
            if flip_h.any():
                batch = ops.flip_left_right(self._warp_source(images, dtype), flip_h)
                batch = batch.astype(dtype, copy=False)
            else:
                batch = images.astype(dtype)  # a copy: the caller's data stays untouched
            if flip_v.any():
                batch[flip_v] = batch[flip_v, ::-1]
        shift = params.get("channel_shift_intensity")
        if shift is not None:
            batch = self._channel_shift(batch, np.asarray(shift, dtype=np.float64))
        brightness = params.get("brightness")
        if brightness is not None:
            batch = self._brightness(batch, np.asarray(brightness, dtype=np.float64))
        return batch

    def _scratch(self, name, shape, dtype):
        """A per-thread work buffer, reused from batch to batch.

        A fresh ~0.4 MB temporary per batch costs more in page faults than the work
        done in it (glibc hands such blocks back to the OS when they are freed).
        """
        buffer = getattr(self._workspace, name, None)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = np.empty(shape, dtype=dtype)
            setattr(self._workspace, name, buffer)
        return buffer

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_workspace"]  # thread-local buffers do not pickle
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._workspace = threading.local()

    def _warp_source(self, images, dtype):
        """``images`` in ``dtype`` (the caller's array when it already is, else a copy
        in a work buffer): what the warp reads."""
        if images.dtype == dtype and images.flags.c_contiguous:
            return images
        buffer = self._scratch("source", images.shape, dtype)
        np.copyto(buffer, images, casting="unsafe")
        return buffer

    def _constant_outside(self, batch, matrices):
        """Set ``cval`` where the source point lies outside ``[0, H-1] x [0, W-1]``.

        scipy's ``'constant'`` mode (which Keras uses) does not blend ``cval`` into the
        border pixels as ``affine_warp``'s ``'constant'`` (scipy ``'grid-constant'``) does:
        a sample is ``cval`` as soon as its source point is outside the pixel centres.
        """
        n, h, w, _ = batch.shape
        rows = np.arange(h, dtype=np.float64)[:, None]
        cols = np.arange(w, dtype=np.float64)[None, :]
        coord = self._scratch("coord", (n, h, w), np.float64)
        inside = self._scratch("inside", (n, h, w), np.bool_)
        test = self._scratch("test", (n, h, w), np.bool_)
        inside.fill(True)
        for axis, size in ((0, h), (1, w)):
            m = matrices[:, axis, :, None, None]
            # the source coordinate m0 * r + m1 * c + m2, summed as the kernel does
            np.multiply(m[:, 0], rows, out=coord)
            coord += m[:, 1] * cols
            coord += m[:, 2]
            inside &= np.greater_equal(coord, 0, out=test)
            inside &= np.less_equal(coord, size - 1, out=test)
        # indexing the outside pixels is much faster than a broadcast where= mask
        outside = np.flatnonzero(np.logical_not(inside, out=test))
        batch.reshape(-1, batch.shape[-1])[outside] = self.cval

    @staticmethod
    def _channel_shift(batch, intensity):
        """Keras's ``apply_channel_shift`` per image: add, clip to the image's range."""
        low = batch.min(axis=(1, 2, 3), keepdims=True)
        high = batch.max(axis=(1, 2, 3), keepdims=True)
        shifted = batch + intensity.reshape(-1, 1, 1, 1).astype(batch.dtype)
        return np.clip(shifted, low, high, out=shifted)

    @staticmethod
    def _brightness(batch, factor):
        """Keras's brightness shift (PIL ``ImageEnhance.Brightness``) without uint8 steps.

        An image within ``[0, 255]`` becomes ``clip(x * b, 0, 255)``; any other image is
        mapped to ``[0, 255]`` by its min and max first, as Keras does, i.e.
        ``min + clip((x - min) * b, 0, max - min)``.
        """
        low = batch.min(axis=(1, 2, 3), keepdims=True)
        high = batch.max(axis=(1, 2, 3), keepdims=True)
        in_byte_range = (low >= 0) & (high <= 255)
        base = np.where(in_byte_range, 0, low).astype(batch.dtype)
        span = np.where(in_byte_range, 255, high - low).astype(batch.dtype)
        b = factor.reshape(-1, 1, 1, 1).astype(batch.dtype)
        return base + np.clip((batch - base) * b, 0, span)

    @staticmethod
    def _params_as_arrays(transform_parameters):
        """A Keras parameter dict for one image as length-1 arrays (missing: identity)."""
        where = "ImageDataGenerator.apply_transform"
        if not isinstance(transform_parameters, dict):
            raise TypeError(f"{where}: argument 'transform_parameters' must be a dict. "
                            f"Received: {type(transform_parameters).__name__}")
        defaults = {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0}
        params = {}
        for key, default in defaults.items():
            value = transform_parameters.get(key, default)
            params[key] = np.array([_real(value, f"transform_parameters['{key}']", where)])
        for key in ("flip_horizontal", "flip_vertical"):
            params[key] = np.array([bool(transform_parameters.get(key, False))])
        for key in ("channel_shift_intensity", "brightness"):
            value = transform_parameters.get(key)
            params[key] = (None if value is None else
                           np.array([_real(value, f"transform_parameters['{key}']", where)]))
        return params

    def apply_transform(self, x, transform_parameters):
        """Transform one image with given parameters (Keras's ``apply_transform``).

        Order, as Keras: the affine warp (rotation, shift, shear, zoom), the channel
        shift, the flips, the brightness shift. The brightness follows Keras's PIL path
        without its uint8 steps: an image within ``[0, 255]`` becomes
        ``clip(x * brightness, 0, 255)`` (Keras also truncates it to integers first);
        other images are mapped to ``[0, 255]`` by their min and max, as in Keras.

        Args:
            x (array-like): one real image ``(height, width, channels)``.
            transform_parameters (dict): a dict as returned by ``get_random_transform``;
                missing keys mean no change.

        Returns:
            The transformed image, same shape; floating images keep their dtype,
            integer images come back in the generator's ``dtype``.
        """
        where = "ImageDataGenerator.apply_transform"
        image = np.asarray(x)
        if image.ndim != 3 or image.dtype.kind not in "biuf":
            raise ValueError(f"{where}: argument 'x' must be one real image of rank 3 "
                             f"(height, width, channels). Received: an array of shape "
                             f"{image.shape} and dtype {image.dtype}")
        params = self._params_as_arrays(transform_parameters)
        dtype = image.dtype if image.dtype.kind == "f" else self.dtype
        return self._apply_batch(image[np.newaxis], params, dtype)[0]

    def random_transform(self, x, seed=None):
        """Apply a random transformation to one image.

        Args:
            x (array-like): one real image ``(height, width, channels)``.
            seed (int or None): an integer >= 0 for a repeatable draw; None: minidl's
                global generator.

        Returns:
            The transformed image (see ``apply_transform``).
        """
        params = self.get_random_transform(np.shape(x), seed)
        return self.apply_transform(x, params)

    def _augment(self, images, rng):
        """Draw a transform per image and apply them all: the batch in ``self.dtype``."""
        params = self._draw_transforms(images.shape[0], images.shape[1:], rng)
        return self._apply_batch(images, params, self.dtype)

    # ------------------------------------------------------------ standardization

    def _warn_not_fit(self, name):
        warnings.warn(f"This ImageDataGenerator specifies `{name}`, but it hasn't been fit "
                      f"on any training data. Fit it first by calling `.fit(numpy_data)`.",
                      stacklevel=3)

    def _featurewise(self, x):
        """Featurewise centering and scaling, in place (after the samplewise steps)."""
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                self._warn_not_fit("featurewise_center")
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= self.std + _STD_EPSILON
            else:
                self._warn_not_fit("featurewise_std_normalization")
        return x

    def standardize(self, x):
        """Apply the normalization configuration to ``x``, in place as Keras does.

        Order: ``preprocessing_function``, ``rescale``, samplewise centering and
        scaling, featurewise centering and scaling (``x / (std + 1e-6)``). As in Keras,
        the samplewise statistics are taken over all of ``x``: pass one image (``flow``
        standardizes image by image). A floating ``x`` is modified in place and
        returned; any other input is first converted to the generator's ``dtype``.

        Args:
            x (array-like): one image ``(H, W, C)`` (or a batch, see above); a floating
                NumPy array is modified in place.

        Returns:
            The standardized array.
        """
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(self.dtype)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + _STD_EPSILON
        return self._featurewise(x)

    def _standardize_batch(self, batch):
        """``standardize`` image by image, vectorised over the batch (in place)."""
        if self.preprocessing_function:
            images = [np.asarray(self.preprocessing_function(image)) for image in batch]
            if any(image.shape != batch.shape[1:] for image in images):
                shapes = sorted({image.shape for image in images})
                raise ValueError(f"ImageDataGenerator: 'preprocessing_function' must return "
                                 f"an image of its input's shape {batch.shape[1:]}. "
                                 f"Received: shapes {shapes}")
            batch = np.stack(images).astype(self.dtype, copy=False)
        if self.rescale:
            batch *= self.rescale
        if self.samplewise_center:
            batch -= np.mean(batch, axis=(1, 2, 3), keepdims=True)
        if self.samplewise_std_normalization:
            batch /= np.std(batch, axis=(1, 2, 3), keepdims=True) + _STD_EPSILON
        return self._featurewise(batch)

    # ------------------------------------------------------------ fit

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the featurewise statistics (per-channel mean and std) of ``x``.

        As in Keras, ``rescale`` is applied first and, with ``augment``, ``rounds``
        randomly transformed copies of the data are used. The standard deviation is the
        population one (``ddof=0``) of the centred data. Statistics are accumulated in
        float64 over chunks of images (no full augmented copy is held in memory) and
        stored as ``self.mean``/``self.std`` of shape ``(1, 1, C)``. Only needed with
        ``featurewise_center`` or ``featurewise_std_normalization``.

        Args:
            x (array-like): real images ``(N, H, W, C)``.
            augment (bool): whether to fit on randomly augmented images.
            rounds (int): number of augmentation passes over the data (with
                ``augment``), >= 1.
            seed (int or None): an integer >= 0 for repeatable augmentation; None:
                minidl's global generator.
        """
        where = "ImageDataGenerator.fit"
        data = _image_batch(x, "x", where)
        _warn_channels(data.shape, where)
        augment = _boolean(augment, "augment", where)
        if isinstance(rounds, bool) or not isinstance(rounds, numbers.Integral) or rounds < 1:
            raise ValueError(f"{where}: argument 'rounds' must be an integer >= 1. "
                             f"Received: rounds={rounds!r}")
        rng = generator_for(_seed(seed, where))
        if not self.featurewise_center:
            return
        channels = data.shape[-1]
        count, mean, m2 = 0, np.zeros(channels), np.zeros(channels)
        for _ in range(rounds if augment else 1):
            for start in range(0, data.shape[0], _FIT_CHUNK):
                chunk = data[start:start + _FIT_CHUNK].astype(self.dtype)
                if self.rescale:
                    chunk *= self.rescale
                if augment:
                    chunk = self._augment(chunk, rng)
                chunk = chunk.astype(np.float64).reshape(-1, channels)
                # Chan et al.'s pairwise update: numerically stable in one pass
                chunk_mean = chunk.mean(axis=0)
                chunk_m2 = np.square(chunk - chunk_mean).sum(axis=0)
                total = count + chunk.shape[0]
                delta = chunk_mean - mean
                mean = mean + delta * (chunk.shape[0] / total)
                m2 = m2 + chunk_m2 + np.square(delta) * (count * chunk.shape[0] / total)
                count = total
        self.mean = mean.reshape(1, 1, channels).astype(self.dtype)
        if self.featurewise_std_normalization:
            self.std = np.sqrt(m2 / count).reshape(1, 1, channels).astype(self.dtype)

    # ------------------------------------------------------------ flow

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix="", save_format="png", ignore_class_split=False,
             subset=None):
        """Iterate over augmented batches of ``x`` (and ``y``, ``sample_weight``).

        Args:
            x (array-like or tuple): real images ``(N, H, W, C)``; or Keras's
                ``(images, extra)`` tuple whose extra arrays (one, or a list) are batched
                alongside, unchanged.
            y (array-like or None): labels, ``len(y) == len(x)``, or None.
            batch_size (int): images per batch; the last batch of an epoch may be
                smaller.
            shuffle (bool): reshuffle the order every epoch.
            sample_weight (array-like or None): per-sample weights, or None.
            seed (int or None): an integer >= 0 makes the order and the augmentation
                repeatable; None seeds the iterator from minidl's global generator.
            save_to_dir (None): not supported (must be None; a folder raises
                ``NotImplementedError``).
            save_prefix (str): unused (Keras's ``save_to_dir`` option).
            save_format (str): unused (Keras's ``save_to_dir`` option).
            ignore_class_split (bool): with ``subset``, skip the check that both subsets
                hold the same classes.
            subset (str or None): ``'training'`` or ``'validation'`` (with
                ``validation_split``): the validation subset is the first
                ``int(N * validation_split)`` samples.

        Returns:
            A ``NumpyArrayIterator``.
        """
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle,
                                  sample_weight=sample_weight, seed=seed,
                                  data_format=self.data_format, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format,
                                  subset=subset, ignore_class_split=ignore_class_split,
                                  dtype=self.dtype)


    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb",
                            classes=None, class_mode="categorical", batch_size=32,
                            shuffle=True, seed=None, save_to_dir=None, save_prefix="",
                            save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """Iterate over augmented batches of the images in a folder of class sub-folders
        (Keras's ``flow_from_directory``); the files are read batch by batch.

        Args:
            directory (str or os.PathLike): the folder; each sub-folder is a class, its
                images (found recursively) that class's samples.
            target_size (tuple of 2 ints): ``(height, width)`` every image is resized to.
            color_mode (str): ``'rgb'``, ``'rgba'`` or ``'grayscale'``.
            classes (list of str or None): the sub-folders to use, in label order
                (default: all, sorted).
            class_mode (str or None): ``'categorical'`` (one-hot), ``'binary'``,
                ``'sparse'`` (the label, as a float), ``'input'`` (the images
                themselves) or None (images only).
            batch_size (int): images per batch.
            shuffle (bool): reshuffle the order every epoch.
            seed (int or None): an integer >= 0 makes the order and the augmentation
                repeatable; None seeds the iterator from minidl's global generator.
            save_to_dir (None): not supported (must be None; a folder raises
                ``NotImplementedError``).
            save_prefix (str): unused (Keras's ``save_to_dir`` option).
            save_format (str): unused (Keras's ``save_to_dir`` option).
            follow_links (bool): accepted (folders are walked as they are).
            subset (str or None): ``'training'`` or ``'validation'`` (with
                ``validation_split``): per class, the first ``validation_split`` of its
                sorted files are validation.
            interpolation (str): the resize filter (see ``minidl.utils.load_img``).
            keep_aspect_ratio (bool): crop the centre to the target ratio before
                resizing.

        Returns:
            A ``DirectoryIterator``.
        """
        return DirectoryIterator(directory, self, target_size=target_size,
                                 color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size,
                                 shuffle=shuffle, seed=seed, save_to_dir=save_to_dir,
                                 subset=subset, interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio, dtype=self.dtype)


# ---------------------------------------------------------------- the iterator


class NumpyArrayIterator:
    """Batches of augmented images from NumPy arrays (``ImageDataGenerator.flow``).

    A Keras ``Sequence``/``PyDataset``: ``len()`` is the number of batches per epoch,
    ``it[i]`` is batch ``i`` of the current epoch's order (freshly augmented on every
    call), ``on_epoch_end()`` reshuffles. It is also an endless iterator: ``next(it)``
    walks through the epoch's batches and reshuffles when an epoch is done. Each batch
    is ``x`` or ``(x, y)`` or ``(x, y, sample_weight)``.

    The order and the augmentation draw from the iterator's own generator, seeded with
    ``seed`` (or, if None, with a number drawn from minidl's global generator), so two
    iterators with the same seed give the same batches.

    Args:
        x (array-like or tuple): real images ``(N, H, W, C)``, or an
            ``(images, extra)`` tuple (see ``flow``).
        y (array-like or None): labels or None.
        image_data_generator (ImageDataGenerator): the generator that transforms the
            images.
        batch_size (int): images per batch.
        shuffle (bool): reshuffle every epoch.
        sample_weight (array-like or None): per-sample weights or None.
        seed (int or None): None or an integer >= 0.
        data_format (str or None): None or ``'channels_last'``.
        save_to_dir (None): not supported (must be None).
        save_prefix (str): unused.
        save_format (str): unused.
        subset (str or None): None, ``'training'`` or ``'validation'``.
        ignore_class_split (bool): skip the class check of ``subset``.
        dtype (str or numpy.dtype or None): floating dtype of the image batches
            (default: the generator's).

    Example:
        >>> import numpy as np
        >>> from minidl.preprocessing.image import ImageDataGenerator
        >>> generator = ImageDataGenerator(horizontal_flip=True)
        >>> flow = generator.flow(np.zeros((10, 4, 4, 3)), np.arange(10), batch_size=4, seed=0)
        >>> len(flow), [len(flow[i][0]) for i in range(len(flow))]
        (3, [4, 4, 2])
    """

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False,
                 sample_weight=None, seed=None, data_format=None, save_to_dir=None,
                 save_prefix="", save_format="png", subset=None, ignore_class_split=False,
                 dtype=None):
        where = "ImageDataGenerator.flow"
        self._configure(image_data_generator, seed, shuffle, save_to_dir, dtype, where)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{where}: argument 'data_format' must be None or "
                             f"'channels_last'. Received: data_format={data_format!r}")
        batch_size = _batch_size(batch_size, where)
        x, x_misc = self._split_inputs(x, where)
        if y is not None and len(x) != len(y):
            raise ValueError(f"{where}: `x` (images tensor) and `y` (labels) should have the "
                             f"same length. Received: len(x) = {len(x)}, len(y) = {len(y)}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError(f"{where}: `x` (images tensor) and `sample_weight` should have "
                             f"the same length. Received: len(x) = {len(x)}, "
                             f"len(sample_weight) = {len(sample_weight)}")
        _boolean(ignore_class_split, "ignore_class_split", where)
        if subset is not None:
            x, y, sample_weight, x_misc = self._select_subset(
                subset, image_data_generator._validation_split, x, y, sample_weight, x_misc,
                ignore_class_split, where)
        self.x = _image_batch(x, "x", where)
        _warn_channels(self.x.shape, where)
        self.x_misc = x_misc
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.save_prefix, self.save_format = save_prefix, save_format
        self.subset = subset
        self.image_shape = self.x.shape[1:]
        self._start(self.x.shape[0], batch_size)

    def _configure(self, image_data_generator, seed, shuffle, save_to_dir, dtype, where):
        """The options every iterator checks and keeps: the generator, the seed, the
        shuffle flag, the batches' dtype (save_to_dir is refused)."""
        if not isinstance(image_data_generator, ImageDataGenerator):
            raise TypeError(f"{type(self).__name__}: argument 'image_data_generator' must be "
                            f"an ImageDataGenerator. Received: {type(image_data_generator)}")
        if save_to_dir is not None:
            raise NotImplementedError(f"{where}: save_to_dir is not supported by minidl; "
                                      f"save the batches yourself.")
        self.seed = _seed(seed, where)
        self.shuffle = _boolean(shuffle, "shuffle", where)
        self.image_data_generator = image_data_generator
        self.data_format, self.save_to_dir = "channels_last", None
        self.dtype = (image_data_generator.dtype if dtype is None
                      else _float_dtype(dtype, where))

    def _start(self, n, batch_size):
        """The epoch state of ``n`` samples in batches of ``batch_size``: the counters,
        the lock, the iterator's own generator and the first epoch's order."""
        self.n = n
        self.batch_size = int(batch_size)
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        seed_value = (self.seed if self.seed is not None
                      else int(global_generator().integers(2**63)))
        self._rng = np.random.default_rng(seed_value)
        self.index_array = None
        self._set_index_array()

    @staticmethod
    def _split_inputs(x, where):
        """Keras's ``(images, extra)`` form: the images and a list of extra arrays."""
        if not isinstance(x, (tuple, list)):
            return x, []
        if len(x) != 2:
            raise ValueError(f"{where}: a tuple 'x' must be (images, extra arrays). "
                             f"Received: a {type(x).__name__} of length {len(x)}")
        images, extra = x
        extra = [np.asarray(e) for e in extra] if isinstance(extra, list) else [np.asarray(extra)]
        for array in extra:
            if len(array) != len(images):
                raise ValueError(f"{where}: all of the arrays in `x` should have the same "
                                 f"length. Received: len(x[0]) = {len(images)}, "
                                 f"len(x[1]) = {len(array)}")
        return images, extra

    @staticmethod
    def _select_subset(subset, split, x, y, sample_weight, x_misc, ignore_class_split, where):
        """The validation (first ``int(N * split)`` samples) or training subset."""
        if subset not in _SUBSETS:
            raise ValueError(f"{where}: argument 'subset' must be None or one of "
                             f"{list(_SUBSETS)}. Received: subset={subset!r}")
        split_idx = int(len(x) * split)
        if (y is not None and not ignore_class_split
                and not np.array_equal(np.unique(y[:split_idx]), np.unique(y[split_idx:]))):
            raise ValueError(f"{where}: training and validation subsets have different "
                             f"classes after the split. If your arrays are sorted by label, "
                             f"shuffle them first (or pass ignore_class_split=True).")
        part = slice(None, split_idx) if subset == "validation" else slice(split_idx, None)
        if len(range(len(x))[part]) == 0:
            raise ValueError(f"{where}: subset={subset!r} is empty with validation_split="
                             f"{split} and {len(x)} samples.")
        def pick(array):
            return None if array is None else array[part]

        return (pick(x), pick(y), pick(sample_weight),
                [np.asarray(e[part]) for e in x_misc])

    # ------------------------------------------------------------ Sequence protocol

    def __len__(self):
        """Batches per epoch, ``ceil(n / batch_size)`` (the last one may be partial)."""
        return (self.n + self.batch_size - 1) // self.batch_size

    @property
    def num_batches(self):
        """Batches per epoch (Keras 3 ``PyDataset.num_batches``)."""
        return len(self)

    def _set_index_array(self):
        self.index_array = (self._rng.permutation(self.n) if self.shuffle
                            else np.arange(self.n))

    def on_epoch_end(self):
        """Start a new epoch: reshuffle (if ``shuffle``) and restart ``next()``."""
        with self.lock:
            self._set_index_array()
            self.batch_index = 0

    def reset(self):
        """Restart ``next()`` at the first batch of the current order."""
        self.batch_index = 0

    def __getitem__(self, idx):
        """Batch ``idx`` of the current epoch's order, freshly augmented."""
        if isinstance(idx, bool) or not isinstance(idx, numbers.Integral):
            raise TypeError(f"NumpyArrayIterator: batch index must be an integer. "
                            f"Received: {idx!r}")
        if not -len(self) <= idx < len(self):
            raise ValueError(f"NumpyArrayIterator: asked to retrieve batch {idx}, but the "
                             f"Sequence has length {len(self)}")
        idx = int(idx) % len(self)
        with self.lock:
            indices = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
            self.total_batches_seen += 1
            params = self._draw(indices)
        return self._batch(indices, params)

    def __iter__(self):
        return self

    def __next__(self):
        """The next batch; after the last batch of an epoch, reshuffle and start over."""
        with self.lock:
            if self.batch_index >= len(self):
                self._set_index_array()
                self.batch_index = 0
            start = self.batch_index * self.batch_size
            indices = self.index_array[start:start + self.batch_size]
            self.batch_index += 1
            self.total_batches_seen += 1
            params = self._draw(indices)
        # the warp runs outside the lock, so several threads can build batches at once
        return self._batch(indices, params)

    next = __next__  # Keras 2 spelling

    # ------------------------------------------------------------ batches

    def _draw(self, indices):
        """Transform parameters for the images at ``indices`` (under the lock)."""
        return self.image_data_generator._draw_transforms(len(indices), self.image_shape,
                                                          self._rng)

    def _images(self, indices):
        """The source images at ``indices`` (before augmentation)."""
        return self.x[indices]

    def _batch(self, indices, params):
        generator = self.image_data_generator
        images = generator._apply_batch(self._images(indices), params, self.dtype)
        images = generator._standardize_batch(images).astype(self.dtype, copy=False)
        inputs = [images] + [e[indices] for e in self.x_misc] if self.x_misc else images
        if self.y is None:
            return inputs
        if self.sample_weight is None:
            return inputs, self.y[indices]
        return inputs, self.y[indices], self.sample_weight[indices]


_CLASS_MODES = ("categorical", "binary", "sparse", "input", None)


class DirectoryIterator(NumpyArrayIterator):
    """Batches of augmented images read from a folder of class sub-folders
    (``ImageDataGenerator.flow_from_directory``): the same ``Sequence`` and iterator as
    :class:`NumpyArrayIterator`, the images read from their files when a batch is made.

    Its arguments are those of ``flow_from_directory`` (without ``save_prefix``,
    ``save_format`` and ``follow_links``), with the generator second and ``dtype``.

    Args:
        directory (str or os.PathLike): the folder; each sub-folder is a class, its
            images (found recursively) that class's samples.
        image_data_generator (ImageDataGenerator): the generator that transforms the
            images.
        target_size (tuple of 2 ints): ``(height, width)`` every image is resized to.
        color_mode (str): ``'rgb'``, ``'rgba'`` or ``'grayscale'``.
        classes (list of str or None): the sub-folders to use, in label order (default:
            all, sorted).
        class_mode (str or None): ``'categorical'``, ``'binary'``, ``'sparse'``,
            ``'input'`` or None (see ``flow_from_directory``).
        batch_size (int): images per batch.
        shuffle (bool): reshuffle the order every epoch.
        seed (int or None): None or an integer >= 0.
        save_to_dir (None): not supported (must be None).
        subset (str or None): None, ``'training'`` or ``'validation'`` (see
            ``flow_from_directory``).
        interpolation (str): the resize filter (see ``minidl.utils.load_img``).
        keep_aspect_ratio (bool): crop the centre to the target ratio before resizing.
        dtype (str or numpy.dtype or None): floating dtype of the image batches
            (default: the generator's).

    Attributes:
        filenames: the image files, relative to ``directory``, in label order.
        classes: the label of each file (int array).
        class_indices: ``{class name: label}``.
        num_classes, samples: the number of classes and of files.
        image_shape: ``(height, width, channels)`` of the batches' images.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import utils
        >>> from minidl.preprocessing.image import ImageDataGenerator
        >>> root = tempfile.mkdtemp()
        >>> for name in ("cats", "dogs"):
        ...     os.mkdir(os.path.join(root, name))
        ...     utils.save_img(os.path.join(root, name, "a.png"), np.zeros((8, 8, 3)), scale=False)
        >>> generator = ImageDataGenerator(rescale=1 / 255)
        >>> flow = generator.flow_from_directory(root, target_size=(4, 4), batch_size=2)
        >>> flow.class_indices, flow.filenames
        ({'cats': 0, 'dogs': 1}, ['cats/a.png', 'dogs/a.png'])
        >>> images, labels = flow[0]
        >>> images.shape, labels.shape
        ((2, 4, 4, 3), (2, 2))
    """

    def __init__(self, directory, image_data_generator, target_size=(256, 256),
                 color_mode="rgb", classes=None, class_mode="categorical", batch_size=32,
                 shuffle=True, seed=None, save_to_dir=None, subset=None,
                 interpolation="nearest", keep_aspect_ratio=False, dtype=None):
        where = "ImageDataGenerator.flow_from_directory"
        self._configure(image_data_generator, seed, shuffle, save_to_dir, dtype, where)
        if class_mode not in _CLASS_MODES:
            raise ValueError(f"{where}: argument 'class_mode' must be one of "
                             f"{list(_CLASS_MODES)}. Received: class_mode={class_mode!r}")
        channels = _image_utils.image_channels(color_mode, interpolation, where)
        if subset is not None and subset not in _SUBSETS:
            raise ValueError(f"{where}: argument 'subset' must be None or one of "
                             f"{list(_SUBSETS)}. Received: subset={subset!r}")
        batch_size = _batch_size(batch_size, where)
        height, width = (int(v) for v in target_size)
        self.directory, self.class_mode = directory, class_mode
        self.color_mode, self.target_size = color_mode, (height, width)
        self.interpolation, self.keep_aspect_ratio = interpolation, bool(keep_aspect_ratio)
        self.image_shape = (height, width, channels)
        names = _image_dataset.class_folders(directory, classes, where, "classes")
        split = image_data_generator._validation_split if subset is not None else 0.0
        self.filenames, labels = [], []
        for label, name in enumerate(names):
            files = _image_dataset.image_files(os.path.join(directory, name))
            first = int(len(files) * split)
            chosen = files[:first] if subset == "validation" else files[first:]
            self.filenames += [os.path.relpath(f, directory) for f in chosen]
            labels += [label] * len(chosen)
        self.classes = np.asarray(labels, dtype=np.int64)
        self.class_indices = {name: label for label, name in enumerate(names)}
        self.num_classes, self.samples = len(names), len(self.filenames)
        if class_mode == "binary" and self.num_classes != 2:
            raise ValueError(f"{where}: class_mode='binary' needs exactly 2 classes. "
                             f"Received: {self.num_classes} ({names})")
        self.subset = subset
        self.x_misc, self.sample_weight, self.y = [], None, None
        self._start(self.samples, batch_size)

    @property
    def filepaths(self):
        """The image files' full paths, in label order."""
        return [os.path.join(self.directory, f) for f in self.filenames]

    @property
    def labels(self):
        """The label of each file (Keras's alias of ``classes``)."""
        return self.classes

    def _images(self, indices):
        """The files at ``indices``, read and resized."""
        images = np.empty((len(indices),) + self.image_shape, dtype=self.dtype)
        for row, index in enumerate(indices):
            img = _image_utils.load_img(os.path.join(self.directory, self.filenames[index]),
                                        self.color_mode, self.target_size, self.interpolation,
                                        self.keep_aspect_ratio)
            images[row] = _image_utils.img_to_array(img, dtype=self.dtype)
        return images

    def _batch(self, indices, params):
        images = super()._batch(indices, params)
        if self.class_mode is None:
            return images
        if self.class_mode == "input":
            return images, images.copy()
        labels = self.classes[indices]
        if self.class_mode == "categorical":
            return images, np.eye(self.num_classes, dtype=self.dtype)[labels]
        return images, labels.astype(self.dtype)
