"""Image files to arrays and back, as ``keras.utils.load_img`` and friends, through
Pillow (the optional ``image`` extra: ``pip install "minidl[image]"``)."""
import os

import numpy as np

_COLOR_MODES = {"rgb": "RGB", "rgba": "RGBA", "grayscale": "L"}
_RESAMPLING = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def _pil_image():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("minidl's image files need Pillow: pip install pillow (or the "
                          "'image' extra of minidl)") from None
    return Image


def image_channels(color_mode, interpolation, where):
    """Check the reading options of ``load_img`` (and of the loaders that call it, before
    they read anything); returns the channels an image has in ``color_mode``."""
    if color_mode not in _COLOR_MODES:
        raise ValueError(f"{where}: argument 'color_mode' must be one of "
                         f"{sorted(_COLOR_MODES)}. Received: {color_mode!r}")
    if interpolation not in _RESAMPLING:
        raise ValueError(f"{where}: argument 'interpolation' must be one of {_RESAMPLING}. "
                         f"Received: {interpolation!r}")
    return len(_COLOR_MODES[color_mode])  # "L", "RGB", "RGBA"


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """An image file as a PIL image (``keras.utils.load_img``).

    Args:
        path (str or os.PathLike): the file (any format Pillow reads).
        color_mode (str): ``'rgb'``, ``'rgba'`` or ``'grayscale'``.
        target_size (tuple of 2 ints or None): ``(height, width)`` to resize to, or None.
        interpolation (str): ``'nearest'``, ``'bilinear'``, ``'bicubic'``, ``'lanczos'``,
            ``'box'`` or ``'hamming'`` (Pillow's resampling filters).
        keep_aspect_ratio (bool): crop the centre to the target's aspect ratio before
            resizing.

    Returns:
        A ``PIL.Image.Image``.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import utils
        >>> path = os.path.join(tempfile.mkdtemp(), "black.png")
        >>> utils.save_img(path, np.zeros((4, 6, 3)), scale=False)
        >>> utils.load_img(path, target_size=(2, 3)).size
        (3, 2)
    """
    Image = _pil_image()
    image_channels(color_mode, interpolation, "load_img")
    with Image.open(os.fspath(path)) as source:
        img = source.convert(_COLOR_MODES[color_mode])
    if target_size is not None:
        height, width = (int(v) for v in target_size)
        if keep_aspect_ratio:
            img = _crop_to_ratio(img, width / height)
        if img.size != (width, height):
            img = img.resize((width, height), getattr(Image.Resampling, interpolation.upper()))
    return img


def _crop_to_ratio(img, ratio):
    """The centre crop of ``img`` with width / height = ``ratio``."""
    width, height = img.size
    crop_w, crop_h = min(width, round(height * ratio)), min(height, round(width / ratio))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return img.crop((left, top, left + crop_w, top + crop_h))


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a ``(height, width, channels)`` array (``keras.utils.img_to_array``;
    a grayscale image gets a channel axis of 1).

    Args:
        img (PIL.Image.Image): a PIL image.
        data_format (str or None): ``None`` or ``'channels_last'`` (minidl's layout).
        dtype (str or numpy.dtype or None): the array's dtype; default ``'float32'``.

    Example:
        >>> import numpy as np
        >>> from minidl import utils
        >>> image = utils.array_to_img(np.zeros((4, 6, 3)))
        >>> utils.img_to_array(image).shape
        (4, 6, 3)
    """
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"img_to_array: only data_format='channels_last' is "
                                  f"implemented. Received: {data_format!r}")
    array = np.asarray(img, dtype=dtype or "float32")
    return array[:, :, np.newaxis] if array.ndim == 2 else array


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A ``(height, width, channels)`` array as a PIL image (``keras.utils.array_to_img``).

    Args:
        x (array-like): the array, of shape ``(height, width, channels)`` with 1, 3 or 4
            channels.
        data_format (str or None): ``None`` or ``'channels_last'``.
        scale (bool): stretch the values to 0-255 first (as Keras does); else the values
            are rounded and clipped to 0-255.
        dtype (str or numpy.dtype or None): accepted for Keras compatibility and ignored
            (the image holds 8-bit pixels).

    Example:
        >>> import numpy as np
        >>> from minidl import utils
        >>> image = utils.array_to_img(np.zeros((4, 6, 3)))
        >>> image.size  # (width, height), as Pillow reports it
        (6, 4)
    """
    Image = _pil_image()
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"array_to_img: only data_format='channels_last' is "
                                  f"implemented. Received: {data_format!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] not in (1, 3, 4):
        raise ValueError(f"array_to_img: argument 'x' must have shape (height, width, "
                         f"1, 3 or 4). Received: shape {x.shape}")
    if scale:
        x = x - x.min()
        top = x.max()
        x = x / top * 255 if top > 0 else x
    pixels = np.clip(np.round(x), 0, 255).astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[x.shape[2]]
    return Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode)


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save an array as an image file (``keras.utils.save_img``), written to a temporary
    file and moved into place, so a failed write leaves no half-written image.

    Args:
        path (str or os.PathLike): the file; its extension names the format unless
            ``file_format`` does.
        x (array-like): the ``(height, width, channels)`` array (1, 3 or 4 channels).
        data_format (str or None): as ``array_to_img``.
        file_format (str or None): e.g. ``'png'``.
        scale (bool): as ``array_to_img``.
        **kwargs: passed to Pillow's ``save``.

    Example:
        >>> import numpy as np
        >>> import os, tempfile
        >>> from minidl import utils
        >>> path = os.path.join(tempfile.mkdtemp(), "gray.png")
        >>> utils.save_img(path, np.full((4, 6, 1), 128.0), scale=False)
        >>> utils.img_to_array(utils.load_img(path, color_mode="grayscale"))[0, 0]
        array([128.], dtype=float32)
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    path = os.fspath(path)
    fmt = file_format or os.path.splitext(path)[1].lstrip(".") or None
    partial = f"{path}.partial"
    try:
        img.save(partial, format={"jpg": "JPEG"}.get(fmt.lower(), fmt.upper()) if fmt else None,
                 **kwargs)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
