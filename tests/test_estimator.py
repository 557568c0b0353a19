import numpy as np
import pandas as pd
import pytest
from scipy.stats import kstest, norm

from r3d_teach import R3DResult, r3d
from r3d_teach.core.kernels import get_kernel

Q9 = np.arange(1, 10) / 10


def _sharp(n=300, n_obs=60, seed=0, jump=1.0, scale_jump=0.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    mu = 1 + x + jump * (x >= 0) + 0.25 * rng.normal(size=n)
    sd = 1 + scale_jump * (x >= 0)
    y = mu[:, None] + sd[:, None] * rng.normal(size=(n, n_obs))
    return x, list(y)


# ---------------------------------------------------------------- known effects (Monte Carlo)
def test_location_and_scale_effects_recovered():
    """True τ(q) = 1 + 0.5 Φ⁻¹(q).  Over 20 seeds the average estimate must be within
    4 Monte Carlo standard errors (sd across seeds / √20) at every decile, for both methods."""
    truth = 1 + 0.5 * norm.ppf(Q9)
    for method in ("frechet", "simple"):
        est = np.array([r3d(*_sharp(400, 100, s, scale_jump=0.5), method=method, quantiles=Q9).tau
                        for s in range(20)])
        se = est.std(axis=0, ddof=1) / np.sqrt(20)
        assert np.all(np.abs(est.mean(axis=0) - truth) < 4 * se + 0.02), method


def test_nullity_p_values_uniform_under_the_null():
    """200 null data sets (no jump): p-values of the nullity test roughly U(0, 1).
    Kolmogorov–Smirnov at the 0.1 % level, and the 5 % rejection rate at most
    5 % + 3·√(.05·.95/200) = 9.6 % (HC3 residuals make the test slightly conservative)."""
    ps = []
    for s in range(200):
        x, y = _sharp(200, 50, s, jump=0.0)
        ps.append(r3d(x, y, quantiles=Q9, n_boot=199, seed=s, tests=("nullity",)).tests.p_value.iloc[0])
    ps = np.array(ps)
    assert kstest(ps, "uniform").pvalue > 0.001
    assert np.mean(ps <= 0.05) <= 0.096


@pytest.mark.filterwarnings("ignore:treatment. weak first stage")  # local quadratic first stages are noisy at n = 600
def test_fuzzy_effect_recovered():
    """T ~ Bern(0.2 + 0.6·1{x ≥ 0}), Y ~ N(1 + x + 2T + 0.25η, 1): complier effect 2 at every q.
    Mean over 20 seeds within 4 MC standard errors."""
    est = []
    for s in range(20):
        rng = np.random.default_rng(100 + s)
        x = rng.uniform(-1, 1, 600)
        t = (rng.uniform(size=600) < 0.2 + 0.6 * (x >= 0)).astype(float)
        y = (1 + x + 2 * t + 0.25 * rng.normal(size=600))[:, None] + rng.normal(size=(600, 80))
        est.append(r3d(x, list(y), treatment=t, quantiles=Q9).tau)
    est = np.array(est)
    se = est.std(axis=0, ddof=1) / np.sqrt(20)
    assert np.all(np.abs(est.mean(axis=0) - 2.0) < 4 * se + 0.02)


# ---------------------------------------------------------------- bootstrap fixes, exactly
def test_every_in_window_unit_enters_the_bootstrap():
    x, y = _sharp(200, 40, 3)
    res = r3d(x, y, quantiles=Q9, h=0.5, multipliers=np.eye(200), residuals="raw")
    Phi = res.diagnostics.bootstrap.draws  # identity multipliers: draw b is unit b's influence term
    inside = np.abs(x) <= 0.5 - 1e-12
    assert np.all(np.abs(Phi[inside]).max(axis=1) > 0)
    assert np.all(Phi[~inside] == 0)
    assert (res.diagnostics.fits["+"].bias.weights[:, 0] < 0).sum() > 5  # negative-weight units are among them


def test_fuzzy_bootstrap_uses_the_first_stage_window():
    rng = np.random.default_rng(7)
    n = 300
    x = rng.uniform(-1, 1, n)
    t = (rng.uniform(size=n) < 0.2 + 0.6 * (x >= 0)).astype(float)
    y = list((1 + x + 2 * t)[:, None] + rng.normal(size=(n, 40)))
    res = r3d(x, y, treatment=t, quantiles=Q9, h=(0.3, 0.9), multipliers=np.eye(n), residuals="raw")
    Phi = res.diagnostics.bootstrap.draws
    ring = (np.abs(x) > 0.3) & (np.abs(x) < 0.9 - 1e-9)
    assert np.all(np.abs(Phi[ring]).max(axis=1) > 0)  # outside the outcome window, inside h_den
    assert np.all(Phi[np.abs(x) >= 0.9] == 0)
    # the T-part of the influence by direct weighted least squares at h_den
    K = get_kernel("triangular")
    phiT = np.zeros(n)
    for side, sign in ((x >= 0, 1.0), (x < 0, -1.0)):
        u = x / 0.9
        k = K(u) * side
        X = u[:, None] ** np.arange(3)
        S = X.T @ (k[:, None] * X)
        w = k * (X @ np.linalg.solve(S, np.eye(3)[0]))
        beta = np.linalg.solve(S, X.T @ (k * t))
        phiT += sign * w * np.where(k > 0, t - X @ beta, 0.0)
    jump = res.first_stage.jump
    expected_ring = -res.diagnostics.numerator[None, :] * phiT[ring, None] / jump**2
    np.testing.assert_allclose(Phi[ring], expected_ring, atol=1e-12)


def test_band_defined_for_small_B_and_p_value_rule():
    x, y = _sharp(200, 40, 4)
    res = r3d(x, y, quantiles=Q9, n_boot=5, seed=1)
    assert np.isfinite(res.crit_value)
    assert res.crit_value == pytest.approx(res.diagnostics.bootstrap.t_stats.max())     # studentized
    assert set(np.round(res.tests.p_value * 6)) <= set(range(1, 7))
    unw = r3d(x, y, quantiles=Q9, n_boot=5, seed=1, band="unweighted")
    assert unw.crit_value == pytest.approx(unw.diagnostics.bootstrap.sup_stats.max())
    assert set(np.round(unw.tests.p_value * 6)) <= set(range(1, 7))


def test_seed_reproducible():
    x, y = _sharp(200, 40, 5)
    a = r3d(x, y, quantiles=Q9, n_boot=100, seed=11)
    b = r3d(x, y, quantiles=Q9, n_boot=100, seed=11)
    c = r3d(x, y, quantiles=Q9, n_boot=100, seed=12)
    assert a.crit_value == b.crit_value != c.crit_value


# ---------------------------------------------------------------- data frame interface
def _long(x, y, t=None):
    rows = {"unit": np.repeat([f"u{i}" for i in range(len(x))], [len(v) for v in y]),
            "x": np.repeat(x, [len(v) for v in y]), "y": np.concatenate(y)}
    if t is not None:
        rows["d"] = np.repeat(t, [len(v) for v in y])
    return pd.DataFrame(rows)


def test_dataframe_interface_equals_arrays():
    x, y = _sharp(150, 30, 6)
    df = _long(x, y).sample(frac=1.0, random_state=0)  # shuffled rows
    a = r3d(x, y, quantiles=Q9, h=0.6)
    b = r3d("x", "y", data=df, unit="unit", quantiles=Q9, h=0.6)
    order = {u: i for i, u in enumerate(b.diagnostics.units)}
    assert sorted(order) == sorted(f"u{i}" for i in range(150))
    np.testing.assert_allclose(a.tau, b.tau, atol=1e-12)
    df["w"] = 1.0
    c = r3d("x", "y", data=df, unit="unit", weights="w", quantiles=Q9, h=0.6)
    np.testing.assert_allclose(a.tau, c.tau, atol=1e-12)


def test_dataframe_unit_level_columns_must_be_constant():
    x, y = _sharp(50, 10, 7)
    df = _long(x, y, t=(x >= 0).astype(float))
    bad = df.copy()
    bad.loc[3, "x"] = 0.123
    with pytest.raises(ValueError, match="x: column 'x' must be constant within each unit.*u0"):
        r3d("x", "y", data=bad, unit="unit")
    bad = df.copy()
    bad.loc[bad.index[-1], "d"] = 1 - bad.loc[bad.index[-1], "d"]
    with pytest.raises(ValueError, match="treatment: column 'd' must be constant"):
        r3d("x", "y", data=bad, unit="unit", treatment="d")
    with pytest.raises(ValueError, match="unit: give the name"):
        r3d("x", "y", data=df)
    with pytest.raises(ValueError, match="y: 'z' is not a column"):
        r3d("x", "z", data=df, unit="unit")
    bad = df.copy()
    bad.loc[5, "y"] = np.nan
    with pytest.raises(ValueError, match="y: column 'y' has 1 missing"):
        r3d("x", "y", data=bad, unit="unit")


# ---------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    return _sharp(80, 20, 8)


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(quantiles=[0.5, 0.2]), ValueError, "quantiles: must be sorted"),
    (dict(quantiles=[0.2, 0.2]), ValueError, "quantiles: contains repeated"),
    (dict(quantiles=[0.0, 0.5]), ValueError, "quantiles: every level must be strictly inside"),
    (dict(p=-1), ValueError, "p: must be a non-negative integer"),
    (dict(p=1.5), ValueError, "p: must be a non-negative integer"),
    (dict(kernel="gauss"), ValueError, "kernel: unknown kernel"),
    (dict(method="ols"), ValueError, "method: unknown method"),
    (dict(h=0.0), ValueError, "h: bandwidths must be > 0"),
    (dict(h=-1.0), ValueError, "h: bandwidths must be > 0"),
    (dict(h=np.full(99, 0.5)), ValueError, "h: method 'frechet' uses one bandwidth"),
    (dict(h=np.full(3, 0.5), method="simple"), ValueError, "h: per-quantile bandwidths must have one value per quantile"),
    (dict(h=0.02), ValueError, r"h: only \d unit\(s\) with positive kernel weight on the .* side.*Increase h"),
    (dict(alpha=0.0), ValueError, "alpha: must be strictly inside"),
    (dict(alpha=1.5), ValueError, "alpha: must be strictly inside"),
    (dict(n_boot=-1), ValueError, "n_boot: must be >= 0"),
    (dict(tests=("equality",)), ValueError, "tests: unknown test"),
    (dict(quantile_method="type9"), ValueError, "quantile_method: unknown"),
    (dict(rearrangement="spline"), ValueError, "rearrangement: unknown"),
    (dict(residuals="hc1"), ValueError, "residuals: unknown"),
    (dict(treatment=np.full(80, 0.5)), ValueError, "treatment: must be 0/1"),
    (dict(treatment=np.ones(79)), ValueError, "treatment: must have one value per unit"),
])
def test_bad_arguments(small, kwargs, exc, msg):
    x, y = small
    with pytest.raises(exc, match=msg):
        r3d(x, y, **kwargs)


def test_bad_data(small):
    x, y = small
    with pytest.raises(ValueError, match="y: has 79 units but x has 80"):
        r3d(x, y[:-1])
    xx = x.copy()
    xx[2] = np.nan
    with pytest.raises(ValueError, match=r"x: contains NaN or inf at position\(s\) \[2\]"):
        r3d(xx, y)
    yy = list(y)
    yy[4] = np.array([1.0, np.inf])
    with pytest.raises(ValueError, match="y: unit 4 contains NaN or inf"):
        r3d(x, yy)
    yy[4] = np.array([])
    with pytest.raises(ValueError, match="y: unit 4 has an empty sample"):
        r3d(x, yy)
    with pytest.raises(ValueError, match="x: all 80 units are on one side of the cutoff"):
        r3d(x, y, cutoff=5.0)
    w = [np.ones_like(v) for v in y]
    w[1] = -w[1]
    with pytest.raises(ValueError, match="weights: unit 1 has negative weights"):
        r3d(x, y, weights=w)
    w[1] = np.zeros_like(w[1])
    with pytest.raises(ValueError, match="weights: the weights of unit 1 sum to zero"):
        r3d(x, y, weights=w)
    with pytest.raises(ValueError, match="treatment: the first stage .* essentially zero"):
        r3d(x, y, treatment=np.ones(80), h=(0.8, 0.8))
    with pytest.raises(ValueError, match="tests: the Gini test needs a distribution with a positive mean"):
        r3d(x, [v - 100.0 for v in y], tests=("gini",), n_boot=10, seed=0)
    with pytest.raises(ValueError, match="tests: the Gini test is defined for sharp designs only"):
        r3d(x, y, treatment=(x >= 0).astype(float), tests=("gini",))


# ---------------------------------------------------------------- result object
def test_result_methods(small, capsys):
    x, y = small
    res = r3d(x, y, quantiles=np.arange(1, 100) / 100, n_boot=50, seed=0)
    assert isinstance(res, R3DResult)
    df = res.to_frame()
    assert list(df.columns[:4]) == ["q", "tau", "se", "tau_conventional"] and len(df) == 99
    np.testing.assert_allclose(df.tau, res.plus - res.minus)
    summ = res.summary()
    assert capsys.readouterr().out == ""  # shown once, by whoever displays it
    out = str(summ)
    assert "R3D (sharp, method = frechet" in out and "Tests:" in out and "uniform band" in out
    assert "<table" in summ._repr_html_() and "bias correction b" in summ._repr_html_()
    np.testing.assert_allclose(summ.to_frame().q, Q9)
    assert len(repr(res)) < 200 and "array" not in repr(res)
    fig = res.plot()
    np.testing.assert_allclose(fig.axes[0].lines[-1].get_ydata(), res.tau)
    fig = res.plot(boundary=True)
    assert len(fig.axes) == 2
    assert res.n_left + res.n_right <= res.n_units
    K = get_kernel("triangular")
    assert res.n_right == int((K((x - 0) / res.h)[x >= 0] > 0).sum())


def test_defaults_triangular_kernel_and_two_tests(small):
    """R3D 0.1.0 defaults to Epanechnikov (its docs say triangular) and runs three tests when
    `test` is omitted; ours: triangular, and only nullity + homogeneity."""
    x, y = small
    d = r3d(x, y, quantiles=Q9, h=0.7, n_boot=20, seed=0)
    np.testing.assert_array_equal(d.tau, r3d(x, y, quantiles=Q9, h=0.7, kernel="triangular").tau)
    assert not np.allclose(d.tau, r3d(x, y, quantiles=Q9, h=0.7, kernel="epanechnikov").tau)
    assert d.kernel == "triangular" and d.method == "frechet" and d.p == 2
    assert d.tests.test.tolist() == ["nullity", "homogeneity"]


def test_weak_first_stage_warning_uses_precision():
    """A first stage of 0.12 estimated very imprecisely must warn (|t| < 2), a precise one not."""
    rng = np.random.default_rng(11)
    n = 400
    x = rng.uniform(-1, 1, n)
    y = list((1 + x)[:, None] + rng.normal(size=(n, 30)))
    weak = (rng.uniform(size=n) < 0.44 + 0.12 * (x >= 0)).astype(float)
    with pytest.warns(UserWarning, match="weak first stage"):
        r = r3d(x, y, treatment=weak, quantiles=Q9, h=(0.5, 0.3))
    assert r.first_stage.se > abs(r.first_stage.jump) / 2
    strong = (rng.uniform(size=n) < 0.1 + 0.8 * (x >= 0)).astype(float)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = r3d(x, y, treatment=strong, quantiles=Q9, h=(0.5, 0.5))
    # the first stage's standard error is rdrobust's robust one for T (local linear at h,
    # bias-corrected by local quadratic at b = h), HC2 by default and HC3 when asked for
    rdrobust = pytest.importorskip("rdrobust")
    for rule, fit in (("hc2", r), ("hc3", r3d(x, y, treatment=strong, quantiles=Q9, h=(0.5, 0.5), residuals="hc3"))):
        ref = rdrobust.rdrobust(strong, x, c=0, p=1, q=2, h=0.5, b=0.5, kernel="triangular", vce=rule)
        assert fit.first_stage.jump == pytest.approx(float(ref.coef.iloc[1, 0]), abs=1e-10)
        assert fit.first_stage.se == pytest.approx(float(ref.se.iloc[2, 0]), rel=1e-8)
