"""Headless tests of the slider functions of chapters 5 and 6 (r3d_teach.widgets.inference_fuzzy)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from r3d_teach import r3d
from r3d_teach.simulate import BandDesign, ComplierDesign
from r3d_teach.widgets import inference_fuzzy as W

Q9 = np.arange(1, 10) / 10


def fold_mean(a, b):
    return stats.foldnorm.mean(abs(a) / b, scale=b)


def test_band_design_truth_and_shapes():
    sim = BandDesign().sample(n_units=50, n_obs=7, seed=3)
    assert sim.x.shape == (50,) and len(sim.y) == 50 and sim.y[0].shape == (7,)
    # truth: shift 1, scale 0.5 -> 1 + 0.5 E|S| z(q); proportional 10% raise -> 1 + 0.1 E|S| z(q)
    z = stats.norm.ppf(Q9)
    m = fold_mean(1, 0.3)
    assert np.allclose(BandDesign().truth(Q9), 1 + 0.5 * m * z)
    assert np.allclose(BandDesign(shift=0, scale=0, ratio=1.1).truth(Q9), 1 + 0.1 * m * z)
    # a proportional effect multiplies the treated units' draws by the ratio, nothing else
    y0 = BandDesign(shift=0, scale=0).sample(50, 7, seed=3)
    y1 = BandDesign(shift=0, scale=0, ratio=1.1).sample(50, 7, seed=3)
    factor = np.where(y0.x >= 0, 1.1, 1.0)[:, None]
    assert np.allclose(y1.y_matrix, y0.y_matrix * factor)


def test_band_design_recovers_truth_in_large_sample():
    sim = BandDesign().sample(n_units=4000, n_obs=100, seed=1)
    res = r3d(sim.x, sim.y, quantiles=Q9)
    assert np.max(np.abs(res.tau - BandDesign().truth(Q9))) < 0.25


def band_data(n_units, n_obs, seed):
    sim = BandDesign().sample(n_units, n_obs, seed)
    return sim.x, sim.y


def test_band_demo_equals_direct_r3d_call():
    x, y = band_data(300, 50, 2)
    out = W.band_demo(x, y, alpha=0.1, n_boot=99, seed=4, quantiles=Q9)
    ref = r3d(x, y, quantiles=Q9, n_boot=99, alpha=0.1, seed=4, tests=())
    assert np.allclose(out["tau"], ref.tau)
    assert out["crit"] == pytest.approx(ref.crit_value)
    assert np.allclose(out["lower"], ref.band_lower) and np.allclose(out["upper"], ref.band_upper)
    assert np.allclose(out["pw_upper"], ref.pointwise_upper)
    assert out["sup"].shape == (99,)
    assert out["crit"] == pytest.approx(np.quantile(out["sup"], 0.9, method="higher"))


def test_band_demo_smaller_alpha_wider_band():
    x, y = band_data(300, 50, 2)
    c = [W.band_demo(x, y, alpha=a, n_boot=499, seed=1, quantiles=Q9)["crit"] for a in (0.2, 0.05, 0.01)]
    assert c[0] < c[1] < c[2]


def test_draw_band_demo_draws():
    x, y = band_data(200, 30, 2)
    out = W.band_demo(x, y, n_boot=49, quantiles=Q9)
    fig, (a0, a1) = plt.subplots(1, 2)
    W.draw_band_demo(out, a0, a1, truth=BandDesign().truth(Q9))
    assert len(a0.patches) == W.SUP_BINS
    lines = {ln.get_label(): ln for ln in a1.lines}
    assert np.allclose(lines["truth"].get_ydata(), BandDesign().truth(Q9))
    assert np.allclose(lines[r"$\hat\tau(q)$"].get_ydata(), out["tau"])
    assert np.allclose(lines["pointwise band"].get_ydata(), out["pw_lower"])
    band = a1.collections[0].get_paths()[0].vertices  # the uniform band, from plot_effect
    assert np.isclose(band[:, 1].max(), out["upper"].max()) and np.isclose(band[:, 1].min(), out["lower"].min())
    plt.close(fig)


def test_fuzzy_design_first_stage_and_types():
    sim = ComplierDesign(strength=0.6).sample(20_000, 3, seed=1)
    x, t, co = sim.x, sim.treatment, sim.unit_params["complier"]
    assert abs(t[x < 0].mean() - 0.2) < 0.02 and abs(t[x >= 0].mean() - 0.8) < 0.02
    assert abs(co.mean() - 0.6) < 0.02
    # compliers are treated exactly right of the cutoff
    assert np.all(t[co] == (x[co] >= 0))
    # same seed, different strength: same running variable and draws' noise
    other = ComplierDesign(strength=0.3).sample(20_000, 3, seed=1)
    assert np.array_equal(x, other.x) and np.all(other.treatment <= np.maximum(t, (x >= 0)))
    with pytest.raises(ValueError, match="^strength"):
        ComplierDesign(strength=0.9, always=0.2)
    assert np.allclose(ComplierDesign().truth([0.5]), 2.0)
    assert ComplierDesign().truth([0.9])[0] == pytest.approx(2 + 0.5 * 1.2815515655446004)


def test_fuzzy_demo_equals_direct_r3d_call():
    out = W.fuzzy_demo(0.6, seed=3, n_units=600, n_obs=30, n_boot=99, quantiles=Q9, boot_seed=5)
    sim = ComplierDesign(strength=0.6).sample(600, 30, 3)
    ref = r3d(sim.x, sim.y, treatment=sim.treatment, quantiles=Q9, n_boot=99, seed=5, tests=())
    assert np.allclose(out["tau"], ref.tau) and out["jump"] == pytest.approx(ref.first_stage.jump)
    assert np.allclose(out["upper"], ref.band_upper) and out["crit"] == pytest.approx(ref.crit_value)
    assert out["warning"] is None
    assert out["half_width"] == pytest.approx(np.median(ref.crit_value * ref.se))      # studentized: ĉ se
    unw = W.fuzzy_demo(0.6, seed=3, n_units=600, n_obs=30, n_boot=99, quantiles=Q9, boot_seed=5, band="unweighted")
    assert unw["half_width"] == pytest.approx(unw["crit"]) and np.allclose(unw["tau"], ref.tau)


def test_fuzzy_demo_large_sample_recovers_complier_effect():
    out = W.fuzzy_demo(0.7, seed=1, n_units=6000, n_obs=50, n_boot=99, quantiles=Q9)
    assert np.max(np.abs(out["tau"] - ComplierDesign().truth(Q9))) < 0.5
    assert abs(out["jump"] - 0.7) < 0.1


def test_fuzzy_demo_weak_first_stage_is_flagged():
    # strength 0.15, seed 0: the first stage is imprecise (t < 2), r3d warns, the demo records it
    out = W.fuzzy_demo(0.15, seed=0)
    assert abs(out["jump"] - 0.15) < 0.15 and "weak first stage" in out["warning"]
    # no compliers at all: the estimated jump is noise; either a warning or a refusal
    out0 = W.fuzzy_demo(0.0, seed=0, n_units=400)
    assert out0["warning"] is not None
    # a refused fit draws the truth alone; a warned one the estimate as well
    refused = dict(out0, result=None, tau=np.full(out0["q"].size, np.nan), jump=np.nan, warning="refused")
    for out, n_lines in ((refused, 1), (out, 3)):  # truth; zero line + estimate + truth
        fig, ax = plt.subplots()
        W.draw_fuzzy_demo(out, ax)
        assert len(ax.lines) == n_lines and "weak first stage" in ax.get_title()
        assert np.allclose(ax.lines[-1].get_ydata(), ComplierDesign().truth(out["q"]))
        plt.close(fig)


def test_draw_fuzzy_demo_and_widget_wiring():
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []

    def show(strength=0.6, seed=0):
        out = W.fuzzy_demo(strength, seed=seed, n_units=400, n_obs=20, n_boot=49, quantiles=Q9)
        calls.append(out)
        fig, ax = plt.subplots()
        W.draw_fuzzy_demo(out, ax)
        lines = {ln.get_label(): ln for ln in ax.lines}
        assert np.allclose(lines[r"truth $\tau_F(q)$"].get_ydata(), ComplierDesign().truth(Q9))
        assert np.allclose(lines[r"$\hat\tau_F(q)$"].get_ydata(), out["tau"])
        plt.close(fig)

    w = ipywidgets.interactive(show, strength=ipywidgets.FloatSlider(value=0.6, min=0.05, max=0.8, step=0.05),
                               seed=ipywidgets.IntSlider(value=0, min=0, max=20))
    w.children[0].value = 0.4
    assert calls and calls[-1]["strength"] == pytest.approx(0.4)
    assert w.kwargs["strength"] == pytest.approx(0.4)


def test_band_widget_wiring():
    ipywidgets = pytest.importorskip("ipywidgets")
    x, y = band_data(200, 30, 2)
    calls = []

    def show(alpha=0.05, n_boot=99):
        calls.append(W.band_demo(x, y, alpha=alpha, n_boot=n_boot, quantiles=Q9))

    w = ipywidgets.interactive(show, alpha=ipywidgets.FloatSlider(value=0.05, min=0.01, max=0.3, step=0.01),
                               n_boot=ipywidgets.IntSlider(value=99, min=19, max=999, step=20))
    w.children[1].value = 199
    assert calls and calls[-1]["n_boot"] == 199 and calls[-1]["sup"].size == 199
