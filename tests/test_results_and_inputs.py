"""The results object, the precomputed-quantiles entry, clustered multipliers, and inputs a user
can type (the public API only)."""
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from r3d_teach import r3d, select_bandwidth, unit_quantiles

Q9 = np.arange(1, 10) / 10


def _sharp(n=300, k=60, seed=0, jump=1.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    mu = 1 + x + jump * (x >= 0) + 0.25 * rng.normal(size=n)
    return x, list(mu[:, None] + rng.normal(size=(n, k)))


@pytest.fixture(scope="module")
def fitted():
    x, y = _sharp()
    return x, y, r3d(x, y, quantiles=Q9, n_boot=999, seed=4)


# ---------------------------------------------------------------- conf_int, se, summary
def test_conf_int_uniform_and_pointwise(fitted):
    x, y, res = fitted
    ci = res.conf_int()
    assert list(ci.columns) == ["lower", "upper"] and np.allclose(ci.index, Q9)
    np.testing.assert_allclose(ci["lower"], res.band_lower)
    # another level from the stored draws: the (1 - α) quantile of the studentized sups (each
    # divided by its √(W_b/ν), the multivariate t), times se
    boot = res.diagnostics.bootstrap
    t = np.sort(np.abs(boot.draws / res.se).max(axis=1) / boot.t_divisor)
    np.testing.assert_allclose(np.sort(boot.t_stats), t, rtol=1e-12)
    c90 = t[int(np.ceil(0.9 * (999 - 1)))]
    np.testing.assert_allclose(res.conf_int(alpha=0.10)["upper"], res.tau + c90 * res.se)
    # the unweighted band: the (1 - α) quantile of the sup statistics, one width
    # (with the studentized band's HC2 residuals, given explicitly: the same terms and normal draws)
    unw = r3d(x, y, quantiles=Q9, n_boot=999, seed=4, band="unweighted", residuals="hc2")
    sup = np.sort(unw.diagnostics.bootstrap.sup_stats)
    np.testing.assert_allclose(sup, np.sort(boot.sup_stats))            # the same draws
    c90 = sup[int(np.ceil(0.9 * (999 - 1)))]
    np.testing.assert_allclose(unw.conf_int(alpha=0.10)["upper"], unw.tau + c90)
    # pointwise: tau ± t_ν se with the analytic se (Student t with the band's ν by default)
    pw = res.conf_int(kind="pointwise")
    np.testing.assert_allclose(pw["upper"], res.pointwise_upper)
    np.testing.assert_allclose(pw["upper"], res.tau + student_t.ppf(0.975, res.dof) * res.se)
    # the unweighted band keeps the normal reference (R3D 0.1.0's inference)
    np.testing.assert_allclose(unw.conf_int(kind="pointwise")["upper"], unw.tau + norm.ppf(0.975) * unw.se)
    # without the bootstrap: the same pointwise interval (ν does not need the draws), uniform refused
    plain = r3d(x, y, quantiles=Q9, n_boot=0)
    np.testing.assert_allclose(plain.conf_int(kind="pointwise")["upper"],
                               plain.tau + student_t.ppf(0.975, plain.dof) * plain.se)
    assert plain.dof == pytest.approx(res.dof, rel=1e-12)
    with pytest.raises(ValueError, match="kind: a uniform band needs the bootstrap"):
        plain.conf_int()
    with pytest.raises(ValueError, match="kind: must be"):
        res.conf_int(kind="both")
    with pytest.raises(ValueError, match="alpha: must be strictly inside"):
        res.conf_int(alpha=1.2)


def test_summary_shows_gini_per_side_and_signed_difference():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, 400)
    # log-normal incomes, more dispersed on the right: Gini right > left
    y = [np.exp(rng.normal(1 + 0.2 * xi, 0.5 + 0.3 * (xi >= 0), 100)) for xi in x]
    res = r3d(x, y, quantiles=np.arange(1, 20) / 20, n_boot=200, seed=1, tests=("gini",))
    summ = res.summary()
    assert summ.gini["difference"] == pytest.approx(summ.gini["right"] - summ.gini["left"])
    assert summ.gini["difference"] > 0
    # log-normal Gini = 2Φ(σ/√2) - 1: about 0.43 at σ = 0.8, 0.28 at σ = 0.5 (grid truncation lowers it)
    assert 0.3 < summ.gini["right"] < 0.5 and 0.18 < summ.gini["left"] < 0.32
    assert "Gini coefficient: right" in str(summ)
    gini_row = res.tests.set_index("test").loc["gini"]
    assert gini_row.statistic == pytest.approx(abs(summ.gini["difference"]))


# ---------------------------------------------------------------- precomputed quantiles
def test_precomputed_quantiles_give_the_same_results():
    x, y = _sharp(seed=5)
    a = r3d(x, y, quantiles=Q9, n_boot=200, seed=3)
    Q = unit_quantiles(y, Q9)
    b = r3d(x, Q=Q, quantiles=Q9, n_boot=200, seed=3)
    np.testing.assert_allclose(b.tau, a.tau, atol=1e-12)
    np.testing.assert_allclose(b.se, a.se, atol=1e-12)
    np.testing.assert_allclose(b.band_upper, a.band_upper, atol=1e-12)
    assert b.h == pytest.approx(a.h, rel=1e-12)
    assert select_bandwidth(x, Q=Q, quantiles=Q9).h == pytest.approx(a.h, rel=1e-12)
    with pytest.raises(ValueError, match="quantiles: required with Q="):
        r3d(x, Q=Q)
    with pytest.raises(ValueError, match="Q: give either y"):
        r3d(x, y, Q=Q, quantiles=Q9)
    with pytest.raises(ValueError, match=r"Q: must be an \(n_units, n_quantiles\)"):
        r3d(x, Q=Q[:, :5], quantiles=Q9)
    with pytest.raises(ValueError, match="Q: row 3 decreases"):
        bad = Q.copy()
        bad[3] = bad[3][::-1]
        r3d(x, Q=bad, quantiles=Q9)
    with pytest.raises(ValueError, match="weights: apply to samples"):
        r3d(x, Q=Q, quantiles=Q9, weights=[np.ones(60)] * 300)


# ---------------------------------------------------------------- clustered multipliers
def test_singleton_clusters_equal_iid_and_clustered_se_is_the_cluster_sum():
    x, y = _sharp(seed=6)
    iid = r3d(x, y, quantiles=Q9)
    single = r3d(x, y, quantiles=Q9, cluster=np.arange(300))
    np.testing.assert_allclose(single.se, iid.se, rtol=1e-12)
    groups = np.repeat(np.arange(60), 5)[np.random.default_rng(0).permutation(300)]
    cl = r3d(x, y, quantiles=Q9, cluster=groups)
    inf = cl.diagnostics.influence  # CR3 terms (see the next test); se sums them within clusters
    terms = pd.DataFrame(inf.full(300)).groupby(groups).sum().to_numpy()
    np.testing.assert_allclose(cl.se, np.sqrt((terms**2).sum(axis=0)), rtol=1e-12)
    assert cl.n_clusters == 60 and np.allclose(cl.tau, iid.tau)


def test_clustered_bootstrap_draws_one_multiplier_per_cluster():
    """Units sharing a cluster move together: with three clusters the draws are
    G_b = Σ_g ξ_gb Σ_{i∈g} φ_i, so every draw lies in a 3-D span."""
    x, y = _sharp(seed=7)
    three = (x > 0.3).astype(int) + 2 * (x < -0.3)       # two clusters on each side, one shared
    with pytest.warns(UserWarning, match="cluster: only 2 .left. and 2 .right. clusters"):
        res = r3d(x, y, quantiles=Q9, cluster=three, n_boot=50, seed=1)
    G = res.diagnostics.bootstrap.draws
    assert np.linalg.matrix_rank(G, tol=1e-10 * np.abs(G).max()) <= 3
    with pytest.raises(ValueError, match="multipliers: cannot be combined with cluster="):
        r3d(x, y, quantiles=Q9, cluster=three, multipliers=np.ones((300, 5)))


def test_cluster_column_with_data_frame():
    x, y = _sharp(120, 20, seed=8)
    state = np.arange(120) % 12
    df = pd.DataFrame({"u": np.repeat(np.arange(120), 20), "x": np.repeat(x, 20), "y": np.concatenate(y),
                       "st": np.repeat(state, 20)})
    a = r3d("x", "y", data=df, unit="u", cluster="st", quantiles=Q9, h=0.6)
    b = r3d(x, y, cluster=state, quantiles=Q9, h=0.6)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-12)
    df.loc[3, "st"] = 99  # varies within unit 0
    with pytest.raises(ValueError, match="cluster: column 'st' must be constant within each unit"):
        r3d("x", "y", data=df, unit="u", cluster="st", quantiles=Q9, h=0.6)
    with pytest.raises(ValueError, match=r"cluster: must have one label per unit"):
        r3d(x, y, cluster=state[:-1], quantiles=Q9)
    with pytest.raises(ValueError, match="cluster: has 1 missing labels"):
        r3d(x, y, cluster=np.where(np.arange(120) == 5, None, state).astype(object), quantiles=Q9)


# ---------------------------------------------------------------- inputs a user can type
@pytest.mark.parametrize("bad_y,exc,msg", [
    ({i: np.ones(3) for i in range(50)}, TypeError, "y: must be a sequence"),
    ({1.0, 2.0}, TypeError, "y: must be a sequence"),
    ((np.ones(3) for _ in range(50)), TypeError, "y: must be a sequence"),
    ([np.ones(3) * 1j] * 50, TypeError, "y: unit 0: must be numeric, got complex"),
    ([np.array(["1", "2"])] * 50, TypeError, "y: unit 0: must be numeric, got strings"),
    ([np.array([1.0, "a"], dtype=object)] * 50, TypeError, "y: unit 0: must be numeric, found str"),
])
def test_y_that_would_be_coerced_is_refused(bad_y, exc, msg):
    x = np.linspace(-1, 1, 50)
    with pytest.raises(exc, match=msg):
        r3d(x, bad_y, quantiles=Q9, h=0.5)


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(h="0.5"), TypeError, "h: must be numeric, got strings"),
    (dict(b="wide"), TypeError, "b: must be numeric"),
    (dict(min_units="10"), TypeError, "min_units: must be an integer"),
    (dict(n_boot=10.0), TypeError, "n_boot: must be an integer"),
    (dict(seed=-1), ValueError, "seed: must be >= 0"),
    (dict(seed="42"), TypeError, "seed: must be None, an integer"),
    (dict(seed=1.5), TypeError, "seed: must be None, an integer"),
    (dict(cutoff="0"), TypeError, "cutoff: must be a real number"),
    (dict(alpha="0.05"), TypeError, "alpha: must be a number"),
    (dict(multipliers="xi"), TypeError, "multipliers: must be numeric"),
    (dict(test_ranges="low"), TypeError, "test_ranges: must be a pair"),
    (dict(test_ranges=[0.2, "x"]), TypeError, "test_ranges: must be numeric"),
    (dict(h=0.5, b=0.6, p=0), ValueError, "b: no bias correction"),
    (dict(s=3), ValueError, "s: the bandwidth's order s = 3 cannot exceed"),
])
def test_bad_values_name_the_argument(kwargs, exc, msg):
    x, y = _sharp(80, 10, seed=9)
    with pytest.raises(exc, match=msg):
        r3d(x, y, quantiles=Q9, **kwargs)


def test_complex_or_text_running_variable_and_empty_frame():
    x, y = _sharp(80, 10, seed=10)
    with pytest.raises(TypeError, match="x: must be numeric, got complex"):
        r3d(x + 0j, y, quantiles=Q9)
    with pytest.raises(TypeError, match="x: must be numeric, got strings"):
        r3d(x.astype(str), y, quantiles=Q9)
    with pytest.raises(ValueError, match="data: the DataFrame is empty"):
        r3d("x", "y", data=pd.DataFrame({"x": [], "y": [], "u": []}), unit="u")
    df = pd.DataFrame({"u": [0, 0, 1, 1], "x": ["a", "a", "b", "b"], "y": [1.0, 2, 3, 4]})
    with pytest.raises(TypeError, match="x: column 'x': must be numeric"):
        r3d("x", "y", data=df, unit="u")


def test_seed_is_checked_before_any_work(monkeypatch):
    import r3d_teach.core.estimator as est

    called = []
    monkeypatch.setattr(est, "prepare_inputs", lambda *a, **k: called.append(1))
    with pytest.raises(TypeError, match="seed"):
        r3d(np.zeros(3), [[1.0]] * 3, seed="x")
    assert not called


# ---------------------------------------------------------------- extreme values, degenerate data
@pytest.mark.parametrize("factor", [1e-170, 1e-300, 1e150, 1e300])
def test_scale_equivariance_without_overflow(factor):
    x, y = _sharp(200, 40, seed=11)
    base = r3d(x, y, quantiles=Q9, n_boot=200, seed=2)
    big = r3d(x, [v * factor for v in y], quantiles=Q9, n_boot=200, seed=2)
    for name in ("tau", "se", "band_upper", "plus"):
        v = getattr(big, name)
        assert np.all(np.isfinite(v)), name
        np.testing.assert_allclose(v / factor, getattr(base, name), rtol=1e-9, err_msg=name)
    assert big.h == pytest.approx(base.h, rel=1e-9)
    np.testing.assert_allclose(big.tests.p_value, base.tests.p_value)


def test_shift_invariance():
    x, y = _sharp(200, 40, seed=12)
    base = r3d(x, y, quantiles=Q9, n_boot=200, seed=2)
    moved = r3d(x, [v + 1e6 for v in y], quantiles=Q9, n_boot=200, seed=2)
    np.testing.assert_allclose(moved.tau, base.tau, atol=1e-6)
    np.testing.assert_allclose(moved.se, base.se, rtol=1e-6)
    assert moved.h == pytest.approx(base.h, rel=1e-6)


def test_identical_units_give_zero_effect_zero_band_and_p_one():
    rng = np.random.default_rng(13)
    x = rng.uniform(-1, 1, 200)
    sample = rng.normal(size=50)
    res = r3d(x, [sample] * 200, quantiles=Q9, n_boot=199, seed=0)
    assert np.all(res.tau == 0) and np.all(res.se == 0)
    np.testing.assert_array_equal(res.band_lower, res.band_upper)
    assert np.all(res.tests.p_value == 1.0)
    np.testing.assert_allclose(res.plus, np.quantile(sample, Q9), rtol=1e-12)


def test_huge_values_near_the_float_limit():
    x, y = _sharp(150, 30, seed=14)
    top = max(np.abs(np.concatenate(y)).max(), 1.0)
    y = [v / top * 8e307 for v in y]
    res = r3d(x, y, quantiles=Q9, n_boot=100, seed=0)
    assert np.all(np.isfinite(res.tau)) and np.all(np.isfinite(res.band_upper))


# ---------------------------------------------------------------- budgets and grids
def test_a_bootstrap_beyond_the_budget_fails_at_once_with_the_estimate():
    import time

    x, y = _sharp(100, 10, seed=15)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"n_boot: 10,000,000,000 draws would keep .* GiB .* minutes"):
        r3d(x, y, quantiles=Q9, n_boot=10**10)
    assert time.perf_counter() - t0 < 5


def test_gini_test_refuses_a_grid_that_cannot_carry_it():
    rng = np.random.default_rng(16)
    x = rng.uniform(-1, 1, 200)
    y = [np.exp(rng.normal(1, 0.5, 50)) for _ in x]
    with pytest.raises(ValueError, match="tests: the Gini test needs a grid of at least 5 levels"):
        r3d(x, y, quantiles=[0.25, 0.75], tests=("gini",), n_boot=50, seed=0)
    with pytest.warns(UserWarning, match=r"tests: the grid \[0.4, 0.6\] is far from spanning"):
        r3d(x, y, quantiles=np.linspace(0.4, 0.6, 9), tests=("gini",), n_boot=50, seed=0)
    from r3d_teach.core.gini import gini_from_quantiles

    with pytest.raises(ValueError, match="quantiles: the Gini coefficient integrates .* at least 2 levels; got 0"):
        gini_from_quantiles(np.zeros(0), np.zeros(0))


def test_few_clusters_in_the_windows_warn():
    x, y = _sharp(seed=17)
    with pytest.warns(UserWarning, match=r"cluster: only \d+ \(left\) and \d+ \(right\) clusters"):
        r3d(x, y, quantiles=Q9, h=0.5, cluster=np.arange(300) % 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r3d(x, y, quantiles=Q9, h=0.5, cluster=np.arange(300) % 150)  # plenty of clusters: silent


def test_clustered_se_uses_cr3_residuals_from_the_hat_matrix():
    """With clusters, HC3 becomes CR3: each cluster's residuals times (I - H_gg)^-1, H the hat
    matrix of the local quadratic at h (b = h); checked against a direct weighted least squares."""
    x, y = _sharp(120, 20, seed=18)
    g = (np.arange(120) // 4)[np.argsort(x)]          # clusters of 4 units adjacent in x
    res = r3d(x, y, quantiles=Q9, method="simple", h=0.6, cluster=g, residuals="hc3")
    Q = res.diagnostics.unit_quantiles
    phi = np.zeros_like(Q)
    for side, sign in ((x >= 0, 1.0), (x < 0, -1.0)):
        u = x / 0.6
        k = np.where(side, np.clip(1 - np.abs(u), 0, None), 0.0)
        R = np.vander(u, 3, increasing=True)
        Sinv = np.linalg.inv(R.T @ (k[:, None] * R))
        H = (R @ Sinv @ R.T) * k[None, :]
        w = k * (R @ Sinv[:, 0])
        e = np.where(k[:, None] > 0, Q - H @ Q, 0.0)
        for c in np.unique(g):
            m = (g == c) & (k > 0)
            if m.any():
                e[m] = np.linalg.solve(np.eye(m.sum()) - H[np.ix_(m, m)], e[m])
        phi += sign * w[:, None] * e
    sums = pd.DataFrame(phi).groupby(g).sum().to_numpy()
    np.testing.assert_allclose(res.se, np.sqrt((sums**2).sum(axis=0)), rtol=1e-10)
