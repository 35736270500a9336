# Wrappers for csrc/loss.c.
