"""Optimizers, as ``keras.optimizers``: SGD, RMSprop, Adam and AdamW.

The update formulas are Keras 3's and run in C through ``minidl.ops.sgd_update``,
``rmsprop_update`` and ``adam_update`` (one call per variable, in place).

Example:
    >>> import numpy as np
    >>> from minidl import optimizers
    >>> from minidl.variables import Variable
    >>> w = Variable(np.ones(3), dtype="float64")
    >>> optimizer = optimizers.SGD(learning_rate=0.1)
    >>> optimizer.apply_gradients([(np.array([1.0, 2.0, 3.0]), w)])
    1
    >>> w.numpy()
    array([0.9, 0.8, 0.7])
"""

from minidl import _registry, ops
from minidl.backend import backend_of
from minidl.ops.optim import _adam_scalars, _rmsprop_scalars, _sgd_scalars, nadam_u_product
from minidl.optimizers import schedules
from minidl.optimizers.base import Optimizer, check_float


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    ``momentum == 0``: ``w -= lr * g``. Otherwise ``v = momentum * v - lr * g`` and
    ``w += v`` (Nesterov: ``w += momentum * v - lr * g``).

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``).
        momentum (float): float in [0, 1].
        nesterov (bool): whether to use Nesterov momentum.
        name (str or None): defaults to ``"SGD"``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``
            (see ``Optimizer``).

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> optimizer = optimizers.SGD(learning_rate=0.1, momentum=0.9)
        >>> optimizer.apply_gradients([(np.array([0.5, -0.5]), w)])
        1
        >>> w.value
        array([0.95, 2.05], dtype=float32)
    """

    _DEFAULT_NAME = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = check_float(momentum, "momentum", "SGD", 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_names(self):
        return ("momentum",) if self.momentum != 0.0 else ()

    def _update(self, variable, grad, slots, learning_rate):
        self._decay_in_place(variable, learning_rate)
        ops.sgd_update(variable.value, grad, slots.get("momentum"),
                       learning_rate=learning_rate, momentum=self.momentum,
                       nesterov=self.nesterov)

    def _update_many(self, pairs, slots, learning_rate, program=None, scalars=None):
        for _, variable in pairs:
            self._decay_in_place(variable, learning_rate)
        ops.sgd_update_many([v.value for _, v in pairs], [g for g, _ in pairs],
                            [s.get("momentum") for s in slots] if self.momentum else None,
                            learning_rate=learning_rate, momentum=self.momentum,
                            nesterov=self.nesterov, program=program, scalars=scalars)

    _program_scalar_count = 2

    def _recorded_flags(self):
        return (self.nesterov,)

    def _program_scalars(self, scalars):
        scalars[:2] = _sgd_scalars(self._current_learning_rate(), self.momentum,
                                   "sgd_update_many")

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        return config


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    ``v = rho * v + (1 - rho) * g**2``; centered: ``a = rho * a + (1 - rho) * g`` and the
    denominator is ``sqrt(v - a**2 + epsilon)``, else ``sqrt(v + epsilon)``; the increment
    ``lr * g / denominator`` is applied directly or through a momentum buffer.

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``).
        rho (float): discounting factor in [0, 1].
        momentum (float): float >= 0.
        epsilon (float): small float >= 0 added inside the square root.
        centered (bool): normalise by the estimated variance of the gradient.
        name (str or None): defaults to ``"rmsprop"``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> optimizer = optimizers.RMSprop(learning_rate=0.1)
        >>> optimizer.apply_gradients([(np.array([0.5, -0.5]), w)])
        1
        >>> w.value
        array([0.68377286, 2.3162272 ], dtype=float32)
    """

    _DEFAULT_NAME = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_float(rho, "rho", "RMSprop", 0.0, 1.0)
        self.momentum = check_float(momentum, "momentum", "RMSprop", 0.0)
        self.epsilon = check_float(epsilon, "epsilon", "RMSprop", 0.0)
        self.centered = bool(centered)

    def _slot_names(self):
        names = ["velocity"]
        if self.momentum > 0.0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return tuple(sorted(names))

    def _update(self, variable, grad, slots, learning_rate):
        self._decay_in_place(variable, learning_rate)
        ops.rmsprop_update(variable.value, grad, slots["velocity"],
                           learning_rate=learning_rate, rho=self.rho, momentum=self.momentum,
                           epsilon=self.epsilon, centered=self.centered,
                           average_gradient=slots.get("average_gradient"),
                           momentum_buffer=slots.get("momentum"))

    def _update_many(self, pairs, slots, learning_rate, program=None, scalars=None):
        for _, variable in pairs:
            self._decay_in_place(variable, learning_rate)
        ops.rmsprop_update_many(
            [v.value for _, v in pairs], [g for g, _ in pairs], [s["velocity"] for s in slots],
            learning_rate=learning_rate, rho=self.rho, momentum=self.momentum,
            epsilon=self.epsilon, centered=self.centered,
            average_gradients=[s.get("average_gradient") for s in slots],
            momentum_buffers=[s.get("momentum") for s in slots], program=program,
            scalars=scalars)

    _program_scalar_count = 4

    def _recorded_flags(self):
        return (self.centered,)

    def _program_scalars(self, scalars):
        scalars[:4] = _rmsprop_scalars(self._current_learning_rate(), self.rho,
                                       self.momentum, self.epsilon, "rmsprop_update_many")

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                      centered=self.centered)
        return config


class Adam(Optimizer):
    """Adam: adaptive moment estimation (Keras 3 formula, ``epsilon`` outside the root).

    With ``t = iterations + 1``: ``m += (g - m) * (1 - beta_1)``,
    ``v += (g**2 - v) * (1 - beta_2)``, amsgrad: ``v_hat = max(v_hat, v)`` replaces v,
    ``w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)``.

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``).
        beta_1 (float): decay of the first moment, in [0, 1).
        beta_2 (float): decay of the second moment, in [0, 1).
        epsilon (float): small float >= 0.
        amsgrad (bool): use the running maximum of the second moment.
        name (str or None): defaults to ``"adam"``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> optimizer = optimizers.Adam(learning_rate=0.1)
        >>> optimizer.apply_gradients([(np.array([0.5, -0.5]), w)])
        1
        >>> w.value
        array([0.90000063, 2.0999994 ], dtype=float32)
    """

    _DEFAULT_NAME = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        where = type(self).__name__
        self.beta_1 = check_float(beta_1, "beta_1", where, 0.0, 1.0, high_open=True)
        self.beta_2 = check_float(beta_2, "beta_2", where, 0.0, 1.0, high_open=True)
        self.epsilon = check_float(epsilon, "epsilon", where, 0.0)
        self.amsgrad = bool(amsgrad)

    def _slot_names(self):
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad else \
            ("momentum", "velocity")

    def _update(self, variable, grad, slots, learning_rate):
        decay = self.weight_decay if self._decays(variable) else 0.0
        ops.adam_update(variable.value, grad, slots["momentum"], slots["velocity"],
                        self._iterations + 1, learning_rate=learning_rate,
                        beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                        vhat=slots.get("velocity_hat"), weight_decay=decay)

    def _many_is_atomic(self, pairs):
        # the weight decay happens inside the kernel; a backend without the multi-tensor
        # kernel updates one variable at a time (a failure could land between two)
        kernels = backend_of(pairs[0][1].value).kernels
        return getattr(kernels, "adam_update_many", None) is not None

    def _update_many(self, pairs, slots, learning_rate, program=None, scalars=None):
        ops.adam_update_many(
            [v.value for _, v in pairs], [g for g, _ in pairs], [s["momentum"] for s in slots],
            [s["velocity"] for s in slots], self._iterations + 1, learning_rate=learning_rate,
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            vhats=[s.get("velocity_hat") for s in slots],
            weight_decays=[self.weight_decay if self._decays(v) else 0.0 for _, v in pairs]
            if self.weight_decay else None, program=program, scalars=scalars)

    _program_scalar_count = 5
    _decay_in_update = True

    def _program_scalars(self, scalars):
        scalars[:5] = _adam_scalars(self._current_learning_rate(), self.beta_1, self.beta_2,
                                    self.epsilon, self._iterations + 1, "adam_update_many")

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                      amsgrad=self.amsgrad)
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= w * weight_decay * lr`` before each Adam
    step (Keras 3 ``AdamW``).

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``).
        weight_decay (float): float >= 0 (None is refused).
        beta_1 (float): decay of the first moment, in [0, 1).
        beta_2 (float): decay of the second moment, in [0, 1).
        epsilon (float): small float >= 0.
        amsgrad (bool): use the running maximum of the second moment.
        name (str or None): defaults to ``"adamw"``.
        **kwargs: ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> optimizer = optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
        >>> optimizer.apply_gradients([(np.array([0.5, -0.5]), w)])
        1
        >>> w.value
        array([0.8500006, 1.9999993], dtype=float32)
    """

    _DEFAULT_NAME = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: argument 'weight_decay' must be a float. "
                             "Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name,
                         weight_decay=weight_decay, **kwargs)


class Adagrad(Optimizer):
    """Adagrad: each parameter's step shrinks with the sum of its squared gradients.

    ``accumulator += g**2`` (starting at ``initial_accumulator_value``), then
    ``w -= lr * g / sqrt(accumulator + epsilon)`` (Keras 3's formula, in C).

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``).
        initial_accumulator_value (float): float >= 0, the accumulators' starting value.
        epsilon (float): small float >= 0.
        name (str or None): defaults to ``"adagrad"``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers
        >>> from minidl.variables import Variable
        >>> w = Variable(np.zeros(2), dtype="float64")
        >>> opt = optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.0,
        ...                          epsilon=0.0)
        >>> _ = opt.apply([np.array([2.0, -4.0])], [w])
        >>> w.numpy()  # the first step is lr * sign(g)
        array([-0.1,  0.1])
    """

    _DEFAULT_NAME = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = check_float(
            initial_accumulator_value, "initial_accumulator_value", "Adagrad", 0.0)
        self.epsilon = check_float(epsilon, "epsilon", "Adagrad", 0.0)

    def _slot_names(self):
        return ("accumulator",)

    def _initial_slot_value(self, name):
        return self.initial_accumulator_value

    def _update(self, variable, grad, slots, learning_rate):
        self._decay_in_place(variable, learning_rate)
        ops.adagrad_update(variable.value, grad, slots["accumulator"],
                           learning_rate=learning_rate, epsilon=self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(initial_accumulator_value=self.initial_accumulator_value,
                      epsilon=self.epsilon)
        return config


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm of past gradients in place of their root mean
    square. ``m += (g - m)(1 - beta_1)``, ``u = max(beta_2 * u, |g|)``,
    ``w -= lr / (1 - beta_1**t) * m / (u + epsilon)`` (Keras 3's formula, in C).

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``).
        beta_1 (float): decay of the first moment, in [0, 1).
        beta_2 (float): decay of the infinity norm, in [0, 1].
        epsilon (float): small float >= 0.
        name (str or None): defaults to ``"adamax"``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> optimizer = optimizers.Adamax(learning_rate=0.1)
        >>> optimizer.apply_gradients([(np.array([0.5, -0.5]), w)])
        1
        >>> w.value
        array([0.90000004, 2.1       ], dtype=float32)
    """

    _DEFAULT_NAME = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_float(beta_1, "beta_1", "Adamax", 0.0, 1.0, high_open=True)
        self.beta_2 = check_float(beta_2, "beta_2", "Adamax", 0.0, 1.0)
        self.epsilon = check_float(epsilon, "epsilon", "Adamax", 0.0)

    def _slot_names(self):
        return ("m", "u")

    def _update(self, variable, grad, slots, learning_rate):
        self._decay_in_place(variable, learning_rate)
        ops.adamax_update(variable.value, grad, slots["m"], slots["u"], self._iterations + 1,
                          learning_rate=learning_rate, beta_1=self.beta_1,
                          beta_2=self.beta_2, epsilon=self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum (Keras 3's formula, in C): with
    ``u_i = beta_1 (1 - 0.5 * 0.96**i)`` and ``U_t = u_1 ... u_t`` (kept in double),
    ``m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)`` and
    ``w -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)``.

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``).
        beta_1 (float): decay of the first moment, in [0, 1).
        beta_2 (float): decay of the second moment, in [0, 1).
        epsilon (float): small float >= 0.
        name (str or None): defaults to ``"nadam"``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> optimizer = optimizers.Nadam(learning_rate=0.1)
        >>> optimizer.apply_gradients([(np.array([0.5, -0.5]), w)])
        1
        >>> w.value
        array([0.8937212, 2.1062787], dtype=float32)
    """

    _DEFAULT_NAME = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = check_float(beta_1, "beta_1", "Nadam", 0.0, 1.0, high_open=True)
        self.beta_2 = check_float(beta_2, "beta_2", "Nadam", 0.0, 1.0, high_open=True)
        self.epsilon = check_float(epsilon, "epsilon", "Nadam", 0.0)
        self._u_cache = (0, 1.0)  # (step, U_step): extended one step at a time

    def _slot_names(self):
        return ("momentum", "velocity")

    def _u_product(self, step):
        self._u_cache = (step, nadam_u_product(self.beta_1, step, self._u_cache))
        return self._u_cache[1]

    def _update(self, variable, grad, slots, learning_rate):
        self._decay_in_place(variable, learning_rate)
        step = self._iterations + 1
        ops.nadam_update(variable.value, grad, slots["momentum"], slots["velocity"], step,
                         learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2,
                         epsilon=self.epsilon, u_product=self._u_product(step))

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of running RMS of past steps and of gradients
    (Keras 3's formula, in C): ``a = rho a + (1 - rho) g**2``,
    ``d = -sqrt(D + epsilon) g / sqrt(a + epsilon)``, ``D = rho D + (1 - rho) d**2``,
    ``w += lr d``.

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a schedule or
            a callable (see ``Optimizer``; Keras's default 0.001).
        rho (float): the decay rate, in [0, 1].
        epsilon (float): small float >= 0.
        name (str or None): defaults to ``"adadelta"``.
        **kwargs: ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> optimizer = optimizers.Adadelta(learning_rate=1.0)
        >>> optimizer.apply_gradients([(np.array([0.5, -0.5]), w)])
        1
        >>> w.value
        array([0.9985858, 2.0014143], dtype=float32)
    """

    _DEFAULT_NAME = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = check_float(rho, "rho", "Adadelta", 0.0, 1.0)
        self.epsilon = check_float(epsilon, "epsilon", "Adadelta", 0.0)

    def _slot_names(self):
        return ("accumulated_grad", "accumulated_delta_var")

    def _update(self, variable, grad, slots, learning_rate):
        self._decay_in_place(variable, learning_rate)
        ops.adadelta_update(variable.value, grad, slots["accumulated_grad"],
                            slots["accumulated_delta_var"], learning_rate=learning_rate,
                            rho=self.rho, epsilon=self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, epsilon=self.epsilon)
        return config


_OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW,
               "adagrad": Adagrad, "adamax": Adamax, "nadam": Nadam, "adadelta": Adadelta}

# Keras 2's lower-case spellings (``keras.optimizers.rmsprop(lr=1e-4, decay=1e-6)`` in
# many published programs): the classes themselves.
sgd, rmsprop, adam, adagrad, adamax = SGD, RMSprop, Adam, Adagrad, Adamax
nadam, adadelta = Nadam, Adadelta


def serialize(optimizer):
    """An optimizer as a dict ``{"class_name", "config"}``.

    Args:
        optimizer (Optimizer): an ``Optimizer`` (TypeError for anything else).

    Returns:
        A dict that ``deserialize`` turns back into an equally configured optimizer
        (without its slots: see ``get_state``).

    Example:
        >>> from minidl import optimizers
        >>> optimizers.serialize(optimizers.SGD(0.5))["class_name"]
        'SGD'
    """
    return _registry.serialize(optimizer, Optimizer, "minidl.optimizers", "optimizer",
                               "an Optimizer")


def _lookup(name):
    cls = _registry.find(_OPTIMIZERS, name)
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {name!r}. "
                         f"Valid names: {', '.join(_OPTIMIZERS)}")
    return cls


def deserialize(config):
    """Build an optimizer from ``serialize``'s dict.

    Args:
        config (dict): a dict with ``class_name`` (a name as ``get`` takes it) and
            ``config`` (the constructor arguments; missing or None for the defaults).

    Returns:
        An ``Optimizer``.

    Example:
        >>> from minidl import optimizers
        >>> config = {"class_name": "Adam", "config": {"learning_rate": 0.01}}
        >>> optimizers.deserialize(config).learning_rate
        0.01
    """
    return _registry.deserialize(config, _lookup, "optimizers")


def get(identifier):
    """Resolve an optimizer identifier, as ``keras.optimizers.get``.

    Args:
        identifier (str or dict or Optimizer or type): an ``Optimizer`` (returned as
            is), a name ('sgd', 'rmsprop', 'adam', 'adamw', 'adagrad', 'adamax', 'nadam',
            'adadelta', any case; the class names too) which builds one with the Keras
            defaults, an ``Optimizer`` subclass (built with its defaults), or a
            ``serialize`` dict.

    Returns:
        An ``Optimizer``.

    Example:
        >>> from minidl import optimizers
        >>> type(optimizers.get("adam")).__name__
        'Adam'
        >>> optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.5}}).learning_rate
        0.5
    """
    resolved = _registry.resolve(identifier, Optimizer, _lookup, deserialize)
    if resolved is not None:
        return resolved
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. Expected "
                     f"an Optimizer, a name ({', '.join(_OPTIMIZERS)}) or a dict.")


__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "Optimizer",
           "RMSprop", "adadelta", "adagrad", "adam", "adamax", "deserialize", "get", "nadam",
           "rmsprop", "schedules", "serialize", "sgd"]
