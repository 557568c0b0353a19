"""Robust bias correction against the field's reference, rdrobust (Calonico, Cattaneo, Farrell and
Titiunik), run on each unit-quantile column: rdrobust's p = 1, q = 2 is our p = 2 (the order-1
estimate at h, bias-corrected by the order-2 fit at b), with vce = "hc3"."""
import warnings

import numpy as np
import pytest

from r3d_teach import r3d
from r3d_teach.core.locpoly import bias_corrected_fit, local_poly_fit

rdrobust = pytest.importorskip("rdrobust")

Q9 = np.arange(1, 10) / 10
KERNELS = ["triangular", "epanechnikov", "uniform"]


def _design(n=400, k=80, seed=0, fuzzy=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    t = (rng.uniform(size=n) < 0.2 + 0.6 * (x >= 0)).astype(float) if fuzzy else (x >= 0).astype(float)
    # curvature that differs at the cutoff, and a scale effect
    mu = 1 + x + 2 * x**2 + 4 * x**2 * (x >= 0) + 1.0 * t + 0.3 * rng.normal(size=n)
    sd = 1 + 0.5 * t
    return x, list(mu[:, None] + sd[:, None] * rng.normal(size=(n, k))), t


def _rdrobust(yj, x, h, b, kernel, fuzzy=None, vce="hc3"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rdrobust.rdrobust(yj, x, c=0, fuzzy=fuzzy, p=1, q=2, h=h, b=b, kernel=kernel, vce=vce)


@pytest.mark.parametrize("rule", ["hc3", "hc2"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_bias_corrected_estimate_and_robust_se_equal_rdrobust(kernel, rule):
    x, y, _ = _design(seed=1)
    h, b = 0.35, 0.6
    kw = {} if rule == "hc2" else {"residuals": rule}          # HC2: the default rule
    res = r3d(x, y, method="simple", quantiles=Q9, kernel=kernel, h=h, b=b, n_boot=0, **kw)
    assert res.residuals == rule
    Q = res.diagnostics.unit_quantiles
    conv = (res.diagnostics.fits["+"].conventional.intercept - res.diagnostics.fits["-"].conventional.intercept)
    for j in (0, 2, 4, 6, 8):
        ref = _rdrobust(Q[:, j], x, h, b, kernel, vce=rule)
        bc = float(ref.coef.iloc[1, 0])
        # before the monotone step, the bias-corrected jump is rdrobust's to rounding
        assert res.plus_raw[j] - res.minus_raw[j] == pytest.approx(bc, abs=1e-9)
        assert conv[j] == pytest.approx(float(ref.coef.iloc[0, 0]), abs=1e-9)
        assert res.se[j] == pytest.approx(float(ref.se.iloc[2, 0]), rel=1e-8)


@pytest.mark.parametrize("rule", ["hc3", "hc2"])
def test_unequal_bandwidths_per_quantile_and_b_below_h(rule):
    x, y, _ = _design(seed=2)
    h = np.linspace(0.3, 0.5, 9)
    b = np.linspace(0.25, 0.8, 9)  # b < h at the first levels
    res = r3d(x, y, method="simple", quantiles=Q9, h=h, b=b, n_boot=0, residuals=rule)
    Q = res.diagnostics.unit_quantiles
    for j in (0, 4, 8):
        ref = _rdrobust(Q[:, j], x, h[j], b[j], "triangular", vce=rule)
        assert res.plus_raw[j] - res.minus_raw[j] == pytest.approx(float(ref.coef.iloc[1, 0]), abs=1e-9)
        assert res.se[j] == pytest.approx(float(ref.se.iloc[2, 0]), rel=1e-8)


def test_fuzzy_at_equal_bandwidths_matches_rdrobust_parts():
    x, y, t = _design(n=500, seed=3, fuzzy=True)
    h = b = 0.5
    res = r3d(x, y, method="simple", quantiles=Q9, treatment=t, h=h, n_boot=0)  # b = h for both stages
    Q = res.diagnostics.unit_quantiles
    for j in (1, 4, 7):
        ref = _rdrobust(Q[:, j], x, h, b, "triangular", fuzzy=t)
        # conventional: the ratio of the two local linear jumps at the same h
        assert res.tau_conventional[j] == pytest.approx(float(ref.coef.iloc[0, 0]), abs=1e-9)
        # bias-corrected outcome and first-stage jumps
        assert res.plus_raw[j] - res.minus_raw[j] == pytest.approx(ref.tau_bc[1] - ref.tau_bc[0], abs=1e-9)
        assert res.first_stage.jump == pytest.approx(float(ref.tau_T.iloc[1, 0]), abs=1e-10)
        assert res.first_stage.jump_conventional == pytest.approx(float(ref.tau_T.iloc[0, 0]), abs=1e-10)


def test_b_equal_h_is_the_order_p_fit_at_h():
    """With b = h the bias-corrected estimate is exactly the intercept of the order-p fit at h
    (the paper's estimator); checked against a direct order-2 fit, both sides."""
    x, y, _ = _design(seed=4)
    res = r3d(x, y, method="simple", quantiles=Q9, h=0.45, n_boot=0)
    assert res.b == {"+": 0.45, "-": 0.45}
    Q = res.diagnostics.unit_quantiles
    for sd, raw in (("+", res.plus_raw), ("-", res.minus_raw)):
        direct = local_poly_fit(x, Q, 0.45, 2, "triangular", sd).intercept
        np.testing.assert_allclose(raw, direct, rtol=0, atol=1e-10)


def test_bias_correction_removes_a_quadratic_bias_exactly():
    """Noise-free quadratic on each side: the local linear fit is biased, the bias-corrected one
    exact (order 2 fits a quadratic exactly at any b)."""
    x = np.linspace(-1, 1, 801)
    Y = np.column_stack([2 + x + 5 * x**2, -1 + 3 * x**2])
    for sd in ("+", "-"):
        fit = bias_corrected_fit(x, Y, 0.4, 0.9, s=1, p=2, side=sd)
        np.testing.assert_allclose(fit.intercept, [2.0, -1.0], atol=1e-12)
        assert np.all(np.abs(fit.conventional.intercept - [2.0, -1.0]) > 1e-3)


def test_data_driven_b_is_the_pilot_and_differs_from_h():
    x, y, _ = _design(seed=5)
    res = r3d(x, y, quantiles=Q9, n_boot=0)
    sel = res.diagnostics.bandwidth
    assert res.b["+"] == pytest.approx(float(sel.b_pilot["+"])) and res.b["-"] == pytest.approx(float(sel.b_pilot["-"]))
    assert res.b["+"] > res.h and res.b["-"] > res.h  # the derivative-rate pilot is wider
    simple = r3d(x, y, quantiles=Q9, method="simple", n_boot=0)
    assert np.shape(simple.b["+"]) == (9,) and np.shape(simple.h) == (9,)


def test_se_is_computed_without_the_bootstrap_and_matches_the_bootstrap_sd():
    """se = √Σφ²; the multiplier bootstrap's pointwise sd estimates the same quantity:
    with B = 4,000 draws its relative error is about 1/√(2B) ≈ 1.1 %, so 5 % is generous."""
    x, y, _ = _design(seed=6)
    a = r3d(x, y, quantiles=Q9, h=0.4, b=0.7, n_boot=0)
    boot = r3d(x, y, quantiles=Q9, h=0.4, b=0.7, n_boot=4000, seed=3)
    np.testing.assert_allclose(a.se, boot.se, rtol=1e-12)
    np.testing.assert_allclose(boot.diagnostics.bootstrap.sd, a.se, rtol=0.05)
