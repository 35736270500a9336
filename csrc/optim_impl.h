/* optim_impl.h -- optimizer update kernels, written once in terms of md_T and MD_FN.
 * Included twice by optim.c (through md_instantiate.h): float (_f32), then double (_f64).
 * Formulas: Keras 3 (keras/src/optimizers/{sgd,rmsprop,adam}.py); see csrc/minidl.h. */

#if MD_IS_F32
#define MD_OPT_SQRT sqrtf
#else
#define MD_OPT_SQRT sqrt
#endif

/* ------------------------------------------------------------------ SGD */

/* var[lo:hi] with optional momentum (mode 0: none, 1: momentum, 2: nesterov). The mode
 * is a compile-time constant at every call site, so each mode gets its own loop. */
static inline __attribute__((always_inline)) void MD_FN(md_sgd_span)(
    md_T *var, md_T *velocity, const md_T *grad, int64_t lo, int64_t hi, md_T lr, md_T mom,
    const int mode) {
    if (mode == 0) {
        for (int64_t i = lo; i < hi; i++) {
            const md_T g = grad[i];
            var[i] = var[i] - g * lr;
        }
    } else if (mode == 1) {
        for (int64_t i = lo; i < hi; i++) {
            const md_T g = grad[i];
            const md_T m = velocity[i] * mom - g * lr;
            velocity[i] = m;
            var[i] = var[i] + m;
        }
    } else {
        for (int64_t i = lo; i < hi; i++) {
            const md_T g = grad[i];
            const md_T m = velocity[i] * mom - g * lr;
            velocity[i] = m;
            var[i] = var[i] + (m * mom - g * lr);
        }
    }
}

md_status MD_FN(md_sgd_update)(md_T *var, md_T *velocity, const md_T *grad, int64_t n,
                               double lr, double momentum, int nesterov) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!md_optim_finite4(lr, momentum, 0.0, 0.0)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    if (var == NULL || grad == NULL || (momentum != 0.0 && velocity == NULL))
        return MD_ERR_ARG;
    const md_T lr_t = (md_T)lr;
    const md_T mom_t = (md_T)momentum;
    const int mode = momentum == 0.0 ? 0 : (nesterov ? 2 : 1);
    const int64_t blocks = md_ceil_div(n, MD_OPTIM_BLOCK);
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t lo = b * MD_OPTIM_BLOCK;
        const int64_t hi = md_min64(lo + MD_OPTIM_BLOCK, n);
        if (mode == 0)
            MD_FN(md_sgd_span)(var, velocity, grad, lo, hi, lr_t, mom_t, 0);
        else if (mode == 1)
            MD_FN(md_sgd_span)(var, velocity, grad, lo, hi, lr_t, mom_t, 1);
        else
            MD_FN(md_sgd_span)(var, velocity, grad, lo, hi, lr_t, mom_t, 2);
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ RMSprop */

static inline __attribute__((always_inline)) void MD_FN(md_rmsprop_span)(
    md_T *var, md_T *velocity, md_T *average_grad, md_T *momentum_buf, const md_T *grad,
    int64_t lo, int64_t hi, md_T lr, md_T rho, md_T one_minus_rho, md_T mom, md_T eps,
    const int centered, const int use_momentum) {
    for (int64_t i = lo; i < hi; i++) {
        const md_T g = grad[i];
        const md_T v = rho * velocity[i] + one_minus_rho * (g * g);
        velocity[i] = v;
        md_T den;
        if (centered) {
            const md_T a = rho * average_grad[i] + one_minus_rho * g;
            average_grad[i] = a;
            den = v - a * a + eps;
        } else {
            den = v + eps;
        }
        const md_T inc = (lr * g) / MD_OPT_SQRT(den);
        if (use_momentum) {
            const md_T mb = mom * momentum_buf[i] + inc;
            momentum_buf[i] = mb;
            var[i] = var[i] - mb;
        } else {
            var[i] = var[i] - inc;
        }
    }
}

/* One block of the RMSprop update (mode = 2 * centered + momentum) at each SIMD level,
 * as for Adam below: the same bits at every level. */
#define MD_RMSPROP_BLOCK(NAME, ATTR)                                                        \
    ATTR static void MD_FN(NAME)(md_T *var, md_T *velocity, md_T *avg, md_T *mbuf,          \
                                 const md_T *grad, int64_t lo, int64_t hi, md_T lr,         \
                                 md_T rho, md_T omr, md_T mom, md_T eps, int mode) {        \
        switch (mode) {                                                                     \
        case 0:                                                                             \
            MD_FN(md_rmsprop_span)(var, velocity, avg, mbuf, grad, lo, hi, lr, rho, omr,    \
                                   mom, eps, 0, 0);                                         \
            break;                                                                          \
        case 1:                                                                             \
            MD_FN(md_rmsprop_span)(var, velocity, avg, mbuf, grad, lo, hi, lr, rho, omr,    \
                                   mom, eps, 0, 1);                                         \
            break;                                                                          \
        case 2:                                                                             \
            MD_FN(md_rmsprop_span)(var, velocity, avg, mbuf, grad, lo, hi, lr, rho, omr,    \
                                   mom, eps, 1, 0);                                         \
            break;                                                                          \
        default:                                                                            \
            MD_FN(md_rmsprop_span)(var, velocity, avg, mbuf, grad, lo, hi, lr, rho, omr,    \
                                   mom, eps, 1, 1);                                         \
            break;                                                                          \
        }                                                                                   \
    }

typedef void (*MD_FN(md_rmsprop_block_fn))(md_T *, md_T *, md_T *, md_T *, const md_T *,
                                           int64_t, int64_t, md_T, md_T, md_T, md_T, md_T,
                                           int);
MD_RMSPROP_BLOCK(md_rmsprop_block_portable, )
#if MD_OPTIM_X86
MD_RMSPROP_BLOCK(md_rmsprop_block_avx2, __attribute__((target("avx2,fma"))))
MD_RMSPROP_BLOCK(md_rmsprop_block_avx512, __attribute__((target("avx512f"))))
#endif

static MD_FN(md_rmsprop_block_fn) MD_FN(md_rmsprop_block_for_isa)(void) {
#if MD_OPTIM_X86
    const int level = md_isa_level();
    if (level >= MD_ISA_AVX512) return MD_FN(md_rmsprop_block_avx512);
    if (level >= MD_ISA_AVX2) return MD_FN(md_rmsprop_block_avx2);
#endif
    return MD_FN(md_rmsprop_block_portable);
}

md_status MD_FN(md_rmsprop_update)(md_T *var, md_T *velocity, md_T *average_grad,
                                   md_T *momentum_buf, const md_T *grad, int64_t n, double lr,
                                   double rho, double momentum, double epsilon, int centered) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!md_optim_finite4(lr, rho, momentum, epsilon)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    const int use_momentum = momentum > 0.0;
    if (var == NULL || velocity == NULL || grad == NULL ||
        (centered && average_grad == NULL) || (use_momentum && momentum_buf == NULL))
        return MD_ERR_ARG;
    const md_T lr_t = (md_T)lr, rho_t = (md_T)rho, omr_t = (md_T)(1.0 - rho);
    const md_T mom_t = (md_T)momentum, eps_t = (md_T)epsilon;
    const int mode = (centered ? 2 : 0) + use_momentum;
    const MD_FN(md_rmsprop_block_fn) block = MD_FN(md_rmsprop_block_for_isa)();
    const int64_t blocks = md_ceil_div(n, MD_OPTIM_BLOCK);
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t lo = b * MD_OPTIM_BLOCK;
        block(var, velocity, average_grad, momentum_buf, grad, lo,
              md_min64(lo + MD_OPTIM_BLOCK, n), lr_t, rho_t, omr_t, mom_t, eps_t, mode);
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ Adam / AdamW */

static inline __attribute__((always_inline)) void MD_FN(md_adam_span)(
    md_T *var, md_T *m, md_T *v, md_T *vhat, const md_T *grad, int64_t lo, int64_t hi,
    md_T alpha, md_T one_minus_b1, md_T one_minus_b2, md_T eps, md_T decay,
    const int amsgrad, const int decoupled) {
    for (int64_t i = lo; i < hi; i++) {
        const md_T g = grad[i];
        md_T x = var[i];
        if (decoupled) x = x - x * decay;
        const md_T mi = m[i] + (g - m[i]) * one_minus_b1;
        md_T vi = v[i] + (g * g - v[i]) * one_minus_b2;
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            const md_T h = vhat[i];
            vi = h > vi ? h : vi;
            vhat[i] = vi;
        }
        var[i] = x - (mi * alpha) / (MD_OPT_SQRT(vi) + eps);
    }
}

/* One block of the Adam update, specialised for the call's flags (mode = 2 * amsgrad +
 * decoupled decay), compiled at each SIMD level: the same loop and the same operations
 * in the same order (no contraction into FMA under -std=c11), so every level gives the
 * same bits; the widest level the CPU has runs (sqrt and division dominate, and they
 * run 2 or 4 times wider there). */
#define MD_ADAM_BLOCK(NAME, ATTR)                                                           \
    ATTR static void MD_FN(NAME)(md_T *var, md_T *m, md_T *v, md_T *vhat, const md_T *grad, \
                                 int64_t lo, int64_t hi, md_T alpha, md_T omb1, md_T omb2,  \
                                 md_T eps, md_T decay, int mode) {                          \
        switch (mode) {                                                                     \
        case 0:                                                                             \
            MD_FN(md_adam_span)(var, m, v, vhat, grad, lo, hi, alpha, omb1, omb2, eps,      \
                                decay, 0, 0);                                               \
            break;                                                                          \
        case 1:                                                                             \
            MD_FN(md_adam_span)(var, m, v, vhat, grad, lo, hi, alpha, omb1, omb2, eps,      \
                                decay, 0, 1);                                               \
            break;                                                                          \
        case 2:                                                                             \
            MD_FN(md_adam_span)(var, m, v, vhat, grad, lo, hi, alpha, omb1, omb2, eps,      \
                                decay, 1, 0);                                               \
            break;                                                                          \
        default:                                                                            \
            MD_FN(md_adam_span)(var, m, v, vhat, grad, lo, hi, alpha, omb1, omb2, eps,      \
                                decay, 1, 1);                                               \
            break;                                                                          \
        }                                                                                   \
    }

typedef void (*MD_FN(md_adam_block_fn))(md_T *, md_T *, md_T *, md_T *, const md_T *, int64_t,
                                        int64_t, md_T, md_T, md_T, md_T, md_T, int);
MD_ADAM_BLOCK(md_adam_block_portable, )
#if MD_OPTIM_X86
MD_ADAM_BLOCK(md_adam_block_avx2, __attribute__((target("avx2,fma"))))
MD_ADAM_BLOCK(md_adam_block_avx512, __attribute__((target("avx512f"))))
#endif

static MD_FN(md_adam_block_fn) MD_FN(md_adam_block_for_isa)(void) {
#if MD_OPTIM_X86
    const int level = md_isa_level();
    if (level >= MD_ISA_AVX512) return MD_FN(md_adam_block_avx512);
    if (level >= MD_ISA_AVX2) return MD_FN(md_adam_block_avx2);
#endif
    return MD_FN(md_adam_block_portable);
}

md_status MD_FN(md_adam_update)(md_T *var, md_T *m, md_T *v, md_T *vhat, const md_T *grad,
                                int64_t n, double lr, double beta_1, double beta_2,
                                double epsilon, int64_t step, double weight_decay) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!md_optim_finite4(lr, beta_1, beta_2, epsilon) || !isfinite(weight_decay) ||
        weight_decay < 0.0 || step < 1)
        return MD_ERR_ARG;
    const double t = (double)step;
    const double alpha = lr * sqrt(1.0 - pow(beta_2, t)) / (1.0 - pow(beta_1, t));
    if (!isfinite(alpha)) return MD_ERR_ARG; /* beta_1 == 1, beta_2 > 1, ... */
    if (n == 0) return MD_OK;
    if (var == NULL || m == NULL || v == NULL || grad == NULL) return MD_ERR_ARG;
    const md_T alpha_t = (md_T)alpha, eps_t = (md_T)epsilon;
    const md_T omb1_t = (md_T)(1.0 - beta_1), omb2_t = (md_T)(1.0 - beta_2);
    const md_T decay_t = (md_T)(weight_decay * lr);
    const int mode = (vhat != NULL ? 2 : 0) + (weight_decay > 0.0);
    const MD_FN(md_adam_block_fn) block = MD_FN(md_adam_block_for_isa)();
    const int64_t blocks = md_ceil_div(n, MD_OPTIM_BLOCK);
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t lo = b * MD_OPTIM_BLOCK;
        block(var, m, v, vhat, grad, lo, md_min64(lo + MD_OPTIM_BLOCK, n), alpha_t, omb1_t,
              omb2_t, eps_t, decay_t, mode);
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ Adagrad */

static inline __attribute__((always_inline)) void MD_FN(md_adagrad_span)(
    md_T *var, md_T *accumulator, const md_T *grad, int64_t lo, int64_t hi, md_T lr,
    md_T eps) {
    for (int64_t i = lo; i < hi; i++) {
        const md_T g = grad[i];
        const md_T a = accumulator[i] + g * g;
        accumulator[i] = a;
        var[i] = var[i] - (lr * g) / MD_OPT_SQRT(a + eps);
    }
}

md_status MD_FN(md_adagrad_update)(md_T *var, md_T *accumulator, const md_T *grad, int64_t n,
                                   double lr, double epsilon) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!md_optim_finite4(lr, epsilon, 0.0, 0.0)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    if (var == NULL || accumulator == NULL || grad == NULL) return MD_ERR_ARG;
    const md_T lr_t = (md_T)lr, eps_t = (md_T)epsilon;
    const int64_t blocks = md_ceil_div(n, MD_OPTIM_BLOCK);
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t lo = b * MD_OPTIM_BLOCK;
        MD_FN(md_adagrad_span)(var, accumulator, grad, lo, md_min64(lo + MD_OPTIM_BLOCK, n),
                               lr_t, eps_t);
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ Adamax */

static inline __attribute__((always_inline)) void MD_FN(md_adamax_span)(
    md_T *var, md_T *m, md_T *u, const md_T *grad, int64_t lo, int64_t hi, md_T alpha,
    md_T one_minus_b1, md_T b2, md_T eps) {
    for (int64_t i = lo; i < hi; i++) {
        const md_T g = grad[i];
        const md_T mi = m[i] + (g - m[i]) * one_minus_b1;
        const md_T decayed = u[i] * b2;
        const md_T magnitude = g < 0 ? -g : g;
        const md_T ui = decayed > magnitude ? decayed : magnitude;
        m[i] = mi;
        u[i] = ui;
        var[i] = var[i] - (mi * alpha) / (ui + eps);
    }
}

md_status MD_FN(md_adamax_update)(md_T *var, md_T *m, md_T *u, const md_T *grad, int64_t n,
                                  double lr, double beta_1, double beta_2, double epsilon,
                                  int64_t step) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!md_optim_finite4(lr, beta_1, beta_2, epsilon) || step < 1) return MD_ERR_ARG;
    const double alpha = lr / (1.0 - pow(beta_1, (double)step));
    if (!isfinite(alpha)) return MD_ERR_ARG; /* beta_1 == 1 */
    if (n == 0) return MD_OK;
    if (var == NULL || m == NULL || u == NULL || grad == NULL) return MD_ERR_ARG;
    const md_T alpha_t = (md_T)alpha, omb1_t = (md_T)(1.0 - beta_1);
    const md_T b2_t = (md_T)beta_2, eps_t = (md_T)epsilon;
    const int64_t blocks = md_ceil_div(n, MD_OPTIM_BLOCK);
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t lo = b * MD_OPTIM_BLOCK;
        MD_FN(md_adamax_span)(var, m, u, grad, lo, md_min64(lo + MD_OPTIM_BLOCK, n), alpha_t,
                              omb1_t, b2_t, eps_t);
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ Nadam */

md_status MD_FN(md_nadam_update)(md_T *var, md_T *m, md_T *v, const md_T *grad, int64_t n,
                                 double lr, double beta_1, double beta_2, double epsilon,
                                 int64_t step, double u_product) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!md_optim_finite4(lr, beta_1, beta_2, epsilon) || !isfinite(u_product) || step < 1)
        return MD_ERR_ARG;
    /* Keras 3: u_t = beta_1 (1 - 0.5 * 0.96^t); u_product is prod_{i <= t} u_i */
    const double t = (double)step;
    const double u_t = beta_1 * (1.0 - 0.5 * pow(0.96, t));
    const double u_next = beta_1 * (1.0 - 0.5 * pow(0.96, t + 1.0));
    const double c_m = u_next / (1.0 - u_product * u_next);
    const double c_g = (1.0 - u_t) / (1.0 - u_product);
    const double c_v = 1.0 / (1.0 - pow(beta_2, t));
    if (!isfinite(c_m) || !isfinite(c_g) || !isfinite(c_v)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    if (var == NULL || m == NULL || v == NULL || grad == NULL) return MD_ERR_ARG;
    const md_T omb1 = (md_T)(1.0 - beta_1), omb2 = (md_T)(1.0 - beta_2), lr_t = (md_T)lr;
    const md_T cm = (md_T)c_m, cg = (md_T)c_g, cv = (md_T)c_v, eps = (md_T)epsilon;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) {
        const md_T g = grad[i];
        const md_T mi = m[i] + (g - m[i]) * omb1;
        const md_T vi = v[i] + (g * g - v[i]) * omb2;
        m[i] = mi;
        v[i] = vi;
        const md_T m_hat = cm * mi + cg * g;
        var[i] = var[i] - (m_hat * lr_t) / (MD_OPT_SQRT(vi * cv) + eps);
    }
    return MD_OK;
}

/* ------------------------------------------------------------------ Adadelta */

md_status MD_FN(md_adadelta_update)(md_T *var, md_T *accumulated_grad, md_T *accumulated_delta,
                                    const md_T *grad, int64_t n, double lr, double rho,
                                    double epsilon) {
    if (n < 0) return MD_ERR_SHAPE;
    if (!md_optim_finite4(lr, rho, epsilon, 0.0)) return MD_ERR_ARG;
    if (n == 0) return MD_OK;
    if (var == NULL || accumulated_grad == NULL || accumulated_delta == NULL || grad == NULL)
        return MD_ERR_ARG;
    const md_T rho_t = (md_T)rho, omr = (md_T)(1.0 - rho), eps = (md_T)epsilon;
    const md_T lr_t = (md_T)lr;
#pragma omp parallel for schedule(static) num_threads(md_threads_for(n))
    for (int64_t i = 0; i < n; i++) {
        const md_T g = grad[i];
        const md_T ag = rho_t * accumulated_grad[i] + omr * (g * g);
        accumulated_grad[i] = ag;
        const md_T delta = -(MD_OPT_SQRT(accumulated_delta[i] + eps) * g) /
                           MD_OPT_SQRT(ag + eps);
        accumulated_delta[i] = rho_t * accumulated_delta[i] + omr * (delta * delta);
        var[i] = var[i] + lr_t * delta;
    }
    return MD_OK;
}

#undef MD_OPT_SQRT
