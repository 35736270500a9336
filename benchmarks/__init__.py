"""minidl's benchmark suite: side-by-side timings against PyTorch (CPU) and NumPy.

Run ``python -m benchmarks.run --help``. This package imports nothing at import time so
that the runner can fix the BLAS/OpenMP thread counts before NumPy is loaded.
"""
