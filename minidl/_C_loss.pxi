# Wrappers for csrc/loss.c.


def softmax_xent_forward(real[::1] loss not None, real[:, ::1] probs not None,
                         const real[:, ::1] logits not None, const real[:, ::1] targets not None,
                         Program program=None):
    """Fused softmax + cross-entropy over logits (rows, cols) and dense targets
    (rows, cols): writes loss (rows) and probs (rows, cols).

    Args:
        loss (C-contiguous float32 or float64 numpy.ndarray (rows,)): receives each row's loss;
            same dtype as logits.
        probs (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): receives the softmax
            of the logits.
        logits (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the logits.
        targets (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the target
            distributions (one-hot or soft).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> loss, probs = np.empty(1), np.empty((1, 2))
        >>> _C.softmax_xent_forward(loss, probs, np.zeros((1, 2)), np.array([[1.0, 0.0]]))
        >>> loss.round(4), probs.round(4)  # loss = log(2)
        (array([0.6931]), array([[0.5, 0.5]]))
    """
    cdef int64_t rows = logits.shape[0], cols = logits.shape[1]
    cdef md_status st
    expect_shape("softmax_xent_forward", "targets", shape_of(targets, 2), (rows, cols))
    expect_shape("softmax_xent_forward", "probs", shape_of(probs, 2), (rows, cols))
    expect_shape("softmax_xent_forward", "loss", shape_of(loss, 1), (rows,))
    cdef md_op op = new_op(MD_OP_SOFTMAX_XENT_FORWARD, real is double)
    op.arg[0] = <void *>&loss[0]
    op.arg[1] = <void *>&probs[0, 0]
    op.arg[2] = <void *>&logits[0, 0]
    op.arg[3] = <void *>&targets[0, 0]
    op.dim[0] = rows
    op.dim[1] = cols
    if program is not None:
        program.record(&op, "softmax_xent_forward", (loss, probs, logits, targets))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "softmax_xent_forward")


def softmax_xent_backward(real[:, ::1] dlogits not None, const real[::1] dloss not None,
                          const real[:, ::1] probs not None, const real[:, ::1] targets not None,
                          Program program=None):
    """dlogits (rows, cols) = dloss[:, None] * (probs * sum(targets, -1) - targets).

    Args:
        dlogits (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the gradient with
            respect to the logits, written.
        dloss (C-contiguous float32 or float64 numpy.ndarray (rows,)): the gradient with respect
            to each row's loss.
        probs (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the forward pass's
            probabilities.
        targets (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the target
            distributions.
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> dlogits = np.empty((1, 2))
        >>> _C.softmax_xent_backward(dlogits, np.ones(1), np.array([[0.5, 0.5]]),
        ...                          np.array([[1.0, 0.0]]))
        >>> dlogits
        array([[-0.5,  0.5]])
    """
    cdef int64_t rows = probs.shape[0], cols = probs.shape[1]
    cdef md_status st
    expect_shape("softmax_xent_backward", "targets", shape_of(targets, 2), (rows, cols))
    expect_shape("softmax_xent_backward", "dlogits", shape_of(dlogits, 2), (rows, cols))
    expect_shape("softmax_xent_backward", "dloss", shape_of(dloss, 1), (rows,))
    cdef md_op op = new_op(MD_OP_SOFTMAX_XENT_BACKWARD, real is double)
    op.arg[0] = <void *>&dlogits[0, 0]
    op.arg[1] = <void *>&dloss[0]
    op.arg[2] = <void *>&probs[0, 0]
    op.arg[3] = <void *>&targets[0, 0]
    op.dim[0] = rows
    op.dim[1] = cols
    if program is not None:
        program.record(&op, "softmax_xent_backward", (dlogits, dloss, probs, targets))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "softmax_xent_backward")


def sparse_softmax_xent_forward(real[::1] loss not None, real[:, ::1] probs not None,
                                const real[:, ::1] logits not None,
                                const int64_t[::1] labels not None, Program program=None):
    """Fused softmax + cross-entropy against int64 class labels (rows): writes loss (rows)
    and probs (rows, cols). A label outside [0, cols) raises ValueError, nothing written.

    Args:
        loss (C-contiguous float32 or float64 numpy.ndarray (rows,)): receives each row's loss;
            same dtype as logits.
        probs (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): receives the softmax
            of the logits.
        logits (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the logits.
        labels (C-contiguous int64 numpy.ndarray (rows,)): the class of each row, in [0, cols).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> logits = np.array([[0.0, 0.0], [0.0, np.log(3.0)]])
        >>> labels = np.array([0, 1], dtype=np.int64)
        >>> loss, probs = np.empty(2), np.empty((2, 2))
        >>> _C.sparse_softmax_xent_forward(loss, probs, logits, labels)
        >>> loss.round(4), probs.round(4)  # loss = -log(probs[row, label])
        (array([0.6931, 0.2877]), array([[0.5 , 0.5 ],
               [0.25, 0.75]]))
    """
    cdef int64_t rows = logits.shape[0], cols = logits.shape[1]
    cdef md_status st
    expect_shape("sparse_softmax_xent_forward", "labels", shape_of(labels, 1), (rows,))
    expect_shape("sparse_softmax_xent_forward", "probs", shape_of(probs, 2), (rows, cols))
    expect_shape("sparse_softmax_xent_forward", "loss", shape_of(loss, 1), (rows,))
    cdef md_op op = new_op(MD_OP_SPARSE_SOFTMAX_XENT_FORWARD, real is double)
    op.arg[0] = <void *>&loss[0]
    op.arg[1] = <void *>&probs[0, 0]
    op.arg[2] = <void *>&logits[0, 0]
    op.arg[3] = <void *>&labels[0]
    op.dim[0] = rows
    op.dim[1] = cols
    if program is not None:
        program.record(&op, "sparse_softmax_xent_forward", (loss, probs, logits, labels))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "sparse_softmax_xent_forward")


def sparse_softmax_xent_backward(real[:, ::1] dlogits not None, const real[::1] dloss not None,
                                 const real[:, ::1] probs not None,
                                 const int64_t[::1] labels not None, Program program=None):
    """dlogits (rows, cols) = dloss[:, None] * (probs - one_hot(labels)).

    Args:
        dlogits (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the gradient with
            respect to the logits, written.
        dloss (C-contiguous float32 or float64 numpy.ndarray (rows,)): the gradient with respect
            to each row's loss.
        probs (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the forward pass's
            probabilities.
        labels (C-contiguous int64 numpy.ndarray (rows,)): the class of each row, in [0, cols).
        program (Program or None): record the call into this step program instead of
            running it (see :class:`Program`).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> probs = np.array([[0.5, 0.5], [0.25, 0.75]])
        >>> dlogits = np.empty((2, 2))
        >>> _C.sparse_softmax_xent_backward(dlogits, np.ones(2), probs,
        ...                                 np.array([0, 1], dtype=np.int64))
        >>> dlogits
        array([[-0.5 ,  0.5 ],
               [ 0.25, -0.25]])
    """
    cdef int64_t rows = probs.shape[0], cols = probs.shape[1]
    cdef md_status st
    expect_shape("sparse_softmax_xent_backward", "labels", shape_of(labels, 1), (rows,))
    expect_shape("sparse_softmax_xent_backward", "dlogits", shape_of(dlogits, 2), (rows, cols))
    expect_shape("sparse_softmax_xent_backward", "dloss", shape_of(dloss, 1), (rows,))
    cdef md_op op = new_op(MD_OP_SPARSE_SOFTMAX_XENT_BACKWARD, real is double)
    op.arg[0] = <void *>&dlogits[0, 0]
    op.arg[1] = <void *>&dloss[0]
    op.arg[2] = <void *>&probs[0, 0]
    op.arg[3] = <void *>&labels[0]
    op.dim[0] = rows
    op.dim[1] = cols
    if program is not None:
        program.record(&op, "sparse_softmax_xent_backward", (dlogits, dloss, probs, labels))
        return
    with nogil:
        st = md_op_run(&op)
    check_status(st, "sparse_softmax_xent_backward")


def categorical_xent_forward(real[::1] loss not None, const real[:, ::1] probs not None,
                             const real[:, ::1] targets not None, double eps):
    """Keras categorical cross-entropy from probabilities (rows, cols): each row is
    renormalised to sum 1 and clipped to [eps, 1 - eps]; writes loss (rows).

    Args:
        loss (C-contiguous float32 or float64 numpy.ndarray (rows,)): receives each row's loss;
            same dtype as probs.
        probs (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the predicted
            probabilities.
        targets (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the target
            distributions.
        eps (float): the clipping bound (Keras's epsilon).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> probs = np.array([[2.0, 1.0, 1.0]])  # renormalised to 0.5, 0.25, 0.25
        >>> loss = np.empty(1)
        >>> _C.categorical_xent_forward(loss, probs, np.array([[1.0, 0.0, 0.0]]), 1e-7)
        >>> loss.round(4)  # -log(0.5)
        array([0.6931])
    """
    cdef int64_t rows = probs.shape[0], cols = probs.shape[1]
    cdef md_status st
    expect_shape("categorical_xent_forward", "targets", shape_of(targets, 2), (rows, cols))
    expect_shape("categorical_xent_forward", "loss", shape_of(loss, 1), (rows,))
    with nogil:
        if real is float:
            st = md_categorical_xent_forward_f32(&loss[0], &probs[0, 0], &targets[0, 0],
                                                 rows, cols, eps)
        else:
            st = md_categorical_xent_forward_f64(&loss[0], &probs[0, 0], &targets[0, 0],
                                                 rows, cols, eps)
    check_status(st, "categorical_xent_forward")


def categorical_xent_backward(real[:, ::1] dprobs not None, const real[::1] dloss not None,
                              const real[:, ::1] probs not None,
                              const real[:, ::1] targets not None, double eps):
    """dprobs (rows, cols) of categorical_xent_forward, through the renormalisation; the
    clip passes no gradient where the normalised probability is outside [eps, 1 - eps].

    Args:
        dprobs (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the gradient with
            respect to probs, written.
        dloss (C-contiguous float32 or float64 numpy.ndarray (rows,)): the gradient with respect
            to each row's loss.
        probs (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the forward pass's
            probabilities.
        targets (C-contiguous float32 or float64 numpy.ndarray (rows, cols)): the target
            distributions.
        eps (float): the forward pass's clipping bound.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> probs, targets = np.array([[0.5, 0.25, 0.25]]), np.array([[1.0, 0.0, 0.0]])
        >>> dprobs = np.empty((1, 3))
        >>> _C.categorical_xent_backward(dprobs, np.ones(1), probs, targets, 1e-7)
        >>> dprobs.round(4)
        array([[-1.,  1.,  1.]])
    """
    cdef int64_t rows = probs.shape[0], cols = probs.shape[1]
    cdef md_status st
    expect_shape("categorical_xent_backward", "targets", shape_of(targets, 2), (rows, cols))
    expect_shape("categorical_xent_backward", "dprobs", shape_of(dprobs, 2), (rows, cols))
    expect_shape("categorical_xent_backward", "dloss", shape_of(dloss, 1), (rows,))
    with nogil:
        if real is float:
            st = md_categorical_xent_backward_f32(&dprobs[0, 0], &dloss[0], &probs[0, 0],
                                                  &targets[0, 0], rows, cols, eps)
        else:
            st = md_categorical_xent_backward_f64(&dprobs[0, 0], &dloss[0], &probs[0, 0],
                                                  &targets[0, 0], rows, cols, eps)
    check_status(st, "categorical_xent_backward")
