/* mdc_rows.cuh -- launch geometry of the row kernels (softmax, losses): one warp per
 * row, 8 warps per block, rows visited in a grid-stride loop. A warp reduces its row
 * with butterflies (mdc::warp_sum), so every row is summed in a fixed order. */
#ifndef MDC_ROWS_CUH
#define MDC_ROWS_CUH

#include "mdc_internal.cuh"

namespace mdc {

constexpr int kRowWarps = kThreads / 32;

inline unsigned row_blocks(int64_t rows) {
    const int64_t b = ceil_div(rows > 0 ? rows : 1, kRowWarps);
    return (unsigned)(b < kMaxBlocks ? b : kMaxBlocks);
}

/* for (r = this warp's first row; r < rows; r += warps in the grid), with `lane`. */
#define MDC_FOR_ROWS(r, lane, rows)                                                          \
    const int lane = threadIdx.x % 32;                                                       \
    for (int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; r < (rows);      \
         r += (int64_t)gridDim.x * blockDim.x / 32)

}  // namespace mdc

#endif /* MDC_ROWS_CUH */
