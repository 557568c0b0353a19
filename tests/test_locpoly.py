import numpy as np
import pytest

from r3d_teach.core.kernels import get_kernel
from r3d_teach.core.locpoly import local_poly_fit


def _direct(x, y, h, p, kernel, side):
    """Weighted least squares by lstsq on the side's in-window units."""
    u = x / h
    K = get_kernel(kernel)(u) * ((x >= 0) if side == "+" else (x < 0))
    keep = K > 0
    X = u[keep, None] ** np.arange(p + 1)
    sw = np.sqrt(K[keep])
    return np.linalg.lstsq(X * sw[:, None], y[keep] * sw, rcond=None)[0]


@pytest.mark.parametrize("kernel", ["triangular", "epanechnikov", "uniform"])
@pytest.mark.parametrize("p", [0, 1, 2, 3])
@pytest.mark.parametrize("side", ["+", "-"])
def test_matches_direct_weighted_least_squares(kernel, p, side):
    rng = np.random.default_rng(p)
    x = rng.uniform(-1, 1, 300)
    Y = np.column_stack([np.sin(3 * x) + rng.normal(0, 0.1, 300), x**2 + rng.normal(0, 1, 300)])
    fit = local_poly_fit(x, Y, 0.6, p, kernel, side)
    for j in range(2):
        np.testing.assert_allclose(fit.coef[:, j], _direct(x, Y[:, j], 0.6, p, kernel, side), atol=1e-10)
    # intercept = weights' Y, weights sum to 1 and are orthogonal to u^1..u^p
    np.testing.assert_allclose(fit.intercept, (fit.weights * Y).sum(axis=0), atol=1e-12)
    u = x / 0.6
    for k in range(p + 1):
        np.testing.assert_allclose((fit.weights[:, 0] * u**k).sum(), 1.0 if k == 0 else 0.0, atol=1e-10)


def test_per_quantile_bandwidths_equal_separate_fits():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 400)
    Y = rng.normal(size=(400, 3)) + x[:, None]
    h = np.array([0.3, 0.5, 0.9])
    fit = local_poly_fit(x, Y, h, 2, "triangular", "-")
    for j in range(3):
        one = local_poly_fit(x, Y[:, j], h[j], 2, "triangular", "-")
        np.testing.assert_allclose(fit.coef[:, j], one.coef[:, 0], atol=1e-12)
        np.testing.assert_allclose(fit.weights[:, j], one.weights[:, 0], atol=1e-12)
        np.testing.assert_allclose(fit.leverage[:, j], one.leverage[:, 0], atol=1e-12)


def test_exact_on_polynomials_and_derivatives():
    x = np.linspace(-1, 1, 201)
    fit = local_poly_fit(x, 1 + 2 * x - 3 * x**2, 0.5, 2, "triangular", "+")
    np.testing.assert_allclose([fit.coefficient(k)[0] for k in range(3)], [1, 2, -3], atol=1e-10)


def test_equivalent_kernel_goes_negative_where_theory_says():
    # p = 2, triangular: the boundary equivalent kernel is negative for u in (0.28, 0.72)
    x = np.linspace(0, 1, 100001)
    fit = local_poly_fit(x, x, 1.0, 2, "triangular", "+")
    w = fit.weights[:, 0]
    neg = x[(w < 0)]
    assert neg.min() == pytest.approx(0.28, abs=0.01)
    assert neg.max() == pytest.approx(0.72, abs=0.01)


def test_leverage_is_the_hat_diagonal():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 50)
    fit = local_poly_fit(x, rng.normal(size=50), 0.8, 1, "triangular", "+")
    K = get_kernel("triangular")(x / 0.8)
    X = (x / 0.8)[:, None] ** np.arange(2)
    H = X @ np.linalg.inv(X.T @ (K[:, None] * X)) @ X.T * K[None, :]
    np.testing.assert_allclose(fit.leverage[:, 0], np.diag(H), atol=1e-12)


def test_too_few_units_names_side_count_and_remedy():
    x = np.array([-0.9, -0.5, -0.1, 0.05, 0.5, 0.9])
    with pytest.raises(ValueError, match=r"h: only 1 unit\(s\).*right .*p = 2 needs at least 3.*Increase h"):
        local_poly_fit(x, np.ones(6), 0.2, 2, "triangular", "+")
    with pytest.raises(ValueError, match=r"left .*at quantile 0.7"):
        local_poly_fit(x, np.ones((6, 2)), np.array([1.0, 0.15]), 1, "triangular", "-", labels=np.array([0.3, 0.7]))
