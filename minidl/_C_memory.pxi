# NumPy's data-allocator hook over the core's caching allocator (md_arena, csrc/arena.c):
# while a model's arena is installed (PyDataMem_SetHandler), freed array buffers are kept
# in the arena and handed to the next array of that size. Arrays keep a reference to the
# capsule of the arena that allocated them, so it outlives the model if they do.
from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer
from libc.stdlib cimport calloc, free
from libc.string cimport strncpy

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        uint8_t version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)
    int _import_array() except -1

_import_array()


cdef void *handler_malloc(void *ctx, size_t size) noexcept nogil:
    return md_arena_malloc(<md_arena *>ctx, size)


cdef void *handler_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    return md_arena_calloc(<md_arena *>ctx, nelem, elsize)


cdef void *handler_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil:
    return md_arena_realloc(<md_arena *>ctx, ptr, new_size)


cdef void handler_free(void *ctx, void *ptr, size_t size) noexcept nogil:
    md_arena_free(<md_arena *>ctx, ptr)


cdef void handler_destroy(object capsule) noexcept:
    """Capsule destructor: runs once no array and no model refers to the arena."""
    cdef PyDataMem_Handler *handler = <PyDataMem_Handler *>PyCapsule_GetPointer(
        capsule, b"mem_handler")
    md_arena_destroy(<md_arena *>handler.allocator.ctx)
    free(handler)


def memory_arena_new(size_t limit_bytes):
    """A new arena (a NumPy ``mem_handler`` capsule) that caches at most ``limit_bytes``
    of freed buffers; install it with :func:`set_memory_handler`.

    Args:
        limit_bytes (int): the most bytes of freed buffers the arena keeps, >= 0.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> arena = _C.memory_arena_new(1 << 20)  # keeps up to 1 MiB of freed buffers
        >>> previous = _C.set_memory_handler(arena)
        >>> for _ in range(3):
        ...     buffer = np.ones(4096)  # 32 KiB: freed, then reused by the next one
        ...     del buffer
        >>> _ = _C.set_memory_handler(previous)  # restore NumPy's allocator
        >>> hits, misses, cached_bytes, cached_buffers = _C.memory_arena_stats(arena)
        >>> hits >= 2, cached_buffers >= 1
        (True, True)
    """
    cdef PyDataMem_Handler *handler = <PyDataMem_Handler *>calloc(1, sizeof(PyDataMem_Handler))
    if handler == NULL:
        raise MemoryError("memory_arena_new: out of memory")
    cdef md_arena *arena = md_arena_new(limit_bytes)
    if arena == NULL:
        free(handler)
        raise MemoryError("memory_arena_new: out of memory")
    strncpy(handler.name, b"minidl_arena", 126)
    handler.version = 1
    handler.allocator.ctx = arena
    handler.allocator.malloc = handler_malloc
    handler.allocator.calloc = handler_calloc
    handler.allocator.realloc = handler_realloc
    handler.allocator.free = handler_free
    return PyCapsule_New(handler, b"mem_handler", handler_destroy)


def set_memory_handler(handler):
    """Install a NumPy ``mem_handler`` capsule for new arrays in the current context;
    returns the one it replaces (install that again to restore it).

    Args:
        handler (PyCapsule): a ``mem_handler`` capsule, from :func:`memory_arena_new` or
            returned by an earlier call.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> arena = _C.memory_arena_new(1 << 20)
        >>> previous = _C.set_memory_handler(arena)  # new arrays now come from the arena
        >>> _C.set_memory_handler(previous) is arena  # restore; returns the one replaced
        True
    """
    return PyDataMem_SetHandler(handler)


def memory_arena_stats(capsule):
    """``(hits, misses, cached_bytes, cached_buffers)`` of an arena from
    :func:`memory_arena_new`.

    Args:
        capsule (PyCapsule): the arena's capsule, from :func:`memory_arena_new`.

    Example:
        >>> import numpy as np
        >>> from minidl import _C
        >>> arena = _C.memory_arena_new(1 << 20)
        >>> _C.memory_arena_stats(arena)  # hits, misses, cached bytes, cached buffers
        (0, 0, 0, 0)
        >>> previous = _C.set_memory_handler(arena)
        >>> a = np.zeros(4096)  # 32 KiB: a miss
        >>> del a               # kept in the arena
        >>> b = np.zeros(4096)  # a hit: the same buffer again
        >>> _ = _C.set_memory_handler(previous)
        >>> del b
        >>> hits, misses, cached_bytes, cached_buffers = _C.memory_arena_stats(arena)
        >>> hits >= 1, cached_bytes >= 32768
        (True, True)
    """
    cdef PyDataMem_Handler *handler = <PyDataMem_Handler *>PyCapsule_GetPointer(
        capsule, b"mem_handler")
    cdef size_t hits, misses, cached
    cdef int count
    md_arena_stats(<md_arena *>handler.allocator.ctx, &hits, &misses, &cached, &count)
    return hits, misses, cached, count
