"""Tests for r3d_teach.montecarlo: exactness of the shortcuts, seeding, rerun and resume."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from r3d_teach import r3d
from r3d_teach.inference import multiplier_bootstrap
from r3d_teach.quantiles import unit_quantiles
from r3d_teach.montecarlo import (
    _pseudo_samples,
    _root,
    influence_matrix,
    main,
    paper_table,
    run_study,
    run_task,
    summarize,
    summarize_quantiles,
)
from r3d_teach.simulate import paper_dgp2

DEC = np.arange(1, 10) / 10
SMALL = dict(n_boot=99, n_obs=30, progress=False, n_jobs=1)


def _drop_time(df):
    return df.drop(columns=["seconds"]).sort_values(["design", "n", "method", "delta", "rep"]).reset_index(drop=True)


@pytest.mark.parametrize("method", ["frechet", "simple"])
def test_influence_matrix_and_pseudo_samples(method):
    sim = paper_dgp2(300, 40, 1.0, seed=3)
    res, Phi = influence_matrix(sim.x, sim.y, DEC, method)
    # r3d's own multiplier draws are xi' Phi for any multipliers xi
    xi = np.random.default_rng(0).standard_normal((300, 250))
    own = r3d(sim.x, sim.y, method=method, quantiles=DEC, multipliers=xi)
    np.testing.assert_allclose(own.diagnostics.bootstrap.draws, xi.T @ Phi, atol=1e-10)
    boot = multiplier_bootstrap(Phi, res.tau, DEC, multipliers=xi, tests=("nullity", "homogeneity"))
    assert boot.crit_value == pytest.approx(own.crit_value, abs=1e-10)
    np.testing.assert_allclose(boot.tests["p_value"], own.tests["p_value"], atol=1e-12)
    # the M-dimensional Gaussian bootstrap has the same law: R'R = Phi'Phi
    R = _root(Phi)
    np.testing.assert_allclose(R.T @ R, Phi.T @ Phi, atol=1e-10 * np.abs(Phi.T @ Phi).max())
    # (K+1)-point pseudo-samples carry exactly the unit quantiles: same estimate as the samples
    Q = np.quantile(sim.y_matrix, DEC, axis=1).T
    pseudo = _pseudo_samples(Q)
    np.testing.assert_allclose(unit_quantiles(pseudo, DEC), Q, atol=1e-12)
    res2 = r3d(sim.x, pseudo, method=method, quantiles=DEC)
    np.testing.assert_allclose(res2.tau, res.tau, atol=1e-10)
    np.testing.assert_allclose(res2.h, res.h, atol=1e-12)


def test_shift_shortcut_is_exact():
    kw = dict(n_boot=199, quantiles=DEC, data="quantiles")
    fast = run_task("paper1", 200, 30, 2, ["frechet", "simple"], [0.0, 1.14, 2.27], shift_shortcut=True, **kw)
    slow = run_task("paper1", 200, 30, 2, ["frechet", "simple"], [0.0, 1.14, 2.27], shift_shortcut=False, **kw)
    f = pd.DataFrame(fast).drop(columns="seconds").sort_values(["method", "delta"]).reset_index(drop=True)
    s = pd.DataFrame(slow).drop(columns="seconds").sort_values(["method", "delta"]).reset_index(drop=True)
    assert (f["error"] == "").all()
    num = [c for c in f.columns if c.startswith(("tau_", "h", "crit", "null_stat", "homo_stat", "max_abs"))]
    np.testing.assert_allclose(f[num].to_numpy(float), s[num].to_numpy(float), atol=1e-8)
    for c in ("covered", "null_accept", "homo_accept"):
        assert f[c].tolist() == s[c].tolist()


def test_same_seed_same_numbers_and_cell_rerun():
    full = run_study(["paper1", "heterogeneous"], [200], methods=["frechet", "simple"],
                     deltas=[0.0, 2.0], reps=3, **SMALL)
    again = run_study(["paper1", "heterogeneous"], [200], methods=["frechet", "simple"],
                      deltas=[0.0, 2.0], reps=3, **SMALL)
    pd.testing.assert_frame_equal(_drop_time(full), _drop_time(again))
    assert len(full) == 2 * 2 * 2 * 3
    other = run_study(["paper1"], [200], methods=["frechet"], deltas=[2.0], reps=1, base_seed=7, **SMALL)
    assert other["tau_0.5"].iloc[0] != full.query("design == 'paper1' and method == 'frechet' "
                                                  "and delta == 2.0 and rep == 0")["tau_0.5"].iloc[0]
    # one cell and one repetition alone
    for design in ("paper1", "heterogeneous"):
        alone = run_study([design], [200], methods=["simple"], deltas=[2.0], reps=3, rep_range=[1], **SMALL)
        ref = full.query(f"design == '{design}' and method == 'simple' and delta == 2.0 and rep == 1")
        pd.testing.assert_frame_equal(_drop_time(alone), _drop_time(ref))
    # common random numbers: coverage and homogeneity identical across delta in a shift design
    p1 = full[full["design"] == "paper1"]
    a, b = p1[p1["delta"] == 0.0], p1[p1["delta"] == 2.0]
    assert a["covered"].tolist() == b["covered"].tolist()
    assert a["homo_accept"].tolist() == b["homo_accept"].tolist()


def test_resume_does_not_duplicate(tmp_path):
    out = str(tmp_path / "mc.csv")
    run_study(["paper2"], [200], methods=["frechet"], deltas=[0.0, 1.86], reps=2, out=out, **SMALL)
    first = pd.read_csv(out)
    assert len(first) == 4
    df = run_study(["paper2"], [200], methods=["frechet"], deltas=[0.0, 1.86], reps=3, out=out, **SMALL)
    assert len(df) == 6 and not df.duplicated(["design", "n", "n_obs", "method", "delta", "rep"]).any()
    pd.testing.assert_frame_equal(df.iloc[:4].reset_index(drop=True), first)
    df2 = run_study(["paper2"], [200], methods=["frechet"], deltas=[0.0, 1.86], reps=3, out=out, **SMALL)
    assert len(df2) == 6
    # the resumed repetition equals a fresh run of it
    fresh = run_study(["paper2"], [200], methods=["frechet"], deltas=[0.0, 1.86], reps=3, rep_range=[2], **SMALL)
    got = df[df["rep"] == 2].reset_index(drop=True)
    num = [c for c in fresh.columns if c.startswith("tau_")] + ["h", "crit_value"]
    np.testing.assert_allclose(got[num].to_numpy(float), fresh[num].to_numpy(float), rtol=1e-12)


def test_other_methods_and_modes():
    q = run_study(["heterogeneous"], [300], methods=["qrd"], deltas=[0.0], reps=1, **SMALL)
    assert np.all(np.isfinite(q[[c for c in q.columns if c.startswith("tau_")]].to_numpy(float)))
    assert q["covered"].isna().all()
    fz = run_study(["fuzzy"], [300], methods=["frechet"], deltas=[2.0], reps=1, **SMALL)
    assert (fz["error"].fillna("") == "").all() and fz["crit_value"].iloc[0] > 0
    sm = run_study(["paper1"], [200], methods=["frechet"], deltas=[1.0], reps=1, data="samples", **SMALL)
    assert sm["crit_value"].iloc[0] > 0
    with pytest.raises(ValueError, match="designs"):
        run_study(["paper3"], [200], reps=1, **SMALL)
    with pytest.raises(ValueError, match="methods"):
        run_study(["paper1"], [200], methods=["ols"], reps=1, **SMALL)
    with pytest.raises(ValueError, match="methods"):
        run_study(["fuzzy"], [200], methods=["qrd"], reps=1, **SMALL)
    with pytest.raises(ValueError, match="reps"):
        run_study(["paper1"], [200], reps=0, **SMALL)


def test_summaries_by_hand():
    rows = []
    for rep, (t5, cov, hom, nul) in enumerate([(1.9, True, True, False), (2.1, True, False, False),
                                              (2.3, False, True, False), (1.7, True, True, True)]):
        r = {"design": "paper1", "n": 500, "n_obs": 500, "method": "frechet", "delta": 2.0, "rep": rep,
             "h": 0.3, "covered": cov, "homo_accept": hom, "null_accept": nul}
        r.update({f"tau_{q:g}": 2.0 for q in DEC})
        r["tau_0.5"] = t5
        rows.append(r)
    df = pd.DataFrame(rows)
    s = summarize(df).iloc[0]
    assert s["reps"] == 4 and s["coverage"] == pytest.approx(75.0)
    assert s["coverage_se"] == pytest.approx(100 * np.sqrt(0.75 * 0.25 / 4))
    assert s["homogeneity_accept"] == pytest.approx(75.0) and s["nullity_accept"] == pytest.approx(25.0)
    sq = summarize_quantiles(df).set_index("quantile")
    assert sq.loc[0.5, "truth"] == 2.0
    assert sq.loc[0.5, "bias"] == pytest.approx(0.0, abs=1e-12)
    assert sq.loc[0.5, "variance"] == pytest.approx(0.2 / 3)
    assert sq.loc[0.5, "rmse"] == pytest.approx(np.sqrt(0.2 / 4))
    assert sq.loc[0.1, "variance"] == 0.0 and sq.loc[0.1, "rel_bias"] == 0.0
    tab = paper_table(df, "paper1")
    assert tab.loc[("Unif. CIs", 500), ("frechet", 2.0)] == pytest.approx(75.0)


def test_cli(tmp_path, capsys):
    out = str(tmp_path / "cli.csv")
    main(["--design", "paper1", "--n", "200", "--n-obs", "20", "--reps", "2", "--boot", "49",
          "--methods", "frechet", "--deltas", "0", "1.14", "--jobs", "1", "--quiet", "--out", out])
    df = pd.read_csv(out)
    assert len(df) == 4 and set(df["delta"]) == {0.0, 1.14}
    meta = [json.loads(line) for line in open(out + ".meta.json")]
    assert meta[-1]["rows_in_file"] == 4 and "--reps 2" in meta[-1]["command"]
    assert "coverage" in capsys.readouterr().out
    assert os.path.getsize(out) > 0


def test_parallel_equals_serial():
    kw = dict(methods=["frechet"], deltas=[0.0, 2.27], reps=4, n_boot=99, n_obs=20, progress=False)
    par = run_study(["paper1"], [150], n_jobs=2, **kw)
    ser = run_study(["paper1"], [150], n_jobs=1, **kw)
    pd.testing.assert_frame_equal(_drop_time(par), _drop_time(ser))
