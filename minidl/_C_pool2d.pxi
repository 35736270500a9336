# Wrappers for csrc/pool2d.c.
