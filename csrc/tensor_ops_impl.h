/* tensor_ops_impl.h -- tensor op kernels, written once in terms of md_T and MD_FN.
 * Included twice by tensor_ops.c (through md_instantiate.h): float (_f32), then double. */

/* ------------------------------------------------------------------ bias add */

md_status MD_FN(md_bias_add)(md_T *y, const md_T *x, const md_T *bias, int64_t rows,
                             int64_t cols) {
    int64_t total;
    if (rows < 0 || cols < 0) return MD_ERR_SHAPE;
    if (!md_mul_ok(rows, cols, &total)) return MD_ERR_OVERFLOW;
    if (total == 0) return MD_OK;
    if (y == NULL || x == NULL || bias == NULL) return MD_ERR_ARG;
    const int64_t col_blocks = md_ceil_div(cols, MD_BIAS_COLS);
    const int64_t tasks = rows * col_blocks; /* <= rows * cols */
#pragma omp parallel for schedule(static) num_threads(md_threads_for(total))
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t r = t / col_blocks;
        const int64_t lo = (t % col_blocks) * MD_BIAS_COLS;
        const int64_t hi = md_min64(lo + MD_BIAS_COLS, cols);
        md_T *yr = y + r * cols;
        const md_T *xr = x + r * cols;
        for (int64_t j = lo; j < hi; j++) yr[j] = xr[j] + bias[j];
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ reduce sum */

/* The partial sum of one chunk: acc[j] = sum over r < rows of x[r * inner + j] for
 * j < width, in double. With inner == 1 (a contiguous run) the rows are spread over
 * MD_SUM_LANES accumulators combined pairwise; otherwise rows are added in order, each
 * row's `width` columns in one vectorised loop. The operations depend only on
 * (rows, inner, width), never on the thread that runs them. */
static void MD_FN(md_sum_chunk)(double *acc, const md_T *x, int64_t rows, int64_t inner,
                                int64_t width) {
    if (inner == 1) {
        double lane[MD_SUM_LANES] = {0.0};
        int64_t r = 0;
        for (; r + MD_SUM_LANES <= rows; r += MD_SUM_LANES)
            for (int k = 0; k < MD_SUM_LANES; k++) lane[k] += (double)x[r + k];
        double s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                   ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        for (; r < rows; r++) s += (double)x[r];
        acc[0] = s;
        return;
    }
    for (int64_t j = 0; j < width; j++) acc[j] = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const md_T *row = x + r * inner;
        for (int64_t j = 0; j < width; j++) acc[j] += (double)row[j];
    }
}

md_status MD_FN(md_reduce_sum)(md_T *out, const md_T *x, int64_t outer, int64_t reduce,
                               int64_t inner) {
    int64_t out_n, total;
    if (outer < 0 || reduce < 0 || inner < 0) return MD_ERR_SHAPE;
    if (!md_mul_ok(outer, inner, &out_n) || !md_mul_ok(out_n, reduce, &total))
        return MD_ERR_OVERFLOW;
    if (out_n == 0) return MD_OK;
    if (out == NULL) return MD_ERR_ARG;
    if (reduce == 0) {
        for (int64_t i = 0; i < out_n; i++) out[i] = (md_T)0;
        return MD_OK;
    }
    if (x == NULL) return MD_ERR_ARG;

    const int64_t chunks = md_ceil_div(reduce, MD_REDUCE_CHUNK_ROWS);
    const int64_t col_blocks = md_ceil_div(inner, MD_SUM_COLS);
    const int nt = md_threads_for(total);

    /* Few (outer row, column block) tasks for many threads: compute every chunk's partial
     * in parallel into a buffer, then add the partials in chunk order. */
    double *partials = NULL;
    int64_t partial_n;
    if (chunks > 1 && nt > 1 && outer * col_blocks < 4 * (int64_t)nt &&
        md_mul_ok(out_n, chunks, &partial_n) && partial_n <= INT64_MAX / 8)
        partials = (double *)malloc((size_t)partial_n * sizeof(double));
    /* (when the buffer cannot be had, the schedule below computes the same result) */

    if (partials != NULL) {
        const int64_t tasks = outer * chunks * col_blocks; /* <= total */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t t = 0; t < tasks; t++) {
            const int64_t o = t / (chunks * col_blocks);
            const int64_t c = (t / col_blocks) % chunks;
            const int64_t j0 = (t % col_blocks) * MD_SUM_COLS;
            const int64_t r0 = c * MD_REDUCE_CHUNK_ROWS;
            const int64_t rows = md_min64(MD_REDUCE_CHUNK_ROWS, reduce - r0);
            MD_FN(md_sum_chunk)(partials + (o * chunks + c) * inner + j0,
                                x + (o * reduce + r0) * inner + j0, rows, inner,
                                md_min64(MD_SUM_COLS, inner - j0));
        }
        const int64_t combine_tasks = outer * col_blocks;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(out_n * chunks))
        for (int64_t t = 0; t < combine_tasks; t++) {
            const int64_t o = t / col_blocks;
            const int64_t j0 = (t % col_blocks) * MD_SUM_COLS;
            const int64_t width = md_min64(MD_SUM_COLS, inner - j0);
            const double *p = partials + o * chunks * inner + j0;
            double sum[MD_SUM_COLS];
            for (int64_t j = 0; j < width; j++) sum[j] = p[j];
            for (int64_t c = 1; c < chunks; c++)
                for (int64_t j = 0; j < width; j++) sum[j] += p[c * inner + j];
            md_T *dst = out + o * inner + j0;
            for (int64_t j = 0; j < width; j++) dst[j] = (md_T)sum[j];
        }
        free(partials);
        return MD_OK;
    }

    /* One task per (outer row, column block), looping over the chunks in order. */
    const int64_t tasks = outer * col_blocks;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t o = t / col_blocks;
        const int64_t j0 = (t % col_blocks) * MD_SUM_COLS;
        const int64_t width = md_min64(MD_SUM_COLS, inner - j0);
        const md_T *xo = x + o * reduce * inner + j0;
        double sum[MD_SUM_COLS], part[MD_SUM_COLS];
        MD_FN(md_sum_chunk)(sum, xo, md_min64(MD_REDUCE_CHUNK_ROWS, reduce), inner, width);
        for (int64_t c = 1; c < chunks; c++) {
            const int64_t r0 = c * MD_REDUCE_CHUNK_ROWS;
            MD_FN(md_sum_chunk)(part, xo + r0 * inner,
                                md_min64(MD_REDUCE_CHUNK_ROWS, reduce - r0), inner, width);
            for (int64_t j = 0; j < width; j++) sum[j] += part[j];
        }
        md_T *dst = out + o * inner + j0;
        for (int64_t j = 0; j < width; j++) dst[j] = (md_T)sum[j];
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ elementwise */

md_status MD_FN(md_add)(md_T *y, const md_T *a, const md_T *b, int64_t n) {
    if (n < 0) return MD_ERR_SHAPE;
    if (n == 0) return MD_OK;
    if (y == NULL || a == NULL || b == NULL) return MD_ERR_ARG;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    return MD_OK;
}

md_status MD_FN(md_mul)(md_T *y, const md_T *a, const md_T *b, int64_t n) {
    if (n < 0) return MD_ERR_SHAPE;
    if (n == 0) return MD_OK;
    if (y == NULL || a == NULL || b == NULL) return MD_ERR_ARG;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
    return MD_OK;
}

md_status MD_FN(md_scale)(md_T *y, const md_T *x, double alpha, int64_t n) {
    if (n < 0) return MD_ERR_SHAPE;
    if (n == 0) return MD_OK;
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    const md_T a = (md_T)alpha;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) y[i] = a * x[i];
    return MD_OK;
}

md_status MD_FN(md_axpy)(md_T *y, double alpha, const md_T *x, int64_t n) {
    if (n < 0) return MD_ERR_SHAPE;
    if (n == 0) return MD_OK;
    if (y == NULL || x == NULL) return MD_ERR_ARG;
    const md_T a = (md_T)alpha;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) y[i] = y[i] + a * x[i];
    return MD_OK;
}

/* ------------------------------------------------------------------ summary statistics */

/* 1 when an activation whose output is y has a derivative below 1% of its maximum at y,
 * else 0; NaN is never counted. Selects, so that the lane loops vectorise. */
static inline __attribute__((always_inline)) md_T MD_FN(md_saturated_unit)(md_T y,
                                                                           int activation) {
    switch (activation) {
    case MD_ACT_SIGMOID:
        return (y - (md_T)0.5 > (md_T)MD_SIGMOID_SATURATED_HALF_WIDTH ||
                (md_T)0.5 - y > (md_T)MD_SIGMOID_SATURATED_HALF_WIDTH) ? (md_T)1 : (md_T)0;
    case MD_ACT_TANH:
        return (y > (md_T)MD_TANH_SATURATED_LEVEL || -y > (md_T)MD_TANH_SATURATED_LEVEL)
                   ? (md_T)1 : (md_T)0;
    case MD_ACT_RELU: return y <= (md_T)0 ? (md_T)1 : (md_T)0;
    default: return (md_T)0;
    }
}

/* One chunk's partial sums about `shift`: part[0] = sum(x - shift), part[1] =
 * sum((x - shift)^2), part[2] = number of saturated units. Blocks of MD_STATS_BLOCK
 * values are summed in MD_STATS_LANES md_T lanes (one vector register per quantity), each
 * block's lanes added to double lanes, the tail added in double to lane 0, and the lanes
 * combined pairwise: the operations depend on the chunk's length only. Inlined with a
 * constant `activation`, so each case gets its own vector loop. */
static inline __attribute__((always_inline)) void MD_FN(md_stats_lanes)(
    double *part, const md_T *x, int64_t n, md_T shift, int activation) {
    double sum[MD_STATS_LANES] = {0.0}, squares[MD_STATS_LANES] = {0.0};
    double saturated[MD_STATS_LANES] = {0.0};
    int64_t i = 0;
    for (; i + MD_STATS_BLOCK <= n; i += MD_STATS_BLOCK) {
        md_T block_sum[MD_STATS_LANES] = {0}, block_squares[MD_STATS_LANES] = {0};
        md_T block_saturated[MD_STATS_LANES] = {0};
        for (int64_t j = 0; j < MD_STATS_BLOCK; j += MD_STATS_LANES)
            for (int k = 0; k < MD_STATS_LANES; k++) {
                const md_T v = x[i + j + k], d = v - shift;
                block_sum[k] += d;
                block_squares[k] += d * d;
                block_saturated[k] += MD_FN(md_saturated_unit)(v, activation);
            }
        for (int k = 0; k < MD_STATS_LANES; k++) {
            sum[k] += (double)block_sum[k];
            squares[k] += (double)block_squares[k];
            saturated[k] += (double)block_saturated[k];
        }
    }
    for (; i < n; i++) {
        const double d = (double)x[i] - (double)shift;
        sum[0] += d;
        squares[0] += d * d;
        saturated[0] += (double)MD_FN(md_saturated_unit)(x[i], activation);
    }
    part[0] = md_lane_total(sum, MD_STATS_LANES);
    part[1] = md_lane_total(squares, MD_STATS_LANES);
    part[2] = md_lane_total(saturated, MD_STATS_LANES);
}

static void MD_FN(md_stats_chunk)(double *part, const md_T *x, int64_t n, md_T shift,
                                  int activation) {
    switch (activation) { /* a constant activation per inlined copy */
    case MD_ACT_SIGMOID: MD_FN(md_stats_lanes)(part, x, n, shift, MD_ACT_SIGMOID); break;
    case MD_ACT_TANH: MD_FN(md_stats_lanes)(part, x, n, shift, MD_ACT_TANH); break;
    case MD_ACT_RELU: MD_FN(md_stats_lanes)(part, x, n, shift, MD_ACT_RELU); break;
    default: MD_FN(md_stats_lanes)(part, x, n, shift, MD_ACT_LINEAR); break;
    }
}

md_status MD_FN(md_summary_stats)(double *stats, const md_T *x, int64_t n, int activation) {
    if (n <= 0) return MD_ERR_SHAPE;
    if (stats == NULL || x == NULL) return MD_ERR_ARG;
    if (activation != MD_ACT_LINEAR && activation != MD_ACT_RELU &&
        activation != MD_ACT_SIGMOID && activation != MD_ACT_TANH)
        return MD_ERR_ARG;
    const int64_t chunks = md_ceil_div(n, MD_STATS_CHUNK);
    double on_stack[3 * MD_STATS_STACK_CHUNKS];
    double *parts = on_stack;
    if (chunks > MD_STATS_STACK_CHUNKS) {
        if ((uint64_t)chunks > SIZE_MAX / (3 * sizeof(double))) return MD_ERR_OVERFLOW;
        parts = (double *)malloc((size_t)chunks * 3 * sizeof(double));
        if (parts == NULL) return MD_ERR_ALLOC;
    }
    /* Sums about the first value: a large common offset does not cancel the variance. */
    const md_T shift = x[0];
    void (*chunk_stats)(double *, const md_T *, int64_t, md_T, int) = MD_FN(md_stats_chunk);
#if MD_IS_F32 && defined(MD_HAVE_STATS_AVX2)
    if (md_isa_level() >= MD_ISA_AVX2) chunk_stats = md_stats_chunk_avx2;
#endif
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t lo = c * MD_STATS_CHUNK;
        chunk_stats(parts + 3 * c, x + lo, md_min64(MD_STATS_CHUNK, n - lo), shift, activation);
    }
    double sum = 0.0, squares = 0.0, saturated = 0.0;
    for (int64_t c = 0; c < chunks; c++) {
        sum += parts[3 * c];
        squares += parts[3 * c + 1];
        saturated += parts[3 * c + 2];
    }
    if (parts != on_stack) free(parts);
    const double mean_offset = sum / (double)n;
    const double variance = squares / (double)n - mean_offset * mean_offset;
    stats[0] = (double)shift + mean_offset;
    stats[1] = variance > 0.0 ? variance : 0.0;
    stats[2] = saturated / (double)n;
    return MD_OK;
}

/* ------------------------------------------------------------------ embedding */

/* y (n, dim) = table rows (rows, dim) at indices (n); MD_ERR_ARG for an index outside
 * [0, rows) (checked before anything is written). */
md_status MD_FN(md_embedding_forward)(md_T *y, const md_T *table, const int64_t *indices,
                                      int64_t n, int64_t rows, int64_t dim) {
    const md_status st = md_embedding_args(y, table, indices, n, rows, dim);
    if (st != MD_OK) return st;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n * dim))
    for (int64_t i = 0; i < n; i++)
        memcpy(y + i * dim, table + indices[i] * dim, (size_t)dim * sizeof(md_T));
    return MD_OK;
}

/* dtable (rows, dim) = 0, then dtable[indices[i]] += dy[i] for i in order (a repeated
 * index accumulates). Threads own slices of the columns, so every value is summed in
 * index order whatever the thread count. MD_ERR_ARG for an index outside [0, rows). */
md_status MD_FN(md_embedding_backward)(md_T *dtable, const md_T *dy, const int64_t *indices,
                                       int64_t n, int64_t rows, int64_t dim) {
    const md_status st = md_embedding_args(dtable, dy, indices, n, rows, dim);
    if (st != MD_OK) return st;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n * dim))
    for (int64_t b = 0; b < md_ceil_div(dim, MD_EMBED_COLS); b++) {
        const int64_t c0 = b * MD_EMBED_COLS, c1 = md_min64(dim, c0 + MD_EMBED_COLS);
        for (int64_t r = 0; r < rows; r++)
            memset(dtable + r * dim + c0, 0, (size_t)(c1 - c0) * sizeof(md_T));
        for (int64_t i = 0; i < n; i++) {
            md_T *restrict dst = dtable + indices[i] * dim;
            const md_T *restrict src = dy + i * dim;
            for (int64_t c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
    return MD_OK;
}
