# Wrappers for csrc/image.c.
