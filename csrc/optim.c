/* optim.c -- in-place optimizer updates (SGD, RMSprop, Adam/AdamW), Keras 3 formulas.
 *
 * The kernels are written once in optim_impl.h and instantiated for float and double.
 * Scalars (learning rate, 1 - rho, the Adam step size alpha, ...) are computed in
 * double and cast once to the element type; the per-element arithmetic then runs in
 * the element type, as Keras does it for a variable of that dtype.
 *
 * Aliasing: every buffer is read at index i before anything is written at index i, so
 * buffers may be the same array (e.g. grad == var). Loops carry no restrict qualifiers;
 * gcc versions them with run-time overlap checks, so any overlap stays correct.
 */
#include <math.h>

#include "md_internal.h"

/* Elements per block of the parallel loops: each block runs one vectorised inner loop,
 * specialised for the flags of the call (centered, momentum, amsgrad, ...). */
#define MD_OPTIM_BLOCK 4096

/* Adam and RMSprop blocks are also compiled for AVX2 and AVX-512 (optim_impl.h). */
#if defined(__x86_64__) || defined(__i386__)
#define MD_OPTIM_X86 1
#else
#define MD_OPTIM_X86 0
#endif

/* 1 when every value is finite (not NaN, not +-inf). */
static int md_optim_finite4(double a, double b, double c, double d) {
    return isfinite(a) && isfinite(b) && isfinite(c) && isfinite(d);
}

#define MD_TEMPLATE "optim_impl.h"
#include "md_instantiate.h"
