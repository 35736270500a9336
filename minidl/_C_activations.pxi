# Wrappers for csrc/activations.c.
