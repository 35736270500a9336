/* activations.c -- elementwise activations and the row softmax, forward and backward.
 * The kernels are written once in activations_impl.h and built for float and double. */
#include <math.h>

#include "md_internal.h"

#define MD_TEMPLATE "activations_impl.h"
#include "md_instantiate.h"
