/* host_runtime.c -- csrc/runtime.c (status strings, geometry checks) for minidl._cuda.
 *
 * Both extensions need runtime.c, but minidl._C compiles it with -fopenmp and
 * minidl._cuda without. Listed as the same source in both, it became one object path
 * (build/temp.../csrc/runtime.o) that the two extensions overwrote in turn; in a
 * parallel build (build_ext -j) _cuda could link _C's OpenMP object without libgomp and
 * then failed to import ("undefined symbol: omp_get_thread_limit"). This file gives
 * _cuda's copy its own object (build/temp.../csrc/cuda/host_runtime.o). */
#include "../runtime.c"
