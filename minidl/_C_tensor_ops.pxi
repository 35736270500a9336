# Wrappers for csrc/tensor_ops.c.
