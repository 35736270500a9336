# Declarations of the C API in csrc/minidl.h, for the Cython wrappers in _C.pyx.
# Every kernel exists as name_f32 (float) and name_f64 (double).
from libc.stdint cimport int64_t, uint8_t

cdef extern from "minidl.h" nogil:
    ctypedef enum md_status:
        MD_OK
        MD_ERR_SHAPE
        MD_ERR_ARG
        MD_ERR_ALLOC
        MD_ERR_OVERFLOW

    ctypedef enum md_padding:
        MD_PADDING_VALID
        MD_PADDING_SAME

    ctypedef enum md_activation:
        MD_ACT_LINEAR
        MD_ACT_RELU
        MD_ACT_SIGMOID
        MD_ACT_TANH
        MD_ACT_ELU
        MD_ACT_SELU
        MD_ACT_SOFTPLUS
        MD_ACT_LEAKY_RELU
        MD_ACT_GELU
        MD_ACT_SILU

    ctypedef enum md_fill_mode:
        MD_FILL_NEAREST
        MD_FILL_CONSTANT
        MD_FILL_REFLECT
        MD_FILL_WRAP

    ctypedef struct md_conv2d_geom:
        int64_t batch, in_h, in_w, in_c
        int64_t k_h, k_w, out_c
        int64_t stride_h, stride_w
        int64_t pad_top, pad_left
        int64_t out_h, out_w

    ctypedef struct md_pool2d_geom:
        int64_t batch, in_h, in_w, channels
        int64_t pool_h, pool_w
        int64_t stride_h, stride_w
        int64_t pad_top, pad_left
        int64_t out_h, out_w

    ctypedef struct md_batchnorm_geom:
        int64_t rows, channels
        double epsilon
        double momentum

    const char *md_status_string(md_status status)

    ctypedef enum md_op_kind:
        MD_OP_GEMM
        MD_OP_BIAS_ADD
        MD_OP_REDUCE_SUM
        MD_OP_ACTIVATION_FORWARD
        MD_OP_ACTIVATION_BACKWARD
        MD_OP_SOFTMAX_FORWARD
        MD_OP_SOFTMAX_BACKWARD
        MD_OP_CONV2D_FORWARD
        MD_OP_CONV2D_BACKWARD_INPUT
        MD_OP_CONV2D_BACKWARD_WEIGHT
        MD_OP_MAXPOOL2D_FORWARD
        MD_OP_MAXPOOL2D_BACKWARD
        MD_OP_AVGPOOL2D_FORWARD
        MD_OP_AVGPOOL2D_BACKWARD
        MD_OP_BATCHNORM_FORWARD_TRAIN
        MD_OP_BATCHNORM_BACKWARD_TRAIN
        MD_OP_SOFTMAX_XENT_FORWARD
        MD_OP_SOFTMAX_XENT_BACKWARD
        MD_OP_SPARSE_SOFTMAX_XENT_FORWARD
        MD_OP_SPARSE_SOFTMAX_XENT_BACKWARD
        MD_OP_SGD_UPDATE
        MD_OP_RMSPROP_UPDATE
        MD_OP_ADAM_UPDATE
        MD_OP_COUNT

    enum: MD_OP_MAX_ARGS

    ctypedef union md_op_geom:
        md_conv2d_geom conv
        md_pool2d_geom pool
        md_batchnorm_geom bn

    ctypedef struct md_op:
        int kind
        int f64
        int flag[2]
        void *arg[8]
        int64_t dim[6]
        double scalar[2]
        md_op_geom geom

    md_status md_op_run(const md_op *op)
    md_status md_program_run(const md_op *ops, int64_t count, int64_t *failed)
    const char *md_op_name(int kind)


    double md_fma_peak_flops(int64_t iterations, int threads, float *checksum)
    double md_core_round_trip_ns(int64_t rounds)

    ctypedef struct md_arena:
        pass
    md_arena *md_arena_new(size_t limit_bytes)
    void md_arena_destroy(md_arena *arena)
    void *md_arena_malloc(md_arena *arena, size_t size)
    void *md_arena_calloc(md_arena *arena, size_t nelem, size_t elsize)
    void *md_arena_realloc(md_arena *arena, void *ptr, size_t new_size)
    void md_arena_free(md_arena *arena, void *ptr)
    void md_arena_stats(md_arena *arena, size_t *hits, size_t *misses, size_t *cached_bytes,
                        int *cached_buffers)
    void md_set_num_threads(int n)
    int md_get_num_threads()
    int md_max_num_threads()
    int md_has_openmp()
    int md_cpu_has_avx2_fma()
    void md_force_portable(int on)
    void md_set_conv_winograd(int on)
    int md_get_conv_winograd()

    md_status md_conv2d_geom_init(md_conv2d_geom *g, int64_t batch, int64_t in_h, int64_t in_w, int64_t in_c, int64_t k_h, int64_t k_w, int64_t out_c, int64_t stride_h, int64_t stride_w, int padding)
    md_status md_conv2d_geom_check(const md_conv2d_geom *g)
    md_status md_pool2d_geom_init(md_pool2d_geom *g, int64_t batch, int64_t in_h, int64_t in_w, int64_t channels, int64_t pool_h, int64_t pool_w, int64_t stride_h, int64_t stride_w, int padding)
    md_status md_pool2d_geom_check(const md_pool2d_geom *g)

    # ---- float kernels
    md_status md_gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
    md_status md_conv2d_forward_f32(float *y, const float *x, const float *w, const float *bias, int activation, const md_conv2d_geom *g)
    md_status md_conv2d_forward_avgpool2_f32(float *y, float *unpooled, const float *x, const float *w, const float *bias, int activation, const md_conv2d_geom *g)
    md_status md_conv2d_backward_input_f32(float *dx, const float *dy, const float *w, const md_conv2d_geom *g)
    md_status md_conv2d_backward_weight_f32(float *dw, float *dbias, const float *dy, const float *x, const md_conv2d_geom *g)
    md_status md_depthwise_conv2d_forward_f32(float *y, const float *x, const float *w, const float *bias, const md_conv2d_geom *g)
    md_status md_depthwise_conv2d_backward_input_f32(float *dx, const float *dy, const float *w, const md_conv2d_geom *g)
    md_status md_depthwise_conv2d_backward_weight_f32(float *dw, float *dbias, const float *dy, const float *x, const md_conv2d_geom *g)
    md_status md_maxpool2d_forward_f32(float *y, int64_t *argmax, const float *x, const md_pool2d_geom *g)
    md_status md_maxpool2d_backward_f32(float *dx, const float *dy, const int64_t *argmax, const md_pool2d_geom *g)
    md_status md_avgpool2d_forward_f32(float *y, const float *x, const md_pool2d_geom *g)
    md_status md_avgpool2d_backward_f32(float *dx, const float *dy, const md_pool2d_geom *g)
    md_status md_avgpool2d_backward_act_f32(float *dx, const float *dy, const float *y, int activation, const md_pool2d_geom *g)
    md_status md_maxpool2d_backward_act_f32(float *dx, const float *dy, const int64_t *argmax, const float *y, int activation, const md_pool2d_geom *g)
    md_status md_batchnorm_forward_train_f32(float *y, float *batch_mean, float *batch_var, float *moving_mean, float *moving_var, const float *x, const float *gamma, const float *beta, const md_batchnorm_geom *g)
    md_status md_batchnorm_forward_infer_f32(float *y, const float *x, const float *mean, const float *var, const float *gamma, const float *beta, const md_batchnorm_geom *g)
    md_status md_batchnorm_backward_train_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *batch_mean, const float *batch_var, const float *gamma, const md_batchnorm_geom *g)
    md_status md_batchnorm_backward_train_act_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *batch_mean, const float *batch_var, const float *gamma, int activation, const md_batchnorm_geom *g)
    md_status md_batchnorm_backward_infer_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean, const float *var, const float *gamma, const md_batchnorm_geom *g)
    md_status md_moments_f32(float *mean, float *var, const float *x, int64_t rows, int64_t channels)
    md_status md_activation_forward_f32(float *y, const float *x, int64_t n, int activation)
    md_status md_activation_backward_f32(float *dx, const float *dy, const float *y, int64_t n, int activation)
    md_status md_activation_backward_input_f32(float *dx, const float *dy, const float *x, int64_t n, int activation)
    md_status md_activation_forward_param_f32(float *y, const float *x, int64_t n, int activation, double alpha)
    md_status md_activation_backward_param_f32(float *dx, const float *dy, const float *y, int64_t n, int activation, double alpha)
    md_status md_softmax_forward_f32(float *y, const float *x, int64_t rows, int64_t cols)
    md_status md_softmax_backward_f32(float *dx, const float *dy, const float *y, int64_t rows, int64_t cols)
    md_status md_softmax_xent_forward_f32(float *loss, float *probs, const float *logits, const float *targets, int64_t rows, int64_t cols)
    md_status md_softmax_xent_backward_f32(float *dlogits, const float *dloss, const float *probs, const float *targets, int64_t rows, int64_t cols)
    md_status md_sparse_softmax_xent_forward_f32(float *loss, float *probs, const float *logits, const int64_t *labels, int64_t rows, int64_t cols)
    md_status md_sparse_softmax_xent_backward_f32(float *dlogits, const float *dloss, const float *probs, const int64_t *labels, int64_t rows, int64_t cols)
    md_status md_categorical_xent_forward_f32(float *loss, const float *probs, const float *targets, int64_t rows, int64_t cols, double eps)
    md_status md_categorical_xent_backward_f32(float *dprobs, const float *dloss, const float *probs, const float *targets, int64_t rows, int64_t cols, double eps)
    md_status md_sgd_update_f32(float *var, float *velocity, const float *grad, int64_t n, double lr, double momentum, int nesterov)
    md_status md_rmsprop_update_f32(float *var, float *velocity, float *average_grad, float *momentum_buf, const float *grad, int64_t n, double lr, double rho, double momentum, double epsilon, int centered)
    md_status md_adam_update_f32(float *var, float *m, float *v, float *vhat, const float *grad, int64_t n, double lr, double beta_1, double beta_2, double epsilon, int64_t step, double weight_decay)
    md_status md_adagrad_update_f32(float *var, float *accumulator, const float *grad, int64_t n, double lr, double epsilon)
    md_status md_adamax_update_f32(float *var, float *m, float *u, const float *grad, int64_t n, double lr, double beta_1, double beta_2, double epsilon, int64_t step)
    md_status md_nadam_update_f32(float *var, float *m, float *v, const float *grad, int64_t n, double lr, double beta_1, double beta_2, double epsilon, int64_t step, double u_product)
    md_status md_adadelta_update_f32(float *var, float *accumulated_grad, float *accumulated_delta, const float *grad, int64_t n, double lr, double rho, double epsilon)
    md_status md_bias_add_f32(float *y, const float *x, const float *bias, int64_t rows, int64_t cols)
    md_status md_reduce_sum_f32(float *out, const float *x, int64_t outer, int64_t reduce, int64_t inner)
    md_status md_summary_stats_f32(double *stats, const float *x, int64_t n, int activation)
    md_status md_add_f32(float *y, const float *a, const float *b, int64_t n)
    md_status md_mul_f32(float *y, const float *a, const float *b, int64_t n)
    md_status md_scale_f32(float *y, const float *x, double alpha, int64_t n)
    md_status md_axpy_f32(float *y, double alpha, const float *x, int64_t n)
    md_status md_lstm_cell_forward_f32(float *gates, float *c, float *h, const float *z, const float *c_prev, int64_t batch, int64_t units)
    md_status md_lstm_cell_backward_f32(float *dz, float *dc_prev, const float *gates, const float *c, const float *c_prev, const float *dh, const float *dc, int64_t batch, int64_t units)
    md_status md_gru_cell_forward_f32(float *gates, float *h, const float *xz, const float *hz, const float *h_prev, int64_t batch, int64_t units)
    md_status md_gru_cell_backward_f32(float *dxz, float *dhz, float *dh_prev, const float *gates, const float *hz, const float *h_prev, const float *dh, int64_t batch, int64_t units)
    md_status md_embedding_forward_f32(float *y, const float *table, const int64_t *indices, int64_t n, int64_t rows, int64_t dim)
    md_status md_embedding_backward_f32(float *dtable, const float *dy, const int64_t *indices, int64_t n, int64_t rows, int64_t dim)
    md_status md_affine_warp_f32(float *y, const float *x, const double *transforms, int64_t n, int64_t h, int64_t w, int64_t c, int64_t out_h, int64_t out_w, int fill_mode, double cval)
    md_status md_flip_horizontal_f32(float *y, const float *x, const uint8_t *flags, int64_t n, int64_t h, int64_t w, int64_t c)
    md_status md_resize_bilinear_f32(float *y, const float *x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t out_h, int64_t out_w)

    # ---- double kernels
    md_status md_gemm_f64(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc)
    md_status md_conv2d_forward_f64(double *y, const double *x, const double *w, const double *bias, int activation, const md_conv2d_geom *g)
    md_status md_conv2d_forward_avgpool2_f64(double *y, double *unpooled, const double *x, const double *w, const double *bias, int activation, const md_conv2d_geom *g)
    md_status md_conv2d_backward_input_f64(double *dx, const double *dy, const double *w, const md_conv2d_geom *g)
    md_status md_conv2d_backward_weight_f64(double *dw, double *dbias, const double *dy, const double *x, const md_conv2d_geom *g)
    md_status md_depthwise_conv2d_forward_f64(double *y, const double *x, const double *w, const double *bias, const md_conv2d_geom *g)
    md_status md_depthwise_conv2d_backward_input_f64(double *dx, const double *dy, const double *w, const md_conv2d_geom *g)
    md_status md_depthwise_conv2d_backward_weight_f64(double *dw, double *dbias, const double *dy, const double *x, const md_conv2d_geom *g)
    md_status md_maxpool2d_forward_f64(double *y, int64_t *argmax, const double *x, const md_pool2d_geom *g)
    md_status md_maxpool2d_backward_f64(double *dx, const double *dy, const int64_t *argmax, const md_pool2d_geom *g)
    md_status md_avgpool2d_forward_f64(double *y, const double *x, const md_pool2d_geom *g)
    md_status md_avgpool2d_backward_f64(double *dx, const double *dy, const md_pool2d_geom *g)
    md_status md_avgpool2d_backward_act_f64(double *dx, const double *dy, const double *y, int activation, const md_pool2d_geom *g)
    md_status md_maxpool2d_backward_act_f64(double *dx, const double *dy, const int64_t *argmax, const double *y, int activation, const md_pool2d_geom *g)
    md_status md_batchnorm_forward_train_f64(double *y, double *batch_mean, double *batch_var, double *moving_mean, double *moving_var, const double *x, const double *gamma, const double *beta, const md_batchnorm_geom *g)
    md_status md_batchnorm_forward_infer_f64(double *y, const double *x, const double *mean, const double *var, const double *gamma, const double *beta, const md_batchnorm_geom *g)
    md_status md_batchnorm_backward_train_f64(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x, const double *batch_mean, const double *batch_var, const double *gamma, const md_batchnorm_geom *g)
    md_status md_batchnorm_backward_train_act_f64(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x, const double *batch_mean, const double *batch_var, const double *gamma, int activation, const md_batchnorm_geom *g)
    md_status md_batchnorm_backward_infer_f64(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x, const double *mean, const double *var, const double *gamma, const md_batchnorm_geom *g)
    md_status md_moments_f64(double *mean, double *var, const double *x, int64_t rows, int64_t channels)
    md_status md_activation_forward_f64(double *y, const double *x, int64_t n, int activation)
    md_status md_activation_backward_f64(double *dx, const double *dy, const double *y, int64_t n, int activation)
    md_status md_activation_backward_input_f64(double *dx, const double *dy, const double *x, int64_t n, int activation)
    md_status md_activation_forward_param_f64(double *y, const double *x, int64_t n, int activation, double alpha)
    md_status md_activation_backward_param_f64(double *dx, const double *dy, const double *y, int64_t n, int activation, double alpha)
    md_status md_softmax_forward_f64(double *y, const double *x, int64_t rows, int64_t cols)
    md_status md_softmax_backward_f64(double *dx, const double *dy, const double *y, int64_t rows, int64_t cols)
    md_status md_softmax_xent_forward_f64(double *loss, double *probs, const double *logits, const double *targets, int64_t rows, int64_t cols)
    md_status md_softmax_xent_backward_f64(double *dlogits, const double *dloss, const double *probs, const double *targets, int64_t rows, int64_t cols)
    md_status md_sparse_softmax_xent_forward_f64(double *loss, double *probs, const double *logits, const int64_t *labels, int64_t rows, int64_t cols)
    md_status md_sparse_softmax_xent_backward_f64(double *dlogits, const double *dloss, const double *probs, const int64_t *labels, int64_t rows, int64_t cols)
    md_status md_categorical_xent_forward_f64(double *loss, const double *probs, const double *targets, int64_t rows, int64_t cols, double eps)
    md_status md_categorical_xent_backward_f64(double *dprobs, const double *dloss, const double *probs, const double *targets, int64_t rows, int64_t cols, double eps)
    md_status md_sgd_update_f64(double *var, double *velocity, const double *grad, int64_t n, double lr, double momentum, int nesterov)
    md_status md_rmsprop_update_f64(double *var, double *velocity, double *average_grad, double *momentum_buf, const double *grad, int64_t n, double lr, double rho, double momentum, double epsilon, int centered)
    md_status md_adam_update_f64(double *var, double *m, double *v, double *vhat, const double *grad, int64_t n, double lr, double beta_1, double beta_2, double epsilon, int64_t step, double weight_decay)
    md_status md_adagrad_update_f64(double *var, double *accumulator, const double *grad, int64_t n, double lr, double epsilon)
    md_status md_adamax_update_f64(double *var, double *m, double *u, const double *grad, int64_t n, double lr, double beta_1, double beta_2, double epsilon, int64_t step)
    md_status md_nadam_update_f64(double *var, double *m, double *v, const double *grad, int64_t n, double lr, double beta_1, double beta_2, double epsilon, int64_t step, double u_product)
    md_status md_adadelta_update_f64(double *var, double *accumulated_grad, double *accumulated_delta, const double *grad, int64_t n, double lr, double rho, double epsilon)
    md_status md_bias_add_f64(double *y, const double *x, const double *bias, int64_t rows, int64_t cols)
    md_status md_reduce_sum_f64(double *out, const double *x, int64_t outer, int64_t reduce, int64_t inner)
    md_status md_summary_stats_f64(double *stats, const double *x, int64_t n, int activation)
    md_status md_add_f64(double *y, const double *a, const double *b, int64_t n)
    md_status md_mul_f64(double *y, const double *a, const double *b, int64_t n)
    md_status md_scale_f64(double *y, const double *x, double alpha, int64_t n)
    md_status md_axpy_f64(double *y, double alpha, const double *x, int64_t n)
    md_status md_lstm_cell_forward_f64(double *gates, double *c, double *h, const double *z, const double *c_prev, int64_t batch, int64_t units)
    md_status md_lstm_cell_backward_f64(double *dz, double *dc_prev, const double *gates, const double *c, const double *c_prev, const double *dh, const double *dc, int64_t batch, int64_t units)
    md_status md_gru_cell_forward_f64(double *gates, double *h, const double *xz, const double *hz, const double *h_prev, int64_t batch, int64_t units)
    md_status md_gru_cell_backward_f64(double *dxz, double *dhz, double *dh_prev, const double *gates, const double *hz, const double *h_prev, const double *dh, int64_t batch, int64_t units)
    md_status md_embedding_forward_f64(double *y, const double *table, const int64_t *indices, int64_t n, int64_t rows, int64_t dim)
    md_status md_embedding_backward_f64(double *dtable, const double *dy, const int64_t *indices, int64_t n, int64_t rows, int64_t dim)
    md_status md_affine_warp_f64(double *y, const double *x, const double *transforms, int64_t n, int64_t h, int64_t w, int64_t c, int64_t out_h, int64_t out_w, int fill_mode, double cval)
    md_status md_flip_horizontal_f64(double *y, const double *x, const uint8_t *flags, int64_t n, int64_t h, int64_t w, int64_t c)
    md_status md_resize_bilinear_f64(double *y, const double *x, int64_t n, int64_t h, int64_t w, int64_t c, int64_t out_h, int64_t out_w)
