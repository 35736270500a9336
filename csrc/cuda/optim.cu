/* optim.cu -- in-place optimizer updates, Keras 3 formulas exactly as optim_impl.h:
 * the scalars (learning rate, 1 - rho, Adam's step size alpha, ...) are computed on the
 * host in double and cast once to float, then each element is updated in float with the
 * CPU's operation order; every product and sum is rounded separately (no fused
 * multiply-adds), so the GPU's update equals the CPU's up to sqrtf. Every buffer is read
 * at index i before index i is written, so buffers may alias (e.g. grad == var). */
#include "mdc_internal.cuh"

namespace {

using mdc::kThreads;

#define MUL __fmul_rn
#define ADD __fadd_rn
#define SUB __fsub_rn
#define DIV __fdiv_rn

template <int MODE> /* 0: plain, 1: momentum, 2: nesterov */
__global__ void sgd_kernel(float *var, float *velocity, const float *grad, int64_t n, float lr,
                           float mom) {
    MDC_FOR(i, n) {
        const float g = grad[i];
        if (MODE == 0) {
            var[i] = SUB(var[i], MUL(g, lr));
        } else {
            const float m = SUB(MUL(velocity[i], mom), MUL(g, lr));
            velocity[i] = m;
            var[i] = MODE == 1 ? ADD(var[i], m) : ADD(var[i], SUB(MUL(m, mom), MUL(g, lr)));
        }
    }
}

template <bool CENTERED, bool MOMENTUM>
__global__ void rmsprop_kernel(float *var, float *velocity, float *average_grad,
                               float *momentum_buf, const float *grad, int64_t n, float lr,
                               float rho, float one_minus_rho, float mom, float eps) {
    MDC_FOR(i, n) {
        const float g = grad[i];
        const float v = ADD(MUL(rho, velocity[i]), MUL(one_minus_rho, MUL(g, g)));
        velocity[i] = v;
        float den;
        if (CENTERED) {
            const float a = ADD(MUL(rho, average_grad[i]), MUL(one_minus_rho, g));
            average_grad[i] = a;
            den = ADD(SUB(v, MUL(a, a)), eps);
        } else {
            den = ADD(v, eps);
        }
        const float inc = DIV(MUL(lr, g), sqrtf(den));
        if (MOMENTUM) {
            const float mb = ADD(MUL(mom, momentum_buf[i]), inc);
            momentum_buf[i] = mb;
            var[i] = SUB(var[i], mb);
        } else {
            var[i] = SUB(var[i], inc);
        }
    }
}

template <bool AMSGRAD, bool DECOUPLED>
__global__ void adam_kernel(float *var, float *m, float *v, float *vhat, const float *grad,
                            int64_t n, float alpha, float one_minus_b1, float one_minus_b2,
                            float eps, float decay) {
    MDC_FOR(i, n) {
        const float g = grad[i];
        float x = var[i];
        if (DECOUPLED) x = SUB(x, MUL(x, decay));
        const float mi = ADD(m[i], MUL(SUB(g, m[i]), one_minus_b1));
        float vi = ADD(v[i], MUL(SUB(MUL(g, g), v[i]), one_minus_b2));
        m[i] = mi;
        v[i] = vi;
        if (AMSGRAD) {
            const float h = vhat[i];
            vi = h > vi ? h : vi;
            vhat[i] = vi;
        }
        var[i] = SUB(x, DIV(MUL(mi, alpha), ADD(sqrtf(vi), eps)));
    }
}

#undef MUL
#undef ADD
#undef SUB
#undef DIV

bool finite4(double a, double b, double c, double d) {
    return isfinite(a) && isfinite(b) && isfinite(c) && isfinite(d);
}

}  // namespace

extern "C" {

int mdc_sgd_update(float *var, float *velocity, const float *grad, int64_t n, double lr,
                   double momentum, int nesterov) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!finite4(lr, momentum, 0.0, 0.0)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    if (var == NULL || grad == NULL || (momentum != 0.0 && velocity == NULL)) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const unsigned blocks = mdc::blocks_for(n);
    const float lr_t = (float)lr, mom_t = (float)momentum;
    if (momentum == 0.0)
        sgd_kernel<0><<<blocks, kThreads>>>(var, velocity, grad, n, lr_t, mom_t);
    else if (!nesterov)
        sgd_kernel<1><<<blocks, kThreads>>>(var, velocity, grad, n, lr_t, mom_t);
    else
        sgd_kernel<2><<<blocks, kThreads>>>(var, velocity, grad, n, lr_t, mom_t);
    return mdc::launched("mdc_sgd_update");
}

int mdc_rmsprop_update(float *var, float *velocity, float *average_grad, float *momentum_buf,
                       const float *grad, int64_t n, double lr, double rho, double momentum,
                       double epsilon, int centered) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!finite4(lr, rho, momentum, epsilon)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    const bool use_momentum = momentum > 0.0;
    if (var == NULL || velocity == NULL || grad == NULL || (centered && average_grad == NULL) ||
        (use_momentum && momentum_buf == NULL))
        return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const unsigned blocks = mdc::blocks_for(n);
    const float lr_t = (float)lr, rho_t = (float)rho, omr_t = (float)(1.0 - rho);
    const float mom_t = (float)momentum, eps_t = (float)epsilon;
    if (!centered && !use_momentum)
        rmsprop_kernel<false, false><<<blocks, kThreads>>>(var, velocity, average_grad,
                                                           momentum_buf, grad, n, lr_t, rho_t,
                                                           omr_t, mom_t, eps_t);
    else if (!centered)
        rmsprop_kernel<false, true><<<blocks, kThreads>>>(var, velocity, average_grad,
                                                          momentum_buf, grad, n, lr_t, rho_t,
                                                          omr_t, mom_t, eps_t);
    else if (!use_momentum)
        rmsprop_kernel<true, false><<<blocks, kThreads>>>(var, velocity, average_grad,
                                                          momentum_buf, grad, n, lr_t, rho_t,
                                                          omr_t, mom_t, eps_t);
    else
        rmsprop_kernel<true, true><<<blocks, kThreads>>>(var, velocity, average_grad,
                                                         momentum_buf, grad, n, lr_t, rho_t,
                                                         omr_t, mom_t, eps_t);
    return mdc::launched("mdc_rmsprop_update");
}

int mdc_adam_update(float *var, float *m, float *v, float *vhat, const float *grad, int64_t n,
                    double lr, double beta_1, double beta_2, double epsilon, int64_t step,
                    double weight_decay) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!finite4(lr, beta_1, beta_2, epsilon) || !isfinite(weight_decay) ||
        weight_decay < 0.0 || step < 1)
        return MD_ERR_ARG;
    const double t = (double)step;
    const double alpha = lr * sqrt(1.0 - pow(beta_2, t)) / (1.0 - pow(beta_1, t));
    if (!isfinite(alpha)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    if (var == NULL || m == NULL || v == NULL || grad == NULL) return MD_ERR_ARG;
    int st = mdc::enter();
    if (st != MD_OK) return st;
    const unsigned blocks = mdc::blocks_for(n);
    const float alpha_t = (float)alpha, eps_t = (float)epsilon;
    const float omb1_t = (float)(1.0 - beta_1), omb2_t = (float)(1.0 - beta_2);
    const float decay_t = (float)(weight_decay * lr);
    const bool amsgrad = vhat != NULL, decoupled = weight_decay > 0.0;
    if (!amsgrad && !decoupled)
        adam_kernel<false, false><<<blocks, kThreads>>>(var, m, v, vhat, grad, n, alpha_t, omb1_t,
                                                        omb2_t, eps_t, decay_t);
    else if (!amsgrad)
        adam_kernel<false, true><<<blocks, kThreads>>>(var, m, v, vhat, grad, n, alpha_t, omb1_t,
                                                       omb2_t, eps_t, decay_t);
    else if (!decoupled)
        adam_kernel<true, false><<<blocks, kThreads>>>(var, m, v, vhat, grad, n, alpha_t, omb1_t,
                                                       omb2_t, eps_t, decay_t);
    else
        adam_kernel<true, true><<<blocks, kThreads>>>(var, m, v, vhat, grad, n, alpha_t, omb1_t,
                                                      omb2_t, eps_t, decay_t);
    return mdc::launched("mdc_adam_update");
}

}  // extern "C"
