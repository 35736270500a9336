"""Thread count of the compiled kernels: ``set_num_threads``, ``get_num_threads`` and
the ``MINIDL_NUM_THREADS`` environment variable read at import."""
import os

from minidl import _C

ENV_VAR = "MINIDL_NUM_THREADS"


def _available_cores():
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _threads_from_env():
    """The thread count named by MINIDL_NUM_THREADS, or None when it is unset."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{ENV_VAR} must be a positive integer, received {raw!r}")
    return value


def set_num_threads(n):
    """Set how many threads minidl's kernels use.

    Args:
        n: a positive integer. Results are bit-identical run after run for a fixed
            count (and, for minidl's kernels, for every count).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: argument 'n' must be a positive integer, "
                         f"received {n!r}")
    _C.set_num_threads(n)


def get_num_threads():
    """The number of threads minidl's kernels use."""
    return _C.get_num_threads()


def _init_threads():
    """Apply MINIDL_NUM_THREADS, else use every available core."""
    env = _threads_from_env()
    _C.set_num_threads(env if env is not None else _available_cores())
