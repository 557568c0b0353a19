"""Validity checks (r3d_teach.validity): known answers and simulation properties.

* density test: a bunching design is detected; under a uniform x the test's rejection rate over
  200 seeds is near 5 % (binomial bounds);
* covariate balance: at a fixed h with b = h the jump and its robust (HC3) standard error equal a
  from-scratch weighted least-squares computation; a smooth covariate is rejected at about 5 %
  and a planted jump is covered at about 95 % over seeds;
* placebo cutoffs: no rejection where there is no jump, rejection at the true cutoff; each fake
  cutoff uses one side's units only (equal to r3d on that subset);
* donut with δ = 0 and bandwidth sensitivity at multiple 1 equal the plain fit;
* the data forms (arrays, dicts, DataFrames, long format with cluster labels) agree, and bad
  inputs raise errors that name the argument.
"""
from __future__ import annotations

import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from scipy.stats import t as student_t

matplotlib.use("Agg")

from r3d_teach import r3d  # noqa: E402
from r3d_teach import validity as val  # noqa: E402
from r3d_teach.core import plotting  # noqa: E402
from r3d_teach.core.dof import bell_mccaffrey_dof  # noqa: E402

Q9 = np.arange(1, 10) / 10

pytest.importorskip("rddensity")


def _design(seed, n=300, n_obs=60, jump=1.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    y = [rng.normal(1 + x_i + jump * (x_i >= 0), 1 + 0.3 * (x_i >= 0), n_obs) for x_i in x]
    return x, y


def _binomial_bounds(n, p, tail=0.001):
    """Counts outside [lo, hi] have probability < 2 * tail under Binomial(n, p)."""
    return int(binom.ppf(tail, n, p)), int(binom.isf(tail, n, p))


# ---------------------------------------------------------------------------------------------
# manipulation test
# ---------------------------------------------------------------------------------------------
def test_manipulation_detects_bunching_right_of_cutoff():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 1000), rng.uniform(0, 0.05, 100)])
    out = val.manipulation_test(x)
    assert out.loc[0, "p_value"] < 0.01
    assert out.loc[0, "density_right"] > out.loc[0, "density_left"]
    assert out.loc[0, "n_left"] + out.loc[0, "n_right"] == x.size
    dens = out.attrs["density"]
    assert set(dens["side"]) == {"left", "right"} and (dens["lower"] <= dens["upper"]).all()


def test_manipulation_uniform_not_rejected_and_size_near_nominal():
    x = np.random.default_rng(0).uniform(-1, 1, 1000)
    assert val.manipulation_test(x).loc[0, "p_value"] > 0.05
    R = 200
    rej = sum(val.manipulation_test(np.random.default_rng(s).uniform(-1, 1, 1000)).loc[0, "p_value"] < 0.05
              for s in range(R))
    lo, hi = _binomial_bounds(R, 0.05)
    assert lo <= rej <= hi, f"{rej} rejections of {R} at the 5 % level (bounds {lo}..{hi})"


def test_manipulation_long_format_takes_one_value_per_unit():
    rng = np.random.default_rng(1)
    xu = rng.uniform(-1, 1, 400)
    df = pd.DataFrame({"u": np.repeat(np.arange(400), 3), "x": np.repeat(xu, 3), "y": 0.0})
    a = val.manipulation_test(xu)
    b = val.manipulation_test("x", data=df, unit="u")
    assert np.isclose(a.loc[0, "t_stat"], b.loc[0, "t_stat"], rtol=1e-12)
    df.loc[0, "x"] = 5.0
    with pytest.raises(ValueError, match=r"^x: column 'x' must be constant"):
        val.manipulation_test("x", data=df, unit="u")


def test_manipulation_on_mass_points_explains_its_nan():
    """With too few distinct values of x near the cutoff the density package returns NaN; that
    used to come back without a word."""
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, 500).astype(float)                # 2 values left of 0, 3 right of it
    with pytest.warns(UserWarning, match=r"^x: the density test is not defined here.*only 1 distinct value\(s\) "
                                         r"with positive kernel weight left of the cutoff and 2 right.*lower p"):
        out = val.manipulation_test(x)                        # h = 2: the values at distance 2 weigh 0
    assert np.isnan(out.loc[0, "p_value"]) and np.isfinite(out.loc[0, "binomial_p"])
    with pytest.warns(UserWarning, match="too discrete for this test"):
        val.manipulation_test(x, p=1)
    # x in -3..2 at p = 1: 2 support points left; rddensity returns t = 8.7e-06, a meaningless number
    x3 = rng.integers(-3, 3, 2000).astype(float)
    with pytest.warns(UserWarning, match="only 2 distinct value"):
        assert np.isnan(val.manipulation_test(x3, p=1).loc[0, "t_stat"])
    import warnings

    with warnings.catch_warnings():                           # p + 2 support points: a finite test, silently
        warnings.simplefilter("error")
        x5 = rng.integers(-5, 5, 2000).astype(float)          # 4 left (weight 0 at -5), 5 right
        assert np.isfinite(val.manipulation_test(x5, p=2).loc[0, "p_value"])


def test_manipulation_errors_name_the_argument(monkeypatch):
    x = np.random.default_rng(0).uniform(-1, 1, 200)
    with pytest.raises(ValueError, match=r"^x: "):
        val.manipulation_test(np.append(x, np.nan))
    with pytest.raises(ValueError, match=r"^x: all 200 units are on one side"):
        val.manipulation_test(x, cutoff=5.0)
    with pytest.raises(ValueError, match=r"^p: "):
        val.manipulation_test(x, p=0)
    with pytest.raises(ValueError, match=r"^n_grid: "):
        val.manipulation_test(x, n_grid=1)
    monkeypatch.setitem(sys.modules, "rddensity", None)
    with pytest.raises(ImportError, match=r"pip install \"rddensity>=3.0\".*the \"validity\" extra"):
        val.manipulation_test(x)


# ---------------------------------------------------------------------------------------------
# covariate balance
# ---------------------------------------------------------------------------------------------
def _wls_jump_and_hc3_se(x, w, h, p=2, power=1.0):
    """Order-p triangular-kernel local polynomial at h on each side: jump of the intercepts and
    the HC3 robust standard error sqrt(sum_i (l_i e_i / (1 - lev_i))^2), from scratch (HC2 with
    ``power=0.5``: e_i / sqrt(1 - lev_i))."""
    est, var = 0.0, 0.0
    for sign, side in ((1.0, x >= 0), (-1.0, x < 0)):
        u = x[side] / h
        k = np.clip(1 - np.abs(u), 0, None)
        keep = k > 0
        R = np.vander(u[keep], p + 1, increasing=True)
        K = k[keep]
        S_inv = np.linalg.inv(R.T @ (K[:, None] * R))
        coef = S_inv @ R.T @ (K * w[side][keep])
        ell = K * (R @ S_inv[:, 0])                       # intercept weights
        lev = K * np.einsum("ij,jk,ik->i", R, S_inv, R)   # hat-matrix diagonal
        e = (w[side][keep] - R @ coef) / (1 - lev) ** power
        est += sign * coef[0]
        var += np.sum((ell * e) ** 2)
    return est, np.sqrt(var)


def test_balance_equals_weighted_least_squares_at_fixed_h():
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, 500)
    w = 2 + x - 0.5 * x**2 + 0.8 * (x >= 0) + rng.normal(0, 0.5, 500)
    tab = val.covariate_balance(x, {"w": w}, h=0.6)            # b = h: the order-2 fit at h
    est, se = _wls_jump_and_hc3_se(x, w, 0.6, power=0.5)        # the default: HC2
    assert np.isclose(tab.loc[0, "estimate"], est, rtol=0, atol=1e-10)
    assert np.isclose(tab.loc[0, "se"], se, rtol=1e-8)
    hc3 = val.covariate_balance(x, {"w": w}, h=0.6, residuals="hc3")
    assert np.isclose(hc3.loc[0, "se"], _wls_jump_and_hc3_se(x, w, 0.6)[1], rtol=1e-8)
    # the interval is the fit's: Student t with its Bell-McCaffrey nu, or the normal with use_t=False
    nu = bell_mccaffrey_dof(r3d(x, Q=w[:, None], quantiles=[0.5], method="simple", h=0.6, n_boot=0)
                            .diagnostics.fits, "hc2")
    t975 = student_t.ppf(0.975, nu)
    assert np.isclose(tab.loc[0, "ci_upper"] - tab.loc[0, "ci_lower"], 2 * t975 * se, rtol=1e-8)
    assert np.isclose(tab.loc[0, "p_value"], 2 * student_t.sf(abs(est) / se, nu), rtol=1e-8)
    nrm = val.covariate_balance(x, {"w": w}, h=0.6, use_t=False)
    z = 1.959963984540054
    assert np.isclose(nrm.loc[0, "ci_upper"] - nrm.loc[0, "ci_lower"], 2 * z * se, rtol=1e-8)
    assert tab.loc[0, "h"] == 0.6 and tab.loc[0, "b"] == 0.6


def test_balance_size_and_coverage_over_seeds():
    R = 100
    rej_smooth, covered = 0, 0
    for s in range(R):
        rng = np.random.default_rng(100 + s)
        x = rng.uniform(-1, 1, 400)
        smooth = 1 + x + 0.5 * np.sin(2 * x) + rng.normal(0, 0.5, 400)
        jumpy = 1 + x + 0.7 * (x >= 0) + rng.normal(0, 0.5, 400)
        tab = val.covariate_balance(x, {"smooth": smooth, "jumpy": jumpy}).set_index("covariate")
        rej_smooth += tab.loc["smooth", "p_value"] < 0.05
        covered += tab.loc["jumpy", "ci_lower"] <= 0.7 <= tab.loc["jumpy", "ci_upper"]
    lo, hi = _binomial_bounds(R, 0.05)
    assert lo <= rej_smooth <= hi, f"smooth covariate rejected {rej_smooth} of {R}"
    lo, hi = _binomial_bounds(R, 0.95)
    assert lo <= covered <= hi, f"planted jump covered {covered} of {R}"


def test_balance_fixed_seed_known_answers():
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, 800)
    W = pd.DataFrame({"balanced": 3 + 2 * x + rng.normal(0, 1, 800),
                      "planted": 3 + 2 * x + 1.5 * (x >= 0) + rng.normal(0, 1, 800)})
    tab = val.covariate_balance(x, W).set_index("covariate")
    assert tab.loc["balanced", "p_value"] > 0.05
    assert abs(tab.loc["planted", "estimate"] - 1.5) < 3 * tab.loc["planted", "se"]
    assert tab.loc["planted", "p_value"] < 0.001
    assert (tab["se"] > 0).all() and (tab["n_left"] > 10).all()


def test_balance_input_forms_agree():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, 300)
    a, b = x + rng.normal(0, 1, 300), (rng.uniform(size=300) < 0.4).astype(float)
    t_dict = val.covariate_balance(x, {"a": a, "b": b}, h=0.5)
    t_frame = val.covariate_balance(x, pd.DataFrame({"a": a, "b": b}), h=0.5)
    t_arr = val.covariate_balance(x, np.column_stack([a, b]), h=0.5)
    cols = ["estimate", "se", "p_value"]
    assert np.allclose(t_dict[cols], t_frame[cols]) and np.allclose(t_dict[cols], t_arr[cols])
    assert t_arr["covariate"].tolist() == ["covariate_0", "covariate_1"]
    # long format: a unit's value is the column's mean within the unit (a share for a 0/1 column)
    draws = rng.uniform(size=(300, 4)) < 0.4
    df = pd.DataFrame({"u": np.repeat(np.arange(300), 4), "x": np.repeat(x, 4), "f": draws.ravel()})
    t_long = val.covariate_balance("x", ["f"], data=df, unit="u", h=0.5)
    t_share = val.covariate_balance(x, {"f": draws.mean(axis=1)}, h=0.5)
    assert np.allclose(t_long[cols], t_share[cols])


def test_balance_errors_name_the_argument():
    x = np.random.default_rng(0).uniform(-1, 1, 100)
    with pytest.raises(ValueError, match=r"^covariates: 'a' has 99 values"):
        val.covariate_balance(x, {"a": np.ones(99)})
    with pytest.raises(ValueError, match=r"^covariates: 'covariate' contains NaN"):
        val.covariate_balance(x, np.where(x > 0.5, np.nan, x))
    with pytest.raises(ValueError, match=r"^quantiles: not used"):
        val.covariate_balance(x, x, quantiles=[0.5])
    with pytest.raises(ValueError, match=r"^h: give one bandwidth"):
        val.covariate_balance(x, {"a": x, "b": x}, h=[0.5, 0.5, 0.5])
    with pytest.raises(TypeError, match=r"^covariates: "):
        val.covariate_balance(x, {"a": ["u"] * 100})
    # numbers stored as text are refused as r3d refuses them (they were converted silently)
    with pytest.raises(TypeError, match=r"^covariates: 'a': must be numeric"):
        val.covariate_balance(x, pd.DataFrame({"a": x.astype(str)}))
    with pytest.raises(TypeError, match=r"^covariates: 'a': must be numeric"):
        val.covariate_balance(x, {"a": [str(v) for v in x]})
    with pytest.raises(TypeError, match=r"^covariates: must be numeric"):
        val.covariate_balance(x, x.astype(str))


# ---------------------------------------------------------------------------------------------
# placebo cutoffs
# ---------------------------------------------------------------------------------------------
def test_placebo_not_rejected_without_effect_and_true_cutoff_rejected():
    x, y = _design(3, n=400, jump=1.0)
    pl = val.placebo_cutoffs(x, y, cutoffs=[-0.5, 0.5], quantiles=Q9, n_boot=999, seed=4)
    assert (pl["nullity_p"] > 0.05).all()
    assert pl["side"].tolist() == ["left", "right"]
    assert pl["n_units"].tolist() == [int((x < 0).sum()), int((x >= 0).sum())]
    true = r3d(x, y, quantiles=Q9, n_boot=999, seed=4)
    assert true.tests.set_index("test").loc["nullity", "p_value"] < 0.01
    curves = pl.attrs["curves"]
    assert len(curves) == 2 * Q9.size and curves["band_lower"].le(curves["tau"]).all()


def test_placebo_equals_r3d_on_one_side():
    x, y = _design(4)
    pl = val.placebo_cutoffs(x, y, cutoffs=[0.4], quantiles=Q9, n_boot=199, seed=1)
    right = x >= 0
    direct = r3d(x[right], [y[i] for i in np.flatnonzero(right)], cutoff=0.4, quantiles=Q9, n_boot=199, seed=1)
    c = pl.attrs["curves"]
    assert np.allclose(c["tau"], direct.tau, rtol=0, atol=1e-12)
    assert np.allclose(c["band_upper"], direct.band_upper, rtol=0, atol=1e-12)
    assert np.isclose(pl.loc[0, "h"], direct.h) and pl.loc[0, "max_abs_tau"] == np.max(np.abs(direct.tau))


def test_placebo_rejection_rate_over_seeds():
    R = 40
    rej = 0
    for s in range(R):
        x, y = _design(1000 + s, n=300, n_obs=40, jump=1.0)
        pl = val.placebo_cutoffs(x, y, cutoffs=[0.5], quantiles=Q9, n_boot=299, seed=s)
        rej += pl.loc[0, "nullity_p"] <= 0.05
    lo, hi = _binomial_bounds(R, 0.05)
    assert rej <= hi, f"placebo rejected {rej} of {R} times at the 5 % level"


def test_placebo_default_cutoffs_and_errors():
    x, y = _design(5)
    pl = val.placebo_cutoffs(x, y, quantiles=Q9, n_boot=99, seed=0)
    assert np.isclose(pl.loc[0, "cutoff"], np.quantile(x[x < 0], 0.5, method="nearest"))
    assert np.isclose(pl.loc[1, "cutoff"], np.quantile(x[x >= 0], 0.5, method="nearest"))
    with pytest.raises(ValueError, match=r"^cutoffs: the fake cutoff 2 leaves no unit"):
        val.placebo_cutoffs(x, y, cutoffs=[2.0], quantiles=Q9, n_boot=99)
    with pytest.raises(ValueError, match=r"^n_boot: "):
        val.placebo_cutoffs(x, y, cutoffs=[0.5], quantiles=Q9, n_boot=0)
    with pytest.raises(ValueError, match=r"^cutoffs: "):
        val.placebo_cutoffs(x, y, cutoffs=[np.nan], quantiles=Q9)


# ---------------------------------------------------------------------------------------------
# donut and bandwidth sensitivity
# ---------------------------------------------------------------------------------------------
def test_donut_zero_radius_equals_plain_fit_and_counts_exclusions():
    x, y = _design(6)
    d = val.donut(x, y, radii=[0.0, 0.1], quantiles=Q9, n_boot=499, seed=2)
    plain = r3d(x, y, quantiles=Q9, n_boot=499, seed=2)
    c0 = d.attrs["curves"].query("radius == 0")
    assert np.array_equal(c0["tau"].to_numpy(), plain.tau)
    assert np.array_equal(c0["band_lower"].to_numpy(), plain.band_lower)
    assert np.array_equal(c0["se"].to_numpy(), plain.se)          # the curves carry each fit's se
    assert d.loc[0, "nullity_p"] == plain.tests.set_index("test").loc["nullity", "p_value"]
    assert d["n_excluded"].tolist() == [0, int((np.abs(x) < 0.1).sum())]
    keep = np.abs(x) >= 0.1
    sub = r3d(x[keep], [y[i] for i in np.flatnonzero(keep)], quantiles=Q9, n_boot=499, seed=2)
    assert np.allclose(d.attrs["curves"].query("radius == 0.1")["tau"], sub.tau, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"^radii: "):
        val.donut(x, y, radii=[-1.0], quantiles=Q9)


def test_sensitivity_multiple_one_equals_plain_fit():
    x, y = _design(7)
    s = val.bandwidth_sensitivity(x, y, multiples=(0.5, 1.0, 2.0), quantiles=Q9, n_boot=499, seed=3)
    plain = r3d(x, y, quantiles=Q9, n_boot=499, seed=3)
    c1 = s.attrs["curves"].query("multiple == 1")
    assert np.allclose(c1["tau"], plain.tau, rtol=0, atol=1e-12)
    assert np.allclose(c1["band_upper"], plain.band_upper, rtol=0, atol=1e-12)
    assert np.allclose(s["h"], np.array([0.5, 1.0, 2.0]) * plain.h, rtol=1e-12)
    b_mean = np.mean([plain.b["+"], plain.b["-"]])
    assert np.allclose(s["b"], np.array([0.5, 1.0, 2.0]) * b_mean, rtol=1e-12)
    assert s["crit_value"].iloc[0] > s["crit_value"].iloc[-1]       # fewer units, wider band
    with pytest.raises(ValueError, match=r"^multiples: "):
        val.bandwidth_sensitivity(x, y, multiples=(0.0, 1.0), quantiles=Q9)


def test_long_format_with_clusters_matches_arrays():
    x, y = _design(8, n=240, n_obs=20)
    cl = np.arange(240) // 4
    df = pd.DataFrame({"unit": np.repeat(np.arange(240), 20), "x": np.repeat(x, 20),
                       "y": np.concatenate(y), "state": np.repeat(cl, 20)})
    a = val.donut(x, y, radii=[0.0, 0.05], quantiles=Q9, n_boot=199, seed=1, cluster=cl)
    b = val.donut("x", "y", data=df, unit="unit", radii=[0.0, 0.05], quantiles=Q9, n_boot=199, seed=1,
                  cluster="state")
    assert np.allclose(a.attrs["curves"]["band_upper"], b.attrs["curves"]["band_upper"], rtol=0, atol=1e-12)
    iid = val.donut(x, y, radii=[0.0], quantiles=Q9, n_boot=199, seed=1)
    assert not np.isclose(iid.loc[0, "crit_value"], a.loc[0, "crit_value"])   # clustering is used
    with pytest.raises(ValueError, match=r"^cluster: has 10 entries"):
        val.donut(x, y, quantiles=Q9, cluster=np.arange(10))


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------
def test_plots_return_axes_and_reject_wrong_tables():
    import matplotlib.pyplot as plt

    x, y = _design(9, n=250, n_obs=30)
    ax = plotting.plot_manipulation(val.manipulation_test(x))
    assert len(ax.lines) >= 2
    ax = plotting.plot_balance(val.covariate_balance(x, {"a": x + np.random.default_rng(0).normal(0, 1, 250)}))
    assert len(ax.get_yticks()) == 1
    pl = val.placebo_cutoffs(x, y, cutoffs=[-0.5, 0.5], quantiles=Q9, n_boot=99, seed=0)
    plotting.plot_placebo(pl, true_result=r3d(x, y, quantiles=Q9, n_boot=99, seed=0))
    s = val.bandwidth_sensitivity(x, y, multiples=(0.75, 1.0), quantiles=Q9, n_boot=99, seed=0)
    assert plotting.plot_sensitivity(s).size == 2
    plotting.plot_sensitivity(s, kind="heatmap")
    with pytest.raises(ValueError, match=r"^kind: "):
        plotting.plot_sensitivity(s, kind="pie")
    with pytest.raises(ValueError, match=r"^table: has no attrs"):
        plotting.plot_sensitivity(pd.DataFrame({"a": [1]}))
    with pytest.raises(TypeError, match=r"^table: "):
        plotting.plot_balance(pd.DataFrame({"a": [1]}))
    plt.close("all")


def test_docstring_examples_run():
    import doctest

    res = doctest.testmod(val, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 8 and res.failed == 0
