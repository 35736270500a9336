"""The coefficients of the float32 tanh in ``csrc/act_simd.h``: ``tanh(x) = x P(x^2) /
Q(x^2)`` for ``|x| <= 9.02`` (where float32 tanh reaches 1), P of degree 5 and Q of degree
4 with ``Q(0) = 1``, fitted for the smallest largest relative error.

The fit is linear once Q is fixed: ``P(s) - g(s) Q(s) = 0`` with ``g = tanh(x) / x`` and
``s = (x / 9.02)^2`` (a variable in [0, 1] keeps the least-squares system well
conditioned), weighted by ``1 / (g Q_previous)`` so that the residual is the relative
error, and re-solved with Lawson's weights (each point's weight times its last error)
until the largest error stops falling. The coefficients are then rescaled to ``u = x^2``.

Run: ``python -m benchmarks.tanh_fit`` (prints the coefficients, lowest degree first, and
the largest relative error on the grid; about 10 s).
"""
import argparse

import numpy as np

LIMIT = 9.02   # float32 tanh(x) rounds to 1 from here on


def _grid(limit):
    """Points in (0, limit], denser near 0 where tanh(x) / x bends most."""
    return np.concatenate([np.linspace(1e-5, 1.0, 30000), np.linspace(1.0, limit, 60000)])


def fit(p_degree=5, q_degree=4, limit=LIMIT, rounds=200):
    """The rational fit of ``tanh(x) / x``.

    Args:
        p_degree (int): the degree of P in ``x^2``.
        q_degree (int): the degree of Q in ``x^2`` (its constant term is 1).
        limit (float): the fit covers ``0 < x <= limit``.
        rounds (int): Lawson re-weighting rounds.

    Returns:
        ``(p, q, error)``: the coefficients of P and Q in ``u = x^2``, lowest degree
        first, and the largest relative error on the grid.
    """
    x = _grid(limit)
    s, g = (x / limit) ** 2, np.tanh(x) / x
    p_powers = s[:, None] ** np.arange(p_degree + 1)
    q_powers = s[:, None] ** np.arange(1, q_degree + 1)
    system = np.hstack([p_powers, -g[:, None] * q_powers])
    weights, q_values = np.ones_like(s), np.ones_like(s)
    best = (np.inf, None, None)
    for step in range(rounds):
        scale = np.sqrt(weights) / (g * q_values)
        coef = np.linalg.lstsq(system * scale[:, None], g * scale, rcond=None)[0]
        p, q = coef[:p_degree + 1], np.concatenate([[1.0], coef[p_degree + 1:]])
        q_values = np.polyval(q[::-1], s)
        error = np.abs(np.polyval(p[::-1], s) / q_values / g - 1.0)
        if error.max() < best[0]:
            best = (error.max(), p, q)
        if step >= 10:  # a few plain rounds first, then equalise the error
            weights = weights * (error + 1e-3 * error.max())
            weights /= weights.sum()
    largest, p, q = best
    to_u = limit ** -2.0
    return (p * to_u ** np.arange(p_degree + 1), q * to_u ** np.arange(q_degree + 1),
            float(largest))


def main(argv=None):
    """Print the coefficients and the fit's largest relative error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--p-degree", type=int, default=5)
    parser.add_argument("--q-degree", type=int, default=4)
    args = parser.parse_args(argv)
    p, q, error = fit(args.p_degree, args.q_degree)
    print("P:", ", ".join(repr(float(c)) for c in p))
    print("Q:", ", ".join(repr(float(c)) for c in q))
    print(f"largest relative error on the grid: {error:.3g}")


if __name__ == "__main__":
    main()
