# Wrappers for csrc/conv2d.c.
