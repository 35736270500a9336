# Wrappers for csrc/image.c.

_FILL_MODE_CODES = {
    "nearest": MD_FILL_NEAREST,
    "constant": MD_FILL_CONSTANT,
    "reflect": MD_FILL_REFLECT,
    "wrap": MD_FILL_WRAP,
}


cdef int fill_mode_code(str where, str fill_mode) except -1:
    """'nearest' / 'constant' / 'reflect' / 'wrap' (any case) to md_fill_mode."""
    code = _FILL_MODE_CODES.get(fill_mode.lower())
    if code is None:
        raise ValueError(f"{where}: argument 'fill_mode' must be one of "
                         f"{tuple(_FILL_MODE_CODES)}. Received: {fill_mode!r}")
    return code


cdef int expect_nonempty(str where, str name, tuple shape) except -1:
    """Raise ValueError for an array with a zero-length axis."""
    if any(extent == 0 for extent in shape):
        raise ValueError(f"{where}: argument '{name}' must not be empty. "
                         f"Received: shape {shape}")
    return 0


def affine_warp(real[:, :, :, ::1] y not None, const real[:, :, :, ::1] x not None,
                const double[:, ::1] transforms not None, str fill_mode, double fill_value):
    """Bilinear affine warp of NHWC images (md_affine_warp).

    Output pixel (r, c) of image i samples x[i] at row t0*r + t1*c + t2 and column
    t3*r + t4*c + t5, with t = transforms[i]; neighbours outside the image follow
    fill_mode ('nearest', 'constant' (fill_value), 'reflect', 'wrap').

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n, out_h, out_w, c)): output, written.
        x (C-contiguous float32 or float64 numpy.ndarray (n, h, w, c)): input, same dtype as y.
        transforms (C-contiguous float64 numpy.ndarray (n, 6)): each image's transform
            t0..t5 (see above).
        fill_mode (str): 'nearest', 'constant', 'reflect' or 'wrap' (any case).
        fill_value (float): the constant of fill_mode 'constant'.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
        >>> shift = np.array([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]])  # sample row r + 1, column c
        >>> y = np.empty((1, 3, 3, 1))
        >>> _C.affine_warp(y, x, shift, "constant", -1.0)
        >>> y[0, :, :, 0]
        array([[ 3.,  4.,  5.],
               [ 6.,  7.,  8.],
               [-1., -1., -1.]])
    """
    cdef str where = "affine_warp"
    cdef int64_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef int64_t out_h = y.shape[1], out_w = y.shape[2]
    cdef int mode = fill_mode_code(where, fill_mode)
    cdef md_status status
    expect_nonempty(where, "x", shape_of(x, 4))
    expect_nonempty(where, "y", shape_of(y, 4))
    expect_shape(where, "y", shape_of(y, 4), (n, out_h, out_w, c))
    expect_shape(where, "transforms", shape_of(transforms, 2), (n, 6))
    with nogil:
        if real is float:
            status = md_affine_warp_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &transforms[0, 0],
                                        n, h, w, c, out_h, out_w, mode, fill_value)
        else:
            status = md_affine_warp_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0], &transforms[0, 0],
                                        n, h, w, c, out_h, out_w, mode, fill_value)
    check_status(status, where)


def flip_horizontal(real[:, :, :, ::1] y not None, const real[:, :, :, ::1] x not None,
                    const uint8_t[::1] flags=None):
    """Mirror NHWC images left-right (md_flip_horizontal).

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n, h, w, c)): output, written; must
            not overlap x.
        x (C-contiguous float32 or float64 numpy.ndarray (n, h, w, c)): input, same dtype as y.
        flags (C-contiguous uint8 numpy.ndarray (n,) or None): nonzero where an image
            flips (the others are copied); None flips every image.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(6.0).reshape(2, 1, 3, 1)  # two 1x3 images
        >>> y = np.empty_like(x)
        >>> _C.flip_horizontal(y, x, np.array([1, 0], dtype=np.uint8))  # flip the first only
        >>> y[:, 0, :, 0]
        array([[2., 1., 0.],
               [3., 4., 5.]])
    """
    cdef str where = "flip_horizontal"
    cdef int64_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef const uint8_t *flag_ptr = NULL
    cdef md_status status
    expect_nonempty(where, "x", shape_of(x, 4))
    expect_shape(where, "y", shape_of(y, 4), (n, h, w, c))
    if flags is not None:
        expect_shape(where, "flags", shape_of(flags, 1), (n,))
        flag_ptr = &flags[0]
    with nogil:
        if real is float:
            status = md_flip_horizontal_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0], flag_ptr,
                                            n, h, w, c)
        else:
            status = md_flip_horizontal_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0], flag_ptr,
                                            n, h, w, c)
    check_status(status, where)


def resize_bilinear(real[:, :, :, ::1] y not None, const real[:, :, :, ::1] x not None):
    """Bilinear resize of NHWC images with half-pixel centres, no antialiasing
    (md_resize_bilinear); the output size is y's.

    Args:
        y (C-contiguous float32 or float64 numpy.ndarray (n, out_h, out_w, c)): output, written.
        x (C-contiguous float32 or float64 numpy.ndarray (n, h, w, c)): input, same dtype as y.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
        >>> y = np.empty((1, 2, 2, 1))
        >>> _C.resize_bilinear(y, x)  # halving: each output is the mean of a 2x2 block
        >>> y[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    cdef str where = "resize_bilinear"
    cdef int64_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef int64_t out_h = y.shape[1], out_w = y.shape[2]
    cdef md_status status
    expect_nonempty(where, "x", shape_of(x, 4))
    expect_nonempty(where, "y", shape_of(y, 4))
    expect_shape(where, "y", shape_of(y, 4), (n, out_h, out_w, c))
    with nogil:
        if real is float:
            status = md_resize_bilinear_f32(&y[0, 0, 0, 0], &x[0, 0, 0, 0],
                                            n, h, w, c, out_h, out_w)
        else:
            status = md_resize_bilinear_f64(&y[0, 0, 0, 0], &x[0, 0, 0, 0],
                                            n, h, w, c, out_h, out_w)
    check_status(status, where)
