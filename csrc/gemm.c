/* gemm.c -- the packed, cache-blocked GEMM (BLIS-style) behind dense layers, and the
 * micro-kernels of the convolutions (see gemm_internal.h).
 *
 * The SIMD micro-kernels are written once (gemm_simd_impl.h) and compiled here for
 * AVX-512 and for AVX2/FMA, each for float and double; the portable C kernels and the
 * driver are in gemm_impl.h. The level is chosen at run time (md_isa_level), so one
 * build runs on any x86-64. */
#include "gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MD_HAVE_X86 1
#else
#define MD_HAVE_X86 0
#endif

#if MD_HAVE_X86
/* the SIMD micro-kernels, for float and double, at each vector width */
#define MD_TEMPLATE "gemm_simd_impl.h"
#define MD_SIMD_W 512
#define MD_VFN(name) MD_FN(MD_CAT(name, _avx512))
#include "md_instantiate.h"
#undef MD_VFN
#undef MD_SIMD_W

#define MD_SIMD_W 256
#define MD_VFN(name) MD_FN(MD_CAT(name, _avx2))
#include "md_instantiate.h"
#undef MD_VFN
#undef MD_SIMD_W
#undef MD_TEMPLATE
#endif /* MD_HAVE_X86 */

#define MD_TEMPLATE "gemm_impl.h"
#include "md_instantiate.h"
