"""Headless tests of the chapter 3-4 widget functions (r3d_teach.widgets.frechet_bandwidth)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from r3d_teach import r3d, select_bandwidth  # noqa: E402
from r3d_teach.core.frechet import isotonic_projection  # noqa: E402
from r3d_teach.core.kernels import bias_variance_constants  # noqa: E402
from r3d_teach.simulate import CrossingDesign, CurvatureDesign  # noqa: E402
from r3d_teach.widgets import frechet_bandwidth as fb  # noqa: E402


def test_boundary_truth_is_the_average_quantile_function():
    # m(q) = a + p E[Q_{E-1}] + (1 - p) E[Q_{1-E}] with E ~ Exp(1), checked against a big sample
    rng = np.random.default_rng(0)
    e = rng.exponential(1.0, 400_000)
    right, left = np.quantile(e - 1, fb.GRID3), np.quantile(1 - e, fb.GRID3)
    mid = (fb.GRID3 >= 0.1) & (fb.GRID3 <= 0.9)
    for side, p, a in (("+", 0.7, 1.5), ("-", 0.4, 1.0)):
        d = fb.boundary_curves(n_units=100, n_draws=20, h=0.5, seed=0, side=side)
        assert np.allclose(d["truth"][mid], (a + p * right + (1 - p) * left)[mid], atol=0.01)


def test_boundary_curves_equal_direct_r3d_calls():
    d = fb.boundary_curves(n_units=100, n_draws=100, h=0.4, seed=0)
    draw = CrossingDesign().sample(100, 100, 0)
    fre = r3d(draw.x, draw.y, quantiles=fb.GRID3, h=0.4, method="frechet")
    sim = r3d(draw.x, draw.y, quantiles=fb.GRID3, h=0.4, method="simple")
    assert np.allclose(d["raw"], fre.plus_raw) and np.allclose(d["raw"], sim.plus_raw)
    assert np.allclose(d["projected"], fre.plus)
    assert np.allclose(d["projected"], isotonic_projection(fre.plus_raw, fb.GRID3))
    assert np.allclose(d["rearranged"], sim.plus)
    assert np.allclose(d["truth"], CrossingDesign().mean_quantile(fb.GRID3, [0.0], treated=True)[0])
    # this sample crosses, and the projection is the L2-closest monotone curve
    assert d["n_decreasing"] > 5
    assert d["dist_raw"]["projected"] <= d["dist_raw"]["rearranged"] + 1e-12
    assert d["dist_raw"]["projected"] > 0
    # no regret: monotonising never moves the curve away from the (monotone) truth
    assert d["dist_truth"]["projected"] <= d["dist_truth"]["raw"] + 1e-12
    assert d["dist_truth"]["rearranged"] <= d["dist_truth"]["raw"] + 1e-12


def test_boundary_curves_minus_side_and_large_samples_do_not_cross():
    d = fb.boundary_curves(n_units=2000, n_draws=200, h=0.4, seed=1, side="-")
    assert d["n_decreasing"] == 0
    assert np.allclose(d["projected"], d["raw"]) and np.allclose(d["rearranged"], d["raw"])
    assert d["dist_truth"]["raw"] < 0.3


def test_draw_boundary_curves_draws_four_lines():
    fig, ax = plt.subplots()
    d = fb.draw_boundary_curves(ax, n_units=100, n_draws=50, seed=2)
    assert len(ax.lines) == 4
    assert np.allclose(ax.lines[3].get_ydata(), d["projected"])
    plt.close(fig)


def test_h_star_closed_form():
    cb, cv = bias_variance_constants("triangular", 1, "+")
    assert (cb, cv) == pytest.approx((-0.1, 4.8))
    n, kappa, s2 = 500, 8.0, 0.3
    expected = ((2 * s2 * 4.8 / 0.5) / (4 * (0.1 * kappa) ** 2)) ** 0.2 * n ** -0.2
    assert fb.h_star(n, kappa, s2) == pytest.approx(expected, rel=1e-12)
    # rate n^{-1/5}, and h* -> infinity without a curvature jump
    assert fb.h_star(32 * n, kappa, s2) == pytest.approx(expected / 2, rel=1e-12)
    assert np.isinf(fb.h_star(n, 0.0, s2))
    with pytest.raises(ValueError):
        fb.h_star(n, kappa, s2, s=2)


def test_quantile_noise_var_matches_the_asymptotic_formula():
    # Var of the sample median of m normals ≈ pi / (2 m) (large m)
    v = fb.quantile_noise_var(400, [0.5])[0]
    assert v == pytest.approx(np.pi / (2 * 400), rel=0.05)


def test_bandwidth_vs_optimal_equals_select_bandwidth():
    d = fb.bandwidth_vs_optimal(n_units=300, kappa=8.0, seeds=(0, 1))
    for j, sd in enumerate((0, 1)):
        sim = CurvatureDesign(kappa=8.0, sigma_u=0.5).sample(300, 50, sd)
        bw = select_bandwidth(sim.x, list(sim.y_matrix), method="frechet", quantiles=fb.GRID4)
        assert d["h_selected"][j] == pytest.approx(bw.h, rel=1e-12)
    s2 = 0.25 + fb.quantile_noise_var(50, fb.GRID4)
    assert d["sigma2"] == pytest.approx(np.trapezoid(s2, fb.GRID4) / 0.9)
    assert d["h_star"] == pytest.approx(fb.h_star(300, 8.0, d["sigma2"]))
    assert 0.3 < d["h_star"] < 0.45


def test_selected_h_tracks_h_star_in_large_samples():
    d = fb.bandwidth_vs_optimal(n_units=4000, kappa=8.0, seeds=(0, 1, 2))
    ratio = np.median(d["h_selected"]) / d["h_star"]
    assert 0.6 < ratio < 1.3


def test_draw_bandwidth_panel():
    fig, ax = plt.subplots()
    d = fb.draw_bandwidth_panel(ax, n_units=300, kappa=8.0, seeds=(0, 1))
    assert len(ax.lines) == 1 + 1 + 2  # MSE curve, h*, two selected h
    assert ax.lines[1].get_xdata()[0] == pytest.approx(d["h_star"])
    plt.close(fig)


def test_widgets_are_wired_through_ipywidgets():
    widgets = pytest.importorskip("ipywidgets")
    calls = []

    def update(n_units=100, n_draws=100):
        calls.append(fb.boundary_curves(n_units=n_units, n_draws=n_draws, seed=0))

    w = widgets.interactive(update, n_units=widgets.IntSlider(value=100, min=60, max=400, step=20),
                            n_draws=widgets.IntSlider(value=100, min=10, max=200, step=10))
    w.update()
    w.children[0].value = 400
    assert len(calls) >= 2 and w.kwargs["n_units"] == 400
    assert calls[-1]["raw"].shape == (99,)

    seen = []

    def update4(n_units=300, kappa=8.0):
        seen.append(fb.bandwidth_vs_optimal(n_units=n_units, kappa=kappa, seeds=(0,)))

    w4 = widgets.interactive(update4, n_units=widgets.IntSlider(value=300, min=200, max=3000, step=100),
                             kappa=widgets.FloatSlider(value=8.0, min=0.0, max=16.0, step=2.0))
    w4.update()
    w4.children[1].value = 16.0
    assert w4.kwargs["kappa"] == 16.0
    assert seen[-1]["h_star"] == pytest.approx(fb.h_star(300, 16.0, seen[-1]["sigma2"]))


def test_zero_curvature_jump_gives_infinite_h_star_but_finite_selection():
    fig, ax = plt.subplots()
    d = fb.draw_bandwidth_panel(ax, n_units=300, kappa=0.0, seeds=(0, 1))
    assert np.isinf(d["h_star"])
    assert np.all(np.isfinite(d["h_selected"])) and np.all(d["h_selected"] < 1.0)
    assert len(ax.lines) == 1 + 2  # no h* line
    plt.close(fig)
