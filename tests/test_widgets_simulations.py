"""Tests for r3d_teach.widgets.simulations (chapter 7): real numbers and the slider wiring."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from r3d_teach import r3d
from r3d_teach.simulate import HeterogeneousShape
from r3d_teach.simulate.baselines import quantile_rd
from r3d_teach.widgets import simulations as ws


def test_targets_and_estimates_equal_direct_calls():
    q = np.array([0.1, 0.5, 0.9])
    res = ws.targets_and_estimates(n_units=300, n_obs=40, seed=3, quantiles=q, n_boot=99)
    sim = HeterogeneousShape(delta=2.0).sample(300, 40, np.random.default_rng(3))
    direct = r3d(sim.x, sim.y, quantiles=q, n_boot=99, seed=3, tests=())
    np.testing.assert_allclose(res["tau_r3d"], direct.tau, atol=1e-12)
    np.testing.assert_allclose(res["band_lower"], direct.band_lower, atol=1e-12)
    assert res["h"] == pytest.approx(float(direct.h))
    qrd = quantile_rd(sim.x, sim.y, h=float(direct.h), quantiles=q)
    np.testing.assert_allclose(res["tau_qrd"], qrd.tau, atol=1e-12)
    # the two targets: the method notes' independent 400k-unit simulation, to its precision
    np.testing.assert_allclose(res["laqte"], [1.368, 2.0, 2.632], atol=3e-3)
    np.testing.assert_allclose(res["pooled"], [1.531, 2.0, 2.469], atol=3e-3)
    assert np.all(res["band_lower"] <= res["tau_r3d"]) and np.all(res["tau_r3d"] <= res["band_upper"])


def test_other_design_and_draw():
    res = ws.targets_and_estimates(n_units=200, n_obs=30, design="paper1", delta=1.0, seed=0, n_boot=49)
    np.testing.assert_allclose(res["laqte"], 1.0)
    np.testing.assert_allclose(res["pooled"], 1.0)
    fig, ax = plt.subplots()
    ws.draw_targets(ax, res)
    lines = {ln.get_label(): ln for ln in ax.lines}
    for label, key in (("LAQTE (R3D target)", "laqte"), ("pooled target", "pooled"),
                       ("R3D Fréchet estimate", "tau_r3d"), ("quantile RD estimate", "tau_qrd")):
        np.testing.assert_allclose(lines[label].get_ydata(), res[key])
    assert ax.get_xlabel().startswith("quantile")
    plt.close(fig)
    # a design without an effect size takes none (giving one is an error), the default is 2
    pareto = ws.targets_and_estimates(n_units=200, n_obs=20, design="heterogeneous_pareto", seed=0, n_boot=19,
                                      quantiles=[0.5])
    assert pareto["laqte"][0] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="^delta"):
        ws.targets_and_estimates(n_units=200, n_obs=20, design="heterogeneous_pareto", delta=1.0)
    assert ws.targets_and_estimates(n_units=200, n_obs=20, design="paper2", seed=0, n_boot=19,
                                    quantiles=[0.5])["laqte"][0] == pytest.approx(1.450, abs=1e-3)


def _fake_sq():
    rows = []
    for n in (100, 200):
        for m, rb in (("qrd", 0.2), ("frechet", 0.05 * 100 / n)):
            for q in (0.1, 0.5, 0.9):
                rows.append({"design": "d", "n": n, "method": m, "quantile": q, "rel_bias": rb * q * 2})
    return pd.DataFrame(rows)


def test_relative_bias_table_and_panel():
    sq = _fake_sq()
    t = ws.relative_bias_table(sq, "d", 0.5)
    assert list(t.index) == [100, 200]
    assert t.loc[100, "qrd"] == pytest.approx(0.2) and t.loc[200, "frechet"] == pytest.approx(0.025)
    avg = ws.relative_bias_table(sq, "d", "average")
    assert avg.loc[100, "qrd"] == pytest.approx(np.mean([0.04, 0.2, 0.36]))
    fig, ax = plt.subplots()
    ws.draw_relative_bias(ax, sq, "d", 0.9, legend=True)
    assert len(ax.lines) == 2 and ax.get_title() == "Q90"
    plt.close(fig)


def test_relative_bias_from_real_summary():
    from r3d_teach.simulate.montecarlo import run_study, summarize_quantiles
    df = run_study(["paper1"], [60], methods=["qrd", "frechet"], deltas=[2.0], reps=3, n_boot=19,
                   n_obs=20, n_jobs=1, progress=False)
    sq = summarize_quantiles(df)
    t = ws.relative_bias_table(sq, "paper1", 0.1)
    direct = abs(df[df.method == "qrd"]["tau_0.1"].mean() - 2.0) / 2.0
    assert t.loc[60, "qrd"] == pytest.approx(direct)


def test_widget_wiring():
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []

    def update(n_units=200, n_obs=30):
        res = ws.targets_and_estimates(n_units=n_units, n_obs=n_obs, seed=0, n_boot=19,
                                       quantiles=[0.25, 0.5, 0.75])
        calls.append(res)
        return res

    w = ipywidgets.interactive(update, n_units=ipywidgets.IntSlider(value=200, min=100, max=400, step=100),
                               n_obs=ipywidgets.IntSlider(value=30, min=10, max=50, step=10))
    w.update()
    n0 = len(calls)
    w.children[0].value = 300
    assert len(calls) == n0 + 1 and calls[-1]["n_units"] == 300
    assert w.kwargs["n_units"] == 300
    assert w.result["n_obs"] == 30
