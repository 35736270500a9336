"""Thread count of the compiled kernels: ``set_num_threads``, ``get_num_threads``,
``max_num_threads`` and the ``MINIDL_NUM_THREADS`` environment variable read at import.

A count above :func:`max_num_threads` is clamped to it with a ``RuntimeWarning``: asking
the OpenMP runtime for many more threads than the process can create makes it abort at
the next parallel kernel, so no setting may get that far.
"""
import numbers
import os
import warnings

from minidl import _C

ENV_VAR = "MINIDL_NUM_THREADS"


def _available_cores():
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_num_threads():
    """The most threads minidl's kernels may use: 4 per core this process may run on
    (at least 8), at most 1024 and never above OpenMP's thread limit
    (``OMP_THREAD_LIMIT``). Larger requests are clamped to it.

    Example:
        >>> import minidl
        >>> minidl.max_num_threads() >= minidl.get_num_threads()
        True
    """
    return _C.max_num_threads()


def _clamped(n, where):
    """``n`` (an int >= 1), or ``max_num_threads()`` with a warning when it is larger."""
    cap = max_num_threads()
    if n > cap:
        warnings.warn(f"{where}: {n} threads is more than the maximum of {cap} (4 per "
                      f"available core, at most 1024); using {cap}", RuntimeWarning,
                      stacklevel=3)
        return cap
    return n


def _threads_from_env():
    """The thread count named by MINIDL_NUM_THREADS (clamped), or None when it is unset."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{ENV_VAR} must be a positive integer. Received: {raw!r}")
    return _clamped(value, ENV_VAR)


def set_num_threads(n):
    """Set how many threads minidl's kernels use.

    Args:
        n: a positive integer; values above :func:`max_num_threads` are clamped to it
            (with a ``RuntimeWarning``). Results are bit-identical run after run for a
            fixed count (and, for minidl's kernels, for every count).

    Raises:
        ValueError: ``n`` is not an integer >= 1 (bools, floats and strings included).

    Example:
        >>> import minidl
        >>> before = minidl.get_num_threads()
        >>> minidl.set_num_threads(1)
        >>> minidl.get_num_threads()
        1
        >>> minidl.set_num_threads(before)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"set_num_threads: argument 'n' must be a positive integer. "
                         f"Received: {n!r}")
    _C.set_num_threads(_clamped(int(n), "set_num_threads"))


def get_num_threads():
    """The number of threads minidl's kernels use.

    Example:
        >>> import minidl
        >>> minidl.get_num_threads() >= 1
        True
    """
    return _C.get_num_threads()


def _init_threads():
    """Apply MINIDL_NUM_THREADS, else use every available core."""
    env = _threads_from_env()
    _C.set_num_threads(env if env is not None else min(_available_cores(),
                                                         max_num_threads()))
