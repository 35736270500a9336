"""Memory arenas: one per model, reusing the buffers of its arrays from step to step.

A training step allocates the same arrays (activations, gradients, optimizer
temporaries) in the same order every time. Through the C library, each large buffer is
an ``mmap``/``munmap`` pair or heap growth and trimming, paid in page faults on every
step. While a model's arena is entered, NumPy allocates array data from it (NumPy's
``PyDataMem_SetHandler``); a buffer whose array is freed is kept in the arena and handed
back to the next array of that size. Only buffers that no array uses any more are reused,
so nothing a caller holds is ever overwritten.
"""
import threading

from minidl import _C

#: Freed bytes an arena keeps at most by default (beyond that, buffers go back to the C
#: library); the seed models keep under 100 MiB.
DEFAULT_LIMIT_BYTES = 1 << 30


class MemoryArena:
    """A context manager that makes NumPy allocate from this arena in the current thread.

    Args:
        limit_bytes (int): freed bytes the arena keeps at most.

    Entering is re-entrant and per thread: each ``with`` restores the allocator it
    replaced. Arrays created inside keep the arena alive after the ``with`` (and after
    the model) until they are freed.

    Example:
        >>> import numpy as np
        >>> from minidl import memory
        >>> arena = memory.MemoryArena()
        >>> with arena:
        ...     a = np.ones(100000)
        >>> float(a.sum())
        100000.0
    """

    def __init__(self, limit_bytes=DEFAULT_LIMIT_BYTES):
        self._handler = _C.memory_arena_new(int(limit_bytes))
        self._replaced = threading.local()

    def __enter__(self):
        stack = self._replaced.__dict__.setdefault("stack", [])
        stack.append(_C.set_memory_handler(self._handler))
        return self

    def __exit__(self, *exc_info):
        _C.set_memory_handler(self._replaced.stack.pop())
        return False

    def stats(self):
        """``{'hits', 'misses', 'cached_bytes', 'cached_buffers'}``: requests served from
        the arena, requests passed to the C library, and what it holds now."""
        hits, misses, cached, count = _C.memory_arena_stats(self._handler)
        return {"hits": hits, "misses": misses, "cached_bytes": cached,
                "cached_buffers": count}
