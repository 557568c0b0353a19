"""Tests for r3d_teach.simulate (the Design objects, their truths and samplers, and the laws).

Every truth is checked against something computed independently of the code under test: scipy's
own distributions (foldnorm, exponnorm, integrate.quad), closed forms written out here, or a large
simulation from the design's own sampler, with a tolerance of 4.5 Monte Carlo standard errors
(estimated from the simulation itself; a false alarm has probability below 1e-5 per comparison).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from r3d_teach.core.quantiles import DECILES
from r3d_teach.simulate import (
    DESIGNS,
    BandDesign,
    ComplierDesign,
    CrossingDesign,
    CurvatureDesign,
    Design,
    FuzzyDesign,
    HeterogeneousPareto,
    HeterogeneousShape,
    LocationShift,
    NormalSide,
    NullDesign,
    PaperDGP1,
    PaperDGP2,
    ScaleChange,
    SimulatedRD,
    design_parameters,
    empirical_quantiles,
    exgauss_quantile,
    get_design,
    heterogeneous_shape,
    make_design,
    paper_dgp1,
    paper_dgp2,
)
from r3d_teach.simulate import laws

DEC = np.arange(1, 10) / 10
Z = stats.norm.ppf(DEC)
K_SE = 4.5
SHARP = sorted(name for name, cls in DESIGNS.items() if not cls.fuzzy)


def fold_mean(loc, sd):
    """E|N(loc, sd^2)| from scipy's folded normal (independent of laws.folded_normal_mean)."""
    return stats.foldnorm.mean(abs(loc) / sd, scale=sd)


def batch_quantile_diff(a, b, q, n_batch=20):
    """Quantile difference of two big iid samples and its batch-means standard error."""
    est = np.quantile(a, q) - np.quantile(b, q)
    reps = np.array([np.quantile(x, q) - np.quantile(y, q)
                     for x, y in zip(np.array_split(a, n_batch), np.array_split(b, n_batch))])
    return est, reps.std(axis=0, ddof=1) / np.sqrt(n_batch)


def at_cutoff(n):
    """Running variable pinned just below (first half) and at (second half) the cutoff."""
    return np.r_[np.full(n // 2, -1e-12), np.zeros(n - n // 2)]


def mc_laqte(design, n, seed, q=DEC):
    """LAQTE by simulation from the design's sampler: the difference of the average true unit
    quantile functions of n units drawn at the cutoff (half on each side), and its standard error."""
    sim = design.sample(n, 1, seed, x=at_cutoff(n))
    Qi = sim.unit_quantile(np.tile(q, (n, 1)))
    above = sim.x >= 0
    est = Qi[above].mean(0) - Qi[~above].mean(0)
    se = np.sqrt(Qi[above].var(0, ddof=1) / above.sum() + Qi[~above].var(0, ddof=1) / (~above).sum())
    return est, se


# ------------------------------------------------------------------------------------------
# the registry, containers, determinism, seeds
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_every_design_samples_deterministically(name):
    design = get_design(name)
    assert isinstance(design, Design) and design.name == name
    a = design.sample(60, 7, seed=11)
    b = design.sample(60, 7, seed=np.random.default_rng(11))
    c = design.sample(60, 7, seed=12)
    assert isinstance(a, SimulatedRD) and a.design is design and a.name == name
    assert a.x.shape == (60,) and len(a.y) == 60 and all(r.shape == (7,) for r in a.y)
    assert a.y_matrix.shape == (60, 7) and np.all(np.abs(a.x) <= 1)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y_matrix, b.y_matrix)
    assert not np.array_equal(a.y_matrix, c.y_matrix)
    np.testing.assert_array_equal(a.truth(DEC), design.truth(DEC))
    assert a.params == {**design.params(), "n_units": 60, "n_obs": 7}
    if design.fuzzy:
        assert a.treatment.shape == (60,) and set(np.unique(a.treatment)) <= {0, 1}
        np.testing.assert_array_equal(a.treatment, b.treatment)
    else:
        assert a.treatment is None
    # variable sizes: one flat vector split by unit
    sizes = np.arange(1, 61)
    v = design.sample(60, sizes, seed=3)
    assert v.y_matrix is None
    np.testing.assert_array_equal(v.sizes, sizes)


def test_seed_rule():
    ref = paper_dgp1(30, 4, 1.0, seed=5).y_matrix
    for seed in (5, np.int64(5), np.random.SeedSequence(5), np.random.default_rng(5)):
        np.testing.assert_array_equal(PaperDGP1(delta=1.0).sample(30, 4, seed).y_matrix, ref)
    assert PaperDGP1().sample(30, 4, None).y_matrix.shape == (30, 4)
    for bad in (-1, 1.5, "x", True):
        with pytest.raises((TypeError, ValueError), match="^seed"):
            PaperDGP1().sample(30, 4, bad)


def test_arguments_a_design_does_not_have_are_errors():
    with pytest.raises(ValueError, match="^delta: design 'null' has no parameter 'delta'"):
        get_design("null", delta=1.0)
    with pytest.raises(ValueError, match="^delta: design 'heterogeneous_pareto'"):
        make_design("heterogeneous_pareto", 10, 5, 2.0, seed=0)
    with pytest.raises(ValueError, match="^scale: design 'paper1'"):
        make_design("paper1", 10, 5, 1.0, seed=0, scale=2.0)
    with pytest.raises(TypeError, match="delta"):
        NullDesign(delta=1.0)
    with pytest.raises(ValueError, match="^design: unknown design 'nope'"):
        get_design("nope")
    assert design_parameters("fuzzy") == ("delta", "p_below", "p_above", "scale", "slope")
    # delta=None leaves the design's own default; a given delta is used
    assert make_design("heterogeneous", 10, 5, seed=0).design.delta == 2.0
    assert make_design("location", 10, 5, 0.3, seed=0).truth([0.5]).tolist() == [0.3]


def test_designs_are_values():
    """Frozen, comparable, hashable: two designs with the same parameters are the same design."""
    assert PaperDGP2(delta=1.0) == get_design("paper2", delta=1.0)
    assert hash(HeterogeneousShape()) == hash(HeterogeneousShape(delta=2.0))
    with pytest.raises(AttributeError):
        PaperDGP1(delta=1.0).delta = 2.0
    # the truth never depends on a draw: no sample is needed, and sampling leaves it unchanged
    d = HeterogeneousShape()
    before = d.truth(DEC)
    d.sample(50, 3, seed=0)
    np.testing.assert_array_equal(d.truth(DEC), before)


def test_to_frame():
    sim = FuzzyDesign().sample(20, 3, seed=1)
    df = sim.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["unit", "x", "y", "t"] and len(df) == 60
    np.testing.assert_array_equal(df["y"].to_numpy(), sim.y_matrix.ravel())
    np.testing.assert_array_equal(df.groupby("unit")["x"].first().to_numpy(), sim.x)
    assert list(paper_dgp1(5, 2, 0.0, seed=0).to_frame().columns) == ["unit", "x", "y"]


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: paper_dgp1(1, 5, 1.0, 0), "n_units"),
        (lambda: paper_dgp1(10.5, 5, 1.0, 0), "n_units"),
        (lambda: paper_dgp1(10, 0, 1.0, 0), "n_obs"),
        (lambda: paper_dgp1(10, np.ones(9, int), 1.0, 0), "n_obs"),
        (lambda: paper_dgp1(10, 5, np.nan, 0), "delta"),
        (lambda: paper_dgp1(10, 5, "a", 0), "delta"),
        (lambda: paper_dgp1(10, 5, 1.0, 0, x=np.zeros(3)), "x"),
        (lambda: PaperDGP2(exp_scale="scale"), "exp_scale"),
        (lambda: PaperDGP2(delta_lambda=-0.6), "delta_lambda"),
        (lambda: ScaleChange(scale=-1.0), "scale"),
        (lambda: heterogeneous_shape(10, 5, variant="lognormal"), "variant"),
        (lambda: FuzzyDesign(p_above=0.1, p_below=0.2), "p_above"),
        (lambda: FuzzyDesign(p_below=1.5), "p_below"),
        (lambda: CrossingDesign(noise=0.0), "noise"),
        (lambda: CurvatureDesign(sigma_u=-1.0), "sigma_u"),
        (lambda: BandDesign(ratio=0.0), "ratio"),
        (lambda: BandDesign(scale=-1.0), "scale"),
        (lambda: ComplierDesign(strength=0.9, always=0.2), "strength"),
        (lambda: PaperDGP1().truth([1.0]), "quantiles"),
        (lambda: PaperDGP1().truth([0.5, 0.1]), "quantiles"),
        (lambda: PaperDGP1().sample(10, 5, 0).unit_quantile(np.full((3, 2), 0.5)), "levels"),
    ],
)
def test_validation_names_the_argument(call, word):
    with pytest.raises((TypeError, ValueError), match=f"^{word}"):
        call()


# ------------------------------------------------------------------------------------------
# truths: closed forms (independent formulas) and large simulations from the samplers
# ------------------------------------------------------------------------------------------
def test_closed_form_truths():
    np.testing.assert_array_equal(PaperDGP1(delta=1.14).truth(DEC), np.full(9, 1.14))
    np.testing.assert_array_equal(PaperDGP1(delta=1.14).pooled_truth(DEC), np.full(9, 1.14))
    np.testing.assert_array_equal(LocationShift(delta=1.5).pooled_truth(DEC), np.full(9, 1.5))
    np.testing.assert_array_equal(NullDesign().pooled_truth(DEC), np.zeros(9))
    np.testing.assert_allclose(ScaleChange(scale=1.5).truth(DEC), 0.5 * fold_mean(1.0, 0.25) * Z, atol=1e-12)
    np.testing.assert_allclose(HeterogeneousShape().truth(DEC),
                               2.0 + Z * (fold_mean(1.5, 0.5) - fold_mean(1.0, 0.5)), atol=1e-12)
    np.testing.assert_allclose(HeterogeneousShape(delta=0.5, sd_treated=2.0).truth(DEC),
                               0.5 + Z * (fold_mean(2.0, 0.5) - fold_mean(1.0, 0.5)), atol=1e-12)
    np.testing.assert_allclose(HeterogeneousPareto().truth(DEC),  # E Pareto(2, 3) = 3
                               3.0 + Z * (fold_mean(1.5, 0.5) - fold_mean(1.0, 0.5)), atol=1e-12)
    np.testing.assert_allclose(FuzzyDesign(delta=2.0).truth(DEC), 2.0 + 0.5 * fold_mean(1.0, 0.25) * Z,
                               atol=1e-12)
    assert FuzzyDesign().first_stage_jump == pytest.approx(0.6)
    np.testing.assert_array_equal(CurvatureDesign(kappa=5.0).truth(DEC), np.ones(9))
    np.testing.assert_array_equal(CurvatureDesign(kappa=5.0).pooled_truth(DEC), np.ones(9))
    np.testing.assert_allclose(ComplierDesign().truth(DEC), 2 + 0.5 * Z, atol=1e-12)
    # chapter 5: 10 (r - 1) + r shift + (r (1 + scale) - 1) E|N(1, .3^2)| z(q)
    for shift, scale, r in ((1.0, 0.5, 1.0), (0.0, 0.0, 1.1), (0.3, -0.2, 0.8)):
        expect = 10 * (r - 1) + r * shift + (r * (1 + scale) - 1) * fold_mean(1.0, 0.3) * Z
        np.testing.assert_allclose(BandDesign(shift, scale, r).truth(DEC), expect, atol=1e-12)
    # chapter 3: m(q) = a + p Q_{E-1}(q) + (1-p) Q_{1-E}(q), with scipy's exponential quantiles
    d = CrossingDesign()
    e_minus_1, one_minus_e = stats.expon.ppf(DEC) - 1, 1 - stats.expon.ppf(1 - DEC)
    for treated, p, a in ((True, 0.7, 1.5), (False, 0.4, 1.0)):
        np.testing.assert_allclose(d.mean_quantile(DEC, [0.0], treated=treated)[0],
                                   a + p * e_minus_1 + (1 - p) * one_minus_e, atol=1e-12)


def test_mean_quantile_of_dgp1():
    # m(q | x) = 5 + 5x + delta 1{x>=0} + Phi^{-1}(q) E|N(1+x, 1)|
    d = PaperDGP1(delta=1.14)
    for x in (-0.4, 0.0, 0.3):
        expect = 5 + 5 * x + 1.14 * (x >= 0) + Z * fold_mean(1 + x, 1.0)
        np.testing.assert_allclose(d.mean_quantile(DEC, x)[0], expect, atol=1e-12)
    # the jump of m at the cutoff is the truth, for every sharp design with a mean quantile function
    for name in SHARP:
        g = get_design(name)
        jump = g.mean_quantile(DEC, [0.0], treated=True)[0] - g.mean_quantile(DEC, [0.0], treated=False)[0]
        np.testing.assert_allclose(jump, g.truth(DEC), atol=1e-12)


@pytest.mark.parametrize("name", SHARP + ["fuzzy"])
def test_truth_against_a_large_simulation(name):
    """The closed-form / quadrature truth against the average true unit quantile functions of
    100,000 units drawn by the sampler at the cutoff (fuzzy: the potential-outcome laws are drawn
    by treatment status, which is independent of them, so the same difference is the LAQTE)."""
    design = get_design(name)
    if design.fuzzy:
        sim = design.sample(100_000, 1, 1, x=np.zeros(100_000))
        Qi = sim.unit_quantile(np.tile(DEC, (100_000, 1)))
        t = sim.treatment == 1
        est = Qi[t].mean(0) - Qi[~t].mean(0)
        se = np.sqrt(Qi[t].var(0, ddof=1) / t.sum() + Qi[~t].var(0, ddof=1) / (~t).sum())
    else:
        est, se = mc_laqte(design, 100_000, 1)
    assert np.all(se > 0)
    assert np.all(np.abs(est - design.truth(DEC)) < K_SE * se)


def test_complier_design_by_simulation():
    """Compliers are treated exactly right of the cutoff; the difference of their average unit
    quantile functions across the cutoff is the complier effect, and the first stage is strength."""
    n = 200_000
    design = ComplierDesign(strength=0.6)
    sim = design.sample(n, 1, seed=2, x=at_cutoff(n))
    co, above, t = sim.unit_params["complier"], sim.x >= 0, sim.treatment
    assert np.all(t[co] == above[co])
    assert abs(t[above].mean() - t[~above].mean() - 0.6) < K_SE * np.sqrt(2 * 0.25 / (n / 2))
    Qi = sim.unit_quantile(np.tile(DEC, (n, 1)))
    a, b = Qi[co & above], Qi[co & ~above]
    se = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
    assert np.all(np.abs(a.mean(0) - b.mean(0) - design.truth(DEC)) < K_SE * se)
    # the same seed gives the same x and noise for another strength: only who complies changes
    other = ComplierDesign(strength=0.3).sample(1000, 2, seed=2)
    np.testing.assert_array_equal(other.x, ComplierDesign(strength=0.6).sample(1000, 2, seed=2).x)


def test_unit_quantiles_are_the_laws_the_draws_come_from():
    """Per design, the true unit quantile functions against the empirical quantiles of the
    sampler's own draws: the paired mean difference over units is zero within its MC error
    (up to the O(1/k) bias of type-7 quantiles, here below 1e-3)."""
    n, k = 2000, 4000
    q = np.array([0.1, 0.5, 0.9])
    for name in sorted(DESIGNS):
        sim = get_design(name).sample(n, k, seed=4)
        d = np.quantile(sim.y_matrix, q, axis=1).T - sim.unit_quantile(np.tile(q, (n, 1)))
        se = d.std(axis=0, ddof=1) / np.sqrt(n)
        assert np.all(np.abs(d.mean(0)) < K_SE * se + 2e-3), name


@pytest.mark.parametrize("name", ["paper2", "scale", "heterogeneous", "heterogeneous_pareto", "crossing", "band"])
def test_pooled_truth_against_pooled_draws(name):
    """The pooled target against the quantile difference of 600,000 pooled draws at the cutoff."""
    n = 600_000
    design = get_design(name)
    sim = design.sample(n, 1, seed=9, x=at_cutoff(n))
    y = sim.y_matrix[:, 0]
    q = np.array([0.1, 0.5, 0.9])
    est, se = batch_quantile_diff(y[sim.x >= 0], y[sim.x < 0], q)
    assert np.all(np.abs(est - design.pooled_truth(q)) < K_SE * se)


def test_pooled_and_laqte_differ_where_the_book_says():
    het = HeterogeneousShape()
    # the method notes' independent 400k-unit scratch simulation of this case (3 digits)
    np.testing.assert_allclose(het.truth([0.1, 0.9]), [1.368, 2.630], atol=3e-3)
    np.testing.assert_allclose(het.pooled_truth([0.1, 0.9]), [1.530, 2.469], atol=3e-3)
    # mixing over the unit means shrinks the pooled quantile effect of a scale change
    sc = ScaleChange()
    q = np.array([0.05, 0.1, 0.9])
    assert np.all(np.abs(sc.pooled_truth(q)) < np.abs(sc.truth(q)) - 0.1)
    # DGP 2: the pooled target is far from the LAQTE in the upper tail
    assert PaperDGP2(delta=2.0).pooled_truth([0.9])[0] - PaperDGP2(delta=2.0).truth([0.9])[0] > 0.4
    with pytest.raises(NotImplementedError):
        FuzzyDesign().pooled_truth(DEC)


# ------------------------------------------------------------------------------------------
# the paper's DGPs in detail
# ------------------------------------------------------------------------------------------
def test_dgp1_parameters_and_draws():
    n = 200_000
    big = paper_dgp1(n, 1, 1.14, seed=1, x=np.full(n, 0.3))
    mu, sig = big.unit_params["mu"], big.unit_params["sigma"]
    # mu - m(x) ~ N(0, 1), sigma^2 has mean (1.3)^2 + 1
    assert abs((mu - 7.64).mean()) < K_SE / np.sqrt(n)
    assert abs((mu - 7.64).var() - 1.0) < K_SE * np.sqrt(2.0 / n)
    s2 = sig ** 2
    assert abs(s2.mean() - (1.3 ** 2 + 1)) < K_SE * s2.std() / np.sqrt(n)
    sim = paper_dgp1(400, 500, 2.0, seed=4)
    z = (sim.y_matrix - sim.unit_params["mu"][:, None]) / sim.unit_params["sigma"][:, None]
    assert abs(z.mean()) < K_SE / np.sqrt(z.size) and abs(z.var() - 1) < K_SE * np.sqrt(2 / z.size)


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
    ours = PaperDGP2(delta=1.86, exp_scale=exp_scale).truth(DEC)
    for j in (0, 4, 8):
        assert abs(ours[j] - _quad_dgp2(DEC[j], 1.86, 0.5, exp_scale)) < 1e-7
    # quadrature converged: 32 vs 128 nodes
    coarse = laws.exgauss_mean_quantile(DEC, 1.0, 2.0, exp_scale, n_nodes=32)
    fine = laws.exgauss_mean_quantile(DEC, 1.0, 2.0, exp_scale, n_nodes=128)
    assert np.max(np.abs(coarse - fine)) < 1e-10
    assert np.all(np.diff(PaperDGP2(exp_scale="rate").truth(DEC)) < 0)  # thinner upper tail
    np.testing.assert_allclose(PaperDGP2(delta_lambda=0.0).truth(DEC), 0.0, atol=1e-12)


def test_dgp2_sampler_parameters():
    n = 4000
    sim = paper_dgp2(n, 1, 1.86, seed=7, x=at_cutoff(n))
    above = sim.x >= 0
    mu, lam = sim.unit_params["mu"], sim.unit_params["lam"]
    assert mu.min() > -5 and mu.max() < 5
    assert abs(mu.mean()) < K_SE * np.sqrt(100 / 12 / n)
    assert lam[~above].min() >= 0.5 and lam[~above].max() <= 1.5
    assert lam[above].min() >= 1.0 and lam[above].max() <= 2.0


# ------------------------------------------------------------------------------------------
# the laws
# ------------------------------------------------------------------------------------------
def test_laws_against_scipy():
    for r in (0.25, 0.5, 0.85):
        np.testing.assert_allclose(exgauss_quantile(DEC, r), stats.exponnorm.ppf(DEC, K=1 / r), atol=1e-8)
        np.testing.assert_allclose(laws.exgauss_cdf(np.linspace(-3, 8, 12), r),
                                   stats.exponnorm.cdf(np.linspace(-3, 8, 12), K=1 / r), atol=1e-13)
    for loc, sd in ((0.0, 1.0), (1.0, 0.25), (-2.0, 3.0)):
        assert float(laws.folded_normal_mean(loc, sd)) == pytest.approx(fold_mean(loc, sd), abs=1e-12)


def test_pooled_normal_quantile_inverts_an_independent_cdf():
    """NormalSide's pooled quantile against scipy: the mixture CDF E[Phi((y - mu0)/sqrt(s_mu^2 +
    sigma^2))], sigma = |a + b Z|, integrated by scipy.integrate.quad and inverted by brentq."""
    side = NormalSide(mu0=5.0, s_mu=1.0, sig0=1.5, sig_sd=0.5)

    def cdf(y):
        f = lambda z: stats.norm.cdf((y - 5.0) / np.hypot(1.0, 1.5 + 0.5 * z)) * stats.norm.pdf(z)  # noqa: E731
        return integrate.quad(f, -np.inf, np.inf, epsabs=1e-13)[0]

    q = np.array([0.05, 0.5, 0.9])
    ref = [optimize.brentq(lambda y: cdf(y) - qq, -20, 30, xtol=1e-12) for qq in q]
    np.testing.assert_allclose(side.pooled_quantile(q), ref, atol=1e-8)
    np.testing.assert_allclose(side.pooled_quantile(q) + 2.0,
                               NormalSide(mu0=5.0, s_mu=1.0, sig0=1.5, sig_sd=0.5, shift=2.0).pooled_quantile(q),
                               atol=1e-12)


# ------------------------------------------------------------------------------------------
# empirical quantiles drawn in law (fast path of the Monte Carlo runner)
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _UniformUnits(Design):
    """Every unit has the U(0, 1) law (unit quantile function = identity): a design in 10 lines."""

    name: ClassVar[str] = "uniform"

    def _truth(self, q):
        return np.zeros(q.shape)

    def _draw(self, rng, xc, unit_of):
        return rng.random(unit_of.size), None, {}

    def unit_quantile(self, unit_params, levels):
        return levels


def test_empirical_quantiles_exact_moments():
    """Type 7 of k uniforms: E Q_hat(q) = (1 + (k-1) q)/(k+1) (E U_(r) = r/(k+1)); type 1:
    E U_(ceil(kq)) = ceil(kq)/(k+1); variance of an order statistic r(k+1-r)/((k+1)^2(k+2))."""
    n, k = 200_000, 25
    q = np.array([0.1, 0.28, 0.5, 0.9])  # 25 x 0.28 = 7.000000000000001: rank 7, not 8
    units = _UniformUnits().sample(n, 1, seed=0)
    lin = empirical_quantiles(units, k, q, seed=1)
    se = lin.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(lin.mean(0) - (1 + (k - 1) * q) / (k + 1)) < K_SE * se)
    inv = empirical_quantiles(units, k, q, seed=2, method="inverted_cdf")
    r = np.array([3, 7, 13, 23])
    assert np.all(np.abs(inv.mean(0) - r / (k + 1)) < K_SE * inv.std(0, ddof=1) / np.sqrt(n))
    var = r * (k + 1 - r) / ((k + 1) ** 2 * (k + 2))
    assert np.all(np.abs(inv.var(0) - var) < K_SE * var * np.sqrt(2 / n) * 1.5)
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
    assert np.all(np.abs(d.mean(0)) < K_SE * d.std(axis=0, ddof=1) / np.sqrt(n))
    sd_f, sd_s = fast.std(0), slow.std(0)
    assert np.all(np.abs(sd_f - sd_s) < K_SE * sd_s * np.sqrt(2 / n) * 2)
    with pytest.raises(ValueError, match="^n_obs"):
        empirical_quantiles(sim, 0, DEC)
    with pytest.raises(ValueError, match="^method"):
        empirical_quantiles(sim, 5, DEC, method="type5")
    with pytest.raises(NotImplementedError, match="unit quantile"):  # a design without unit laws
        empirical_quantiles(SimulatedRD(design=Design(), x=np.zeros(3), y=[np.zeros(1)] * 3), 5, DEC)


def test_deciles_constant():
    np.testing.assert_array_equal(DECILES, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert not DECILES.flags.writeable
