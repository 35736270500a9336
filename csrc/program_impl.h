/* program_impl.h -- template of one recorded kernel call (see the step program in
 * runtime.c): the operands are cast back to md_T and passed to the kernel in the order
 * its prototype in minidl.h gives. */

static md_status MD_FN(md_op_exec)(const md_op *op) {
    void *const *a = op->arg;
    const int64_t *d = op->dim;
    switch (op->kind) {
    case MD_OP_GEMM:
        return MD_FN(md_gemm)(op->flag[0], op->flag[1], d[0], d[1], d[2], (md_T)op->scalar[0],
                              a[0], d[3], a[1], d[4], (md_T)op->scalar[1], a[2], d[5]);
    case MD_OP_BIAS_ADD:
        return MD_FN(md_bias_add)(a[0], a[1], a[2], d[0], d[1]);
    case MD_OP_REDUCE_SUM:
        return MD_FN(md_reduce_sum)(a[0], a[1], d[0], d[1], d[2]);
    case MD_OP_ACTIVATION_FORWARD:
        return MD_FN(md_activation_forward)(a[0], a[1], d[0], op->flag[0]);
    case MD_OP_ACTIVATION_BACKWARD:
        return MD_FN(md_activation_backward)(a[0], a[1], a[2], d[0], op->flag[0]);
    case MD_OP_SOFTMAX_FORWARD:
        return MD_FN(md_softmax_forward)(a[0], a[1], d[0], d[1]);
    case MD_OP_SOFTMAX_BACKWARD:
        return MD_FN(md_softmax_backward)(a[0], a[1], a[2], d[0], d[1]);
    case MD_OP_CONV2D_FORWARD:
        if (op->flag[1]) /* 2: average-pooled over 2x2 windows */
            return MD_FN(md_conv2d_forward_avgpool2)(a[0], a[4], a[1], a[2], a[3], op->flag[0],
                                                     &op->geom.conv);
        return MD_FN(md_conv2d_forward)(a[0], a[1], a[2], a[3], op->flag[0], &op->geom.conv);
    case MD_OP_CONV2D_BACKWARD_INPUT:
        return MD_FN(md_conv2d_backward_input)(a[0], a[1], a[2], &op->geom.conv);
    case MD_OP_CONV2D_BACKWARD_WEIGHT:
        return MD_FN(md_conv2d_backward_weight)(a[0], a[1], a[2], a[3], &op->geom.conv);
    case MD_OP_MAXPOOL2D_FORWARD:
        return MD_FN(md_maxpool2d_forward)(a[0], a[1], a[2], &op->geom.pool);
    case MD_OP_MAXPOOL2D_BACKWARD:
        return MD_FN(md_maxpool2d_backward_act)(a[0], a[1], a[2], a[3], op->flag[0],
                                                &op->geom.pool);
    case MD_OP_AVGPOOL2D_FORWARD:
        return MD_FN(md_avgpool2d_forward)(a[0], a[1], &op->geom.pool);
    case MD_OP_AVGPOOL2D_BACKWARD:
        return MD_FN(md_avgpool2d_backward_act)(a[0], a[1], a[2], op->flag[0], &op->geom.pool);
    case MD_OP_BATCHNORM_FORWARD_TRAIN:
        return MD_FN(md_batchnorm_forward_train)(a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                                                 a[7], &op->geom.bn);
    case MD_OP_BATCHNORM_BACKWARD_TRAIN:
        return MD_FN(md_batchnorm_backward_train_act)(a[0], a[1], a[2], a[3], a[4], a[5],
                                                      a[6], a[7], op->flag[0], &op->geom.bn);
    case MD_OP_SOFTMAX_XENT_FORWARD:
        return MD_FN(md_softmax_xent_forward)(a[0], a[1], a[2], a[3], d[0], d[1]);
    case MD_OP_SOFTMAX_XENT_BACKWARD:
        return MD_FN(md_softmax_xent_backward)(a[0], a[1], a[2], a[3], d[0], d[1]);
    case MD_OP_SPARSE_SOFTMAX_XENT_FORWARD:
        return MD_FN(md_sparse_softmax_xent_forward)(a[0], a[1], a[2], a[3], d[0], d[1]);
    case MD_OP_SPARSE_SOFTMAX_XENT_BACKWARD:
        return MD_FN(md_sparse_softmax_xent_backward)(a[0], a[1], a[2], a[3], d[0], d[1]);
    case MD_OP_SGD_UPDATE: { /* the per-step scalars from the array in the last argument */
        const double *s = a[3];
        return MD_FN(md_sgd_update)(a[0], a[1], a[2], d[0], s[0], s[1], op->flag[0]);
    }
    case MD_OP_RMSPROP_UPDATE: {
        const double *s = a[5];
        return MD_FN(md_rmsprop_update)(a[0], a[1], a[2], a[3], a[4], d[0], s[0], s[1], s[2],
                                        s[3], op->flag[0]);
    }
    case MD_OP_ADAM_UPDATE: {
        const double *s = a[5];
        return MD_FN(md_adam_update)(a[0], a[1], a[2], a[3], a[4], d[0], s[0], s[1], s[2], s[3],
                                     (int64_t)s[4], op->scalar[0]);
    }
    }
    return MD_ERR_ARG;
}
