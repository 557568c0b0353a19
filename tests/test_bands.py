"""The uniform bands and their tests (r3d_teach.core.bootstrap): the studentized band (the default)
against the unweighted one (R3D 0.1.0's), the rule for levels without randomness, and the
per-quantile inference every fit carries."""
import numpy as np
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

from r3d_teach import r3d
from r3d_teach.core.bootstrap import critical_value, multiplier_bootstrap
from r3d_teach.core.dof import bell_mccaffrey_dof
from r3d_teach.core.quantiles import grid_weights

Q9 = np.arange(1, 10) / 10
Q3 = np.array([0.25, 0.5, 0.75])


def _hetero(n=400, k=80, seed=0):
    """Log-normal units: the effect and its standard error grow along q (a skewed outcome)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    return x, [np.exp(rng.normal(1 + 0.3 * xi + 0.4 * (xi >= 0), 0.6 + 0.3 * (xi >= 0), k)) for xi in x]


def _columns_with_norms(rng, n, norms):
    """An n × M influence matrix with correlated columns of the given norms (se)."""
    base = rng.normal(size=(n, len(norms)))
    phi = base + 0.8 * base[:, :1]
    return phi / np.sqrt((phi**2).sum(axis=0)) * np.asarray(norms)


# --------------------------------------------------------------------------- equal se
@pytest.mark.parametrize("path", ["unit multipliers", "covariance root"])
def test_equal_se_reduces_to_the_unweighted_band(path):
    """With se(q) = s for every q, max|G|/se = max|G|/s: the studentized band τ̂ ± ĉ s is the
    unweighted τ̂ ± c, and the nullity tests are the same test."""
    rng = np.random.default_rng(1)
    M, s = 12, 0.3
    phi = _columns_with_norms(rng, 60, np.full(M, s))
    tau = rng.normal(0, 0.5, M)
    q = np.arange(1, M + 1) / (M + 1)
    if path == "unit multipliers":
        kw = dict(multipliers=rng.normal(size=(60, 499)))
    else:  # n > M: draws from the M × M covariance root, the same normals for both bands
        kw = dict(n_boot=499)
    out = {band: multiplier_bootstrap(phi, tau, q, band=band, tests=("nullity",), alpha=0.1,
                                      rng=np.random.default_rng(5), **kw) for band in ("studentized", "unweighted")}
    stu, unw = out["studentized"], out["unweighted"]
    np.testing.assert_allclose(stu.se, s, rtol=1e-12)
    np.testing.assert_allclose(stu.t_stats * s, unw.sup_stats, rtol=1e-12)
    assert stu.crit_value * s == pytest.approx(unw.crit_value, rel=1e-12)
    np.testing.assert_allclose(stu.band_lower, unw.band_lower, rtol=0, atol=1e-12)
    np.testing.assert_allclose(stu.band_upper, unw.band_upper, rtol=0, atol=1e-12)
    ns, nu = stu.tests.iloc[0], unw.tests.iloc[0]
    assert (ns.kind, nu.kind) == ("max |tau|/se", "max |tau|")
    assert ns.statistic * s == pytest.approx(nu.statistic, rel=1e-12)
    assert ns.p_value == nu.p_value


# --------------------------------------------------------------------------- the studentized band
def test_studentized_band_and_tests_follow_their_formulas():
    """Band τ̂ ± ĉ se with ĉ the (1-α) quantile of T_b = max_q |G_b|/se / √(W_b/ν) (W_b ~ χ²_ν, the
    multivariate t); nullity max|τ̂|/se against the same T_b; homogeneity on the centred process,
    each level divided by the exact sd of G(q) - Σ_q' w_q' G(q') computed from Φ, the same
    √(W_b/ν); p = (1 + #{S_b >= T}) / (1 + B)."""
    x, y = _hetero()
    res = r3d(x, y, quantiles=Q9, n_boot=999, seed=3, tests=("nullity", "homogeneity"))
    boot = res.diagnostics.bootstrap
    G, se, div = boot.draws, res.se, boot.t_divisor
    assert res.band == "studentized" and res.residuals == "hc2" and np.all(se > 0)
    assert np.isfinite(res.dof) and boot.dof == res.dof and div.shape == (999,)
    # the divisors are √(χ²_ν/ν) drawn after the 999 normal blocks of the seed's generator
    rng = np.random.default_rng(3)
    rng.standard_normal((999, 9))
    np.testing.assert_allclose(div, np.sqrt(rng.chisquare(res.dof, 999) / res.dof), rtol=1e-12)
    T_b = np.abs(G / se).max(axis=1) / div
    np.testing.assert_allclose(boot.t_stats, T_b, rtol=1e-12)
    c = np.sort(T_b)[int(np.ceil(0.95 * 998))]
    assert res.crit_value == pytest.approx(c, rel=1e-12)
    # the half-width is ĉ se(q): its ratio to 1.96 se is ĉ/1.96 at every level
    np.testing.assert_allclose((res.band_upper - res.tau) / (norm.ppf(0.975) * se), c / norm.ppf(0.975), rtol=1e-12)
    np.testing.assert_allclose(res.tau - res.band_lower, res.band_upper - res.tau, rtol=1e-12)
    t = res.tests.set_index("test")
    T = np.abs(res.tau / se).max()
    assert t.loc["nullity", "statistic"] == pytest.approx(T, rel=1e-12)
    assert t.loc["nullity", "p_value"] == pytest.approx((1 + np.sum(T_b >= T)) / 1000)
    phi = res.diagnostics.influence.terms
    w = grid_weights(Q9) / grid_weights(Q9).sum()
    sd_c = np.sqrt(((phi - (phi @ w)[:, None]) ** 2).sum(axis=0))
    Th = np.max(np.abs(res.tau - res.tau @ w) / sd_c)
    Sh = np.max(np.abs(G - (G @ w)[:, None]) / sd_c, axis=1) / div
    assert t.loc["homogeneity", "statistic"] == pytest.approx(Th, rel=1e-10)
    assert t.loc["homogeneity", "critical_value"] == pytest.approx(critical_value(Sh, 0.05), rel=1e-10)
    assert t.loc["homogeneity", "p_value"] == pytest.approx((1 + np.sum(Sh >= Th)) / 1000)
    assert list(t["kind"]) == ["max |tau|/se", "max |tau - mean|/sd"]
    # another level from the stored statistics, no refit
    c90 = np.sort(T_b)[int(np.ceil(0.9 * 998))]
    np.testing.assert_allclose(res.conf_int(alpha=0.1)["upper"], res.tau + c90 * se, rtol=1e-12)


def test_studentized_band_is_narrow_where_the_estimate_is_precise():
    """On a skewed outcome se(q) grows along q; the unweighted band's one width is set by the
    noisiest level, the studentized band follows se."""
    x, y = _hetero()
    stu = r3d(x, y, quantiles=Q9, n_boot=999, seed=3)
    unw = r3d(x, y, quantiles=Q9, n_boot=999, seed=3, band="unweighted")
    np.testing.assert_array_equal(stu.tau, unw.tau)
    half_s, half_u = stu.band_upper - stu.tau, unw.band_upper - unw.tau
    assert np.ptp(half_u) < 1e-12 and stu.se[-1] > 2 * stu.se[0]
    assert half_s[0] < half_u[0] and half_s[4] < half_u[4]
    # the unweighted c is at least the largest level's own pointwise quantile: c >= 1.96 se_max roughly
    assert unw.crit_value > norm.ppf(0.975) * stu.se.max() * 0.9


def test_scaling_the_outcome_leaves_the_studentized_statistics_unchanged():
    x, y = _hetero(seed=4)
    a = r3d(x, y, quantiles=Q9, n_boot=299, seed=1)
    b = r3d(x, [1000.0 * v for v in y], quantiles=Q9, n_boot=299, seed=1)
    assert b.crit_value == pytest.approx(a.crit_value, rel=1e-9)                  # ĉ is scale-free
    np.testing.assert_allclose(b.band_upper, 1000.0 * a.band_upper, rtol=1e-9)
    np.testing.assert_allclose(b.tests.statistic, a.tests.statistic, rtol=1e-9)
    np.testing.assert_array_equal(b.tests.p_value, a.tests.p_value)
    ua = r3d(x, y, quantiles=Q9, n_boot=299, seed=1, band="unweighted")
    ub = r3d(x, [1000.0 * v for v in y], quantiles=Q9, n_boot=299, seed=1, band="unweighted")
    assert ub.crit_value == pytest.approx(1000.0 * ua.crit_value, rel=1e-9)       # c is on τ̂'s scale
    np.testing.assert_allclose(ub.tests.statistic, 1000.0 * ua.tests.statistic, rtol=1e-9)
    # extreme magnitudes are fitted on an exactly rescaled outcome and scaled back: the same rule
    tiny = r3d(x, [1e-300 * v for v in y], quantiles=Q9, n_boot=299, seed=1)
    assert tiny.diagnostics.options["scale"] != 1.0
    assert tiny.crit_value == pytest.approx(a.crit_value, rel=1e-9)
    np.testing.assert_allclose(tiny.tests.statistic, a.tests.statistic, rtol=1e-9)
    np.testing.assert_allclose(tiny.band_upper, 1e-300 * a.band_upper, rtol=1e-9)
    tiny_u = r3d(x, [1e-300 * v for v in y], quantiles=Q9, n_boot=299, seed=1, band="unweighted")
    assert tiny_u.crit_value == pytest.approx(1e-300 * ua.crit_value, rel=1e-9)
    np.testing.assert_allclose(tiny_u.tests.statistic, 1e-300 * ua.tests.statistic, rtol=1e-9)


def test_studentized_band_with_given_multipliers_and_with_clusters():
    x, y = _hetero(n=200, seed=6)
    # multipliers = identity: draw i is unit i's influence term, so T_i = max_q |φ_i(q)|/se(q)
    res = r3d(x, y, quantiles=Q9, h=0.6, multipliers=np.eye(200), seed=1)
    phi = res.diagnostics.influence.full(200)
    div = res.diagnostics.bootstrap.t_divisor
    np.testing.assert_allclose(res.diagnostics.bootstrap.t_stats, np.abs(phi / res.se).max(axis=1) / div, rtol=1e-12)
    # clusters: se from the cluster sums, the draws one multiplier per cluster, the band ĉ se
    g = np.arange(200) % 40
    cl = r3d(x, y, quantiles=Q9, h=0.6, cluster=g, n_boot=499, seed=2)
    sums = np.zeros((40, 9))
    np.add.at(sums, g, cl.diagnostics.influence.full(200))
    np.testing.assert_allclose(cl.se, np.sqrt((sums**2).sum(axis=0)), rtol=1e-12)
    boot = cl.diagnostics.bootstrap
    np.testing.assert_allclose(boot.t_stats, np.abs(boot.draws / cl.se).max(axis=1) / boot.t_divisor, rtol=1e-12)
    assert cl.dof == pytest.approx(bell_mccaffrey_dof(cl.diagnostics.fits, "hc2", g), rel=1e-12)
    assert cl.dof < r3d(x, y, quantiles=Q9, h=0.6, n_boot=9, seed=2).dof      # 40 clusters: fewer pieces
    np.testing.assert_allclose(cl.band_upper - cl.tau, cl.crit_value * cl.se, rtol=1e-12)


# --------------------------------------------------------------------------- simulation properties
def test_simultaneous_coverage_of_gaussian_draws_and_even_exceedance():
    """Φ known exactly (heteroskedastic: se from 0.1 to 1): a fresh draw G* of the multiplier
    process is exchangeable with the B bootstrap draws, so P(max_q |G*|/se <= ĉ) = (k+1)/(B+1)
    = 0.95 exactly (k = ⌈0.95 (B-1)⌉); over R repetitions the coverage is 0.95 ± 3 MC s.e.
    Per level, the studentized band is exceeded equally often everywhere, the unweighted band
    mostly at the noisiest level."""
    rng = np.random.default_rng(11)
    n, M, B, R = 40, 15, 199, 1000
    se = np.linspace(0.1, 1.0, M)
    phi = _columns_with_norms(rng, n, se)
    q = np.arange(1, M + 1) / (M + 1)
    covered = {"studentized": 0, "unweighted": 0}
    exceed = {"studentized": np.zeros(M), "unweighted": np.zeros(M)}
    for _ in range(R):
        xi = rng.normal(size=(n, B))
        g_star = rng.normal(size=n) @ phi
        for band in covered:
            out = multiplier_bootstrap(phi, np.zeros(M), q, multipliers=xi, band=band)
            half = out.band_upper
            covered[band] += bool(np.all(np.abs(g_star) <= half))
            exceed[band] += np.abs(g_star) > half
    expected = (np.ceil(0.95 * (B - 1)) + 1) / (B + 1)
    assert expected == pytest.approx(0.95)
    mc_se = np.sqrt(expected * (1 - expected) / R)
    for band in covered:
        assert abs(covered[band] / R - expected) <= 3 * mc_se, band
    # per level: under the studentized band every level is missed at the same rate P(|Z| > ĉ), so
    # the rates stay within 5 binomial s.e. of their mean; the unweighted band's misses pile up
    # at the noisiest levels (never at the most precise ones), far outside that range
    def uneven(rate):
        p_bar = rate.mean()
        return np.max(np.abs(rate - p_bar)) / np.sqrt(p_bar * (1 - p_bar) / R)

    rate_s, rate_u = exceed["studentized"] / R, exceed["unweighted"] / R
    assert uneven(rate_s) <= 5 < uneven(rate_u)
    assert rate_u[:5].sum() == 0 and rate_u[-1] > 3 * rate_s.mean()


# --------------------------------------------------------------------------- levels without randomness
def _censored(n=300, seed=2):
    """Every unit has 30 % zeros: its type-7 quantiles at q = 0.1, 0.2 are exactly 0."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    return x, [np.concatenate([np.zeros(60), rng.normal(3 + xi + (xi >= 0), 1 + 0.5 * (xi >= 0), 140)]) for xi in x]


def test_levels_where_every_unit_is_identical():
    x, y = _censored()
    res = r3d(x, y, quantiles=Q9, n_boot=999, seed=1)
    assert np.all(res.se[:2] == 0) and np.all(res.tau[:2] == 0) and np.all(res.se[2:] > 0)
    for v in (res.band_lower, res.band_upper, res.pointwise_lower, res.pointwise_upper, res.z, res.p_value):
        assert np.all(np.isfinite(v))
    # zero width at τ̂ = 0 there, ĉ se elsewhere
    np.testing.assert_array_equal(res.band_lower[:2], 0.0)
    np.testing.assert_array_equal(res.band_upper[:2], 0.0)
    assert np.all(res.band_upper[2:] - res.band_lower[2:] > 0)
    # per quantile: z = 0, p = 1, a zero-width interval
    np.testing.assert_array_equal(res.z[:2], 0.0)
    np.testing.assert_array_equal(res.p_value[:2], 1.0)
    # nullity: those levels leave the maxima (τ̂ = 0 there: no infinite statistic)
    boot = res.diagnostics.bootstrap
    live = res.se > 0
    T_b = np.abs(boot.draws[:, live] / res.se[live]).max(axis=1) / boot.t_divisor
    np.testing.assert_allclose(boot.t_stats, T_b, rtol=1e-12)
    t = res.tests.set_index("test")
    T = np.abs(res.tau[live] / res.se[live]).max()
    assert t.loc["nullity", "statistic"] == pytest.approx(T, rel=1e-12)
    assert t.loc["nullity", "p_value"] == pytest.approx((1 + np.sum(T_b >= T)) / 1000)
    # homogeneity: the centred process over the whole grid (a level without randomness of its own
    # is centred by the random mean, so it carries randomness there and stays in)
    phi = res.diagnostics.influence.terms
    w = grid_weights(Q9) / grid_weights(Q9).sum()
    sd_c = np.sqrt(((phi - (phi @ w)[:, None]) ** 2).sum(axis=0))
    assert np.all(sd_c > 0)
    assert t.loc["homogeneity", "statistic"] == pytest.approx(np.max(np.abs(res.tau - res.tau @ w) / sd_c), rel=1e-10)


def test_a_deterministic_nonzero_level_is_an_infinite_t_statistic():
    """A level with se = 0 but τ̂ ≠ 0 (every unit identical within each side): a zero-width band
    at τ̂, out of the draws' maxima, and an infinite observed t-statistic: nullity p = 1/(B + 1),
    so the test rejects exactly as the band excludes 0 there."""
    rng = np.random.default_rng(3)
    phi = _columns_with_norms(rng, 30, [0.2, 0.5, 0.3, 0.4])
    phi[:, 0] = 0.0
    q = np.array([0.2, 0.4, 0.6, 0.8])
    tau = np.array([5.0, 0.1, -0.2, 0.3])
    xi = rng.normal(size=(30, 199))
    out = multiplier_bootstrap(phi, tau, q, multipliers=xi, tests=("nullity",), dof=8.0,
                               rng=np.random.default_rng(0))
    assert out.band_lower[0] == out.band_upper[0] == 5.0
    G = xi.T @ phi
    np.testing.assert_allclose(out.t_stats, np.abs(G[:, 1:] / out.se[1:]).max(axis=1) / out.t_divisor, rtol=1e-12)
    row = out.tests.iloc[0]
    assert row.statistic == np.inf and row.p_value == pytest.approx(1 / 200)
    # τ̂ = 0 at that level: the maximum over the others, no rejection from it
    tau0 = np.array([0.0, 0.1, -0.2, 0.3])
    out0 = multiplier_bootstrap(phi, tau0, q, multipliers=xi, tests=("nullity",), dof=8.0,
                                rng=np.random.default_rng(0))
    assert out0.tests.statistic.iloc[0] == pytest.approx(np.max(np.abs(tau0[1:]) / out0.se[1:]))
    assert out0.tests.p_value.iloc[0] > 0.5


def test_every_level_without_randomness_gives_zero_width_and_no_rejection():
    """Identical units everywhere: se = 0 at every level, τ̂ = 0, every draw 0: ĉ = 0, a
    zero-width band, statistic 0 and p = 1 for every test (the centred Gini test included:
    identical units never reject)."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, 200)
    sample = np.exp(rng.normal(1, 0.5, 100))
    res = r3d(x, [sample] * 200, quantiles=np.arange(1, 20) / 20, h=0.6, n_boot=299, seed=0,
              tests=("nullity", "homogeneity", "gini"))
    assert np.all(res.se == 0) and np.all(res.tau == 0)
    np.testing.assert_array_equal(res.band_lower, res.band_upper)
    assert res.crit_value == 0
    np.testing.assert_array_equal(res.tests.p_value, 1.0)
    np.testing.assert_array_equal(res.tests.statistic, 0.0)
    assert list(res.tests.kind) == ["max |tau|/se", "max |tau - mean|/sd", "|Gini(+) - Gini(-)|"]
    assert "every se is 0, zero width" in str(res.summary())
    # a deterministic non-zero effect everywhere (every draw 0): ĉ = 0, the band is τ̂ itself and
    # the tests reject with p = 1/(B + 1)
    out = multiplier_bootstrap(np.zeros((5, 3)), np.array([1.0, 1.0, 2.0]), Q3, n_boot=99,
                               rng=np.random.default_rng(1), tests=("nullity", "homogeneity"), dof=4.0)
    assert out.crit_value == 0 and np.all(out.band_lower == out.band_upper)
    np.testing.assert_array_equal(out.tests.statistic, np.inf)
    np.testing.assert_allclose(out.tests.p_value, 0.01)
    # constant over the grid: homogeneity does not reject
    flat = multiplier_bootstrap(np.zeros((5, 3)), np.ones(3), Q3, n_boot=99, rng=np.random.default_rng(1),
                                tests=("nullity", "homogeneity"), dof=4.0)
    assert flat.tests.p_value.tolist() == [0.01, 1.0]


def test_band_argument_is_checked():
    with pytest.raises(ValueError, match="band: must be one of 'studentized', 'unweighted', got 'wide'"):
        multiplier_bootstrap(np.ones((3, 2)), np.zeros(2), np.array([0.3, 0.6]), n_boot=5, band="wide")
    x, y = _hetero(n=100)
    with pytest.raises(ValueError, match=r"band: unknown band 'sup'; choose one of \('studentized', 'unweighted'\)"):
        r3d(x, y, quantiles=Q9, band="sup")


# --------------------------------------------------------------------------- per-quantile inference
def test_per_quantile_z_p_values_and_pointwise_intervals():
    x, y = _hetero(seed=7)
    res = r3d(x, y, quantiles=Q9, n_boot=0)
    z = res.tau / res.se
    nu = bell_mccaffrey_dof(res.diagnostics.fits, "hc2")
    assert res.use_t and res.dof == pytest.approx(nu, rel=1e-12) and 1 < nu < 300
    np.testing.assert_allclose(res.z, z, rtol=1e-14)
    # Student t with the Bell-McCaffrey nu (Imbens and Kolesar 2016), not the normal
    np.testing.assert_allclose(res.p_value, 2 * student_t.sf(np.abs(z), nu), rtol=1e-10, atol=1e-15)
    assert np.all(res.p_value > 2 * norm.sf(np.abs(z)))
    t975 = student_t.ppf(0.975, nu)
    np.testing.assert_allclose(res.pointwise_lower, res.tau - t975 * res.se, rtol=1e-12)
    np.testing.assert_allclose(res.pointwise_upper, res.tau + t975 * res.se, rtol=1e-12)
    df = res.to_frame()
    np.testing.assert_allclose(df["p_value"], res.p_value)
    # use_t=False: rdrobust's normal reference
    nrm = r3d(x, y, quantiles=Q9, n_boot=0, use_t=False)
    np.testing.assert_allclose(nrm.p_value, 2 * (1 - norm.cdf(np.abs(z))), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(nrm.pointwise_upper, res.tau + 1.959963984540054 * res.se, rtol=1e-12)
    # the pointwise interval does not depend on the bootstrap
    boot = r3d(x, y, quantiles=Q9, n_boot=199, seed=1, alpha=0.1)
    np.testing.assert_allclose(boot.pointwise_upper, boot.tau + student_t.ppf(0.95, nu) * boot.se, rtol=1e-12)
    # a deterministic non-zero effect: z = ±inf, p = 0
    from dataclasses import replace

    det = replace(res, se=np.where(np.arange(9) == 4, 0.0, res.se), pointwise_lower=None, pointwise_upper=None)
    assert det.z[4] == np.sign(res.tau[4]) * np.inf and det.p_value[4] == 0.0
    assert det.pointwise_lower[4] == det.pointwise_upper[4] == res.tau[4]


# --------------------------------------------------------------------------- the multivariate-t critical value
def test_infinite_dof_is_the_gaussian_critical_value():
    """ν → ∞: √(W/ν) → 1, and the χ² draws come after the normal blocks, so the normal draws (and
    the unweighted statistics) are the same; ν = ∞ is exactly the Gaussian critical value."""
    rng = np.random.default_rng(2)
    phi = _columns_with_norms(rng, 60, np.linspace(0.1, 1.0, 12))
    tau, q = rng.normal(0, 0.5, 12), np.arange(1, 13) / 13
    run = {d: multiplier_bootstrap(phi, tau, q, n_boot=999, rng=np.random.default_rng(5), dof=d,
                                   tests=("nullity", "homogeneity")) for d in (None, np.inf, 1e12, 30.0)}
    gauss = run[None]
    assert gauss.t_divisor is None and gauss.dof is None
    np.testing.assert_array_equal(run[np.inf].t_stats, gauss.t_stats)
    assert run[1e12].crit_value == pytest.approx(gauss.crit_value, rel=1e-5)
    np.testing.assert_allclose(run[1e12].tests.critical_value, gauss.tests.critical_value, rtol=1e-5)
    np.testing.assert_array_equal(run[30.0].sup_stats, gauss.sup_stats)          # the same normal draws
    np.testing.assert_allclose(run[30.0].t_stats * run[30.0].t_divisor, gauss.t_stats, rtol=1e-12)
    assert run[30.0].crit_value > gauss.crit_value


@pytest.mark.parametrize("nu", [3.0, 10.0])
def test_one_level_gives_the_student_t_interval(nu):
    """M = 1: T_b = |Z_b|/√(W_b/ν) is |t_ν|, so ĉ is t_{ν,1-α/2} up to the Monte Carlo error of a
    sample quantile, √(α(1-α)/B)/f(c) with f the density of |t_ν| (4 such errors allowed)."""
    from scipy.stats import t as student

    B, alpha = 20_000, 0.05
    phi = np.random.default_rng(1).normal(size=(40, 1))
    out = multiplier_bootstrap(phi, np.array([0.7]), np.array([0.5]), n_boot=B, rng=np.random.default_rng(3),
                               dof=nu, alpha=alpha)
    c = student.ppf(1 - alpha / 2, nu)
    mc = np.sqrt(alpha * (1 - alpha) / B) / (2 * student.pdf(c, nu))
    assert abs(out.crit_value - c) < 4 * mc
    assert abs(out.crit_value - norm.ppf(1 - alpha / 2)) > 10 * mc          # not the Gaussian value
    np.testing.assert_allclose(out.band_upper - 0.7, out.crit_value * out.se, rtol=1e-12)


def test_coverage_of_a_multivariate_t_process():
    """The estimate is Gaussian around the truth with covariance σ²Φ₀'Φ₀ and its standard error is
    σ̂ se₀ with νσ̂²/σ² ~ χ²_ν (ν = 4): the studentized error max|τ̂ - τ|/(σ̂ se₀) is a
    multivariate t, exchangeable with the B draws, so the band covers with probability exactly
    (k + 1)/(B + 1) = 0.95 (k = ⌈0.95(B - 1)⌉); over R repetitions within 3 MC s.e.  The Gaussian
    critical value undercovers."""
    rng = np.random.default_rng(21)
    n, M, B, R, nu = 40, 15, 199, 1000, 4.0
    phi0 = _columns_with_norms(rng, n, np.linspace(0.1, 1.0, M))
    q = np.arange(1, M + 1) / (M + 1)
    covered = {"t": 0, "gauss": 0}
    for _ in range(R):
        err = rng.normal(size=n) @ phi0
        sig = np.sqrt(rng.chisquare(nu) / nu)
        xi = rng.normal(size=(n, B))
        for name, d in (("t", nu), ("gauss", None)):
            out = multiplier_bootstrap(sig * phi0, err, q, multipliers=xi, dof=d, rng=rng)
            covered[name] += bool(np.all(out.band_lower <= 0) and np.all(0 <= out.band_upper))
    expected = (np.ceil(0.95 * (B - 1)) + 1) / (B + 1)
    mc_se = np.sqrt(expected * (1 - expected) / R)
    assert abs(covered["t"] / R - expected) <= 3 * mc_se
    assert covered["gauss"] / R < expected - 5 * mc_se


@pytest.mark.parametrize("B", [199, 999])
def test_the_band_excludes_zero_exactly_when_nullity_rejects(B):
    """ĉ is the (k+1)-th smallest T_b with k = ⌈(1-α)(B-1)⌉ and p = (1 + #{T_b ≥ T})/(1 + B): when
    α(B + 1) is an integer (B = 199, 999 at α = 0.05) T > ĉ ⇔ p ≤ α, so the band excludes 0 at some
    level exactly when the test rejects; levels with se = 0 and τ̂ ≠ 0 included."""
    rng = np.random.default_rng(8)
    q = np.arange(1, 8) / 8
    agree = {True: 0, False: 0}
    for r in range(120):
        phi = _columns_with_norms(rng, 25, rng.uniform(0.2, 1.0, 7))
        tau = rng.normal(0, 1.0, 7) * rng.uniform(0.2, 1.5)
        if r % 5 == 0:                         # a level without randomness, τ̂ ≠ 0 or 0 there
            phi[:, 3] = 0.0
            tau[3] = 0.0 if r % 10 == 0 else 0.4
        out = multiplier_bootstrap(phi, tau, q, n_boot=B, rng=rng, tests=("nullity",), dof=rng.uniform(2, 40))
        excludes = bool(np.any((out.band_lower > 0) | (out.band_upper < 0)))
        rejects = bool(out.tests.p_value.iloc[0] <= 0.05)
        assert excludes == rejects
        agree[rejects] += 1
    assert min(agree.values()) > 20                    # both outcomes occur


def test_results_do_not_depend_on_the_chunk_size():
    """The χ²_ν draws come after all the normal blocks: the same statistics whatever the chunking."""
    import r3d_teach.core.bootstrap as bs

    x, y = _hetero(n=300, seed=9)
    a = r3d(x, y, quantiles=Q9, n_boot=500, seed=4)
    orig = bs._chunks
    try:
        bs._chunks = lambda B, n, max_elems=0: orig(B, n, max_elems=9 * 37)
        b = r3d(x, y, quantiles=Q9, n_boot=500, seed=4)
    finally:
        bs._chunks = orig
    np.testing.assert_allclose(b.diagnostics.bootstrap.t_stats, a.diagnostics.bootstrap.t_stats, rtol=1e-12)
    assert b.crit_value == pytest.approx(a.crit_value, rel=1e-12)
    np.testing.assert_array_equal(b.tests.p_value, a.tests.p_value)


def test_reproducible_by_seed():
    x, y = _hetero(n=300, seed=10)
    a, b = (r3d(x, y, quantiles=Q9, n_boot=299, seed=12) for _ in range(2))
    np.testing.assert_array_equal(a.band_upper, b.band_upper)
    np.testing.assert_array_equal(a.tests.p_value, b.tests.p_value)
    c = r3d(x, y, quantiles=Q9, n_boot=299, seed=13)
    assert c.crit_value != a.crit_value and c.dof == a.dof
    # given multipliers: the χ²_ν draws follow the seed
    xi = np.random.default_rng(0).normal(size=(300, 99))
    m1, m2 = (r3d(x, y, quantiles=Q9, multipliers=xi, seed=5) for _ in range(2))
    np.testing.assert_array_equal(m1.band_upper, m2.band_upper)


def test_the_default_residual_rule_follows_the_band():
    """residuals=None: HC2 with the studentized band, HC3 with the unweighted one (exactly the band
    before the studentized default); an explicit rule is used with either band."""
    x, y = _hetero(n=300, seed=11)
    stu = r3d(x, y, quantiles=Q9, n_boot=99, seed=1)
    unw = r3d(x, y, quantiles=Q9, n_boot=99, seed=1, band="unweighted")
    assert (stu.residuals, unw.residuals) == ("hc2", "hc3")
    hc2 = r3d(x, y, quantiles=Q9, n_boot=0, residuals="hc2")
    hc3 = r3d(x, y, quantiles=Q9, n_boot=0, residuals="hc3")
    np.testing.assert_allclose(stu.se, hc2.se, rtol=1e-12)   # (with the bootstrap, from Φ'Φ's diagonal)
    np.testing.assert_allclose(unw.se, hc3.se, rtol=1e-12)
    assert np.all(hc2.se < hc3.se)                         # HC3 divides by 1 - ℓ, HC2 by its root
    assert stu.dof == pytest.approx(bell_mccaffrey_dof(stu.diagnostics.fits, "hc2"), rel=1e-12) and unw.dof is None
    # explicit rules win
    s3 = r3d(x, y, quantiles=Q9, n_boot=99, seed=1, residuals="hc3")
    u2 = r3d(x, y, quantiles=Q9, n_boot=99, seed=1, band="unweighted", residuals="hc2")
    assert (s3.residuals, u2.residuals) == ("hc3", "hc2")
    np.testing.assert_allclose(s3.se, hc3.se, rtol=1e-12)
    np.testing.assert_allclose(u2.se, hc2.se, rtol=1e-12)
    assert s3.dof == pytest.approx(bell_mccaffrey_dof(s3.diagnostics.fits, "hc3"), rel=1e-12)
    # the unweighted band with HC3 is exactly multiplier_bootstrap's unweighted rule on the HC3 terms
    ref = multiplier_bootstrap(hc3.diagnostics.influence.terms, hc3.tau, Q9, n_boot=99,
                               rng=np.random.default_rng(1), band="unweighted", tests=("nullity", "homogeneity"))
    np.testing.assert_allclose(unw.band_upper, ref.band_upper, rtol=1e-12)
    np.testing.assert_array_equal(unw.tests.p_value, ref.tests.p_value)


def test_test_ranges_share_the_draws_divisors():
    """One maximum per range, every range's draws divided by the same √(W_b/ν)."""
    x, y = _hetero(n=300, seed=12)
    res = r3d(x, y, quantiles=Q9, n_boot=499, seed=3, test_ranges=(0.1, 0.5, 0.9))
    boot = res.diagnostics.bootstrap
    G, se, div = boot.draws, res.se, boot.t_divisor
    t = res.tests
    for k, (lo, hi) in enumerate([(0.1, 0.5), (0.5, 0.9)]):
        r = (Q9 >= lo - 1e-9) & (Q9 <= hi + 1e-9)
        S = np.abs(G[:, r] / se[r]).max(axis=1) / div
        T = np.abs(res.tau[r] / se[r]).max()
        row = t[(t.test == "nullity")].iloc[k]
        assert row["range"] == f"[{lo:g}, {hi:g}]"
        assert row.statistic == pytest.approx(T, rel=1e-12)
        assert row.critical_value == pytest.approx(critical_value(S, 0.05), rel=1e-12)
        assert row.p_value == pytest.approx((1 + np.sum(S >= T)) / 500)
