/* runtime.c -- status strings, thread count, CPU feature detection, geometry checks. */
#include "md_internal.h"

static int md_num_threads = 1;

const char *md_status_string(md_status status) {
    switch (status) {
    case MD_OK: return "ok";
    case MD_ERR_SHAPE: return "inconsistent or non-positive shape";
    case MD_ERR_ARG: return "invalid argument";
    case MD_ERR_ALLOC: return "out of memory";
    case MD_ERR_OVERFLOW: return "size overflows a 64-bit integer";
    }
    return "unknown status";
}

/* Cores this process may run on (OpenMP's count follows the CPU affinity); a serial
 * build runs every kernel on one. */
static int md_available_cores(void) {
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

int md_max_num_threads(void) {
    int64_t cap = (int64_t)MD_THREADS_PER_CORE * md_available_cores();
    if (cap < MD_MIN_THREAD_CAP) cap = MD_MIN_THREAD_CAP;
    if (cap > MD_MAX_THREADS) cap = MD_MAX_THREADS;
#ifdef _OPENMP
    /* OMP_THREAD_LIMIT: asking for more threads than the runtime allows is an error */
    if (cap > omp_get_thread_limit()) cap = omp_get_thread_limit();
#endif
    return cap < 1 ? 1 : (int)cap;
}

/* Clamped: far more threads than cores only costs memory and, past what the OS lets
 * a process create, makes the OpenMP runtime abort at the next parallel region. */
void md_set_num_threads(int n) {
    int cap = md_max_num_threads();
    md_num_threads = n < 1 ? 1 : (n > cap ? cap : n);
}

int md_get_num_threads(void) { return md_num_threads; }

int md_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int md_cpu_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        int level = MD_ISA_PORTABLE;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            level = MD_ISA_AVX2;
            /* libgcc also checks that the OS saves the zmm state (XCR0) */
            if (__builtin_cpu_supports("avx512f")) level = MD_ISA_AVX512;
        }
        cached = level;
    }
    return cached;
#else
    return MD_ISA_PORTABLE;
#endif
}

int md_cpu_has_avx2_fma(void) { return md_cpu_isa() >= MD_ISA_AVX2; }

/* -1: no cap (detection decides); else the highest level the kernels may use. */
static int md_isa_cap = -1;

void md_force_isa(int level) { md_isa_cap = level < 0 ? -1 : level; }

void md_force_portable(int on) { md_isa_cap = on ? MD_ISA_PORTABLE : -1; }

/* The Winograd path of the 3x3 convolutions (conv2d.c): on unless switched off. */
static int md_conv_winograd = 1;

void md_set_conv_winograd(int on) { md_conv_winograd = on != 0; }

int md_get_conv_winograd(void) { return md_conv_winograd; }

int md_isa_level(void) {
    const int cpu = md_cpu_isa();
    return (md_isa_cap >= 0 && md_isa_cap < cpu) ? md_isa_cap : cpu;
}

int md_use_avx2(void) { return md_isa_level() >= MD_ISA_AVX2; }

/* Output size and leading padding of one spatial axis (Keras/TensorFlow rules). */
static md_status md_axis_geometry(int64_t in, int64_t k, int64_t stride, int padding,
                                  int64_t *out, int64_t *pad_before) {
    if (in <= 0 || k <= 0 || stride <= 0) return MD_ERR_SHAPE;
    if (padding == MD_PADDING_VALID) {
        if (k > in) return MD_ERR_SHAPE;
        *out = (in - k) / stride + 1;
        *pad_before = 0;
    } else if (padding == MD_PADDING_SAME) {
        *out = md_ceil_div(in, stride);
        int64_t total = md_max64((*out - 1) * stride + k - in, 0);
        *pad_before = total / 2;
        /* a window must touch at least one real pixel */
        if (k > in + total) return MD_ERR_SHAPE;
    } else {
        return MD_ERR_ARG;
    }
    return MD_OK;
}

/* Product of the sizes fits in int64 (and each is positive). */
static int md_sizes_ok(const int64_t *sizes, int count) {
    int64_t total = 1;
    for (int i = 0; i < count; i++) {
        if (sizes[i] <= 0 || !md_mul_ok(total, sizes[i], &total)) return 0;
    }
    return 1;
}

md_status md_conv2d_geom_init(md_conv2d_geom *g, int64_t batch, int64_t in_h, int64_t in_w,
                              int64_t in_c, int64_t k_h, int64_t k_w, int64_t out_c,
                              int64_t stride_h, int64_t stride_w, int padding) {
    if (g == NULL) return MD_ERR_ARG;
    memset(g, 0, sizeof(*g));
    if (batch <= 0 || in_c <= 0 || out_c <= 0) return MD_ERR_SHAPE;
    md_status st = md_axis_geometry(in_h, k_h, stride_h, padding, &g->out_h, &g->pad_top);
    if (st != MD_OK) return st;
    st = md_axis_geometry(in_w, k_w, stride_w, padding, &g->out_w, &g->pad_left);
    if (st != MD_OK) return st;
    g->batch = batch; g->in_h = in_h; g->in_w = in_w; g->in_c = in_c;
    g->k_h = k_h; g->k_w = k_w; g->out_c = out_c;
    g->stride_h = stride_h; g->stride_w = stride_w;
    return md_conv2d_geom_check(g);
}

md_status md_conv2d_geom_check(const md_conv2d_geom *g) {
    if (g == NULL) return MD_ERR_ARG;
    const int64_t in_sizes[4] = {g->batch, g->in_h, g->in_w, g->in_c};
    const int64_t out_sizes[4] = {g->batch, g->out_h, g->out_w, g->out_c};
    const int64_t w_sizes[4] = {g->k_h, g->k_w, g->in_c, g->out_c};
    if (g->stride_h <= 0 || g->stride_w <= 0 || g->pad_top < 0 || g->pad_left < 0)
        return MD_ERR_SHAPE;
    for (int i = 0; i < 4; i++)
        if (in_sizes[i] <= 0 || out_sizes[i] <= 0 || w_sizes[i] <= 0) return MD_ERR_SHAPE;
    if (!md_sizes_ok(in_sizes, 4) || !md_sizes_ok(out_sizes, 4) || !md_sizes_ok(w_sizes, 4))
        return MD_ERR_OVERFLOW;
    /* every output window starts inside the padded input and padding never exceeds
     * the kernel (which would mean windows that see no pixel at all) */
    if (g->pad_top >= g->k_h || g->pad_left >= g->k_w) return MD_ERR_SHAPE;
    if ((g->out_h - 1) * g->stride_h - g->pad_top >= g->in_h) return MD_ERR_SHAPE;
    if ((g->out_w - 1) * g->stride_w - g->pad_left >= g->in_w) return MD_ERR_SHAPE;
    return MD_OK;
}

md_status md_pool2d_geom_init(md_pool2d_geom *g, int64_t batch, int64_t in_h, int64_t in_w,
                              int64_t channels, int64_t pool_h, int64_t pool_w,
                              int64_t stride_h, int64_t stride_w, int padding) {
    if (g == NULL) return MD_ERR_ARG;
    memset(g, 0, sizeof(*g));
    if (batch <= 0 || channels <= 0) return MD_ERR_SHAPE;
    md_status st = md_axis_geometry(in_h, pool_h, stride_h, padding, &g->out_h, &g->pad_top);
    if (st != MD_OK) return st;
    st = md_axis_geometry(in_w, pool_w, stride_w, padding, &g->out_w, &g->pad_left);
    if (st != MD_OK) return st;
    g->batch = batch; g->in_h = in_h; g->in_w = in_w; g->channels = channels;
    g->pool_h = pool_h; g->pool_w = pool_w;
    g->stride_h = stride_h; g->stride_w = stride_w;
    return md_pool2d_geom_check(g);
}

md_status md_pool2d_geom_check(const md_pool2d_geom *g) {
    if (g == NULL) return MD_ERR_ARG;
    const int64_t in_sizes[4] = {g->batch, g->in_h, g->in_w, g->channels};
    const int64_t out_sizes[4] = {g->batch, g->out_h, g->out_w, g->channels};
    if (g->pool_h <= 0 || g->pool_w <= 0 || g->stride_h <= 0 || g->stride_w <= 0 ||
        g->pad_top < 0 || g->pad_left < 0)
        return MD_ERR_SHAPE;
    for (int i = 0; i < 4; i++)
        if (in_sizes[i] <= 0 || out_sizes[i] <= 0) return MD_ERR_SHAPE;
    if (!md_sizes_ok(in_sizes, 4) || !md_sizes_ok(out_sizes, 4)) return MD_ERR_OVERFLOW;
    if (g->pad_top >= g->pool_h || g->pad_left >= g->pool_w) return MD_ERR_SHAPE;
    if ((g->out_h - 1) * g->stride_h - g->pad_top >= g->in_h) return MD_ERR_SHAPE;
    if ((g->out_w - 1) * g->stride_w - g->pad_left >= g->in_w) return MD_ERR_SHAPE;
    return MD_OK;
}
