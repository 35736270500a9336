"""Central-difference gradient checks in float64.

Every backward kernel is checked against the numerical gradient of the scalar
``(f(x) * dy).sum()`` for a random ``dy``.
"""
import numpy as np


def numerical_gradient(f, x, dy, eps=1e-6):
    """d/dx of sum(f(x) * dy) by central differences (x is float64, not modified)."""
    x = np.array(x, dtype=np.float64, order="C", copy=True)  # reshape(-1) must be a view
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        saved = flat_x[i]
        flat_x[i] = saved + eps
        plus = np.sum(np.asarray(f(x), dtype=np.float64) * dy)
        flat_x[i] = saved - eps
        minus = np.sum(np.asarray(f(x), dtype=np.float64) * dy)
        flat_x[i] = saved
        flat_g[i] = (plus - minus) / (2 * eps)
    return grad


def assert_gradient(f, x, dy, analytic, rtol=1e-6, atol=1e-7, eps=1e-6):
    """Assert that ``analytic`` matches the central-difference gradient of f at x."""
    numeric = numerical_gradient(f, x, dy, eps)
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)
