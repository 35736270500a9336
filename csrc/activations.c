/* activations.c -- elementwise activations and the row softmax, forward and backward.
 * The kernels are written once in activations_impl.h and built for float and double. */
#include <math.h>

#include "md_internal.h"

/* A statically scheduled OpenMP loop over `nthreads` threads; expands to nothing without
 * OpenMP (no unknown-pragma warnings, and the thread count is not even computed). */
#ifdef _OPENMP
#define MD_AX_PRAGMA(text) _Pragma(#text)
#define MD_AX_PFOR(nthreads) MD_AX_PRAGMA(omp parallel for schedule(static) num_threads(nthreads))
#else
#define MD_AX_PFOR(nthreads)
#endif

#define MD_TEMPLATE "activations_impl.h"
#include "md_instantiate.h"
