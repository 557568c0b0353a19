import numpy as np
import pytest
from scipy.stats import norm

from r3d_teach.core.bootstrap import critical_value, multiplier_bootstrap, parse_test_ranges
from r3d_teach.core.gini import gini_from_quantiles
from r3d_teach.core.residuals import bootstrap_residuals, nn_residuals

Q3 = np.array([0.25, 0.5, 0.75])


def test_draws_are_multipliers_times_influence_exactly():
    rng = np.random.default_rng(0)
    phi = rng.normal(size=(7, 3))
    xi = rng.normal(size=(7, 40))
    tau = np.array([0.1, 0.5, 0.3])
    out = multiplier_bootstrap(phi, tau, Q3, multipliers=xi, tests=("nullity", "homogeneity"), alpha=0.1,
                               band="unweighted")
    G = xi.T @ phi
    np.testing.assert_allclose(out.draws, G, atol=1e-13)
    S = np.abs(G).max(axis=1)
    np.testing.assert_allclose(out.sup_stats, S, atol=1e-13)
    c = np.sort(S)[int(np.ceil(0.9 * 39))]  # the (⌈(1-α)(B-1)⌉ + 1)-th smallest
    assert out.crit_value == pytest.approx(c)
    np.testing.assert_allclose(out.band_lower, tau - c)
    np.testing.assert_allclose(out.pointwise_upper, tau + norm.ppf(0.95) * G.std(axis=0, ddof=1), atol=1e-12)
    nul = out.tests.set_index("test").loc["nullity"]
    assert nul.statistic == pytest.approx(0.5)
    assert nul.p_value == pytest.approx((1 + np.sum(S >= 0.5)) / 41)
    hom = out.tests.set_index("test").loc["homogeneity"]
    Sh = np.abs(G - G.mean(axis=1, keepdims=True)).max(axis=1)
    assert hom.statistic == pytest.approx(0.2)
    assert hom.p_value == pytest.approx((1 + np.sum(Sh >= 0.2)) / 41)


@pytest.mark.parametrize("B", [1, 5, 10, 19])
def test_critical_value_defined_for_any_B(B):
    S = np.arange(1.0, B + 1)
    c = critical_value(S, 0.05)
    assert np.isfinite(c) and c == S[int(np.ceil(0.95 * (B - 1) - 1e-12))]


def test_chunking_does_not_change_draws():
    rng = np.random.default_rng(1)
    phi = rng.normal(size=(50, 4))
    a = multiplier_bootstrap(phi, np.zeros(4), np.arange(1, 5) / 5, n_boot=300, rng=np.random.default_rng(9))
    import r3d_teach.core.bootstrap as inf

    orig = inf._chunks
    try:
        inf._chunks = lambda B, n, max_elems=0: orig(B, n, max_elems=50 * 7)
        b = multiplier_bootstrap(phi, np.zeros(4), np.arange(1, 5) / 5, n_boot=300, rng=np.random.default_rng(9))
    finally:
        inf._chunks = orig
    # the same multipliers reach every draw whatever the chunking; only the BLAS's summation
    # order may differ (another CPU rounds differently), so compare to rounding
    np.testing.assert_allclose(a.sup_stats, b.sup_stats, rtol=1e-12, atol=0)
    assert a.crit_value == pytest.approx(b.crit_value, rel=1e-12)


def test_test_ranges():
    q = np.arange(1, 100) / 100
    assert parse_test_ranges(None, q) == [(0.01, 0.99)]
    assert parse_test_ranges([0.25, 0.5, 0.75], q) == [(0.25, 0.5), (0.5, 0.75)]
    assert parse_test_ranges([(0.1, 0.2), (0.8, 0.9)], q) == [(0.1, 0.2), (0.8, 0.9)]
    with pytest.raises(ValueError, match="test_ranges: range .* outside the grid"):
        parse_test_ranges([0.001, 0.5], q)
    with pytest.raises(ValueError, match="test_ranges: range .* fewer than 2 grid points"):
        parse_test_ranges([0.501, 0.509], q)
    with pytest.raises(ValueError, match="test_ranges: each range"):
        parse_test_ranges([0.5, 0.4], q)


def test_range_restricted_statistics():
    q = np.arange(1, 10) / 10
    tau = np.array([0, 0, 0, 0, 0, 0, 0, 1.0, 2.0])
    phi = np.eye(9)[:2] * 0.01
    out = multiplier_bootstrap(phi, tau, q, multipliers=np.ones((2, 3)), tests=("nullity", "homogeneity"),
                               test_ranges=[(0.1, 0.5), (0.7, 0.9)], band="unweighted")
    t = out.tests
    assert t.statistic.tolist() == pytest.approx([0.0, 0.0, 2.0, 1.0])
    assert t.range.tolist() == ["[0.1, 0.5]", "[0.1, 0.5]", "[0.7, 0.9]", "[0.7, 0.9]"]
    # studentized: on [0.7, 0.9] every se is 0 and τ̂ ≠ 0 (a deterministic effect, not constant
    # either): infinite statistics, p = 1/(B + 1); on [0.1, 0.5] τ̂ = 0
    stu = multiplier_bootstrap(phi, tau, q, multipliers=np.ones((2, 3)), tests=("nullity", "homogeneity"),
                               test_ranges=[(0.1, 0.5), (0.7, 0.9)])
    assert stu.tests.statistic.tolist() == [0.0, 0.0, np.inf, np.inf]
    assert stu.tests.p_value.tolist() == [1.0, 1.0, 0.25, 0.25]


def test_gini_closed_forms():
    q = np.linspace(0, 1, 101)
    assert gini_from_quantiles(100 * q, q) == pytest.approx(1 / 3, abs=1e-3)  # uniform: 1/3
    assert gini_from_quantiles(np.r_[np.zeros(10), 100.0], np.linspace(0, 1, 11)) == pytest.approx(0.9)
    qq = np.arange(1, 10000) / 10000
    assert gini_from_quantiles(-np.log1p(-qq), qq) == pytest.approx(0.5, abs=2e-3)  # exponential: 1/2
    assert gini_from_quantiles(np.full(5, 3.0), np.arange(1, 6) / 6) == pytest.approx(0.0)
    assert np.isnan(gini_from_quantiles(-np.ones(3), Q3))


def test_centred_gini_test_has_power_and_size():
    q = np.arange(1, 100) / 100
    base = -np.log1p(-q)  # exponential quantiles, Gini 1/2
    rng = np.random.default_rng(3)
    n = 200
    phi_p = rng.normal(0, 0.002, (n, 99)) * (np.arange(n) < 100)[:, None]
    phi_m = rng.normal(0, 0.002, (n, 99)) * (np.arange(n) >= 100)[:, None]
    xi = rng.normal(size=(n, 499))
    # equal distributions: the statistic is 0 and the p-value 1
    same = multiplier_bootstrap(phi_p - phi_m, np.zeros(99), q, multipliers=xi, tests=("gini",),
                                gini_parts=(base, base, phi_p, phi_m))
    assert same.tests.p_value.iloc[0] == pytest.approx(1.0)
    # a much more unequal right side: rejected (R3D 0.1.0's uncentred version gives p ≈ 0.5)
    diff = multiplier_bootstrap(phi_p - phi_m, base**2 - base, q, multipliers=xi, tests=("gini",),
                                gini_parts=(base**2, base, phi_p, phi_m))
    assert diff.tests.p_value.iloc[0] == pytest.approx(1 / 500)


def test_residual_rules():
    e = np.array([[1.0], [2.0], [3.0]])
    lev = np.array([[0.5], [0.0], [0.2]])
    win = np.array([[True], [True], [False]])
    fitted = np.zeros((3, 1))
    np.testing.assert_allclose(bootstrap_residuals(e, fitted, lev, win, "raw"), [[1], [2], [0]])
    np.testing.assert_allclose(bootstrap_residuals(e, fitted, lev, win, "hc3"), [[2], [2], [0]])
    np.testing.assert_allclose(bootstrap_residuals(e, fitted, lev, win, "hc2"), [[np.sqrt(2)], [2], [0]])
    np.testing.assert_allclose(bootstrap_residuals(e, fitted, lev, win, "nn", nn=e * 10), [[10], [20], [0]])
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    r = nn_residuals(x, y, np.ones(5, bool), J=3)
    # unit at 0.3: neighbours 0.2, 0.4 and (tie 0.1/0.5 → first in order) 0.1 → mean 11/3
    assert r[2, 0] == pytest.approx(np.sqrt(3 / 4) * (4 - 11 / 3))
    with pytest.raises(ValueError, match="residuals: unknown rule"):
        bootstrap_residuals(e, fitted, lev, win, "hc1")


def test_multiplier_shape_errors():
    with pytest.raises(ValueError, match=r"multipliers: must be an \(n_units, B\) matrix"):
        multiplier_bootstrap(np.zeros((4, 3)), np.zeros(3), Q3, multipliers=np.zeros((5, 10)))
    with pytest.raises(ValueError, match="n_boot: the bootstrap needs at least one draw"):
        multiplier_bootstrap(np.zeros((4, 3)), np.zeros(3), Q3, n_boot=0)
