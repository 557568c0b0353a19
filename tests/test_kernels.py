import numpy as np
import pytest
from scipy.integrate import quad

from r3d_teach.core.kernels import KERNELS, bias_variance_constants, get_kernel, kernel_moments


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernels_are_densities_with_inclusive_window(name):
    K = get_kernel(name)
    assert quad(lambda u: K(np.array([u]))[0], -1, 1)[0] == pytest.approx(1.0, abs=1e-12)
    assert K(np.array([1.0001]))[0] == 0.0
    edge = {"triangular": 0.0, "epanechnikov": 0.0, "uniform": 0.5}[name]
    assert K(np.array([1.0, -1.0])).tolist() == [edge, edge]


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("side", ["+", "-"])
@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_moments_match_numerical_integration(name, side, order):
    K = get_kernel(name)
    a, b = (0, 1) if side == "+" else (-1, 0)
    G, P, L = kernel_moments(name, order, side)
    for j in range(order + 1):
        for k in range(order + 1):
            g = quad(lambda u: u ** (j + k) * K(np.array([u]))[0], a, b)[0]
            pp = quad(lambda u: u ** (j + k) * K(np.array([u]))[0] ** 2, a, b)[0]
            assert G[j, k] == pytest.approx(g, abs=1e-12)
            assert P[j, k] == pytest.approx(pp, abs=1e-12)
        lam = quad(lambda u: u ** (j + order + 1) * K(np.array([u]))[0], a, b)[0]
        assert L[j] == pytest.approx(lam, abs=1e-12)


def test_known_boundary_constants():
    # local linear, triangular kernel, boundary point: variance constant 4.8 and bias constant
    # -1/10 (e.g. Fan and Gijbels 1996, Table 3.4 equivalents); the same on both sides
    for side in "+-":
        cb, cv = bias_variance_constants("triangular", 1, side)
        assert cv == pytest.approx(4.8, abs=1e-10)
        assert cb == pytest.approx(-0.1, abs=1e-10)
    # derivative pilot of the method notes: order-2 fit's x^2 coefficient, triangular
    cbd, cvd = bias_variance_constants("triangular", 2, "+", coefficient=2)
    assert abs(cbd) == pytest.approx(1.286, abs=1e-3)
    assert cvd == pytest.approx(308.6, abs=0.1)
    # local constant, uniform kernel on [0, 1] with K = 1/2: Gamma = 1/2, Psi = 1/4 -> c_V = 1
    assert bias_variance_constants("uniform", 0, "+")[1] == pytest.approx(1.0)


def test_unknown_kernel():
    with pytest.raises(ValueError, match="kernel: unknown kernel 'gaussian'"):
        get_kernel("gaussian")
