/*
 * minidl.h -- the C API of minidl's compute core.
 *
 * Conventions (see docs/developer.rst):
 *   - Layout is channels_last: images NHWC, conv kernels HWIO (kh, kw, in, out),
 *     dense kernels (in, out), batch norm over the last axis.
 *   - Every kernel exists twice, built from one source: a float32 version with the
 *     suffix _f32 and a float64 version with the suffix _f64 (used by gradient checks).
 *     The prototypes below are written once through MD_KERNELS.
 *   - Arguments: outputs, saved state, inputs, then a const geometry struct. Scratch
 *     memory (packing and im2col buffers) is the core's own: each thread's reusable
 *     workspace (csrc/arena.c); callers never pass or size one.
 *   - Every entry point returns an md_status and checks its own geometry; kernels never
 *     exit, abort or assert. Sizes are int64_t.
 *   - Parameter gradients are written (overwritten), never accumulated, unless a
 *     prototype says otherwise. Input gradients are written.
 *   - Reductions use fixed-size chunks reduced in a fixed order, so results are
 *     bit-identical run after run and for any thread count.
 */
#ifndef MINIDL_H
#define MINIDL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status codes */
typedef enum {
    MD_OK = 0,
    MD_ERR_SHAPE = 1,    /* inconsistent or non-positive geometry */
    MD_ERR_ARG = 2,      /* a bad argument value (NULL pointer, unknown enum, label out of range) */
    MD_ERR_ALLOC = 3,    /* an internal allocation failed */
    MD_ERR_OVERFLOW = 4  /* a size computation would overflow int64 */
} md_status;

/* A short English description of a status code (static storage). */
const char *md_status_string(md_status status);

/* ------------------------------------------------------------------ runtime */
/* Number of threads every kernel may use. Set from Python at import time; clamped to
 * 1..md_max_num_threads(). */
void md_set_num_threads(int n);
int md_get_num_threads(void);
/* The most threads md_set_num_threads accepts: MD_THREADS_PER_CORE per core this process
 * may use, at least MD_MIN_THREAD_CAP, at most MD_MAX_THREADS and OpenMP's thread limit. */
#define MD_THREADS_PER_CORE 4
#define MD_MIN_THREAD_CAP 8
#define MD_MAX_THREADS 1024
int md_max_num_threads(void);
/* 1 when compiled with OpenMP. */
int md_has_openmp(void);
/* 1 when the CPU runs the AVX2/FMA paths (checked once, at run time). */
int md_cpu_has_avx2_fma(void);
/* Force the portable C paths even on an AVX2 CPU (for tests); 0 restores detection. */
void md_force_portable(int on);
/* Whether 3x3 stride-1 convolutions (forward and backward input) may take the Winograd
 * path (on by default; 0 keeps every convolution on the implicit-GEMM path, for tests and
 * benchmarks). Not thread safe against convolutions running at the same time. */
void md_set_conv_winograd(int on);
int md_get_conv_winograd(void);

/* ------------------------------------------------------------------ enums */
typedef enum { MD_PADDING_VALID = 0, MD_PADDING_SAME = 1 } md_padding;

typedef enum {
    MD_ACT_LINEAR = 0,
    MD_ACT_RELU = 1,
    MD_ACT_SIGMOID = 2,
    MD_ACT_TANH = 3,
    /* elementwise only (not fused into convolutions): Keras's elu (alpha 1), selu,
       softplus and leaky_relu (negative slope 0.2) */
    MD_ACT_ELU = 4,
    MD_ACT_SELU = 5,
    MD_ACT_SOFTPLUS = 6,
    MD_ACT_LEAKY_RELU = 7,
    MD_ACT_GELU = 8, /* x Phi(x) (exact, erf) */
    MD_ACT_SILU = 9  /* x sigmoid(x) (swish) */
} md_activation;

typedef enum {
    MD_FILL_NEAREST = 0,  /* clamp to the edge pixel */
    MD_FILL_CONSTANT = 1, /* a constant value outside the image */
    MD_FILL_REFLECT = 2,  /* d c b a | a b c d | d c b a (edge pixel repeated) */
    MD_FILL_WRAP = 3      /* a b c d | a b c d | a b c d */
} md_fill_mode;

/* ------------------------------------------------------------------ geometry */
/* 2-D convolution over NHWC input with an HWIO kernel.
 * 'same' follows Keras/TensorFlow: out = ceil(in / stride), total padding
 * max((out - 1) * stride + k - in, 0), the odd pixel going bottom/right. */
typedef struct {
    int64_t batch, in_h, in_w, in_c;
    int64_t k_h, k_w, out_c;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left;
    int64_t out_h, out_w;
} md_conv2d_geom;

/* Fill *g and check it. Returns MD_ERR_SHAPE for non-positive sizes, a kernel larger
 * than the padded input, or an unknown padding; MD_ERR_OVERFLOW when sizes overflow. */
md_status md_conv2d_geom_init(md_conv2d_geom *g, int64_t batch, int64_t in_h, int64_t in_w,
                              int64_t in_c, int64_t k_h, int64_t k_w, int64_t out_c,
                              int64_t stride_h, int64_t stride_w, int padding);
/* Re-check a filled geometry (every conv kernel calls this first). */
md_status md_conv2d_geom_check(const md_conv2d_geom *g);

/* 2-D pooling over NHWC input; same padding rule as convolution. Padded cells are
 * ignored: max pooling never picks them, average pooling divides by the valid count. */
typedef struct {
    int64_t batch, in_h, in_w, channels;
    int64_t pool_h, pool_w;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left;
    int64_t out_h, out_w;
} md_pool2d_geom;

md_status md_pool2d_geom_init(md_pool2d_geom *g, int64_t batch, int64_t in_h, int64_t in_w,
                              int64_t channels, int64_t pool_h, int64_t pool_w,
                              int64_t stride_h, int64_t stride_w, int padding);
md_status md_pool2d_geom_check(const md_pool2d_geom *g);

/* Batch normalization of a (rows, channels) view: rows = N for 2-D input, N*H*W for NHWC. */
typedef struct {
    int64_t rows, channels;
    double epsilon;
    double momentum; /* Keras 3: moving = moving * momentum + batch * (1 - momentum) */
} md_batchnorm_geom;

/* ------------------------------------------------------------------ prototypes */
/* MD_KERNELS(md_T, SUF) declares every kernel once for an element type md_T with the
 * name suffix SUF; it is expanded below for float (_f32) and double (_f64). */
#define MD_KERNELS(md_T, SUF)                                                                 \
    /* ---- gemm.c ---------------------------------------------------------------------- */ \
    /* Row-major C = alpha * op(A) op(B) + beta * C; op(A) is (m, k), op(B) is (k, n).       \
       beta == 0 never reads C (NaN in C is ignored, as in BLAS). */                          \
    md_status md_gemm##SUF(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,         \
                           md_T alpha, const md_T *a, int64_t lda, const md_T *b,             \
                           int64_t ldb, md_T beta, md_T *c, int64_t ldc);                     \
    /* ---- conv2d.c -------------------------------------------------------------------- */ \
    /* y (batch, out_h, out_w, out_c) = act(conv(x (batch, in_h, in_w, in_c),                 \
       w (k_h, k_w, in_c, out_c)) + bias (out_c) or no bias when NULL). */                    \
    md_status md_conv2d_forward##SUF(md_T *y, const md_T *x, const md_T *w, const md_T *bias, \
                                     int activation, const md_conv2d_geom *g);                \
    /* The same, average-pooled over 2x2 windows with stride 2 ('valid') in the same call:   \
       y (batch, out_h / 2, out_w / 2, out_c), the bits of the two passes; unless NULL,       \
       unpooled (batch, out_h, out_w, out_c) receives the output before pooling too          \
       (training keeps it for the backward pass). */                                          \
    md_status md_conv2d_forward_avgpool2##SUF(md_T *y, md_T *unpooled, const md_T *x,         \
                                              const md_T *w, const md_T *bias,                \
                                              int activation, const md_conv2d_geom *g);       \
    /* dx (batch, in_h, in_w, in_c) from dy (batch, out_h, out_w, out_c) and w. */            \
    md_status md_conv2d_backward_input##SUF(md_T *dx, const md_T *dy, const md_T *w,          \
                                            const md_conv2d_geom *g);                         \
    /* dw (k_h, k_w, in_c, out_c) and dbias (out_c, skipped when NULL) from dy and x. */      \
    md_status md_conv2d_backward_weight##SUF(md_T *dw, md_T *dbias, const md_T *dy,           \
                                             const md_T *x, const md_conv2d_geom *g);         \
    /* ---- conv2d.c: depthwise -------------------------------------------------------- */ \
    /* Depthwise: g->in_c = channels C, g->out_c = depth multiplier M; w (k_h, k_w, C, M);   \
       y (batch, out_h, out_w, C * M) = depthwise(x, w) + bias (C * M, or NULL). */          \
    md_status md_depthwise_conv2d_forward##SUF(md_T *y, const md_T *x, const md_T *w,         \
                                               const md_T *bias, const md_conv2d_geom *g);    \
    md_status md_depthwise_conv2d_backward_input##SUF(md_T *dx, const md_T *dy,               \
                                                      const md_T *w, const md_conv2d_geom *g);\
    md_status md_depthwise_conv2d_backward_weight##SUF(md_T *dw, md_T *dbias, const md_T *dy, \
                                                       const md_T *x, const md_conv2d_geom *g);\
    /* ---- pool2d.c -------------------------------------------------------------------- */ \
    /* y (batch, out_h, out_w, channels); argmax (same shape, may be NULL) receives the      \
       flat index h * in_w + w of the chosen cell inside its image and channel. */            \
    md_status md_maxpool2d_forward##SUF(md_T *y, int64_t *argmax, const md_T *x,              \
                                        const md_pool2d_geom *g);                             \
    /* dx (batch, in_h, in_w, channels) from dy and the argmax of the forward pass. */        \
    md_status md_maxpool2d_backward##SUF(md_T *dx, const md_T *dy, const int64_t *argmax,     \
                                         const md_pool2d_geom *g);                            \
    md_status md_avgpool2d_forward##SUF(md_T *y, const md_T *x, const md_pool2d_geom *g);     \
    md_status md_avgpool2d_backward##SUF(md_T *dx, const md_T *dy, const md_pool2d_geom *g);  \
    /* The pooling backward passes for an input y that is an activation's output (linear,   \
       relu, sigmoid, tanh; y not dx): dx times its derivative, from y, in the same pass. */ \
    md_status md_avgpool2d_backward_act##SUF(md_T *dx, const md_T *dy, const md_T *y,         \
                                             int activation, const md_pool2d_geom *g);        \
    md_status md_maxpool2d_backward_act##SUF(md_T *dx, const md_T *dy, const int64_t *argmax, \
                                             const md_T *y, int activation,                   \
                                             const md_pool2d_geom *g);                        \
    /* ---- batchnorm.c ----------------------------------------------------------------- */ \
    /* Training forward over x (rows, channels). Writes y, the batch mean and the biased     \
       batch variance (channels each, the saved state for backward). When moving_mean and    \
       moving_var are not NULL they are updated in place with g->momentum. gamma == NULL     \
       means scale=False (gamma = 1); beta == NULL means center=False (beta = 0). */          \
    md_status md_batchnorm_forward_train##SUF(md_T *y, md_T *batch_mean, md_T *batch_var,     \
                                              md_T *moving_mean, md_T *moving_var,            \
                                              const md_T *x, const md_T *gamma,               \
                                              const md_T *beta, const md_batchnorm_geom *g);  \
    /* Inference forward with given statistics (the moving ones). */                          \
    md_status md_batchnorm_forward_infer##SUF(md_T *y, const md_T *x, const md_T *mean,       \
                                              const md_T *var, const md_T *gamma,             \
                                              const md_T *beta, const md_batchnorm_geom *g);  \
    /* Training backward: dbeta = sum dy, dgamma = sum dy*xhat,                               \
       dx = gamma*r/m * (m*dy - sum dy - xhat * sum dy*xhat), r = 1/sqrt(var + eps).          \
       dgamma / dbeta may be NULL (not wanted). */                                            \
    md_status md_batchnorm_backward_train##SUF(md_T *dx, md_T *dgamma, md_T *dbeta,           \
                                               const md_T *dy, const md_T *x,                 \
                                               const md_T *batch_mean, const md_T *batch_var, \
                                               const md_T *gamma, const md_batchnorm_geom *g);\
    /* The same, for x the output of an activation (linear, relu, sigmoid, tanh): dx times \
       that activation's derivative, from x, in the same pass. */                         \
    md_status md_batchnorm_backward_train_act##SUF(md_T *dx, md_T *dgamma, md_T *dbeta,       \
                                                   const md_T *dy, const md_T *x,             \
                                                   const md_T *batch_mean,                    \
                                                   const md_T *batch_var, const md_T *gamma,  \
                                                   int activation,                            \
                                                   const md_batchnorm_geom *g);               \
    /* Inference backward (statistics are constants): dx = dy * gamma * r. */                 \
    md_status md_batchnorm_backward_infer##SUF(md_T *dx, md_T *dgamma, md_T *dbeta,           \
                                               const md_T *dy, const md_T *x,                 \
                                               const md_T *mean, const md_T *var,             \
                                               const md_T *gamma, const md_batchnorm_geom *g);\
    /* Per-channel mean and biased variance of x (rows, channels), accumulated in double. */  \
    md_status md_moments##SUF(md_T *mean, md_T *var, const md_T *x, int64_t rows,             \
                              int64_t channels);                                              \
    /* ---- activations.c --------------------------------------------------------------- */ \
    /* Elementwise over n values; y may alias x and dx may alias dy. */                       \
    md_status md_activation_forward##SUF(md_T *y, const md_T *x, int64_t n, int activation);  \
    /* dx from dy and the forward OUTPUT y (relu: y > 0; sigmoid: y(1-y); tanh: 1-y^2). */   \
    md_status md_activation_backward##SUF(md_T *dx, const md_T *dy, const md_T *y, int64_t n,\
                                          int activation);                                    \
    /* LSTM step (gate order i, f, g, o): gates (batch, 4u) from the pre-activations z;   \
       c = f c_prev + i g; h = o tanh(c). Backward: dz, dc_prev from dh, dc (NULL: 0).       \
       GRU step (reset_after, gates u, r, n): from xz = xW + b_x, hz = h_prev U + b_h;       \
       h = u h_prev + (1 - u) n. Backward: dxz, dhz and dh_prev = dh u. */                   \
    md_status md_lstm_cell_forward##SUF(md_T *gates, md_T *c, md_T *h, const md_T *z,       \
                                        const md_T *c_prev, int64_t batch, int64_t units);  \
    md_status md_lstm_cell_backward##SUF(md_T *dz, md_T *dc_prev, const md_T *gates,       \
                                         const md_T *c, const md_T *c_prev, const md_T *dh,  \
                                         const md_T *dc, int64_t batch, int64_t units);      \
    md_status md_gru_cell_forward##SUF(md_T *gates, md_T *h, const md_T *xz, const md_T *hz,\
                                       const md_T *h_prev, int64_t batch, int64_t units);   \
    md_status md_gru_cell_backward##SUF(md_T *dxz, md_T *dhz, md_T *dh_prev,               \
                                        const md_T *gates, const md_T *hz,                  \
                                        const md_T *h_prev, const md_T *dh, int64_t batch,  \
                                        int64_t units);                                      \
    /* dx = dy * act'(x) from the forward INPUT x: MD_ACT_GELU and MD_ACT_SILU only. */     \
    md_status md_activation_backward_input##SUF(md_T *dx, const md_T *dy, const md_T *x,    \
                                                int64_t n, int activation);                 \
    /* ELU (MD_ACT_ELU, alpha > 0) or leaky ReLU (MD_ACT_LEAKY_RELU, slope alpha >= 0)      \
       with the given parameter, and its gradient from the forward output y. */              \
    md_status md_activation_forward_param##SUF(md_T *y, const md_T *x, int64_t n,             \
                                               int activation, double alpha);                 \
    md_status md_activation_backward_param##SUF(md_T *dx, const md_T *dy, const md_T *y,      \
                                                int64_t n, int activation, double alpha);     \
    /* Softmax over the last axis of (rows, cols), max-subtracted. */                         \
    md_status md_softmax_forward##SUF(md_T *y, const md_T *x, int64_t rows, int64_t cols);    \
    /* dx = y * (dy - sum(dy * y)) per row. */                                                \
    md_status md_softmax_backward##SUF(md_T *dx, const md_T *dy, const md_T *y, int64_t rows, \
                                       int64_t cols);                                         \
    /* ---- loss.c ---------------------------------------------------------------------- */ \
    /* Fused softmax + cross-entropy over (rows, cols) logits: probs = softmax(logits),       \
       loss[r] = -sum_j t[r,j] * log_softmax(logits)[r,j] (computed from log-sum-exp). */     \
    md_status md_softmax_xent_forward##SUF(md_T *loss, md_T *probs, const md_T *logits,       \
                                           const md_T *targets, int64_t rows, int64_t cols);  \
    /* dlogits[r,j] = dloss[r] * (probs[r,j] * sum_j t[r,j] - t[r,j]). */                     \
    md_status md_softmax_xent_backward##SUF(md_T *dlogits, const md_T *dloss,                 \
                                            const md_T *probs, const md_T *targets,           \
                                            int64_t rows, int64_t cols);                      \
    /* Sparse twins: labels are class indices; MD_ERR_ARG when one is outside [0, cols). */   \
    md_status md_sparse_softmax_xent_forward##SUF(md_T *loss, md_T *probs,                    \
                                                  const md_T *logits, const int64_t *labels,  \
                                                  int64_t rows, int64_t cols);                \
    md_status md_sparse_softmax_xent_backward##SUF(md_T *dlogits, const md_T *dloss,          \
                                                   const md_T *probs, const int64_t *labels,  \
                                                   int64_t rows, int64_t cols);               \
    /* Keras categorical cross-entropy from probabilities: p is renormalised to sum 1 per    \
       row, clipped to [eps, 1 - eps], loss[r] = -sum_j t log p. */                           \
    md_status md_categorical_xent_forward##SUF(md_T *loss, const md_T *probs,                 \
                                               const md_T *targets, int64_t rows,             \
                                               int64_t cols, double eps);                     \
    /* dprobs from dloss (rows); the clip passes no gradient outside [eps, 1 - eps]. */       \
    md_status md_categorical_xent_backward##SUF(md_T *dprobs, const md_T *dloss,              \
                                                const md_T *probs, const md_T *targets,       \
                                                int64_t rows, int64_t cols, double eps);      \
    /* ---- optim.c (in place over n values; Keras 3 formulas) ------------------------------ \
       SGD: momentum == 0: var -= lr*g; else v = momentum*v - lr*g and var += v, or          \
       (nesterov) var += momentum*v - lr*g. velocity may be NULL when momentum == 0. */       \
    md_status md_sgd_update##SUF(md_T *var, md_T *velocity, const md_T *grad, int64_t n,      \
                                 double lr, double momentum, int nesterov);                   \
    /* RMSprop: v = rho*v + (1-rho)*g^2; centered: a = rho*a + (1-rho)*g, den = v - a^2 + eps;\
       else den = v + eps; inc = lr*g/sqrt(den); momentum > 0: mom = momentum*mom + inc,      \
       var -= mom; else var -= inc. average_grad / momentum_buf may be NULL when unused. */   \
    md_status md_rmsprop_update##SUF(md_T *var, md_T *velocity, md_T *average_grad,           \
                                     md_T *momentum_buf, const md_T *grad, int64_t n,         \
                                     double lr, double rho, double momentum, double epsilon,  \
                                     int centered);                                           \
    /* Adam / AdamW: step is the 1-based local step; alpha = lr*sqrt(1-b2^t)/(1-b1^t);       \
       m += (g-m)(1-b1); v += (g^2-v)(1-b2); amsgrad (vhat != NULL): vhat = max(vhat, v)     \
       and vhat is used; var -= alpha*m/(sqrt(v)+eps). weight_decay > 0 (AdamW) first does   \
       var -= var*weight_decay*lr. */                                                         \
    md_status md_adam_update##SUF(md_T *var, md_T *m, md_T *v, md_T *vhat, const md_T *grad,  \
                                  int64_t n, double lr, double beta_1, double beta_2,         \
                                  double epsilon, int64_t step, double weight_decay);         \
    /* Adagrad: acc += g^2; var -= lr*g/sqrt(acc + eps). */                                   \
    md_status md_adagrad_update##SUF(md_T *var, md_T *accumulator, const md_T *grad,          \
                                     int64_t n, double lr, double epsilon);                   \
    /* Adamax: m += (g-m)(1-b1); u = max(b2*u, |g|); var -= lr/(1-b1^t) * m/(u + eps),       \
       step the 1-based local step. */                                                        \
    md_status md_adamax_update##SUF(md_T *var, md_T *m, md_T *u, const md_T *grad, int64_t n, \
                                    double lr, double beta_1, double beta_2, double epsilon,  \
                                    int64_t step);                                            \
    /* Nadam (Keras 3): u_product = prod_{i<=step} beta_1 (1 - 0.5 0.96^i), kept by the      \
       caller; m, v as Adam; var -= lr m_hat / (sqrt(v / (1 - b2^t)) + eps). */               \
    md_status md_nadam_update##SUF(md_T *var, md_T *m, md_T *v, const md_T *grad, int64_t n,  \
                                   double lr, double beta_1, double beta_2, double epsilon,   \
                                   int64_t step, double u_product);                           \
    /* Adadelta (Keras 3): a = rho a + (1-rho) g^2; d = -sqrt(D + eps) g / sqrt(a + eps);     \
       D = rho D + (1-rho) d^2; var += lr d. */                                               \
    md_status md_adadelta_update##SUF(md_T *var, md_T *accumulated_grad,                      \
                                      md_T *accumulated_delta, const md_T *grad, int64_t n,   \
                                      double lr, double rho, double epsilon);                 \
    /* ---- tensor_ops.c ---------------------------------------------------------------- */ \
    /* y (rows, cols) = x + bias (cols); y may alias x. */                                    \
    md_status md_bias_add##SUF(md_T *y, const md_T *x, const md_T *bias, int64_t rows,        \
                               int64_t cols);                                                 \
    /* out (outer, inner) = sum over the middle axis of x (outer, reduce, inner), in double.*/\
    md_status md_reduce_sum##SUF(md_T *out, const md_T *x, int64_t outer, int64_t reduce,     \
                                 int64_t inner);                                              \
    /* y = a + b, y = a * b, y = alpha * x, y += alpha * x (n values; y may alias inputs). */ \
    md_status md_add##SUF(md_T *y, const md_T *a, const md_T *b, int64_t n);                  \
    md_status md_mul##SUF(md_T *y, const md_T *a, const md_T *b, int64_t n);                  \
    md_status md_scale##SUF(md_T *y, const md_T *x, double alpha, int64_t n);                 \
    md_status md_axpy##SUF(md_T *y, double alpha, const md_T *x, int64_t n);                  \
    /* y (n, dim) = table (rows, dim) at indices; dtable = the rows' summed gradients. */     \
    md_status md_embedding_forward##SUF(md_T *y, const md_T *table, const int64_t *indices,   \
                                        int64_t n, int64_t rows, int64_t dim);                \
    md_status md_embedding_backward##SUF(md_T *dtable, const md_T *dy,                        \
                                         const int64_t *indices, int64_t n, int64_t rows,     \
                                         int64_t dim);                                        \
    /* Summary statistics of the n > 0 values of x in one pass (training diagnostics):       \
       stats[0] = mean, stats[1] = variance (biased, about a shift: no cancellation),        \
       stats[2] = fraction of values at which the derivative of `activation` (an md_act,     \
       x taken as its OUTPUT) is below 1% of its maximum: sigmoid y(1-y) < 0.0025, tanh      \
       1-y^2 < 0.01, relu y <= 0; 0 for linear. Deterministic for every thread count. */     \
    md_status md_summary_stats##SUF(double *stats, const md_T *x, int64_t n, int activation); \
    /* ---- image.c (NHWC batches, parallel over images) ---------------------------------- \
       Bilinear affine warp: for output pixel (r, c) of image i, with                         \
       t = transforms + 6*i, the source is (t0*r + t1*c + t2, t3*r + t4*c + t5) in input     \
       (row, col) pixel coordinates; outside the image fill_mode decides (cval for constant). \
       y (n, out_h, out_w, c), x (n, h, w, c). */                                             \
    md_status md_affine_warp##SUF(md_T *y, const md_T *x, const double *transforms,           \
                                  int64_t n, int64_t h, int64_t w, int64_t c, int64_t out_h,  \
                                  int64_t out_w, int fill_mode, double cval);                 \
    /* Mirror images left-right; flags (n, may be NULL = all) says which images flip.        \
       y may not alias x. */                                                                  \
    md_status md_flip_horizontal##SUF(md_T *y, const md_T *x, const uint8_t *flags,           \
                                      int64_t n, int64_t h, int64_t w, int64_t c);            \
    /* Bilinear resize with half-pixel centers (TF2 / PyTorch align_corners=False, no        \
       antialiasing): src = (dst + 0.5) * in / out - 0.5, clamped to the image. */           \
    md_status md_resize_bilinear##SUF(md_T *y, const md_T *x, int64_t n, int64_t h,           \
                                      int64_t w, int64_t c, int64_t out_h, int64_t out_w);

MD_KERNELS(float, _f32)
MD_KERNELS(double, _f64)

/* ------------------------------------------------------------------ step program */
/* tensor_ops.c: a step program is an array of recorded kernel calls (md_op) run in order:
 * the bindings record a training step's forward, loss and backward kernels once per input
 * shape, then each step runs them without returning to Python between kernels. */
typedef enum {
    MD_OP_GEMM = 0,
    MD_OP_BIAS_ADD,
    MD_OP_REDUCE_SUM,
    MD_OP_ACTIVATION_FORWARD,
    MD_OP_ACTIVATION_BACKWARD,
    MD_OP_SOFTMAX_FORWARD,
    MD_OP_SOFTMAX_BACKWARD,
    MD_OP_CONV2D_FORWARD,
    MD_OP_CONV2D_BACKWARD_INPUT,
    MD_OP_CONV2D_BACKWARD_WEIGHT,
    MD_OP_MAXPOOL2D_FORWARD,
    MD_OP_MAXPOOL2D_BACKWARD,
    MD_OP_AVGPOOL2D_FORWARD,
    MD_OP_AVGPOOL2D_BACKWARD,
    MD_OP_BATCHNORM_FORWARD_TRAIN,
    MD_OP_BATCHNORM_BACKWARD_TRAIN,
    MD_OP_SOFTMAX_XENT_FORWARD,
    MD_OP_SOFTMAX_XENT_BACKWARD,
    MD_OP_SPARSE_SOFTMAX_XENT_FORWARD,
    MD_OP_SPARSE_SOFTMAX_XENT_BACKWARD,
    MD_OP_SGD_UPDATE,
    MD_OP_RMSPROP_UPDATE,
    MD_OP_ADAM_UPDATE,
    MD_OP_COUNT
} md_op_kind;

#define MD_OP_MAX_ARGS 8
/* One kernel call: arg holds the kernel's pointer arguments in prototype order (NULL
 * where the kernel accepts NULL), dim its integer sizes in order (gemm: m, n, k, lda,
 * ldb, ldc; bias_add, softmax, losses: rows, cols; reduce_sum: outer, reduce, inner;
 * activations, optimizer updates: n), flag its int arguments (activation code; gemm:
 * trans_a, trans_b; SGD: nesterov; RMSprop: centered), scalar its real ones (gemm: alpha,
 * beta; Adam: weight_decay), geom the geometry of conv, pool and BN.
 * An optimizer update reads the scalars that change between steps from a double array
 * (its last pointer argument) each time it runs, in prototype order: SGD lr, momentum;
 * RMSprop lr, rho, momentum, epsilon; Adam lr, beta_1, beta_2, epsilon, step. */
typedef union {
    md_conv2d_geom conv;
    md_pool2d_geom pool;
    md_batchnorm_geom bn;
} md_op_geom;
typedef struct {
    int kind; /* md_op_kind */
    int f64;  /* 0: the _f32 kernel, 1: the _f64 kernel */
    int flag[2];
    void *arg[MD_OP_MAX_ARGS];
    int64_t dim[6];
    double scalar[2];
    md_op_geom geom;
} md_op;

/* Run one recorded call: exactly the kernel call it records. */
md_status md_op_run(const md_op *op);
/* Run count calls in order; stops at the first that fails and returns its status, its
 * index in *failed (-1 when none failed; failed may be NULL). */
md_status md_program_run(const md_op *ops, int64_t count, int64_t *failed);
/* The name of the wrapper that records calls of this kind ("conv2d_forward", ...), for
 * messages; "unknown" outside [0, MD_OP_COUNT). */
const char *md_op_name(int kind);

/* ------------------------------------------------------------------ the FMA ceiling */
/* Each of `threads` threads runs `iterations` rounds of independent float FMA chains at
 * the SIMD level in use (the machine's arithmetic ceiling, for benchmarks that report a
 * share of it); returns the FLOPs done (2 per lane and FMA), -1 for bad arguments.
 * *checksum receives the chains' sum, so that the work cannot be optimised away. */
double md_fma_peak_flops(int64_t iterations, int threads, float *checksum);
/* Two threads hand a flag back and forth `rounds` times through one shared cache line;
 * returns the mean round trip in nanoseconds (how far apart the cores that run them
 * are: on this VM ~110 ns within a core complex, ~400 ns across two), -1 for bad
 * arguments or without OpenMP. */
double md_core_round_trip_ns(int64_t rounds);

/* ------------------------------------------------------------------ memory (arena.c) */
/* A caching allocator for array data: freed buffers of 16 KiB and more are kept (up to
 * limit_bytes in all) and handed back to the next request of the same rounded size.
 * Thread-safe. The bindings install one per model as NumPy's data allocator. */
typedef struct md_arena md_arena;
md_arena *md_arena_new(size_t limit_bytes); /* NULL when out of memory */
void md_arena_destroy(md_arena *arena);     /* frees the cached buffers and the arena */
void *md_arena_malloc(md_arena *arena, size_t size);             /* 64-byte aligned */
void *md_arena_calloc(md_arena *arena, size_t nelem, size_t elsize);
void *md_arena_realloc(md_arena *arena, void *ptr, size_t new_size);
void md_arena_free(md_arena *arena, void *ptr);
/* Requests served from the cache / by the C library, and what the cache holds now. */
void md_arena_stats(md_arena *arena, size_t *hits, size_t *misses, size_t *cached_bytes,
                    int *cached_buffers);

#ifdef __cplusplus
}
#endif
#endif /* MINIDL_H */
