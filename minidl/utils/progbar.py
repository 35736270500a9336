"""A Keras-like text progress bar (``keras.utils.Progbar``)."""
import numbers
import sys
import time

import numpy as np


def _format_value(value):
    """Keras's number format: 4 decimals, or scientific for tiny magnitudes."""
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _format_per_unit(seconds, unit_name):
    """' 20ms/step'-style duration of one unit."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds):
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


class Progbar:
    """Displays a progress bar with running averages of metrics.

    ``verbose=1`` redraws one line in place (``\\r``) on a terminal, at most every
    ``interval`` seconds, and ends with
    ``N/N [======] - 2s 20ms/step - loss: 0.1234``; when stdout is not a terminal only
    that final line is printed. ``verbose=2`` prints only a final summary line, ``0``
    nothing.

    Args:
        target (int or None): the total number of steps, or None if unknown.
        width (int): the bar's width in characters.
        verbose (int): 0, 1 or 2.
        interval (float): minimum seconds between redraws.
        stateful_metrics (list of str or None): names of values shown as given (already
            averaged), not averaged over steps by the bar.
        unit_name (str): the unit in the time per unit (``'step'``).

    Example:
        >>> from minidl import utils
        >>> bar = utils.Progbar(3, verbose=0)
        >>> for step in range(3):
        ...     bar.update(step + 1, values=[("loss", 1.0 / (step + 1))])
        >>> bar.target
        3
    """

    def __init__(self, target, width=30, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step"):
        if target is not None and (isinstance(target, bool) or
                                   not isinstance(target, numbers.Integral) or target < 0):
            raise ValueError(f"Progbar: argument 'target' must be a non-negative int or None. "
                             f"Received: target={target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: argument 'verbose' must be 0, 1 or 2. "
                             f"Received: verbose={verbose!r}")
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
            raise ValueError(f"Progbar: argument 'width' must be a positive int. "
                             f"Received: width={width!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = float(interval)
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        isatty = getattr(sys.stdout, "isatty", None)
        self._dynamic_display = bool(isatty and isatty())
        self._values = {}  # name -> [weighted sum, weight] (averaged) or value (stateful)
        self._values_order = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._drawn_width = 0

    # ------------------------------------------------------------ public API

    def update(self, current, values=None, finalize=None):
        """Move the bar to step ``current``.

        Args:
            current (int): the index of the current step.
            values (list of (str, float) tuples or dict or None): ``(name, value)`` pairs
                (or a dict); a value may be an array (its mean is shown); values of names
                not in ``stateful_metrics`` are averaged over the steps, weighted by the
                steps since the last update.
            finalize (bool or None): whether this is the last update (default:
                ``current >= target``).
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values or [])
        now = time.time()
        if self.verbose == 1:
            if finalize:
                self._write_final(self._bar(current) + self._final_info(current, now), now)
            elif self._dynamic_display and now - self._last_update >= self.interval:
                self._redraw(self._bar(current) + self._live_info(current, now))
                self._last_update = now
        elif self.verbose == 2 and finalize:
            self._write_final(self._count(current) + f" - {now - self._start:.0f}s -" +
                              _format_per_unit(self._step_time(current, now), self.unit_name) +
                              self._values_text(), now)

    def add(self, n, values=None):
        """Advance the bar by ``n`` steps.

        Args:
            n (int): the number of steps done.
            values (list of (str, float) tuples or dict or None): as in ``update``.
        """
        self.update(self._seen_so_far + n, values)

    # ------------------------------------------------------------ bookkeeping

    def _record(self, current, values):
        if isinstance(values, dict):
            values = values.items()
        for name, value in values:
            if name not in self._values_order:
                self._values_order.append(name)
            value = float(np.mean(value))
            if name in self.stateful_metrics:
                self._values[name] = value
                continue
            # weight each value by the steps it covers, so the average is per step
            steps = max(current - self._seen_so_far, 1)
            total = self._values.setdefault(name, [0.0, 0])
            total[0] += value * steps
            total[1] += steps
        self._seen_so_far = current

    def _step_time(self, current, now):
        """Seconds per unit, excluding the first step (often slower) once known."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit

    # ------------------------------------------------------------ text

    def _count(self, current):
        if self.target is None:
            return f"{current:7d}/Unknown"
        digits = len(str(self.target))
        return f"{current:{digits}d}/{self.target}"

    def _bar(self, current):
        if self.target is None:
            return self._count(current)
        fraction = min(current / self.target, 1.0) if self.target else 1.0
        filled = int(self.width * fraction)
        bar = ""
        if filled > 0:
            bar = "=" * (filled - 1) + (">" if current < self.target else "=")
        return f"{self._count(current)} [{bar}{'.' * (self.width - filled)}]"

    def _values_text(self):
        parts = []
        for name in self._values_order:
            value = self._values[name]
            if isinstance(value, list):
                value = value[0] / max(1, value[1])
            parts.append(f" - {name}: {_format_value(value)}")
        return "".join(parts)

    def _live_info(self, current, now):
        per_unit = self._step_time(current, now)
        if self.target is None:
            return (f" - {now - self._start:.0f}s" + _format_per_unit(per_unit, self.unit_name)
                    + self._values_text())
        eta = per_unit * (self.target - current)
        return f" - ETA: {_format_eta(eta)}" + self._values_text()

    def _final_info(self, current, now):
        per_unit = self._step_time(current, now)
        return (f" - {now - self._start:.0f}s" + _format_per_unit(per_unit, self.unit_name) +
                self._values_text())

    # ------------------------------------------------------------ output

    def _redraw(self, line):
        padding = " " * max(0, self._drawn_width - len(line))
        sys.stdout.write("\r" + line + padding)
        sys.stdout.flush()
        self._drawn_width = len(line)

    def _write_final(self, line, now):
        if self.verbose == 1 and self._dynamic_display:
            self._redraw(line)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        self._drawn_width = 0
        self._last_update = now
