/* tensor_ops.c -- bias add, deterministic sum over an axis, elementwise arithmetic.
 *
 * The kernels are written once in tensor_ops_impl.h and instantiated for float and double.
 *
 * md_reduce_sum is deterministic: the reduced axis is cut into chunks of
 * MD_REDUCE_CHUNK_ROWS rows (a function of the problem size only), each chunk's partial
 * sum is accumulated in double in a fixed order, and the partials are added in chunk
 * order. Two schedules compute exactly these operations -- one task per (outer row,
 * column block) looping over the chunks, or one task per (outer row, chunk, column block)
 * followed by a combine pass -- so the result is bit-identical whichever one runs and for
 * every thread count.
 *
 * Zero-sized problems are allowed (no-ops; a sum over an empty axis writes zeros), and a
 * pointer is only required when there is something to read or write through it.
 */
#include "md_internal.h"

/* Columns per task in md_bias_add. */
#define MD_BIAS_COLS 4096
/* Columns of the inner axis per task in md_reduce_sum (its double accumulators live on
 * the stack: two arrays of this many doubles). */
#define MD_SUM_COLS 512
/* Independent accumulators ("lanes") for a contiguous sum (inner == 1), combined in a
 * fixed pairwise order: vectorisable, and still the same operations for any schedule. */
#define MD_SUM_LANES 8

#define MD_TEMPLATE "tensor_ops_impl.h"
#include "md_instantiate.h"
