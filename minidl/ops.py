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

_ACTIVATION_NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax")


def _act_prepare(x, name, where, dtype=None):
    """``_prepare`` that keeps 0-d inputs 0-d (np.ascontiguousarray makes them 1-d)."""
    array = _prepare(x, name, where, dtype)
    if array.ndim == 1 and np.ndim(x) == 0:
        array = array.reshape(())
    return array


def _act_axis(axis, ndim, shape, where, name="axis"):
    """``axis`` in [-ndim, ndim) as a non-negative int, or a ValueError/TypeError."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{where}: argument '{name}' must be an int, received {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{where}: argument '{name}' must be in [{-ndim}, {ndim}) for an "
                         f"input of shape {shape}, received {axis}")
    return axis % ndim


def _act_same_shape(a, b, name_a, name_b, where):
    """Raise ValueError unless two arrays have the same shape (naming both shapes)."""
    if a.shape != b.shape:
        raise ValueError(f"{where}: arguments '{name_a}' and '{name_b}' must have the same "
                         f"shape, received {name_a}.shape={a.shape} and "
                         f"{name_b}.shape={b.shape}")


def _act_forward(x, name, where):
    """act(x) elementwise through the C kernel (empty arrays pass through)."""
    x = _act_prepare(x, "x", where)
    y = np.empty_like(x)
    if x.size:
        backend = _backend(x)
        backend.activation_forward(y.reshape(-1), x.reshape(-1),
                                   backend.ACTIVATION_CODES[name])
    return y


def _act_backward(dy, y, name, where):
    """dy * act'(.) from the forward output y, elementwise through the C kernel."""
    y = _act_prepare(y, "y", where)
    dy = _act_prepare(dy, "dy", where, dtype=y.dtype)
    _act_same_shape(dy, y, "dy", "y", where)
    dx = np.empty_like(y)
    if y.size:
        backend = _backend(y)
        backend.activation_backward(dx.reshape(-1), dy.reshape(-1), y.reshape(-1),
                                    backend.ACTIVATION_CODES[name])
    return dx


def _act_rows(array, axis):
    """(rows, cols) C-contiguous view of ``array`` with ``axis`` moved last, and the
    moved shape (to undo it with ``_act_unrows``)."""
    moved = np.moveaxis(array, axis, -1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1]), moved.shape


def _act_unrows(rows, moved_shape, axis):
    """Undo ``_act_rows``: reshape and move the last axis back to ``axis``."""
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved_shape), -1, axis))


def relu(x):
    """Rectified linear unit, ``max(x, 0)`` elementwise.

    Args:
        x: input array of any shape.

    Returns:
        An array of x's shape (float64 for float64 input, else float32).
    """
    return _act_forward(x, "relu", "relu")


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` elementwise, stable for any ``|x|``.

    Args:
        x: input array of any shape.

    Returns:
        An array of x's shape with values in [0, 1].
    """
    return _act_forward(x, "sigmoid", "sigmoid")


def tanh(x):
    """Hyperbolic tangent elementwise.

    Args:
        x: input array of any shape.

    Returns:
        An array of x's shape with values in [-1, 1].
    """
    return _act_forward(x, "tanh", "tanh")


def softmax(x, axis=-1):
    """Softmax along one axis, ``exp(x - max) / sum(exp(x - max))``.

    Args:
        x: input array of rank >= 1.
        axis: the axis to normalise (default: the last).

    Returns:
        An array of x's shape whose slices along ``axis`` sum to 1.
    """
    where = "softmax"
    x = _act_prepare(x, "x", where)
    axis = _act_axis(axis, x.ndim, x.shape, where)
    if x.size == 0:
        return np.empty_like(x)
    flat, moved_shape = _act_rows(x, axis)
    y = np.empty_like(flat)
    _backend(x).softmax_forward(y, flat)
    return _act_unrows(y, moved_shape, axis)


def activation(x, name):
    """Apply an activation by its Keras name.

    Args:
        x: input array.
        name: 'linear', 'relu', 'sigmoid', 'tanh' or 'softmax' (last axis); None means
            'linear', as in ``keras.activations.get(None)``.

    Returns:
        The activated array, of x's shape.
    """
    name = _act_name(name, "activation")
    if name == "softmax":
        return softmax(x)
    return _act_forward(x, name, "activation")


def _act_name(name, where):
    """Validate an activation name (None -> 'linear')."""
    if name is None:
        return "linear"
    if not isinstance(name, str) or name not in _ACTIVATION_NAMES:
        valid = ", ".join(repr(n) for n in _ACTIVATION_NAMES)
        raise ValueError(f"{where}: argument 'name' must be one of {valid}, "
                         f"received {name!r}")
    return name


def relu_backward(dy, y):
    """Gradient of :func:`relu`: ``dy * (y > 0)``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``relu(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.
    """
    return _act_backward(dy, y, "relu", "relu_backward")


def sigmoid_backward(dy, y):
    """Gradient of :func:`sigmoid`: ``dy * y * (1 - y)``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``sigmoid(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.
    """
    return _act_backward(dy, y, "sigmoid", "sigmoid_backward")


def tanh_backward(dy, y):
    """Gradient of :func:`tanh`: ``dy * (1 - y**2)``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``tanh(x)`` (same shape as dy).

    Returns:
        The gradient with respect to x.
    """
    return _act_backward(dy, y, "tanh", "tanh_backward")


def softmax_backward(dy, y, axis=-1):
    """Gradient of :func:`softmax`: ``y * (dy - sum(dy * y, axis))``.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``softmax(x, axis)`` (same shape as dy).
        axis: the axis the forward pass normalised.

    Returns:
        The gradient with respect to x.
    """
    where = "softmax_backward"
    y = _act_prepare(y, "y", where)
    dy = _act_prepare(dy, "dy", where, dtype=y.dtype)
    _act_same_shape(dy, y, "dy", "y", where)
    axis = _act_axis(axis, y.ndim, y.shape, where)
    if y.size == 0:
        return np.empty_like(y)
    flat_y, moved_shape = _act_rows(y, axis)
    flat_dy, _ = _act_rows(dy, axis)
    dx = np.empty_like(flat_y)
    _backend(y).softmax_backward(dx, flat_dy, flat_y)
    return _act_unrows(dx, moved_shape, axis)


def activation_backward(dy, y, name):
    """Gradient of :func:`activation` from its output.

    Args:
        dy: gradient of the loss with respect to the output.
        y: the forward output ``activation(x, name)``.
        name: the activation's name, as given to :func:`activation`.

    Returns:
        The gradient with respect to x.
    """
    name = _act_name(name, "activation_backward")
    if name == "softmax":
        return softmax_backward(dy, y)
    return _act_backward(dy, y, name, "activation_backward")


# ---------------------------------------------------------------- losses (loss.c)

# keras.config.epsilon(): the clip of probabilities in categorical_crossentropy.
_LOSS_EPSILON = 1e-7


def _loss_matrix(x, name, where, dtype=None):
    """A non-empty rank-2 (samples, classes) array for a loss."""
    array = _prepare(x, name, where, dtype)
    _require_ndim(array, 2, name, where)
    _require_nonempty(array, name, where)
    return array


def _loss_dloss(dloss, rows, dtype, where):
    """The per-sample upstream gradient as a contiguous (rows,) array."""
    dloss = _prepare(dloss, "dloss", where, dtype=dtype)
    if dloss.shape != (rows,):
        raise ValueError(f"{where}: argument 'dloss' must have shape ({rows},) (one value "
                         f"per sample), received shape {dloss.shape}")
    return dloss


def _loss_labels(labels, rows, cols, where, name="labels"):
    """Class labels as a contiguous int64 (rows,) array.

    Accepts integer arrays of shape (rows,) or (rows, 1), and float arrays holding whole
    numbers; raises TypeError for other dtypes and ValueError for a wrong shape or a
    label outside [0, cols).
    """
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: argument '{name}' must be an integer array, received "
                        f"{type(labels).__name__}") from exc
    kind = array.dtype.kind
    if kind == "f":
        finite = np.isfinite(array)
        if not (finite.all() and np.array_equal(array, np.floor(array))):
            raise TypeError(f"{where}: argument '{name}' must hold integer class indices, "
                            f"received dtype {array.dtype} with non-integer values")
    elif kind not in "iu":
        raise TypeError(f"{where}: argument '{name}' must be an integer array, received "
                        f"dtype {array.dtype}")
    if array.shape not in ((rows,), (rows, 1)):
        raise ValueError(f"{where}: argument '{name}' must have shape ({rows},) or "
                         f"({rows}, 1), received shape {array.shape}")
    flat = array.reshape(-1)
    bad = (flat < 0) | (flat >= cols)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{where}: argument '{name}' must hold class indices in "
                         f"[0, {cols}), received {flat[index].item()!r} at index {index}")
    return np.ascontiguousarray(flat, dtype=np.int64)


def _loss_axis_rows(array, axis):
    """A (samples, classes) C-contiguous array with the class axis (0 or 1) last."""
    return np.ascontiguousarray(array.T) if axis == 0 else array


def softmax_cross_entropy(logits, targets):
    """Fused softmax + cross-entropy against dense targets (probabilities or one-hot).

    The loss is computed from the log-sum-exp of the logits (never ``log(0)``), so very
    large logits are safe.

    Args:
        logits: (N, C) unnormalised scores.
        targets: (N, C) target distributions.

    Returns:
        ``(loss, probs)``: the per-sample loss (N,) ``-sum(targets * log_softmax(logits))``
        and ``softmax(logits)`` (N, C), which the backward pass takes.
    """
    where = "softmax_cross_entropy"
    logits = _loss_matrix(logits, "logits", where)
    targets = _prepare(targets, "targets", where, dtype=logits.dtype)
    _act_same_shape(logits, targets, "logits", "targets", where)
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    probs = np.empty_like(logits)
    _backend(logits).softmax_xent_forward(loss, probs, logits, targets)
    return loss, probs


def softmax_cross_entropy_backward(dloss, probs, targets):
    """Gradient of :func:`softmax_cross_entropy` with respect to the logits.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        probs: (N, C) the probabilities returned by the forward pass.
        targets: (N, C) the targets of the forward pass.

    Returns:
        dlogits (N, C) ``= dloss[:, None] * (probs * sum(targets, -1) - targets)``.
    """
    where = "softmax_cross_entropy_backward"
    probs = _loss_matrix(probs, "probs", where)
    targets = _prepare(targets, "targets", where, dtype=probs.dtype)
    _act_same_shape(probs, targets, "probs", "targets", where)
    dloss = _loss_dloss(dloss, probs.shape[0], probs.dtype, where)
    dlogits = np.empty_like(probs)
    _backend(probs).softmax_xent_backward(dlogits, dloss, probs, targets)
    return dlogits


def sparse_softmax_cross_entropy(logits, labels):
    """Fused softmax + cross-entropy against integer class labels.

    Args:
        logits: (N, C) unnormalised scores.
        labels: (N,) or (N, 1) class indices in [0, C) (integers, or floats holding whole
            numbers).

    Returns:
        ``(loss, probs)``: the per-sample loss (N,) ``-log_softmax(logits)[i, labels[i]]``
        and ``softmax(logits)`` (N, C).
    """
    where = "sparse_softmax_cross_entropy"
    logits = _loss_matrix(logits, "logits", where)
    labels = _loss_labels(labels, logits.shape[0], logits.shape[1], where)
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    probs = np.empty_like(logits)
    _backend(logits).sparse_softmax_xent_forward(loss, probs, logits, labels)
    return loss, probs


def sparse_softmax_cross_entropy_backward(dloss, probs, labels):
    """Gradient of :func:`sparse_softmax_cross_entropy` with respect to the logits.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        probs: (N, C) the probabilities returned by the forward pass.
        labels: the labels of the forward pass.

    Returns:
        dlogits (N, C) ``= dloss[:, None] * (probs - one_hot(labels))``.
    """
    where = "sparse_softmax_cross_entropy_backward"
    probs = _loss_matrix(probs, "probs", where)
    labels = _loss_labels(labels, probs.shape[0], probs.shape[1], where)
    dloss = _loss_dloss(dloss, probs.shape[0], probs.dtype, where)
    dlogits = np.empty_like(probs)
    _backend(probs).sparse_softmax_xent_backward(dlogits, dloss, probs, labels)
    return dlogits


def _loss_categorical_inputs(target, output, axis, where):
    """Validated (target, output) as (samples, classes) arrays and the class axis."""
    output = _prepare(output, "output", where)
    _require_ndim(output, 2, "output", where)
    target = _prepare(target, "target", where, dtype=output.dtype)
    _act_same_shape(target, output, "target", "output", where)
    _require_nonempty(output, "output", where)
    axis = _act_axis(axis, 2, output.shape, where)
    return _loss_axis_rows(target, axis), _loss_axis_rows(output, axis), axis


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical cross-entropy, as ``keras.ops.categorical_crossentropy``.

    With ``from_logits=False`` (Keras semantics) each row of ``output`` is renormalised
    to sum 1 and clipped to ``[1e-7, 1 - 1e-7]`` before the log; with ``from_logits=True``
    the fused, log-sum-exp based softmax + cross-entropy is used.

    Args:
        target: (N, C) target distributions (one-hot or probabilities).
        output: (N, C) predicted probabilities, or logits when ``from_logits``.
        from_logits: whether ``output`` holds logits.
        axis: the class axis of the rank-2 inputs (default: the last).

    Returns:
        The per-sample loss, shape (N,) (the extent of the non-class axis).
    """
    where = "categorical_crossentropy"
    target, output, axis = _loss_categorical_inputs(target, output, axis, where)
    backend = _backend(output)
    loss = np.empty(output.shape[0], dtype=output.dtype)
    if from_logits:
        backend.softmax_xent_forward(loss, np.empty_like(output), output, target)
    else:
        backend.categorical_xent_forward(loss, output, target, _LOSS_EPSILON)
    return loss


def categorical_crossentropy_backward(dloss, target, output, from_logits=False, axis=-1):
    """Gradient of :func:`categorical_crossentropy` with respect to ``output``.

    Without logits the gradient flows through the renormalisation; the clip passes none
    where the renormalised probability lies outside ``[1e-7, 1 - 1e-7]``.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        target: the targets of the forward pass.
        output: the ``output`` of the forward pass (probabilities or logits).
        from_logits: as in the forward pass.
        axis: as in the forward pass.

    Returns:
        doutput, of output's shape.
    """
    where = "categorical_crossentropy_backward"
    target, output, axis = _loss_categorical_inputs(target, output, axis, where)
    dloss = _loss_dloss(dloss, output.shape[0], output.dtype, where)
    backend = _backend(output)
    doutput = np.empty_like(output)
    if from_logits:
        probs = np.empty_like(output)
        backend.softmax_forward(probs, output)
        backend.softmax_xent_backward(doutput, dloss, probs, target)
    else:
        backend.categorical_xent_backward(doutput, dloss, output, target, _LOSS_EPSILON)
    return _loss_axis_rows(doutput, axis)


def _loss_sparse_inputs(target, output, axis, where):
    """Validated one-hot targets and output as (samples, classes) arrays, and the axis."""
    output = _prepare(output, "output", where)
    _require_ndim(output, 2, "output", where)
    _require_nonempty(output, "output", where)
    axis = _act_axis(axis, 2, output.shape, where)
    output = _loss_axis_rows(output, axis)
    labels = _loss_labels(target, output.shape[0], output.shape[1], where, name="target")
    return labels, output, axis


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Sparse categorical cross-entropy, as ``keras.ops.sparse_categorical_crossentropy``.

    Same as :func:`categorical_crossentropy` with ``one_hot(target)``.

    Args:
        target: (N,) or (N, 1) integer class indices.
        output: (N, C) predicted probabilities, or logits when ``from_logits``.
        from_logits: whether ``output`` holds logits.
        axis: the class axis of ``output`` (default: the last).

    Returns:
        The per-sample loss, shape (N,).
    """
    where = "sparse_categorical_crossentropy"
    labels, output, _ = _loss_sparse_inputs(target, output, axis, where)
    backend = _backend(output)
    loss = np.empty(output.shape[0], dtype=output.dtype)
    if from_logits:
        backend.sparse_softmax_xent_forward(loss, np.empty_like(output), output, labels)
    else:
        one_hot = np.zeros_like(output)
        one_hot[np.arange(output.shape[0]), labels] = 1
        backend.categorical_xent_forward(loss, output, one_hot, _LOSS_EPSILON)
    return loss


def sparse_categorical_crossentropy_backward(dloss, target, output, from_logits=False,
                                             axis=-1):
    """Gradient of :func:`sparse_categorical_crossentropy` with respect to ``output``.

    Args:
        dloss: (N,) gradient of the scalar objective with respect to each sample's loss.
        target: the class indices of the forward pass.
        output: the ``output`` of the forward pass (probabilities or logits).
        from_logits: as in the forward pass.
        axis: as in the forward pass.

    Returns:
        doutput, of output's shape.
    """
    where = "sparse_categorical_crossentropy_backward"
    labels, output, axis = _loss_sparse_inputs(target, output, axis, where)
    dloss = _loss_dloss(dloss, output.shape[0], output.dtype, where)
    backend = _backend(output)
    doutput = np.empty_like(output)
    if from_logits:
        probs = np.empty_like(output)
        backend.softmax_forward(probs, output)
        backend.sparse_softmax_xent_backward(doutput, dloss, probs, labels)
    else:
        one_hot = np.zeros_like(output)
        one_hot[np.arange(output.shape[0]), labels] = 1
        backend.categorical_xent_backward(doutput, dloss, output, one_hot, _LOSS_EPSILON)
    return _loss_axis_rows(doutput, axis)


# ---------------------------------------------------------------- optimizer updates (optim.c)


# ---------------------------------------------------------------- tensor ops (tensor_ops.c)


# ---------------------------------------------------------------- image ops (image.c)

