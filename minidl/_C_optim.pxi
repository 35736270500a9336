# Wrappers for csrc/optim.c.
