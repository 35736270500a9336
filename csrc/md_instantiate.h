/* Instantiates the kernel template named by MD_TEMPLATE for float and for double.
 * No include guard: each kernel source includes this once. */
#ifndef MD_TEMPLATE
#error "define MD_TEMPLATE before including md_instantiate.h"
#endif

#define md_T float
#define MD_FN(name) MD_CAT(name, _f32)
#define MD_IS_F32 1
#include MD_TEMPLATE
#undef md_T
#undef MD_FN
#undef MD_IS_F32

#define md_T double
#define MD_FN(name) MD_CAT(name, _f64)
#define MD_IS_F32 0
#include MD_TEMPLATE
#undef md_T
#undef MD_FN
#undef MD_IS_F32
