/* arena.c -- the memory the core manages, in one place:
 *
 *   - each thread's scratch workspace, which the GEMM and convolution kernels take their
 *     packing and im2col buffers from (md_workspace_acquire / md_workspace_release);
 *   - md_arena, a caching allocator for array data: the bindings install it as NumPy's
 *     data allocator while a model computes, so that a training step, which allocates
 *     the same buffers in the same order every time, reuses last step's buffers instead
 *     of paying mmap/munmap and page faults for each.
 */
#include <stdatomic.h>
#include <string.h>

#include "md_internal.h"

/* ------------------------------------------------------------------ scratch workspace */

static _Thread_local void *md_scratch_ptr = NULL;
static _Thread_local size_t md_scratch_bytes = 0;
static _Thread_local int md_scratch_busy = 0;

md_status md_workspace_acquire(md_workspace *ws, size_t needed) {
    ws->ptr = NULL;
    ws->source = 0;
    if (needed == 0) return MD_OK;
    if (!md_scratch_busy) {
        if (md_scratch_bytes < needed) {
            free(md_scratch_ptr);
            md_scratch_ptr = md_aligned_alloc(needed);
            md_scratch_bytes = md_scratch_ptr != NULL ? needed : 0;
        }
        if (md_scratch_ptr != NULL) {
            md_scratch_busy = 1;
            ws->ptr = md_scratch_ptr;
            ws->source = 2;
            return MD_OK;
        }
    }
    ws->ptr = md_aligned_alloc(needed);
    if (ws->ptr == NULL) return MD_ERR_ALLOC;
    ws->source = 1;
    return MD_OK;
}

void md_workspace_release(md_workspace *ws) {
    if (ws->source == 1) free(ws->ptr);
    if (ws->source == 2) md_scratch_busy = 0;
    ws->ptr = NULL;
    ws->source = 0;
}

/* ------------------------------------------------------------------ caching allocator */

enum {
    ARENA_HEADER = 64,        /* bytes before each buffer: its capacity (keeps 64-byte alignment) */
    ARENA_SLOTS = 512,        /* cached buffers at most */
    ARENA_MIN_CACHED = 16384, /* smaller buffers go straight back to the C library */
    ARENA_PAGE = 4096         /* cached capacities are whole pages (sizes that differ a little share) */
};

struct md_arena {
    atomic_flag lock; /* held for a few instructions: a spin lock is enough */
    size_t limit;     /* cached bytes at most */
    size_t cached;    /* bytes held in the slots */
    size_t hits, misses;
    int count; /* slots in use */
    size_t capacity[ARENA_SLOTS];
    char *block[ARENA_SLOTS]; /* each points at its header */
};

static void arena_lock(md_arena *a) {
    while (atomic_flag_test_and_set_explicit(&a->lock, memory_order_acquire)) {
    }
}

static void arena_unlock(md_arena *a) { atomic_flag_clear_explicit(&a->lock, memory_order_release); }

/* The capacity a request of size (> 0) bytes gets: whole pages from ARENA_MIN_CACHED on,
 * whole 64-byte lines below. */
static size_t arena_capacity(size_t size) {
    if (size >= ARENA_MIN_CACHED) return (size + ARENA_PAGE - 1) / ARENA_PAGE * ARENA_PAGE;
    return (size + ARENA_HEADER - 1) / ARENA_HEADER * ARENA_HEADER;
}

/* A cached block of exactly cap bytes, newest first (its pages are the likeliest to be
 * in cache), or NULL. */
static char *arena_take(md_arena *a, size_t cap) {
    char *block = NULL;
    arena_lock(a);
    for (int i = a->count - 1; i >= 0; --i) {
        if (a->capacity[i] == cap) {
            block = a->block[i];
            a->count -= 1;
            a->block[i] = a->block[a->count];
            a->capacity[i] = a->capacity[a->count];
            a->cached -= cap;
            break;
        }
    }
    if (block != NULL)
        a->hits += 1;
    else
        a->misses += 1;
    arena_unlock(a);
    return block;
}

md_arena *md_arena_new(size_t limit_bytes) {
    md_arena *a = calloc(1, sizeof(md_arena));
    if (a == NULL) return NULL;
    atomic_flag_clear(&a->lock);
    a->limit = limit_bytes;
    return a;
}

void md_arena_destroy(md_arena *a) {
    if (a == NULL) return;
    for (int i = 0; i < a->count; ++i) free(a->block[i]);
    free(a);
}

void *md_arena_malloc(md_arena *a, size_t size) {
    const size_t cap = arena_capacity(size > 0 ? size : 1);
    char *block = cap >= ARENA_MIN_CACHED ? arena_take(a, cap) : NULL;
    if (block == NULL) {
        if (cap > (size_t)-1 - ARENA_HEADER) return NULL;
        block = aligned_alloc(ARENA_HEADER, ARENA_HEADER + cap);
        if (block == NULL) return NULL;
        *(size_t *)block = cap;
    }
    return block + ARENA_HEADER;
}

void *md_arena_calloc(md_arena *a, size_t nelem, size_t elsize) {
    if (elsize != 0 && nelem > (size_t)-1 / elsize) return NULL;
    void *ptr = md_arena_malloc(a, nelem * elsize);
    if (ptr != NULL) memset(ptr, 0, nelem * elsize);
    return ptr;
}

void md_arena_free(md_arena *a, void *ptr) {
    if (ptr == NULL) return;
    char *block = (char *)ptr - ARENA_HEADER;
    const size_t cap = *(size_t *)block;
    int kept = 0;
    if (cap >= ARENA_MIN_CACHED) {
        arena_lock(a);
        if (a->count < ARENA_SLOTS && a->cached + cap <= a->limit) {
            a->block[a->count] = block;
            a->capacity[a->count] = cap;
            a->count += 1;
            a->cached += cap;
            kept = 1;
        }
        arena_unlock(a);
    }
    if (!kept) free(block);
}

void *md_arena_realloc(md_arena *a, void *ptr, size_t new_size) {
    if (ptr == NULL) return md_arena_malloc(a, new_size);
    const size_t cap = *(size_t *)((char *)ptr - ARENA_HEADER);
    if (new_size <= cap) return ptr;
    void *grown = md_arena_malloc(a, new_size);
    if (grown != NULL) {
        memcpy(grown, ptr, cap);
        md_arena_free(a, ptr);
    }
    return grown;
}

void md_arena_stats(md_arena *a, size_t *hits, size_t *misses, size_t *cached_bytes,
                    int *cached_buffers) {
    arena_lock(a);
    *hits = a->hits;
    *misses = a->misses;
    *cached_bytes = a->cached;
    *cached_buffers = a->count;
    arena_unlock(a);
}
