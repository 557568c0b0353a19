"""Headless tests of the slider functions of chapters 1 and 2 (r3d_teach.widgets.quantiles_locpoly)."""
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from scipy import integrate, optimize

from r3d_teach import r3d, unit_quantiles
from r3d_teach.simulate import heterogeneous_shape
from r3d_teach.widgets import quantiles_locpoly as wq

Q5 = np.array([0.1, 0.25, 0.5, 0.75, 0.9])


# ---------------------------------------------------------------- chapter 1: empirical quantiles
def test_empirical_quantile_curves_match_library_and_numpy():
    d = wq.empirical_quantile_curves(25, seed=4)
    z = stats.gamma(2.0).rvs(size=25, random_state=np.random.default_rng(4))
    assert np.allclose(d["sample"], np.sort(z))
    assert np.allclose(d["linear"], np.quantile(z, d["q"]))
    assert np.allclose(d["inverted_cdf"], unit_quantiles([z], d["q"], method="inverted_cdf")[0])
    assert np.allclose(d["truth"], stats.gamma(2.0).ppf(d["q"]))
    # type 1 takes order statistic ceil(k q)
    k = 25
    j = np.ceil(k * d["q"] - 1e-10).astype(int)
    assert np.allclose(d["inverted_cdf"], np.sort(z)[j - 1])


def test_empirical_quantiles_converge():
    small = wq.empirical_quantile_curves(20, seed=0)["sup_error"]
    big = wq.empirical_quantile_curves(20_000, seed=0)["sup_error"]
    for m in ("linear", "inverted_cdf"):
        assert big[m] < 0.1 < small[m]
    with pytest.raises(ValueError, match="n_draws"):
        wq.empirical_quantile_curves(0)


def test_draw_empirical_quantiles_draws_three_curves():
    fig, ax = plt.subplots()
    d = wq.draw_empirical_quantiles(ax, n_draws=8, seed=1)
    lines = ax.get_lines()
    assert len(lines) == 4  # truth, type 1, type 7, and the order-statistic dots (n <= 30)
    assert np.allclose(lines[2].get_ydata(), d["linear"])
    assert "n_i = 8" in ax.get_title()
    plt.close(fig)


# ---------------------------------------------------------------- chapter 1: LAQTE vs pooled
def test_laqte_vs_pooled_against_a_simulation():
    d = wq.laqte_vs_pooled(1.5, Q5)
    # the Monte Carlo values of the method notes (400k firms), to their precision
    assert np.allclose(d["laqte"], [1.368, 1.667, 1.999, 2.331, 2.630], atol=0.005)
    assert np.allclose(d["pooled"], [1.530, 1.761, 2.002, 2.235, 2.469], atol=0.005)


def test_laqte_vs_pooled_closed_form_and_limits():
    # a pure location shift (a1 = a0): both targets are the constant 2
    d = wq.laqte_vs_pooled(1.0)
    assert np.allclose(d["laqte"], 2.0) and np.allclose(d["pooled"], 2.0, atol=1e-8) and d["gap"] < 1e-8
    # LAQTE closed form with the folded-normal mean E|N(a, 0.25)|
    fm = lambda a: stats.foldnorm(c=a / 0.5, scale=0.5).mean()
    d = wq.laqte_vs_pooled(2.0, Q5)
    assert np.allclose(d["laqte"], 2 + (fm(2.0) - fm(1.0)) * stats.norm.ppf(Q5), atol=1e-10)
    # pooled target: the two mixture CDFs E[Phi((y - m)/sqrt(1 + sigma^2))], sigma = |a + 0.5 Z|,
    # by scipy quadrature, inverted by brentq, independently of the simulation module
    def pooled_q(q, m, a):
        def cdf(y):
            f = lambda z: stats.norm.cdf((y - m) / np.hypot(1.0, a + 0.5 * z)) * stats.norm.pdf(z)  # noqa: E731
            return integrate.quad(f, -np.inf, np.inf, epsabs=1e-13)[0]
        return np.array([optimize.brentq(lambda y: cdf(y) - qq, m - 30, m + 30, xtol=1e-12) for qq in q])

    assert np.allclose(d["pooled"], pooled_q(Q5, 7.0, 2.0) - pooled_q(Q5, 5.0, 1.0), atol=1e-7)
    # the gap grows as the treated spread moves away from the untreated one
    gaps = [wq.laqte_vs_pooled(a)["gap"] for a in (1.0, 1.5, 2.5)]
    assert gaps[0] < gaps[1] < gaps[2]


def test_draw_laqte_vs_pooled():
    fig, ax = plt.subplots()
    d = wq.draw_laqte_vs_pooled(ax, a1=2.5)
    assert np.allclose(ax.get_lines()[0].get_ydata(), d["laqte"])
    assert np.allclose(ax.get_lines()[1].get_ydata(), d["pooled"])
    plt.close(fig)


# ---------------------------------------------------------------- chapter 2: simple estimator
@pytest.fixture(scope="module")
def design():
    sim = heterogeneous_shape(n_units=400, n_obs=50, variant="normal", seed=3)
    return sim, np.arange(1, 20) / 20


@pytest.mark.parametrize("h,p", [(0.3, 0), (0.5, 1), (0.7, 2)])
def test_simple_fit_is_r3d(design, h, p):
    sim, q = design
    res = wq.simple_fit(sim.x, sim.y, h, p, q)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = r3d(sim.x, sim.y, method="simple", h=h, p=p, quantiles=q, n_boot=0)
    # p = 1 alone means a local-constant estimate (rdrobust's q = 1): r3d warns, the widget does not
    assert [str(w.message)[:19] for w in caught] == (["p: p is the order o"] if p == 1 else [])
    assert res.method == "simple" and res.p == p and np.allclose(res.h, h)
    assert np.allclose(res.tau, ref.tau)
    assert np.allclose(res.plus_raw, ref.plus_raw) and np.allclose(res.minus_raw, ref.minus_raw)


def test_draw_simple_fit_panels(design):
    sim, q = design
    fig, axes = plt.subplots(1, 2)
    res = wq.draw_simple_fit(axes, sim.x, sim.y, h=0.5, p=2, quantiles=q, truth=sim.truth(q),
                             q_show=0.5, mean_quantile=lambda g: sim.mean_quantile([0.5], g)[:, 0])
    ref = r3d(sim.x, sim.y, method="simple", h=0.5, p=2, quantiles=q)
    assert np.allclose(res.tau, ref.tau)
    # right panel (plotting.plot_effect): the estimate and the truth
    lines = {ln.get_label(): ln for ln in axes[1].get_lines()}
    assert np.allclose(lines[r"$\hat\tau(q)$ (simple)"].get_ydata(), ref.tau)
    assert np.allclose(lines[r"true $\tau(q)$"].get_ydata(), sim.truth(q))
    # left panel: the dots at the cutoff are the two raw intercepts at q = 0.5
    dots = [ln for ln in axes[0].get_lines() if ln.get_marker() == "o"]
    assert sorted(float(d.get_ydata()[0]) for d in dots) == pytest.approx(
        sorted([ref.minus_raw[9], ref.plus_raw[9]]))
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="q_show"):
        wq.draw_simple_fit(axes, sim.x, sim.y, h=0.5, p=1, quantiles=q, q_show=0.33)
    plt.close(fig)


# ---------------------------------------------------------------- widget wiring (no kernel needed)
def test_widget_wiring_calls_back():
    ipywidgets = pytest.importorskip("ipywidgets")
    calls = []

    def show(n_draws=10, seed=0):
        calls.append(wq.empirical_quantile_curves(n_draws, seed)["sup_error"])

    w = ipywidgets.interactive(show, n_draws=ipywidgets.IntSlider(value=10, min=2, max=2000),
                               seed=ipywidgets.IntSlider(value=0, min=0, max=20))
    n0 = len(calls)
    w.children[0].value = 500
    assert len(calls) == n0 + 1
    assert w.kwargs["n_draws"] == 500
    assert calls[-1] == wq.empirical_quantile_curves(500, 0)["sup_error"]

    got = []
    w2 = ipywidgets.interactive(lambda a1=1.5: got.append(wq.laqte_vs_pooled(a1)["gap"]),
                                a1=ipywidgets.FloatSlider(value=1.5, min=0.25, max=3.0, step=0.25))
    w2.children[0].value = 1.0
    assert w2.kwargs["a1"] == 1.0 and got[-1] < 1e-8


def test_widget_wiring_simple_fit(design):
    ipywidgets = pytest.importorskip("ipywidgets")
    sim, q = design
    taus = []

    def show(h=0.5, p=2):
        taus.append(wq.simple_fit(sim.x, sim.y, h, p, q).tau)

    w = ipywidgets.interactive(show, h=ipywidgets.FloatSlider(value=0.5, min=0.06, max=1.0, step=0.02),
                               p=ipywidgets.IntSlider(value=2, min=0, max=3))
    w.children[1].value = 1
    w.children[0].value = 0.8
    assert w.kwargs == {"h": 0.8, "p": 1}
    with pytest.warns(UserWarning, match="p: p is the order of the bias-correcting fit"):
        ref = r3d(sim.x, sim.y, method="simple", h=0.8, p=1, quantiles=q, n_boot=0)
    assert np.allclose(taus[-1], ref.tau)
