"""Tests for r3d_teach.simulate.montecarlo: exactness of the shortcuts, seeding, rerun and resume, the
argument checks of run_study and of the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from r3d_teach import r3d
from r3d_teach.core.bootstrap import covariance_root, multiplier_bootstrap
from r3d_teach.core.quantiles import unit_quantiles
from r3d_teach.simulate.montecarlo import (
    KEY,
    MC_DESIGNS,
    _pseudo_samples,
    influence_matrix,
    main,
    paper_table,
    run_study,
    run_task,
    summarize,
    summarize_quantiles,
)
from r3d_teach.simulate import PaperDGP1, get_design, paper_dgp2

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
    own = r3d(sim.x, sim.y, method=method, quantiles=DEC, multipliers=xi, seed=5)
    np.testing.assert_allclose(own.diagnostics.bootstrap.draws, xi.T @ Phi, atol=1e-10)
    # the studentized band's χ²_ν draws come from the seed (given multipliers: its first draws)
    boot = multiplier_bootstrap(Phi, res.tau, DEC, multipliers=xi, tests=("nullity", "homogeneity"), dof=own.dof,
                                rng=np.random.default_rng(5))
    assert boot.crit_value == pytest.approx(own.crit_value, abs=1e-10)
    np.testing.assert_allclose(boot.tests["p_value"], own.tests["p_value"], atol=1e-12)
    # the stored influence terms are the bootstrap's (zero rows outside every window)
    np.testing.assert_allclose(Phi[own.diagnostics.bootstrap.rows], own.diagnostics.bootstrap.influence,
                               atol=1e-12)
    # the M-dimensional Gaussian bootstrap has the same law: R'R = Phi'Phi
    R = covariance_root(Phi)
    np.testing.assert_allclose(R.T @ R, Phi.T @ Phi, atol=1e-10 * np.abs(Phi.T @ Phi).max())
    # (K+1)-point pseudo-samples carry exactly the unit quantiles: same estimate as the samples
    Q = np.quantile(sim.y_matrix, DEC, axis=1).T
    pseudo = _pseudo_samples(Q)
    np.testing.assert_allclose(unit_quantiles(pseudo, DEC), Q, atol=1e-12)
    res2 = r3d(sim.x, pseudo, method=method, quantiles=DEC)
    np.testing.assert_allclose(res2.tau, res.tau, atol=1e-10)
    np.testing.assert_allclose(res2.h, res.h, atol=1e-12)


def test_gaussian_bootstrap_has_the_multiplier_law():
    """The M-dimensional draws R'eta against r3d's own n-dimensional multiplier draws: the
    covariance of G_b is Phi'Phi for both (checked on the sd of each coordinate, 20,000 draws)."""
    sim = paper_dgp2(300, 40, 1.0, seed=5)
    res, Phi = influence_matrix(sim.x, sim.y, DEC)
    B = 20_000
    G = covariance_root(Phi).T @ np.random.default_rng(1).standard_normal((9, B))
    sd = np.sqrt((Phi ** 2).sum(axis=0))
    np.testing.assert_allclose(sd, res.se, rtol=1e-10)
    assert np.all(np.abs(G.std(axis=1) - sd) < 4.5 * sd / np.sqrt(2 * B))


@pytest.mark.parametrize("design", ["paper1", "heterogeneous"])
def test_shift_shortcut_is_exact(design):
    kw = dict(n_boot=199, quantiles=DEC, data="quantiles")
    deltas = [0.0, 1.14, 2.27]
    fast = run_task(design, 200, 30, 2, ["frechet", "simple", "qrd"], deltas, shift_shortcut=True, **kw)
    slow = run_task(design, 200, 30, 2, ["frechet", "simple", "qrd"], deltas, shift_shortcut=False, **kw)
    f = pd.DataFrame(fast).drop(columns="seconds").sort_values(["method", "delta"]).reset_index(drop=True)
    s = pd.DataFrame(slow).drop(columns="seconds").sort_values(["method", "delta"]).reset_index(drop=True)
    assert (f["error"] == "").all() and len(f) == 9
    num = [c for c in f.columns if c.startswith(("tau_", "h", "crit", "null_stat", "homo_stat", "max_abs"))]
    np.testing.assert_allclose(f[num].to_numpy(float), s[num].to_numpy(float), atol=1e-8)
    for c in ("covered", "null_accept", "homo_accept"):
        assert f[c].tolist() == s[c].tolist()


def test_rows_use_the_designs_truth():
    rows = run_task("paper2", 200, 30, 0, ["frechet"], [1.86], n_boot=99)
    r = rows[0]
    tau = np.array([r[f"tau_{q:g}"] for q in DEC])
    truth = get_design("paper2", delta=1.86).truth(DEC)
    assert r["max_abs_error"] == pytest.approx(np.max(np.abs(tau - truth)), abs=1e-12)
    assert r["covered"] == bool(r["max_abs_error"] <= r["crit_value"])
    with pytest.raises(ValueError, match="^design"):
        run_task("null", 200, 30, 0, ["frechet"], [0.0], n_boot=99)


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
    assert len(df) == 6 and not df.duplicated(KEY).any()
    pd.testing.assert_frame_equal(df.iloc[:4].reset_index(drop=True), first)
    df2 = run_study(["paper2"], [200], methods=["frechet"], deltas=[0.0, 1.86], reps=3, out=out, **SMALL)
    assert len(df2) == 6
    # the resumed repetition equals a fresh run of it
    fresh = run_study(["paper2"], [200], methods=["frechet"], deltas=[0.0, 1.86], reps=3, rep_range=[2], **SMALL)
    got = df[df["rep"] == 2].reset_index(drop=True)
    num = [c for c in fresh.columns if c.startswith("tau_")] + ["h", "crit_value"]
    np.testing.assert_allclose(got[num].to_numpy(float), fresh[num].to_numpy(float), rtol=1e-12)


def test_resume_reruns_error_rows(tmp_path):
    """A row whose fit failed is not a finished cell: a resumed run removes it and runs it again."""
    out = str(tmp_path / "mc.csv")
    good = run_study(["paper1"], [200], methods=["frechet"], deltas=[0.0], reps=2, out=out, **SMALL)
    broken = good.copy()
    broken["error"] = broken["error"].astype(object)
    broken.loc[1, [c for c in broken.columns if c.startswith("tau_")] + ["crit_value"]] = np.nan
    broken.loc[1, "error"] = "ValueError: h: only 2 unit(s) in the window"
    broken.to_csv(out, index=False)
    s = summarize(pd.read_csv(out)).iloc[0]
    assert (s["reps"], s["failed"]) == (1, 1)  # the failed fit is counted, not averaged in
    again = run_study(["paper1"], [200], methods=["frechet"], deltas=[0.0], reps=2, out=out, **SMALL)
    assert len(again) == 2 and again["error"].isna().all()
    pd.testing.assert_frame_equal(_drop_time(again), _drop_time(good))


def test_other_methods_and_modes():
    q = run_study(["heterogeneous"], [300], methods=["qrd"], deltas=[2.0], reps=1, **SMALL)
    assert np.all(np.isfinite(q[[c for c in q.columns if c.startswith("tau_")]].to_numpy(float)))
    assert q["covered"].isna().all()
    fz = run_study(["fuzzy"], [300], methods=["frechet"], deltas=[2.0], reps=1, **SMALL)
    assert (fz["error"] == "").all() and fz["crit_value"].iloc[0] > 0
    sm = run_study(["paper1"], [200], methods=["frechet"], deltas=[1.0], reps=1, data="samples", **SMALL)
    assert sm["crit_value"].iloc[0] > 0


def test_qrd_uses_the_selected_frechet_bandwidth():
    from r3d_teach import select_bandwidth
    from r3d_teach.simulate.baselines import quantile_rd
    from r3d_teach.simulate.montecarlo import data_seed

    rows = run_task("paper1", 200, 30, 0, ["qrd"], [0.0], n_boot=99, quantiles=DEC)
    sim = PaperDGP1().sample(200, 30, np.random.default_rng(data_seed(20250404, "paper1", 200, 30, 0).spawn(1)[0]))
    h = select_bandwidth(sim.x, sim.y, quantiles=DEC).h
    assert rows[0]["h"] == pytest.approx(h, rel=1e-12)
    np.testing.assert_allclose([rows[0][f"tau_{q:g}"] for q in DEC],
                               quantile_rd(sim.x, sim.y_matrix, h=h, quantiles=DEC).tau, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(designs=["paper3"]), "designs"),
        (dict(designs=["null"]), "designs"),  # no effect size to vary
        (dict(designs="paper1"), "designs"),
        (dict(ns=[5]), "ns"),
        (dict(ns=[200.5]), "ns"),
        (dict(methods=["ols"]), "methods"),
        (dict(designs=["fuzzy"], methods=["qrd"]), "methods"),
        (dict(deltas=[0.0, np.nan]), "deltas"),
        (dict(deltas=[1.0, 1.0]), "deltas"),
        (dict(deltas={"paper2": [1.0]}), "deltas"),
        (dict(reps=0), "reps"),
        (dict(n_boot=0), "n_boot"),
        (dict(n_obs=0), "n_obs"),
        (dict(alpha=1.5), "alpha"),
        (dict(alpha="0.05"), "alpha"),
        (dict(quantiles=[0.5, 0.1]), "quantiles"),
        (dict(quantiles=[0.0, 0.5]), "quantiles"),
        (dict(base_seed=-1), "base_seed"),
        (dict(n_jobs=0), "n_jobs"),
        (dict(data="draws"), "data"),
        (dict(rep_range=[-1]), "rep_range"),
        (dict(out="/nonexistent-folder/x.csv"), "out"),
    ],
)
def test_run_study_checks_every_argument(kwargs, word):
    args = dict(designs=["paper1"], ns=[200], reps=1, n_boot=9, progress=False) | kwargs
    with pytest.raises(ValueError, match=f"^{word}: "):
        run_study(**args)


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
    assert s["reps"] == 4 and s["failed"] == 0 and s["coverage"] == pytest.approx(75.0)
    assert s["coverage_se"] == pytest.approx(100 * np.sqrt(0.75 * 0.25 / 4))
    assert s["homogeneity_accept"] == pytest.approx(75.0) and s["nullity_accept"] == pytest.approx(25.0)
    # mean |bias| over the grid: only q = 0.5 is off, by mean(1.9, 2.1, 2.3, 1.7) - 2 = 0
    assert s["mean_abs_bias"] == pytest.approx(0.0, abs=1e-12)
    assert s["mean_rmse"] == pytest.approx(np.sqrt(0.2 / 4) / 9)
    sq = summarize_quantiles(df).set_index("quantile")
    assert sq.loc[0.5, "truth"] == 2.0
    assert sq.loc[0.5, "bias"] == pytest.approx(0.0, abs=1e-12)
    assert sq.loc[0.5, "variance"] == pytest.approx(0.2 / 3)
    assert sq.loc[0.5, "rmse"] == pytest.approx(np.sqrt(0.2 / 4))
    assert sq.loc[0.1, "variance"] == 0.0 and sq.loc[0.1, "rel_bias"] == 0.0
    tab = paper_table(df, "paper1")
    assert tab.loc[("Unif. CIs", 500), ("frechet", 2.0)] == pytest.approx(75.0)
    assert tab.loc[("Nullity", 500), ("frechet", 2.0)] == pytest.approx(25.0)
    # the pooled target of quantile RD rows comes from the design (heterogeneous: 1.531 at q = 0.1)
    qrd = df.assign(method="qrd", design="heterogeneous")
    sqq = summarize_quantiles(qrd).set_index("quantile")
    assert sqq.loc[0.1, "pooled_truth"] == pytest.approx(1.531, abs=1e-3)
    assert sqq.loc[0.1, "truth"] == pytest.approx(1.370, abs=1e-3)


def test_cli(tmp_path, capsys):
    out = str(tmp_path / "cli.csv")
    main(["--design", "paper1", "--n", "200", "--n-obs", "20", "--reps", "2", "--boot", "49",
          "--methods", "frechet", "--deltas", "0", "1.14", "--jobs", "1", "--quiet", "--out", out])
    df = pd.read_csv(out)
    assert len(df) == 4 and set(df["delta"]) == {0.0, 1.14}
    meta = [json.loads(line) for line in open(out + ".meta.json")]
    assert meta[-1]["rows_in_file"] == 4 and "--reps 2" in meta[-1]["command"]
    assert "coverage" in capsys.readouterr().out
    assert main(["--summarize", "--out", out]) == 0
    assert "paper's Table 2 layout" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--alpha", "1.5"], "--alpha"),
        (["--alpha", "0"], "--alpha"),
        (["--quantiles", "0.5", "0.2"], "--quantiles"),
        (["--quantiles", "0", "0.5"], "--quantiles"),
        (["--deltas", "nan"], "--deltas"),
        (["--n", "5"], "--n"),
        (["--n-obs", "0"], "--n-obs"),
        (["--reps", "0"], "--reps"),
        (["--boot", "0"], "--boot"),
        (["--design", "nope"], "--design"),
        (["--design", "null"], "--design"),
        (["--methods", "ols"], "--methods"),
        (["--design", "fuzzy", "--methods", "qrd"], "--methods"),
        (["--seed", "-3"], "--seed"),
        (["--jobs", "0"], "--jobs"),
        (["--out", "/nonexistent-folder/x.csv"], "--out"),
    ],
)
def test_cli_refuses_bad_arguments_before_any_work(argv, flag, tmp_path, capsys):
    out = tmp_path / "never.csv"
    full = ["--n", "200", "--reps", "1", "--boot", "9", "--quiet", "--out", str(out)] + argv
    with pytest.raises(SystemExit) as exc:
        main(full)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {flag}: " in err
    assert not out.exists()  # nothing was computed or written


def test_cli_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "r3d_teach.simulate.montecarlo", "--alpha", "2", "--out",
                           str(tmp_path / "x.csv")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--alpha: must be strictly inside (0, 1)" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "r3d_teach.simulate.montecarlo", "--summarize", "--out",
                           str(tmp_path / "missing.csv")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--out" in proc.stderr


def test_cli_refuses_a_results_file_of_another_grid(tmp_path, capsys):
    out = str(tmp_path / "other.csv")
    pd.DataFrame({c: [0] for c in KEY}).to_csv(out, index=False)
    with pytest.raises(SystemExit) as exc:
        main(["--n", "200", "--reps", "1", "--boot", "9", "--quiet", "--out", out])
    assert exc.value.code == 2 and "--out: " in capsys.readouterr().err


def test_parallel_equals_serial():
    kw = dict(methods=["frechet"], deltas=[0.0, 2.27], reps=4, n_boot=99, n_obs=20, progress=False)
    par = run_study(["paper1"], [150], n_jobs=2, **kw)
    ser = run_study(["paper1"], [150], n_jobs=1, **kw)
    pd.testing.assert_frame_equal(_drop_time(par), _drop_time(ser))


def test_designs_of_the_runner():
    assert set(MC_DESIGNS) == {"paper1", "paper2", "location", "heterogeneous", "fuzzy"}
