# Recurrent cells (LSTM, GRU): one time step's gates and state, forward and backward.
# The matrix products around them (x W, h U) are gemm calls made by minidl.ops.


cdef int _outputs_apart(str where, list outputs, list arrays) except -1:
    """Each output ``(name, address, bytes)`` shares no memory with any other array."""
    for out_name, out_address, out_bytes in outputs:
        for name, address, nbytes in arrays:
            if name != out_name:
                check_disjoint(where, out_name, <const void *><uintptr_t>out_address, out_bytes,
                               name, <const void *><uintptr_t>address, nbytes)
    return 0


cdef tuple _span(str name, const void *address, int64_t count, size_t item):
    return (name, <uintptr_t>address, <size_t>count * item)


cdef int64_t _units(str where, tuple shape, int gates) except -1:
    """The units of a ``(batch, gates * units)`` array of gate values."""
    if shape[1] % gates:
        raise ValueError(f"{where}: the gate arrays must have {gates} * units columns. "
                         f"Received: shape {shape}")
    return shape[1] // gates


def lstm_cell_forward(real[:, ::1] gates not None, real[:, ::1] c not None,
                      real[:, ::1] h not None, const real[:, ::1] z not None,
                      const real[:, ::1] c_prev not None):
    """One LSTM step (Keras's gate order i, f, g, o): the activated gates, the cell state
    ``c = f c_prev + i g`` and the output ``h = o tanh(c)``.

    Args:
        gates (C-contiguous float32 or float64 numpy.ndarray (batch, 4 units)): output,
            the activated gates.
        c (C-contiguous numpy.ndarray (batch, units)): output, the new cell state.
        h (C-contiguous numpy.ndarray (batch, units)): output, the new hidden state.
        z (C-contiguous numpy.ndarray (batch, 4 units)): the pre-activations
            ``x W + h_prev U + b``.
        c_prev (C-contiguous numpy.ndarray (batch, units)): the previous cell state.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> z = np.zeros((1, 4))  # batch 1, units 1: every gate's pre-activation is 0
        >>> gates, c, h = np.empty((1, 4)), np.empty((1, 1)), np.empty((1, 1))
        >>> _C.lstm_cell_forward(gates, c, h, z, np.ones((1, 1)))
        >>> gates.round(4)  # i, f, g, o
        array([[0.5, 0.5, 0. , 0.5]])
        >>> c.round(4), h.round(4)  # c = 0.5 * 1 + 0.5 * 0, h = 0.5 * tanh(0.5)
        (array([[0.5]]), array([[0.2311]]))
    """
    cdef int64_t batch = z.shape[0], units = _units("lstm_cell_forward", shape_of(z, 2), 4)
    cdef size_t item = sizeof(real)
    cdef md_status st
    for name, array, want in (("gates", gates, (batch, 4 * units)), ("c", c, (batch, units)),
                              ("h", h, (batch, units)), ("c_prev", c_prev, (batch, units))):
        expect_shape("lstm_cell_forward", name, shape_of(array, 2), want)
    if batch == 0 or units == 0:
        return
    spans = [_span("gates", &gates[0, 0], batch * 4 * units, item),
             _span("c", &c[0, 0], batch * units, item), _span("h", &h[0, 0], batch * units, item),
             _span("z", &z[0, 0], batch * 4 * units, item),
             _span("c_prev", &c_prev[0, 0], batch * units, item)]
    _outputs_apart("lstm_cell_forward", spans[:3], spans)
    with nogil:
        if real is float:
            st = md_lstm_cell_forward_f32(&gates[0, 0], &c[0, 0], &h[0, 0], &z[0, 0],
                                          &c_prev[0, 0], batch, units)
        else:
            st = md_lstm_cell_forward_f64(&gates[0, 0], &c[0, 0], &h[0, 0], &z[0, 0],
                                          &c_prev[0, 0], batch, units)
    check_status(st, "lstm_cell_forward")


def lstm_cell_backward(real[:, ::1] dz not None, real[:, ::1] dc_prev not None,
                       const real[:, ::1] gates not None, const real[:, ::1] c not None,
                       const real[:, ::1] c_prev not None, const real[:, ::1] dh not None,
                       const real[:, ::1] dc=None):
    """The gradient of one LSTM step: of its pre-activations and of the previous cell state.

    Args:
        dz (C-contiguous float32 or float64 numpy.ndarray (batch, 4 units)): output, the
            gradient of ``z``.
        dc_prev (C-contiguous numpy.ndarray (batch, units)): output, the gradient of
            ``c_prev``.
        gates (C-contiguous numpy.ndarray (batch, 4 units)): the forward's gates.
        c (C-contiguous numpy.ndarray (batch, units)): the forward's cell state.
        c_prev (C-contiguous numpy.ndarray (batch, units)): the forward's previous state.
        dh (C-contiguous numpy.ndarray (batch, units)): the gradient of ``h``.
        dc (C-contiguous numpy.ndarray (batch, units) or None): the gradient of ``c`` from
            the next step (None: zero).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> z, c_prev = np.zeros((1, 4)), np.ones((1, 1))
        >>> gates, c, h = np.empty((1, 4)), np.empty((1, 1)), np.empty((1, 1))
        >>> _C.lstm_cell_forward(gates, c, h, z, c_prev)
        >>> dz, dc_prev = np.empty((1, 4)), np.empty((1, 1))
        >>> _C.lstm_cell_backward(dz, dc_prev, gates, c, c_prev, np.ones((1, 1)))  # dc None: 0
        >>> dz.round(4), dc_prev.round(4)  # dz: of i, f, g, o
        (array([[0.    , 0.0983, 0.1966, 0.1155]]), array([[0.1966]]))
    """
    cdef int64_t batch = gates.shape[0]
    cdef int64_t units = _units("lstm_cell_backward", shape_of(gates, 2), 4)
    cdef size_t item = sizeof(real)
    cdef const real *dc_data = NULL
    cdef md_status st
    arrays = [("dz", dz, (batch, 4 * units)), ("dc_prev", dc_prev, (batch, units)),
              ("c", c, (batch, units)), ("c_prev", c_prev, (batch, units)),
              ("dh", dh, (batch, units))]
    if dc is not None:
        arrays.append(("dc", dc, (batch, units)))
    for name, array, want in arrays:
        expect_shape("lstm_cell_backward", name, shape_of(array, 2), want)
    if batch == 0 or units == 0:
        return
    if dc is not None:
        dc_data = &dc[0, 0]
    spans = [_span("dz", &dz[0, 0], batch * 4 * units, item),
             _span("dc_prev", &dc_prev[0, 0], batch * units, item),
             _span("gates", &gates[0, 0], batch * 4 * units, item),
             _span("c", &c[0, 0], batch * units, item),
             _span("c_prev", &c_prev[0, 0], batch * units, item),
             _span("dh", &dh[0, 0], batch * units, item),
             _span("dc", dc_data, batch * units, item)]
    _outputs_apart("lstm_cell_backward", spans[:2], spans)
    with nogil:
        if real is float:
            st = md_lstm_cell_backward_f32(&dz[0, 0], &dc_prev[0, 0], &gates[0, 0], &c[0, 0],
                                           &c_prev[0, 0], &dh[0, 0], dc_data, batch, units)
        else:
            st = md_lstm_cell_backward_f64(&dz[0, 0], &dc_prev[0, 0], &gates[0, 0], &c[0, 0],
                                           &c_prev[0, 0], &dh[0, 0], dc_data, batch, units)
    check_status(st, "lstm_cell_backward")


def gru_cell_forward(real[:, ::1] gates not None, real[:, ::1] h not None,
                     const real[:, ::1] xz not None, const real[:, ::1] hz not None,
                     const real[:, ::1] h_prev not None):
    """One GRU step as Keras's default (``reset_after=True``, gate order u, r, n):
    ``h = u h_prev + (1 - u) n`` with ``n = tanh(xz_n + r hz_n)``.

    Args:
        gates (C-contiguous float32 or float64 numpy.ndarray (batch, 3 units)): output,
            the gates ``u``, ``r`` and the candidate ``n``.
        h (C-contiguous numpy.ndarray (batch, units)): output, the new hidden state.
        xz (C-contiguous numpy.ndarray (batch, 3 units)): ``x W + b_input``.
        hz (C-contiguous numpy.ndarray (batch, 3 units)): ``h_prev U + b_recurrent``.
        h_prev (C-contiguous numpy.ndarray (batch, units)): the previous hidden state.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> xz, hz = np.zeros((1, 3)), np.zeros((1, 3))  # batch 1, units 1
        >>> gates, h = np.empty((1, 3)), np.empty((1, 1))
        >>> _C.gru_cell_forward(gates, h, xz, hz, np.ones((1, 1)))
        >>> gates.round(4), h.round(4)  # u, r, n; h = 0.5 * 1 + (1 - 0.5) * 0
        (array([[0.5, 0.5, 0. ]]), array([[0.5]]))
    """
    cdef int64_t batch = xz.shape[0], units = _units("gru_cell_forward", shape_of(xz, 2), 3)
    cdef size_t item = sizeof(real)
    cdef md_status st
    for name, array, want in (("gates", gates, (batch, 3 * units)), ("h", h, (batch, units)),
                              ("hz", hz, (batch, 3 * units)), ("h_prev", h_prev, (batch, units))):
        expect_shape("gru_cell_forward", name, shape_of(array, 2), want)
    if batch == 0 or units == 0:
        return
    spans = [_span("gates", &gates[0, 0], batch * 3 * units, item),
             _span("h", &h[0, 0], batch * units, item),
             _span("xz", &xz[0, 0], batch * 3 * units, item),
             _span("hz", &hz[0, 0], batch * 3 * units, item),
             _span("h_prev", &h_prev[0, 0], batch * units, item)]
    _outputs_apart("gru_cell_forward", spans[:2], spans)
    with nogil:
        if real is float:
            st = md_gru_cell_forward_f32(&gates[0, 0], &h[0, 0], &xz[0, 0], &hz[0, 0],
                                         &h_prev[0, 0], batch, units)
        else:
            st = md_gru_cell_forward_f64(&gates[0, 0], &h[0, 0], &xz[0, 0], &hz[0, 0],
                                         &h_prev[0, 0], batch, units)
    check_status(st, "gru_cell_forward")


def gru_cell_backward(real[:, ::1] dxz not None, real[:, ::1] dhz not None,
                      real[:, ::1] dh_prev not None, const real[:, ::1] gates not None,
                      const real[:, ::1] hz not None, const real[:, ::1] h_prev not None,
                      const real[:, ::1] dh not None):
    """The gradient of one GRU step: of ``xz``, of ``hz`` and the direct part of
    ``h_prev``'s (``dh u``; the caller adds ``dhz U^T``).

    Args:
        dxz (C-contiguous float32 or float64 numpy.ndarray (batch, 3 units)): output.
        dhz (C-contiguous numpy.ndarray (batch, 3 units)): output.
        dh_prev (C-contiguous numpy.ndarray (batch, units)): output.
        gates (C-contiguous numpy.ndarray (batch, 3 units)): the forward's gates.
        hz (C-contiguous numpy.ndarray (batch, 3 units)): the forward's ``hz``.
        h_prev (C-contiguous numpy.ndarray (batch, units)): the forward's previous state.
        dh (C-contiguous numpy.ndarray (batch, units)): the gradient of ``h``.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> xz, hz, h_prev = np.zeros((1, 3)), np.zeros((1, 3)), np.ones((1, 1))
        >>> gates, h = np.empty((1, 3)), np.empty((1, 1))
        >>> _C.gru_cell_forward(gates, h, xz, hz, h_prev)
        >>> dxz, dhz, dh_prev = np.empty((1, 3)), np.empty((1, 3)), np.empty((1, 1))
        >>> _C.gru_cell_backward(dxz, dhz, dh_prev, gates, hz, h_prev, np.ones((1, 1)))
        >>> dxz.round(4), dhz.round(4), dh_prev.round(4)  # dh_prev: the direct part dh * u
        (array([[0.25, 0.  , 0.5 ]]), array([[0.25, 0.  , 0.25]]), array([[0.5]]))
    """
    cdef int64_t batch = gates.shape[0]
    cdef int64_t units = _units("gru_cell_backward", shape_of(gates, 2), 3)
    cdef size_t item = sizeof(real)
    cdef md_status st
    for name, array, want in (("dxz", dxz, (batch, 3 * units)), ("dhz", dhz, (batch, 3 * units)),
                              ("dh_prev", dh_prev, (batch, units)), ("hz", hz, (batch, 3 * units)),
                              ("h_prev", h_prev, (batch, units)), ("dh", dh, (batch, units))):
        expect_shape("gru_cell_backward", name, shape_of(array, 2), want)
    if batch == 0 or units == 0:
        return
    spans = [_span("dxz", &dxz[0, 0], batch * 3 * units, item),
             _span("dhz", &dhz[0, 0], batch * 3 * units, item),
             _span("dh_prev", &dh_prev[0, 0], batch * units, item),
             _span("gates", &gates[0, 0], batch * 3 * units, item),
             _span("hz", &hz[0, 0], batch * 3 * units, item),
             _span("h_prev", &h_prev[0, 0], batch * units, item),
             _span("dh", &dh[0, 0], batch * units, item)]
    _outputs_apart("gru_cell_backward", spans[:3], spans)
    with nogil:
        if real is float:
            st = md_gru_cell_backward_f32(&dxz[0, 0], &dhz[0, 0], &dh_prev[0, 0], &gates[0, 0],
                                          &hz[0, 0], &h_prev[0, 0], &dh[0, 0], batch, units)
        else:
            st = md_gru_cell_backward_f64(&dxz[0, 0], &dhz[0, 0], &dh_prev[0, 0], &gates[0, 0],
                                          &hz[0, 0], &h_prev[0, 0], &dh[0, 0], batch, units)
    check_status(st, "gru_cell_backward")
