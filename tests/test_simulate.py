"""Tests for r3d_teach.simulate.

Every truth is checked against something computed independently of the code under test: scipy's
own distributions (foldnorm, exponnorm, integrate.quad) or a large simulation written here, with a
tolerance of 4.5 Monte Carlo standard errors (estimated from the simulation itself; a false alarm
has probability below 1e-5 per comparison).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from r3d_teach.simulate import (
    empirical_quantiles,
    DESIGNS,
    SimulatedRD,
    exgauss_quantile,
    fuzzy_design,
    heterogeneous_shape,
    location_shift,
    make_design,
    null_design,
    paper_dgp1,
    paper_dgp2,
    paper_dgp2_truth,
    paper_dgp2_truth_mc,
    scale_change,
)

DEC = np.arange(1, 10) / 10
Z = stats.norm.ppf(DEC)
K_SE = 4.5


def fold_mean(loc, sd):
    """E|N(loc, sd^2)| from scipy's folded normal (independent of simulate.folded_normal_mean)."""
    return stats.foldnorm.mean(abs(loc) / sd, scale=sd)


def batch_quantile_diff(a, b, q, n_batch=20):
    """Quantile difference of two big iid samples and its batch-means standard error."""
    est = np.quantile(a, q) - np.quantile(b, q)
    ba = np.array_split(a, n_batch)
    bb = np.array_split(b, n_batch)
    reps = np.array([np.quantile(x, q) - np.quantile(y, q) for x, y in zip(ba, bb)])
    return est, reps.std(axis=0, ddof=1) / np.sqrt(n_batch)


def at_cutoff(n):
    """Running variable pinned just below (first half) and at (second half) the cutoff."""
    return np.r_[np.full(n // 2, -1e-12), np.zeros(n - n // 2)]


# ------------------------------------------------------------------------------------------
# shapes, containers, determinism
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_shapes_and_determinism(name):
    a = make_design(name, 60, 7, 1.0, seed=11)
    b = make_design(name, 60, 7, 1.0, seed=11)
    c = make_design(name, 60, 7, 1.0, seed=12)
    assert isinstance(a, SimulatedRD)
    assert a.x.shape == (60,) and len(a.y) == 60 and all(r.shape == (7,) for r in a.y)
    assert a.y_matrix.shape == (60, 7)
    assert np.all((a.x >= -1) & (a.x <= 1))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y_matrix, b.y_matrix)
    assert not np.array_equal(a.y_matrix, c.y_matrix)
    assert a.truth(DEC).shape == (9,)
    if name == "fuzzy":
        assert a.treatment.shape == (60,) and set(np.unique(a.treatment)) <= {0, 1}
        np.testing.assert_array_equal(a.treatment, b.treatment)
    else:
        assert a.treatment is None


def test_generator_seed_and_variable_sizes():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    a = paper_dgp1(30, 4, 1.0, seed=g1)
    b = paper_dgp1(30, 4, 1.0, seed=g2)
    np.testing.assert_array_equal(a.y_matrix, b.y_matrix)
    sizes = np.arange(1, 31)
    v = paper_dgp2(30, sizes, 1.0, seed=3)
    assert v.y_matrix is None
    np.testing.assert_array_equal([len(r) for r in v.y], sizes)
    np.testing.assert_array_equal(v.sizes, sizes)


def test_to_frame():
    sim = fuzzy_design(20, 3, seed=1)
    df = sim.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["unit", "x", "y", "t"] and len(df) == 60
    np.testing.assert_array_equal(df["y"].to_numpy(), sim.y_matrix.ravel())
    np.testing.assert_array_equal(df.groupby("unit")["x"].first().to_numpy(), sim.x)
    assert list(paper_dgp1(5, 2, 0.0, seed=0).to_frame().columns) == ["unit", "x", "y"]


# ------------------------------------------------------------------------------------------
# input validation
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: paper_dgp1(1, 5, 1.0, 0), "n_units"),
        (lambda: paper_dgp1(10.5, 5, 1.0, 0), "n_units"),
        (lambda: paper_dgp1(10, 0, 1.0, 0), "n_obs"),
        (lambda: paper_dgp1(10, np.ones(9, int), 1.0, 0), "n_obs"),
        (lambda: paper_dgp1(10, 5, np.nan, 0), "delta"),
        (lambda: paper_dgp1(10, 5, "a", 0), "delta"),
        (lambda: paper_dgp1(10, 5, 1.0, "x"), "seed"),
        (lambda: paper_dgp1(10, 5, 1.0, 0, x=np.zeros(3)), "x"),
        (lambda: paper_dgp2(10, 5, 1.0, 0, exp_scale="scale"), "exp_scale"),
        (lambda: paper_dgp2(10, 5, 1.0, 0, delta_lambda=-0.6), "delta_lambda"),
        (lambda: paper_dgp2_truth([0.0, 0.5]), "quantiles"),
        (lambda: paper_dgp2_truth_mc([0.5], n_sim=1), "n_sim"),
        (lambda: scale_change(10, 5, scale=-1.0), "scale"),
        (lambda: heterogeneous_shape(10, 5, variant="lognormal"), "variant"),
        (lambda: fuzzy_design(10, 5, p_above=0.1, p_below=0.2), "p_above"),
        (lambda: fuzzy_design(10, 5, p_below=1.5), "p_below"),
        (lambda: make_design("nope", 10, 5), "design"),
        (lambda: paper_dgp1(10, 5, 1.0, 0).truth([1.0]), "quantiles"),
    ],
)
def test_validation(call, word):
    with pytest.raises(ValueError, match=word):
        call()


# ------------------------------------------------------------------------------------------
# paper DGP 1
# ------------------------------------------------------------------------------------------
def test_dgp1_truth_closed_form_and_sampler():
    sim = paper_dgp1(10, 2, 1.14, seed=0)
    np.testing.assert_array_equal(sim.truth(DEC), np.full(9, 1.14))
    np.testing.assert_array_equal(sim.pooled_truth(DEC), np.full(9, 1.14))
    # m(q | x) = 5 + 5x + delta 1{x>=0} + Phi^{-1}(q) E|N(1+x, 1)|
    for x in (-0.4, 0.0, 0.3):
        expect = 5 + 5 * x + 1.14 * (x >= 0) + Z * fold_mean(1 + x, 1.0)
        np.testing.assert_allclose(sim.mean_quantile(DEC, x)[0], expect, atol=1e-12)
    # sampler at x = 0.3 against that formula: unit quantiles mu_i + sigma_i z_q, averaged
    n = 200_000
    big = paper_dgp1(n, 1, 1.14, seed=1, x=np.full(n, 0.3))
    mu, sig = big.unit_params["mu"], big.unit_params["sigma"]
    qi = mu[:, None] + sig[:, None] * Z[None, :]
    se = qi.std(axis=0, ddof=1) / np.sqrt(n)
    expect = 5 + 1.5 + 1.14 + Z * fold_mean(1.3, 1.0)
    assert np.all(np.abs(qi.mean(axis=0) - expect) < K_SE * se)
    # moments of the parameters: mu - m(x) ~ N(0,1), sigma^2 has mean (1.3)^2 + 1
    assert abs((mu - 7.64).mean()) < K_SE / np.sqrt(n)
    assert abs((mu - 7.64).var() - 1.0) < K_SE * np.sqrt(2.0 / n)
    s2 = sig ** 2
    assert abs(s2.mean() - (1.3 ** 2 + 1)) < K_SE * s2.std() / np.sqrt(n)


def test_draws_follow_unit_laws():
    sim = paper_dgp1(400, 500, 2.0, seed=4)
    mu, sig = sim.unit_params["mu"], sim.unit_params["sigma"]
    z = (sim.y_matrix - mu[:, None]) / sig[:, None]
    n = z.size
    assert abs(z.mean()) < K_SE / np.sqrt(n)
    assert abs(z.var() - 1) < K_SE * np.sqrt(2 / n)
    # each treated unit's law: mu_i on the treated side centred at 5 + 5x + 2
    above = sim.x >= 0
    resid = mu - (5 + 5 * sim.x + 2.0 * above)
    assert abs(resid.mean()) < K_SE / np.sqrt(400)


# ------------------------------------------------------------------------------------------
# paper DGP 2
# ------------------------------------------------------------------------------------------
def _quad_dgp2(q, delta, dl, exp_scale):
    """E_lambda[Q(q)] difference by adaptive quad of scipy's exponnorm.ppf (sigma = 1, tau = K)."""
    def k(lam):  # exponnorm K = mean of the exponential part (sigma = 1)
        return 2.0 / lam if exp_scale == "rate" else 2.0 * lam

    def mean_q(shift):
        return integrate.quad(lambda lam: stats.exponnorm.ppf(q, K=k(lam + shift)), 0.5, 1.5,
                              epsabs=1e-11, epsrel=1e-11)[0]

    return delta + mean_q(dl) - mean_q(0.0)


@pytest.mark.parametrize("exp_scale", ["rate", "mean"])
def test_dgp2_truth_against_scipy_quad(exp_scale):
    ours = paper_dgp2_truth(DEC, 1.86, exp_scale=exp_scale)
    for j in (0, 4, 8):
        ref = _quad_dgp2(DEC[j], 1.86, 0.5, exp_scale)
        assert abs(ours[j] - ref) < 1e-7
    # quadrature converged: 32 vs 128 nodes
    coarse = paper_dgp2_truth(DEC, 1.86, exp_scale=exp_scale, n_nodes=32)
    fine = paper_dgp2_truth(DEC, 1.86, exp_scale=exp_scale, n_nodes=128)
    assert np.max(np.abs(coarse - fine)) < 1e-10


def test_dgp2_truth_values_and_shape():
    tau = paper_dgp2_truth(DEC, 0.0)
    # heterogeneous and decreasing: delta_lambda = 0.5 thins the upper tail (rate reading)
    assert np.all(np.diff(tau) < 0)
    assert abs(tau[0] - _quad_dgp2(0.1, 0.0, 0.5, "rate")) < 1e-7
    assert np.allclose(paper_dgp2_truth(DEC, 0.0, delta_lambda=0.0), 0.0, atol=1e-12)
    # exgauss quantile vs scipy
    lam = np.array([0.5, 1.0, 1.7])
    for r in lam:
        np.testing.assert_allclose(exgauss_quantile(DEC, r / 2), stats.exponnorm.ppf(DEC, K=2 / r),
                                   atol=1e-8)


def test_dgp2_truth_mc_version():
    est, se = paper_dgp2_truth_mc(DEC, 1.86, n_sim=20_000, seed=2)
    assert np.all(se > 0) and np.all(se < 0.01)
    assert np.all(np.abs(est - paper_dgp2_truth(DEC, 1.86)) < K_SE * se)


def test_dgp2_sampler_matches_truth():
    """Unit-level empirical quantiles of the sampler's own draws (minus the unit location) at the
    cutoff, averaged over units, against the quadrature truth."""
    n, k = 4000, 2000
    sim = paper_dgp2(n, k, 1.86, seed=7, x=at_cutoff(n))
    above = sim.x >= 0
    # location mu_i + delta 1{above}: check its law first (U(-5, 5) at x = 0)
    mu = sim.unit_params["mu"]
    assert mu.min() > -5 and mu.max() < 5
    assert abs(mu.mean()) < K_SE * np.sqrt(100 / 12 / n)
    lam = sim.unit_params["lam"]
    assert lam[~above].min() >= 0.5 and lam[~above].max() <= 1.5
    assert lam[above].min() >= 1.0 and lam[above].max() <= 2.0
    qi = np.quantile(sim.y_matrix - mu[:, None], DEC, axis=1, method="inverted_cdf").T
    d1, d0 = qi[above], qi[~above]
    est = d1.mean(0) - d0.mean(0)
    se = np.sqrt(d1.var(0, ddof=1) / len(d1) + d0.var(0, ddof=1) / len(d0))
    # empirical-quantile bias is O(1/k) ~ 1e-3, far below the standard error (~0.01-0.03)
    assert np.all(np.abs(est - paper_dgp2_truth(DEC, 1.86)) < K_SE * se + 2e-3)


def test_dgp2_pooled_truth_by_simulation():
    n = 600_000
    sim = paper_dgp2(n, 1, 2.0, seed=9, x=at_cutoff(n))
    y = sim.y_matrix[:, 0]
    above = sim.x >= 0
    q = np.array([0.1, 0.5, 0.9])
    est, se = batch_quantile_diff(y[above], y[~above], q)
    assert np.all(np.abs(est - sim.pooled_truth(q)) < K_SE * se)
    # and the pooled target is far from the LAQTE in the upper tail
    assert sim.pooled_truth([0.9])[0] - sim.truth([0.9])[0] > 0.4


# ------------------------------------------------------------------------------------------
# teaching designs
# ------------------------------------------------------------------------------------------
def test_location_and_null():
    sim = location_shift(10, 3, delta=1.5, seed=0)
    np.testing.assert_allclose(sim.truth(DEC), 1.5, atol=1e-12)
    np.testing.assert_allclose(sim.pooled_truth(DEC), 1.5, atol=1e-12)
    nul = null_design(10, 3, seed=0)
    np.testing.assert_allclose(nul.truth(DEC), 0.0, atol=1e-12)
    np.testing.assert_allclose(nul.pooled_truth(DEC), 0.0, atol=1e-12)
    # the law is continuous at the cutoff: pooled draws just below and at 0 agree in law
    n = 200_000
    big = null_design(n, 1, seed=3, x=at_cutoff(n))
    y = big.y_matrix[:, 0]
    est, se = batch_quantile_diff(y[big.x >= 0], y[big.x < 0], np.array([0.1, 0.5, 0.9]))
    assert np.all(np.abs(est) < K_SE * se)
    big = location_shift(n, 1, delta=1.5, seed=3, x=at_cutoff(n))
    y = big.y_matrix[:, 0]
    est, se = batch_quantile_diff(y[big.x >= 0], y[big.x < 0], np.array([0.1, 0.5, 0.9]))
    assert np.all(np.abs(est - 1.5) < K_SE * se)


def test_scale_change_truths():
    sim = scale_change(10, 3, scale=1.5, seed=0)
    expect = 0.5 * fold_mean(1.0, 0.25) * Z
    np.testing.assert_allclose(sim.truth(DEC), expect, atol=1e-12)
    n = 600_000
    big = scale_change(n, 1, scale=1.5, seed=5, x=at_cutoff(n))
    y = big.y_matrix[:, 0]
    q = np.array([0.05, 0.1, 0.9])
    est, se = batch_quantile_diff(y[big.x >= 0], y[big.x < 0], q)
    pooled = big.pooled_truth(q)
    assert np.all(np.abs(est - pooled) < K_SE * se)
    # mixing over the unit means shrinks the pooled quantile effect below the LAQTE
    assert np.all(np.abs(pooled) < np.abs(big.truth(q)) - 0.1)


def test_heterogeneous_normal_truths():
    sim = heterogeneous_shape(10, 3, "normal", seed=0)
    expect = 2.0 + Z * (fold_mean(1.5, 0.5) - fold_mean(1.0, 0.5))
    np.testing.assert_allclose(sim.truth(DEC), expect, atol=1e-12)
    # the design notes' independent 400k-unit scratch simulation of this case (3 digits)
    np.testing.assert_allclose(sim.truth([0.1, 0.9]), [1.368, 2.630], atol=3e-3)
    np.testing.assert_allclose(sim.pooled_truth([0.1, 0.9]), [1.530, 2.469], atol=3e-3)
    n = 600_000
    big = heterogeneous_shape(n, 1, "normal", seed=8, x=at_cutoff(n))
    y = big.y_matrix[:, 0]
    q = np.array([0.1, 0.25, 0.75, 0.9])
    est, se = batch_quantile_diff(y[big.x >= 0], y[big.x < 0], q)
    assert np.all(np.abs(est - big.pooled_truth(q)) < K_SE * se)
    # the two targets differ by more than 0.15 in the tails
    assert np.all(np.abs(big.pooled_truth([0.1, 0.9]) - big.truth([0.1, 0.9])) > 0.15)


def test_heterogeneous_pareto_truths():
    sim = heterogeneous_shape(10, 3, "pareto", seed=0)
    expect = 3.0 + Z * (fold_mean(1.5, 0.5) - fold_mean(1.0, 0.5))  # E Pareto(2, 3) = 3
    np.testing.assert_allclose(sim.truth(DEC), expect, atol=1e-12)
    n = 600_000
    big = heterogeneous_shape(n, 1, "pareto", seed=6, x=at_cutoff(n))
    y = big.y_matrix[:, 0]
    q = np.array([0.1, 0.5, 0.9])
    est, se = batch_quantile_diff(y[big.x >= 0], y[big.x < 0], q)
    assert np.all(np.abs(est - big.pooled_truth(q)) < K_SE * se)


def test_fuzzy_truth_first_stage_and_wald():
    sim = fuzzy_design(10, 3, delta=2.0, seed=0)
    expect = 2.0 + 0.5 * fold_mean(1.0, 0.25) * Z
    np.testing.assert_allclose(sim.truth(DEC), expect, atol=1e-12)
    assert sim.params["first_stage_jump"] == pytest.approx(0.6)
    n = 200_000
    big = fuzzy_design(n, 1, delta=2.0, seed=1, x=at_cutoff(n))
    above = big.x >= 0
    t = big.treatment
    assert abs(t[above].mean() - 0.8) < K_SE * np.sqrt(0.16 / above.sum())
    assert abs(t[~above].mean() - 0.2) < K_SE * np.sqrt(0.16 / (~above).sum())
    # treated units: sigma is 1.5 times |N(1, .25^2)|, untreated |N(1, .25^2)|
    s = big.unit_params["sigma"]
    assert abs(s[t == 1].mean() - 1.5 * fold_mean(1.0, 0.25)) < K_SE * s[t == 1].std() / np.sqrt((t == 1).sum())
    # Wald ratio of the average unit quantile functions at the cutoff recovers the complier LAQTE
    qi = big.unit_params["mu"][:, None] + s[:, None] * Z[None, :]
    itt = qi[above].mean(0) - qi[~above].mean(0)
    se = np.sqrt(qi[above].var(0) / above.sum() + qi[~above].var(0) / (~above).sum())
    assert np.all(np.abs(itt - 0.6 * sim.truth(DEC)) < K_SE * se)
    with pytest.raises(NotImplementedError):
        sim.pooled_truth(DEC)


# ------------------------------------------------------------------------------------------
# empirical quantiles drawn in law (fast path of the Monte Carlo runner)
# ------------------------------------------------------------------------------------------
def _uniform_units(n):
    """A container whose units all have the U(0, 1) law (unit quantile function = identity)."""
    return SimulatedRD(x=np.zeros(n), y=[np.zeros(1)] * n, treatment=None, cutoff=0.0, name="u",
                       params={}, _truth=lambda q: q, _unit_quantile=lambda u: u)


def test_empirical_quantiles_exact_moments():
    """Type 7 of k uniforms: E Q_hat(q) = (1 + (k-1) q)/(k+1) (E U_(r) = r/(k+1)); type 1:
    E U_(ceil(kq)) = ceil(kq)/(k+1); variance of an order statistic r(k+1-r)/((k+1)^2(k+2))."""
    n, k = 200_000, 25
    q = np.array([0.1, 0.33, 0.5, 0.9])
    lin = empirical_quantiles(_uniform_units(n), k, q, seed=1)
    se = lin.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(lin.mean(0) - (1 + (k - 1) * q) / (k + 1)) < K_SE * se)
    inv = empirical_quantiles(_uniform_units(n), k, q, seed=2, method="inverted_cdf")
    r = np.ceil(k * q)
    assert np.all(np.abs(inv.mean(0) - r / (k + 1)) < K_SE * inv.std(0, ddof=1) / np.sqrt(n))
    var = r * (k + 1 - r) / ((k + 1) ** 2 * (k + 2))
    assert np.all(np.abs(inv.var(0) - var) < K_SE * var * np.sqrt(2 / n) * 1.5)
    # ordered within a unit
    assert np.all(np.diff(lin, axis=1) >= 0)


def test_empirical_quantiles_match_direct_sampling():
    """Same law as numpy's type-7 quantiles of real samples (DGP 2 units, k = 15)."""
    n, k = 30_000, 15
    sim = paper_dgp2(n, 1, 1.0, seed=3, x=np.zeros(n))
    fast = empirical_quantiles(sim, k, DEC[[0, 4, 8]], seed=4)
    big = paper_dgp2(n, k, 1.0, seed=3, x=np.zeros(n))  # same unit parameters, real draws
    np.testing.assert_array_equal(big.unit_params["mu"], sim.unit_params["mu"])
    slow = np.quantile(big.y_matrix, DEC[[0, 4, 8]], axis=1).T
    d = fast - slow  # paired by unit: the unit-level variation cancels
    se = d.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(d.mean(0)) < K_SE * se)
    sd_f, sd_s = fast.std(0), slow.std(0)
    assert np.all(np.abs(sd_f - sd_s) < K_SE * sd_s * np.sqrt(2 / n) * 2)
    with pytest.raises(ValueError, match="n_obs"):
        empirical_quantiles(sim, 0, DEC)
    with pytest.raises(ValueError, match="method"):
        empirical_quantiles(sim, 5, DEC, method="type5")
