"""The ``Optimizer`` base class: learning rate, iterations, per-variable slots, clipping,
weight decay and the saved state. Subclasses supply only the update of one variable."""
import math
import numbers
import warnings

import numpy as np

from minidl import ops
from minidl import backend
from minidl.backend import backend_of, to_numpy
from minidl._interrupts import interrupts_deferred
from minidl.optimizers import schedules
from minidl.variables import checked_array

# keras.optimizers.Optimizer arguments that minidl accepts only at their default value.
_UNSUPPORTED_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99,
                         "ema_overwrite_frequency": None, "loss_scale_factor": None,
                         "gradient_accumulation_steps": None}


def check_float(value, name, where, low=None, high=None, high_open=False):
    """A finite real number as a float, inside [low, high] (or [low, high)).

    Args:
        value: the argument.
        name: its name, for the message.
        where: the class, for the message.
        low: inclusive lower bound or None.
        high: upper bound or None.
        high_open: exclude ``high`` itself.

    Returns:
        The value as a float.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value):
        raise ValueError(f"{where}: argument '{name}' must be a finite number. "
                         f"Received: {name}={value!r}")
    value = float(value)
    if (low is not None and value < low) or \
            (high is not None and (value > high or (high_open and value == high))):
        upper = "" if high is None else f", {high}{')' if high_open else ']'}"
        interval = f"[{low}{upper}" if high is not None else f">= {low}"
        raise ValueError(f"{where}: argument '{name}' must be in {interval}. "
                         f"Received: {name}={value!r}")
    return value


def _check_optional_positive(value, name, where):
    """None, or a positive finite float (the clipping thresholds)."""
    if value is None:
        return None
    value = check_float(value, name, where, low=0.0)
    if value == 0.0:
        raise ValueError(f"{where}: argument '{name}' must be positive or None. "
                         f"Received: {name}={value!r}")
    return value


class LearningRateValue(float):
    """A learning rate read from an optimizer: a float that knows its ``optimizer``
    (``minidl.backend.set_value`` sets the optimizer's rate through it)."""

    def __new__(cls, value, optimizer):
        rate = super().__new__(cls, value)
        rate.optimizer = optimizer
        return rate


def _keras2_arguments(kwargs, learning_rate, where):
    """Take Keras 2's ``lr`` and ``decay`` out of ``kwargs``: the learning rate to use
    and the time-based decay (0.0 when not given), each with a DeprecationWarning."""
    if "lr" in kwargs:
        warnings.warn(f"{where}: argument 'lr' is the Keras 2 name of 'learning_rate'; "
                      f"use learning_rate=", DeprecationWarning, stacklevel=4)
        learning_rate = kwargs.pop("lr")
    decay = kwargs.pop("decay", None)
    if decay is None:
        return learning_rate, 0.0
    decay = check_float(decay, "decay", where, low=0.0)
    if decay:
        warnings.warn(f"{where}: argument 'decay' is Keras 2's time-based decay "
                      f"(learning_rate / (1 + decay * iterations)); Keras 3 uses "
                      f"keras.optimizers.schedules.InverseTimeDecay", DeprecationWarning,
                      stacklevel=4)
    return learning_rate, decay


class Optimizer:
    """Base class of optimizers (Keras 3 ``keras.optimizers.Optimizer`` semantics).

    The optimizer keeps, per variable, slot arrays (momenta, ...) created lazily on the
    first update (zeros of the variable's shape and dtype). Each ``apply`` first clips
    the gradients (``clipvalue``, ``clipnorm`` or ``global_clipnorm``), applies the
    decoupled weight decay when ``weight_decay`` is set, updates every variable with
    the learning rate of the current iteration, then increments ``iterations``.

    Args:
        learning_rate (float or LearningRateSchedule or callable): a float, a
            ``schedules.LearningRateSchedule`` (evaluated at ``iterations``) or a callable
            with no arguments returning a float.
        weight_decay (float or None): None or a float >= 0:
            ``variable -= variable * weight_decay * lr`` before each update.
        clipnorm (float or None): clip each gradient to this L2 norm (positive; at most
            one of the three clipping arguments is set).
        clipvalue (float or None): clip each gradient element to
            ``[-clipvalue, clipvalue]`` (positive).
        global_clipnorm (float or None): clip all gradients together to this global L2
            norm (positive).
        name (str or None): the optimizer's name (default: the class's Keras name).
        **kwargs: Keras's ``use_ema``, ``ema_momentum``, ``ema_overwrite_frequency``,
            ``loss_scale_factor``, ``gradient_accumulation_steps`` are accepted at their
            defaults only. The Keras 2 spellings are accepted with a
            ``DeprecationWarning``: ``lr`` for ``learning_rate`` (it wins, as in Keras
            2.3), and ``decay`` >= 0, the Keras 2 time-based decay: the learning rate of
            iteration t is ``learning_rate / (1 + decay * t)``.

    Example:
        >>> import numpy as np
        >>> from minidl import optimizers, variables
        >>> class SignSGD(optimizers.Optimizer):
        ...     def _update(self, variable, grad, slots, learning_rate):
        ...         variable.value[...] -= learning_rate * np.sign(grad)
        >>> w = variables.Variable(np.array([1.0, 2.0], np.float32))
        >>> SignSGD(learning_rate=0.5).apply_gradients([(np.array([3.0, -0.1]), w)])
        1
        >>> w.value
        array([0.5, 2.5], dtype=float32)
    """

    _DEFAULT_NAME = "optimizer"

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        where = type(self).__name__
        learning_rate, self.decay = _keras2_arguments(kwargs, learning_rate, where)
        for key, value in kwargs.items():
            if key not in _UNSUPPORTED_DEFAULTS:
                raise ValueError(f"{where}: argument(s) not recognized: {key!r}. "
                                 f"Received: {key}={value!r}")
            if value != _UNSUPPORTED_DEFAULTS[key]:
                raise ValueError(f"{where}: argument '{key}' is not supported by minidl "
                                 f"(only its default {_UNSUPPORTED_DEFAULTS[key]!r}). "
                                 f"Received: {key}={value!r}")
        self.name = name if name is not None else self._DEFAULT_NAME
        if not isinstance(self.name, str):
            raise ValueError(f"{where}: argument 'name' must be a string or None. "
                             f"Received: name={name!r}")
        self._learning_rate = self._check_learning_rate(learning_rate)
        self.weight_decay = None if weight_decay is None else \
            check_float(weight_decay, "weight_decay", where, low=0.0)
        self.clipnorm = _check_optional_positive(clipnorm, "clipnorm", where)
        self.clipvalue = _check_optional_positive(clipvalue, "clipvalue", where)
        self.global_clipnorm = _check_optional_positive(global_clipnorm, "global_clipnorm",
                                                        where)
        if sum(c is not None for c in (self.clipnorm, self.clipvalue,
                                       self.global_clipnorm)) > 1:
            raise ValueError(f"{where}: only one of 'clipnorm', 'clipvalue' and "
                             f"'global_clipnorm' can be set. Received: clipnorm={clipnorm}, "
                             f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self._iterations = 0
        # id(variable) -> (variable, {slot name: array}); insertion order is the order
        # in which variables were first seen, which fixes the order of get_state.
        self._slots = {}
        # counts replacements of slot arrays (set_state, a move to another device): a
        # step program that points at the old arrays must record again
        self._slots_replaced = 0
        self._decay_excluded_ids = set()
        self._decay_excluded_names = ()

    # ------------------------------------------------------------ learning rate

    def _check_learning_rate(self, learning_rate):
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            return learning_rate
        if callable(learning_rate):
            return learning_rate
        return check_float(learning_rate, "learning_rate", type(self).__name__)

    @property
    def learning_rate(self):
        """The learning rate of the current iteration, as a float.

        Settable with a float (or a new schedule); a learning rate created as a schedule
        can be replaced by another schedule only, as in Keras. The float remembers its
        optimizer, so that Keras 2's ``backend.set_value(optimizer.lr, 0.01)`` sets it.
        """
        return LearningRateValue(self._current_learning_rate(), self)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules.LearningRateSchedule) or \
                not isinstance(self._learning_rate, schedules.LearningRateSchedule):
            self._learning_rate = self._check_learning_rate(value)
            return
        raise TypeError(f"{type(self).__name__}: this optimizer was created with a "
                        f"LearningRateSchedule as its 'learning_rate', hence its learning "
                        f"rate is not settable to a number. Received: {value!r}")

    # Keras 2 name, still used by much user code.
    lr = learning_rate

    def _current_learning_rate(self):
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            rate = float(self._learning_rate(self._iterations))
        elif callable(self._learning_rate):
            rate = float(self._learning_rate())
        else:
            rate = self._learning_rate
        if self.decay:
            rate /= 1.0 + self.decay * self._iterations
        return rate

    @property
    def iterations(self):
        """The number of update steps applied so far (an int)."""
        return self._iterations

    # ------------------------------------------------------------ slots

    def _slot_names(self):
        """The slot names one variable needs under this configuration (sorted)."""
        return ()

    def _slots_of(self, variable):
        """The slots of ``variable``, created (zeros) the first time it is seen."""
        entry = self._slots.get(id(variable))
        if entry is None:
            value = variable.value
            slots = {name: _zeros_like(value) for name in self._slot_names()}
            for name, array in slots.items():
                start = self._initial_slot_value(name)
                if start:
                    array.fill(start)
            entry = (variable, slots)
            self._slots[id(variable)] = entry
        return entry[1]

    def _initial_slot_value(self, name):
        """The value a new slot starts from (0; Adagrad's accumulator overrides it)."""
        return 0.0

    def build(self, variables):
        """Create the slots of ``variables`` now, in this order (as Keras's ``build``).

        Calling it before the first ``apply`` fixes the order of ``get_state`` to the
        order of ``variables``.

        Args:
            variables (list of Variable): the trainable variables.
        """
        for variable in variables:
            self._check_variable(variable)
            self._slots_of(variable)

    @property
    def built(self):
        """Whether any slot has been created."""
        return bool(self._slots)

    @property
    def variables(self):
        """The optimizer's own state arrays (the slots, live, in ``get_state`` order), as
        Keras's ``optimizer.variables`` lists the optimizer's variables."""
        return [array for _, slots in self._slots.values()
                for _, array in sorted(slots.items())]

    def _place_slots(self, device):
        """Move the slots to ``device`` (``'cpu'`` or ``'cuda'``), where the model's
        weights are; nothing to do when they are there already."""
        for _, slots in self._slots.values():
            for name, array in slots.items():
                if backend.device_of(array) != device:
                    slots[name] = backend.get(device).asarray(to_numpy(array), array.dtype)
                    self._slots_replaced += 1

    def _tracked_variables(self):
        """The model variables this optimizer has seen, in the order first seen."""
        return [variable for variable, _ in self._slots.values()]

    def _check_variable(self, variable):
        value = getattr(variable, "value", None)
        if value is None or not isinstance(value, backend_of(value).array_type):
            raise TypeError(f"{type(self).__name__}: expected minidl Variables (with a "
                            f"NumPy 'value'). Received: {variable!r}")

    # ------------------------------------------------------------ weight decay

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from the weight decay (as Keras).

        Args:
            var_list (list of Variable or None): variables to exclude.
            var_names (list of str or None): substrings; a variable whose name or path
                contains one is excluded.
        """
        self._decay_excluded_ids |= {id(v) for v in (var_list or ())}
        self._decay_excluded_names = tuple(self._decay_excluded_names) + \
            tuple(var_names or ())

    def _decays(self, variable):
        if not self.weight_decay or id(variable) in self._decay_excluded_ids:
            return False
        names = (getattr(variable, "name", ""), getattr(variable, "path", ""))
        return not any(part in name for part in self._decay_excluded_names for name in names)

    # ------------------------------------------------------------ applying gradients

    def apply_gradients(self, grads_and_vars):
        """Apply one step from ``(gradient, variable)`` pairs.

        Args:
            grads_and_vars (iterable of (array, Variable) tuples): the
                ``(gradient, variable)`` pairs; a gradient is an array of the variable's
                shape (NumPy, CUDA, or array-like); pairs whose gradient is None are
                skipped.

        Returns:
            The new ``iterations``.
        """
        pairs = list(grads_and_vars)
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"{type(self).__name__}.apply_gradients: expected "
                                 f"(gradient, variable) pairs. Received: {pair!r}")
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, trainable_variables=None):
        """Apply one step: update each variable from its gradient, then count the step.

        Args:
            grads (list of array): the gradients, one per variable, each of its
                variable's shape (a NumPy array, a CUDA array or array-like; None skips
                the variable).
            trainable_variables (list of Variable or None): the variables; default: those
                of ``build`` (or seen by earlier steps), in that order.

        Returns:
            The new ``iterations``.
        """
        where = type(self).__name__
        grads = list(grads)
        variables = self._tracked_variables() if trainable_variables is None else \
            list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"{where}: expected one gradient per variable. Received: "
                             f"{len(grads)} gradients for {len(variables)} variables")
        pairs = []
        for grad, variable in zip(grads, variables):
            self._check_variable(variable)
            if grad is None:
                continue
            pairs.append((self._check_gradient(grad, variable), variable))
        if not pairs:
            return self._iterations
        pairs = self._clip(pairs)
        learning_rate = self._current_learning_rate()
        new_slots = [id(v) for _, v in pairs if id(v) not in self._slots]
        with interrupts_deferred():  # a Ctrl-C lands after the whole step
            try:
                slots = [self._slots_of(variable) for _, variable in pairs]
                self._update_all(pairs, slots, learning_rate)
            except BaseException:
                for key in new_slots:  # the step is absent: so are the slots it made
                    self._slots.pop(key, None)
                raise
        return self._iterations

    def _update_all(self, pairs, slots, learning_rate):
        """Update every variable, then count the step; if an update fails, the variables
        and slots already updated get their values back (the step is whole or absent)."""
        saved = []
        try:
            many = len(pairs) > 1 and self._update_many is not None and \
                len({backend.device_of(v.value) for _, v in pairs}) == 1 and \
                len({v.value.dtype for _, v in pairs}) == 1
            # one multi-tensor call that checks every array before it writes any, and no
            # constraint after it, is whole or absent by itself: no copies to restore
            atomic = many and self._many_is_atomic(pairs) and \
                all(getattr(v, "constraint", None) is None for _, v in pairs)
            for (grad, variable), variable_slots in zip(pairs, slots):
                if not atomic:
                    saved.append((variable, variable.value.copy(),
                                  {name: a.copy() for name, a in variable_slots.items()}))
                if not many:
                    self._update(variable, grad, variable_slots, learning_rate)
            if many:  # every variable in one multi-tensor update (same kernels, same bits)
                self._update_many(pairs, slots, learning_rate)
            for _, variable in pairs:  # Keras applies a weight's constraint after its update
                constraint = getattr(variable, "constraint", None)
                if constraint is not None:
                    variable.value[...] = constraint(to_numpy(variable.value))
        except BaseException:
            for variable, value, slot_values in reversed(saved):
                variable.value[...] = value  # on the variable's device, no host copy
                for name, slot_value in slot_values.items():
                    self._slots[id(variable)][1][name][...] = slot_value
            raise
        self._iterations += 1

    def _check_gradient(self, grad, variable):
        grad = backend_of(grad).asarray(grad)
        name = getattr(variable, "path", getattr(variable, "name", "?"))
        if grad.shape != variable.value.shape:
            raise ValueError(f"{type(self).__name__}: the gradient of variable '{name}' "
                             f"must have the variable's shape {variable.value.shape}. "
                             f"Received: gradient of shape {grad.shape}")
        if grad.dtype.kind not in "biuf":
            raise TypeError(f"{type(self).__name__}: the gradient of variable '{name}' must "
                            f"be numeric. Received: dtype {grad.dtype}")
        return grad

    def _clip(self, pairs):
        """Apply clipvalue / clipnorm / global_clipnorm (Keras formulas)."""
        if self.clipvalue is not None:
            return [(ops.clip(g, -self.clipvalue, self.clipvalue), v) for g, v in pairs]
        if self.clipnorm is not None:
            return [(self._scale_to_norm(g, _l2_norm(g), self.clipnorm), v)
                    for g, v in pairs]
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(_l2_norm(g) ** 2 for g, _ in pairs))
            return [(self._scale_to_norm(g, norm, self.global_clipnorm), v)
                    for g, v in pairs]
        return pairs

    @staticmethod
    def _scale_to_norm(grad, norm, clip):
        # g * clip / max(norm, clip): unchanged when the norm is within the limit
        if norm <= clip:
            return grad
        return ops.scale(grad, clip / norm)

    def _update(self, variable, grad, slots, learning_rate):
        """Update one variable in place (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__}: optimizers must implement "
                                  f"_update(variable, grad, slots, learning_rate)")

    # ``_update_many(pairs, slots, learning_rate)``: the update of every variable in one
    # multi-tensor op, with the results of ``_update`` per variable (None: not available)
    _update_many = None

    def _many_is_atomic(self, pairs):
        """Whether ``_update_many`` writes nothing before its one checked kernel call: true
        unless a variable is decayed in place first (``_decay_in_place``)."""
        return not any(self._decays(variable) for _, variable in pairs)

    def _decay_in_place(self, variable, learning_rate):
        """``variable -= variable * weight_decay * learning_rate`` when it decays."""
        if self._decays(variable):
            ops.axpy(variable.value, -self.weight_decay * learning_rate, variable.value)

    # ------------------------------------------------------------ step programs
    # A planned training step (minidl.models.step_plan) can record the update into its
    # step program: the same multi-tensor kernels on the same arrays, run right after the
    # backward pass in the same call, with the scalars that change between steps (the
    # learning rate, the step number) read from a float64 array that each step fills.

    # the length of that array (0: this optimizer's update is not recorded)
    _program_scalar_count = 0

    def _program_signature(self, variables):
        """What an update of ``variables`` recorded into a step program depends on besides
        its arrays; a step whose signature differs records its program again. None when
        the update must run through ``apply_gradients``: an optimizer class outside minidl
        (it may change the update), no multi-tensor update, clipping, a constraint, a
        weight decay outside the kernel, or a slot not made yet (the first step makes it).

        Args:
            variables (list of Variable): the model's trainable variables.
        """
        if not self._program_scalar_count or self._update_many is None or \
                not type(self).__module__.startswith("minidl.") or \
                self.clipvalue is not None or self.clipnorm is not None or \
                self.global_clipnorm is not None:
            return None
        slots = self._slots
        if any(id(v) not in slots or getattr(v, "constraint", None) is not None
               for v in variables):
            return None
        decays = tuple(self._decays(v) for v in variables) if self.weight_decay else ()
        if any(decays) and not self._decay_in_update:
            return None
        # (a count, not the slots' id: a freed dict's id can come back with other arrays)
        return (self._slots_replaced, self.weight_decay, decays, self._slot_names(),
                self._recorded_flags())

    # whether the multi-tensor kernel applies the weight decay itself (Adam)
    _decay_in_update = False

    def _recorded_flags(self):
        """The configuration the recorded kernel calls hold (not read per step)."""
        return ()

    def _record_update(self, program, pairs, scalars):
        """Record the multi-tensor update of ``pairs`` ((gradient buffer, variable)) into
        ``program``; its per-step scalars come from ``scalars`` (``_program_scalars``).
        Only when ``_program_signature`` is not None."""
        slots = [self._slots_of(variable) for _, variable in pairs]
        # any valid learning rate: each step writes its own into scalars before it runs
        self._update_many(pairs, slots, 0.0, program=program, scalars=scalars)

    def _program_scalars(self, scalars):
        """Write this step's checked scalars into the array a recorded update reads (the
        checks and the values of ``_update_many``'s)."""
        raise NotImplementedError

    def _count_recorded_step(self):
        """Count a step whose update a step program made."""
        self._iterations += 1

    # ------------------------------------------------------------ state

    def get_state(self):
        """The optimizer's state, for saving.

        Returns:
            ``{"iterations": int, "slots": [ndarray, ...]}``: copies of the slots, by
            variable in the order first seen (or given to ``build``), then by slot name.
        """
        slots = [_host_copy(array) for array in self.variables]
        return {"iterations": self._iterations, "slots": slots}

    def set_state(self, state, variables):
        """Restore ``get_state``'s state for the same variables.

        Args:
            state (dict): the dict returned by ``get_state``.
            variables (list of Variable): the variables, in the order the saved optimizer
                first saw them (for a model: its trainable variables).
        """
        where = f"{type(self).__name__}.set_state"
        if not isinstance(state, dict) or "iterations" not in state or "slots" not in state:
            raise ValueError(f"{where}: argument 'state' must be a dict with 'iterations' "
                             f"and 'slots'. Received: {type(state).__name__}")
        iterations = state["iterations"]
        if isinstance(iterations, np.ndarray) and iterations.ndim == 0:
            iterations = iterations.item()
        if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or \
                iterations < 0:
            raise ValueError(f"{where}: 'iterations' must be a non-negative int. "
                             f"Received: {iterations!r}")
        variables = list(variables)
        for variable in variables:
            self._check_variable(variable)
        slots = state["slots"]
        if isinstance(slots, (str, bytes, dict)) or not hasattr(slots, "__iter__"):
            raise ValueError(f"{where}: 'slots' must be a list of arrays. "
                             f"Received: {type(slots).__name__}")
        saved = list(slots)
        names = sorted(self._slot_names())
        expected = len(variables) * len(names)
        if not saved and iterations == 0:
            # an optimizer saved before its first step: start afresh
            self._slots = {}
            self._slots_replaced += 1
            self._iterations = 0
            return
        if len(saved) != expected:
            raise ValueError(f"{where}: the state holds {len(saved)} slot arrays but "
                             f"{len(variables)} variables with slots {names} need "
                             f"{expected}. Was it saved from a differently configured "
                             f"optimizer or model?")
        # every slot is checked and converted before anything changes (all or nothing)
        restored = {}
        arrays = iter(saved)
        for variable in variables:
            value = variable.value
            label = getattr(variable, "path", "?")
            slots = {}
            for name in names:
                slots[name] = checked_array(next(arrays), value.shape, value.dtype, where,
                                            f"slot '{name}' of variable '{label}'")
                # the slots live where the variable does
                slots[name] = backend_of(value).asarray(slots[name], value.dtype)
            restored[id(variable)] = (variable, slots)
        self._slots = restored
        self._slots_replaced += 1
        self._iterations = int(iterations)

    # ------------------------------------------------------------ config

    def get_config(self):
        """The constructor arguments (a schedule is serialized to a dict)."""
        learning_rate = self._learning_rate
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(learning_rate)
        config = {"name": self.name, "learning_rate": learning_rate,
                  "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                  "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config):
        """Build an optimizer from ``get_config``'s dict."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        with warnings.catch_warnings():  # a saved 'decay' is not the user's spelling
            warnings.simplefilter("ignore", DeprecationWarning)
            return cls(**config)

    def __repr__(self):
        return (f"<{type(self).__name__} name={self.name!r}, "
                f"learning_rate={self.learning_rate}, iterations={self._iterations}>")


def _zeros_like(value):
    """Zeros of a variable's shape and dtype, on its device."""
    return backend_of(value).zeros(value.shape, value.dtype)


def _host_copy(array):
    """A NumPy copy of a slot (copied from the GPU when it lives there)."""
    return np.array(to_numpy(array), copy=True)


def _l2_norm(grad):
    """L2 norm of a gradient, accumulated in double in a fixed order (ops.sum)."""
    return math.sqrt(float(ops.sum(ops.multiply(grad, grad))))
