"""Reshaping layers, as ``keras.layers``: Reshape, Permute, UpSampling2D, ZeroPadding2D
and Cropping2D. They move values without arithmetic, except UpSampling2D's backward,
which sums each block of the gradient (``minidl.ops.sum``, in the C core)."""
import numpy as np

from minidl import ops
from minidl.layers.base import Layer, checked_size, positive_int
from minidl.layers.convolutional import _pair


def _require_rank(layer, input_shape, rank):
    if len(input_shape) != rank:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': the input must have rank "
                         f"{rank} (batch axis included). Received: shape {tuple(input_shape)}")


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (row-major order, no copy).

    Args:
        target_shape (int or tuple of ints): the shape of one sample; one entry may be
            -1 (inferred).
        **kwargs: Layer arguments.

    Input shape: ``(batch, ...)``. Output shape: ``(batch,) + target_shape``.

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Reshape((3, -1))(np.zeros((2, 12))).shape
        (2, 3, 4)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        shape = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else \
            (target_shape,)
        if not shape or sum(d == -1 for d in shape) > 1 or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) or
                (d <= 0 and d != -1) for d in shape):
            raise ValueError(f"Reshape: argument 'target_shape' must hold positive ints and "
                             f"at most one -1. Received: target_shape={target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)

    def compute_output_shape(self, input_shape):
        """``(batch,) + target_shape`` with a -1 resolved (None if the input's size is)."""
        where = f"Reshape '{self.name}'"
        rest = tuple(input_shape[1:])
        known = [d for d in self.target_shape if d != -1]
        target_size = checked_size(tuple(known), where, "target_shape")
        if any(d is None for d in rest):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        size = checked_size(rest, where, "the input shape")
        if -1 in self.target_shape:
            if size % target_size:
                raise ValueError(f"{where}: cannot reshape samples of shape {rest} ({size} "
                                 f"values) to {self.target_shape}")
            return (input_shape[0],) + tuple(size // target_size if d == -1 else d
                                             for d in self.target_shape)
        if size != target_size:
            raise ValueError(f"{where}: total size of the new shape {self.target_shape} "
                             f"({target_size}) must equal the input's {rest} ({size})")
        return (input_shape[0],) + self.target_shape

    def build(self, input_shape):
        """Check that the sizes agree (no weights)."""
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=False):
        """The reshaped inputs."""
        self._cache = {"shape": inputs.shape}
        return inputs.reshape((inputs.shape[0],) + self.compute_output_shape(inputs.shape)[1:])

    def backward(self, dy):
        """dy reshaped back."""
        return dy.reshape(self._need_cache("shape"))

    def get_config(self):
        """Adds ``target_shape``."""
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is a permutation of 1..rank-1.

    Args:
        dims (tuple of ints): a permutation of 1..rank-1, e.g. ``(2, 1)`` swaps the
            two axes of a rank-3 input.
        **kwargs: Layer arguments.

    Input shape: ``(batch, d1, ..., dk)`` with ``k = len(dims)``. Output shape: the same
    sizes in the order ``dims`` gives them (``dims=(2, 1)``: ``(batch, d2, d1)``).

    Call arguments:
        inputs (numpy.ndarray): the array.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Permute((2, 1))(np.zeros((2, 3, 5))).shape
        (2, 5, 3)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: argument 'dims' must be a permutation of "
                             f"1..{len(dims)}. Received: dims={dims!r}")
        self.dims = dims

    def compute_output_shape(self, input_shape):
        """The input shape with its non-batch axes permuted."""
        _require_rank(self, input_shape, len(self.dims) + 1)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def build(self, input_shape):
        """Check the rank (no weights)."""
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=False):
        """The permuted inputs (a contiguous copy)."""
        return ops.transpose(inputs, (0,) + self.dims)

    def backward(self, dy):
        """dy permuted back."""
        inverse = (0,) + tuple(int(i) + 1 for i in np.argsort(self.dims))
        return ops.transpose(dy, inverse)

    def get_config(self):
        """Adds ``dims``."""
        config = super().get_config()
        config["dims"] = list(self.dims)
        return config


class UpSampling2D(Layer):
    """Repeats each pixel ``size`` times along height and width (nearest neighbour).

    Args:
        size (int or tuple of 2 ints): the ``(rows, cols)`` factors (default 2).
        data_format (str or None): None or ``'channels_last'``.
        interpolation (str): ``'nearest'`` (``'bilinear'`` raises NotImplementedError;
            use :class:`Resizing`).
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, H*rows, W*cols, C)``.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
        >>> layers.UpSampling2D(2)(x)[0, :, :, 0]
        array([[0., 0., 1., 1.],
               [0., 0., 1., 1.],
               [2., 2., 3., 3.],
               [2., 2., 3., 3.]], dtype=float32)
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"UpSampling2D: only data_format='channels_last' is supported. "
                             f"Received: data_format={data_format!r}")
        if interpolation != "nearest":
            raise NotImplementedError(f"UpSampling2D: interpolation={interpolation!r} is "
                                      f"not implemented (only 'nearest'); use "
                                      f"layers.Resizing for bilinear resizing")
        self.size = _pair(size, "UpSampling2D", "size")

    def compute_output_shape(self, input_shape):
        """``(batch, H*rows, W*cols, C)``."""
        _require_rank(self, input_shape, 4)
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size[0],
                None if w is None else w * self.size[1], c)

    def build(self, input_shape):
        """Check the rank (no weights)."""
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=False):
        """Each pixel repeated into a rows x cols block (on the host: no kernel)."""
        inputs = ops.convert_to_numpy(inputs)
        return np.repeat(np.repeat(inputs, self.size[0], axis=1), self.size[1], axis=2)

    def backward(self, dy):
        """The sum of dy over each block."""
        n, h, w, c = dy.shape
        rows, cols = self.size
        blocks = dy.reshape(n, h // rows, rows, w // cols, cols, c)
        return ops.sum(blocks, axis=(2, 4))

    def get_config(self):
        """Adds ``size`` and ``interpolation``."""
        config = super().get_config()
        config.update(size=list(self.size), interpolation="nearest")
        return config


def _margins(value, layer_name, argument):
    """((top, bottom), (left, right)) from an int, a pair of ints or a pair of pairs."""
    def pair(v):
        pair_value = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
        if len(pair_value) != 2 or any(isinstance(p, bool) or not isinstance(
                p, (int, np.integer)) or p < 0 for p in pair_value):
            raise ValueError
        return tuple(int(p) for p in pair_value)
    try:
        if isinstance(value, (int, np.integer)):
            return pair(value), pair(value)
        rows, cols = value  # ints (symmetric) or (before, after) pairs
        return pair(rows), pair(cols)
    except (TypeError, ValueError):
        raise ValueError(f"{layer_name}: argument '{argument}' must be an int >= 0, a pair "
                         f"of them or a pair of pairs. Received: {argument}={value!r}") from None


class _Borders2D(Layer):
    """Shared by ZeroPadding2D and Cropping2D: margins of rows and columns added around
    (``grow=1``) or removed from (``grow=-1``) each NHWC image."""

    _grow = 1
    _argument = "padding"

    def __init__(self, margins, data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{cls}: only data_format='channels_last' is supported. "
                             f"Received: data_format={data_format!r}")
        self.margins = _margins(margins, cls, self._argument)

    def compute_output_shape(self, input_shape):
        """``(batch, H +/- top + bottom, W +/- left + right, C)``."""
        _require_rank(self, input_shape, 4)
        (top, bottom), (left, right) = self.margins
        n, h, w, c = input_shape
        out_h = None if h is None else h + self._grow * (top + bottom)
        out_w = None if w is None else w + self._grow * (left + right)
        if (out_h is not None and out_h <= 0) or (out_w is not None and out_w <= 0):
            raise ValueError(f"{type(self).__name__} '{self.name}': {self._argument} "
                             f"{self.margins} leaves nothing of inputs of shape "
                             f"{tuple(input_shape)}")
        return (n, out_h, out_w, c)

    def build(self, input_shape):
        """Check the rank and the margins (no weights)."""
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    # on the host (no kernel): a device array is copied there, and the next op that
    # meets a device weight copies the result back
    def _pad(self, array):
        (top, bottom), (left, right) = self.margins
        return np.pad(ops.convert_to_numpy(array), ((0, 0), (top, bottom), (left, right),
                                                    (0, 0)))

    def _crop(self, array):
        (top, bottom), (left, right) = self.margins
        h, w = array.shape[1:3]
        return np.ascontiguousarray(ops.convert_to_numpy(array)[:, top:h - bottom,
                                                                left:w - right])

    def get_config(self):
        """Adds the margins under their Keras name."""
        config = super().get_config()
        config[self._argument] = [list(p) for p in self.margins]
        return config


class ZeroPadding2D(_Borders2D):
    """Adds rows and columns of zeros around each image.

    Args:
        padding (int or tuple of 2 ints or tuple of 2 tuples of 2 ints): an int,
            ``(rows, cols)`` (symmetric) or ``((top, bottom), (left, right))``; sizes
            >= 0.
        data_format (str or None): None or ``'channels_last'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)``. Output shape:
    ``(batch, top + H + bottom, left + W + right, C)``.

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.ZeroPadding2D(((1, 0), (2, 2)))(np.ones((1, 3, 3, 2))).shape
        (1, 4, 7, 2)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)

    @property
    def padding(self):
        """``((top, bottom), (left, right))``."""
        return self.margins

    def call(self, inputs, training=False):
        """The padded images."""
        return self._pad(inputs)

    def backward(self, dy):
        """dy without the padded border."""
        return self._crop(dy)


class Cropping2D(_Borders2D):
    """Removes rows and columns at the borders of each image.

    Args:
        cropping (int or tuple of 2 ints or tuple of 2 tuples of 2 ints): an int,
            ``(rows, cols)`` (symmetric) or ``((top, bottom), (left, right))``; sizes
            >= 0.
        data_format (str or None): None or ``'channels_last'``.
        **kwargs: Layer arguments.

    Input shape: ``(batch, H, W, C)``. Output shape:
    ``(batch, H - top - bottom, W - left - right, C)`` (both sizes must stay positive).

    Call arguments:
        inputs (numpy.ndarray): the images.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Cropping2D(((1, 0), (0, 2)))(np.ones((1, 5, 5, 2))).shape
        (1, 4, 3, 2)
    """

    _grow = -1
    _argument = "cropping"

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)

    @property
    def cropping(self):
        """``((top, bottom), (left, right))``."""
        return self.margins

    def call(self, inputs, training=False):
        """The cropped images (a contiguous copy)."""
        return self._crop(inputs)

    def backward(self, dy):
        """dy with zeros where the borders were cropped."""
        return self._pad(dy)


class RepeatVector(Layer):
    """Repeats each input vector ``n`` times along a new axis 1
    (``keras.layers.RepeatVector``; an encoder's summary fed to every decoder step).

    Args:
        n (int): the repetitions.
        **kwargs: Layer arguments.

    Input shape: ``(batch, features)``. Output shape: ``(batch, n, features)``.

    Call arguments:
        inputs (numpy.ndarray): the vectors.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.RepeatVector(3)(np.array([[1.0, 2.0]]))
        array([[[1., 2.],
                [1., 2.],
                [1., 2.]]], dtype=float32)
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "RepeatVector", "n")

    def compute_output_shape(self, input_shape):
        """``(batch, n, features)``."""
        _require_rank(self, input_shape, 2)
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs, training=False):
        """Each row repeated ``n`` times."""
        _require_rank(self, inputs.shape, 2)
        return np.ascontiguousarray(np.broadcast_to(inputs[:, None, :], (
            inputs.shape[0], self.n, inputs.shape[1])))

    def backward(self, dy):
        """The sum of the repetitions' gradients."""
        return ops.sum(dy, axis=1)

    def get_config(self):
        """Constructor arguments."""
        config = super().get_config()
        config["n"] = self.n
        return config


class Identity(Layer):
    """Returns its input unchanged (``keras.layers.Identity``, a placeholder).

    Args:
        trainable (bool): as :class:`Layer` (the layer has no weights).
        name (str or None): the layer's name (default: made unique).
        dtype (str or numpy.dtype or None): ``'float32'`` (default) or ``'float64'``.
        input_shape (int or tuple of ints or None): the shape of one sample, for a
            model's first layer.
        batch_size (int or None): the batch size that goes with ``input_shape``.
        **kwargs: ``batch_input_shape`` or ``input_dim``, as :class:`Layer`.

    Input shape: any, ``(batch, ...)``. Output shape: the input's.

    Call arguments:
        inputs (numpy.ndarray): the input.
        training (bool): unused.

    Example:
        >>> import numpy as np
        >>> from minidl import layers
        >>> layers.Identity()(np.array([[1.0, 2.0]]))
        array([[1., 2.]], dtype=float32)
    """

    supports_masking = True  # a mask passes through unchanged

    def call(self, inputs, training=False):
        """The input."""
        return inputs

    def backward(self, dy):
        """The output's gradient."""
        return dy
