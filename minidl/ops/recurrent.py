"""One step of the recurrent cells (LSTM, GRU): the gates and states of a time step and
their gradients, on the C kernels. The matrix products around a step (``x W``, ``h U``)
are :func:`minidl.ops.matmul` calls made by the layers."""
from minidl.backend import backend_of


def _arrays(backend, where, **arrays):
    """Each named array prepared for the kernel (C-contiguous, the first one's dtype)."""
    prepared, dtype = {}, None
    for name, value in arrays.items():
        array = backend.prepare(value, name, where, dtype=dtype)
        if array.ndim != 2:
            raise ValueError(f"{where}: argument '{name}' must be 2-D (batch, width). "
                             f"Received: shape {array.shape}")
        dtype = array.dtype
        prepared[name] = array
    return prepared


def lstm_cell(z, c_prev):
    """One LSTM step from its pre-activations ``z = x W + h_prev U + b`` (Keras's gate
    order i, f, g, o along the last axis): ``c = f c_prev + i g``, ``h = o tanh(c)``.

    Args:
        z (array): ``(batch, 4 units)`` pre-activations.
        c_prev (array): ``(batch, units)`` previous cell state.

    Returns:
        ``(gates, c, h)``: the activated gates ``(batch, 4 units)`` (kept for the
        backward), the cell state and the hidden state ``(batch, units)``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> gates, c, h = ops.lstm_cell(np.zeros((1, 4)), np.ones((1, 1)))
        >>> gates, c, h.round(4)
        (array([[0.5, 0.5, 0. , 0.5]]), array([[0.5]]), array([[0.2311]]))
    """
    backend = backend_of(z, c_prev)
    a = _arrays(backend, "lstm_cell", z=z, c_prev=c_prev)
    gates = backend.empty(a["z"].shape, dtype=a["z"].dtype)
    c = backend.empty(a["c_prev"].shape, dtype=a["z"].dtype)
    h = backend.empty(a["c_prev"].shape, dtype=a["z"].dtype)
    backend.require("lstm_cell_forward", "lstm_cell")(gates, c, h, a["z"], a["c_prev"])
    return gates, c, h


def lstm_cell_backward(dh, dc, gates, c, c_prev):
    """Gradients of :func:`lstm_cell`.

    Args:
        dh (array): ``(batch, units)`` gradient of ``h``.
        dc (array or None): ``(batch, units)`` gradient of ``c`` from the next step (None:
            zero, the last step).
        gates (array): the forward's gates.
        c (array): the forward's cell state.
        c_prev (array): the forward's previous cell state.

    Returns:
        ``(dz, dc_prev)``: the gradients of ``z`` and of ``c_prev``.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> gates, c, h = ops.lstm_cell(np.zeros((1, 4)), np.ones((1, 1)))
        >>> dz, dc_prev = ops.lstm_cell_backward(np.ones((1, 1)), None, gates, c, c_prev=np.ones((1, 1)))
        >>> dz.shape, dc_prev.shape
        ((1, 4), (1, 1))
    """
    backend = backend_of(dh, gates)
    named = dict(dh=dh, gates=gates, c=c, c_prev=c_prev)
    if dc is not None:
        named["dc"] = dc
    a = _arrays(backend, "lstm_cell_backward", **named)
    dz = backend.empty(a["gates"].shape, dtype=a["dh"].dtype)
    dc_prev = backend.empty(a["dh"].shape, dtype=a["dh"].dtype)
    backend.require("lstm_cell_backward", "lstm_cell_backward")(
        dz, dc_prev, a["gates"], a["c"], a["c_prev"], a["dh"], a.get("dc"))
    return dz, dc_prev


def gru_cell(xz, hz, h_prev):
    """One GRU step as Keras's default (``reset_after=True``; gate order u, r, n along
    the last axis): ``h = u h_prev + (1 - u) n``, ``n = tanh(xz_n + r hz_n)``.

    Args:
        xz (array): ``(batch, 3 units)``: ``x W + b_input``.
        hz (array): ``(batch, 3 units)``: ``h_prev U + b_recurrent``.
        h_prev (array): ``(batch, units)`` previous hidden state.

    Returns:
        ``(gates, h)``: the gates ``u, r, n`` ``(batch, 3 units)`` and the new state.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> gates, h = ops.gru_cell(np.zeros((1, 3)), np.zeros((1, 3)), np.ones((1, 1)))
        >>> gates, h
        (array([[0.5, 0.5, 0. ]]), array([[0.5]]))
    """
    backend = backend_of(xz, hz, h_prev)
    a = _arrays(backend, "gru_cell", xz=xz, hz=hz, h_prev=h_prev)
    gates = backend.empty(a["xz"].shape, dtype=a["xz"].dtype)
    h = backend.empty(a["h_prev"].shape, dtype=a["xz"].dtype)
    backend.require("gru_cell_forward", "gru_cell")(gates, h, a["xz"], a["hz"], a["h_prev"])
    return gates, h


def gru_cell_backward(dh, gates, hz, h_prev):
    """Gradients of :func:`gru_cell`.

    Args:
        dh (array): ``(batch, units)`` gradient of ``h``.
        gates (array): the forward's gates.
        hz (array): the forward's ``hz``.
        h_prev (array): the forward's previous state.

    Returns:
        ``(dxz, dhz, dh_prev)``: the gradients of ``xz`` and ``hz`` and the part of
        ``h_prev``'s that does not pass through ``hz`` (the caller adds ``dhz U^T``).

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> gates, h = ops.gru_cell(np.zeros((1, 3)), np.zeros((1, 3)), np.ones((1, 1)))
        >>> dxz, dhz, dh_prev = ops.gru_cell_backward(np.ones((1, 1)), gates, np.zeros((1, 3)),
        ...                                           np.ones((1, 1)))
        >>> dh_prev
        array([[0.5]])
    """
    backend = backend_of(dh, gates)
    a = _arrays(backend, "gru_cell_backward", dh=dh, gates=gates, hz=hz, h_prev=h_prev)
    dxz = backend.empty(a["gates"].shape, dtype=a["dh"].dtype)
    dhz = backend.empty(a["gates"].shape, dtype=a["dh"].dtype)
    dh_prev = backend.empty(a["dh"].shape, dtype=a["dh"].dtype)
    backend.require("gru_cell_backward", "gru_cell_backward")(
        dxz, dhz, dh_prev, a["gates"], a["hz"], a["h_prev"], a["dh"])
    return dxz, dhz, dh_prev
