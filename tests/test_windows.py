"""Windows that can carry a variance (r3d_teach.core.options.check_windows), the Gini edge cases,
and the band option of the Monte Carlo runner and the command line."""
import json

import numpy as np
import pytest

import r3d_teach.core.options as options
from r3d_teach import r3d
from r3d_teach.core.dof import bell_mccaffrey_dof
from r3d_teach.core.gini import gini_from_quantiles
from r3d_teach.core.kernels import get_kernel
from r3d_teach.core.options import MIN_RESIDUAL_DF

Q9 = np.arange(1, 10) / 10


def _units(x, seed=0, k=50):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=k) for _ in x]


def _count(x, h, side):
    on = x >= 0 if side == "+" else x < 0
    return int((get_kernel("triangular")(np.abs(x[on]) / h) > 0).sum())


def test_the_margin_is_three_residual_degrees_of_freedom():
    assert MIN_RESIDUAL_DF == 3


def test_four_units_a_side_is_an_error_not_a_zero_standard_error():
    """Before: the data-driven window took all 4 units, the order-2 fit interpolated 3 of them...
    se = 0 everywhere, a zero-width band and a tiny nullity p-value on pure noise."""
    x = np.array([-0.8, -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8])
    msg = (r"x: only 4 unit\(s\) on the right \(x >= cutoff\) side in all; a variance from the order-2 fit "
           r"needs at least 6 \(p \+ 1 = 3 coefficients and 3 residual degrees of freedom\)")
    with pytest.raises(ValueError, match=msg), pytest.warns(UserWarning, match="x: the running variable has few"):
        r3d(x, _units(x), quantiles=Q9)
    # a lower order needs fewer: p = 1 (with s = 0, a local-constant estimate) needs 2 + 3 = 5
    with pytest.raises(ValueError, match=r"x: only 4 unit\(s\) .* needs at least 5"):
        r3d(x, _units(x), quantiles=Q9, p=1, s=0)


def test_a_given_bandwidth_that_saturates_a_side_names_it_and_the_counts():
    rng = np.random.default_rng(1)
    x = np.r_[rng.uniform(-1, 0, 20), rng.uniform(0, 1, 20)]
    y = _units(x, 2)
    h = 1.01 * np.sort(x[x >= 0])[2]                     # 3 units right, more left
    assert _count(x, h, "+") == 3 and _count(x, h, "-") >= 1
    msg = (rf"h: only 3 unit\(s\) with positive kernel weight on the right \(x >= cutoff\) side \(h = {h:.4g}; "
           r"20 units on that side\); a variance from the order-2 fit needs at least 6 .* Increase h")
    with pytest.raises(ValueError, match=msg):
        r3d(x, y, quantiles=Q9, h=h, n_boot=0)
    # the b-window too
    h_ok = 1.01 * max(np.sort(x[x >= 0])[7], np.sort(-x[x < 0])[7])
    with pytest.raises(ValueError, match=r"b: only 3 unit\(s\) with positive kernel weight on the right"):
        r3d(x, y, quantiles=Q9, h=h_ok, b=h, n_boot=0)
    # exactly p + 1 + 3 units on each side is enough
    h6 = 1.01 * max(np.sort(x[x >= 0])[5], np.sort(-x[x < 0])[5])
    assert min(_count(x, h6, "+"), _count(x, h6, "-")) == 6
    res = r3d(x, y, quantiles=Q9, h=h6, n_boot=99, seed=0)
    assert np.all(res.se > 0) and np.all(np.isfinite(res.band_upper))
    # the band's ν: Bell-McCaffrey's, at most the residual degrees of freedom of the two windows
    fits = res.diagnostics.fits
    n_units = sum(fits[side].rows.size for side in ("+", "-"))
    assert res.diagnostics.bootstrap.dof == res.dof == pytest.approx(bell_mccaffrey_dof(fits, "hc2"), rel=1e-12)
    assert 1 <= res.dof <= n_units - 2 * 3


def test_one_cluster_on_a_side_is_an_error():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 200)
    y = _units(x, 4)
    g = np.where(x < 0, 0, 1 + (np.arange(200) % 5))          # every left unit in cluster 0
    with pytest.raises(ValueError, match=r"cluster: only 1 cluster\(s\) have units in the window on the left "
                                         r"\(x < cutoff\) side; clustered standard errors, bands and tests need "
                                         r"at least 2 per side"):
        r3d(x, y, quantiles=Q9, h=0.5, cluster=g, n_boot=0)
    g2 = np.where(x < 0, np.arange(200) % 2, 2 + np.arange(200) % 5)
    with pytest.warns(UserWarning, match="cluster: only 2 .left. and 5 .right. clusters"):
        res = r3d(x, y, quantiles=Q9, h=0.5, cluster=g2, n_boot=0)
    assert np.all(res.se > 0)


def test_data_driven_windows_hold_enough_units(monkeypatch):
    """A data-driven b (the selector's pilot) is widened to hold p + 4 units per side when it
    holds fewer, and left alone otherwise; the data-driven h holds max(min_units, p + 4)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, 400)
    y = _units(x, 6)
    real = options.bandwidth_from_matrix
    pilot = {}

    def small_pilot(*args, **kwargs):
        sel = real(*args, **kwargs)
        sel.b_pilot = dict(pilot)
        return sel

    def kth(side, k):  # just beyond the k-th nearest unit on the side (the selector's margin, 1 %)
        return 1.01 * np.sort(np.abs(x[(x >= 0) if side == "+" else (x < 0)]))[k - 1]

    monkeypatch.setattr(options, "bandwidth_from_matrix", small_pilot)
    pilot.update({"+": 1e-3, "-": 0.5})
    res = r3d(x, y, quantiles=Q9, n_boot=0)
    assert res.b["+"] == pytest.approx(kth("+", 6), rel=1e-12) and _count(x, res.b["+"], "+") >= 6
    assert res.b["-"] == 0.5                                            # enough units: as selected
    for side in ("+", "-"):
        assert _count(x, res.h, side) >= 10                             # min_units = 10
    res6 = r3d(x, y, quantiles=Q9, n_boot=0, min_units=0)              # never fewer than p + 4 = 6
    assert res6.h >= max(kth("+", 6), kth("-", 6)) * (1 - 1e-12)
    pilot.update({"+": 1e-3, "-": 1e-3})
    res4 = r3d(x, y, quantiles=Q9, p=4, s=3, n_boot=0)                   # p = 4: 8 units
    for side in ("+", "-"):
        assert res4.b[side] == pytest.approx(kth(side, 8), rel=1e-12)


# --------------------------------------------------------------------------- Gini edge cases
def test_gini_of_a_grid_too_short_to_integrate_is_an_error():
    with pytest.raises(ValueError, match="quantiles: the Gini coefficient integrates the quantile curve and needs "
                                         "a 1-D grid of at least 2 levels; got 1"):
        gini_from_quantiles(np.array([3.0]), np.array([0.5]))
    assert gini_from_quantiles(np.array([1.0, 3.0]), np.array([0.25, 0.75])) > 0     # two levels: a spread


def test_identical_units_never_reject_the_gini_test():
    """Every unit has the same sample: the two boundary Gini coefficients differ by rounding only;
    R3D 0.1.0's rule gave p = 0.032 here, now p = 1."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, 300)
    sample = np.exp(rng.normal(2, 0.7, 200))
    for seed in range(3):
        res = r3d(x, [sample] * 300, quantiles=np.arange(1, 100) / 100, h=0.5, n_boot=199, seed=seed,
                  tests=("gini",))
        assert res.tests.p_value.iloc[0] == 1.0 and res.tests.statistic.iloc[0] == 0.0


# --------------------------------------------------------------------------- the runner and the command
def test_monte_carlo_rows_record_both_bands():
    from r3d_teach.simulate.montecarlo import run_study, run_task, summarize

    rows = run_task("paper1", 200, 30, 0, ["frechet"], [0.0, 1.14], n_boot=199)
    for r in rows:
        assert r["band"] == "studentized" and r["covered"] == r["covered_studentized"]
        assert isinstance(r["covered_unweighted"], bool)
    unw = run_task("paper1", 200, 30, 0, ["frechet"], [0.0, 1.14], n_boot=199, band="unweighted")
    for a, b in zip(rows, unw):
        assert b["covered"] == b["covered_unweighted"] == a["covered_unweighted"]
        assert b["covered_studentized"] == a["covered_studentized"]
        assert b["null_crit"] != a["null_crit"]                    # the tests' statistics follow the band
    df = run_study(["paper1"], [200], methods=["frechet"], deltas=[0.0], reps=3, n_boot=99, progress=False)
    s = summarize(df)
    assert {"coverage", "coverage_studentized", "coverage_unweighted"} <= set(s.columns)
    assert s["coverage"].iloc[0] == s["coverage_studentized"].iloc[0]


def test_monte_carlo_refuses_to_mix_bands_in_one_file(tmp_path):
    from r3d_teach.simulate.montecarlo import run_study

    out = str(tmp_path / "mc.csv")
    run_study(["paper1"], [200], methods=["frechet"], deltas=[0.0], reps=1, n_boot=49, out=out, progress=False)
    with pytest.raises(ValueError, match=r"band: .*mc.csv holds results of the \['studentized'\] band; this run "
                                         r"uses 'unweighted'"):
        run_study(["paper1"], [200], methods=["frechet"], deltas=[0.0], reps=2, n_boot=49, out=out,
                  progress=False, band="unweighted")


def test_command_line_band_option(tmp_path, capsys):
    pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    import pandas as pd

    from r3d_teach.cli import main

    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, 150)
    k = 30
    df = pd.DataFrame({"unit": np.repeat(np.arange(150), k), "x": np.repeat(x, k),
                       "y": rng.normal(np.repeat(1 + x + (x >= 0), k), 1)})
    df.to_csv(tmp_path / "d.csv", index=False)
    for band in ("studentized", "unweighted"):
        out = tmp_path / band
        rc = main(["fit", str(tmp_path / "d.csv"), "--x", "x", "--y", "y", "--unit", "unit", "--quantiles",
                   "0.25,0.5,0.75", "--boot", "199", "--seed", "3", "--band", band, "--out", str(out)])
        assert rc == 0
        info = json.loads((out / "result.json").read_text())
        assert info["settings"]["band"] == band
        api = r3d("x", "y", data=df, unit="unit", quantiles=[0.25, 0.5, 0.75], n_boot=199, seed=3, band=band)
        eff = pd.read_csv(out / "effect.csv")
        np.testing.assert_allclose(eff["band_upper"], api.band_upper, rtol=0, atol=1e-10)
        assert info["crit_value"] == pytest.approx(api.crit_value, rel=1e-10)
        # the residual rule follows the band unless given; the studentized band records its ν
        assert info["settings"]["residuals"] == {"studentized": "hc2", "unweighted": "hc3"}[band]
        assert (info["dof"] is None) == (band == "unweighted")
        if info["dof"] is not None:
            assert info["dof"] == pytest.approx(api.dof, rel=1e-12)
    out = tmp_path / "hc3"
    assert main(["fit", str(tmp_path / "d.csv"), "--x", "x", "--y", "y", "--unit", "unit", "--quantiles",
                 "0.25,0.5,0.75", "--boot", "199", "--seed", "3", "--residuals", "hc3", "--out", str(out)]) == 0
    info = json.loads((out / "result.json").read_text())
    api = r3d("x", "y", data=df, unit="unit", quantiles=[0.25, 0.5, 0.75], n_boot=199, seed=3, residuals="hc3")
    assert info["settings"]["residuals"] == "hc3" and info["crit_value"] == pytest.approx(api.crit_value, rel=1e-10)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["fit", str(tmp_path / "d.csv"), "--x", "x", "--y", "y", "--unit", "unit", "--band", "wide",
              "--out", str(tmp_path / "bad")])
    assert "--band" in capsys.readouterr().err
