"""Tests for r3d_teach.simulate.baselines: the pooled quantile RD and the unit-mean RD.

The estimators are checked against a direct computation (an explicit weighted least-squares fit of
the indicator 1{Y <= y} for each grid value y, with np.linalg.lstsq on the expanded per-draw data),
against explicit inversions, and on scalar data where classical quantile RD is right (a known QTE
recovered within a Monte Carlo tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from r3d_teach.simulate import LocationShift, heterogeneous_shape
from r3d_teach.simulate.baselines import quantile_rd, unit_mean_rd

DEC = np.arange(1, 10) / 10


def kern(u, kernel):
    a = np.abs(u)
    if kernel == "triangular":
        return np.maximum(1 - a, 0)
    if kernel == "epanechnikov":
        return np.maximum(0.75 * (1 - a ** 2), 0)
    return 0.5 * (a <= 1)


def direct_cdf(x_obs, y_obs, grid, h, kernel, p, side):
    """Local polynomial CDF at the cutoff by one lstsq per grid value, on per-draw rows."""
    u = x_obs / h
    m = (u >= 0) if side == "plus" else (u < 0)
    w = kern(u, kernel) * m
    keep = w > 0
    A = np.vander(u[keep], p + 1, increasing=True) * np.sqrt(w[keep])[:, None]
    out = []
    for g in grid:
        b = (y_obs[keep] <= g) * np.sqrt(w[keep])
        out.append(np.linalg.lstsq(A, b, rcond=None)[0][0])
    return np.array(out)


def scalar_data(n, seed, delta=2.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    d = x >= 0
    y = 1 + x + (1 + 0.5 * d) * rng.standard_normal(n) + delta * d
    return x, y


# ------------------------------------------------------------------------------------------
# against a direct computation
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel, p", [("triangular", 1), ("epanechnikov", 2), ("uniform", 1)])
def test_cdf_matches_lstsq_on_scalar_data(kernel, p):
    x, y = scalar_data(400, 1)
    grid = np.linspace(-2, 6, 41)
    res = quantile_rd(x, y, h=0.6, kernel=kernel, p=p, y_grid=grid)
    np.testing.assert_allclose(res.cdf_plus, direct_cdf(x, y, grid, 0.6, kernel, p, "plus"), atol=1e-10)
    np.testing.assert_allclose(res.cdf_minus, direct_cdf(x, y, grid, 0.6, kernel, p, "minus"), atol=1e-10)
    # default grid: every distinct in-window value, exact step function
    full = quantile_rd(x, y, h=0.6, kernel=kernel, p=p)
    win = (np.abs(x) < 0.6) & (x >= 0) if kernel != "uniform" else (np.abs(x) <= 0.6) & (x >= 0)
    np.testing.assert_array_equal(full.grid_plus, np.unique(y[win]))
    pick = full.grid_plus[::25]
    np.testing.assert_allclose(full.cdf_plus[::25], direct_cdf(x, y, pick, 0.6, kernel, p, "plus"), atol=1e-10)
    assert full.cdf_plus[-1] == pytest.approx(1.0, abs=1e-12)


def test_pooled_draws_match_lstsq_on_expanded_rows():
    """Units with several draws (sharing X): same as lstsq on one row per draw."""
    sim = heterogeneous_shape(120, 6, seed=2)
    grid = np.linspace(0, 12, 25)
    res = quantile_rd(sim.x, sim.y, h=0.7, y_grid=grid)
    x_obs = np.repeat(sim.x, 6)
    y_obs = sim.y_matrix.ravel()
    np.testing.assert_allclose(res.cdf_plus, direct_cdf(x_obs, y_obs, grid, 0.7, "triangular", 1, "plus"),
                               atol=1e-10)
    np.testing.assert_allclose(res.cdf_minus, direct_cdf(x_obs, y_obs, grid, 0.7, "triangular", 1, "minus"),
                               atol=1e-10)
    # list input, matrix input and variable sizes give the same thing
    res2 = quantile_rd(sim.x, sim.y_matrix, h=0.7, y_grid=grid)
    np.testing.assert_array_equal(res.cdf_plus, res2.cdf_plus)
    ragged = [r[: 1 + i % 6] for i, r in enumerate(sim.y)]
    x_r = np.repeat(sim.x, [len(r) for r in ragged])
    res3 = quantile_rd(sim.x, ragged, h=0.7, y_grid=grid)
    np.testing.assert_allclose(res3.cdf_minus,
                               direct_cdf(x_r, np.concatenate(ragged), grid, 0.7, "triangular", 1, "minus"),
                               atol=1e-10)


def test_inversion_explicit():
    x, y = scalar_data(300, 3)
    grid = np.linspace(-3, 7, 201)  # equal spacing: rearrangement = sorting the grid values of F
    q = np.array([0.05, 0.3, 0.5, 0.77, 0.95])
    raw = quantile_rd(x, y, h=0.4, y_grid=grid, quantiles=q, monotone="none")
    rea = quantile_rd(x, y, h=0.4, y_grid=grid, quantiles=q)
    for F, Qn, Qr in ((raw.cdf_plus, raw.q_plus, rea.q_plus), (raw.cdf_minus, raw.q_minus, rea.q_minus)):
        Fc = np.clip(F, 0, 1)
        first = np.array([grid[np.argmax(Fc >= qq)] for qq in q])
        np.testing.assert_allclose(Qn, first, atol=1e-12)
        srt = np.sort(Fc[:-1])  # the rearranged step function on the first 200 pieces
        rearr = np.array([grid[np.searchsorted(srt, qq, side="left")] for qq in q])
        np.testing.assert_allclose(Qr, rearr, atol=1e-9)
    np.testing.assert_allclose(rea.tau, rea.q_plus - rea.q_minus)
    # a local-linear CDF on 300 points is not monotone: the check is not vacuous
    assert np.any(np.diff(raw.cdf_plus) < 0)


# ------------------------------------------------------------------------------------------
# where classical quantile RD is right
# ------------------------------------------------------------------------------------------
def test_recovers_known_qte_on_scalar_outcomes():
    """Y = 1 + X + (1 + 0.5 D) Z + 2 D, D = 1{X >= 0}: QTE(q) = 2 + 0.5 Phi^{-1}(q).

    Tolerance: boundary local linear, triangular kernel: Var F_hat = F(1-F) 4.8/(n f_X h), so
    sd(Q_hat) = sqrt(q(1-q) 4.8/(n f_X h))/f_Y(Q) per side (f_X = 1/2); bias of F_hat at most
    h^2/2 * 0.1 * max|d2F/dx2| = h^2/2 * 0.1 * 0.242, divided by f_Y. 40 replications at
    n = 400,000 gave sd 0.020 / 0.014 / 0.020 at q = .1/.5/.9 (formula: 0.021 / 0.015 / 0.021).
    """
    n, h = 400_000, 0.5
    x, y = scalar_data(n, 4)
    q = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    res = quantile_rd(x, y, h=h, quantiles=q)
    z = stats.norm.ppf(q)
    truth = 2 + 0.5 * z
    f_minus, f_plus = stats.norm.pdf(z), stats.norm.pdf(z) / 1.5
    sdF = np.sqrt(q * (1 - q) * 4.8 / (n * 0.5 * h))
    sd = np.sqrt((sdF / f_minus) ** 2 + (sdF / f_plus) ** 2)
    bias = h ** 2 / 2 * 0.1 * 0.242 * (1 / f_minus + 1 / f_plus)
    assert np.all(np.abs(res.tau - truth) < 4.5 * sd + bias)
    assert res.n_plus + res.n_minus == np.sum(np.abs(x) < h)


def test_targets_pooled_mixture_not_laqte():
    """On units with heterogeneous laws it estimates the pooled target (SimulatedRD.pooled_truth),
    not the LAQTE. Standard errors by batch means over 16 disjoint groups of units; the spread
    tau(.9) - tau(.1) separates the targets best (pooled 0.937, LAQTE 1.261)."""
    n = 400_000
    sim = heterogeneous_shape(n, 1, seed=5, slope=0.5)
    q = np.array([0.1, 0.9])
    res = quantile_rd(sim.x, sim.y_matrix, h=0.5, quantiles=q)
    groups = np.array_split(np.arange(n), 16)
    reps = np.array([quantile_rd(sim.x[g], sim.y_matrix[g], h=0.5, quantiles=q).tau for g in groups])
    se = reps.std(axis=0, ddof=1) / np.sqrt(16)
    se_spread = np.diff(reps, axis=1)[:, 0].std(ddof=1) / np.sqrt(16)
    pooled, laqte = sim.pooled_truth(q), sim.truth(q)
    assert np.all(np.abs(res.tau - pooled) < 4.5 * se + 0.01)
    spread = res.tau[1] - res.tau[0]
    assert abs(spread - (pooled[1] - pooled[0])) < 4.5 * se_spread + 0.01
    assert abs(spread - (laqte[1] - laqte[0])) > 4.5 * se_spread


# ------------------------------------------------------------------------------------------
# unit-mean RD
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weights", ["unit", "obs"])
def test_unit_mean_rd_matches_lstsq(weights):
    sim = LocationShift(delta=1.0).sample(300, 5, seed=6)
    ragged = [r[: 1 + i % 5] for i, r in enumerate(sim.y)]
    res = unit_mean_rd(sim.x, ragged, h=0.8, p=1, weights=weights)
    sizes = np.array([len(r) for r in ragged])
    means = np.array([r.mean() for r in ragged])
    w = kern(sim.x / 0.8, "triangular") * (sizes if weights == "obs" else 1)
    est = []
    for m in (sim.x >= 0, sim.x < 0):
        s = m & (w > 0)
        A = np.c_[np.ones(s.sum()), sim.x[s] / 0.8] * np.sqrt(w[s])[:, None]
        est.append(np.linalg.lstsq(A, means[s] * np.sqrt(w[s]), rcond=None)[0][0])
    assert res.plus == pytest.approx(est[0], abs=1e-10)
    assert res.minus == pytest.approx(est[1], abs=1e-10)
    assert res.estimate == pytest.approx(est[0] - est[1], abs=1e-10)


def test_unit_mean_rd_recovers_ate():
    """Location design: unit means are 5 + 2x + 1.5 D + noise with sd about sqrt(1 + 1/20);
    the mean function is linear, so no bias; sd per side sqrt(1.05 * 4.8/(n h / 2))."""
    n, h = 40_000, 0.5
    sim = LocationShift(delta=1.5).sample(n, 20, seed=7)
    res = unit_mean_rd(sim.x, sim.y_matrix, h=h)
    sd = np.sqrt(2 * 1.05 * 4.8 / (n * 0.5 * h))
    assert abs(res.estimate - 1.5) < 4.5 * sd


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(h=0.0), "h"),
        (dict(h="a"), "h"),
        (dict(h=0.5, kernel="gauss"), "kernel"),
        (dict(h=0.5, p=-1), "p"),
        (dict(h=0.5, quantiles=[0.0, 0.5]), "quantiles"),
        (dict(h=0.5, monotone="sort"), "monotone"),
        (dict(h=0.5, y_grid=np.array([1.0, 0.0])), "y_grid"),
        (dict(h=0.5, cutoff=np.inf), "cutoff"),
        (dict(h=0.5, p=1.5), "p"),
        (dict(h=[0.5, 0.6]), "h"),
        (dict(h=0.01), "^h: only [01] unit"),
    ],
)
def test_quantile_rd_validation(kwargs, word):
    x, y = scalar_data(50, 8)
    with pytest.raises((TypeError, ValueError), match=word):
        quantile_rd(x, y, **kwargs)


def test_validation_shapes_and_sides():
    x, y = scalar_data(50, 9)
    with pytest.raises(ValueError, match="^y: has 40 units but x has 50"):
        quantile_rd(x, y[:40], h=0.5)
    with pytest.raises(ValueError, match="^x"):
        quantile_rd(x[:, None], y, h=0.5)
    with pytest.raises(ValueError, match="^y: unit 0 contains NaN"):
        quantile_rd(x, [np.array([np.nan])] * 50, h=0.5)
    with pytest.raises(TypeError, match="^y"):
        quantile_rd(x, [str(v) for v in y], h=0.5)
    with pytest.raises(ValueError, match=r"^h: only 0 unit.*left \(x < cutoff\)"):
        quantile_rd(np.abs(x), y, h=0.5)
    with pytest.raises(ValueError, match="^weights"):
        unit_mean_rd(x, y, h=0.5, weights="draws")
    # two units at the same x on the right: a local linear fit there is singular
    with pytest.raises(ValueError, match="^h: .*singular"):
        unit_mean_rd(np.r_[0.1, 0.1, -0.2, -0.3], np.arange(4.0), h=1.0)


def test_local_poly_fit_unit_weights_are_weighted_least_squares():
    """The fits above rest on locpoly's unit weights: against lstsq with weights omega_i K_i."""
    from r3d_teach.core.locpoly import local_poly_fit

    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, 300)
    Y = np.column_stack([np.sin(3 * x), x ** 2]) + 0.1 * rng.standard_normal((300, 2))
    omega = rng.integers(1, 6, 300).astype(float)
    for h in (0.6, np.array([0.5, 0.8])):
        fit = local_poly_fit(x, Y, h, 2, side="+", unit_weights=omega)
        for j, hj in enumerate(np.broadcast_to(h, (2,))):
            w = kern(x / hj, "triangular") * (x >= 0) * omega
            A = np.vander(x / hj, 3, increasing=True) * np.sqrt(w)[:, None]
            ref = np.linalg.lstsq(A, Y[:, j] * np.sqrt(w), rcond=None)[0]
            np.testing.assert_allclose(fit.coef[:, j], ref, atol=1e-10)
            np.testing.assert_allclose(fit.weights[:, j] @ Y[:, j], ref[0], atol=1e-10)
    with pytest.raises(ValueError, match="^unit_weights"):
        local_poly_fit(x, Y, 0.5, 1, unit_weights=-omega)
