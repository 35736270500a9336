# A caching allocator for NumPy array data: the memory arena of a model. NumPy (>= 1.22)
# lets a context install its own data allocator (PyDataMem_SetHandler); while a model's
# arena is installed, array buffers that are freed are kept in the arena, by size, and
# handed back to the next request of that size instead of going back to the C library.
# A training step allocates the same buffers in the same order every time, so after the
# first step every activation and gradient buffer is a reuse: no page faults, no heap
# trimming, no mmap/munmap per array (glibc returns large freed blocks to the OS).
# Only buffers that nobody references any more are reused, so this is invisible to
# users: an array handed out is never recycled while it is alive. Arrays keep a
# reference to the arena that allocated them, so it outlives the model if they do.
from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer
from cpython.pythread cimport (PyThread_type_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_acquire_lock,
                               PyThread_release_lock, WAIT_LOCK)
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset, strncpy

cdef extern from "<stdlib.h>" nogil:
    void *aligned_alloc(size_t alignment, size_t size)

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

cdef enum:
    ARENA_HEADER = 64          # bytes before each buffer: its capacity (keeps 64-byte alignment)
    ARENA_SLOTS = 512          # cached buffers at most
    ARENA_MIN_CACHED = 16384   # smaller buffers go straight back to the C library
    ARENA_PAGE = 4096          # cached capacities are whole pages (sizes that differ a little share)

ctypedef struct Arena:
    PyDataMem_Handler handler  # first: the capsule's pointer is the arena itself
    PyThread_type_lock lock
    size_t limit               # cached bytes at most
    size_t cached              # bytes held in the slots
    size_t hits, misses        # requests served from the slots / by the C library
    int count                  # slots in use
    size_t capacity[ARENA_SLOTS]
    char *block[ARENA_SLOTS]   # each points at its header


cdef inline size_t arena_capacity(size_t size) noexcept nogil:
    """The capacity a request of `size` (> 0) bytes gets: whole pages from
    ARENA_MIN_CACHED on, whole 64-byte lines below."""
    if size >= ARENA_MIN_CACHED:
        return (size + ARENA_PAGE - 1) // ARENA_PAGE * ARENA_PAGE
    return (size + ARENA_HEADER - 1) // ARENA_HEADER * ARENA_HEADER


cdef void *arena_malloc(void *ctx, size_t size) noexcept nogil:
    cdef Arena *arena = <Arena *>ctx
    cdef size_t cap = arena_capacity(size if size > 0 else 1)
    cdef char *block = NULL
    cdef int i
    if cap >= ARENA_MIN_CACHED:
        PyThread_acquire_lock(arena.lock, WAIT_LOCK)
        i = arena.count - 1
        while i >= 0:  # newest first: its pages are the most likely to be in cache
            if arena.capacity[i] == cap:
                block = arena.block[i]
                arena.count -= 1
                arena.block[i] = arena.block[arena.count]
                arena.capacity[i] = arena.capacity[arena.count]
                arena.cached -= cap
                arena.hits += 1
                break
            i -= 1
        if block == NULL:
            arena.misses += 1
        PyThread_release_lock(arena.lock)
    if block == NULL:
        if cap > <size_t>-1 - ARENA_HEADER:
            return NULL
        block = <char *>aligned_alloc(ARENA_HEADER, ARENA_HEADER + cap)
        if block == NULL:
            return NULL
        (<size_t *>block)[0] = cap
    return block + ARENA_HEADER


cdef void *arena_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    if elsize != 0 and nelem > (<size_t>-1) // elsize:
        return NULL
    cdef void *ptr = arena_malloc(ctx, nelem * elsize)
    if ptr != NULL:
        memset(ptr, 0, nelem * elsize)
    return ptr


cdef void arena_free(void *ctx, void *ptr, size_t size) noexcept nogil:
    if ptr == NULL:
        return
    cdef Arena *arena = <Arena *>ctx
    cdef char *block = <char *>ptr - ARENA_HEADER
    cdef size_t cap = (<size_t *>block)[0]
    cdef bint kept = False
    if cap >= ARENA_MIN_CACHED:
        PyThread_acquire_lock(arena.lock, WAIT_LOCK)
        if arena.count < ARENA_SLOTS and arena.cached + cap <= arena.limit:
            arena.block[arena.count] = block
            arena.capacity[arena.count] = cap
            arena.count += 1
            arena.cached += cap
            kept = True
        PyThread_release_lock(arena.lock)
    if not kept:
        free(block)


cdef void *arena_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil:
    if ptr == NULL:
        return arena_malloc(ctx, new_size)
    cdef size_t cap = (<size_t *>(<char *>ptr - ARENA_HEADER))[0]
    if new_size <= cap:
        return ptr
    cdef void *grown = arena_malloc(ctx, new_size)
    if grown != NULL:
        memcpy(grown, ptr, cap)
        arena_free(ctx, ptr, cap)
    return grown


cdef void arena_destroy(object capsule) noexcept:
    """Capsule destructor: runs once no array and no model refers to the arena."""
    cdef Arena *arena = <Arena *>PyCapsule_GetPointer(capsule, b"mem_handler")
    cdef int i
    for i in range(arena.count):
        free(arena.block[i])
    PyThread_free_lock(arena.lock)
    free(arena)


def memory_arena_new(size_t limit_bytes):
    """A new arena (a NumPy ``mem_handler`` capsule) that caches at most ``limit_bytes``
    of freed buffers; install it with :func:`set_memory_handler`."""
    cdef Arena *arena = <Arena *>calloc(1, sizeof(Arena))
    if arena == NULL:
        raise MemoryError("memory_arena_new: out of memory")
    arena.lock = PyThread_allocate_lock()
    if arena.lock == NULL:
        free(arena)
        raise MemoryError("memory_arena_new: cannot allocate a lock")
    strncpy(arena.handler.name, b"minidl_arena", 126)
    arena.handler.version = 1
    arena.handler.allocator.ctx = arena
    arena.handler.allocator.malloc = arena_malloc
    arena.handler.allocator.calloc = arena_calloc
    arena.handler.allocator.realloc = arena_realloc
    arena.handler.allocator.free = arena_free
    arena.limit = limit_bytes
    return PyCapsule_New(arena, b"mem_handler", arena_destroy)


def set_memory_handler(handler):
    """Install a NumPy ``mem_handler`` capsule for new arrays in the current context;
    returns the one it replaces (install that again to restore it)."""
    return PyDataMem_SetHandler(handler)


def memory_arena_stats(capsule):
    """``(hits, misses, cached_bytes, cached_buffers)`` of an arena from
    :func:`memory_arena_new`."""
    cdef Arena *arena = <Arena *>PyCapsule_GetPointer(capsule, b"mem_handler")
    PyThread_acquire_lock(arena.lock, WAIT_LOCK)
    stats = (arena.hits, arena.misses, arena.cached, arena.count)
    PyThread_release_lock(arena.lock)
    return stats
