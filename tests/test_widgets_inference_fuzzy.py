"""Headless tests of the slider functions of chapters 5 and 6 (r3d_teach.widgets.inference_fuzzy)."""
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from r3d_teach import r3d
from r3d_teach.widgets import inference_fuzzy as W

Q9 = np.arange(1, 10) / 10


def test_folded_normal_mean_matches_quadrature():
    s = np.random.default_rng(0).normal(1, 0.3, 400_000)
    assert W.folded_normal_mean(1, 0.3) == pytest.approx(np.abs(s).mean(), abs=2e-3)
    assert W.folded_normal_mean(0, 1) == pytest.approx(np.sqrt(2 / np.pi))


def test_band_design_truth_and_shapes():
    x, y = W.band_design(n_units=50, n_obs=7, seed=3)
    assert x.shape == (50,) and len(y) == 50 and y[0].shape == (7,)
    # truth: shift 1, scale 0.5 -> 1 + 0.5 E|S| z(q); proportional 10% raise -> 1 + 0.1 E|S| z(q)
    z = stats.norm.ppf(Q9)
    m = W.folded_normal_mean(1, 0.3)
    assert np.allclose(W.band_truth(Q9), 1 + 0.5 * m * z)
    assert np.allclose(W.band_truth(Q9, shift=0, scale=0, ratio=1.1), 1 + 0.1 * m * z)
    # a proportional effect multiplies the treated units' draws by the ratio, nothing else
    x0, y0 = W.band_design(50, 7, seed=3, shift=0, scale=0)
    x1, y1 = W.band_design(50, 7, seed=3, shift=0, scale=0, ratio=1.1)
    factor = np.where(x0 >= 0, 1.1, 1.0)[:, None]
    assert np.allclose(np.vstack(y1), np.vstack(y0) * factor)


def test_band_design_recovers_truth_in_large_sample():
    x, y = W.band_design(n_units=4000, n_obs=100, seed=1)
    res = r3d(x, y, quantiles=Q9)
    assert np.max(np.abs(res.tau - W.band_truth(Q9))) < 0.25


def test_band_demo_equals_direct_r3d_call():
    x, y = W.band_design(300, 50, seed=2)
    out = W.band_demo(x, y, alpha=0.1, n_boot=99, seed=4, quantiles=Q9)
    ref = r3d(x, y, quantiles=Q9, n_boot=99, alpha=0.1, seed=4, tests=())
    assert np.allclose(out["tau"], ref.tau)
    assert out["crit"] == pytest.approx(ref.crit_value)
    assert np.allclose(out["lower"], ref.band_lower) and np.allclose(out["upper"], ref.band_upper)
    assert np.allclose(out["pw_upper"], ref.pointwise_upper)
    assert out["sup"].shape == (99,)
    assert out["crit"] == pytest.approx(np.quantile(out["sup"], 0.9, method="higher"))


def test_band_demo_smaller_alpha_wider_band():
    x, y = W.band_design(300, 50, seed=2)
    c = [W.band_demo(x, y, alpha=a, n_boot=499, seed=1, quantiles=Q9)["crit"] for a in (0.2, 0.05, 0.01)]
    assert c[0] < c[1] < c[2]


def test_draw_band_demo_draws():
    x, y = W.band_design(200, 30, seed=2)
    out = W.band_demo(x, y, n_boot=49, quantiles=Q9)
    fig, (a0, a1) = plt.subplots(1, 2)
    W.draw_band_demo(out, a0, a1, truth=W.band_truth(Q9))
    assert len(a0.patches) == 30 and len(a1.lines) >= 4
    plt.close(fig)


def test_fuzzy_design_first_stage_and_types():
    x, t, y, co = W.fuzzy_design_data(20_000, 3, strength=0.6, seed=1)
    assert abs(t[x < 0].mean() - 0.2) < 0.02 and abs(t[x >= 0].mean() - 0.8) < 0.02
    assert abs(co.mean() - 0.6) < 0.02
    # compliers are treated exactly right of the cutoff
    assert np.all(t[co] == (x[co] >= 0))
    # same seed, different strength: same running variable and draws' noise
    x2, t2, _, _ = W.fuzzy_design_data(20_000, 3, strength=0.3, seed=1)
    assert np.array_equal(x, x2) and np.all(t2 <= np.maximum(t, (x >= 0)))
    with pytest.raises(ValueError, match="strength"):
        W.fuzzy_design_data(10, 2, strength=0.9, always=0.2)


def test_fuzzy_truth():
    assert np.allclose(W.fuzzy_truth([0.5]), 2.0)
    assert W.fuzzy_truth([0.9])[0] == pytest.approx(2 + 0.5 * 1.2815515655446004)


def test_fuzzy_demo_equals_direct_r3d_call():
    out = W.fuzzy_demo(0.6, seed=3, n_units=600, n_obs=30, n_boot=99, quantiles=Q9, boot_seed=5)
    x, t, y, _ = W.fuzzy_design_data(600, 30, 0.6, 3)
    ref = r3d(x, y, treatment=t, quantiles=Q9, n_boot=99, seed=5, tests=())
    assert np.allclose(out["tau"], ref.tau) and out["jump"] == pytest.approx(ref.first_stage.jump)
    assert np.allclose(out["upper"], ref.band_upper) and out["crit"] == pytest.approx(ref.crit_value)
    assert out["warning"] is None


def test_fuzzy_demo_large_sample_recovers_complier_effect():
    out = W.fuzzy_demo(0.7, seed=1, n_units=6000, n_obs=50, n_boot=99, quantiles=Q9)
    assert np.max(np.abs(out["tau"] - W.fuzzy_truth(Q9))) < 0.5
    assert abs(out["jump"] - 0.7) < 0.1


def test_fuzzy_demo_weak_first_stage_is_flagged():
    # strength 0.15, seed 0: the first stage is imprecise (t < 2), r3d warns, the demo records it
    out = W.fuzzy_demo(0.15, seed=0)
    assert abs(out["jump"] - 0.15) < 0.15 and "weak first stage" in out["warning"]
    # no compliers at all: the estimated jump is noise; either a warning or a refusal
    out0 = W.fuzzy_demo(0.0, seed=0, n_units=400)
    assert out0["warning"] is not None


def test_draw_fuzzy_demo_and_widget_wiring():
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []

    def show(strength=0.6, seed=0):
        out = W.fuzzy_demo(strength, seed=seed, n_units=400, n_obs=20, n_boot=49, quantiles=Q9)
        calls.append(out)
        fig, ax = plt.subplots()
        W.draw_fuzzy_demo(out, ax)
        plt.close(fig)

    w = ipywidgets.interactive(show, strength=ipywidgets.FloatSlider(value=0.6, min=0.05, max=0.8, step=0.05),
                               seed=ipywidgets.IntSlider(value=0, min=0, max=20))
    w.children[0].value = 0.4
    assert calls and calls[-1]["strength"] == pytest.approx(0.4)
    assert w.kwargs["strength"] == pytest.approx(0.4)


def test_band_widget_wiring():
    ipywidgets = pytest.importorskip("ipywidgets")
    x, y = W.band_design(200, 30, seed=2)
    calls = []

    def show(alpha=0.05, n_boot=99):
        calls.append(W.band_demo(x, y, alpha=alpha, n_boot=n_boot, quantiles=Q9))

    w = ipywidgets.interactive(show, alpha=ipywidgets.FloatSlider(value=0.05, min=0.01, max=0.3, step=0.01),
                               n_boot=ipywidgets.IntSlider(value=99, min=19, max=999, step=20))
    w.children[1].value = 199
    assert calls and calls[-1]["n_boot"] == 199 and calls[-1]["sup"].size == 199
