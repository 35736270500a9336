"""Optimizer updates: SGD, RMSprop, Adam/AdamW, Adagrad and Adamax, each updating the
variable and its state in place in one pass (``csrc/optim.c`` and its CUDA twin)."""
import operator

import numpy as np

from minidl.backend import backend_of
from minidl.ops._checks import real_scalar, step_number


def _optim_arrays(backend, where, variable, gradient, states):
    """Validate an update's arrays. ``states`` maps argument names to state arrays or None.

    Every updated array is checked by the backend (a writable C-contiguous float array
    on the CPU, a float32 DeviceArray on the GPU; never copied: the copy would be
    updated instead). Returns the flat variable, the flat gradient (cast to the
    variable's dtype, copied when it overlaps an updated array) and a dict of flat
    states (None stays None).
    """
    backend.check_in_place(variable, "variable", where)
    updated = [("variable", variable)]
    for name, array in states.items():
        if array is not None:
            backend.check_in_place(array, name, where, dtype=variable.dtype,
                                   shape=variable.shape)
            updated.append((name, array))
    # arrays that own distinct memory cannot overlap: the pairwise checks are only needed
    # when a view is involved
    owners = backend.memory_owners([a for _, a in updated])
    separate = owners is not None and len({id(o) for o in owners}) == len(owners)
    if not separate:
        for i, (name_a, a) in enumerate(updated):
            for name_b, b in updated[i + 1:]:
                if backend.shares_memory(a, b):
                    raise ValueError(f"{where}: arguments '{name_a}' and '{name_b}' must be "
                                     f"separate arrays. Received: arrays that share memory")
    grad_shape = tuple(np.shape(gradient))
    if grad_shape != variable.shape:
        raise ValueError(f"{where}: argument 'gradient' must have the shape of the variable "
                         f"{variable.shape}. Received: shape {grad_shape}")
    grad = backend.prepare(gradient, "gradient", where, dtype=variable.dtype).reshape(-1)
    grad_owner = backend.memory_owners([grad]) if separate else None
    grad_separate = grad_owner is not None and all(grad_owner[0] is not o for o in owners)
    if not grad_separate and any(backend.shares_memory(grad, a) for _, a in updated):
        grad = grad.copy()
    flat = {name: (None if array is None else array.reshape(-1))
            for name, array in states.items()}
    return variable.reshape(-1), grad, flat


def _adam_scalars(learning_rate, beta_1, beta_2, epsilon, step, where):
    """The checked scalars of the Adam family (Adam, AdamW, AMSGrad, Nadam):
    ``(learning_rate, beta_1, beta_2, epsilon, step)``, the betas in [0, 1)."""
    return (real_scalar(learning_rate, "learning_rate", where),
            real_scalar(beta_1, "beta_1", where, 0.0, 1.0, high_open=True),
            real_scalar(beta_2, "beta_2", where, 0.0, 1.0, high_open=True),
            real_scalar(epsilon, "epsilon", where, 0.0), step_number(step, where))


def _sgd_scalars(learning_rate, momentum, where):
    """The checked scalars of SGD: ``(learning_rate, momentum)``, momentum in [0, 1]."""
    return (real_scalar(learning_rate, "learning_rate", where),
            real_scalar(momentum, "momentum", where, 0.0, 1.0))


def _rmsprop_scalars(learning_rate, rho, momentum, epsilon, where):
    """The checked scalars of RMSprop: ``(learning_rate, rho, momentum, epsilon)``."""
    return (real_scalar(learning_rate, "learning_rate", where),
            real_scalar(rho, "rho", where, 0.0, 1.0),
            real_scalar(momentum, "momentum", where, 0.0),
            real_scalar(epsilon, "epsilon", where, 0.0))


def sgd_update(variable, gradient, velocity=None, learning_rate=0.01, momentum=0.0,
               nesterov=False):
    """One SGD step (Keras 3 ``SGD``), updating ``variable`` and ``velocity`` in place.

    ``momentum == 0``: ``variable -= learning_rate * gradient``. Otherwise
    ``velocity = momentum * velocity - learning_rate * gradient`` and
    ``variable += velocity`` (or, with Nesterov,
    ``variable += momentum * velocity - learning_rate * gradient``).

    Args:
        variable (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        gradient (array): array of the variable's shape (any real dtype and layout; cast).
        velocity (array or None): the momentum buffer (variable's dtype and shape, writable,
            C-contiguous), updated in place; required when ``momentum != 0``.
        learning_rate (float): the step size, a finite number.
        momentum (float): the momentum, in [0, 1].
        nesterov (bool): whether to use Nesterov momentum.

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w = np.array([1.0, 2.0])
        >>> ops.sgd_update(w, np.array([1.0, -1.0]), learning_rate=0.1)
        >>> w
        array([0.9, 2.1])
    """
    backend = backend_of(variable, gradient, velocity)
    where = "sgd_update"
    lr, mom = _sgd_scalars(learning_rate, momentum, where)
    if mom != 0.0 and velocity is None:
        raise ValueError(f"{where}: argument 'velocity' is required when momentum != 0. "
                         f"Received: None (momentum={momentum!r})")
    var, grad, s = _optim_arrays(backend, where, variable, gradient, {"velocity": velocity})
    backend.kernels.sgd_update(var, s["velocity"], grad, lr, mom, bool(nesterov))


def rmsprop_update(variable, gradient, velocity, learning_rate=0.001, rho=0.9, momentum=0.0,
                   epsilon=1e-7, centered=False, average_gradient=None, momentum_buffer=None):
    """One RMSprop step (Keras 3 ``RMSprop``), updating the variable and state in place.

    ``velocity = rho * velocity + (1 - rho) * gradient**2``; centered:
    ``average_gradient = rho * average_gradient + (1 - rho) * gradient`` and
    ``denominator = velocity - average_gradient**2 + epsilon``, else
    ``denominator = velocity + epsilon``;
    ``increment = learning_rate * gradient / sqrt(denominator)``; with momentum
    ``momentum_buffer = momentum * momentum_buffer + increment`` and
    ``variable -= momentum_buffer``, else ``variable -= increment``.

    Args:
        variable (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        gradient (array): array of the variable's shape (any real dtype and layout; cast).
        velocity (array): running mean of squared gradients (variable's dtype and shape,
            writable, C-contiguous), updated in place.
        learning_rate (float): the step size, a finite number.
        rho (float): discounting factor in [0, 1].
        momentum (float): the momentum, >= 0.
        epsilon (float): a number >= 0, added inside the square root.
        centered (bool): normalise by the estimated variance instead of the second moment.
        average_gradient (array or None): running mean of gradients, updated in place;
            required when ``centered``.
        momentum_buffer (array or None): momentum accumulator, updated in place; required
            when ``momentum > 0``.

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w, velocity = np.array([1.0]), np.zeros(1)
        >>> ops.rmsprop_update(w, np.array([0.5]), velocity, learning_rate=0.1)
        >>> w.round(4), velocity
        (array([0.6838]), array([0.025]))
    """
    backend = backend_of(variable, gradient, velocity, average_gradient, momentum_buffer)
    where = "rmsprop_update"
    lr, rho_, mom, eps = _rmsprop_scalars(learning_rate, rho, momentum, epsilon, where)
    if velocity is None:
        raise ValueError(f"{where}: argument 'velocity' is required. Received: None")
    if centered and average_gradient is None:
        raise ValueError(f"{where}: argument 'average_gradient' is required when "
                         f"centered=True. Received: None")
    if mom > 0.0 and momentum_buffer is None:
        raise ValueError(f"{where}: argument 'momentum_buffer' is required when momentum > 0. "
                         f"Received: None (momentum={momentum!r})")
    var, grad, s = _optim_arrays(backend, where, variable, gradient,
                                 {"velocity": velocity, "average_gradient": average_gradient,
                                  "momentum_buffer": momentum_buffer})
    backend.kernels.rmsprop_update(var, s["velocity"], s["average_gradient"],
                                      s["momentum_buffer"], grad, lr, rho_, mom, eps,
                                      bool(centered))


def adam_update(variable, gradient, m, v, step, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                epsilon=1e-7, vhat=None, weight_decay=0.0):
    """One Adam / AdamW step (Keras 3 ``Adam``/``AdamW``), updating in place.

    With ``t = step`` and ``alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)``:
    ``m += (gradient - m) * (1 - beta_1)``, ``v += (gradient**2 - v) * (1 - beta_2)``,
    amsgrad (``vhat`` given): ``vhat = maximum(vhat, v)`` is used instead of ``v``;
    ``variable -= alpha * m / (sqrt(v) + epsilon)``. ``weight_decay > 0`` (AdamW) first
    applies ``variable -= variable * weight_decay * learning_rate``.

    Args:
        variable (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        gradient (array): array of the variable's shape (any real dtype and layout; cast).
        m (array): first-moment estimate (variable's dtype and shape, writable,
            C-contiguous), updated in place.
        v (array): second-moment estimate, updated in place.
        step (int): the 1-based number of this step (Keras' ``iterations + 1``).
        learning_rate (float): the step size, a finite number.
        beta_1 (float): decay of the first moment, in [0, 1).
        beta_2 (float): decay of the second moment, in [0, 1).
        epsilon (float): a number >= 0 (numerical stability).
        vhat (array or None): running maximum of ``v`` (amsgrad), updated in place; None
            disables amsgrad.
        weight_decay (float): decoupled weight decay (AdamW), >= 0.

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w, m, v = np.array([1.0]), np.zeros(1), np.zeros(1)
        >>> ops.adam_update(w, np.array([0.5]), m, v, step=1, learning_rate=0.1)
        >>> w.round(6), m, v  # the first step moves by the learning rate
        (array([0.900001]), array([0.05]), array([0.00025]))
    """
    backend = backend_of(variable, gradient, m, v, vhat)
    where = "adam_update"
    lr, b1, b2, eps, step = _adam_scalars(learning_rate, beta_1, beta_2, epsilon, step, where)
    wd = real_scalar(weight_decay, "weight_decay", where, 0.0)
    if m is None or v is None:
        raise ValueError(f"{where}: arguments 'm' and 'v' are required. Received: None")
    var, grad, s = _optim_arrays(backend, where, variable, gradient, {"m": m, "v": v, "vhat": vhat})
    backend.kernels.adam_update(var, s["m"], s["v"], s["vhat"], grad, lr, b1, b2, eps,
                                   step, wd)


def adagrad_update(variable, gradient, accumulator, learning_rate=0.001, epsilon=1e-7):
    """One Adagrad step (Keras 3 ``Adagrad``), updating in place:
    ``accumulator += gradient**2``, then
    ``variable -= learning_rate * gradient / sqrt(accumulator + epsilon)``.

    Args:
        variable (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        gradient (array): array of the variable's shape (cast to its dtype).
        accumulator (array): the sum of squared gradients (variable's dtype and shape), in
            place.
        learning_rate (float): the step size, a finite number.
        epsilon (float): a number >= 0 (numerical stability).

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w, accumulator = np.array([1.0]), np.full(1, 0.1)
        >>> ops.adagrad_update(w, np.array([0.5]), accumulator, learning_rate=0.1)
        >>> w.round(4), accumulator
        (array([0.9155]), array([0.35]))
    """
    backend = backend_of(variable, gradient, accumulator)
    where = "adagrad_update"
    lr = real_scalar(learning_rate, "learning_rate", where)
    eps = real_scalar(epsilon, "epsilon", where, 0.0)
    if accumulator is None:
        raise ValueError(f"{where}: argument 'accumulator' is required. Received: None")
    var, grad, s = _optim_arrays(backend, where, variable, gradient, {"accumulator": accumulator})
    backend.require("adagrad_update", where)(var, s["accumulator"], grad, lr, eps)


def adamax_update(variable, gradient, m, u, step, learning_rate=0.001, beta_1=0.9,
                  beta_2=0.999, epsilon=1e-7):
    """One Adamax step (Keras 3 ``Adamax``), updating in place:
    ``m += (gradient - m) * (1 - beta_1)``, ``u = max(beta_2 * u, |gradient|)``,
    ``variable -= learning_rate / (1 - beta_1**step) * m / (u + epsilon)``.

    Args:
        variable (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        gradient (array): array of the variable's shape (cast to its dtype).
        m (array): the first moment (variable's dtype and shape), in place.
        u (array): the exponentially weighted infinity norm (variable's dtype and shape), in
            place.
        step (int): the 1-based number of this step (Keras' ``iterations + 1``).
        learning_rate (float): the step size, a finite number.
        beta_1 (float): decay of the first moment, in [0, 1).
        beta_2 (float): decay of the infinity norm, in [0, 1].
        epsilon (float): a number >= 0 (numerical stability).

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w, m, u = np.array([1.0]), np.zeros(1), np.zeros(1)
        >>> ops.adamax_update(w, np.array([0.5]), m, u, step=1, learning_rate=0.1)
        >>> w.round(6), m, u
        (array([0.9]), array([0.05]), array([0.5]))
    """
    backend = backend_of(variable, gradient, m, u)
    where = "adamax_update"
    lr = real_scalar(learning_rate, "learning_rate", where)
    b1 = real_scalar(beta_1, "beta_1", where, 0.0, 1.0, high_open=True)
    b2 = real_scalar(beta_2, "beta_2", where, 0.0, 1.0)
    eps = real_scalar(epsilon, "epsilon", where, 0.0)
    step = step_number(step, where)
    if m is None or u is None:
        raise ValueError(f"{where}: arguments 'm' and 'u' are required. Received: None")
    var, grad, s = _optim_arrays(backend, where, variable, gradient, {"m": m, "u": u})
    backend.require("adamax_update", where)(var, s["m"], s["u"], grad, lr, b1, b2, eps, step)


# where -> (the arrays of the last checked call, its flat arrays): see _many
_last_checked = {}


def _many(backend, where, variables, gradients, states):
    """Check every variable's arrays (as the one-variable updates do); returns the flat
    variables, gradients and per-state lists of flat arrays (None stays None).

    A training loop passes the very same arrays every step (the weights, the optimizer's
    slots, the step's gradient buffers), and checking ~10 arrays per variable costs more
    than the update of a small network. So the last call's checked result is kept per
    function when it holds views of the caller's arrays only (no gradient converted or
    copied): a call with the same array objects, the updated ones still writable, reuses
    it (an array's shape, dtype and contiguity cannot change without a new object).
    """
    given = (*variables, *gradients, *(a for arrays in states.values() for a in arrays))
    cached = _last_checked.get(where)
    if cached is not None and len(cached[0]) == len(given) and \
            all(map(operator.is_, cached[0], given)) and \
            all(a.flags.writeable for a in cached[2]):
        return cached[1]
    if len(gradients) != len(variables) or any(len(a) != len(variables)
                                               for a in states.values()):
        raise ValueError(f"{where}: give one gradient and one of each state per variable. "
                         f"Received: {len(variables)} variables, {len(gradients)} gradients")
    result = _check_many(backend, where, variables, gradients, states)
    if backend.name == "cpu" and all(
            isinstance(g, np.ndarray) and g.dtype == v.dtype and g.flags.c_contiguous and
            flat.base is not None for g, v, flat in zip(gradients, variables, result[1])):
        updated = [*variables, *(a for arrays in states.values() for a in arrays
                                 if a is not None)]
        _last_checked[where] = (given, result, updated)
    return result


def _check_many(backend, where, variables, gradients, states):
    """``_many``'s checks, one variable at a time."""
    flat_vars, flat_grads = [], []
    flat_states = {name: [] for name in states}
    for i, (variable, gradient) in enumerate(zip(variables, gradients)):
        var, grad, s = _optim_arrays(backend, where, variable, gradient,
                                     {name: arrays[i] for name, arrays in states.items()})
        flat_vars.append(var)
        flat_grads.append(grad)
        for name in states:
            flat_states[name].append(s[name])
    return flat_vars, flat_grads, flat_states


def _many_kernel(backend, name, program):
    """A backend's multi-tensor kernel (None: one kernel call per variable); a recorded
    update needs it (the CPU kernels have it)."""
    many = getattr(backend.kernels, name, None)
    if many is None and program is not None:
        raise ValueError(f"{name}: the {backend.name} backend cannot record an update into "
                         f"a step program")
    return many


def _recording(program, scalars):
    """The multi-tensor kernel's recording arguments: none for a run now."""
    return {} if program is None else {"program": program, "scalars": scalars}


def adam_update_many(variables, gradients, ms, vs, step, learning_rate=0.001, beta_1=0.9,
                     beta_2=0.999, epsilon=1e-7, vhats=None, weight_decays=None,
                     program=None, scalars=None):
    """:func:`adam_update` of many variables at once (a multi-tensor update): the scalar
    arguments are checked once and the kernels run in one call, the same kernels with the
    same results as one ``adam_update`` per variable.

    Args:
        variables, gradients, ms, vs (list of array): lists with one array per variable (as
            in :func:`adam_update`).
        step (int): as in :func:`adam_update`.
        learning_rate, beta_1, beta_2, epsilon (float): as in :func:`adam_update`.
        vhats (list of array or None): a list of amsgrad maxima (None entries, or None: no
            amsgrad).
        weight_decays (list of float or None): one decoupled weight decay per variable
            (None: no decay).

        program (minidl._C.Program or None): record the update into this CPU step
            program instead of running it (see ``minidl._C.adam_update_many``).
        scalars (numpy.ndarray or None): with a program, the float64 array the
            recorded calls read their learning rate, betas, epsilon and step from
            each time the program runs.

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w = [np.ones(2, np.float32), np.ones(3, np.float32)]
        >>> slots = [np.zeros_like(a) for a in w]
        >>> ops.adam_update_many(w, [np.ones(2), np.ones(3)], slots,
        ...                      [np.zeros_like(a) for a in w], step=1, learning_rate=0.5)
        >>> w[1].round(4)
        array([0.5, 0.5, 0.5], dtype=float32)
    """
    variables = list(variables)
    backend = backend_of(*variables)
    where = "adam_update_many"
    lr, b1, b2, eps, step = _adam_scalars(learning_rate, beta_1, beta_2, epsilon, step, where)
    count = len(variables)
    decays = [0.0] * count if weight_decays is None else \
        [real_scalar(d, "weight_decays", where, 0.0) for d in weight_decays]
    vhats = list(vhats) if vhats is not None else [None] * count
    var, grad, s = _many(backend, where, variables, list(gradients),
                         {"m": list(ms), "v": list(vs), "vhat": vhats})
    many = _many_kernel(backend, "adam_update_many", program)
    if many is not None:
        many(var, s["m"], s["v"], s["vhat"], grad, lr, b1, b2, eps, step, decays,
             **_recording(program, scalars))
        return
    for i in range(count):
        backend.kernels.adam_update(var[i], s["m"][i], s["v"][i], s["vhat"][i], grad[i], lr,
                                    b1, b2, eps, step, decays[i])


def rmsprop_update_many(variables, gradients, velocities, learning_rate=0.001, rho=0.9,
                        momentum=0.0, epsilon=1e-7, centered=False, average_gradients=None,
                        momentum_buffers=None, program=None, scalars=None):
    """:func:`rmsprop_update` of many variables at once (a multi-tensor update), with the
    same results as one ``rmsprop_update`` per variable.

    Args:
        variables, gradients, velocities (list of array): lists with one array per variable.
        learning_rate, rho, momentum, epsilon (float): as in :func:`rmsprop_update`.
        centered (bool): as in :func:`rmsprop_update`.
        average_gradients (list of array or None): one per variable when ``centered`` (else
            None).
        momentum_buffers (list of array or None): one per variable when ``momentum > 0``
            (else None).

        program (minidl._C.Program or None): record the update into this CPU step
            program instead of running it (see ``minidl._C.rmsprop_update_many``).
        scalars (numpy.ndarray or None): with a program, the float64 array the
            recorded calls read their learning rate, rho, momentum and epsilon from
            each time the program runs.

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w, velocity = [np.array([1.0]), np.array([2.0])], [np.zeros(1), np.zeros(1)]
        >>> gradients = [np.array([0.5]), np.array([-0.5])]
        >>> ops.rmsprop_update_many(w, gradients, velocity, learning_rate=0.1)
        >>> [a.round(4) for a in w]
        [array([0.6838]), array([2.3162])]
    """
    variables = list(variables)
    backend = backend_of(*variables)
    where = "rmsprop_update_many"
    lr, rho_, mom, eps = _rmsprop_scalars(learning_rate, rho, momentum, epsilon, where)
    count = len(variables)
    if centered and average_gradients is None:
        raise ValueError(f"{where}: argument 'average_gradients' is required when "
                         f"centered=True. Received: None")
    if mom > 0.0 and momentum_buffers is None:
        raise ValueError(f"{where}: argument 'momentum_buffers' is required when "
                         f"momentum > 0. Received: None")
    averages = list(average_gradients) if centered else [None] * count
    buffers = list(momentum_buffers) if mom > 0.0 else [None] * count
    var, grad, s = _many(backend, where, variables, list(gradients),
                         {"velocity": list(velocities), "average_gradient": averages,
                          "momentum_buffer": buffers})
    many = _many_kernel(backend, "rmsprop_update_many", program)
    if many is not None:
        many(var, s["velocity"], s["average_gradient"], s["momentum_buffer"], grad, lr, rho_,
             mom, eps, bool(centered), **_recording(program, scalars))
        return
    for i in range(count):
        backend.kernels.rmsprop_update(var[i], s["velocity"][i], s["average_gradient"][i],
                                       s["momentum_buffer"][i], grad[i], lr, rho_, mom, eps,
                                       bool(centered))


def sgd_update_many(variables, gradients, velocities=None, learning_rate=0.01, momentum=0.0,
                    nesterov=False, program=None, scalars=None):
    """:func:`sgd_update` of many variables at once (a multi-tensor update), with the
    same results as one ``sgd_update`` per variable.

    Args:
        variables, gradients (list of array): lists with one array per variable.
        velocities (list of array or None): one momentum buffer per variable (required when
            ``momentum != 0``).
        learning_rate, momentum (float): as in :func:`sgd_update`.
        nesterov (bool): as in :func:`sgd_update`.

        program (minidl._C.Program or None): record the update into this CPU step
            program instead of running it (see ``minidl._C.sgd_update_many``).
        scalars (numpy.ndarray or None): with a program, the float64 array the
            recorded calls read their learning rate and momentum from each time the
            program runs.

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w = [np.array([1.0]), np.array([2.0, 3.0])]
        >>> ops.sgd_update_many(w, [np.array([1.0]), np.array([1.0, 1.0])], learning_rate=0.5)
        >>> w
        [array([0.5]), array([1.5, 2.5])]
    """
    variables = list(variables)
    backend = backend_of(*variables)
    where = "sgd_update_many"
    lr, mom = _sgd_scalars(learning_rate, momentum, where)
    count = len(variables)
    if mom != 0.0 and velocities is None:
        raise ValueError(f"{where}: argument 'velocities' is required when momentum != 0. "
                         f"Received: None")
    velocities = list(velocities) if velocities is not None else [None] * count
    var, grad, s = _many(backend, where, variables, list(gradients), {"velocity": velocities})
    many = _many_kernel(backend, "sgd_update_many", program)
    if many is not None:
        many(var, s["velocity"], grad, lr, mom, bool(nesterov), **_recording(program, scalars))
        return
    for i in range(count):
        backend.kernels.sgd_update(var[i], s["velocity"][i], grad[i], lr, mom, bool(nesterov))


def nadam_update(variable, gradient, m, v, step, learning_rate=0.001, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-7, u_product=None):
    """One Nadam step (Keras 3 ``Nadam``), updating in place. With ``t = step`` and
    ``u_i = beta_1 * (1 - 0.5 * 0.96**i)``: ``m`` and ``v`` as Adam,
    ``m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)`` with
    ``U_t = u_1 ... u_t``, ``variable -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + eps)``.

    Args:
        variable (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        gradient (array): array of the variable's shape (cast to its dtype).
        m, v (array): the first and second moments (variable's dtype and shape), in place.
        step (int): the 1-based number of this step.
        learning_rate, beta_1, beta_2, epsilon (float): Keras's arguments, checked as in
            :func:`adam_update` (the betas in [0, 1), epsilon >= 0).
        u_product (float or None): ``U_t``, in [0, 1) (None: computed from ``step`` and
            ``beta_1``, in double).

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w = np.ones(2, np.float32)
        >>> ops.nadam_update(w, np.ones(2), np.zeros(2, np.float32),
        ...                  np.zeros(2, np.float32), step=1, learning_rate=0.1)
        >>> bool(np.all(w < 1))
        True
    """
    backend = backend_of(variable, gradient, m, v)
    where = "nadam_update"
    lr, b1, b2, eps, step = _adam_scalars(learning_rate, beta_1, beta_2, epsilon, step, where)
    product = nadam_u_product(b1, step) if u_product is None else \
        real_scalar(u_product, "u_product", where, 0.0, 1.0, high_open=True)
    if m is None or v is None:
        raise ValueError(f"{where}: arguments 'm' and 'v' are required. Received: None")
    var, grad, s = _optim_arrays(backend, where, variable, gradient, {"m": m, "v": v})
    backend.require("nadam_update", where)(var, s["m"], s["v"], grad, lr, b1, b2, eps, step,
                                           product)


def nadam_u_product(beta_1, step, known=(0, 1.0)):
    """Nadam's ``U_t = prod_{i=1..t} beta_1 * (1 - 0.5 * 0.96**i)`` in double, extended
    from ``known = (s, U_s)`` with ``s <= t`` (an optimizer keeps the last one)."""
    start, product = known if known[0] <= step else (0, 1.0)
    for i in range(start + 1, int(step) + 1):
        product *= beta_1 * (1.0 - 0.5 * 0.96 ** i)
    return product


def adadelta_update(variable, gradient, accumulated_grad, accumulated_delta,
                    learning_rate=0.001, rho=0.95, epsilon=1e-7):
    """One Adadelta step (Keras 3 ``Adadelta``), updating in place:
    ``a = rho a + (1 - rho) g**2``, ``d = -sqrt(D + eps) g / sqrt(a + eps)``,
    ``D = rho D + (1 - rho) d**2``, ``variable += lr d``.

    Args:
        variable (array): writable, C-contiguous float32 or float64 NumPy array (a float32
            DeviceArray on the GPU); updated in place.
        gradient (array): array of the variable's shape (cast to its dtype).
        accumulated_grad (array): ``a`` (variable's dtype and shape), in place.
        accumulated_delta (array): ``D`` (variable's dtype and shape), in place.
        learning_rate, rho, epsilon (float): Keras's arguments (rho in [0, 1],
            epsilon >= 0).

    Returns:
        None.

    Example:
        >>> import numpy as np
        >>> from minidl import ops
        >>> w, grad_sq, delta_sq = np.array([1.0]), np.zeros(1), np.zeros(1)
        >>> ops.adadelta_update(w, np.array([0.5]), grad_sq, delta_sq, learning_rate=1.0)
        >>> w.round(6), grad_sq.round(6)
        (array([0.998586]), array([0.0125]))
    """
    backend = backend_of(variable, gradient, accumulated_grad, accumulated_delta)
    where = "adadelta_update"
    lr = real_scalar(learning_rate, "learning_rate", where)
    rho_ = real_scalar(rho, "rho", where, 0.0, 1.0)
    eps = real_scalar(epsilon, "epsilon", where, 0.0)
    if accumulated_grad is None or accumulated_delta is None:
        raise ValueError(f"{where}: arguments 'accumulated_grad' and 'accumulated_delta' "
                         f"are required. Received: None")
    var, grad, s = _optim_arrays(backend, where, variable, gradient,
                                 {"accumulated_grad": accumulated_grad,
                                  "accumulated_delta": accumulated_delta})
    backend.require("adadelta_update", where)(var, s["accumulated_grad"],
                                              s["accumulated_delta"], grad, lr, rho_, eps)
