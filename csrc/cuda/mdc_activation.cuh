/* mdc_activation.cuh -- the elementwise activations as device functions (the CPU's
 * formulas: relu keeps NaN, sigmoid is evaluated from exp(-|x|) so it never overflows). */
#ifndef MDC_ACTIVATION_CUH
#define MDC_ACTIVATION_CUH

#include "mdc_internal.cuh"

namespace mdc {

__device__ inline float activate(float v, int activation) {
    switch (activation) {
    case MD_ACT_RELU: return v < 0.0f ? 0.0f : v;
    case MD_ACT_SIGMOID: {
        const float e = expf(-fabsf(v));
        const float r = 1.0f / (1.0f + e);
        return v >= 0.0f ? r : e * r;
    }
    case MD_ACT_TANH: return tanhf(v);
    default: return v;
    }
}

}  // namespace mdc

#endif /* MDC_ACTIVATION_CUH */
