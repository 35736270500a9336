# Wrappers for csrc/batchnorm.c.
