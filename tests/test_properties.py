"""Property-based tests: random shapes, strides, paddings and window sizes against the
float64 references, and invalid combinations raising clear errors (never crashing)."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from minidl import ops

import reference

geometry = st.fixed_dictionaries({
    "n": st.integers(1, 3), "h": st.integers(1, 9), "w": st.integers(1, 9),
    "c": st.integers(1, 7), "k": st.integers(1, 5), "k2": st.integers(1, 5),
    "s": st.integers(1, 3), "s2": st.integers(1, 3),
    "padding": st.sampled_from(["valid", "same"]), "seed": st.integers(0, 2**16)})


def _fits(g):
    return g["padding"] == "same" or (g["k"] <= g["h"] and g["k2"] <= g["w"])


@settings(max_examples=60, deadline=None)
@given(g=geometry, out_c=st.integers(1, 6))
def test_conv_matches_reference_on_random_geometry(g, out_c):
    assume(_fits(g))
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal((g["n"], g["h"], g["w"], g["c"]))
    kern = rng.standard_normal((g["k"], g["k2"], g["c"], out_c))
    strides = (g["s"], g["s2"])
    y = ops.conv(x, kern, strides, g["padding"])
    np.testing.assert_allclose(y, reference.conv2d(x, kern, strides, g["padding"]),
                               rtol=1e-10, atol=1e-10)
    dy = rng.standard_normal(y.shape)
    dx, dw, _ = ops.conv_backward(dy, x, kern, strides, g["padding"])
    rdx, rdw, _ = reference.conv2d_backward(dy, x, kern, strides, g["padding"])
    np.testing.assert_allclose(dx, rdx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, rdw, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(g=geometry, kind=st.sampled_from(["max", "average"]))
def test_pooling_matches_reference_on_random_geometry(g, kind):
    assume(_fits(g))
    rng = np.random.default_rng(g["seed"])
    x = rng.permutation(g["n"] * g["h"] * g["w"] * g["c"]).reshape(
        g["n"], g["h"], g["w"], g["c"]).astype(np.float64)  # no ties
    pool, strides = (g["k"], g["k2"]), (g["s"], g["s2"])
    got = (ops.max_pool if kind == "max" else ops.average_pool)(x, pool, strides, g["padding"])
    if kind == "max":
        want = reference.max_pool(x, pool, strides, g["padding"])[0]
    else:
        want = reference.average_pool(x, pool, strides, g["padding"])
    np.testing.assert_allclose(got, want, rtol=1e-12)


@settings(max_examples=80, deadline=None)
@given(g=geometry, bad=st.sampled_from(["stride0", "negstride", "window", "rank", "channels",
                                        "padding", "empty"]))
def test_invalid_geometry_raises_a_clear_error(g, bad):
    x = np.zeros((g["n"], g["h"], g["w"], g["c"]), np.float32)
    kern = np.zeros((g["k"], g["k2"], g["c"], 2), np.float32)
    strides, padding = (g["s"], g["s2"]), g["padding"]
    if bad == "stride0":
        strides = (0, g["s2"])
    elif bad == "negstride":
        strides = (g["s"], -1)
    elif bad == "window":
        kern = np.zeros((g["h"] + 1, g["k2"], g["c"], 2), np.float32)
        padding = "valid"
    elif bad == "rank":
        x = x[0]
    elif bad == "channels":
        kern = np.zeros((g["k"], g["k2"], g["c"] + 1, 2), np.float32)
    elif bad == "padding":
        padding = "full"
    elif bad == "empty":
        x = x[:0]
    with pytest.raises((ValueError, TypeError), match="conv"):
        ops.conv(x, kern, strides, padding)
    if bad not in ("channels",):
        window = kern.shape[:2]
        with pytest.raises((ValueError, TypeError), match="pool"):
            ops.max_pool(x, window, strides, padding)
