"""Local randomization inference (r3d_teach.locrand): oracles, exactness, inversion, window choice.

* rdlocrand's ``rdrandinf(statistic="diffmeans")`` on each column Q̂(q) is the oracle of the
  per-quantile p-values (within the binomial Monte Carlo error of both p-values; rdrandinf draws
  random permutations, never enumerates, and caps its draws at C(n_W, n_1));
* an independent brute-force enumeration (itertools, one assignment at a time, the statistics
  written from their definitions) equals the exact p-values to rounding;
* under the sharp null (samples independent of a discrete running variable) the exact test
  rejects at alpha = 0.05 exactly floor(0.05 C)/C of the time, and the Monte Carlo test with
  R = 99 exactly 5 %, within binomial bounds over the replications;
* enumeration and Monte Carlo agree at large R;
* confidence sets: a hand-listed two-units-per-side case, coverage of a true constant shift, and
  the set equals {tau : p(tau) > alpha} of the test run on the shifted data (same assignments);
* window selection equals rdwinselect called directly on unit means, stops where a covariate
  stops being balanced, and works with mass points;
* bad inputs raise errors that name the argument.
"""
from __future__ import annotations

import contextlib
import importlib.resources
import io
import itertools
import math
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

matplotlib.use("Agg")

from r3d_teach import unit_quantiles  # noqa: E402
from r3d_teach.locrand import MAX_ENUMERATE, RandInfResult, WindowSelection, randinf, select_window  # noqa: E402
from r3d_teach.core.quantiles import grid_weights  # noqa: E402

rdlocrand = pytest.importorskip("rdlocrand")

Q9 = np.arange(1, 10) / 10


def _bounds(n, p, tail=0.001):
    """Counts outside [lo, hi] have probability < 2 * tail under Binomial(n, p)."""
    return int(binom.ppf(tail, n, p)), int(binom.isf(tail, n, p))


def _rdrandinf(y, x, cutoff, wl, wr, reps, seed):
    # rdrandinf also computes a large-sample p-value and power, which divide by zero for a
    # constant column; the randomization p-value used here is unaffected
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="(invalid value|divide by zero) encountered", category=RuntimeWarning)
        return rdlocrand.rdrandinf(y, x, cutoff=cutoff, wl=wl, wr=wr, statistic="diffmeans", reps=reps,
                                   seed=seed, quietly=True)["p.value"]


def _mc_tol(p1, R1, p2, R2, z=4.5):
    """z binomial standard errors of p1 - p2 (floored at one draw) plus the 1/(R + 1) that
    separates (1 + #)/(1 + R) from rdrandinf's #/R."""
    pbar = min(max((p1 + p2) / 2, 1 / min(R1, R2)), 1 - 1 / min(R1, R2))
    return z * math.sqrt(pbar * (1 - pbar) * (1 / R1 + 1 / R2)) + 1 / (R1 + 1)


def _null_design(seed, x, n_obs=40):
    """Unit samples that do not depend on x (the sharp null holds for every unit)."""
    rng = np.random.default_rng(seed)
    return [rng.lognormal(3, 0.6, n_obs) for _ in x]


# ---------------------------------------------------------------------------------------------
# the oracle: rdlocrand's rdrandinf per quantile column
# ---------------------------------------------------------------------------------------------
def test_diffmeans_p_values_match_rdrandinf_on_rebp_placebo_period():
    """rebp before the reform (no effect at 50): 10 + 10 age cells, C(20, 10) > MAX_ENUMERATE, so
    both sides draw R = 4000 assignments."""
    pytest.importorskip("rdhonest")
    with importlib.resources.as_file(importlib.resources.files("rdhonest") / "data" / "rebp.csv") as path:
        rebp = pd.read_csv(path)
    rebp["cell"] = np.round(rebp["age"] * 12).astype(int)
    before = rebp[~rebp["period"]]
    cells = {c: g["duration"].to_numpy() for c, g in before.groupby("cell")}
    x = np.array([c / 12 for c in cells])
    Q = unit_quantiles(list(cells.values()), Q9)
    wl, wr = 50 - 10 / 12, 50 + 9 / 12
    R = 4000
    res = randinf(x, Q=Q, quantiles=Q9, cutoff=50, window=(wl, wr), n_perm=R, seed=11, conf_sets=False)
    assert (res.n_left, res.n_right, res.method) == (10, 10, "monte_carlo")
    assert math.comb(20, 10) > MAX_ENUMERATE
    # the same data from the long table
    res_long = randinf("age", "duration", data=before, unit="cell", quantiles=Q9, cutoff=50, window=(wl, wr),
                       n_perm=R, seed=11, conf_sets=False)
    np.testing.assert_allclose(res_long.by_quantile["p_value"], res.by_quantile["p_value"], rtol=0, atol=0)
    worst = []
    for k in (0, 2, 4, 8):
        p_ref = _rdrandinf(Q[:, k], x, 50, wl, wr, R, seed=100 + k)
        p = res.by_quantile["p_value"][k]
        worst.append(abs(p - p_ref) / _mc_tol(p, R, p_ref, R))
        # the difference in means itself is deterministic
        inw = (x >= wl - 1e-9) & (x <= wr + 1e-9)
        d_ref = Q[inw & (x >= 50), k].mean() - Q[inw & (x < 50), k].mean()
        assert res.by_quantile["diff"][k] == pytest.approx(d_ref, rel=1e-12, abs=1e-12)
    assert max(worst) < 1.0, worst
    # the per-quantile p-values are not all extreme (the comparison has power to fail)
    assert 0.1 < res.by_quantile["p_value"][[0, 2, 4, 8]].min() < 0.9


def test_exact_enumeration_matches_rdrandinf_with_all_draws():
    """8 + 8 units: our exact p (all 12,870 assignments) vs rdrandinf with reps = C (random draws,
    rdrandinf's maximum)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([-rng.uniform(0.1, 1, 8), rng.uniform(0, 1, 8), [-3.0, 3.0]])
    y = [rng.normal(0.35 * (xi >= 0), 1 + 0.4 * rng.random(), 60) for xi in x]
    res = randinf(x, y, cutoff=0, window=(-1, 1), quantiles=[0.25, 0.5, 0.75], conf_sets=False)
    C = math.comb(16, 8)
    assert (res.method, res.n_possible, res.n_assignments) == ("exact", C, C)
    Q = unit_quantiles(y, [0.25, 0.5, 0.75])
    for k in range(3):
        p_ref = _rdrandinf(Q[:, k], x, 0, -1, 1, C, seed=7 + k)
        p = res.by_quantile["p_value"][k]
        pbar = max(p_ref, 1 / C)
        assert abs(p - p_ref) < 4.5 * math.sqrt(pbar * (1 - pbar) / C) + 1e-12, (k, p, p_ref)


def _brute_force(Q, d, w):
    """Every assignment, one at a time, statistics from their definitions."""
    n, n1 = d.size, int(d.sum())
    s = Q.std(axis=0, ddof=1) * math.sqrt(1 / n1 + 1 / (n - n1))

    def stats(treated):
        t = np.zeros(n, bool)
        t[list(treated)] = True
        D = Q[t].mean(axis=0) - Q[~t].mean(axis=0)
        return D, np.max(np.abs(D) / s), np.sqrt(np.sum(w * D**2))

    D0, sup0, w20 = stats(np.flatnonzero(d))
    cnt_q, cnt_s, cnt_w, C = np.zeros(Q.shape[1]), 0, 0, 0
    for treated in itertools.combinations(range(n), n1):
        D, sup, w2 = stats(treated)
        cnt_q += np.abs(D) >= np.abs(D0) - 1e-12
        cnt_s += sup >= sup0 - 1e-12
        cnt_w += w2 >= w20 - 1e-12
        C += 1
    return cnt_q / C, cnt_s / C, cnt_w / C, D0, sup0, w20


def test_exact_p_values_equal_brute_force_enumeration():
    rng = np.random.default_rng(2)
    x = np.array([-2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2.0, 9.0])
    y = [rng.gamma(2, 1 + 0.3 * (xi >= 0), 30) for xi in x]
    res = randinf(x, y, cutoff=0, window=(-2.5, 2), quantiles=Q9, conf_sets=False)
    inw = x <= 2
    Q = unit_quantiles([y[i] for i in np.flatnonzero(inw)], Q9)
    d = (x[inw] >= 0).astype(float)
    pq, ps, pw, D0, sup0, w20 = _brute_force(Q, d, grid_weights(Q9))
    assert res.method == "exact" and res.n_possible == math.comb(10, 5) == 252
    np.testing.assert_allclose(res.by_quantile["p_value"], pq, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.by_quantile["diff"], D0, rtol=1e-12, atol=1e-12)
    t = res.tests.set_index("test")
    assert t.loc["sup_t", "p_value"] == pytest.approx(ps, abs=1e-12)
    assert t.loc["wasserstein", "p_value"] == pytest.approx(pw, abs=1e-12)
    assert t.loc["sup_t", "statistic"] == pytest.approx(sup0, rel=1e-12)
    assert t.loc["wasserstein", "statistic"] == pytest.approx(w20, rel=1e-12)
    # 5 + 5 units: the observed assignment and its mirror image always tie, so p >= 2/252
    assert res.min_p_value == pytest.approx(2 / 252)
    assert (res.by_quantile["p_value"] >= 2 / 252 - 1e-15).all()


def test_levels_constant_over_the_window_are_left_out_of_sup_t():
    """A level where every unit in W has the same quantile (e.g. a floor at zero): D = 0 under
    every assignment, p = 1 (rdrandinf agrees), no contribution to sup_t, and the only shift
    compatible with it is 0."""
    rng = np.random.default_rng(4)
    x = np.arange(-5, 5) + 0.5
    Q = np.sort(rng.normal(size=(10, 3)), axis=1) + 1.0
    Q[:, 0] = 0.0
    Q = np.sort(Q, axis=1)
    q = [0.1, 0.5, 0.9]
    res = randinf(x, Q=Q, quantiles=q, cutoff=0, window=(-5, 5))
    assert res.n_constant_levels == 1 and res.by_quantile["p_value"][0] == 1.0
    assert _rdrandinf(Q[:, 0], x, 0, -5, 5, 252, seed=3) == 1.0
    sub = randinf(x, Q=Q[:, 1:], quantiles=q[1:], cutoff=0, window=(-5, 5), conf_sets=False)
    t, ts = res.tests.set_index("test"), sub.tests.set_index("test")
    assert t.loc["sup_t", "statistic"] == pytest.approx(ts.loc["sup_t", "statistic"], rel=1e-12)
    assert t.loc["sup_t", "p_value"] == ts.loc["sup_t", "p_value"]
    assert res.quantile_sets[0].tolist() == [[0.0, 0.0]]


# ---------------------------------------------------------------------------------------------
# exactness under the sharp null and enumeration vs Monte Carlo
# ---------------------------------------------------------------------------------------------
def test_exact_test_has_exact_size_under_the_sharp_null():
    """Discrete running variable (cohorts), 4 + 5 units in the window, C(9, 4) = 126
    assignments: with continuous outcomes and no ties, P(p <= 0.05) = floor(0.05 * 126)/126 = 6/126
    exactly, for every statistic."""
    x = np.arange(-6, 7).astype(float)              # 13 cohorts, window [-4, 4]: 4 left, 5 right
    reps = 400
    rej = np.zeros(3, int)
    for r in range(reps):
        res = randinf(x, _null_design(r, x), cutoff=0, window=(-4, 4), quantiles=Q9, conf_sets=False)
        t = res.tests.set_index("test")["p_value"]
        rej += np.array([t["sup_t"], t["wasserstein"], res.by_quantile["p_value"][4]]) <= 0.05
    assert res.method == "exact" and res.n_possible == 126
    lo, hi = _bounds(reps, 6 / 126)
    assert ((rej >= lo) & (rej <= hi)).all(), rej
    se = math.sqrt(0.05 * 0.95 / reps)
    assert (rej / reps <= 0.05 + 3 * se).all()


def test_monte_carlo_test_has_exact_size_under_the_sharp_null():
    """10 + 10 units (C(20, 10) = 184,756 > MAX_ENUMERATE), R = 99 random assignments:
    p = (1 + #)/(1 + R) <= 0.05 has probability exactly 5/100 under the sharp null."""
    x = np.arange(-10, 10).astype(float) + 0.5
    reps = 300
    rej = np.zeros(2, int)
    for r in range(reps):
        res = randinf(x, _null_design(1000 + r, x, 30), cutoff=0, window=(-10, 10), quantiles=Q9, n_perm=99,
                      seed=r, conf_sets=False)
        rej += res.tests["p_value"].to_numpy() <= 0.05
    assert res.method == "monte_carlo"
    lo, hi = _bounds(reps, 0.05)
    assert ((rej >= lo) & (rej <= hi)).all(), rej


def test_enumeration_equals_monte_carlo_in_the_limit():
    rng = np.random.default_rng(9)
    x = np.linspace(-1, 1, 14)
    y = [rng.normal(0.25 * (xi >= 0), 1, 50) for xi in x]
    kw = dict(cutoff=0, window=(-0.9, 0.9), quantiles=Q9, conf_sets=False)
    ex = randinf(x, y, **kw)
    R = 20_000
    mc = randinf(x, y, method="monte_carlo", n_perm=R, seed=3, **kw)
    assert ex.method == "exact" and mc.method == "monte_carlo" and ex.n_possible == math.comb(12, 6)
    p_ex = np.concatenate([ex.by_quantile["p_value"], ex.tests["p_value"]])
    p_mc = np.concatenate([mc.by_quantile["p_value"], mc.tests["p_value"]])
    se = np.sqrt(np.maximum(p_ex * (1 - p_ex), 1 / R) / R)
    assert (np.abs(p_mc - p_ex) <= 4.5 * se + 1 / (R + 1)).all(), np.abs(p_mc - p_ex) / se
    assert p_ex.min() > 2 / 924 and p_ex.max() > 0.3         # not a degenerate comparison
    # same seed, same draws; another seed, other draws
    again = randinf(x, y, method="monte_carlo", n_perm=R, seed=3, **kw)
    assert again.p_value == mc.p_value
    other = randinf(x, y, method="monte_carlo", n_perm=R, seed=np.random.default_rng(4), **kw)
    assert other.null_distribution.shape == (R,) and not np.array_equal(other.null_distribution,
                                                                         mc.null_distribution)


# ---------------------------------------------------------------------------------------------
# confidence sets by test inversion
# ---------------------------------------------------------------------------------------------
def test_conf_set_two_units_per_side_by_hand():
    """Q̂ = 0, 1 (left) and 3, 7 (right): D = 4.5. The six assignments (treated pairs) give
    D_a = ±4.5 (observed, mirror), ±2.5, ±1.5, so p = 2/6. For a shift tau the two mixed
    assignments with |D_a| = 2.5 (g_a = 0) count iff |4.5 - tau| <= 2.5, those with 1.5 iff
    |4.5 - tau| <= 1.5, and the observed one and its mirror always: p(tau) = 2/6 outside [2, 7],
    4/6 on [2, 7] \\ [3, 6] and 1 on [3, 6]."""
    x = np.array([-2.0, -1.0, 1.0, 2.0])
    Q = np.array([[0.0], [1.0], [3.0], [7.0]])
    grid = np.arange(-40, 81) / 4                      # quarter steps: 2, 3, 6, 7 on the grid
    with pytest.warns(UserWarning, match="smallest attainable p-value is 0.333"):
        res = randinf(x, Q=Q, quantiles=[0.5], cutoff=0, window=(-2, 2), alpha=0.05, tau_grid=grid)
    assert res.p_value == pytest.approx(2 / 6) and res.by_quantile["p_value"][0] == pytest.approx(2 / 6)
    assert res.by_quantile["diff"][0] == pytest.approx(4.5)
    for name in ("sup_t", "wasserstein"):
        assert res.conf_sets[name].values.tolist() == [[-np.inf, np.inf]]
    for alpha, (lo, hi) in ((0.4, (2.0, 7.0)), (0.5, (2.0, 7.0)), (0.7, (3.0, 6.0))):
        r = randinf(x, Q=Q, quantiles=[0.5], cutoff=0, window=(-2, 2), alpha=alpha, tau_grid=grid)
        assert r.quantile_sets[0].tolist() == [[lo, hi]]
        assert r.conf_sets["wasserstein"].values.tolist() == [[lo, hi]]
        assert r.conf_sets["sup_t"].values.tolist() == [[lo, hi]]
        p = r.shift_grid.set_index("tau")["p_value"]
        assert p[4.5] == pytest.approx(1) and p[2.5] == pytest.approx(4 / 6) and p[1.75] == pytest.approx(2 / 6)


def test_conf_set_is_the_inverted_test_with_common_draws():
    """tau inside the set iff randinf on Q̂ - tau d (same seed, hence the same assignments) gives
    p > alpha; the sup_t grid p-values equal those direct tests."""
    rng = np.random.default_rng(21)
    x = np.linspace(-1, 1, 30)
    y = [rng.normal(0.6 * (xi >= 0), 1, 80) for xi in x]
    kw = dict(cutoff=0, window=(-0.75, 0.75), quantiles=[0.2, 0.5, 0.8], n_perm=999, seed=5)
    res = randinf(x, y, **kw)
    assert res.method == "monte_carlo"
    Q = unit_quantiles(y, kw["quantiles"])
    d = (x >= 0).astype(float)[:, None]
    lo, hi = res.conf_sets["wasserstein"].values[0]
    k_lo = res.quantile_sets[1][0, 0]
    for tau, inside_w2, inside_q in ((lo + 1e-6, True, None), (lo - 1e-6, False, None),
                                     (hi - 1e-6, True, None), (hi + 1e-6, False, None),
                                     (k_lo + 1e-6, None, True), (k_lo - 1e-6, None, False)):
        r = randinf(x, Q=Q - tau * d, conf_sets=False, **{k: v for k, v in kw.items()})
        if inside_w2 is not None:
            assert (r.tests.set_index("test").loc["wasserstein", "p_value"] > 0.05) == inside_w2, tau
        if inside_q is not None:
            assert (r.by_quantile["p_value"][1] > 0.05) == inside_q, tau
    g = res.shift_grid.iloc[[50, 100, 150, 200, 250]]
    for tau, p in zip(g["tau"], g["p_value"]):
        r = randinf(x, Q=Q - tau * d, conf_sets=False, **kw)
        assert r.tests.set_index("test").loc["sup_t", "p_value"] == pytest.approx(p, abs=1e-12)
    assert lo < 0.6 < hi and res.conf_sets["sup_t"].shape == (1, 2)


def test_conf_sets_cover_a_true_constant_shift():
    """4 + 5 units, every treated unit's distribution shifted by tau0 = 2: the exact sets cover
    tau0 with probability 1 - 6/126 (per level and Wasserstein); the sup_t grid set about as often."""
    x = np.arange(-6, 7).astype(float)
    reps = 300
    cover = np.zeros(3, int)
    for r in range(reps):
        y = [v + 2.0 * (xi >= 0) for v, xi in zip(_null_design(5000 + r, x), x)]
        res = randinf(x, y, cutoff=0, window=(-4, 4), quantiles=[0.25, 0.5, 0.75])
        s = res.quantile_sets[1]
        cover[0] += bool(((s[:, 0] <= 2) & (2 <= s[:, 1])).any())
        for j, name in enumerate(("wasserstein", "sup_t"), start=1):
            c = res.conf_sets[name]
            cover[j] += bool(((c["lower"] <= 2) & (2 <= c["upper"])).any())
    lo, hi = _bounds(reps, 120 / 126)
    assert ((cover >= lo) & (cover <= hi)).all(), cover


# ---------------------------------------------------------------------------------------------
# window selection
# ---------------------------------------------------------------------------------------------
def _cohorts(shift, per=10, K=5, seed=0):
    """x = -10, ..., 9 with `per` units each; the covariate is mirrored across the cutoff (left
    cohort -j-1 has the values of right cohort j), so every window [-k, k-1] is exactly balanced,
    except that the right cohorts from K on are shifted by `shift`."""
    rng = np.random.default_rng(seed)
    right = rng.normal(0, 0.3, (10, per))
    xs, zs = [], []
    for j in range(10):
        xs += [j] * per + [-j - 1] * per
        zs += list(right[j] + shift * (j >= K)) + list(right[j])
    return np.array(xs, float), np.array(zs)


def test_select_window_stops_where_balance_fails():
    x, z = _cohorts(shift=1.0)
    sel = select_window(x, {"z": z}, cutoff=0, n_perm=400, seed=2)
    assert sel.masspoints                                   # 10 units at each value of x
    assert sel.window == (-5.0, 4.0) and (sel.n_left, sel.n_right) == (50, 50)
    t = sel.table
    assert (t["p_value"][:5] > 0.9).all() and (t["p_value"][5:] < 0.05).all()
    assert t["n_left"].tolist() == list(range(10, 101, 10))
    assert "Mass points detected" in sel.log
    x0, z0 = _cohorts(shift=0.0)
    sel0 = select_window(x0, {"z": z0}, cutoff=0, n_perm=400, seed=2)
    assert sel0.window == (-10.0, 9.0)
    # randinf takes the selection as its window
    y = _null_design(0, x, 20)
    res = randinf(x, y, cutoff=0, window=sel, quantiles=Q9, n_perm=199, seed=1, conf_sets=False)
    assert res.window == (-5.0, 4.0) and (res.n_left, res.n_right) == (50, 50)


# rdlocrand computes a large-sample p-value it then discards; with one unit on a side its variance
# divides by n - 1 = 0 (select_window filters this warning; the direct call here does not)
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_select_window_equals_rdwinselect_on_unit_means():
    """A long table (rebp-like: observations in age-in-month cells, a 0/1 covariate): the unit
    means computed here independently, fed to rdwinselect with the same seed, give the same table."""
    rng = np.random.default_rng(8)
    cells = np.arange(46 * 12, 54 * 12)
    rows = []
    for c in cells:
        n = rng.integers(20, 40)
        share = 0.4 + 0.15 * (c >= 600) * (c >= 604)            # women jump 4 months past the cutoff
        rows.append(pd.DataFrame({"cell": c, "age": c / 12, "female": rng.random(n) < share,
                                  "duration": rng.exponential(20, n)}))
    df = pd.concat(rows, ignore_index=True)
    sel = select_window("age", "female", data=df, unit="cell", cutoff=50, n_perm=300, seed=4, nwindows=12)
    unit = df.groupby("cell").agg(age=("age", "first"), female=("female", "mean"))
    with contextlib.redirect_stdout(io.StringIO()):
        ref = rdlocrand.rdwinselect(unit["age"].to_numpy(), unit[["female"]].to_numpy(), cutoff=50,
                                    wmasspoints=True, nwindows=12, reps=300, seed=sel.rdwinselect_seed,
                                    quietly=True)
    r = ref["results"]
    np.testing.assert_allclose(sel.table["p_value"], r["p-value"], rtol=0, atol=0)
    np.testing.assert_allclose(sel.table["window_left"], 50 + r["w_left"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(sel.table["window_right"], 50 + r["w_right"], rtol=0, atol=1e-12)
    assert sel.table["n_left"].tolist() == r["Obs<c"].astype(int).tolist()
    assert sel.window == pytest.approx((ref["w_left"], ref["w_right"]))
    assert sel.table["n_left"].tolist()[:3] == [1, 2, 3] and sel.table["covariate"].iloc[0] == "female"
    # the selected window's units, in the long table, are what randinf counts
    res = randinf("age", "duration", data=df, unit="cell", cutoff=50, window=sel, quantiles=Q9, n_perm=99, seed=0,
                  conf_sets=False)
    assert (res.n_left, res.n_right) == (sel.n_left, sel.n_right)


# ---------------------------------------------------------------------------------------------
# the result: data forms, closed windows, summary and plots
# ---------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:window. with 2 . [23] units there are only:UserWarning")
def test_window_is_closed_and_forms_agree():
    x = 50 + (np.arange(8) - 4) / 12
    rng = np.random.default_rng(1)
    y = [rng.exponential(10, 30) for _ in x]
    res = randinf(x, y, cutoff=50, window=(50 - 2 / 12, 50 + 1 / 12), quantiles=Q9, conf_sets=False)
    assert (res.n_left, res.n_right) == (2, 2)                # both ends included
    res_h = randinf(x, y, cutoff=50, window=2 / 12, quantiles=Q9, conf_sets=False)
    assert (res_h.n_left, res_h.n_right) == (2, 3)            # [c - h, c + h]
    df = pd.DataFrame({"unit": np.repeat(np.arange(8), 30), "x": np.repeat(x, 30), "y": np.concatenate(y)})
    res_df = randinf("x", "y", data=df, unit="unit", cutoff=50, window=(50 - 2 / 12, 50 + 1 / 12), quantiles=Q9,
                     conf_sets=False)
    Q = unit_quantiles(y, Q9)
    res_q = randinf(x, Q=Q, quantiles=Q9, cutoff=50, window=(50 - 2 / 12, 50 + 1 / 12), conf_sets=False)
    for r in (res_df, res_q):
        np.testing.assert_allclose(r.by_quantile["p_value"], res.by_quantile["p_value"], rtol=0, atol=0)
        assert r.p_value == res.p_value
    assert res_df.units.tolist() == [2, 3, 4, 5]


def test_summary_and_plots():
    rng = np.random.default_rng(3)
    x = np.arange(-8, 8) + 0.5
    y = [rng.normal(0.5 * (xi >= 0), 1, 50) for xi in x]
    res = randinf(x, y, cutoff=0, window=(-5, 5), quantiles=np.arange(1, 20) / 20, statistic="wasserstein",
                  n_perm=999, seed=1)
    assert isinstance(res, RandInfResult) and res.statistic_name == "wasserstein"
    assert res.p_value == res.tests.set_index("test").loc["wasserstein", "p_value"]
    s = res.summary()
    txt = str(s)
    assert txt.startswith("Local randomization inference") and "all 252 assignments enumerated" in txt
    assert "set for a constant shift (wasserstein)" in txt
    assert s.to_frame()["q"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert s._repr_html_().count("<table") == 2
    ci = res.conf_int()
    assert list(ci.columns) == ["lower", "upper", "pieces"] and (ci["lower"] <= ci["upper"]).all()
    fig = res.plot()
    assert len(fig.axes) == 2
    ax = res.plot(kind="null").axes[0]
    assert ax.get_xlabel().startswith("2-Wasserstein distance") and ax.patches
    x2, z2 = _cohorts(shift=1.0)
    sel = select_window(x2, {"z": z2}, cutoff=0, n_perm=200, seed=2)
    assert isinstance(sel, WindowSelection) and "recommended window: [-5, 4]" in str(sel.summary())
    assert sel.plot().axes[0].get_ylabel() == "p-value"


# ---------------------------------------------------------------------------------------------
# input errors
# ---------------------------------------------------------------------------------------------
def test_input_errors_name_the_argument():
    x = np.arange(-5, 5) + 0.5
    y = [np.arange(5.0) + i for i in range(10)]
    kw = dict(cutoff=0, quantiles=Q9, conf_sets=False)
    bad = [
        (dict(window=(1, 3)), ValueError, r"^window: wl = 1 is above the cutoff"),
        (dict(window=(-3, -1)), ValueError, r"^window: wr = -1 is below the cutoff"),
        (dict(window=(2, -2)), ValueError, r"^window: wl = 2 must be smaller than wr"),
        (dict(window=(-0.2, 3)), ValueError, r"^window: \[-0.2, 3\] contains no unit left of the cutoff"),
        (dict(window=(-3, 0.2)), ValueError, r"^window: \[-3, 0.2\] contains no unit at or right"),
        (dict(window=-1.0), ValueError, r"^window: a half-width must be > 0"),
        (dict(window=None), ValueError, r"^window: give the window"),
        (dict(window=(-3, "a")), TypeError, r"^window: wr: must be a real number"),
        (dict(window=(1, 2, 3)), ValueError, r"^window: must be a pair"),
        (dict(window=3, statistic="ks"), ValueError, r"^statistic: unknown statistic"),
        (dict(window=3, n_perm=0), ValueError, r"^n_perm: must be >= 1"),
        (dict(window=3, method="enumerate"), ValueError, r"^method: must be"),
        (dict(window=3, seed=-1), ValueError, r"^seed: must be >= 0"),
        (dict(window=3, alpha=1.5), ValueError, r"^alpha: must be strictly inside"),
        (dict(window=3, tau_grid=[1.0]), ValueError, r"^tau_grid: must be a 1-D array of at least two"),
        (dict(window=3, conf_sets="yes"), TypeError, r"^conf_sets: must be True or False"),
    ]
    for extra, exc, msg in bad:
        with pytest.raises(exc, match=msg):
            randinf(x, y, **{**kw, **extra})
    with pytest.raises(ValueError, match=r"^tau_grid: must be strictly increasing"):
        randinf(x, y, cutoff=0, window=3, quantiles=Q9, tau_grid=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"^method: 'exact' would enumerate"):
        randinf(np.arange(-30, 30) + 0.5, [np.arange(3.0)] * 60, cutoff=0, window=30, quantiles=Q9,
                method="exact", conf_sets=False)
    with pytest.raises(TypeError, match=r"cutoff"):
        randinf(x, y, window=3)                                      # cutoff is required
    with pytest.raises(ValueError, match=r"^level: must be strictly inside"):
        select_window(x, {"z": np.arange(10.0)}, cutoff=0, level=0)
    with pytest.raises(ValueError, match=r"^covariates: 'z' has 3 values"):
        select_window(x, {"z": np.arange(3.0)}, cutoff=0)
    with pytest.raises(ValueError, match=r"^wmin: not allowed with masspoints=True"):
        select_window(x, {"z": np.arange(10.0)}, cutoff=0, wmin=1.0)
    with pytest.raises(ValueError, match=r"^reps: set by select_window"):
        select_window(x, {"z": np.arange(10.0)}, cutoff=0, reps=10)
    with pytest.raises(ValueError, match=r"^x: all 10 units are on one side"):
        select_window(x, {"z": np.arange(10.0)}, cutoff=-10)
