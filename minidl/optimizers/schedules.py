"""Learning-rate schedules, as ``keras.optimizers.schedules``.

A schedule is a callable ``schedule(step) -> float`` that an optimizer evaluates at its
current ``iterations`` (the number of steps applied so far, so the first step sees 0).
Schedules are plain scalar Python math.
"""
import math
import numbers

from minidl import _registry


def _real(value, name, where, low=None, low_open=False):
    """A finite real number as a float, optionally > or >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value):
        raise ValueError(f"{where}: argument '{name}' must be a finite number. "
                         f"Received: {name}={value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        relation = ">" if low_open else ">="
        raise ValueError(f"{where}: argument '{name}' must be {relation} {low}. "
                         f"Received: {name}={value!r}")
    return float(value)


def _step(step, where):
    """The step as a float (ints, floats and 0-d arrays accepted)."""
    if hasattr(step, "item") and getattr(step, "ndim", 1) == 0:
        step = step.item()
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise TypeError(f"{where}: argument 'step' must be a number. Received: step={step!r}")
    return float(step)


class LearningRateSchedule:
    """Base class of learning-rate schedules.

    Subclasses implement ``__call__(step)`` and ``get_config()``; ``from_config`` rebuilds
    the schedule from that config.

    Example:
        >>> from minidl import optimizers
        >>> class Halving(optimizers.schedules.LearningRateSchedule):
        ...     def __call__(self, step):
        ...         return 0.1 * 0.5 ** (int(step) // 100)
        ...     def get_config(self):
        ...         return {}
        >>> [Halving()(step) for step in (0, 100, 250)]
        [0.1, 0.05, 0.025]
        >>> optimizers.SGD(learning_rate=Halving()).learning_rate
        0.1
    """

    def __call__(self, step):
        """The learning rate at ``step`` (a Python float).

        Args:
            step (int or float): the optimizer's iteration count (a 0-d array too).

        Returns:
            The learning rate.
        """
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  f"override __call__(self, step).")

    def get_config(self):
        """The constructor arguments as a dict."""
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  f"override get_config() in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        """Build a schedule from the dict returned by ``get_config``."""
        return cls(**config)


class _PeriodicDecay(LearningRateSchedule):
    """The arguments, the decay progress and the config shared by ``ExponentialDecay`` and
    ``InverseTimeDecay``; subclasses apply ``decay_rate`` to the progress in ``__call__``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name, where):
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate",
                                           where)
        self.decay_steps = _real(decay_steps, "decay_steps", where, low=0, low_open=True)
        self.decay_rate = _real(decay_rate, "decay_rate", where)
        self.staircase = bool(staircase)
        self.name = name

    def _progress(self, step, where):
        """``step / decay_steps``, floored with ``staircase``."""
        progress = _step(step, where) / self.decay_steps
        if self.staircase:
            progress = math.floor(progress)
        return progress

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_PeriodicDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate (float): the learning rate at step 0.
        decay_steps (float): positive number of steps per decay period.
        decay_rate (float): the factor applied once per period.
        staircase (bool): floor ``step / decay_steps`` (decay in discrete jumps).
        name (str): the schedule's name.

    Example:
        >>> from minidl.optimizers import schedules
        >>> rate = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> round(rate(20), 6)  # two halvings
        0.025
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name,
                         "ExponentialDecay")

    def __call__(self, step):
        progress = self._progress(step, "ExponentialDecay")
        return self.initial_learning_rate * self.decay_rate ** progress


class InverseTimeDecay(_PeriodicDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Args:
        initial_learning_rate (float): the learning rate at step 0.
        decay_steps (float): positive number of steps per decay period.
        decay_rate (float): the decay rate.
        staircase (bool): floor ``step / decay_steps``.
        name (str): the schedule's name.

    Example:
        >>> from minidl.optimizers import schedules
        >>> rate = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0)
        >>> [round(float(rate(step)), 4) for step in (0, 10, 30)]
        [0.1, 0.05, 0.025]
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name,
                         "InverseTimeDecay")

    def __call__(self, step):
        progress = self._progress(step, "InverseTimeDecay")
        return self.initial_learning_rate / (1.0 + self.decay_rate * progress)


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant learning rate per interval of steps.

    ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.

    Args:
        boundaries (list of float): strictly increasing step boundaries.
        values (list of float): one more learning rate than there are boundaries.
        name (str): the schedule's name.

    Example:
        >>> from minidl.optimizers import schedules
        >>> rate = schedules.PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001])
        >>> [float(rate(step)) for step in (0, 150, 250)]
        [0.1, 0.01, 0.001]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        where = "PiecewiseConstantDecay"
        boundaries = [_real(b, "boundaries", where) for b in boundaries]
        values = [_real(v, "values", where) for v in values]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"{where}: the length of 'values' must be the length of "
                             f"'boundaries' plus 1. Received: len(boundaries)="
                             f"{len(boundaries)}, len(values)={len(values)}")
        if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"{where}: argument 'boundaries' must be strictly increasing. "
                             f"Received: boundaries={boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = _step(step, "PiecewiseConstantDecay")
        # the number of boundaries strictly below the step is the interval's index
        index = sum(1 for b in self.boundaries if step > b)
        return self.values[index]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate``.

    ``(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``; with
    ``cycle`` the period grows to the next multiple of ``decay_steps`` instead.

    Args:
        initial_learning_rate (float): the learning rate at step 0.
        decay_steps (float): positive number of steps to decay over.
        end_learning_rate (float): the final learning rate.
        power (float): the polynomial's power.
        cycle (bool): restart the decay after ``decay_steps``.
        name (str): the schedule's name.

    Example:
        >>> from minidl.optimizers import schedules
        >>> rate = schedules.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.0)
        >>> [round(float(rate(step)), 4) for step in (0, 50, 100, 200)]
        [0.1, 0.05, 0.0, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        where = "PolynomialDecay"
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate",
                                           where)
        self.decay_steps = _real(decay_steps, "decay_steps", where, low=0, low_open=True)
        self.end_learning_rate = _real(end_learning_rate, "end_learning_rate", where)
        self.power = _real(power, "power", where)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        step = _step(step, "PolynomialDecay")
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        fraction = step / decay_steps
        return ((self.initial_learning_rate - self.end_learning_rate) *
                (1.0 - fraction) ** self.power + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warmup.

    Without warmup: ``initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) +
    alpha)`` with ``s = min(step, decay_steps)``. With ``warmup_target``, the rate first
    rises linearly from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then decays from ``warmup_target`` as above.

    Args:
        initial_learning_rate (float): the learning rate at step 0.
        decay_steps (float): positive number of steps to decay over.
        alpha (float): the final rate as a fraction of the decayed-from rate.
        name (str): the schedule's name.
        warmup_target (float or None): the rate reached at the end of the warmup (None: no
            warmup).
        warmup_steps (float): the warmup's length in steps (>= 0).

    Example:
        >>> from minidl.optimizers import schedules
        >>> rate = schedules.CosineDecay(0.1, decay_steps=100)
        >>> [round(float(rate(step)), 4) for step in (0, 50, 100)]
        [0.1, 0.05, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        where = "CosineDecay"
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate",
                                           where)
        self.decay_steps = _real(decay_steps, "decay_steps", where, low=0, low_open=True)
        self.alpha = _real(alpha, "alpha", where)
        self.name = name
        self.warmup_target = None if warmup_target is None else \
            _real(warmup_target, "warmup_target", where)
        self.warmup_steps = _real(warmup_steps, "warmup_steps", where, low=0)

    def _decay(self, step, decay_from):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        step = _step(step, "CosineDecay")
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            rise = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + rise * step / self.warmup_steps
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay,
                                            PiecewiseConstantDecay, PolynomialDecay,
                                            CosineDecay)}


def serialize(learning_rate_schedule):
    """A schedule as a dict ``{"class_name", "config"}``.

    Args:
        learning_rate_schedule (LearningRateSchedule): a ``LearningRateSchedule``
            (TypeError for anything else).

    Returns:
        A dict that ``deserialize`` turns back into an equal schedule.

    Example:
        >>> from minidl.optimizers import schedules
        >>> schedules.serialize(schedules.CosineDecay(0.1, 100))["class_name"]
        'CosineDecay'
    """
    return _registry.serialize(learning_rate_schedule, LearningRateSchedule,
                               "minidl.optimizers.schedules", "learning_rate_schedule",
                               "a LearningRateSchedule")


def deserialize(config):
    """Build a schedule from ``serialize``'s dict.

    Args:
        config (dict): a dict with ``class_name`` (a schedule class name) and ``config``
            (the constructor arguments).

    Returns:
        A ``LearningRateSchedule``.

    Example:
        >>> from minidl.optimizers import schedules
        >>> config = {"class_name": "CosineDecay",
        ...           "config": {"initial_learning_rate": 0.1, "decay_steps": 100}}
        >>> schedules.deserialize(config).decay_steps
        100.0
    """
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in _SCHEDULES:
        raise ValueError(f"schedules.deserialize: unknown learning rate schedule "
                         f"{name!r}; expected one of {sorted(_SCHEDULES)}. "
                         f"Received: {config!r}")
    return _registry.from_config(_SCHEDULES[name], config)
