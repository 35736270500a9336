# Wrappers for csrc/optim.c: in-place optimizer updates over flat arrays of n values.
# The variable and every state array are updated in place; all share one dtype and
# length n. Optional state arrays may be None (passed to C as NULL).


cdef real *_optim_state_ptr(str where, str name, real[::1] state, int64_t n) except? NULL:
    """The address of an optional state array (NULL for None), after a length check."""
    if state is None:
        return NULL
    expect_shape(where, name, shape_of(state, 1), (n,))
    return &state[0]


def sgd_update(real[::1] var not None, real[::1] velocity, const real[::1] grad not None,
               double lr, double momentum, bint nesterov):
    """SGD step in place (Keras 3). momentum == 0: var -= lr*grad; else
    velocity = momentum*velocity - lr*grad and var += velocity, or with nesterov
    var += momentum*velocity - lr*grad. velocity may be None when momentum == 0.

    Args:
        var (C-contiguous float32 or float64 numpy.ndarray (n,)): the variable, updated in place.
        velocity (C-contiguous float32 or float64 numpy.ndarray (n,) or None): the momentum
            buffer, updated in place; may be None when momentum is 0.
        grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient.
        lr (float): the learning rate.
        momentum (float): the momentum (0 for none).
        nesterov (bool): use Nesterov momentum.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> var, grad = np.array([1.0, 2.0]), np.array([1.0, -1.0])
        >>> _C.sgd_update(var, None, grad, lr=0.5, momentum=0.0, nesterov=False)
        >>> var
        array([0.5, 2.5])
        >>> velocity = np.zeros(2)  # with momentum
        >>> for _ in range(2):
        ...     _C.sgd_update(var, velocity, grad, 0.5, 0.5, False)
        >>> var, velocity
        (array([-0.75,  3.75]), array([-0.75,  0.75]))
    """
    cdef int64_t n = var.shape[0]
    cdef md_status st
    expect_shape("sgd_update", "grad", shape_of(grad, 1), (n,))
    cdef real *vel = _optim_state_ptr("sgd_update", "velocity", velocity, n)
    with nogil:
        if real is float:
            st = md_sgd_update_f32(&var[0], vel, &grad[0], n, lr, momentum, nesterov)
        else:
            st = md_sgd_update_f64(&var[0], vel, &grad[0], n, lr, momentum, nesterov)
    check_status(st, "sgd_update")


def rmsprop_update(real[::1] var not None, real[::1] velocity not None, real[::1] average_grad,
                   real[::1] momentum_buf, const real[::1] grad not None, double lr, double rho,
                   double momentum, double epsilon, bint centered):
    """RMSprop step in place (Keras 3; epsilon inside the square root). average_grad is
    needed when centered, momentum_buf when momentum > 0; otherwise they may be None.

    Args:
        var (C-contiguous float32 or float64 numpy.ndarray (n,)): the variable, updated in place.
        velocity (C-contiguous float32 or float64 numpy.ndarray (n,)): the moving average of
            grad**2, updated in place.
        average_grad (C-contiguous float32 or float64 numpy.ndarray (n,) or None): the moving
            average of grad, updated in place; needed when centered.
        momentum_buf (C-contiguous float32 or float64 numpy.ndarray (n,) or None): the momentum
            buffer, updated in place; needed when momentum > 0.
        grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient.
        lr (float): the learning rate.
        rho (float): the discount factor of the moving averages.
        momentum (float): the momentum (0 for none).
        epsilon (float): added under the square root.
        centered (bool): divide by the centred second moment (grad**2 average minus the
            square of the grad average).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> var, velocity = np.ones(2), np.zeros(2)
        >>> _C.rmsprop_update(var, velocity, None, None, np.array([1.0, -1.0]), lr=0.1, rho=0.9,
        ...                   momentum=0.0, epsilon=1e-7, centered=False)
        >>> var.round(4), velocity.round(4)  # var -= 0.1 * grad / sqrt(0.1)
        (array([0.6838, 1.3162]), array([0.1, 0.1]))
    """
    cdef int64_t n = var.shape[0]
    cdef md_status st
    expect_shape("rmsprop_update", "velocity", shape_of(velocity, 1), (n,))
    expect_shape("rmsprop_update", "grad", shape_of(grad, 1), (n,))
    cdef real *avg = _optim_state_ptr("rmsprop_update", "average_grad", average_grad, n)
    cdef real *mom = _optim_state_ptr("rmsprop_update", "momentum_buf", momentum_buf, n)
    with nogil:
        if real is float:
            st = md_rmsprop_update_f32(&var[0], &velocity[0], avg, mom, &grad[0], n, lr, rho,
                                       momentum, epsilon, centered)
        else:
            st = md_rmsprop_update_f64(&var[0], &velocity[0], avg, mom, &grad[0], n, lr, rho,
                                       momentum, epsilon, centered)
    check_status(st, "rmsprop_update")


def adam_update(real[::1] var not None, real[::1] m not None, real[::1] v not None, real[::1] vhat,
                const real[::1] grad not None, double lr, double beta_1, double beta_2,
                double epsilon, int64_t step, double weight_decay):
    """Adam / AdamW step in place (Keras 3). step is the 1-based step number; vhat (not
    None) turns on amsgrad; weight_decay > 0 first applies var -= var*weight_decay*lr.

    Args:
        var (C-contiguous float32 or float64 numpy.ndarray (n,)): the variable, updated in place.
        m (C-contiguous float32 or float64 numpy.ndarray (n,)): the first moment, updated in place.
        v (C-contiguous float32 or float64 numpy.ndarray (n,)): the second moment, updated in
            place.
        vhat (C-contiguous float32 or float64 numpy.ndarray (n,) or None): the running maximum
            of v (amsgrad), updated in place; None without amsgrad.
        grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient.
        lr (float): the learning rate.
        beta_1 (float): the decay rate of the first moment.
        beta_2 (float): the decay rate of the second moment.
        epsilon (float): added to the denominator.
        step (int): the 1-based step number (bias correction).
        weight_decay (float): the decoupled weight decay (AdamW); 0 for Adam.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> var, m, v = np.ones(2), np.zeros(2), np.zeros(2)
        >>> _C.adam_update(var, m, v, None, np.array([0.5, -2.0]), lr=0.001, beta_1=0.9,
        ...                beta_2=0.999, epsilon=1e-7, step=1, weight_decay=0.0)
        >>> var.round(4)  # the first step moves each value by about lr
        array([0.999, 1.001])
    """
    cdef int64_t n = var.shape[0]
    cdef md_status st
    expect_shape("adam_update", "m", shape_of(m, 1), (n,))
    expect_shape("adam_update", "v", shape_of(v, 1), (n,))
    expect_shape("adam_update", "grad", shape_of(grad, 1), (n,))
    cdef real *vh = _optim_state_ptr("adam_update", "vhat", vhat, n)
    with nogil:
        if real is float:
            st = md_adam_update_f32(&var[0], &m[0], &v[0], vh, &grad[0], n, lr, beta_1,
                                    beta_2, epsilon, step, weight_decay)
        else:
            st = md_adam_update_f64(&var[0], &m[0], &v[0], vh, &grad[0], n, lr, beta_1,
                                    beta_2, epsilon, step, weight_decay)
    check_status(st, "adam_update")


def adagrad_update(real[::1] var not None, real[::1] accumulator not None,
                   const real[::1] grad not None, double lr, double epsilon):
    """Adagrad step in place (Keras 3): accumulator += grad**2;
    var -= lr*grad/sqrt(accumulator + epsilon).

    Args:
        var (C-contiguous float32 or float64 numpy.ndarray (n,)): the variable, updated in place.
        accumulator (C-contiguous float32 or float64 numpy.ndarray (n,)): the sum of squared
            gradients, updated in place.
        grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient.
        lr (float): the learning rate.
        epsilon (float): added under the square root.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> var, accumulator = np.ones(1), np.zeros(1)
        >>> _C.adagrad_update(var, accumulator, np.array([2.0]), lr=0.1, epsilon=1e-7)
        >>> var.round(4), accumulator
        (array([0.9]), array([4.]))
    """
    cdef int64_t n = var.shape[0]
    cdef md_status st
    expect_shape("adagrad_update", "accumulator", shape_of(accumulator, 1), (n,))
    expect_shape("adagrad_update", "grad", shape_of(grad, 1), (n,))
    with nogil:
        if real is float:
            st = md_adagrad_update_f32(&var[0], &accumulator[0], &grad[0], n, lr, epsilon)
        else:
            st = md_adagrad_update_f64(&var[0], &accumulator[0], &grad[0], n, lr, epsilon)
    check_status(st, "adagrad_update")


def adamax_update(real[::1] var not None, real[::1] m not None, real[::1] u not None,
                  const real[::1] grad not None, double lr, double beta_1, double beta_2,
                  double epsilon, int64_t step):
    """Adamax step in place (Keras 3): m += (grad-m)*(1-beta_1); u = max(beta_2*u, abs(grad));
    var -= lr/(1-beta_1**step) * m/(u + epsilon), step the 1-based step number.

    Args:
        var (C-contiguous float32 or float64 numpy.ndarray (n,)): the variable, updated in place.
        m (C-contiguous float32 or float64 numpy.ndarray (n,)): the first moment, updated in place.
        u (C-contiguous float32 or float64 numpy.ndarray (n,)): the exponentially weighted
            infinity norm, updated in place.
        grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient.
        lr (float): the learning rate.
        beta_1 (float): the decay rate of the first moment.
        beta_2 (float): the decay rate of the infinity norm.
        epsilon (float): added to the denominator.
        step (int): the 1-based step number.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> var, m, u = np.ones(1), np.zeros(1), np.zeros(1)
        >>> _C.adamax_update(var, m, u, np.array([2.0]), lr=0.001, beta_1=0.9, beta_2=0.999,
        ...                  epsilon=1e-7, step=1)
        >>> var.round(4), m.round(4), u
        (array([0.999]), array([0.2]), array([2.]))
    """
    cdef int64_t n = var.shape[0]
    cdef md_status st
    expect_shape("adamax_update", "m", shape_of(m, 1), (n,))
    expect_shape("adamax_update", "u", shape_of(u, 1), (n,))
    expect_shape("adamax_update", "grad", shape_of(grad, 1), (n,))
    with nogil:
        if real is float:
            st = md_adamax_update_f32(&var[0], &m[0], &u[0], &grad[0], n, lr, beta_1, beta_2,
                                      epsilon, step)
        else:
            st = md_adamax_update_f64(&var[0], &m[0], &u[0], &grad[0], n, lr, beta_1, beta_2,
                                      epsilon, step)
    check_status(st, "adamax_update")


cdef double *_update_scalars(str where, Program program, double[::1] scalars, int count,
                             double *local) except NULL:
    """Where a multi-tensor update's ops read their per-step scalars: ``local`` (a run
    now) or, for a program, the caller's array of at least ``count`` values."""
    if program is None:
        return local
    if scalars is None or scalars.shape[0] < count:
        raise ValueError(f"{where}: a recorded update needs 'scalars', a float64 array of "
                         f"at least {count} values. Received: "
                         f"{None if scalars is None else scalars.shape[0]} values")
    return &scalars[0]


cdef int _run_or_record(str where, md_op *ops, Py_ssize_t count, Program program,
                        list held) except -1:
    """Run a multi-tensor update's checked ops in order, or record them (each with its
    arrays in ``held``). Every variable was checked before the first op runs, and a
    checked update op cannot fail: the update is whole or absent."""
    cdef md_status st
    cdef Py_ssize_t i
    for i in range(count):
        if program is not None:
            program.record(&ops[i], where, held[i])
            continue
        with nogil:
            st = md_op_run(&ops[i])
        check_status(st, where)
    return 0


cdef class _OpList:
    """A C array of ``count`` update ops (freed with the object)."""
    cdef md_op *ops

    def __cinit__(self, Py_ssize_t count):
        self.ops = <md_op *>malloc(max(count, 1) * sizeof(md_op))
        if self.ops == NULL:
            raise MemoryError("no memory for the update's calls")

    def __dealloc__(self):
        free(self.ops)


cdef int _adam_op(md_op *op, real[::1] var, real[::1] m, real[::1] v, real[::1] vhat,
                  const real[::1] grad, double weight_decay, double *scalars) except -1:
    cdef int64_t n = var.shape[0]
    if m.shape[0] != n or v.shape[0] != n or grad.shape[0] != n:
        raise ValueError(f"adam_update_many: m, v and grad must have the variable's "
                         f"{n} values. Received: {m.shape[0]}, {v.shape[0]} and "
                         f"{grad.shape[0]}")
    op[0] = new_op(MD_OP_ADAM_UPDATE, real is double)
    op.arg[0] = <void *>&var[0]
    op.arg[1] = <void *>&m[0]
    op.arg[2] = <void *>&v[0]
    op.arg[3] = <void *>_optim_state_ptr("adam_update_many", "vhat", vhat, n)
    op.arg[4] = <void *>&grad[0]
    op.arg[5] = <void *>scalars
    op.dim[0] = n
    op.scalar[0] = weight_decay
    return 0


def adam_update_many(list variables, list ms, list vs, list vhats, list grads, double lr,
                     double beta_1, double beta_2, double epsilon, int64_t step,
                     list weight_decays, Program program=None, double[::1] scalars=None):
    """:func:`adam_update` of many variables in one call (a multi-tensor update): the
    i-th entries of the lists are one variable's flat arrays (``vhats[i]`` may be None)
    and its weight decay. All arrays share one float dtype.

    Args:
        variables (list of C-contiguous float32 or float64 numpy.ndarray): the variables (flat),
            updated in place.
        ms (list of C-contiguous float32 or float64 numpy.ndarray): their first moments, updated
            in place.
        vs (list of C-contiguous float32 or float64 numpy.ndarray): their second moments,
            updated in place.
        vhats (list of (C-contiguous float32 or float64 numpy.ndarray or None)): their amsgrad
            maxima, updated in place; None entries without amsgrad.
        grads (list of C-contiguous float32 or float64 numpy.ndarray): their gradients.
        lr (float): the learning rate.
        beta_1 (float): the decay rate of the first moments.
        beta_2 (float): the decay rate of the second moments.
        epsilon (float): added to the denominators.
        step (int): the 1-based step number.
        weight_decays (list of float): each variable's decoupled weight decay (0 for none).
        program (Program or None): record the calls into this step program instead of
            running them (see :class:`Program`); they then read the scalars that change
            between steps from ``scalars`` each time the program runs.
        scalars (C-contiguous float64 numpy.ndarray or None): with a program, the array
            (at least 5 values) the recorded calls read
            ``lr, beta_1, beta_2, epsilon, step`` from; this call writes the given values
            there, the caller updates them between runs.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> variables = [np.ones(2), np.ones(3)]
        >>> ms, vs = [np.zeros(2), np.zeros(3)], [np.zeros(2), np.zeros(3)]
        >>> grads = [np.ones(2), -np.ones(3)]
        >>> _C.adam_update_many(variables, ms, vs, [None, None], grads, 0.001, 0.9, 0.999, 1e-7,
        ...                     1, [0.0, 0.1])  # weight decay 0.1 on the second
        >>> [variable.round(4) for variable in variables]
        [array([0.999, 0.999]), array([1.0009, 1.0009, 1.0009])]
    """
    cdef Py_ssize_t i, count = len(variables)
    if not (len(ms) == len(vs) == len(vhats) == len(grads) == len(weight_decays) == count):
        raise ValueError("adam_update_many: the lists must have one entry per variable")
    if count == 0:
        return
    cdef double local[5]
    cdef double *s = _update_scalars("adam_update_many", program, scalars, 5, local)
    s[0], s[1], s[2], s[3], s[4] = lr, beta_1, beta_2, epsilon, <double>step
    cdef _OpList ops = _OpList(count)
    cdef bint single = variables[0].dtype == np.float32
    for i in range(count):
        if single:
            _adam_op[float](&ops.ops[i], variables[i], ms[i], vs[i], vhats[i], grads[i],
                            weight_decays[i], s)
        else:
            _adam_op[double](&ops.ops[i], variables[i], ms[i], vs[i], vhats[i], grads[i],
                             weight_decays[i], s)
    _run_or_record("adam_update_many", ops.ops, count, program,
                   [(variables[i], ms[i], vs[i], vhats[i], grads[i], scalars)
                    for i in range(count)] if program is not None else None)


cdef int _rmsprop_op(md_op *op, real[::1] var, real[::1] velocity, real[::1] average_grad,
                     real[::1] momentum_buf, const real[::1] grad, bint centered,
                     double *scalars) except -1:
    cdef int64_t n = var.shape[0]
    if velocity.shape[0] != n or grad.shape[0] != n:
        raise ValueError(f"rmsprop_update_many: velocity and grad must have the "
                         f"variable's {n} values. Received: {velocity.shape[0]} and "
                         f"{grad.shape[0]}")
    op[0] = new_op(MD_OP_RMSPROP_UPDATE, real is double)
    op.arg[0] = <void *>&var[0]
    op.arg[1] = <void *>&velocity[0]
    op.arg[2] = <void *>_optim_state_ptr("rmsprop_update_many", "average_grad",
                                         average_grad, n)
    op.arg[3] = <void *>_optim_state_ptr("rmsprop_update_many", "momentum_buf",
                                         momentum_buf, n)
    op.arg[4] = <void *>&grad[0]
    op.arg[5] = <void *>scalars
    op.dim[0] = n
    op.flag[0] = centered
    return 0


def rmsprop_update_many(list variables, list velocities, list average_grads,
                        list momentum_bufs, list grads, double lr, double rho,
                        double momentum, double epsilon, bint centered,
                        Program program=None, double[::1] scalars=None):
    """:func:`rmsprop_update` of many variables in one call (a multi-tensor update);
    ``average_grads[i]`` and ``momentum_bufs[i]`` may be None.

    Args:
        variables (list of C-contiguous float32 or float64 numpy.ndarray): the variables (flat),
            updated in place.
        velocities (list of C-contiguous float32 or float64 numpy.ndarray): their moving
            averages of grad**2, updated in place.
        average_grads (list of (C-contiguous float32 or float64 numpy.ndarray or None)): their
            moving averages of grad, updated in place; needed when centered.
        momentum_bufs (list of (C-contiguous float32 or float64 numpy.ndarray or None)): their
            momentum buffers, updated in place; needed when momentum > 0.
        grads (list of C-contiguous float32 or float64 numpy.ndarray): their gradients.
        lr (float): the learning rate.
        rho (float): the discount factor of the moving averages.
        momentum (float): the momentum (0 for none).
        epsilon (float): added under the square root.
        centered (bool): divide by the centred second moment.
        program (Program or None): record the calls into this step program instead of
            running them (see :class:`Program`); they then read the scalars that change
            between steps from ``scalars`` each time the program runs.
        scalars (C-contiguous float64 numpy.ndarray or None): with a program, the array
            (at least 4 values) the recorded calls read
            ``lr, rho, momentum, epsilon`` from; this call writes the given values
            there, the caller updates them between runs.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> variables, velocities = [np.ones(2), np.ones(3)], [np.zeros(2), np.zeros(3)]
        >>> grads = [np.ones(2), -np.ones(3)]
        >>> _C.rmsprop_update_many(variables, velocities, [None, None], [None, None], grads,
        ...                        0.1, 0.9, 0.0, 1e-7, False)
        >>> [variable.round(4) for variable in variables]
        [array([0.6838, 0.6838]), array([1.3162, 1.3162, 1.3162])]
    """
    cdef Py_ssize_t i, count = len(variables)
    if not (len(velocities) == len(average_grads) == len(momentum_bufs) == len(grads) ==
            count):
        raise ValueError("rmsprop_update_many: the lists must have one entry per variable")
    if count == 0:
        return
    cdef double local[4]
    cdef double *s = _update_scalars("rmsprop_update_many", program, scalars, 4, local)
    s[0], s[1], s[2], s[3] = lr, rho, momentum, epsilon
    cdef _OpList ops = _OpList(count)
    cdef bint single = variables[0].dtype == np.float32
    for i in range(count):
        if single:
            _rmsprop_op[float](&ops.ops[i], variables[i], velocities[i], average_grads[i],
                               momentum_bufs[i], grads[i], centered, s)
        else:
            _rmsprop_op[double](&ops.ops[i], variables[i], velocities[i], average_grads[i],
                                momentum_bufs[i], grads[i], centered, s)
    _run_or_record("rmsprop_update_many", ops.ops, count, program,
                   [(variables[i], velocities[i], average_grads[i], momentum_bufs[i],
                     grads[i], scalars) for i in range(count)] if program is not None else None)


cdef int _sgd_op(md_op *op, real[::1] var, real[::1] velocity, const real[::1] grad,
                 bint nesterov, double *scalars) except -1:
    cdef int64_t n = var.shape[0]
    if grad.shape[0] != n:
        raise ValueError(f"sgd_update_many: grad must have the variable's {n} values. "
                         f"Received: {grad.shape[0]}")
    op[0] = new_op(MD_OP_SGD_UPDATE, real is double)
    op.arg[0] = <void *>&var[0]
    op.arg[1] = <void *>_optim_state_ptr("sgd_update_many", "velocity", velocity, n)
    op.arg[2] = <void *>&grad[0]
    op.arg[3] = <void *>scalars
    op.dim[0] = n
    op.flag[0] = nesterov
    return 0


def sgd_update_many(list variables, list velocities, list grads, double lr, double momentum,
                    bint nesterov, Program program=None, double[::1] scalars=None):
    """:func:`sgd_update` of many variables in one call (a multi-tensor update);
    ``velocities[i]`` may be None when momentum is 0.

    Args:
        variables (list of C-contiguous float32 or float64 numpy.ndarray): the variables (flat),
            updated in place.
        velocities (list of (C-contiguous float32 or float64 numpy.ndarray or None)): their
            momentum buffers, updated in place; None entries when momentum is 0.
        grads (list of C-contiguous float32 or float64 numpy.ndarray): their gradients.
        lr (float): the learning rate.
        momentum (float): the momentum (0 for none).
        nesterov (bool): use Nesterov momentum.
        program (Program or None): record the calls into this step program instead of
            running them (see :class:`Program`); they then read the scalars that change
            between steps from ``scalars`` each time the program runs.
        scalars (C-contiguous float64 numpy.ndarray or None): with a program, the array
            (at least 2 values) the recorded calls read ``lr, momentum`` from; this call
            writes the given values there, the caller updates them between runs.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> variables, grads = [np.ones(2), np.ones(3)], [np.ones(2), -np.ones(3)]
        >>> _C.sgd_update_many(variables, [None, None], grads, 0.5, 0.0, False)
        >>> variables
        [array([0.5, 0.5]), array([1.5, 1.5, 1.5])]
    """
    cdef Py_ssize_t i, count = len(variables)
    if not (len(velocities) == len(grads) == count):
        raise ValueError("sgd_update_many: the lists must have one entry per variable")
    if count == 0:
        return
    cdef double local[2]
    cdef double *s = _update_scalars("sgd_update_many", program, scalars, 2, local)
    s[0], s[1] = lr, momentum
    cdef _OpList ops = _OpList(count)
    cdef bint single = variables[0].dtype == np.float32
    for i in range(count):
        if single:
            _sgd_op[float](&ops.ops[i], variables[i], velocities[i], grads[i], nesterov, s)
        else:
            _sgd_op[double](&ops.ops[i], variables[i], velocities[i], grads[i], nesterov, s)
    _run_or_record("sgd_update_many", ops.ops, count, program,
                   [(variables[i], velocities[i], grads[i], scalars) for i in range(count)]
                   if program is not None else None)


def nadam_update(real[::1] var not None, real[::1] m not None, real[::1] v not None,
                 const real[::1] grad not None, double lr, double beta_1, double beta_2,
                 double epsilon, int64_t step, double u_product):
    """Nadam step in place (Keras 3); u_product is prod_{i <= step} beta_1 (1 - 0.5 0.96^i).

    Args:
        var (C-contiguous float32 or float64 numpy.ndarray (n,)): the variable, updated in place.
        m (C-contiguous float32 or float64 numpy.ndarray (n,)): the first moment, updated in place.
        v (C-contiguous float32 or float64 numpy.ndarray (n,)): the second moment, updated in
            place.
        grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient.
        lr (float): the learning rate.
        beta_1 (float): the decay rate of the first moment.
        beta_2 (float): the decay rate of the second moment.
        epsilon (float): added to the denominator.
        step (int): the 1-based step number.
        u_product (float): the product of the momentum schedule up to this step (see
            above).

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> var, m, v = np.ones(2), np.zeros(2), np.zeros(2)
        >>> u_product = 0.9 * (1 - 0.5 * 0.96)  # step 1
        >>> _C.nadam_update(var, m, v, np.array([1.0, -1.0]), lr=0.001, beta_1=0.9, beta_2=0.999,
        ...                 epsilon=1e-7, step=1, u_product=u_product)
        >>> var.round(4)
        array([0.9989, 1.0011])
    """
    cdef int64_t n = var.shape[0]
    cdef md_status st
    expect_shape("nadam_update", "m", shape_of(m, 1), (n,))
    expect_shape("nadam_update", "v", shape_of(v, 1), (n,))
    expect_shape("nadam_update", "grad", shape_of(grad, 1), (n,))
    with nogil:
        if real is float:
            st = md_nadam_update_f32(&var[0], &m[0], &v[0], &grad[0], n, lr, beta_1, beta_2,
                                     epsilon, step, u_product)
        else:
            st = md_nadam_update_f64(&var[0], &m[0], &v[0], &grad[0], n, lr, beta_1, beta_2,
                                     epsilon, step, u_product)
    check_status(st, "nadam_update")


def adadelta_update(real[::1] var not None, real[::1] accumulated_grad not None,
                    real[::1] accumulated_delta not None, const real[::1] grad not None,
                    double lr, double rho, double epsilon):
    """Adadelta step in place (Keras 3).

    Args:
        var (C-contiguous float32 or float64 numpy.ndarray (n,)): the variable, updated in place.
        accumulated_grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the moving
            average of grad**2, updated in place.
        accumulated_delta (C-contiguous float32 or float64 numpy.ndarray (n,)): the moving
            average of the squared updates, updated in place.
        grad (C-contiguous float32 or float64 numpy.ndarray (n,)): the gradient.
        lr (float): the learning rate.
        rho (float): the decay rate of the moving averages.
        epsilon (float): added under the square roots.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> var, acc_grad, acc_delta = np.ones(1), np.zeros(1), np.zeros(1)
        >>> _C.adadelta_update(var, acc_grad, acc_delta, np.array([1.0]), lr=1.0, rho=0.95,
        ...                    epsilon=1e-7)
        >>> var.round(4), acc_grad.round(4)
        (array([0.9986]), array([0.05]))
    """
    cdef int64_t n = var.shape[0]
    cdef md_status st
    expect_shape("adadelta_update", "accumulated_grad", shape_of(accumulated_grad, 1), (n,))
    expect_shape("adadelta_update", "accumulated_delta", shape_of(accumulated_delta, 1), (n,))
    expect_shape("adadelta_update", "grad", shape_of(grad, 1), (n,))
    with nogil:
        if real is float:
            st = md_adadelta_update_f32(&var[0], &accumulated_grad[0], &accumulated_delta[0],
                                        &grad[0], n, lr, rho, epsilon)
        else:
            st = md_adadelta_update_f64(&var[0], &accumulated_grad[0], &accumulated_delta[0],
                                        &grad[0], n, lr, rho, epsilon)
    check_status(st, "adadelta_update")
