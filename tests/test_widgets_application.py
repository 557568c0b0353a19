"""Headless tests of the chapter 8 widget functions (r3d_teach.widgets.application)."""
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from r3d_teach import datasets as ds  # noqa: E402
from r3d_teach import r3d  # noqa: E402
from r3d_teach.widgets import application as app  # noqa: E402


@pytest.fixture(scope="module")
def replica():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = ds.synthetic_governors_income(seed=3, families_per_unit=60, warn=False)
    g = df.groupby("unit", sort=True)
    x = g["x"].first().to_numpy()
    ys = [v.to_numpy() for _, v in g["y"]]
    ws = [v.to_numpy() for _, v in g["w"]]
    return x, ys, ws


def test_effect_at_bandwidth_equals_a_direct_r3d_call(replica):
    x, ys, ws = replica
    out = app.effect_at_bandwidth(0.22, x, ys, ws, quantiles=ds.PAPER_GRID, n_boot=200, seed=4)
    res = r3d(x, ys, weights=ws, cutoff=0.5, method="frechet", p=2, kernel="triangular", h=0.22,
              quantiles=ds.PAPER_GRID, quantile_method="inverted_cdf", alpha=0.10, n_boot=200, seed=4)
    np.testing.assert_allclose(out["tau"], res.tau, atol=1e-12)
    np.testing.assert_allclose(out["band_lower"], res.band_lower, atol=1e-12)
    np.testing.assert_allclose(out["band_upper"], res.band_upper, atol=1e-12)
    assert out["crit_value"] == pytest.approx(res.crit_value)
    assert out["average"] == pytest.approx(res.tau.mean())
    assert out["nullity_p"] == pytest.approx(res.tests.set_index("test").loc["nullity", "p_value"])
    assert (out["n_left"], out["n_right"]) == (res.n_left, res.n_right)
    # the (studentized) band is tau +- the critical value times se, and with the built-in effect the
    # mean is near -0.64
    np.testing.assert_allclose(out["band_upper"] - out["tau"], out["crit_value"] * res.se, atol=1e-12)
    assert out["half_width"] == pytest.approx(np.mean(out["crit_value"] * res.se))
    # the paper's band: tau +- one critical value
    unw = app.effect_at_bandwidth(0.22, x, ys, ws, quantiles=ds.PAPER_GRID, n_boot=200, seed=4, band="unweighted")
    np.testing.assert_allclose(unw["band_upper"] - unw["tau"], unw["crit_value"], atol=1e-12)
    assert abs(out["average"] - ds.true_effect().mean()) < 0.3


def test_wider_bandwidth_uses_more_units_and_narrows_the_band(replica):
    x, ys, ws = replica
    path = app.bandwidth_path([0.08, 0.3], x, ys, ws, quantiles=ds.PAPER_GRID, n_boot=200, seed=1)
    assert list(path.columns) == ["h", "n_left", "n_right", "average", "crit_value", "half_width",
                                  "nullity_p", "homogeneity_p"]
    assert path.n_left.iloc[1] > path.n_left.iloc[0] and path.n_right.iloc[1] > path.n_right.iloc[0]
    assert path.half_width.iloc[1] < path.half_width.iloc[0]
    inside = (np.abs(x - 0.5) < 0.3)
    assert path.n_left.iloc[1] + path.n_right.iloc[1] == inside.sum()


def test_drawing_puts_the_estimate_and_truth_on_the_axes(replica):
    x, ys, ws = replica
    fig, ax = plt.subplots()
    truth = ds.true_effect()
    out = app.effect_at_bandwidth(0.2, x, ys, ws, quantiles=ds.PAPER_GRID, n_boot=100, truth=truth,
                                  label="synthetic replica", ax=ax)
    lines = {ln.get_label(): ln for ln in ax.lines}  # drawn by plotting.plot_effect
    np.testing.assert_allclose(lines[r"$\hat\tau(q)$"].get_ydata(), out["tau"])
    np.testing.assert_allclose(lines["true effect"].get_ydata(), truth)
    band = ax.collections[0].get_paths()[0].vertices
    assert np.isclose(band[:, 1].max(), out["band_upper"].max())
    assert "synthetic replica" in ax.get_title()
    plt.close(fig)


def test_widget_wiring(replica):
    widgets = pytest.importorskip("ipywidgets")
    x, ys, ws = replica
    calls = []

    def update(h=0.22):
        calls.append(app.effect_at_bandwidth(h, x, ys, ws, quantiles=ds.PAPER_GRID, n_boot=50))

    w = widgets.interactive(update, h=widgets.FloatSlider(value=0.22, min=0.04, max=0.32, step=0.02))
    w.update()
    w.children[0].value = 0.3
    assert w.kwargs["h"] == pytest.approx(0.3)
    assert len(calls) >= 2 and calls[-1]["h"] == pytest.approx(0.3)

