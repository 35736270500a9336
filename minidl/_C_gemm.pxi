# Wrappers for csrc/gemm.c.
