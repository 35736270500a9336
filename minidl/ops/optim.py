"""Optimizer updates: SGD, RMSprop, Adam/AdamW, Adagrad and Adamax, each updating the
variable and its state in place in one pass (``csrc/optim.c`` and its CUDA twin)."""
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


def sgd_update(variable, gradient, velocity=None, learning_rate=0.01, momentum=0.0,
               nesterov=False):
    """One SGD step (Keras 3 ``SGD``), updating ``variable`` and ``velocity`` in place.

    ``momentum == 0``: ``variable -= learning_rate * gradient``. Otherwise
    ``velocity = momentum * velocity - learning_rate * gradient`` and
    ``variable += velocity`` (or, with Nesterov,
    ``variable += momentum * velocity - learning_rate * gradient``).

    Args:
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (any real dtype and layout; cast).
        velocity: the momentum buffer (variable's dtype and shape, writable,
            C-contiguous), updated in place; required when ``momentum != 0``.
        learning_rate: finite float.
        momentum: float in [0, 1].
        nesterov: whether to use Nesterov momentum.

    Returns:
        None.
    """
    backend = backend_of(variable, gradient, velocity)
    where = "sgd_update"
    lr = real_scalar(learning_rate, "learning_rate", where)
    mom = real_scalar(momentum, "momentum", where, 0.0, 1.0)
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
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (any real dtype and layout; cast).
        velocity: running mean of squared gradients (variable's dtype and shape, writable,
            C-contiguous), updated in place.
        learning_rate: finite float.
        rho: discounting factor in [0, 1].
        momentum: float >= 0.
        epsilon: float >= 0, added inside the square root.
        centered: normalise by the estimated variance instead of the second moment.
        average_gradient: running mean of gradients, updated in place; required when
            ``centered``.
        momentum_buffer: momentum accumulator, updated in place; required when
            ``momentum > 0``.

    Returns:
        None.
    """
    backend = backend_of(variable, gradient, velocity, average_gradient, momentum_buffer)
    where = "rmsprop_update"
    lr = real_scalar(learning_rate, "learning_rate", where)
    rho_ = real_scalar(rho, "rho", where, 0.0, 1.0)
    mom = real_scalar(momentum, "momentum", where, 0.0)
    eps = real_scalar(epsilon, "epsilon", where, 0.0)
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
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (any real dtype and layout; cast).
        m: first-moment estimate (variable's dtype and shape, writable, C-contiguous),
            updated in place.
        v: second-moment estimate, updated in place.
        step: the 1-based number of this step (Keras' ``iterations + 1``).
        learning_rate: finite float.
        beta_1: float in [0, 1).
        beta_2: float in [0, 1).
        epsilon: float >= 0.
        vhat: running maximum of ``v`` (amsgrad), updated in place; None disables amsgrad.
        weight_decay: float >= 0, decoupled weight decay (AdamW).

    Returns:
        None.
    """
    backend = backend_of(variable, gradient, m, v, vhat)
    where = "adam_update"
    lr = real_scalar(learning_rate, "learning_rate", where)
    b1 = real_scalar(beta_1, "beta_1", where, 0.0, 1.0, high_open=True)
    b2 = real_scalar(beta_2, "beta_2", where, 0.0, 1.0, high_open=True)
    eps = real_scalar(epsilon, "epsilon", where, 0.0)
    wd = real_scalar(weight_decay, "weight_decay", where, 0.0)
    step = step_number(step, where)
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
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (cast to its dtype).
        accumulator: the sum of squared gradients (variable's dtype and shape), in place.
        learning_rate: finite float.
        epsilon: float >= 0.

    Returns:
        None.
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
        variable: float32 or float64 array, writable and C-contiguous; updated in place.
        gradient: array of the variable's shape (cast to its dtype).
        m: the first moment (variable's dtype and shape), in place.
        u: the exponentially weighted infinity norm (variable's dtype and shape), in place.
        step: the 1-based number of this step (Keras' ``iterations + 1``).
        learning_rate: finite float.
        beta_1: decay of the first moment, in [0, 1).
        beta_2: decay of the infinity norm, in [0, 1].
        epsilon: float >= 0.

    Returns:
        None.
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
